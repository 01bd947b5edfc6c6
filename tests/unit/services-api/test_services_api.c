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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "common/clock.h"
#include "common/http.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "manager/manager.h"

#include "mgr_fixture.h"

static int setup(void **s)
{
	return mgrfx_setup("svc-api");
}

static int teardown(void **s)
{
	return mgrfx_teardown();
}

#define WEB                                                                    \
	"{\"Name\":\"web\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":"    \
	"\"busybox\",\"Args\":[\"sleep\",\"1d\"]}},\"Mode\":{\"Replicated\":"  \
	"{\"Replicas\":%d}}}"

/* The tasks of service web desired @desired ("" any). */
static size_t web_tasks(const char *desired, size_t *assigned)
{
	struct mgrfx_reply r;
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
	mgrfx_ask("GET", path, NULL, &r);
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
	mgrfx_reply_fini(&r);
	return n;
}

static void services_are_created_placed_updated_and_removed(void **s)
{
	struct mgrfx_reply r;
	char body[512];
	snprintf(body, sizeof(body), WEB, 3);
	mgrfx_ask("POST", "/v1.45/services/create", body, &r);
	assert_int_equal(r.status, 201);
	char id[64];
	snprintf(id, sizeof(id), "%s", jsonx_str(r.json, "ID", ""));
	assert_int_equal(strlen(id), 25);
	mgrfx_reply_fini(&r);

	/* The orchestrator makes three tasks and places them on m1. */
	size_t assigned = 0;
	for (int i = 0; i < 200 && assigned < 3; i++) {
		web_tasks("", &assigned);
		mgrfx_spin(10);
	}
	assert_int_equal(web_tasks("running", &assigned), 3);
	assert_int_equal(assigned, 3);

	mgrfx_ask("GET", "/v1.45/services?status=true", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_array_size(r.json), 1);
	const json_t *ss =
		jsonx_obj(json_array_get(r.json, 0), "ServiceStatus");
	assert_int_equal(jsonx_int(ss, "DesiredTasks", 0), 3);
	mgrfx_reply_fini(&r);
	mgrfx_ask("GET",
		  "/v1.45/services?filters=%7B%22mode%22:%5B%22global%22%5D%7D",
		  NULL, &r);
	assert_int_equal(json_array_size(r.json), 0);
	mgrfx_reply_fini(&r);

	/* by name, by prefix; defaults only when asked */
	mgrfx_ask("GET", "/v1.45/services/web", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jsonx_str(r.json, "ID", ""), id);
	assert_null(jsonx_obj(jsonx_obj(r.json, "Spec"), "UpdateConfig"));
	uint64_t version =
		(uint64_t)jsonx_int(jsonx_obj(r.json, "Version"), "Index", 0);
	mgrfx_reply_fini(&r);
	char path[256];
	snprintf(path, sizeof(path), "/v1.45/services/%.6s?insertDefaults=true",
		 id);
	mgrfx_ask("GET", path, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(
		jsonx_str(jsonx_obj(jsonx_obj(r.json, "Spec"), "UpdateConfig"),
			  "Order", ""),
		"stop-first");
	mgrfx_reply_fini(&r);

	/* Docker's refusals */
	mgrfx_ask("POST", "/v1.45/services/create", body, &r);
	assert_int_equal(r.status, 409);
	assert_string_equal(jsonx_str(r.json, "message", ""),
			    "rpc error: code = AlreadyExists desc = name "
			    "conflicts with an existing object");
	mgrfx_reply_fini(&r);
	mgrfx_ask(
		"POST", "/v1.45/services/create",
		"{\"Name\":\"x\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":"
		"\"b\"}},\"EndpointSpec\":{\"Ports\":[{\"TargetPort\":80,"
		"\"Protocol\":\"sctp\"}]}}",
		&r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(jsonx_str(r.json, "message", ""),
			       "EndpointSpec.Ports: sctp ports are not "
			       "supported"));
	mgrfx_reply_fini(&r);
	/* --with-registry-auth: refused, on create and on update, and
	 * nothing written */
	static const struct http_header auth = {"X-Registry-Auth",
						"eyJ1c2VybmFtZSI6InUifQ=="};
	mgrfx_ask_hdr("POST", "/v1.45/services/create",
		      "{\"Name\":\"withauth\",\"TaskTemplate\":{"
		      "\"ContainerSpec\":{\"Image\":\"b\"}}}",
		      &auth, 1, &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(jsonx_str(r.json, "message", ""),
			       "--with-registry-auth"));
	mgrfx_reply_fini(&r);
	mgrfx_ask("GET", "/v1.45/services/withauth", NULL, &r);
	assert_int_equal(r.status, 404);
	mgrfx_reply_fini(&r);
	snprintf(path, sizeof(path), "/v1.45/services/web/update?version=%llu",
		 (unsigned long long)version);
	mgrfx_ask_hdr("POST", path, body, &auth, 1, &r);
	assert_int_equal(r.status, 400);
	assert_non_null(
		strstr(jsonx_str(r.json, "message", ""), "X-Registry-Auth"));
	mgrfx_reply_fini(&r);

	mgrfx_ask("GET", "/v1.45/services/nope", NULL, &r);
	assert_int_equal(r.status, 404);
	assert_string_equal(jsonx_str(r.json, "message", ""),
			    "service nope not found");
	mgrfx_reply_fini(&r);

	/* update: a stale version is refused, the current one scales */
	snprintf(body, sizeof(body), WEB, 1);
	snprintf(path, sizeof(path), "/v1.45/services/web/update?version=%llu",
		 (unsigned long long)version - 1);
	mgrfx_ask("POST", path, body, &r);
	assert_int_equal(r.status, 500);
	assert_non_null(strstr(jsonx_str(r.json, "message", ""),
			       "update out of sequence"));
	mgrfx_reply_fini(&r);
	mgrfx_ask("GET", "/v1.45/services/web", NULL, &r);
	version = (uint64_t)jsonx_int(jsonx_obj(r.json, "Version"), "Index", 0);
	mgrfx_reply_fini(&r);
	snprintf(path, sizeof(path), "/v1.45/services/web/update?version=%llu",
		 (unsigned long long)version);
	mgrfx_ask("POST", path, body, &r);
	assert_int_equal(r.status, 200);
	mgrfx_reply_fini(&r);
	for (int i = 0; i < 200 && web_tasks("running", &assigned) != 1; i++)
		mgrfx_spin(10);
	assert_int_equal(web_tasks("running", &assigned), 1);

	/* ?rollback=previous brings the three replicas back */
	mgrfx_ask("GET", "/v1.45/services/web", NULL, &r);
	version = (uint64_t)jsonx_int(jsonx_obj(r.json, "Version"), "Index", 0);
	assert_non_null(jsonx_obj(r.json, "PreviousSpec"));
	mgrfx_reply_fini(&r);
	snprintf(path, sizeof(path),
		 "/v1.45/services/web/update?version=%llu&rollback=previous",
		 (unsigned long long)version);
	mgrfx_ask("POST", path, body, &r);
	assert_int_equal(r.status, 200);
	mgrfx_reply_fini(&r);
	for (int i = 0; i < 200 && web_tasks("running", &assigned) != 3; i++)
		mgrfx_spin(10);
	assert_int_equal(web_tasks("running", &assigned), 3);

	/* beyond Docker: ?rebalance=true is accepted for a replicated
	 * service (one node here: nothing to move). The orchestrator may
	 * change the service's status (its rollback completing) between
	 * the read and the write: a client retries at the new version. */
	snprintf(body, sizeof(body), WEB, 3);
	for (int i = 0; i < 50; i++) {
		mgrfx_ask("GET", "/v1.45/services/web", NULL, &r);
		version = (uint64_t)jsonx_int(jsonx_obj(r.json, "Version"),
					      "Index", 0);
		mgrfx_reply_fini(&r);
		snprintf(path, sizeof(path),
			 "/v1.45/services/web/update?version=%llu&rebalance="
			 "true",
			 (unsigned long long)version);
		mgrfx_ask("POST", path, body, &r);
		int status = r.status;
		if (status != 200)
			fprintf(stderr, "rebalance: %d %s\n", status, r.body);
		mgrfx_reply_fini(&r);
		if (status != 500)
			break;
		mgrfx_spin(20);
	}
	assert_int_equal(r.status, 200);

	/* the docker CLI's progress filter: tasks of the current spec */
	mgrfx_ask("GET",
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
	mgrfx_reply_fini(&r);

	/* a task by id */
	mgrfx_ask("GET", "/v1.45/tasks", NULL, &r);
	const char *tid = jsonx_str(json_array_get(r.json, 0), "ID", "");
	snprintf(path, sizeof(path), "/v1.45/tasks/%s", tid);
	mgrfx_reply_fini(&r);
	mgrfx_ask("GET", path, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jsonx_str(r.json, "ServiceID", ""), id);
	mgrfx_reply_fini(&r);

	/* remove: gone, and its tasks are no longer desired running */
	mgrfx_ask("DELETE", "/v1.45/services/web", NULL, &r);
	assert_int_equal(r.status, 200);
	mgrfx_reply_fini(&r);
	mgrfx_ask("GET", "/v1.45/services/web", NULL, &r);
	assert_int_equal(r.status, 404);
	mgrfx_reply_fini(&r);
	for (int i = 0; i < 200; i++) {
		mgrfx_ask("GET",
			  "/v1.45/tasks?filters=%7B%22desired-state%22:%5B%22"
			  "running%22%5D%7D",
			  NULL, &r);
		size_t n = json_array_size(r.json);
		mgrfx_reply_fini(&r);
		if (n == 0)
			break;
		mgrfx_spin(10);
	}
	mgrfx_ask("GET",
		  "/v1.45/tasks?filters=%7B%22desired-state%22:%5B%22running"
		  "%22%5D%7D",
		  NULL, &r);
	assert_int_equal(json_array_size(r.json), 0);
	mgrfx_reply_fini(&r);
	mgrfx_ask("GET", "/v1.45/tasks?filters=%7B%22bogus%22:%5B%22x%22%5D%7D",
		  NULL, &r);
	assert_int_equal(r.status, 400);
	mgrfx_reply_fini(&r);
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
