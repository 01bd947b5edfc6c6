/*
 * One "network" item as the agent decodes it (wnet_item_decode). What it
 * accepts must hold the invariants the kernel side relies on: a VNI in
 * range, a gateway and every peer inside the subnet, peers behind a
 * unicast VTEP, an MTU of 68..9000, names that fit.
 */
#include "common/jsonx.h"
#include "worker/net.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct shoal_err err = {""};
	struct wnet_item it;
	json_t *o = NULL;
	char jerr[128];
	if (jsonx_parse_object((const char *)data, size, &o, jerr,
			       sizeof(jerr)) < 0)
		return 0;
	if (wnet_item_decode(o, &it, &err) == 0) {
		int len = atoi(strchr(it.subnet, '/') + 1);
		uint32_t mask = 0xffffffffu << (32 - len);
		uint32_t net =
			it.peers && it.n_peers ? it.peers[0].addr & mask : 0;
		if (it.vni < 1 || it.vni > 16777215 || it.mtu < 68 ||
		    it.mtu > 9000 || !it.id[0] || !it.name[0] || len < 8 ||
		    len > 29)
			abort();
		for (size_t i = 0; i < it.n_peers; i++)
			if ((it.peers[i].addr & mask) != net ||
			    it.peers[i].vtep == 0)
				abort();
		wnet_item_fini(&it);
	} else if (!err.msg[0]) {
		abort(); /* a refusal says why */
	}
	json_decref(o);
	return 0;
}
