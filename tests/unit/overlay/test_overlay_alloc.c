/*
 * Unit tests of the allocator's stage of the leader's pass (allocator.c)
 * and of the nodes' network items (alloc_items.c), over a real store
 * through the scheduler's harness: every pass reloads the model from the
 * store, as a new leader does, so what is asserted survives failover.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>

#include "../scheduler/harness.h"

#define NET_FRONT "nfront0000000000000000000"
#define NET_BACK "nback00000000000000000000"

static void net(struct h *h, const char *id, const char *name,
		const char *subnet, const char *gw, int vni)
{
	char spec[512];
	snprintf(spec, sizeof(spec),
		 "{\"Name\":\"%s\",\"Driver\":\"overlay\",\"Scope\":\"swarm\","
		 "\"Internal\":false,\"Attachable\":false,\"Labels\":{},"
		 "\"Options\":{},\"IPAM\":{\"Driver\":\"default\",\"Config\":"
		 "[{\"Subnet\":\"%s\",\"Gateway\":\"%s\"}]},\"VNI\":%d}",
		 name, subnet, gw, vni);
	h_put(h, STORE_NETWORKS, id, name, spec, "{}");
}

static void node(struct h *h, const char *id, const char *addr)
{
	char spec[256], status[768];
	snprintf(spec, sizeof(spec),
		 "{\"Role\":\"worker\",\"Availability\":\"active\","
		 "\"Labels\":{}}");
	snprintf(status, sizeof(status),
		 "{\"Description\":{\"Hostname\":\"host-%s\",\"Platform\":{"
		 "\"OS\":\"linux\",\"Architecture\":\"x86_64\"},\"Resources\":"
		 "{\"NanoCPUs\":4000000000,\"MemoryBytes\":8589934592},"
		 "\"Engine\":{\"Labels\":{}}},\"Status\":{\"State\":\"ready\","
		 "\"Addr\":\"%s\"}}",
		 id, addr);
	h_put(h, STORE_NODES, id, NULL, spec, status);
}

static void setup3(struct h *h)
{
	h_init(h);
	node(h, "n1", "192.168.100.11");
	node(h, "n2", "192.168.100.12");
	node(h, "n3", "192.168.100.13");
	net(h, NET_FRONT, "front", "10.0.1.0/24", "10.0.1.1", 4097);
	net(h, NET_BACK, "back", "10.0.2.0/24", "10.0.2.1", 4098);
}

#define SVC(name, replicas, nets, endpoint)                                    \
	"{\"Name\":\"" name "\",\"TaskTemplate\":{\"ContainerSpec\":{"         \
	"\"Image\":\"busybox\"},\"Networks\":" nets "},\"Mode\":{"             \
	"\"Replicated\":{\"Replicas\":" replicas                               \
	"}},\"EndpointSpec\":" endpoint "}"

/* The parsed spec and status of task/service @id. */
static json_t *obj(struct h *h, enum store_table t, const char *id, bool status)
{
	const struct store_object *o = store_get(h->s, t, id);
	assert_non_null(o);
	json_t *j = NULL;
	assert_int_equal(jsonx_parse(status ? (const char *)o->status
					    : (const char *)o->spec,
				     status ? o->status_len : o->spec_len, &j,
				     NULL, 0),
			 0);
	return j;
}

/* Every address of every task not ended on @net_id, into @out. */
static size_t addrs(struct h *h, const char *net_id, char out[][24], size_t cap,
		    bool live_only)
{
	const struct store_object **all;
	size_t n, k = 0;
	assert_int_equal(store_list(h->s, STORE_TASKS, &all, &n), 0);
	for (size_t i = 0; i < n; i++) {
		json_t *sp = obj(h, STORE_TASKS, all[i]->id, false);
		json_t *st = obj(h, STORE_TASKS, all[i]->id, true);
		enum task_state s;
		assert_int_equal(
			task_state_parse(jsonx_str(st, "State", ""), &s), 0);
		size_t j;
		json_t *a;
		json_array_foreach(json_object_get(sp, "NetworksAttachments"),
				   j, a)
		{
			if (strcmp(jsonx_str(jsonx_obj(a, "Network"), "ID", ""),
				   net_id) ||
			    (live_only && task_state_terminal(s)))
				continue;
			assert_true(k < cap);
			snprintf(out[k++], 24, "%s",
				 json_string_value(json_array_get(
					 json_object_get(a, "Addresses"), 0)));
		}
		json_decref(sp);
		json_decref(st);
	}
	shoal_free(all);
	return k;
}

static void no_duplicates(char a[][24], size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (!strcmp(a[i], a[j]))
				fail_msg("address %s given twice", a[i]);
}

static void tasks_get_addresses_and_the_service_a_vip(void **state)
{
	struct h h;
	struct h_task t[16];
	char a[16][24];
	setup3(&h);
	h_service(&h, "s1", "web",
		  SVC("web", "3",
		      "[{\"Target\":\"" NET_FRONT "\",\"Aliases\":[\"www\"]}]",
		      "{\"Mode\":\"vip\"}"));
	h_settle(&h);
	size_t n = h_tasks(&h, t, 16);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(t[i].state, "assigned");
	assert_int_equal(addrs(&h, NET_FRONT, a, 16, false), 3);
	no_duplicates(a, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_string_not_equal(a[i], "10.0.1.1/24"); /* gateway */
		assert_string_not_equal(a[i], "10.0.1.2/24"); /* the VIP */
		assert_int_equal(strncmp(a[i], "10.0.1.", 7), 0);
	}
	json_t *st = obj(&h, STORE_SERVICES, "s1", true);
	json_t *v = json_array_get(
		json_object_get(jsonx_obj(st, "Endpoint"), "VirtualIPs"), 0);
	assert_string_equal(jsonx_str(v, "NetworkID", ""), NET_FRONT);
	assert_string_equal(jsonx_str(v, "Addr", ""), "10.0.1.2/24");
	assert_string_equal(
		jsonx_str(jsonx_obj(jsonx_obj(st, "Endpoint"), "Spec"), "Mode",
			  ""),
		"vip");
	json_decref(st);
	/* Docker's attachment shape, aliases with the service's name. */
	json_t *sp = obj(&h, STORE_TASKS, t[0].id, false);
	json_t *att =
		json_array_get(json_object_get(sp, "NetworksAttachments"), 0);
	json_t *nw = jsonx_obj(att, "Network");
	assert_string_equal(jsonx_str(jsonx_obj(nw, "Spec"), "Name", ""),
			    "front");
	assert_string_equal(
		jsonx_str(jsonx_obj(jsonx_obj(nw, "DriverState"), "Options"),
			  "com.docker.network.driver.overlay.vxlanid_list", ""),
		"4097");
	json_t *cfg = json_array_get(
		json_object_get(jsonx_obj(nw, "IPAMOptions"), "Configs"), 0);
	assert_string_equal(jsonx_str(cfg, "Subnet", ""), "10.0.1.0/24");
	assert_string_equal(jsonx_str(cfg, "Gateway", ""), "10.0.1.1");
	json_t *al = json_object_get(att, "Aliases");
	assert_int_equal(json_array_size(al), 2);
	assert_string_equal(json_string_value(json_array_get(al, 0)), "web");
	assert_string_equal(json_string_value(json_array_get(al, 1)), "www");
	json_decref(sp);
	h_fini(&h);
}

static void two_services_never_share_an_address(void **state)
{
	struct h h;
	char a[64][24];
	setup3(&h);
	/* Both created before a pass: one pass allocates both. */
	h_service(&h, "s1", "web",
		  SVC("web", "5", "[{\"Target\":\"front\"}]", "{}"));
	h_service(&h, "s2", "api",
		  SVC("api", "5",
		      "[{\"Target\":\"" NET_BACK "\"},{\"Target\":\"" NET_FRONT
		      "\"}]",
		      "{}"));
	h_settle(&h);
	size_t n = addrs(&h, NET_FRONT, a, 64, true);
	assert_int_equal(n, 10);
	no_duplicates(a, n);
	assert_int_equal(addrs(&h, NET_BACK, a, 64, true), 5);
	/* A third after a "new leader" (every h_pass reloads the model from
	 * the store): the allocations made before are seen. */
	h_service(&h, "s3", "db",
		  SVC("db", "4", "[{\"Target\":\"front\"}]", "{}"));
	h_settle(&h);
	n = addrs(&h, NET_FRONT, a, 64, true);
	assert_int_equal(n, 14);
	no_duplicates(a, n);
	json_t *s1 = obj(&h, STORE_SERVICES, "s1", true);
	json_t *s2 = obj(&h, STORE_SERVICES, "s2", true);
	json_t *s3 = obj(&h, STORE_SERVICES, "s3", true);
	const char *v1 = jsonx_str(
		json_array_get(json_object_get(jsonx_obj(s1, "Endpoint"),
					       "VirtualIPs"),
			       0),
		"Addr", "");
	json_t *v2s = json_object_get(jsonx_obj(s2, "Endpoint"), "VirtualIPs");
	const char *v3 = jsonx_str(
		json_array_get(json_object_get(jsonx_obj(s3, "Endpoint"),
					       "VirtualIPs"),
			       0),
		"Addr", "");
	assert_int_equal(json_array_size(v2s), 2);
	const char *v2 = jsonx_str(json_array_get(v2s, 1), "Addr", "");
	assert_string_equal(jsonx_str(json_array_get(v2s, 1), "NetworkID", ""),
			    NET_FRONT);
	assert_string_not_equal(v1, v2);
	assert_string_not_equal(v1, v3);
	assert_string_not_equal(v2, v3);
	for (size_t i = 0; i < n; i++) {
		assert_string_not_equal(a[i], v1);
		assert_string_not_equal(a[i], v2);
		assert_string_not_equal(a[i], v3);
	}
	json_decref(s1);
	json_decref(s2);
	json_decref(s3);
	h_fini(&h);
}

static void addresses_free_when_tasks_are_deleted(void **state)
{
	struct h h;
	char a[16][24], b[16][24];
	setup3(&h);
	h_service(&h, "s1", "web",
		  SVC("web", "3", "[{\"Target\":\"front\"}]", "{}"));
	h_settle(&h);
	assert_int_equal(addrs(&h, NET_FRONT, a, 16, false), 3);
	/* The service goes: its tasks are deleted (never started). */
	struct store_batch bt;
	store_batch_init(&bt, h.now);
	const struct store_object *o = store_get(h.s, STORE_SERVICES, "s1");
	store_batch_delete(&bt, STORE_SERVICES, "s1", o->version);
	h_apply(&h, &bt);
	h_settle(&h);
	/* Its tasks still hold their addresses until they stopped. */
	assert_int_equal(addrs(&h, NET_FRONT, b, 16, false), 3);
	struct h_task t[16];
	size_t n = h_tasks(&h, t, 16);
	assert_int_equal(orch_model_load(&h.m, h.s), 0);
	for (size_t i = 0; i < n; i++)
		h_report(&h, t[i].node, t[i].id, "shutdown", 0);
	h_pass(&h);
	h_settle(&h);
	assert_int_equal(h_tasks(&h, t, 16), 0);
	assert_int_equal(addrs(&h, NET_FRONT, b, 16, false), 0);
	h_service(&h, "s2", "api",
		  SVC("api", "3", "[{\"Target\":\"front\"}]", "{}"));
	h_settle(&h);
	assert_int_equal(addrs(&h, NET_FRONT, b, 16, false), 3);
	/* The lowest free ones again: the VIP .2, then .3, .4, .5. */
	json_t *st = obj(&h, STORE_SERVICES, "s2", true);
	assert_string_equal(
		jsonx_str(json_array_get(
				  json_object_get(jsonx_obj(st, "Endpoint"),
						  "VirtualIPs"),
				  0),
			  "Addr", ""),
		"10.0.1.2/24");
	json_decref(st);
	for (size_t i = 0; i < 3; i++) {
		bool found = false;
		for (size_t j = 0; j < 3; j++)
			found |= !strcmp(a[i], b[j]);
		assert_true(found);
	}
	h_fini(&h);
}

static void a_full_subnet_keeps_tasks_new_with_the_reason(void **state)
{
	struct h h;
	struct h_task t[16];
	setup3(&h);
	/* A /29: .1 gateway, .2 the VIP, .3-.6 four tasks. */
	net(&h, "nsmall0000000000000000000", "small", "10.0.9.0/29", "10.0.9.1",
	    4099);
	h_service(&h, "s1", "web",
		  SVC("web", "6", "[{\"Target\":\"small\"}]", "{}"));
	h_settle(&h);
	size_t n = h_tasks(&h, t, 16), assigned = 0, fresh = 0;
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(t[i].state, "assigned"))
			assigned++;
		if (!strcmp(t[i].state, "new")) {
			fresh++;
			assert_string_equal(t[i].err,
					    "no address left on network small: "
					    "its subnet is full");
			assert_string_equal(t[i].node, "");
		}
	}
	assert_int_equal(assigned, 4);
	assert_int_equal(fresh, 2);
	h_fini(&h);
}

static void dnsrr_services_get_no_vip(void **state)
{
	struct h h;
	char a[8][24];
	setup3(&h);
	h_service(&h, "s1", "web",
		  SVC("web", "2", "[{\"Target\":\"front\"}]",
		      "{\"Mode\":\"dnsrr\"}"));
	h_settle(&h);
	json_t *st = obj(&h, STORE_SERVICES, "s1", true);
	assert_null(json_object_get(jsonx_obj(st, "Endpoint"), "VirtualIPs"));
	assert_string_equal(
		jsonx_str(jsonx_obj(jsonx_obj(st, "Endpoint"), "Spec"), "Mode",
			  ""),
		"dnsrr");
	json_decref(st);
	assert_int_equal(addrs(&h, NET_FRONT, a, 8, false), 2);
	/* The first task address is the lowest: no VIP took it. */
	assert_true(!strcmp(a[0], "10.0.1.2/24") ||
		    !strcmp(a[1], "10.0.1.2/24"));
	h_fini(&h);
}

static void leaving_a_network_drops_the_vip_and_replaces_tasks(void **state)
{
	struct h h;
	struct h_task t[32];
	char a[32][24];
	setup3(&h);
	h_service(&h, "s1", "web",
		  SVC("web", "2", "[{\"Target\":\"front\"}]", "{}"));
	h_settle(&h);
	h_run_all(&h);
	h_service(&h, "s1", "web",
		  SVC("web", "2", "[{\"Target\":\"back\"}]", "{}"));
	for (int i = 0; i < 20; i++) {
		h_settle(&h);
		h_run_all(&h);
		/* The old tasks stop when told (stop-first). */
		size_t n = h_tasks(&h, t, 32);
		assert_int_equal(orch_model_load(&h.m, h.s), 0);
		for (size_t j = 0; j < n; j++)
			if (!strcmp(t[j].desired, "shutdown") &&
			    !strcmp(t[j].state, "running"))
				h_report(&h, t[j].node, t[j].id, "shutdown", 0);
		h.now += 10LL * 1000000000LL;
	}
	h_settle(&h);
	json_t *st = obj(&h, STORE_SERVICES, "s1", true);
	json_t *v = json_object_get(jsonx_obj(st, "Endpoint"), "VirtualIPs");
	assert_int_equal(json_array_size(v), 1);
	assert_string_equal(jsonx_str(json_array_get(v, 0), "NetworkID", ""),
			    NET_BACK);
	json_decref(st);
	assert_int_equal(addrs(&h, NET_FRONT, a, 32, true), 0);
	assert_int_equal(addrs(&h, NET_BACK, a, 32, true), 2);
	h_fini(&h);
}

/* --- the nodes' items ---------------------------------------------------- */

struct items {
	json_t *j[8];
	size_t n;
};

static int emit(void *arg, char *json, size_t len)
{
	struct items *it = arg;
	assert_true(it->n < 8);
	assert_int_equal(jsonx_parse(json, len, &it->j[it->n++], NULL, 0), 0);
	shoal_free(json);
	return 0;
}

static void network_items_list_peers_of_other_nodes_only(void **state)
{
	struct h h;
	struct h_task t[16];
	setup3(&h);
	h_service(&h, "s1", "web",
		  SVC("web", "3",
		      "[{\"Target\":\"front\",\"Aliases\":[\"www\"]}]", "{}"));
	h_settle(&h);
	size_t n = h_tasks(&h, t, 16);
	assert_int_equal(n, 3);
	/* One task runs, the others are only assigned. */
	assert_int_equal(orch_model_load(&h.m, h.s), 0);
	h_report(&h, t[0].node, t[0].id, "running", 0);
	h_pass(&h);
	assert_int_equal(orch_model_load(&h.m, h.s), 0);
	struct items it = {0};
	assert_int_equal(alloc_items(&h.m, t[0].node, emit, &it), 0);
	assert_int_equal(it.n, 1);
	json_t *j = it.j[0];
	assert_string_equal(jsonx_str(j, "Kind", ""), "network");
	assert_string_equal(jsonx_str(j, "ID", ""), NET_FRONT);
	assert_string_equal(jsonx_str(j, "Name", ""), "front");
	assert_int_equal(jsonx_int(j, "VNI", 0), 4097);
	assert_string_equal(jsonx_str(j, "Subnet", ""), "10.0.1.0/24");
	assert_string_equal(jsonx_str(j, "Gateway", ""), "10.0.1.1");
	assert_int_equal(jsonx_int(j, "MTU", 0), 1450);
	json_t *peers = json_object_get(j, "Peers");
	assert_int_equal(json_array_size(peers), 2);
	size_t i;
	json_t *p;
	json_array_foreach(peers, i, p)
	{
		assert_string_not_equal(jsonx_str(p, "NodeID", ""), t[0].node);
		char vtep[32];
		snprintf(vtep, sizeof(vtep), "192.168.100.1%c",
			 jsonx_str(p, "NodeID", "n0")[1]);
		assert_string_equal(jsonx_str(p, "VTEP", ""), vtep);
		assert_null(strchr(jsonx_str(p, "Addr", "/"), '/'));
	}
	json_t *svcs = json_object_get(j, "Services");
	assert_int_equal(json_array_size(svcs), 1);
	json_t *s = json_array_get(svcs, 0);
	assert_string_equal(jsonx_str(s, "Name", ""), "web");
	assert_string_equal(jsonx_str(s, "Mode", ""), "vip");
	assert_string_equal(jsonx_str(s, "VIP", ""), "10.0.1.2");
	assert_string_equal(json_string_value(json_array_get(
				    json_object_get(s, "Aliases"), 0)),
			    "www");
	json_t *tl = json_object_get(s, "Tasks");
	assert_int_equal(json_array_size(tl), 3);
	size_t ready = 0;
	json_array_foreach(tl, i, p)
	{
		bool r = json_is_true(json_object_get(p, "Ready"));
		ready += r;
		assert_int_equal(r, !strcmp(jsonx_str(p, "ID", ""), t[0].id));
		assert_int_equal(strncmp(jsonx_str(p, "Name", ""), "web.", 4),
				 0);
	}
	assert_int_equal(ready, 1);
	json_decref(j);
	/* A node with no task on an overlay gets no item. */
	node(&h, "n4", "192.168.100.14");
	assert_int_equal(orch_model_load(&h.m, h.s), 0);
	it.n = 0;
	assert_int_equal(alloc_items(&h.m, "n4", emit, &it), 0);
	assert_int_equal(it.n, 0);
	h_fini(&h);
}

/* The leader's model follows the store by its own writes coming back
 * (orch_model_put(), own_write()) rather than by reloads: a task of a
 * network going running there must mark every node's set, not only its
 * own, or the other nodes keep balancing over the tasks they knew. */
static void a_task_running_marks_every_node_on_its_network(void **state)
{
	struct h h;
	struct h_task t[16];
	setup3(&h);
	h_service(&h, "s1", "web",
		  SVC("web", "3", "[{\"Target\":\"front\"}]", "{}"));
	h_settle(&h);
	assert_int_equal(h_tasks(&h, t, 16), 3);
	assert_int_equal(orch_model_load(&h.m, h.s), 0);
	h_report(&h, t[0].node, t[0].id, "running", 0);
	struct orch_env env = {
		.now_ns = h.now, .new_id = h_id, .arg = &h, .history = 5};
	struct store_batch b;
	bool more;
	int64_t wake;
	store_batch_init(&b, h.now);
	assert_true(orch_pass(&h.m, &env, &b, &more, &wake) > 0);
	h_apply(&h, &b);
	orch_pass_done(&h.m, true);
	/* The sets were pushed; then the write commits and comes back. */
	hmap_fini(&h.m.dirty_nodes);
	h.m.dirty_nodes = (struct hmap)HMAP_INIT;
	h.m.all_dirty = false;
	assert_int_equal(
		orch_model_put(&h.m, store_get(h.s, STORE_TASKS, t[0].id)), 0);
	for (size_t i = 0; i < 3; i++) {
		if (!h.m.all_dirty &&
		    !hmap_has(&h.m.dirty_nodes, t[i].node, strlen(t[i].node)))
			fail_msg("node %s not marked: it keeps %s not Ready",
				 t[i].node, t[0].id);
	}
	/* And what they get then has the task Ready, on every node. */
	for (size_t i = 0; i < 3; i++) {
		struct items it = {0};
		assert_int_equal(alloc_items(&h.m, t[i].node, emit, &it), 0);
		assert_int_equal(it.n, 1);
		json_t *tl = json_object_get(
			json_array_get(json_object_get(it.j[0], "Services"), 0),
			"Tasks");
		size_t k, ready = 0;
		json_t *p;
		json_array_foreach(tl, k, p)
		{
			if (!strcmp(jsonx_str(p, "ID", ""), t[0].id))
				ready += json_is_true(
					json_object_get(p, "Ready"));
		}
		assert_int_equal(ready, 1);
		json_decref(it.j[0]);
	}
	h_fini(&h);
}

/* A node found down: every other node's set is recomputed and no longer
 * lists the addresses of its tasks as peers (no stale forwarding entry
 * once node-down is detected). */
static void a_node_down_leaves_the_peers_of_every_node(void **state)
{
	struct h h;
	struct h_task t[16];
	setup3(&h);
	h_service(&h, "s1", "web",
		  SVC("web", "3", "[{\"Target\":\"front\"}]", "{}"));
	h_settle(&h);
	assert_int_equal(h_tasks(&h, t, 16), 3);
	assert_int_equal(orch_model_load(&h.m, h.s), 0);
	struct items it = {0};
	assert_int_equal(alloc_items(&h.m, t[0].node, emit, &it), 0);
	assert_int_equal(it.n, 1);
	assert_int_equal(json_array_size(json_object_get(it.j[0], "Peers")), 2);
	json_decref(it.j[0]);
	/* t[1]'s node goes down. */
	const struct store_object *o = store_get(h.s, STORE_NODES, t[1].node);
	assert_non_null(o);
	char *st = shoal_malloc(o->status_len + 1);
	assert_non_null(st);
	memcpy(st, o->status, o->status_len);
	st[o->status_len] = '\0';
	char *ready = strstr(st, "\"ready\"");
	assert_non_null(ready);
	memcpy(ready, "\"down\" ", 7); /* same length, still JSON */
	char spec[256];
	snprintf(spec, sizeof(spec), "%.*s", (int)o->spec_len,
		 (const char *)o->spec);
	h_put(&h, STORE_NODES, t[1].node, NULL, spec, st);
	shoal_free(st);
	hmap_fini(&h.m.dirty_nodes);
	h.m.dirty_nodes = (struct hmap)HMAP_INIT;
	h.m.all_dirty = false;
	assert_int_equal(
		orch_model_put(&h.m, store_get(h.s, STORE_NODES, t[1].node)),
		0);
	assert_true(h.m.all_dirty);
	it.n = 0;
	assert_int_equal(alloc_items(&h.m, t[0].node, emit, &it), 0);
	assert_int_equal(it.n, 1);
	json_t *peers = json_object_get(it.j[0], "Peers");
	assert_int_equal(json_array_size(peers), 1);
	assert_string_equal(jsonx_str(json_array_get(peers, 0), "NodeID", ""),
			    t[2].node);
	json_decref(it.j[0]);
	h_fini(&h);
}

#define SVC_PORTS(name, replicas, ports)                                           \
	"{\"Name\":\"" name "\",\"TaskTemplate\":{\"ContainerSpec\":{"             \
	"\"Image\":\"busybox\"}},\"Mode\":{\"Replicated\":{\"Replicas\":" replicas \
	"}},\"EndpointSpec\":{\"Ports\":" ports "}}"

static json_t *eport(struct h *h, const char *svc, size_t i)
{
	json_t *st = obj(h, STORE_SERVICES, svc, true);
	json_t *p = json_incref(json_array_get(
		json_object_get(jsonx_obj(st, "Endpoint"), "Ports"), i));
	json_decref(st);
	return p;
}

static void ingress_ports_get_numbers_and_the_ingress_network(void **state)
{
	struct h h;
	struct h_task t[16];
	setup3(&h);
	h_service(&h, "s1", "web",
		  SVC_PORTS("web", "2",
			    "[{\"TargetPort\":80,\"PublishedPort\":8080},"
			    "{\"TargetPort\":53,\"Protocol\":\"udp\"}]"));
	h_settle(&h);
	/* The ingress network, made by the allocator. */
	const struct store_object *in =
		store_get_by_name(h.s, STORE_NETWORKS, "ingress");
	assert_non_null(in);
	json_t *ns = NULL;
	assert_int_equal(
		jsonx_parse((const char *)in->spec, in->spec_len, &ns, NULL, 0),
		0);
	assert_true(json_is_true(json_object_get(ns, "Ingress")));
	assert_int_equal(jsonx_int(ns, "VNI", 0), 4095);
	json_decref(ns);
	json_t *p = eport(&h, "s1", 0);
	assert_int_equal(jsonx_int(p, "PublishedPort", 0), 8080);
	assert_string_equal(jsonx_str(p, "PublishMode", ""), "ingress");
	assert_string_equal(jsonx_str(p, "Protocol", ""), "tcp");
	json_decref(p);
	p = eport(&h, "s1", 1);
	assert_int_equal(jsonx_int(p, "PublishedPort", 0), 30000);
	assert_string_equal(jsonx_str(p, "Protocol", ""), "udp");
	json_decref(p);
	/* Its tasks have an address on the ingress network, the service a
	 * VIP there. */
	char a[16][24];
	assert_int_equal(addrs(&h, in->id, a, 16, false), 2);
	no_duplicates(a, 2);
	assert_int_equal(strncmp(a[0], "10.255.0.", 9), 0);
	json_t *st = obj(&h, STORE_SERVICES, "s1", true);
	json_t *v = json_array_get(
		json_object_get(jsonx_obj(st, "Endpoint"), "VirtualIPs"), 0);
	assert_string_equal(jsonx_str(v, "Addr", ""), "10.255.0.2/16");
	json_decref(st);
	/* Further dynamic ports: the next free per protocol; the ports
	 * given stay across passes (each pass reloads from the store). */
	h_service(&h, "s2", "api",
		  SVC_PORTS("api", "1",
			    "[{\"TargetPort\":81},{\"TargetPort\":54,"
			    "\"Protocol\":\"udp\"}]"));
	h_settle(&h);
	p = eport(&h, "s2", 0);
	assert_int_equal(jsonx_int(p, "PublishedPort", 0), 30000);
	json_decref(p);
	p = eport(&h, "s2", 1);
	assert_int_equal(jsonx_int(p, "PublishedPort", 0), 30001);
	json_decref(p);
	p = eport(&h, "s1", 1);
	assert_int_equal(jsonx_int(p, "PublishedPort", 0), 30000);
	json_decref(p);
	assert_int_equal(h_tasks(&h, t, 16), 3);

	/* The ingress item: on every ready node, Backends the Ready tasks. */
	size_t n = h_tasks(&h, t, 16);
	assert_int_equal(orch_model_load(&h.m, h.s), 0);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(t[i].svc, "s1")) {
			h_report(&h, t[i].node, t[i].id, "running", 0);
			break;
		}
	h_pass(&h);
	node(&h, "n4", "192.168.100.14");
	assert_int_equal(orch_model_load(&h.m, h.s), 0);
	struct items it = {0};
	assert_int_equal(alloc_items(&h.m, "n4", emit, &it), 0);
	assert_int_equal(it.n, 1);
	json_t *j = it.j[0];
	assert_string_equal(jsonx_str(j, "Kind", ""), "ingress");
	json_t *nw = jsonx_obj(j, "Network");
	assert_string_equal(jsonx_str(nw, "Name", ""), "ingress");
	assert_int_equal(jsonx_int(nw, "VNI", 0), 4095);
	assert_string_equal(jsonx_str(nw, "Subnet", ""), "10.255.0.0/16");
	assert_int_equal(json_array_size(json_object_get(nw, "Peers")), 3);
	json_t *ports = json_object_get(j, "Ports");
	assert_int_equal(json_array_size(ports), 4);
	json_t *p0 = NULL;
	size_t i;
	json_array_foreach(ports, i, p)
	{
		if (jsonx_int(p, "PublishedPort", 0) == 8080)
			p0 = p;
	}
	assert_non_null(p0);
	assert_string_equal(jsonx_str(p0, "Service", ""), "web");
	assert_int_equal(jsonx_int(p0, "TargetPort", 0), 80);
	json_t *be = json_object_get(p0, "Backends");
	assert_int_equal(json_array_size(be), 1);
	assert_int_equal(strncmp(jsonx_str(json_array_get(be, 0), "Addr", ""),
				 "10.255.", 7),
			 0);
	assert_string_not_equal(jsonx_str(json_array_get(be, 0), "VTEP", ""),
				"");
	json_decref(j);
	/* A node with a task on the ingress network also gets its network
	 * item (to join it), then the ingress item. */
	it.n = 0;
	assert_int_equal(alloc_items(&h.m, t[0].node, emit, &it), 0);
	assert_int_equal(it.n, 2);
	assert_string_equal(jsonx_str(it.j[0], "Kind", ""), "network");
	assert_string_equal(jsonx_str(it.j[0], "Name", ""), "ingress");
	assert_string_equal(jsonx_str(it.j[1], "Kind", ""), "ingress");
	json_decref(it.j[0]);
	json_decref(it.j[1]);
	h_fini(&h);
}

static void host_ports_ride_in_the_task(void **state)
{
	struct h h;
	struct h_task t[4];
	setup3(&h);
	h_service(&h, "s1", "web",
		  SVC_PORTS("web", "1",
			    "[{\"TargetPort\":80,\"PublishedPort\":8081,"
			    "\"PublishMode\":\"host\"}]"));
	h_settle(&h);
	assert_int_equal(h_tasks(&h, t, 4), 1);
	assert_string_equal(t[0].state, "assigned");
	json_t *sp = obj(&h, STORE_TASKS, t[0].id, false);
	json_t *p = json_array_get(
		json_object_get(jsonx_obj(sp, "Endpoint"), "Ports"), 0);
	assert_int_equal(jsonx_int(p, "PublishedPort", 0), 8081);
	assert_int_equal(jsonx_int(p, "TargetPort", 0), 80);
	assert_string_equal(jsonx_str(p, "PublishMode", ""), "host");
	assert_null(json_object_get(sp, "NetworksAttachments"));
	json_decref(sp);
	/* No ingress port: no ingress network. */
	assert_null(store_get_by_name(h.s, STORE_NETWORKS, "ingress"));
	h_fini(&h);
}

/* The ingress network's NodeAddresses (status), parsed: node ids into
 * @ids and addresses into @a, in the stored order; the count. */
static size_t node_addrs(struct h *h, char ids[][32], char a[][24], size_t cap)
{
	const struct store_object *in =
		store_get_by_name(h->s, STORE_NETWORKS, "ingress");
	assert_non_null(in);
	json_t *st = obj(h, STORE_NETWORKS, in->id, true);
	json_t *l = json_object_get(st, "NodeAddresses");
	size_t i, k = 0;
	json_t *e;
	json_array_foreach(l, i, e)
	{
		assert_true(k < cap);
		snprintf(ids[k], 32, "%s", jsonx_str(e, "NodeID", ""));
		snprintf(a[k++], 24, "%s", jsonx_str(e, "Addr", ""));
	}
	json_decref(st);
	return k;
}

static void every_node_gets_its_own_ingress_address(void **state)
{
	struct h h;
	char ids[8][32], na[8][24], all[24][24];
	setup3(&h);
	h_service(&h, "s1", "web",
		  SVC_PORTS("web", "2",
			    "[{\"TargetPort\":80,\"PublishedPort\":8080}]"));
	h_settle(&h);
	const struct store_object *in =
		store_get_by_name(h.s, STORE_NETWORKS, "ingress");
	assert_non_null(in);
	char in_id[32];
	snprintf(in_id, sizeof(in_id), "%s", in->id);
	/* One per node, sorted by node id, none a task's, the VIP or the
	 * gateway. */
	assert_int_equal(node_addrs(&h, ids, na, 8), 3);
	assert_string_equal(ids[0], "n1");
	assert_string_equal(ids[1], "n2");
	assert_string_equal(ids[2], "n3");
	size_t k = addrs(&h, in_id, all, 24, false);
	assert_int_equal(k, 2);
	snprintf(all[k++], 24, "10.255.0.2/16"); /* the VIP */
	snprintf(all[k++], 24, "10.255.0.1/16"); /* the gateway */
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(strncmp(na[i], "10.255.0.", 9), 0);
		assert_null(strchr(na[i], '/'));
		snprintf(all[k++], 24, "%.15s/16", na[i]);
	}
	no_duplicates(all, k);
	char n2[24];
	snprintf(n2, sizeof(n2), "%s", na[1]);

	/* The ingress item carries them: this node's as Addr, every
	 * node's with its VTEP in Nodes. */
	struct items it = {0};
	assert_int_equal(orch_model_load(&h.m, h.s), 0);
	assert_int_equal(alloc_items(&h.m, "n2", emit, &it), 0);
	json_t *ing = NULL;
	for (size_t i = 0; i < it.n; i++)
		if (!strcmp(jsonx_str(it.j[i], "Kind", ""), "ingress"))
			ing = it.j[i];
	assert_non_null(ing);
	assert_string_equal(jsonx_str(ing, "Addr", ""), n2);
	json_t *nodes = json_object_get(ing, "Nodes");
	assert_int_equal(json_array_size(nodes), 3);
	json_t *x = json_array_get(nodes, 2);
	assert_string_equal(jsonx_str(x, "NodeID", ""), "n3");
	assert_string_equal(jsonx_str(x, "Addr", ""), na[2]);
	assert_string_equal(jsonx_str(x, "VTEP", ""), "192.168.100.13");
	for (size_t i = 0; i < it.n; i++)
		json_decref(it.j[i]);

	/* A new node gets one; the others keep theirs. */
	node(&h, "n4", "192.168.100.14");
	h_settle(&h);
	assert_int_equal(node_addrs(&h, ids, na, 8), 4);
	assert_string_equal(ids[3], "n4");
	assert_string_equal(na[1], n2);
	no_duplicates(na, 4);

	/* A removed node gives its address back; a new leader (every pass
	 * reloads the store) changes nothing more. */
	struct store_batch b;
	store_batch_init(&b, h.now);
	assert_int_equal(
		store_batch_delete(&b, STORE_NODES, "n2",
				   store_get(h.s, STORE_NODES, "n2")->version),
		0);
	h_apply(&h, &b);
	h_settle(&h);
	assert_int_equal(node_addrs(&h, ids, na, 8), 3);
	for (size_t i = 0; i < 3; i++) {
		assert_string_not_equal(ids[i], "n2");
		assert_string_not_equal(na[i], n2);
	}
	h_fini(&h);
}

/* Settle, run every assigned task and stop those told to, @rounds times
 * (a rolling update going through). */
static void roll(struct h *h, int rounds)
{
	struct h_task t[64];
	for (int i = 0; i < rounds; i++) {
		h_settle(h);
		h_run_all(h);
		size_t n = h_tasks(h, t, 64);
		assert_int_equal(orch_model_load(&h->m, h->s), 0);
		for (size_t j = 0; j < n; j++)
			if (!strcmp(t[j].desired, "shutdown") &&
			    !strcmp(t[j].state, "running"))
				h_report(h, t[j].node, t[j].id, "shutdown", 0);
		h->now += 10LL * 1000000000LL;
	}
	h_settle(h);
}

static void changing_published_ports_replaces_the_tasks(void **state)
{
	struct h h;
	struct h_task t[32];
	setup3(&h);
	h_service(&h, "s1", "web",
		  SVC_PORTS("web", "1",
			    "[{\"TargetPort\":80,\"PublishedPort\":8081,"
			    "\"PublishMode\":\"host\"}]"));
	roll(&h, 2);
	/* Host port changed: the task is replaced, its Endpoint the new. */
	h_service(&h, "s1", "web",
		  SVC_PORTS("web", "1",
			    "[{\"TargetPort\":80,\"PublishedPort\":8082,"
			    "\"PublishMode\":\"host\"}]"));
	roll(&h, 10);
	size_t n = h_tasks(&h, t, 32), live = 0;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(t[i].desired, "running"))
			continue;
		live++;
		json_t *sp = obj(&h, STORE_TASKS, t[i].id, false);
		json_t *p = json_array_get(
			json_object_get(jsonx_obj(sp, "Endpoint"), "Ports"), 0);
		assert_int_equal(jsonx_int(p, "PublishedPort", 0), 8082);
		json_decref(sp);
	}
	assert_int_equal(live, 1);
	/* Now an ingress port: the task moves onto the ingress network. */
	h_service(&h, "s1", "web",
		  SVC_PORTS("web", "1", "[{\"TargetPort\":80}]"));
	roll(&h, 10);
	const struct store_object *in =
		store_get_by_name(h.s, STORE_NETWORKS, "ingress");
	assert_non_null(in);
	char a[8][24];
	assert_int_equal(addrs(&h, in->id, a, 8, true), 1);
	h_fini(&h);
}

/* A number asked for explicitly by a write pipelined with the pass that
 * gave it to another service dynamically: the dynamic one moves. */
static void an_asked_port_wins_over_a_dynamic_one(void **state)
{
	struct h h;
	setup3(&h);
	h_service(&h, "s1", "web",
		  SVC_PORTS("web", "1", "[{\"TargetPort\":80}]"));
	h_settle(&h);
	json_t *p = eport(&h, "s1", 0);
	assert_int_equal(jsonx_int(p, "PublishedPort", 0), 30000);
	json_decref(p);
	h_service(&h, "s2", "api",
		  SVC_PORTS("api", "1",
			    "[{\"TargetPort\":81,\"PublishedPort\":30000}]"));
	h_settle(&h);
	p = eport(&h, "s2", 0);
	assert_int_equal(jsonx_int(p, "PublishedPort", 0), 30000);
	json_decref(p);
	p = eport(&h, "s1", 0);
	assert_int_equal(jsonx_int(p, "PublishedPort", 0), 30001);
	json_decref(p);
	h_fini(&h);
}

static void services_without_networks_are_unchanged(void **state)
{
	struct h h;
	struct h_task t[8];
	setup3(&h);
	h_service(&h, "s1", "web",
		  "{\"Name\":\"web\",\"TaskTemplate\":{\"ContainerSpec\":{"
		  "\"Image\":\"busybox\"}},\"Mode\":{\"Replicated\":{"
		  "\"Replicas\":2}}}");
	h_settle(&h);
	assert_int_equal(h_tasks(&h, t, 8), 2);
	json_t *sp = obj(&h, STORE_TASKS, t[0].id, false);
	assert_null(json_object_get(sp, "NetworksAttachments"));
	json_decref(sp);
	json_t *st = obj(&h, STORE_SERVICES, "s1", true);
	assert_null(json_object_get(st, "Endpoint"));
	json_decref(st);
	struct items it = {0};
	assert_int_equal(orch_model_load(&h.m, h.s), 0);
	assert_int_equal(alloc_items(&h.m, t[0].node, emit, &it), 0);
	assert_int_equal(it.n, 0);
	h_fini(&h);
}

/* A network attachment of container @ctr on @node to @net_id, as the
 * dispatcher writes it (alloc_attach_spec()). */
static void attach(struct h *h, const char *id, const char *node,
		   const char *net_id, const char *ctr, const char *alias)
{
	const char *names[2] = {ctr, alias};
	char *spec, *status;
	assert_int_equal(alloc_attach_spec(node, net_id, "c0ffee", names,
					   alias ? 2 : 1, h->now, &spec,
					   &status),
			 0);
	h_put(h, STORE_TASKS, id, NULL, spec, status);
	shoal_free(spec);
	shoal_free(status);
}

static void attachable(struct h *h)
{
	h_put(h, STORE_NETWORKS, NET_FRONT, "front",
	      "{\"Name\":\"front\",\"Driver\":\"overlay\",\"Scope\":\"swarm\","
	      "\"Internal\":false,\"Attachable\":true,\"Labels\":{},"
	      "\"Options\":{},\"IPAM\":{\"Driver\":\"default\",\"Config\":"
	      "[{\"Subnet\":\"10.0.1.0/24\",\"Gateway\":\"10.0.1.1\"}]},"
	      "\"VNI\":4097}",
	      "{}");
}

/* The item of @kind (and network @id, or any) in @node's set; owned. */
static json_t *item_of(struct h *h, const char *node, const char *id)
{
	struct items it = {0};
	assert_int_equal(orch_model_load(&h->m, h->s), 0);
	assert_int_equal(alloc_items(&h->m, node, emit, &it), 0);
	json_t *hit = NULL;
	for (size_t i = 0; i < it.n; i++)
		if (!hit && !strcmp(jsonx_str(it.j[i], "ID", ""), id))
			hit = it.j[i];
		else
			json_decref(it.j[i]);
	return hit;
}

static void attachments_get_an_address_and_are_not_scheduled(void **state)
{
	struct h h;
	struct h_task t[16];
	char a[16][24];
	setup3(&h);
	attachable(&h);
	h_service(&h, "s1", "web",
		  SVC("web", "2", "[{\"Target\":\"front\"}]", "{}"));
	attach(&h, "att1", "n1", NET_FRONT, "client", "cli");
	h_settle(&h);
	h_run_all(&h);
	h_settle(&h);
	size_t n = h_tasks(&h, t, 16), svc = 0;
	assert_int_equal(n, 3); /* the orchestrator left it alone */
	for (size_t i = 0; i < n; i++) {
		if (*t[i].svc) {
			svc++;
			continue;
		}
		assert_string_equal(t[i].id, "att1");
		assert_string_equal(t[i].node, "n1"); /* never re-placed */
		assert_string_equal(t[i].state, "running");
		assert_string_equal(t[i].desired, "running");
	}
	assert_int_equal(svc, 2);
	assert_int_equal(addrs(&h, NET_FRONT, a, 16, true), 3);
	no_duplicates(a, 3);
	/* Docker's attachment shape: the network, the address, the names
	 * but the container's own (the first). */
	json_t *sp = obj(&h, STORE_TASKS, "att1", false);
	json_t *att =
		json_array_get(json_object_get(sp, "NetworksAttachments"), 0);
	assert_string_equal(jsonx_str(jsonx_obj(att, "Network"), "ID", ""),
			    NET_FRONT);
	assert_true(jsonx_bool(jsonx_obj(jsonx_obj(att, "Network"), "Spec"),
			       "Attachable", false));
	json_t *al = json_object_get(att, "Aliases");
	assert_int_equal(json_array_size(al), 2);
	assert_string_equal(json_string_value(json_array_get(al, 0)), "client");
	char addr[24];
	snprintf(addr, sizeof(addr), "%s",
		 json_string_value(
			 json_array_get(json_object_get(att, "Addresses"), 0)));
	*strchr(addr, '/') = '\0';
	json_decref(sp);
	/* Its node gets the network item, and its assignment is not a task
	 * for the executor. */
	json_t *mine = item_of(&h, "n1", NET_FRONT);
	assert_non_null(mine);
	json_decref(mine);
	assert_int_equal(orch_model_load(&h.m, h.s), 0);
	struct orch_task *ot = hmap_get_str(&h.m.tasks, "att1");
	assert_non_null(ot);
	size_t len;
	char *aj = orch_assignment_json(ot, &len);
	json_t *ajs = NULL;
	assert_int_equal(jsonx_parse(aj, len, &ajs, NULL, 0), 0);
	assert_string_equal(jsonx_str(ajs, "Kind", ""), "attachment");
	json_decref(ajs);
	shoal_free(aj);
	/* Another node on the network sees it as a peer behind n1's VTEP
	 * and by its names in Containers. */
	for (size_t i = 0; i < n; i++) {
		if (!*t[i].svc || !strcmp(t[i].node, "n1"))
			continue;
		json_t *j = item_of(&h, t[i].node, NET_FRONT);
		assert_non_null(j);
		bool peer = false;
		size_t k;
		json_t *p;
		json_array_foreach(json_object_get(j, "Peers"), k, p)
		{
			peer |= !strcmp(jsonx_str(p, "Addr", ""), addr) &&
				!strcmp(jsonx_str(p, "VTEP", ""),
					"192.168.100.11");
		}
		assert_true(peer);
		json_t *c = json_array_get(json_object_get(j, "Containers"), 0);
		assert_int_equal(
			json_array_size(json_object_get(j, "Containers")), 1);
		assert_string_equal(jsonx_str(c, "Name", ""), "client");
		assert_string_equal(jsonx_str(c, "Addr", ""), addr);
		assert_string_equal(jsonx_str(c, "NodeID", ""), "n1");
		assert_true(jsonx_bool(c, "Ready", false));
		assert_string_equal(json_string_value(json_array_get(
					    json_object_get(c, "Aliases"), 0)),
				    "cli");
		/* Not one of the service's tasks. */
		json_t *s = json_array_get(json_object_get(j, "Services"), 0);
		assert_int_equal(json_array_size(json_object_get(s, "Tasks")),
				 2);
		json_decref(j);
		break;
	}
	/* Its node removed: the attachment goes, and its address is free. */
	assert_int_equal(orch_model_load(&h.m, h.s), 0);
	struct store_batch b;
	store_batch_init(&b, h.now);
	assert_int_equal(
		store_batch_delete(&b, STORE_NODES, "n1",
				   store_get(h.s, STORE_NODES, "n1")->version),
		0);
	h_apply(&h, &b);
	h_settle(&h);
	assert_null(store_get(h.s, STORE_TASKS, "att1"));
	h_fini(&h);
}

static void attachments_to_a_network_not_attachable_are_refused(void **state)
{
	struct h h;
	struct h_task t[4];
	setup3(&h);
	attach(&h, "att1", "n2", NET_BACK, "client", NULL);
	attach(&h, "att2", "n2", "nnone000000000000000000000", "client2", NULL);
	h_settle(&h);
	size_t n = h_tasks(&h, t, 4);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(t[i].state, "new");
		assert_string_equal(
			t[i].err,
			!strcmp(t[i].id, "att1")
				? "rpc error: code = "
				  "PermissionDenied desc = network "
				  "back not manually attachable"
				: "network nnone000000000000000000000 "
				  "not found");
	}
	assert_int_equal(addrs(&h, NET_BACK, (char(*)[24])NULL, 0, false), 0);
	/* No item for a node without an address on the network. */
	assert_null(item_of(&h, "n2", NET_BACK));
	/* Left new, they go after a minute (the dispatcher answered). */
	h.now += 61LL * 1000000000LL;
	h_settle(&h);
	assert_int_equal(h_tasks(&h, t, 4), 0);
	/* Bad names are refused before anything is written. */
	char *sp, *st;
	const char *none[1] = {""};
	assert_int_equal(alloc_attach_spec("n1", NET_FRONT, "c", none, 1, h.now,
					   &sp, &st),
			 -EINVAL);
	const char *many[ALLOC_ATTACH_NAMES_MAX + 1];
	for (size_t i = 0; i <= ALLOC_ATTACH_NAMES_MAX; i++)
		many[i] = "a";
	assert_int_equal(alloc_attach_spec("n1", NET_FRONT, "c", many,
					   ALLOC_ATTACH_NAMES_MAX + 1, h.now,
					   &sp, &st),
			 -EINVAL);
	h_fini(&h);
}

int main(void)
{
	(void)h_node; /* the harness's; these nodes carry an Addr */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tasks_get_addresses_and_the_service_a_vip),
		cmocka_unit_test(
			attachments_get_an_address_and_are_not_scheduled),
		cmocka_unit_test(
			attachments_to_a_network_not_attachable_are_refused),
		cmocka_unit_test(two_services_never_share_an_address),
		cmocka_unit_test(addresses_free_when_tasks_are_deleted),
		cmocka_unit_test(a_full_subnet_keeps_tasks_new_with_the_reason),
		cmocka_unit_test(dnsrr_services_get_no_vip),
		cmocka_unit_test(
			leaving_a_network_drops_the_vip_and_replaces_tasks),
		cmocka_unit_test(network_items_list_peers_of_other_nodes_only),
		cmocka_unit_test(
			a_task_running_marks_every_node_on_its_network),
		cmocka_unit_test(a_node_down_leaves_the_peers_of_every_node),
		cmocka_unit_test(services_without_networks_are_unchanged),
		cmocka_unit_test(
			ingress_ports_get_numbers_and_the_ingress_network),
		cmocka_unit_test(host_ports_ride_in_the_task),
		cmocka_unit_test(every_node_gets_its_own_ingress_address),
		cmocka_unit_test(changing_published_ports_replaces_the_tasks),
		cmocka_unit_test(an_asked_port_wins_over_a_dynamic_one),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
