/*
 * Fuzz target: what a peer sends in a blob fetch (image/blob.h). The
 * first 71 bytes (or fewer) go to the request decoder
 * img_blob_digest_parse(); the rest is a blob's bytes fed to a verified
 * receive in pieces whose sizes the input's bytes choose. The digest
 * asked for is the decoded one when it decoded, else the payload's own
 * sha256. Whatever the input, the receive must keep the blob exactly when
 * its bytes hash to the digest asked for, and leave no file behind when
 * it refuses; else the target aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/crypto.h"
#include "image/blob.h"
#include "image/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char scratch[64];
static struct img_store *store;

static void cleanup(void)
{
	if (store)
		img_store_close(store);
	img__rmrf(scratch);
}

static struct img_store *the_store(void)
{
	if (store)
		return store;
	const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(scratch, sizeof(scratch), "%s/shoal-fuzz-blob.XXXXXX", tmp);
	struct shoal_err err = {0};
	if (!mkdtemp(scratch) || img_store_open(scratch, &store, &err) < 0)
		abort();
	atexit(cleanup);
	return store;
}

static void payload_hex(const uint8_t *p, size_t n, char hex[65])
{
	struct img__hash h;
	if (img__hash_init(&h) < 0)
		abort();
	img__hash_update(&h, p, n);
	img__hash_hex(&h, hex);
	img__hash_free(&h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct img_store *s = the_store();
	struct shoal_err err = {0};
	char hex[65], want[65];
	size_t head = size < 71 ? size : 71;
	bool decoded = img_blob_digest_parse(data, head, hex, &err) == 0;
	const uint8_t *p = data + head;
	size_t n = size - head;
	char own[65];
	payload_hex(p, n, own);
	memcpy(want, decoded ? hex : own, sizeof(want));

	char digest[80];
	snprintf(digest, sizeof(digest), "sha256:%s", want);
	struct img_blob_rx *rx;
	if (img_blob_rx_begin(s, digest, 0, &rx, &err) < 0)
		abort();
	size_t off = 0;
	while (off < n) {
		size_t piece = 1 + p[off] % 64;
		if (piece > n - off)
			piece = n - off;
		if (img_blob_rx_feed(rx, p + off, piece, &err) < 0)
			abort();
		off += piece;
	}
	char *path = NULL;
	int rc = img_blob_rx_finish(rx, &path, &err);
	bool match = !strcmp(want, own);
	if ((rc == 0) != match)
		abort();
	if (rc == 0) {
		if (!path || unlink(path) < 0)
			abort();
		shoal_free(path);
	} else if (path) {
		abort();
	}
	return 0;
}
