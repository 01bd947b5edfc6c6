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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "common/clock.h"
#include "common/http.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "manager/manager.h"

#include "../services-api/mgr_fixture.h"

static int setup(void **s)
{
	return mgrfx_setup("ovl-api");
}

static int teardown(void **s)
{
	return mgrfx_teardown();
}

#define CREATE                                                                 \
	"{\"Name\":\"%s\",\"Driver\":\"overlay\",\"Scope\":\"\","              \
	"\"IPAM\":{\"Driver\":\"default\",\"Options\":{},\"Config\":[%s]},"    \
	"\"Options\":{%s},\"Labels\":{\"team\":\"a\"}}"

static int create(const char *name, const char *cfg, const char *opts, char *id,
		  char *msg)
{
	struct mgrfx_reply r;
	char body[1024];
	snprintf(body, sizeof(body), CREATE, name, cfg, opts);
	mgrfx_ask("POST", "/v1.45/networks/create", body, &r);
	if (id)
		snprintf(id, 64, "%s", jsonx_str(r.json, "Id", ""));
	if (msg)
		snprintf(msg, 512, "%s", jsonx_str(r.json, "message", ""));
	mgrfx_reply_fini(&r);
	return r.status;
}

static json_t *inspect(const char *ref, int *status)
{
	struct mgrfx_reply r;
	char path[256];
	snprintf(path, sizeof(path), "/v1.45/networks/%s", ref);
	mgrfx_ask("GET", path, NULL, &r);
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

	struct mgrfx_reply r;
	mgrfx_ask("GET",
		  "/v1.45/networks?filters=%7B%22scope%22:%5B%22swarm%22%5D,"
		  "%22driver%22:%5B%22overlay%22%5D%7D",
		  NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_array_size(r.json), 2);
	mgrfx_reply_fini(&r);
	mgrfx_ask("GET",
		  "/v1.45/networks?filters=%7B%22name%22:%5B%22fro%22%5D%7D",
		  NULL, &r);
	assert_int_equal(json_array_size(r.json), 1);
	mgrfx_reply_fini(&r);

	/* Removed; its VNI and subnet are given again. */
	mgrfx_ask("DELETE", "/v1.45/networks/front", NULL, &r);
	assert_int_equal(r.status, 204);
	mgrfx_reply_fini(&r);
	mgrfx_ask("DELETE", "/v1.45/networks/front", NULL, &r);
	assert_int_not_equal(r.status, 204);
	mgrfx_reply_fini(&r);
	assert_int_equal(create("again", "", "", NULL, NULL), 201);
	n = inspect("again", &status);
	assert_string_equal(subnet_of(n), "10.0.0.0/24");
	assert_string_equal(
		jsonx_str(jsonx_obj(n, "Options"),
			  "com.docker.network.driver.overlay.vxlanid_list", ""),
		"4096");
	json_decref(n);

	/* Prune removes the unused overlays its filter selects. */
	mgrfx_ask(
		"POST",
		"/v1.45/networks/prune?filters=%7B%22label%22:%5B%22team=b%22%5D%7D",
		NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(
		json_array_size(json_object_get(r.json, "NetworksDeleted")), 0);
	mgrfx_reply_fini(&r);
	mgrfx_ask(
		"POST",
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
	mgrfx_reply_fini(&r);
	mgrfx_ask("GET", "/v1.45/networks", NULL, &r);
	assert_int_equal(json_array_size(r.json), 0);
	mgrfx_reply_fini(&r);
}

static void creates_in_flight_together_never_share_a_vni_or_subnet(void **s)
{
	enum { N = 6 };
	struct mgrfx_reply r[N];
	char bodies[N][512], vnis[N][16], subnets[N][32];
	for (int i = 0; i < N; i++) {
		char name[16];
		snprintf(name, sizeof(name), "n%d", i);
		snprintf(bodies[i], sizeof(bodies[i]), CREATE, name, "", "");
		mgrfx_start("POST", "/v1.45/networks/create", bodies[i], &r[i]);
	}
	for (int i = 0; i < N; i++) {
		while (!r[i].done)
			uv_run(&mgrfx.loop, UV_RUN_ONCE);
		assert_int_equal(r[i].status, 201);
		mgrfx_reply_fini(&r[i]);
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
		.data_root = mgrfx.dir,
		.exec_root = mgrfx.dir,
		.engine_id = "11111111-2222-4333-8444-555555555555",
		.swarm_state = mgrfx_swarm_state};
	struct api *a;
	struct http_server *srv;
	char path[128];
	snprintf(path, sizeof(path), "%.100s/none.sock", mgrfx.dir);
	assert_int_equal(api_new(&svc, &a), 0);
	assert_int_equal(
		http_server_new(&mgrfx.loop, NULL, api_http_handler, a, &srv),
		0);
	assert_int_equal(http_server_listen_unix(srv, path, 0600), 0);
	char keep[128];
	snprintf(keep, sizeof(keep), "%s", mgrfx.sock);
	snprintf(mgrfx.sock, sizeof(mgrfx.sock), "%s", path);
	char msg[512];
	assert_int_equal(create("front", "", "", NULL, msg), 503);
	assert_non_null(strstr(msg, "not a swarm manager"));
	snprintf(mgrfx.sock, sizeof(mgrfx.sock), "%s", keep);
	http_server_close(srv, NULL, NULL);
	uv_run(&mgrfx.loop, UV_RUN_NOWAIT);
	api_free(a);
}

#define SVC_NET                                                                \
	"{\"Name\":\"%s\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":"     \
	"\"busybox\"},\"Networks\":[{\"Target\":\"%s\",\"Aliases\":"           \
	"[\"www\"]}]},\"Mode\":{\"Replicated\":{\"Replicas\":2}}}"

static int service_create(const char *name, const char *net, char *msg)
{
	struct mgrfx_reply r;
	char body[1024];
	snprintf(body, sizeof(body), SVC_NET, name, net);
	mgrfx_ask("POST", "/v1.45/services/create", body, &r);
	if (msg)
		snprintf(msg, 512, "%s", jsonx_str(r.json, "message", ""));
	mgrfx_reply_fini(&r);
	return r.status;
}

/* The tasks of service @name, once each has its attachments (5 s). */
static json_t *tasks_with_addresses(const char *name, size_t want)
{
	char path[256];
	snprintf(path, sizeof(path),
		 "/v1.45/tasks?filters=%%7B%%22service%%22:%%5B%%22%s"
		 "%%22%%5D%%7D",
		 name);
	for (int i = 0; i < 100; i++) {
		struct mgrfx_reply r;
		mgrfx_ask("GET", path, NULL, &r);
		size_t ok = 0, j;
		json_t *t;
		json_array_foreach(r.json, j, t)
		{
			ok += json_array_size(json_object_get(
				      t, "NetworksAttachments")) == 1;
		}
		if (ok == want && json_array_size(r.json) == want)
			return r.json;
		mgrfx_reply_fini(&r);
		mgrfx_spin(50);
	}
	fail_msg("the tasks of %s never got their addresses", name);
	return NULL;
}

static void services_on_an_overlay_get_a_vip_and_task_addresses(void **s)
{
	char id[64], msg[512];
	assert_int_equal(create("front", "", "", id, NULL), 201);
	assert_int_equal(service_create("web", "front", msg), 201);
	json_t *tasks = tasks_with_addresses("web", 2);
	size_t i;
	json_t *t;
	char seen[2][32] = {"", ""};
	json_array_foreach(tasks, i, t)
	{
		json_t *a = json_array_get(
			json_object_get(t, "NetworksAttachments"), 0);
		assert_string_equal(
			jsonx_str(jsonx_obj(a, "Network"), "ID", ""), id);
		const char *addr = json_string_value(
			json_array_get(json_object_get(a, "Addresses"), 0));
		assert_non_null(addr);
		assert_int_equal(strncmp(addr, "10.0.0.", 7), 0);
		assert_string_not_equal(addr, "10.0.0.1/24");
		assert_string_not_equal(addr, "10.0.0.2/24");
		snprintf(seen[i], sizeof(seen[i]), "%s", addr);
		assert_string_not_equal(
			jsonx_str(jsonx_obj(t, "Status"), "State", ""), "new");
	}
	assert_string_not_equal(seen[0], seen[1]);
	json_decref(tasks);

	/* Inspect: the Target is the network's id, the Endpoint its VIP. */
	struct mgrfx_reply r;
	mgrfx_ask("GET", "/v1.45/services/web", NULL, &r);
	assert_int_equal(r.status, 200);
	json_t *n = json_array_get(
		json_object_get(
			jsonx_obj(jsonx_obj(r.json, "Spec"), "TaskTemplate"),
			"Networks"),
		0);
	assert_string_equal(jsonx_str(n, "Target", ""), id);
	json_t *ep = jsonx_obj(r.json, "Endpoint");
	assert_string_equal(jsonx_str(jsonx_obj(ep, "Spec"), "Mode", ""),
			    "vip");
	json_t *v = json_array_get(json_object_get(ep, "VirtualIPs"), 0);
	assert_string_equal(jsonx_str(v, "NetworkID", ""), id);
	assert_string_equal(jsonx_str(v, "Addr", ""), "10.0.0.2/24");
	mgrfx_reply_fini(&r);

	/* The network cannot go while the service uses it. */
	char path[128];
	snprintf(path, sizeof(path), "/v1.45/networks/%s", id);
	mgrfx_ask("DELETE", path, NULL, &r);
	assert_int_equal(r.status, 403);
	assert_non_null(strstr(jsonx_str(r.json, "message", ""),
			       "is in use by service"));
	mgrfx_reply_fini(&r);

	/* Unknown and local networks: Docker's 404 and 400. */
	assert_int_equal(service_create("api", "nope", msg), 404);
	assert_string_equal(msg, "network nope not found");
	assert_int_equal(service_create("api", "bridge", msg), 400);
	assert_non_null(strstr(msg, "The network bridge cannot be used with "
				    "services"));
}

static int post_service(const char *body, char *msg)
{
	struct mgrfx_reply r;
	mgrfx_ask("POST", "/v1.45/services/create", body, &r);
	snprintf(msg, 512, "%s", jsonx_str(r.json, "message", ""));
	mgrfx_reply_fini(&r);
	return r.status;
}

#define SVC_PORT                                                               \
	"{\"Name\":\"%s\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":"     \
	"\"busybox\"}},\"EndpointSpec\":{%s\"Ports\":[{\"Protocol\":\"tcp\","  \
	"\"TargetPort\":80,\"PublishedPort\":%d,\"PublishMode\":\"ingress\"}]}}"

static void published_ports_are_the_swarms(void **s)
{
	char body[1024], msg[512];
	snprintf(body, sizeof(body), SVC_PORT, "web", "", 8080);
	assert_int_equal(post_service(body, msg), 201);
	/* Another service asking for the same ingress port: Docker's 400. */
	snprintf(body, sizeof(body), SVC_PORT, "api", "", 8080);
	assert_int_equal(post_service(body, msg), 400);
	assert_non_null(strstr(msg, "port '8080' is already in use by service "
				    "'web'"));
	assert_non_null(strstr(msg, "as an ingress port"));
	/* dnsrr with an ingress port: Docker's words. */
	snprintf(body, sizeof(body), SVC_PORT, "api", "\"Mode\":\"dnsrr\",",
		 8081);
	assert_int_equal(post_service(body, msg), 400);
	assert_non_null(strstr(msg, "port published with ingress mode can't "
				    "be used with dnsrr mode"));
	/* Without a number: one of 30000-32767, shown by inspect. */
	snprintf(body, sizeof(body), SVC_PORT, "api", "", 0);
	assert_int_equal(post_service(body, msg), 201);
	for (int i = 0; i < 100; i++) {
		struct mgrfx_reply r;
		mgrfx_ask("GET", "/v1.45/services/api", NULL, &r);
		json_t *p = json_array_get(
			json_object_get(jsonx_obj(r.json, "Endpoint"), "Ports"),
			0);
		int64_t port = jsonx_int(p, "PublishedPort", 0);
		bool vip = json_array_size(json_object_get(
				   jsonx_obj(r.json, "Endpoint"),
				   "VirtualIPs")) == 1;
		mgrfx_reply_fini(&r);
		if (port) {
			assert_int_equal(port, 30000);
			assert_true(vip); /* on the ingress network */
			break;
		}
		assert_true(i < 99);
		mgrfx_spin(50);
	}
	/* The ingress network exists now and cannot go while used. */
	struct mgrfx_reply r;
	mgrfx_ask("DELETE", "/v1.45/networks/ingress", NULL, &r);
	assert_int_equal(r.status, 403);
	assert_non_null(strstr(jsonx_str(r.json, "message", ""),
			       "ingress network cannot be removed because "
			       "service"));
	mgrfx_reply_fini(&r);
	int status;
	json_t *in = inspect("ingress", &status);
	assert_int_equal(status, 200);
	assert_true(json_is_true(json_object_get(in, "Ingress")));
	assert_string_equal(subnet_of(in), "10.255.0.0/16");
	json_decref(in);
	/* A network of that name cannot be made by hand. */
	assert_int_equal(create("ingress", "", "", NULL, msg), 403);
}

/* Writes pipelined on the leader: each is built before the others are
 * applied; only one may have the port (fails without the claims of
 * ops_network.c: all six got it). */
static void creates_in_flight_together_never_share_a_port(void **s)
{
	enum { N = 6 };
	struct mgrfx_reply r[N];
	char bodies[N][512];
	int created = 0, refused = 0;
	for (int i = 0; i < N; i++) {
		char name[16];
		snprintf(name, sizeof(name), "p%d", i);
		snprintf(bodies[i], sizeof(bodies[i]), SVC_PORT, name, "",
			 7070);
		mgrfx_start("POST", "/v1.45/services/create", bodies[i], &r[i]);
	}
	for (int i = 0; i < N; i++) {
		while (!r[i].done)
			uv_run(&mgrfx.loop, UV_RUN_ONCE);
		if (r[i].status == 201)
			created++;
		else if (r[i].status == 400 &&
			 strstr(jsonx_str(r[i].json, "message", ""),
				"port '7070' is already in use"))
			refused++;
		mgrfx_reply_fini(&r[i]);
	}
	assert_int_equal(created, 1);
	assert_int_equal(refused, N - 1);
	/* Once applied, the claim is gone: the same service may update. */
	struct mgrfx_reply q;
	mgrfx_ask("GET", "/v1.45/services", NULL, &q);
	assert_int_equal(json_array_size(q.json), 1);
	mgrfx_reply_fini(&q);
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
		cmocka_unit_test_setup_teardown(
			services_on_an_overlay_get_a_vip_and_task_addresses,
			setup, teardown),
		cmocka_unit_test_setup_teardown(published_ports_are_the_swarms,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			creates_in_flight_together_never_share_a_port, setup,
			teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
