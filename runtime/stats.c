/*
 * stats. Counters come from the container's cgroup (cgroup.c), the host's
 * CPU time from /proc/stat and the network counters from
 * /proc/<init>/net/dev, which shows the init's network namespace: every
 * interface there but lo, as it is (today a container has only lo, so
 * none; Docker omits lo too). A container on the host's network gets no
 * interface: the host's are not its own (Docker reports none either). The
 * CPU percentage is Docker's: container CPU delta over host CPU delta,
 * times the online CPUs, times 100.
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

/*
 * Every interface of the init's network namespace but lo, with its
 * counters. A line of /proc/<pid>/net/dev after the two header lines:
 *   name: rx bytes packets errs drop fifo frame compressed multicast
 *         tx bytes packets errs drop fifo colls carrier compressed
 */
static void net_stats(pid_t pid, struct rt_stats *out)
{
	char path[64], line[512];
	unsigned long long v[16];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/net/dev", (int)pid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f) &&
	       out->n_nets < RT_STATS_MAX_NETS) {
		struct rt_net_stats *n = &out->nets[out->n_nets];
		char *colon = strchr(line, ':');
		char *name = line;
		if (!colon)
			continue;
		*colon = '\0';
		while (*name == ' ')
			name++;
		if (!strcmp(name, "lo") || !*name ||
		    sscanf(colon + 1,
			   "%llu %llu %llu %llu %llu %llu %llu %llu %llu "
			   "%llu %llu %llu %llu %llu %llu %llu",
			   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
			   &v[7], &v[8], &v[9], &v[10], &v[11], &v[12], &v[13],
			   &v[14], &v[15]) != 16)
			continue;
		if (strlen(name) >= sizeof(n->name))
			continue;
		memcpy(n->name, name, strlen(name) + 1);
		n->rx_bytes = v[0];
		n->rx_packets = v[1];
		n->rx_errors = v[2];
		n->rx_dropped = v[3];
		n->tx_bytes = v[8];
		n->tx_packets = v[9];
		n->tx_errors = v[10];
		n->tx_dropped = v[11];
		out->n_nets++;
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
	uint64_t host_mem = rt__proc_scan("/proc/meminfo", "MemTotal:") * 1024;
	if (out->mem_limit == 0 || out->mem_limit > host_mem)
		out->mem_limit = host_mem;
	if (strcmp(c->network, "host") != 0)
		net_stats(st.pid, out);
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
