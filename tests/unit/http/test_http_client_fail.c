/*
 * http_client_fetch() (common/http.h) when the connection cannot even be
 * started: the address is refused by the kernel at connect() time (an
 * IPv6 link-local address without a scope; no packet is sent). The call
 * must report the error and leave nothing behind: no client, no handle, no
 * half-closed private loop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "common/http.h"
#include "common/log.h"

static void failed_connect_leaves_nothing_behind(void **state)
{
	int64_t live = shoal_alloc_live();
	struct http_client_req req = {.method = "GET", .path = "/_ping"};
	struct http_result res;
	int rc = http_client_fetch("tcp://[fe80::1]:2375", &req, &res);
	assert_true(rc < 0);
	assert_null(res.body);
	assert_int_equal(shoal_alloc_live(), live);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(failed_connect_leaves_nothing_behind),
	};
	log_set_level(LOG_LEVEL_FATAL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
