/*
 * raft-bench: Raft commit throughput, latency and failover of the libuv
 * node (raft/node_uv.h) with the real disk log and TCP transport. Three
 * voters, each its own process on 127.0.0.1, each with its log under
 * --dir (default /var/tmp, so fsync is real). Entries are 128 bytes; a
 * proposal counts once the leader applied it, i.e. once it is durable on
 * a majority. One JSON line per result on stdout:
 *
 *   seq        one proposal in flight, n = 5000: commits/s, p50, p99
 *              (every percentile and median here is nearest rank,
 *              bench/common/stats.h)
 *   pipelined  64 in flight, n = 50000
 *   failover   kill -9 of the leader; time to a new leader and to its
 *              first commit; median of 5 kills. Election timeouts are
 *              drawn from [T, T + jitter), jitter T/4 by default
 *              (--jitter; see docs/raft-disk.md for why)
 *   open       time to open a 1 GiB log of 128-byte entries, cold (its
 *              files evicted from the page cache with posix_fadvise) and
 *              warm
 *   disk       one-entry writes through the disk log, one at a time,
 *              against raw pwrite + fdatasync (the floor of "seq")
 *
 * The parent forks three children ("--node I"), which report events as
 * lines on a pipe ("LEADER <ns>", "COMMIT <ns>", "RESULT <json>"), with
 * times from CLOCK_MONOTONIC, comparable across processes. Every child
 * dies with the parent (PR_SET_PDEATHSIG); the run directory is removed.
 */
#define LOG_MODULE "raft-bench"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <netinet/in.h>

#include "bench/common/stats.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "raft/disk.h"
#include "raft/node_uv.h"
#include "raft/transport.h"

#define NODES 3
#define ENTRY_LEN 128

struct config {
	const char *test;
	const char *dir;
	int election_ms;
	int jitter_ms; /* random part of election timeouts; -1: timeout/4 */
	int n;
	int inflight;
	int kills;
	int node; /* child: 1..3; parent: 0 */
	int ports[NODES];
	const char *self;
};

/* ---- child: one node ---- */

struct child {
	struct config *cfg;
	uv_loop_t loop;
	uv_timer_t retry; /* proposals refused with -EBUSY are retried */
	int deficit;	  /* how many */
	struct raft_node *node;
	bool leader;
	bool working;
	int submitted;
	int done;
	int warmup;
	int64_t t_start;
	int64_t *sent_at;
	double *lat_ms;
	bool first_commit;
	char payload[ENTRY_LEN];
};

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void submit(struct child *c);

static void on_retry(uv_timer_t *t)
{
	struct child *c = t->data;
	int n = c->deficit;
	c->deficit = 0;
	while (n--)
		submit(c);
}

static void on_ack(void *arg, int status)
{
	struct child *c = arg;
	int64_t now = time_mono_ns();
	if (status) {
		/* Lost leadership: this run is over for this node. */
		c->working = false;
		return;
	}
	if (!c->first_commit) {
		c->first_commit = true;
		say("COMMIT %" PRId64, now);
	}
	if (!strcmp(c->cfg->test, "failover")) {
		submit(c);
		return;
	}
	if (c->warmup) {
		c->warmup--;
		if (!c->warmup) {
			c->t_start = time_mono_ns();
			c->submitted = 0;
			for (int i = 0; i < c->cfg->inflight; i++)
				submit(c);
		} else {
			submit(c);
		}
		return;
	}
	int i = c->done++;
	c->lat_ms[i] = (double)(now - c->sent_at[i]) / 1e6;
	if (c->done == c->cfg->n) {
		double secs = (double)(now - c->t_start) / 1e9;
		bench_sort(c->lat_ms, (size_t)c->done);
		say("RESULT {\"test\":\"%s\",\"n\":%d,\"inflight\":%d,"
		    "\"commits_per_s\":%.0f,\"p50_ms\":%.3f,\"p99_ms\":%.3f}",
		    !strcmp(c->cfg->test, "seq") ? "sequential" : "pipelined",
		    c->cfg->n, c->cfg->inflight, c->cfg->n / secs,
		    bench_percentile(c->lat_ms, (size_t)c->done, 50),
		    bench_percentile(c->lat_ms, (size_t)c->done, 99));
		c->working = false;
		return;
	}
	submit(c);
}

static void submit(struct child *c)
{
	bool failover = !strcmp(c->cfg->test, "failover");
	if (!c->working)
		return;
	if (!c->warmup && !failover && c->submitted >= c->cfg->n)
		return;
	int i = c->submitted;
	if (!c->warmup && !failover)
		c->sent_at[i] = time_mono_ns();
	memcpy(c->payload, &i, sizeof(i));
	int rc = raft_node_propose(c->node, c->payload, ENTRY_LEN, on_ack, c);
	if (rc == -EBUSY) {
		/* E.g. a new leader whose log holds many entries of older
		 * terms not yet committed: a client retries. */
		c->deficit++;
		uv_timer_start(&c->retry, on_retry, 1, 0);
		return;
	}
	if (rc) {
		struct raft_status st;
		raft_node_status(c->node, &st);
		log_error("node=%d: propose failed: %s (role=%s term=%" PRIu64
			  " commit=%" PRIu64 " last=%" PRIu64
			  " persisted=%" PRIu64 " applied=%" PRIu64 ")",
			  c->cfg->node, shoal_strerror(rc),
			  raft_role_name(st.role), st.term, st.commit,
			  st.last_index, st.persisted, st.applied);
		c->working = false;
		if (strcmp(c->cfg->test, "failover"))
			say("FAILED %s", shoal_strerror(rc));
		return;
	}
	if (!c->warmup)
		c->submitted++;
}

static void on_role(void *arg, enum raft_role role, uint64_t leader,
		    uint64_t term)
{
	struct child *c = arg;
	bool was = c->leader;
	c->leader = role == RAFT_LEADER;
	if (!c->leader || was)
		return;
	say("LEADER %" PRId64, time_mono_ns());
	c->working = true;
	c->first_commit = false;
	c->warmup = strcmp(c->cfg->test, "failover") ? 100 : 0;
	submit(c);
}

static void on_error(void *arg, int err)
{
	exit(3);
}

static int child_main(struct config *cfg)
{
	struct child c = {.cfg = cfg};
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		return 1;
	log_set_level(LOG_LEVEL_ERROR);
	c.sent_at = calloc((size_t)cfg->n + 1, sizeof(*c.sent_at));
	c.lat_ms = calloc((size_t)cfg->n + 1, sizeof(*c.lat_ms));
	memset(c.payload, 'x', sizeof(c.payload));
	uv_loop_init(&c.loop);
	uv_timer_init(&c.loop, &c.retry);
	c.retry.data = &c;

	char listen[64], addrs[NODES][64], dir[4096];
	struct raft_tcp_peer peers[NODES - 1];
	size_t np = 0;
	snprintf(listen, sizeof(listen), "127.0.0.1:%d",
		 cfg->ports[cfg->node - 1]);
	for (int i = 0; i < NODES; i++) {
		snprintf(addrs[i], sizeof(addrs[i]), "127.0.0.1:%d",
			 cfg->ports[i]);
		if (i + 1 != cfg->node)
			peers[np++] = (struct raft_tcp_peer){(uint64_t)i + 1,
							     addrs[i]};
	}
	struct raft_tcp_options to = {.id = (uint64_t)cfg->node,
				      .listen_addr = listen,
				      .n_peers = np,
				      .peers = peers};
	struct raft_transport *t;
	int rc = raft_tcp_new(&c.loop, &to, &t);
	if (rc) {
		log_error("transport: %s", shoal_strerror(rc));
		return 2;
	}
	struct raft_conf conf = {.n = NODES};
	for (int i = 0; i < NODES; i++)
		conf.servers[i] =
			(struct raft_server){(uint64_t)i + 1, RAFT_VOTER};
	struct raft_options ro;
	raft_options_init(&ro);
	ro.election_timeout_ms = (uint32_t)cfg->election_ms;
	ro.heartbeat_ms =
		(uint32_t)(cfg->election_ms / 10 > 10 ? cfg->election_ms / 10
						      : 10);
	ro.election_jitter_ms = cfg->jitter_ms;
	ro.snapshot_threshold = 0;
	snprintf(dir, sizeof(dir), "%s/n%d", cfg->dir, cfg->node);
	struct raft_node_options no = {
		.id = (uint64_t)cfg->node,
		.dir = dir,
		.bootstrap = &conf,
		.raft = &ro,
		.transport = t,
		.cb = {.role = on_role, .error = on_error},
		.cb_arg = &c,
	};
	rc = raft_node_start(&c.loop, &no, &c.node);
	if (rc) {
		log_error("node: %s", shoal_strerror(rc));
		return 2;
	}
	uv_run(&c.loop, UV_RUN_DEFAULT);
	return 0;
}

/* ---- parent ---- */

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = 1;
}

struct proc {
	pid_t pid;
	int fd;
	char buf[4096];
	size_t len;
};

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		perror("raft-bench: port");
		exit(1);
	}
	close(fd);
	return ntohs(sa.sin_port);
}

static void spawn(struct config *cfg, struct proc *p, int node)
{
	int pfd[2];
	if (pipe(pfd) < 0) {
		perror("raft-bench: pipe");
		exit(1);
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("raft-bench: fork");
		exit(1);
	}
	if (pid == 0) {
		close(pfd[0]);
		dup2(pfd[1], 1);
		close(pfd[1]);
		cfg->node = node;
		_exit(child_main(cfg));
	}
	close(pfd[1]);
	p->pid = pid;
	p->fd = pfd[0];
	p->len = 0;
}

static void reap(struct proc *p, int sig)
{
	if (p->pid <= 0)
		return;
	kill(p->pid, sig);
	waitpid(p->pid, NULL, 0);
	close(p->fd);
	p->pid = 0;
	p->fd = -1;
}

/*
 * Wait up to @ms for a line from any live child; returns the child's
 * index and copies the line into @line, or -1 on timeout.
 */
static int next_line(struct proc *ps, char *line, size_t cap, int ms)
{
	int64_t until = time_mono_ns() + (int64_t)ms * NSEC_PER_MSEC;
	for (;;) {
		for (int i = 0; i < NODES; i++) {
			struct proc *p = &ps[i];
			char *nl = p->pid > 0 ? memchr(p->buf, '\n', p->len)
					      : NULL;
			if (!nl)
				continue;
			size_t n = (size_t)(nl - p->buf);
			snprintf(line, cap, "%.*s", (int)n, p->buf);
			memmove(p->buf, nl + 1, p->len - n - 1);
			p->len -= n + 1;
			return i;
		}
		int64_t left = (until - time_mono_ns()) / NSEC_PER_MSEC;
		if (interrupted)
			return -2;
		if (left <= 0)
			return -1;
		struct pollfd fds[NODES];
		for (int i = 0; i < NODES; i++)
			fds[i] = (struct pollfd){ps[i].pid > 0 ? ps[i].fd : -1,
						 POLLIN, 0};
		if (poll(fds, NODES, (int)left) <= 0)
			continue;
		for (int i = 0; i < NODES; i++) {
			if (!(fds[i].revents & (POLLIN | POLLHUP)))
				continue;
			struct proc *p = &ps[i];
			ssize_t r = read(p->fd, p->buf + p->len,
					 sizeof(p->buf) - 1 - p->len);
			if (r > 0)
				p->len += (size_t)r;
			else if (r == 0)
				fds[i].fd = -1;
		}
	}
}

static int rm_one(const char *p, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	return remove(p);
}

/* Wait for a leader and its first commit; returns its index or -1. */
static int wait_leader(struct proc *ps, int not, int64_t *t_leader,
		       int64_t *t_commit, int ms)
{
	char line[4096];
	int leader = -1;
	*t_leader = *t_commit = 0;
	for (;;) {
		int i = next_line(ps, line, sizeof(line), ms);
		if (i < 0)
			return -1;
		long long t;
		if (sscanf(line, "LEADER %lld", &t) == 1 && i != not ) {
			leader = i;
			*t_leader = t;
		} else if (sscanf(line, "COMMIT %lld", &t) == 1 &&
			   i == leader) {
			*t_commit = t;
			return leader;
		}
	}
}

static int run_failover(struct config *cfg, struct proc *ps)
{
	int64_t tl, tc;
	double lead[16], first[16]; /* ms */
	int kills = cfg->kills > 16 ? 16 : cfg->kills;
	int l = wait_leader(ps, -1, &tl, &tc, 30000);
	for (int k = 0; k < kills; k++) {
		if (l < 0) {
			fprintf(stderr, "raft-bench: no leader\n");
			return 1;
		}
		usleep(1000 * 1000); /* steady state: heartbeats flowing */
		int64_t t0 = time_mono_ns();
		reap(&ps[l], SIGKILL);
		int l2 = wait_leader(ps, l, &tl, &tc, 30000);
		if (l2 < 0) {
			fprintf(stderr,
				"raft-bench: no new leader after kill %d of "
				"node %d\n",
				k + 1, l + 1);
			return 1;
		}
		lead[k] = (double)(tl - t0) / 1e6;
		first[k] = (double)(tc - t0) / 1e6;
		spawn(cfg, &ps[l], l + 1); /* back to three voters */
		l = l2;
	}
	bench_sort(lead, (size_t)kills);
	bench_sort(first, (size_t)kills);
	printf("{\"test\":\"failover\",\"election_timeout_ms\":%d,"
	       "\"jitter_ms\":%d,\"kills\":%d,\"new_leader_ms\":%.1f,"
	       "\"first_commit_ms\":%.1f}\n",
	       cfg->election_ms, cfg->jitter_ms, kills,
	       bench_median(lead, (size_t)kills),
	       bench_median(first, (size_t)kills));
	fflush(stdout);
	return 0;
}

static int run_cluster(struct config *cfg)
{
	struct proc ps[NODES] = {0};
	/* Each run is a fresh cluster in its own directory. */
	static int runs;
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/run%d", cfg->dir, ++runs);
	if (mkdir(dir, 0700) < 0) {
		fprintf(stderr, "raft-bench: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	cfg->dir = dir;
	for (int i = 0; i < NODES; i++)
		cfg->ports[i] = free_port();
	for (int i = 0; i < NODES; i++)
		spawn(cfg, &ps[i], i + 1);
	int rc = 1;
	if (!strcmp(cfg->test, "failover")) {
		rc = run_failover(cfg, ps);
	} else {
		char line[4096];
		int64_t until = time_mono_ns() + 600 * NSEC_PER_SEC;
		while (time_mono_ns() < until) {
			int i = next_line(ps, line, sizeof(line), 1000);
			if (i == -2 || (i >= 0 && !strncmp(line, "FAILED", 6)))
				break;
			if (i >= 0 && !strncmp(line, "RESULT ", 7)) {
				printf("%s\n", line + 7);
				fflush(stdout);
				rc = 0;
				break;
			}
		}
	}
	for (int i = 0; i < NODES; i++)
		reap(&ps[i], SIGKILL);
	return rc;
}

/* ---- disk open ---- */

static void on_written(void *arg, int status)
{
	int *left = arg;
	if (status) {
		fprintf(stderr, "raft-bench: write: %s\n",
			shoal_strerror(status));
		exit(1);
	}
	(*left)--;
}

static void evict_dir(const char *dir)
{
	DIR *dh = opendir(dir);
	struct dirent *e;
	while (dh && (e = readdir(dh))) {
		int fd = openat(dirfd(dh), e->d_name, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		fdatasync(fd);
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		close(fd);
	}
	if (dh)
		closedir(dh);
}

static int run_open(struct config *cfg)
{
	uv_loop_t loop;
	struct raft_disk *d;
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/open", cfg->dir);
	struct raft_disk_options o = {.dir = dir};
	uv_loop_init(&loop);
	if (raft_disk_open(&loop, &o, &d))
		return 1;
	static char data[ENTRY_LEN];
	static struct raft_disk_entry e[8192];
	uint64_t next = 1, total = 1ull << 30, bytes = 0;
	int left = 0;
	while (bytes < total) {
		for (int i = 0; i < 8192; i++)
			e[i] = (struct raft_disk_entry){next + (uint64_t)i, 1,
							1, sizeof(data), data};
		struct raft_disk_write w = {.entries = e, .n = 8192};
		while (raft_disk_write(d, &w, on_written, &left) == -EBUSY)
			uv_run(&loop, UV_RUN_ONCE);
		left++;
		next += 8192;
		bytes += 8192 * (sizeof(data) + 32);
	}
	while (left)
		uv_run(&loop, UV_RUN_ONCE);
	raft_disk_close(d, NULL, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	/* Cold: evict our own files from the page cache (not the machine's). */
	evict_dir(dir);
	int64_t t0 = time_mono_ns();
	if (raft_disk_open(&loop, &o, &d))
		return 1;
	int64_t cold = time_mono_ns() - t0;
	struct raft_disk_state st;
	raft_disk_state(d, &st);
	raft_disk_close(d, NULL, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	t0 = time_mono_ns();
	if (raft_disk_open(&loop, &o, &d))
		return 1;
	int64_t warm = time_mono_ns() - t0;
	printf("{\"test\":\"disk_open\",\"bytes\":%" PRIu64
	       ",\"entries\":%" PRIu64 ",\"open_cold_ms\":%.1f,"
	       "\"open_warm_ms\":%.1f}\n",
	       bytes, st.last_index, cold / 1e6, warm / 1e6);
	raft_disk_close(d, NULL, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	return 0;
}

/* One-entry writes through the disk log, one at a time, against raw
 * pwrite + fdatasync on a file of the same directory. */
static int run_disk(struct config *cfg)
{
	uv_loop_t loop;
	struct raft_disk *d;
	char dir[4096], raw[4200];
	int n = cfg->n ? cfg->n : 2000;
	double *lat = calloc((size_t)n, sizeof(double));
	double *rlat = calloc((size_t)n, sizeof(double));
	snprintf(dir, sizeof(dir), "%s/disk", cfg->dir);
	snprintf(raw, sizeof(raw), "%s/raw", cfg->dir);
	struct raft_disk_options o = {.dir = dir};
	uv_loop_init(&loop);
	if (!lat || !rlat || raft_disk_open(&loop, &o, &d))
		return 1;
	static char data[ENTRY_LEN];
	int fd = open(raw, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return 1;
	/* Interleaved, so both see the same load on the shared disk. */
	for (int i = 0; i < n; i++) {
		struct raft_disk_entry e = {(uint64_t)i + 1, 1, 1, sizeof(data),
					    data};
		struct raft_disk_write w = {.entries = &e, .n = 1};
		int left = 1;
		int64_t t0 = time_mono_ns();
		if (raft_disk_write(d, &w, on_written, &left))
			return 1;
		while (left)
			uv_run(&loop, UV_RUN_ONCE);
		lat[i] = (double)(time_mono_ns() - t0) / 1e6;
		t0 = time_mono_ns();
		if (pwrite(fd, data, sizeof(data), (off_t)i * ENTRY_LEN) < 0 ||
		    fdatasync(fd) < 0)
			return 1;
		rlat[i] = (double)(time_mono_ns() - t0) / 1e6;
	}
	close(fd);
	raft_disk_close(d, NULL, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	bench_sort(lat, (size_t)n);
	bench_sort(rlat, (size_t)n);
	printf("{\"test\":\"disk_write\",\"n\":%d,\"p50_ms\":%.3f,"
	       "\"p99_ms\":%.3f,\"raw_fdatasync_p50_ms\":%.3f,"
	       "\"raw_fdatasync_p99_ms\":%.3f}\n",
	       n, bench_percentile(lat, (size_t)n, 50),
	       bench_percentile(lat, (size_t)n, 99),
	       bench_percentile(rlat, (size_t)n, 50),
	       bench_percentile(rlat, (size_t)n, 99));
	free(lat);
	free(rlat);
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: raft-bench [--test seq|pipelined|failover|open|disk|all]\n"
		"       [--election-timeout MS] [--jitter MS] [--dir PATH]\n"
		"       [--n N] [--inflight K] [--kills K]\n");
	exit(2);
}

static int run(struct config *cfg, const char *test)
{
	struct config c = *cfg;
	c.test = test;
	if (c.jitter_ms < 0)
		c.jitter_ms = c.election_ms / 4;
	if (!strcmp(test, "seq")) {
		c.inflight = 1;
		c.n = cfg->n ? cfg->n : 5000;
	} else if (!strcmp(test, "pipelined")) {
		c.inflight = cfg->inflight ? cfg->inflight : 64;
		c.n = cfg->n ? cfg->n : 50000;
	} else if (!strcmp(test, "failover")) {
		c.n = 1;
		c.inflight = 1;
	} else if (!strcmp(test, "open")) {
		return run_open(&c);
	} else if (!strcmp(test, "disk")) {
		return run_disk(&c);
	} else {
		usage();
	}
	if (c.inflight > c.n)
		c.inflight = c.n;
	return run_cluster(&c);
}

int main(int argc, char **argv)
{
	struct config cfg = {.test = "all",
			     .dir = "/var/tmp",
			     .election_ms = 1000,
			     .jitter_ms = -1,
			     .kills = 5};
	for (int i = 1; i < argc; i += 2) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			usage();
		if (!strcmp(a, "--test"))
			cfg.test = v;
		else if (!strcmp(a, "--dir"))
			cfg.dir = v;
		else if (!strcmp(a, "--election-timeout"))
			cfg.election_ms = atoi(v);
		else if (!strcmp(a, "--jitter"))
			cfg.jitter_ms = atoi(v);
		else if (!strcmp(a, "--n"))
			cfg.n = atoi(v);
		else if (!strcmp(a, "--inflight"))
			cfg.inflight = atoi(v);
		else if (!strcmp(a, "--kills"))
			cfg.kills = atoi(v);
		else
			usage();
	}
	if (cfg.election_ms < 10 || cfg.n < 0 || cfg.inflight < 0 ||
	    cfg.kills < 1)
		usage();
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/raft-bench-%d", cfg.dir, (int)getpid());
	if (mkdir(dir, 0700) < 0) {
		fprintf(stderr, "raft-bench: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	cfg.dir = dir;
	/* Interrupted: stop the children and remove the run directory. */
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	int rc = 0;
	if (!strcmp(cfg.test, "all")) {
		const char *all[] = {"seq", "pipelined", "failover", "open"};
		for (int i = 0; i < 4 && !rc; i++)
			rc = run(&cfg, all[i]);
		if (!rc) {
			struct config fast = cfg;
			fast.election_ms = 150;
			rc = run(&fast, "failover");
		}
	} else {
		rc = run(&cfg, cfg.test);
	}
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
