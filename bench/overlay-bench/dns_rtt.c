/*
 * dns-rtt: the latency of one query to the embedded resolver at
 * 127.0.0.11:53 from the calling network namespace (a task's, entered with
 * nsenter by dns-lab), for a name the overlay gave it: timed from right
 * before send() of the query to right after recv() of its answer, one query
 * at a time. Every answer must carry the query's id, NOERROR, at least one
 * answer record and the expected address among them, or the run is an
 * error (exit 1, nothing printed as a figure).
 *
 *   dns-rtt NAME EXPECTED_IPV4 [QUERIES]   (default 2000, 1..1000000)
 *
 * prints {"test":"overlay-dns","name":NAME,"queries":N,"median_us":...,
 *         "p90_us":...,"p99_us":...}
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "bench/common/stats.h"
#include "common/clock.h"

#define DNS_MAX 4096

/* The query for @name (type A, class IN, RD) into @q; its length, or 0 for
 * a name that does not fit or has an empty label. */
static size_t make_query(uint8_t *q, size_t cap, const char *name, uint16_t id)
{
	size_t n = 12;
	memset(q, 0, 12);
	q[0] = (uint8_t)(id >> 8);
	q[1] = (uint8_t)id;
	q[2] = 0x01; /* RD */
	q[5] = 1;    /* QDCOUNT */
	for (const char *p = name; *p;) {
		const char *dot = strchrnul(p, '.');
		size_t len = (size_t)(dot - p);
		if (!len || len > 63 || n + len + 6 > cap)
			return 0;
		q[n++] = (uint8_t)len;
		memcpy(q + n, p, len);
		n += len;
		p = *dot ? dot + 1 : dot;
	}
	q[n++] = 0;
	q[n++] = 0;
	q[n++] = 1; /* A */
	q[n++] = 0;
	q[n++] = 1; /* IN */
	return n;
}

/* One timed query: microseconds, or -1 when the answer is not right. */
static double ask(int fd, const uint8_t *q, size_t qn, uint32_t want)
{
	uint8_t ans[DNS_MAX];
	int64_t t0 = time_mono_ns();
	if (send(fd, q, qn, 0) != (ssize_t)qn)
		return -1;
	ssize_t got = recv(fd, ans, sizeof(ans), 0);
	int64_t t1 = time_mono_ns();
	if (got < (ssize_t)qn || ans[0] != q[0] || ans[1] != q[1] ||
	    !(ans[2] & 0x80) || (ans[3] & 0x0f) != 0 ||
	    (ans[6] == 0 && ans[7] == 0))
		return -1;
	/* The expected address among the answers (after the question). */
	if (!memmem(ans + qn, (size_t)got - qn, &want, sizeof(want)))
		return -1;
	return (double)(t1 - t0) / 1000.0;
}

int main(int argc, char **argv)
{
	if (argc < 3 || argc > 4) {
		fprintf(stderr,
			"usage: dns-rtt NAME EXPECTED_IPV4 [QUERIES]\n");
		return 2;
	}
	uint32_t want;
	if (inet_pton(AF_INET, argv[2], &want) != 1) {
		fprintf(stderr, "dns-rtt: %s is not an IPv4 address\n",
			argv[2]);
		return 2;
	}
	long queries = 2000;
	if (argc == 4) {
		char *end;
		queries = strtol(argv[3], &end, 10);
		if (*end || queries < 1 || queries > 1000000) {
			fprintf(stderr,
				"dns-rtt: QUERIES must be 1..1000000\n");
			return 2;
		}
	}
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(53)};
	inet_pton(AF_INET, "127.0.0.11", &sa.sin_addr);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "dns-rtt: cannot reach 127.0.0.11:53: %s\n",
			strerror(errno));
		return 1;
	}
	struct timeval tv = {.tv_sec = 3};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	double *v = calloc((size_t)queries, sizeof(*v));
	if (!v)
		return 1;
	uint8_t q[300];
	for (long i = 0; i < queries + 50; i++) { /* 50 to warm up */
		size_t qn =
			make_query(q, sizeof(q), argv[1], (uint16_t)(i * 7919));
		double us = qn ? ask(fd, q, qn, want) : -1;
		if (us < 0) {
			fprintf(stderr,
				"dns-rtt: query %ld for %s: no answer with %s "
				"(timeout, wrong id, an error code or another "
				"address)\n",
				i, argv[1], argv[2]);
			return 1;
		}
		if (i >= 50)
			v[i - 50] = us;
	}
	close(fd);
	bench_sort(v, (size_t)queries);
	printf("{\"test\":\"overlay-dns\",\"name\":\"%s\",\"queries\":%ld,"
	       "\"median_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f}\n",
	       argv[1], queries, bench_median(v, (size_t)queries),
	       bench_percentile(v, (size_t)queries, 90),
	       bench_percentile(v, (size_t)queries, 99));
	free(v);
	return 0;
}
