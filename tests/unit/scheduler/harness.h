/*
 * A store driven by the pure cores (manager/orch.h) without Raft: each
 * pass's batch is applied at the next index, as the leader's would be
 * once committed. Shared by the unit tests of the orchestrator and the
 * scheduler; tests/sim has its own, with faults.
 */
#ifndef SHOAL_TESTS_UNIT_SCHEDULER_HARNESS_H
#define SHOAL_TESTS_UNIT_SCHEDULER_HARNESS_H

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/jsonx.h"
#include "manager/orch.h"

struct h {
	struct store *s;
	uint64_t idx;
	struct orch_model m;
	int64_t now;
	unsigned ids;
	uint32_t history;
};

static void h_id(void *arg, char *out)
{
	struct h *h = arg;
	snprintf(out, 26, "t%024u", ++h->ids);
}

static void h_apply(struct h *h, struct store_batch *b)
{
	uint8_t *data;
	size_t len;
	assert_int_equal(store_batch_finish(b, &data, &len), 0);
	struct store_result res;
	int rc = store_apply(h->s, data, len, ++h->idx, &res);
	if (rc != 0)
		fail_msg("batch refused: %s", res.msg);
	shoal_free(data);
}

static void h_init(struct h *h)
{
	memset(h, 0, sizeof(*h));
	assert_int_equal(store_new(&h->s), 0);
	orch_model_init(&h->m);
	h->now = 1700000000LL * 1000000000LL;
	h->history = 5;
}

static void h_fini(struct h *h)
{
	orch_model_fini(&h->m);
	store_free(h->s);
}

static void h_put(struct h *h, enum store_table t, const char *id,
		  const char *name, const char *spec, const char *status)
{
	struct store_batch b;
	store_batch_init(&b, h->now);
	const struct store_object *o = store_get(h->s, t, id);
	if (o)
		store_batch_update(&b, t, id, o->version, spec,
				   spec ? strlen(spec) : 0, status,
				   status ? strlen(status) : 0);
	else
		store_batch_create(&b, t, id, name, spec, strlen(spec), status,
				   status ? strlen(status) : 0);
	h_apply(h, &b);
}

/* A node: @labels a JSON object text, @avail active/pause/drain, @state
 * ready/down. */
static void h_node(struct h *h, const char *id, const char *labels,
		   const char *avail, const char *state, long long cpus,
		   long long mem)
{
	char spec[512], status[1024];
	snprintf(spec, sizeof(spec),
		 "{\"Role\":\"worker\",\"Availability\":\"%s\",\"Labels\":%s}",
		 avail, labels);
	snprintf(status, sizeof(status),
		 "{\"Description\":{\"Hostname\":\"host-%s\",\"Platform\":{"
		 "\"OS\":\"linux\",\"Architecture\":\"x86_64\"},\"Resources\":"
		 "{\"NanoCPUs\":%lld,\"MemoryBytes\":%lld},\"Engine\":{"
		 "\"Labels\":{}}},\"Status\":{\"State\":\"%s\"}}",
		 id, cpus, mem, state);
	h_put(h, STORE_NODES, id, NULL, spec, status);
}

static void h_service(struct h *h, const char *id, const char *name,
		      const char *spec)
{
	const struct store_object *o = store_get(h->s, STORE_SERVICES, id);
	if (!o) {
		h_put(h, STORE_SERVICES, id, name, spec, "{\"Generation\":1}");
		return;
	}
	json_t *st = NULL;
	assert_int_equal(jsonx_parse((const char *)o->status, o->status_len,
				     &st, NULL, 0),
			 0);
	json_t *prev = NULL;
	jsonx_parse((const char *)o->spec, o->spec_len, &prev, NULL, 0);
	json_object_set_new(st, "PreviousSpec", prev);
	json_object_set_new(st, "Generation",
			    json_integer(jsonx_int(st, "Generation", 1) + 1));
	json_object_del(st, "UpdateStatus");
	json_object_del(st, "UpdateStartedNs");
	char *text = jsonx_dump(st, NULL);
	json_decref(st);
	h_put(h, STORE_SERVICES, id, NULL, spec, text);
	shoal_free(text);
}

/* One pass over the store as it is; returns the operations applied. */
static int h_pass(struct h *h)
{
	assert_int_equal(orch_model_load(&h->m, h->s), 0);
	struct orch_env env = {.now_ns = h->now,
			       .new_id = h_id,
			       .arg = h,
			       .history = h->history};
	struct store_batch b;
	bool more;
	int64_t wake;
	store_batch_init(&b, h->now);
	int n = orch_pass(&h->m, &env, &b, &more, &wake);
	assert_true(n >= 0);
	if (n > 0)
		h_apply(h, &b);
	else
		store_batch_fini(&b);
	orch_pass_done(&h->m, true);
	return n;
}

static void h_settle(struct h *h)
{
	for (int i = 0; i < 50 && h_pass(h) > 0; i++)
		;
	assert_int_equal(h_pass(h), 0);
}

/* The task JSON (spec and status fields) of every task, for counting. */
struct h_task {
	char id[32], node[32], desired[16], state[16], err[200];
	long long slot;
	char svc[32];
};

static size_t h_tasks(struct h *h, struct h_task *out, size_t cap)
{
	const struct store_object **all;
	size_t n;
	assert_int_equal(store_list(h->s, STORE_TASKS, &all, &n), 0);
	for (size_t i = 0; i < n && i < cap; i++) {
		json_t *sp = NULL, *st = NULL;
		jsonx_parse((const char *)all[i]->spec, all[i]->spec_len, &sp,
			    NULL, 0);
		jsonx_parse((const char *)all[i]->status, all[i]->status_len,
			    &st, NULL, 0);
		struct h_task *t = &out[i];
		snprintf(t->id, sizeof(t->id), "%s", all[i]->id);
		snprintf(t->node, sizeof(t->node), "%s",
			 jsonx_str(sp, "NodeID", ""));
		snprintf(t->svc, sizeof(t->svc), "%s",
			 jsonx_str(sp, "ServiceID", ""));
		snprintf(t->desired, sizeof(t->desired), "%s",
			 jsonx_str(sp, "DesiredState", ""));
		snprintf(t->state, sizeof(t->state), "%s",
			 jsonx_str(st, "State", ""));
		snprintf(t->err, sizeof(t->err), "%s",
			 jsonx_str(st, "Err", ""));
		t->slot = jsonx_int(sp, "Slot", 0);
		json_decref(sp);
		json_decref(st);
	}
	shoal_free(all);
	return n < cap ? n : cap;
}

/* A node reports @state for task @id. */
static void h_report(struct h *h, const char *node, const char *id,
		     const char *state, int exit_code)
{
	char js[256];
	snprintf(js, sizeof(js),
		 "{\"State\":\"%s\",\"Message\":\"%s\",\"ContainerStatus\":{"
		 "\"ExitCode\":%d}}",
		 state, state, exit_code);
	assert_int_equal(orch_report_add(&h->m, node, id, js, strlen(js)), 0);
}

/* Every assigned task of the store runs (its node reports it). */
static void h_run_all(struct h *h)
{
	struct h_task t[512];
	size_t n = h_tasks(h, t, 512);
	assert_int_equal(orch_model_load(&h->m, h->s), 0);
	for (size_t i = 0; i < n; i++)
		if (strcmp(t[i].state, "assigned") == 0 &&
		    strcmp(t[i].desired, "running") == 0)
			h_report(h, t[i].node, t[i].id, "running", 0);
	struct orch_env env = {.now_ns = h->now,
			       .new_id = h_id,
			       .arg = h,
			       .history = h->history};
	struct store_batch b;
	bool more;
	int64_t wake;
	store_batch_init(&b, h->now);
	int k = orch_pass(&h->m, &env, &b, &more, &wake);
	assert_true(k >= 0);
	if (k > 0)
		h_apply(h, &b);
	else
		store_batch_fini(&b);
	orch_pass_done(&h->m, true);
}

#endif
