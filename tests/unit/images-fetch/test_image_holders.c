/*
 * The holders of a task's image as the leader computes them
 * (manager/image_holders.h) and the agent's check of the item
 * (worker/task_fetch.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "common/jsonx.h"
#include "manager/image_holders.h"
#include "manager/store.h"
#include "worker/task_fetch.h"

#define ID_A                                                                   \
	"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ID_B                                                                   \
	"sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static bool match(const char *ref, const char *id, const char *tag)
{
	const char *tags[1] = {tag};
	const char *got;
	return mgr_image_ref_matches(ref, id, tags, tag ? 1 : 0, &got);
}

static void names_match_as_docker_normalizes_them(void **state)
{
	(void)state;
	assert_true(match("busybox", ID_A, "busybox:latest"));
	assert_true(match("busybox:latest", ID_A, "busybox:latest"));
	assert_true(match("docker.io/library/busybox", ID_A, "busybox:latest"));
	assert_true(
		match("busybox:latest@sha256:1234", ID_A, "busybox:latest"));
	assert_true(match("reg:5000/app", ID_A, "reg:5000/app:latest"));
	assert_false(match("busybox:1", ID_A, "busybox:latest"));
	assert_false(match("reg:5000/app", ID_A, "app:latest"));
	assert_false(match("busy", ID_A, "busybox:latest"));
	/* by id: whole, with or without the algorithm, or a prefix */
	assert_true(match(ID_A, ID_A, NULL));
	assert_true(match("aaaaaaaaaaaa", ID_A, NULL));
	assert_true(match("sha256:aaaa", ID_A, NULL));
	assert_false(match("aaaaaaaaaaab", ID_A, NULL));
	assert_false(match("aaa", ID_A, NULL)); /* too short to be an id */
	assert_false(match("", ID_A, "busybox:latest"));
}

/* A node object: @state ("ready", "down"), @addr, and its images. */
static void add_node(struct store_batch *b, const char *id, const char *host,
		     const char *state, const char *addr, const char *images)
{
	char st[2048];
	snprintf(st, sizeof(st),
		 "{\"Description\":{\"Hostname\":\"%s\"},\"Status\":{"
		 "\"State\":\"%s\",\"Addr\":\"%s\"},\"Images\":{\"Images\":"
		 "[%s],\"Truncated\":false}}",
		 host, state, addr, images);
	assert_int_equal(store_batch_create(b, STORE_NODES, id, NULL, "{}", 2,
					    st, strlen(st)),
			 0);
}

#define IMG(id, tag)                                                           \
	"{\"Id\":\"" id "\",\"Layers\":[],\"RepoTags\":[\"" tag "\"]}"

static struct store *lab(void)
{
	struct store *s;
	struct store_batch b;
	uint8_t *enc;
	size_t len;
	assert_int_equal(store_new(&s), 0);
	store_batch_init(&b, 1);
	add_node(&b, "n1", "h1", "ready", "10.0.0.1", IMG(ID_A, "web:1"));
	add_node(&b, "n2", "h2", "ready", "10.0.0.2", "");
	add_node(&b, "n3", "h3", "ready", "10.0.0.3", IMG(ID_A, "web:1"));
	add_node(&b, "n4", "h4", "down", "10.0.0.4", IMG(ID_A, "web:1"));
	add_node(&b, "n5", "h5", "ready", "10.0.0.5", IMG(ID_B, "web:1"));
	assert_int_equal(store_batch_finish(&b, &enc, &len), 0);
	assert_int_equal(store_apply(s, enc, len, 1, NULL), 0);
	shoal_free(enc);
	return s;
}

static char *annotate(const struct mgr_holders *h, const char *node,
		      const char *image, enum task_state state)
{
	struct orch_task t;
	memset(&t, 0, sizeof(t));
	snprintf(t.node_id, sizeof(t.node_id), "%s", node);
	t.state = state;
	t.desired = TASK_RUNNING;
	char spec[256];
	snprintf(spec, sizeof(spec), "{\"ContainerSpec\":{\"Image\":\"%s\"}}",
		 image);
	t.spec_text = spec;
	char *j = shoal_strdup("{\"ID\":\"t1\"}");
	size_t len = strlen(j);
	assert_int_equal(mgr_holders_annotate(h, &t, &j, &len), 0);
	assert_int_equal(strlen(j), len);
	return j;
}

static void holders_are_the_ready_nodes_of_the_most_held_image(void **state)
{
	(void)state;
	struct store *s = lab();
	struct mgr_holders *h = NULL;
	assert_int_equal(mgr_holders_update(&h, s, 1), 1);
	assert_int_equal(mgr_holders_update(&h, s, 1), 0); /* same gen */
	char *j = annotate(h, "n2", "web:1", TASK_ASSIGNED);
	json_t *o = json_loads(j, 0, NULL);
	json_t *ih = json_object_get(o, "ImageHolders");
	assert_non_null(ih);
	assert_string_equal(jsonx_str(o, "ID", ""), "t1");
	assert_string_equal(jsonx_str(ih, "ID", ""), ID_A); /* 2 over 1 */
	assert_string_equal(jsonx_str(ih, "Tag", ""), "web:1");
	assert_string_equal(jsonx_str(ih, "Image", ""), "web:1");
	json_t *hs = json_object_get(ih, "Holders");
	assert_int_equal(json_array_size(hs), 2); /* h4 is down */
	assert_string_equal(jsonx_str(json_array_get(hs, 0), "Addr", ""),
			    "10.0.0.1:2386");
	assert_string_equal(jsonx_str(json_array_get(hs, 1), "Hostname", ""),
			    "h3");
	/* The agent takes what the leader sends. */
	struct shoal_err err = {""};
	assert_int_equal(wfetch_item_check(ih, &err), 0);
	json_decref(o);
	shoal_free(j);

	/* A node that holds it, a task already running, an image no one
	 * holds: no holders. */
	const char *cases[][2] = {{"n1", "web:1"}, {"n2", "nosuch:1"}};
	for (size_t i = 0; i < 2; i++) {
		j = annotate(h, cases[i][0], cases[i][1], TASK_ASSIGNED);
		assert_string_equal(j, "{\"ID\":\"t1\"}");
		shoal_free(j);
	}
	j = annotate(h, "n2", "web:1", TASK_RUNNING);
	assert_string_equal(j, "{\"ID\":\"t1\"}");
	shoal_free(j);
	/* Asked by id, the other image: h5 alone. */
	j = annotate(h, "n2", "bbbbbbbbbbbb", TASK_PREPARING);
	o = json_loads(j, 0, NULL);
	ih = json_object_get(o, "ImageHolders");
	assert_string_equal(jsonx_str(ih, "ID", ""), ID_B);
	assert_int_equal(json_array_size(json_object_get(ih, "Holders")), 1);
	json_decref(o);
	shoal_free(j);
	mgr_holders_free(h);
	store_free(s);
}

static struct orch_task *task_on(struct hmap *tasks, const char *id,
				 const char *node, const char *spec,
				 enum task_state state)
{
	struct orch_task *t = shoal_calloc(1, sizeof(*t));
	assert_non_null(t);
	snprintf(t->id, sizeof(t->id), "%s", id);
	snprintf(t->node_id, sizeof(t->node_id), "%s", node);
	t->state = state;
	t->desired = TASK_RUNNING;
	t->spec_text = (char *)spec;
	assert_int_equal(hmap_put_str(tasks, id, t, NULL), 0);
	return t;
}

static char *clients_item(const struct mgr_holders *h, const char *node)
{
	char *j;
	size_t len;
	assert_int_equal(mgr_holders_clients_item(h, node, &j, &len), 0);
	if (j)
		assert_int_equal(strlen(j), len);
	return j;
}

static void tasks_free(struct hmap *tasks)
{
	size_t pos = 0, kl;
	const void *k;
	void *v;
	while (hmap_next(tasks, &pos, &k, &kl, &v))
		shoal_free(v);
	hmap_fini(tasks);
	*tasks = (struct hmap)HMAP_INIT;
}

/* A holder serves only the ready nodes of the store with a task waiting
 * for an image its ImageHolders name: not a removed node, not a node
 * whose task runs already or that holds the image itself. */
static void blob_clients_are_the_nodes_waiting_for_an_image(void **state)
{
	(void)state;
	static const char web[] = "{\"ContainerSpec\":{\"Image\":\"web:1\"}}";
	struct store *s = lab();
	struct mgr_holders *h = NULL;
	struct hmap tasks = HMAP_INIT;
	assert_int_equal(mgr_holders_update(&h, s, 1), 1);
	task_on(&tasks, "t1", "n2", web, TASK_ASSIGNED);
	task_on(&tasks, "t2", "n2", web, TASK_PREPARING);
	task_on(&tasks, "t3", "gone", web, TASK_ASSIGNED); /* node rm'd */
	task_on(&tasks, "t4", "n5", web, TASK_ASSIGNED);   /* holds it */
	task_on(&tasks, "t5", "n4", web, TASK_ASSIGNED);   /* down */
	assert_int_equal(mgr_holders_clients(h, &tasks), 1);
	assert_int_equal(mgr_holders_clients(h, &tasks), 0); /* same */
	const char *holders[] = {"n1", "n3"};
	for (size_t i = 0; i < 2; i++) {
		char *j = clients_item(h, holders[i]);
		assert_non_null(j);
		json_t *o = json_loads(j, 0, NULL);
		assert_string_equal(jsonx_str(o, "Kind", ""), "blob-clients");
		json_t *ns = json_object_get(o, "Nodes");
		assert_int_equal(json_array_size(ns), 1);
		assert_string_equal(json_string_value(json_array_get(ns, 0)),
				    "n2");
		json_decref(o);
		shoal_free(j);
	}
	/* The down holder, the other image's holder, a fetcher: none. */
	const char *none[] = {"n4", "n5", "n2", "gone"};
	for (size_t i = 0; i < 4; i++)
		assert_null(clients_item(h, none[i]));
	/* n2's tasks run now: nobody may fetch any more. */
	tasks_free(&tasks);
	task_on(&tasks, "t1", "n2", web, TASK_RUNNING);
	assert_int_equal(mgr_holders_clients(h, &tasks), 1);
	assert_null(clients_item(h, "n1"));
	/* A rebuilt index keeps what was computed: no change, no push. */
	assert_int_equal(mgr_holders_update(&h, s, 2), 0);
	assert_int_equal(mgr_holders_clients(h, &tasks), 0);
	tasks_free(&tasks);
	mgr_holders_free(h);
	store_free(s);
}

static void a_changed_report_makes_the_holders_change(void **state)
{
	(void)state;
	struct store *s = lab();
	struct mgr_holders *h = NULL;
	assert_int_equal(mgr_holders_update(&h, s, 1), 1);
	assert_int_equal(mgr_holders_update(&h, s, 2), 0); /* same content */
	struct store_batch b;
	uint8_t *enc;
	size_t len;
	store_batch_init(&b, 2);
	const char *st = "{\"Status\":{\"State\":\"ready\",\"Addr\":"
			 "\"10.0.0.2\"},\"Images\":{\"Images\":[" IMG(
				 ID_A, "web:1") "]}}";
	assert_int_equal(store_batch_update(&b, STORE_NODES, "n2", 1, NULL, 0,
					    st, strlen(st)),
			 0);
	assert_int_equal(store_batch_finish(&b, &enc, &len), 0);
	assert_int_equal(store_apply(s, enc, len, 2, NULL), 0);
	shoal_free(enc);
	assert_int_equal(mgr_holders_update(&h, s, 3), 1);
	char *j = annotate(h, "n2", "web:1", TASK_ASSIGNED);
	assert_string_equal(j, "{\"ID\":\"t1\"}"); /* n2 holds it now */
	shoal_free(j);
	mgr_holders_free(h);
	store_free(s);
}

static void the_agent_refuses_malformed_items(void **state)
{
	(void)state;
	static const struct {
		const char *json, *why;
	} bad[] = {
		{"[]", "not an object"},
		{"{\"ID\":\"sha256:12\",\"Holders\":[]}", "ID"},
		{"{\"ID\":\"" ID_A "\",\"Holders\":[]}", "1 to 16"},
		{"{\"ID\":\"" ID_A "\",\"Tag\":\"a b\",\"Holders\":[{}]}",
		 "Tag"},
		{"{\"ID\":\"" ID_A "\",\"Holders\":[{\"Hostname\":\"h1\"}]}",
		 "without Addr"},
		{"{\"ID\":\"" ID_A "\",\"Holders\":[{\"Addr\":\"h1\"}]}",
		 "ADDR:PORT"},
		{"{\"ID\":\"" ID_A
		 "\",\"Holders\":[{\"Addr\":\"10.0.0.1:2386\","
		 "\"Hostname\":\"a\\nb\"}]}",
		 "Hostname"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *o = json_loads(bad[i].json, 0, NULL);
		assert_non_null(o);
		struct shoal_err err = {""};
		assert_int_equal(wfetch_item_check(o, &err), -EINVAL);
		if (!strstr(err.msg, bad[i].why))
			fail_msg("%s: \"%s\" lacks \"%s\"", bad[i].json,
				 err.msg, bad[i].why);
		json_decref(o);
	}
	char many[4096] = "{\"ID\":\"" ID_A "\",\"Holders\":[";
	for (int i = 0; i < 17; i++)
		strcat(many, i ? ",{\"Addr\":\"10.0.0.1:1\"}"
			       : "{\"Addr\":\"10.0.0.1:1\"}");
	strcat(many, "]}");
	json_t *o = json_loads(many, 0, NULL);
	struct shoal_err err = {""};
	assert_int_equal(wfetch_item_check(o, &err), -EINVAL);
	json_decref(o);
}

static void only_names_with_a_registry_are_pulled(void **state)
{
	(void)state;
	assert_true(wfetch_names_registry("reg:5000/app:1"));
	assert_true(wfetch_names_registry("registry.example/team/app"));
	assert_true(wfetch_names_registry("localhost/app"));
	assert_false(wfetch_names_registry("busybox"));
	assert_false(wfetch_names_registry("library/busybox:latest"));
	assert_false(wfetch_names_registry("team/app"));
	assert_false(wfetch_names_registry(ID_A));
	assert_false(wfetch_names_registry(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(names_match_as_docker_normalizes_them),
		cmocka_unit_test(
			holders_are_the_ready_nodes_of_the_most_held_image),
		cmocka_unit_test(
			blob_clients_are_the_nodes_waiting_for_an_image),
		cmocka_unit_test(a_changed_report_makes_the_holders_change),
		cmocka_unit_test(the_agent_refuses_malformed_items),
		cmocka_unit_test(only_names_with_a_registry_are_pulled),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
