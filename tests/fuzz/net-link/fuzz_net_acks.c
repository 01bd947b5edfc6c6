/*
 * net__nl_acks() on arbitrary bytes: what the kernel answers a netlink
 * batch with is read before being believed. Any buffer gives 0 (every
 * message an acknowledgement of the batch) or -EPROTO, never a read past
 * the buffer, and never more acknowledgements than messages read.
 */
#include "overlay-net/internal.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy with netlink's alignment, as recvfrom() gives it. */
	uint32_t *buf = malloc(size + 4);
	size_t got = 0, failed = 0;
	int err = 0, rc;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	rc = net__nl_acks(buf, size, 100, 8, &got, &err, &failed);
	if (rc != 0 && rc != -EPROTO)
		abort();
	if (got > size / 16 || (err && failed >= 8) || err > 0)
		abort();
	free(buf);
	return 0;
}
