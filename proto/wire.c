/*
 * Framing and the protobuf-c allocator: see wire.h.
 *
 * The decoder is a small state machine: it gathers the four header bytes
 * (possibly one at a time), checks the length against the limit, then
 * either hands out a frame lying whole in the input or allocates exactly
 * the frame's size and gathers it. Errors are sticky so a caller that
 * ignored one cannot resynchronise on garbage.
 */
#include "proto/wire.h"

#include <errno.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"

static void *pb_alloc(void *data, size_t size)
{
	return shoal_malloc(size);
}

static void pb_free(void *data, void *p)
{
	shoal_free(p);
}

ProtobufCAllocator wire_pb_allocator = {
	.alloc = pb_alloc,
	.free = pb_free,
	.allocator_data = NULL,
};

static void *tracked_alloc(void *data, size_t size)
{
	struct wire_pb_tracker *t = data;
	void *p = shoal_malloc(size);
	if (!p)
		t->failed = true;
	return p;
}

void wire_pb_tracker_init(struct wire_pb_tracker *t)
{
	t->alloc.alloc = tracked_alloc;
	t->alloc.free = pb_free;
	t->alloc.allocator_data = t;
	t->failed = false;
}

void wire_put_header(uint8_t out[WIRE_HEADER_LEN], uint32_t len)
{
	out[0] = (uint8_t)(len >> 24);
	out[1] = (uint8_t)(len >> 16);
	out[2] = (uint8_t)(len >> 8);
	out[3] = (uint8_t)len;
}

uint32_t wire_get_header(const uint8_t in[WIRE_HEADER_LEN])
{
	return (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 |
	       (uint32_t)in[2] << 8 | (uint32_t)in[3];
}

void wire_decoder_init(struct wire_decoder *d, size_t max_frame)
{
	memset(d, 0, sizeof(*d));
	d->max_frame = max_frame ? max_frame : WIRE_DEFAULT_MAX_FRAME;
}

void wire_decoder_fini(struct wire_decoder *d)
{
	shoal_free(d->payload);
	d->payload = NULL;
	d->payload_len = 0;
	d->payload_have = 0;
	d->header_len = 0;
}

size_t wire_decoder_buffered(const struct wire_decoder *d)
{
	return d->header_len + d->payload_have;
}

bool wire_decoder_idle(const struct wire_decoder *d)
{
	return d->header_len == 0 && !d->payload;
}

static int fail(struct wire_decoder *d, int rc)
{
	d->error = rc;
	wire_decoder_fini(d);
	return rc;
}

/* Hand out the gathered frame and return to the between-frames state. */
static int deliver_gathered(struct wire_decoder *d, wire_frame_fn *fn,
			    void *arg)
{
	uint8_t *p = d->payload;
	size_t len = d->payload_len;
	d->payload = NULL;
	d->payload_len = 0;
	d->payload_have = 0;
	d->header_len = 0;
	int rc = fn(arg, p, len);
	shoal_free(p);
	return rc;
}

int wire_decoder_feed(struct wire_decoder *d, uint8_t *data, size_t len,
		      wire_frame_fn *fn, void *arg)
{
	if (d->error)
		return d->error;
	while (len > 0) {
		if (d->payload) {
			size_t n = d->payload_len - d->payload_have;
			n = n < len ? n : len;
			memcpy(d->payload + d->payload_have, data, n);
			d->payload_have += n;
			data += n;
			len -= n;
			if (d->payload_have < d->payload_len)
				return 0;
			int rc = deliver_gathered(d, fn, arg);
			if (rc)
				return fail(d, rc);
			continue;
		}
		if (d->header_len < WIRE_HEADER_LEN) {
			size_t n = WIRE_HEADER_LEN - d->header_len;
			n = n < len ? n : len;
			memcpy(d->header + d->header_len, data, n);
			d->header_len += n;
			data += n;
			len -= n;
			if (d->header_len < WIRE_HEADER_LEN)
				return 0;
		}
		size_t flen = wire_get_header(d->header);
		if (flen > d->max_frame)
			return fail(d, SHOAL_EFRAME);
		if (flen <= len) {
			/* Whole in this piece: hand it out in place. */
			d->header_len = 0;
			int rc = fn(arg, data, flen);
			if (rc)
				return fail(d, rc);
			data += flen;
			len -= flen;
			continue;
		}
		d->payload = shoal_malloc(flen);
		if (!d->payload)
			return fail(d, -ENOMEM);
		d->payload_len = flen;
		d->payload_have = 0;
	}
	return 0;
}
