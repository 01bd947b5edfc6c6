/*
 * The channel: framed messages over a libuv stream, encrypted and
 * authenticated (WIRE_SECURE) or plain (WIRE_PLAIN, for benchmarks, tests
 * and simulations). Same API either way.
 *
 * A secure channel starts with a handshake (handshake.h, docs/wire.md):
 * ephemeral X25519 keys, each side's certificate checked against the
 * cluster root key it trusts, signatures over the transcript; or, for a
 * joining host that holds only a join token, the server's root key checked
 * against the token's digest and a MAC proving the token secret. Every
 * later frame is ChaCha20-Poly1305 (IETF) with a per-direction counter as
 * nonce, so an altered, replayed, reordered or dropped frame fails
 * authentication and closes the connection.
 *
 * Life cycle, libuv style: wire_chan_open()/wire_chan_accept() return 0
 * and then exactly one closed() callback follows, after which the channel's
 * memory is gone; on failure they return a code and no callback runs.
 * connected() runs once the handshake succeeds (next loop turn in plain
 * mode), then frame() for each frame in order. Everything runs on the
 * loop's thread; no function here is thread-safe.
 *
 * Failures (peer misbehaviour, bad certificate, timeout, I/O errors) close
 * the channel and log exactly one line naming the peer and the cause; the
 * closed() callback gets the code. wire_chan_close() by the application
 * logs nothing and reports 0.
 *
 * Memory is bounded per connection: the read side holds at most one
 * partial frame (max_frame), the write side at most max_write_buffer bytes
 * of queued frames; a send past that gets -ENOBUFS and the writable()
 * callback says when to try again.
 */
#ifndef SHOAL_PROTO_CHANNEL_H
#define SHOAL_PROTO_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>
#include <uv.h>

#include "proto/cert.h"
#include "proto/token.h"

#define WIRE_AEAD_TAG_LEN 16
#define WIRE_DEFAULT_HANDSHAKE_TIMEOUT_MS 10000

enum wire_security {
	WIRE_SECURE = 0,
	WIRE_PLAIN = 1,
};

/** Who is on the other end, as the handshake established it. */
struct wire_peer {
	bool authenticated;  /* secure handshake done (false in plain mode) */
	bool joined;	     /* proved a join token secret; has no cert */
	enum wire_role role; /* from the certificate or granted by the token */
	struct wire_cert_info cert; /* when authenticated && !joined */
};

/**
 * wire_join_lookup_fn - the server's list of valid join secrets (worker and
 * manager, plus the previous ones until rotation completes). Fill @secret
 * and @role with entry @index and return 0, or return -ENOENT past the last
 * entry. The server tries each in turn.
 */
typedef int wire_join_lookup_fn(void *arg, size_t index,
				uint8_t secret[WIRE_TOKEN_SECRET_LEN],
				enum wire_role *role);

/**
 * Configuration. Copied by wire_chan_open() (pointers may be released once
 * it returns), except callback arguments.
 */
struct wire_chan_config {
	enum wire_security security;
	/* Secure mode. The cluster root public key: trusted (certificate
	 * mode), or presented to joining clients (server). Unused by a join
	 * client, which learns it from the server and checks the token. */
	const uint8_t *root_pk;
	/* Our identity key and encoded certificate (not for join clients). */
	const struct wire_keypair *identity;
	const uint8_t *cert;
	size_t cert_len;
	/* Client only: join with this token instead of a certificate. */
	const struct wire_token *token;
	/* Server only: accept joins; NULL refuses them. */
	wire_join_lookup_fn *join_lookup;
	void *join_arg;
	/* Optional extra check of a peer certificate (revocation). */
	wire_cert_check_fn *cert_check;
	void *cert_check_arg;
	/* For log lines, e.g. "10.0.0.2:2377"; copied. NULL: "?". */
	const char *peer_name;
	uint64_t handshake_timeout_ms; /* 0: 10 s */
	/* Failures before the handshake completes are logged at debug level
	 * only: the owner hears of them through closed(@reason) and logs
	 * them itself, rate-limited (a port that strangers can reach). */
	bool quiet_handshake;
	size_t max_frame;	 /* payload bytes; 0: 16 MiB */
	size_t max_write_buffer; /* 0: max_frame + 64 KiB */
};

struct wire_chan;

struct wire_chan_callbacks {
	/* Handshake done; @peer is borrowed for the call. Required. */
	void (*connected)(struct wire_chan *c, const struct wire_peer *peer);
	/* A frame's payload, borrowed for the call. Required. */
	void (*frame)(struct wire_chan *c, const uint8_t *data, size_t len);
	/* After a send was refused with -ENOBUFS, room again. Optional. */
	void (*writable)(struct wire_chan *c);
	/* Exactly once; @reason 0 after wire_chan_close(), else the cause.
	 * The channel is freed when this returns. Required. */
	void (*closed)(struct wire_chan *c, int reason);
};

/**
 * wire_chan_open() - run a channel over the connected stream socket @fd
 * (TCP or a Unix socket, e.g. one end of a socketpair), as the server
 * (@server: answers the handshake) or the client. The channel takes @fd
 * in every case: on failure it is closed too. On success *@out is valid
 * until closed() returns.
 *
 * Returns 0; -EINVAL for a configuration missing what its mode needs;
 * -ENOMEM; a libuv code.
 */
int wire_chan_open(uv_loop_t *loop, int fd, bool server,
		   const struct wire_chan_config *cfg,
		   const struct wire_chan_callbacks *cb, void *data,
		   struct wire_chan **out);

/**
 * wire_chan_accept() - accept one connection from the listening TCP
 * handle @listener (inside its connection callback) and run a server
 * channel on it. Same returns as wire_chan_open().
 */
int wire_chan_accept(uv_loop_t *loop, uv_stream_t *listener,
		     const struct wire_chan_config *cfg,
		     const struct wire_chan_callbacks *cb, void *data,
		     struct wire_chan **out);

/**
 * wire_chan_connect() - connect to the TCP address @addr (IPv4 or IPv6)
 * and run a client channel on it. The connection is made asynchronously:
 * a refused or failed connect arrives as closed() with its code (and one
 * logged line), like any other failure. Same returns as wire_chan_open().
 */
int wire_chan_connect(uv_loop_t *loop, const struct sockaddr *addr,
		      const struct wire_chan_config *cfg,
		      const struct wire_chan_callbacks *cb, void *data,
		      struct wire_chan **out);

/**
 * wire_chan_send() - queue one frame with @len bytes of @data (copied).
 * Returns 0; -ENOTCONN before connected() or while closing; -EMSGSIZE past
 * the frame limit; -ENOBUFS when the write buffer is full (writable()
 * follows); -ENOMEM.
 */
int wire_chan_send(struct wire_chan *c, const void *data, size_t len);

/**
 * wire_chan_send_pb() - queue one frame holding @msg, packed straight into
 * the write buffer (no intermediate copy). Same returns as
 * wire_chan_send().
 */
int wire_chan_send_pb(struct wire_chan *c, const ProtobufCMessage *msg);

/**
 * wire_chan_pause() - stop (@paused true) or resume reading, for an
 * application that cannot keep up; frames already read are still
 * delivered. The peer's writes then back up into its -ENOBUFS. Returns 0,
 * -ENOTCONN while closing, or a libuv code.
 */
int wire_chan_pause(struct wire_chan *c, bool paused);

/**
 * wire_chan_close() - close now, discarding unsent frames; closed(0)
 * follows on a later loop turn. Idempotent; safe inside any callback.
 */
void wire_chan_close(struct wire_chan *c);

/** wire_chan_data() - the @data given at open. */
void *wire_chan_data(const struct wire_chan *c);
/** wire_chan_name() - the peer name for logs; valid until closed(). */
const char *wire_chan_name(const struct wire_chan *c);
/**
 * wire_chan_peer_addr() - the address of the other end of a TCP channel
 * into @out. Returns 0, -ENOTCONN before the stream is connected or for a
 * channel over another kind of socket, or a libuv code.
 */
int wire_chan_peer_addr(const struct wire_chan *c,
			struct sockaddr_storage *out);
/** wire_chan_queued() - bytes queued or in flight on the write side. */
size_t wire_chan_queued(const struct wire_chan *c);
/** wire_chan_max_payload() - largest payload wire_chan_send() takes. */
size_t wire_chan_max_payload(const struct wire_chan *c);

#endif
