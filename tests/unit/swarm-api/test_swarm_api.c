/*
 * Unit tests of the swarm and node routes' answers that do not need a
 * running manager: Docker's errors outside a swarm and on a worker, the
 * validation of init, join and update requests (refused before anything
 * changes), /_ping's Swarm header and /info's Swarm section. Requests go
 * through the real HTTP state machine without sockets, as in unit-api;
 * the daemon's side is a fake struct api_swarm_ops that records calls.
 */
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

#include "api/api.h"
#include "api/swarm.h"
#include "common/buf.h"
#include "common/http.h"
#include "common/http_internal.h"
#include "common/jsonx.h"
#include "manager/manager.h"

struct reply {
	int status;
	char head[4096];
	char *body;
	json_t *json;
};

static struct api *A;
static uv_loop_t L;
static struct http_server *S;
static const char *state = "inactive";
static struct swarm_state worker_st;
static bool in_swarm;
static int inits, joins, leaves, unlocks;
static bool init_autolock;

static void fake_local(void *arg, struct api_swarm_local *out)
{
	out->state = state;
	out->error = "";
	out->st = in_swarm ? &worker_st : NULL;
	out->mgr = NULL;
}

static int fake_init(void *arg, const struct api_swarm_init *req,
		     api_swarm_done_fn *done, void *ctx, char *err,
		     size_t errlen)
{
	inits++;
	init_autolock = req->autolock;
	snprintf(err, errlen, "refused by the fake");
	return -EINVAL;
}

/* The daemon's side of unlock: one good key; counts the attempts. */
static int fake_unlock(void *arg, const char *key, char *err, size_t errlen)
{
	unlocks++;
	if (strcmp(key, "SWMKEY-1-good") != 0) {
		snprintf(err, errlen,
			 "swarm could not be unlocked: invalid key provided");
		return -EINVAL;
	}
	state = "active";
	return 0;
}

static int fake_join(void *arg, const struct api_swarm_join *req,
		     api_swarm_done_fn *done, void *ctx, char *err,
		     size_t errlen)
{
	joins++;
	snprintf(err, errlen, "refused by the fake");
	return -EINVAL;
}

static int fake_leave(void *arg, bool force, char *err, size_t errlen)
{
	leaves++;
	return 0;
}

static const char *fake_state(void *arg)
{
	return in_swarm ? "active/worker" : "inactive";
}

static const struct api_swarm_ops ops = {
	.local = fake_local,
	.init = fake_init,
	.join = fake_join,
	.leave = fake_leave,
	.unlock = fake_unlock,
};

static int setup(void **s)
{
	struct api_services svc = {
		.data_root = "/tmp/shoal-data",
		.exec_root = "/tmp/shoal-exec",
		.engine_id = "11111111-2222-4333-8444-555555555555",
		.swarm_state = fake_state,
		.swarm_ops = &ops,
	};
	in_swarm = false;
	state = "inactive";
	inits = joins = leaves = unlocks = 0;
	init_autolock = false;
	memset(&worker_st, 0, sizeof(worker_st));
	snprintf(worker_st.node_id, sizeof(worker_st.node_id), "node1");
	snprintf(worker_st.advertise_addr, sizeof(worker_st.advertise_addr),
		 "10.0.0.2:2377");
	snprintf(worker_st.managers[0], SWARM_ADDR_MAX, "10.0.0.1:2377");
	snprintf(worker_st.manager_ids[0], WIRE_ID_MAX + 1, "node0");
	worker_st.nmanagers = 1;
	worker_st.role = WIRE_ROLE_WORKER;
	assert_int_equal(api_new(&svc, &A), 0);
	uv_loop_init(&L);
	assert_int_equal(http_server_new(&L, NULL, api_http_handler, A, &S), 0);
	return 0;
}

static int teardown(void **s)
{
	http_server_close(S, NULL, NULL);
	uv_run(&L, UV_RUN_DEFAULT);
	uv_loop_close(&L);
	api_free(A);
	return 0;
}

static void ask(const char *method, const char *path, const char *body,
		struct reply *r)
{
	char req[2048];
	snprintf(req, sizeof(req),
		 "%s %s HTTP/1.1\r\nHost: x\r\nContent-Type: "
		 "application/json\r\nContent-Length: %zu\r\n\r\n%s",
		 method, path, body ? strlen(body) : 0, body ? body : "");
	struct buf out;
	buf_init(&out, 1 << 20);
	assert_int_equal(http__server_feed(S, req, strlen(req), 0, &out), 0);
	assert_non_null(out.data);
	memset(r, 0, sizeof(*r));
	assert_int_equal(sscanf(out.data, "HTTP/1.1 %d", &r->status), 1);
	char *end = strstr(out.data, "\r\n\r\n");
	assert_non_null(end);
	size_t hl = (size_t)(end - out.data) + 2;
	assert_true(hl < sizeof(r->head));
	memcpy(r->head, out.data, hl);
	r->body = strdup(end + 4);
	if (strstr(r->head, "application/json"))
		r->json = json_loads(r->body, JSON_DECODE_ANY, NULL);
	buf_fini(&out);
}

static void reply_fini(struct reply *r)
{
	free(r->body);
	json_decref(r->json);
}

static const char *message(const struct reply *r)
{
	return jsonx_str(r->json, "message", "");
}

static void outside_a_swarm_cluster_routes_answer_dockers_503(void **s)
{
	static const char *const paths[] = {"/v1.45/swarm", "/v1.45/nodes",
					    "/v1.45/nodes/abc"};
	for (size_t i = 0; i < 3; i++) {
		struct reply r;
		ask("GET", paths[i], NULL, &r);
		assert_int_equal(r.status, 503);
		assert_string_equal(
			message(&r),
			"This node is not a swarm manager. Use \"docker swarm "
			"init\" or \"docker swarm join\" to connect this node "
			"to swarm and try again.");
		reply_fini(&r);
	}
	struct reply r;
	ask("POST", "/v1.45/swarm/leave", NULL, &r);
	assert_int_equal(r.status, 503);
	assert_int_equal(leaves, 0);
	reply_fini(&r);
}

static void a_worker_refuses_cluster_state_with_dockers_text(void **s)
{
	in_swarm = true;
	state = "active";
	struct reply r;
	ask("GET", "/v1.45/nodes", NULL, &r);
	assert_int_equal(r.status, 503);
	assert_non_null(strstr(message(&r), "Worker nodes can't be used to "
					    "view or modify cluster state"));
	reply_fini(&r);
	ask("POST", "/v1.45/nodes/abc/update?version=3",
	    "{\"Role\":\"worker\",\"Availability\":\"drain\"}", &r);
	assert_int_equal(r.status, 503);
	reply_fini(&r);
	ask("GET", "/_ping", NULL, &r);
	assert_non_null(strstr(r.head, "Swarm: active/worker\r\n"));
	reply_fini(&r);
}

static void info_reports_the_swarm_section(void **s)
{
	in_swarm = true;
	state = "active";
	struct reply r;
	ask("GET", "/v1.45/info", NULL, &r);
	assert_int_equal(r.status, 200);
	const json_t *sw = jsonx_obj(r.json, "Swarm");
	assert_non_null(sw);
	assert_string_equal(jsonx_str(sw, "NodeID", ""), "node1");
	assert_string_equal(jsonx_str(sw, "NodeAddr", ""), "10.0.0.2");
	assert_string_equal(jsonx_str(sw, "LocalNodeState", ""), "active");
	assert_false(jsonx_bool(sw, "ControlAvailable", true));
	const json_t *rm =
		json_array_get(json_object_get(sw, "RemoteManagers"), 0);
	assert_string_equal(jsonx_str(rm, "Addr", ""), "10.0.0.1:2377");
	assert_string_equal(jsonx_str(rm, "NodeID", ""), "node0");
	reply_fini(&r);
}

static void bad_init_and_join_requests_change_nothing(void **s)
{
	struct reply r;
	ask("POST", "/v1.45/swarm/init", "not json", &r);
	assert_int_equal(r.status, 400);
	reply_fini(&r);
	assert_int_equal(inits, 0);
	ask("POST", "/v1.45/swarm/init", "{\"AutoLockManagers\":true}", &r);
	assert_int_equal(inits, 1);
	assert_true(init_autolock); /* the daemon is asked for autolock */
	reply_fini(&r);
	ask("POST", "/v1.45/swarm/join", "{\"JoinToken\":\"SWMTKN-1-x\"}", &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(message(&r), "RemoteAddrs"));
	reply_fini(&r);
	ask("POST", "/v1.45/swarm/join",
	    "{\"RemoteAddrs\":[\"10.0.0.1:2377\"]}", &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(message(&r), "JoinToken"));
	reply_fini(&r);
	assert_int_equal(joins, 0);
	/* A well-formed request reaches the daemon, whose refusal shows. */
	ask("POST", "/v1.45/swarm/join",
	    "{\"RemoteAddrs\":[\"10.0.0.1:2377\"],\"JoinToken\":\"t\"}", &r);
	assert_int_equal(r.status, 400);
	assert_string_equal(message(&r), "refused by the fake");
	assert_int_equal(joins, 1);
	reply_fini(&r);
}

static void unlock_answers_by_the_nodes_state_and_key(void **s)
{
	struct reply r;
	ask("POST", "/v1.45/swarm/unlock", "{\"UnlockKey\":\"SWMKEY-1-good\"}",
	    &r);
	assert_int_equal(r.status, 503);
	assert_non_null(strstr(message(&r), "not locked"));
	reply_fini(&r);
	assert_int_equal(unlocks, 0);

	state = "locked";
	ask("GET", "/v1.45/info", NULL, &r);
	assert_string_equal(
		jsonx_str(jsonx_obj(r.json, "Swarm"), "LocalNodeState", ""),
		"locked");
	reply_fini(&r);
	ask("POST", "/v1.45/swarm/unlock", "not json", &r);
	assert_int_equal(r.status, 400);
	reply_fini(&r);
	ask("POST", "/v1.45/swarm/unlock", "{\"UnlockKey\":\"SWMKEY-1-bad\"}",
	    &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(message(&r), "invalid key"));
	reply_fini(&r);
	assert_string_equal(state, "locked");
	ask("POST", "/v1.45/swarm/unlock", "{\"UnlockKey\":\"SWMKEY-1-good\"}",
	    &r);
	assert_int_equal(r.status, 200);
	reply_fini(&r);
	assert_int_equal(unlocks, 2);
	assert_string_equal(state, "active");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			outside_a_swarm_cluster_routes_answer_dockers_503,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			a_worker_refuses_cluster_state_with_dockers_text, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			unlock_answers_by_the_nodes_state_and_key, setup,
			teardown),
		cmocka_unit_test_setup_teardown(info_reports_the_swarm_section,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			bad_init_and_join_requests_change_nothing, setup,
			teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
