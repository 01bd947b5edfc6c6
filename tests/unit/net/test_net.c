/*
 * Unit tests of overlay-net/ without root: IPv4 prefixes and Docker's
 * allocation rules, the default pools, network create/remove with
 * Docker's refusals, endpoints and published ports (in a module opened
 * with dry_run: records only, no kernel), records that survive a reopen,
 * malformed records refused, the nftables ruleset text, the netlink
 * requests as the kernel will read them and the acknowledgement reader.
 */
/* cmocka needs these first */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/jsonx.h"
#include "overlay-net/internal.h"
#include "overlay-net/net.h"

static char root[64];

static int rm_entry(const char *p, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	return remove(p);
}

static struct net *open_net(const char *bip, const char *const *pools)
{
	struct net_config cfg = {.data_root = root,
				 .exec_root = root,
				 .bip = bip,
				 .pools = pools,
				 .dry_run = true};
	struct shoal_err err = {""};
	struct net *n = NULL;

	assert_int_equal(net_open(&cfg, &n, &err), 0);
	return n;
}

static int setup(void **state)
{
	snprintf(root, sizeof(root), "/tmp/shoal-unit-net.XXXXXX");
	assert_non_null(mkdtemp(root));
	return 0;
}

static int teardown(void **state)
{
	nftw(root, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* --- prefixes ------------------------------------------------------------- */

static void cidrs_parse_and_refuse_host_bits(void **state)
{
	struct net__prefix p;
	uint32_t a;

	assert_int_equal(net__parse_cidr("10.1.0.0/16", &p, NULL, false), 0);
	assert_int_equal(p.addr, 0x0a010000);
	assert_int_equal(p.len, 16);
	assert_int_equal(net__parse_cidr("10.1.2.3/16", &p, NULL, false),
			 -EINVAL);
	assert_int_equal(net__parse_cidr("10.1.2.3/16", &p, &a, true), 0);
	assert_int_equal(a, 0x0a010203);
	assert_int_equal(p.addr, 0x0a010000);
	static const char *const bad[] = {
		"10.0.0.0/33", "10.0.0.0", "10.0.0/8",	  "10.0.0.0/",
		"10.0.0.0/-1", "x/8",	   "10.0.0.0/8x", "10.0.0.0/+8"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(net__parse_cidr(bad[i], &p, NULL, true),
				 -EINVAL);
}

static void overlap_is_containment_either_way(void **state)
{
	struct net__prefix a = {0x0a000000, 8}, b = {0x0a010000, 16},
			   c = {0x0b000000, 8};

	assert_true(net__overlaps(&a, &b));
	assert_true(net__overlaps(&b, &a));
	assert_false(net__overlaps(&a, &c));
}

static void pools_give_the_first_free_subnet(void **state)
{
	struct net__prefix base = {0xac100000, 12},
			   used[2] = {{0xac110000, 16}, {0xac100000, 16}};
	struct net__prefix out;

	assert_int_equal(net__pool_next(&base, 16, used, 2, &out), 0);
	assert_int_equal(out.addr, 0xac120000);
	assert_int_equal(out.len, 16);
	struct net__prefix full = {0xac110000, 16};
	assert_int_equal(net__pool_next(&full, 16, used, 1, &out), -ENOSPC);
}

static bool taken_set(uint32_t ip, void *arg)
{
	const uint32_t *v = arg;

	for (size_t i = 0; v[i]; i++)
		if (v[i] == ip)
			return true;
	return false;
}

static void addresses_follow_the_last_one_and_wrap(void **state)
{
	struct net__prefix sub = {0x0a000000, 29}; /* .0 - .7 */
	uint32_t taken[] = {0x0a000001, 0x0a000003, 0};
	uint32_t ip;

	assert_int_equal(
		net__ip_next(&sub, &sub, 0x0a000001, taken_set, taken, &ip), 0);
	assert_int_equal(ip, 0x0a000002);
	/* After .6 the next free one wraps to .2 (never .0 or .7). */
	assert_int_equal(
		net__ip_next(&sub, &sub, 0x0a000006, taken_set, taken, &ip), 0);
	assert_int_equal(ip, 0x0a000002);
	uint32_t all[] = {1, 2, 3, 4, 5, 6, 0};
	for (int i = 0; i < 6; i++)
		all[i] += 0x0a000000;
	assert_int_equal(
		net__ip_next(&sub, &sub, 0x0a000001, taken_set, all, &ip),
		-ENOSPC);
}

static void macs_follow_docker(void **state)
{
	char mac[18];
	uint8_t b[6];

	net__mac_of(0xac110002, mac);
	assert_string_equal(mac, "02:42:ac:11:00:02");
	assert_int_equal(net__parse_mac("02:42:ac:11:00:02", b), 0);
	assert_int_equal(net__parse_mac("01:00:5e:00:00:01", b), -EINVAL);
	assert_int_equal(net__parse_mac("02:42:ac:11:00", b), -EINVAL);
	assert_int_equal(net__parse_mac("02:42:ac:11:00:0g", b), -EINVAL);
}

/* --- networks ------------------------------------------------------------- */

/* IPAM.Config[0].@key of a NetworkResource. */
static const char *ipam(const json_t *r, const char *key)
{
	return jsonx_str(
		json_array_get(json_object_get(jsonx_obj(r, "IPAM"), "Config"),
			       0),
		key, "");
}

static void the_predefined_networks_exist(void **state)
{
	struct net *n = open_net(NULL, NULL);
	json_t *l = net_network_list(n), *b;

	assert_int_equal(json_array_size(l), 3);
	b = net_network_inspect(n, "bridge", NULL);
	assert_string_equal(ipam(b, "Subnet"), "172.17.0.0/16");
	assert_string_equal(jsonx_str(b, "Driver", ""), "bridge");
	json_decref(b);
	json_decref(l);
	net_close(n);
}

static void bip_sets_the_default_bridge(void **state)
{
	struct net *n = open_net("10.200.0.1/24", NULL);
	json_t *b = net_network_inspect(n, "bridge", NULL);

	assert_string_equal(ipam(b, "Subnet"), "10.200.0.0/24");
	assert_string_equal(ipam(b, "Gateway"), "10.200.0.1");
	json_decref(b);
	net_close(n);
}

static void bad_bip_and_pools_are_refused(void **state)
{
	static const char *const pools[] = {"base=10.0.0.0/8,size=4", NULL};
	struct net_config cfg = {.data_root = root,
				 .exec_root = root,
				 .bip = "10.0.0.0/40",
				 .dry_run = true};
	struct shoal_err err = {""};
	struct net *n = NULL;

	assert_int_equal(net_open(&cfg, &n, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "--bip"));
	cfg.bip = NULL;
	cfg.pools = pools;
	assert_int_equal(net_open(&cfg, &n, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "--default-address-pool"));
}

static void create_takes_subnets_from_the_pools(void **state)
{
	struct net *n = open_net(NULL, NULL);
	struct net_create_opts o = {.name = "n1"};
	struct shoal_err err = {""};
	char id[65];
	json_t *r;

	assert_int_equal(net_network_create(n, &o, id, &err), 0);
	r = net_network_inspect(n, "n1", NULL);
	assert_string_equal(ipam(r, "Subnet"), "172.18.0.0/16");
	json_decref(r);
	o.name = "n2";
	assert_int_equal(net_network_create(n, &o, id, &err), 0);
	r = net_network_inspect(n, id, NULL);
	assert_string_equal(ipam(r, "Gateway"), "172.19.0.1");
	json_decref(r);
	net_close(n);
}

static void create_refuses_with_dockers_words(void **state)
{
	struct net *n = open_net(NULL, NULL);
	struct net_create_opts o = {.name = "n1", .subnet = "10.1.0.0/16"};
	struct shoal_err err = {""};
	char id[65];

	assert_int_equal(net_network_create(n, &o, id, &err), 0);
	assert_int_equal(net_network_create(n, &o, id, &err), SHOAL_ECONFLICT);
	assert_string_equal(err.msg, "network with name n1 already exists");
	o.name = "n2";
	o.subnet = "10.1.128.0/17";
	assert_int_equal(net_network_create(n, &o, id, &err), -EPERM);
	assert_string_equal(err.msg,
			    "Pool overlaps with other one on this address "
			    "space");
	o.subnet = "10.2.0.0/33";
	assert_int_equal(net_network_create(n, &o, id, &err), -EINVAL);
	assert_string_equal(err.msg, "invalid CIDR address: 10.2.0.0/33");
	o.subnet = "10.3.0.0/16";
	o.gateway = "10.4.0.1";
	assert_int_equal(net_network_create(n, &o, id, &err), -EINVAL);
	assert_string_equal(err.msg, "no matching subnet for gateway 10.4.0.1");
	o.gateway = NULL;
	o.ip_range = "10.3.0.0/8";
	assert_int_equal(net_network_create(n, &o, id, &err), -EINVAL);
	o.ip_range = NULL;
	o.driver = "overlay";
	assert_int_equal(net_network_create(n, &o, id, &err), SHOAL_ENOTFOUND);
	o.driver = NULL;
	json_t *opts =
		json_pack("{s:s}", "com.docker.network.driver.mtu", "9000");
	o.options = opts;
	assert_int_equal(net_network_create(n, &o, id, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "com.docker.network.driver.mtu"));
	json_decref(opts);
	o.options = NULL;
	o.name = "n9";
	o.subnet = "10.9.0.0/24";
	o.bridge_name = "br\" drop";
	assert_int_equal(net_network_create(n, &o, id, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "invalid bridge name"));
	o.bridge_name = NULL;
	json_t *lab = json_pack("{s:i}", "k", 1);
	o.labels = lab;
	assert_int_equal(net_network_create(n, &o, id, &err), -EINVAL);
	json_decref(lab);
	o.labels = NULL;
	o.name = "bad name";
	assert_int_equal(net_network_create(n, &o, id, &err), -EINVAL);
	assert_int_equal(net_network_remove(n, "bridge", &err), -EPERM);
	assert_string_equal(err.msg, "bridge is a pre-defined network and "
				     "cannot be removed");
	assert_int_equal(net_network_remove(n, "nope", &err), SHOAL_ENOTFOUND);
	assert_string_equal(err.msg, "network nope not found");
	net_close(n);
}

static void pools_run_out(void **state)
{
	static const char *const pools[] = {"base=10.9.0.0/23,size=24", NULL};
	struct net *n = open_net(NULL, pools);
	struct net_create_opts o = {.name = "a"};
	struct shoal_err err = {""};
	char id[65];

	assert_int_equal(net_network_create(n, &o, id, &err), 0);
	o.name = "b";
	assert_int_equal(net_network_create(n, &o, id, &err), 0);
	o.name = "c";
	assert_int_equal(net_network_create(n, &o, id, &err), -EPERM);
	assert_non_null(strstr(err.msg, "could not find an available, "
					"non-overlapping IPv4 address pool"));
	net_close(n);
}

/* --- endpoints and ports -------------------------------------------------- */

static void containers_get_addresses_and_release_them(void **state)
{
	struct net *n = open_net(NULL, NULL);
	struct net_ctr_spec s = {.name = "a", .hostname = "h"};
	struct net_ctr_result r1, r2;
	struct shoal_err err = {""};
	char id1[65], id2[65];
	json_t *set;

	memset(id1, 'a', 64);
	id1[64] = '\0';
	memset(id2, 'b', 64);
	id2[64] = '\0';
	assert_int_equal(net_ctr_create(n, &s, &r1, &err), 0);
	assert_string_equal(r1.host_line, "h:172.17.0.2");
	assert_int_equal(net_ctr_bind(n, r1.sandbox, id1), 0);
	assert_int_equal(net_ctr_create(n, &s, &r2, &err), 0);
	assert_int_equal(net_ctr_bind(n, r2.sandbox, id2), 0);
	assert_string_equal(r2.host_line, "h:172.17.0.3");
	set = net_ctr_settings(n, id2, "");
	assert_string_equal(jsonx_str(set, "IPAddress", ""), "172.17.0.3");
	assert_string_equal(jsonx_str(set, "MacAddress", ""),
			    "02:42:ac:11:00:03");
	json_decref(set);
	net_ctr_remove(n, id1);
	/* Docker's allocator goes on after the last one, not back. */
	assert_int_equal(net_ctr_create(n, &s, &r1, &err), 0);
	assert_string_equal(r1.host_line, "h:172.17.0.4");
	net_close(n);
}

static void user_settings_apply_only_on_user_networks(void **state)
{
	struct net *n = open_net(NULL, NULL);
	struct net_create_opts o = {.name = "n1", .subnet = "10.5.0.0/24"};
	const char *al[] = {"web", NULL};
	struct net_ep_req ep = {.network = "n1",
				.aliases = al,
				.ip = "10.5.0.50",
				.mac = "02:00:00:00:00:01"};
	struct net_ctr_spec s = {
		.name = "a", .mode = "n1", .eps = &ep, .n_eps = 1};
	struct net_ctr_result r;
	struct shoal_err err = {""};
	char id[65];
	json_t *set;

	assert_int_equal(net_network_create(n, &o, id, &err), 0);
	assert_int_equal(net_ctr_create(n, &s, &r, &err), 0);
	assert_int_equal(net_ctr_bind(n, r.sandbox, r.sandbox), 0);
	set = net_ctr_settings(n, r.sandbox, "n1");
	json_t *e = jsonx_obj(jsonx_obj(set, "Networks"), "n1");
	assert_string_equal(jsonx_str(e, "IPAddress", ""), "10.5.0.50");
	assert_string_equal(jsonx_str(e, "MacAddress", ""),
			    "02:00:00:00:00:01");
	assert_string_equal(json_string_value(json_array_get(
				    json_object_get(e, "Aliases"), 0)),
			    "web");
	json_decref(set);
	assert_int_equal(net_ctr_create(n, &s, &r, &err), SHOAL_ECONFLICT);
	assert_string_equal(err.msg, "Address already in use");
	ep.ip = "10.6.0.1";
	assert_int_equal(net_ctr_create(n, &s, &r, &err), -EINVAL);
	ep.network = "bridge";
	ep.ip = "172.17.0.9";
	s.mode = "bridge";
	assert_int_equal(net_ctr_create(n, &s, &r, &err), -EINVAL);
	assert_string_equal(err.msg, "user specified IP address is supported "
				     "on user defined networks only");
	s.mode = "nope";
	s.n_eps = 0;
	assert_int_equal(net_ctr_create(n, &s, &r, &err), SHOAL_ENOTFOUND);
	assert_string_equal(err.msg, "network nope not found");
	assert_int_equal(net_network_remove(n, "n1", &err), -EPERM);
	assert_non_null(strstr(err.msg, "has active endpoints"));
	net_close(n);
}

static void a_full_subnet_refuses_the_next_container(void **state)
{
	struct net *n = open_net(NULL, NULL);
	struct net_create_opts o = {.name = "t", .subnet = "10.7.0.0/30"};
	struct net_ctr_spec s = {.name = "a", .mode = "t"};
	struct net_ctr_result r;
	struct shoal_err err = {""};
	char id[65];

	assert_int_equal(net_network_create(n, &o, id, &err), 0);
	assert_int_equal(net_ctr_create(n, &s, &r, &err), 0);
	assert_int_equal(net_ctr_create(n, &s, &r, &err), -EPERM);
	assert_non_null(strstr(err.msg, "no available IPv4 addresses on this "
					"network's address pools: t ("));
	net_close(n);
}

static void ports_parse_as_docker_sends_them(void **state)
{
	json_t *b =
		json_pack("{s:[{s:s, s:s}], s:[{s:s, s:s}], s:[]}", "80/tcp",
			  "HostIp", "", "HostPort", "8080", "53/udp", "HostIp",
			  "127.0.0.1", "HostPort", "8000-8010", "443/tcp");
	json_t *exp = json_pack("{s:{}, s:{}}", "80/tcp", "9000/tcp");
	struct shoal_err err = {""};
	struct net_port *p;
	size_t np;

	assert_int_equal(net_ports_parse(b, exp, true, &p, &np, &err), 0);
	assert_int_equal(np, 4);
	for (size_t i = 0; i < np; i++) {
		if (p[i].ctr_port == 80) {
			assert_int_equal(p[i].host_lo, 8080);
			assert_string_equal(p[i].proto, "tcp");
		} else if (p[i].ctr_port == 53) {
			assert_string_equal(p[i].proto, "udp");
			assert_int_equal(p[i].host_lo, 8000);
			assert_int_equal(p[i].host_hi, 8010);
			assert_string_equal(p[i].host_ip, "127.0.0.1");
		} else {
			assert_int_equal(p[i].host_lo, 0);
		}
	}
	shoal_free(p);
	json_decref(b);
	static const char *const bad[] = {
		"{\"80/sctp\": []}",
		"{\"0/tcp\": []}",
		"{\"70000/tcp\": []}",
		"{\"80/tcp\": [{\"HostPort\": \"x\"}]}",
		"{\"80/tcp\": [{\"HostPort\": \"9-8\"}]}",
		"{\"80/tcp\": [{\"HostIp\": \"::1\", \"HostPort\": \"1\"}]}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		b = json_loads(bad[i], 0, NULL);
		assert_non_null(b);
		assert_int_equal(net_ports_parse(b, NULL, false, &p, &np, &err),
				 -EINVAL);
		json_decref(b);
	}
	json_decref(exp);
}

static void a_taken_host_port_is_refused(void **state)
{
	struct net *n = open_net(NULL, NULL);
	struct net_port p = {.ctr_port = 80,
			     .proto = "tcp",
			     .host_lo = 8080,
			     .host_hi = 8080};
	struct net_port q = {.ctr_port = 80,
			     .proto = "udp",
			     .host_lo = 8080,
			     .host_hi = 8080};
	struct net_port eph = {.ctr_port = 80, .proto = "tcp"};
	struct net_ctr_spec s = {.name = "a", .ports = &p, .n_ports = 1};
	struct net_ctr_result r;
	struct shoal_err err = {""};

	assert_int_equal(net_ctr_create(n, &s, &r, &err), 0);
	assert_int_equal(net_ctr_create(n, &s, &r, &err), SHOAL_ECONFLICT);
	assert_string_equal(err.msg, "Bind for 0.0.0.0:8080 failed: port is "
				     "already allocated");
	s.ports = &q; /* the same number over UDP is another port */
	assert_int_equal(net_ctr_create(n, &s, &r, &err), 0);
	s.ports = &eph;
	assert_int_equal(net_ctr_create(n, &s, &r, &err), 0);
	json_t *set = net_ctr_settings(n, r.sandbox, "");
	const char *hp = jsonx_str(
		json_array_get(
			json_object_get(jsonx_obj(set, "Ports"), "80/tcp"), 0),
		"HostPort", "0");
	assert_true(atoi(hp) >= 32768);
	json_decref(set);
	s.mode = "host";
	assert_int_equal(net_ctr_create(n, &s, &r, &err), -EINVAL);
	net_close(n);
}

static void records_survive_a_reopen(void **state)
{
	struct net *n = open_net(NULL, NULL);
	struct net_create_opts o = {
		.name = "n1", .subnet = "10.8.0.0/24", .internal = true};
	struct net_port p = {.ctr_port = 80,
			     .proto = "tcp",
			     .host_lo = 8081,
			     .host_hi = 8081};
	struct net_ctr_spec s = {.name = "a", .mode = "n1"};
	struct net_ctr_spec s2 = {.name = "b", .ports = &p, .n_ports = 1};
	struct net_ctr_result r, r2;
	struct shoal_err err = {""};
	char id[65], bridge_id[65];
	json_t *b;

	b = net_network_inspect(n, "bridge", NULL);
	snprintf(bridge_id, sizeof(bridge_id), "%s", jsonx_str(b, "Id", ""));
	json_decref(b);
	assert_int_equal(net_network_create(n, &o, id, &err), 0);
	assert_int_equal(net_ctr_create(n, &s, &r, &err), 0);
	assert_int_equal(net_ctr_bind(n, r.sandbox, r.sandbox), 0);
	assert_int_equal(net_ctr_create(n, &s2, &r2, &err), 0);
	assert_int_equal(net_ctr_bind(n, r2.sandbox, r2.sandbox), 0);
	net_close(n);

	n = open_net(NULL, NULL);
	b = net_network_inspect(n, "bridge", NULL);
	assert_string_equal(jsonx_str(b, "Id", ""), bridge_id);
	json_decref(b);
	b = net_network_inspect(n, "n1", NULL);
	assert_true(jsonx_bool(b, "Internal", false));
	assert_int_equal(json_object_size(jsonx_obj(b, "Containers")), 1);
	json_decref(b);
	/* The port is still held; the address too. */
	assert_int_equal(net_ctr_create(n, &s2, &r2, &err), SHOAL_ECONFLICT);
	assert_int_equal(net_ctr_create(n, &s, &r2, &err), 0);
	assert_string_equal(r2.host_line, ":10.8.0.3");
	/* At start-up, what belongs to no container is released. */
	const char *keep[] = {r.sandbox, NULL};
	assert_int_equal(net_reconcile(n, keep), 0);
	b = net_network_inspect(n, "n1", NULL);
	assert_int_equal(json_object_size(jsonx_obj(b, "Containers")), 1);
	json_decref(b);
	b = net_network_inspect(n, "bridge", NULL);
	assert_int_equal(json_object_size(jsonx_obj(b, "Containers")), 0);
	json_decref(b);
	net_close(n);
}

static void malformed_records_are_refused(void **state)
{
	static const char *const bad[] = {
		"[]",
		"{\"Id\": \"x\", \"Name\": \"n\"}",
		"{\"Id\": "
		"\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aa\", \"Name\": \"n\", \"Created\": \"\", \"Bridge\": \"b\", "
		"\"Driver\": \"bridge\", \"Subnet\": \"10.0.0.0/33\"}",
		"{\"Id\": "
		"\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aa\", \"Name\": \"n\", \"Created\": \"\", \"Bridge\": \"b\", "
		"\"Driver\": \"bridge\", \"Subnet\": \"10.0.0.0/24\", "
		"\"IPRange\": \"10.0.0.0/24\", \"Gateway\": \"10.0.1.1\", "
		"\"LastIP\": \"10.0.0.1\"}",
		"{\"Id\": "
		"\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aa\", \"Name\": \"n\", \"Created\": \"\", \"Bridge\": \"b\", "
		"\"Driver\": \"bridge\", \"Subnet\": \"10.0.0.0/24\", "
		"\"IPRange\": \"10.0.0.0/24\", \"Gateway\": \"10.0.0.1\", "
		"\"LastIP\": \"10.0.0.1\", \"Endpoints\": [{\"Container\": "
		"\"x\"}]}",
	};
	struct shoal_err err = {""};
	struct net__net *w;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *r = json_loads(bad[i], 0, NULL);
		assert_non_null(r);
		assert_int_equal(net__load_record(r, &w, &err), -EINVAL);
		assert_non_null(strstr(err.msg, "malformed network record"));
		json_decref(r);
	}
}

static void a_corrupt_record_stops_the_open_naming_its_file(void **state)
{
	struct net *n = open_net(NULL, NULL);
	struct net_config cfg = {
		.data_root = root, .exec_root = root, .dry_run = true};
	struct shoal_err err = {""};
	char path[PATH_MAX];
	FILE *f;

	net_close(n);
	snprintf(path, sizeof(path), "%s/network/bad.json", root);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"Id\": 1}", f);
	fclose(f);
	assert_int_equal(net_open(&cfg, &n, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "bad.json"));
	unlink(path);
}

/* --- names ---------------------------------------------------------------- */

static const char *ctr_on(struct net *n, const char *mode, const char *name,
			  const char *alias, char id[65])
{
	const char *al[] = {alias, NULL};
	struct net_ep_req ep = {.network = mode, .aliases = al};
	struct net_ctr_spec s = {
		.name = name, .mode = mode, .eps = &ep, .n_eps = alias ? 1 : 0};
	struct net_ctr_result r;
	struct shoal_err err = {""};

	assert_int_equal(net_ctr_create(n, &s, &r, &err), 0);
	memcpy(id, r.sandbox, 65);
	assert_int_equal(net_ctr_bind(n, r.sandbox, id), 0);
	return id;
}

static void names_resolve_only_on_shared_user_networks(void **state)
{
	struct net *n = open_net(NULL, NULL);
	struct net_create_opts o = {.name = "n1", .subnet = "10.5.0.0/24"};
	struct net_create_opts o2 = {.name = "n2", .subnet = "10.6.0.0/24"};
	struct shoal_err err = {""};
	struct in_addr a[8];
	char id[65], web[65], db[65], other[65], plain[65], name[256];

	assert_int_equal(net_network_create(n, &o, id, &err), 0);
	assert_int_equal(net_network_create(n, &o2, id, &err), 0);
	ctr_on(n, "n1", "Web", "www", web);
	ctr_on(n, "n1", "db", NULL, db);
	ctr_on(n, "n2", "other", NULL, other);
	ctr_on(n, "bridge", "plain", NULL, plain);
	assert_int_equal(net__lookup(n, db, "web", a, 8), 1);
	assert_int_equal(ntohl(a[0].s_addr), 0x0a050002);
	assert_int_equal(net__lookup(n, db, "www", a, 8), 1);
	assert_int_equal(net__lookup(n, db, "web.n1", a, 8), 1);
	char shortid[13];
	snprintf(shortid, sizeof(shortid), "%.12s", web);
	assert_int_equal(net__lookup(n, db, shortid, a, 8), 1);
	/* Another network's container: not ours, goes upstream. */
	assert_int_equal(net__lookup(n, db, "other", a, 8), 0);
	/* A name of the container's own network nobody has: NXDOMAIN. */
	assert_int_equal(net__lookup(n, db, "ghost.n1", a, 8), SHOAL_ENOTFOUND);
	/* The default bridge has no names. */
	assert_int_equal(net__lookup(n, plain, "plain", a, 8), 0);
	assert_false(net__has_names(n, plain));
	assert_true(net__has_names(n, db));
	struct in_addr q = {htonl(0x0a050002)};
	assert_int_equal(net__reverse(n, db, q, name, sizeof(name)), 1);
	assert_string_equal(name, "Web.n1");
	q.s_addr = htonl(0x0a050063);
	assert_int_equal(net__reverse(n, db, q, name, sizeof(name)),
			 SHOAL_ENOTFOUND);
	q.s_addr = htonl(0x0a060002);
	assert_int_equal(net__reverse(n, db, q, name, sizeof(name)), 0);
	net_close(n);
}

/* --- ruleset ------------------------------------------------------------- */

static void the_ruleset_holds_ports_nat_and_isolation(void **state)
{
	struct net *n = open_net(NULL, NULL);
	struct net_create_opts o = {
		.name = "n1", .subnet = "10.1.0.0/24", .bridge_name = "brn1"};
	struct net_create_opts o2 = {.name = "in",
				     .subnet = "10.2.0.0/24",
				     .bridge_name = "brin",
				     .internal = true};
	struct net_port p = {.ctr_port = 80,
			     .proto = "tcp",
			     .host_lo = 8080,
			     .host_hi = 8080};
	struct net_port q = {.ctr_port = 53,
			     .proto = "udp",
			     .host_ip = "10.99.0.1",
			     .host_lo = 5353,
			     .host_hi = 5353};
	struct net_port pq[2] = {p, q};
	struct net_ctr_spec s = {.name = "a", .ports = pq, .n_ports = 2};
	struct net_ctr_result r;
	struct shoal_err err = {""};
	char id[65];
	struct buf b;

	assert_int_equal(net_network_create(n, &o, id, &err), 0);
	assert_int_equal(net_network_create(n, &o2, id, &err), 0);
	assert_int_equal(net_ctr_create(n, &s, &r, &err), 0);
	buf_init(&b, 1 << 20);
	assert_int_equal(net__ruleset(n, &b), 0);
	buf_append(&b, "", 1);
	const char *t = b.data;
	/* Replaced whole: made if missing, deleted, made again. */
	assert_true(strstr(t, "table inet shoal {}\ndelete table inet "
			      "shoal\ntable inet shoal {") == t);
	assert_non_null(strstr(t, "tcp dport 8080 dnat ip to 172.17.0.2:80"));
	assert_non_null(strstr(t, "ip daddr 10.99.0.1 udp dport 5353 dnat ip "
				  "to 172.17.0.2:53"));
	assert_non_null(strstr(t, "ip saddr 172.17.0.0/16 oifname != "
				  "\"shoal0\" masquerade"));
	assert_non_null(strstr(t, "ip saddr 10.1.0.0/24 oifname != \"brn1\" "
				  "masquerade"));
	/* The internal network is never masqueraded and reaches only its
	 * own bridge. */
	assert_null(strstr(t, "ip saddr 10.2.0.0/24 oifname != \"brin\" "
			      "masquerade"));
	assert_non_null(strstr(t, "iifname \"brin\" oifname != \"brin\" drop"));
	assert_non_null(strstr(t, "iifname \"shoal0\" oifname { \"brn1\" } "
				  "drop"));
	assert_non_null(strstr(t, "iifname \"brn1\" oifname { \"shoal0\" } "
				  "drop"));
	buf_fini(&b);
	net_close(n);
}

/* --- netlink -------------------------------------------------------------- */

struct seen {
	int kind, ifname, peer, peer_name, peer_ns;
	char name[IFNAMSIZ];
};

static int attr_cb(const struct nlattr *a, void *data)
{
	struct seen *s = data;

	switch (mnl_attr_get_type(a)) {
	case IFLA_IFNAME:
		s->ifname = 1;
		snprintf(s->name, sizeof(s->name), "%s", mnl_attr_get_str(a));
		break;
	case IFLA_LINKINFO: {
		const struct nlattr *x;
		mnl_attr_for_each_nested(x, a)
		{
			if (mnl_attr_get_type(x) == IFLA_INFO_KIND &&
			    !strcmp(mnl_attr_get_str(x), "veth"))
				s->kind = 1;
			if (mnl_attr_get_type(x) != IFLA_INFO_DATA)
				continue;
			const struct nlattr *p =
				mnl_attr_get_payload(x); /* VETH_INFO_PEER */
			if (mnl_attr_get_type(p) != VETH_INFO_PEER)
				continue;
			s->peer = 1;
			const char *pp = mnl_attr_get_payload(p);
			size_t plen = mnl_attr_get_payload_len(p);
			const struct nlattr *y =
				(const void *)(pp + sizeof(struct ifinfomsg));
			int left = (int)(plen - sizeof(struct ifinfomsg));
			while (mnl_attr_ok(y, left)) {
				if (mnl_attr_get_type(y) == IFLA_IFNAME &&
				    !strcmp(mnl_attr_get_str(y), "vsabc"))
					s->peer_name = 1;
				if (mnl_attr_get_type(y) == IFLA_NET_NS_FD &&
				    mnl_attr_get_u32(y) == 7)
					s->peer_ns = 1;
				left -= (int)MNL_ALIGN(y->nla_len);
				y = mnl_attr_next(y);
			}
		}
		break;
	}
	}
	return MNL_CB_OK;
}

static void
the_attach_batch_is_one_buffer_the_kernel_reads_in_order(void **state)
{
	struct net__batch *b;
	const struct nlmsghdr *nlh;
	uint8_t mac[6] = {2, 0x42, 10, 0, 0, 2};
	struct seen s = {0};
	size_t len;
	int left, types[4], k = 0;

	assert_int_equal(net__batch_new(&b), 0);
	assert_int_equal(net__nl_link_up(b, 1, NULL), 0);
	assert_int_equal(net__nl_veth_add(b, "eth0", 10, mac, "vsabc", 7, 0),
			 0);
	assert_int_equal(net__nl_addr_add(b, 10, 0x0a000002, 24), 0);
	assert_int_equal(net__nl_route_default(b, 0x0a000001), 0);
	assert_int_equal(net__batch_count(b), 4);
	nlh = net__batch_data(b, &len);
	left = (int)len;
	while (mnl_nlmsg_ok(nlh, left)) {
		assert_true(nlh->nlmsg_flags & NLM_F_ACK);
		types[k++] = nlh->nlmsg_type;
		if (k == 2) {
			const struct ifinfomsg *ifi =
				mnl_nlmsg_get_payload(nlh);
			assert_int_equal(ifi->ifi_index, 10);
			mnl_attr_parse(nlh, sizeof(*ifi), attr_cb, &s);
		}
		if (k == 3) {
			const struct ifaddrmsg *ifa =
				mnl_nlmsg_get_payload(nlh);
			assert_int_equal(ifa->ifa_index, 10);
			assert_int_equal(ifa->ifa_prefixlen, 24);
		}
		nlh = mnl_nlmsg_next(nlh, &left);
	}
	assert_int_equal(left, 0);
	assert_int_equal(k, 4);
	assert_int_equal(types[0], RTM_NEWLINK);
	assert_int_equal(types[1], RTM_NEWLINK);
	assert_int_equal(types[2], RTM_NEWADDR);
	assert_int_equal(types[3], RTM_NEWROUTE);
	assert_string_equal(s.name, "eth0");
	assert_true(s.kind && s.peer && s.peer_name && s.peer_ns);
	net__batch_free(b);
}

static void acks_are_checked_before_being_believed(void **state)
{
	char buf[256];
	struct nlmsghdr *nlh;
	struct nlmsgerr *e;
	size_t got = 0, failed = 9;
	int err = 0;

	memset(buf, 0, sizeof(buf));
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = NLMSG_ERROR;
	nlh->nlmsg_seq = 101;
	e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));
	e->error = -EEXIST;
	assert_int_equal(
		net__nl_acks(buf, nlh->nlmsg_len, 100, 2, &got, &err, &failed),
		0);
	assert_int_equal(got, 1);
	assert_int_equal(err, -EEXIST);
	assert_int_equal(failed, 1);
	/* A sequence number outside the batch, a positive error, a type
	 * that is not an ack, a truncated message: refused. */
	nlh->nlmsg_seq = 105;
	assert_int_equal(
		net__nl_acks(buf, nlh->nlmsg_len, 100, 2, &got, &err, &failed),
		-EPROTO);
	nlh->nlmsg_seq = 100;
	e->error = 5;
	assert_int_equal(
		net__nl_acks(buf, nlh->nlmsg_len, 100, 2, &got, &err, &failed),
		-EPROTO);
	e->error = 0;
	nlh->nlmsg_type = RTM_NEWLINK;
	assert_int_equal(
		net__nl_acks(buf, nlh->nlmsg_len, 100, 2, &got, &err, &failed),
		-EPROTO);
	nlh->nlmsg_type = NLMSG_ERROR;
	assert_int_equal(net__nl_acks(buf, nlh->nlmsg_len - 1, 100, 2, &got,
				      &err, &failed),
			 -EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cidrs_parse_and_refuse_host_bits),
		cmocka_unit_test(overlap_is_containment_either_way),
		cmocka_unit_test(pools_give_the_first_free_subnet),
		cmocka_unit_test(addresses_follow_the_last_one_and_wrap),
		cmocka_unit_test(macs_follow_docker),
		cmocka_unit_test_setup_teardown(the_predefined_networks_exist,
						setup, teardown),
		cmocka_unit_test_setup_teardown(bip_sets_the_default_bridge,
						setup, teardown),
		cmocka_unit_test_setup_teardown(bad_bip_and_pools_are_refused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			create_takes_subnets_from_the_pools, setup, teardown),
		cmocka_unit_test_setup_teardown(
			create_refuses_with_dockers_words, setup, teardown),
		cmocka_unit_test_setup_teardown(pools_run_out, setup, teardown),
		cmocka_unit_test_setup_teardown(
			containers_get_addresses_and_release_them, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			user_settings_apply_only_on_user_networks, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			a_full_subnet_refuses_the_next_container, setup,
			teardown),
		cmocka_unit_test(ports_parse_as_docker_sends_them),
		cmocka_unit_test_setup_teardown(a_taken_host_port_is_refused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(records_survive_a_reopen, setup,
						teardown),
		cmocka_unit_test(malformed_records_are_refused),
		cmocka_unit_test_setup_teardown(
			a_corrupt_record_stops_the_open_naming_its_file, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			names_resolve_only_on_shared_user_networks, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			the_ruleset_holds_ports_nat_and_isolation, setup,
			teardown),
		cmocka_unit_test(
			the_attach_batch_is_one_buffer_the_kernel_reads_in_order),
		cmocka_unit_test(acks_are_checked_before_being_believed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
