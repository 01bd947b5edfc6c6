/*
 * cgroups: layout detection and dispatch to the v1 (cgroup_v1.c) and v2
 * (cgroup_v2.c) back-ends.
 *
 * The layout is detected at run time from what is mounted:
 *   v2      /sys/fs/cgroup is cgroup2;
 *   v1      /sys/fs/cgroup holds one cgroup (v1) mount per controller;
 *   hybrid  v1 controllers plus a cgroup2 mount at /sys/fs/cgroup/unified
 *           (systemd's "hybrid" mode; crun refuses it). The v2 tree there
 *           has no controllers, so we control everything through v1 and
 *           leave the unified tree alone.
 *
 * Placement (decision, see docs/runtime.md): a container's cgroup is
 * <controller root>/<parent>/<id> with <parent> configurable ("shoal" by
 * default), as Docker's cgroupfs driver does; it is NOT nested below the
 * daemon's own cgroup, because the daemon may sit in a leaf (a memory
 * cgroup owned by a supervisor, here /process_api/...) whose limits and
 * lifetime are not the container's. rt_container_start() creates it while
 * the monitor starts; the monitor moves the container's init into it before
 * the init unshares its cgroup namespace;
 * the monitor removes it when the container exits and rt_container_remove()
 * removes whatever is left.
 */
#include <errno.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "common/alloc.h"
#include "runtime/internal.h"

static bool is_fs(const char *path, long magic)
{
	struct statfs sf;

	return statfs(path, &sf) == 0 && (long)sf.f_type == magic;
}

int rt__cgroup_detect(struct rt__cgroups *cg)
{
	static const struct {
		const char *name;
		unsigned bit;
	} ctls[] = {
		{"memory", RT__CG_MEMORY},   {"cpu", RT__CG_CPU},
		{"cpuacct", RT__CG_CPUACCT}, {"pids", RT__CG_PIDS},
		{"freezer", RT__CG_FREEZER}, {"devices", RT__CG_DEVICES},
		{"cpuset", RT__CG_CPUSET},   {"blkio", RT__CG_BLKIO},
	};
	const char *root = "/sys/fs/cgroup";
	char path[512];

	memset(cg, 0, sizeof(*cg));
	if (is_fs(root, CGROUP2_SUPER_MAGIC)) {
		cg->layout = RT_CGROUP_V2;
		snprintf(cg->v2_root, sizeof(cg->v2_root), "%s", root);
		return 0;
	}
	snprintf(cg->v1_root, sizeof(cg->v1_root), "%s", root);
	for (size_t i = 0; i < sizeof(ctls) / sizeof(ctls[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", root, ctls[i].name);
		if (is_fs(path, CGROUP_SUPER_MAGIC))
			cg->v1_mask |= ctls[i].bit;
	}
	if (!(cg->v1_mask & RT__CG_MEMORY) || !(cg->v1_mask & RT__CG_PIDS))
		return -ENOTSUP;
	snprintf(path, sizeof(path), "%s/unified", root);
	if (is_fs(path, CGROUP2_SUPER_MAGIC)) {
		cg->layout = RT_CGROUP_HYBRID;
		snprintf(cg->v2_root, sizeof(cg->v2_root), "%s", path);
	} else {
		cg->layout = RT_CGROUP_V1;
	}
	return 0;
}

static bool v2(const struct rt__cgroups *cg)
{
	return cg->layout == RT_CGROUP_V2;
}

int rt__cgroup_create(const struct rt__cgroups *cg, const struct rt__config *c,
		      pid_t pid, struct shoal_err *err)
{
	int rc = v2(cg) ? rt__cgv2_create(cg, c, true, err)
			: rt__cgv1_create(cg, c, err);

	if (rc == 0 && pid > 0) {
		rc = rt__cgroup_enter(cg, c, pid);
		if (rc < 0) {
			rt__err(err, "cannot move pid %d into its cgroup: %s",
				(int)pid, strerror(-rc));
			rt__cgroup_destroy(cg, c);
		}
	}
	return rc;
}

int rt__cgroup_enter(const struct rt__cgroups *cg, const struct rt__config *c,
		     pid_t pid)
{
	return v2(cg) ? rt__cgv2_enter(cg, c, pid) : rt__cgv1_enter(cg, c, pid);
}

int rt__cgroup_destroy(const struct rt__cgroups *cg, const struct rt__config *c)
{
	return v2(cg) ? rt__cgv2_destroy(cg, c) : rt__cgv1_destroy(cg, c);
}

int rt__cgroup_freeze(const struct rt__cgroups *cg, const struct rt__config *c,
		      bool frozen)
{
	return v2(cg) ? rt__cgv2_freeze(cg, c, frozen)
		      : rt__cgv1_freeze(cg, c, frozen);
}

bool rt__cgroup_frozen(const struct rt__cgroups *cg, const struct rt__config *c)
{
	return v2(cg) ? rt__cgv2_frozen(cg, c) : rt__cgv1_frozen(cg, c);
}

bool rt__cgroup_oom_killed(const struct rt__cgroups *cg,
			   const struct rt__config *c)
{
	return v2(cg) ? rt__cgv2_oom(cg, c) : rt__cgv1_oom(cg, c);
}

int rt__cgroup_stats(const struct rt__cgroups *cg, const struct rt__config *c,
		     struct rt_stats *st)
{
	return v2(cg) ? rt__cgv2_stats(cg, c, st) : rt__cgv1_stats(cg, c, st);
}

int rt__cgroup_pids(const struct rt__cgroups *cg, const struct rt__config *c,
		    pid_t **pids, size_t *n)
{
	char *dir = v2(cg) ? rt__cgv2_dir(cg, c) : rt__cgv1_dir(cg, "pids", c);
	char *path, *text;
	size_t cap = 0;
	int rc;

	*pids = NULL;
	*n = 0;
	if (!dir)
		return -ENOMEM;
	path = rt__path("%s/cgroup.procs", dir);
	shoal_free(dir);
	if (!path)
		return -ENOMEM;
	rc = rt__read_file(path, 1 << 20, &text, NULL);
	shoal_free(path);
	if (rc < 0)
		return rc;
	for (char *p = text; *p;) {
		char *end;
		long v = strtol(p, &end, 10);
		if (end == p)
			break;
		if (*n == cap) {
			pid_t *np;
			cap = cap ? cap * 2 : 16;
			np = shoal_realloc(*pids, cap * sizeof(pid_t));
			if (!np) {
				shoal_free(*pids);
				shoal_free(text);
				*pids = NULL;
				return -ENOMEM;
			}
			*pids = np;
		}
		(*pids)[(*n)++] = (pid_t)v;
		p = end;
		while (*p == '\n')
			p++;
	}
	shoal_free(text);
	return 0;
}

bool rt__cgroup_exists(const struct rt__cgroups *cg, const struct rt__config *c)
{
	static const char *const ctls[] = {"memory", "cpu",	"cpuacct",
					   "pids",   "freezer", "devices"};
	struct stat st;
	bool found = false;
	char *dir;

	if (v2(cg)) {
		dir = rt__cgv2_dir(cg, c);
		found = dir && stat(dir, &st) == 0;
		shoal_free(dir);
		return found;
	}
	for (size_t i = 0; i < sizeof(ctls) / sizeof(ctls[0]) && !found; i++) {
		dir = rt__cgv1_dir(cg, ctls[i], c);
		found = dir && stat(dir, &st) == 0;
		shoal_free(dir);
	}
	return found;
}

/* What the controllers can limit does not change while we run: read once,
 * at rt_open(), through rt_cgroup_probe() on this runtime's root. */
unsigned rt__cgroup_features_read(const struct rt__cgroups *cg)
{
	struct rt_cgroup_caps caps;
	unsigned f = 0;

	if (rt_cgroup_probe(cg->v1_root[0] ? cg->v1_root : cg->v2_root, &caps) <
	    0)
		return 0;
	f |= caps.cpu_shares && caps.cpu_cfs_quota ? RT_CG_CPU : 0;
	f |= caps.pids_limit ? RT_CG_PIDS : 0;
	f |= caps.swap_limit ? RT_CG_SWAP : 0;
	return f;
}

unsigned rt_cgroup_features(const struct rt *rt)
{
	return rt->cg_features;
}
