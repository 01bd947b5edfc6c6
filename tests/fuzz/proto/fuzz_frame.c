/*
 * Fuzz the frame decoder: the input is cut in two at a point its first
 * byte chooses and fed as two reads; every frame handed out must lie
 * within the limit. The decoder must never crash, overrun or leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "proto/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LIMIT 4096

static int check(void *arg, uint8_t *p, size_t len)
{
	if (len > LIMIT)
		abort();
	if (len)
		p[len - 1] ^= 1; /* frames are writable in place */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	uint8_t *copy = shoal_memdup(data + 1, size - 1);
	if (!copy)
		return 0;
	size_t len = size - 1;
	size_t cut = len ? data[0] % (len + 1) : 0;
	struct wire_decoder d;
	wire_decoder_init(&d, LIMIT);
	if (wire_decoder_feed(&d, copy, cut, check, NULL) == 0)
		wire_decoder_feed(&d, copy + cut, len - cut, check, NULL);
	wire_decoder_fini(&d);
	shoal_free(copy);
	return 0;
}
