/*
 * eng_create(): a struct eng_spec over an image into a struct rt_spec, a
 * container and its record.
 *
 * Merging follows Docker (moby daemon/create.go, mergeAndVerifyConfig):
 * the image's Env comes first and the spec's variables override it by
 * name; an Entrypoint in the spec drops the image's Cmd unless the spec
 * has a Cmd too; [""] as Entrypoint resets it; WorkingDir, User and
 * StopSignal fall back to the image's; labels go over the image's.
 *
 * All or nothing: every check the runtime makes runs before it writes
 * anything; the record is written and the image marked in use only after
 * the container exists, and a failure after that removes the container
 * again. A seccomp profile given as text is written to a private
 * temporary file that is gone when the call returns.
 *
 * Warnings are Docker's, only those that apply on this host: a memory
 * limit where the kernel accounts no swap, CPU shares where the cpu
 * controller is missing (cgroup v1, where the runtime then skips them).
 */
#define LOG_MODULE "engine"
#include "common/alloc.h"
#include "common/crypto.h"
#include "common/error.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "engine/internal.h"
#include "image/image.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct create {
	struct eng *e;
	const struct eng_spec *spec;
	struct shoal_err *err;
	struct img_image *img;
	struct rt_spec rs;
	const char **argv;
	const char **env;
	json_t *ep_json, *cmd_json, *env_json, *labels;
	char name[ENG_NAME_MAX + 1];
	char seccomp_tmp[64];
	/* The runtime's -v list: the spec's, then --volumes-from's, then the
	 * image's VOLUMEs not mounted otherwise (strings in @vol_text). */
	const char **volumes;
	char **vol_text;
	size_t n_vol_text;
	char pid_mode[RT_ID_LEN + 8], ipc_mode[RT_ID_LEN + 8];
	struct net_ctr_result net;
	const char *dns_local[2];
	char **link_env;  /* eng__links() */
	char *link_hosts; /* eng__links() */
};

static size_t vlen(const char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

static json_t *strv_json(const char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		if (json_array_append_new(a, json_string(v[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

/* argv = entrypoint + cmd; also what inspect shows as Entrypoint/Cmd. */
static int build_argv(struct create *c)
{
	const char *const *ep = c->spec->entrypoint, *const *cmd = c->spec->cmd;
	const char *const *e = (const char *const *)c->img->config.entrypoint;
	const char *const *k = (const char *const *)c->img->config.cmd;
	size_t ne, nc;

	if (ep) {
		e = ep;
		k = cmd;
		if (vlen(ep) == 1 && ep[0][0] == '\0')
			e = NULL;
	} else if (cmd) {
		k = cmd;
	}
	ne = vlen(e);
	nc = vlen(k);
	if (ne + nc == 0) {
		eng__err(c->err, "no command specified");
		return -EINVAL;
	}
	c->argv = shoal_calloc(ne + nc + 1, sizeof(char *));
	if (!c->argv)
		return -ENOMEM;
	for (size_t i = 0; i < ne; i++)
		c->argv[i] = e[i];
	for (size_t i = 0; i < nc; i++)
		c->argv[ne + i] = k[i];
	c->ep_json = ne ? strv_json(e, ne) : json_null();
	c->cmd_json = nc ? strv_json(k, nc) : json_null();
	return c->ep_json && c->cmd_json ? 0 : -ENOMEM;
}

static bool same_key(const char *a, const char *b)
{
	size_t la = strcspn(a, "="), lb = strcspn(b, "=");

	return la == lb && memcmp(a, b, la) == 0;
}

static int build_env(struct create *c)
{
	const char *const *ienv = (const char *const *)c->img->config.env;
	const char *const *env = c->spec->env;
	size_t ni = vlen(ienv), nb = vlen(env), n = 0;

	const char *const *lenv = (const char *const *)c->link_env;
	size_t nl = vlen(lenv);

	c->env = shoal_calloc(ni + nb + nl + 1, sizeof(char *));
	if (!c->env)
		return -ENOMEM;
	/* Links' variables first; the image's and the spec's win. */
	for (size_t i = 0; i < nl; i++) {
		bool over = false;
		for (size_t j = 0; j < nb && !over; j++)
			over = same_key(lenv[i], env[j]);
		for (size_t j = 0; j < ni && !over; j++)
			over = same_key(lenv[i], ienv[j]);
		if (!over)
			c->env[n++] = lenv[i];
	}
	/* Docker (container/env.go ReplaceOrAppendEnvValues): an entry
	 * without '=' unsets that variable (the client has already put in
	 * the values it passes through). */
	for (size_t i = 0; i < ni; i++) {
		bool over = false;
		for (size_t j = 0; j < nb && !over; j++)
			over = same_key(ienv[i], env[j]);
		if (!over)
			c->env[n++] = ienv[i];
	}
	for (size_t j = 0; j < nb; j++)
		if (strchr(env[j], '='))
			c->env[n++] = env[j];
	c->env_json = strv_json(c->env, n);
	return c->env_json ? 0 : -ENOMEM;
}

static int build_labels(struct create *c)
{
	const struct img_config *ic = &c->img->config;
	const char *const *l = c->spec->labels;
	char key[512];

	c->labels = json_object();
	if (!c->labels)
		return -ENOMEM;
	for (size_t i = 0; i < ic->n_labels; i++)
		if (jsonx_set(c->labels, ic->labels[i].key,
			      json_string(ic->labels[i].value)) < 0)
			return -ENOMEM;
	for (size_t i = 0; l && l[i]; i++) {
		size_t klen = strcspn(l[i], "=");
		if (klen == 0 || klen >= sizeof(key)) {
			eng__err(c->err, "invalid label: '%s'", l[i]);
			return -EINVAL;
		}
		memcpy(key, l[i], klen);
		key[klen] = '\0';
		if (jsonx_set(c->labels, key,
			      json_string(l[i][klen] ? l[i] + klen + 1 : "")) <
		    0)
			return -ENOMEM;
	}
	return 0;
}

static int write_profile(struct create *c)
{
	const char *text = c->spec->seccomp_profile;
	size_t len = strlen(text);
	ssize_t w;
	int fd;

	snprintf(c->seccomp_tmp, sizeof(c->seccomp_tmp),
		 "/tmp/shoal-seccomp-XXXXXX");
	fd = mkostemp(c->seccomp_tmp, O_CLOEXEC);
	if (fd < 0) {
		c->seccomp_tmp[0] = '\0';
		eng__err(c->err, "cannot store the seccomp profile: %s",
			 strerror(errno));
		return -EIO;
	}
	w = write(fd, text, len);
	close(fd);
	if (w != (ssize_t)len) {
		eng__err(c->err, "cannot store the seccomp profile");
		return -EIO;
	}
	c->rs.seccomp = c->seccomp_tmp;
	return 0;
}

/* Mounts taken from one --volumes-from container at most (the arrays
 * below are sized with it). */
#define VOLUMES_FROM_MAX 64

/* "container:NAME" into the runtime's "ctr:<id>"; other modes as they
 * are. */
static int ns_mode(struct create *c, const char *mode, char *out, size_t cap,
		   const char **res)
{
	char id[RT_ID_LEN + 1];

	*res = mode && *mode ? mode : NULL;
	if (!mode || strncmp(mode, "container:", 10))
		return 0;
	if (!mode[10] || rt_container_resolve(c->e->rt, mode + 10, id) < 0) {
		eng__err(c->err, "No such container: %s", mode + 10);
		return SHOAL_ENOTFOUND;
	}
	snprintf(out, cap, "ctr:%s", id);
	*res = out;
	return 0;
}

static int keep_text(struct create *c, char *t)
{
	if (!t)
		return -ENOMEM;
	c->vol_text[c->n_vol_text++] = t;
	return 0;
}

static bool target_taken(const char *const *v, size_t n, const char *target)
{
	struct rt_mount_spec ms;

	for (size_t i = 0; i < n; i++)
		if (rt_parse_volume(v[i], &ms, NULL) == 0 &&
		    !strcmp(ms.target, target))
			return true;
	return false;
}

/* The mounts of container @ref (binds and volumes, not tmpfs) as -v
 * specs, in @mode ("", "ro" or "rw": Docker's --volumes-from suffix). */
static int volumes_of(struct create *c, const char *ref, const char *mode,
		      size_t *n)
{
	char id[RT_ID_LEN + 1], spec[4200];
	struct rt_info info;
	json_t *cfg, *m;
	size_t i;
	int rc = 0, added = 0;

	if (rt_container_resolve(c->e->rt, ref, id) < 0 ||
	    rt_container_inspect(c->e->rt, id, &info) < 0) {
		eng__err(c->err, "No such container: %s", ref);
		return SHOAL_ENOTFOUND;
	}
	cfg = info.config_json ? json_loads(info.config_json, 0, NULL) : NULL;
	rt_info_fini(&info);
	json_array_foreach(json_object_get(cfg, "mounts"), i, m)
	{
		const char *kind = jsonx_str(m, "kind", "");
		const char *src = !strcmp(kind, "bind")
					  ? jsonx_str(m, "source", "")
					  : jsonx_str(m, "volume", "");
		const char *target = jsonx_str(m, "target", "");
		bool ro = *mode ? !strcmp(mode, "ro")
				: jsonx_bool(m, "readonly", false);
		if (!strcmp(kind, "tmpfs") || !*src || !*target ||
		    target_taken(c->volumes, *n, target))
			continue;
		if (++added > VOLUMES_FROM_MAX) {
			eng__err(c->err,
				 "too many volumes from %s (%d at most)", ref,
				 VOLUMES_FROM_MAX);
			rc = -EINVAL;
			break;
		}
		snprintf(spec, sizeof(spec), "%s:%s%s", src, target,
			 ro ? ":ro" : "");
		if ((rc = keep_text(c, shoal_strdup(spec))) < 0)
			break;
		c->volumes[(*n)++] = c->vol_text[c->n_vol_text - 1];
	}
	json_decref(cfg);
	return rc;
}

static int build_volumes(struct create *c)
{
	const struct eng_spec *s = c->spec;
	const struct img_config *ic = &c->img->config;
	size_t nv = vlen(s->volumes), nf = vlen(s->volumes_from), n = 0;
	size_t ni = vlen((const char *const *)ic->volumes);
	char ref[RT_NAME_MAX + 8];
	int rc;

	if (nf > 64) {
		eng__err(c->err, "too many --volumes-from (64 at most)");
		return -EINVAL;
	}
	c->volumes = shoal_calloc(nv + nf * VOLUMES_FROM_MAX + ni + 1,
				  sizeof(char *));
	c->vol_text = shoal_calloc(nf * VOLUMES_FROM_MAX + 1, sizeof(char *));
	if (!c->volumes || !c->vol_text)
		return -ENOMEM;
	for (size_t i = 0; i < nv; i++)
		c->volumes[n++] = s->volumes[i];
	for (size_t i = 0; i < nf; i++) {
		const char *f = s->volumes_from[i], *colon = strrchr(f, ':');
		const char *mode = "";
		if (strlen(f) >= sizeof(ref)) {
			eng__err(c->err, "No such container: %.64s", f);
			return SHOAL_ENOTFOUND;
		}
		snprintf(ref, sizeof(ref), "%s", f);
		if (colon && (!strcmp(colon, ":ro") || !strcmp(colon, ":rw"))) {
			ref[colon - f] = '\0';
			mode = colon + 1;
		} else if (colon) {
			eng__err(c->err, "invalid mode for volumes-from: %s",
				 f);
			return -EINVAL;
		}
		if ((rc = volumes_of(c, ref, mode, &n)) < 0)
			return rc;
	}
	/* The image's VOLUMEs: an anonymous volume each, unless mounted. */
	for (size_t i = 0; i < ni; i++)
		if (ic->volumes[i][0] == '/' &&
		    !target_taken(c->volumes, n, ic->volumes[i]))
			c->volumes[n++] = ic->volumes[i];
	return 0;
}

static void run_flags(struct create *c)
{
	const struct eng_spec *s = c->spec;
	struct rt_spec *r = &c->rs;

	r->init = s->init;
	r->shm_size = s->shm_size;
	r->memory_swap = s->memory_swap;
	r->memory_swappiness_set = s->memory_swappiness_set;
	r->memory_swappiness = s->memory_swappiness;
	r->oom_kill_disable = s->oom_kill_disable;
	r->oom_score_adj_set = s->oom_score_adj_set;
	r->oom_score_adj = s->oom_score_adj;
	r->cpuset_cpus = s->cpuset_cpus;
	r->cpuset_mems = s->cpuset_mems;
	r->group_add = s->group_add;
	r->sysctls = s->sysctls;
	r->devices = s->devices;
	r->device_cgroup_rules = s->device_cgroup_rules;
	r->uts_mode = s->uts_mode && *s->uts_mode ? s->uts_mode : NULL;
	r->cgroupns_host = s->cgroupns_host;
	r->log_driver = s->log_driver && *s->log_driver ? s->log_driver : NULL;
	r->log_max_size = s->log_max_size;
	r->log_max_file = s->log_max_file;
	r->log_compress = s->log_compress;
}

static int build_spec(struct create *c)
{
	const struct eng_spec *s = c->spec;
	const struct img_config *ic = &c->img->config;
	struct rt_spec *r = &c->rs;
	int rc = build_argv(c);

	if (rc == 0)
		rc = build_env(c);
	if (rc == 0)
		rc = build_labels(c);
	if (rc < 0)
		return rc;
	r->name = c->name;
	r->lower_dirs = (const char *const *)c->img->layer_dirs;
	r->argv = c->argv;
	r->env = c->env;
	r->hostname = s->hostname && *s->hostname ? s->hostname : NULL;
	r->user = s->user && *s->user ? s->user : ic->user;
	if (r->user && !*r->user)
		r->user = NULL;
	r->workdir = s->workdir && *s->workdir ? s->workdir : ic->working_dir;
	if (r->workdir && !*r->workdir)
		r->workdir = NULL;
	if (r->workdir && *r->workdir != '/') {
		eng__err(c->err,
			 "the working directory '%s' is invalid, it needs to "
			 "be an absolute path",
			 r->workdir);
		return -EINVAL;
	}
	r->tty = s->tty;
	r->open_stdin = s->open_stdin;
	r->privileged = s->privileged;
	r->no_new_privileges = s->no_new_privileges;
	r->readonly_rootfs = s->readonly_rootfs;
	rc = build_volumes(c);
	if (rc == 0)
		rc = ns_mode(c, s->pid_mode, c->pid_mode, sizeof(c->pid_mode),
			     &r->pid_mode);
	if (rc == 0)
		rc = ns_mode(c, s->ipc_mode, c->ipc_mode, sizeof(c->ipc_mode),
			     &r->ipc_mode);
	if (rc < 0)
		return rc;
	run_flags(c);
	r->volumes = c->volumes;
	r->tmpfs = s->tmpfs;
	r->cap_add = s->cap_add;
	r->cap_drop = s->cap_drop;
	r->seccomp = s->seccomp;
	r->network = s->network;
	r->memory = s->memory;
	r->memory_reservation = s->memory_reservation;
	r->cpu_shares = s->cpu_shares;
	r->nano_cpus = s->nano_cpus;
	r->pids_limit = s->pids_limit;
	r->rlimits = s->rlimits;
	r->rlimit_count = s->rlimit_count;
	r->extra_hosts = s->extra_hosts;
	r->dns = s->dns;
	if (s->seccomp_profile)
		return write_profile(c);
	return 0;
}

/* --- names ---------------------------------------------------------------- */

/*
 * A name for a container created without one, in Docker's style
 * ("adjective_scientist"); a number is appended after a few collisions.
 */
static const char *const adjectives[] = {
	"agile",   "bold",   "brave",  "calm",	  "clever", "eager",
	"fervent", "gentle", "happy",  "jolly",	  "keen",   "lucid",
	"modest",  "nimble", "quiet",  "serene",  "sharp",  "steady",
	"swift",   "tender", "upbeat", "vibrant", "wise",   "zealous",
};
static const char *const scientists[] = {
	"babbage", "bohr",     "curie",	  "darwin",  "dijkstra", "euler",
	"faraday", "franklin", "galileo", "gauss",   "hopper",	 "kepler",
	"lamarr",  "lovelace", "maxwell", "meitner", "newton",	 "noether",
	"pasteur", "ritchie",  "shannon", "tesla",   "thompson", "turing",
};

/* The id of the container named exactly @n, or false. */
static bool named(struct eng *e, const char *n, char id[RT_ID_LEN + 1])
{
	struct rt_info info;
	bool same;

	if (rt_container_resolve(e->rt, n, id) < 0 ||
	    rt_container_inspect(e->rt, id, &info) < 0)
		return false;
	same = info.name && !strcmp(info.name, n);
	rt_info_fini(&info);
	return same;
}

static void random_name(struct eng *e, char *out, size_t cap)
{
	char id[RT_ID_LEN + 1];

	for (int i = 0; i < 16; i++) {
		uint64_t r = shoal_random_u64();
		size_t a = r % (sizeof(adjectives) / sizeof(adjectives[0]));
		size_t b = (r >> 16) %
			   (sizeof(scientists) / sizeof(scientists[0]));
		if (i < 8)
			snprintf(out, cap, "%s_%s", adjectives[a],
				 scientists[b]);
		else
			snprintf(out, cap, "%s_%s%u", adjectives[a],
				 scientists[b], (unsigned)(r >> 32) % 100);
		if (!named(e, out, id))
			return;
	}
}

void eng_name_new(struct eng *e, char *out, size_t cap)
{
	random_name(e, out, cap);
}

static int pick_name(struct create *c)
{
	const char *n = c->spec->name;
	char id[RT_ID_LEN + 1];

	if (!n || !*n) {
		random_name(c->e, c->name, sizeof(c->name));
		return 0;
	}
	if (*n == '/')
		n++;
	if (!rt_name_valid(n)) {
		eng__err(c->err,
			 "Invalid container name (%s), only "
			 "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
			 c->spec->name);
		return -EINVAL;
	}
	if (named(c->e, n, id)) {
		eng__err(c->err,
			 "Conflict. The container name \"/%s\" is already in "
			 "use by container \"%s\". You have to remove (or "
			 "rename) that container to be able to reuse that "
			 "name.",
			 n, id);
		return SHOAL_ECONFLICT;
	}
	snprintf(c->name, sizeof(c->name), "%s", n);
	return 0;
}

/* --- the record -------------------------------------------------------------
 */

static json_t *record(struct create *c)
{
	const struct eng_spec *s = c->spec;
	const char *ssig = c->img->config.stop_signal;
	int sig = s->stop_signal > 0 ? s->stop_signal : eng_signal_parse(ssig);
	json_t *r = json_object(), *args = json_array();
	int rc = 0;

	for (size_t i = 1; args && c->argv[i]; i++)
		if (json_array_append_new(args, json_string(c->argv[i])) < 0)
			rc = -1;
	rc |= jsonx_set(r, "Version", json_integer(1));
	rc |= jsonx_set(r, "Image", json_string(s->image));
	rc |= jsonx_set(r, "ImageID", json_string(c->img->id));
	rc |= jsonx_set(r, "Path", json_string(c->argv[0]));
	rc |= jsonx_set(r, "Args", args);
	rc |= jsonx_set(r, "Entrypoint", json_incref(c->ep_json));
	rc |= jsonx_set(r, "Cmd", json_incref(c->cmd_json));
	rc |= jsonx_set(r, "Env", json_incref(c->env_json));
	rc |= jsonx_set(r, "WorkingDir",
			json_string(c->rs.workdir ? c->rs.workdir : ""));
	rc |= jsonx_set(r, "User", json_string(c->rs.user ? c->rs.user : ""));
	rc |= jsonx_set(r, "Labels", json_incref(c->labels));
	rc |= jsonx_set(r, "Tty", json_boolean(s->tty));
	rc |= jsonx_set(r, "OpenStdin", json_boolean(s->open_stdin));
	rc |= jsonx_set(r, "StopSignal", json_integer(sig > 0 ? sig : SIGTERM));
	rc |= jsonx_set(r, "StopTimeout",
			s->stop_timeout_set ? json_integer(s->stop_timeout_s)
					    : json_null());
	rc |= jsonx_set(r, "RestartPolicy",
			json_pack("{s:s, s:i}", "Name",
				  eng_restart_name(s->restart.kind),
				  "MaximumRetryCount", s->restart.max_retries));
	rc |= jsonx_set(r, "AutoRemove", json_boolean(s->auto_remove));
	rc |= jsonx_set(r, "ConsoleSize",
			json_pack("[i, i]", (int)s->console_rows,
				  (int)s->console_cols));
	rc |= jsonx_set(r, "RestartCount", json_integer(0));
	rc |= jsonx_set(r, "StoppedByUser", json_false());
	rc |= jsonx_set(r, "RestartPending", json_false());
	rc |= jsonx_set(r, "Annotations",
			s->annotations ? json_deep_copy(s->annotations)
				       : json_object());
	json_t *hc = NULL;
	rc |= eng__health_config(c->e, s, c->img->id, &hc);
	rc |= jsonx_set(r, "Healthcheck", hc ? hc : json_null());
	if (rc) {
		json_decref(r);
		return NULL;
	}
	return r;
}

/* --- warnings and checks
 * ------------------------------------------------------ */

void eng__create_warnings(const struct eng_spec *s, unsigned features,
			  enum rt_cgroup_layout layout, struct eng_created *out)
{
	static const char *const swap =
		"Your kernel does not support swap limit capabilities or the "
		"cgroup is not mounted. Memory limited without swap.";
	static const char *const shares =
		"Your kernel does not support CPU shares or the cgroup is not "
		"mounted. Shares discarded.";

	out->n_warnings = 0;
	if (s->memory > 0 && !(features & RT_CG_SWAP))
		snprintf(out->warnings[out->n_warnings++],
			 sizeof(out->warnings[0]), "%s", swap);
	if (s->cpu_shares > 0 && !(features & RT_CG_CPU) &&
	    layout != RT_CGROUP_V2)
		snprintf(out->warnings[out->n_warnings++],
			 sizeof(out->warnings[0]), "%s", shares);
	if (s->oom_kill_disable && s->memory == 0 &&
	    out->n_warnings < ENG_MAX_WARNINGS)
		snprintf(out->warnings[out->n_warnings++],
			 sizeof(out->warnings[0]),
			 "OOM killer is disabled for the container, but no "
			 "memory limit is set, this can result in the system "
			 "running out of resources.");
}

/* Refusals before anything is made. */
static int check_spec(struct create *c, unsigned features)
{
	const struct eng_spec *s = c->spec;

	if (!s->image || !*s->image) {
		eng__err(c->err, "no image specified");
		return -EINVAL;
	}
	if (s->auto_remove && s->restart.kind != ENG_RESTART_NO) {
		eng__err(c->err, "conflicting options: cannot specify both "
				 "--restart and --rm");
		return -EINVAL;
	}
	if (s->nano_cpus > 0 && !(features & RT_CG_CPU)) {
		eng__err(c->err, "NanoCPUs can not be set, as your kernel does "
				 "not support CPU CFS scheduler or the cgroup "
				 "is not mounted");
		return -EINVAL;
	}
	return 0;
}

/* --- create -----------------------------------------------------------------
 */

static void create_fini(struct create *c)
{
	if (c->seccomp_tmp[0])
		unlink(c->seccomp_tmp);
	img_image_free(c->img);
	json_decref(c->ep_json);
	json_decref(c->cmd_json);
	json_decref(c->env_json);
	json_decref(c->labels);
	shoal_free(c->argv);
	shoal_free(c->env);
	shoal_free(c->volumes);
	for (size_t i = 0; i < c->n_vol_text; i++)
		shoal_free(c->vol_text[i]);
	shoal_free(c->vol_text);
	eng__links_free(c->link_env);
	shoal_free(c->link_hosts);
}

/* The runtime's refusals are the user's to fix, except these. */
static int rt_code(int rc)
{
	return rc == SHOAL_ECONFLICT || rc == -ENOMEM || rc == SHOAL_ENOTFOUND
		       ? rc
		       : -EINVAL;
}

static int make(struct create *c, struct eng_created *out)
{
	struct shoal_err ie = {""};
	struct shoal_err re = {""};
	unsigned features = rt_cgroup_features(c->e->rt);
	json_t *r;
	int rc = check_spec(c, features);

	if (rc == 0)
		rc = pick_name(c);
	if (rc < 0)
		return rc;
	rc = eng__links(c->e, c->spec, c->name, &c->link_env, &c->link_hosts,
			c->err);
	if (rc < 0)
		return rc;
	rc = img_resolve(c->e->img, c->spec->image, &c->img, &ie);
	if (rc < 0) {
		eng__err(c->err, "%s", ie.msg[0] ? ie.msg : shoal_strerror(rc));
		return rc == SHOAL_ENOTFOUND || rc == -ENOMEM ? rc : -EINVAL;
	}
	rc = build_spec(c);
	if (rc == -ENOMEM)
		eng__err(c->err, "out of memory");
	if (rc < 0)
		return rc;
	rc = eng__dns_check(c->spec, c->err);
	if (rc == 0)
		rc = eng__net_prepare(
			c->e, c->spec, c->name,
			(const char *const *)c->img->config.exposed_ports,
			&c->net, c->err);
	if (rc < 0)
		return rc;
	c->rs.network = c->net.network[0] ? c->net.network : NULL;
	if (c->net.dns[0]) { /* the resolver at 127.0.0.11 */
		c->dns_local[0] = c->net.dns;
		c->rs.dns = c->dns_local;
	}
	rc = rt_container_create(c->e->rt, &c->rs, out->id, &re);
	if (rc < 0) {
		eng__net_abandon(c->e, &c->net);
		eng__err(c->err, "%s", re.msg[0] ? re.msg : shoal_strerror(rc));
		return rt_code(rc);
	}
	r = record(c);
	rc = r ? eng__record_save(c->e, out->id, r) : -ENOMEM;
	json_decref(r);
	if (rc == 0)
		rc = eng__net_created(c->e, out->id, c->spec, &c->net);
	if (rc == 0)
		rc = eng__links_hosts(c->e, out->id, c->link_hosts);
	if (rc == 0)
		rc = img_use(c->e->img, c->img->id, out->id);
	if (rc < 0) {
		rt_container_remove(c->e->rt, out->id, true, true);
		eng__net_abandon(c->e, &c->net);
		eng__net_removed(c->e, out->id);
		eng__err(c->err, "cannot record the container: %s",
			 shoal_strerror(rc));
		return rc == -EINVAL ? -EIO : rc;
	}
	eng__create_warnings(c->spec, features, rt_cgroup_layout(c->e->rt),
			     out);
	log_info("container=%s created from image=%s", out->id, c->img->id);
	return 0;
}

int eng_create(struct eng *e, const struct eng_spec *spec,
	       struct eng_created *out, struct shoal_err *err)
{
	struct create c = {.e = e, .spec = spec, .err = err};
	int rc;

	memset(out, 0, sizeof(*out));
	rc = make(&c, out);
	create_fini(&c);
	if (rc == 0)
		eng__emit(e, ENG_EVENT_CREATE, out->id, -1, false, false, 0);
	return rc;
}
