/*
 * Overlay networks' devices and static peer entries (vxlan.h,
 * docs/overlay.md): rtnetlink requests for a VXLAN link (RFC 7348; the
 * IFLA_VXLAN_* attributes of linux/if_link.h), bridge FDB entries
 * (RTM_NEWNEIGH, AF_BRIDGE, NTF_SELF with NDA_DST: the remote VTEP) and
 * neighbour entries (RTM_NEWNEIGH, AF_INET) on the VXLAN device, each
 * step one batch through netlink.c.
 *
 * Learning is off and proxy on: the kernel never learns a MAC from a
 * packet that arrived over UDP (a peer cannot claim another's address by
 * sending from it), and ARP for a peer is answered on this host from the
 * neighbour table the agent programmed from the managers' view, so the
 * only traffic crossing hosts is unicast to a known VTEP.
 */
#include "overlay-net/vxlan.h"
#include "common/alloc.h"
#include "overlay-net/internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

void ovl_vxlan_names(uint32_t vni, char bridge[16], char vxlan[16])
{
	snprintf(bridge, 16, "shov%u", vni & 0xffffff);
	snprintf(vxlan, 16, "shvx%u", vni & 0xffffff);
}

static int send_batch(struct net__batch *b, const char *what, char *err,
		      size_t errlen)
{
	struct mnl_socket *nl;
	size_t failed = 0;
	int rc = net__nl_open(&nl);
	if (rc == 0) {
		rc = net__nl_send(nl, b, &failed);
		mnl_socket_close(nl);
	}
	if (rc < 0)
		snprintf(err, errlen, "%s (request %zu): %s", what, failed + 1,
			 strerror(-rc));
	return rc;
}

static int vxlan_add(struct net__batch *b, const char *name,
		     const struct ovl_vxlan_cfg *c, int mtu)
{
	struct nlmsghdr *nlh =
		net__nl_msg(b, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL,
			    sizeof(struct ifinfomsg));
	if (!nlh)
		return -ENOBUFS;
	struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
	ifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	mnl_attr_put_u32(nlh, IFLA_MTU, (uint32_t)mtu);
	struct nlattr *li = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "vxlan");
	struct nlattr *data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	mnl_attr_put_u32(nlh, IFLA_VXLAN_ID, c->vni);
	mnl_attr_put_u32(nlh, IFLA_VXLAN_LOCAL, htonl(c->local));
	mnl_attr_put_u16(nlh, IFLA_VXLAN_PORT, htons(OVL_VXLAN_PORT));
	mnl_attr_put_u8(nlh, IFLA_VXLAN_LEARNING, 0);
	mnl_attr_put_u8(nlh, IFLA_VXLAN_PROXY, 1);
	mnl_attr_put_u8(nlh, IFLA_VXLAN_L2MISS, 0);
	mnl_attr_put_u8(nlh, IFLA_VXLAN_L3MISS, 0);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, li);
	return net__nl_done(b, nlh);
}

/* Set @name's MTU (the bridge's, made by net__nl_bridge_add()). */
static int mtu_set(struct net__batch *b, const char *name, int mtu)
{
	struct nlmsghdr *nlh =
		net__nl_msg(b, RTM_NEWLINK, 0, sizeof(struct ifinfomsg));
	if (!nlh)
		return -ENOBUFS;
	((struct ifinfomsg *)mnl_nlmsg_get_payload(nlh))->ifi_family =
		AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	mnl_attr_put_u32(nlh, IFLA_MTU, (uint32_t)mtu);
	return net__nl_done(b, nlh);
}

int ovl_vxlan_up(const struct ovl_vxlan_cfg *c, char *err, size_t errlen)
{
	char br[16], vx[16];
	struct net__batch *b;
	int mtu = c->mtu ? c->mtu : OVL_DEFAULT_MTU, rc;
	if (c->vni == 0 || c->vni > 0xffffff || mtu < 68 || mtu > 9000 ||
	    (c->gateway && (c->prefix < 1 || c->prefix > 32))) {
		snprintf(err, errlen, "bad overlay settings (vni %u, mtu %d)",
			 c->vni, mtu);
		return -EINVAL;
	}
	ovl_vxlan_names(c->vni, br, vx);
	if ((rc = net__batch_new(&b)) < 0)
		return rc;
	rc = net__nl_bridge_add(b, br, NULL);
	if (rc == 0)
		rc = mtu_set(b, br, mtu);
	if (rc == 0)
		rc = vxlan_add(b, vx, c, mtu);
	if (rc == 0)
		rc = send_batch(b, "overlay bridge and vxlan device", err,
				errlen);
	net__batch_free(b);
	if (rc < 0)
		return rc;
	/* Second batch: the indexes exist now. */
	int bi = net__nl_index(br), vi = net__nl_index(vx);
	if (bi < 0 || vi < 0) {
		snprintf(err, errlen, "%s or %s vanished", br, vx);
		return -ENODEV;
	}
	if ((rc = net__batch_new(&b)) < 0)
		return rc;
	rc = net__nl_master(b, vx, bi);
	if (rc == 0)
		rc = net__nl_link_up(b, vi, vx);
	if (rc == 0 && c->gateway)
		rc = net__nl_addr_add(b, bi, c->gateway, c->prefix);
	if (rc == 0)
		rc = send_batch(b, "overlay vxlan port", err, errlen);
	net__batch_free(b);
	return rc;
}

int ovl_vxlan_down(uint32_t vni, char *err, size_t errlen)
{
	char br[16], vx[16];
	struct net__batch *b;
	ovl_vxlan_names(vni, br, vx);
	int rc = net__batch_new(&b), r2;
	if (rc < 0)
		return rc;
	rc = net__nl_link_del(b, vx);
	if (rc == 0)
		rc = send_batch(b, "delete overlay vxlan device", err, errlen);
	net__batch_free(b);
	if ((r2 = net__batch_new(&b)) < 0)
		return r2;
	r2 = net__nl_link_del(b, br);
	if (r2 == 0)
		r2 = send_batch(b, "delete overlay bridge", err, errlen);
	net__batch_free(b);
	return rc < 0 && rc != -ENODEV ? rc : r2;
}

static int neigh(struct net__batch *b, int add, uint8_t family, int ifindex,
		 uint8_t flags, const uint8_t mac[6], uint32_t addr,
		 uint16_t addr_attr)
{
	struct nlmsghdr *nlh = net__nl_msg(
		b, add ? RTM_NEWNEIGH : RTM_DELNEIGH,
		add ? NLM_F_CREATE | NLM_F_REPLACE : 0, sizeof(struct ndmsg));
	if (!nlh)
		return -ENOBUFS;
	struct ndmsg *nd = mnl_nlmsg_get_payload(nlh);
	nd->ndm_family = family;
	nd->ndm_ifindex = ifindex;
	nd->ndm_state = NUD_PERMANENT;
	nd->ndm_flags = flags;
	uint32_t be = htonl(addr);
	mnl_attr_put(nlh, NDA_LLADDR, 6, mac);
	mnl_attr_put(nlh, addr_attr, 4, &be);
	return net__nl_done(b, nlh);
}

int ovl_vxlan_peer(uint32_t vni, uint32_t ip, const uint8_t mac[6],
		   uint32_t vtep, int add, char *err, size_t errlen)
{
	char br[16], vx[16];
	struct net__batch *b;
	ovl_vxlan_names(vni, br, vx);
	int vi = net__nl_index(vx), rc;
	if (vi < 0) {
		snprintf(err, errlen, "overlay vni %u is not up here (%s)", vni,
			 vx);
		return vi;
	}
	if ((rc = net__batch_new(&b)) < 0)
		return rc;
	/* FDB: the MAC behind its VTEP; the neighbour: the IP's MAC. */
	rc = neigh(b, add, AF_BRIDGE, vi, NTF_SELF, mac, vtep, NDA_DST);
	if (rc == 0)
		rc = neigh(b, add, AF_INET, vi, 0, mac, ip, NDA_DST);
	if (rc == 0)
		rc = send_batch(
			b, add ? "add overlay peer" : "remove overlay peer",
			err, errlen);
	net__batch_free(b);
	return rc;
}

struct dump {
	int ifindex;
	uint32_t *ips;
	size_t cap, n;
	int rc;
};

static void dump_add(struct dump *d, uint32_t ip)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->ips[i] == ip)
			return;
	if (d->n == d->cap) {
		d->rc = -ENOBUFS;
		return;
	}
	d->ips[d->n++] = ip;
}

/* One entry of a neighbour or FDB dump (kernel bytes: every attribute
 * checked for its length before use). */
static int dump_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct dump *d = arg;
	const struct ndmsg *nd = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;
	if (nlh->nlmsg_type != RTM_NEWNEIGH ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*nd) ||
	    nd->ndm_ifindex != d->ifindex ||
	    (nd->ndm_family == AF_BRIDGE && !(nd->ndm_flags & NTF_SELF)))
		return MNL_CB_OK; /* the bridge's learned entries age out */
	mnl_attr_for_each(a, nlh, sizeof(*nd))
	{
		const uint8_t *p = mnl_attr_get_payload(a);
		uint16_t len = mnl_attr_get_payload_len(a);
		uint32_t be;
		if (nd->ndm_family == AF_INET &&
		    mnl_attr_get_type(a) == NDA_DST && len == 4) {
			memcpy(&be, p, 4);
			dump_add(d, ntohl(be));
		} else if (nd->ndm_family == AF_BRIDGE &&
			   mnl_attr_get_type(a) == NDA_LLADDR && len == 6 &&
			   p[0] == 0x02 && p[1] == 0x42) {
			dump_add(d, (uint32_t)p[2] << 24 |
					    (uint32_t)p[3] << 16 |
					    (uint32_t)p[4] << 8 | p[5]);
		}
	}
	return MNL_CB_OK;
}

static int dump_family(struct mnl_socket *nl, uint8_t family, struct dump *d)
{
	char buf[8192];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	unsigned int seq = (unsigned int)family + 1000u;
	nlh->nlmsg_type = RTM_GETNEIGH;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	struct ndmsg *nd = mnl_nlmsg_put_extra_header(nlh, sizeof(*nd));
	nd->ndm_family = family;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t got = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (got < 0)
			return -errno;
		int rc = mnl_cb_run(buf, (size_t)got, seq,
				    mnl_socket_get_portid(nl), dump_cb, d);
		if (rc < 0)
			return -errno;
		if (rc == MNL_CB_STOP)
			return 0;
	}
}

int ovl_vxlan_peer_list(uint32_t vni, uint32_t *ips, size_t cap, size_t *n,
			char *err, size_t errlen)
{
	char br[16], vx[16];
	struct mnl_socket *nl;
	struct dump d = {.ips = ips, .cap = cap};
	ovl_vxlan_names(vni, br, vx);
	*n = 0;
	d.ifindex = net__nl_index(vx);
	if (d.ifindex < 0) {
		snprintf(err, errlen, "overlay vni %u is not up here (%s)", vni,
			 vx);
		return d.ifindex;
	}
	int rc = net__nl_open(&nl);
	if (rc == 0) {
		rc = dump_family(nl, AF_INET, &d);
		if (rc == 0)
			rc = dump_family(nl, AF_BRIDGE, &d);
		mnl_socket_close(nl);
	}
	if (rc == 0)
		rc = d.rc;
	if (rc < 0)
		snprintf(err, errlen, "list the peers of %s: %s", vx,
			 strerror(-rc));
	*n = d.n;
	return rc;
}
