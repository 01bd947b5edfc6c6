/*
 * Unit tests of common/jsonx: parse errors that name the place, typed
 * access with defaults, and Docker's error body.
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

#include "common/alloc.h"
#include "common/jsonx.h"

static void parse_error_names_line_and_column(void **state)
{
	char err[128];
	json_t *v = (json_t *)1;
	const char *bad = "{\n  \"Name\": \"x\",\n  oops\n}";
	assert_int_equal(jsonx_parse(bad, strlen(bad), &v, err, sizeof(err)),
			 -EINVAL);
	assert_null(v);
	assert_non_null(strstr(err, "line 3"));
	assert_non_null(strstr(err, "column"));
	assert_int_equal(jsonx_parse("", 0, &v, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "empty request body");
	assert_int_equal(jsonx_parse_object("[1]", 3, &v, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "expected a JSON object");
}

static void typed_fields_fall_back_to_defaults(void **state)
{
	json_t *o;
	const char *s = "{\"Name\":\"web\",\"Replicas\":3,\"Tty\":true,"
			"\"Labels\":{},\"Bad\":\"x\"}";
	assert_int_equal(jsonx_parse_object(s, strlen(s), &o, NULL, 0), 0);
	assert_string_equal(jsonx_str(o, "Name", "d"), "web");
	assert_string_equal(jsonx_str(o, "Replicas", "d"), "d");
	assert_int_equal(jsonx_int(o, "Replicas", 1), 3);
	assert_int_equal(jsonx_int(o, "Missing", 7), 7);
	assert_true(jsonx_bool(o, "Tty", false));
	assert_false(jsonx_bool(o, "Name", false));
	assert_non_null(jsonx_obj(o, "Labels"));
	assert_null(jsonx_obj(o, "Name"));
	char err[64];
	int64_t n;
	assert_int_equal(jsonx_get_int(o, "Bad", &n, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "field Bad must be an integer");
	assert_int_equal(jsonx_get_int(o, "None", &n, err, sizeof(err)),
			 -ENOENT);
	json_decref(o);
}

static void error_body_has_docker_shape(void **state)
{
	int64_t live = shoal_alloc_live();
	size_t len;
	char *b = jsonx_error_body("page not found", &len);
	assert_string_equal(b, "{\"message\":\"page not found\"}\n");
	assert_int_equal(len, strlen(b));
	shoal_free(b);
	json_t *o = json_object();
	assert_int_equal(jsonx_set(o, "A", NULL), -ENOMEM);
	assert_int_equal(jsonx_set(o, "B", json_integer(2)), 0);
	b = jsonx_dump(o, NULL);
	assert_string_equal(b, "{\"B\":2}\n");
	shoal_free(b);
	json_decref(o);
	assert_int_equal(shoal_alloc_live(), live);
}

int main(void)
{
	shoal_alloc_install();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_error_names_line_and_column),
		cmocka_unit_test(typed_fields_fall_back_to_defaults),
		cmocka_unit_test(error_body_has_docker_shape),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
