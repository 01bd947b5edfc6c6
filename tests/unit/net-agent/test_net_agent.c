/*
 * Unit tests of the agent's overlay side without root: the network item
 * of the contract decoded and every bad field refused (worker/net.c), a
 * task's NetworksAttachments and Endpoint.Ports into its engine spec
 * (worker/task_net.c), items of other kinds kept away from the executor,
 * and an overlay's local record in overlay-net (dry run: records only):
 * joined by id, not by name, not listed, its endpoints with the
 * managers' address and Docker's MAC, kept across a reopen, left only
 * without containers.
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
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/jsonx.h"
#include "overlay-net/internal.h"
#include "overlay-net/net.h"
#include "worker/net.h"
#include "worker/task.h"

#define NETID "k9f3t0w2x8a1b4c7d6e5f0g1h"

static const char item_json[] =
	"{\"Kind\": \"network\", \"ID\": \"" NETID "\", \"Name\": \"front\","
	" \"VNI\": 4097, \"Subnet\": \"10.0.1.0/24\", \"Gateway\": "
	"\"10.0.1.1\", \"MTU\": 1400, \"Internal\": true, \"Attachable\": "
	"false, \"Peers\": [{\"Addr\": \"10.0.1.5\", \"VTEP\": "
	"\"192.168.100.12\", \"NodeID\": \"n2\"}, {\"Addr\": \"10.0.1.9\", "
	"\"VTEP\": \"192.168.100.13\"}], \"Services\": []}";

static json_t *item(void)
{
	json_t *o = json_loads(item_json, 0, NULL);
	assert_non_null(o);
	return o;
}

static void network_item_decodes_as_the_contract_shows(void **state)
{
	struct shoal_err err = {""};
	struct wnet_item it;
	json_t *o = item();
	assert_int_equal(wnet_item_decode(o, &it, &err), 0);
	assert_string_equal(it.id, NETID);
	assert_string_equal(it.name, "front");
	assert_int_equal(it.vni, 4097);
	assert_string_equal(it.subnet, "10.0.1.0/24");
	assert_string_equal(it.gateway, "10.0.1.1");
	assert_int_equal(it.mtu, 1400);
	assert_true(it.internal);
	assert_int_equal(it.n_peers, 2);
	assert_int_equal(it.peers[0].addr, 0x0a000105);
	assert_int_equal(it.peers[0].vtep, 0xc0a8640c);
	assert_int_equal(it.peers[1].vtep, 0xc0a8640d);
	wnet_item_fini(&it);
	/* MTU absent: 1450; Peers absent: none. */
	json_object_del(o, "MTU");
	json_object_del(o, "Peers");
	assert_int_equal(wnet_item_decode(o, &it, &err), 0);
	assert_int_equal(it.mtu, 1450);
	assert_int_equal(it.n_peers, 0);
	wnet_item_fini(&it);
	json_decref(o);
}

static void network_items_with_a_bad_field_are_refused_naming_it(void **state)
{
	static const struct {
		const char *key, *value, *says;
	} cases[] = {
		{"ID", "\"a/b\"", "valid ID"},
		{"ID", "null", "valid ID"},
		{"Name", "\"a b\"", "invalid Name"},
		{"VNI", "0", "VNI"},
		{"VNI", "16777216", "VNI"},
		{"VNI", "\"4097\"", "VNI"},
		{"Subnet", "\"10.0.1.1/24\"", "Subnet"},
		{"Subnet", "\"10.0.0.0/30\"", "Subnet"},
		{"Subnet", "\"10.0.1.0\"", "Subnet"},
		{"Gateway", "\"10.0.2.1\"", "Gateway"},
		{"Gateway", "\"10.0.1.0\"", "Gateway"},
		{"Gateway", "\"10.0.1.255\"", "Gateway"},
		{"MTU", "67", "MTU"},
		{"MTU", "9001", "MTU"},
		{"Peers", "{}", "Peers must be a list"},
		{"Peers", "[{\"Addr\": \"10.0.2.5\", \"VTEP\": \"1.2.3.4\"}]",
		 "peer"},
		{"Peers", "[{\"Addr\": \"10.0.1.1\", \"VTEP\": \"1.2.3.4\"}]",
		 "peer"},
		{"Peers", "[{\"Addr\": \"10.0.1.5\", \"VTEP\": \"0.0.0.0\"}]",
		 "peer"},
		{"Peers", "[{\"Addr\": \"10.0.1.5\", \"VTEP\": \"224.0.0.1\"}]",
		 "peer"},
		{"Peers", "[{\"Addr\": \"10.0.1.5\"}]", "peer"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct shoal_err err = {""};
		struct wnet_item it;
		json_t *o = item();
		json_object_set_new(
			o, cases[i].key,
			json_loads(cases[i].value, JSON_DECODE_ANY, NULL));
		assert_int_equal(wnet_item_decode(o, &it, &err), -EINVAL);
		if (!strstr(err.msg, cases[i].says))
			fail_msg("case %zu: \"%s\" does not say %s", i, err.msg,
				 cases[i].says);
		assert_null(it.peers);
		json_decref(o);
	}
}

/* --- tasks ------------------------------------------------------------- */

static const struct wtask_node node = {"h1", "linux", "x86_64"};

static struct wtask *task_with(const char *extra)
{
	char buf[4096];
	struct shoal_err err = {""};
	struct wtask *t = NULL;
	snprintf(buf, sizeof(buf),
		 "{\"ID\": \"t1\", \"ServiceID\": \"s1\", \"NodeID\": \"n1\", "
		 "\"Slot\": 1, \"ServiceAnnotations\": {\"Name\": \"web\"}, "
		 "\"DesiredState\": \"running\", \"Spec\": {\"ContainerSpec\": "
		 "{\"Image\": \"busybox\"}, \"Networks\": [{\"Target\": "
		 "\"front\"}]}%s}",
		 extra);
	assert_int_equal(wtask_decode(buf, strlen(buf), &node, &t, &err), 0);
	return t;
}

#define ATT(addrs)                                                             \
	", \"NetworksAttachments\": [{\"Network\": {\"ID\": \"" NETID          \
	"\", \"Spec\": {\"Name\": \"front\"}}, \"Addresses\": " addrs          \
	", \"Aliases\": [\"web\"]}]"

static void a_task_joins_its_overlay_with_the_allocated_address(void **state)
{
	struct eng_spec s;
	struct wtask *t = task_with(ATT("[\"10.0.1.5/24\"]"));
	assert_string_equal(t->spec_error, "");
	wtask_eng_spec(t, &s);
	assert_string_equal(s.network_mode, NETID);
	assert_int_equal(s.n_endpoints, 1);
	assert_string_equal(s.endpoints[0].network, NETID);
	assert_string_equal(s.endpoints[0].ip, "10.0.1.5");
	assert_null(s.endpoints[0].mac); /* Docker's, from the address */
	assert_int_equal(s.n_more_networks, 0);
	assert_int_equal(s.n_ports, 0);
	wtask_free(t);
}

static void a_task_on_two_overlays_joins_the_second_after_create(void **state)
{
	struct eng_spec s;
	struct wtask *t = task_with(
		", \"NetworksAttachments\": [{\"Network\": {\"ID\": \"" NETID
		"\"}, \"Addresses\": [\"10.0.1.5/24\"]}, {\"Network\": {\"ID\": "
		"\"ingressid\"}, \"Addresses\": [\"10.255.0.7/16\"]}]");
	assert_string_equal(t->spec_error, "");
	wtask_eng_spec(t, &s);
	assert_string_equal(s.network_mode, NETID); /* eth0, the route */
	assert_int_equal(s.n_endpoints, 1);
	assert_int_equal(s.n_more_networks, 1);
	assert_string_equal(s.more_networks[0].network, "ingressid");
	assert_string_equal(s.more_networks[0].ip, "10.255.0.7");
	wtask_free(t);
}

static void a_task_without_networks_stays_on_the_default_bridge(void **state)
{
	char buf[512];
	struct shoal_err err = {""};
	struct wtask *t = NULL;
	struct eng_spec s;
	snprintf(buf, sizeof(buf),
		 "{\"ID\": \"t1\", \"ServiceID\": \"s1\", \"NodeID\": \"n1\", "
		 "\"ServiceAnnotations\": {\"Name\": \"web\"}, "
		 "\"DesiredState\": \"running\", \"Spec\": {\"ContainerSpec\": "
		 "{\"Image\": \"busybox\"}}}");
	assert_int_equal(wtask_decode(buf, strlen(buf), &node, &t, &err), 0);
	assert_string_equal(t->spec_error, "");
	wtask_eng_spec(t, &s);
	assert_null(s.network_mode);
	assert_int_equal(s.n_endpoints, 0);
	wtask_free(t);
}

static void network_attachments_that_cannot_apply_reject_the_task(void **state)
{
	static const struct {
		const char *extra, *says;
	} cases[] = {
		{"", "no NetworksAttachments"},
		{ATT("[]"), "one IPv4 address"},
		{ATT("[\"10.0.1.5\"]"), "one IPv4 address"},
		{ATT("[\"10.0.1.5/24\", \"10.0.1.6/24\"]"), "one IPv4 address"},
		{ATT("[\"fe80::1/64\"]"), "bad address"},
		{", \"NetworksAttachments\": [{\"Network\": {\"ID\": \"a-b\"}, "
		 "\"Addresses\": [\"10.0.1.5/24\"]}]",
		 "valid ID"},
		{", \"NetworksAttachments\": {}", "must be a list"},
		{", \"NetworksAttachments\": [{\"Network\": {\"ID\": \"a\"}, "
		 "\"Addresses\": [\"10.0.1.5/24\"]}, {\"Network\": {\"ID\": "
		 "\"a\"}, \"Addresses\": [\"10.0.2.5/24\"]}]",
		 "network a twice"},
		{", \"NetworksAttachments\": [{}, {}, {}, {}, {}, {}, {}, {}, {}]",
		 "at most 8"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wtask *t = task_with(cases[i].extra);
		if (!strstr(t->spec_error, cases[i].says))
			fail_msg("case %zu: \"%s\" does not say %s", i,
				 t->spec_error, cases[i].says);
		wtask_free(t);
	}
}

static void host_mode_ports_are_published_ingress_ones_are_not(void **state)
{
	struct eng_spec s;
	struct wtask *t = task_with(
		ATT("[\"10.0.1.5/24\"]") ", \"Endpoint\": {\"Ports\": ["
					 "{\"Protocol\": \"tcp\", "
					 "\"TargetPort\": 80, "
					 "\"PublishedPort\": 8080, "
					 "\"PublishMode\": \"host\"}, "
					 "{\"Protocol\": \"udp\", "
					 "\"TargetPort\": 53, "
					 "\"PublishMode\": \"host\"}, "
					 "{\"TargetPort\": 81, "
					 "\"PublishedPort\": 30001}]}");
	assert_string_equal(t->spec_error, "");
	wtask_eng_spec(t, &s);
	assert_int_equal(s.n_ports, 2);
	assert_int_equal(s.ports[0].ctr_port, 80);
	assert_string_equal(s.ports[0].proto, "tcp");
	assert_int_equal(s.ports[0].host_lo, 8080);
	assert_int_equal(s.ports[0].host_hi, 8080);
	assert_int_equal(s.ports[1].ctr_port, 53);
	assert_string_equal(s.ports[1].proto, "udp");
	assert_int_equal(s.ports[1].host_lo, 0); /* an ephemeral one */
	wtask_free(t);

	static const char *const bad[] = {
		", \"Endpoint\": {\"Ports\": [{\"Protocol\": \"sctp\", "
		"\"TargetPort\": 80, \"PublishMode\": \"host\"}]}",
		", \"Endpoint\": {\"Ports\": [{\"TargetPort\": 0, "
		"\"PublishMode\": \"host\"}]}",
		", \"Endpoint\": {\"Ports\": [{\"TargetPort\": 80, "
		"\"PublishedPort\": 70000, \"PublishMode\": \"host\"}]}",
		", \"Endpoint\": {\"Ports\": [{\"TargetPort\": 80, "
		"\"PublishMode\": \"bridge\"}]}",
		", \"Endpoint\": {\"Ports\": {}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char extra[512];
		snprintf(extra, sizeof(extra), "%s%s", ATT("[\"10.0.1.5/24\"]"),
			 bad[i]);
		t = task_with(extra);
		if (!strstr(t->spec_error, "Endpoint.Ports"))
			fail_msg("case %zu: \"%s\"", i, t->spec_error);
		wtask_free(t);
	}
}

static void items_of_other_kinds_are_not_tasks(void **state)
{
	static const char *const others[] = {
		item_json,
		"{\"Kind\": \"secret\", \"ID\": \"x\", \"Name\": \"s\"}",
		"{\"Kind\": \"ingress\", \"Network\": {}, \"Ports\": []}",
		"{\"Kind\": 7, \"ID\": \"t1\"}",
	};
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		struct shoal_err err = {""};
		struct wtask *t = NULL;
		assert_int_equal(wtask_decode(others[i], strlen(others[i]),
					      &node, &t, &err),
				 -ENOMSG);
		assert_null(t);
		assert_non_null(strstr(err.msg, "an item of kind"));
	}
	const char *task = "{\"Kind\": \"task\", \"ID\": \"t1\", "
			   "\"ServiceID\": \"s1\", \"NodeID\": \"n1\", "
			   "\"ServiceAnnotations\": {\"Name\": \"web\"}, "
			   "\"DesiredState\": \"running\", \"Spec\": "
			   "{\"ContainerSpec\": {\"Image\": \"b\"}}}";
	struct shoal_err err = {""};
	struct wtask *t = NULL;
	assert_int_equal(wtask_decode(task, strlen(task), &node, &t, &err), 0);
	assert_string_equal(t->spec_error, "");
	wtask_free(t);
}

/* --- the overlay's local record ----------------------------------------- */

static char root[64];

static int rm_entry(const char *p, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	return remove(p);
}

static int setup(void **state)
{
	snprintf(root, sizeof(root), "/tmp/shoal-unit-net-agent.XXXXXX");
	assert_non_null(mkdtemp(root));
	return 0;
}

static int teardown(void **state)
{
	nftw(root, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static struct net *open_net(void)
{
	struct net_config cfg = {
		.data_root = root, .exec_root = root, .dry_run = true};
	struct shoal_err err = {""};
	struct net *n = NULL;
	assert_int_equal(net_open(&cfg, &n, &err), 0);
	return n;
}

static const struct net_overlay front = {
	.id = NETID,
	.name = "front",
	.vni = 4097,
	.subnet = "10.0.1.0/24",
	.gateway = "10.0.1.1",
	.vtep = 0xc0a8640b,
};

static int attach(struct net *n, const char *mode, const char *ip, char id[65],
		  struct shoal_err *err)
{
	struct net_ep_req ep = {.network = mode, .ip = ip};
	struct net_ctr_spec s = {
		.name = "web.1.t1", .mode = mode, .eps = &ep, .n_eps = 1};
	struct net_ctr_result r;
	int rc = net_ctr_create(n, &s, &r, err);
	if (rc < 0)
		return rc;
	for (int i = 0; i < 64; i++)
		id[i] = "0123456789abcdef"[(r.sandbox[i] + 1) % 16];
	id[64] = '\0';
	return net_ctr_bind(n, r.sandbox, id);
}

static void an_overlay_is_joined_by_id_with_the_managers_addresses(void **state)
{
	struct shoal_err err = {""};
	struct net *n = open_net();
	char id[65];
	int rc;
	assert_int_equal(net_overlay_join(n, &front, &err), 0);
	assert_int_equal(net_overlay_join(n, &front, &err), 0); /* again */
	/* Not listed locally, not found by its name: a local network may
	 * take the name. */
	json_t *l = net_network_list(n);
	for (size_t i = 0; i < json_array_size(l); i++)
		assert_string_not_equal(
			jsonx_str(json_array_get(l, i), "Name", ""), "front");
	json_decref(l);
	assert_int_equal(attach(n, "front", "10.0.1.5", id, &err),
			 SHOAL_ENOTFOUND);
	json_t *r = net_network_inspect(n, NETID, &rc);
	assert_non_null(r);
	assert_string_equal(jsonx_str(r, "Scope", ""), "swarm");
	assert_string_equal(jsonx_str(r, "Driver", ""), "overlay");
	json_decref(r);
	/* No local IPAM: the address must be given. */
	err.msg[0] = '\0';
	assert_int_equal(attach(n, NETID, NULL, id, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "allocator"));
	assert_int_equal(attach(n, NETID, "10.0.1.5", id, &err), 0);
	json_t *set = net_ctr_settings(n, id, NETID);
	json_t *ep = json_object_get(json_object_get(set, "Networks"), "front");
	assert_string_equal(jsonx_str(ep, "IPAddress", ""), "10.0.1.5");
	assert_string_equal(jsonx_str(ep, "MacAddress", ""),
			    "02:42:0a:00:01:05");
	assert_string_equal(jsonx_str(ep, "Gateway", ""), "10.0.1.1");
	json_decref(set);
	/* A local network may take the overlay's name. */
	struct net_create_opts o = {.name = "front"};
	char lid[65];
	assert_int_equal(net_network_create(n, &o, lid, &err), 0);
	/* Not removed through the local API. */
	assert_int_equal(net_network_remove(n, NETID, &err), -EPERM);
	net_close(n);

	/* Kept across a restart; left only once its container is gone. */
	n = open_net();
	struct net_overlay_state *v = NULL;
	size_t cnt = 0;
	assert_int_equal(net_overlay_list(n, &v, &cnt), 0);
	assert_int_equal(cnt, 1);
	assert_string_equal(v[0].id, NETID);
	assert_int_equal(v[0].vni, 4097);
	assert_int_equal(v[0].n_endpoints, 1);
	free(v);
	struct net_overlay moved = front;
	moved.subnet = "10.0.9.0/24";
	moved.gateway = "10.0.9.1";
	assert_int_equal(net_overlay_join(n, &moved, &err), -EBUSY);
	assert_int_equal(net_overlay_leave(n, NETID, &err), -EBUSY);
	net_ctr_remove(n, id);
	assert_int_equal(net_overlay_leave(n, NETID, &err), 0);
	assert_int_equal(net_overlay_leave(n, NETID, &err), SHOAL_ENOTFOUND);
	assert_null(net_network_inspect(n, NETID, &rc));
	net_close(n);
	n = open_net();
	assert_int_equal(net_overlay_list(n, &v, &cnt), 0);
	assert_int_equal(cnt, 0);
	free(v);
	net_close(n);
}

static void overlays_that_cannot_apply_are_refused(void **state)
{
	struct net *n = open_net();
	struct shoal_err err = {""};
	struct net_overlay o = front;
	o.subnet = "10.0.1.1/24";
	assert_int_equal(net_overlay_join(n, &o, &err), -EINVAL);
	o = front;
	o.gateway = "10.0.2.1";
	assert_int_equal(net_overlay_join(n, &o, &err), -EINVAL);
	o = front;
	o.id = "../x";
	assert_int_equal(net_overlay_join(n, &o, &err), -EINVAL);
	o = front;
	o.vni = 0;
	assert_int_equal(net_overlay_join(n, &o, &err), -EINVAL);
	/* A local network on the same addresses. */
	struct net_create_opts lo = {.name = "loc", .subnet = "10.0.0.0/16"};
	char lid[65];
	assert_int_equal(net_network_create(n, &lo, lid, &err), 0);
	err.msg[0] = '\0';
	assert_int_equal(net_overlay_join(n, &front, &err), SHOAL_ECONFLICT);
	assert_non_null(strstr(err.msg, "overlaps network loc"));
	net_close(n);
}

/* --- names -------------------------------------------------------------- */

static const char services_json[] =
	"[{\"ID\": \"s1\", \"Name\": \"web\", \"Mode\": \"vip\", \"VIP\": "
	"\"10.0.1.2\", \"Aliases\": [\"www\"], \"Tasks\": ["
	"{\"ID\": \"a\", \"Name\": \"web.1.a\", \"Addr\": \"10.0.1.5\", "
	"\"Ready\": true},"
	"{\"ID\": \"b\", \"Name\": \"web.2.b\", \"Addr\": \"10.0.1.6\", "
	"\"Ready\": true},"
	"{\"ID\": \"c\", \"Name\": \"web.3.c\", \"Addr\": \"10.0.1.7\", "
	"\"Ready\": false}]},"
	"{\"ID\": \"s2\", \"Name\": \"db\", \"Mode\": \"dnsrr\", \"Tasks\": ["
	"{\"ID\": \"x\", \"Name\": \"db.1.x\", \"Addr\": \"10.0.1.8\", "
	"\"Ready\": true},"
	"{\"ID\": \"y\", \"Name\": \"db.2.y\", \"Addr\": \"10.0.1.9\"}]}]";

static void services_decode_with_their_tasks(void **state)
{
	struct shoal_err err = {""};
	struct wnet_item it;
	json_t *o = item();
	json_object_set_new(o, "Services", json_loads(services_json, 0, NULL));
	assert_int_equal(wnet_item_decode(o, &it, &err), 0);
	assert_int_equal(it.n_services, 2);
	assert_string_equal(it.services[0].name, "web");
	assert_false(it.services[0].dnsrr);
	assert_int_equal(it.services[0].vip, 0x0a000102);
	assert_int_equal(it.services[0].n_aliases, 1);
	assert_string_equal(it.services[0].aliases[0], "www");
	assert_int_equal(it.services[0].n_tasks, 3);
	assert_true(it.services[0].tasks[1].ready);
	assert_false(it.services[0].tasks[2].ready);
	assert_true(it.services[1].dnsrr);
	assert_false(it.services[1].tasks[1].ready); /* Ready absent */
	wnet_item_fini(&it);
	json_decref(o);

	static const char *const bad[] = {
		"{}",
		"[{\"Name\": \"a.b\", \"Mode\": \"dnsrr\"}]",
		/* (vip without VIP: a service leaving the network, taken) */
		"[{\"Name\": \"web\", \"Mode\": \"vip\", \"VIP\": \"x\"}]",
		"[{\"Name\": \"web\", \"Mode\": \"vip\", \"VIP\": "
		"\"10.0.2.2\"}]",
		"[{\"Name\": \"web\", \"Mode\": \"rr\"}]",
		"[{\"Name\": \"web\", \"Mode\": \"dnsrr\", \"Aliases\": "
		"[\"a b\"]}]",
		"[{\"Name\": \"web\", \"Mode\": \"dnsrr\", \"Tasks\": "
		"[{\"Name\": \"web.1.a\", \"Addr\": \"10.0.2.5\"}]}]",
		"[{\"Name\": \"web\", \"Mode\": \"dnsrr\", \"Tasks\": "
		"[{\"Name\": \"web..a\", \"Addr\": \"10.0.1.5\"}]}]",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o = item();
		json_object_set_new(o, "Services", json_loads(bad[i], 0, NULL));
		err.msg[0] = '\0';
		assert_int_equal(wnet_item_decode(o, &it, &err), -EINVAL);
		if (!strstr(err.msg, "front"))
			fail_msg("case %zu: \"%s\"", i, err.msg);
		assert_null(it.services);
		json_decref(o);
	}
}

static int lookup(struct net *n, const char *ctr, const char *name,
		  uint32_t out[8])
{
	struct in_addr a[8];
	int k = net__lookup(n, ctr, name, a, 8);
	for (int i = 0; i < k; i++)
		out[i] = ntohl(a[i].s_addr);
	return k;
}

static void the_resolver_answers_the_services_of_its_overlay(void **state)
{
	struct shoal_err err = {""};
	struct net *n = open_net();
	struct wnet *w;
	struct wnet_config c = {.net = n, .vtep = "192.168.100.11:2377"};
	char id[65], other[65];
	uint32_t a[8];
	json_t *o = item();
	json_object_set_new(o, "Services", json_loads(services_json, 0, NULL));
	char *text = json_dumps(o, 0);
	struct agent_item items[] = {{(const uint8_t *)text, strlen(text)}};
	assert_int_equal(wnet_open(&c, &w), 0);
	wnet_assign(w, items, 1);
	assert_int_equal(attach(n, NETID, "10.0.1.5", id, &err), 0);
	assert_int_equal(lookup(n, id, "web", a), 1);
	assert_int_equal(a[0], 0x0a000102); /* the VIP */
	assert_int_equal(lookup(n, id, "www", a), 1);
	assert_int_equal(a[0], 0x0a000102);
	assert_int_equal(lookup(n, id, "web.front", a), 1);
	assert_int_equal(lookup(n, id, "WEB", a), 1);
	assert_int_equal(lookup(n, id, "tasks.web", a), 2); /* Ready only */
	assert_true((a[0] == 0x0a000105 && a[1] == 0x0a000106) ||
		    (a[1] == 0x0a000105 && a[0] == 0x0a000106));
	assert_int_equal(lookup(n, id, "db", a), 1); /* dnsrr: its tasks */
	assert_int_equal(a[0], 0x0a000108);
	assert_int_equal(lookup(n, id, "web.2.b", a), 1);
	assert_int_equal(a[0], 0x0a000106);
	assert_int_equal(lookup(n, id, "web.3.c", a), 0); /* not Ready */
	/* A container on another network does not see them. */
	struct net_create_opts lo = {.name = "loc"};
	char lid[65];
	struct net_ep_req ep = {.network = "loc"};
	struct net_ctr_spec s = {
		.name = "x", .mode = "loc", .eps = &ep, .n_eps = 1};
	struct net_ctr_result r;
	assert_int_equal(net_network_create(n, &lo, lid, &err), 0);
	assert_int_equal(net_ctr_create(n, &s, &r, &err), 0);
	for (int i = 0; i < 64; i++)
		other[i] = "0123456789abcdef"[(r.sandbox[i] + 3) % 16];
	other[64] = '\0';
	assert_int_equal(net_ctr_bind(n, r.sandbox, other), 0);
	assert_int_equal(lookup(n, other, "web", a), 0);
	/* The next set without the service: gone. */
	json_object_set_new(o, "Services", json_array());
	free(text);
	text = json_dumps(o, 0);
	items[0] = (struct agent_item){(const uint8_t *)text, strlen(text)};
	wnet_assign(w, items, 1);
	assert_int_equal(lookup(n, id, "web", a), 0);
	free(text);
	json_decref(o);
	wnet_close(w);
	net_close(n);
}

static void count_done(void *arg)
{
	(*(int *)arg)++;
}

static void assign_text(struct wnet *w, const json_t *o)
{
	char *text = json_dumps(o, 0);
	struct agent_item items[] = {{(const uint8_t *)text, strlen(text)}};
	wnet_assign(w, items, 1);
	free(text);
}

/* A task of this node failing its health check (or being stopped) leaves
 * the node's VIP map and names at once, and stays out while the
 * managers, who have not heard yet, still list it Ready. */
static void a_leaving_task_drops_out_of_the_vip_here_at_once(void **state)
{
	struct shoal_err err = {""};
	struct net *n = open_net();
	struct wnet *w;
	struct wnet_config c = {.net = n, .vtep = "192.168.100.11:2377"};
	char id[65];
	uint32_t a[8];
	int done = 0;
	json_t *o = item();
	json_object_set_new(o, "Services", json_loads(services_json, 0, NULL));
	assert_int_equal(wnet_open(&c, &w), 0);
	assign_text(w, o);
	assert_int_equal(attach(n, NETID, "10.0.1.5", id, &err), 0);
	struct net__net *nw = net__find(n, NETID);
	assert_non_null(nw);
	assert_int_equal(nw->n_vips, 1);
	assert_int_equal(nw->vips[0].n, 2);
	assert_int_equal(lookup(n, id, "tasks.web", a), 2);

	wnet_task_leave(w, "a", count_done, &done);
	assert_int_equal(done, 1);
	assert_int_equal(nw->vips[0].n, 1);
	assert_int_equal(nw->vips[0].backends[0], 0x0a000106);
	assert_int_equal(lookup(n, id, "tasks.web", a), 1);
	assert_int_equal(a[0], 0x0a000106);
	assert_int_equal(lookup(n, id, "web.1.a", a), 0);
	/* Twice, or a task no item lists: done all the same. */
	wnet_task_leave(w, "a", count_done, &done);
	wnet_task_leave(w, "nosuch", count_done, &done);
	assert_int_equal(done, 3);
	assert_int_equal(nw->vips[0].n, 1);

	/* The managers have not heard yet: still Ready in their item. */
	assign_text(w, o);
	assert_int_equal(nw->vips[0].n, 1);
	assert_int_equal(lookup(n, id, "tasks.web", a), 1);

	/* They dropped it (ended): forgotten; a task of that id listed
	 * Ready afterwards would count again. */
	json_t *sv = json_array_get(json_object_get(o, "Services"), 0);
	json_t *tasks = json_object_get(sv, "Tasks");
	json_t *ta = json_incref(json_array_get(tasks, 0));
	json_array_remove(tasks, 0);
	assign_text(w, o);
	assert_int_equal(nw->vips[0].n, 1);
	json_array_insert_new(tasks, 0, ta);
	assign_text(w, o);
	assert_int_equal(nw->vips[0].n, 2);
	assert_int_equal(lookup(n, id, "tasks.web", a), 2);
	json_decref(o);
	wnet_close(w);
	net_close(n);
}

/* A task that was in the VIP here goes on to its stop WNET_CONVERGE_MS
 * after this node's maps dropped it (the other nodes load theirs
 * meanwhile); one no VIP listed goes on at once; closing cuts the wait. */
static void a_leaving_task_waits_for_the_other_nodes(void **state)
{
	struct shoal_err err = {""};
	uv_loop_t loop;
	assert_int_equal(uv_loop_init(&loop), 0);
	struct net *n = open_net();
	struct wnet *w;
	struct wnet_config c = {
		.loop = &loop, .net = n, .vtep = "192.168.100.11:2377"};
	char id[65];
	int done = 0;
	json_t *o = item();
	json_object_set_new(o, "Services", json_loads(services_json, 0, NULL));
	assert_int_equal(wnet_open(&c, &w), 0);
	assign_text(w, o);
	assert_int_equal(attach(n, NETID, "10.0.1.5", id, &err), 0);

	uint64_t t0 = uv_now(&loop);
	wnet_task_leave(w, "a", count_done, &done);
	assert_int_equal(done, 0);
	while (done == 0 && uv_run(&loop, UV_RUN_ONCE))
		;
	assert_int_equal(done, 1);
	assert_true(uv_now(&loop) - t0 >= WNET_CONVERGE_MS);

	wnet_task_leave(w, "nosuch", count_done, &done);
	uv_run(&loop, UV_RUN_NOWAIT);
	assert_int_equal(done, 2);

	wnet_task_leave(w, "b", count_done, &done);
	uv_run(&loop, UV_RUN_NOWAIT);
	assert_int_equal(done, 2);
	wnet_close(w);
	assert_int_equal(done, 3);
	json_decref(o);
	net_close(n);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* Containers of attachable overlays (docs/overlay.md): their names and
 * aliases answer their address while they run. */
static void attached_containers_are_answered_by_name_and_alias(void **state)
{
	static const char ctrs[] =
		"[{\"ID\": \"t1\", \"Name\": \"c1\", \"Aliases\": "
		"[\"cli1\"], \"Addr\": \"10.0.1.7\", \"NodeID\": \"n2\", "
		"\"Ready\": true}, {\"ID\": \"t2\", \"Name\": \"c2\", "
		"\"Addr\": \"10.0.1.8\", \"Ready\": false}, {\"ID\": "
		"\"t3\", \"Name\": \"\", \"Addr\": \"10.0.1.9\", "
		"\"Ready\": true}]";
	struct shoal_err err = {""};
	struct wnet_item it;
	json_t *o = item();
	json_object_set_new(o, "Containers", json_loads(ctrs, 0, NULL));
	assert_int_equal(wnet_item_decode(o, &it, &err), 0);
	assert_int_equal(it.n_ctr_names, 3); /* c1, cli1, c2; none for t3 */
	assert_string_equal(it.ctr_names[1].name, "cli1");
	assert_int_equal(it.ctr_names[1].addr, 0x0a000107);
	assert_false(it.ctr_names[2].ready);
	wnet_item_fini(&it);

	struct net *n = open_net();
	struct wnet *w;
	struct wnet_config c = {.net = n, .vtep = "192.168.100.11:2377"};
	char id[65];
	uint32_t a[8];
	char *text = json_dumps(o, 0);
	struct agent_item items[] = {{(const uint8_t *)text, strlen(text)}};
	assert_int_equal(wnet_open(&c, &w), 0);
	wnet_assign(w, items, 1);
	assert_int_equal(attach(n, NETID, "10.0.1.5", id, &err), 0);
	assert_int_equal(lookup(n, id, "c1", a), 1);
	assert_int_equal(a[0], 0x0a000107);
	assert_int_equal(lookup(n, id, "cli1", a), 1);
	assert_int_equal(a[0], 0x0a000107);
	assert_int_equal(lookup(n, id, "c2", a), 0); /* not running */
	free(text);
	json_decref(o);
	wnet_close(w);
	net_close(n);

	static const char *const bad[] = {
		"{}",
		"[{\"Name\": \"c1\", \"Addr\": \"10.0.2.7\"}]",
		"[{\"Name\": \"c 1\", \"Addr\": \"10.0.1.7\"}]",
		"[{\"Name\": \"c1\", \"Addr\": \"10.0.1.7\", \"Aliases\": "
		"\"a\"}]",
		"[{\"Name\": \"c1\", \"Addr\": \"10.0.1.7\", \"Aliases\": "
		"[1]}]",
		"[{\"Name\": \"c1\"}]",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o = item();
		json_object_set_new(o, "Containers",
				    json_loads(bad[i], 0, NULL));
		err.msg[0] = '\0';
		assert_int_equal(wnet_item_decode(o, &it, &err), -EINVAL);
		if (!strstr(err.msg, "front"))
			fail_msg("case %zu: \"%s\"", i, err.msg);
		assert_null(it.ctr_names);
		json_decref(o);
	}
}

static void the_vip_table_balances_over_the_ready_tasks(void **state)
{
	struct net__net w = {.vni = 4097};
	uint32_t b[] = {0x0a000105, 0x0a000106};
	struct net__vip v[] = {{0x0a000102, b, 2}, {0x0a000103, NULL, 0}};
	struct buf out;
	w.vips = v;
	w.n_vips = 2;
	buf_init(&out, 1 << 20);
	assert_int_equal(net__vip_ruleset(&w, &out), 0);
	assert_non_null(strstr(out.data, "table inet shoal-vip {}\n"
					 "delete table inet shoal-vip\n"));
	assert_non_null(strstr(out.data,
			       "ip daddr 10.0.1.2 dnat ip to numgen random "
			       "mod 2 map { 0 : 10.0.1.5, 1 : 10.0.1.6 }"));
	/* A VIP without Ready tasks is refused, not left to time out. */
	assert_non_null(strstr(out.data, "ip daddr 10.0.1.3 reject"));
	assert_null(strstr(out.data, "10.0.1.3 dnat"));
	buf_fini(&out);
	/* No VIPs: the table is only deleted. */
	w.n_vips = 0;
	buf_init(&out, 1 << 20);
	assert_int_equal(net__vip_ruleset(&w, &out), 0);
	assert_string_equal(out.data, "table inet shoal-vip {}\n"
				      "delete table inet shoal-vip\n");
	buf_fini(&out);
}

static const char ingress_json[] =
	"{\"Kind\": \"ingress\", \"Addr\": \"10.255.0.3\","
	" \"Network\": {\"ID\": \"ingressid\", \"Name\": \"ingress\","
	" \"VNI\": 4095, \"Subnet\": \"10.255.0.0/16\", \"Gateway\": "
	"\"10.255.0.1\", \"Peers\": [], \"Services\": [{\"ID\": \"s\","
	" \"Name\": \"gone\", \"Mode\": \"vip\", \"Tasks\": []}]},"
	" \"Nodes\": [{\"NodeID\": \"a\", \"Addr\": \"10.255.0.3\", \"VTEP\":"
	" \"192.168.100.11\"}, {\"NodeID\": \"b\", \"Addr\": \"10.255.0.4\","
	" \"VTEP\": \"192.168.100.12\"}],"
	" \"Ports\": [{\"Protocol\": \"tcp\", \"PublishedPort\": 8080,"
	" \"TargetPort\": 80, \"Service\": \"web\", \"Backends\": [{\"Addr\":"
	" \"10.255.0.5\"}, {\"Addr\": \"10.255.0.6\"}]}, {\"Protocol\": "
	"\"udp\", \"PublishedPort\": 9053, \"TargetPort\": 53, \"Backends\":"
	" []}]}";

static void ingress_items_decode_with_their_ports_and_nodes(void **state)
{
	struct shoal_err err = {""};
	struct wnet_item it;
	struct wnet_ingress in;
	json_t *o = json_loads(ingress_json, 0, NULL);
	assert_non_null(o);
	/* A vip service whose VIP is gone (leaving the network) decodes,
	 * without a VIP. */
	assert_int_equal(
		wnet_item_decode(json_object_get(o, "Network"), &it, &err), 0);
	assert_int_equal(it.n_services, 1);
	assert_int_equal(it.services[0].vip, 0);
	assert_int_equal(wnet_ingress_decode(o, &it, &in, &err), 0);
	assert_int_equal(in.self, 0x0aff0003);
	assert_int_equal(in.n_nodes, 2);
	assert_int_equal(in.nodes[1], 0x0aff0004);
	assert_int_equal(in.n_ports, 2);
	assert_false(in.ports[0].udp);
	assert_int_equal(in.ports[0].port, 8080);
	assert_int_equal(in.ports[0].target, 80);
	assert_int_equal(in.ports[0].n, 2);
	assert_int_equal(in.ports[0].backends[1], 0x0aff0006);
	assert_true(in.ports[1].udp);
	assert_int_equal(in.ports[1].n, 0);
	wnet_ingress_fini(&in);
	wnet_item_fini(&it);
	json_decref(o);
}

static void ingress_items_with_a_bad_field_are_refused(void **state)
{
	static const char *bad[][2] = {
		{"Addr", "\"10.0.0.3\""},
		{"Nodes", "{}"},
		{"Nodes", "[{\"Addr\": \"1.2.3.4\"}]"},
		{"Ports", "[{\"Protocol\": \"sctp\", \"PublishedPort\": 1,"
			  " \"TargetPort\": 1}]"},
		{"Ports", "[{\"Protocol\": \"tcp\", \"PublishedPort\": 0,"
			  " \"TargetPort\": 1}]"},
		{"Ports", "[{\"Protocol\": \"tcp\", \"PublishedPort\": 70000,"
			  " \"TargetPort\": 1}]"},
		{"Ports", "[{\"Protocol\": \"tcp\", \"PublishedPort\": 8,"
			  " \"TargetPort\": 8, \"Backends\": [{\"Addr\": "
			  "\"10.0.0.5\"}]}]"},
		{"Ports", "\"8080\""},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct shoal_err err = {""};
		struct wnet_item it;
		struct wnet_ingress in;
		json_t *o = json_loads(ingress_json, 0, NULL);
		json_object_set_new(
			o, bad[i][0],
			json_loads(bad[i][1], JSON_DECODE_ANY, NULL));
		assert_int_equal(wnet_item_decode(json_object_get(o, "Network"),
						  &it, &err),
				 0);
		assert_int_equal(wnet_ingress_decode(o, &it, &in, &err),
				 -EINVAL);
		assert_non_null(strstr(err.msg, "ingress:"));
		assert_null(in.ports);
		wnet_item_fini(&it);
		json_decref(o);
	}
}

static void the_mesh_dnats_published_ports_and_marks_replies(void **state)
{
	uint32_t b[] = {0x0aff0005, 0x0aff0006};
	struct net_ingress_port p[] = {{false, 8080, 80, b, 2},
				       {true, 9053, 53, NULL, 0}};
	uint32_t nodes[] = {0x0aff0003, 0x0aff0004};
	struct net__net w = {.vni = 4095, .inodes = nodes, .n_inodes = 2};
	struct buf out;
	buf_init(&out, 1 << 20);
	assert_int_equal(net__ingress_ruleset(p, 2, &out), 0);
	assert_non_null(strstr(out.data, "table inet shoal-ingress {}\n"
					 "delete table inet shoal-ingress\n"));
	assert_non_null(strstr(out.data,
			       "\t\tfib daddr type local tcp dport 8080 dnat "
			       "ip to numgen random mod 2 map { 0 : "
			       "10.255.0.5 . 80, 1 : 10.255.0.6 . 80 }\n"));
	assert_non_null(strstr(out.data, "ip daddr != 127.0.0.0/8 fib daddr "
					 "type local tcp dport 8080"));
	/* A port without backends is not DNATed (refused by the node). */
	assert_null(strstr(out.data, "9053"));
	buf_fini(&out);
	buf_init(&out, 1 << 20);
	assert_int_equal(net__ingress_ruleset(p + 1, 1, &out), 0);
	assert_string_equal(out.data, "table inet shoal-ingress {}\n"
				      "delete table inet shoal-ingress\n");
	buf_fini(&out);
	buf_init(&out, 1 << 20);
	net__ingress_ns_text(&w, "eth1", &out);
	assert_non_null(strstr(out.data,
			       "iifname \"eth1\" ct state new ct mark set "
			       "ether saddr map { 02:42:0a:ff:00:03 : 1, "
			       "02:42:0a:ff:00:04 : 2 }"));
	assert_non_null(strstr(out.data, "ct mark != 0 meta mark set ct mark"));
	buf_fini(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(network_item_decodes_as_the_contract_shows),
		cmocka_unit_test(
			network_items_with_a_bad_field_are_refused_naming_it),
		cmocka_unit_test(
			a_task_joins_its_overlay_with_the_allocated_address),
		cmocka_unit_test(
			a_task_on_two_overlays_joins_the_second_after_create),
		cmocka_unit_test(
			a_task_without_networks_stays_on_the_default_bridge),
		cmocka_unit_test(
			network_attachments_that_cannot_apply_reject_the_task),
		cmocka_unit_test(
			host_mode_ports_are_published_ingress_ones_are_not),
		cmocka_unit_test(items_of_other_kinds_are_not_tasks),
		cmocka_unit_test_setup_teardown(
			an_overlay_is_joined_by_id_with_the_managers_addresses,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			overlays_that_cannot_apply_are_refused, setup,
			teardown),
		cmocka_unit_test(services_decode_with_their_tasks),
		cmocka_unit_test(the_vip_table_balances_over_the_ready_tasks),
		cmocka_unit_test_setup_teardown(
			a_leaving_task_drops_out_of_the_vip_here_at_once, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			a_leaving_task_waits_for_the_other_nodes, setup,
			teardown),
		cmocka_unit_test(
			ingress_items_decode_with_their_ports_and_nodes),
		cmocka_unit_test(ingress_items_with_a_bad_field_are_refused),
		cmocka_unit_test(
			the_mesh_dnats_published_ports_and_marks_replies),
		cmocka_unit_test_setup_teardown(
			the_resolver_answers_the_services_of_its_overlay, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			attached_containers_are_answered_by_name_and_alias,
			setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
