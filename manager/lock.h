/*
 * Swarm autolock (Docker's `swarm init --autolock`, `swarm unlock`,
 * `swarm unlock-key`): the keys that protect a manager's data at rest.
 *
 * A random data-encryption key (DEK) encrypts the Raft log and snapshots
 * (raft/disk.h, options.key) and this node's key files and state. The DEK
 * lives in <data-root>/swarm/dek, either in the clear (autolock off) or
 * sealed with the key-encryption key (KEK), which is the unlock key the
 * operator holds (autolock on). Rotating the unlock key re-wraps the DEK
 * only; nothing else is rewritten. A node whose DEK file is sealed starts
 * locked: nothing of its swarm runs until the operator gives the key.
 *
 * Unlock keys are printed as "SWMKEY-1-" and the 32 bytes in unpadded
 * base64, like Docker's. Everything is libsodium's secretbox
 * (XSalsa20-Poly1305) with random nonces; the KEK is 256 random bits, so
 * it is used as is (no password hashing). Formats: docs/autolock.md.
 */
#ifndef SHOAL_MANAGER_LOCK_H
#define SHOAL_MANAGER_LOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SWARM_KEY_LEN 32
#define SWARM_UNLOCK_KEY_MAX 64 /* text form, with its NUL */

/** swarm_lock_key_format() - the text form of @kek ("SWMKEY-1-..."). */
void swarm_lock_key_format(const uint8_t kek[SWARM_KEY_LEN],
			   char out[SWARM_UNLOCK_KEY_MAX]);

/**
 * swarm_lock_key_parse() - @text (surrounding blanks allowed) into @kek.
 * Returns 0 or -EINVAL (not an unlock key; Docker says "invalid key").
 */
int swarm_lock_key_parse(const char *text, uint8_t kek[SWARM_KEY_LEN]);

/**
 * swarm_lock_dek_write() - write @dek to <data-root>/swarm/dek (atomic,
 * 0600), sealed with @kek, or in the clear when @kek is NULL.
 * Returns 0 or -errno.
 */
int swarm_lock_dek_write(const char *data_root,
			 const uint8_t dek[SWARM_KEY_LEN], const uint8_t *kek);

/**
 * swarm_lock_dek_read() - read the DEK into @dek, unsealing it with @kek
 * (NULL: none given). Returns 0; -ENOENT (no DEK file: data in the
 * clear); -ENOKEY (the DEK is sealed and no @kek was given: the node is
 * locked); -EKEYREJECTED (@kek does not open it: "invalid key");
 * SHOAL_ECORRUPT (not a DEK file); -errno. @locked, when not NULL, says
 * whether the file is sealed.
 */
int swarm_lock_dek_read(const char *data_root, const uint8_t *kek,
			uint8_t dek[SWARM_KEY_LEN], bool *locked);

/** swarm_lock_is_locked() - does <data-root>/swarm/dek need a key? */
bool swarm_lock_is_locked(const char *data_root);

/**
 * swarm_lock_seal() - @len bytes of @p sealed with @dek into *@out
 * (owned, shoal_free; *@out_len bytes). Returns 0 or -ENOMEM.
 */
int swarm_lock_seal(const uint8_t dek[SWARM_KEY_LEN], const void *p, size_t len,
		    uint8_t **out, size_t *out_len);

/** swarm_lock_is_sealed() - do these file bytes come from _seal()? */
bool swarm_lock_is_sealed(const uint8_t *p, size_t len);

/**
 * swarm_lock_open() - open a sealed file's bytes in place: on success the
 * plaintext is at @p and *@plain_len long. Returns 0 or SHOAL_ECORRUPT
 * (wrong key or altered bytes).
 */
int swarm_lock_open(const uint8_t dek[SWARM_KEY_LEN], uint8_t *p, size_t len,
		    size_t *plain_len);

#endif
