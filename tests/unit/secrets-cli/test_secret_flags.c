/*
 * Unit tests of the secret and config flags of `shoal service create` and
 * `update` (cli/service_opts.c): docker's --secret and --config forms into
 * references by name with docker's defaults (target, uid, gid, mode
 * 0444), the -add/-rm pairs by name or id, and bad values refused before
 * anything is sent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "cli/service.h"
#include "common/jsonx.h"

static int run(bool update, json_t *spec, const char *args)
{
	static char buf[4096];
	char *argv[64];
	int argc = 0;
	bool d, q, rb;
	snprintf(buf, sizeof(buf), "%s", args);
	argv[argc++] = (char *)(update ? "update" : "create");
	for (char *save = NULL, *t = strtok_r(buf, " ", &save); t;
	     t = strtok_r(NULL, " ", &save))
		argv[argc++] = t;
	argv[argc] = NULL;
	return cli__service_opts("service x", argc, argv, update, spec, &d, &q,
				 &rb) < 0
		       ? -1
		       : 0;
}

static const json_t *ref(const json_t *spec, const char *key, size_t i)
{
	const json_t *cs = json_object_get(
		json_object_get(spec, "TaskTemplate"), "ContainerSpec");
	return json_array_get(json_object_get(cs, key), i);
}

static const char *file(const json_t *r, const char *key)
{
	return jsonx_str(json_object_get(r, "File"), key, "");
}

static void secret_and_config_flags_make_references(void **state)
{
	json_t *s = json_object();
	assert_int_equal(
		run(false, s,
		    "--secret db --secret source=tok,target=t,uid=10,gid=20,"
		    "mode=0400 --config app_conf --config src=c2,target=/etc/x "
		    "busybox"),
		0);
	const json_t *a = ref(s, "Secrets", 0), *b = ref(s, "Secrets", 1);
	assert_string_equal(jsonx_str(a, "SecretName", ""), "db");
	assert_string_equal(file(a, "Name"), "db");
	assert_string_equal(file(a, "UID"), "0");
	assert_int_equal(jsonx_int(json_object_get(a, "File"), "Mode", 0),
			 0444);
	assert_string_equal(jsonx_str(b, "SecretName", ""), "tok");
	assert_string_equal(file(b, "Name"), "t");
	assert_string_equal(file(b, "UID"), "10");
	assert_string_equal(file(b, "GID"), "20");
	assert_int_equal(jsonx_int(json_object_get(b, "File"), "Mode", 0),
			 0400);
	assert_string_equal(jsonx_str(ref(s, "Configs", 0), "ConfigName", ""),
			    "app_conf");
	assert_string_equal(file(ref(s, "Configs", 0), "Name"), "/app_conf");
	assert_string_equal(file(ref(s, "Configs", 1), "Name"), "/etc/x");
	json_decref(s);
}

static void add_and_rm_edit_the_references(void **state)
{
	json_t *s = json_loads(
		"{\"Name\":\"web\",\"TaskTemplate\":{\"ContainerSpec\":{"
		"\"Image\":\"busybox\",\"Secrets\":[{\"SecretID\":\"id1\","
		"\"SecretName\":\"a\",\"File\":{\"Name\":\"a\"}},{\"SecretID\":"
		"\"id2\",\"SecretName\":\"b\",\"File\":{\"Name\":\"b\"}}],"
		"\"Configs\":[{\"ConfigID\":\"c1\",\"ConfigName\":\"c\","
		"\"File\":{\"Name\":\"/c\"}}]}}}",
		0, NULL);
	assert_non_null(s);
	assert_int_equal(run(true, s,
			     "--secret-rm a --secret-rm id2 --secret-add n "
			     "--config-rm c web"),
			 0);
	assert_string_equal(jsonx_str(ref(s, "Secrets", 0), "SecretName", ""),
			    "n");
	assert_null(ref(s, "Secrets", 1));
	assert_null(ref(s, "Configs", 0));
	json_decref(s);
}

static void bad_references_are_refused_before_sending(void **state)
{
	static const char *const bad[] = {
		"--secret target=x busybox",
		"--secret source=a,mode=999 busybox",
		"--secret source=a,mode=rw busybox",
		"--secret source=a,colour=red busybox",
		"--config source=a,nokey busybox",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *s = json_object();
		if (run(false, s, bad[i]) == 0)
			fail_msg("accepted: %s", bad[i]);
		json_decref(s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(secret_and_config_flags_make_references),
		cmocka_unit_test(add_and_rm_edit_the_references),
		cmocka_unit_test(bad_references_are_refused_before_sending),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
