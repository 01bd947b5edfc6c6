/*
 * top: the processes of a container's cgroup, with what `ps -ef` shows of
 * each (Docker runs ps on the host and keeps the container's pids), read
 * from /proc/<pid>: the effective uid from status, the parent, tty,
 * user and system time and start time from stat, the arguments from
 * cmdline ("[comm]" for a process without any, as ps prints it). Times
 * are in clock ticks since boot; the boot time is /proc/stat's btime, as
 * procps takes it, so STIME and TIME come out as ps computes them. A
 * process that exits meanwhile keeps what was read of it (often only its
 * pid): ps would just not list it.
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

/* procps' names of a tty device number: pts/N, ttyN, ttySN, else "?". */
static void tty_name(unsigned long nr, char *out, size_t cap)
{
	unsigned major = (nr >> 8) & 0xfff;
	unsigned minor = (nr & 0xff) | ((nr >> 12) & 0xfff00);

	if (nr == 0)
		snprintf(out, cap, "?");
	else if (major >= 136 && major <= 143)
		snprintf(out, cap, "pts/%u", minor + (major - 136) * 256);
	else if (major == 4 && minor < 64)
		snprintf(out, cap, "tty%u", minor);
	else if (major == 4)
		snprintf(out, cap, "ttyS%u", minor - 64);
	else
		snprintf(out, cap, "?");
}

/*
 * /proc/<pid>/stat: "pid (comm) state ppid pgrp session tty_nr tpgid flags
 * minflt cminflt majflt cmajflt utime stime cutime cstime priority nice
 * num_threads itrealvalue starttime ..."; comm may hold spaces and
 * parentheses, so fields are counted from its last ')'.
 */
static void read_stat(pid_t pid, struct rt_top_row *r, int64_t btime, long hz,
		      char comm[64], char *state)
{
	char path[64], buf[1024], *open_p, *close_p;
	unsigned long long utime, stime, start;
	unsigned long tty;
	int ppid;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	open_p = strchr(buf, '(');
	close_p = strrchr(buf, ')');
	if (!open_p || !close_p || close_p < open_p)
		return;
	snprintf(comm, 64, "%.*s", (int)(close_p - open_p - 1), open_p + 1);
	if (sscanf(close_p + 2,
		   "%c %d %*d %*d %lu %*d %*u %*u %*u %*u %*u %llu %llu %*d "
		   "%*d %*d %*d %*d %*d %llu",
		   state, &ppid, &tty, &utime, &stime, &start) != 6)
		return;
	r->ppid = ppid;
	tty_name(tty, r->tty, sizeof(r->tty));
	r->cpu_ns = (utime + stime) * (uint64_t)(NSEC_PER_SEC / hz);
	r->start_ns = btime * NSEC_PER_SEC +
		      (int64_t)(start * (uint64_t)(NSEC_PER_SEC / hz));
}

static void top_row(pid_t pid, struct rt_top_row *r, int64_t btime, long hz)
{
	char path[64], buf[256], comm[64] = "", state = '?';
	unsigned ruid, euid;
	FILE *f;
	size_t n;

	memset(r, 0, sizeof(*r));
	r->pid = pid;
	snprintf(r->tty, sizeof(r->tty), "?");
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	while (f && fgets(buf, sizeof(buf), f))
		if (sscanf(buf, "Uid: %u %u", &ruid, &euid) == 2)
			r->uid = euid;
	if (f)
		fclose(f);
	read_stat(pid, r, btime, hz, comm, &state);
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	f = fopen(path, "re");
	n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	while (n > 0 && buf[n - 1] == '\0')
		n--;
	for (size_t i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	buf[n] = '\0';
	if (n > 0)
		snprintf(r->cmd, sizeof(r->cmd), "%s", buf);
	else
		snprintf(r->cmd, sizeof(r->cmd), "[%s]%s", comm,
			 state == 'Z' ? " <defunct>" : "");
}

static int by_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

int rt_container_top(struct rt *rt, const char *ref, struct rt_top_row **rows,
		     size_t *count)
{
	const struct rt__config *c;
	struct rt__state st;
	long hz = sysconf(_SC_CLK_TCK);
	/* the boot time in seconds since the epoch */
	int64_t btime = (int64_t)rt__proc_scan("/proc/stat", "btime");
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
	qsort(pids, n, sizeof(*pids), by_pid);
	for (size_t i = 0; i < n; i++)
		top_row(pids[i], &(*rows)[i], btime, hz > 0 ? hz : 100);
	*count = n;
	shoal_free(pids);
	return 0;
}
