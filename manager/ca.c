/*
 * The cluster's certificate authority and join tokens (manager.h). The root
 * Ed25519 key signs node certificates through proto/cert.h; tokens are
 * proto/token.h's, bound to the root key's digest. Everything here is a
 * pure function of a struct swarm_state plus the randomness of key and id
 * generation: no I/O, no logging. Saving the changed state is the
 * caller's business.
 *
 * Policy: a certificate is valid from an hour before @now (so a node whose
 * clock lags a little still accepts it) until @now + cert_expiry_s; serials
 * grow by one per certificate issued by this manager.
 */
#include "common/alloc.h"
#include "common/crypto.h"
#include "common/id.h"
#include "manager/manager.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* worker.h's AGENT_CERT_SLACK_S must match: agents compute a
 * certificate's life from it to renew in time. */
#define CLOCK_SLACK_S 3600

static int64_t expiry(const struct swarm_state *st)
{
	return st->cert_expiry_s > 0 ? st->cert_expiry_s
				     : SWARM_DEFAULT_CERT_EXPIRY_S;
}

int ca_issue(struct swarm_state *st, const char *node_id, enum wire_role role,
	     const uint8_t pk[WIRE_PK_LEN], int64_t now, uint64_t epoch,
	     uint8_t **out, size_t *out_len)
{
	if (!st->has_root_sk)
		return -EPERM;
	struct wire_cert_info info = {0};
	if (strlen(node_id) > WIRE_ID_MAX)
		return -EINVAL;
	snprintf(info.cluster_id, sizeof(info.cluster_id), "%s",
		 st->cluster_id);
	snprintf(info.node_id, sizeof(info.node_id), "%s", node_id);
	info.role = role;
	memcpy(info.public_key, pk, WIRE_PK_LEN);
	info.not_before = now - CLOCK_SLACK_S;
	info.not_after = now + expiry(st);
	info.serial = shoal_random_u64(); /* unique across managers */
	info.epoch = epoch;
	return wire_cert_issue(&info, st->root_sk, out, out_len);
}

int ca_init_cluster(struct swarm_state *st, int64_t now)
{
	struct wire_keypair root;
	char id[ID_SWARM_LEN + 1];
	if (shoal_crypto_init() < 0)
		return -EIO;
	id_swarm(id);
	snprintf(st->cluster_id, sizeof(st->cluster_id), "%s", id);
	id_swarm(id);
	snprintf(st->node_id, sizeof(st->node_id), "%s", id);
	st->role = WIRE_ROLE_MANAGER;
	wire_keypair_generate(&root);
	memcpy(st->root_pk, root.pk, WIRE_PK_LEN);
	memcpy(st->root_sk, root.sk, WIRE_SK_LEN);
	st->has_root_sk = true;
	wire_keypair_wipe(&root);
	wire_token_new(st->root_pk, &st->worker_token);
	wire_token_new(st->root_pk, &st->manager_token);
	st->has_tokens = true;
	wire_keypair_generate(&st->identity);
	uint8_t *cert;
	size_t len;
	int rc = ca_issue(st, st->node_id, WIRE_ROLE_MANAGER, st->identity.pk,
			  now, 0, &cert, &len);
	if (rc < 0)
		return rc;
	if (len > sizeof(st->cert)) {
		shoal_free(cert);
		return -EINVAL;
	}
	memcpy(st->cert, cert, len);
	st->cert_len = len;
	shoal_free(cert);
	return 0;
}

void ca_token(const struct swarm_state *st, enum wire_role role,
	      char out[WIRE_TOKEN_LEN + 1])
{
	wire_token_format(role == WIRE_ROLE_MANAGER ? &st->manager_token
						    : &st->worker_token,
			  out);
}

void ca_rotate(struct swarm_state *st, enum wire_role role)
{
	wire_token_new(st->root_pk, role == WIRE_ROLE_MANAGER
					    ? &st->manager_token
					    : &st->worker_token);
}

int ca_join_lookup(void *arg, size_t index,
		   uint8_t secret[WIRE_TOKEN_SECRET_LEN], enum wire_role *role)
{
	const struct swarm_state *st = arg;
	if (!st->has_tokens || index > 1)
		return -ENOENT;
	const struct wire_token *t =
		index == 0 ? &st->worker_token : &st->manager_token;
	memcpy(secret, t->secret, WIRE_TOKEN_SECRET_LEN);
	*role = index == 0 ? WIRE_ROLE_WORKER : WIRE_ROLE_MANAGER;
	return 0;
}
