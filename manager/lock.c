/*
 * Autolock keys on disk: see lock.h. The DEK file is
 *
 *	"SHOALDEK" | u32 version 1 | u32 mode (0 clear, 1 sealed) | body
 *
 * with body = the 32-byte DEK in the clear, or nonce (24) and
 * secretbox(KEK, DEK) (48). A sealed data file is "SHOALSL1", nonce and
 * secretbox(DEK, plaintext). A file that does not parse is corruption,
 * never a reason to guess; a key that does not open the box is a wrong
 * key, reported as such, and changes nothing.
 */
#include "manager/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "common/alloc.h"
#include "common/bytes.h"
#include "common/crypto.h"
#include "common/error.h"
#include "common/fd.h"

#define KEY_PREFIX "SWMKEY-1-"
#define DEK_MAGIC "SHOALDEK"
#define SEAL_MAGIC "SHOALSL1"
#define NONCE crypto_secretbox_NONCEBYTES
#define MAC crypto_secretbox_MACBYTES
#define DEK_HDR 16
#define DEK_CLEAR_LEN (DEK_HDR + SWARM_KEY_LEN)
#define DEK_SEALED_LEN (DEK_HDR + NONCE + MAC + SWARM_KEY_LEN)

void swarm_lock_key_format(const uint8_t kek[SWARM_KEY_LEN],
			   char out[SWARM_UNLOCK_KEY_MAX])
{
	_Static_assert(
		sizeof(KEY_PREFIX) - 1 +
				sodium_base64_ENCODED_LEN(
					SWARM_KEY_LEN,
					sodium_base64_VARIANT_ORIGINAL_NO_PADDING) <=
			SWARM_UNLOCK_KEY_MAX,
		"room for the key");
	memcpy(out, KEY_PREFIX, sizeof(KEY_PREFIX) - 1);
	sodium_bin2base64(out + sizeof(KEY_PREFIX) - 1,
			  SWARM_UNLOCK_KEY_MAX - (sizeof(KEY_PREFIX) - 1), kek,
			  SWARM_KEY_LEN,
			  sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
}

int swarm_lock_key_parse(const char *text, uint8_t kek[SWARM_KEY_LEN])
{
	if (!text)
		return -EINVAL;
	while (*text == ' ' || *text == '\t' || *text == '\n' || *text == '\r')
		text++;
	size_t len = strlen(text);
	while (len && strchr(" \t\r\n", text[len - 1]))
		len--;
	size_t plen = sizeof(KEY_PREFIX) - 1;
	if (len <= plen || strncmp(text, KEY_PREFIX, plen) != 0)
		return -EINVAL;
	uint8_t raw[SWARM_KEY_LEN + 1];
	size_t got;
	const char *end;
	if (sodium_base642bin(raw, sizeof(raw), text + plen, len - plen, NULL,
			      &got, &end,
			      sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0 ||
	    got != SWARM_KEY_LEN || end != text + len) {
		sodium_memzero(raw, sizeof(raw));
		return -EINVAL;
	}
	memcpy(kek, raw, SWARM_KEY_LEN);
	sodium_memzero(raw, sizeof(raw));
	return 0;
}

static void dek_path(const char *data_root, char *out, size_t cap)
{
	snprintf(out, cap, "%s/swarm/dek", data_root);
}

/* Replace @path with @len bytes of @p: tmp file, fsync, rename, dir fsync. */
static int replace_file(const char *data_root, const char *path,
			const uint8_t *p, size_t len)
{
	char tmp[4220], dir[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int rc = fd_write_all(fd, p, len);
	if (!rc && (fchmod(fd, 0600) < 0 || fsync(fd) < 0))
		rc = -errno;
	close(fd);
	if (!rc && rename(tmp, path) < 0)
		rc = -errno;
	if (rc) {
		unlink(tmp);
		return rc;
	}
	snprintf(dir, sizeof(dir), "%s/swarm", data_root);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	rc = fsync(dfd) < 0 ? -errno : 0;
	close(dfd);
	return rc;
}

int swarm_lock_dek_write(const char *data_root,
			 const uint8_t dek[SWARM_KEY_LEN], const uint8_t *kek)
{
	uint8_t f[DEK_SEALED_LEN];
	size_t len = kek ? DEK_SEALED_LEN : DEK_CLEAR_LEN;
	char path[4200];
	memcpy(f, DEK_MAGIC, 8);
	put_le32(f + 8, 1);
	put_le32(f + 12, kek ? 1 : 0);
	if (kek) {
		randombytes_buf(f + DEK_HDR, NONCE);
		crypto_secretbox_easy(f + DEK_HDR + NONCE, dek, SWARM_KEY_LEN,
				      f + DEK_HDR, kek);
	} else {
		memcpy(f + DEK_HDR, dek, SWARM_KEY_LEN);
	}
	dek_path(data_root, path, sizeof(path));
	int rc = replace_file(data_root, path, f, len);
	sodium_memzero(f, sizeof(f));
	return rc;
}

/* The DEK file's bytes into @f; its length, or -errno / SHOAL_ECORRUPT. */
static ssize_t read_dek_file(const char *data_root, uint8_t *f, size_t cap)
{
	char path[4200];
	dek_path(data_root, path, sizeof(path));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, f, cap);
	int rc = n < 0 ? -errno : 0;
	close(fd);
	if (rc)
		return rc;
	if (n < DEK_HDR || memcmp(f, DEK_MAGIC, 8) != 0 ||
	    get_le32(f + 8) != 1 || get_le32(f + 12) > 1 ||
	    (size_t)n != (get_le32(f + 12) ? DEK_SEALED_LEN : DEK_CLEAR_LEN))
		return SHOAL_ECORRUPT;
	return n;
}

int swarm_lock_dek_read(const char *data_root, const uint8_t *kek,
			uint8_t dek[SWARM_KEY_LEN], bool *locked)
{
	uint8_t f[DEK_SEALED_LEN + 1];
	ssize_t n = read_dek_file(data_root, f, sizeof(f));
	if (n < 0)
		return (int)n;
	bool sealed = get_le32(f + 12) == 1;
	if (locked)
		*locked = sealed;
	int rc = 0;
	if (!sealed)
		memcpy(dek, f + DEK_HDR, SWARM_KEY_LEN);
	else if (!kek)
		rc = -ENOKEY;
	else if (crypto_secretbox_open_easy(dek, f + DEK_HDR + NONCE,
					    SWARM_KEY_LEN + MAC, f + DEK_HDR,
					    kek) != 0)
		rc = -EKEYREJECTED;
	sodium_memzero(f, sizeof(f));
	return rc;
}

bool swarm_lock_is_locked(const char *data_root)
{
	uint8_t f[DEK_SEALED_LEN + 1];
	ssize_t n = read_dek_file(data_root, f, sizeof(f));
	bool sealed = n > 0 && get_le32(f + 12) == 1;
	sodium_memzero(f, sizeof(f));
	return sealed;
}

int swarm_lock_seal(const uint8_t dek[SWARM_KEY_LEN], const void *p, size_t len,
		    uint8_t **out, size_t *out_len)
{
	size_t n = 8 + NONCE + MAC + len;
	uint8_t *c = shoal_malloc(n);
	if (!c)
		return -ENOMEM;
	memcpy(c, SEAL_MAGIC, 8);
	randombytes_buf(c + 8, NONCE);
	crypto_secretbox_easy(c + 8 + NONCE, p, len, c + 8, dek);
	*out = c;
	*out_len = n;
	return 0;
}

bool swarm_lock_is_sealed(const uint8_t *p, size_t len)
{
	return len >= 8 + NONCE + MAC && memcmp(p, SEAL_MAGIC, 8) == 0;
}

int swarm_lock_open(const uint8_t dek[SWARM_KEY_LEN], uint8_t *p, size_t len,
		    size_t *plain_len)
{
	if (!swarm_lock_is_sealed(p, len))
		return SHOAL_ECORRUPT;
	uint8_t nonce[NONCE];
	memcpy(nonce, p + 8, NONCE);
	size_t clen = len - 8 - NONCE;
	/* libsodium's secretbox allows the plaintext to overlap the box. */
	if (crypto_secretbox_open_easy(p, p + 8 + NONCE, clen, nonce, dek) != 0)
		return SHOAL_ECORRUPT;
	*plain_len = clen - MAC;
	return 0;
}
