/*
 * The body of POST /networks/create for an overlay as the manager checks
 * it (alloc_net_check()) and the allocation made from it. Anything is
 * refused with a message, or accepted as a spec the check takes back
 * unchanged, whose allocation (against three networks already there)
 * overlaps none of them, takes a VNI of its own and reads back from the
 * spec as it was written.
 */
#include "common/jsonx.h"
#include "manager/allocator.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct alloc_net used[3] = {
	{.vni = 4096,
	 .subnet = 0x0a000000,
	 .prefix = 24,
	 .gateway = 0x0a000001},
	{.vni = 4098,
	 .subnet = 0x0a140000,
	 .prefix = 16,
	 .gateway = 0x0a140001},
	{.vni = 4099,
	 .subnet = 0xc0a80000,
	 .prefix = 20,
	 .gateway = 0xc0a80001},
};

static void allocate(json_t *spec)
{
	const json_t *c = json_array_get(
		json_object_get(jsonx_obj(spec, "IPAM"), "Config"), 0);
	struct alloc_net a, b;
	char err[256] = "";
	int rc = alloc_net_pick(used, 3, jsonx_str(c, "Subnet", ""),
				jsonx_str(c, "Gateway", ""), &a, err,
				sizeof(err));
	if (rc < 0) {
		if (!*err)
			abort(); /* refused without saying why */
		return;
	}
	for (size_t i = 0; i < 3; i++) {
		uint8_t p =
			a.prefix < used[i].prefix ? a.prefix : used[i].prefix;
		uint32_t m = p ? ~0u << (32 - p) : 0;
		if (a.vni == used[i].vni ||
		    (a.subnet & m) == (used[i].subnet & m))
			abort(); /* given twice */
	}
	if ((a.gateway & (~0u << (32 - a.prefix))) != a.subnet)
		abort(); /* a gateway outside its subnet */
	if (alloc_net_apply(spec, &a) == 0 &&
	    (alloc_net_read(spec, &b) != 0 || a.vni != b.vni ||
	     a.subnet != b.subnet || a.prefix != b.prefix ||
	     a.gateway != b.gateway))
		abort(); /* the stored allocation does not read back */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *in = NULL, *out = NULL, *again = NULL;
	char err[256] = "";
	if (jsonx_parse_object((const char *)data, size, &in, err,
			       sizeof(err)) < 0)
		return 0;
	*err = '\0';
	int rc = alloc_net_check(in, &out, err, sizeof(err));
	if (rc == 0) {
		if (alloc_net_check(out, &again, err, sizeof(err)) != 0 ||
		    !json_equal(out, again))
			abort(); /* the stored spec is not taken back as is */
		allocate(out);
	} else if (!*err && rc != -ENOMEM) {
		abort(); /* refused without saying why */
	}
	json_decref(again);
	json_decref(out);
	json_decref(in);
	return 0;
}
