/*
 * Fuzz target: a blob holder's frame as the fetcher decodes it
 * (blobsvc_frame_parse(), worker/blob_service.h). The input is cut into
 * frames by a leading length byte each. Whatever the bytes, the decoder
 * returns a kind or -EINVAL, never reads past the frame, and what it
 * accepts keeps the protocol's rules (a blob frame names a digest, an
 * end frame is empty, a refusal is 1..512 printable bytes); else the target
 * aborts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "worker/blob_service.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one(const uint8_t *f, size_t n)
{
	/* A copy of exactly the frame's size, so ASan sees any overread. */
	uint8_t *copy = malloc(n ? n : 1);
	if (!copy)
		abort();
	memcpy(copy, f, n);
	enum blobsvc_kind kind;
	const uint8_t *p = NULL;
	size_t plen = 0;
	int rc = blobsvc_frame_parse(copy, n, &kind, &p, &plen);
	if (rc == 0) {
		if (p != copy + 1 || plen != n - 1)
			abort();
		if (kind == BLOBSVC_END && plen)
			abort();
		if (kind == BLOBSVC_ERROR) {
			if (!plen || plen > 512)
				abort();
			for (size_t i = 0; i < plen; i++)
				if (p[i] < 0x20 || p[i] > 0x7e)
					abort();
		}
		if (kind == BLOBSVC_BLOB &&
		    (plen != 71 || memcmp(p, "sha256:", 7)))
			abort();
		if (kind != BLOBSVC_BLOB && kind != BLOBSVC_DATA &&
		    kind != BLOBSVC_END && kind != BLOBSVC_ERROR)
			abort();
	} else if (rc != -EINVAL) {
		abort();
	}
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;
	while (off < size) {
		size_t n = data[off++];
		if (n > size - off)
			n = size - off;
		one(data + off, n);
		off += n;
	}
	return 0;
}
