/*
 * Certificates: see cert.h. The signed message is the domain label
 * "shoal-cert-v1" (with its NUL) followed by the encoded CertificateBody,
 * so a certificate signature can never be replayed as a handshake
 * signature or the reverse. Bodies over CERT_BODY_MAX bytes are refused
 * before anything is decoded.
 */
#include "proto/cert.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "common/alloc.h"
#include "common/crypto.h"
#include "common/error.h"
#include "proto/wire.h"
#include "proto/wire.pb-c.h"

#define CERT_LABEL "shoal-cert-v1"
#define CERT_BODY_MAX 1024

const char *wire_role_name(enum wire_role role)
{
	switch (role) {
	case WIRE_ROLE_WORKER:
		return "worker";
	case WIRE_ROLE_MANAGER:
		return "manager";
	case WIRE_ROLE_NONE:
		break;
	}
	return "none";
}

void wire_keypair_generate(struct wire_keypair *kp)
{
	crypto_sign_keypair(kp->pk, kp->sk);
}

void wire_keypair_wipe(struct wire_keypair *kp)
{
	shoal_wipe(kp->sk, sizeof(kp->sk));
}

static bool id_ok(const char *s)
{
	size_t n = strnlen(s, WIRE_ID_MAX + 1);
	if (n == 0 || n > WIRE_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return false;
	return true;
}

static bool role_ok(int role)
{
	return role == WIRE_ROLE_WORKER || role == WIRE_ROLE_MANAGER;
}

/* Label and body into @msg (CERT_LABEL_LEN + CERT_BODY_MAX bytes). */
static size_t signed_message(uint8_t *msg, const uint8_t *body, size_t len)
{
	memcpy(msg, CERT_LABEL, sizeof(CERT_LABEL));
	if (len) /* an empty bytes field has NULL data */
		memcpy(msg + sizeof(CERT_LABEL), body, len);
	return sizeof(CERT_LABEL) + len;
}

int wire_cert_issue(const struct wire_cert_info *info,
		    const uint8_t root_sk[WIRE_SK_LEN], uint8_t **out,
		    size_t *out_len)
{
	if (!id_ok(info->cluster_id) || !id_ok(info->node_id) ||
	    !role_ok(info->role) || info->not_after < info->not_before)
		return -EINVAL;
	Wire__CertificateBody body = WIRE__CERTIFICATE_BODY__INIT;
	body.cluster_id = (char *)info->cluster_id;
	body.node_id = (char *)info->node_id;
	body.role = (Wire__Role)info->role;
	body.public_key.data = (uint8_t *)info->public_key;
	body.public_key.len = WIRE_PK_LEN;
	body.not_before = info->not_before;
	body.not_after = info->not_after;
	body.serial = info->serial;
	body.epoch = info->epoch;

	uint8_t enc[CERT_BODY_MAX];
	size_t blen = wire__certificate_body__get_packed_size(&body);
	if (blen > CERT_BODY_MAX)
		return -EINVAL;
	wire__certificate_body__pack(&body, enc);

	uint8_t msg[sizeof(CERT_LABEL) + CERT_BODY_MAX];
	size_t mlen = signed_message(msg, enc, blen);
	uint8_t sig[WIRE_SIG_LEN];
	crypto_sign_detached(sig, NULL, msg, mlen, root_sk);

	Wire__Certificate cert = WIRE__CERTIFICATE__INIT;
	cert.body.data = enc;
	cert.body.len = blen;
	cert.signature.data = sig;
	cert.signature.len = sizeof(sig);
	size_t clen = wire__certificate__get_packed_size(&cert);
	uint8_t *buf = shoal_malloc(clen);
	if (!buf)
		return -ENOMEM;
	wire__certificate__pack(&cert, buf);
	*out = buf;
	*out_len = clen;
	return 0;
}

static int set_why(const char **why, const char *text)
{
	if (why)
		*why = text;
	return SHOAL_ECERT;
}

/* Decode and validate the fields of an encoded body. */
static int decode_body(const uint8_t *data, size_t len,
		       struct wire_cert_info *out, const char **why)
{
	if (len > CERT_BODY_MAX)
		return set_why(why, "certificate body too large");
	struct wire_pb_tracker t;
	wire_pb_tracker_init(&t);
	Wire__CertificateBody *b =
		wire__certificate_body__unpack(&t.alloc, len, data);
	if (!b && t.failed)
		return -ENOMEM;
	if (!b)
		return set_why(why, "certificate body malformed");
	int rc = 0;
	if (!id_ok(b->cluster_id) || !id_ok(b->node_id))
		rc = set_why(why, "certificate ids malformed");
	else if (!role_ok(b->role))
		rc = set_why(why, "certificate role unknown");
	else if (b->public_key.len != WIRE_PK_LEN)
		rc = set_why(why, "certificate public key malformed");
	else if (b->not_after < b->not_before)
		rc = set_why(why, "certificate validity window inverted");
	if (rc == 0) {
		memset(out, 0, sizeof(*out));
		strcpy(out->cluster_id, b->cluster_id);
		strcpy(out->node_id, b->node_id);
		out->role = (enum wire_role)b->role;
		memcpy(out->public_key, b->public_key.data, WIRE_PK_LEN);
		out->not_before = b->not_before;
		out->not_after = b->not_after;
		out->serial = b->serial;
		out->epoch = b->epoch;
	}
	wire__certificate_body__free_unpacked(b, &t.alloc);
	return rc;
}

static int unpack_cert(const uint8_t *data, size_t len, Wire__Certificate **out,
		       const char **why)
{
	if (len > CERT_BODY_MAX + 2 * WIRE_SIG_LEN)
		return set_why(why, "certificate too large");
	struct wire_pb_tracker t;
	wire_pb_tracker_init(&t);
	*out = wire__certificate__unpack(&t.alloc, len, data);
	if (!*out && t.failed)
		return -ENOMEM;
	if (!*out)
		return set_why(why, "certificate malformed");
	return 0;
}

int wire_cert_decode(const uint8_t *data, size_t len,
		     struct wire_cert_info *out)
{
	Wire__Certificate *c;
	int rc = unpack_cert(data, len, &c, NULL);
	if (rc < 0)
		return rc;
	struct wire_cert_info info;
	rc = decode_body(c->body.data, c->body.len, &info, NULL);
	wire__certificate__free_unpacked(c, &wire_pb_allocator);
	if (rc == 0)
		*out = info;
	return rc;
}

static int check_signature(const Wire__Certificate *c,
			   const uint8_t root_pk[WIRE_PK_LEN], const char **why)
{
	if (c->signature.len != WIRE_SIG_LEN)
		return set_why(why, "certificate signature malformed");
	if (c->body.len > CERT_BODY_MAX)
		return set_why(why, "certificate body too large");
	uint8_t msg[sizeof(CERT_LABEL) + CERT_BODY_MAX];
	size_t mlen = signed_message(msg, c->body.data, c->body.len);
	if (crypto_sign_verify_detached(c->signature.data, msg, mlen,
					root_pk) != 0)
		return set_why(why, "certificate not signed by this cluster's "
				    "root key");
	return 0;
}

int wire_cert_verify(const uint8_t *data, size_t len,
		     const uint8_t root_pk[WIRE_PK_LEN], int64_t now,
		     struct wire_cert_info *out, const char **why)
{
	Wire__Certificate *c;
	int rc = unpack_cert(data, len, &c, why);
	if (rc < 0)
		return rc;
	struct wire_cert_info info;
	rc = check_signature(c, root_pk, why);
	if (rc == 0)
		rc = decode_body(c->body.data, c->body.len, &info, why);
	wire__certificate__free_unpacked(c, &wire_pb_allocator);
	if (rc < 0)
		return rc;
	if (now < info.not_before)
		return set_why(why, "certificate not yet valid");
	if (now > info.not_after)
		return set_why(why, "certificate expired");
	*out = info;
	return 0;
}
