/*
 * rt_container_create(): from a struct rt_spec to a container on disk.
 *
 * Phase one validates everything a user typed (command, name, layers,
 * limits, mount specs, capabilities, user, network, seccomp profile, which
 * is compiled here so a malformed one fails now) and touches nothing.
 * Phase two writes: the folder with upper/ and work/, the run folder,
 * volumes made for the container, hostname/hosts/resolv.conf and, last,
 * config.json. A failure in phase two undoes phase two.
 *
 * Limits follow Docker's checks and messages: memory at least 6 MB, a
 * reservation not above the limit, --cpus within the host's CPUs.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/id.h"
#include "common/path.h"
#include "runtime/internal.h"

#define MIN_MEMORY (6 * 1024 * 1024)

bool rt_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n < 2 || n > RT_NAME_MAX || !isalnum((unsigned char)s[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
			return false;
	return true;
}

static bool valid_hostname(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("-.", s[i]))
			return false;
	return true;
}

static bool valid_ip(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 ||
	       inet_pton(AF_INET6, s, buf) == 1;
}

/* --dns and --add-host end up in files the container reads: no line
 * breaks or junk may slip in. */
static int check_names(const struct rt_spec *s, struct shoal_err *err)
{
	for (size_t i = 0; s->dns && s->dns[i]; i++)
		if (!valid_ip(s->dns[i])) {
			rt__err(err, "%s is not an ip address", s->dns[i]);
			return -EINVAL;
		}
	for (size_t i = 0; s->extra_hosts && s->extra_hosts[i]; i++) {
		const char *h = s->extra_hosts[i], *colon = strchr(h, ':');
		char name[256];
		if (!colon || (size_t)(colon - h) >= sizeof(name))
			goto bad;
		memcpy(name, h, (size_t)(colon - h));
		name[colon - h] = '\0';
		if (!valid_hostname(name) || !valid_ip(colon + 1))
			goto bad;
		continue;
	bad:
		rt__err(err, "invalid argument \"%s\" for \"--add-host\" flag",
			h);
		return -EINVAL;
	}
	return 0;
}

static int check_limits(const struct rt_spec *s, struct shoal_err *err)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	if (s->memory < 0 || (s->memory > 0 && s->memory < MIN_MEMORY)) {
		rt__err(err, "Minimum memory limit allowed is 6MB");
		return -EINVAL;
	}
	if (s->memory_reservation < 0 ||
	    (s->memory > 0 && s->memory_reservation > s->memory)) {
		rt__err(err, "Minimum memory limit can not be less than memory "
			     "reservation limit, see usage");
		return -EINVAL;
	}
	if (s->nano_cpus < 0 ||
	    (s->nano_cpus > 0 &&
	     (s->nano_cpus < 10000000 || s->nano_cpus > ncpu * 1000000000LL))) {
		rt__err(err,
			"Range of CPUs is from 0.01 to %ld.00, as there "
			"are only %ld CPUs available",
			ncpu, ncpu);
		return -EINVAL;
	}
	if (s->cpu_shares < 0 || s->cpu_shares == 1 || s->cpu_shares > 262144) {
		rt__err(err, "invalid CPU shares %lld: 2 to 262144",
			(long long)s->cpu_shares);
		return -EINVAL;
	}
	if (s->pids_limit < 0) {
		rt__err(err, "invalid pids limit %lld",
			(long long)s->pids_limit);
		return -EINVAL;
	}
	return 0;
}

/* "private" (NULL, "", "shareable" for ipc), "host", or "ctr:<id>" of
 * a container this runtime knows. */
static int check_ns_mode(struct rt *rt, const char *flag, const char *v,
			 bool ctr_ok, bool shareable_ok, struct shoal_err *err)
{
	if (!v || !*v || !strcmp(v, "private") || !strcmp(v, "host") ||
	    (shareable_ok && !strcmp(v, "shareable")))
		return 0;
	if (ctr_ok && !strncmp(v, "ctr:", 4) && strlen(v + 4) == RT_ID_LEN &&
	    hmap_get_str(&rt->by_id, v + 4))
		return 0;
	if (ctr_ok && !strncmp(v, "ctr:", 4)) {
		rt__err(err, "No such container: %s", v + 4);
		return SHOAL_ENOTFOUND;
	}
	rt__err(err, "invalid %s mode: \"%s\"", flag, v);
	return -EINVAL;
}

static bool is_host(const char *v)
{
	return v && !strcmp(v, "host");
}

static bool ns_shared(const char *v)
{
	return v && (!strcmp(v, "host") || !strncmp(v, "ctr:", 4));
}

static int check_namespaces(struct rt *rt, const struct rt_spec *s,
			    struct shoal_err *err)
{
	int rc = check_ns_mode(rt, "PID", s->pid_mode, true, false, err);

	if (rc == 0)
		rc = check_ns_mode(rt, "IPC", s->ipc_mode, true, true, err);
	if (rc == 0)
		rc = check_ns_mode(rt, "UTS", s->uts_mode, false, false, err);
	if (rc < 0)
		return rc;
	if (is_host(s->uts_mode) && s->hostname) {
		rt__err(err, "Conflicting options: hostname and the UTS mode");
		return -EINVAL;
	}
	if (s->userns_size &&
	    (ns_shared(s->pid_mode) || ns_shared(s->ipc_mode) ||
	     is_host(s->uts_mode) || s->cgroupns_host)) {
		rt__err(err, "a user namespace cannot be combined with a "
			     "shared pid, ipc, uts or cgroup namespace");
		return -EINVAL;
	}
	for (size_t i = 0; s->sysctls && s->sysctls[i]; i++) {
		struct rt_sysctl_ns ns = {
			.host_net = s->network && !strcmp(s->network, "host"),
			.host_ipc = ns_shared(s->ipc_mode),
			.host_uts = is_host(s->uts_mode),
		};
		if ((rc = rt_sysctl_check(s->sysctls[i], &ns, err)) < 0)
			return rc;
	}
	return 0;
}

/* Memory, swap, OOM: Docker's checks and words (daemon/daemon_unix.go
 * verifyPlatformContainerResources); what this kernel cannot do is
 * refused naming what is missing. */
int rt__check_host_flags(const struct rt_spec *s, unsigned features,
			 enum rt_cgroup_layout layout, struct shoal_err *err)
{
	bool v2 = layout == RT_CGROUP_V2;

	if (s->memory_swap != 0 && s->memory_swap != -1) {
		if (s->memory == 0) {
			rt__err(err, "You should always set the Memory limit "
				     "when using Memoryswap limit, see usage");
			return -EINVAL;
		}
		if (s->memory_swap < s->memory) {
			rt__err(err, "Minimum memoryswap limit should be "
				     "larger than memory limit, see usage");
			return -EINVAL;
		}
	}
	if (s->memory_swap != 0 && !(features & RT_CG_SWAP)) {
		rt__err(err, "--memory-swap cannot be applied: this kernel "
			     "does not account swap (no "
			     "memory.memsw.limit_in_bytes; boot with "
			     "swapaccount=1)");
		return -EINVAL;
	}
	if (s->memory_swappiness_set &&
	    (s->memory_swappiness < 0 || s->memory_swappiness > 100)) {
		rt__err(err,
			"Invalid value: %lld, valid memory swappiness range "
			"is 0-100",
			(long long)s->memory_swappiness);
		return -EINVAL;
	}
	if (v2 && (s->memory_swappiness_set || s->oom_kill_disable)) {
		rt__err(err,
			"%s cannot be applied: cgroup v2 has no such "
			"setting (memory.swappiness and "
			"memory.oom_control are cgroup v1 files)",
			s->oom_kill_disable ? "--oom-kill-disable"
					    : "--memory-swappiness");
		return -EINVAL;
	}
	if (s->oom_score_adj_set &&
	    (s->oom_score_adj < -1000 || s->oom_score_adj > 1000)) {
		rt__err(err,
			"Invalid value %d, range for oom score adj is "
			"[-1000, 1000]",
			s->oom_score_adj);
		return -EINVAL;
	}
	if (s->shm_size < 0) {
		rt__err(err, "SHM size can not be less than 0");
		return -EINVAL;
	}
	if (v2 &&
	    ((s->cpuset_cpus && *s->cpuset_cpus) ||
	     (s->cpuset_mems && *s->cpuset_mems) || rt__strv_len(s->devices) ||
	     rt__strv_len(s->device_cgroup_rules))) {
		rt__err(err, "--cpuset-cpus/--cpuset-mems and --device/"
			     "--device-cgroup-rule are applied on cgroup v1 "
			     "(and hybrid) hosts only; this host is cgroup "
			     "v2");
		return -EINVAL;
	}
	return 0;
}

/* Docker's check: the CPUs (memory nodes) asked for exist here. */
static int cpuset_available(struct rt *rt, int mems, const char *want,
			    struct shoal_err *err)
{
	char *path, *have = NULL;
	int rc;

	if (rt->cg.layout == RT_CGROUP_V2)
		return 0; /* refused below */
	path = rt__path("%s/cpuset/cpuset.effective_%s", rt->cg.v1_root,
			mems ? "mems" : "cpus");
	if (!path)
		return -ENOMEM;
	rc = rt__read_file(path, 4096, &have, NULL);
	shoal_free(path);
	if (rc < 0)
		return 0; /* nothing to compare with: the kernel decides */
	have[strcspn(have, "\n")] = '\0';
	if (!rt__cpuset_within(want, have)) {
		rt__err(err,
			"Requested %s are not available - requested %s, "
			"available: %s",
			mems ? "memory nodes" : "CPUs", want, have);
		rc = -EINVAL;
	}
	shoal_free(have);
	return rc;
}

static int check_run_flags(struct rt *rt, const struct rt_spec *s,
			   struct shoal_err *err)
{
	int rc = rt__check_host_flags(s, rt->cg_features, rt->cg.layout, err);

	if (rc == 0)
		rc = check_namespaces(rt, s, err);
	if (rc < 0)
		return rc;
	for (int i = 0; i < 2; i++) {
		const char *v = i ? s->cpuset_mems : s->cpuset_cpus;
		if (v && *v && rt_parse_cpuset(v) < 0) {
			rt__err(err, "Invalid value %s for cpuset %s", v,
				i ? "mems" : "cpus");
			return -EINVAL;
		}
		if (v && *v && !(rt->cg.v1_mask & RT__CG_CPUSET) &&
		    rt->cg.layout != RT_CGROUP_V2) {
			rt__err(err,
				"--cpuset-%s cannot be applied: the "
				"cpuset cgroup controller is not mounted",
				i ? "mems" : "cpus");
			return -EINVAL;
		}
		if (v && *v && (rc = cpuset_available(rt, i, v, err)) < 0)
			return rc;
	}
	for (size_t i = 0; s->device_cgroup_rules && s->device_cgroup_rules[i];
	     i++)
		if ((rc = rt_parse_device_rule(s->device_cgroup_rules[i],
					       err)) < 0)
			return rc;
	for (size_t i = 0; s->group_add && s->group_add[i]; i++) {
		const char *g = s->group_add[i];
		if (!*g || strlen(g) > 63 || strpbrk(g, ":\n/")) {
			rt__err(err, "invalid group \"%s\" for --group-add", g);
			return -EINVAL;
		}
	}
	if (s->log_driver && strcmp(s->log_driver, "json-file") &&
	    strcmp(s->log_driver, "local") && strcmp(s->log_driver, "none")) {
		rt__err(err, "logger: no log driver named '%s' is registered",
			s->log_driver);
		return -EINVAL;
	}
	if (s->log_max_size < 0 || s->log_max_file < 0) {
		rt__err(err, "invalid log options: max-size and max-file "
			     "must be positive");
		return -EINVAL;
	}
	if (s->init && access(rt->init_path, X_OK) < 0) {
		rt__err(err,
			"--init: %s is missing (shoal-init is built and "
			"installed beside shoal-monitor)",
			rt->init_path);
		return -EINVAL;
	}
	return 0;
}

static int check_lowers(const struct rt_spec *s, struct shoal_err *err)
{
	size_t n = rt__strv_len(s->lower_dirs);
	struct stat st;

	if (n == 0 || n > RT_MAX_LOWER) {
		rt__err(err, "a container needs 1 to %d image layers",
			RT_MAX_LOWER);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		const char *d = s->lower_dirs[i];
		if (d[0] != '/' || strpbrk(d, ",:") || stat(d, &st) < 0 ||
		    !S_ISDIR(st.st_mode)) {
			rt__err(err,
				"image layer \"%s\" is not an absolute "
				"directory path without ',' or ':'",
				d);
			return -EINVAL;
		}
	}
	return 0;
}

static int check_spec(struct rt *rt, const struct rt_spec *s,
		      struct shoal_err *err)
{
	struct rt_user_spec us;
	int rc;

	if (!s->argv || !s->argv[0] || !s->argv[0][0]) {
		rt__err(err, "no command specified");
		return -EINVAL;
	}
	if (rt__strv_len(s->argv) > RT_MAX_ITEMS ||
	    rt__strv_len(s->env) > RT_MAX_ITEMS) {
		rt__err(err, "too many arguments or environment variables");
		return -EINVAL;
	}
	/* A bare "NAME" (Docker's pass-through) is resolved by the caller,
	 * which knows the client's environment; here every entry is set. */
	for (size_t i = 0; s->env && s->env[i]; i++)
		if (!strchr(s->env[i], '=') || s->env[i][0] == '=') {
			rt__err(err, "invalid environment variable: \"%s\"",
				s->env[i]);
			return -EINVAL;
		}
	if (s->name &&
	    !rt_name_valid(s->name[0] == '/' ? s->name + 1 : s->name)) {
		rt__err(err,
			"Invalid container name (%s), only "
			"[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
			s->name);
		return -EINVAL;
	}
	if (s->name &&
	    hmap_get_str(&rt->by_name,
			 s->name[0] == '/' ? s->name + 1 : s->name)) {
		rt__err(err,
			"Conflict. The container name \"/%s\" is already "
			"in use",
			s->name[0] == '/' ? s->name + 1 : s->name);
		return SHOAL_ECONFLICT;
	}
	if (s->hostname && !valid_hostname(s->hostname)) {
		rt__err(err, "invalid hostname \"%s\"", s->hostname);
		return -EINVAL;
	}
	if (s->user && rt_parse_user(s->user, &us) < 0) {
		rt__err(err, "invalid user \"%s\"", s->user);
		return -EINVAL;
	}
	if (s->annotations && strlen(s->annotations) > 256 * 1024) {
		rt__err(err, "annotations too large (256 KiB at most)");
		return -EINVAL;
	}
	if (s->workdir && s->workdir[0] != '/') {
		rt__err(err,
			"the working directory '%s' is invalid, it needs "
			"to be an absolute path",
			s->workdir);
		return -EINVAL;
	}
	if (s->network && strcmp(s->network, "none") &&
	    strcmp(s->network, "host") &&
	    (strncmp(s->network, "ns:/", 4) || access(s->network + 3, R_OK))) {
		rt__err(err,
			"invalid network mode \"%s\": none, host or "
			"ns:<path of a network namespace>",
			s->network);
		return -EINVAL;
	}
	if (s->userns_size &&
	    (uint64_t)s->userns_host_id + s->userns_size > 0xffffffffULL) {
		rt__err(err, "invalid user namespace range");
		return -EINVAL;
	}
	for (size_t i = 0; i < s->rlimit_count; i++)
		if (s->rlimits[i].soft > s->rlimits[i].hard ||
		    s->rlimits[i].resource < 0 ||
		    s->rlimits[i].resource >= 16) {
			rt__err(err, "invalid ulimit");
			return -EINVAL;
		}
	rc = check_limits(s, err);
	if (rc == 0)
		rc = check_run_flags(rt, s, err);
	if (rc == 0)
		rc = check_names(s, err);
	if (rc == 0)
		rc = check_lowers(s, err);
	return rc;
}

/* Mounts: parse all, reject duplicates; volumes are made in phase two. */
static int parse_mounts(const struct rt_spec *s, struct rt__config *c,
			struct shoal_err *err)
{
	size_t nv = rt__strv_len(s->volumes), nt = rt__strv_len(s->tmpfs);
	struct rt_mount_spec ms;
	int rc;

	if (nv + nt > RT_MAX_ITEMS) {
		rt__err(err, "too many mounts");
		return -EINVAL;
	}
	c->mounts = shoal_calloc(nv + nt + 1, sizeof(*c->mounts));
	if (!c->mounts)
		return -ENOMEM;
	for (size_t i = 0; i < nv + nt; i++) {
		struct rt__mount *m = &c->mounts[i];
		rc = i < nv ? rt_parse_volume(s->volumes[i], &ms, err)
			    : rt_parse_tmpfs(s->tmpfs[i - nv], &ms, err);
		if (rc < 0)
			return rc;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(c->mounts[j].target, ms.target)) {
				rt__err(err, "Duplicate mount point: %s",
					ms.target);
				return -EINVAL;
			}
		c->n_mounts = i + 1;
		m->kind = ms.kind;
		m->readonly = ms.readonly;
		m->target = shoal_strdup(ms.target);
		if (ms.kind == RT_MOUNT_BIND)
			m->source = shoal_strdup(ms.source);
		if (ms.kind == RT_MOUNT_VOLUME)
			m->volume = shoal_strdup(ms.source);
		if (ms.kind == RT_MOUNT_TMPFS)
			m->options = shoal_strdup(ms.options);
		if (!m->target || (ms.kind == RT_MOUNT_BIND && !m->source) ||
		    (ms.kind == RT_MOUNT_VOLUME && !m->volume) ||
		    (ms.kind == RT_MOUNT_TMPFS && !m->options))
			return -ENOMEM;
	}
	return 0;
}

static int seccomp_for(struct rt *rt, const struct rt_spec *s,
		       struct rt__config *c, void **bpf, size_t *len,
		       struct shoal_err *err)
{
	char *text;
	size_t tlen;
	int rc;

	if (s->privileged ||
	    (s->seccomp && !strcmp(s->seccomp, "unconfined"))) {
		c->seccomp = shoal_strdup("unconfined");
		return c->seccomp ? 0 : -ENOMEM;
	}
	if (!s->seccomp || !strcmp(s->seccomp, "default"))
		return rt__seccomp_cached(rt, c->caps, &c->seccomp, err);
	rc = rt__read_file(s->seccomp, 4 << 20, &text, &tlen);
	if (rc < 0) {
		rt__err(err, "opening seccomp profile (%s) failed: %s",
			s->seccomp, strerror(-rc));
		return rc;
	}
	rc = rt__seccomp_compile(text, tlen, c->caps, bpf, len, err);
	shoal_free(text);
	return rc;
}

static char *dup_or_null(const char *v, bool *oom)
{
	char *d;

	if (!v || !*v)
		return NULL;
	d = shoal_strdup(v);
	*oom |= !d;
	return d;
}

static const char *mode_or(const char *v, const char *def)
{
	return v && *v ? v : def;
}

static int copy_run_flags(struct rt *rt, const struct rt_spec *s,
			  struct rt__config *c)
{
	bool oom = false;

	c->init_path = s->init ? dup_or_null(rt->init_path, &oom) : NULL;
	c->shm_size = s->shm_size;
	c->memory_swap = s->memory_swap;
	c->memory_swappiness =
		s->memory_swappiness_set ? s->memory_swappiness : -1;
	c->oom_kill_disable = s->oom_kill_disable;
	c->oom_score_adj_set = s->oom_score_adj_set;
	c->oom_score_adj = s->oom_score_adj;
	c->cpuset_cpus = dup_or_null(s->cpuset_cpus, &oom);
	c->cpuset_mems = dup_or_null(s->cpuset_mems, &oom);
	c->group_add = rt__strv_dup(s->group_add, &c->n_group_add);
	c->sysctls = rt__strv_dup(s->sysctls, &c->n_sysctls);
	c->dev_rules = rt__strv_dup(s->device_cgroup_rules, &c->n_dev_rules);
	c->pid_mode = shoal_strdup(mode_or(s->pid_mode, "private"));
	c->ipc_mode = shoal_strdup(mode_or(s->ipc_mode, "private"));
	c->uts_mode = shoal_strdup(mode_or(s->uts_mode, "private"));
	c->cgroupns_host = s->cgroupns_host;
	c->log_driver = shoal_strdup(mode_or(s->log_driver, "json-file"));
	c->log_max_size = s->log_max_size;
	c->log_max_file = s->log_max_file;
	c->log_compress = s->log_compress > 0;
	if (!strcmp(c->log_driver ? c->log_driver : "", "local")) {
		/* Docker's local driver: 20 MB x 5 files, compressed. */
		if (!c->log_max_size)
			c->log_max_size = 20 << 20;
		if (!c->log_max_file)
			c->log_max_file = 5;
		c->log_compress = s->log_compress >= 0;
	}
	if (!c->log_max_file)
		c->log_max_file = 1;
	if (oom || !c->group_add || !c->sysctls || !c->dev_rules ||
	    !c->pid_mode || !c->ipc_mode || !c->uts_mode || !c->log_driver)
		return -ENOMEM;
	if (is_host(s->uts_mode)) {
		char host[HOST_NAME_MAX + 1] = "";
		/* /etc/hostname shows the host's name, as in Docker. */
		gethostname(host, sizeof(host) - 1);
		shoal_free(c->hostname);
		c->hostname = shoal_strdup(host);
		if (!c->hostname)
			return -ENOMEM;
	}
	return 0;
}

static int copy_fields(struct rt *rt, const struct rt_spec *s,
		       struct rt__config *c)
{
	c->created_ns = time_real_ns();
	c->name = s->name ? shoal_strdup(s->name[0] == '/' ? s->name + 1
							   : s->name)
			  : NULL;
	c->lower = rt__strv_dup(s->lower_dirs, &c->n_lower);
	c->argv = rt__strv_dup(s->argv, &c->argc);
	c->env = rt__strv_dup(s->env, &c->n_env);
	c->hostname = s->hostname ? shoal_strdup(s->hostname)
				  : shoal_strndup(c->id, 12);
	c->user = s->user ? shoal_strdup(s->user) : NULL;
	c->workdir = shoal_strdup(s->workdir ? s->workdir : "/");
	c->network =
		shoal_strdup(!s->network		      ? "none"
			     : !strncmp(s->network, "ns:", 3) ? s->network + 3
							      : s->network);
	c->cgroup_parent = shoal_strdup(rt->cgroup_parent);
	c->dir = rt__path("%s/containers/%s", rt->data_root, c->id);
	c->run_dir = rt__path("%s/%s", rt->exec_root, c->id);
	c->annotations = s->annotations ? shoal_strdup(s->annotations) : NULL;
	c->rlimits = shoal_calloc(s->rlimit_count + 1, sizeof(*c->rlimits));
	if ((s->name && !c->name) || !c->lower || !c->argv || !c->env ||
	    !c->hostname || (s->user && !c->user) || !c->workdir ||
	    !c->network || !c->cgroup_parent || !c->dir || !c->run_dir ||
	    !c->rlimits || (s->annotations && !c->annotations))
		return -ENOMEM;
	if (s->rlimit_count)
		memcpy(c->rlimits, s->rlimits,
		       s->rlimit_count * sizeof(*c->rlimits));
	c->n_rlimits = s->rlimit_count;
	c->tty = s->tty;
	c->open_stdin = s->open_stdin;
	c->privileged = s->privileged;
	c->no_new_privs = s->no_new_privileges;
	c->readonly_rootfs = s->readonly_rootfs;
	c->userns_host_id = s->userns_host_id;
	c->userns_size = s->userns_size;
	c->memory = s->memory;
	c->memory_reservation = s->memory_reservation;
	c->cpu_shares = s->cpu_shares;
	c->nano_cpus = s->nano_cpus;
	c->pids_limit = s->pids_limit;
	return copy_run_flags(rt, s, c);
}

static int write_hosts(const struct rt_spec *s, const struct rt__config *c)
{
	struct buf b;
	char *path;
	int rc = 0;

	buf_init(&b, 1 << 20);
	buf_append_str(&b, "127.0.0.1\tlocalhost\n"
			   "::1\tlocalhost ip6-localhost ip6-loopback\n"
			   "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\n"
			   "ff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n");
	for (size_t i = 0; s->extra_hosts && s->extra_hosts[i]; i++) {
		const char *colon = strchr(s->extra_hosts[i], ':');
		if (colon)
			buf_printf(&b, "%s\t%.*s\n", colon + 1,
				   (int)(colon - s->extra_hosts[i]),
				   s->extra_hosts[i]);
	}
	path = rt__path("%s/hosts", c->dir);
	rc = path && b.data ? rt__write_file(path, b.data, b.len, 0644)
			    : -ENOMEM;
	shoal_free(path);
	buf_fini(&b);
	return rc;
}

/* The host's resolv.conf minus loopback servers (unreachable from the
 * container's namespace), or Google's as Docker falls back to. */
static int write_resolv(const struct rt_spec *s, const struct rt__config *c)
{
	struct buf b;
	char line[512], *path;
	bool servers = false;
	FILE *f;
	int rc;

	buf_init(&b, 1 << 20);
	for (size_t i = 0; s->dns && s->dns[i]; i++) {
		buf_printf(&b, "nameserver %s\n", s->dns[i]);
		servers = true;
	}
	f = servers ? NULL : fopen("/etc/resolv.conf", "re");
	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "nameserver", 10)) {
			const char *ip = line + 10 + strspn(line + 10, " \t");
			if (!strncmp(ip, "127.", 4) || !strncmp(ip, "::1", 3))
				continue;
			servers = true;
		}
		buf_append_str(&b, line);
	}
	if (f)
		fclose(f);
	if (!servers)
		buf_append_str(&b, "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
	path = rt__path("%s/resolv.conf", c->dir);
	rc = path && b.data ? rt__write_file(path, b.data, b.len, 0644)
			    : -ENOMEM;
	shoal_free(path);
	buf_fini(&b);
	return rc;
}

static int write_files(const struct rt_spec *s, const struct rt__config *c,
		       const void *bpf, size_t bpf_len)
{
	char *p, *json;
	int rc;

	p = rt__path("%s/hostname", c->dir);
	json = rt__path("%s\n", c->hostname);
	rc = p && json ? rt__write_file(p, json, strlen(json), 0644) : -ENOMEM;
	shoal_free(p);
	shoal_free(json);
	if (rc == 0)
		rc = write_hosts(s, c);
	if (rc == 0)
		rc = write_resolv(s, c);
	if (rc == 0 && bpf) {
		p = rt__path("%s/seccomp.bpf", c->dir);
		rc = p ? rt__write_file(p, bpf, bpf_len, 0600) : -ENOMEM;
		shoal_free(p);
	}
	return rc;
}

/* With a user namespace, the container's root (a host uid without
 * rights on our files) must traverse the folders (0711) and own the
 * overlay's upper and work dirs. */
static int make_dirs(const struct rt__config *c)
{
	bool userns = c->userns_size > 0;
	char *p;
	int rc = path_mkdir_p(c->dir, userns ? 0711 : 0710);

	if (rc == 0)
		rc = path_mkdir_p(c->run_dir, userns ? 0711 : 0700);
	for (int i = 0; i < 2 && rc == 0; i++) {
		p = rt__path("%s/%s", c->dir, i ? "work" : "upper");
		rc = p ? path_mkdir_p(p, i ? 0700 : 0755) : -ENOMEM;
		if (rc == 0 && userns &&
		    chown(p, c->userns_host_id, c->userns_host_id) < 0)
			rc = -errno;
		shoal_free(p);
	}
	return rc;
}

/* Named and anonymous volumes, and missing bind sources (Docker makes
 * them). @made lists the volumes created here, for the undo. */
static int make_volumes(struct rt *rt, struct rt__config *c, char **made,
			size_t *n_made, struct shoal_err *err)
{
	for (size_t i = 0; i < c->n_mounts; i++) {
		struct rt__mount *m = &c->mounts[i];
		struct rt_volume_info vi;
		bool existed;
		int rc;
		if (m->kind == RT_MOUNT_BIND) {
			struct stat st;
			if (stat(m->source, &st) < 0 &&
			    (rc = path_mkdir_p(m->source, 0755)) < 0) {
				rt__err(err, "cannot create bind source %s: %s",
					m->source, strerror(-rc));
				return rc;
			}
			continue;
		}
		if (m->kind == RT_MOUNT_TMPFS)
			continue;
		existed =
			m->volume && rt_volume_inspect(rt, m->volume, &vi) == 0;
		rc = rt_volume_create(rt, m->volume, &vi, err);
		if (rc < 0)
			return rc;
		if (!existed) {
			made[*n_made] = shoal_strdup(vi.name);
			if (!made[*n_made]) {
				rt__volume_drop(rt, vi.name);
				return -ENOMEM;
			}
			(*n_made)++;
		}
		if (!m->volume && !(m->volume = shoal_strdup(vi.name)))
			return -ENOMEM;
		m->source = shoal_strdup(vi.mountpoint);
		if (!m->source)
			return -ENOMEM;
	}
	return 0;
}

int rt_container_create(struct rt *rt, const struct rt_spec *s,
			char id[RT_ID_LEN + 1], struct shoal_err *err)
{
	struct rt__config *c;
	char **made = NULL, *json = NULL, *path = NULL;
	size_t n_made = 0, bpf_len = 0;
	void *bpf = NULL;
	struct shoal_err local;
	int rc;

	if (!err)
		err = &local;
	rt__err(err, "%s", "");
	rc = check_spec(rt, s, err);
	if (rc < 0)
		return rc;
	c = shoal_calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	id_hex(c->id);
	rc = copy_fields(rt, s, c);
	if (rc == 0)
		rc = parse_mounts(s, c, err);
	if (rc == 0)
		rc = rt__devices_resolve(s->devices, c, err);
	if (rc == 0)
		rc = rt__caps_compute(s->cap_add, s->cap_drop, s->privileged,
				      &c->caps, err);
	if (rc == 0)
		rc = seccomp_for(rt, s, c, &bpf, &bpf_len, err);
	if (rc < 0)
		goto err_config;
	/* Phase two: from here on, undo what we make. */
	made = shoal_calloc(c->n_mounts + 1, sizeof(char *));
	if (!made) {
		rc = -ENOMEM;
		goto err_config;
	}
	rc = make_dirs(c);
	if (rc == 0 && bpf) {
		shoal_free(c->seccomp);
		c->seccomp = rt__path("%s/seccomp.bpf", c->dir);
		rc = c->seccomp ? 0 : -ENOMEM;
	}
	if (rc == 0)
		rc = make_volumes(rt, c, made, &n_made, err);
	if (rc == 0)
		rc = write_files(s, c, bpf, bpf_len);
	json = rc == 0 ? rt__config_to_json(c) : NULL;
	path = rt__path("%s/%s", c->dir, RT_CONFIG_FILE);
	if (rc == 0)
		rc = json && path ? rt__write_atomic(path, json, strlen(json))
				  : -ENOMEM;
	if (rc == 0)
		rc = rt__register(rt, c);
	if (rc < 0)
		goto err_undo;
	memcpy(id, c->id, RT_ID_LEN + 1);
	shoal_free(json);
	shoal_free(path);
	shoal_free(bpf);
	rt__strv_free(made, n_made);
	return 0;
err_undo:
	if (!err->msg[0])
		rt__err(err, "cannot create container: %s", strerror(-rc));
	rt__rm_rf(c->dir);
	rt__rm_rf(c->run_dir);
	for (size_t i = 0; i < n_made; i++)
		rt__volume_drop(rt, made[i]);
	shoal_free(json);
	shoal_free(path);
	rt__strv_free(made, n_made);
err_config:
	if (!err->msg[0])
		rt__err(err, "cannot create container: %s", strerror(-rc));
	shoal_free(bpf);
	rt__config_free(c);
	return rc;
}
