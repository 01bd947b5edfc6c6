/*
 * Unit tests of cli/: the table printer's docker-like widths, human sizes,
 * --format parsing, and the message when no daemon answers.
 */
/* cmocka needs these first */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/table.h"
#include "common/alloc.h"

static void table_pads_columns_like_dockers_tabwriter(void **state)
{
	int64_t live = shoal_alloc_live();
	const char *h[] = {"ID", "HOSTNAME", "STATUS"};
	struct cli_table *t;
	assert_int_equal(cli_table_new(3, h, &t), 0);
	const char *r1[] = {"abc", "node-one-long-name", "Ready"};
	const char *r2[] = {"défg", "n2", "Down"};
	assert_int_equal(cli_table_add(t, r1), 0);
	assert_int_equal(cli_table_add(t, r2), 0);
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	cli_table_print(t, f);
	fclose(f);
	assert_string_equal(out, "ID        HOSTNAME             STATUS\n"
				 "abc       node-one-long-name   Ready\n"
				 "défg      n2                   Down\n");
	free(out);
	cli_table_free(t);
	assert_int_equal(shoal_alloc_live(), live);
}

static void sizes_print_with_binary_units(void **state)
{
	char b[32];
	cli_bytes(512, b, sizeof(b));
	assert_string_equal(b, "512B");
	cli_bytes(25275707392.0, b, sizeof(b));
	assert_string_equal(b, "23.54GiB");
	cli_bytes(1024 * 1024, b, sizeof(b));
	assert_string_equal(b, "1MiB");
}

static void format_flag_accepts_only_json(void **state)
{
	bool json;
	char *a1[] = {(char *)"info", (char *)"--format", (char *)"json"};
	assert_int_equal(cli_format_flag("info", 3, a1, &json), 0);
	assert_true(json);
	char *a2[] = {(char *)"info", (char *)"--format=yaml"};
	assert_int_equal(cli_format_flag("info", 2, a2, &json), -1);
	char *a3[] = {(char *)"info"};
	assert_int_equal(cli_format_flag("info", 1, a3, &json), 0);
	assert_false(json);
	char *a4[] = {(char *)"info", (char *)"--format"};
	assert_int_equal(cli_format_flag("info", 2, a4, &json), -1);
}

static void missing_daemon_is_reported_with_its_address(void **state)
{
	struct cli cli = {.host = "unix:///nonexistent/shoald.sock"};
	char *err = NULL;
	size_t len = 0;
	fflush(stderr);
	int saved = dup(2);
	FILE *f = open_memstream(&err, &len);
	int p[2];
	assert_int_equal(pipe(p), 0);
	dup2(p[1], 2);
	close(p[1]);
	json_t *v = NULL;
	int rc = cli_api_get(&cli, "/info", &v);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	char buf[512] = {0};
	ssize_t n = read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	fclose(f);
	free(err);
	assert_int_equal(rc, -1);
	assert_null(v);
	assert_true(n > 0);
	assert_string_equal(buf, "Cannot connect to the Shoal daemon at "
				 "unix:///nonexistent/shoald.sock. Is shoald "
				 "running?\n");
}

int main(void)
{
	shoal_alloc_install();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(table_pads_columns_like_dockers_tabwriter),
		cmocka_unit_test(sizes_print_with_binary_units),
		cmocka_unit_test(format_flag_accepts_only_json),
		cmocka_unit_test(missing_daemon_is_reported_with_its_address),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
