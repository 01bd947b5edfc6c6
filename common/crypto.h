/*
 * Thin wrappers over libsodium for what Shoal needs in more than one module:
 * initialisation, sha256 digests in Docker's "sha256:<hex>" form, hex and
 * base64, constant-time comparison, and wiping. The secure channel's own
 * cryptography (Ed25519, X25519, AEAD) lives in proto/, which uses libsodium
 * directly behind its own small interface.
 */
#ifndef SHOAL_COMMON_CRYPTO_H
#define SHOAL_COMMON_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHA256_BYTES 32
#define SHA256_HEX_LEN 64
/* "sha256:" + 64 hex + NUL */
#define DIGEST_STR_LEN (7 + SHA256_HEX_LEN + 1)

/** shoal_crypto_init() - sodium_init(); 0 or -EIO. Safe to call often. */
int shoal_crypto_init(void);

void shoal_sha256(const void *data, size_t len, uint8_t out[SHA256_BYTES]);
/** shoal_sha256_str() - "sha256:<hex>" of @data into @out. */
void shoal_sha256_str(const void *data, size_t len, char out[DIGEST_STR_LEN]);

/** shoal_hex() - @len bytes as lowercase hex into @out (2*len+1 bytes). */
void shoal_hex(const uint8_t *in, size_t len, char *out);
/** shoal_unhex() - exactly @len bytes from 2*len hex digits; -EINVAL. */
int shoal_unhex(const char *hex, uint8_t *out, size_t len);

/** shoal_equal_ct() - constant-time comparison of secrets. */
bool shoal_equal_ct(const void *a, const void *b, size_t len);
/** shoal_wipe() - zero memory the compiler may not optimise away. */
void shoal_wipe(void *p, size_t len);
/** shoal_random() - @len random bytes from the kernel. */
void shoal_random(void *p, size_t len);
/** shoal_random_u64() - a uniformly random 64-bit number. */
uint64_t shoal_random_u64(void);

#endif
