/*
 * The allocator's pure core for overlay networks (docs/overlay.md): the
 * check of Docker's NetworkCreateRequest for `-d overlay`, and the choice
 * of a network's VXLAN id (VNI), subnet and gateway against the networks
 * the store already holds. No I/O, no clock, no randomness: the leader
 * runs it while it builds the "network-create" change (ops_network.c),
 * so the choice is written into the same Raft entry as the network and
 * survives any failover.
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

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define ALLOC_VNI_FIRST 4096u
#define ALLOC_VNI_LAST 16777215u    /* 24 bits */
#define ALLOC_POOL_BASE 0x0a000000u /* 10.0.0.0 */
#define ALLOC_POOL_PREFIX 8
#define ALLOC_POOL_SIZE 24
#define ALLOC_MTU_MIN 68
#define ALLOC_MTU_MAX 9000
#define ALLOC_MAX_NETWORKS 4096

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
 * -ENOSPC when the subnet is full. Pure; the leader component that will
 * call it for tasks and VIPs is not written yet (docs/overlay.md).
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
 * alloc_net_apply() completed). 0, or -EINVAL when it holds none.
 */
int alloc_net_read(const json_t *spec, struct alloc_net *a);

/** alloc_cidr_parse() - "A.B.C.D/P" into host-order @addr and @prefix;
 * 0 or -EINVAL. The address must be the network's (no host bits). */
int alloc_cidr_parse(const char *s, uint32_t *addr, uint8_t *prefix);

/** alloc_addr_format() - a host-order IPv4 address as text into @out. */
void alloc_addr_format(uint32_t addr, char out[16]);

#endif
