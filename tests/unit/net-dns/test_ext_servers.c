/*
 * Unit tests of a container's own upstream servers (--dns on a user-defined
 * network): which lists net_resolver_check_servers() takes and how they are
 * parsed, and net_resolver_set_servers()'s refusals. The forwarding to them
 * is covered by tests/system/net-dns.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "common/error.h"
#include "overlay-net/resolver.h"

static void addresses_are_parsed_with_port_53(void **state)
{
	const char *v[] = {"10.0.0.53", "2001:db8::53", "127.0.0.53", NULL};
	struct sockaddr_storage out[NET_RESOLVER_MAX_SERVERS];
	struct shoal_err err = {""};
	const struct sockaddr_in *a = (const void *)&out[0];
	const struct sockaddr_in6 *b = (const void *)&out[1];
	struct in6_addr want6;
	unsigned n = 99;

	(void)state;
	assert_int_equal(net_resolver_check_servers(v, out, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_int_equal(a->sin_family, AF_INET);
	assert_int_equal(ntohs(a->sin_port), 53);
	assert_int_equal(ntohl(a->sin_addr.s_addr), 0x0a000035);
	assert_int_equal(b->sin6_family, AF_INET6);
	assert_int_equal(ntohs(b->sin6_port), 53);
	inet_pton(AF_INET6, "2001:db8::53", &want6);
	assert_memory_equal(&b->sin6_addr, &want6, sizeof(want6));
	assert_int_equal(out[2].ss_family, AF_INET);
}

static void no_list_is_no_servers(void **state)
{
	const char *empty[] = {NULL};
	unsigned n = 99;

	(void)state;
	assert_int_equal(net_resolver_check_servers(NULL, NULL, &n, NULL), 0);
	assert_int_equal(n, 0);
	n = 99;
	assert_int_equal(net_resolver_check_servers(empty, NULL, &n, NULL), 0);
	assert_int_equal(n, 0);
}

static void more_than_three_are_refused(void **state)
{
	const char *v[] = {"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4",
			   NULL};
	struct shoal_err err = {""};

	(void)state;
	assert_int_equal(net_resolver_check_servers(v, NULL, NULL, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "at most 3"));
}

static void what_is_not_one_address_is_refused(void **state)
{
	static const char *const bad[] = {
		"",
		"10.0.0.256",
		"10.0.0.53:53",
		"10.0.0",
		"dns.example",
		"fe80::1%eth0",
		"[::1]",
		" 10.0.0.53",
		"10.0.0.53 ",
		"10.0.0.53\nnameserver 1.1.1.1",
		"::ffff:1.2.3.4.5",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *v[] = {"10.0.0.1", bad[i], NULL};
		struct shoal_err err = {""};
		unsigned n = 99;

		assert_int_equal(net_resolver_check_servers(v, NULL, &n, &err),
				 -EINVAL);
		assert_int_equal(n, 99); /* untouched */
		assert_non_null(strstr(err.msg, "invalid --dns"));
	}
}

static int lookup(void *arg, const char *ctr, const char *name,
		  struct in_addr *out, size_t cap)
{
	(void)arg, (void)ctr, (void)name, (void)out, (void)cap;
	return 0;
}

static void set_refuses_bad_lists_and_unknown_containers(void **state)
{
	const char *good[] = {"10.0.0.53", NULL};
	const char *bad[] = {"10.0.0.53:53", NULL};
	struct net_resolver_config cfg = {0};
	struct net_resolver *r = NULL;
	struct shoal_err err = {""};
	uv_loop_t loop;

	(void)state;
	uv_loop_init(&loop);
	cfg.loop = &loop;
	cfg.lookup = lookup;
	cfg.resolv_conf = "/nonexistent/resolv.conf";
	assert_int_equal(net_resolver_open(&cfg, &r), 0);
	assert_int_equal(net_resolver_set_servers(r, "c1", bad, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "invalid --dns"));
	assert_int_equal(net_resolver_set_servers(r, "c1", good, &err),
			 SHOAL_ENOTFOUND);
	assert_non_null(strstr(err.msg, "not attached"));
	assert_int_equal(net_resolver_set_servers(r, NULL, good, NULL),
			 SHOAL_ENOTFOUND);
	net_resolver_close(r);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(addresses_are_parsed_with_port_53),
		cmocka_unit_test(no_list_is_no_servers),
		cmocka_unit_test(more_than_three_are_refused),
		cmocka_unit_test(what_is_not_one_address_is_refused),
		cmocka_unit_test(set_refuses_bad_lists_and_unknown_containers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
