/*
 * Unit tests of secrets and configs (docs/secrets.md): Docker's name rule
 * and size limits for a create body, Driver and template drivers other
 * than golang refused by name; service references checked (targets, conflicts,
 * ids) and resolved against the store ("secret not found: X"); the assignment
 * items a node gets (only for its runnable tasks, once each); and the
 * agent's side: items taken or ignored by Kind, malformed items refused,
 * the set replaced whole, a task whose secret is not in the set refused
 * with why.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/jsonx.h"
#include "manager/secrets.h"
#include "manager/service.h"
#include "manager/store.h"
#include "worker/secrets.h"
#include "worker/task.h"

static json_t *parse(const char *text)
{
	json_t *v = NULL;
	assert_int_equal(jsonx_parse(text, strlen(text), &v, NULL, 0), 0);
	return v;
}

/* A base64 string of @n bytes 'x' (owned). */
static char *b64_of(size_t n)
{
	static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
				  "qrstuvwxyz0123456789+/";
	unsigned char *in = malloc(n + 3);
	char *out = malloc(n / 3 * 4 + 8);
	size_t o = 0;
	memset(in, 0, n + 3);
	memset(in, 'x', n);
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 |
			     in[i + 2];
		size_t left = n - i;
		out[o++] = tbl[v >> 18 & 63];
		out[o++] = tbl[v >> 12 & 63];
		out[o++] = left > 1 ? tbl[v >> 6 & 63] : '=';
		out[o++] = left > 2 ? tbl[v & 63] : '=';
	}
	out[o] = '\0';
	free(in);
	return out;
}

static int spec_check(const struct secret_kind *k, const char *text, char *err,
		      size_t errlen, size_t *len)
{
	json_t *b = parse(text);
	uint8_t *data = NULL;
	size_t n = 0;
	*err = '\0';
	int rc = secret_spec_check(k, b, &data, &n, err, errlen);
	json_decref(b);
	shoal_free(data);
	if (len)
		*len = n;
	return rc;
}

static void names_follow_dockers_rule(void **state)
{
	assert_true(secret_name_valid("db_pass"));
	assert_true(secret_name_valid("a"));
	assert_true(secret_name_valid("a.b-c_d9"));
	assert_false(secret_name_valid(""));
	assert_false(secret_name_valid("-a"));
	assert_false(secret_name_valid("a_"));
	assert_false(secret_name_valid("a b"));
	assert_false(secret_name_valid("a/b"));
	char long_[70];
	memset(long_, 'a', 65);
	long_[65] = '\0';
	assert_false(secret_name_valid(long_));
	long_[64] = '\0';
	assert_true(secret_name_valid(long_));
}

static void a_create_body_is_checked_in_dockers_words(void **state)
{
	char err[300];
	size_t len;
	assert_int_equal(spec_check(&secret_kind_secret,
				    "{\"Name\":\"db\",\"Labels\":{\"a\":\"b\"},"
				    "\"Data\":\"aHVudGVyMg==\"}",
				    err, sizeof(err), &len),
			 0);
	assert_int_equal(len, 7);
	assert_int_equal(spec_check(&secret_kind_secret,
				    "{\"Name\":\"-db\",\"Data\":\"eA==\"}", err,
				    sizeof(err), NULL),
			 -EINVAL);
	assert_non_null(strstr(err, "invalid name, only 64 [a-zA-Z0-9-_.] "
				    "characters allowed"));
	assert_int_equal(spec_check(&secret_kind_secret, "{\"Name\":\"db\"}",
				    err, sizeof(err), NULL),
			 -EINVAL);
	assert_non_null(strstr(err, "secret data must be larger than 0 and "
				    "less than 512000 bytes"));
	assert_int_equal(spec_check(&secret_kind_config,
				    "{\"Name\":\"c\",\"Data\":\"!!\"}", err,
				    sizeof(err), NULL),
			 -EINVAL);
	assert_non_null(strstr(err, "Data is not valid base64"));
	assert_int_equal(spec_check(&secret_kind_secret,
				    "{\"Name\":\"db\",\"Data\":\"eA==\","
				    "\"Templating\":{\"Name\":\"golang\"}}",
				    err, sizeof(err), NULL),
			 0);
	assert_int_equal(spec_check(&secret_kind_config,
				    "{\"Name\":\"db\",\"Data\":\"eA==\","
				    "\"Templating\":{\"Name\":\"jinja\"}}",
				    err, sizeof(err), NULL),
			 -EINVAL);
	assert_non_null(strstr(err, "template driver \"jinja\" is not "
				    "supported (Templating): use golang"));
	assert_int_equal(spec_check(&secret_kind_secret,
				    "{\"Name\":\"db\",\"Data\":\"eA==\","
				    "\"Templating\":{\"Name\":\"golang\","
				    "\"Extra\":1}}",
				    err, sizeof(err), NULL),
			 -EINVAL);
	assert_int_equal(spec_check(&secret_kind_secret,
				    "{\"Name\":\"db\",\"Data\":\"eA==\","
				    "\"Driver\":{\"Name\":\"\",\"Options\":{"
				    "\"a\":\"b\"}}}",
				    err, sizeof(err), NULL),
			 -EINVAL);
	assert_int_equal(spec_check(&secret_kind_secret,
				    "{\"Name\":\"db\",\"Data\":\"eA==\","
				    "\"Driver\":{\"Name\":\"vault\"}}",
				    err, sizeof(err), NULL),
			 -EINVAL);
	assert_non_null(strstr(err, "secret drivers are not supported"));
	assert_int_equal(spec_check(&secret_kind_secret,
				    "{\"Name\":\"db\",\"Data\":\"eA==\","
				    "\"Templating\":null,\"Driver\":null}",
				    err, sizeof(err), NULL),
			 0);
	assert_int_equal(spec_check(&secret_kind_secret,
				    "{\"Name\":\"db\",\"Data\":\"eA==\","
				    "\"Extra\":1}",
				    err, sizeof(err), NULL),
			 -EINVAL);
	assert_non_null(strstr(err, "unknown field Extra"));
	assert_int_equal(spec_check(&secret_kind_secret,
				    "{\"Name\":\"db\",\"Data\":\"eA==\","
				    "\"Labels\":{\"a\":1}}",
				    err, sizeof(err), NULL),
			 -EINVAL);
}

static void size_limits_are_swarmkits(void **state)
{
	const struct {
		const struct secret_kind *k;
		size_t n;
		int rc;
	} cases[] = {
		{&secret_kind_secret, 500 * 1024 - 1, 0},
		{&secret_kind_secret, 500 * 1024, -EINVAL},
		{&secret_kind_config, 500 * 1024, 0},
		{&secret_kind_config, 1000 * 1024 - 1, 0},
		{&secret_kind_config, 1000 * 1024, -EINVAL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *b64 = b64_of(cases[i].n);
		size_t tl = strlen(b64) + 64, len = 0;
		char *text = malloc(tl), err[300];
		snprintf(text, tl, "{\"Name\":\"x\",\"Data\":\"%s\"}", b64);
		assert_int_equal(
			spec_check(cases[i].k, text, err, sizeof(err), &len),
			cases[i].rc);
		if (cases[i].rc == 0)
			assert_int_equal(len, cases[i].n);
		else
			assert_non_null(strstr(err, "must be larger than 0"));
		free(text);
		free(b64);
	}
}

/* --- service references ----------------------------------------------------
 */

static int svc_check(const char *cs_extra, char *err, size_t errlen)
{
	char text[2048];
	snprintf(text, sizeof(text),
		 "{\"Name\":\"web\",\"TaskTemplate\":{\"ContainerSpec\":{"
		 "\"Image\":\"busybox\",%s}}}",
		 cs_extra);
	json_t *in = parse(text), *out = NULL;
	*err = '\0';
	int rc = service_spec_check(in, &out, err, errlen);
	json_decref(in);
	json_decref(out);
	return rc;
}

#define FILE_(n)                                                               \
	"\"File\":{\"Name\":\"" n "\",\"UID\":\"0\",\"GID\":\"0\",\"Mode\":292}"

static void service_references_are_checked(void **state)
{
	char err[300];
	assert_int_equal(
		svc_check(
			"\"Secrets\":[{\"SecretID\":\"abc\","
			"\"SecretName\":\"db\"," FILE_(
				"pw") "}],"
				      "\"Configs\":[{\"ConfigName\":\"c\"," FILE_(
					      "/etc/app.conf") "}]",
			err, sizeof(err)),
		0);
	const struct {
		const char *extra;
		const char *why;
	} bad[] = {
		{"\"Secrets\":[{\"SecretName\":\"db\"," FILE_("../pw") "}]",
		 "invalid secret target \"../pw\""},
		{"\"Secrets\":[{\"SecretName\":\"db\"," FILE_("a/b") "}]",
		 "invalid secret target"},
		{"\"Configs\":[{\"ConfigName\":\"c\"," FILE_("/etc/../x") "}]",
		 "invalid config target"},
		{"\"Secrets\":[{\"SecretName\":\"db\"}]", "File is required"},
		{"\"Secrets\":[{" FILE_("pw") "}]", "SecretID or SecretName"},
		{"\"Secrets\":[{\"SecretName\":\"a\"," FILE_(
			 "pw") "},{\"SecretName\":\"b\"," FILE_("pw") "}]",
		 "conflicting target: 'pw'"},
		{"\"Secrets\":[{\"SecretName\":\"db\",\"File\":{\"Name\":"
		 "\"pw\",\"UID\":\"root\"}}]",
		 "UID and GID must be numeric"},
		{"\"Secrets\":[{\"SecretName\":\"db\",\"File\":{\"Name\":"
		 "\"pw\",\"Mode\":4095}}]",
		 "Mode must be an integer from 0 to 511"},
		{"\"Configs\":[{\"ConfigName\":\"c\",\"Runtime\":{}}]",
		 "Runtime is not supported"},
		{"\"Secrets\":[{\"SecretName\":\"db\",\"Bogus\":1," FILE_(
			 "pw") "}]",
		 "unknown field"},
		{"\"Secrets\":{}", "must be a list"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(svc_check(bad[i].extra, err, sizeof(err)),
				 -EINVAL);
		if (!strstr(err, bad[i].why))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err,
				 bad[i].why);
	}
}

/* A store holding secret "db" (id sec1) and config "app" (id cfg1). */
static struct store *store_with_objects(void)
{
	struct store *s;
	struct store_batch b;
	uint8_t *enc;
	size_t len;
	assert_int_equal(store_new(&s), 0);
	store_batch_init(&b, 1);
	assert_int_equal(store_batch_create(&b, STORE_SECRETS, "sec1", "db",
					    "{}", 2, "p4ss", 4),
			 0);
	assert_int_equal(store_batch_create(&b, STORE_CONFIGS, "cfg1", "app",
					    "{}", 2, "k=v", 3),
			 0);
	assert_int_equal(store_batch_finish(&b, &enc, &len), 0);
	assert_int_equal(store_apply(s, enc, len, 1, NULL), 0);
	shoal_free(enc);
	return s;
}

static void references_resolve_against_the_store(void **state)
{
	struct store *s = store_with_objects();
	char err[300] = "";
	json_t *spec =
		parse("{\"TaskTemplate\":{\"ContainerSpec\":{\"Secrets\":[{"
		      "\"SecretName\":\"db\",\"File\":{\"Name\":\"pw\"}}],"
		      "\"Configs\":[{\"ConfigID\":\"cfg1\",\"File\":{\"Name\":"
		      "\"/a\"}}]}}}");
	assert_int_equal(secret_refs_resolve(s, spec, err, sizeof(err)), 0);
	const json_t *sr =
		json_array_get(secret_refs(&secret_kind_secret, spec), 0);
	const json_t *cr =
		json_array_get(secret_refs(&secret_kind_config, spec), 0);
	assert_string_equal(jsonx_str(sr, "SecretID", ""), "sec1");
	assert_string_equal(jsonx_str(cr, "ConfigName", ""), "app");
	assert_true(secret_used_by(&secret_kind_secret, spec, "sec1"));
	assert_false(secret_used_by(&secret_kind_secret, spec, "cfg1"));
	json_decref(spec);

	spec = parse("{\"TaskTemplate\":{\"ContainerSpec\":{\"Secrets\":[{"
		     "\"SecretName\":\"nosuch\",\"File\":{\"Name\":\"a\"}},{"
		     "\"SecretName\":\"db\",\"SecretID\":\"other\",\"File\":{"
		     "\"Name\":\"b\"}}]}}}");
	assert_int_equal(secret_refs_resolve(s, spec, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "rpc error: code = InvalidArgument desc = "
				 "secret not found: nosuch, db");
	json_decref(spec);
	store_free(s);
}

static char *task_item(const char *id, const char *desired)
{
	char buf[1024];
	snprintf(buf, sizeof(buf),
		 "{\"ID\":\"%s\",\"DesiredState\":\"%s\",\"Spec\":{"
		 "\"ContainerSpec\":{\"Image\":\"b\",\"Secrets\":[{"
		 "\"SecretID\":\"sec1\",\"File\":{\"Name\":\"pw\"}}],"
		 "\"Configs\":[{\"ConfigID\":\"cfg1\",\"File\":{\"Name\":"
		 "\"/a\"}}]}}}",
		 id, desired);
	char *s = shoal_malloc(strlen(buf) + 1);
	strcpy(s, buf);
	return s;
}

static void a_node_gets_the_items_of_its_runnable_tasks_once(void **state)
{
	struct store *s = store_with_objects();
	size_t n = 0, cap = 4;
	struct mgr_item *items = shoal_calloc(cap, sizeof(*items));
	const char *const tasks[][2] = {
		{"t1", "shutdown"}, {"t2", "running"}, {"t3", "running"}};
	for (size_t i = 0; i < 3; i++) {
		char *j = task_item(tasks[i][0], tasks[i][1]);
		items[n++] = (struct mgr_item){j, strlen(j)};
	}
	assert_int_equal(orch_secrets_append(s, &items, &n, &cap), 0);
	assert_int_equal(n, 5);
	json_t *a = parse(items[3].data), *b = parse(items[4].data);
	assert_string_equal(jsonx_str(a, "Kind", ""), "secret");
	assert_string_equal(jsonx_str(a, "ID", ""), "sec1");
	assert_string_equal(jsonx_str(a, "Name", ""), "db");
	assert_string_equal(jsonx_str(a, "Data", ""), "cDRzcw==");
	assert_string_equal(jsonx_str(b, "Kind", ""), "config");
	assert_string_equal(jsonx_str(b, "Data", ""), "az12");
	json_decref(a);
	json_decref(b);
	for (size_t i = 0; i < n; i++)
		shoal_free((void *)items[i].data);
	shoal_free(items);

	/* Only a shut-down task: nothing of its secrets. */
	n = 0;
	cap = 1;
	items = shoal_calloc(cap, sizeof(*items));
	char *j = task_item("t1", "shutdown");
	items[n++] = (struct mgr_item){j, strlen(j)};
	assert_int_equal(orch_secrets_append(s, &items, &n, &cap), 0);
	assert_int_equal(n, 1);
	shoal_free(j);
	shoal_free(items);
	store_free(s);
}

/* --- the agent's side
 * --------------------------------------------------------- */

static int item(struct wsecrets *w, const char *text, struct shoal_err *err)
{
	err->msg[0] = '\0';
	return wsecrets_item(w, text, strlen(text), err);
}

static void the_agent_takes_items_by_kind(void **state)
{
	struct wsecrets *w;
	struct shoal_err err;
	assert_int_equal(wsecrets_new("/nonexistent/secrets", &w), 0);
	wsecrets_begin(w);
	assert_int_equal(item(w, "{\"ID\":\"t1\"}", &err), 0);
	assert_int_equal(item(w, "{\"Kind\":\"task\",\"ID\":\"t1\"}", &err), 0);
	assert_int_equal(item(w, "{\"Kind\":\"network\",\"ID\":\"n\"}", &err),
			 1);
	assert_int_equal(item(w,
			      "{\"Kind\":\"secret\",\"ID\":\"sec1\",\"Name\":"
			      "\"db\",\"Data\":\"cDRzcw==\"}",
			      &err),
			 1);
	assert_int_equal(item(w,
			      "{\"Kind\":\"secret\",\"ID\":\"../x\",\"Name\":"
			      "\"db\",\"Data\":\"cDRzcw==\"}",
			      &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "without a valid ID"));
	assert_int_equal(item(w,
			      "{\"Kind\":\"config\",\"ID\":\"c1\",\"Name\":"
			      "\"c\",\"Data\":\"@@\"}",
			      &err),
			 -EINVAL);
	assert_int_equal(
		item(w, "{\"Kind\":\"config\",\"ID\":\"c1\",\"Name\":\"c\"}",
		     &err),
		-EINVAL);
	assert_int_equal(wsecrets_count(w), 0);
	wsecrets_commit(w);
	assert_int_equal(wsecrets_count(w), 1);
	/* A new set without it: forgotten. */
	wsecrets_begin(w);
	wsecrets_commit(w);
	assert_int_equal(wsecrets_count(w), 0);
	wsecrets_free(w);
}

static void a_task_whose_secret_is_not_here_is_refused_with_why(void **state)
{
	static const struct wtask_node node = {"n", "linux", "x86_64"};
	const char *text =
		"{\"ID\":\"t1abc\",\"Version\":{\"Index\":7},\"ServiceID\":"
		"\"s1\",\"NodeID\":\"n1\",\"Slot\":1,\"ServiceAnnotations\":{"
		"\"Name\":\"web\"},\"DesiredState\":\"running\",\"Status\":{"
		"\"State\":\"assigned\"},\"Spec\":{\"ContainerSpec\":{"
		"\"Image\":\"b\",\"Secrets\":[{\"SecretID\":\"sec9\","
		"\"SecretName\":\"gone\",\"File\":{\"Name\":\"pw\"}}]}}}";
	struct wtask *t = NULL;
	struct wsecrets *w;
	struct shoal_err err = {""};
	char **binds = NULL;
	assert_int_equal(wtask_decode(text, strlen(text), &node, &t, &err), 0);
	assert_string_equal(t->spec_error, "");
	assert_int_equal(wsecrets_new("/nonexistent/secrets", &w), 0);
	assert_int_equal(wsecrets_prepare(w, t, &node, &binds, &err), -EINVAL);
	assert_null(binds);
	assert_string_equal(err.msg, "secret gone (sec9) is not in this "
				     "node's assignments");
	wsecrets_free(w);
	wtask_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(names_follow_dockers_rule),
		cmocka_unit_test(a_create_body_is_checked_in_dockers_words),
		cmocka_unit_test(size_limits_are_swarmkits),
		cmocka_unit_test(service_references_are_checked),
		cmocka_unit_test(references_resolve_against_the_store),
		cmocka_unit_test(
			a_node_gets_the_items_of_its_runnable_tasks_once),
		cmocka_unit_test(the_agent_takes_items_by_kind),
		cmocka_unit_test(
			a_task_whose_secret_is_not_here_is_refused_with_why),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
