/*
 * Unit tests of api/: the router (version prefixes, patterns, 404/405,
 * error shapes) and the system routes' Docker shapes. Requests go through
 * the real HTTP state machine without sockets (http__server_feed), so the
 * bytes checked are the bytes a client would read.
 */
/* cmocka needs these first */
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
#include "common/alloc.h"
#include "common/buf.h"
#include "common/http.h"
#include "common/http_internal.h"
#include "common/jsonx.h"

struct reply {
	int status;
	char head[4096];
	char *body;
	json_t *json;
};

static struct api *A;
static uv_loop_t L;
static struct http_server *S;

static void counts(void *arg, struct api_counts *out)
{
	out->containers_running = 2;
	out->containers_stopped = 1;
	out->images = 5;
}

static int setup(void **state)
{
	struct api_services svc = {
		.data_root = "/tmp/shoal-data",
		.exec_root = "/tmp/shoal-exec",
		.engine_id = "11111111-2222-4333-8444-555555555555",
		.counts = counts,
	};
	assert_int_equal(api_new(&svc, &A), 0);
	uv_loop_init(&L);
	assert_int_equal(http_server_new(&L, NULL, api_http_handler, A, &S), 0);
	return 0;
}

static int teardown(void **state)
{
	http_server_close(S, NULL, NULL);
	uv_run(&L, UV_RUN_DEFAULT);
	uv_loop_close(&L);
	api_free(A);
	return 0;
}

static void ask(const char *method, const char *path, struct reply *r)
{
	char req[512];
	snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: x\r\n\r\n", method,
		 path);
	struct buf out;
	buf_init(&out, 1 << 20);
	assert_int_equal(http__server_feed(S, req, strlen(req), 0, &out), 0);
	assert_non_null(out.data);
	memset(r, 0, sizeof(*r));
	assert_int_equal(sscanf(out.data, "HTTP/1.1 %d", &r->status), 1);
	char *end = strstr(out.data, "\r\n\r\n");
	assert_non_null(end);
	size_t hl = (size_t)(end - out.data) + 2; /* keep the last CRLF */
	assert_true(hl < sizeof(r->head));
	memcpy(r->head, out.data, hl);
	r->body = strdup(end + 4);
	if (strstr(r->head, "application/json"))
		r->json = json_loads(r->body, 0, NULL);
	buf_fini(&out);
}

static void reply_fini(struct reply *r)
{
	free(r->body);
	json_decref(r->json);
}

static void ping_answers_ok_with_dockers_headers(void **state)
{
	struct reply r;
	ask("GET", "/_ping", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "OK");
	assert_non_null(strstr(r.head, "Api-Version: 1.45\r\n"));
	assert_non_null(strstr(r.head, "Ostype: linux\r\n"));
	assert_non_null(strstr(r.head, "Swarm: inactive\r\n"));
	assert_non_null(strstr(r.head, "Docker-Experimental: false\r\n"));
	assert_non_null(strstr(
		r.head, "Cache-Control: no-cache, no-store, must-revalidate"));
	assert_non_null(strstr(r.head, "Pragma: no-cache\r\n"));
	reply_fini(&r);
	ask("HEAD", "/v1.45/_ping", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "");
	assert_non_null(strstr(r.head, "Content-Length: 2\r\n"));
	reply_fini(&r);
}

static void version_prefixes_between_1_24_and_1_47_are_served(void **state)
{
	struct reply r;
	const char *ok[] = {"/v1.24/_ping", "/v1.44/_ping", "/v1.47/_ping",
			    "/_ping"};
	for (size_t i = 0; i < 4; i++) {
		ask("GET", ok[i], &r);
		assert_int_equal(r.status, 200);
		reply_fini(&r);
	}
	ask("GET", "/v1.12/version", &r);
	assert_int_equal(r.status, 400);
	assert_string_equal(
		jsonx_str(r.json, "message", ""),
		"client version 1.12 is too old. Minimum supported API version "
		"is 1.24, please upgrade your client to a newer version");
	reply_fini(&r);
	ask("GET", "/v1.48/version", &r);
	assert_int_equal(r.status, 400);
	assert_string_equal(jsonx_str(r.json, "message", ""),
			    "client version 1.48 is too new. Maximum "
			    "supported API version is 1.47");
	reply_fini(&r);
	ask("GET", "/v2.0/info", &r);
	assert_int_equal(r.status, 400);
	reply_fini(&r);
	ask("GET", "/v1..2/info", &r);
	assert_int_equal(r.status, 400);
	reply_fini(&r);
}

static void unknown_paths_get_404_and_other_methods_405(void **state)
{
	struct reply r;
	ask("GET", "/v1.45/nope", &r);
	assert_int_equal(r.status, 404);
	assert_string_equal(r.body, "{\"message\":\"page not found\"}\n");
	reply_fini(&r);
	ask("GET", "/info/", &r);
	assert_int_equal(r.status, 404);
	reply_fini(&r);
	ask("POST", "/v1.45/info", &r);
	assert_int_equal(r.status, 405);
	assert_non_null(jsonx_str(r.json, "message", NULL));
	reply_fini(&r);
}

static void start(struct api_call *call)
{
	char out[128];
	snprintf(out, sizeof(out), "start %s v1.%d", api_param(call, "id"),
		 call->version_minor);
	http_response_send(call->res, 204, NULL, NULL, 0);
	(void)out;
}

static void rename_(struct api_call *call)
{
	api_reply_json(call, 200,
		       json_pack("{s:s, s:s}", "id", api_param(call, "id"),
				 "name",
				 http_request_query(call->req, "name")));
}

static const struct api_route test_routes[] = {
	{"POST", "/widgets/{id}/start", start},
	{"POST", "/widgets/{id}/rename", rename_},
};
static const struct api_route_table test_table = {"test", test_routes, 2};
static const struct api_route dup_routes[] = {{"GET", "/info", start}};
static const struct api_route_table dup_table = {"dup", dup_routes, 1};

static void patterns_capture_path_parameters(void **state)
{
	assert_int_equal(api_add_routes(A, &test_table), 0);
	assert_int_equal(api_add_routes(A, &dup_table), -EEXIST);
	struct reply r;
	ask("POST", "/v1.44/widgets/abc123/rename?name=web%201", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jsonx_str(r.json, "id", ""), "abc123");
	assert_string_equal(jsonx_str(r.json, "name", ""), "web 1");
	reply_fini(&r);
	ask("POST", "/widgets/abc/start", &r);
	assert_int_equal(r.status, 204);
	reply_fini(&r);
	ask("POST", "/widgets//start", &r); /* empty segment */
	assert_int_equal(r.status, 404);
	reply_fini(&r);
	ask("POST", "/widgets/a/b/start", &r);
	assert_int_equal(r.status, 404);
	reply_fini(&r);
}

static void version_has_dockers_shape(void **state)
{
	struct reply r;
	ask("GET", "/v1.45/version", &r);
	assert_int_equal(r.status, 200);
	json_t *v = r.json;
	assert_non_null(v);
	assert_string_equal(jsonx_str(jsonx_obj(v, "Platform"), "Name", ""),
			    "Shoal Engine");
	assert_string_equal(jsonx_str(v, "ApiVersion", ""), "1.45");
	assert_string_equal(jsonx_str(v, "MinAPIVersion", ""), "1.24");
	assert_string_equal(jsonx_str(v, "Os", ""), "linux");
	assert_string_equal(jsonx_str(v, "Version", ""), SHOAL_VERSION);
	assert_true(strlen(jsonx_str(v, "KernelVersion", "")) > 0);
	json_t *comp = json_array_get(json_object_get(v, "Components"), 0);
	assert_string_equal(jsonx_str(comp, "Name", ""), "Engine");
	reply_fini(&r);
}

static void info_reports_the_host_and_the_services(void **state)
{
	struct reply r;
	ask("GET", "/v1.45/info", &r);
	assert_int_equal(r.status, 200);
	json_t *v = r.json;
	assert_non_null(v);
	assert_string_equal(jsonx_str(v, "ID", ""),
			    "11111111-2222-4333-8444-555555555555");
	assert_int_equal(jsonx_int(v, "Containers", -1), 3);
	assert_int_equal(jsonx_int(v, "ContainersRunning", -1), 2);
	assert_int_equal(jsonx_int(v, "Images", -1), 5);
	assert_string_equal(jsonx_str(v, "OSType", ""), "linux");
	assert_string_equal(jsonx_str(v, "Driver", ""), "overlay2");
	assert_string_equal(jsonx_str(v, "DockerRootDir", ""),
			    "/tmp/shoal-data");
	assert_string_equal(jsonx_str(v, "DefaultRuntime", ""), "shoal");
	assert_true(jsonx_int(v, "NCPU", 0) >= 1);
	assert_true(jsonx_int(v, "MemTotal", 0) > 0);
	const char *cg = jsonx_str(v, "CgroupVersion", "");
	assert_true(strcmp(cg, "1") == 0 || strcmp(cg, "2") == 0);
	assert_string_equal(
		jsonx_str(jsonx_obj(v, "Swarm"), "LocalNodeState", ""),
		"inactive");
	assert_true(json_is_array(json_object_get(v, "SecurityOptions")));
	reply_fini(&r);
}

/* The body policy the HTTP server gets for @method @path. */
static struct http_body_policy policy_of(const char *method, const char *path)
{
	struct http_request req = {
		.method = method, .path = path, .body = "", .body_fd = -1};
	struct http_body_policy p = {.max_bytes = 1};
	api_body_policy(&req, &p, A);
	return p;
}

static void
archive_routes_spool_their_bodies_and_json_ones_stay_small(void **state)
{
	static const char *const archives[][2] = {
		{"PUT", "/v1.45/containers/abc/archive"},
		{"PUT", "/containers/abc/archive"},
		{"POST", "/v1.44/images/load"},
		{"POST", "/images/create"},
	};
	static const char *const json[][2] = {
		{"POST", "/v1.45/containers/create"},
		{"GET", "/containers/abc/archive"},
		{"POST", "/swarm/init"},
		{"POST", "/no/such/route"},
		{"PUT", "/v1.2/containers/abc/archive"}, /* refused version */
	};
	for (size_t i = 0; i < sizeof(archives) / sizeof(archives[0]); i++) {
		struct http_body_policy p =
			policy_of(archives[i][0], archives[i][1]);
		assert_true(p.spool);
		assert_true(p.max_bytes == API_ARCHIVE_BODY_MAX);
	}
	for (size_t i = 0; i < sizeof(json) / sizeof(json[0]); i++) {
		struct http_body_policy p = policy_of(json[i][0], json[i][1]);
		assert_false(p.spool);
		assert_true(p.max_bytes == API_JSON_BODY_MAX);
	}
	assert_true(API_JSON_BODY_MAX <= 4u << 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ping_answers_ok_with_dockers_headers),
		cmocka_unit_test(
			version_prefixes_between_1_24_and_1_47_are_served),
		cmocka_unit_test(unknown_paths_get_404_and_other_methods_405),
		cmocka_unit_test(patterns_capture_path_parameters),
		cmocka_unit_test(version_has_dockers_shape),
		cmocka_unit_test(info_reports_the_host_and_the_services),
		cmocka_unit_test(
			archive_routes_spool_their_bodies_and_json_ones_stay_small),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
