/*
 * Fixed-width integers in byte buffers, little-endian: the byte order of
 * every on-disk format of Shoal's own (the Raft log and its metadata, the
 * sealed key files). Header-only, so the compiler turns each into one load
 * or store; the buffers need no alignment. The wire's frame length is
 * big-endian and lives with the frame code (proto/wire.c).
 */
#ifndef SHOAL_COMMON_BYTES_H
#define SHOAL_COMMON_BYTES_H

#include <endian.h>
#include <stdint.h>
#include <string.h>

static inline void put_le32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

static inline void put_le64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, sizeof(v));
}

static inline uint32_t get_le32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static inline uint64_t get_le64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

#endif
