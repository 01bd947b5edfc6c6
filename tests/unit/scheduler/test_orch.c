/*
 * Unit tests of the pure orchestrator and scheduler (manager/orch.h) over
 * a real store, without Raft: placement and spread, Docker's explanation
 * of a pending task, constraints, drain and down, restarts and their
 * policy, scaling, global services, rolling updates with parallelism and
 * rollback on failure, jobs, removal, history, and the checks on status
 * reports (only forward, only the sender's tasks).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>

#include "harness.h"

#define SPEC(mode, extra)                                                      \
	"{\"Name\":\"web\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":"    \
	"\"busybox\"}" extra "},\"Mode\":" mode "}"

/* Whether @needle occurs in the bytes of @data (not NUL-terminated). */
static bool has(const uint8_t *data, size_t len, const char *needle)
{
	return memmem(data, len, needle, strlen(needle)) != NULL;
}

static size_t count(struct h_task *t, size_t n, const char *node,
		    const char *desired, const char *state)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if ((!node || strcmp(t[i].node, node) == 0) &&
		    (!desired || strcmp(t[i].desired, desired) == 0) &&
		    (!state || strcmp(t[i].state, state) == 0))
			k++;
	return k;
}

static void three_nodes(struct h *h)
{
	h_node(h, "n1", "{\"zone\":\"a\"}", "active", "ready", 4000000000LL,
	       1LL << 33);
	h_node(h, "n2", "{\"zone\":\"b\"}", "active", "ready", 4000000000LL,
	       1LL << 33);
	h_node(h, "n3", "{\"zone\":\"b\"}", "active", "ready", 4000000000LL,
	       1LL << 33);
}

static void spreads_replicas_across_nodes(void **state)
{
	struct h h;
	struct h_task t[64];
	h_init(&h);
	three_nodes(&h);
	h_service(&h, "s1", "web",
		  SPEC("{\"Replicated\":{\"Replicas\":6}}", ""));
	h_settle(&h);
	size_t n = h_tasks(&h, t, 64);
	assert_int_equal(n, 6);
	assert_int_equal(count(t, n, NULL, "running", "assigned"), 6);
	assert_int_equal(count(t, n, "n1", NULL, NULL), 2);
	assert_int_equal(count(t, n, "n2", NULL, NULL), 2);
	assert_int_equal(count(t, n, "n3", NULL, NULL), 2);
	for (long long s = 1; s <= 6; s++) {
		size_t k = 0;
		for (size_t i = 0; i < n; i++)
			k += t[i].slot == s;
		assert_int_equal(k, 1);
	}
	h_fini(&h);
}

static void explains_why_a_task_stays_pending(void **state)
{
	struct h h;
	struct h_task t[8];
	h_init(&h);
	three_nodes(&h);
	h_node(&h, "n4", "{}", "drain", "ready", 4000000000LL, 1LL << 33);
	h_service(&h, "s1", "web",
		  SPEC("{\"Replicated\":{\"Replicas\":1}}",
		       ",\"Resources\":{\"Reservations\":{\"NanoCPUs\":"
		       "8000000000}}"));
	h_settle(&h);
	size_t n = h_tasks(&h, t, 8);
	assert_int_equal(n, 1);
	assert_string_equal(t[0].state, "pending");
	assert_string_equal(t[0].err,
			    "no suitable node (1 node not available for new "
			    "tasks; insufficient resources on 3 nodes)");
	h_fini(&h);
}

static void constraints_choose_the_nodes(void **state)
{
	struct h h;
	struct h_task t[16];
	h_init(&h);
	three_nodes(&h);
	h_service(&h, "s1", "web",
		  SPEC("{\"Replicated\":{\"Replicas\":4}}",
		       ",\"Placement\":{\"Constraints\":[\"node.labels.zone "
		       "== b\",\"node.hostname!=host-n3\"]}"));
	h_settle(&h);
	size_t n = h_tasks(&h, t, 16);
	assert_int_equal(count(t, n, "n2", "running", "assigned"), 4);
	h_service(&h, "s2", "other",
		  "{\"Name\":\"other\",\"TaskTemplate\":{\"ContainerSpec\":{"
		  "\"Image\":\"x\"},\"Placement\":{\"Constraints\":[\"node."
		  "labels.zone==c\"]}}}");
	h_settle(&h);
	n = h_tasks(&h, t, 16);
	bool found = false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(t[i].svc, "s2") == 0) {
			assert_string_equal(t[i].err,
					    "no suitable node (scheduling "
					    "constraints not satisfied on 3 "
					    "nodes)");
			found = true;
		}
	assert_true(found);
	h_fini(&h);
}

static void spread_preference_balances_label_values(void **state)
{
	struct h h;
	struct h_task t[16];
	h_init(&h);
	three_nodes(&h);
	h_service(&h, "s1", "web",
		  SPEC("{\"Replicated\":{\"Replicas\":4}}",
		       ",\"Placement\":{\"Preferences\":[{\"Spread\":{"
		       "\"SpreadDescriptor\":\"node.labels.zone\"}}]}"));
	h_settle(&h);
	size_t n = h_tasks(&h, t, 16);
	/* zone a (n1) gets half, zone b (n2, n3) the other half */
	assert_int_equal(count(t, n, "n1", NULL, NULL), 2);
	assert_int_equal(count(t, n, "n2", NULL, NULL) +
				 count(t, n, "n3", NULL, NULL),
			 2);
	h_fini(&h);
}

static void drain_and_down_move_tasks_elsewhere(void **state)
{
	struct h h;
	struct h_task t[64];
	h_init(&h);
	three_nodes(&h);
	h_service(&h, "s1", "web",
		  SPEC("{\"Replicated\":{\"Replicas\":6}}", ""));
	h_settle(&h);
	h_run_all(&h);
	h_node(&h, "n1", "{\"zone\":\"a\"}", "drain", "ready", 4000000000LL,
	       1LL << 33);
	h_settle(&h);
	size_t n = h_tasks(&h, t, 64);
	assert_int_equal(count(t, n, "n1", "running", NULL), 0);
	assert_int_equal(count(t, n, "n1", "shutdown", NULL), 2);
	assert_int_equal(count(t, n, NULL, "running", NULL), 6);
	h_run_all(&h);
	/* n2 goes down: its tasks move to n3, the only node left */
	h_node(&h, "n2", "{\"zone\":\"b\"}", "active", "down", 4000000000LL,
	       1LL << 33);
	h_settle(&h);
	n = h_tasks(&h, t, 64);
	assert_int_equal(count(t, n, "n3", "running", NULL), 6);
	assert_int_equal(count(t, n, NULL, "running", NULL), 6);
	/* n1 active again: nothing moves back by itself */
	h_node(&h, "n1", "{\"zone\":\"a\"}", "active", "ready", 4000000000LL,
	       1LL << 33);
	h_settle(&h);
	n = h_tasks(&h, t, 64);
	assert_int_equal(count(t, n, "n1", "running", NULL), 0);
	h_fini(&h);
}

static const char *first_task_on(struct h *h, struct h_task *t, size_t n,
				 const char *desired, const char *state)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(t[i].desired, desired) == 0 &&
		    strcmp(t[i].state, state) == 0)
			return t[i].id;
	return NULL;
}

static void a_failed_task_is_replaced_after_the_restart_delay(void **state)
{
	struct h h;
	struct h_task t[16];
	h_init(&h);
	three_nodes(&h);
	h_service(&h, "s1", "web",
		  SPEC("{\"Replicated\":{\"Replicas\":1}}",
		       ",\"RestartPolicy\":{\"Condition\":\"on-failure\","
		       "\"Delay\":2000000000,\"MaxAttempts\":2}"));
	h_settle(&h);
	h_run_all(&h);
	for (int attempt = 0; attempt < 3; attempt++) {
		size_t n = h_tasks(&h, t, 16);
		const char *id = first_task_on(&h, t, n, "running", "running");
		assert_non_null(id);
		struct h_task *x = NULL;
		for (size_t i = 0; i < n; i++)
			if (strcmp(t[i].id, id) == 0)
				x = &t[i];
		assert_int_equal(orch_model_load(&h.m, h.s), 0);
		h_report(&h, x->node, id, "failed", 1);
		h_pass(&h);
		h_settle(&h);
		n = h_tasks(&h, t, 16);
		/* within the delay: no new task */
		assert_int_equal(count(t, n, NULL, "running", "assigned"), 0);
		h.now += 2000000001LL;
		h_settle(&h);
		n = h_tasks(&h, t, 16);
		size_t fresh = count(t, n, NULL, "running", "assigned");
		if (attempt < 2) {
			assert_int_equal(fresh, 1);
			h_run_all(&h);
		} else {
			assert_int_equal(fresh, 0); /* MaxAttempts reached */
		}
	}
	h_fini(&h);
}

static void a_task_that_completes_is_not_restarted_on_failure(void **state)
{
	struct h h;
	struct h_task t[16];
	h_init(&h);
	three_nodes(&h);
	h_service(&h, "s1", "web",
		  SPEC("{\"Replicated\":{\"Replicas\":1}}",
		       ",\"RestartPolicy\":{\"Condition\":\"on-failure\","
		       "\"Delay\":0}"));
	h_settle(&h);
	h_run_all(&h);
	size_t n = h_tasks(&h, t, 16);
	assert_int_equal(orch_model_load(&h.m, h.s), 0);
	h_report(&h, t[0].node, t[0].id, "complete", 0);
	h_pass(&h);
	h.now += 10000000000LL;
	h_settle(&h);
	n = h_tasks(&h, t, 16);
	assert_int_equal(n, 1);
	assert_string_equal(t[0].state, "complete");
	h_fini(&h);
}

static void scaling_down_shuts_the_highest_slots(void **state)
{
	struct h h;
	struct h_task t[64];
	h_init(&h);
	three_nodes(&h);
	h_service(&h, "s1", "web",
		  SPEC("{\"Replicated\":{\"Replicas\":6}}", ""));
	h_settle(&h);
	h_run_all(&h);
	h_service(&h, "s1", NULL,
		  SPEC("{\"Replicated\":{\"Replicas\":2}}", ""));
	h_settle(&h);
	size_t n = h_tasks(&h, t, 64);
	assert_int_equal(count(t, n, NULL, "running", NULL), 2);
	for (size_t i = 0; i < n; i++)
		if (strcmp(t[i].desired, "running") == 0)
			assert_true(t[i].slot <= 2);
	/* a scale-only change replaces nothing */
	assert_int_equal(n, 6);
	h_fini(&h);
}

static void a_global_service_runs_once_per_eligible_node(void **state)
{
	struct h h;
	struct h_task t[64];
	h_init(&h);
	three_nodes(&h);
	h_service(&h, "g", "mon",
		  "{\"Name\":\"mon\",\"TaskTemplate\":{\"ContainerSpec\":{"
		  "\"Image\":\"x\"}},\"Mode\":{\"Global\":{}}}");
	h_settle(&h);
	size_t n = h_tasks(&h, t, 64);
	assert_int_equal(count(t, n, NULL, "running", "assigned"), 3);
	assert_int_equal(count(t, n, "n1", NULL, NULL), 1);
	h_node(&h, "n4", "{}", "active", "ready", 1, 1);
	h_settle(&h);
	n = h_tasks(&h, t, 64);
	assert_int_equal(count(t, n, "n4", "running", "assigned"), 1);
	h_node(&h, "n4", "{}", "drain", "ready", 1, 1);
	h_settle(&h);
	n = h_tasks(&h, t, 64);
	assert_int_equal(count(t, n, "n4", "running", NULL), 0);
	h_fini(&h);
}

static void a_rolling_update_replaces_parallelism_tasks_at_a_time(void **state)
{
	struct h h;
	struct h_task t[64];
	h_init(&h);
	three_nodes(&h);
	h_service(&h, "s1", "web",
		  "{\"Name\":\"web\",\"TaskTemplate\":{\"ContainerSpec\":{"
		  "\"Image\":\"v1\"}},\"Mode\":{\"Replicated\":{\"Replicas\":"
		  "4}},\"UpdateConfig\":{\"Parallelism\":2}}");
	h_settle(&h);
	h_run_all(&h);
	h_service(&h, "s1", NULL,
		  "{\"Name\":\"web\",\"TaskTemplate\":{\"ContainerSpec\":{"
		  "\"Image\":\"v2\"}},\"Mode\":{\"Replicated\":{\"Replicas\":"
		  "4}},\"UpdateConfig\":{\"Parallelism\":2}}");
	h_settle(&h);
	size_t n = h_tasks(&h, t, 64);
	/* two replaced (stop-first), two still old and running */
	assert_int_equal(count(t, n, NULL, "shutdown", NULL), 2);
	assert_int_equal(count(t, n, NULL, "running", "assigned"), 2);
	assert_int_equal(count(t, n, NULL, "running", "running"), 2);
	h_run_all(&h);
	h.now += 6000000000LL; /* past Monitor */
	h_settle(&h);
	h_run_all(&h);
	h.now += 6000000000LL;
	h_settle(&h);
	n = h_tasks(&h, t, 64);
	assert_int_equal(count(t, n, NULL, "shutdown", NULL), 4);
	assert_int_equal(count(t, n, NULL, "running", "running"), 4);
	const struct store_object *o = store_get(h.s, STORE_SERVICES, "s1");
	assert_true(has(o->status, o->status_len, "\"State\":\"completed\""));
	h_fini(&h);
}

static void a_failing_update_rolls_back(void **state)
{
	struct h h;
	struct h_task t[64];
	h_init(&h);
	three_nodes(&h);
	const char *v1 =
		"{\"Name\":\"web\",\"TaskTemplate\":{\"ContainerSpec\":"
		"{\"Image\":\"v1\"}},\"Mode\":{\"Replicated\":{"
		"\"Replicas\":2}},\"UpdateConfig\":{\"FailureAction\":"
		"\"rollback\"}}";
	h_service(&h, "s1", "web", v1);
	h_settle(&h);
	h_run_all(&h);
	h_service(&h, "s1", NULL,
		  "{\"Name\":\"web\",\"TaskTemplate\":{\"ContainerSpec\":{"
		  "\"Image\":\"bad\"}},\"Mode\":{\"Replicated\":{\"Replicas\":"
		  "2}},\"UpdateConfig\":{\"FailureAction\":\"rollback\"}}");
	h_settle(&h);
	size_t n = h_tasks(&h, t, 64);
	const char *id = first_task_on(&h, t, n, "running", "assigned");
	assert_non_null(id);
	struct h_task *x = NULL;
	for (size_t i = 0; i < n; i++)
		if (strcmp(t[i].id, id) == 0)
			x = &t[i];
	assert_int_equal(orch_model_load(&h.m, h.s), 0);
	h_report(&h, x->node, id, "rejected", 0);
	h_pass(&h);
	h_settle(&h);
	const struct store_object *o = store_get(h.s, STORE_SERVICES, "s1");
	assert_true(has(o->status, o->status_len, "rollback_started"));
	assert_true(has(o->spec, o->spec_len, "\"v1\""));
	h_run_all(&h);
	h.now += 6000000000LL;
	h_settle(&h);
	h_run_all(&h);
	h.now += 6000000000LL;
	h_settle(&h);
	o = store_get(h.s, STORE_SERVICES, "s1");
	assert_true(has(o->status, o->status_len, "rollback_completed"));
	h_fini(&h);
}

/* POST /services/{id}/update?rollback=previous, as manager/ops_service.c
 * writes it: the previous spec back, UpdateStatus "rollback_started". */
static void h_rollback(struct h *h, const char *id)
{
	const struct store_object *o = store_get(h->s, STORE_SERVICES, id);
	json_t *st = NULL, *cur = NULL;
	assert_int_equal(jsonx_parse((const char *)o->status, o->status_len,
				     &st, NULL, 0),
			 0);
	jsonx_parse((const char *)o->spec, o->spec_len, &cur, NULL, 0);
	json_t *prev = json_incref(json_object_get(st, "PreviousSpec"));
	assert_non_null(prev);
	json_object_set_new(st, "PreviousSpec", cur);
	json_object_set_new(st, "Generation",
			    json_integer(jsonx_int(st, "Generation", 1) + 1));
	json_object_set_new(st, "UpdateStatus",
			    json_pack("{s:s, s:s, s:s}", "State",
				      "rollback_started", "StartedAt",
				      "2023-11-14T22:13:20Z", "Message",
				      "manually requested rollback"));
	json_object_set_new(st, "UpdateStartedNs", json_integer(h->now));
	char *spec = jsonx_dump(prev, NULL), *text = jsonx_dump(st, NULL);
	json_decref(prev);
	json_decref(st);
	h_put(h, STORE_SERVICES, id, NULL, spec, text);
	shoal_free(spec);
	shoal_free(text);
}

static void a_manual_rollback_completes(void **state)
{
	struct h h;
	struct h_task t[64];
	h_init(&h);
	three_nodes(&h);
	h_service(&h, "s1", "web",
		  SPEC("{\"Replicated\":{\"Replicas\":3}}", ""));
	h_settle(&h);
	h_run_all(&h);
	h.now += 6000000000LL;
	h_settle(&h);
	h_service(&h, "s1", NULL,
		  "{\"Name\":\"web\",\"TaskTemplate\":{\"ContainerSpec\":{"
		  "\"Image\":\"v2\"}},\"Mode\":{\"Replicated\":{\"Replicas\":"
		  "3}}}");
	for (int i = 0; i < 6; i++) {
		h_settle(&h);
		h_run_all(&h);
		h.now += 6000000000LL;
	}
	h_settle(&h);
	const struct store_object *o = store_get(h.s, STORE_SERVICES, "s1");
	assert_true(has(o->status, o->status_len, "\"State\":\"completed\""));
	h_rollback(&h, "s1");
	for (int i = 0; i < 6; i++) {
		h_settle(&h);
		h_run_all(&h);
		h.now += 6000000000LL;
	}
	h_settle(&h);
	size_t n = h_tasks(&h, t, 64);
	assert_int_equal(count(t, n, NULL, "running", "running"), 3);
	o = store_get(h.s, STORE_SERVICES, "s1");
	assert_true(has(o->spec, o->spec_len, "\"busybox\""));
	assert_true(has(o->status, o->status_len,
			"\"State\":\"rollback_completed\""));
	assert_true(has(o->status, o->status_len, "CompletedAt"));
	h_fini(&h);
}

/* The model fed by store events takes its own writes without decoding
 * them (orch_model_put()); it must equal a model decoded from the store. */
static void a_manual_rollback_of_a_job_completes(void **state)
{
	struct h h;
	h_init(&h);
	three_nodes(&h);
	h_service(&h, "j", "job",
		  "{\"Name\":\"job\",\"TaskTemplate\":{\"ContainerSpec\":{"
		  "\"Image\":\"x\"}},\"Mode\":{\"ReplicatedJob\":{"
		  "\"MaxConcurrent\":1,\"TotalCompletions\":1}}}");
	h_settle(&h);
	h_service(&h, "j", NULL,
		  "{\"Name\":\"job\",\"TaskTemplate\":{\"ContainerSpec\":{"
		  "\"Image\":\"y\"}},\"Mode\":{\"ReplicatedJob\":{"
		  "\"MaxConcurrent\":1,\"TotalCompletions\":1}}}");
	h_settle(&h);
	h_rollback(&h, "j");
	h_settle(&h);
	const struct store_object *o = store_get(h.s, STORE_SERVICES, "j");
	assert_true(has(o->spec, o->spec_len, "\"x\""));
	assert_true(has(o->status, o->status_len,
			"\"State\":\"rollback_completed\""));
	h_fini(&h);
}

static void own_writes_come_back_as_decoded(void **state)
{
	struct h h;
	struct store_watcher *w;
	h_init(&h);
	three_nodes(&h);
	assert_int_equal(orch_model_load(&h.m, h.s), 0);
	assert_int_equal(
		store_watch(h.s, STORE_ALL_TABLES, 65536, NULL, NULL, &w), 0);
	h_service(&h, "s1", "web",
		  SPEC("{\"Replicated\":{\"Replicas\":7}}", ""));
	for (int round = 0; round < 20; round++) {
		struct store_event ev;
		while (store_watch_next(w, &ev) == 0) {
			if (ev.kind == STORE_EVENT_DELETE)
				orch_model_del(&h.m, ev.table, ev.obj->id);
			else if (ev.obj)
				assert_int_equal(orch_model_put(&h.m, ev.obj),
						 0);
			store_event_fini(&ev);
		}
		if (round == 2) {
			struct h_task t[16];
			size_t nt = h_tasks(&h, t, 16);
			for (size_t i = 0; i < nt; i++)
				h_report(&h, t[i].node, t[i].id, "running", 0);
		}
		if (round == 3)
			h_service(
				&h, "s1", NULL,
				SPEC("{\"Replicated\":{\"Replicas\":4}}", ""));
		struct orch_env env = {.now_ns = h.now,
				       .new_id = h_id,
				       .arg = &h,
				       .history = 5};
		struct store_batch b;
		bool more;
		int64_t wake;
		store_batch_init(&b, h.now);
		int n = orch_pass(&h.m, &env, &b, &more, &wake);
		assert_true(n >= 0);
		if (n > 0)
			h_apply(&h, &b);
		else
			store_batch_fini(&b);
		orch_pass_done(&h.m, true);
		h.now += 1000000000LL;
	}
	assert_int_equal(hmap_len(&h.m.written), 0);
	struct orch_model fresh;
	orch_model_init(&fresh);
	assert_int_equal(orch_model_load(&fresh, h.s), 0);
	assert_int_equal(hmap_len(&fresh.tasks), hmap_len(&h.m.tasks));
	assert_int_equal(hmap_len(&fresh.tasks), 7);
	size_t running = 0;
	size_t pos = 0, kl;
	const void *k;
	void *v;
	while (hmap_next(&fresh.tasks, &pos, &k, &kl, &v)) {
		const struct orch_task *a = v;
		const struct orch_task *b = hmap_get_str(&h.m.tasks, a->id);
		assert_non_null(b);
		assert_string_equal(a->node_id, b->node_id);
		assert_string_equal(a->service_id, b->service_id);
		assert_int_equal(a->slot, b->slot);
		assert_int_equal(a->version, b->version);
		assert_int_equal(a->state, b->state);
		assert_int_equal(a->desired, b->desired);
		assert_int_equal(a->created_ns, b->created_ns);
		assert_int_equal(a->updated_ns, b->updated_ns);
		assert_int_equal(a->gen, b->gen);
		assert_string_equal(a->spec_text, b->spec_text);
		assert_string_equal(a->ann_text, b->ann_text);
		assert_string_equal(a->status_text, b->status_text);
		assert_string_equal(a->msg, b->msg);
		assert_string_equal(a->err, b->err);
		assert_int_equal(a->spec_hash, b->spec_hash);
		running += a->state == TASK_RUNNING;
	}
	assert_true(running >= 4);
	orch_model_fini(&fresh);
	store_unwatch(w);
	h_fini(&h);
}

static void a_job_runs_its_completions_and_stops(void **state)
{
	struct h h;
	struct h_task t[64];
	h_init(&h);
	three_nodes(&h);
	h_service(&h, "j", "job",
		  "{\"Name\":\"job\",\"TaskTemplate\":{\"ContainerSpec\":{"
		  "\"Image\":\"x\"}},\"Mode\":{\"ReplicatedJob\":{"
		  "\"MaxConcurrent\":2,\"TotalCompletions\":3}}}");
	for (int round = 0; round < 4; round++) {
		h_settle(&h);
		size_t n = h_tasks(&h, t, 64);
		assert_true(count(t, n, NULL, "running", "assigned") <= 2);
		assert_int_equal(orch_model_load(&h.m, h.s), 0);
		for (size_t i = 0; i < n; i++)
			if (strcmp(t[i].state, "assigned") == 0)
				h_report(&h, t[i].node, t[i].id, "complete", 0);
		h_pass(&h);
	}
	h_settle(&h);
	size_t n = h_tasks(&h, t, 64);
	assert_int_equal(n, 3);
	assert_int_equal(count(t, n, NULL, NULL, "complete"), 3);
	h_fini(&h);
}

static void a_removed_service_loses_its_tasks(void **state)
{
	struct h h;
	struct h_task t[64];
	h_init(&h);
	three_nodes(&h);
	h_service(&h, "s1", "web",
		  SPEC("{\"Replicated\":{\"Replicas\":3}}", ""));
	h_settle(&h);
	h_run_all(&h);
	struct store_batch b;
	store_batch_init(&b, h.now);
	const struct store_object *o = store_get(h.s, STORE_SERVICES, "s1");
	store_batch_delete(&b, STORE_SERVICES, "s1", o->version);
	h_apply(&h, &b);
	h_settle(&h);
	size_t n = h_tasks(&h, t, 64);
	assert_int_equal(count(t, n, NULL, "remove", "running"), 3);
	assert_int_equal(orch_model_load(&h.m, h.s), 0);
	for (size_t i = 0; i < n; i++)
		h_report(&h, t[i].node, t[i].id, "shutdown", 0);
	h_pass(&h);
	h_settle(&h);
	assert_int_equal(h_tasks(&h, t, 64), 0);
	h_fini(&h);
}

static void reports_only_move_forward_and_only_for_the_sender(void **state)
{
	struct h h;
	struct h_task t[8];
	h_init(&h);
	three_nodes(&h);
	h_service(&h, "s1", "web",
		  SPEC("{\"Replicated\":{\"Replicas\":1}}", ""));
	h_settle(&h);
	h_run_all(&h);
	assert_int_equal(h_tasks(&h, t, 8), 1);
	assert_string_equal(t[0].state, "running");
	const char *other = strcmp(t[0].node, "n1") == 0 ? "n2" : "n1";
	assert_int_equal(orch_model_load(&h.m, h.s), 0);
	h_report(&h, other, t[0].id, "failed", 1);
	assert_int_equal(h_pass(&h), 0);
	assert_int_equal(h.m.refused, 1);
	assert_non_null(strstr(h.m.refused_why, "not assigned to this node"));
	h_report(&h, t[0].node, t[0].id, "starting", 0);
	assert_int_equal(h_pass(&h), 0);
	assert_non_null(strstr(h.m.refused_why, "does not follow running"));
	assert_int_equal(h_tasks(&h, t, 8), 1);
	assert_string_equal(t[0].state, "running");
	/* fields beyond TaskStatus's are not stored */
	const char *js = "{\"State\":\"complete\",\"Bogus\":\"x\"}";
	assert_int_equal(
		orch_report_add(&h.m, t[0].node, t[0].id, js, strlen(js)), 0);
	assert_true(h_pass(&h) > 0);
	const struct store_object *o = store_get(h.s, STORE_TASKS, t[0].id);
	assert_false(has(o->status, o->status_len, "Bogus"));
	h_fini(&h);
}

static void history_is_bounded_per_slot(void **state)
{
	struct h h;
	struct h_task t[64];
	h_init(&h);
	h.history = 3;
	three_nodes(&h);
	h_service(&h, "s1", "web",
		  SPEC("{\"Replicated\":{\"Replicas\":1}}",
		       ",\"RestartPolicy\":{\"Delay\":0}"));
	for (int i = 0; i < 8; i++) {
		h_settle(&h);
		h_run_all(&h);
		size_t n = h_tasks(&h, t, 64);
		const char *id = first_task_on(&h, t, n, "running", "running");
		assert_non_null(id);
		for (size_t k = 0; k < n; k++)
			if (strcmp(t[k].id, id) == 0) {
				assert_int_equal(orch_model_load(&h.m, h.s), 0);
				h_report(&h, t[k].node, id, "failed", 1);
			}
		h_pass(&h);
	}
	h_settle(&h);
	assert_true(h_tasks(&h, t, 64) <= 3);
	h_fini(&h);
}

static void rebalance_spreads_again_one_move_at_a_time(void **state)
{
	struct h h;
	struct h_task t[64];
	h_init(&h);
	three_nodes(&h);
	h_service(&h, "s1", "web",
		  SPEC("{\"Replicated\":{\"Replicas\":6}}", ""));
	h_settle(&h);
	h_run_all(&h);
	h_node(&h, "n1", "{\"zone\":\"a\"}", "drain", "ready", 4000000000LL,
	       1LL << 33);
	h_settle(&h);
	h_run_all(&h);
	h_node(&h, "n1", "{\"zone\":\"a\"}", "active", "ready", 4000000000LL,
	       1LL << 33);
	h_settle(&h);
	size_t n = h_tasks(&h, t, 64);
	assert_int_equal(count(t, n, "n1", "running", NULL), 0);
	/* ask for a rebalance, as ops_service.c does */
	const struct store_object *o = store_get(h.s, STORE_SERVICES, "s1");
	char *spec = strndup((const char *)o->spec, o->spec_len);
	char *st = strndup((const char *)o->status, o->status_len);
	char *end = strrchr(st, '}');
	*end = '\0';
	char status[2048];
	snprintf(status, sizeof(status), "%s,\"Rebalance\":true}", st);
	h_put(&h, STORE_SERVICES, "s1", NULL, spec, status);
	free(spec);
	free(st);
	h_settle(&h);
	n = h_tasks(&h, t, 64);
	/* Parallelism 1: one task moves, the next once it runs */
	assert_int_equal(count(t, n, "n1", "running", NULL), 1);
	assert_int_equal(count(t, n, NULL, "running", NULL), 6);
	h_run_all(&h);
	h_settle(&h);
	h_run_all(&h);
	h_settle(&h);
	n = h_tasks(&h, t, 64);
	assert_int_equal(count(t, n, "n1", "running", NULL), 2);
	assert_int_equal(count(t, n, "n2", "running", NULL), 2);
	assert_int_equal(count(t, n, "n3", "running", NULL), 2);
	o = store_get(h.s, STORE_SERVICES, "s1");
	assert_false(has(o->status, o->status_len, "Rebalance"));
	h_fini(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(spreads_replicas_across_nodes),
		cmocka_unit_test(explains_why_a_task_stays_pending),
		cmocka_unit_test(constraints_choose_the_nodes),
		cmocka_unit_test(spread_preference_balances_label_values),
		cmocka_unit_test(drain_and_down_move_tasks_elsewhere),
		cmocka_unit_test(
			a_failed_task_is_replaced_after_the_restart_delay),
		cmocka_unit_test(
			a_task_that_completes_is_not_restarted_on_failure),
		cmocka_unit_test(scaling_down_shuts_the_highest_slots),
		cmocka_unit_test(a_global_service_runs_once_per_eligible_node),
		cmocka_unit_test(
			a_rolling_update_replaces_parallelism_tasks_at_a_time),
		cmocka_unit_test(a_failing_update_rolls_back),
		cmocka_unit_test(a_manual_rollback_completes),
		cmocka_unit_test(own_writes_come_back_as_decoded),
		cmocka_unit_test(a_manual_rollback_of_a_job_completes),
		cmocka_unit_test(a_job_runs_its_completions_and_stops),
		cmocka_unit_test(a_removed_service_loses_its_tasks),
		cmocka_unit_test(
			reports_only_move_forward_and_only_for_the_sender),
		cmocka_unit_test(history_is_bounded_per_slot),
		cmocka_unit_test(rebalance_spreads_again_one_move_at_a_time),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
