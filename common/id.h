/*
 * Object ids. Swarm objects (nodes, services, tasks, networks) carry
 * Docker's 25-character lowercase base-36 ids drawn from 128 random bits;
 * containers and images carry 64-hex-digit ids. Randomness is libsodium's
 * (getrandom), so ids are unguessable. Deterministic cores get ids passed
 * in; they never call these.
 */
#ifndef SHOAL_COMMON_ID_H
#define SHOAL_COMMON_ID_H

#include <stdbool.h>
#include <stddef.h>

#define ID_SWARM_LEN 25
#define ID_HEX_LEN 64

/** id_swarm() - a fresh swarm id into @out (ID_SWARM_LEN + 1 bytes). */
void id_swarm(char out[ID_SWARM_LEN + 1]);
/** id_hex() - a fresh 64-hex id into @out (ID_HEX_LEN + 1 bytes). */
void id_hex(char out[ID_HEX_LEN + 1]);
/** id_is_hex() - whether @s is exactly @len lowercase hex digits. */
bool id_is_hex(const char *s, size_t len);
/** id_is_swarm() - whether @s looks like a swarm id. */
bool id_is_swarm(const char *s);
/* A name the overlays' resolver answers: dot-separated labels of
 * [A-Za-z0-9_-], 1..63 each, @max in all (docs/dns.md). */
bool id_is_dns_name(const char *s, size_t max);

#endif
