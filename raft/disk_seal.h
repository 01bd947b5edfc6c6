/*
 * Encryption at rest for the raft disk log (internal to raft/; see
 * docs/autolock.md). With a data-encryption key (DEK) set, every entry
 * payload is written as nonce (24 random bytes) || XChaCha20-Poly1305
 * ciphertext and tag, the entry's index, term and type as associated data
 * so a record cannot be moved elsewhere in the log; the record's type gets
 * DISK_TYPE_SEALED so a log written before the key was set (plaintext)
 * still reads. The record CRC covers the ciphertext: torn-tail detection
 * is unchanged and needs no key.
 *
 * Snapshot data is a stream (written in chunks, read back at any offset to
 * send to followers), so it is XChaCha20 keystream XORed at its offset,
 * nonce = 8 random bytes from the header || index || term, and the header
 * carries a 31-bit key check (keyed BLAKE2b of the nonce) so that a wrong
 * key is refused rather than yielding garbage; integrity is
 * the CRC over the ciphertext plus the state machine's own decoding (a
 * disk attacker can flip bits, not read them: the goal is confidentiality
 * of a stolen disk, as in Docker's autolock).
 */
#ifndef SHOAL_RAFT_DISK_SEAL_H
#define SHOAL_RAFT_DISK_SEAL_H

#include <stddef.h>
#include <stdint.h>

#define DISK_KEY_LEN 32u
#define DISK_SEAL_OVERHEAD 40u /* nonce + tag */
#define DISK_TYPE_SEALED 0x80000000u
#define DISK_SNAP_NONCE 8u

/**
 * disk__seal() - encrypt @len bytes of @p for the entry (@index, @term,
 * @type) into a new buffer *@out (shoal_malloc, len + DISK_SEAL_OVERHEAD).
 * Returns 0 or -ENOMEM.
 */
int disk__seal(const uint8_t key[DISK_KEY_LEN], uint64_t index, uint64_t term,
	       uint32_t type, const void *p, uint32_t len, uint8_t **out);

/**
 * disk__unseal() - decrypt a sealed payload of @len bytes in place; on
 * success *@plain_len is its plaintext length and the plaintext starts at
 * @p (moved down). Returns 0 or SHOAL_ECORRUPT (wrong key, altered bytes,
 * too short).
 */
int disk__unseal(const uint8_t key[DISK_KEY_LEN], uint64_t index, uint64_t term,
		 uint32_t type, uint8_t *p, uint32_t len, uint32_t *plain_len);

/** disk__snap_xor() - XOR @len bytes at stream offset @off with the
 * keystream of the snapshot (@nonce8, @index, @term). */
void disk__snap_xor(const uint8_t key[DISK_KEY_LEN],
		    const uint8_t nonce8[DISK_SNAP_NONCE], uint64_t index,
		    uint64_t term, uint64_t off, uint8_t *buf, size_t len);

/** disk__snap_check() - the non-zero key check stored in a sealed
 * snapshot's header for @key and @nonce8. */
uint32_t disk__snap_check(const uint8_t key[DISK_KEY_LEN],
			  const uint8_t nonce8[DISK_SNAP_NONCE]);

#endif
