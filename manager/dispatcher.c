/*
 * The dispatcher (Docker's): the leader's node sessions, their heartbeats,
 * and the place where each node's assignments are pushed.
 *
 * A certified node (listener.c) sends a SessionRequest with its
 * description; the node is marked ready and the answer carries the
 * heartbeat period and the managers' addresses. It then sends a Heartbeat
 * every period; each answer repeats the period and the managers, and
 * names the role the node's spec asks for, so that a promoted or demoted
 * node asks for a certificate of its new role (RenewRequest), and whether
 * its certificate predates the last forced rotation (CAConfig.ForceRotate,
 * ops_swarm.c): the session knows the epoch of the newest certificate the
 * node holds, the one it connected with or the one it renewed since, and
 * an older one than the rotation's gets "renew" until it is replaced.
 * Renewals keep the node's identity key and follow its spec's role. Only
 * the leader holds sessions: a follower answers a SessionRequest with the
 * leader's address.
 *
 * Down detection: the timer (cluster.c) calls mgr__check_down() every
 * half period. A session whose last heartbeat is older than
 * SWARM_MISSED_HEARTBEATS periods is closed, and a node with no live
 * session is marked down; its next session or heartbeat marks it ready
 * again. Right after this manager starts leading, nodes get that long to
 * move their sessions here before any is marked down.
 *
 * Assignments: the leader's components give the dispatcher each node's
 * whole set of assignments (mgr_assign(); opaque items for now, tasks
 * once the orchestrator exists). The latest set per node is kept and sent
 * in an Assignments message when the node's session opens and each time
 * the set changes, with a generation that grows with every push, so the
 * node knows which set is newest. Sets are the leader's memory only: they
 * are dropped when it stops leading, and the next leader's components
 * compute and push their own. Bounded per node (MGR_ASSIGN_MAX_ITEMS,
 * _BYTES) and in nodes (MGR_ASSIGN_MAX_NODES).
 *
 * Invariants: a session belongs to exactly one open connection
 * (c->session) and is freed with it, or earlier when the dispatcher ends
 * it; sessions exist only while this manager leads (losing leadership
 * closes every connection).
 */
#define LOG_MODULE "dispatcher"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/error.h"
#include "common/log.h"
#include "manager/internal.h"
#include "proto/swarm.pb-c.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct mgr_session {
	struct list_node link;
	struct mgr_conn *c;
	char id[32];
	int64_t last_seen_ns; /* monotonic: the last heartbeat */
	uint64_t cert_epoch;  /* of the newest certificate the node holds */
};

static int64_t period_ns(const struct mgr *m)
{
	return (int64_t)m->st->heartbeat_ms * NSEC_PER_MSEC;
}

static int64_t silence_ns(const struct mgr *m)
{
	return SWARM_MISSED_HEARTBEATS * period_ns(m);
}

struct mgr_assign_set {
	struct list_node link;
	char node_id[WIRE_ID_MAX + 1];
	uint64_t generation;
	size_t n;
	ProtobufCBinaryData *items; /* pointing into @bytes */
	uint8_t *bytes;
	size_t nbytes;
};

void mgr__dispatcher_init(struct mgr *m)
{
	list_init(&m->disp.sessions);
	list_init(&m->disp.sets);
	m->disp.grace_from_ns = time_mono_ns();
}

static void set_free(struct mgr *m, struct mgr_assign_set *a)
{
	if (hmap_get_str(&m->disp.sets_by_node, a->node_id) == a)
		hmap_del_str(&m->disp.sets_by_node, a->node_id);
	list_remove(&a->link);
	m->disp.nsets--;
	shoal_free(a->items);
	shoal_free(a->bytes);
	shoal_free(a);
}

void mgr__dispatcher_follow(struct mgr *m)
{
	while (!list_empty(&m->disp.sets))
		set_free(m, list_entry(list_front(&m->disp.sets),
				       struct mgr_assign_set, link));
	hmap_fini(&m->disp.sets_by_node);
	m->disp.sets_by_node = (struct hmap)HMAP_INIT;
	/* Sessions end with leadership (their connections close); the ones
	 * still closing find nothing to remove. */
	hmap_fini(&m->disp.sessions_by_node);
	m->disp.sessions_by_node = (struct hmap)HMAP_INIT;
}

/* Sets and sessions are found by node id through hash maps: the
 * orchestrator pushes many nodes' sets per change, and a walk of every
 * node per push would make that quadratic in the swarm's size. */
static struct mgr_assign_set *set_of(struct mgr *m, const char *node_id)
{
	return hmap_get_str(&m->disp.sets_by_node, node_id);
}

static void send_set(struct mgr_conn *c, const struct mgr_assign_set *a)
{
	Swarm__Envelope env = SWARM__ENVELOPE__INIT;
	Swarm__Assignments as = SWARM__ASSIGNMENTS__INIT;
	as.generation = a->generation;
	as.n_items = a->n;
	as.items = a->items;
	env.body_case = SWARM__ENVELOPE__BODY_ASSIGNMENTS;
	env.assignments = &as;
	mgr__send(c, &env);
}

/* A copy of @items in one allocation, bounded. */
static int set_fill(struct mgr_assign_set *a, const struct mgr_item *items,
		    size_t n)
{
	size_t total = 0;
	if (n > MGR_ASSIGN_MAX_ITEMS)
		return -ENOBUFS;
	for (size_t i = 0; i < n; i++) {
		if (items[i].len > MGR_ASSIGN_MAX_BYTES - total)
			return -ENOBUFS;
		total += items[i].len;
	}
	a->items = shoal_calloc(n ? n : 1, sizeof(*a->items));
	a->bytes = shoal_malloc(total ? total : 1);
	if (!a->items || !a->bytes)
		return -ENOMEM;
	for (size_t i = 0, off = 0; i < n; off += items[i].len, i++) {
		if (items[i].len)
			memcpy(a->bytes + off, items[i].data, items[i].len);
		a->items[i].data = a->bytes + off;
		a->items[i].len = items[i].len;
	}
	a->n = n;
	a->nbytes = total;
	return 0;
}

int mgr_assign(struct mgr *m, const char *node_id, const struct mgr_item *items,
	       size_t n, uint64_t *gen)
{
	if (!m->leader)
		return SHOAL_ENOTLEADER;
	if (!store_get(m->store, STORE_NODES, node_id))
		return SHOAL_ENOTFOUND;
	struct mgr_assign_set *old = set_of(m, node_id);
	if (!old && m->disp.nsets >= MGR_ASSIGN_MAX_NODES)
		return -ENOBUFS;
	struct mgr_assign_set *a = shoal_calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	int rc = set_fill(a, items, n);
	if (rc < 0) {
		shoal_free(a->items);
		shoal_free(a->bytes);
		shoal_free(a);
		return rc;
	}
	snprintf(a->node_id, sizeof(a->node_id), "%s", node_id);
	if (hmap_put_str(&m->disp.sets_by_node, a->node_id, a, NULL) < 0) {
		shoal_free(a->items);
		shoal_free(a->bytes);
		shoal_free(a);
		return -ENOMEM;
	}
	a->generation = ++m->disp.generation;
	if (old) {
		list_remove(&old->link);
		m->disp.nsets--;
		shoal_free(old->items);
		shoal_free(old->bytes);
		shoal_free(old);
	}
	list_push_back(&m->disp.sets, &a->link);
	m->disp.nsets++;
	if (gen)
		*gen = a->generation;
	struct mgr_session *s =
		hmap_get_str(&m->disp.sessions_by_node, node_id);
	if (s && !s->c->closed)
		send_set(s->c, a);
	return 0;
}

void mgr__dispatcher_lead(struct mgr *m)
{
	m->disp.grace_from_ns = time_mono_ns();
}

static void session_free(struct mgr_session *s)
{
	struct mgr *m = s->c->m;
	if (hmap_get_str(&m->disp.sessions_by_node, s->c->node_id) == s)
		hmap_del_str(&m->disp.sessions_by_node, s->c->node_id);
	s->c->session = NULL;
	list_remove(&s->link);
	m->disp.nsessions--;
	shoal_free(s);
}

static const struct store_object *conn_node(struct mgr_conn *c)
{
	return store_get(c->m->store, STORE_NODES, c->node_id);
}

static void session_redirect(struct mgr_conn *c)
{
	char addr[SWARM_ADDR_MAX], *list[1];
	Swarm__Envelope env = SWARM__ENVELOPE__INIT;
	Swarm__SessionResponse sr = SWARM__SESSION_RESPONSE__INIT;
	sr.code = SHOAL_ENOTLEADER;
	sr.error = (char *)"this manager is not the leader";
	mgr__leader_hint(c->m, addr, sizeof(addr), list, &sr.n_managers);
	sr.managers = list;
	env.body_case = SWARM__ENVELOPE__BODY_SESSION_RESPONSE;
	env.session_response = &sr;
	mgr__send(c, &env);
}

static void session_answer(struct mgr_conn *c)
{
	struct mgr *m = c->m;
	Swarm__Envelope env = SWARM__ENVELOPE__INIT;
	Swarm__SessionResponse sr = SWARM__SESSION_RESPONSE__INIT;
	char *mgrs[SWARM_MAX_MANAGERS];
	sr.session_id = c->session->id;
	sr.heartbeat_ms = m->st->heartbeat_ms;
	mgr__fill_managers(m, mgrs, &sr.n_managers);
	sr.managers = mgrs;
	env.body_case = SWARM__ENVELOPE__BODY_SESSION_RESPONSE;
	env.session_response = &sr;
	mgr__send(c, &env);
}

void mgr__on_session(struct mgr_conn *c, const Swarm__SessionRequest *req)
{
	struct mgr *m = c->m;
	if (!m->leader) {
		session_redirect(c);
		return;
	}
	const struct store_object *o = conn_node(c);
	if (!o || c->session) {
		log_warn("peer=%s node=%s %s", wire_chan_name(c->chan),
			 c->node_id,
			 o ? "asked for a second session" : "is not a node");
		wire_chan_close(c->chan);
		return;
	}
	struct mgr_node_desc d;
	mgr__desc_from_pb(&d, req->description);
	struct mgr_session *s = shoal_calloc(1, sizeof(*s));
	int rc = s ? mgr__node_set_status(m, o, "ready", &d) : -ENOMEM;
	if (rc < 0) {
		log_warn("node=%s cannot be marked ready: %s", c->node_id,
			 shoal_strerror(rc));
		shoal_free(s);
		wire_chan_close(c->chan);
		return;
	}
	uint8_t rnd[8];
	shoal_random(rnd, sizeof(rnd));
	shoal_hex(rnd, sizeof(rnd), s->id);
	s->c = c;
	s->last_seen_ns = time_mono_ns();
	s->cert_epoch = c->peer.cert.epoch;
	if (hmap_put_str(&m->disp.sessions_by_node, c->node_id, s, NULL) < 0) {
		log_warn("node=%s session refused: out of memory", c->node_id);
		shoal_free(s);
		wire_chan_close(c->chan);
		return;
	}
	list_push_back(&m->disp.sessions, &s->link);
	m->disp.nsessions++;
	c->session = s;
	log_info("node=%s (%s) session %s opened; ready", c->node_id,
		 d.hostname, s->id);
	session_answer(c);
	const struct mgr_assign_set *a = set_of(m, c->node_id);
	if (a)
		send_set(c, a);
}

void mgr__on_heartbeat(struct mgr_conn *c, const Swarm__Heartbeat *hb)
{
	struct mgr *m = c->m;
	struct mgr_session *s = c->session;
	if (!m->leader || !s || !hb->session_id ||
	    strcmp(hb->session_id, s->id) != 0) {
		log_warn("peer=%s node=%s heartbeat outside its session",
			 wire_chan_name(c->chan), c->node_id);
		wire_chan_close(c->chan);
		return;
	}
	s->last_seen_ns = time_mono_ns();
	const struct store_object *o = conn_node(c);
	char state[16];
	if (o && strcmp(mgr__node_state(o, state, sizeof(state)), "ready")) {
		if (mgr__node_set_status(m, o, "ready", NULL) == 0)
			log_info("node=%s ready again", c->node_id);
	}
	if (o && hb->images)
		mgr__on_node_images(c, o, hb->images);
	Swarm__Envelope env = SWARM__ENVELOPE__INIT;
	Swarm__HeartbeatResponse hr = SWARM__HEARTBEAT_RESPONSE__INIT;
	char *mgrs[SWARM_MAX_MANAGERS];
	hr.heartbeat_ms = m->st->heartbeat_ms;
	mgr__fill_managers(m, mgrs, &hr.n_managers);
	hr.managers = mgrs;
	if (o)
		hr.role = mgr__node_role(o) == WIRE_ROLE_MANAGER
				  ? SWARM__ROLE__ROLE_MANAGER
				  : SWARM__ROLE__ROLE_WORKER;
	hr.renew = s->cert_epoch < m->rotate_epoch;
	env.body_case = SWARM__ENVELOPE__BODY_HEARTBEAT_RESPONSE;
	env.heartbeat_response = &hr;
	mgr__send(c, &env);
}

/* Reports of the session's node only: the certificate names the node,
 * never the message (orch_component.c checks each task is that node's). */
void mgr__on_task_status(struct mgr_conn *c, const Swarm__TaskStatusReport *r)
{
	if (!c->m->leader || !c->session) {
		log_warn("peer=%s node=%s task status outside its session",
			 wire_chan_name(c->chan), c->node_id);
		wire_chan_close(c->chan);
		return;
	}
	mgr__orch_reports(c->m, c->node_id, r);
}

/* A certificate for the role the node's spec now asks for, same key. */
void mgr__on_renew(struct mgr_conn *c)
{
	struct mgr *m = c->m;
	const struct store_object *o = conn_node(c);
	if (!m->leader || !c->session || !o) {
		wire_chan_close(c->chan);
		return;
	}
	enum wire_role role = mgr__node_role(o);
	Swarm__Envelope env = SWARM__ENVELOPE__INIT;
	Swarm__RenewResponse rr = SWARM__RENEW_RESPONSE__INIT;
	Swarm__RaftSettings raft;
	char *mgrs[SWARM_MAX_MANAGERS], *ids[SWARM_MAX_MANAGERS];
	uint8_t *cert = NULL;
	size_t cert_len = 0;
	int rc = ca_issue(m->st, c->node_id, role, c->peer.cert.public_key,
			  time_real_ns() / NSEC_PER_SEC, m->applied, &cert,
			  &cert_len);
	if (rc < 0) {
		rr.code = rc;
		rr.error = (char *)"cannot issue a certificate";
	} else {
		rr.certificate.data = cert;
		rr.certificate.len = cert_len;
		if (role == WIRE_ROLE_MANAGER) {
			rr.root_sk.data = m->st->root_sk;
			rr.root_sk.len = WIRE_SK_LEN;
			mgr__raft_settings_pb(m, &raft);
			rr.raft = &raft;
		}
		c->session->cert_epoch = m->applied;
		mgr__fill_managers(m, mgrs, &rr.n_managers);
		rr.managers = mgrs;
		mgr__fill_manager_ids(m, ids, &rr.n_manager_ids);
		rr.manager_ids = ids;
		log_info("node=%s gets a %s certificate", c->node_id,
			 wire_role_name(role));
	}
	env.body_case = SWARM__ENVELOPE__BODY_RENEW_RESPONSE;
	env.renew_response = &rr;
	mgr__send(c, &env);
	shoal_free(cert);
}

void mgr__session_closed(struct mgr_conn *c, int reason)
{
	if (!c->session)
		return;
	log_info("node=%s session %s closed: %s", c->node_id, c->session->id,
		 reason ? shoal_strerror(reason) : "by us");
	session_free(c->session);
}

void mgr__end_sessions(struct mgr *m, const char *node_id, const char *why)
{
	struct list_node *p, *tmp;
	list_for_each_safe(p, tmp, &m->disp.sessions)
	{
		struct mgr_session *s = list_entry(p, struct mgr_session, link);
		struct mgr_conn *c = s->c;
		if (c->closed || strcmp(c->node_id, node_id) != 0)
			continue;
		Swarm__Envelope env = SWARM__ENVELOPE__INIT;
		Swarm__SessionEnd se = SWARM__SESSION_END__INIT;
		se.code = SHOAL_ECERT;
		se.error = (char *)why;
		env.body_case = SWARM__ENVELOPE__BODY_SESSION_END;
		env.session_end = &se;
		wire_chan_send_pb(c->chan, &env.base);
		session_free(s);
		/* The node hears why before the close, as frames are in order
		 * and close discards only what is unsent: give the write a
		 * loop turn by closing on the peer's EOF instead. */
	}
}

bool mgr_node_ready(const struct mgr *m, const char *id)
{
	struct list_node *p;
	list_for_each(p, &m->disp.sessions)
	{
		const struct mgr_session *s =
			list_entry(p, struct mgr_session, link);
		if (!s->c->closed && strcmp(s->c->node_id, id) == 0)
			return true;
	}
	return false;
}

static bool alive(struct mgr *m, const char *node_id, int64_t now)
{
	struct list_node *p;
	list_for_each(p, &m->disp.sessions)
	{
		struct mgr_session *s = list_entry(p, struct mgr_session, link);
		if (strcmp(s->c->node_id, node_id) == 0 &&
		    now - s->last_seen_ns <= silence_ns(m))
			return true;
	}
	return false;
}

static void close_stale(struct mgr *m, int64_t now)
{
	struct list_node *p, *tmp;
	list_for_each_safe(p, tmp, &m->disp.sessions)
	{
		struct mgr_session *s = list_entry(p, struct mgr_session, link);
		struct mgr_conn *c = s->c;
		if (now - s->last_seen_ns <= silence_ns(m))
			continue;
		log_info("node=%s missed %d heartbeats", c->node_id,
			 SWARM_MISSED_HEARTBEATS);
		session_free(s);
		wire_chan_close(c->chan);
	}
}

struct mgr_conn *mgr__session_conn(struct mgr_session *s)
{
	return s ? s->c : NULL;
}

void mgr__check_down(struct mgr *m)
{
	int64_t now = time_mono_ns();
	close_stale(m, now);
	mgr__attach_tick(m);
	if (now - m->disp.grace_from_ns <= silence_ns(m))
		return;
	const struct store_object **all;
	size_t n;
	if (store_list(m->store, STORE_NODES, &all, &n) < 0)
		return;
	/* Collect first: each proposal invalidates the listing. */
	char(*down)[WIRE_ID_MAX + 1] =
		n ? shoal_calloc(n, sizeof(*down)) : NULL;
	size_t ndown = 0;
	for (size_t i = 0; down && i < n; i++) {
		char state[16];
		if (strcmp(mgr__node_state(all[i], state, sizeof(state)),
			   "down") != 0 &&
		    !alive(m, all[i]->id, now))
			snprintf(down[ndown++], WIRE_ID_MAX + 1, "%s",
				 all[i]->id);
	}
	shoal_free(all);
	for (size_t i = 0; i < ndown; i++) {
		const struct store_object *o =
			store_get(m->store, STORE_NODES, down[i]);
		if (o && mgr__node_set_status(m, o, "down", NULL) == 0)
			log_info("node=%s down: no heartbeat for %d periods",
				 down[i], SWARM_MISSED_HEARTBEATS);
	}
	shoal_free(down);
}
