/*
 * The agent's overlay networks (docs/overlay.md, "The agent's side"):
 * from the "network" items of each assignment set (contract: one item
 * per overlay on which this node has a task), this node joins the
 * network (overlay-net's net_overlay_join(): a bridge and a VXLAN device
 * with the VNI), programs every peer the managers list (a task address
 * on another node behind that node's VTEP: a static FDB and neighbour
 * entry, vxlan.h) and removes the peers that left, and leaves a network
 * once no item names it and no container of this node is on it.
 *
 * Stateless across restarts: what was joined is overlay-net's records,
 * what is programmed is read back from the kernel (ovl_vxlan_peer_list())
 * at each set, so a restarted shoald converges at its first set without
 * leaving stale entries. The task containers join the network through
 * the engine (worker/task_net.c: the task's NetworksAttachments).
 *
 * Items of kinds other than "network" are not this module's (tasks are
 * the executor's); "ingress" is logged as not served (docs/overlay.md).
 * Everything on the loop thread; each netlink round trip blocks it for
 * about a millisecond (overlay-net's contract).
 */
#ifndef SHOAL_WORKER_NET_H
#define SHOAL_WORKER_NET_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "common/error.h"
#include "overlay-net/net.h"
#include "worker/worker.h"

struct net;
struct wnet;

#define WNET_MAX_PEERS 65536

/** One peer of a network item: a task address behind a node's VTEP. */
struct wnet_peer {
	uint32_t addr; /* host order */
	uint32_t vtep; /* host order */
};

#define WNET_MAX_SERVICES 4096
#define WNET_MAX_TASKS 4096	 /* per service */
#define WNET_MAX_ALIASES 64	 /* per service */
#define WNET_MAX_CTR_NAMES 16384 /* Containers' names and aliases */

/** A task of a service on the network (Services[].Tasks[]). */
struct wnet_task {
	char name[256]; /* "web.1.<task id>" */
	uint32_t addr;	/* host order */
	bool ready;	/* running, desired running, not unhealthy */
};

/** A service with a task or a VIP on the network (Services[]). */
struct wnet_service {
	char name[64];
	bool dnsrr;	/* Mode "dnsrr": no VIP */
	uint32_t vip;	/* host order; 0 with dnsrr */
	char **aliases; /* owned, n_aliases of them */
	size_t n_aliases;
	struct wnet_task *tasks; /* owned */
	size_t n_tasks;
};

/** A "network" item, decoded and checked (wnet_item_decode()). */
struct wnet_item {
	char id[65];
	char name[129];
	uint32_t vni;
	char subnet[20];  /* "10.0.1.0/24" */
	char gateway[16]; /* "10.0.1.1" */
	int mtu;
	bool internal, attachable;
	struct wnet_peer *peers; /* owned (wnet_item_fini()) */
	size_t n_peers;
	struct wnet_service *services; /* owned */
	size_t n_services;
	/* Containers attached to the network (Containers[]: attachable
	 * overlays): one entry per name, its Name then each alias. */
	struct wnet_task *ctr_names; /* owned */
	size_t n_ctr_names;
};

/**
 * wnet_item_decode() - a "network" item (@o, borrowed) into @out: every
 * field checked (an id of letters and digits, a VNI of 1..2^24-1, an IPv4
 * subnet /8../29 with a host gateway, an MTU of 68..9000, at most
 * WNET_MAX_PEERS peers each inside the subnet, neither its network,
 * broadcast nor gateway address, behind a unicast VTEP; services with
 * Docker's names, mode vip (a VIP inside the subnet) or dnsrr, aliases
 * that are DNS labels, tasks with names of DNS labels and addresses
 * inside the subnet; attached containers with names and aliases that are
 * DNS names ("" for none) and an address inside the subnet, within the
 * WNET_MAX_* bounds). -EINVAL with
 * @err; -ENOMEM. Pure: fuzzed by tests/fuzz/worker-net.
 */
int wnet_item_decode(const json_t *o, struct wnet_item *out,
		     struct shoal_err *err);
void wnet_item_fini(struct wnet_item *it);

/** An "ingress" item's routing mesh, decoded and checked against its
 * network (wnet_ingress_decode(); docs/overlay.md, step 5). */
struct wnet_ingress {
	uint32_t self;	 /* this node's Addr (0: none yet), host order */
	uint32_t *nodes; /* every node's Addr, the managers' order */
	size_t n_nodes;
	struct net_ingress_port *ports; /* backends point into @backends */
	size_t n_ports;
	uint32_t *backends;
};

/**
 * wnet_ingress_decode() - @o's Addr, Nodes and Ports (outside bytes)
 * checked against the ingress network @it: addresses inside its subnet,
 * tcp or udp, ports 1..65535, bounded counts. -EINVAL with @err, -ENOMEM.
 */
int wnet_ingress_decode(const json_t *o, const struct wnet_item *it,
			struct wnet_ingress *in, struct shoal_err *err);
void wnet_ingress_fini(struct wnet_ingress *in);

struct wnet_config {
	uv_loop_t *loop;
	struct net *net;  /* the engine's (eng_net()); NULL: overlays refused */
	const char *vtep; /* this node's advertised address, "IP[:PORT]" */
};

/** wnet_open() - 0 and *@out; -EINVAL for a VTEP that is not an IPv4
 * address; -ENOMEM. */
int wnet_open(const struct wnet_config *cfg, struct wnet **out);

/**
 * wnet_assign() - the node's whole new set (@items borrowed): join the
 * networks named, program their peers, leave the others once their last
 * container is gone (checked again every second until then). Call it
 * before the executor gets the same set, so that a task's network is up
 * before its container is made.
 */
void wnet_assign(struct wnet *w, const struct agent_item *items, size_t n);

#define WNET_TASK_ID_MAX 64
#define WNET_MAX_DOWN 1024
/* How long a task that left this node's VIP maps waits before its stop
 * goes on, for the other nodes to load theirs (worker/net.c). */
#define WNET_CONVERGE_MS 1000

/**
 * wnet_task_leave() - task @task_id of this node stops taking new
 * connections here (unhealthy, or about to be stopped) before the
 * managers say so: it leaves this node's VIP maps and names at once and
 * stays out of them while the managers' items still list it (they list
 * it until they hear it ended). @done(@arg) runs once the maps without
 * it are loaded in every namespace of the node, and, when it was in a
 * VIP's or a name's answers here and the wnet has a loop, WNET_CONVERGE_MS
 * later (the other nodes load theirs meanwhile): on the loop, exactly
 * once (also when the loading fails: it is logged; also at wnet_close(),
 * which cuts the wait short).
 */
void wnet_task_leave(struct wnet *w, const char *task_id, void (*done)(void *),
		     void *arg);

/** wnet_leave() - the node left the swarm: leave every overlay once its
 * containers are gone. */
void wnet_leave(struct wnet *w);

/** wnet_close() - stop (the networks stay as they are; freed on a later
 * loop turn). */
void wnet_close(struct wnet *w);

#endif
