/*
 * The /networks routes for overlay networks against a real manager (a
 * one-manager swarm on loopback, no container engine) over a real unix
 * socket: `-d overlay` creates go through the manager's write path and
 * get a VNI, subnet and gateway from the allocator; list (with the scope
 * and driver filters), inspect by name, id and prefix; Docker's 409 for
 * a name taken and 403 for an overlapping subnet; encrypted and
 * attachable refused with 400 naming them; remove, after which the VNI
 * and subnet are given again; prune of the overlays a label selects;
 * creates in flight together get distinct VNIs and subnets;
 * Docker's 503 outside a swarm.
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
	snprintf(dir, sizeof(dir), "/tmp/shoal-ovl-api.XXXXXX");
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

#define CREATE                                                                 \
	"{\"Name\":\"%s\",\"Driver\":\"overlay\",\"Scope\":\"\","              \
	"\"IPAM\":{\"Driver\":\"default\",\"Options\":{},\"Config\":[%s]},"    \
	"\"Options\":{%s},\"Labels\":{\"team\":\"a\"}}"

static int create(const char *name, const char *cfg, const char *opts, char *id,
		  char *msg)
{
	struct reply r;
	char body[1024];
	snprintf(body, sizeof(body), CREATE, name, cfg, opts);
	ask("POST", "/v1.45/networks/create", body, &r);
	if (id)
		snprintf(id, 64, "%s", jsonx_str(r.json, "Id", ""));
	if (msg)
		snprintf(msg, 512, "%s", jsonx_str(r.json, "message", ""));
	reply_fini(&r);
	return r.status;
}

static json_t *inspect(const char *ref, int *status)
{
	struct reply r;
	char path[256];
	snprintf(path, sizeof(path), "/v1.45/networks/%s", ref);
	ask("GET", path, NULL, &r);
	*status = r.status;
	return r.json;
}

static const char *subnet_of(const json_t *n)
{
	return jsonx_str(
		json_array_get(json_object_get(jsonx_obj(n, "IPAM"), "Config"),
			       0),
		"Subnet", "");
}

static void overlays_are_created_listed_inspected_and_removed(void **s)
{
	char id1[64], id2[64], msg[512];
	int status;
	assert_int_equal(create("front", "", "", id1, NULL), 201);
	assert_int_equal(strlen(id1), 25);
	assert_int_equal(create("back",
				"{\"Subnet\":\"10.9.0.0/16\","
				"\"Gateway\":\"10.9.0.254\"}",
				"\"com.docker.network.driver.mtu\":\"1400\"",
				id2, NULL),
			 201);

	json_t *n = inspect("front", &status);
	assert_int_equal(status, 200);
	assert_string_equal(jsonx_str(n, "Id", ""), id1);
	assert_string_equal(jsonx_str(n, "Scope", ""), "swarm");
	assert_string_equal(jsonx_str(n, "Driver", ""), "overlay");
	assert_string_equal(subnet_of(n), "10.0.0.0/24");
	assert_string_equal(
		jsonx_str(jsonx_obj(n, "Options"),
			  "com.docker.network.driver.overlay.vxlanid_list", ""),
		"4096");
	assert_string_equal(jsonx_str(jsonx_obj(n, "Labels"), "team", ""), "a");
	json_decref(n);
	char prefix[8];
	snprintf(prefix, sizeof(prefix), "%.6s", id2);
	n = inspect(prefix, &status);
	assert_int_equal(status, 200);
	assert_string_equal(jsonx_str(n, "Name", ""), "back");
	assert_string_equal(subnet_of(n), "10.9.0.0/16");
	assert_string_equal(
		jsonx_str(json_array_get(json_object_get(jsonx_obj(n, "IPAM"),
							 "Config"),
					 0),
			  "Gateway", ""),
		"10.9.0.254");
	assert_string_equal(
		jsonx_str(jsonx_obj(n, "Options"),
			  "com.docker.network.driver.overlay.vxlanid_list", ""),
		"4097");
	json_decref(n);

	/* Docker's refusals; nothing is created by them. */
	assert_int_equal(create("front", "", "", NULL, msg), 409);
	assert_string_equal(msg, "network with name front already exists");
	assert_int_equal(
		create("x", "{\"Subnet\":\"10.9.4.0/24\"}", "", NULL, msg),
		403);
	assert_string_equal(
		msg, "Pool overlaps with other one on this address space");
	assert_int_equal(create("x", "", "\"encrypted\":\"\"", NULL, msg), 400);
	assert_non_null(strstr(msg, "IPsec ESP"));
	assert_int_equal(create("x",
				"{\"Subnet\":\"10.8.0.0/24\","
				"\"Gateway\":\"10.7.0.1\"}",
				"", NULL, msg),
			 400);
	assert_string_equal(msg, "no matching subnet for gateway 10.7.0.1");

	struct reply r;
	ask("GET",
	    "/v1.45/networks?filters=%7B%22scope%22:%5B%22swarm%22%5D,"
	    "%22driver%22:%5B%22overlay%22%5D%7D",
	    NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_array_size(r.json), 2);
	reply_fini(&r);
	ask("GET", "/v1.45/networks?filters=%7B%22name%22:%5B%22fro%22%5D%7D",
	    NULL, &r);
	assert_int_equal(json_array_size(r.json), 1);
	reply_fini(&r);

	/* Removed; its VNI and subnet are given again. */
	ask("DELETE", "/v1.45/networks/front", NULL, &r);
	assert_int_equal(r.status, 204);
	reply_fini(&r);
	ask("DELETE", "/v1.45/networks/front", NULL, &r);
	assert_int_not_equal(r.status, 204);
	reply_fini(&r);
	assert_int_equal(create("again", "", "", NULL, NULL), 201);
	n = inspect("again", &status);
	assert_string_equal(subnet_of(n), "10.0.0.0/24");
	assert_string_equal(
		jsonx_str(jsonx_obj(n, "Options"),
			  "com.docker.network.driver.overlay.vxlanid_list", ""),
		"4096");
	json_decref(n);

	/* Prune removes the unused overlays its filter selects. */
	ask("POST",
	    "/v1.45/networks/prune?filters=%7B%22label%22:%5B%22team=b%22%5D%7D",
	    NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(
		json_array_size(json_object_get(r.json, "NetworksDeleted")), 0);
	reply_fini(&r);
	ask("POST",
	    "/v1.45/networks/prune?filters=%7B%22label%22:%5B%22team=a%22%5D%7D",
	    NULL, &r);
	assert_int_equal(r.status, 200);
	json_t *del = json_object_get(r.json, "NetworksDeleted");
	assert_int_equal(json_array_size(del), 2);
	bool back = false, again = false;
	size_t i;
	json_t *v;
	json_array_foreach(del, i, v)
	{
		back |= !strcmp(json_string_value(v), "back");
		again |= !strcmp(json_string_value(v), "again");
	}
	assert_true(back && again);
	reply_fini(&r);
	ask("GET", "/v1.45/networks", NULL, &r);
	assert_int_equal(json_array_size(r.json), 0);
	reply_fini(&r);
}

/* Start a request; the loop runs it (on_done fills @r). */
static void start(const char *method, const char *path, const char *body,
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
				      .body_len = strlen(body),
				      .timeout_ms = 10000};
	struct http_client_cbs cbs = {.on_done = on_done, .arg = r};
	assert_int_equal(http_client_start(&L, &addr, &req, &cbs), 0);
}

static void creates_in_flight_together_never_share_a_vni_or_subnet(void **s)
{
	enum { N = 6 };
	struct reply r[N];
	char bodies[N][512], vnis[N][16], subnets[N][32];
	for (int i = 0; i < N; i++) {
		char name[16];
		snprintf(name, sizeof(name), "n%d", i);
		snprintf(bodies[i], sizeof(bodies[i]), CREATE, name, "", "");
		start("POST", "/v1.45/networks/create", bodies[i], &r[i]);
	}
	for (int i = 0; i < N; i++) {
		while (!r[i].done)
			uv_run(&L, UV_RUN_ONCE);
		assert_int_equal(r[i].status, 201);
		reply_fini(&r[i]);
	}
	for (int i = 0; i < N; i++) {
		char name[16];
		int status;
		snprintf(name, sizeof(name), "n%d", i);
		json_t *n = inspect(name, &status);
		assert_int_equal(status, 200);
		snprintf(vnis[i], sizeof(vnis[i]), "%s",
			 jsonx_str(jsonx_obj(n, "Options"),
				   "com.docker.network.driver.overlay."
				   "vxlanid_list",
				   ""));
		snprintf(subnets[i], sizeof(subnets[i]), "%s", subnet_of(n));
		json_decref(n);
		for (int j = 0; j < i; j++) {
			assert_string_not_equal(vnis[i], vnis[j]);
			assert_string_not_equal(subnets[i], subnets[j]);
		}
	}
}

static void a_worker_or_a_daemon_outside_a_swarm_gets_dockers_503(void **s)
{
	struct api_services svc = {
		.data_root = dir,
		.exec_root = dir,
		.engine_id = "11111111-2222-4333-8444-555555555555",
		.swarm_state = fake_state};
	struct api *a;
	struct http_server *srv;
	char path[128];
	snprintf(path, sizeof(path), "%.100s/none.sock", dir);
	assert_int_equal(api_new(&svc, &a), 0);
	assert_int_equal(http_server_new(&L, NULL, api_http_handler, a, &srv),
			 0);
	assert_int_equal(http_server_listen_unix(srv, path, 0600), 0);
	char keep[128];
	snprintf(keep, sizeof(keep), "%s", sock);
	snprintf(sock, sizeof(sock), "%s", path);
	char msg[512];
	assert_int_equal(create("front", "", "", NULL, msg), 503);
	assert_non_null(strstr(msg, "not a swarm manager"));
	snprintf(sock, sizeof(sock), "%s", keep);
	http_server_close(srv, NULL, NULL);
	uv_run(&L, UV_RUN_NOWAIT);
	api_free(a);
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
			overlays_are_created_listed_inspected_and_removed,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			creates_in_flight_together_never_share_a_vni_or_subnet,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			a_worker_or_a_daemon_outside_a_swarm_gets_dockers_503,
			setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
