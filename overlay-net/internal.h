/*
 * Internal to overlay-net/: the in-memory networks and endpoints, IPv4
 * prefixes, the netlink batch and the ruleset text. Not part of
 * libshoal-overlay's contract (overlay-net/net.h is).
 */
#ifndef SHOAL_OVERLAY_NET_INTERNAL_H
#define SHOAL_OVERLAY_NET_INTERNAL_H

#include "common/buf.h"
#include "overlay-net/net.h"

#include <net/if.h>
#include <netinet/in.h>

/* An IPv4 prefix, host byte order. */
struct net__prefix {
	uint32_t addr; /* the network address (host bits zero) */
	int len;       /* 0..32 */
};

/* ipam.c (pure) */
/** net__parse_cidr() - "a.b.c.d/len"; host bits must be zero unless
 * @host_ok (then they are kept in *@addr and masked in @out). */
int net__parse_cidr(const char *s, struct net__prefix *out, uint32_t *addr,
		    bool host_ok);
int net__parse_ip(const char *s, uint32_t *out);
/* Runs nftables commands @text in the calling thread's network namespace
 * with a context of its own: 0, or -EIO with nft's words in @err, or
 * -ENOMEM. For threads that have entered a container's namespace. */
int net__nft_run_once(const char *text, char *err, size_t errlen);
void net__ip_str(uint32_t ip, char out[16]);
uint32_t net__mask(int len);
bool net__contains(const struct net__prefix *p, uint32_t ip);
bool net__overlaps(const struct net__prefix *a, const struct net__prefix *b);
/** net__pool_next() - the first @size-long prefix inside @base that
 * overlaps none of @used; -ENOSPC. */
int net__pool_next(const struct net__prefix *base, int size,
		   const struct net__prefix *used, size_t n_used,
		   struct net__prefix *out);
/** net__ip_next() - the next free address of @range after @last (wrapping,
 * as Docker's allocator does), skipping the network and broadcast
 * addresses of @subnet and those @taken says are used; -ENOSPC. */
typedef bool net__taken_fn(uint32_t ip, void *arg);
int net__ip_next(const struct net__prefix *subnet,
		 const struct net__prefix *range, uint32_t last,
		 net__taken_fn *taken, void *arg, uint32_t *out);
/** net__mac_of() - Docker's MAC for an address: 02:42 and its 4 bytes. */
void net__mac_of(uint32_t ip, char out[18]);
int net__parse_mac(const char *s, uint8_t out[6]);

struct net__port {
	struct net_port p;
	uint16_t host; /* the port allocated (of host_lo..host_hi) */
};

struct net__ep {
	char ctr[65];
	char sandbox[65]; /* the namespace's file: <exec-root>/netns/<sandbox>
			   */
	char name[256];
	char ifname[IFNAMSIZ]; /* inside: eth0, eth1, ... */
	char veth[IFNAMSIZ];   /* the host end */
	uint32_t ip;
	char mac[18];
	char **aliases; /* NULL-terminated, owned */
	char ep_id[65];
	struct net__port *ports;
	size_t n_ports;
	/* The resolver's servers and search domains of the container
	 * (NULL-terminated, owned, NULL: none), on the endpoint it was
	 * created with. */
	char **dns;
	char **dns_search;
};

/* One name of an overlay's service records: a service (its VIP, or its
 * Ready tasks' addresses with dnsrr), tasks.NAME, a task, an alias. */
struct net__name {
	char *name;	 /* lower case, owned */
	uint32_t *addrs; /* host order, owned */
	size_t n;
};

/* A VIP and its Ready backends (vip.c). */
struct net__vip {
	uint32_t vip;	    /* host order */
	uint32_t *backends; /* owned, host order */
	size_t n;
};

enum net__kind {
	NET_KIND_BRIDGE,
	NET_KIND_HOST,
	NET_KIND_NULL,
};

struct net__net {
	char id[65];
	char name[256];
	enum net__kind kind;
	bool predefined; /* bridge, host, none */
	bool internal, attachable;
	char bridge[IFNAMSIZ];
	struct net__prefix subnet;
	struct net__prefix range;
	uint32_t gateway;
	uint32_t last_ip;
	char created[64];
	json_t *labels;	 /* object, owned */
	json_t *options; /* object, owned */
	/* An overlay's local side (net_overlay_join()): its VNI (0 for every
	 * other network), this host's VTEP (host order) and MTU. Its bridge
	 * is shov<VNI>, made with its VXLAN device by vxlan.c. */
	uint32_t vni;
	uint32_t vtep;
	int mtu;
	/* An overlay's service records from the managers (not recorded:
	 * each set brings them again): names.c answers them. */
	struct net__name *names;
	size_t n_names;
	struct net__vip *vips; /* its services' VIPs (vip.c), in memory */
	size_t n_vips;
	bool vips_set; /* vips were given since the start (else unknown) */
	/* The ingress network's routing mesh (ingress.c): every node's
	 * address on it; index + 1 is the conntrack mark of the
	 * connections that node forwards, and of their replies. */
	uint32_t *inodes;
	size_t n_inodes;
	uint32_t iself; /* this node's address on its bridge (0: none) */
	struct net__ep *eps;
	size_t n_eps;
};

struct net {
	char *dir;    /* <data-root>/network */
	char *ns_dir; /* <exec-root>/netns */
	bool dry_run;
	struct net__net **nets;
	size_t n_nets;
	struct net__prefix pools[8];
	int pool_size[8];
	size_t n_pools;
	bool kernel;	       /* the kernel side is set up (net__kernel()) */
	struct mnl_socket *nl; /* this namespace's rtnetlink socket */
	struct nft_ctx *nft;
	char *ingress_text; /* the routing mesh's table as last loaded */
	struct net_resolver *resolver; /* NULL: no names (no loop given) */
	uv_loop_t *loop;	       /* NULL: namespaces loaded in line */
	struct net__loader *loader;    /* nsload.c; started at first use */
};

/* network.c and record.c */
/** net__kernel() - set up the kernel side on first need: rtnetlink,
 * ip_forward, every bridge, the ruleset. A daemon that never networks a
 * container changes nothing in its namespace. */
int net__kernel(struct net *n, struct shoal_err *err);
struct net__net *net__find(struct net *n, const char *ref);
/** net__valid_ifname() - an interface name of [a-zA-Z0-9_.-], 1-15 long:
 * what the kernel takes and the nftables text can quote. */
bool net__valid_ifname(const char *s);
/** net__find_is() - whether @ref (name, id, id prefix) names @w. */
bool net__find_is(const struct net__net *w, const char *ref);
int net__save(struct net *n, const struct net__net *w);
/** net__load_record() - a network from its record (outside bytes: a file
 * on disk); -EINVAL with @err for anything malformed. */
int net__load_record(const json_t *r, struct net__net **out,
		     struct shoal_err *err);
json_t *net__record(const struct net__net *w);
void net__unsave(struct net *n, const struct net__net *w);
/** net__kind_name() - Docker's driver name: "bridge", "host", "null". */
const char *net__kind_name(enum net__kind k);
void net__net_free(struct net__net *w);
void net__ep_fini(struct net__ep *ep);
void net__err(struct shoal_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* network.c, for overlay.c */
int net__bridge_up(struct net *n, struct net__net *w, struct shoal_err *err);
int net__add_net(struct net *n, struct net__net *w);
void net__drop_net(struct net *n, struct net__net *w);

/* overlay.c: an overlay's bridge is made and deleted with its VXLAN
 * device (vxlan.c). */
int net__overlay_up(struct net *n, struct net__net *w, struct shoal_err *err);
void net__overlay_down(const struct net__net *w);
void net__names_free(struct net__net *w);

/* vip.c */
void net__vips_free(struct net__net *w);
/** net__vip_ruleset() - @w's `table inet shoal-vip` as nft text, deleting
 * the previous one in the same transaction. Pure. */
int net__vip_ruleset(const struct net__net *w, struct buf *b);
/** net__vips_apply() - load it into every namespace with an endpoint on
 * @w, or into @sandbox's only (when @w has VIPs). */
int net__vips_apply(struct net *n, const struct net__net *w,
		    const char *sandbox);

/* ingress.c */
/** net__ingress_ns_text() - the task side of the routing mesh for the
 * namespace whose interface on @w is @ifname: `table inet shoal-imark`
 * (deleted, then made again when @w has nodes). Pure. */
void net__ingress_ns_text(const struct net__net *w, const char *ifname,
			  struct buf *b);
/** net__ingress_ruleset() - the node's `table inet shoal-ingress` (DNAT
 * of the published ports with backends, prerouting and output), deleted
 * first in the same transaction; only deleted when none has any. Pure. */
int net__ingress_ruleset(const struct net_ingress_port *p, size_t np,
			 struct buf *b);
/** net__ingress_ns_routes() - in the calling thread's namespace, one
 * `fwmark K table 1000+K` rule and route via node K per node of @w. */
int net__ingress_ns_routes(const struct net__net *w, const char *ifname,
			   char *err, size_t errlen);
/* nsload.c */
/**
 * net__ns_load() - load @text (the VIP table of @w, and the routing
 * mesh's marks) into @ep's namespace at @path, with the ingress routes
 * of @w's nodes: on the node's loader thread, coalesced with a queued
 * load of the same namespace and network; failures logged on the loop.
 * @wait: queued first and waited for (a namespace whose container is
 * about to start), its result returned. Without a loop, in line.
 */
int net__ns_load(struct net *n, const struct net__net *w,
		 const struct net__ep *ep, const char *path, const char *text,
		 bool wait);
/** net__loader_close() - stop the loader thread (queued loads dropped,
 * waiting barriers run); its handle is freed on a later loop turn. */
void net__loader_close(struct net *n);

/** net__loader_pause() - tests: hold the loader's queue (@paused) or let
 * it go; starts the loader. net__loader_loads(): the loads run so far. */
int net__loader_pause(struct net *n, bool paused);
uint64_t net__loader_loads(struct net *n);

/** net__nft_text_in() - run nft @text in the namespace at @path (NULL:
 * the caller's), from a short-lived thread; with @w and @ifname, also
 * net__ingress_ns_routes() there. */
int net__nft_text_in(const char *path, const char *text,
		     const struct net__net *w, const char *ifname, char *err,
		     size_t errlen);

/* nft.c */
/** net__ruleset() - the whole `table inet shoal` as nft text, deleting
 * the previous table in the same transaction. Pure. */
int net__ruleset(struct net *n, struct buf *out);
int net__nft_apply(struct net *n);
void net__nft_flush(struct net *n);

/* netlink.c: one batch of rtnetlink requests, sent in one sendmsg */
struct net__batch;
int net__batch_new(struct net__batch **out);
void net__batch_free(struct net__batch *b);
const void *net__batch_data(const struct net__batch *b, size_t *len);
size_t net__batch_count(const struct net__batch *b);
/** Link ops. */
int net__nl_bridge_add(struct net__batch *b, const char *name,
		       const uint8_t mac[6]);
int net__nl_link_del(struct net__batch *b, const char *name);
int net__nl_link_up(struct net__batch *b, int ifindex, const char *name);
/** net__nl_veth_add() - in the namespace the batch is sent to: @inner
 * (with index @inner_index, MAC @mac, up) whose peer @outer goes to the
 * namespace @outer_nsfd, up; both ends with MTU @mtu (0: the kernel's). */
int net__nl_veth_add(struct net__batch *b, const char *inner, int inner_index,
		     const uint8_t mac[6], const char *outer, int outer_nsfd,
		     int mtu);
int net__nl_master(struct net__batch *b, const char *name, int master);
int net__nl_hairpin(struct net__batch *b, int ifindex);
int net__nl_addr_add(struct net__batch *b, int ifindex, uint32_t ip, int len);
int net__nl_route_default(struct net__batch *b, uint32_t gw);
/** net__nl_send() - send @b on @nl and read every ack; the first error
 * wins (its index into *@failed). */
int net__nl_send(struct mnl_socket *nl, struct net__batch *b, size_t *failed);
int net__nl_open(struct mnl_socket **out);
/** net__nl_acks() - decode acknowledgements (outside bytes) of a batch
 * numbered from @seq0 with @count requests; -EPROTO for anything else. */
int net__nl_acks(const void *data, size_t len, uint32_t seq0, size_t count,
		 size_t *got, int *first_err, size_t *failed);
int net__nl_index(const char *name);
/** net__nl_msg() - a new request of @type at the end of @b with a
 * family header of @hdr_len bytes (NLM_F_REQUEST|NLM_F_ACK|@flags); NULL
 * when the batch is full. net__nl_done() closes it into the batch. For
 * the request builders outside netlink.c (vxlan.c). */
struct nlmsghdr;
struct nlmsghdr *net__nl_msg(struct net__batch *b, uint16_t type,
			     uint16_t flags, size_t hdr_len);
int net__nl_done(struct net__batch *b, struct nlmsghdr *nlh);

/* ports.c */
/** net__ports_alloc() - host ports for @req (owned array of @nreq);
 * SHOAL_ECONFLICT with Docker's sentence when one is taken. */
int net__ports_alloc(struct net *n, const struct net_port *req, size_t nreq,
		     struct net__port **out, struct shoal_err *err);

/* record.c */
/** net__strv_dup() - an owned copy of @v in *@out (NULL when @v is NULL or
 * empty); net__strv_free() frees one. */
int net__strv_dup(const char *const *v, char ***out);
void net__strv_free(char **v);

/* names.c: what the resolver answers, and who is attached to it */
bool net__has_names(const struct net *n, const char *id);
int net__lookup(void *arg, const char *ctr, const char *name,
		struct in_addr *out, size_t cap);
int net__reverse(void *arg, const char *ctr, struct in_addr addr, char *name,
		 size_t cap);
/** net__names_attach() - give @id the resolver in @sandbox's namespace,
 * when it is on a user-defined network (again, if it was). */
void net__names_attach(struct net *n, const char *id, const char *sandbox);
/** net__names_detach() - take it away when it is on none any more. */
void net__names_detach(struct net *n, const char *id);

/* attach.c */
int net__netns_path(struct net *n, const char *id, char *out, size_t cap);

#endif
