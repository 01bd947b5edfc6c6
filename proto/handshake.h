/*
 * The secure channel's handshake as a pure state machine: messages in,
 * messages out, no I/O, no clock of its own (the caller passes the time).
 * channel.c drives it over a stream; the fuzz targets drive it with
 * arbitrary bytes. Internal to proto/ (double-underscore names).
 *
 *   client                                   server
 *   ClientHello {mode, eph_c}          -->
 *                                      <--   ServerHello {body: eph_s, root,
 *                                                  cert_s; sig_s(th_s)}
 *   ClientFinish {cert_c, sig_c(th_c)
 *                 | join_proof(th_c)}  -->
 *                                      <--   [encrypted empty frame]
 *
 * th_s = BLAKE2b-256 of the transcript through the ServerHello body; th_c
 * adds the client's certificate (empty in join mode). Session keys:
 * BLAKE2b-512 keyed by X25519(eph_c, eph_s) over a label and th_c; the
 * first half protects client-to-server frames, the second the reverse. See
 * docs/wire.md for the reasoning.
 */
#ifndef SHOAL_PROTO_HANDSHAKE_H
#define SHOAL_PROTO_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "proto/cert.h"
#include "proto/channel.h"
#include "proto/token.h"

#define WIRE_HS_VERSION 1
/* Largest handshake message either side accepts. */
#define WIRE_HS_MAX 4096
#define WIRE_KEY_LEN 32
#define WIRE_X25519_LEN 32

enum wire_hs_state {
	WIRE_HS_CLIENT_START,
	WIRE_HS_CLIENT_WAIT_HELLO,  /* sent ClientHello */
	WIRE_HS_CLIENT_WAIT_FINISH, /* sent ClientFinish; keys ready */
	WIRE_HS_SERVER_WAIT_HELLO,
	WIRE_HS_SERVER_WAIT_FINISH,
	WIRE_HS_DONE,
	WIRE_HS_FAILED,
};

struct wire_hs {
	bool server;
	bool join;
	enum wire_hs_state state;
	const struct wire_chan_config *cfg; /* borrowed; see channel.h */
	char own_cluster[WIRE_ID_MAX + 1];  /* from our certificate */
	uint8_t eph_pk[WIRE_X25519_LEN];
	uint8_t eph_sk[WIRE_X25519_LEN];
	uint8_t peer_eph[WIRE_X25519_LEN];
	uint8_t root_pk[WIRE_PK_LEN]; /* the root the peer's cert chains to */
	struct buf transcript;
	struct wire_peer peer;
	uint8_t key_tx[WIRE_KEY_LEN];
	uint8_t key_rx[WIRE_KEY_LEN];
	const char *why; /* static text of the failure, when FAILED */
};

/**
 * wire__hs_init() - a handshake for one side. @cfg (borrowed for the
 * handshake's life) holds our credentials; a client with cfg->token set
 * runs the join variant. Returns 0, -EINVAL for missing or unusable
 * credentials (@hs->why says which), -ENOMEM.
 */
int wire__hs_init(struct wire_hs *hs, bool server,
		  const struct wire_chan_config *cfg);
void wire__hs_fini(struct wire_hs *hs);

/** wire__hs_start() - the client's first message into @out. */
int wire__hs_start(struct wire_hs *hs, struct buf *out);

/**
 * wire__hs_recv() - consume one handshake message from the peer; the reply,
 * if any, is appended to @out (one message, unframed). @now is wall time in
 * seconds for certificate validity.
 *
 * Returns 0; SHOAL_EAUTH, SHOAL_ECERT, SHOAL_ETOKEN, -EPROTO with @hs->why
 * set; -ENOMEM. Any failure leaves the state FAILED.
 */
int wire__hs_recv(struct wire_hs *hs, const uint8_t *msg, size_t len,
		  int64_t now, struct buf *out);

#endif
