/*
 * IPv4 address management, pure: prefixes, overlap, carving a network's
 * subnet out of the default pools, and the next free address of a
 * subnet. What is allocated lives in the network records (network.c);
 * this file only answers questions about numbers, so the unit tests run
 * it directly.
 *
 * Docker's rules (moby libnetwork/ipams/defaultipam): a subnet from a pool
 * is the first one of the pool's size that overlaps no existing network;
 * addresses are handed out in order after the last one given, wrapping
 * at the end of the range, never the network or broadcast address and
 * never the gateway (which the caller marks as taken).
 */
#include "overlay-net/internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint32_t net__mask(int len)
{
	return len <= 0 ? 0 : len >= 32 ? 0xffffffffu : ~(0xffffffffu >> len);
}

int net__parse_ip(const char *s, uint32_t *out)
{
	struct in_addr a;

	if (!s || inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*out = ntohl(a.s_addr);
	return 0;
}

void net__ip_str(uint32_t ip, char out[16])
{
	snprintf(out, 16, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255,
		 (ip >> 8) & 255, ip & 255);
}

int net__parse_cidr(const char *s, struct net__prefix *out, uint32_t *addr,
		    bool host_ok)
{
	char ip[16];
	const char *slash = s ? strchr(s, '/') : NULL;
	char *end;
	long len;
	uint32_t a;

	if (!slash || (size_t)(slash - s) >= sizeof(ip) || !slash[1])
		return -EINVAL;
	memcpy(ip, s, slash - s);
	ip[slash - s] = '\0';
	errno = 0;
	len = strtol(slash + 1, &end, 10);
	if (*end || errno || len < 0 || len > 32 || slash[1] == '-' ||
	    slash[1] == '+' || net__parse_ip(ip, &a) < 0)
		return -EINVAL;
	if (!host_ok && (a & ~net__mask((int)len)))
		return -EINVAL;
	if (addr)
		*addr = a;
	out->addr = a & net__mask((int)len);
	out->len = (int)len;
	return 0;
}

bool net__contains(const struct net__prefix *p, uint32_t ip)
{
	return (ip & net__mask(p->len)) == p->addr;
}

bool net__overlaps(const struct net__prefix *a, const struct net__prefix *b)
{
	int len = a->len < b->len ? a->len : b->len;

	return (a->addr & net__mask(len)) == (b->addr & net__mask(len));
}

int net__pool_next(const struct net__prefix *base, int size,
		   const struct net__prefix *used, size_t n_used,
		   struct net__prefix *out)
{
	uint64_t step, end, a;

	if (size < base->len || size > 30)
		return -EINVAL;
	step = 1ull << (32 - size);
	end = (uint64_t)base->addr + (1ull << (32 - base->len));
	for (a = base->addr; a < end; a += step) {
		struct net__prefix c = {(uint32_t)a, size};
		size_t i;

		for (i = 0; i < n_used && !net__overlaps(&c, &used[i]); i++)
			;
		if (i == n_used) {
			*out = c;
			return 0;
		}
	}
	return -ENOSPC;
}

int net__ip_next(const struct net__prefix *subnet,
		 const struct net__prefix *range, uint32_t last,
		 net__taken_fn *taken, void *arg, uint32_t *out)
{
	uint64_t size = 1ull << (32 - range->len);
	uint32_t net_addr = subnet->addr;
	uint32_t bcast = subnet->addr | ~net__mask(subnet->len);
	uint64_t off = net__contains(range, last) ? last - range->addr + 1 : 0;

	for (uint64_t i = 0; i < size; i++) {
		uint32_t ip = range->addr + (uint32_t)((off + i) % size);

		if (subnet->len < 31 && (ip == net_addr || ip == bcast))
			continue;
		if (!taken(ip, arg)) {
			*out = ip;
			return 0;
		}
	}
	return -ENOSPC;
}

void net__mac_of(uint32_t ip, char out[18])
{
	snprintf(out, 18, "02:42:%02x:%02x:%02x:%02x", ip >> 24,
		 (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
}

int net__parse_mac(const char *s, uint8_t out[6])
{
	unsigned v[6];
	char tail;

	if (!s || strlen(s) != 17 ||
	    sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		out[i] = (uint8_t)v[i];
	/* A multicast address cannot be an interface's. */
	return out[0] & 1 ? -EINVAL : 0;
}
