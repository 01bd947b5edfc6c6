/*
 * Joins (docs/swarm.md, "Joining"): a host that proved a join token's
 * secret in the handshake sends one JoinRequest with its new public key
 * and its description; the leader picks the node id, issues a certificate
 * for the role the token grants, proposes the node's creation, and
 * answers with the certificate once the node is committed, so that the
 * certificate works the moment the host holds it. A manager also gets
 * the CA's key (encrypted by the channel), the managers' ids and the
 * swarm's Raft settings, which it starts with.
 *
 * A follower answers with the leader's address (code SHOAL_ENOTLEADER)
 * and the joiner retries there once. Failures (no memory, a proposal
 * lost to a leader change) answer an error and leave no node behind,
 * except a joiner that leaves after the node was committed: its node
 * stays, Down, until removed, as in Docker.
 */
#define LOG_MODULE "join"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/id.h"
#include "common/log.h"
#include "manager/internal.h"
#include "proto/swarm.pb-c.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void join_reply_error(struct mgr_conn *c, int code, const char *msg)
{
	Swarm__Envelope env = SWARM__ENVELOPE__INIT;
	Swarm__JoinResponse jr = SWARM__JOIN_RESPONSE__INIT;
	jr.code = code;
	jr.error = (char *)msg;
	env.body_case = SWARM__ENVELOPE__BODY_JOIN_RESPONSE;
	env.join_response = &jr;
	mgr__send(c, &env);
}

/* A follower's answer to a join: try the leader, named in managers. */
static void join_redirect(struct mgr_conn *c)
{
	char addr[SWARM_ADDR_MAX], *list[1];
	Swarm__Envelope env = SWARM__ENVELOPE__INIT;
	Swarm__JoinResponse jr = SWARM__JOIN_RESPONSE__INIT;
	jr.code = SHOAL_ENOTLEADER;
	jr.error = (char *)"this manager is not the leader";
	mgr__leader_hint(c->m, addr, sizeof(addr), list, &jr.n_managers);
	jr.managers = list;
	env.body_case = SWARM__ENVELOPE__BODY_JOIN_RESPONSE;
	env.join_response = &jr;
	mgr__send(c, &env);
}

struct join_wait {
	struct mgr_conn *c;
	char id[ID_SWARM_LEN + 1];
	enum wire_role role;
	uint8_t *cert;
	size_t cert_len;
};

static void join_answer(struct mgr_conn *c, const struct join_wait *w)
{
	struct mgr *m = c->m;
	Swarm__Envelope env = SWARM__ENVELOPE__INIT;
	Swarm__JoinResponse jr = SWARM__JOIN_RESPONSE__INIT;
	Swarm__RaftSettings raft;
	char *mgrs[SWARM_MAX_MANAGERS], *ids[SWARM_MAX_MANAGERS];
	jr.node_id = (char *)w->id;
	jr.certificate.data = w->cert;
	jr.certificate.len = w->cert_len;
	jr.cluster_id = m->st->cluster_id;
	jr.root_key.data = m->st->root_pk;
	jr.root_key.len = WIRE_PK_LEN;
	if (w->role == WIRE_ROLE_MANAGER) {
		/* The CA's key goes to managers only, encrypted by the
		 * channel. */
		jr.root_sk.data = m->st->root_sk;
		jr.root_sk.len = WIRE_SK_LEN;
		mgr__raft_settings_pb(m, &raft);
		jr.raft = &raft;
	}
	mgr__fill_managers(m, mgrs, &jr.n_managers);
	jr.managers = mgrs;
	mgr__fill_manager_ids(m, ids, &jr.n_manager_ids);
	jr.manager_ids = ids;
	jr.heartbeat_ms = m->st->heartbeat_ms;
	env.body_case = SWARM__ENVELOPE__BODY_JOIN_RESPONSE;
	env.join_response = &jr;
	mgr__send(c, &env);
}

static void join_committed(void *arg, int rc, const char *msg)
{
	struct join_wait *w = arg;
	struct mgr_conn *c = w->c;
	if (c->closed) {
		/* The joiner left: its node stays, Down, until removed. */
	} else if (rc < 0) {
		join_reply_error(c, rc, *msg ? msg : "cannot record the node");
	} else {
		log_info("node=%s joined as %s", w->id,
			 wire_role_name(w->role));
		join_answer(c, w);
	}
	shoal_free(w->cert);
	shoal_free(w);
	mgr__conn_release(c);
}

/* Add the node to the store, then hand it its certificate. */
void mgr__on_join(struct mgr_conn *c, const Swarm__JoinRequest *req)
{
	struct mgr *m = c->m;
	if (req->public_key.len != WIRE_PK_LEN) {
		log_warn("peer=%s sent a join request without a valid public "
			 "key",
			 wire_chan_name(c->chan));
		wire_chan_close(c->chan);
		return;
	}
	if (!m->leader) {
		join_redirect(c);
		return;
	}
	struct mgr_node_desc d;
	mgr__desc_from_pb(&d, req->description);
	struct join_wait *w = shoal_calloc(1, sizeof(*w));
	if (!w) {
		join_reply_error(c, -ENOMEM, "out of memory");
		return;
	}
	w->c = c;
	w->role = c->peer.role;
	id_swarm(w->id);
	int rc = ca_issue(m->st, w->id, w->role, req->public_key.data,
			  time_real_ns() / NSEC_PER_SEC, m->applied, &w->cert,
			  &w->cert_len);
	if (rc < 0) {
		shoal_free(w);
		join_reply_error(c, rc, "cannot issue a certificate");
		return;
	}
	bool mgr = w->role == WIRE_ROLE_MANAGER;
	struct store_batch b;
	store_batch_init(&b, time_real_ns());
	rc = mgr__add_json(&b, STORE_NODES, w->id, NULL,
			   mgr__node_spec_new(w->role),
			   mgr__node_status_new(&d, "unknown", mgr, d.addr));
	if (rc == 0)
		rc = mgr__propose(m, &b, join_committed, w);
	store_batch_fini(&b);
	if (rc < 0) {
		shoal_free(w->cert);
		shoal_free(w);
		join_reply_error(c, rc, "cannot record the node");
		return;
	}
	c->pending++;
}
