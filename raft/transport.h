/*
 * The raft transport: how a node's messages reach its peers. The node
 * driver (raft/node_uv.h) only sees struct raft_transport, a small table
 * of functions, so tests and the simulator can put anything behind it.
 * raft_tcp_new() builds the real one: protobuf-c messages
 * (proto/raft.proto) in frames of proto's channel (plain or secure) over
 * libuv TCP.
 *
 * Delivery is best effort, as Raft expects: a message for a peer that is
 * not connected, or whose bounded send buffer is full (a slow or stalled
 * peer), is dropped and counted; Raft retransmits. Outgoing connections
 * are made on demand and re-made with exponential back-off (25 ms doubling
 * to 1 s, reset once connected). Incoming connections only carry messages
 * to us; a peer that sends a malformed or invalid message is disconnected
 * with one logged line. Everything runs on the loop thread.
 *
 * Identity (secure channels). After every handshake, in both directions,
 * the transport asks the owner's identify callback which Raft id the
 * authenticated peer is (the manager derives it from the certificate's
 * node id and checks the node against its store); 0 refuses the peer.
 * Every message received on a channel must name that id as its sender,
 * and an outgoing channel must reach the id it was made for: a peer that
 * claims another's id is disconnected with one logged line and its
 * message is never delivered. raft_tcp_recheck() asks again for every
 * live channel, so that a node that stops being a manager loses its
 * connections at once. Plain channels (tests, benchmarks) carry no
 * identity to check.
 *
 * Strangers. The listener is reachable by anyone who can reach the port:
 * connections still in their handshake are limited per source address
 * and in total, well under the incoming limit, so that known managers
 * always find a slot, and the addresses of known peers are exempt from
 * those limits; the handshake must finish within
 * RAFT_TCP_HANDSHAKE_TIMEOUT_MS; a known peer holds one incoming
 * connection (a new one replaces the old); and refusals and failed
 * handshakes are logged at most once per RAFT_TCP_LOG_INTERVAL_MS with
 * the count of those held back.
 */
#ifndef SHOAL_RAFT_TRANSPORT_H
#define SHOAL_RAFT_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "proto/channel.h"
#include "raft/raft.h"

/* Called for each valid message received; @m is borrowed for the call. */
typedef void raft_transport_recv_fn(void *arg, const struct raft_msg *m);

struct raft_transport {
	void *impl;
	/* Queue @m for m->to; 0 if queued, -ENOTCONN / -ENOBUFS if dropped,
	 * -ENOENT for an unknown peer, -ENOMEM. Never blocks. */
	int (*send)(void *impl, const struct raft_msg *m);
	/* Where to deliver received messages (set once by the node). */
	void (*set_recv)(void *impl, raft_transport_recv_fn *fn, void *arg);
	/* Stop and free; @cb (may be NULL) runs once all handles closed. */
	void (*close)(void *impl, void (*cb)(void *arg), void *arg);
};

/*
 * Incoming connections held at once: far more than the peers of one
 * cluster open (one each, and one being re-made), few enough that
 * strangers cannot make a node buffer without limit. Past it a new
 * connection is closed at once.
 */
#define RAFT_TCP_MAX_INCOMING (4 * RAFT_CONF_MAX)
/* Connections in their handshake at once, in all and from one address. */
#define RAFT_TCP_MAX_HANDSHAKING (RAFT_TCP_MAX_INCOMING / 4)
#define RAFT_TCP_MAX_HANDSHAKING_PER_SOURCE 4
/* The handshake's deadline when the channel configuration sets none. */
#define RAFT_TCP_HANDSHAKE_TIMEOUT_MS 2000
#define RAFT_TCP_LOG_INTERVAL_MS 10000

/**
 * raft_tcp_identify_fn - the Raft id that the authenticated @peer speaks
 * as, or 0 to refuse it with *@why set to a static phrase naming the
 * cause. Called on the loop thread after each secure handshake and by
 * raft_tcp_recheck().
 */
typedef uint64_t raft_tcp_identify_fn(void *arg, const struct wire_peer *peer,
				      const char **why);

struct raft_tcp_peer {
	uint64_t id;
	const char *addr; /* "127.0.0.1:7001", "[::1]:7001" */
};

struct raft_tcp_options {
	uint64_t id;		 /* this node */
	const char *listen_addr; /* NULL: do not listen */
	size_t n_peers;
	const struct raft_tcp_peer *peers;
	/* Channel configuration (security, keys, frame limit). NULL: plain.
	 * Borrowed for the transport's lifetime. max_write_buffer is the
	 * per-peer bound on queued bytes. */
	const struct wire_chan_config *chan;
	/* Required with a secure channel configuration. */
	raft_tcp_identify_fn *identify;
	void *identify_arg;
};

struct raft_tcp_stats {
	uint64_t sent;
	uint64_t dropped;
	uint64_t received;
	uint64_t rejected; /* malformed or invalid messages */
	uint64_t refused;  /* connections refused: limits, identity */
	uint64_t connects; /* outgoing connections established */
	uint64_t queued;   /* bytes now waiting in send buffers, all peers */
};

/**
 * raft_tcp_new() - a TCP transport on @loop, listening on
 * @o->listen_addr. Fills @out (the struct raft_transport is owned by the
 * transport; release with its close()). Returns 0, -EINVAL (bad address,
 * peer id 0 or our own, a secure configuration without identify),
 * -ENOMEM, or a libuv code (bind, listen).
 */
int raft_tcp_new(uv_loop_t *loop, const struct raft_tcp_options *o,
		 struct raft_transport **out);

/** raft_tcp_port() - the port we listen on (useful after ":0"), or -errno. */
int raft_tcp_port(struct raft_transport *t);

/** raft_tcp_set_peer() - add or change a peer's address (NULL: forget). */
int raft_tcp_set_peer(struct raft_transport *t, uint64_t id, const char *addr);

/**
 * raft_tcp_recheck() - ask the identify callback again about every live
 * secure channel, both directions, and close those it no longer admits
 * as the same id (one logged line each). Call it after the membership
 * the callback consults changed.
 */
void raft_tcp_recheck(struct raft_transport *t);

void raft_tcp_stats(struct raft_transport *t, struct raft_tcp_stats *out);

/**
 * raft_addr_parse() - "host:port" or "[v6]:port" into @out; -EINVAL. Port
 * 0 (any) is accepted: peers on it are simply unreachable.
 */
int raft_addr_parse(const char *s, struct sockaddr_storage *out);

#endif
