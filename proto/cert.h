/*
 * Node identity and certificates. Every node holds an Ed25519 identity
 * keypair; the cluster holds a root Ed25519 keypair whose secret half signs
 * node certificates. A certificate (wire.Certificate in wire.proto) binds a
 * cluster id, a node id, a role and the node's public key to a validity
 * window and a serial. The root signs the encoded CertificateBody bytes as
 * issued, prefixed by a domain label; verifiers check the signature over
 * exactly those bytes and only then decode them, so there is no question of
 * canonical re-encoding.
 *
 * A certificate is valid when its signature checks under the root public key
 * the verifier trusts (a certificate from another cluster fails here), its
 * fields are well formed, and not_before <= now <= not_after. Issuing policy,
 * renewal and revocation belong to the manager's CA, built on these: the
 * channel consults a revocation callback the application supplies
 * (wire_cert_check_fn).
 */
#ifndef SHOAL_PROTO_CERT_H
#define SHOAL_PROTO_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WIRE_PK_LEN 32
#define WIRE_SK_LEN 64
#define WIRE_SIG_LEN 64
/* Longest cluster or node id a certificate may carry. */
#define WIRE_ID_MAX 64

enum wire_role {
	WIRE_ROLE_NONE = 0,
	WIRE_ROLE_WORKER = 1,
	WIRE_ROLE_MANAGER = 2,
};

/** wire_role_name() - "worker", "manager" or "none"; static. */
const char *wire_role_name(enum wire_role role);

/** An Ed25519 keypair: a node's identity or the cluster root. */
struct wire_keypair {
	uint8_t pk[WIRE_PK_LEN];
	uint8_t sk[WIRE_SK_LEN];
};

/** wire_keypair_generate() - a fresh random keypair. */
void wire_keypair_generate(struct wire_keypair *kp);
/** wire_keypair_wipe() - zero the secret half. */
void wire_keypair_wipe(struct wire_keypair *kp);

/** The decoded fields of a certificate. Plain value, no heap. */
struct wire_cert_info {
	char cluster_id[WIRE_ID_MAX + 1];
	char node_id[WIRE_ID_MAX + 1];
	enum wire_role role;
	uint8_t public_key[WIRE_PK_LEN];
	int64_t not_before; /* seconds since the epoch */
	int64_t not_after;
	uint64_t serial;
	/* The issuing leader's applied Raft index (manager/revoke.c). */
	uint64_t epoch;
};

/**
 * wire_cert_check_fn - an application's extra check of a verified peer
 * certificate (revocation list, expected role...). Return 0 to accept or a
 * negative code (SHOAL_ECERT) to refuse; the channel closes with it.
 */
typedef int wire_cert_check_fn(void *arg, const struct wire_cert_info *info);

/**
 * wire_cert_issue() - sign @info with the root secret key @root_sk.
 * @out gets an encoded wire.Certificate, owned by the caller (free with
 * shoal_free), and @out_len its length.
 *
 * Returns 0; -EINVAL for ids empty, too long or not printable, an unknown
 * role, or not_after < not_before; -ENOMEM.
 */
int wire_cert_issue(const struct wire_cert_info *info,
		    const uint8_t root_sk[WIRE_SK_LEN], uint8_t **out,
		    size_t *out_len);

/**
 * wire_cert_decode() - the fields of an encoded certificate, WITHOUT
 * checking its signature or dates (for display). Returns 0 or
 * SHOAL_ECERT for malformed input; -ENOMEM.
 */
int wire_cert_decode(const uint8_t *data, size_t len,
		     struct wire_cert_info *out);

/**
 * wire_cert_verify() - check an encoded certificate against the trusted
 * root public key at time @now (seconds since the epoch) and fill @out.
 * @why, when not NULL, gets a static phrase naming the cause on failure.
 *
 * Returns 0; SHOAL_ECERT (malformed, bad signature: another cluster's root,
 * not yet valid, expired); -ENOMEM. @out is filled only on success.
 */
int wire_cert_verify(const uint8_t *data, size_t len,
		     const uint8_t root_pk[WIRE_PK_LEN], int64_t now,
		     struct wire_cert_info *out, const char **why);

#endif
