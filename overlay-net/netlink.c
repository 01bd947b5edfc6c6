/*
 * rtnetlink through libmnl, batched: the requests of one step (make a
 * container's veth pair, address and routes; put the host end on its
 * bridge) are built into one buffer and sent with one sendmsg, then every
 * acknowledgement is read. The kernel handles the messages of a buffer in
 * order, so a later request may use what an earlier one made (the
 * address of an interface the batch created, by the index the batch gave
 * it). The first error wins and names the request that failed.
 *
 * A socket belongs to the namespace it was opened in: the attach code
 * opens one inside the container's namespace to reach eth0 there
 * (attach.c) and keeps the daemon's own for the bridges.
 *
 * Acknowledgements are outside bytes: they are checked for length, type
 * and sequence number before being believed (tests/fuzz/net-link covers the
 * reader).
 */
#include "common/alloc.h"
#include "overlay-net/internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BATCH_CAP 16384
#define BATCH_MAX_MSGS 64

struct net__batch {
	char buf[BATCH_CAP];
	size_t len;
	size_t count;
	uint32_t seq0;
};

int net__batch_new(struct net__batch **out)
{
	struct net__batch *b = shoal_calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	b->seq0 = (uint32_t)time(NULL) << 8;
	*out = b;
	return 0;
}

void net__batch_free(struct net__batch *b)
{
	shoal_free(b);
}

const void *net__batch_data(const struct net__batch *b, size_t *len)
{
	*len = b->len;
	return b->buf;
}

size_t net__batch_count(const struct net__batch *b)
{
	return b->count;
}

/* A new request at the end of @b, room for its header and @extra; NULL
 * when the batch is full. */
static struct nlmsghdr *msg(struct net__batch *b, uint16_t type, uint16_t flags,
			    size_t hdr_len)
{
	struct nlmsghdr *nlh;

	if (b->count >= BATCH_MAX_MSGS || b->len + 2048 > BATCH_CAP)
		return NULL;
	nlh = mnl_nlmsg_put_header(b->buf + b->len);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	nlh->nlmsg_seq = b->seq0 + (uint32_t)b->count;
	mnl_nlmsg_put_extra_header(nlh, hdr_len);
	return nlh;
}

/* Close the request @nlh: it is now part of the batch. */
static int done(struct net__batch *b, struct nlmsghdr *nlh)
{
	b->len += NLMSG_ALIGN(nlh->nlmsg_len);
	b->count++;
	return 0;
}

struct nlmsghdr *net__nl_msg(struct net__batch *b, uint16_t type,
			     uint16_t flags, size_t hdr_len)
{
	return msg(b, type, flags, hdr_len);
}

int net__nl_done(struct net__batch *b, struct nlmsghdr *nlh)
{
	return done(b, nlh);
}

static struct ifinfomsg *ifi(struct nlmsghdr *nlh)
{
	return mnl_nlmsg_get_payload(nlh);
}

int net__nl_bridge_add(struct net__batch *b, const char *name,
		       const uint8_t mac[6])
{
	struct nlmsghdr *nlh = msg(b, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL,
				   sizeof(struct ifinfomsg));
	struct nlattr *li;

	if (!nlh)
		return -ENOBUFS;
	ifi(nlh)->ifi_family = AF_UNSPEC;
	ifi(nlh)->ifi_flags = IFF_UP;
	ifi(nlh)->ifi_change = IFF_UP;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	if (mac)
		mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac);
	li = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
	mnl_attr_nest_end(nlh, li);
	return done(b, nlh);
}

int net__nl_link_del(struct net__batch *b, const char *name)
{
	struct nlmsghdr *nlh = msg(b, RTM_DELLINK, 0, sizeof(struct ifinfomsg));

	if (!nlh)
		return -ENOBUFS;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	return done(b, nlh);
}

int net__nl_link_up(struct net__batch *b, int ifindex, const char *name)
{
	struct nlmsghdr *nlh = msg(b, RTM_NEWLINK, 0, sizeof(struct ifinfomsg));

	if (!nlh)
		return -ENOBUFS;
	ifi(nlh)->ifi_index = ifindex;
	ifi(nlh)->ifi_flags = IFF_UP;
	ifi(nlh)->ifi_change = IFF_UP;
	if (name)
		mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	return done(b, nlh);
}

int net__nl_veth_add(struct net__batch *b, const char *inner, int inner_index,
		     const uint8_t mac[6], const char *outer, int outer_nsfd,
		     int mtu)
{
	struct nlmsghdr *nlh = msg(b, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL,
				   sizeof(struct ifinfomsg));
	struct nlattr *li, *data, *peer;
	struct ifinfomsg *pi;

	if (!nlh)
		return -ENOBUFS;
	ifi(nlh)->ifi_index = inner_index;
	ifi(nlh)->ifi_flags = IFF_UP;
	ifi(nlh)->ifi_change = IFF_UP;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, inner);
	if (mac)
		mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac);
	if (mtu > 0)
		mnl_attr_put_u32(nlh, IFLA_MTU, (uint32_t)mtu);
	li = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
	pi = mnl_nlmsg_put_extra_header(nlh, sizeof(*pi));
	/* Not up here: veth opens only once both ends are linked, which is
	 * after the peer is configured (ENOTCONN otherwise). */
	pi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, outer);
	mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)outer_nsfd);
	if (mtu > 0)
		mnl_attr_put_u32(nlh, IFLA_MTU, (uint32_t)mtu);
	mnl_attr_nest_end(nlh, peer);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, li);
	return done(b, nlh);
}

int net__nl_master(struct net__batch *b, const char *name, int master)
{
	struct nlmsghdr *nlh = msg(b, RTM_NEWLINK, 0, sizeof(struct ifinfomsg));

	if (!nlh)
		return -ENOBUFS;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)master);
	return done(b, nlh);
}

int net__nl_hairpin(struct net__batch *b, int ifindex)
{
	struct nlmsghdr *nlh = msg(b, RTM_SETLINK, 0, sizeof(struct ifinfomsg));
	struct nlattr *pi;

	if (!nlh)
		return -ENOBUFS;
	ifi(nlh)->ifi_family = AF_BRIDGE;
	ifi(nlh)->ifi_index = ifindex;
	/* Nested, flagged so: without NLA_F_NESTED the bridge reads the
	 * attribute as an old-style port state. */
	pi = mnl_attr_nest_start(nlh, IFLA_PROTINFO | NLA_F_NESTED);
	mnl_attr_put_u8(nlh, IFLA_BRPORT_MODE, 1);
	mnl_attr_nest_end(nlh, pi);
	return done(b, nlh);
}

int net__nl_addr_add(struct net__batch *b, int ifindex, uint32_t ip, int len)
{
	struct nlmsghdr *nlh = msg(b, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE,
				   sizeof(struct ifaddrmsg));
	struct ifaddrmsg *ifa;
	uint32_t be = htonl(ip);
	uint32_t bc = htonl(ip | ~net__mask(len));

	if (!nlh)
		return -ENOBUFS;
	ifa = mnl_nlmsg_get_payload(nlh);
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = (uint8_t)len;
	ifa->ifa_index = (uint32_t)ifindex;
	mnl_attr_put(nlh, IFA_LOCAL, 4, &be);
	mnl_attr_put(nlh, IFA_ADDRESS, 4, &be);
	if (len < 31)
		mnl_attr_put(nlh, IFA_BROADCAST, 4, &bc);
	return done(b, nlh);
}

int net__nl_route_default(struct net__batch *b, uint32_t gw)
{
	struct nlmsghdr *nlh = msg(b, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL,
				   sizeof(struct rtmsg));
	struct rtmsg *rt;
	uint32_t be = htonl(gw);

	if (!nlh)
		return -ENOBUFS;
	rt = mnl_nlmsg_get_payload(nlh);
	rt->rtm_family = AF_INET;
	rt->rtm_table = RT_TABLE_MAIN;
	rt->rtm_protocol = RTPROT_BOOT;
	rt->rtm_scope = RT_SCOPE_UNIVERSE;
	rt->rtm_type = RTN_UNICAST;
	mnl_attr_put(nlh, RTA_GATEWAY, 4, &be);
	return done(b, nlh);
}

int net__nl_open(struct mnl_socket **out)
{
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	int one = 1;

	if (!nl)
		return -errno;
	/* Extended acks: the kernel's own sentence for a refusal. */
	mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, sizeof(one));
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int rc = -errno;
		mnl_socket_close(nl);
		return rc;
	}
	*out = nl;
	return 0;
}

int net__nl_index(const char *name)
{
	unsigned i = if_nametoindex(name);

	return i ? (int)i : -ENODEV;
}

int net__nl_acks(const void *data, size_t len, uint32_t seq0, size_t count,
		 size_t *got, int *first_err, size_t *failed)
{
	const char *p = data;
	size_t off = 0;

	/* Bounds are checked here with sizes, not with mnl_nlmsg_ok(),
	 * which compares a huge nlmsg_len as a negative int. */
	while (off < len) {
		const struct nlmsghdr *nlh = (const void *)(p + off);
		const struct nlmsgerr *e;
		uint32_t k;

		if (len - off < NLMSG_HDRLEN || nlh->nlmsg_len < NLMSG_HDRLEN ||
		    nlh->nlmsg_len > len - off)
			return -EPROTO;
		if (nlh->nlmsg_type != NLMSG_ERROR ||
		    nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(*e))
			return -EPROTO;
		e = (const void *)(p + off + NLMSG_HDRLEN);
		k = nlh->nlmsg_seq - seq0;
		if (nlh->nlmsg_seq < seq0 || k >= count || e->error > 0 ||
		    e->error < -4095)
			return -EPROTO;
		(*got)++;
		if (e->error && !*first_err) {
			*first_err = e->error;
			*failed = k;
		}
		off += NLMSG_ALIGN(nlh->nlmsg_len);
	}
	return 0;
}

int net__nl_send(struct mnl_socket *nl, struct net__batch *b, size_t *failed)
{
	char buf[8192];
	size_t got = 0, f = 0;
	int err = 0;

	if (b->count == 0)
		return 0;
	if (mnl_socket_sendto(nl, b->buf, b->len) < 0)
		return -errno;
	while (got < b->count) {
		ssize_t r = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		int rc;

		if (r < 0)
			return -errno;
		rc = net__nl_acks(buf, (size_t)r, b->seq0, b->count, &got, &err,
				  &f);
		if (rc < 0)
			return rc;
	}
	if (failed)
		*failed = f;
	return err;
}
