/*
 * Unit tests of the container commands' pure parts: docker's flag
 * spellings (combined short flags, repeated lists, values glued or apart,
 * run's stop at the image), docker's sizes, durations, decimal sizes and
 * truncation as `docker ps` and `docker images` print them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "cli/ctr.h"
#include "common/clock.h"

/* argv arrays are writable in C; string literals are not (-Wwrite-strings). */
static char pool[32][64];
static char *av[33];

static char **args(int n, ...)
{
	va_list ap;
	va_start(ap, n);
	for (int i = 0; i < n; i++) {
		strcpy(pool[i], va_arg(ap, const char *));
		av[i] = pool[i];
	}
	av[n] = NULL;
	va_end(ap);
	return av;
}

static void combined_short_flags_and_values_parse_like_docker(void **state)
{
	bool d = false, i = false, t = false;
	const char *name = NULL;
	struct cli_list env = {0};
	const struct cli_flag f[] = {
		{"detach", 'd', CLI_FLAG_BOOL, &d},
		{"interactive", 'i', CLI_FLAG_BOOL, &i},
		{"tty", 't', CLI_FLAG_BOOL, &t},
		{"name", 0, CLI_FLAG_STR, &name},
		{"env", 'e', CLI_FLAG_LIST, &env},
	};
	char **argv =
		args(12, "run", "-it", "--name", "web", "-eA=1", "--env=B=2",
		     "-e", "C=3", "busybox", "sh", "-c", "echo");
	int k = cli_flags("run", f, 5, 12, argv, false);
	assert_int_equal(k, 8);
	assert_string_equal(argv[k], "busybox");
	assert_true(i && t && !d);
	assert_string_equal(name, "web");
	assert_int_equal(env.n, 3);
	assert_string_equal(env.v[0], "A=1");
	assert_string_equal(env.v[1], "B=2");
	assert_string_equal(env.v[2], "C=3");
	assert_null(env.v[3]);
}

static void flags_after_positionals_are_read_when_interspersed(void **state)
{
	bool force = false;
	const struct cli_flag f[] = {{"force", 'f', CLI_FLAG_BOOL, &force}};
	char **argv = args(4, "rm", "a", "-f", "b");
	int k = cli_flags("rm", f, 1, 4, argv, true);
	assert_true(force);
	assert_int_equal(k, 2);
	assert_string_equal(argv[2], "a");
	assert_string_equal(argv[3], "b");
}

static void unknown_flags_and_missing_values_are_errors(void **state)
{
	const char *t = NULL;
	const struct cli_flag f[] = {{"time", 't', CLI_FLAG_STR, &t}};
	char **a1 = args(3, "stop", "--nope", "x");
	assert_int_equal(cli_flags("stop", f, 1, 3, a1, true), -1);
	char **a2 = args(2, "stop", "-t");
	assert_int_equal(cli_flags("stop", f, 1, 2, a2, true), -1);
	char **a3 = args(2, "stop", "-z");
	assert_int_equal(cli_flags("stop", f, 1, 2, a3, true), -1);
	char **a4 = args(2, "stop", "--help");
	assert_int_equal(cli_flags("stop", f, 1, 2, a4, true), -2);
	char **a5 = args(3, "stop", "-t5", "x");
	assert_int_equal(cli_flags("stop", f, 1, 3, a5, true), 2);
	assert_string_equal(t, "5");
}

static void double_dash_ends_the_flags(void **state)
{
	bool d = false;
	const struct cli_flag f[] = {{"detach", 'd', CLI_FLAG_BOOL, &d}};
	char **argv = args(3, "x", "--", "-d");
	int k = cli_flags("x", f, 1, 3, argv, true);
	assert_false(d);
	assert_int_equal(k, 2);
	assert_string_equal(argv[2], "-d");
}

static void sizes_parse_as_docker_memory_flags(void **state)
{
	assert_int_equal(cli_parse_size("1024"), 1024);
	assert_int_equal(cli_parse_size("512m"), 512LL << 20);
	assert_int_equal(cli_parse_size("512MB"), 512LL << 20);
	assert_int_equal(cli_parse_size("1g"), 1LL << 30);
	assert_int_equal(cli_parse_size("1.5k"), 1536);
	assert_int_equal(cli_parse_size("abc"), -1);
	assert_int_equal(cli_parse_size("12zz"), -1);
	assert_int_equal(cli_parse_size("-1m"), -1);
	assert_int_equal(cli_parse_size(""), -1);
}

static void durations_read_like_docker_ps(void **state)
{
	char b[64];
	time_format_human(0, b, sizeof(b));
	assert_string_equal(b, "Less than a second");
	time_format_human(1, b, sizeof(b));
	assert_string_equal(b, "1 second");
	time_format_human(3, b, sizeof(b));
	assert_string_equal(b, "3 seconds");
	time_format_human(60, b, sizeof(b));
	assert_string_equal(b, "About a minute");
	time_format_human(600, b, sizeof(b));
	assert_string_equal(b, "10 minutes");
	time_format_human(3600, b, sizeof(b));
	assert_string_equal(b, "About an hour");
	time_format_human(5 * 3600, b, sizeof(b));
	assert_string_equal(b, "5 hours");
	time_format_human(3 * 86400, b, sizeof(b));
	assert_string_equal(b, "3 days");
	time_format_human(21 * 86400, b, sizeof(b));
	assert_string_equal(b, "3 weeks");
}

static void image_sizes_use_decimal_units_like_docker_images(void **state)
{
	char b[32];
	cli_human_size(1982464, b, sizeof(b));
	assert_string_equal(b, "1.98MB");
	cli_human_size(999, b, sizeof(b));
	assert_string_equal(b, "999B");
	cli_human_size(5.6e9, b, sizeof(b));
	assert_string_equal(b, "5.6GB");
}

static void commands_are_cut_to_twenty_characters(void **state)
{
	char b[128];
	cli_ellipsis("sh -c echo out; echo err", 20, b, sizeof(b));
	assert_string_equal(b, "sh -c echo out; ech…");
	cli_ellipsis("sleep 30", 20, b, sizeof(b));
	assert_string_equal(b, "sleep 30");
	cli_ellipsis("12345678901234567890", 20, b, sizeof(b));
	assert_string_equal(b, "12345678901234567890");
}

static void query_values_are_percent_encoded(void **state)
{
	char b[128];
	cli_escape("{\"status\":[\"running\"]}", b, sizeof(b));
	assert_string_equal(b, "%7B%22status%22%3A%5B%22running%22%5D%7D");
	cli_escape("CMD [\"sh\"]", b, sizeof(b));
	assert_string_equal(b, "CMD%20%5B%22sh%22%5D");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			combined_short_flags_and_values_parse_like_docker),
		cmocka_unit_test(
			flags_after_positionals_are_read_when_interspersed),
		cmocka_unit_test(unknown_flags_and_missing_values_are_errors),
		cmocka_unit_test(double_dash_ends_the_flags),
		cmocka_unit_test(sizes_parse_as_docker_memory_flags),
		cmocka_unit_test(durations_read_like_docker_ps),
		cmocka_unit_test(
			image_sizes_use_decimal_units_like_docker_images),
		cmocka_unit_test(commands_are_cut_to_twenty_characters),
		cmocka_unit_test(query_values_are_percent_encoded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
