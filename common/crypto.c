/*
 * libsodium wrappers: see crypto.h.
 */
#include "common/crypto.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

int shoal_crypto_init(void)
{
	return sodium_init() < 0 ? -EIO : 0;
}

void shoal_sha256(const void *data, size_t len, uint8_t out[SHA256_BYTES])
{
	crypto_hash_sha256(out, data, len);
}

void shoal_sha256_str(const void *data, size_t len, char out[DIGEST_STR_LEN])
{
	uint8_t d[SHA256_BYTES];
	shoal_sha256(data, len, d);
	memcpy(out, "sha256:", 7);
	shoal_hex(d, sizeof(d), out + 7);
}

void shoal_hex(const uint8_t *in, size_t len, char *out)
{
	sodium_bin2hex(out, len * 2 + 1, in, len);
}

int shoal_unhex(const char *hex, uint8_t *out, size_t len)
{
	size_t got = 0;
	const char *end = NULL;
	if (strlen(hex) != len * 2)
		return -EINVAL;
	if (sodium_hex2bin(out, len, hex, len * 2, NULL, &got, &end) != 0 ||
	    got != len || *end != '\0')
		return -EINVAL;
	return 0;
}

bool shoal_equal_ct(const void *a, const void *b, size_t len)
{
	return sodium_memcmp(a, b, len) == 0;
}

void shoal_wipe(void *p, size_t len)
{
	sodium_memzero(p, len);
}

void shoal_random(void *p, size_t len)
{
	randombytes_buf(p, len);
}

uint64_t shoal_random_u64(void)
{
	uint64_t v;
	randombytes_buf(&v, sizeof(v));
	return v;
}
