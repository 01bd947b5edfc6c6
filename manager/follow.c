/*
 * What every manager derives from the store after each applied change
 * (cluster.c's after_change()), so that its own state follows the
 * replicated one: the join tokens' secrets, autolock's unlock key, the
 * swarm's settings (SwarmSpec), and the Raft peers with the managers'
 * addresses that agents are given. What belongs in this node's state file
 * is saved through the state_changed callback when it changes.
 *
 * Peers' addresses come from the store: every manager node's
 * ManagerStatus.Addr, with the port plus one; before the store has them
 * (a manager still catching up), from the managers its join answer named.
 * An address is set on the transport only when it changes, since setting
 * one drops its connection.
 */
#define LOG_MODULE "manager"
#include "common/alloc.h"
#include "common/crypto.h"
#include "common/error.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "manager/internal.h"
#include "raft/transport.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Token secrets from the cluster object's status into our state. */
static void sync_tokens(struct mgr *m)
{
	const struct store_object *o = mgr_cluster(m);
	json_t *st = o ? mgr__obj_json(o->status, o->status_len) : NULL;
	const char *w = jsonx_str(st, "WorkerSecret", NULL);
	const char *k = jsonx_str(st, "ManagerSecret", NULL);
	struct wire_token wt = m->st->worker_token, mt = m->st->manager_token;
	if (w && k && strlen(w) == 2 * WIRE_TOKEN_SECRET_LEN &&
	    strlen(k) == 2 * WIRE_TOKEN_SECRET_LEN &&
	    shoal_unhex(w, wt.secret, WIRE_TOKEN_SECRET_LEN) == 0 &&
	    shoal_unhex(k, mt.secret, WIRE_TOKEN_SECRET_LEN) == 0) {
		bool changed = !m->st->has_tokens ||
			       memcmp(&wt, &m->st->worker_token, sizeof(wt)) ||
			       memcmp(&mt, &m->st->manager_token, sizeof(mt));
		shoal_sha256(m->st->root_pk, WIRE_PK_LEN, wt.root_digest);
		memcpy(mt.root_digest, wt.root_digest, sizeof(mt.root_digest));
		m->st->worker_token = wt;
		m->st->manager_token = mt;
		m->st->has_tokens = true;
		if (changed && m->state_changed)
			m->state_changed(m->arg);
	}
	json_decref(st);
}

/*
 * Autolock is the swarm's, as in Docker: the cluster object's status holds
 * the unlock key (KEK) while autolock is on, and every manager re-wraps
 * its own DEK with it when it changes (lock.h). The Raft log that carries
 * the KEK is itself encrypted with the DEK the KEK seals.
 */
static void sync_lock(struct mgr *m)
{
	const struct store_object *o = mgr_cluster(m);
	if (!o || !m->lock_live)
		return;
	json_t *st = mgr__obj_json(o->status, o->status_len);
	const char *u = jsonx_str(st, "UnlockKey", NULL);
	uint8_t kek[sizeof(m->st->kek)];
	bool on = u && strlen(u) == 2 * sizeof(kek) &&
		  shoal_unhex(u, kek, sizeof(kek)) == 0;
	json_decref(st);
	bool changed = on != m->st->autolock ||
		       (on && !shoal_equal_ct(kek, m->st->kek, sizeof(kek)));
	if (changed) {
		if (!m->st->has_dek) {
			/* A node from before encryption at rest: new
			 * writes are encrypted from its next start. */
			shoal_random(m->st->dek, sizeof(m->st->dek));
			m->st->has_dek = true;
		}
		m->st->autolock = on;
		if (on)
			memcpy(m->st->kek, kek, sizeof(kek));
		else
			shoal_wipe(m->st->kek, sizeof(m->st->kek));
		log_info("swarm=%s autolock %s; the data key is re-wrapped",
			 m->st->cluster_id, on ? "on (key set)" : "off");
		if (m->state_changed)
			m->state_changed(m->arg);
	}
	shoal_wipe(kek, sizeof(kek));
}

/* Tell the transport a peer's address once (setting it again drops the
 * connection). */
static void set_peer(struct mgr *m, uint64_t id, const char *addr)
{
	size_t i = 0;
	for (; i < m->npeers; i++)
		if (m->peers[i].id == id)
			break;
	if (i < m->npeers && strcmp(m->peers[i].addr, addr) == 0)
		return;
	if (i == m->npeers) {
		if (m->npeers == SWARM_MAX_MANAGERS)
			return;
		m->npeers++;
	}
	m->peers[i].id = id;
	snprintf(m->peers[i].addr, sizeof(m->peers[i].addr), "%s", addr);
	int rc = raft_tcp_set_peer(m->rt, id, addr);
	if (rc < 0)
		log_warn("raft peer %" PRIx64 " at %s not usable: %s", id, addr,
			 shoal_strerror(rc));
}

/*
 * Forget the Raft peers that are no longer managers in the store (@all,
 * its @n nodes): the transport stops redialling them and closes their
 * connections. Only once the store holds the cluster (a manager that is
 * still catching up keeps the peers it was told of when it joined).
 */
static void drop_peers(struct mgr *m, const struct store_object **all, size_t n)
{
	for (size_t i = 0; i < m->npeers;) {
		bool keep = false;
		for (size_t j = 0; j < n && !keep; j++)
			keep = mgr__node_role(all[j]) == WIRE_ROLE_MANAGER &&
			       mgr__raft_id(all[j]->id) == m->peers[i].id;
		if (keep) {
			i++;
			continue;
		}
		log_info("raft peer %" PRIx64 " at %s is no longer a manager: "
			 "dropped",
			 m->peers[i].id, m->peers[i].addr);
		if (m->rt)
			raft_tcp_set_peer(m->rt, m->peers[i].id, NULL);
		m->peers[i] = m->peers[--m->npeers];
	}
}

/*
 * Raft peers: every manager node of the store but us; and the list of
 * managers' swarm addresses that agents are given (kept in our state so
 * that our own agent finds them after a restart).
 */
void mgr__sync_peers(struct mgr *m)
{
	const struct store_object **all;
	size_t n, k = 0;
	char addrs[SWARM_MAX_MANAGERS][SWARM_ADDR_MAX];
	char ids[SWARM_MAX_MANAGERS][WIRE_ID_MAX + 1];
	if (store_list(m->store, STORE_NODES, &all, &n) < 0)
		return;
	if (mgr_cluster(m))
		drop_peers(m, all, n);
	for (size_t i = 0; i < n; i++) {
		if (mgr__node_role(all[i]) != WIRE_ROLE_MANAGER)
			continue;
		json_t *st = mgr__obj_json(all[i]->status, all[i]->status_len);
		const char *a =
			jsonx_str(jsonx_obj(st, "ManagerStatus"), "Addr", "");
		uint64_t id = mgr__raft_id(all[i]->id);
		char addr[SWARM_ADDR_MAX + 8];
		if (*a && k < SWARM_MAX_MANAGERS &&
		    strlen(a) < SWARM_ADDR_MAX) {
			snprintf(ids[k], sizeof(ids[k]), "%s", all[i]->id);
			snprintf(addrs[k++], SWARM_ADDR_MAX, "%s", a);
		}
		if (m->rt && id != m->raft_id &&
		    mgr__raft_addr(a, addr, sizeof(addr)) == 0)
			set_peer(m, id, addr);
		json_decref(st);
	}
	shoal_free(all);
	if (k == 0)
		return;
	bool changed = k != m->st->nmanagers;
	for (size_t i = 0; i < k && !changed; i++)
		changed = strcmp(addrs[i], m->st->managers[i]) != 0 ||
			  strcmp(ids[i], m->st->manager_ids[i]) != 0;
	if (!changed)
		return;
	memcpy(m->st->managers, addrs, sizeof(addrs[0]) * k);
	memcpy(m->st->manager_ids, ids, sizeof(ids[0]) * k);
	m->st->nmanagers = k;
	if (m->state_changed)
		m->state_changed(m->arg);
}

/*
 * The swarm's settings from the cluster object's spec into our state: the
 * dispatcher's period and the certificate expiry apply at once, Raft's at
 * this manager's next start (raft_node has no way to change them while it
 * runs), which the log says once per change. Also the forced certificate
 * rotation's epoch from the status (dispatcher.c).
 */
static void sync_settings(struct mgr *m)
{
	const struct store_object *o = mgr_cluster(m);
	if (!o)
		return;
	json_t *sp = swarm_spec_read(o->spec, o->spec_len);
	bool changed = sp && swarm_spec_to_state(sp, m->st);
	json_decref(sp);
	json_t *st = mgr__obj_json(o->status, o->status_len);
	m->rotate_epoch =
		(uint64_t)jsonx_int(jsonx_obj(st, "CertRotation"), "Epoch", 0);
	json_decref(st);
	if (!changed)
		return;
	struct swarm_raft now = m->st->raft;
	swarm_raft_normalize(&now);
	if (memcmp(&now, &m->raft_running, sizeof(now)) != 0) {
		uint32_t hb, el;
		swarm_raft_timing(&m->st->raft, &hb, &el);
		log_info("swarm=%s raft settings changed (heartbeat %u ms, "
			 "election timeout %u ms): they apply at this "
			 "manager's next start",
			 m->st->cluster_id, hb, el);
	}
	if (m->state_changed)
		m->state_changed(m->arg);
}

/* Peers known from our state, before the store has them. */
void mgr__seed_peers(struct mgr *m)
{
	for (size_t i = 0; i < m->st->nmanagers; i++) {
		char addr[SWARM_ADDR_MAX + 8];
		if (!m->st->manager_ids[i][0] ||
		    strcmp(m->st->manager_ids[i], m->st->node_id) == 0 ||
		    mgr__raft_addr(m->st->managers[i], addr, sizeof(addr)) < 0)
			continue;
		set_peer(m, mgr__raft_id(m->st->manager_ids[i]), addr);
	}
}

void mgr__follow(struct mgr *m)
{
	sync_tokens(m);
	sync_lock(m);
	sync_settings(m);
	mgr__sync_peers(m);
}
