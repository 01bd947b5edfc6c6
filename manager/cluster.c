/*
 * The manager's wiring (manager.h): the store replicated through Raft
 * (raft/node_uv.h over raft/transport.h), the swarm port (listener.c and
 * the roles it routes to), the leader's housekeeping timer.
 *
 * Replication. Every change is a store batch proposed with
 * mgr__propose(); raft_node applies committed entries in order on every
 * manager through apply(), which feeds store_apply() and remembers the
 * result so that the proposer's callback (which node_uv runs right after
 * its entry's apply) can report it. Snapshots are store_snapshot() bytes.
 * Raft ids are derived from node ids (the first 8 bytes of their SHA-256),
 * so every manager computes the same id for a node without a table.
 *
 * Raft traffic uses its own listener, at the swarm port plus one, over
 * proto's secure channel with the node certificates; the certificate check
 * there admits managers only. After each apply, what every manager derives
 * from the store (tokens, autolock, settings, Raft peers) is brought up to
 * date (follow.c).
 *
 * The founding manager bootstraps a one-voter group; once it leads with an
 * empty store it proposes the cluster object (with the token secrets) and
 * its own node. A manager that joins later starts with an empty log and
 * waits: the leader's timer adds every manager node of the store that is
 * missing from the configuration as a learner and promotes learners, which
 * the core does only once they have caught up (one change at a time;
 * refusals are retried on the next tick).
 *
 * Stop: the Raft node (pending proposals get -ECANCELED), then the
 * transport, listener, timer and connections; done() runs when all are
 * closed.
 */
#define LOG_MODULE "manager"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/error.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "manager/internal.h"
#include "raft/node_uv.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

uint64_t mgr__raft_id(const char *node_id)
{
	uint8_t d[SHA256_BYTES];
	shoal_sha256(node_id, strlen(node_id), d);
	uint64_t id = 0;
	for (int i = 0; i < 8; i++)
		id = id << 8 | d[i];
	return id ? id : 1;
}

/* "10.0.0.1:2377" -> "10.0.0.1:2378" */
int mgr__raft_addr(const char *swarm_addr, char *out, size_t cap)
{
	const char *colon = strrchr(swarm_addr, ':');
	if (!colon)
		return -EINVAL;
	long port = strtol(colon + 1, NULL, 10);
	if (port < 0 || port >= 65535)
		return -EINVAL;
	/* Port 0 (tests): any port for Raft as well. */
	snprintf(out, cap, "%.*s:%ld", (int)(colon - swarm_addr), swarm_addr,
		 port ? port + 1 : 0);
	return 0;
}

/* --- proposals ----------------------------------------------------------- */

struct prop {
	struct mgr *m;
	mgr_done_fn *done;
	void *arg;
};

static void prop_done(void *arg, int status)
{
	struct prop *p = arg;
	struct mgr *m = p->m;
	if (p->done) {
		if (status == 0)
			p->done(p->arg, m->last_rc,
				m->last_rc ? m->last_res.msg : "");
		else
			p->done(p->arg, status,
				status == SHOAL_ENOTLEADER
					? "leadership changed before the "
					  "change was committed"
					: shoal_strerror(status));
	}
	shoal_free(p);
}

int mgr__propose(struct mgr *m, struct store_batch *b, mgr_done_fn *done,
		 void *arg)
{
	if (!m->rn || !m->leader)
		return SHOAL_ENOTLEADER;
	uint8_t *data;
	size_t len;
	int rc = store_batch_finish(b, &data, &len);
	if (rc < 0)
		return rc;
	struct prop *p = shoal_calloc(1, sizeof(*p));
	if (!p) {
		shoal_free(data);
		return -ENOMEM;
	}
	p->m = m;
	p->done = done;
	p->arg = arg;
	rc = raft_node_propose(m->rn, data, len, prop_done, p);
	shoal_free(data);
	if (rc < 0)
		shoal_free(p);
	return rc;
}

const char *mgr_leader_addr(const struct mgr *m, char *buf, size_t cap)
{
	buf[0] = '\0';
	const struct store_object **all;
	size_t n;
	if (!m->leader_id || store_list(m->store, STORE_NODES, &all, &n) < 0)
		return buf;
	for (size_t i = 0; i < n; i++) {
		if (mgr__raft_id(all[i]->id) != m->leader_id)
			continue;
		json_t *st = mgr__obj_json(all[i]->status, all[i]->status_len);
		snprintf(buf, cap, "%s",
			 jsonx_str(jsonx_obj(st, "ManagerStatus"), "Addr", ""));
		json_decref(st);
	}
	shoal_free(all);
	return buf;
}

int mgr__not_leader(const struct mgr *m, char *err, size_t errlen)
{
	char addr[SWARM_ADDR_MAX];
	mgr_leader_addr(m, addr, sizeof(addr));
	snprintf(err, errlen, "this manager is not the raft leader; %s%s",
		 *addr ? "the leader is at " : "no leader is elected yet",
		 addr);
	return SHOAL_ENOTLEADER;
}

bool mgr_is_leader(const struct mgr *m)
{
	return m->leader;
}

bool mgr_node_is_leader(const struct mgr *m, const char *id)
{
	return m->leader_id && mgr__raft_id(id) == m->leader_id;
}

bool mgr_node_raft_member(const struct mgr *m, const char *id)
{
	if (!m->rn)
		return false;
	struct raft_status s;
	raft_node_status(m->rn, &s);
	return raft_conf_find(&s.conf, mgr__raft_id(id)) != NULL;
}

/* --- state machine ------------------------------------------------------- */

/*
 * Ready: the store holds the cluster object and, for a manager that joined,
 * this manager votes (so that "joined as a manager" means it counts for the
 * quorum, as Docker's join returns once the node is a Raft member).
 */
static void check_ready(struct mgr *m)
{
	if (m->ready_sent || !m->rn || !mgr_cluster(m))
		return;
	if (!m->founder) {
		struct raft_status s;
		raft_node_status(m->rn, &s);
		const struct raft_server *sv =
			raft_conf_find(&s.conf, m->raft_id);
		if (!sv || sv->role != RAFT_VOTER)
			return;
	}
	m->ready_sent = true;
	if (m->ready)
		m->ready(m->arg);
}

static void after_change(struct mgr *m)
{
	/* Revocations and removals take effect on live connections now,
	 * not at the certificates' expiry. */
	mgr__revoked_refresh(m);
	if (m->rt)
		raft_tcp_recheck(m->rt);
	mgr__conns_recheck(m);
	mgr__sync_check(m, false);
	mgr__follow(m);
	check_ready(m);
	mgr__components_changed(m);
}

static void on_timer(uv_timer_t *t);

/* The leader's housekeeping runs every half heartbeat period, and right
 * after each applied entry so that membership changes follow each other
 * without waiting a period. */
static uint64_t timer_period(const struct mgr *m)
{
	return m->st->heartbeat_ms / 2 ? m->st->heartbeat_ms / 2 : 1;
}

static void on_apply(void *arg, const struct raft_entry *e)
{
	struct mgr *m = arg;
	if (m->leader && m->timer_on)
		uv_timer_start(&m->timer, on_timer, 0, timer_period(m));
	if (e->index >= m->replay_upto)
		m->lock_live = true;
	m->applied = e->index;
	if (e->type != RAFT_ENTRY_NORMAL) {
		check_ready(m); /* a configuration: maybe we vote now */
		return;
	}
	memset(&m->last_res, 0, sizeof(m->last_res));
	m->last_rc =
		store_apply(m->store, e->data, e->len, e->index, &m->last_res);
	if (m->last_rc == -EALREADY)
		m->last_rc = 0;
	else if (m->last_rc == -ENOMEM)
		log_error("entry %" PRIu64 " not applied: out of memory",
			  e->index);
	after_change(m);
}

static int on_snapshot_take(void *arg, void **data, size_t *len)
{
	struct mgr *m = arg;
	struct buf b;
	buf_init(&b, STORE_BATCH_MAX * 4);
	int rc = store_snapshot(m->store, &b);
	if (rc < 0) {
		buf_fini(&b);
		return rc;
	}
	*data = buf_take(&b, len);
	return *data ? 0 : -ENOMEM;
}

static int on_snapshot_restore(void *arg, const void *data, size_t len)
{
	struct mgr *m = arg;
	struct store_result res = {0};
	int rc = store_restore(m->store, data, len, &res);
	if (rc < 0)
		log_error("snapshot not restored: %s", res.msg);
	else
		after_change(m);
	return rc;
}

static void bootstrap(struct mgr *m);

static void on_role(void *arg, enum raft_role role, uint64_t leader,
		    uint64_t term)
{
	struct mgr *m = arg;
	bool was = m->leader;
	m->leader = role == RAFT_LEADER;
	m->leader_id = leader;
	if (m->leader && !was) {
		log_info("node=%s leads the managers (term %" PRIu64 ")",
			 m->st->node_id, term);
		mgr__dispatcher_lead(m); /* a grace for sessions */
		mgr__components_lead(m);
		if (!mgr_cluster(m))
			bootstrap(m);
	} else if (was && !m->leader) {
		log_info("node=%s no longer leads (term %" PRIu64 ")",
			 m->st->node_id, term);
		mgr__components_follow(m);
		mgr__dispatcher_follow(m);
		mgr__close_conns(m); /* sessions move to the new leader */
	}
	if (!m->leader && leader)
		mgr__handoff_resume(m);
}

static void on_error(void *arg, int err)
{
	struct mgr *m = arg;
	log_error("node=%s raft stopped: %s", m->st->node_id,
		  shoal_strerror(err));
	m->leader = false;
	mgr__components_follow(m);
	mgr__dispatcher_follow(m);
}

/* --- bootstrap ----------------------------------------------------------- */

int mgr__add_json(struct store_batch *b, enum store_table t, const char *id,
		  const char *name, json_t *spec, json_t *status)
{
	size_t slen = 0, tlen = 0;
	char *s = spec ? jsonx_dump(spec, &slen) : NULL;
	char *u = status ? jsonx_dump(status, &tlen) : NULL;
	int rc = s && (u || !status)
			 ? store_batch_create(b, t, id, name, s, slen, u, tlen)
			 : -ENOMEM;
	shoal_free(s);
	shoal_free(u);
	json_decref(spec);
	json_decref(status);
	return rc;
}

static json_t *secrets_json(const struct swarm_state *st)
{
	char w[2 * WIRE_TOKEN_SECRET_LEN + 1], k[2 * WIRE_TOKEN_SECRET_LEN + 1];
	shoal_hex(st->worker_token.secret, WIRE_TOKEN_SECRET_LEN, w);
	shoal_hex(st->manager_token.secret, WIRE_TOKEN_SECRET_LEN, k);
	json_t *o =
		json_pack("{s:s, s:s}", "WorkerSecret", w, "ManagerSecret", k);
	if (o && st->autolock) {
		char u[2 * sizeof(st->kek) + 1];
		shoal_hex(st->kek, sizeof(st->kek), u);
		jsonx_set(o, "UnlockKey", json_string(u));
		shoal_wipe(u, sizeof(u));
	}
	shoal_wipe(w, sizeof(w));
	shoal_wipe(k, sizeof(k));
	return o;
}

static void bootstrapped(void *arg, int rc, const char *msg)
{
	const struct mgr *m = arg;
	if (rc < 0)
		log_error("swarm=%s: cannot create the cluster object: %s",
			  m->st->cluster_id, *msg ? msg : shoal_strerror(rc));
}

/* The founder's node spec: a manager, with the availability init asked. */
static json_t *founder_spec(const struct mgr *m)
{
	json_t *spec = mgr__node_spec_new(WIRE_ROLE_MANAGER);
	if (spec && *m->init_availability)
		jsonx_set(spec, "Availability",
			  json_string(m->init_availability));
	return spec;
}

/*
 * A new swarm: the cluster object and this node, in one batch. The spec is
 * the one init was given when this process ran it, else (a founder that
 * restarted before this commit) the one its state holds, which lacks only
 * init's labels.
 */
static void bootstrap(struct mgr *m)
{
	struct store_batch b;
	store_batch_init(&b, time_real_ns());
	json_t *spec = m->init_spec ? json_incref(m->init_spec)
				    : swarm_spec_from_state(m->st);
	int rc = mgr__add_json(&b, STORE_CLUSTERS, m->st->cluster_id, "default",
			       spec, secrets_json(m->st));
	if (rc == 0)
		rc = mgr__add_json(&b, STORE_NODES, m->st->node_id, NULL,
				   founder_spec(m),
				   mgr__node_status_new(&m->self, "ready", true,
							m->st->advertise_addr));
	if (rc == 0)
		rc = mgr__propose(m, &b, bootstrapped, m);
	store_batch_fini(&b);
	if (rc < 0)
		log_error("cannot propose the cluster object: %s",
			  shoal_strerror(rc));
}

/* --- leader housekeeping ------------------------------------------------- */

/* Remove from Raft a server whose node is no longer a manager. */
static bool shrink_raft(struct mgr *m, const struct raft_status *s)
{
	for (uint32_t i = 0; i < s->conf.n; i++) {
		uint64_t id = s->conf.servers[i].id;
		if (id == m->raft_id)
			continue;
		const struct store_object **all;
		size_t n;
		bool manager = false;
		if (store_list(m->store, STORE_NODES, &all, &n) < 0)
			return false;
		for (size_t k = 0; k < n && !manager; k++)
			manager = mgr__raft_id(all[k]->id) == id &&
				  mgr__node_role(all[k]) == WIRE_ROLE_MANAGER;
		shoal_free(all);
		if (manager)
			continue;
		if (raft_node_remove(m->rn, id) == 0)
			log_info("raft server %" PRIx64
				 " removed: its node is no longer a manager",
				 id);
		return true; /* one membership change at a time */
	}
	return false;
}

/* Add manager nodes missing from the configuration and promote learners
 * (after removing servers whose node was demoted or removed). */
static void grow_raft(struct mgr *m)
{
	struct raft_status s;
	raft_node_status(m->rn, &s);
	if (shrink_raft(m, &s))
		return;
	const struct store_object **all;
	size_t n;
	if (store_list(m->store, STORE_NODES, &all, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		if (mgr__node_role(all[i]) != WIRE_ROLE_MANAGER)
			continue;
		uint64_t id = mgr__raft_id(all[i]->id);
		const struct raft_server *sv = raft_conf_find(&s.conf, id);
		int rc = 0;
		if (!sv)
			rc = raft_node_add_learner(m->rn, id);
		else if (sv->role == RAFT_LEARNER)
			rc = raft_node_promote(m->rn, id);
		else
			continue;
		if (rc == 0)
			log_info("node=%s %s", all[i]->id,
				 sv ? "promoted to raft voter"
				    : "added to raft as a learner");
		break; /* one membership change at a time */
	}
	shoal_free(all);
}

static void on_timer(uv_timer_t *t)
{
	struct mgr *m = t->data;
	mgr__handoff_check(m);
	if (!m->leader)
		return;
	mgr__check_down(m);
	grow_raft(m);
	mgr__components_tick(m);
	mgr__orch_tick(m);
}

/* --- life cycle ---------------------------------------------------------- */

void mgr__maybe_done(struct mgr *m)
{
	if (!m->stopping || m->open_handles > 0 || m->closing > 0 ||
	    !list_empty(&m->conns))
		return;
	mgr__dispatcher_follow(m);
	mgr__orch_free(m);
	mgr__attach_free(m);
	store_free(m->store);
	json_decref(m->revoked);
	json_decref(m->init_spec);
	void (*done)(void *) = m->done;
	void *arg = m->done_arg;
	shoal_free(m);
	if (done)
		done(arg);
}

void mgr__handle_closed(uv_handle_t *h)
{
	struct mgr *m = h->data;
	m->open_handles--;
	mgr__maybe_done(m);
}

void mgr__listener_closed(uv_handle_t *h)
{
	struct mgr *m = h->data;
	shoal_free(h);
	if (m) {
		m->open_handles--;
		mgr__maybe_done(m);
	}
}

static void start_timer(struct mgr *m)
{
	uv_timer_init(m->loop, &m->timer);
	m->timer.data = m;
	m->open_handles++;
	m->timer_on = true;
	uv_timer_start(&m->timer, on_timer, timer_period(m), timer_period(m));
}

static int start_transport(struct mgr *m, char *err, size_t errlen)
{
	char addr[SWARM_ADDR_MAX + 8];
	int rc = mgr__raft_addr(m->st->listen_addr, addr, sizeof(addr));
	if (rc < 0) {
		snprintf(err, errlen, "invalid listen address \"%s\"",
			 m->st->listen_addr);
		return rc;
	}
	m->raft_chan = m->chan_cfg;
	m->raft_chan.join_lookup = NULL;
	m->raft_chan.cert_check = mgr__manager_cert_check;
	m->raft_chan.cert_check_arg = m;
	struct raft_tcp_options o = {
		.id = m->raft_id,
		.listen_addr = addr,
		.chan = &m->raft_chan,
		.identify = mgr__raft_identify,
		.identify_arg = m,
	};
	rc = raft_tcp_new(m->loop, &o, &m->rt);
	if (rc < 0)
		snprintf(err, errlen, "cannot listen for raft on %s: %s", addr,
			 shoal_strerror(rc));
	return rc;
}

static int start_raft(struct mgr *m, char *err, size_t errlen)
{
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/raft", m->data_root);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		int rc = -errno;
		snprintf(err, errlen, "cannot create %s: %s", dir,
			 shoal_strerror(rc));
		return rc;
	}
	struct raft_options ro;
	const struct swarm_raft *sr = &m->st->raft;
	raft_options_init(&ro);
	swarm_raft_timing(sr, &ro.heartbeat_ms, &ro.election_timeout_ms);
	ro.snapshot_threshold = sr->snapshot_interval
					? sr->snapshot_interval
					: SWARM_DEFAULT_SNAPSHOT_INTERVAL;
	ro.snapshot_trailing = sr->log_entries_for_slow_followers
				       ? sr->log_entries_for_slow_followers
				       : SWARM_DEFAULT_SLOW_FOLLOWERS;
	/* Promote a learner only once it acknowledged (nearly) the whole
	 * log: with the default margin a learner that never answered would
	 * count as caught up on a young, short log and could take the
	 * quorum away. */
	ro.catchup_margin = 1;
	struct raft_conf conf = {.n = 1};
	conf.servers[0].id = m->raft_id;
	conf.servers[0].role = RAFT_VOTER;
	/* The log is encrypted at rest with the node's DEK (lock.h). It
	 * always keeps one older snapshot, the fallback for a damaged newest
	 * one (docs/raft-disk.md): KeepOldSnapshots N keeps max(N, 1). */
	struct raft_disk_options dopt = {
		.key = m->st->has_dek ? m->st->dek : NULL,
		.snapshots_kept =
			1 + (sr->keep_old_snapshots > 1
				     ? (unsigned)sr->keep_old_snapshots
				     : 1),
	};
	struct raft_node_options o = {
		.id = m->raft_id,
		.dir = dir,
		.disk = &dopt,
		.bootstrap = m->founder ? &conf : NULL,
		.raft = &ro,
		.transport = m->rt,
		.cb = {.apply = on_apply,
		       .role = on_role,
		       .snapshot_take = on_snapshot_take,
		       .snapshot_restore = on_snapshot_restore,
		       .error = on_error},
		.cb_arg = m,
	};
	int rc = raft_node_start(m->loop, &o, &m->rn);
	if (rc < 0) {
		snprintf(err, errlen, "cannot start raft in %s: %s", dir,
			 shoal_strerror(rc));
		return rc;
	}
	struct raft_status s;
	raft_node_status(m->rn, &s);
	m->replay_upto = s.last_index;
	m->lock_live = s.last_index == 0;
	m->raft_running = *sr;
	swarm_raft_normalize(&m->raft_running);
	log_info("raft: heartbeat %u ms, election timeout %u ms (ticks of %d "
		 "ms: HeartbeatTick %u, ElectionTick %u); a snapshot every "
		 "%" PRIu64 " entries, %" PRIu64
		 " kept for slow followers, %u on disk",
		 ro.heartbeat_ms, ro.election_timeout_ms, SWARM_RAFT_TICK_MS,
		 ro.heartbeat_ms / SWARM_RAFT_TICK_MS,
		 ro.election_timeout_ms / SWARM_RAFT_TICK_MS,
		 ro.snapshot_threshold, ro.snapshot_trailing,
		 dopt.snapshots_kept);
	return 0;
}

static void transport_closed(void *arg)
{
	struct mgr *m = arg;
	m->closing--;
	mgr__maybe_done(m);
}

static void raft_stopped(void *arg)
{
	struct mgr *m = arg;
	m->rn = NULL;
	if (m->rt)
		m->rt->close(m->rt->impl, transport_closed, m);
	else
		m->closing--;
	m->rt = NULL;
}

int mgr_start(const struct mgr_config *cfg, struct mgr **out, char *err,
	      size_t errlen)
{
	struct mgr *m = shoal_calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->loop = cfg->loop;
	m->data_root = cfg->data_root;
	m->st = cfg->st;
	m->self = *cfg->self;
	m->founder = cfg->founder;
	m->init_spec =
		cfg->init_spec ? json_incref((json_t *)cfg->init_spec) : NULL;
	snprintf(m->init_availability, sizeof(m->init_availability), "%s",
		 cfg->init_availability ? cfg->init_availability : "");
	m->ready = cfg->ready;
	m->state_changed = cfg->state_changed;
	m->arg = cfg->arg;
	mgr__dispatcher_init(m);
	m->raft_id = mgr__raft_id(m->st->node_id);
	list_init(&m->conns);
	list_init(&m->fwd_reqs);
	list_init(&m->sync_waiters);
	int rc = store_new(&m->store);
	if (rc < 0)
		goto err_free;
	rc = mgr__components_init(m, cfg);
	if (rc == 0)
		rc = mgr__orch_init(m);
	if (rc == 0)
		rc = mgr__attach_init(m);
	if (rc < 0) {
		snprintf(err, errlen, "cannot register the components: %s",
			 shoal_strerror(rc));
		goto err_store;
	}
	rc = mgr__listen(m, err, errlen);
	if (rc < 0)
		goto err_store;
	rc = start_transport(m, err, errlen);
	if (rc < 0)
		goto err_listener;
	rc = start_raft(m, err, errlen);
	if (rc < 0)
		goto err_transport;
	start_timer(m);
	mgr__components_open(m);
	mgr__seed_peers(m);
	mgr__sync_peers(m);
	*out = m;
	return 0;
err_transport:
	m->rt->close(m->rt->impl, NULL, NULL);
err_listener:
	/* The listener's close callback must not reach the freed manager. */
	m->listener->data = NULL;
	uv_close((uv_handle_t *)m->listener, mgr__listener_closed);
err_store:
	mgr__orch_free(m);
	mgr__attach_free(m);
	store_free(m->store);
err_free:
	json_decref(m->init_spec);
	shoal_free(m);
	return rc;
}

void mgr_stop(struct mgr *m, void (*done)(void *arg), void *arg)
{
	m->stopping = true;
	m->done = done;
	m->done_arg = arg;
	mgr__components_close(m);
	mgr__logs_stop_all(m);
	m->closing = 1;
	uv_close((uv_handle_t *)m->listener, mgr__listener_closed);
	m->timer_on = false;
	uv_close((uv_handle_t *)&m->timer, mgr__handle_closed);
	mgr__close_conns(m);
	mgr__forward_stop(m);
	mgr__handoff_check(m); /* stopping: ends a pending one */
	mgr__sync_check(m, true);
	raft_node_stop(m->rn, raft_stopped, m);
}

const struct store *mgr_store(const struct mgr *m)
{
	return m->store;
}

int mgr_watch(struct mgr *m, uint32_t tables, size_t max_events,
	      store_notify_fn *notify, void *arg, struct store_watcher **out)
{
	return store_watch(m->store, tables, max_events, notify, arg, out);
}

int mgr_port(const struct mgr *m)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	int rc = uv_tcp_getsockname(m->listener, (struct sockaddr *)&ss, &len);
	if (rc < 0)
		return rc;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

const struct swarm_raft *mgr_raft_running(const struct mgr *m)
{
	return &m->raft_running;
}

const struct store_object *mgr_cluster(const struct mgr *m)
{
	return store_get(m->store, STORE_CLUSTERS, m->st->cluster_id);
}

void mgr_cert_renewed(struct mgr *m)
{
	/* The channel configurations point into st->cert; only the length
	 * was copied. */
	m->chan_cfg.cert_len = m->st->cert_len;
	m->raft_chan.cert_len = m->st->cert_len;
}
