/*
 * The /services and /tasks routes against a real manager (a one-manager
 * swarm on loopback) over a real unix socket: create answers 201 with the
 * id and the orchestrator makes and places the tasks; list with filters
 * and ?status; inspect by name, id and prefix; Docker's 409 for a name
 * taken, 400 naming a field Shoal does not apply, 404 for an unknown
 * service; update at a stale version refused as Docker does; a scale
 * applied; ?rollback=previous; remove; task filters and inspect.
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
#include "common/clock.h"
#include "common/http.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "manager/manager.h"

static uv_loop_t L;
static struct api *A;
static struct http_server *S;
static struct mgr *M;
static struct swarm_state st;
static char dir[64], sock[128];

static void fake_local(void *arg, struct api_swarm_local *out)
{
	out->state = "active";
	out->error = "";
	out->st = &st;
	out->mgr = M;
}

static const char *fake_state(void *arg)
{
	return "active/manager";
}

static const struct api_swarm_ops ops = {.local = fake_local};

struct reply {
	bool done;
	int status;
	json_t *json;
	char body[4096];
};

static void on_done(int rc, int status, const char *body, size_t len, void *arg)
{
	struct reply *r = arg;
	r->done = true;
	r->status = rc < 0 ? rc : status;
	snprintf(r->body, sizeof(r->body), "%.*s", (int)len, body ? body : "");
	if (len)
		jsonx_parse(body, len, &r->json, NULL, 0);
}

static void ask(const char *method, const char *path, const char *body,
		struct reply *r)
{
	struct http_addr addr;
	char host[200];
	snprintf(host, sizeof(host), "unix://%s", sock);
	assert_int_equal(http_addr_parse(host, &addr), 0);
	memset(r, 0, sizeof(*r));
	struct http_client_req req = {.method = method,
				      .path = path,
				      .body = body,
				      .body_len = body ? strlen(body) : 0,
				      .timeout_ms = 10000};
	struct http_client_cbs cbs = {.on_done = on_done, .arg = r};
	assert_int_equal(http_client_start(&L, &addr, &req, &cbs), 0);
	while (!r->done)
		uv_run(&L, UV_RUN_ONCE);
}

static void reply_fini(struct reply *r)
{
	json_decref(r->json);
	r->json = NULL;
}

static void tick(uv_timer_t *t)
{
}

/* Run the loop for about @ms (the orchestrator works meanwhile). */
static void spin(int ms)
{
	uv_timer_t t;
	uv_timer_init(&L, &t);
	int64_t end = time_mono_ns() + (int64_t)ms * 1000000;
	uv_timer_start(&t, tick, 10, 10);
	while (time_mono_ns() < end)
		uv_run(&L, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&L, UV_RUN_NOWAIT);
}

static bool ready;

static void on_ready(void *arg)
{
	ready = true;
}

static int setup(void **s)
{
	snprintf(dir, sizeof(dir), "/tmp/shoal-svc-api.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/api.sock", dir);
	uv_loop_init(&L);
	memset(&st, 0, sizeof(st));
	st.heartbeat_ms = 60000; /* no agent here: the node stays ready */
	snprintf(st.listen_addr, sizeof(st.listen_addr), "127.0.0.1:0");
	assert_int_equal(ca_init_cluster(&st, time_real_ns() / NSEC_PER_SEC),
			 0);
	struct mgr_node_desc self = {0};
	snprintf(self.hostname, sizeof(self.hostname), "m1");
	snprintf(self.os, sizeof(self.os), "linux");
	snprintf(self.arch, sizeof(self.arch), "x86_64");
	self.nano_cpus = 4000000000LL;
	self.memory_bytes = 1LL << 33;
	struct mgr_config cfg = {.loop = &L,
				 .data_root = dir,
				 .st = &st,
				 .self = &self,
				 .founder = true,
				 .ready = on_ready};
	char err[256];
	ready = false;
	assert_int_equal(mgr_start(&cfg, &M, err, sizeof(err)), 0);
	int64_t end = time_mono_ns() + 10 * NSEC_PER_SEC;
	while (!ready && time_mono_ns() < end)
		spin(20);
	assert_true(ready);
	struct api_services svc = {
		.data_root = dir,
		.exec_root = dir,
		.engine_id = "11111111-2222-4333-8444-555555555555",
		.swarm_state = fake_state,
		.swarm_ops = &ops};
	assert_int_equal(api_new(&svc, &A), 0);
	assert_int_equal(http_server_new(&L, NULL, api_http_handler, A, &S), 0);
	assert_int_equal(http_server_listen_unix(S, sock, 0600), 0);
	return 0;
}

static void stopped(void *arg)
{
	*(bool *)arg = true;
}

static int rm_entry(const char *p, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	return remove(p);
}

static int teardown(void **s)
{
	bool done = false;
	http_server_close(S, NULL, NULL);
	mgr_stop(M, stopped, &done);
	while (!done)
		uv_run(&L, UV_RUN_ONCE);
	uv_run(&L, UV_RUN_DEFAULT);
	uv_loop_close(&L);
	api_free(A);
	swarm_state_wipe(&st);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

#define WEB                                                                    \
	"{\"Name\":\"web\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":"    \
	"\"busybox\",\"Args\":[\"sleep\",\"1d\"]}},\"Mode\":{\"Replicated\":"  \
	"{\"Replicas\":%d}}}"

/* The tasks of service web desired @desired ("" any). */
static size_t web_tasks(const char *desired, size_t *assigned)
{
	struct reply r;
	char path[256];
	if (*desired)
		snprintf(
			path, sizeof(path),
			"/v1.45/tasks?filters=%%7B%%22service%%22:%%5B%%22web"
			"%%22%%5D,%%22desired-state%%22:%%5B%%22%s%%22%%5D%%7D",
			desired);
	else
		snprintf(path, sizeof(path),
			 "/v1.45/tasks?filters=%%7B%%22service%%22:%%5B%%22web"
			 "%%22%%5D%%7D");
	ask("GET", path, NULL, &r);
	assert_int_equal(r.status, 200);
	size_t n = json_array_size(r.json), i;
	json_t *t;
	*assigned = 0;
	json_array_foreach(r.json, i, t)
	{
		const char *state =
			jsonx_str(jsonx_obj(t, "Status"), "State", "");
		*assigned += strcmp(state, "assigned") == 0;
	}
	reply_fini(&r);
	return n;
}

static void services_are_created_placed_updated_and_removed(void **s)
{
	struct reply r;
	char body[512];
	snprintf(body, sizeof(body), WEB, 3);
	ask("POST", "/v1.45/services/create", body, &r);
	assert_int_equal(r.status, 201);
	char id[64];
	snprintf(id, sizeof(id), "%s", jsonx_str(r.json, "ID", ""));
	assert_int_equal(strlen(id), 25);
	reply_fini(&r);

	/* The orchestrator makes three tasks and places them on m1. */
	size_t assigned = 0;
	for (int i = 0; i < 200 && assigned < 3; i++) {
		web_tasks("", &assigned);
		spin(10);
	}
	assert_int_equal(web_tasks("running", &assigned), 3);
	assert_int_equal(assigned, 3);

	ask("GET", "/v1.45/services?status=true", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_array_size(r.json), 1);
	const json_t *ss =
		jsonx_obj(json_array_get(r.json, 0), "ServiceStatus");
	assert_int_equal(jsonx_int(ss, "DesiredTasks", 0), 3);
	reply_fini(&r);
	ask("GET",
	    "/v1.45/services?filters=%7B%22mode%22:%5B%22global%22%5D%7D", NULL,
	    &r);
	assert_int_equal(json_array_size(r.json), 0);
	reply_fini(&r);

	/* by name, by prefix; defaults only when asked */
	ask("GET", "/v1.45/services/web", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jsonx_str(r.json, "ID", ""), id);
	assert_null(jsonx_obj(jsonx_obj(r.json, "Spec"), "UpdateConfig"));
	uint64_t version =
		(uint64_t)jsonx_int(jsonx_obj(r.json, "Version"), "Index", 0);
	reply_fini(&r);
	char path[256];
	snprintf(path, sizeof(path), "/v1.45/services/%.6s?insertDefaults=true",
		 id);
	ask("GET", path, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(
		jsonx_str(jsonx_obj(jsonx_obj(r.json, "Spec"), "UpdateConfig"),
			  "Order", ""),
		"stop-first");
	reply_fini(&r);

	/* Docker's refusals */
	ask("POST", "/v1.45/services/create", body, &r);
	assert_int_equal(r.status, 409);
	assert_string_equal(jsonx_str(r.json, "message", ""),
			    "rpc error: code = AlreadyExists desc = name "
			    "conflicts with an existing object");
	reply_fini(&r);
	ask("POST", "/v1.45/services/create",
	    "{\"Name\":\"x\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":"
	    "\"b\"}},\"EndpointSpec\":{\"Ports\":[{\"TargetPort\":80}]}}",
	    &r);
	assert_int_equal(r.status, 400);
	assert_non_null(
		strstr(jsonx_str(r.json, "message", ""), "EndpointSpec.Ports"));
	reply_fini(&r);
	ask("GET", "/v1.45/services/nope", NULL, &r);
	assert_int_equal(r.status, 404);
	assert_string_equal(jsonx_str(r.json, "message", ""),
			    "service nope not found");
	reply_fini(&r);

	/* update: a stale version is refused, the current one scales */
	snprintf(body, sizeof(body), WEB, 1);
	snprintf(path, sizeof(path), "/v1.45/services/web/update?version=%llu",
		 (unsigned long long)version - 1);
	ask("POST", path, body, &r);
	assert_int_equal(r.status, 500);
	assert_non_null(strstr(jsonx_str(r.json, "message", ""),
			       "update out of sequence"));
	reply_fini(&r);
	ask("GET", "/v1.45/services/web", NULL, &r);
	version = (uint64_t)jsonx_int(jsonx_obj(r.json, "Version"), "Index", 0);
	reply_fini(&r);
	snprintf(path, sizeof(path), "/v1.45/services/web/update?version=%llu",
		 (unsigned long long)version);
	ask("POST", path, body, &r);
	assert_int_equal(r.status, 200);
	reply_fini(&r);
	for (int i = 0; i < 200 && web_tasks("running", &assigned) != 1; i++)
		spin(10);
	assert_int_equal(web_tasks("running", &assigned), 1);

	/* ?rollback=previous brings the three replicas back */
	ask("GET", "/v1.45/services/web", NULL, &r);
	version = (uint64_t)jsonx_int(jsonx_obj(r.json, "Version"), "Index", 0);
	assert_non_null(jsonx_obj(r.json, "PreviousSpec"));
	reply_fini(&r);
	snprintf(path, sizeof(path),
		 "/v1.45/services/web/update?version=%llu&rollback=previous",
		 (unsigned long long)version);
	ask("POST", path, body, &r);
	assert_int_equal(r.status, 200);
	reply_fini(&r);
	for (int i = 0; i < 200 && web_tasks("running", &assigned) != 3; i++)
		spin(10);
	assert_int_equal(web_tasks("running", &assigned), 3);

	/* beyond Docker: ?rebalance=true is accepted for a replicated
	 * service (one node here: nothing to move). The orchestrator may
	 * change the service's status (its rollback completing) between
	 * the read and the write: a client retries at the new version. */
	snprintf(body, sizeof(body), WEB, 3);
	for (int i = 0; i < 50; i++) {
		ask("GET", "/v1.45/services/web", NULL, &r);
		version = (uint64_t)jsonx_int(jsonx_obj(r.json, "Version"),
					      "Index", 0);
		reply_fini(&r);
		snprintf(path, sizeof(path),
			 "/v1.45/services/web/update?version=%llu&rebalance="
			 "true",
			 (unsigned long long)version);
		ask("POST", path, body, &r);
		int status = r.status;
		if (status != 200)
			fprintf(stderr, "rebalance: %d %s\n", status, r.body);
		reply_fini(&r);
		if (status != 500)
			break;
		spin(20);
	}
	assert_int_equal(r.status, 200);

	/* the docker CLI's progress filter: tasks of the current spec */
	ask("GET",
	    "/v1.45/tasks?filters=%7B%22service%22:%7B%22web%22:true%7D,"
	    "%22_up-to-date%22:%7B%22true%22:true%7D%7D",
	    NULL, &r);
	assert_int_equal(r.status, 200);
	{
		size_t i, up = 0;
		json_t *t;
		json_array_foreach(r.json, i, t)
		{
			up += strcmp(jsonx_str(t, "DesiredState", ""),
				     "running") == 0;
		}
		assert_int_equal(up, 3);
		assert_true(json_array_size(r.json) >= 3);
	}
	reply_fini(&r);

	/* a task by id */
	ask("GET", "/v1.45/tasks", NULL, &r);
	const char *tid = jsonx_str(json_array_get(r.json, 0), "ID", "");
	snprintf(path, sizeof(path), "/v1.45/tasks/%s", tid);
	reply_fini(&r);
	ask("GET", path, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jsonx_str(r.json, "ServiceID", ""), id);
	reply_fini(&r);

	/* remove: gone, and its tasks are no longer desired running */
	ask("DELETE", "/v1.45/services/web", NULL, &r);
	assert_int_equal(r.status, 200);
	reply_fini(&r);
	ask("GET", "/v1.45/services/web", NULL, &r);
	assert_int_equal(r.status, 404);
	reply_fini(&r);
	for (int i = 0; i < 200; i++) {
		ask("GET",
		    "/v1.45/tasks?filters=%7B%22desired-state%22:%5B%22"
		    "running%22%5D%7D",
		    NULL, &r);
		size_t n = json_array_size(r.json);
		reply_fini(&r);
		if (n == 0)
			break;
		spin(10);
	}
	ask("GET",
	    "/v1.45/tasks?filters=%7B%22desired-state%22:%5B%22running"
	    "%22%5D%7D",
	    NULL, &r);
	assert_int_equal(json_array_size(r.json), 0);
	reply_fini(&r);
	ask("GET", "/v1.45/tasks?filters=%7B%22bogus%22:%5B%22x%22%5D%7D", NULL,
	    &r);
	assert_int_equal(r.status, 400);
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
			services_are_created_placed_updated_and_removed, setup,
			teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
