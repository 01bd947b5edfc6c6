/*
 * The allocator's pure core for overlay networks (manager/allocator.h):
 * what a `network create -d overlay` may ask (the docker CLI's own body
 * passes, --attachable kept; encrypted and every field not applied are
 * refused by name), and the VNI, subnet and gateway a new network gets against
 * those already allocated.
 */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <errno.h>
#include <string.h>

#include "common/jsonx.h"
#include "manager/allocator.h"

/* The body docker 28's `network create -d overlay NAME` sends, with the
 * fields of the JSON object @extra laid over it. */
static int check(const char *extra, json_t **spec, char *err, size_t errlen)
{
	static const char base[] =
		"{\"Name\":\"web\",\"Driver\":\"overlay\",\"Scope\":\"\","
		"\"EnableIPv6\":false,\"IPAM\":{\"Driver\":\"default\","
		"\"Options\":{},\"Config\":[]},\"Internal\":false,"
		"\"Attachable\":false,\"Ingress\":false,\"ConfigOnly\":false,"
		"\"ConfigFrom\":null,\"Options\":{},\"Labels\":{}}";
	char text[1024];
	json_t *req = NULL, *over = NULL;
	snprintf(text, sizeof(text), "{%s}", *extra ? extra + 1 : "");
	assert_int_equal(jsonx_parse(base, strlen(base), &req, NULL, 0), 0);
	assert_int_equal(jsonx_parse(text, strlen(text), &over, NULL, 0), 0);
	assert_int_equal(json_object_update(req, over), 0);
	int rc = alloc_net_check(req, spec, err, errlen);
	json_decref(req);
	json_decref(over);
	return rc;
}

static void refused(const char *extra, const char *words)
{
	char err[512] = "";
	json_t *spec = (json_t *)1;
	assert_int_equal(check(extra, &spec, err, sizeof(err)), -EINVAL);
	assert_null(spec);
	if (!strstr(err, words))
		fail_msg("%s: \"%s\" does not say \"%s\"", extra, err, words);
}

static void the_docker_cli_body_passes_and_is_normalized(void **s)
{
	char err[256];
	json_t *spec;
	assert_int_equal(
		check(",\"CheckDuplicate\":true,\"Labels\":{\"a\":\"b\"},"
		      "\"Options\":{\"com.docker.network.driver.mtu\":\"1400\"}",
		      &spec, err, sizeof(err)),
		0);
	assert_string_equal(jsonx_str(spec, "Name", ""), "web");
	assert_string_equal(jsonx_str(spec, "Driver", ""), "overlay");
	assert_string_equal(jsonx_str(spec, "Scope", ""), "swarm");
	assert_string_equal(jsonx_str(jsonx_obj(spec, "Labels"), "a", ""), "b");
	assert_string_equal(jsonx_str(jsonx_obj(spec, "Options"),
				      "com.docker.network.driver.mtu", ""),
			    "1400");
	json_decref(spec);
	/* --attachable is kept (containers of any node may join). */
	assert_int_equal(check(",\"Attachable\":true", &spec, err, sizeof(err)),
			 0);
	assert_true(jsonx_bool(spec, "Attachable", false));
	json_decref(spec);
}

static void what_is_not_applied_is_refused_by_name(void **s)
{
	refused(",\"Options\":{\"encrypted\":\"\"}", "IPsec ESP");
	refused(",\"Options\":{\"encrypted\":\"\"}", "WireGuard");
	refused(",\"Attachable\":\"yes\"", "Attachable has the wrong type");
	refused(",\"Ingress\":true", "Ingress");
	refused(",\"EnableIPv6\":true", "EnableIPv6");
	refused(",\"ConfigOnly\":true", "ConfigOnly");
	refused(",\"EnableIPv4\":false", "without IPv4");
	refused(",\"Options\":{\"com.docker.network.driver.mtu\":\"40\"}",
		"com.docker.network.driver.mtu");
	refused(",\"Options\":{\"com.docker.network.driver.mtu\":\"x\"}",
		"com.docker.network.driver.mtu");
	refused(",\"Options\":{\"foo\":\"1\"}", "foo");
	refused(",\"Bogus\":1", "Bogus");
	refused(",\"Scope\":\"local\"", "scope swarm");
	refused(",\"Name\":\"-x\"", "invalid network name");
	refused(",\"Name\":\"\"", "invalid network name");
	refused(",\"IPAM\":{\"Driver\":\"other\"}", "IPAM driver other");
	refused(",\"IPAM\":{\"Config\":[{\"Subnet\":\"10.1.0.0/24\","
		"\"IPRange\":\"10.1.0.0/25\"}]}",
		"IPRange");
	refused(",\"IPAM\":{\"Config\":[{\"Subnet\":\"10.1.0.0/24\"},"
		"{\"Subnet\":\"10.2.0.0/24\"}]}",
		"only one IPAM config");
	refused(",\"IPAM\":{\"Config\":[{\"Gateway\":\"10.1.0.1\"}]}",
		"needs a subnet");
	refused(",\"Labels\":{\"a\":1}", "label a");
	char err[256];
	json_t *spec;
	assert_int_equal(check(",\"Name\":\"host\"", &spec, err, sizeof(err)),
			 -EPERM);
	assert_string_equal(err, "rpc error: code = PermissionDenied desc = "
				 "host is a pre-defined network and cannot be "
				 "created");
}

static struct alloc_net pick(const struct alloc_net *used, size_t n,
			     const char *subnet, const char *gw)
{
	struct alloc_net a;
	char err[256];
	assert_int_equal(
		alloc_net_pick(used, n, subnet, gw, &a, err, sizeof(err)), 0);
	return a;
}

static const char *text(uint32_t addr)
{
	static char buf[4][16];
	static int i;
	i = (i + 1) % 4;
	alloc_addr_format(addr, buf[i]);
	return buf[i];
}

static void vnis_and_subnets_come_in_order_and_are_reused(void **s)
{
	struct alloc_net used[4] = {0};
	used[0] = pick(used, 0, "", "");
	assert_int_equal(used[0].vni, 4096);
	assert_string_equal(text(used[0].subnet), "10.0.0.0");
	assert_int_equal(used[0].prefix, 24);
	assert_string_equal(text(used[0].gateway), "10.0.0.1");
	used[1] = pick(used, 1, "10.0.2.0/23", "");
	assert_int_equal(used[1].vni, 4097);
	assert_int_equal(used[1].prefix, 23);
	used[2] = pick(used, 2, "", "");
	assert_int_equal(used[2].vni, 4098);
	assert_string_equal(text(used[2].subnet), "10.0.1.0");
	used[3] = pick(used, 3, "", "");
	assert_int_equal(used[3].vni, 4099);
	assert_string_equal(text(used[3].subnet), "10.0.4.0"); /* after /23 */
	/* The first network goes: its VNI and subnet are free again. */
	used[0] = used[3];
	struct alloc_net a = pick(used, 3, "", "");
	assert_int_equal(a.vni, 4096);
	assert_string_equal(text(a.subnet), "10.0.0.0");
}

static void a_given_subnet_and_gateway_are_checked(void **s)
{
	struct alloc_net used[1] = {0}, a;
	char err[256];
	used[0] = pick(used, 0, "10.5.0.0/16", "10.5.255.254");
	assert_string_equal(text(used[0].gateway), "10.5.255.254");
	assert_int_equal(alloc_net_pick(used, 1, "10.5.3.0/24", "", &a, err,
					sizeof(err)),
			 -EPERM);
	assert_string_equal(
		err, "Pool overlaps with other one on this address space");
	assert_int_equal(
		alloc_net_pick(used, 1, "10.0.0.0/8", "", &a, err, sizeof(err)),
		-EPERM);
	assert_int_equal(alloc_net_pick(used, 1, "10.6.0.1/24", "", &a, err,
					sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "invalid CIDR address: 10.6.0.1/24");
	assert_int_equal(
		alloc_net_pick(used, 1, "fd00::/64", "", &a, err, sizeof(err)),
		-EINVAL);
	assert_int_equal(alloc_net_pick(used, 1, "10.6.0.0/24", "10.7.0.1", &a,
					err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "no matching subnet for gateway 10.7.0.1");
	assert_int_equal(alloc_net_pick(used, 1, "10.6.0.0/24", "10.6.0.255",
					&a, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(alloc_net_pick(used, 1, "10.6.0.0/30", "", &a, err,
					sizeof(err)),
			 -EINVAL);
	/* The automatic choice steps around the user's /16. */
	struct alloc_net b = pick(used, 1, "", "");
	assert_string_equal(text(b.subnet), "10.0.0.0");
}

static void the_pool_runs_out_with_dockers_words(void **s)
{
	struct alloc_net used[1] = {
		{.vni = 5000, .subnet = 0x0a000000, .prefix = 8}};
	struct alloc_net a;
	char err[256];
	assert_int_equal(alloc_net_pick(used, 1, "", "", &a, err, sizeof(err)),
			 -EPERM);
	assert_non_null(strstr(err, "could not find an available"));
	/* Another space is still free when asked for. */
	a = pick(used, 1, "192.168.7.0/24", "");
	assert_int_equal(a.vni, 4096);
}

static void the_allocation_round_trips_through_the_spec(void **s)
{
	char err[256];
	json_t *spec;
	struct alloc_net a = pick(NULL, 0, "", ""), b;
	assert_int_equal(check("", &spec, err, sizeof(err)), 0);
	assert_int_equal(alloc_net_read(spec, &b), -EINVAL);
	assert_int_equal(alloc_net_apply(spec, &a), 0);
	assert_int_equal(alloc_net_read(spec, &b), 0);
	assert_int_equal(a.vni, b.vni);
	assert_int_equal(a.subnet, b.subnet);
	assert_int_equal(a.prefix, b.prefix);
	assert_int_equal(a.gateway, b.gateway);
	json_t *c = json_array_get(
		json_object_get(jsonx_obj(spec, "IPAM"), "Config"), 0);
	assert_string_equal(jsonx_str(c, "Subnet", ""), "10.0.0.0/24");
	assert_string_equal(jsonx_str(c, "Gateway", ""), "10.0.0.1");
	json_decref(spec);
}

static void addresses_are_the_lowest_free_ones_never_the_gateway(void **s)
{
	struct alloc_net n = {.vni = 4096,
			      .subnet = 0x0a000000,
			      .prefix = 24,
			      .gateway = 0x0a000001};
	uint32_t a, used[5] = {0x0a000005, 0x0a000002, 0x0a000003};
	assert_int_equal(alloc_addr_pick(&n, NULL, 0, &a), 0);
	assert_string_equal(text(a), "10.0.0.2");
	assert_int_equal(alloc_addr_pick(&n, used, 3, &a), 0);
	assert_string_equal(text(a), "10.0.0.4"); /* in any order */
	n.gateway = 0x0a0000fe;
	assert_int_equal(alloc_addr_pick(&n, used, 3, &a), 0);
	assert_string_equal(text(a), "10.0.0.1");
	/* A /29 holds .1-.6: the gateway and five tasks fill it. */
	struct alloc_net small = {
		.subnet = 0x0a000100, .prefix = 29, .gateway = 0x0a000101};
	uint32_t full[5] = {0x0a000102, 0x0a000103, 0x0a000104, 0x0a000105,
			    0x0a000106};
	assert_int_equal(alloc_addr_pick(&small, full, 4, &a), 0);
	assert_string_equal(text(a), "10.0.1.6");
	assert_int_equal(alloc_addr_pick(&small, full, 5, &a), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_docker_cli_body_passes_and_is_normalized),
		cmocka_unit_test(what_is_not_applied_is_refused_by_name),
		cmocka_unit_test(vnis_and_subnets_come_in_order_and_are_reused),
		cmocka_unit_test(a_given_subnet_and_gateway_are_checked),
		cmocka_unit_test(the_pool_runs_out_with_dockers_words),
		cmocka_unit_test(the_allocation_round_trips_through_the_spec),
		cmocka_unit_test(
			addresses_are_the_lowest_free_ones_never_the_gateway),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
