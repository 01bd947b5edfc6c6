/*
 * Framing. Every byte stream between Shoal nodes is a sequence of frames: a
 * 4-byte big-endian payload length and the payload. The payload is a
 * protobuf message (plain framing) or an AEAD ciphertext (the secure
 * channel, channel.h). A length above the decoder's limit (16 MiB unless
 * configured) is refused as soon as its four bytes arrive, before any
 * memory is reserved for it, so a peer cannot make us allocate more than
 * one frame's worth.
 *
 * The decoder takes bytes in whatever pieces the socket delivers (libuv
 * reads) and hands out whole frames. A frame that arrives entirely inside
 * one piece is handed out in place, without a copy; only a frame split
 * across pieces is gathered into a buffer of exactly its size. Buffered
 * bytes never exceed limit + 4.
 *
 * Also here: wire_pb_allocator, the ProtobufCAllocator that routes every
 * protobuf-c decode through shoal_malloc/shoal_free, so decoded messages
 * count toward leak checks and fail under allocation injection. Pass it to
 * every *__unpack() and *__free_unpacked() call.
 */
#ifndef SHOAL_PROTO_WIRE_H
#define SHOAL_PROTO_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#define WIRE_HEADER_LEN 4
#define WIRE_DEFAULT_MAX_FRAME (16u * 1024 * 1024)

/** The protobuf-c allocator over shoal_malloc/shoal_free. */
extern ProtobufCAllocator wire_pb_allocator;

/**
 * struct wire_pb_tracker - wire_pb_allocator that also records a failed
 * allocation, so that a NULL from *__unpack() can be told apart: out of
 * memory (-ENOMEM) or malformed input. Init, pass &t.alloc to unpack and
 * free_unpacked, and look at t.failed when unpack returns NULL.
 */
struct wire_pb_tracker {
	ProtobufCAllocator alloc;
	bool failed;
};

void wire_pb_tracker_init(struct wire_pb_tracker *t);

/** wire_put_header() - write @len as the 4-byte big-endian header. */
void wire_put_header(uint8_t out[WIRE_HEADER_LEN], uint32_t len);
/** wire_get_header() - read a 4-byte big-endian length. */
uint32_t wire_get_header(const uint8_t in[WIRE_HEADER_LEN]);

/**
 * wire_frame_fn - a whole frame decoded. @payload is borrowed, valid only
 * during the call, and writable (the secure channel decrypts in place).
 * Return 0 to go on, or a negative code to stop: wire_decoder_feed()
 * returns that code at once and leaves the decoder unusable.
 */
typedef int wire_frame_fn(void *arg, uint8_t *payload, size_t len);

struct wire_decoder {
	size_t max_frame;
	uint8_t header[WIRE_HEADER_LEN];
	size_t header_len; /* header bytes held, 0..4 */
	uint8_t *payload;  /* a split frame being gathered, or NULL */
	size_t payload_len;
	size_t payload_have;
	int error; /* sticky: once a feed fails, every later one does */
};

/**
 * wire_decoder_init() - an empty decoder refusing frames over @max_frame
 * bytes (0: WIRE_DEFAULT_MAX_FRAME). Allocates nothing.
 */
void wire_decoder_init(struct wire_decoder *d, size_t max_frame);
/** wire_decoder_fini() - drop any partial frame. */
void wire_decoder_fini(struct wire_decoder *d);

/**
 * wire_decoder_feed() - take @len bytes and call @fn for each frame they
 * complete, in order. @data is writable because whole frames are handed to
 * @fn in place.
 *
 * Returns 0; SHOAL_EFRAME for a length over the limit (nothing allocated
 * for it); -ENOMEM; or the first nonzero return of @fn. After an error the
 * decoder refuses all further input with the same code.
 */
int wire_decoder_feed(struct wire_decoder *d, uint8_t *data, size_t len,
		      wire_frame_fn *fn, void *arg);

/** wire_decoder_buffered() - bytes held for a partial frame. */
size_t wire_decoder_buffered(const struct wire_decoder *d);

/** wire_decoder_idle() - whether the decoder sits between frames. */
bool wire_decoder_idle(const struct wire_decoder *d);

#endif
