/*
 * What the host's cgroups can limit, for Docker's GET /info (MemoryLimit,
 * SwapLimit, CpuCfsPeriod, ...): rt_cgroup_probe() looks at the files of a
 * cgroup root folder, so a test hands it a fake tree and checks the answers.
 *
 * The layout is told by files, not by filesystem magic (which a fake tree
 * in /tmp cannot have): <root>/cgroup.controllers is the unified root of
 * v2; a v1 controller is a folder <root>/<name> holding cgroup.procs; v1
 * controllers plus <root>/unified/cgroup.controllers is hybrid. On a real
 * host this agrees with rt__cgroup_detect() (cgroup.c), which mounts decide:
 * only a cgroup2 root has cgroup.controllers, only a mounted v1 hierarchy
 * has cgroup.procs. Hybrid hosts are answered from their v1 controllers,
 * since the runtime drives everything through v1 there.
 *
 * The answers follow Docker's pkg/sysinfo:
 *   v1  memory controller: MemoryLimit; memory.memsw.limit_in_bytes:
 *       SwapLimit; memory.soft_limit_in_bytes: MemoryReservation;
 *       memory.kmem.tcp.limit_in_bytes: KernelMemoryTCP; memory.oom_control:
 *       OomKillDisable; cpu.shares, cpu.cfs_period_us, cpu.cfs_quota_us;
 *       cpuset.cpus and cpuset.mems: CPUSet; the pids controller: PidsLimit.
 *   v2  the root's cgroup.controllers: "memory" (MemoryLimit and
 *       MemoryReservation; never KernelMemoryTCP or OomKillDisable, which
 *       v2 lacks), "cpu" (CPUShares through cpu.weight, CFS period and quota
 *       through cpu.max), "cpuset", "pids". SwapLimit needs memory.swap.max,
 *       which the root cgroup never has: it is looked for in the root's
 *       child folders (at most MAX_CHILDREN of them), where the kernel makes
 *       it whenever swap accounting is on.
 * Reads are a few stat(2)s and one small file: fine on the loop thread.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/internal.h"

#define MAX_CHILDREN 256

static bool exists_in(const char *root, const char *sub, const char *file)
{
	char path[4096];
	struct stat st;
	int n = snprintf(path, sizeof(path), "%s/%s%s%s", root, sub,
			 *sub ? "/" : "", file);

	return n > 0 && (size_t)n < sizeof(path) && stat(path, &st) == 0;
}

/* Whether the space-separated list @list holds the word @word. */
static bool has_word(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ' ' || p[-1] == '\n') &&
		    (p[n] == '\0' || p[n] == ' ' || p[n] == '\n'))
			return true;
	return false;
}

/* A child folder of @root with @file in it (v2: memory.swap.max). */
static bool child_has(const char *root, const char *file)
{
	DIR *d = opendir(root);
	struct dirent *e;
	bool found = false;
	int seen = 0;

	if (!d)
		return false;
	while (!found && seen < MAX_CHILDREN && (e = readdir(d))) {
		if ((e->d_type != DT_DIR && e->d_type != DT_UNKNOWN) ||
		    e->d_name[0] == '.')
			continue;
		seen++;
		found = exists_in(root, e->d_name, file);
	}
	closedir(d);
	return found;
}

static void probe_v2(const char *root, struct rt_cgroup_caps *c)
{
	char path[4096], list[1024];
	ssize_t n = -1;
	int fd;

	snprintf(path, sizeof(path), "%s/cgroup.controllers", root);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, list, sizeof(list) - 1);
		close(fd);
	}
	list[n > 0 ? n : 0] = '\0';
	c->memory_limit = has_word(list, "memory");
	c->memory_reservation = c->memory_limit;
	c->swap_limit = c->memory_limit && child_has(root, "memory.swap.max");
	c->cpu_shares = has_word(list, "cpu");
	c->cpu_cfs_period = c->cpu_shares;
	c->cpu_cfs_quota = c->cpu_shares;
	c->cpuset = has_word(list, "cpuset");
	c->pids_limit = has_word(list, "pids");
}

static void probe_v1(const char *root, struct rt_cgroup_caps *c)
{
	if (exists_in(root, "memory", "cgroup.procs")) {
		c->memory_limit = true;
		c->swap_limit = exists_in(root, "memory",
					  "memory.memsw.limit_in_bytes");
		c->memory_reservation =
			exists_in(root, "memory", "memory.soft_limit_in_bytes");
		c->kernel_memory_tcp = exists_in(
			root, "memory", "memory.kmem.tcp.limit_in_bytes");
		c->oom_kill_disable =
			exists_in(root, "memory", "memory.oom_control");
	}
	if (exists_in(root, "cpu", "cgroup.procs")) {
		c->cpu_shares = exists_in(root, "cpu", "cpu.shares");
		c->cpu_cfs_period = exists_in(root, "cpu", "cpu.cfs_period_us");
		c->cpu_cfs_quota = exists_in(root, "cpu", "cpu.cfs_quota_us");
	}
	c->cpuset = exists_in(root, "cpuset", "cgroup.procs") &&
		    exists_in(root, "cpuset", "cpuset.cpus") &&
		    exists_in(root, "cpuset", "cpuset.mems");
	c->pids_limit = exists_in(root, "pids", "cgroup.procs");
}

int rt_cgroup_probe(const char *root, struct rt_cgroup_caps *out)
{
	static const char *const v1[] = {"memory", "cpu",     "cpuacct",
					 "pids",   "freezer", "devices",
					 "cpuset", "blkio"};
	bool any = false;

	memset(out, 0, sizeof(*out));
	out->layout = RT_CGROUP_V1;
	if (exists_in(root, "", "cgroup.controllers")) {
		out->layout = RT_CGROUP_V2;
		probe_v2(root, out);
		return 0;
	}
	for (size_t i = 0; i < sizeof(v1) / sizeof(v1[0]) && !any; i++)
		any = exists_in(root, v1[i], "cgroup.procs");
	if (!any)
		return -ENOENT;
	if (exists_in(root, "unified", "cgroup.controllers"))
		out->layout = RT_CGROUP_HYBRID;
	probe_v1(root, out);
	return 0;
}
