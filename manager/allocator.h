/*
 * The allocator's pure core for overlay networks (docs/overlay.md): the
 * check of Docker's NetworkCreateRequest for `-d overlay`, and the choice
 * of a network's VXLAN id (VNI), subnet and gateway against the networks
 * the store already holds. No I/O, no clock, no randomness: the leader
 * runs it while it builds the "network-create" change (ops_network.c),
 * so the choice is written into the same Raft entry as the network and
 * survives any failover.
 *
 * The leader's stage over tasks and services (alloc_pass(), allocator.c)
 * and the nodes' network and ingress items (alloc_items(), alloc_items.c)
 * are declared at the end.
 *
 * Rules: VNIs from ALLOC_VNI_FIRST up, the lowest free one; subnets from
 * the default pool 10.0.0.0/8 in /24s, the lowest one overlapping no
 * overlay already there; a subnet the user gives must be IPv4 with a
 * prefix of /8 to /29 and overlap no overlay (Docker's 403 words); the
 * gateway is the first host address unless given, and must be a host
 * address of the subnet.
 */
#ifndef SHOAL_MANAGER_ALLOCATOR_H
#define SHOAL_MANAGER_ALLOCATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct store;
struct store_object;

#define ALLOC_VNI_FIRST 4096u
#define ALLOC_VNI_LAST 16777215u    /* 24 bits */
#define ALLOC_POOL_BASE 0x0a000000u /* 10.0.0.0 */
#define ALLOC_POOL_PREFIX 8
#define ALLOC_POOL_SIZE 24
#define ALLOC_MTU_MIN 68
#define ALLOC_MTU_MAX 9000
#define ALLOC_MAX_NETWORKS 4096
/* The ingress network (the routing mesh), made by the allocator. */
#define ALLOC_INGRESS_VNI 4095u
#define ALLOC_INGRESS_SUBNET 0x0aff0000u /* 10.255.0.0/16 */
#define ALLOC_INGRESS_PREFIX 16
/* Published ports given when a service asks for none (Docker's). */
#define ALLOC_PORT_FIRST 30000
#define ALLOC_PORT_LAST 32767

/** An overlay's allocation; addresses in host byte order. */
struct alloc_net {
	uint32_t vni;
	uint32_t subnet; /* network address */
	uint8_t prefix;
	uint32_t gateway;
};

/**
 * alloc_net_check() - check the body of POST /networks/create for an
 * overlay (@req, a JSON object) and return in *@out (owned) the spec to
 * store: Name, Driver "overlay", Scope "swarm", Internal, Attachable,
 * Labels, Options (com.docker.network.driver.mtu only), IPAM {Driver
 * "default", Config [{Subnet, Gateway}] as asked, possibly empty}. Every
 * field Shoal does not apply is refused by name; "encrypted" says what
 * this kernel lacks. Returns 0, -EINVAL with @err, -EPERM with @err for
 * the name of a predefined network (bridge, host, none), -ENOMEM.
 */
/** alloc_network_find() - the swarm network @ref names in @s: its full
 * id, its name, then a unique id prefix; NULL if none or several. */
const struct store_object *alloc_network_find(const struct store *s,
					      const char *ref);

int alloc_net_check(const json_t *req, json_t **out, char *err, size_t errlen);

/**
 * alloc_net_pick() - the allocation of a new overlay given the @n
 * networks @used already have: @subnet and @gateway are the user's ("" for
 * the allocator's choice). Returns 0 with *@out; -EINVAL with @err for a
 * malformed address or a gateway outside the subnet; -EPERM with
 * Docker's words for an overlapping subnet or an exhausted pool or VNI
 * range.
 */
int alloc_net_pick(const struct alloc_net *used, size_t n, const char *subnet,
		   const char *gateway, struct alloc_net *out, char *err,
		   size_t errlen);

/**
 * alloc_addr_pick() - the lowest host address of @net's subnet that is
 * neither its gateway nor one of the @n addresses in @used (host order,
 * any order), for a task or a service VIP. Returns 0 with *@out, or
 * -ENOSPC when the subnet is full. Pure; alloc_pass() calls it for tasks
 * and VIPs.
 */
int alloc_addr_pick(const struct alloc_net *net, const uint32_t *used, size_t n,
		    uint32_t *out);

/**
 * alloc_net_apply() - write @a into the checked spec @spec (its VNI and
 * its IPAM config). 0 or -ENOMEM.
 */
int alloc_net_apply(json_t *spec, const struct alloc_net *a);

/**
 * alloc_net_read() - the allocation stored in @spec (a spec
 * alloc_net_apply() completed, or the ingress network's with VNI
 * ALLOC_INGRESS_VNI). 0, or -EINVAL when it holds none.
 */
int alloc_net_read(const json_t *spec, struct alloc_net *a);

/** alloc_cidr_parse() - "A.B.C.D/P" into host-order @addr and @prefix;
 * 0 or -EINVAL. The address must be the network's (no host bits). */
int alloc_cidr_parse(const char *s, uint32_t *addr, uint8_t *prefix);

/** alloc_addr_format() - a host-order IPv4 address as text into @out. */
void alloc_addr_format(uint32_t addr, char out[16]);

/** alloc_ip_parse() - "A.B.C.D" or "A.B.C.D/P" (the prefix is not
 * checked against the address) into host-order @addr; 0 or -EINVAL. */
int alloc_ip_parse(const char *s, uint32_t *addr);

/* ------------------------------------- the leader's stage (allocator.c) */

struct orch_model;
struct orch_task;
struct orch_service;
struct orch_net;
struct store_object;

/** What alloc_pass() needs of the orchestrator's pass. */
struct alloc_hooks {
	/* Room in the batch to write @t (spec and status); false: none. */
	bool (*touch_task)(void *arg, struct orch_task *t);
	/* @s's status, to be written with the batch; NULL: no room. */
	json_t *(*touch_service)(void *arg, struct orch_service *s);
	/* A network object created in the batch (the ingress network):
	 * a fresh id into @id (STORE_ID_MAX + 1 bytes); 0 or < 0. */
	int (*create_net)(void *arg, char *id, const char *name,
			  const char *spec);
	/* Network @n's status replaced by @status in the batch (the
	 * ingress network's node addresses); 0, -ENOBUFS (no room) or
	 * < 0. */
	int (*update_net)(void *arg, const struct orch_net *n,
			  const char *status);
	void *arg;
	int64_t now_ns;
};

/**
 * alloc_pass() - the allocator's stage of a pass (orch_pass(), before the
 * scheduler): every service in mode vip gets a VIP on each overlay of its
 * TaskTemplate.Networks (status Endpoint.VirtualIPs, dropped for networks
 * it left), every task in state new an address on each of its service's
 * overlays (NetworksAttachments) and the state pending. The in-use set
 * is derived from @m each time (addresses of tasks neither deleted by
 * this pass nor ended, and VIPs), so a new leader re-reads it from the
 * store. A task whose address cannot be found stays new with Err saying
 * why. @all (@n, tasks of the model) and @fresh (@nfresh, made by this
 * pass). Returns 0 or -ENOMEM.
 */
int alloc_pass(struct orch_model *m, struct orch_task **all, size_t n,
	       struct orch_task **fresh, size_t nfresh,
	       const struct alloc_hooks *h);

/**
 * alloc_task_current() - whether @t, allocated, still matches what its
 * service @s publishes: on the ingress network exactly when @s has an
 * ingress port, and the host-mode ports of @s in its Endpoint. A task
 * that does not is outdated (replaced by a rolling update), as
 * swarmkit's tasks are when the service's endpoint changes.
 */
bool alloc_task_current(struct orch_model *m, const struct orch_service *s,
			const struct orch_task *t);

/**
 * alloc_attach_spec() - the stored spec and status of a new network
 * attachment (docs/overlay.md, "Attachable overlays"): a task without
 * ServiceID on node @node_id (the asking node, from its session's
 * certificate), desired running, state new, for container @ctr_id on
 * network @net_id, answering to @names (@n, the container's name first,
 * then its aliases; none: reachable by address only). @ctr_id is "" when
 * the container does not exist yet (docker run: the runtime draws its id
 * in the create, after the address is known). The allocator gives it its
 * address (alloc_pass()). *@spec and *@status are owned (free with
 * shoal_free()). 0, -EINVAL for a name that is not a string of 1..255
 * bytes or more than ALLOC_ATTACH_NAMES_MAX names, or -ENOMEM.
 */
#define ALLOC_ATTACH_NAMES_MAX 64
int alloc_attach_spec(const char *node_id, const char *net_id,
		      const char *ctr_id, const char *const *names, size_t n,
		      int64_t now_ns, char **spec, char **status);

/** alloc_service_has_nets() - whether tasks of @s need the allocator
 * (made in state new). */
bool alloc_service_has_nets(const struct orch_service *s);

/** alloc__net_decode() - the overlay network object @o for the model;
 * NULL when it holds no allocation (or out of memory). Free with
 * shoal_free(). */
struct orch_net *alloc__net_decode(const struct store_object *o);
/** alloc__service_fill() - @s's nets, dnsrr and vips from its spec and
 * status; 0 or -ENOMEM. */
int alloc__service_fill(struct orch_service *s);
/** alloc__task_fill() - @t's nets_text and addrs from its stored spec
 * @sp; 0, -ENOMEM, or -EINVAL for attachments that do not decode. */
int alloc__task_fill(struct orch_task *t, const json_t *sp);

/**
 * alloc_items() - the assignment items of kind "network" (contract: one
 * per overlay on which node @node_id has a task from assigned on) for
 * @m as it is, each passed to @emit (a compact JSON text, owned by the
 * callee, with its length). Returns 0, -ENOMEM, or what @emit returned
 * (negative: stop).
 */
int alloc_items(struct orch_model *m, const char *node_id,
		int (*emit)(void *arg, char *json, size_t len), void *arg);

#endif
