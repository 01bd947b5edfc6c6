/*
 * rt_container_update(): docker update's resources, live. The new limits
 * go into the container's config.json (so that every later start applies
 * them, as create's did) and, when its cgroups exist (it runs or is
 * paused), into their files at once, cgroup v2 or v1 as the host has,
 * with the same translations as cgroup_v2.c and cgroup_v1.c use at
 * create: memory.max (and memory.swap.max at the same, Docker's
 * default of swap as large as memory) or
 * memory.limit_in_bytes (and memsw at twice it, where it exists),
 * memory.low or memory.soft_limit_in_bytes, cpu.weight or cpu.shares,
 * cpu.max or cpu.cfs_quota_us over a 100 ms period, pids.max.
 *
 * Order matters on v1: memory.memsw.limit_in_bytes must stay at or above
 * memory.limit_in_bytes, so a raise writes memsw first and a cut writes
 * it last. A write the kernel refuses (a memory limit below what the
 * container uses: EBUSY) fails the update with the file named; the
 * config is then left as it was, so the files and the config agree on
 * everything written before it and a retry is safe.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "runtime/internal.h"

/* Write @v into @file of @dir; a negative one is no limit ("max", or -1
 * in v1's memory and CFS files); with @period, cpu.max's "QUOTA PERIOD"
 * form. */
static int put(const char *dir, const char *file, long long v, bool period,
	       struct shoal_err *err)
{
	char path[1024], val[64];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (v < 0 && strstr(file, "_in_bytes"))
		snprintf(val, sizeof(val), "-1"); /* v1's memory files */
	else if (v < 0 && !strcmp(file, "cpu.cfs_quota_us"))
		snprintf(val, sizeof(val), "-1");
	else if (v < 0)
		snprintf(val, sizeof(val), "max%s", period ? " 100000" : "");
	else
		snprintf(val, sizeof(val), "%lld%s", v,
			 period ? " 100000" : "");
	int rc = access(path, F_OK) < 0 ? -errno : rt__write_str(path, val);
	if (rc == -ENOENT && (!strcmp(file, "memory.swap.max") ||
			      !strcmp(file, "memory.memsw.limit_in_bytes")))
		return 0; /* no swap accounting here */
	if (rc < 0)
		rt__err(err, "cannot write %s to %s: %s", val, path,
			strerror(-rc));
	return rc;
}

static int update_v2(const struct rt__cgroups *cg, const struct rt__config *c,
		     const struct rt_update *u, struct shoal_err *err)
{
	char *dir = rt__cgv2_dir(cg, c);
	int rc = dir ? 0 : -ENOMEM;
	if (rc == 0 && u->memory_set) {
		long long m = c->memory > 0 ? c->memory : -1;
		rc = put(dir, "memory.max", m, false, err);
		if (rc == 0)
			rc = put(dir, "memory.swap.max", m, false, err);
	}
	if (rc == 0 && u->memory_reservation_set)
		rc = put(dir, "memory.low", c->memory_reservation, false, err);
	if (rc == 0 && u->cpu_shares_set && c->cpu_shares > 0)
		rc = put(dir, "cpu.weight",
			 1 + (long long)(c->cpu_shares - 2) * 9999 / 262142,
			 false, err);
	if (rc == 0 && u->nano_cpus_set)
		rc = put(dir, "cpu.max",
			 c->nano_cpus > 0 ? c->nano_cpus / 10000 : -1, true,
			 err);
	if (rc == 0 && u->pids_limit_set)
		rc = put(dir, "pids.max",
			 c->pids_limit > 0 ? c->pids_limit : -1, false, err);
	shoal_free(dir);
	return rc;
}

static int update_v1(const struct rt__cgroups *cg, const struct rt__config *c,
		     int64_t old_memory, const struct rt_update *u,
		     struct shoal_err *err)
{
	char *dir = rt__cgv1_dir(cg, "memory", c);
	int rc = dir ? 0 : -ENOMEM;
	long long m = c->memory > 0 ? c->memory : -1;
	long long sw = m > 0 ? m * 2 : -1;
	/* From no limit to one is a cut: memory first, then memsw. */
	bool raise = m < 0 || (old_memory > 0 && m > old_memory);
	if (rc == 0 && u->memory_set && raise)
		rc = put(dir, "memory.memsw.limit_in_bytes", sw, false, err);
	if (rc == 0 && u->memory_set)
		rc = put(dir, "memory.limit_in_bytes", m, false, err);
	if (rc == 0 && u->memory_set && !raise)
		rc = put(dir, "memory.memsw.limit_in_bytes", sw, false, err);
	if (rc == 0 && u->memory_reservation_set)
		rc = put(dir, "memory.soft_limit_in_bytes",
			 c->memory_reservation > 0 ? c->memory_reservation : -1,
			 false, err);
	shoal_free(dir);
	if (rc == 0 && (cg->v1_mask & RT__CG_CPU) &&
	    (u->cpu_shares_set || u->nano_cpus_set)) {
		dir = rt__cgv1_dir(cg, "cpu", c);
		rc = dir ? 0 : -ENOMEM;
		if (rc == 0 && u->cpu_shares_set && c->cpu_shares > 0)
			rc = put(dir, "cpu.shares", c->cpu_shares, false, err);
		if (rc == 0 && u->nano_cpus_set)
			rc = put(dir, "cpu.cfs_period_us", 100000, false, err);
		if (rc == 0 && u->nano_cpus_set)
			rc = put(dir, "cpu.cfs_quota_us",
				 c->nano_cpus > 0 ? c->nano_cpus / 10000 : -1,
				 false, err);
		shoal_free(dir);
	}
	if (rc == 0 && u->pids_limit_set && (cg->v1_mask & RT__CG_PIDS)) {
		dir = rt__cgv1_dir(cg, "pids", c);
		rc = dir ? put(dir, "pids.max",
			       c->pids_limit > 0 ? c->pids_limit : -1, false,
			       err)
			 : -ENOMEM;
		shoal_free(dir);
	}
	return rc;
}

static void apply(struct rt__config *c, const struct rt_update *u)
{
	if (u->memory_set)
		c->memory = u->memory;
	if (u->memory_reservation_set)
		c->memory_reservation = u->memory_reservation;
	if (u->cpu_shares_set)
		c->cpu_shares = u->cpu_shares;
	if (u->nano_cpus_set)
		c->nano_cpus = u->nano_cpus;
	if (u->pids_limit_set)
		c->pids_limit = u->pids_limit;
}

int rt_container_update(struct rt *rt, const char *id,
			const struct rt_update *u, struct shoal_err *err)
{
	struct rt__ctr *k = hmap_get_str(&rt->by_id, id);
	struct rt__config old;
	char *json, *path;
	int rc = 0;

	if (!k)
		return -ENOENT;
	if (u->memory_set && u->memory > 0 && u->memory < 6 * 1024 * 1024) {
		rt__err(err, "Minimum memory limit allowed is 6MB");
		return -EINVAL;
	}
	if (u->nano_cpus_set && u->nano_cpus > 0 && u->nano_cpus < 10000000) {
		rt__err(err, "Range of CPUs is from 0.01 to the number of "
			     "CPUs available");
		return -EINVAL;
	}
	memcpy(&old, k->c, sizeof(old));
	apply(k->c, u);
	if (k->c->memory > 0 && k->c->memory_reservation > k->c->memory) {
		rt__err(err, "Minimum memory limit can not be less than memory "
			     "reservation limit, see usage");
		rc = -EINVAL;
		goto err_restore;
	}
	if (rt__cgroup_exists(&rt->cg, k->c)) {
		rc = rt->cg.layout == RT_CGROUP_V2
			     ? update_v2(&rt->cg, k->c, u, err)
			     : update_v1(&rt->cg, k->c, old.memory, u, err);
		if (rc < 0)
			goto err_restore;
	}
	json = rt__config_to_json(k->c);
	path = rt__path("%s/%s", k->c->dir, RT_CONFIG_FILE);
	rc = json && path ? rt__write_atomic(path, json, strlen(json))
			  : -ENOMEM;
	shoal_free(json);
	shoal_free(path);
	if (rc < 0) {
		rt__err(err, "cannot record the new limits of %s: %s", id,
			strerror(-rc));
		goto err_restore;
	}
	return 0;
err_restore:
	k->c->memory = old.memory;
	k->c->memory_reservation = old.memory_reservation;
	k->c->cpu_shares = old.cpu_shares;
	k->c->nano_cpus = old.nano_cpus;
	k->c->pids_limit = old.pids_limit;
	return rc;
}
