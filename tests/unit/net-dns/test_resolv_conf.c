/*
 * Unit tests of the resolver's reading of the daemon's resolv.conf (which
 * servers it forwards to) and of net_resolver_open()'s refusals. No
 * namespace, no socket: net_resolver_attach() is covered by
 * tests/system/net-dns.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "overlay-net/resolver_internal.h"

static char path[] = "/tmp/unit-net-resolv.XXXXXX";

static int make_file(void **state)
{
	int fd = mkstemp(path);

	(void)state;
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int remove_file(void **state)
{
	(void)state;
	unlink(path);
	return 0;
}

static void write_conf(const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int lookup(void *arg, const char *ctr_id, const char *name,
		  struct in_addr *out, size_t cap)
{
	(void)arg, (void)ctr_id, (void)name, (void)out, (void)cap;
	return 0;
}

static struct net_resolver *open_with(const char *conf_path)
{
	struct net_resolver_config cfg = {.lookup = lookup,
					  .resolv_conf = conf_path};
	struct net_resolver *r = NULL;
	uv_loop_t loop;

	cfg.loop = &loop;
	assert_int_equal(net_resolver_open(&cfg, &r), 0);
	return r;
}

static void nameserver_lines_give_the_upstream_servers(void **state)
{
	struct net_resolver *r;
	char text[INET6_ADDRSTRLEN];
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;

	(void)state;
	write_conf("# a comment nameserver 10.9.9.9\n"
		   "search example.org\n"
		   "nameserver 127.0.0.53\n"
		   "nameserver not-an-address\n"
		   "  nameserver\t2001:db8::1  # trailing\n"
		   "options ndots:0\n"
		   "nameserver 192.0.2.1\n"
		   "nameserver 192.0.2.2\n");
	r = open_with(path);
	assert_int_equal(r->n_upstream, 3);
	sin = (const struct sockaddr_in *)&r->upstream[0];
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(ntohs(sin->sin_port), 53);
	assert_string_equal(
		inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text)),
		"127.0.0.53");
	sin6 = (const struct sockaddr_in6 *)&r->upstream[1];
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_string_equal(
		inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text)),
		"2001:db8::1");
	sin = (const struct sockaddr_in *)&r->upstream[2];
	assert_string_equal(
		inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text)),
		"192.0.2.1");
	net_resolver_close(r);
}

static void a_missing_file_means_no_upstream(void **state)
{
	struct net_resolver *r;

	(void)state;
	r = open_with("/nonexistent/resolv.conf");
	assert_int_equal(r->n_upstream, 0);
	net_resolver_close(r);
	write_conf("search example.org\n");
	r = open_with(path);
	assert_int_equal(r->n_upstream, 0);
	net_resolver_close(r);
}

static void open_refuses_a_config_without_loop_or_lookup(void **state)
{
	struct net_resolver_config cfg = {.lookup = lookup};
	struct net_resolver *r = NULL;
	uv_loop_t loop;

	(void)state;
	assert_int_equal(net_resolver_open(&cfg, &r), -EINVAL);
	cfg.loop = &loop;
	cfg.lookup = NULL;
	assert_int_equal(net_resolver_open(&cfg, &r), -EINVAL);
	assert_int_equal(net_resolver_open(NULL, &r), -EINVAL);
	assert_null(r);
	/* A folder where the file should be: an error, not "no servers". */
	cfg.lookup = lookup;
	cfg.resolv_conf = "/";
	assert_int_equal(net_resolver_open(&cfg, &r), -EISDIR);
}

static void open_reports_a_failed_allocation(void **state)
{
	struct net_resolver_config cfg = {.lookup = lookup,
					  .resolv_conf = "/nonexistent"};
	struct net_resolver *r = NULL;
	int64_t live = shoal_alloc_live();
	uv_loop_t loop;

	(void)state;
	cfg.loop = &loop;
	shoal_alloc_fail_after(0);
	assert_int_equal(net_resolver_open(&cfg, &r), -ENOMEM);
	shoal_alloc_fail_after(-1);
	assert_null(r);
	assert_int_equal(shoal_alloc_live(), live);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(nameserver_lines_give_the_upstream_servers),
		cmocka_unit_test(a_missing_file_means_no_upstream),
		cmocka_unit_test(open_refuses_a_config_without_loop_or_lookup),
		cmocka_unit_test(open_reports_a_failed_allocation),
	};

	return cmocka_run_group_tests(tests, make_file, remove_file);
}
