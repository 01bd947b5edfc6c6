/*
 * Certificate revocation: what a node's certificate may still do, decided
 * from the replicated store at every handshake and again on every live
 * connection after each applied change (cluster.c's after_change()).
 *
 * A certificate lives for its whole validity (90 days by default), but a
 * node's rights end when the operator says so: demotion ends its manager
 * rights, `node rm` ends all of them. The store is the revocation list.
 * The cluster object's status holds "Revoked": {NODE_ID: {"Manager": E,
 * "All": bool}}, written in the same batch as the demotion or removal, so
 * every manager learns both at the same index of the log.
 *
 * Epochs. Each certificate carries the applied Raft index of the leader
 * that issued it (its epoch). A demotion revokes the node's manager
 * certificates of epoch <= E, where E is the proposing leader's last log
 * index. Every manager certificate issued before the demotion was applied
 * has an epoch below the demotion's own index, hence <= E (a leader's log
 * holds every committed entry, and certificates are issued from applied
 * state only); a certificate issued after a later promotion has an epoch
 * past that promotion's index, hence > E, and is good. Revocations only
 * grow, so a manager that is catching up through an old part of the log
 * never refuses a peer that is a manager now (which a check of the node's
 * role in a stale store would do, and could stall the catch-up for good).
 *
 * Rights, per port:
 *  - Raft (swarm port + 1) and forwarded writes: a manager certificate
 *    whose epoch is past the node's manager revocation.
 *  - The swarm port: any certificate of a node in the store and not
 *    removed; a revoked manager certificate counts as a worker's there,
 *    so the demoted node still reaches the dispatcher to learn its new
 *    role and fetch a worker certificate.
 *
 * Entries are kept for as long as a certificate they cover could still
 * be valid (the current expiry or the default, whichever is longer, plus
 * clock slack), then
 * dropped the next time the list is written. The list is bounded
 * (REVOKED_MAX); past it a demotion or removal is refused with a message,
 * never a silent loss of a revocation.
 */
#define LOG_MODULE "manager"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/error.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "manager/internal.h"
#include "raft/node_uv.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define REVOKED_MAX 4096
/* ca.c's CLOCK_SLACK_S, and a day for the clocks of the managers. */
#define REVOKED_SLACK_NS ((int64_t)(3600 + 86400) * NSEC_PER_SEC)

/* The node's entry in the revocation list, or NULL (borrowed from the
 * manager's cache, valid until the next applied change). */
static json_t *entry_of(const struct mgr *m, const char *node_id)
{
	return m->revoked ? json_object_get(m->revoked, node_id) : NULL;
}

void mgr__revoked_refresh(struct mgr *m)
{
	const struct store_object *o = mgr_cluster(m);
	uint64_t v = o ? o->version : 0;
	if (v == m->revoked_version && (m->revoked || !o))
		return;
	json_decref(m->revoked);
	m->revoked = NULL;
	m->revoked_version = v;
	json_t *st = o ? mgr__obj_json(o->status, o->status_len) : NULL;
	json_t *r = json_object_get(st, "Revoked");
	if (json_is_object(r))
		m->revoked = json_incref(r);
	json_decref(st);
}

int mgr__cert_rights(const struct mgr *m, const struct wire_cert_info *info,
		     enum wire_role *role, const char **why)
{
	json_t *e = entry_of(m, info->node_id);
	*role = info->role;
	if (!e)
		return 0;
	if (json_is_true(json_object_get(e, "All"))) {
		*why = "the node was removed from the swarm";
		return SHOAL_ECERT;
	}
	uint64_t upto = (uint64_t)jsonx_int(e, "Manager", 0);
	if (info->role == WIRE_ROLE_MANAGER && upto && info->epoch <= upto) {
		*role = WIRE_ROLE_WORKER;
		*why = "the node's manager certificate was revoked when it "
		       "was demoted";
	}
	return 0;
}

bool mgr__may_manage(const struct mgr *m, const struct wire_cert_info *info,
		     const char **why)
{
	enum wire_role role;
	if (info->role != WIRE_ROLE_MANAGER) {
		*why = "the certificate is not a manager's";
		return false;
	}
	return mgr__cert_rights(m, info, &role, why) == 0 &&
	       role == WIRE_ROLE_MANAGER;
}

int mgr__manager_cert_check(void *arg, const struct wire_cert_info *info)
{
	const char *why = "";
	return mgr__may_manage(arg, info, &why) ? 0 : SHOAL_ECERT;
}

uint64_t mgr__raft_identify(void *arg, const struct wire_peer *peer,
			    const char **why)
{
	struct mgr *m = arg;
	if (!mgr__may_manage(m, &peer->cert, why))
		return 0;
	return mgr__raft_id(peer->cert.node_id);
}

/* Drop entries no certificate they cover can outlive. */
static void prune(json_t *r, int64_t now_ns, int64_t keep_ns)
{
	const char *k;
	json_t *v, *tmp;
	json_object_foreach_safe(r, tmp, k, v)
	{
		int64_t at = jsonx_int(v, "At", 0);
		if (at && now_ns - at > keep_ns)
			json_object_del(r, k);
	}
}

int mgr__revoke(struct mgr *m, struct store_batch *b, const char *node_id,
		bool all, char *err, size_t errlen)
{
	const struct store_object *o = mgr_cluster(m);
	if (!o || !m->rn) {
		snprintf(err, errlen, "the cluster object is missing");
		return SHOAL_ENOTFOUND;
	}
	json_t *st = mgr__obj_json(o->status, o->status_len);
	if (!st)
		st = json_object();
	json_t *r = st ? json_object_get(st, "Revoked") : NULL;
	if (st && !json_is_object(r)) {
		r = json_object();
		jsonx_set(st, "Revoked", r);
	}
	if (!r) {
		json_decref(st);
		return -ENOMEM;
	}
	int64_t now = time_real_ns();
	/* The longer of the expiry now and the default: certificates issued
	 * before the expiry was shortened may still be out there. */
	int64_t expiry_s = m->st->cert_expiry_s > SWARM_DEFAULT_CERT_EXPIRY_S
				   ? m->st->cert_expiry_s
				   : SWARM_DEFAULT_CERT_EXPIRY_S;
	prune(r, now, expiry_s * NSEC_PER_SEC + REVOKED_SLACK_NS);
	json_t *e = json_object_get(r, node_id);
	if (!e && json_object_size(r) >= REVOKED_MAX) {
		json_decref(st);
		snprintf(err, errlen,
			 "the revocation list is full (%d nodes demoted or "
			 "removed within a certificate lifetime); retry once "
			 "older certificates have expired",
			 REVOKED_MAX);
		return -ENOSPC;
	}
	struct raft_status s;
	raft_node_status(m->rn, &s);
	uint64_t upto = (uint64_t)jsonx_int(e, "Manager", 0);
	if (s.last_index > upto)
		upto = s.last_index;
	bool was_all = json_is_true(json_object_get(e, "All"));
	int rc = jsonx_set(r, node_id,
			   json_pack("{s:I, s:b, s:I}", "Manager",
				     (json_int_t)upto, "All", all || was_all,
				     "At", (json_int_t)now));
	size_t len = 0;
	char *text = rc == 0 ? jsonx_dump(st, &len) : NULL;
	json_decref(st);
	if (!text)
		return -ENOMEM;
	rc = store_batch_update(b, STORE_CLUSTERS, o->id, o->version, NULL, 0,
				text, len);
	shoal_wipe(text, len); /* the status holds the token secrets */
	shoal_free(text);
	return rc;
}
