/*
 * stats and top. Counters come from the container's cgroup (cgroup.c), the
 * host's CPU time from /proc/stat and the network bytes from
 * /proc/<init>/net/dev, which shows the init's network namespace; lo is
 * left out, as docker stats lists only the container's networks. The CPU
 * percentage is Docker's: container CPU delta over host CPU delta, times
 * the online CPUs, times 100.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/error.h"
#include "runtime/internal.h"

static uint64_t host_cpu_ns(void)
{
	unsigned long long v[8] = {0};
	uint64_t sum = 0;
	long hz = sysconf(_SC_CLK_TCK);
	FILE *f = fopen("/proc/stat", "re");

	if (!f)
		return 0;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
		   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) != 8)
		memset(v, 0, sizeof(v));
	fclose(f);
	for (int i = 0; i < 8; i++)
		sum += v[i];
	return hz > 0 ? sum * (uint64_t)(NSEC_PER_SEC / hz) : 0;
}

static uint64_t host_mem(void)
{
	unsigned long long kb = 0;
	char line[256];
	FILE *f = fopen("/proc/meminfo", "re");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %llu kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return (uint64_t)kb * 1024;
}

static void net_bytes(pid_t pid, uint64_t *rx, uint64_t *tx)
{
	char path[64], line[512], name[64];
	unsigned long long r, t, skip;
	FILE *f;

	*rx = *tx = 0;
	snprintf(path, sizeof(path), "/proc/%d/net/dev", (int)pid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = ' ';
		if (sscanf(line,
			   " %63s %llu %llu %llu %llu %llu %llu %llu "
			   "%llu %llu",
			   name, &r, &skip, &skip, &skip, &skip, &skip, &skip,
			   &skip, &t) != 10 ||
		    !strcmp(name, "lo"))
			continue;
		*rx += r;
		*tx += t;
	}
	if (f)
		fclose(f);
}

int rt_container_stats(struct rt *rt, const char *ref, struct rt_stats *out)
{
	const struct rt__config *c;
	struct rt__state st;
	int rc;

	memset(out, 0, sizeof(*out));
	c = rt__config_of(rt, ref, &st);
	if (!c)
		return SHOAL_ENOTFOUND;
	if (st.status != RT_STATUS_RUNNING)
		return -ESRCH;
	out->read_ns = time_real_ns();
	rc = rt__cgroup_stats(&rt->cg, c, out);
	if (rc < 0)
		return rc;
	out->system_cpu_ns = host_cpu_ns();
	out->online_cpus = (uint32_t)sysconf(_SC_NPROCESSORS_ONLN);
	if (out->mem_limit == 0 || out->mem_limit > host_mem())
		out->mem_limit = host_mem();
	net_bytes(st.pid, &out->net_rx_bytes, &out->net_tx_bytes);
	return 0;
}

double rt_stats_cpu_percent(const struct rt_stats *prev,
			    const struct rt_stats *cur)
{
	double cpu = (double)cur->cpu_total_ns - (double)prev->cpu_total_ns;
	double sys = (double)cur->system_cpu_ns - (double)prev->system_cpu_ns;

	if (cpu <= 0 || sys <= 0)
		return 0.0;
	return cpu / sys * cur->online_cpus * 100.0;
}

static void top_row(pid_t pid, struct rt_top_row *r)
{
	char path[64], buf[256], *p;
	FILE *f;
	size_t n;

	memset(r, 0, sizeof(*r));
	r->pid = pid;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	while (f && fgets(buf, sizeof(buf), f)) {
		unsigned u;
		int pp;
		if (sscanf(buf, "PPid: %d", &pp) == 1)
			r->ppid = pp;
		else if (sscanf(buf, "Uid: %u", &u) == 1)
			r->uid = u;
	}
	if (f)
		fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	f = fopen(path, "re");
	n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	for (size_t i = 0; i + 1 < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	buf[n] = '\0';
	p = buf;
	snprintf(r->cmd, sizeof(r->cmd), "%s", p);
}

int rt_container_top(struct rt *rt, const char *ref, struct rt_top_row **rows,
		     size_t *count)
{
	const struct rt__config *c;
	struct rt__state st;
	pid_t *pids;
	size_t n;
	int rc;

	*rows = NULL;
	*count = 0;
	c = rt__config_of(rt, ref, &st);
	if (!c)
		return SHOAL_ENOTFOUND;
	if (st.status != RT_STATUS_RUNNING)
		return -ESRCH;
	rc = rt__cgroup_pids(&rt->cg, c, &pids, &n);
	if (rc < 0)
		return rc;
	*rows = shoal_calloc(n + 1, sizeof(**rows));
	if (!*rows) {
		shoal_free(pids);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		top_row(pids[i], &(*rows)[i]);
	*count = n;
	shoal_free(pids);
	return 0;
}
