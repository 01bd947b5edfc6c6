/*
 * A resolver on its own loop, attached to one network namespace, with a
 * fixed table of names standing in for the daemon's networks: the program
 * the system test (net_dns.py) and the benchmark (bench/dns-bench) drive.
 *
 *   net-dns-harness NETNS_PATH RESOLV_CONF [TIMEOUT_MS [MAX_TCP [IDLE_MS]]]
 *
 * Names (container "ctr1", search domain "example.org"):
 *   web, web.testnet          -> 10.0.0.2
 *   tasks.api                 -> 10.0.1.1 .. 10.0.1.40 (over 512 bytes)
 *   any other NAME.testnet    -> NXDOMAIN
 *   10.0.0.2 reverse          -> web.testnet
 *   other 10.0.0.0/16 reverse -> NXDOMAIN
 * Anything else is forwarded. Prints "ready" once attached; SIGUSR1
 * detaches, SIGTERM closes the resolver and exits 0 (ASan checks leaks).
 */
#include <arpa/inet.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "overlay-net/resolver.h"

#define CTR "ctr1"

static struct net_resolver *res;
static uv_signal_t sig_term, sig_usr1;

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int lookup(void *arg, const char *ctr_id, const char *name,
		  struct in_addr *out, size_t cap)
{
	(void)arg;
	if (strcmp(ctr_id, CTR) != 0)
		return SHOAL_ENOTFOUND;
	if (strcmp(name, "web") == 0 || strcmp(name, "web.testnet") == 0) {
		inet_pton(AF_INET, "10.0.0.2", &out[0]);
		return 1;
	}
	if (strcmp(name, "tasks.api") == 0) {
		size_t n = cap < 40 ? cap : 40;

		for (size_t i = 0; i < n; i++)
			out[i].s_addr = htonl(0x0a000101 + (uint32_t)i);
		return (int)n;
	}
	if (ends_with(name, ".testnet"))
		return SHOAL_ENOTFOUND;
	return 0;
}

static int reverse(void *arg, const char *ctr_id, struct in_addr addr,
		   char *name, size_t cap)
{
	uint32_t a = ntohl(addr.s_addr);

	(void)arg;
	(void)ctr_id;
	if (a == 0x0a000002) {
		snprintf(name, cap, "web.testnet");
		return 1;
	}
	if ((a >> 16) == 0x0a00)
		return SHOAL_ENOTFOUND;
	return 0;
}

static void on_signal(uv_signal_t *s, int signum)
{
	if (signum == SIGUSR1) {
		net_resolver_detach(res, CTR);
		printf("detached\n");
		fflush(stdout);
		return;
	}
	net_resolver_close(res);
	res = NULL;
	uv_close((uv_handle_t *)&sig_term, NULL);
	uv_close((uv_handle_t *)&sig_usr1, NULL);
	(void)s;
}

static int set_servers(const char *list, struct shoal_err *err)
{
	char buf[256], *save = NULL, *tok;
	const char *v[8] = {0};
	size_t n = 0;

	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, ",", &save); tok && n < 7;
	     tok = strtok_r(NULL, ",", &save))
		v[n++] = tok;
	return net_resolver_set_servers(res, CTR, v, err);
}

int main(int argc, char **argv)
{
	const char *search[] = {"example.org", NULL};
	struct net_resolver_config cfg = {0};
	struct shoal_err err;
	uv_loop_t loop;
	int rc;

	if (argc < 3) {
		fprintf(stderr,
			"usage: %s NETNS_PATH RESOLV_CONF "
			"[TIMEOUT_MS [MAX_TCP [IDLE_MS]]]\n",
			argv[0]);
		return 2;
	}
	uv_loop_init(&loop);
	cfg.loop = &loop;
	cfg.lookup = lookup;
	cfg.reverse = reverse;
	cfg.resolv_conf = argv[2];
	cfg.forward_timeout_ms = argc > 3 ? (unsigned)atoi(argv[3]) : 0;
	cfg.max_tcp_per_ctr = argc > 4 ? (unsigned)atoi(argv[4]) : 0;
	cfg.tcp_idle_ms = argc > 5 ? (unsigned)atoi(argv[5]) : 0;
	rc = net_resolver_open(&cfg, &res);
	if (rc < 0) {
		fprintf(stderr, "net_resolver_open: %s\n", shoal_strerror(rc));
		return 1;
	}
	rc = net_resolver_attach(res, CTR, argv[1], search, &err);
	if (rc < 0) {
		fprintf(stderr, "%s\n", err.msg);
		net_resolver_close(res);
		uv_run(&loop, UV_RUN_DEFAULT);
		uv_loop_close(&loop);
		return 1;
	}
	/* NET_DNS_SERVERS="a,b": the container's own upstream servers
	 * (--dns), instead of RESOLV_CONF's. */
	if (getenv("NET_DNS_SERVERS") &&
	    (rc = set_servers(getenv("NET_DNS_SERVERS"), &err)) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		net_resolver_close(res);
		uv_run(&loop, UV_RUN_DEFAULT);
		uv_loop_close(&loop);
		return 1;
	}
	uv_signal_init(&loop, &sig_term);
	uv_signal_init(&loop, &sig_usr1);
	uv_signal_start(&sig_term, on_signal, SIGTERM);
	uv_signal_start(&sig_usr1, on_signal, SIGUSR1);
	printf("ready\n");
	fflush(stdout);
	uv_run(&loop, UV_RUN_DEFAULT);
	return uv_loop_close(&loop) == 0 ? 0 : 3;
}
