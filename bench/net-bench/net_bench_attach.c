/*
 * net-bench-attach: the time overlay-net takes to attach a container to
 * the default bridge, measured on the library itself (no daemon, no
 * runtime): from right before net_ctr_create() to right after
 * net_ctr_bind() returns, i.e. the sandbox namespace made and bound, the
 * veth pair with eth0 inside, its address, MAC, default route and lo (one
 * netlink batch inside, one outside), the endpoint recorded (fsync'd), and
 * with --ports the nftables table rebuilt for one published port. Run by
 * net-bench inside a network and mount namespace of its own.
 *
 *   net-bench-attach attach N      JSON lines: attach without and with a
 *                                  published port, detach; median and p90
 *   net-bench-attach setup DIR     two containers A, B on the bridge, A
 *                                  publishing 15201 -> 5201/tcp; prints
 *                                  "NS_A IP_A NS_B IP_B"; state stays
 */
#include "bench/common/stats.h"
#include "common/clock.h"
#include "common/jsonx.h"
#include "overlay-net/net.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct net *open_at(const char *dir)
{
	struct net_config cfg = {.data_root = dir, .exec_root = dir};
	struct shoal_err err = {""};
	struct net *n;

	if (net_open(&cfg, &n, &err) < 0) {
		printf("{\"error\":\"net_open: %s\"}\n", err.msg);
		exit(1);
	}
	return n;
}

static void fake_id(int i, char id[65])
{
	snprintf(id, 65, "%064x", i + 1);
}

static int attach_one(struct net *n, int i, const struct net_port *port,
		      double *ms)
{
	struct net_ctr_spec s = {
		.name = "bench", .ports = port, .n_ports = port ? 1 : 0};
	struct net_ctr_result r;
	struct shoal_err err = {""};
	char id[65];
	int64_t t0, t1;

	fake_id(i, id);
	t0 = time_mono_ns();
	if (net_ctr_create(n, &s, &r, &err) < 0 ||
	    net_ctr_bind(n, r.sandbox, id) < 0) {
		printf("{\"error\":\"attach %d: %s\"}\n", i, err.msg);
		return -1;
	}
	t1 = time_mono_ns();
	*ms = (double)(t1 - t0) / 1e6;
	return 0;
}

static void report(const char *test, double *v, size_t n)
{
	bench_sort(v, n);
	printf("{\"test\":\"%s\",\"containers\":%zu,\"median_ms\":%.3f,"
	       "\"p90_ms\":%.3f}\n",
	       test, n, bench_median(v, n), bench_percentile(v, n, 90));
}

static int attach(const char *dir, int count)
{
	struct net *n = open_at(dir);
	double *plain = calloc((size_t)count, sizeof(double));
	double *ported = calloc((size_t)count, sizeof(double));
	double *detach = calloc((size_t)count * 2, sizeof(double));
	char id[65];
	int rc = 1;

	if (!plain || !ported || !detach)
		goto out;
	for (int i = 0; i < count; i++)
		if (attach_one(n, i, NULL, &plain[i]) < 0)
			goto out;
	for (int i = 0; i < count; i++) {
		struct net_port p = {.ctr_port = 80,
				     .proto = "tcp",
				     .host_lo = (uint16_t)(20000 + i),
				     .host_hi = (uint16_t)(20000 + i)};
		if (attach_one(n, count + i, &p, &ported[i]) < 0)
			goto out;
	}
	for (int i = 0; i < 2 * count; i++) {
		int64_t t0 = time_mono_ns();
		fake_id(i, id);
		net_ctr_remove(n, id);
		detach[i] = (double)(time_mono_ns() - t0) / 1e6;
	}
	report("attach", plain, (size_t)count);
	report("attach_with_published_port", ported, (size_t)count);
	report("detach", detach, (size_t)count * 2);
	rc = 0;
out:
	free(plain);
	free(ported);
	free(detach);
	net_close(n);
	return rc;
}

static int setup(const char *dir)
{
	struct net *n = open_at(dir);
	struct net_port p = {.ctr_port = 5201,
			     .proto = "tcp",
			     .host_lo = 15201,
			     .host_hi = 15201};
	const char *names[2] = {"a", "b"};
	char ip[2][64], ns[2][sizeof(((struct net_ctr_result *)0)->network)];

	for (int i = 0; i < 2; i++) {
		struct net_ctr_spec s = {.name = names[i],
					 .ports = i ? NULL : &p,
					 .n_ports = i ? 0 : 1};
		struct net_ctr_result r;
		struct shoal_err err = {""};
		char id[65];
		const char *colon;
		fake_id(1000 + i, id);
		if (net_ctr_create(n, &s, &r, &err) < 0 ||
		    net_ctr_bind(n, r.sandbox, id) < 0) {
			printf("{\"error\":\"setup: %s\"}\n", err.msg);
			return 1;
		}
		colon = strrchr(r.host_line, ':');
		snprintf(ip[i], sizeof(ip[i]), "%s", colon ? colon + 1 : "");
		snprintf(ns[i], sizeof(ns[i]), "%.4000s", r.network + 3);
	}
	printf("%s %s %s %s\n", ns[0], ip[0], ns[1], ip[1]);
	net_close(n);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "setup"))
		return setup(argv[2]);
	if (argc == 4 && !strcmp(argv[1], "attach") && atoi(argv[3]) > 0)
		return attach(argv[2], atoi(argv[3]));
	fprintf(stderr, "usage: net-bench-attach attach DIR N | setup DIR\n");
	return 2;
}
