/*
 * Hash map from byte-string keys to borrowed pointers: open addressing with
 * linear probing and backward-shift deletion (no tombstones), so lookups
 * stay short after many deletes. Keys are copied and owned by the map;
 * values are the caller's. Hashing is SipHash-2-4 (libsodium's
 * crypto_shorthash) keyed per process, so remote input cannot force
 * collisions. Iteration order is unspecified: deterministic code (raft, the
 * scheduler) must not depend on it.
 *
 * A map grows at 7/8 load; growth can fail (-ENOMEM) and then leaves the map
 * unchanged. Not thread-safe.
 */
#ifndef SHOAL_COMMON_MAP_H
#define SHOAL_COMMON_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hmap_slot {
	uint64_t hash; /* 0: empty */
	void *key;
	size_t klen;
	void *val;
};

struct hmap {
	struct hmap_slot *slots;
	size_t cap; /* power of two, or 0 */
	size_t len;
};

#define HMAP_INIT                                                              \
	{                                                                      \
		NULL, 0, 0                                                     \
	}

/** hmap_fini() - free the keys and the table; values are not touched. */
void hmap_fini(struct hmap *m);

/**
 * hmap_put() - map @key to @val. If the key was present its old value is
 * stored in *@old (when @old is non-NULL) and replaced. Returns 0 or -ENOMEM
 * (then nothing changed).
 */
int hmap_put(struct hmap *m, const void *key, size_t klen, void *val,
	     void **old);
/** hmap_get() - the value for @key, or NULL. */
void *hmap_get(const struct hmap *m, const void *key, size_t klen);
/** hmap_has() - whether @key is present (values may be NULL). */
bool hmap_has(const struct hmap *m, const void *key, size_t klen);
/** hmap_del() - remove @key; returns its value, or NULL if absent. */
void *hmap_del(struct hmap *m, const void *key, size_t klen);

static inline size_t hmap_len(const struct hmap *m)
{
	return m->len;
}

/**
 * hmap_next() - iterate: start with *@pos = 0; returns false at the end.
 * The map must not change during iteration:
 * collect the keys first to delete some.
 */
bool hmap_next(const struct hmap *m, size_t *pos, const void **key,
	       size_t *klen, void **val);

/* String-keyed conveniences (the terminating NUL is not part of the key). */
int hmap_put_str(struct hmap *m, const char *key, void *val, void **old);
void *hmap_get_str(const struct hmap *m, const char *key);
void *hmap_del_str(struct hmap *m, const char *key);

/* u64-keyed conveniences. */
int hmap_put_u64(struct hmap *m, uint64_t key, void *val, void **old);
void *hmap_get_u64(const struct hmap *m, uint64_t key);
void *hmap_del_u64(struct hmap *m, uint64_t key);

#endif
