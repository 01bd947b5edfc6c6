/*
 * One "network" item as the agent decodes it (wnet_item_decode). What it
 * accepts must hold the invariants the kernel side relies on: a VNI in
 * range, a gateway and every peer inside the subnet, peers behind a
 * unicast VTEP, an MTU of 68..9000, names that fit. The same object is
 * then read as an ingress item's Addr, Nodes and Ports against that
 * network (wnet_ingress_decode): tcp or udp, ports 1..65535, every
 * address inside the subnet. Attached containers' names (Containers)
 * are inside the subnet and named. The bytes are also given as an item
 * of a set to the node's attachments (worker/attach.c, watt_assign(): an
 * item of Kind "attachment" with its network and address).
 */
#include "common/jsonx.h"
#include "worker/attach.h"
#include "worker/net.h"

#include <stdint.h>
#include <stdio.h>
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

		struct wnet_ingress in;
		uint32_t sub = 0;
		char a[20];
		snprintf(a, sizeof(a), "%.*s",
			 (int)(strchr(it.subnet, '/') - it.subnet), it.subnet);
		for (char *t = strtok(a, "."); t; t = strtok(NULL, "."))
			sub = sub << 8 | (uint32_t)atoi(t);
		for (size_t i = 0; i < it.n_ctr_names; i++)
			if (!it.ctr_names[i].name[0] ||
			    (it.ctr_names[i].addr & mask) != sub)
				abort();
		err.msg[0] = '\0';
		if (wnet_ingress_decode(o, &it, &in, &err) == 0) {
			if (in.self && (in.self & mask) != sub)
				abort();
			for (size_t i = 0; i < in.n_nodes; i++)
				if ((in.nodes[i] & mask) != sub)
					abort();
			for (size_t i = 0; i < in.n_ports; i++) {
				if (!in.ports[i].port || !in.ports[i].target)
					abort();
				for (size_t j = 0; j < in.ports[i].n; j++)
					if ((in.ports[i].backends[j] & mask) !=
					    sub)
						abort();
			}
			wnet_ingress_fini(&in);
		} else if (!err.msg[0]) {
			abort();
		}
		wnet_item_fini(&it);
	} else if (!err.msg[0]) {
		abort(); /* a refusal says why */
	}
	json_decref(o);
	/* As an item of a set: no network, no agent, nothing given back. */
	static struct watt *w;
	struct watt_config wc = {0};
	if (!w && watt_open(&wc, &w) < 0)
		abort();
	struct agent_item item = {data, size};
	watt_assign(w, &item, 1);
	return 0;
}
