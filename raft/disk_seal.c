/*
 * Payload encryption for the raft disk log: see disk_seal.h for the
 * formats and why snapshots use a bare stream cipher. libsodium only; no
 * construction of our own beyond laying out nonces.
 */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "common/alloc.h"
#include "common/error.h"
#include "raft/disk_seal.h"

#define NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void make_ad(uint8_t ad[20], uint64_t index, uint64_t term,
		    uint32_t type)
{
	put64(ad, index);
	put64(ad + 8, term);
	type &= ~DISK_TYPE_SEALED;
	for (int i = 0; i < 4; i++)
		ad[16 + i] = (uint8_t)(type >> (8 * i));
}

int disk__seal(const uint8_t key[DISK_KEY_LEN], uint64_t index, uint64_t term,
	       uint32_t type, const void *p, uint32_t len, uint8_t **out)
{
	_Static_assert(NONCE + crypto_aead_xchacha20poly1305_ietf_ABYTES ==
			       DISK_SEAL_OVERHEAD,
		       "overhead");
	uint8_t *c = shoal_malloc((size_t)len + DISK_SEAL_OVERHEAD);
	if (!c)
		return -ENOMEM;
	uint8_t ad[20];
	make_ad(ad, index, term, type);
	randombytes_buf(c, NONCE);
	crypto_aead_xchacha20poly1305_ietf_encrypt(c + NONCE, NULL, p, len, ad,
						   sizeof(ad), NULL, c, key);
	*out = c;
	return 0;
}

int disk__unseal(const uint8_t key[DISK_KEY_LEN], uint64_t index, uint64_t term,
		 uint32_t type, uint8_t *p, uint32_t len, uint32_t *plain_len)
{
	if (len < DISK_SEAL_OVERHEAD)
		return SHOAL_ECORRUPT;
	uint8_t ad[20], nonce[NONCE];
	make_ad(ad, index, term, type);
	memcpy(nonce, p, NONCE);
	unsigned long long n;
	/* libsodium allows the output to overlap the input exactly only, so
	 * decrypt in place past the nonce, then move down. */
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		    p + NONCE, &n, NULL, p + NONCE, len - NONCE, ad, sizeof(ad),
		    nonce, key) != 0)
		return SHOAL_ECORRUPT;
	memmove(p, p + NONCE, (size_t)n);
	*plain_len = (uint32_t)n;
	return 0;
}

void disk__snap_xor(const uint8_t key[DISK_KEY_LEN],
		    const uint8_t nonce8[DISK_SNAP_NONCE], uint64_t index,
		    uint64_t term, uint64_t off, uint8_t *buf, size_t len)
{
	uint8_t n[crypto_stream_xchacha20_NONCEBYTES];
	memcpy(n, nonce8, DISK_SNAP_NONCE);
	put64(n + 8, index);
	put64(n + 16, term);
	uint64_t skip = off % 64;
	if (skip && len) {
		uint8_t blk[64] = {0};
		crypto_stream_xchacha20_xor_ic(blk, blk, sizeof(blk), n,
					       off / 64, key);
		size_t k = 64 - skip < len ? (size_t)(64 - skip) : len;
		for (size_t i = 0; i < k; i++)
			buf[i] ^= blk[skip + i];
		sodium_memzero(blk, sizeof(blk));
		off += k;
		buf += k;
		len -= k;
	}
	if (len)
		crypto_stream_xchacha20_xor_ic(buf, buf, len, n, off / 64, key);
}

uint32_t disk__snap_check(const uint8_t key[DISK_KEY_LEN],
			  const uint8_t nonce8[DISK_SNAP_NONCE])
{
	static const char label[] = "shoal snapshot key check";
	uint8_t in[DISK_SNAP_NONCE + sizeof(label)], out[16];
	memcpy(in, nonce8, DISK_SNAP_NONCE);
	memcpy(in + DISK_SNAP_NONCE, label, sizeof(label));
	crypto_generichash(out, sizeof(out), in, sizeof(in), key, DISK_KEY_LEN);
	uint32_t v = (uint32_t)out[0] | (uint32_t)out[1] << 8 |
		     (uint32_t)out[2] << 16 | (uint32_t)out[3] << 24;
	return v | 1u;
}
