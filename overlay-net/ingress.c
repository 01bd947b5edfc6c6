/*
 * The routing mesh on a node (net.h, net_ingress_set(); docs/overlay.md,
 * step 5): a port published in ingress mode answers on every node and
 * reaches a Ready task on the ingress network, which sees the client's
 * own address (no SNAT).
 *
 * In the node's namespace:
 *   - its own address on the ingress network (the managers' `Addr`) on
 *     the bridge shov4095 beside the gateway, and the bridge's MAC set
 *     to Docker's for it (02:42 + the address), so a frame sent to that
 *     address from another node is the bridge's own;
 *   - table inet shoal-ingress: per published port and protocol,
 *     `fib daddr type local tcp dport P dnat ip to numgen random mod N
 *     map { 0 : A . T, ... }` on the prerouting nat hook; the forward
 *     chain of `table inet shoal` already accepts `ct status dnat`.
 *     Replaced whole in one transaction; deleted when no port is left.
 * In each task's namespace on the ingress network (loaded with its VIP
 * table, vip.c):
 *   - table inet shoal-imark: a new connection arriving on the ingress
 *     interface gets `ct mark` K = 1 + the index of the node whose
 *     bridge sent it (its source MAC); replies take `meta mark set ct
 *     mark` on the output route hook (re-routed);
 *   - per node K: `ip rule fwmark K lookup 1000+K` and in that table a
 *     default route via node K's address on the ingress interface: the
 *     replies go back through the node that holds the connection's NAT
 *     state. The task's main table (its default route) is untouched.
 * The other nodes' addresses are peers of the ingress network (FDB and
 * neighbour entries: the agent adds them to the item's Peers).
 */
#define LOG_MODULE "net"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/log.h"
#include "overlay-net/internal.h"
#include "overlay-net/vxlan.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#define MARK_TABLE0 1000
#define RULE_PREF0 1000

static void mac_str(uint32_t ip, char out[18])
{
	snprintf(out, 18, "02:42:%02x:%02x:%02x:%02x", ip >> 24,
		 (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
}

void net__ingress_ns_text(const struct net__net *w, const char *ifname,
			  struct buf *b)
{
	char mac[18];

	buf_printf(b, "table inet shoal-imark {}\n"
		      "delete table inet shoal-imark\n");
	if (!w->n_inodes)
		return;
	buf_printf(b,
		   "table inet shoal-imark {\n"
		   "\tchain prerouting {\n"
		   "\t\ttype filter hook prerouting priority mangle; "
		   "policy accept;\n"
		   "\t\tiifname \"%s\" ct state new ct mark set ether saddr "
		   "map { ",
		   ifname);
	for (size_t i = 0; i < w->n_inodes; i++) {
		mac_str(w->inodes[i], mac);
		buf_printf(b, "%s%s : %zu", i ? ", " : "", mac, i + 1);
	}
	buf_printf(b, " }\n"
		      "\t}\n"
		      "\tchain output {\n"
		      "\t\ttype route hook output priority mangle; "
		      "policy accept;\n"
		      "\t\tct mark != 0 meta mark set ct mark\n"
		      "\t}\n"
		      "}\n");
}

static int rule_add(struct net__batch *b, uint32_t mark)
{
	struct nlmsghdr *nlh =
		net__nl_msg(b, RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL,
			    sizeof(struct fib_rule_hdr));
	struct fib_rule_hdr *h;

	if (!nlh)
		return -ENOBUFS;
	h = mnl_nlmsg_get_payload(nlh);
	h->family = AF_INET;
	h->action = FR_ACT_TO_TBL;
	h->table = RT_TABLE_UNSPEC;
	mnl_attr_put_u32(nlh, FRA_PRIORITY, RULE_PREF0 + mark);
	mnl_attr_put_u32(nlh, FRA_FWMARK, mark);
	mnl_attr_put_u32(nlh, FRA_FWMASK, 0xffffffffu);
	mnl_attr_put_u32(nlh, FRA_TABLE, MARK_TABLE0 + mark);
	return net__nl_done(b, nlh);
}

static int route_add(struct net__batch *b, uint32_t mark, uint32_t via, int oif)
{
	struct nlmsghdr *nlh =
		net__nl_msg(b, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE,
			    sizeof(struct rtmsg));
	struct rtmsg *rt;
	uint32_t be = htonl(via);

	if (!nlh)
		return -ENOBUFS;
	rt = mnl_nlmsg_get_payload(nlh);
	rt->rtm_family = AF_INET;
	rt->rtm_table = RT_TABLE_UNSPEC;
	rt->rtm_protocol = RTPROT_BOOT;
	rt->rtm_scope = RT_SCOPE_UNIVERSE;
	rt->rtm_type = RTN_UNICAST;
	mnl_attr_put_u32(nlh, RTA_TABLE, MARK_TABLE0 + mark);
	mnl_attr_put(nlh, RTA_GATEWAY, 4, &be);
	mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)oif);
	return net__nl_done(b, nlh);
}

/* Node @k's rule (-EEXIST: already there, fine) and route, one message
 * per batch (a batch holds at most 64; a rule already there must not
 * hide the others' errors). */
static int node_routes(struct mnl_socket *nl, uint32_t mark, uint32_t via,
		       int oif, char *err, size_t errlen)
{
	int rc = 0;

	for (int route = 0; rc == 0 && route < 2; route++) {
		struct net__batch *b = NULL;
		if ((rc = net__batch_new(&b)) < 0)
			break;
		rc = route ? route_add(b, mark, via, oif) : rule_add(b, mark);
		if (rc == 0)
			rc = net__nl_send(nl, b, NULL);
		if (rc == -EEXIST && !route)
			rc = 0;
		else if (rc < 0)
			snprintf(err, errlen, "%s of node %u: %s",
				 route ? "route" : "rule", mark, strerror(-rc));
		net__batch_free(b);
	}
	return rc;
}

int net__ingress_ns_routes(const struct net__net *w, const char *ifname,
			   char *err, size_t errlen)
{
	struct mnl_socket *nl = NULL;
	int oif = (int)if_nametoindex(ifname);
	int rc;

	if (oif <= 0) {
		snprintf(err, errlen, "no interface %s", ifname);
		return -ENODEV;
	}
	if ((rc = net__nl_open(&nl)) < 0) {
		snprintf(err, errlen, "rtnetlink: %s", strerror(-rc));
		return rc;
	}
	for (size_t i = 0; rc == 0 && i < w->n_inodes; i++)
		rc = node_routes(nl, (uint32_t)i + 1, w->inodes[i], oif, err,
				 errlen);
	mnl_socket_close(nl);
	return rc;
}

/* ------------------------------------------------------ node's namespace */

int net__ingress_ruleset(const struct net_ingress_port *p, size_t np,
			 struct buf *b)
{
	char ip[16];
	bool any = false;

	buf_printf(b, "table inet shoal-ingress {}\n"
		      "delete table inet shoal-ingress\n");
	for (size_t i = 0; i < np; i++)
		any = any || p[i].n;
	if (!any)
		return b->data ? 0 : -ENOMEM;
	buf_printf(b, "table inet shoal-ingress {\n");
	/* From outside (prerouting) and from the node itself (output). */
	for (int out = 0; out < 2; out++) {
		buf_printf(b,
			   "\tchain %s {\n"
			   "\t\ttype nat hook %s priority -100; "
			   "policy accept;\n",
			   out ? "output" : "prerouting",
			   out ? "output" : "prerouting");
		for (size_t i = 0; i < np; i++) {
			if (!p[i].n)
				continue;
			buf_printf(b,
				   "\t\t%sfib daddr type local %s dport %u "
				   "dnat ip to numgen random mod %zu map { ",
				   out ? "ip daddr != 127.0.0.0/8 " : "",
				   p[i].udp ? "udp" : "tcp", p[i].port, p[i].n);
			for (size_t j = 0; j < p[i].n; j++) {
				net__ip_str(p[i].backends[j], ip);
				buf_printf(b, "%s%zu : %s . %u", j ? ", " : "",
					   j, ip, p[i].target);
			}
			buf_printf(b, " }\n");
		}
		buf_printf(b, "\t}\n");
	}
	buf_printf(b, "}\n");
	return b->data ? 0 : -ENOMEM;
}

static int addr_del(struct net__batch *b, int ifindex, uint32_t ip, int len)
{
	struct nlmsghdr *nlh =
		net__nl_msg(b, RTM_DELADDR, 0, sizeof(struct ifaddrmsg));
	struct ifaddrmsg *ifa;
	uint32_t be = htonl(ip);

	if (!nlh)
		return -ENOBUFS;
	ifa = mnl_nlmsg_get_payload(nlh);
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = (uint8_t)len;
	ifa->ifa_index = (uint32_t)ifindex;
	mnl_attr_put(nlh, IFA_LOCAL, 4, &be);
	return net__nl_done(b, nlh);
}

/* This node's address and MAC on the ingress bridge (the address it
 * had before, if another, removed). */
static int bridge_addr(struct net__net *w, uint32_t self, struct shoal_err *err)
{
	char br[16], vx[16];
	uint8_t mac[6] = {0x02,
			  0x42,
			  (uint8_t)(self >> 24),
			  (uint8_t)(self >> 16),
			  (uint8_t)(self >> 8),
			  (uint8_t)self};
	struct net__batch *b = NULL;
	struct mnl_socket *nl = NULL;
	struct nlmsghdr *nlh;
	int idx, rc;

	ovl_vxlan_names(w->vni, br, vx);
	if ((idx = net__nl_index(br)) < 0) {
		net__err(err, "ingress bridge %s is not up", br);
		return idx;
	}
	if ((rc = net__batch_new(&b)) < 0)
		return rc;
	nlh = net__nl_msg(b, RTM_NEWLINK, 0, sizeof(struct ifinfomsg));
	if (!nlh) {
		rc = -ENOBUFS;
	} else {
		struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
		ifi->ifi_family = AF_UNSPEC;
		ifi->ifi_index = idx;
		mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac);
		rc = net__nl_done(b, nlh);
	}
	if (rc == 0)
		rc = net__nl_addr_add(b, idx, self, w->subnet.len);
	if (rc == 0 && (rc = net__nl_open(&nl)) == 0) {
		rc = net__nl_send(nl, b, NULL);
		if (rc == 0 && w->iself && w->iself != self) {
			/* The old one: gone already is fine. */
			struct net__batch *d = NULL;
			if (net__batch_new(&d) == 0 &&
			    addr_del(d, idx, w->iself, w->subnet.len) == 0)
				(void)net__nl_send(nl, d, NULL);
			net__batch_free(d);
		}
		mnl_socket_close(nl);
	}
	net__batch_free(b);
	if (rc == 0)
		w->iself = self;
	if (rc < 0)
		net__err(err,
			 "cannot give the ingress bridge %s its address: %s",
			 br, strerror(-rc));
	return rc;
}

static struct net__net *find_ingress(struct net *n, const char *id)
{
	for (size_t i = 0; i < n->n_nets; i++)
		if (n->nets[i]->vni && !strcmp(n->nets[i]->id, id))
			return n->nets[i];
	return NULL;
}

static bool same_nodes(const struct net__net *w, const uint32_t *v, size_t k)
{
	return w->n_inodes == k &&
	       (!k || !memcmp(w->inodes, v, k * sizeof(*v)));
}

int net_ingress_set(struct net *n, const char *id, uint32_t self,
		    const uint32_t *nodes, size_t n_nodes,
		    const struct net_ingress_port *p, size_t np,
		    struct shoal_err *err)
{
	struct net__net *w = NULL;
	struct buf b;
	char msg[256] = "";
	int rc;

	if (n_nodes > NET_INGRESS_MAX_NODES || np > NET_INGRESS_MAX_PORTS)
		return -EINVAL;
	if (id && !(w = find_ingress(n, id))) {
		net__err(err, "the ingress network %s is not joined", id);
		return SHOAL_ENOTFOUND;
	}
	if (n->dry_run)
		return 0;
	/* Without the ingress network only our table's deletion is run
	 * (a leftover of an earlier run goes; nothing else is touched:
	 * the kernel side stays lazy, networking.md). */
	if (w && (rc = net__kernel(n, err)) < 0)
		return rc;
	/* A bridge made again is a new record (iself 0). */
	if (w && self && self != w->iself &&
	    (rc = bridge_addr(w, self, err)) < 0)
		return rc;
	buf_init(&b, 4 << 20);
	rc = net__ingress_ruleset(w ? p : NULL, w ? np : 0, &b);
	if (rc == 0 && (!n->ingress_text || strcmp(n->ingress_text, b.data))) {
		rc = net__nft_text_in(NULL, b.data, NULL, NULL, msg,
				      sizeof(msg));
		if (rc < 0) {
			net__err(err,
				 "cannot load the routing mesh's rules: "
				 "%s",
				 msg);
		} else {
			shoal_free(n->ingress_text);
			n->ingress_text = shoal_strdup(b.data);
			log_info("routing mesh: %zu published ports served",
				 w ? np : 0);
		}
	}
	buf_fini(&b);
	if (rc < 0 || !w || same_nodes(w, nodes, n_nodes))
		return rc;
	uint32_t *v = n_nodes ? shoal_calloc(n_nodes, sizeof(*v)) : NULL;
	if (n_nodes && !v)
		return -ENOMEM;
	if (n_nodes)
		memcpy(v, nodes, n_nodes * sizeof(*v));
	shoal_free(w->inodes);
	w->inodes = v;
	w->n_inodes = n_nodes;
	/* The marks and routes into every task's namespace on it. */
	net__vips_apply(n, w, NULL);
	return 0;
}
