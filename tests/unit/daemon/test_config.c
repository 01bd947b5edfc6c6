/*
 * Unit tests of shoald's flag parsing (daemon/config.c) for
 * --bridge-nf-call, and of its writer (daemon/brnf.c) on a stand-in
 * /proc/sys made in a temporary folder: keep touches nothing, off writes 0
 * to the three files, an absent net/bridge is nothing to do, a file that
 * cannot be written is an error naming it.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/config.h"

static struct daemon_config cfg;
static char err[512];

static char prog[] = "shoald";

static int parse(const char *a, const char *b)
{
	char *argv[] = {prog, (char *)a, (char *)b, NULL};
	int argc = b ? 3 : 2;
	err[0] = '\0';
	return daemon_config_parse(argc, argv, &cfg, err, sizeof(err));
}

static void test_default_keep(void **state)
{
	(void)state;
	char *argv[] = {prog, NULL};
	assert_int_equal(daemon_config_parse(1, argv, &cfg, err, sizeof(err)),
			 CONFIG_RUN);
	assert_int_equal(cfg.bridge_nf_call, DAEMON_BRNF_KEEP);
}

static void test_values(void **state)
{
	(void)state;
	assert_int_equal(parse("--bridge-nf-call=off", NULL), CONFIG_RUN);
	assert_int_equal(cfg.bridge_nf_call, DAEMON_BRNF_OFF);
	assert_int_equal(parse("--bridge-nf-call", "off"), CONFIG_RUN);
	assert_int_equal(cfg.bridge_nf_call, DAEMON_BRNF_OFF);
	assert_int_equal(parse("--bridge-nf-call=keep", NULL), CONFIG_RUN);
	assert_int_equal(cfg.bridge_nf_call, DAEMON_BRNF_KEEP);
}

static void test_refused(void **state)
{
	(void)state;
	const char *bad[] = {"on", "OFF", "0", "", "off "};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char arg[64];
		snprintf(arg, sizeof(arg), "--bridge-nf-call=%s", bad[i]);
		assert_int_equal(parse(arg, NULL), -EINVAL);
		assert_non_null(strstr(err, "--bridge-nf-call"));
		assert_non_null(strstr(err, "expected keep or off"));
	}
	assert_int_equal(parse("--bridge-nf-call", NULL), -EINVAL);
	assert_string_equal(err, "flag needs an argument: --bridge-nf-call");
}

static char root[64];

static void mk_proc(bool with_bridge)
{
	snprintf(root, sizeof(root), "/tmp/shoal-brnf.XXXXXX");
	assert_non_null(mkdtemp(root));
	char p[256];
	snprintf(p, sizeof(p), "%s/net", root);
	assert_int_equal(mkdir(p, 0755), 0);
	if (!with_bridge)
		return;
	snprintf(p, sizeof(p), "%s/net/bridge", root);
	assert_int_equal(mkdir(p, 0755), 0);
	const char *names[] = {"iptables", "ip6tables", "arptables"};
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/net/bridge/bridge-nf-call-%s", root,
			 names[i]);
		FILE *f = fopen(p, "w");
		assert_non_null(f);
		fputs("1\n", f);
		fclose(f);
	}
}

static void read_file(const char *name, char *out, size_t cap)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/net/bridge/bridge-nf-call-%s", root, name);
	FILE *f = fopen(p, "r");
	assert_non_null(f);
	size_t n = fread(out, 1, cap - 1, f);
	out[n] = '\0';
	fclose(f);
}

static void rm_proc(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	assert_int_equal(system(cmd), 0);
}

static void test_apply_keep_and_off(void **state)
{
	(void)state;
	char v[16];
	mk_proc(true);
	assert_int_equal(
		daemon_brnf_apply(DAEMON_BRNF_KEEP, root, err, sizeof(err)), 0);
	read_file("iptables", v, sizeof(v));
	assert_string_equal(v, "1\n");
	assert_int_equal(
		daemon_brnf_apply(DAEMON_BRNF_OFF, root, err, sizeof(err)), 0);
	read_file("iptables", v, sizeof(v));
	assert_string_equal(v, "0\n");
	read_file("ip6tables", v, sizeof(v));
	assert_string_equal(v, "0\n");
	read_file("arptables", v, sizeof(v));
	assert_string_equal(v, "0\n");
	rm_proc();
}

static void test_apply_absent(void **state)
{
	(void)state;
	mk_proc(false);
	assert_int_equal(
		daemon_brnf_apply(DAEMON_BRNF_OFF, root, err, sizeof(err)), 0);
	rm_proc();
}

static void test_apply_unwritable(void **state)
{
	(void)state;
	mk_proc(true);
	char p[256];
	/* A directory where a file should be: open(O_WRONLY) fails with
	 * EISDIR whoever runs the test (root passes mode bits). */
	snprintf(p, sizeof(p), "%s/net/bridge/bridge-nf-call-ip6tables", root);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(mkdir(p, 0755), 0);
	err[0] = '\0';
	assert_int_equal(
		daemon_brnf_apply(DAEMON_BRNF_OFF, root, err, sizeof(err)),
		-EISDIR);
	assert_non_null(strstr(err, p));
	assert_non_null(strstr(err, "--bridge-nf-call"));
	rm_proc();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_keep),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_apply_keep_and_off),
		cmocka_unit_test(test_apply_absent),
		cmocka_unit_test(test_apply_unwritable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
