/*
 * overlay-bench's programming half: in the calling network namespace,
 * bring an overlay up (ovl_vxlan_up()), program PEERS peers
 * (ovl_vxlan_peer(), one batch each, as the agent will for each task of
 * the network on another node), remove them, and bring it down, timing
 * each library call with the monotonic clock. Prints JSON lines
 * (docs/bench.md):
 *   {"test":"overlay-up","ms":X}
 *   {"test":"peer-add","peers":N,"median_ms":X,"p90_ms":Y}
 *   {"test":"peer-del","peers":N,"median_ms":X,"p90_ms":Y}
 *   {"test":"overlay-down","ms":X}
 *
 *   overlay-bench-program PEERS
 */
#include "bench/common/stats.h"
#include "common/clock.h"
#include "overlay-net/vxlan.h"

#include <stdio.h>
#include <stdlib.h>

#define VNI 4999

static double ms_since(int64_t t0)
{
	return (double)(time_mono_ns() - t0) / 1e6;
}

static int peers(int n, int add, double *ms)
{
	char err[256];
	for (int i = 0; i < n; i++) {
		uint32_t ip = 0x0a630000u + 2 + (uint32_t)i; /* 10.99.0.2+ */
		uint8_t mac[6] = {0x02,	     0x42, 10, 99, (uint8_t)(i >> 8),
				  (uint8_t)i};
		uint32_t vtep = 0xc0a8fd00u + 2 + (uint32_t)(i % 200);
		int64_t t0 = time_mono_ns();
		if (ovl_vxlan_peer(VNI, ip, mac, vtep, add, err, sizeof(err)) <
		    0) {
			printf("{\"error\":\"%s\"}\n", err);
			return -1;
		}
		ms[i] = ms_since(t0);
	}
	return 0;
}

static void report(const char *test, int n, double *ms)
{
	bench_sort(ms, (size_t)n);
	printf("{\"test\":\"%s\",\"peers\":%d,\"median_ms\":%.3f,"
	       "\"p90_ms\":%.3f}\n",
	       test, n, bench_percentile(ms, (size_t)n, 50),
	       bench_percentile(ms, (size_t)n, 90));
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 200;
	char err[256];
	if (n < 1 || n > 60000) {
		fprintf(stderr,
			"usage: overlay-bench-program PEERS (1..60000)\n");
		return 2;
	}
	double *ms = calloc((size_t)n, sizeof(*ms));
	struct ovl_vxlan_cfg c = {.vni = VNI, .local = 0xc0a8fd01u};
	int64_t t0 = time_mono_ns();
	if (!ms || ovl_vxlan_up(&c, err, sizeof(err)) < 0) {
		printf("{\"error\":\"%s\"}\n", ms ? err : "out of memory");
		return 1;
	}
	printf("{\"test\":\"overlay-up\",\"ms\":%.3f}\n", ms_since(t0));
	int rc = peers(n, 1, ms);
	if (rc == 0)
		report("peer-add", n, ms);
	if (rc == 0 && (rc = peers(n, 0, ms)) == 0)
		report("peer-del", n, ms);
	t0 = time_mono_ns();
	if (ovl_vxlan_down(VNI, err, sizeof(err)) < 0) {
		printf("{\"error\":\"%s\"}\n", err);
		rc = -1;
	} else {
		printf("{\"test\":\"overlay-down\",\"ms\":%.3f}\n",
		       ms_since(t0));
	}
	free(ms);
	return rc < 0;
}
