/*
 * One overlay network's kernel side on one host (docs/overlay.md, "Data
 * plane"): a Linux bridge and a VXLAN device (RFC 7348) enslaved to it,
 * and the static entries that make the peers reachable without flooding
 * or learning. Built on overlay-net's batched rtnetlink (netlink.c).
 *
 * Per network, named from its VNI (decimal, so names fit IFNAMSIZ):
 *   shov<VNI>   the bridge, up, MTU of the network (1450 by default)
 *   shvx<VNI>   the VXLAN device: VNI, UDP 4789, local VTEP address,
 *               learning off, proxy on (it answers ARP from its
 *               neighbour table: no broadcast crosses hosts), no L2/L3
 *               miss notifications; a port of shov<VNI>
 * Per peer (a task address on another host):
 *   FDB   MAC -> dst VTEP on shvx<VNI> (NTF_SELF, permanent)
 *   neigh IP  -> MAC on shvx<VNI> (permanent), for the proxy ARP
 *
 * Every function opens a netlink socket in the calling thread's network
 * namespace, sends one batch and reads its acknowledgements; it blocks
 * for that round trip (about a millisecond), so the agent calls it from
 * a worker thread. Returns 0 or a negative errno (the kernel's), with
 * @err naming what failed. Re-adding what exists is not an error for
 * peers (NLM_F_REPLACE); ovl_vxlan_up() fails with -EEXIST when the
 * network is already up (ovl_vxlan_down() first, or keep it).
 */
#ifndef SHOAL_OVERLAY_NET_VXLAN_H
#define SHOAL_OVERLAY_NET_VXLAN_H

#include <stddef.h>
#include <stdint.h>

#define OVL_VXLAN_PORT 4789
#define OVL_DEFAULT_MTU 1450

struct ovl_vxlan_cfg {
	uint32_t vni;	  /* 1..2^24-1 */
	uint32_t local;	  /* this host's VTEP address, host order */
	int mtu;	  /* 0: OVL_DEFAULT_MTU */
	uint32_t gateway; /* host order; 0: the bridge has no address */
	int prefix;	  /* the gateway's prefix length */
};

/** ovl_vxlan_names() - the bridge's and the VXLAN device's names. */
void ovl_vxlan_names(uint32_t vni, char bridge[16], char vxlan[16]);

/** ovl_vxlan_up() - make the bridge and VXLAN device of @cfg, up. */
int ovl_vxlan_up(const struct ovl_vxlan_cfg *cfg, char *err, size_t errlen);

/** ovl_vxlan_down() - delete both devices (their entries go with them);
 * -ENODEV when there were none. */
int ovl_vxlan_down(uint32_t vni, char *err, size_t errlen);

/**
 * ovl_vxlan_peer() - with @add, program (replace) the peer @ip (host
 * order) with MAC @mac living behind VTEP @vtep (host order) on network
 * @vni; without, remove its FDB and neighbour entries.
 */
int ovl_vxlan_peer(uint32_t vni, uint32_t ip, const uint8_t mac[6],
		   uint32_t vtep, int add, char *err, size_t errlen);

/**
 * ovl_vxlan_peer_list() - the peers programmed on network @vni: the
 * addresses of the neighbour entries of shvx<VNI> and those behind its
 * FDB entries with a Docker MAC (02:42 + the address), each once, at
 * most @cap into @ips (*@n of them). What a restarted agent compares with
 * the managers' list, so that no stale entry outlives it. -ENOBUFS when
 * more than @cap were found (the first @cap are given), -ENODEV when the
 * network is not up.
 */
int ovl_vxlan_peer_list(uint32_t vni, uint32_t *ips, size_t cap, size_t *n,
			char *err, size_t errlen);

#endif
