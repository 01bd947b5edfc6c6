/*
 * The fixed cluster of fixture.h. Built once and kept for the process's
 * life (libFuzzer runs millions of inputs; rebuilding keys each time would
 * waste them).
 */
#include "fixture.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"

static struct fixture fx;
static int built;

static void seeded(struct wire_keypair *kp, uint8_t tag)
{
	uint8_t seed[crypto_sign_SEEDBYTES];
	memset(seed, tag, sizeof(seed));
	crypto_sign_seed_keypair(kp->pk, kp->sk, seed);
}

static void issue(const struct wire_keypair *kp, const char *name,
		  enum wire_role role, uint8_t **out, size_t *len)
{
	struct wire_cert_info i = {0};
	strcpy(i.cluster_id, "fuzzcluster");
	strcpy(i.node_id, name);
	i.role = role;
	memcpy(i.public_key, kp->pk, WIRE_PK_LEN);
	i.not_before = 0;
	i.not_after = 4102444800; /* 2100 */
	i.serial = 7;
	if (wire_cert_issue(&i, fx.root.sk, out, len) < 0)
		abort();
}

static int lookup(void *arg, size_t i, uint8_t secret[WIRE_TOKEN_SECRET_LEN],
		  enum wire_role *role)
{
	if (i > 0)
		return -ENOENT;
	memcpy(secret, fx.token.secret, WIRE_TOKEN_SECRET_LEN);
	*role = WIRE_ROLE_WORKER;
	return 0;
}

const struct fixture *fixture_get(void)
{
	if (built)
		return &fx;
	shoal_crypto_init();
	seeded(&fx.root, 1);
	seeded(&fx.mgr, 2);
	seeded(&fx.wrk, 3);
	issue(&fx.mgr, "manager1", WIRE_ROLE_MANAGER, &fx.mgr_cert,
	      &fx.mgr_cert_len);
	issue(&fx.wrk, "worker1", WIRE_ROLE_WORKER, &fx.wrk_cert,
	      &fx.wrk_cert_len);
	shoal_sha256(fx.root.pk, WIRE_PK_LEN, fx.token.root_digest);
	memset(fx.token.secret, 0x5a, sizeof(fx.token.secret));

	struct wire_chan_config base = {.security = WIRE_SECURE,
					.root_pk = fx.root.pk,
					.peer_name = "fuzz"};
	fx.server = base;
	fx.server.identity = &fx.mgr;
	fx.server.cert = fx.mgr_cert;
	fx.server.cert_len = fx.mgr_cert_len;
	fx.server.join_lookup = lookup;
	fx.client = base;
	fx.client.identity = &fx.wrk;
	fx.client.cert = fx.wrk_cert;
	fx.client.cert_len = fx.wrk_cert_len;
	fx.join_client = base;
	fx.join_client.token = &fx.token;
	built = 1;
	return &fx;
}
