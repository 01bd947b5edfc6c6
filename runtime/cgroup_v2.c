/*
 * cgroup v2 back-end: one directory, <root>/<parent>/<id>, with memory,
 * cpu and pids enabled in the parents' cgroup.subtree_control.
 *
 *   memory.max (limit), memory.low (reservation, as runc maps it),
 *   memory.swap.max = limit (Docker's default of swap = 2 x memory total),
 *   cpu.weight (from shares: 1 + (shares - 2) * 9999 / 262142, runc's
 *   formula), cpu.max "quota 100000", pids.max, cgroup.freeze; OOM kills
 *   are read from memory.events. Device access is Docker's allow list as a
 *   BPF program (cgroup_v2_devices.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/path.h"
#include "runtime/internal.h"

char *rt__cgv2_dir(const struct rt__cgroups *cg, const struct rt__config *c)
{
	return rt__path("%s/%s/%s", cg->v2_root, c->cgroup_parent, c->id);
}

static int put(const char *dir, const char *file, const char *val)
{
	char path[1024];

	if (snprintf(path, sizeof(path), "%s/%s", dir, file) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	return rt__write_str(path, val);
}

static int64_t get_key(const char *dir, const char *file, const char *key)
{
	char path[1024], line[256];
	size_t klen = strlen(key);
	int64_t v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!key[0]) {
			v = strtoll(line, NULL, 10);
			break;
		}
		if (!strncmp(line, key, klen) && line[klen] == ' ') {
			v = strtoll(line + klen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

/* Enable our controllers from the root down to the parent. */
static int enable_controllers(const struct rt__cgroups *cg, const char *parent)
{
	char path[1024];
	const char *p = parent;

	snprintf(path, sizeof(path), "%s", cg->v2_root);
	for (;;) {
		static const char *const ctl[] = {"+memory", "+cpu", "+pids"};
		const char *slash;
		size_t n, len;
		for (size_t i = 0; i < 3; i++)
			put(path, "cgroup.subtree_control", ctl[i]);
		if (!*p)
			break;
		slash = strchr(p, '/');
		n = slash ? (size_t)(slash - p) : strlen(p);
		len = strlen(path);
		snprintf(path + len, sizeof(path) - len, "/%.*s", (int)n, p);
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
		p += n + (slash ? 1 : 0);
	}
	return 0;
}

int rt__cgv2_create(const struct rt__cgroups *cg, const struct rt__config *c,
		    bool limits, struct shoal_err *err)
{
	char *dir = rt__cgv2_dir(cg, c), val[64];
	int rc;

	if (!dir)
		return -ENOMEM;
	rc = enable_controllers(cg, c->cgroup_parent);
	if (rc == 0)
		rc = path_mkdir_p(dir, 0755);
	if (rc < 0) {
		rt__err(err, "cannot create cgroup %s: %s", dir, strerror(-rc));
		shoal_free(dir);
		return rc;
	}
	if (limits && c->memory > 0) {
		snprintf(val, sizeof(val), "%lld", (long long)c->memory);
		rc = put(dir, "memory.max", val);
		/* --memory-swap is memory + swap; v2 limits swap alone. */
		if (c->memory_swap > 0)
			snprintf(val, sizeof(val), "%lld",
				 (long long)(c->memory_swap - c->memory));
		else if (c->memory_swap < 0)
			snprintf(val, sizeof(val), "max");
		if (rc == 0)
			put(dir, "memory.swap.max", val); /* absent: no swap */
	}
	if (limits && rc == 0 && c->memory_reservation > 0) {
		snprintf(val, sizeof(val), "%lld",
			 (long long)c->memory_reservation);
		rc = put(dir, "memory.low", val);
	}
	if (limits && rc == 0 && c->cpu_shares > 0) {
		snprintf(val, sizeof(val), "%lld",
			 1 + (long long)(c->cpu_shares - 2) * 9999 / 262142);
		rc = put(dir, "cpu.weight", val);
	}
	if (limits && rc == 0 && c->nano_cpus > 0) {
		snprintf(val, sizeof(val), "%lld 100000",
			 (long long)(c->nano_cpus / 10000));
		rc = put(dir, "cpu.max", val);
	}
	if (limits && rc == 0 && c->pids_limit > 0) {
		snprintf(val, sizeof(val), "%lld", (long long)c->pids_limit);
		rc = put(dir, "pids.max", val);
	}
	if (limits && rc == 0 && !c->privileged)
		rc = rt__cgv2_devices(dir);
	if (rc < 0) {
		rt__err(err, "cannot set cgroup limits in %s: %s", dir,
			strerror(-rc));
		rmdir(dir);
	}
	shoal_free(dir);
	return rc;
}

int rt__cgv2_enter(const struct rt__cgroups *cg, const struct rt__config *c,
		   pid_t pid)
{
	char *dir = rt__cgv2_dir(cg, c), val[32];
	int rc;

	if (!dir)
		return -ENOMEM;
	snprintf(val, sizeof(val), "%d", (int)pid);
	rc = put(dir, "cgroup.procs", val);
	shoal_free(dir);
	return rc;
}

int rt__cgv2_destroy(const struct rt__cgroups *cg, const struct rt__config *c)
{
	char *dir = rt__cgv2_dir(cg, c);
	int rc = 0;

	if (!dir)
		return -ENOMEM;
	put(dir, "cgroup.freeze", "0");
	for (int tries = 0; rmdir(dir) < 0; tries++) {
		struct timespec ts = {0, 2 * 1000 * 1000};
		if (errno == ENOENT)
			break;
		if (errno != EBUSY || tries == 500) {
			rc = -errno;
			break;
		}
		put(dir, "cgroup.kill", "1");
		nanosleep(&ts, NULL);
	}
	shoal_free(dir);
	return rc;
}

int rt__cgv2_freeze(const struct rt__cgroups *cg, const struct rt__config *c,
		    bool frozen)
{
	char *dir = rt__cgv2_dir(cg, c);
	int rc;

	if (!dir)
		return -ENOMEM;
	rc = put(dir, "cgroup.freeze", frozen ? "1" : "0");
	shoal_free(dir);
	return rc;
}

bool rt__cgv2_frozen(const struct rt__cgroups *cg, const struct rt__config *c)
{
	char *dir = rt__cgv2_dir(cg, c);
	bool frozen;

	if (!dir)
		return false;
	frozen = get_key(dir, "cgroup.freeze", "") == 1;
	shoal_free(dir);
	return frozen;
}

bool rt__cgv2_oom(const struct rt__cgroups *cg, const struct rt__config *c)
{
	char *dir = rt__cgv2_dir(cg, c);
	bool oom;

	if (!dir)
		return false;
	oom = get_key(dir, "memory.events", "oom_kill") > 0;
	shoal_free(dir);
	return oom;
}

int rt__cgv2_stats(const struct rt__cgroups *cg, const struct rt__config *c,
		   struct rt_stats *st)
{
	char *dir = rt__cgv2_dir(cg, c);
	int64_t v, inactive;

	if (!dir)
		return -ENOMEM;
	v = get_key(dir, "memory.current", "");
	if (v < 0) {
		shoal_free(dir);
		return -ENOENT;
	}
	inactive = get_key(dir, "memory.stat", "inactive_file");
	st->mem_usage =
		(uint64_t)(inactive > 0 && inactive < v ? v - inactive : v);
	v = get_key(dir, "memory.max", "");
	st->mem_limit = v > 0 ? (uint64_t)v : 0; /* "max" parses as 0 */
	v = get_key(dir, "cpu.stat", "usage_usec");
	st->cpu_total_ns = v > 0 ? (uint64_t)v * 1000 : 0;
	v = get_key(dir, "pids.current", "");
	st->pids = v > 0 ? (uint64_t)v : 0;
	shoal_free(dir);
	return 0;
}
