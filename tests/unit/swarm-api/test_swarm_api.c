/*
 * Unit tests of the swarm and node routes' answers: Docker's errors
 * outside a swarm and on a worker, the validation of init (every field
 * Shoal cannot honour refused by name, the docker CLI's own body
 * accepted, the whole spec handed to the daemon) and join requests
 * (refused before anything changes), /_ping's Swarm header and /info's
 * Swarm section, the latter also with a real manager behind it (its
 * spec, and no allocator fields). Requests go through the real HTTP state
 * machine without sockets, as in unit-api; the daemon's side is a fake
 * struct api_swarm_ops that records calls.
 */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/api.h"
#include "api/swarm.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/http.h"
#include "common/http_internal.h"
#include "common/jsonx.h"
#include "common/log.h"
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
static json_t *init_spec;
static char init_avail[16];
static struct mgr *live_mgr;	    /* a real manager, for reads */
static struct swarm_state *live_st; /* its state */

static void fake_local(void *arg, struct api_swarm_local *out)
{
	out->state = state;
	out->error = "";
	out->st = live_st ? live_st : in_swarm ? &worker_st : NULL;
	out->mgr = live_mgr;
}

static int fake_init(void *arg, const struct api_swarm_init *req,
		     api_swarm_done_fn *done, void *ctx, char *err,
		     size_t errlen)
{
	inits++;
	init_autolock = req->autolock;
	json_decref(init_spec);
	init_spec = json_deep_copy(req->spec);
	snprintf(init_avail, sizeof(init_avail), "%s", req->availability);
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
	json_decref(init_spec);
	init_spec = NULL;
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

/* POST /swarm/init with @body: the status, and the message in @msg. */
static int init_with(const char *body, char *msg, size_t cap)
{
	struct reply r;
	ask("POST", "/v1.45/swarm/init", body, &r);
	int status = r.status;
	snprintf(msg, cap, "%s", message(&r));
	reply_fini(&r);
	return status;
}

static void init_refuses_what_it_cannot_honour_by_name(void **s)
{
	static const struct {
		const char *body, *name;
	} cases[] = {
		{"{\"DefaultAddrPool\":[\"10.20.0.0/16\"]}", "DefaultAddrPool"},
		{"{\"SubnetSize\":26}", "SubnetSize"},
		{"{\"DataPathPort\":5000}", "DataPathPort"},
		{"{\"DataPathAddr\":\"10.0.0.9\"}", "DataPathAddr"},
		{"{\"ForceNewCluster\":true}", "ForceNewCluster"},
		{"{\"Colour\":\"blue\"}", "\"Colour\""},
		{"{\"Availability\":\"asleep\"}", "Availability"},
		{"{\"Spec\":{\"Raft\":{\"Foo\":1}}}", "\"Raft.Foo\""},
		{"{\"Spec\":{\"CAConfig\":{\"ExternalCAs\":[{\"Protocol\":"
		 "\"cfssl\",\"URL\":\"https://ca\"}]}}}",
		 "CAConfig.ExternalCAs"},
		{"{\"Spec\":{\"CAConfig\":{\"NodeCertExpiry\":1000}}}",
		 "CAConfig.NodeCertExpiry"},
		{"{\"Spec\":{\"Raft\":{\"ElectionTick\":2,"
		 "\"HeartbeatTick\":5}}}",
		 "Raft.ElectionTick"},
	};
	char msg[300];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(init_with(cases[i].body, msg, sizeof(msg)),
				 400);
		if (!strstr(msg, cases[i].name))
			fail_msg("%s refused with \"%s\"", cases[i].body, msg);
	}
	assert_int_equal(inits, 0); /* the daemon never saw them */
}

static void init_hands_the_daemon_the_whole_spec(void **s)
{
	char msg[300];
	/* The docker CLI's own body (docker 28, no flags) reaches the daemon
	 * with the defaults filled in. */
	assert_int_equal(
		init_with("{\"ListenAddr\":\"10.1.1.1:2377\",\"AdvertiseAddr\":"
			  "\"\",\"DataPathAddr\":\"\",\"DataPathPort\":0,"
			  "\"ForceNewCluster\":false,\"Spec\":{\"Labels\":"
			  "null,\"Orchestration\":{},\"Raft\":{"
			  "\"ElectionTick\":0,\"HeartbeatTick\":0},"
			  "\"Dispatcher\":{},\"CAConfig\":{},\"TaskDefaults\":"
			  "{},\"EncryptionConfig\":{\"AutoLockManagers\":"
			  "false}},\"AutoLockManagers\":false,"
			  "\"Availability\":\"\",\"DefaultAddrPool\":[],"
			  "\"SubnetSize\":24}",
			  msg, sizeof(msg)),
		400);
	assert_string_equal(msg, "refused by the fake");
	assert_int_equal(inits, 1);
	const json_t *raft = jsonx_obj(init_spec, "Raft");
	assert_int_equal(jsonx_int(raft, "ElectionTick", 0), 10);
	assert_int_equal(jsonx_int(raft, "HeartbeatTick", 0), 2);
	assert_false(init_autolock);
	/* Every field it can honour, and the address pool at its default. */
	assert_int_equal(
		init_with("{\"DefaultAddrPool\":[\"10.0.0.0/8\"],"
			  "\"SubnetSize\":24,\"DataPathPort\":4789,"
			  "\"Availability\":\"drain\",\"Spec\":{\"Labels\":{"
			  "\"env\":\"test\"},\"Dispatcher\":{"
			  "\"HeartbeatPeriod\":2000000000},\"CAConfig\":{"
			  "\"NodeCertExpiry\":172800000000000},\"Raft\":{"
			  "\"ElectionTick\":20,\"HeartbeatTick\":4,"
			  "\"SnapshotInterval\":100,\"KeepOldSnapshots\":1,"
			  "\"LogEntriesForSlowFollowers\":50},"
			  "\"Orchestration\":{\"TaskHistoryRetentionLimit\":"
			  "7},\"EncryptionConfig\":{\"AutoLockManagers\":"
			  "true}}}",
			  msg, sizeof(msg)),
		400);
	assert_int_equal(inits, 2);
	assert_true(init_autolock);
	assert_string_equal(init_avail, "drain");
	raft = jsonx_obj(init_spec, "Raft");
	assert_int_equal(jsonx_int(raft, "ElectionTick", 0), 20);
	assert_int_equal(jsonx_int(raft, "HeartbeatTick", 0), 4);
	assert_int_equal(jsonx_int(raft, "SnapshotInterval", 0), 100);
	assert_int_equal(jsonx_int(raft, "KeepOldSnapshots", 0), 1);
	assert_int_equal(jsonx_int(raft, "LogEntriesForSlowFollowers", 0), 50);
	assert_int_equal(jsonx_int(jsonx_obj(init_spec, "Dispatcher"),
				   "HeartbeatPeriod", 0),
			 2000000000);
	assert_int_equal(jsonx_int(jsonx_obj(init_spec, "CAConfig"),
				   "NodeCertExpiry", 0),
			 172800000000000);
	assert_int_equal(jsonx_int(jsonx_obj(init_spec, "Orchestration"),
				   "TaskHistoryRetentionLimit", 0),
			 7);
	assert_string_equal(
		jsonx_str(jsonx_obj(init_spec, "Labels"), "env", ""), "test");
}

/* --- with a manager behind the API ---------------------------------------- */

static char live_dir[64];
static struct swarm_state live;
static bool live_ready;

static void on_live_ready(void *arg)
{
	live_ready = true;
}

static void timeout_cb(uv_timer_t *t)
{
	*(bool *)t->data = true;
}

static int setup_live(void **s)
{
	setup(s);
	snprintf(live_dir, sizeof(live_dir), "/tmp/shoal-api-test.XXXXXX");
	assert_non_null(mkdtemp(live_dir));
	memset(&live, 0, sizeof(live));
	live.heartbeat_ms = 200;
	snprintf(live.listen_addr, sizeof(live.listen_addr), "127.0.0.1:0");
	assert_int_equal(ca_init_cluster(&live, time_real_ns() / NSEC_PER_SEC),
			 0);
	struct mgr_node_desc self = {0};
	snprintf(self.hostname, sizeof(self.hostname), "m1");
	struct mgr_config cfg = {
		.loop = &L,
		.data_root = live_dir,
		.st = &live,
		.self = &self,
		.founder = true,
		.ready = on_live_ready,
	};
	char err[256];
	live_ready = false;
	assert_int_equal(mgr_start(&cfg, &live_mgr, err, sizeof(err)), 0);
	bool expired = false;
	uv_timer_t t;
	uv_timer_init(&L, &t);
	t.data = &expired;
	uv_timer_start(&t, timeout_cb, 10000, 0);
	while (!live_ready && !expired)
		uv_run(&L, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&L, UV_RUN_NOWAIT); /* the timer lives on this stack */
	assert_true(live_ready);
	live_st = &live;
	state = "active";
	return 0;
}

static void live_stopped(void *arg)
{
	*(bool *)arg = true;
}

static int rm_entry(const char *p, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	return remove(p);
}

static int teardown_live(void **s)
{
	bool done = false;
	mgr_stop(live_mgr, live_stopped, &done);
	while (!done)
		uv_run(&L, UV_RUN_ONCE);
	live_mgr = NULL;
	live_st = NULL;
	swarm_state_wipe(&live);
	nftw(live_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return teardown(s);
}

static void info_shows_the_spec_and_no_allocator_fields(void **s)
{
	struct reply r;
	ask("GET", "/v1.45/info", NULL, &r);
	assert_int_equal(r.status, 200);
	const json_t *c = jsonx_obj(jsonx_obj(r.json, "Swarm"), "Cluster");
	assert_non_null(c);
	/* No allocator yet: no address pool, subnet size or VXLAN port. */
	assert_null(json_object_get(c, "DefaultAddrPool"));
	assert_null(json_object_get(c, "SubnetSize"));
	assert_null(json_object_get(c, "DataPathPort"));
	const json_t *spec = jsonx_obj(c, "Spec");
	assert_int_equal(jsonx_int(jsonx_obj(spec, "Raft"), "ElectionTick", 0),
			 10);
	assert_int_equal(jsonx_int(jsonx_obj(spec, "Raft"), "HeartbeatTick", 0),
			 2);
	assert_int_equal(
		jsonx_int(jsonx_obj(spec, "Dispatcher"), "HeartbeatPeriod", 0),
		200000000);
	assert_non_null(
		json_object_get(jsonx_obj(spec, "CAConfig"), "ForceRotate"));
	assert_true(json_is_object(json_object_get(spec, "TaskDefaults")));
	assert_false(jsonx_bool(jsonx_obj(spec, "EncryptionConfig"),
				"AutoLockManagers", true));
	reply_fini(&r);
}

static void quiet(enum log_level lvl, const char *module, const char *line,
		  void *arg)
{
}

int main(void)
{
	if (!getenv("SHOAL_TEST_VERBOSE"))
		log_set_sink(quiet, NULL);
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
		cmocka_unit_test_setup_teardown(
			init_refuses_what_it_cannot_honour_by_name, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			init_hands_the_daemon_the_whole_spec, setup, teardown),
		cmocka_unit_test_setup_teardown(
			info_shows_the_spec_and_no_allocator_fields, setup_live,
			teardown_live),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
