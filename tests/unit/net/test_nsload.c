/*
 * Unit tests of the namespace loader (overlay-net/nsload.c) without root:
 * the loads go to namespaces that do not exist (each fails with ENOENT,
 * which the loader takes as "its container is gone"), which is enough to
 * see the queue's rules: loads of one namespace and network coalesce
 * while queued, a barrier runs once every load queued before it is done
 * and not earlier, a waited-for load returns its result, and closing the
 * loader runs the barriers still waiting.
 */
/* cmocka needs these first */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <errno.h>
#include <string.h>

#include "overlay-net/internal.h"
#include "overlay-net/net.h"

static void count(void *arg)
{
	(*(int *)arg)++;
}

static void run_until(uv_loop_t *loop, const int *v, int want)
{
	for (int i = 0; i < 5000 && *v < want; i++)
		uv_run(loop, UV_RUN_ONCE);
}

static struct net__net net_a = {.id = "a", .name = "front", .vni = 4097};
static struct net__net net_b = {.id = "b", .name = "back", .vni = 4098};
static struct net__ep ep = {.sandbox = "sb", .ifname = "eth0"};

#define NS1 "/nonexistent/shoal-test/ns1"
#define NS2 "/nonexistent/shoal-test/ns2"

static void queued_loads_coalesce_and_barriers_wait(void **state)
{
	uv_loop_t loop;
	struct net n = {0};
	int done = 0, early = 0;
	uv_loop_init(&loop);
	n.loop = &loop;
	assert_int_equal(net__loader_pause(&n, true), 0);
	/* A barrier with nothing queued runs at once. */
	assert_int_equal(net_when_loaded(&n, count, &early), 0);
	assert_int_equal(early, 1);
	for (int i = 0; i < 5; i++)
		assert_int_equal(
			net__ns_load(&n, &net_a, &ep, NS1, "table x", false),
			0);
	/* Another network in the same namespace, another namespace. */
	assert_int_equal(net__ns_load(&n, &net_b, &ep, NS1, "t", false), 0);
	assert_int_equal(net__ns_load(&n, &net_a, &ep, NS2, "t", false), 0);
	assert_int_equal(net_when_loaded(&n, count, &done), 0);
	uv_run(&loop, UV_RUN_NOWAIT);
	assert_int_equal(done, 0); /* held: nothing loaded yet */
	assert_int_equal(net__loader_pause(&n, false), 0);
	run_until(&loop, &done, 1);
	assert_int_equal(done, 1);
	/* Five loads of (ns1, front) were one. */
	assert_int_equal(net__loader_loads(&n), 3);
	/* A waited-for load runs before what is queued, its result back. */
	assert_int_equal(net__loader_pause(&n, true), 0);
	assert_int_equal(net__ns_load(&n, &net_a, &ep, NS2, "t", false), 0);
	assert_int_equal(net__loader_pause(&n, false), 0);
	assert_int_equal(net__ns_load(&n, &net_a, &ep, NS1, "t", true),
			 -ENOENT);
	/* Closing runs a barrier still waiting, exactly once. */
	assert_int_equal(net__loader_pause(&n, true), 0);
	assert_int_equal(net__ns_load(&n, &net_b, &ep, NS2, "t", false), 0);
	assert_int_equal(net_when_loaded(&n, count, &done), 0);
	assert_int_equal(done, 1);
	net__loader_close(&n);
	assert_int_equal(done, 2);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(done, 2);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void without_a_loop_loads_run_in_line(void **state)
{
	struct net n = {0};
	int done = 0;
	assert_int_equal(net__ns_load(&n, &net_a, &ep, NS1, "t", false),
			 -ENOENT);
	assert_null(n.loader);
	assert_int_equal(net_when_loaded(&n, count, &done), 0);
	assert_int_equal(done, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(queued_loads_coalesce_and_barriers_wait),
		cmocka_unit_test(without_a_loop_loads_run_in_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
