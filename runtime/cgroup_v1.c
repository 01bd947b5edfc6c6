/*
 * cgroup v1 back-end (also used on hybrid hosts): one directory per
 * controller, <root>/<controller>/<parent>/<id>.
 *
 *   memory   memory.limit_in_bytes, memory.soft_limit_in_bytes
 *            (reservation), memory.memsw.limit_in_bytes = 2 x limit when
 *            swap accounting exists (Docker's default --memory-swap);
 *            oom_kill in memory.oom_control tells an OOM exit.
 *   cpu      cpu.shares; cpu.cfs_quota_us over a 100 ms period (--cpus).
 *   cpuacct  cpuacct.usage for stats.
 *   pids     pids.max.
 *   freezer  freezer.state FROZEN / THAWED (pause).
 *   devices  Docker's allow list: mknod of any node, read/write only of
 *            null, zero, full, random, urandom, tty, console, ptmx, pts
 *            and tun (privileged: everything).
 *
 * The memory controller is mandatory; the others are used when mounted.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/path.h"
#include "runtime/internal.h"

static const struct {
	const char *name;
	unsigned bit;
} joined[] = {
	{"memory", RT__CG_MEMORY},   {"cpu", RT__CG_CPU},
	{"cpuacct", RT__CG_CPUACCT}, {"pids", RT__CG_PIDS},
	{"freezer", RT__CG_FREEZER}, {"devices", RT__CG_DEVICES},
};
#define N_JOINED (sizeof(joined) / sizeof(joined[0]))

char *rt__cgv1_dir(const struct rt__cgroups *cg, const char *ctl,
		   const struct rt__config *c)
{
	return rt__path("%s/%s/%s/%s", cg->v1_root, ctl, c->cgroup_parent,
			c->id);
}

static int write_in(const char *dir, const char *file, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int write_in(const char *dir, const char *file, const char *fmt, ...)
{
	char path[1024], val[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	return rt__write_str(path, val);
}

static int64_t read_in(const char *dir, const char *file)
{
	char path[1024], buf[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtoll(buf, NULL, 10);
}

/* "key value" lines (memory.stat, memory.oom_control). */
static int64_t read_key(const char *dir, const char *file, const char *key)
{
	char path[1024], line[256];
	size_t klen = strlen(key);
	int64_t v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ' ') {
			v = strtoll(line + klen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static int set_devices(const char *dir, const struct rt__config *c)
{
	static const char *const allow[] = {
		"c *:* m",   "b *:* m",	  "c 1:3 rwm",	 "c 1:5 rwm",
		"c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",	 "c 5:0 rwm",
		"c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm", "c 10:200 rwm",
	};
	int rc;

	char rule[64];

	if (c->privileged)
		return write_in(dir, "devices.allow", "a");
	rc = write_in(dir, "devices.deny", "a");
	for (size_t i = 0; rc == 0 && i < sizeof(allow) / sizeof(allow[0]); i++)
		rc = write_in(dir, "devices.allow", "%s", allow[i]);
	/* --device: exactly its node; --device-cgroup-rule: as given. */
	for (size_t i = 0; rc == 0 && i < c->n_devices; i++) {
		rc = rt__devices_rule(&c->devices[i], rule, sizeof(rule));
		if (rc == 0)
			rc = write_in(dir, "devices.allow", "%s", rule);
	}
	for (size_t i = 0; rc == 0 && i < c->n_dev_rules; i++)
		rc = write_in(dir, "devices.allow", "%s", c->dev_rules[i]);
	return rc;
}

/* cpuset: a folder only for a container with --cpuset-*; a new v1
 * cpuset folder starts with empty cpus and mems (no task can enter), so
 * the parent is filled from the root first, as Docker does. */
static int cpuset_fill(const char *dir, const char *from, const char *file,
		       const char *want)
{
	char path[1024], *text = NULL;
	int rc;

	if (want)
		return write_in(dir, file, "%s", want);
	snprintf(path, sizeof(path), "%s/%s", from, file);
	rc = rt__read_file(path, 4096, &text, NULL);
	if (rc == 0) {
		text[strcspn(text, "\n")] = '\0';
		rc = *text ? write_in(dir, file, "%s", text) : -EINVAL;
	}
	shoal_free(text);
	return rc;
}

static bool cpuset_used(const struct rt__cgroups *cg,
			const struct rt__config *c)
{
	return (cg->v1_mask & RT__CG_CPUSET) &&
	       (c->cpuset_cpus || c->cpuset_mems);
}

static int cpuset_create(const struct rt__cgroups *cg,
			 const struct rt__config *c, struct shoal_err *err)
{
	char root[600], parent[1200], *dir = rt__cgv1_dir(cg, "cpuset", c);
	int rc;

	if (!dir)
		return -ENOMEM;
	snprintf(root, sizeof(root), "%s/cpuset", cg->v1_root);
	snprintf(parent, sizeof(parent), "%s/%s", root, c->cgroup_parent);
	rc = path_mkdir_p(dir, 0755);
	for (int i = 0; rc == 0 && i < 2; i++) {
		const char *f = i ? "cpuset.mems" : "cpuset.cpus";
		char path[1300], *cur = NULL;
		snprintf(path, sizeof(path), "%s/%s", parent, f);
		if (rt__read_file(path, 4096, &cur, NULL) == 0 &&
		    strspn(cur, " \n") == strlen(cur))
			rc = cpuset_fill(parent, root, f, NULL);
		shoal_free(cur);
		if (rc == 0)
			rc = cpuset_fill(dir, parent, f,
					 i ? c->cpuset_mems : c->cpuset_cpus);
		if (rc < 0)
			rt__err(err,
				"cannot set %s to \"%s\": %s (the host "
				"offers: see %s/%s)",
				f, (i ? c->cpuset_mems : c->cpuset_cpus) ?: "",
				strerror(-rc), root, f);
	}
	shoal_free(dir);
	return rc;
}

static bool has_memsw(const struct rt__cgroups *cg);

/* Swap, swappiness, the OOM killer (memory controller files). */
static int set_memory_flags(const struct rt__cgroups *cg, const char *dir,
			    const struct rt__config *c, struct shoal_err *err)
{
	int rc = 0;

	if (c->memory > 0 && c->memory_swap != 0 && has_memsw(cg))
		rc = write_in(dir, "memory.memsw.limit_in_bytes", "%lld",
			      (long long)c->memory_swap);
	if (rc < 0) {
		rt__err(err, "cannot set memory.memsw.limit_in_bytes: %s",
			strerror(-rc));
		return rc;
	}
	if (c->memory_swappiness >= 0 &&
	    (rc = write_in(dir, "memory.swappiness", "%lld",
			   (long long)c->memory_swappiness)) < 0) {
		rt__err(err, "cannot set memory.swappiness: %s", strerror(-rc));
		return rc;
	}
	if (c->oom_kill_disable &&
	    (rc = write_in(dir, "memory.oom_control", "1")) < 0)
		rt__err(err, "cannot disable the OOM killer: %s",
			strerror(-rc));
	return rc;
}

static bool has_memsw(const struct rt__cgroups *cg)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/memory/memory.memsw.limit_in_bytes",
		 cg->v1_root);
	return access(path, F_OK) == 0;
}

static int set_limits(const struct rt__cgroups *cg, const struct rt__config *c,
		      struct shoal_err *err)
{
	char *dir;
	int rc = 0;

	dir = rt__cgv1_dir(cg, "memory", c);
	if (!dir)
		return -ENOMEM;
	if (c->memory > 0) {
		rc = write_in(dir, "memory.limit_in_bytes", "%lld",
			      (long long)c->memory);
		if (rc == 0 && has_memsw(cg) && c->memory_swap == 0)
			rc = write_in(dir, "memory.memsw.limit_in_bytes",
				      "%lld", (long long)c->memory * 2);
	}
	if (rc == 0 && c->memory_reservation > 0)
		rc = write_in(dir, "memory.soft_limit_in_bytes", "%lld",
			      (long long)c->memory_reservation);
	if (rc < 0) {
		shoal_free(dir);
		rt__err(err, "cannot set memory limit: %s", strerror(-rc));
		return rc;
	}
	rc = set_memory_flags(cg, dir, c, err);
	shoal_free(dir);
	if (rc < 0)
		return rc;
	if ((cg->v1_mask & RT__CG_CPU) && (c->cpu_shares || c->nano_cpus)) {
		dir = rt__cgv1_dir(cg, "cpu", c);
		if (!dir)
			return -ENOMEM;
		if (c->cpu_shares)
			rc = write_in(dir, "cpu.shares", "%lld",
				      (long long)c->cpu_shares);
		if (rc == 0 && c->nano_cpus) {
			rc = write_in(dir, "cpu.cfs_period_us", "100000");
			if (rc == 0)
				rc = write_in(
					dir, "cpu.cfs_quota_us", "%lld",
					(long long)(c->nano_cpus / 10000));
		}
		shoal_free(dir);
		if (rc < 0) {
			rt__err(err, "cannot set cpu limits: %s",
				strerror(-rc));
			return rc;
		}
	}
	if (c->pids_limit > 0) {
		dir = rt__cgv1_dir(cg, "pids", c);
		if (!dir)
			return -ENOMEM;
		rc = write_in(dir, "pids.max", "%lld",
			      (long long)c->pids_limit);
		shoal_free(dir);
		if (rc < 0) {
			rt__err(err, "cannot set pids limit: %s",
				strerror(-rc));
			return rc;
		}
	}
	if (cg->v1_mask & RT__CG_DEVICES) {
		dir = rt__cgv1_dir(cg, "devices", c);
		if (!dir)
			return -ENOMEM;
		rc = set_devices(dir, c);
		shoal_free(dir);
		if (rc < 0)
			rt__err(err, "cannot set device rules: %s",
				strerror(-rc));
	}
	return rc;
}

int rt__cgv1_create(const struct rt__cgroups *cg, const struct rt__config *c,
		    struct shoal_err *err)
{
	int rc = 0;

	for (size_t i = 0; i < N_JOINED && rc == 0; i++) {
		char *dir;
		if (!(cg->v1_mask & joined[i].bit))
			continue;
		dir = rt__cgv1_dir(cg, joined[i].name, c);
		if (!dir)
			rc = -ENOMEM;
		else
			rc = path_mkdir_p(dir, 0755);
		shoal_free(dir);
		if (rc < 0)
			rt__err(err, "cannot create %s cgroup: %s",
				joined[i].name, strerror(-rc));
	}
	if (rc == 0 && cpuset_used(cg, c))
		rc = cpuset_create(cg, c, err);
	if (rc == 0)
		rc = set_limits(cg, c, err);
	if (rc < 0)
		rt__cgv1_destroy(cg, c);
	return rc;
}

int rt__cgv1_enter(const struct rt__cgroups *cg, const struct rt__config *c,
		   pid_t pid)
{
	for (size_t i = 0; i < N_JOINED; i++) {
		char *dir;
		int rc;
		if (!(cg->v1_mask & joined[i].bit))
			continue;
		dir = rt__cgv1_dir(cg, joined[i].name, c);
		if (!dir)
			return -ENOMEM;
		rc = write_in(dir, "cgroup.procs", "%d", (int)pid);
		shoal_free(dir);
		if (rc < 0)
			return rc;
	}
	if (cpuset_used(cg, c)) {
		char *dir = rt__cgv1_dir(cg, "cpuset", c);
		int rc = dir ? write_in(dir, "cgroup.procs", "%d", (int)pid)
			     : -ENOMEM;
		shoal_free(dir);
		return rc;
	}
	return 0;
}

static int rmdir_retry(const char *dir)
{
	for (int tries = 0; rmdir(dir) < 0; tries++) {
		struct timespec ts = {0, 2 * 1000 * 1000};
		if (errno == ENOENT)
			return 0;
		if (errno != EBUSY || tries == 500)
			return -errno;
		nanosleep(&ts, NULL);
	}
	return 0;
}

/* rmdir, retrying briefly: a killed task may linger a moment. */
int rt__cgv1_destroy(const struct rt__cgroups *cg, const struct rt__config *c)
{
	int ret = 0;

	for (size_t i = 0; i < N_JOINED; i++) {
		char *dir;
		if (!(cg->v1_mask & joined[i].bit))
			continue;
		dir = rt__cgv1_dir(cg, joined[i].name, c);
		if (!dir)
			return -ENOMEM;
		if (!strcmp(joined[i].name, "freezer"))
			write_in(dir, "freezer.state", "THAWED");
		for (int tries = 0; rmdir(dir) < 0; tries++) {
			struct timespec ts = {0, 2 * 1000 * 1000};
			if (errno == ENOENT)
				break;
			if (errno != EBUSY || tries == 500) {
				ret = -errno;
				break;
			}
			nanosleep(&ts, NULL);
		}
		shoal_free(dir);
	}
	/* Any container may have had --cpuset-* (a later struct rt may
	 * read an older config): try the folder whenever cpuset exists. */
	if (cg->v1_mask & RT__CG_CPUSET) {
		char *dir = rt__cgv1_dir(cg, "cpuset", c);
		int rc = dir ? rmdir_retry(dir) : -ENOMEM;
		shoal_free(dir);
		if (rc < 0 && ret == 0)
			ret = rc;
	}
	return ret;
}

int rt__cgv1_freeze(const struct rt__cgroups *cg, const struct rt__config *c,
		    bool frozen)
{
	char *dir;
	int rc;

	if (!(cg->v1_mask & RT__CG_FREEZER))
		return -ENOTSUP;
	dir = rt__cgv1_dir(cg, "freezer", c);
	if (!dir)
		return -ENOMEM;
	rc = write_in(dir, "freezer.state", frozen ? "FROZEN" : "THAWED");
	shoal_free(dir);
	return rc;
}

bool rt__cgv1_frozen(const struct rt__cgroups *cg, const struct rt__config *c)
{
	char *dir, *path, *text = NULL;
	bool frozen = false;

	if (!(cg->v1_mask & RT__CG_FREEZER))
		return false;
	dir = rt__cgv1_dir(cg, "freezer", c);
	path = dir ? rt__path("%s/freezer.state", dir) : NULL;
	if (path && rt__read_file(path, 64, &text, NULL) == 0)
		frozen = !strncmp(text, "FROZEN", 6) ||
			 !strncmp(text, "FREEZING", 8);
	shoal_free(text);
	shoal_free(path);
	shoal_free(dir);
	return frozen;
}

bool rt__cgv1_oom(const struct rt__cgroups *cg, const struct rt__config *c)
{
	char *dir = rt__cgv1_dir(cg, "memory", c);
	bool oom;

	if (!dir)
		return false;
	oom = read_key(dir, "memory.oom_control", "oom_kill") > 0;
	shoal_free(dir);
	return oom;
}

int rt__cgv1_stats(const struct rt__cgroups *cg, const struct rt__config *c,
		   struct rt_stats *st)
{
	char *dir;
	int64_t v, inactive;

	dir = rt__cgv1_dir(cg, "memory", c);
	if (!dir)
		return -ENOMEM;
	v = read_in(dir, "memory.usage_in_bytes");
	if (v < 0) {
		shoal_free(dir);
		return -ENOENT;
	}
	inactive = read_key(dir, "memory.stat", "total_inactive_file");
	st->mem_usage =
		(uint64_t)(inactive > 0 && inactive < v ? v - inactive : v);
	v = read_in(dir, "memory.limit_in_bytes");
	st->mem_limit = v > 0 ? (uint64_t)v : 0;
	shoal_free(dir);
	if (cg->v1_mask & RT__CG_CPUACCT) {
		dir = rt__cgv1_dir(cg, "cpuacct", c);
		if (!dir)
			return -ENOMEM;
		v = read_in(dir, "cpuacct.usage");
		st->cpu_total_ns = v > 0 ? (uint64_t)v : 0;
		shoal_free(dir);
	}
	dir = rt__cgv1_dir(cg, "pids", c);
	if (!dir)
		return -ENOMEM;
	v = read_in(dir, "pids.current");
	st->pids = v > 0 ? (uint64_t)v : 0;
	shoal_free(dir);
	return 0;
}
