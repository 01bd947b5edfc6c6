/*
 * The allocator's pure core for overlay networks (allocator.h,
 * docs/overlay.md): what `docker network create -d overlay` may ask, and
 * the VNI, subnet and gateway a new overlay gets. Deterministic: the
 * same networks in give the same allocation out, on any manager.
 *
 * Fields of Docker's NetworkCreateRequest (Engine API 1.44):
 *   Name                 required, Docker's [a-zA-Z0-9][a-zA-Z0-9_.-]*;
 *                        bridge, host and none refused (swarmkit's 403)
 *   Driver               "overlay"
 *   Scope                "" or "swarm"
 *   Internal, Labels     kept and shown by inspect
 *   Attachable           kept: containers of any node may join it
 *                        (docker run --network, network connect)
 *   Options              com.docker.network.driver.mtu (68..9000);
 *                        "encrypted" refused (no IPsec ESP, no WireGuard
 *                        in this kernel); any other refused by name
 *   IPAM                 Driver "default"; at most one Config with
 *                        Subnet and Gateway; IPRange, AuxiliaryAddresses,
 *                        Options refused
 *   EnableIPv6, Ingress, ConfigOnly, ConfigFrom   refused when set
 *   CheckDuplicate       accepted (names are always unique here)
 *   EnableIPv4           true or absent (IPv4 is all there is)
 */
#include "common/alloc.h"
#include "common/jsonx.h"
#include "manager/allocator.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MTU_OPT "com.docker.network.driver.mtu"
#define PREFIX "rpc error: code = InvalidArgument desc = "

/* --- addresses ------------------------------------------------------------ */

static uint32_t mask_of(uint8_t prefix)
{
	return prefix ? ~0u << (32 - prefix) : 0;
}

static int addr_parse(const char *s, uint32_t *addr)
{
	struct in_addr a;
	if (inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*addr = ntohl(a.s_addr);
	return 0;
}

int alloc_cidr_parse(const char *s, uint32_t *addr, uint8_t *prefix)
{
	char buf[32], *slash, *end;
	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%s", s);
	slash = strchr(buf, '/');
	if (!slash || !slash[1])
		return -EINVAL;
	*slash = '\0';
	long p = strtol(slash + 1, &end, 10);
	if (*end || p < 0 || p > 32 || slash[1] == '+' || slash[1] == '-')
		return -EINVAL;
	if (addr_parse(buf, addr) < 0 || (*addr & ~mask_of((uint8_t)p)))
		return -EINVAL;
	*prefix = (uint8_t)p;
	return 0;
}

int alloc_ip_parse(const char *s, uint32_t *addr)
{
	char buf[32];
	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%s", s);
	char *slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	return addr_parse(buf, addr);
}

void alloc_addr_format(uint32_t addr, char out[16])
{
	snprintf(out, 16, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 255,
		 (addr >> 8) & 255, addr & 255);
}

static bool overlaps(uint32_t a, uint8_t pa, uint32_t b, uint8_t pb)
{
	uint8_t p = pa < pb ? pa : pb;
	return (a & mask_of(p)) == (b & mask_of(p));
}

/* --- the request ---------------------------------------------------------- */

static bool name_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 128)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || !strchr("_.-", c)))
			return false;
	}
	return true;
}

/* Every key of @o is one of @known (NULL-terminated); else its name. */
static const char *unknown_key(const json_t *o, const char *const *known)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)o, k, v)
	{
		size_t i = 0;
		while (known[i] && strcmp(known[i], k))
			i++;
		if (!known[i])
			return k;
	}
	return NULL;
}

static bool is_set(const json_t *v)
{
	return v && !json_is_null(v) && !json_is_false(v) &&
	       !(json_is_string(v) && !*json_string_value(v)) &&
	       !(json_is_object(v) && !json_object_size(v)) &&
	       !(json_is_array(v) && !json_array_size(v));
}

static int check_type(const json_t *o, const char *key, json_type t, char *err,
		      size_t errlen)
{
	const json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v) || json_typeof(v) == t ||
	    (t == JSON_TRUE && json_is_boolean(v)))
		return 0;
	snprintf(err, errlen, PREFIX "%s has the wrong type", key);
	return -EINVAL;
}

static int check_options(const json_t *opts, char *err, size_t errlen)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)opts, k, v)
	{
		if (!strcmp(k, "encrypted")) {
			snprintf(err, errlen,
				 "encrypted overlay networks are not supported "
				 "here: this kernel has neither IPsec ESP "
				 "(xfrm with esp4) nor WireGuard; create the "
				 "network without -o encrypted "
				 "(docs/overlay.md has the design)");
			return -EINVAL;
		}
		if (strcmp(k, MTU_OPT)) {
			snprintf(err, errlen,
				 PREFIX "network option %.64s is not supported "
					"(only " MTU_OPT ")",
				 k);
			return -EINVAL;
		}
		const char *s = json_string_value(v);
		char *end;
		long mtu = s ? strtol(s, &end, 10) : 0;
		if (!s || !*s || *end || mtu < ALLOC_MTU_MIN ||
		    mtu > ALLOC_MTU_MAX) {
			snprintf(err, errlen,
				 PREFIX MTU_OPT " must be a number from %d to "
						"%d",
				 ALLOC_MTU_MIN, ALLOC_MTU_MAX);
			return -EINVAL;
		}
	}
	return 0;
}

static int check_labels(const json_t *labels, char *err, size_t errlen)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)labels, k, v)
	{
		if (!json_is_string(v)) {
			snprintf(err, errlen,
				 PREFIX "label %.64s is not a string", k);
			return -EINVAL;
		}
	}
	return 0;
}

static int check_ipam(const json_t *ipam, char *err, size_t errlen)
{
	static const char *const known[] = {"Driver", "Config", "Options",
					    NULL};
	static const char *const cfg_known[] = {"Subnet", "Gateway", "IPRange",
						"AuxiliaryAddresses", NULL};
	const char *k;
	if (!ipam || json_is_null(ipam))
		return 0;
	if (!json_is_object(ipam)) {
		snprintf(err, errlen, PREFIX "IPAM must be an object");
		return -EINVAL;
	}
	if ((k = unknown_key(ipam, known))) {
		snprintf(err, errlen, PREFIX "unknown field IPAM.%.64s", k);
		return -EINVAL;
	}
	const char *drv = jsonx_str(ipam, "Driver", "");
	if (*drv && strcmp(drv, "default")) {
		snprintf(err, errlen,
			 PREFIX "IPAM driver %.64s is not supported (only "
				"default)",
			 drv);
		return -EINVAL;
	}
	if (is_set(json_object_get(ipam, "Options"))) {
		snprintf(err, errlen, PREFIX "IPAM.Options are not supported");
		return -EINVAL;
	}
	const json_t *cfg = json_object_get(ipam, "Config");
	if (cfg && !json_is_null(cfg) && !json_is_array(cfg)) {
		snprintf(err, errlen, PREFIX "IPAM.Config must be an array");
		return -EINVAL;
	}
	if (json_array_size(cfg) > 1) {
		snprintf(err, errlen,
			 PREFIX "only one IPAM config (one IPv4 subnet) per "
				"network is supported");
		return -EINVAL;
	}
	const json_t *c = json_array_get(cfg, 0);
	if (!c)
		return 0;
	if (!json_is_object(c) || (k = unknown_key(c, cfg_known))) {
		snprintf(err, errlen, PREFIX "unknown field IPAM.Config.%.64s",
			 json_is_object(c) ? k : "(not an object)");
		return -EINVAL;
	}
	if (is_set(json_object_get(c, "IPRange")) ||
	    is_set(json_object_get(c, "AuxiliaryAddresses"))) {
		snprintf(err, errlen,
			 PREFIX "IPAM IPRange and AuxiliaryAddresses are not "
				"supported on overlay networks");
		return -EINVAL;
	}
	if (check_type(c, "Subnet", JSON_STRING, err, errlen) < 0 ||
	    check_type(c, "Gateway", JSON_STRING, err, errlen) < 0)
		return -EINVAL;
	if (*jsonx_str(c, "Gateway", "") && !*jsonx_str(c, "Subnet", "")) {
		snprintf(err, errlen,
			 PREFIX "a gateway needs a subnet (--subnet)");
		return -EINVAL;
	}
	return 0;
}

static int check_fields(const json_t *req, char *err, size_t errlen)
{
	static const char *const known[] = {
		"Name",		  "Driver",	"Scope",      "Internal",
		"Attachable",	  "Labels",	"Options",    "IPAM",
		"EnableIPv6",	  "Ingress",	"ConfigOnly", "ConfigFrom",
		"CheckDuplicate", "EnableIPv4", NULL};
	static const char *const later[] = {"EnableIPv6", "Ingress",
					    "ConfigOnly", "ConfigFrom", NULL};
	const char *k = unknown_key(req, known);
	if (k) {
		snprintf(err, errlen, PREFIX "unknown field %.64s", k);
		return -EINVAL;
	}
	for (size_t i = 0; later[i]; i++)
		if (is_set(json_object_get(req, later[i]))) {
			snprintf(err, errlen,
				 PREFIX "%s is not supported on overlay "
					"networks",
				 later[i]);
			return -EINVAL;
		}
	if (json_is_false(json_object_get(req, "EnableIPv4"))) {
		snprintf(err, errlen,
			 PREFIX "an overlay network without IPv4 is not "
				"supported");
		return -EINVAL;
	}
	if (check_type(req, "Name", JSON_STRING, err, errlen) < 0 ||
	    check_type(req, "Scope", JSON_STRING, err, errlen) < 0 ||
	    check_type(req, "Internal", JSON_TRUE, err, errlen) < 0 ||
	    check_type(req, "Attachable", JSON_TRUE, err, errlen) < 0 ||
	    check_type(req, "CheckDuplicate", JSON_TRUE, err, errlen) < 0 ||
	    check_type(req, "Labels", JSON_OBJECT, err, errlen) < 0 ||
	    check_type(req, "Options", JSON_OBJECT, err, errlen) < 0)
		return -EINVAL;
	const char *scope = jsonx_str(req, "Scope", "");
	if (*scope && strcmp(scope, "swarm")) {
		snprintf(err, errlen,
			 PREFIX "an overlay network has scope swarm, not "
				"%.32s",
			 scope);
		return -EINVAL;
	}
	if (strcmp(jsonx_str(req, "Driver", ""), "overlay")) {
		snprintf(err, errlen, PREFIX "driver must be overlay");
		return -EINVAL;
	}
	static const char *const predefined[] = {"bridge", "host", "none",
						 NULL};
	for (size_t i = 0; predefined[i]; i++)
		if (!strcmp(jsonx_str(req, "Name", ""), predefined[i])) {
			snprintf(err, errlen,
				 "rpc error: code = PermissionDenied desc = "
				 "%s is a pre-defined network and cannot be "
				 "created",
				 predefined[i]);
			return -EPERM;
		}
	if (!strcmp(jsonx_str(req, "Name", ""), "ingress")) {
		snprintf(err, errlen,
			 "rpc error: code = PermissionDenied desc = ingress is "
			 "the swarm's routing mesh network, made when a "
			 "service first publishes a port: choose another "
			 "name");
		return -EPERM;
	}
	if (!name_valid(jsonx_str(req, "Name", ""))) {
		snprintf(err, errlen,
			 PREFIX "invalid network name \"%.64s\": only "
				"[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
			 jsonx_str(req, "Name", ""));
		return -EINVAL;
	}
	return 0;
}

int alloc_net_check(const json_t *req, json_t **out, char *err, size_t errlen)
{
	*out = NULL;
	int rc = check_fields(req, err, errlen);
	if (rc < 0)
		return rc;
	if (check_labels(jsonx_obj(req, "Labels"), err, errlen) < 0 ||
	    check_options(jsonx_obj(req, "Options"), err, errlen) < 0 ||
	    check_ipam(json_object_get(req, "IPAM"), err, errlen) < 0)
		return -EINVAL;
	const json_t *c = json_array_get(
		json_object_get(jsonx_obj(req, "IPAM"), "Config"), 0);
	json_t *labels = jsonx_obj(req, "Labels");
	json_t *opts = jsonx_obj(req, "Options");
	json_t *cfg = json_object();
	if (cfg && *jsonx_str(c, "Subnet", ""))
		json_object_set_new(cfg, "Subnet",
				    json_string(jsonx_str(c, "Subnet", "")));
	if (cfg && *jsonx_str(c, "Gateway", ""))
		json_object_set_new(cfg, "Gateway",
				    json_string(jsonx_str(c, "Gateway", "")));
	json_t *spec = json_pack(
		"{s:s, s:s, s:s, s:b, s:b, s:o, s:o, s:{s:s, s:[o]}}", "Name",
		jsonx_str(req, "Name", ""), "Driver", "overlay", "Scope",
		"swarm", "Internal", jsonx_bool(req, "Internal", false),
		"Attachable", jsonx_bool(req, "Attachable", false), "Labels",
		labels ? json_deep_copy(labels) : json_object(), "Options",
		opts ? json_deep_copy(opts) : json_object(), "IPAM", "Driver",
		"default", "Config", cfg);
	if (!spec)
		return -ENOMEM;
	*out = spec;
	return 0;
}

/* --- the choice ----------------------------------------------------------- */

static bool subnet_free(const struct alloc_net *used, size_t n, uint32_t a,
			uint8_t p)
{
	for (size_t i = 0; i < n; i++)
		if (overlaps(used[i].subnet, used[i].prefix, a, p))
			return false;
	return true;
}

static int pick_vni(const struct alloc_net *used, size_t n, uint32_t *vni)
{
	/* The lowest VNI above every smaller one in use: O(n^2) over at
	 * most ALLOC_MAX_NETWORKS networks, run once per create. */
	for (uint32_t v = ALLOC_VNI_FIRST; v <= ALLOC_VNI_FIRST + n; v++) {
		size_t i = 0;
		while (i < n && used[i].vni != v)
			i++;
		if (i == n) {
			*vni = v;
			return 0;
		}
	}
	return -EPERM;
}

static int pick_subnet(const struct alloc_net *used, size_t n,
		       const char *subnet, struct alloc_net *out, char *err,
		       size_t errlen)
{
	if (*subnet) {
		if (alloc_cidr_parse(subnet, &out->subnet, &out->prefix) < 0) {
			snprintf(err, errlen, "invalid CIDR address: %.64s",
				 subnet);
			return -EINVAL;
		}
		if (out->prefix < 8 || out->prefix > 29) {
			snprintf(err, errlen,
				 "subnet %.64s: the prefix must be from /8 to "
				 "/29",
				 subnet);
			return -EINVAL;
		}
		if (!subnet_free(used, n, out->subnet, out->prefix)) {
			snprintf(err, errlen,
				 "Pool overlaps with other one on this address "
				 "space");
			return -EPERM;
		}
		return 0;
	}
	uint32_t count = 1u << (ALLOC_POOL_SIZE - ALLOC_POOL_PREFIX);
	for (uint32_t i = 0; i < count; i++) {
		uint32_t a = ALLOC_POOL_BASE + (i << (32 - ALLOC_POOL_SIZE));
		if (subnet_free(used, n, a, ALLOC_POOL_SIZE)) {
			out->subnet = a;
			out->prefix = ALLOC_POOL_SIZE;
			return 0;
		}
	}
	snprintf(err, errlen,
		 "could not find an available, non-overlapping IPv4 address "
		 "pool among the defaults to assign to the network");
	return -EPERM;
}

int alloc_net_pick(const struct alloc_net *used, size_t n, const char *subnet,
		   const char *gateway, struct alloc_net *out, char *err,
		   size_t errlen)
{
	struct alloc_net a = {0};
	int rc;
	if (n >= ALLOC_MAX_NETWORKS || pick_vni(used, n, &a.vni) < 0) {
		snprintf(err, errlen,
			 "no VXLAN id left for a new overlay network (at most "
			 "%d)",
			 ALLOC_MAX_NETWORKS);
		return -EPERM;
	}
	if ((rc = pick_subnet(used, n, subnet, &a, err, errlen)) < 0)
		return rc;
	uint32_t bcast = a.subnet | ~mask_of(a.prefix);
	if (*gateway) {
		if (addr_parse(gateway, &a.gateway) < 0) {
			snprintf(err, errlen, "invalid gateway address: %.64s",
				 gateway);
			return -EINVAL;
		}
		if ((a.gateway & mask_of(a.prefix)) != a.subnet ||
		    a.gateway == a.subnet || a.gateway == bcast) {
			snprintf(err, errlen,
				 "no matching subnet for gateway %.64s",
				 gateway);
			return -EINVAL;
		}
	} else {
		a.gateway = a.subnet + 1;
	}
	*out = a;
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

int alloc_addr_pick(const struct alloc_net *net, const uint32_t *used, size_t n,
		    uint32_t *out)
{
	uint32_t mask = mask_of(net->prefix), bcast = net->subnet | ~mask;
	uint32_t *sorted = NULL;
	if (n) {
		sorted = shoal_malloc(n * sizeof(*sorted));
		if (!sorted)
			return -ENOMEM;
		memcpy(sorted, used, n * sizeof(*sorted));
		qsort(sorted, n, sizeof(*sorted), cmp_u32);
	}
	/* One pass over the sorted used addresses: O(n log n). */
	size_t i = 0;
	for (uint32_t a = net->subnet + 1; a < bcast; a++) {
		while (i < n && sorted[i] < a)
			i++;
		if (a != net->gateway && (i == n || sorted[i] != a)) {
			shoal_free(sorted);
			*out = a;
			return 0;
		}
	}
	shoal_free(sorted);
	return -ENOSPC;
}

int alloc_net_apply(json_t *spec, const struct alloc_net *a)
{
	char net[16], gw[16], cidr[24];
	alloc_addr_format(a->subnet, net);
	alloc_addr_format(a->gateway, gw);
	snprintf(cidr, sizeof(cidr), "%s/%u", net, a->prefix);
	json_t *cfg = json_pack("[{s:s, s:s}]", "Subnet", cidr, "Gateway", gw);
	json_t *ipam = jsonx_obj(spec, "IPAM");
	if (!cfg || !ipam) {
		json_decref(cfg);
		return -ENOMEM;
	}
	if (json_object_set_new(ipam, "Config", cfg) < 0 ||
	    json_object_set_new(spec, "VNI", json_integer(a->vni)) < 0)
		return -ENOMEM;
	return 0;
}

int alloc_net_read(const json_t *spec, struct alloc_net *a)
{
	const json_t *c = json_array_get(
		json_object_get(jsonx_obj(spec, "IPAM"), "Config"), 0);
	int64_t vni = jsonx_int(spec, "VNI", 0);
	bool ingress = json_is_true(json_object_get(spec, "Ingress")) &&
		       vni == ALLOC_INGRESS_VNI;
	if ((!ingress && vni < ALLOC_VNI_FIRST) || vni > ALLOC_VNI_LAST ||
	    alloc_cidr_parse(jsonx_str(c, "Subnet", ""), &a->subnet,
			     &a->prefix) < 0 ||
	    addr_parse(jsonx_str(c, "Gateway", ""), &a->gateway) < 0)
		return -EINVAL;
	a->vni = (uint32_t)vni;
	return 0;
}
