/*
 * libshoal-overlay: container networking on one host, as Docker does it
 * with its bridge driver. A network is a Linux bridge with an IPv4 subnet;
 * a container on it has a network namespace of its own (bound to a file
 * under <exec-root>/netns/), a veth pair with `eth0` inside, an address
 * from the network's IPAM, a default route through the bridge, and
 * published ports as DNAT rules. The predefined networks are `bridge`
 * (shoal0, 172.17.0.0/16 unless configured), `host` and `none`.
 *
 * Invariants. What the kernel holds (bridges, veth pairs, the nftables
 * table `inet shoal`) is derived from the records under
 * <data-root>/network/: one JSON file per network, holding its endpoints
 * and their published ports, replaced whole (temporary file, fsync,
 * rename), so a crash leaves a record that the next net_open() +
 * net_reconcile() makes the kernel agree with (docs/networking.md says
 * in which order each change is written). The
 * nftables table is always rebuilt whole in one transaction and no other
 * table is touched. Everything happens in the network namespace the
 * process runs in: a shoald in a lab host manages only that host.
 *
 * Threads: every call on the loop thread; calls block for the netlink
 * round trips and the nftables transaction (well under a millisecond each
 * on an idle host; bench/net-bench measures them).
 *
 * Return codes: 0 or a negative errno; SHOAL_ENOTFOUND (no such network or
 * endpoint), SHOAL_ECONFLICT (a name taken, a network in use, a port or
 * address already allocated). Calls failing on user input fill a struct
 * shoal_err with Docker's sentence; net_status() gives the HTTP status
 * Docker answers it with.
 */
#ifndef SHOAL_OVERLAY_NET_NET_H
#define SHOAL_OVERLAY_NET_NET_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "common/error.h"

struct net;

/** What net_open() works with; strings borrowed for the call. */
struct net_config {
	const char *data_root; /* records under <data-root>/network/ */
	const char *exec_root; /* namespaces under <exec-root>/netns/ */
	/* --bip: the default bridge's gateway and prefix ("172.18.0.1/16");
	 * NULL: 172.17.0.1/16. */
	const char *bip;
	/* --default-address-pool "base=10.10.0.0/16,size=24", NULL-terminated;
	 * NULL: Docker's (172.17.0.0/12 in /16s, 192.168.0.0/16 in /20s). */
	const char *const *pools;
	/* Skip the kernel entirely (records only): unit tests. */
	bool dry_run;
	/* The loop the resolver at 127.0.0.11 runs on; NULL: containers on
	 * user networks get no name resolution. */
	uv_loop_t *loop;
	/* The resolver's upstream servers; NULL: /etc/resolv.conf. */
	const char *resolv_conf;
};

/**
 * net_open() - read the records, make the predefined networks, bring the
 * kernel in line (bridges, the nftables table, ip_forward). -EINVAL with
 * @err for a bad --bip or pool; a negative errno for a host failure.
 */
int net_open(const struct net_config *cfg, struct net **out,
	     struct shoal_err *err);
void net_close(struct net *n);

/**
 * net_reconcile() - at start-up, once the engine knows its containers:
 * @ids (NULL-terminated) are the containers that exist. Endpoints of any
 * other container are released, their namespaces unbound, stray veth and
 * bridges of Shoal's naming removed, and the ruleset rebuilt.
 */
int net_reconcile(struct net *n, const char *const *ids);

/** net_status() - Docker's HTTP status for a code of this module. */
int net_status(int rc);

/* ------------------------------------------------------------ networks */

struct net_create_opts {
	const char *name;
	const char *driver;  /* NULL or "bridge" */
	const char *subnet;  /* NULL: from the default pools */
	const char *gateway; /* NULL: the subnet's first address */
	const char *ip_range;
	bool internal;
	bool attachable;	 /* recorded and reported (single host) */
	bool ipv6;		 /* refused */
	const char *bridge_name; /* com.docker.network.bridge.name */
	const json_t *labels;	 /* object of strings or NULL */
	const json_t *options;	 /* driver options; unknown ones refused */
};

/** net_network_create() - 0 and @id; SHOAL_ECONFLICT (name taken),
 * -EINVAL (bad subnet, overlap, no pool left) with @err. */
int net_network_create(struct net *n, const struct net_create_opts *o,
		       char id[65], struct shoal_err *err);

/** net_network_remove() - @ref: name, id or unique id prefix. */
int net_network_remove(struct net *n, const char *ref, struct shoal_err *err);

/**
 * net_network_inspect() - Docker's NetworkResource for @ref (owned; free
 * with json_decref()), with its Containers; NULL and @rc when none.
 */
json_t *net_network_inspect(struct net *n, const char *ref, int *rc);

/** net_network_list() - every network's NetworkResource, sorted by name. */
json_t *net_network_list(struct net *n);

/** net_network_prune() - remove user networks without endpoints whose
 * labels @keep says yes to; their names into @removed (an array). */
typedef bool net_keep_fn(const json_t *network, void *arg);
int net_network_prune(struct net *n, net_keep_fn *keep, void *arg,
		      json_t *removed);

/* ---------------------------------------------------------- containers */

/** One published port (Docker's PortBindings entry). */
struct net_port {
	uint16_t ctr_port;
	char proto[4];	  /* "tcp" or "udp" */
	char host_ip[46]; /* "" : every address */
	uint16_t host_lo; /* 0: an ephemeral port */
	uint16_t host_hi; /* a range host_lo-host_hi; = host_lo otherwise */
};

/** A request to join one network. */
struct net_ep_req {
	const char *network;	    /* name, id or prefix */
	const char *const *aliases; /* NULL-terminated or NULL */
	const char *ip;		    /* NULL: from IPAM */
	const char *mac;	    /* NULL: derived from the address */
};

/** What a container asks for at create. */
struct net_ctr_spec {
	const char *name; /* without '/' */
	const char *hostname;
	/* "" / "default" / "bridge", a network's name or id, "host", "none"
	 * or "container:<netns path>" (the engine resolves the container). */
	const char *mode;
	const struct net_ep_req *eps; /* extra endpoint settings, by network */
	size_t n_eps;
	const struct net_port *ports;
	size_t n_ports;
	/* On a user-defined network, what the resolver at 127.0.0.11 gets
	 * (NULL-terminated or NULL): the servers it forwards to instead of
	 * the daemon's (--dns, at most 3 addresses) and the search domains
	 * (--dns-search). Recorded with the endpoint. */
	const char *const *dns;
	const char *const *dns_search;
};

/** What the runtime is told. */
struct net_ctr_result {
	/* The sandbox (namespace) key: pass it to net_ctr_bind() once the
	 * container has its id; "" without a namespace of ours. */
	char sandbox[65];
	/* The runtime's network: NULL (none), "host" or "ns:<path>". */
	char network[PATH_MAX + 8];
	/* "hostname:ip" for /etc/hosts, "" without an address. */
	char host_line[320];
	/* "127.0.0.11" when the container's resolv.conf must name the
	 * resolver (a user-defined network), "" otherwise. */
	char dns[16];
};

/**
 * net_ctr_create() - make the container's namespace and its endpoint on
 * its network (veth, address, routes, ports) in one netlink round per
 * namespace. All or nothing. -EINVAL/SHOAL_ENOTFOUND/SHOAL_ECONFLICT with
 * @err.
 */
int net_ctr_create(struct net *n, const struct net_ctr_spec *s,
		   struct net_ctr_result *out, struct shoal_err *err);

/**
 * net_ctr_bind() - the container made over @sandbox got id @id: its
 * endpoints are its from now on (recorded). Until then they belong to no
 * container, and net_reconcile() releases them after a crash.
 */
int net_ctr_bind(struct net *n, const char *sandbox, const char *id);

/** net_ctr_abandon() - the container over @sandbox was not made after
 * all: release the sandbox and its endpoints. */
void net_ctr_abandon(struct net *n, const char *sandbox);

/**
 * net_ctr_ensure() - before a start: the namespace and endpoints of @id
 * exist in the kernel (after a reboot they do not; they are made again
 * with the same addresses). 0 for a container without networking.
 */
int net_ctr_ensure(struct net *n, const char *id, struct shoal_err *err);

/** net_ctr_remove() - release everything of @id (idempotent). */
void net_ctr_remove(struct net *n, const char *id);

/** net_connect() - attach a created or running container to one more
 * network (eth1, eth2, ...). */
int net_connect(struct net *n, const char *id, const char *name,
		const struct net_ep_req *req, struct shoal_err *err);

/** net_disconnect() - detach @id from network @ref. */
int net_disconnect(struct net *n, const char *id, const char *ref,
		   struct shoal_err *err);

/**
 * net_ctr_settings() - Docker's NetworkSettings of @id (owned): Networks
 * (IPAddress, Gateway, MacAddress, Aliases, NetworkID, EndpointID, ...),
 * Ports, SandboxKey, IPAddress/Gateway of the default bridge.
 */
json_t *net_ctr_settings(struct net *n, const char *id, const char *mode);

/** net_ports_parse() - Docker's HostConfig.PortBindings (+ ExposedPorts
 * when @publish_all) into @out (free with free()); -EINVAL with @err. */
int net_ports_parse(const json_t *bindings, const json_t *exposed,
		    bool publish_all, struct net_port **out, size_t *n,
		    struct shoal_err *err);

/* ------------------------------------------------------------ overlays */

/** An overlay network as the managers describe it; strings borrowed. */
struct net_overlay {
	const char *id;	     /* the swarm's id (letters and digits) */
	const char *name;    /* for logs and NetworkSettings */
	uint32_t vni;	     /* 1..2^24-1 */
	const char *subnet;  /* "10.0.1.0/24" */
	const char *gateway; /* "10.0.1.1": the bridge's address */
	int mtu;	     /* 0: 1450 */
	bool internal, attachable;
	uint32_t vtep; /* this host's VXLAN address, host order */
};

/**
 * net_overlay_join() - make overlay @o a network of this node (a record,
 * shov<VNI> with its VXLAN device shvx<VNI>, its place in the ruleset),
 * or check that it is (idempotent: a network already joined with the
 * same settings is only brought up again if its devices are missing).
 * Containers join it by its id (eng_spec.network_mode), with the
 * address the managers gave (an overlay has no local IPAM). The name
 * does not name it (local networks may share an overlay's name), and
 * net_network_list() leaves it out (the managers list overlays).
 * -EINVAL with @err for bad settings; SHOAL_ECONFLICT when its subnet
 * overlaps a local network; -EBUSY when its settings changed while
 * containers are on it (kept as it was).
 */
int net_overlay_join(struct net *n, const struct net_overlay *o,
		     struct shoal_err *err);

/**
 * net_overlay_leave() - delete overlay @id's record and devices (their
 * FDB and neighbour entries go with them). -EBUSY while a container is on
 * it; SHOAL_ENOTFOUND.
 */
int net_overlay_leave(struct net *n, const char *id, struct shoal_err *err);

/** One name the resolver answers on an overlay; borrowed. */
struct net_overlay_name {
	const char *name;      /* "web", "tasks.web", "web.1.<id>", ... */
	const uint32_t *addrs; /* host order */
	size_t n;
};

/**
 * net_overlay_set_names() - replace overlay @id's service records: the
 * resolver at 127.0.0.11 answers @v's names (case-insensitively, also as
 * "<name>.<network name>") to the containers on that overlay only, before
 * the containers' own names. -EINVAL for an empty or over-long name (255)
 * or a record without addresses or with more than NET_RESOLVER_MAX_ADDRS
 * (64) of them; SHOAL_ENOTFOUND; -ENOMEM (the old records are kept).
 */
int net_overlay_set_names(struct net *n, const char *id,
			  const struct net_overlay_name *v, size_t count);

#define NET_VIP_MAX_BACKENDS 4096

/** A service's VIP on an overlay and its Ready tasks; borrowed. */
struct net_overlay_vip {
	uint32_t vip;		  /* host order */
	const uint32_t *backends; /* host order; none: refused at once */
	size_t n;
};

/**
 * net_when_loaded() - @cb(@arg) on the loop once every VIP table load
 * queued so far is in its namespace (loaded, or failed and logged); at
 * once when none is pending. 0, or -ENOMEM (then @cb is not called).
 */
int net_when_loaded(struct net *n, void (*cb)(void *), void *arg);

/**
 * net_overlay_set_vips() - replace overlay @id's VIPs: every container
 * on it balances new connections to a VIP over its backends (nftables
 * `numgen random` DNAT in the container's own namespace, table inet
 * shoal-vip, replaced in one transaction; conntrack keeps a connection
 * on its backend). A container joining later gets the table when its
 * endpoint is bound. Nothing is done when the VIPs did not change.
 * -EINVAL (a VIP 0, more than NET_VIP_MAX_BACKENDS), SHOAL_ENOTFOUND,
 * -ENOMEM; a namespace that refuses the table is logged and its error
 * returned (the others are loaded).
 */
int net_overlay_set_vips(struct net *n, const char *id,
			 const struct net_overlay_vip *v, size_t count);

/* The routing mesh (docs/overlay.md, step 5; ingress.c). */
#define NET_INGRESS_VNI 4095
#define NET_INGRESS_MAX_NODES 250
#define NET_INGRESS_MAX_PORTS 1024

/** A published port of the routing mesh and its backends; borrowed. */
struct net_ingress_port {
	bool udp;
	uint16_t port;		  /* published on every node */
	uint16_t target;	  /* on the backends */
	const uint32_t *backends; /* host order, on the ingress network */
	size_t n;		  /* 0: not served (nothing DNATed) */
};

/**
 * net_ingress_set() - serve the routing mesh of ingress network @id
 * (joined): this node's address @self on its bridge (with Docker's MAC
 * for it), the nodes' addresses @nodes (this one's included; index + 1
 * is each node's conntrack mark in the tasks), and the published ports
 * @p DNATed in this namespace to their backends, balanced per
 * connection. @id NULL: everything removed (no port left). Nothing is
 * done when nothing changed. -EINVAL, SHOAL_ENOTFOUND, -EIO.
 */
int net_ingress_set(struct net *n, const char *id, uint32_t self,
		    const uint32_t *nodes, size_t n_nodes,
		    const struct net_ingress_port *p, size_t np,
		    struct shoal_err *err);

/** One joined overlay, for the agent's diff. */
struct net_overlay_state {
	char id[65];
	uint32_t vni;
	uint32_t subnet; /* host order */
	int prefix;
	size_t n_endpoints;
};

/** net_overlay_list() - the overlays joined (*@out owned: free with
 * shoal_free()). */
int net_overlay_list(struct net *n, struct net_overlay_state **out,
		     size_t *count);

#endif
