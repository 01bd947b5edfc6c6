/*
 * Hash map: see map.h. Invariant: every present key sits at or after its
 * home slot (hash & (cap-1)) with no empty slot between home and itself;
 * backward-shift deletion keeps that true without tombstones.
 */
#include "common/map.h"
#include "common/alloc.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>

static unsigned char hash_key[crypto_shorthash_KEYBYTES];
static pthread_once_t hash_key_once = PTHREAD_ONCE_INIT;

static void init_hash_key(void)
{
	if (sodium_init() >= 0)
		randombytes_buf(hash_key, sizeof(hash_key));
}

static uint64_t hash_bytes(const void *key, size_t klen)
{
	unsigned char out[crypto_shorthash_BYTES];
	uint64_t h;
	pthread_once(&hash_key_once, init_hash_key);
	crypto_shorthash(out, key, klen, hash_key);
	memcpy(&h, out, sizeof(h));
	return h ? h : 1;
}

void hmap_fini(struct hmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].hash)
			shoal_free(m->slots[i].key);
	shoal_free(m->slots);
	m->slots = NULL;
	m->cap = 0;
	m->len = 0;
}

static size_t find(const struct hmap *m, uint64_t h, const void *key,
		   size_t klen)
{
	size_t mask = m->cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		const struct hmap_slot *s = &m->slots[i];
		if (!s->hash)
			return SIZE_MAX;
		if (s->hash == h && s->klen == klen &&
		    memcmp(s->key, key, klen) == 0)
			return i;
	}
}

static void place(struct hmap_slot *slots, size_t cap, struct hmap_slot s)
{
	size_t mask = cap - 1;
	size_t i = s.hash & mask;
	while (slots[i].hash)
		i = (i + 1) & mask;
	slots[i] = s;
}

static int grow(struct hmap *m)
{
	size_t ncap = m->cap ? m->cap * 2 : 16;
	struct hmap_slot *n = shoal_calloc(ncap, sizeof(*n));
	if (!n)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].hash)
			place(n, ncap, m->slots[i]);
	shoal_free(m->slots);
	m->slots = n;
	m->cap = ncap;
	return 0;
}

int hmap_put(struct hmap *m, const void *key, size_t klen, void *val,
	     void **old)
{
	uint64_t h = hash_bytes(key, klen);
	if (m->cap) {
		size_t i = find(m, h, key, klen);
		if (i != SIZE_MAX) {
			if (old)
				*old = m->slots[i].val;
			m->slots[i].val = val;
			return 0;
		}
	}
	if ((m->len + 1) * 8 > m->cap * 7) {
		int rc = grow(m);
		if (rc < 0)
			return rc;
	}
	void *kcopy = shoal_memdup(key, klen);
	if (!kcopy)
		return -ENOMEM;
	struct hmap_slot s = {
		.hash = h, .key = kcopy, .klen = klen, .val = val};
	place(m->slots, m->cap, s);
	m->len++;
	if (old)
		*old = NULL;
	return 0;
}

void *hmap_get(const struct hmap *m, const void *key, size_t klen)
{
	if (!m->cap)
		return NULL;
	size_t i = find(m, hash_bytes(key, klen), key, klen);
	return i == SIZE_MAX ? NULL : m->slots[i].val;
}

bool hmap_has(const struct hmap *m, const void *key, size_t klen)
{
	return m->cap && find(m, hash_bytes(key, klen), key, klen) != SIZE_MAX;
}

void *hmap_del(struct hmap *m, const void *key, size_t klen)
{
	if (!m->cap)
		return NULL;
	size_t i = find(m, hash_bytes(key, klen), key, klen);
	if (i == SIZE_MAX)
		return NULL;
	void *val = m->slots[i].val;
	shoal_free(m->slots[i].key);
	size_t mask = m->cap - 1;
	/* Backward shift: pull later entries of the run into the hole. */
	for (size_t j = (i + 1) & mask; m->slots[j].hash; j = (j + 1) & mask) {
		size_t home = m->slots[j].hash & mask;
		/* Move j into i unless its home lies cyclically in (i, j]. */
		bool in_range = i <= j ? (home > i && home <= j)
				       : (home > i || home <= j);
		if (!in_range) {
			m->slots[i] = m->slots[j];
			i = j;
		}
	}
	memset(&m->slots[i], 0, sizeof(m->slots[i]));
	m->len--;
	return val;
}

bool hmap_next(const struct hmap *m, size_t *pos, const void **key,
	       size_t *klen, void **val)
{
	for (; *pos < m->cap; (*pos)++) {
		const struct hmap_slot *s = &m->slots[*pos];
		if (!s->hash)
			continue;
		if (key)
			*key = s->key;
		if (klen)
			*klen = s->klen;
		if (val)
			*val = s->val;
		(*pos)++;
		return true;
	}
	return false;
}

int hmap_put_str(struct hmap *m, const char *key, void *val, void **old)
{
	return hmap_put(m, key, strlen(key), val, old);
}

void *hmap_get_str(const struct hmap *m, const char *key)
{
	return hmap_get(m, key, strlen(key));
}

void *hmap_del_str(struct hmap *m, const char *key)
{
	return hmap_del(m, key, strlen(key));
}

int hmap_put_u64(struct hmap *m, uint64_t key, void *val, void **old)
{
	return hmap_put(m, &key, sizeof(key), val, old);
}

void *hmap_get_u64(const struct hmap *m, uint64_t key)
{
	return hmap_get(m, &key, sizeof(key));
}

void *hmap_del_u64(struct hmap *m, uint64_t key)
{
	return hmap_del(m, &key, sizeof(key));
}
