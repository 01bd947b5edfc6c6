/*
 * The handshake state machine: see handshake.h for the message flow and
 * docs/wire.md for why it is shaped this way.
 *
 * Invariants: the transcript holds, length-prefixed, exactly the bytes
 * both sides saw (ClientHello as sent, the ServerHello body as signed, the
 * client's certificate), so any change by a man in the middle breaks a
 * signature or the keys. Secrets (ephemeral key, shared secret, session
 * keys) are wiped as soon as they are no longer needed and at fini. Every
 * failure sets hs->why to a static phrase and the state to FAILED; nothing
 * here logs.
 */
#include "proto/handshake.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "common/alloc.h"
#include "common/crypto.h"
#include "common/error.h"
#include "proto/wire.h"
#include "proto/wire.pb-c.h"

#define LABEL_TRANSCRIPT "shoal-wire-v1 transcript"
#define LABEL_SERVER_SIG "shoal-wire-v1 server signature"
#define LABEL_CLIENT_SIG "shoal-wire-v1 client signature"
#define LABEL_JOIN "shoal-wire-v1 join proof"
#define LABEL_KEYS "shoal-wire-v1 session keys"
#define TH_LEN 32
#define PROOF_LEN 32

static int failed(struct wire_hs *hs, int rc, const char *why)
{
	hs->state = WIRE_HS_FAILED;
	hs->why = why;
	return rc;
}

/* An unpack returned NULL: out of memory or malformed input. */
static int unpack_failed(struct wire_hs *hs, const struct wire_pb_tracker *t,
			 const char *why)
{
	if (t->failed)
		return failed(hs, -ENOMEM, "out of memory");
	return failed(hs, -EPROTO, why);
}

static int absorb(struct wire_hs *hs, const uint8_t *data, size_t len)
{
	uint8_t h[WIRE_HEADER_LEN];
	wire_put_header(h, (uint32_t)len);
	int rc = buf_append(&hs->transcript, h, sizeof(h));
	if (rc == 0)
		rc = buf_append(&hs->transcript, data, len);
	return rc == -ENOBUFS ? -EPROTO : rc;
}

static void transcript_hash(const struct wire_hs *hs, uint8_t out[TH_LEN])
{
	crypto_generichash(out, TH_LEN, (const uint8_t *)hs->transcript.data,
			   hs->transcript.len, NULL, 0);
}

/* @label (with its NUL) followed by the transcript hash, for signing. */
static size_t labelled(uint8_t *out, const char *label, size_t llen,
		       const uint8_t th[TH_LEN])
{
	memcpy(out, label, llen);
	memcpy(out + llen, th, TH_LEN);
	return llen + TH_LEN;
}

static int pack_into(struct buf *out, const ProtobufCMessage *m)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	int rc = buf_reserve(out, len);
	if (rc < 0)
		return rc;
	protobuf_c_message_pack(m, (uint8_t *)out->data + out->len);
	out->len += len;
	return 0;
}

int wire__hs_init(struct wire_hs *hs, bool server,
		  const struct wire_chan_config *cfg)
{
	memset(hs, 0, sizeof(*hs));
	hs->server = server;
	hs->cfg = cfg;
	hs->join = !server && cfg->token;
	buf_init(&hs->transcript, 4 * WIRE_HS_MAX);
	if (!hs->join) {
		struct wire_cert_info own;
		if (!cfg->identity || !cfg->cert || !cfg->root_pk)
			return failed(hs, -EINVAL,
				      "no identity, certificate "
				      "or root key configured");
		int rc = wire_cert_decode(cfg->cert, cfg->cert_len, &own);
		if (rc == -ENOMEM)
			return failed(hs, rc, "out of memory");
		if (rc < 0)
			return failed(hs, -EINVAL, "own certificate malformed");
		if (memcmp(own.public_key, cfg->identity->pk, WIRE_PK_LEN))
			return failed(hs, -EINVAL,
				      "own certificate is not for "
				      "our identity key");
		strcpy(hs->own_cluster, own.cluster_id);
		memcpy(hs->root_pk, cfg->root_pk, WIRE_PK_LEN);
	}
	crypto_box_keypair(hs->eph_pk, hs->eph_sk);
	hs->state = server ? WIRE_HS_SERVER_WAIT_HELLO : WIRE_HS_CLIENT_START;
	return absorb(hs, (const uint8_t *)LABEL_TRANSCRIPT,
		      sizeof(LABEL_TRANSCRIPT));
}

void wire__hs_fini(struct wire_hs *hs)
{
	buf_fini(&hs->transcript);
	shoal_wipe(hs->eph_sk, sizeof(hs->eph_sk));
	shoal_wipe(hs->key_tx, sizeof(hs->key_tx));
	shoal_wipe(hs->key_rx, sizeof(hs->key_rx));
}

int wire__hs_start(struct wire_hs *hs, struct buf *out)
{
	if (hs->state != WIRE_HS_CLIENT_START)
		return -EINVAL;
	Wire__ClientHello ch = WIRE__CLIENT_HELLO__INIT;
	ch.version = WIRE_HS_VERSION;
	ch.mode = hs->join ? WIRE__MODE__MODE_JOIN : WIRE__MODE__MODE_CERT;
	ch.ephemeral.data = hs->eph_pk;
	ch.ephemeral.len = sizeof(hs->eph_pk);
	size_t start = out->len;
	int rc = pack_into(out, &ch.base);
	if (rc == 0)
		rc = absorb(hs, (uint8_t *)out->data + start, out->len - start);
	if (rc < 0)
		return failed(hs, rc, "out of memory");
	hs->state = WIRE_HS_CLIENT_WAIT_HELLO;
	return 0;
}

/*
 * Session keys from the X25519 secret and th_c. The client sends with the
 * first half; a low-order peer point (all-zero secret) is refused.
 */
static int derive_keys(struct wire_hs *hs)
{
	uint8_t shared[crypto_scalarmult_BYTES];
	if (crypto_scalarmult(shared, hs->eph_sk, hs->peer_eph) != 0)
		return failed(hs, SHOAL_EAUTH, "peer ephemeral key is weak");
	uint8_t th[TH_LEN];
	transcript_hash(hs, th);
	uint8_t msg[sizeof(LABEL_KEYS) + TH_LEN];
	size_t mlen = labelled(msg, LABEL_KEYS, sizeof(LABEL_KEYS), th);
	uint8_t k[2 * WIRE_KEY_LEN];
	crypto_generichash(k, sizeof(k), msg, mlen, shared, sizeof(shared));
	memcpy(hs->server ? hs->key_rx : hs->key_tx, k, WIRE_KEY_LEN);
	memcpy(hs->server ? hs->key_tx : hs->key_rx, k + WIRE_KEY_LEN,
	       WIRE_KEY_LEN);
	shoal_wipe(shared, sizeof(shared));
	shoal_wipe(k, sizeof(k));
	shoal_wipe(hs->eph_sk, sizeof(hs->eph_sk));
	return 0;
}

static void join_proof(const uint8_t secret[WIRE_TOKEN_SECRET_LEN],
		       const uint8_t th[TH_LEN], uint8_t out[PROOF_LEN])
{
	uint8_t msg[sizeof(LABEL_JOIN) + TH_LEN];
	size_t mlen = labelled(msg, LABEL_JOIN, sizeof(LABEL_JOIN), th);
	crypto_generichash(out, PROOF_LEN, msg, mlen, secret,
			   WIRE_TOKEN_SECRET_LEN);
}

/* Verify a peer certificate and run the application's check on it. */
static int check_peer_cert(struct wire_hs *hs, const uint8_t *data, size_t len,
			   int64_t now)
{
	const char *why = NULL;
	struct wire_cert_info info;
	int rc = wire_cert_verify(data, len, hs->root_pk, now, &info, &why);
	if (rc == -ENOMEM)
		return failed(hs, rc, "out of memory");
	if (rc < 0)
		return failed(hs, rc, why);
	if (hs->own_cluster[0] && strcmp(info.cluster_id, hs->own_cluster))
		return failed(hs, SHOAL_ECERT,
			      "certificate names another "
			      "cluster");
	if (hs->cfg->cert_check) {
		rc = hs->cfg->cert_check(hs->cfg->cert_check_arg, &info);
		if (rc < 0)
			return failed(hs, rc,
				      "certificate refused by the "
				      "application (revoked?)");
	}
	hs->peer.cert = info;
	hs->peer.role = info.role;
	return 0;
}

static int server_recv_hello(struct wire_hs *hs, const uint8_t *msg, size_t len,
			     struct buf *out)
{
	struct wire_pb_tracker t;
	wire_pb_tracker_init(&t);
	Wire__ClientHello *ch = wire__client_hello__unpack(&t.alloc, len, msg);
	if (!ch)
		return unpack_failed(hs, &t, "client hello malformed");
	int rc = 0;
	if (ch->version != WIRE_HS_VERSION)
		rc = failed(hs, -EPROTO, "unsupported handshake version");
	else if (ch->mode != WIRE__MODE__MODE_CERT &&
		 ch->mode != WIRE__MODE__MODE_JOIN)
		rc = failed(hs, -EPROTO, "unknown handshake mode");
	else if (ch->mode == WIRE__MODE__MODE_JOIN && !hs->cfg->join_lookup)
		rc = failed(hs, SHOAL_ETOKEN, "joins are not accepted here");
	else if (ch->ephemeral.len != WIRE_X25519_LEN)
		rc = failed(hs, -EPROTO, "client ephemeral key malformed");
	if (rc == 0) {
		hs->join = ch->mode == WIRE__MODE__MODE_JOIN;
		memcpy(hs->peer_eph, ch->ephemeral.data, WIRE_X25519_LEN);
	}
	wire__client_hello__free_unpacked(ch, &t.alloc);
	if (rc < 0)
		return rc;
	if ((rc = absorb(hs, msg, len)) < 0)
		return failed(hs, rc, "client hello too large");

	Wire__ServerHelloBody body = WIRE__SERVER_HELLO_BODY__INIT;
	body.ephemeral.data = hs->eph_pk;
	body.ephemeral.len = WIRE_X25519_LEN;
	body.root_key.data = (uint8_t *)hs->cfg->root_pk;
	body.root_key.len = WIRE_PK_LEN;
	body.certificate.data = (uint8_t *)hs->cfg->cert;
	body.certificate.len = hs->cfg->cert_len;
	struct buf enc;
	buf_init(&enc, WIRE_HS_MAX);
	if ((rc = pack_into(&enc, &body.base)) == 0)
		rc = absorb(hs, (uint8_t *)enc.data, enc.len);
	if (rc < 0) {
		buf_fini(&enc);
		return failed(hs, rc, "server hello does not fit");
	}
	uint8_t th[TH_LEN], sig[WIRE_SIG_LEN];
	uint8_t smsg[sizeof(LABEL_SERVER_SIG) + TH_LEN];
	transcript_hash(hs, th);
	size_t slen =
		labelled(smsg, LABEL_SERVER_SIG, sizeof(LABEL_SERVER_SIG), th);
	crypto_sign_detached(sig, NULL, smsg, slen, hs->cfg->identity->sk);

	Wire__ServerHello sh = WIRE__SERVER_HELLO__INIT;
	sh.body.data = (uint8_t *)enc.data;
	sh.body.len = enc.len;
	sh.signature.data = sig;
	sh.signature.len = sizeof(sig);
	rc = pack_into(out, &sh.base);
	buf_fini(&enc);
	if (rc < 0)
		return failed(hs, rc, "out of memory");
	hs->state = WIRE_HS_SERVER_WAIT_FINISH;
	return 0;
}

/* The ServerHello body's checks; fills peer_eph, root_pk, peer. */
static int client_check_body(struct wire_hs *hs, const uint8_t *data,
			     size_t len, int64_t now)
{
	struct wire_pb_tracker t;
	wire_pb_tracker_init(&t);
	Wire__ServerHelloBody *b =
		wire__server_hello_body__unpack(&t.alloc, len, data);
	if (!b)
		return unpack_failed(hs, &t, "server hello body malformed");
	int rc = 0;
	if (b->ephemeral.len != WIRE_X25519_LEN ||
	    b->root_key.len != WIRE_PK_LEN)
		rc = failed(hs, -EPROTO, "server hello keys malformed");
	else if (hs->join &&
		 !wire_token_matches_root(hs->cfg->token, b->root_key.data))
		rc = failed(hs, SHOAL_ETOKEN,
			    "server's root key does not "
			    "match the join token digest "
			    "(another cluster)");
	if (rc == 0) {
		memcpy(hs->peer_eph, b->ephemeral.data, WIRE_X25519_LEN);
		if (hs->join)
			memcpy(hs->root_pk, b->root_key.data, WIRE_PK_LEN);
		rc = check_peer_cert(hs, b->certificate.data,
				     b->certificate.len, now);
	}
	wire__server_hello_body__free_unpacked(b, &t.alloc);
	return rc;
}

static int client_send_finish(struct wire_hs *hs, struct buf *out)
{
	const struct wire_chan_config *cfg = hs->cfg;
	int rc = absorb(hs, hs->join ? NULL : cfg->cert,
			hs->join ? 0 : cfg->cert_len);
	if (rc < 0)
		return failed(hs, rc, "client certificate too large");
	uint8_t th[TH_LEN], sig[WIRE_SIG_LEN], proof[PROOF_LEN];
	transcript_hash(hs, th);
	Wire__ClientFinish cf = WIRE__CLIENT_FINISH__INIT;
	if (hs->join) {
		join_proof(cfg->token->secret, th, proof);
		cf.join_proof.data = proof;
		cf.join_proof.len = sizeof(proof);
	} else {
		uint8_t m[sizeof(LABEL_CLIENT_SIG) + TH_LEN];
		size_t mlen = labelled(m, LABEL_CLIENT_SIG,
				       sizeof(LABEL_CLIENT_SIG), th);
		crypto_sign_detached(sig, NULL, m, mlen, cfg->identity->sk);
		cf.certificate.data = (uint8_t *)cfg->cert;
		cf.certificate.len = cfg->cert_len;
		cf.signature.data = sig;
		cf.signature.len = sizeof(sig);
	}
	if ((rc = derive_keys(hs)) < 0)
		return rc;
	if ((rc = pack_into(out, &cf.base)) < 0)
		return failed(hs, rc, "out of memory");
	hs->state = WIRE_HS_CLIENT_WAIT_FINISH;
	return 0;
}

static int client_recv_hello(struct wire_hs *hs, const uint8_t *msg, size_t len,
			     int64_t now, struct buf *out)
{
	struct wire_pb_tracker t;
	wire_pb_tracker_init(&t);
	Wire__ServerHello *sh = wire__server_hello__unpack(&t.alloc, len, msg);
	if (!sh)
		return unpack_failed(hs, &t, "server hello malformed");
	int rc = 0;
	if (sh->signature.len != WIRE_SIG_LEN)
		rc = failed(hs, -EPROTO, "server signature malformed");
	else
		rc = client_check_body(hs, sh->body.data, sh->body.len, now);
	if (rc == 0 && (rc = absorb(hs, sh->body.data, sh->body.len)) < 0)
		rc = failed(hs, rc, "server hello too large");
	if (rc == 0) {
		uint8_t th[TH_LEN];
		uint8_t m[sizeof(LABEL_SERVER_SIG) + TH_LEN];
		transcript_hash(hs, th);
		size_t mlen = labelled(m, LABEL_SERVER_SIG,
				       sizeof(LABEL_SERVER_SIG), th);
		if (crypto_sign_verify_detached(sh->signature.data, m, mlen,
						hs->peer.cert.public_key) != 0)
			rc = failed(hs, SHOAL_EAUTH,
				    "server signature over "
				    "the handshake does not "
				    "verify");
	}
	wire__server_hello__free_unpacked(sh, &t.alloc);
	if (rc < 0)
		return rc;
	return client_send_finish(hs, out);
}

static int server_check_proof(struct wire_hs *hs, const ProtobufCBinaryData *p,
			      const uint8_t th[TH_LEN])
{
	if (p->len != PROOF_LEN)
		return failed(hs, -EPROTO, "join proof malformed");
	for (size_t i = 0; i < 64; i++) {
		uint8_t secret[WIRE_TOKEN_SECRET_LEN], want[PROOF_LEN];
		enum wire_role role = WIRE_ROLE_NONE;
		if (hs->cfg->join_lookup(hs->cfg->join_arg, i, secret, &role))
			break;
		join_proof(secret, th, want);
		shoal_wipe(secret, sizeof(secret));
		bool match = shoal_equal_ct(want, p->data, PROOF_LEN);
		shoal_wipe(want, sizeof(want));
		if (match) {
			hs->peer.joined = true;
			hs->peer.role = role;
			return 0;
		}
	}
	return failed(hs, SHOAL_ETOKEN,
		      "join proof matches no current "
		      "token secret");
}

static int server_recv_finish(struct wire_hs *hs, const uint8_t *msg,
			      size_t len, int64_t now)
{
	struct wire_pb_tracker t;
	wire_pb_tracker_init(&t);
	Wire__ClientFinish *cf =
		wire__client_finish__unpack(&t.alloc, len, msg);
	if (!cf)
		return unpack_failed(hs, &t, "client finish malformed");
	int rc = 0;
	uint8_t th[TH_LEN];
	if (hs->join) {
		if ((rc = absorb(hs, NULL, 0)) < 0)
			rc = failed(hs, rc, "out of memory");
		transcript_hash(hs, th);
		if (rc == 0)
			rc = server_check_proof(hs, &cf->join_proof, th);
	} else if (cf->signature.len != WIRE_SIG_LEN) {
		rc = failed(hs, -EPROTO, "client signature malformed");
	} else {
		rc = check_peer_cert(hs, cf->certificate.data,
				     cf->certificate.len, now);
		if (rc == 0 && (rc = absorb(hs, cf->certificate.data,
					    cf->certificate.len)) < 0)
			rc = failed(hs, rc, "client certificate too large");
		transcript_hash(hs, th);
		uint8_t m[sizeof(LABEL_CLIENT_SIG) + TH_LEN];
		size_t mlen = labelled(m, LABEL_CLIENT_SIG,
				       sizeof(LABEL_CLIENT_SIG), th);
		if (rc == 0 &&
		    crypto_sign_verify_detached(cf->signature.data, m, mlen,
						hs->peer.cert.public_key) != 0)
			rc = failed(hs, SHOAL_EAUTH,
				    "client signature over "
				    "the handshake does not "
				    "verify");
	}
	wire__client_finish__free_unpacked(cf, &t.alloc);
	if (rc < 0)
		return rc;
	if ((rc = derive_keys(hs)) < 0)
		return rc;
	hs->peer.authenticated = true;
	hs->state = WIRE_HS_DONE;
	return 0;
}

int wire__hs_recv(struct wire_hs *hs, const uint8_t *msg, size_t len,
		  int64_t now, struct buf *out)
{
	if (len > WIRE_HS_MAX)
		return failed(hs, -EPROTO, "handshake message too large");
	switch (hs->state) {
	case WIRE_HS_SERVER_WAIT_HELLO:
		return server_recv_hello(hs, msg, len, out);
	case WIRE_HS_SERVER_WAIT_FINISH:
		return server_recv_finish(hs, msg, len, now);
	case WIRE_HS_CLIENT_WAIT_HELLO:
		return client_recv_hello(hs, msg, len, now, out);
	default:
		break;
	}
	return failed(hs, -EPROTO, "unexpected handshake message");
}
