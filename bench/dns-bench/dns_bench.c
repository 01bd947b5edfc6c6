/*
 * dns-bench: the latency of one query through the embedded resolver, as a
 * container sees it, for a name the daemon knows ("web", answered from the
 * lookup callback) and for a name forwarded upstream ("ext.example.com",
 * relayed from a nameserver on loopback), over UDP. Timed from right
 * before sendto() of the query to right after recv() of its answer, one
 * query at a time; every answer must carry the query's id, NOERROR and the
 * expected address, or the run is an error.
 *
 * Everything happens in network namespaces of the benchmark's own: the
 * process first unshares its network namespace (the "host", where the fake
 * nameserver listens on 127.0.0.1:53), and the client thread unshares
 * another (the "container") that the resolver attaches to. The resolver
 * runs on the main thread's libuv loop, the fake nameserver on a thread of
 * its own; the figure is thus resolver plus two loopback hops (four for a
 * forwarded name) and the nameserver's own time, which is a few
 * microseconds.
 *
 *   dns-bench [queries]   (root; default 2000 per case)
 *
 * prints one JSON line per case:
 *   {"test":"dns-local","transport":"udp","queries":2000,
 *    "median_us":...,"p90_us":...,"p99_us":...}
 * or {"skipped":"dns-bench: <why>"} when namespaces cannot be made.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench/common/stats.h"
#include "common/clock.h"
#include "common/error.h"
#include "overlay-net/dns.h"
#include "overlay-net/resolver.h"

struct bench {
	uv_loop_t loop;
	uv_async_t wake;
	struct net_resolver *res;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	int client_tid; /* set by the client once in its namespace */
	int attached;	/* 1 ok, -1 failed */
	int failed;
	long queries;
	double *local_us;
	double *fwd_us;
};

static int lookup(void *arg, const char *ctr_id, const char *name,
		  struct in_addr *out, size_t cap)
{
	(void)arg;
	(void)ctr_id;
	(void)cap;
	if (strcmp(name, "web") != 0)
		return 0;
	out[0].s_addr = htonl(0x0a000002);
	return 1;
}

static int lo_up(void)
{
	struct ifreq ifr = {0};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;

	if (fd < 0)
		return -errno;
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		rc = -errno;
	ifr.ifr_flags |= IFF_UP;
	if (rc == 0 && ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* The fake nameserver: answers every A query with 192.0.2.1. */
static void *upstream(void *arg)
{
	int fd = *(int *)arg;
	struct in_addr a = {htonl(0xc0000201)};

	for (;;) {
		uint8_t msg[DNS_UDP_MAX], out[DNS_UDP_MAX];
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		struct dns_reply rep = {.a = &a, .n_a = 1, .ttl = 30};
		struct dns_query q;
		ssize_t n;
		int len;

		n = recvfrom(fd, msg, sizeof(msg), 0, (struct sockaddr *)&peer,
			     &plen);
		if (n < 0)
			return NULL;
		if (dns_parse_query(msg, (size_t)n, &q) != 0)
			continue;
		len = dns_build_reply(&q, &rep, q.udp_limit, out, sizeof(out));
		if (len > 0)
			sendto(fd, out, (size_t)len, 0,
			       (struct sockaddr *)&peer, plen);
	}
}

static int start_upstream(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(53)};
	static int fd;
	pthread_t th;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	if (pthread_create(&th, NULL, upstream, &fd) != 0)
		return -EAGAIN;
	pthread_detach(th);
	return 0;
}

/* One timed query; returns microseconds, or a negative value on error. */
static double ask(int fd, const char *name, uint16_t id, uint32_t want)
{
	uint8_t q[300], ans[DNS_UDP_MAX];
	size_t n = 0;
	int64_t t0, t1;
	ssize_t got;

	memset(q, 0, 12);
	q[0] = (uint8_t)(id >> 8);
	q[1] = (uint8_t)id;
	q[2] = 0x01; /* RD */
	q[5] = 1;    /* QDCOUNT */
	n = 12;
	for (const char *p = name; *p;) {
		const char *dot = strchrnul(p, '.');

		q[n++] = (uint8_t)(dot - p);
		memcpy(q + n, p, (size_t)(dot - p));
		n += (size_t)(dot - p);
		p = *dot ? dot + 1 : dot;
	}
	q[n++] = 0;
	q[n++] = 0;
	q[n++] = DNS_TYPE_A;
	q[n++] = 0;
	q[n++] = DNS_CLASS_IN;
	t0 = time_mono_ns();
	if (send(fd, q, n, 0) != (ssize_t)n)
		return -1;
	got = recv(fd, ans, sizeof(ans), 0);
	t1 = time_mono_ns();
	/* id, NOERROR, one answer whose last 4 bytes are the address. */
	if (got < (ssize_t)n + 16 || ans[0] != q[0] || ans[1] != q[1] ||
	    (ans[3] & 0xf) != 0 || ans[7] != 1 ||
	    memcmp(ans + got - 4, &want, 4) != 0)
		return -1;
	return (double)(t1 - t0) / 1000.0;
}

static int run_case(struct bench *b, const char *name, uint32_t want,
		    double *out)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(53)};
	struct timeval tv = {.tv_sec = 3};
	int fd, rc = 0;

	inet_pton(AF_INET, NET_RESOLVER_ADDR, &sa.sin_addr);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (long i = 0; i < 50 && rc == 0; i++) /* warm up */
		rc = ask(fd, name, (uint16_t)i, want) < 0 ? -EPROTO : 0;
	for (long i = 0; i < b->queries && rc == 0; i++) {
		out[i] = ask(fd, name, (uint16_t)(i * 7919), want);
		if (out[i] < 0)
			rc = -EPROTO;
	}
	close(fd);
	return rc;
}

static void *client(void *arg)
{
	struct bench *b = arg;
	int rc = unshare(CLONE_NEWNET);

	if (rc == 0)
		rc = lo_up();
	pthread_mutex_lock(&b->mu);
	b->client_tid = rc == 0 ? (int)syscall(SYS_gettid) : -1;
	pthread_cond_broadcast(&b->cond);
	while (b->attached == 0)
		pthread_cond_wait(&b->cond, &b->mu);
	pthread_mutex_unlock(&b->mu);
	if (rc == 0 && b->attached > 0) {
		if (run_case(b, "web", htonl(0x0a000002), b->local_us) < 0 ||
		    run_case(b, "ext.example.com", htonl(0xc0000201),
			     b->fwd_us) < 0)
			b->failed = 1;
	} else {
		b->failed = 1;
	}
	uv_async_send(&b->wake);
	return NULL;
}

static void on_wake(uv_async_t *a)
{
	struct bench *b = a->data;

	net_resolver_close(b->res);
	uv_close((uv_handle_t *)a, NULL);
}

static void report(const char *test, double *v, long n)
{
	bench_sort(v, (size_t)n);
	printf("{\"test\":\"%s\",\"transport\":\"udp\",\"queries\":%ld,"
	       "\"median_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f}\n",
	       test, n, bench_median(v, (size_t)n),
	       bench_percentile(v, (size_t)n, 90),
	       bench_percentile(v, (size_t)n, 99));
}

static int setup(struct bench *b, char *resolv)
{
	struct net_resolver_config cfg = {.lookup = lookup,
					  .resolv_conf = resolv};
	FILE *f;
	int fd, rc;

	if (unshare(CLONE_NEWNET) < 0) {
		printf("{\"skipped\":\"dns-bench: unshare(CLONE_NEWNET): "
		       "%s\"}\n",
		       strerror(errno));
		exit(geteuid() == 0 ? 1 : 77);
	}
	if ((rc = lo_up()) < 0 || (rc = start_upstream()) < 0)
		return rc;
	fd = mkstemp(resolv);
	if (fd < 0 || !(f = fdopen(fd, "w")))
		return -errno;
	fprintf(f, "nameserver 127.0.0.1\n");
	fclose(f);
	uv_loop_init(&b->loop);
	cfg.loop = &b->loop;
	return net_resolver_open(&cfg, &b->res);
}

int main(int argc, char **argv)
{
	struct bench b = {.queries = argc > 1 ? atol(argv[1]) : 2000};
	char resolv[] = "/tmp/dns-bench-resolv.XXXXXX", ns[64];
	struct shoal_err err = {"the client could not make its namespace"};
	pthread_t th;
	int rc;

	if (b.queries < 1)
		b.queries = 1;
	b.local_us = calloc((size_t)b.queries, sizeof(double));
	b.fwd_us = calloc((size_t)b.queries, sizeof(double));
	pthread_mutex_init(&b.mu, NULL);
	pthread_cond_init(&b.cond, NULL);
	rc = setup(&b, resolv);
	unlink(resolv);
	if (rc < 0 || !b.local_us || !b.fwd_us) {
		printf("{\"error\":\"dns-bench: setup: %s\"}\n",
		       shoal_strerror(rc));
		return 1;
	}
	uv_async_init(&b.loop, &b.wake, on_wake);
	b.wake.data = &b;
	pthread_create(&th, NULL, client, &b);
	pthread_mutex_lock(&b.mu);
	while (b.client_tid == 0)
		pthread_cond_wait(&b.cond, &b.mu);
	snprintf(ns, sizeof(ns), "/proc/self/task/%d/ns/net", b.client_tid);
	rc = b.client_tid > 0
		     ? net_resolver_attach(b.res, "bench", ns, NULL, &err)
		     : -EPERM;
	b.attached = rc == 0 ? 1 : -1;
	pthread_cond_broadcast(&b.cond);
	pthread_mutex_unlock(&b.mu);
	uv_run(&b.loop, UV_RUN_DEFAULT);
	pthread_join(th, NULL);
	uv_loop_close(&b.loop);
	if (rc < 0 || b.failed) {
		printf("{\"error\":\"dns-bench: %s\"}\n",
		       rc < 0 ? err.msg : "a query went unanswered or wrong");
		return 1;
	}
	report("dns-local", b.local_us, b.queries);
	report("dns-forward", b.fwd_us, b.queries);
	free(b.local_us);
	free(b.fwd_us);
	return 0;
}
