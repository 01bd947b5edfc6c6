/*
 * `shoal stack deploy`'s decision to update a service or leave it alone
 * (cli__stack_same()): the spec converted from a compose file against the
 * spec shoald answers for the service it made from it (as GET
 * /services/{id} returns it), then against that spec with one field
 * changed, added or removed, and with defaults a daemon fills in.
 */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <string.h>

#include "cli/stack.h"
#include "compose/compose.h"

static const char *const file = "services:\n"
				"  web:\n"
				"    image: busybox\n"
				"    command: httpd -f -p 80\n"
				"    ports: ['8080:80']\n"
				"    environment: {A: '1', B: '2'}\n"
				"    networks: [front]\n"
				"networks:\n"
				"  front:\n";

/* What shoald answered for the service made from @file (stored as
 * sent, keys in another order). */
static const char *const stored =
	"{\"Name\": \"demo_web\", \"Labels\": {\"com.docker.stack.image\": "
	"\"busybox\", \"com.docker.stack.namespace\": \"demo\"}, "
	"\"TaskTemplate\": {\"ContainerSpec\": {\"Labels\": "
	"{\"com.docker.stack.namespace\": \"demo\"}, \"Image\": \"busybox\", "
	"\"Args\": [\"httpd\", \"-f\", \"-p\", \"80\"], \"Env\": [\"A=1\", "
	"\"B=2\"]}, \"Networks\": [{\"Target\": \"demo_front\", \"Aliases\": "
	"[\"web\"]}]}, \"EndpointSpec\": {\"Mode\": \"vip\", \"Ports\": "
	"[{\"Protocol\": \"tcp\", \"TargetPort\": 80, \"PublishMode\": "
	"\"ingress\", \"PublishedPort\": 8080}]}, \"Mode\": {\"Replicated\": "
	"{\"Replicas\": 1}}}";

static json_t *spec_of(const char *yaml)
{
	struct compose_opts o = {.stack = "demo", .dir = "/"};
	struct shoal_err err = {{0}};
	json_t *doc = NULL, *out = NULL, *s;
	assert_int_equal(
		compose_parse(yaml, strlen(yaml), "f", NULL, &doc, &err), 0);
	if (compose_convert(doc, &o, &out, &err) < 0)
		fail_msg("%s", err.msg);
	s = json_incref(
		json_object_get(json_object_get(out, "Services"), "web"));
	json_decref(out);
	json_decref(doc);
	return s;
}

static json_t *have(void)
{
	json_error_t e;
	json_t *h = json_loads(stored, 0, &e);
	assert_non_null(h);
	return h;
}

static json_t *cs(json_t *spec)
{
	return json_object_get(json_object_get(spec, "TaskTemplate"),
			       "ContainerSpec");
}

static void an_unchanged_file_needs_no_update(void **state)
{
	(void)state;
	json_t *w = spec_of(file), *h = have();
	assert_true(cli__stack_same(w, h));
	/* Defaults a daemon fills in do not count as a change. */
	json_object_set_new(json_object_get(h, "TaskTemplate"), "ForceUpdate",
			    json_integer(0));
	json_object_set_new(json_object_get(h, "TaskTemplate"), "Resources",
			    json_pack("{s:{}}", "Limits"));
	json_object_set_new(cs(h), "Mounts", json_array());
	json_object_set_new(cs(h), "TTY", json_false());
	assert_true(cli__stack_same(w, h));
	json_decref(w);
	json_decref(h);
}

static void a_changed_image_needs_an_update(void **state)
{
	(void)state;
	json_t *w = spec_of(file), *h = have();
	json_object_set_new(cs(h), "Image", json_string("busybox:v2"));
	assert_false(cli__stack_same(w, h));
	json_decref(w);
	json_decref(h);
}

static void a_removed_variable_needs_an_update(void **state)
{
	(void)state;
	json_t *w = spec_of(file), *h = have();
	json_array_append_new(json_object_get(cs(h), "Env"),
			      json_string("C=3"));
	assert_false(cli__stack_same(w, h));
	json_decref(w);
	json_decref(h);
}

static void a_field_the_file_no_longer_sets_needs_an_update(void **state)
{
	(void)state;
	json_t *w = spec_of(file), *h = have();
	json_object_set_new(cs(h), "User", json_string("nobody"));
	assert_false(cli__stack_same(w, h));
	json_decref(w);
	json_decref(h);
}

static void a_new_field_in_the_file_needs_an_update(void **state)
{
	(void)state;
	json_t *w = spec_of("services:\n  web:\n    image: busybox\n"
			    "    command: httpd -f -p 80\n"
			    "    ports: ['8080:80']\n"
			    "    environment: {A: '1', B: '2'}\n"
			    "    networks: [front]\n"
			    "    deploy: {replicas: 3}\n"
			    "networks:\n  front:\n"),
	       *h = have();
	assert_false(cli__stack_same(w, h));
	json_decref(w);
	json_decref(h);
}

static void numbers_compare_by_value(void **state)
{
	(void)state;
	json_t *a = json_pack("{s:i}", "x", 1),
	       *b = json_pack("{s:f}", "x", 1.0);
	assert_true(cli__stack_same(a, b));
	json_object_set_new(b, "x", json_real(1.5));
	assert_false(cli__stack_same(a, b));
	json_decref(a);
	json_decref(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(an_unchanged_file_needs_no_update),
		cmocka_unit_test(a_changed_image_needs_an_update),
		cmocka_unit_test(a_removed_variable_needs_an_update),
		cmocka_unit_test(
			a_field_the_file_no_longer_sets_needs_an_update),
		cmocka_unit_test(a_new_field_in_the_file_needs_an_update),
		cmocka_unit_test(numbers_compare_by_value),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
