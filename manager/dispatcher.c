/*
 * The dispatcher: the manager's listener and every connection on it.
 *
 * A connection is a secure channel (proto/channel.h). A joining host holds
 * only a join token: its handshake proves the token's secret and the
 * channel grants the token's role; it sends one JoinRequest with its new
 * public key and gets a JoinResponse with its node id and certificate,
 * after the node has been added to the store (so the certificate is good
 * the moment the host holds it). Every other connection presents a
 * certificate, which the channel checks against the root and then against
 * the store through mgr__cert_check(): a node no longer in the store (node
 * rm) is refused, which is how certificates are revoked.
 *
 * Sessions (Docker's dispatcher, without assignments yet): a certified node
 * sends a SessionRequest with its description; the node is marked ready
 * and the answer carries the heartbeat period and the managers' addresses.
 * It then sends a Heartbeat every period. The timer (cluster.c) calls
 * mgr__check_down() every half period: a node whose last heartbeat is older
 * than SWARM_MISSED_HEARTBEATS periods is marked down and its session
 * closed; its next session or heartbeat marks it ready again. Right after
 * the manager starts, nodes get that long to reconnect before any is
 * marked down.
 *
 * Outside input: every frame is decoded with the tracking allocator and
 * checked; a malformed or unexpected message closes that connection with a
 * warning and changes nothing.
 */
#define LOG_MODULE "dispatcher"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/error.h"
#include "common/id.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "manager/cluster_int.h"
#include "proto/swarm.pb-c.h"
#include "proto/wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t period_ns(const struct mgr *m)
{
	return (int64_t)m->st->heartbeat_ms * NSEC_PER_MSEC;
}

static void send_env(struct mgr_conn *c, Swarm__Envelope *env)
{
	int rc = wire_chan_send_pb(c->chan, &env->base);
	if (rc < 0) {
		log_warn("peer=%s cannot answer: %s", wire_chan_name(c->chan),
			 shoal_strerror(rc));
		wire_chan_close(c->chan);
	}
}

static void copy_field(char *dst, size_t cap, const char *src)
{
	size_t i = 0;
	for (; src && src[i] && i + 1 < cap; i++)
		dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
	dst[i] = '\0';
}

static void desc_from_pb(struct mgr_node_desc *d,
			 const Swarm__NodeDescription *pb)
{
	memset(d, 0, sizeof(*d));
	if (!pb)
		return;
	copy_field(d->hostname, sizeof(d->hostname), pb->hostname);
	copy_field(d->os, sizeof(d->os), pb->os);
	copy_field(d->arch, sizeof(d->arch), pb->architecture);
	copy_field(d->engine_version, sizeof(d->engine_version),
		   pb->engine_version);
	copy_field(d->addr, sizeof(d->addr), pb->addr);
	d->nano_cpus = pb->nano_cpus > 0 ? pb->nano_cpus : 0;
	d->memory_bytes = pb->memory_bytes > 0 ? pb->memory_bytes : 0;
}

/* Every manager's address, as the store knows them (see sync_peers). */
static void fill_managers(struct mgr *m, char **out, size_t *n)
{
	for (size_t i = 0; i < m->st->nmanagers; i++)
		out[i] = m->st->managers[i];
	*n = m->st->nmanagers;
}

static void fill_manager_ids(struct mgr *m, char **out, size_t *n)
{
	for (size_t i = 0; i < m->st->nmanagers; i++)
		out[i] = m->st->manager_ids[i];
	*n = m->st->nmanagers;
}

static void join_reply_error(struct mgr_conn *c, int code, const char *msg)
{
	Swarm__Envelope env = SWARM__ENVELOPE__INIT;
	Swarm__JoinResponse jr = SWARM__JOIN_RESPONSE__INIT;
	jr.code = code;
	jr.error = (char *)msg;
	env.body_case = SWARM__ENVELOPE__BODY_JOIN_RESPONSE;
	env.join_response = &jr;
	send_env(c, &env);
}

static void leader_hint(struct mgr *m, char *buf, size_t cap, char **list,
			size_t *n)
{
	mgr_leader_addr(m, buf, cap);
	list[0] = buf;
	*n = *buf ? 1 : 0;
}

/* A follower's answer to a join: try the leader, named in managers. */
static void join_redirect(struct mgr_conn *c)
{
	char addr[SWARM_ADDR_MAX], *list[1];
	Swarm__Envelope env = SWARM__ENVELOPE__INIT;
	Swarm__JoinResponse jr = SWARM__JOIN_RESPONSE__INIT;
	jr.code = SHOAL_ENOTLEADER;
	jr.error = (char *)"this manager is not the leader";
	leader_hint(c->m, addr, sizeof(addr), list, &jr.n_managers);
	jr.managers = list;
	env.body_case = SWARM__ENVELOPE__BODY_JOIN_RESPONSE;
	env.join_response = &jr;
	send_env(c, &env);
}

struct join_wait {
	struct mgr_conn *c;
	char id[ID_SWARM_LEN + 1];
	enum wire_role role;
	uint8_t *cert;
	size_t cert_len;
};

static void join_committed(void *arg, int rc, const char *msg)
{
	struct join_wait *w = arg;
	struct mgr_conn *c = w->c;
	struct mgr *m = c->m;
	if (c->closed) {
		/* The joiner left: its node stays, Down, until removed. */
	} else if (rc < 0) {
		join_reply_error(c, rc, *msg ? msg : "cannot record the node");
	} else {
		log_info("node=%s joined as %s", w->id,
			 wire_role_name(w->role));
		Swarm__Envelope env = SWARM__ENVELOPE__INIT;
		Swarm__JoinResponse jr = SWARM__JOIN_RESPONSE__INIT;
		char *mgrs[SWARM_MAX_MANAGERS], *ids[SWARM_MAX_MANAGERS];
		jr.node_id = w->id;
		jr.certificate.data = w->cert;
		jr.certificate.len = w->cert_len;
		jr.cluster_id = m->st->cluster_id;
		jr.root_key.data = m->st->root_pk;
		jr.root_key.len = WIRE_PK_LEN;
		if (w->role == WIRE_ROLE_MANAGER) {
			/* The CA's key goes to managers only, encrypted by
			 * the channel. */
			jr.root_sk.data = m->st->root_sk;
			jr.root_sk.len = WIRE_SK_LEN;
		}
		fill_managers(m, mgrs, &jr.n_managers);
		jr.managers = mgrs;
		fill_manager_ids(m, ids, &jr.n_manager_ids);
		jr.manager_ids = ids;
		jr.heartbeat_ms = m->st->heartbeat_ms;
		env.body_case = SWARM__ENVELOPE__BODY_JOIN_RESPONSE;
		env.join_response = &jr;
		send_env(c, &env);
	}
	shoal_free(w->cert);
	shoal_free(w);
	mgr__conn_release(c);
}

/* Add the node to the store, then hand it its certificate. */
static void on_join(struct mgr_conn *c, const Swarm__JoinRequest *req)
{
	struct mgr *m = c->m;
	if (!c->peer.joined || req->public_key.len != WIRE_PK_LEN) {
		log_warn("peer=%s sent a join request %s",
			 wire_chan_name(c->chan),
			 c->peer.joined ? "without a valid public key"
					: "on a certified connection");
		wire_chan_close(c->chan);
		return;
	}
	if (!m->leader) {
		join_redirect(c);
		return;
	}
	struct mgr_node_desc d;
	desc_from_pb(&d, req->description);
	struct join_wait *w = shoal_calloc(1, sizeof(*w));
	if (!w) {
		join_reply_error(c, -ENOMEM, "out of memory");
		return;
	}
	w->c = c;
	w->role = c->peer.role;
	id_swarm(w->id);
	int rc =
		ca_issue(m->st, w->id, w->role, req->public_key.data,
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

static const struct store_object *conn_node(struct mgr_conn *c)
{
	return store_get(c->m->store, STORE_NODES, c->node_id);
}

static void on_session(struct mgr_conn *c, const Swarm__SessionRequest *req)
{
	struct mgr *m = c->m;
	if (!m->leader) {
		char addr[SWARM_ADDR_MAX], *list[1];
		Swarm__Envelope env = SWARM__ENVELOPE__INIT;
		Swarm__SessionResponse sr = SWARM__SESSION_RESPONSE__INIT;
		sr.code = SHOAL_ENOTLEADER;
		sr.error = (char *)"this manager is not the leader";
		leader_hint(m, addr, sizeof(addr), list, &sr.n_managers);
		sr.managers = list;
		env.body_case = SWARM__ENVELOPE__BODY_SESSION_RESPONSE;
		env.session_response = &sr;
		send_env(c, &env);
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
	desc_from_pb(&d, req->description);
	int rc = mgr__node_set_status(m, o, "ready", &d);
	if (rc < 0) {
		log_warn("node=%s cannot be marked ready: %s", c->node_id,
			 shoal_strerror(rc));
		wire_chan_close(c->chan);
		return;
	}
	uint8_t rnd[8];
	shoal_random(rnd, sizeof(rnd));
	shoal_hex(rnd, sizeof(rnd), c->session_id);
	c->session = true;
	c->last_seen_ns = time_mono_ns();
	log_info("node=%s (%s) session %s opened; ready", c->node_id,
		 d.hostname, c->session_id);
	Swarm__Envelope env = SWARM__ENVELOPE__INIT;
	Swarm__SessionResponse sr = SWARM__SESSION_RESPONSE__INIT;
	char *mgrs[SWARM_MAX_MANAGERS];
	sr.session_id = c->session_id;
	sr.heartbeat_ms = m->st->heartbeat_ms;
	fill_managers(m, mgrs, &sr.n_managers);
	sr.managers = mgrs;
	env.body_case = SWARM__ENVELOPE__BODY_SESSION_RESPONSE;
	env.session_response = &sr;
	send_env(c, &env);
}

static void on_heartbeat(struct mgr_conn *c, const Swarm__Heartbeat *hb)
{
	struct mgr *m = c->m;
	if (!m->leader || !c->session || !hb->session_id ||
	    strcmp(hb->session_id, c->session_id) != 0) {
		log_warn("peer=%s node=%s heartbeat outside its session",
			 wire_chan_name(c->chan), c->node_id);
		wire_chan_close(c->chan);
		return;
	}
	c->last_seen_ns = time_mono_ns();
	const struct store_object *o = conn_node(c);
	char state[16];
	if (o && strcmp(mgr__node_state(o, state, sizeof(state)), "ready")) {
		if (mgr__node_set_status(m, o, "ready", NULL) == 0)
			log_info("node=%s ready again", c->node_id);
	}
	Swarm__Envelope env = SWARM__ENVELOPE__INIT;
	Swarm__HeartbeatResponse hr = SWARM__HEARTBEAT_RESPONSE__INIT;
	char *mgrs[SWARM_MAX_MANAGERS];
	hr.heartbeat_ms = m->st->heartbeat_ms;
	fill_managers(m, mgrs, &hr.n_managers);
	hr.managers = mgrs;
	if (o)
		hr.role = mgr__node_role(o) == WIRE_ROLE_MANAGER
				  ? SWARM__ROLE__ROLE_MANAGER
				  : SWARM__ROLE__ROLE_WORKER;
	env.body_case = SWARM__ENVELOPE__BODY_HEARTBEAT_RESPONSE;
	env.heartbeat_response = &hr;
	send_env(c, &env);
}

/* A certificate for the role the node's spec now asks for, same key. */
static void on_renew(struct mgr_conn *c)
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
		}
		fill_managers(m, mgrs, &rr.n_managers);
		rr.managers = mgrs;
		fill_manager_ids(m, ids, &rr.n_manager_ids);
		rr.manager_ids = ids;
		log_info("node=%s gets a %s certificate", c->node_id,
			 wire_role_name(role));
	}
	env.body_case = SWARM__ENVELOPE__BODY_RENEW_RESPONSE;
	env.renew_response = &rr;
	send_env(c, &env);
	shoal_free(cert);
}

struct control_wait {
	struct mgr_conn *c;
	uint64_t id;
};

static void control_answer(struct mgr_conn *c, uint64_t id, int code,
			   const char *msg)
{
	if (c->closed)
		return;
	Swarm__Envelope env = SWARM__ENVELOPE__INIT;
	Swarm__ControlResponse cr = SWARM__CONTROL_RESPONSE__INIT;
	cr.id = id;
	cr.code = code;
	cr.message = (char *)(msg ? msg : "");
	env.body_case = SWARM__ENVELOPE__BODY_CONTROL_RESPONSE;
	env.control_response = &cr;
	send_env(c, &env);
}

static void read_index_answer(void *ctx, int rc, uint64_t index)
{
	struct control_wait *w = ctx;
	struct mgr_conn *c = w->c;
	if (!c->closed) {
		Swarm__Envelope env = SWARM__ENVELOPE__INIT;
		Swarm__ControlResponse cr = SWARM__CONTROL_RESPONSE__INIT;
		cr.id = w->id;
		cr.code = rc;
		cr.index = index;
		cr.message = (char *)(rc ? shoal_strerror(rc) : "");
		env.body_case = SWARM__ENVELOPE__BODY_CONTROL_RESPONSE;
		env.control_response = &cr;
		send_env(c, &env);
	}
	mgr__conn_release(c);
	shoal_free(w);
}

static void control_done(void *arg, int rc, const char *msg)
{
	struct control_wait *w = arg;
	control_answer(w->c, w->id, rc, msg);
	mgr__conn_release(w->c);
	shoal_free(w);
}

/* A write forwarded by a follower manager: run it as our own client's. */
static void on_control(struct mgr_conn *c, const Swarm__ControlRequest *req)
{
	struct mgr *m = c->m;
	const char *why = "a joining host has no certificate";
	if (c->peer.joined || c->peer.role != WIRE_ROLE_MANAGER ||
	    !mgr__may_manage(m, &c->peer.cert, &why)) {
		log_warn("peer=%s node=%s forwarded a write without manager "
			 "rights: %s",
			 wire_chan_name(c->chan), c->node_id,
			 c->peer.role != WIRE_ROLE_MANAGER
				 ? "not a manager now"
				 : why);
		wire_chan_close(c->chan);
		return;
	}
	struct control_wait *w = shoal_calloc(1, sizeof(*w));
	char err[400] = "";
	int rc = -ENOMEM;
	if (!w) {
		control_answer(c, req->id, rc, "out of memory");
		return;
	}
	w->c = c;
	w->id = req->id;
	const char *empty = "";
	switch (req->op_case) {
	case SWARM__CONTROL_REQUEST__OP_NODE_UPDATE: {
		const Swarm__NodeUpdateOp *op = req->node_update;
		const char *spec = op->spec_json ? op->spec_json : empty;
		rc = mgr_node_update(m, op->node_id ? op->node_id : empty,
				     op->version, spec, strlen(spec),
				     control_done, w, err, sizeof(err));
		break;
	}
	case SWARM__CONTROL_REQUEST__OP_NODE_REMOVE: {
		const Swarm__NodeRemoveOp *op = req->node_remove;
		rc = mgr_node_remove(m, op->node_id ? op->node_id : empty,
				     op->force, control_done, w, err,
				     sizeof(err));
		break;
	}
	case SWARM__CONTROL_REQUEST__OP_SWARM_UPDATE: {
		const Swarm__SwarmUpdateOp *op = req->swarm_update;
		const char *spec = op->spec_json ? op->spec_json : empty;
		rc = mgr_swarm_update(m, op->version, spec, strlen(spec),
				      op->rotate_worker, op->rotate_manager,
				      control_done, w, err, sizeof(err));
		break;
	}
	case SWARM__CONTROL_REQUEST__OP_READ_INDEX:
		rc = mgr__read_index(m, read_index_answer, w);
		if (rc < 0)
			snprintf(err, sizeof(err), "%s", shoal_strerror(rc));
		break;
	default:
		rc = -EPROTO;
		snprintf(err, sizeof(err), "unknown control operation");
		break;
	}
	if (rc < 0) {
		control_answer(c, req->id, rc, err);
		shoal_free(w);
		return;
	}
	c->pending++;
}

static void on_frame(struct wire_chan *ch, const uint8_t *data, size_t len)
{
	struct mgr_conn *c = wire_chan_data(ch);
	if (c->revoked) {
		wire_chan_close(ch); /* its node was removed */
		return;
	}
	struct wire_pb_tracker t;
	wire_pb_tracker_init(&t);
	Swarm__Envelope *env = swarm__envelope__unpack(&t.alloc, len, data);
	if (!env) {
		log_warn("peer=%s sent %s", wire_chan_name(ch),
			 t.failed ? "a message we had no memory for"
				  : "a malformed message");
		wire_chan_close(ch);
		return;
	}
	switch (env->body_case) {
	case SWARM__ENVELOPE__BODY_JOIN_REQUEST:
		on_join(c, env->join_request);
		break;
	case SWARM__ENVELOPE__BODY_SESSION_REQUEST:
		if (c->peer.joined)
			wire_chan_close(ch);
		else
			on_session(c, env->session_request);
		break;
	case SWARM__ENVELOPE__BODY_HEARTBEAT:
		on_heartbeat(c, env->heartbeat);
		break;
	case SWARM__ENVELOPE__BODY_CONTROL_REQUEST:
		on_control(c, env->control_request);
		break;
	case SWARM__ENVELOPE__BODY_RENEW_REQUEST:
		if (c->peer.joined)
			wire_chan_close(ch);
		else
			on_renew(c);
		break;
	default:
		log_warn("peer=%s sent an unexpected message (%d)",
			 wire_chan_name(ch), (int)env->body_case);
		wire_chan_close(ch);
		break;
	}
	swarm__envelope__free_unpacked(env, &t.alloc);
}

static bool limit_rights(struct mgr_conn *c);

static void on_connected(struct wire_chan *ch, const struct wire_peer *peer)
{
	struct mgr_conn *c = wire_chan_data(ch);
	c->peer = *peer;
	if (!peer->joined) {
		snprintf(c->node_id, sizeof(c->node_id), "%s",
			 peer->cert.node_id);
		if (!limit_rights(c))
			wire_chan_close(ch);
	}
}

static void on_closed(struct wire_chan *ch, int reason)
{
	struct mgr_conn *c = wire_chan_data(ch);
	struct mgr *m = c->m;
	if (c->session)
		log_info("node=%s session %s closed: %s", c->node_id,
			 c->session_id,
			 reason ? shoal_strerror(reason) : "by us");
	c->closed = true;
	c->session = false;
	if (c->pending > 0)
		return; /* freed by the last mgr__conn_release() */
	list_remove(&c->link);
	m->nconns--;
	shoal_free(c);
	mgr__maybe_done(m);
}

void mgr__conn_release(struct mgr_conn *c)
{
	struct mgr *m = c->m;
	if (--c->pending > 0 || !c->closed)
		return;
	list_remove(&c->link);
	m->nconns--;
	shoal_free(c);
	mgr__maybe_done(m);
}

static const struct wire_chan_callbacks chan_cb = {
	.connected = on_connected,
	.frame = on_frame,
	.closed = on_closed,
};

/*
 * The swarm port admits a certificate whose node is in the store and was
 * not removed (revoke.c); a demoted node's manager certificate is admitted
 * with a worker's rights only (on_connected), so that the node can still
 * learn its role and fetch a worker certificate.
 */
int mgr__cert_check(void *arg, const struct wire_cert_info *info)
{
	struct mgr *m = arg;
	enum wire_role role;
	const char *why = "";
	if (!store_get(m->store, STORE_NODES, info->node_id))
		return SHOAL_ECERT;
	return mgr__cert_rights(m, info, &role, &why);
}

/*
 * Apply to @c what its certificate may still do; false when nothing (its
 * node was removed). A demoted node's manager certificate keeps a
 * worker's rights.
 */
static bool limit_rights(struct mgr_conn *c)
{
	enum wire_role role;
	const char *why = "";
	if (c->peer.joined || !c->peer.authenticated)
		return true;
	if (!store_get(c->m->store, STORE_NODES, c->node_id) ||
	    mgr__cert_rights(c->m, &c->peer.cert, &role, &why) < 0)
		return false;
	if (role != c->peer.role) {
		log_info("peer=%s node=%s keeps a %s's rights only: %s",
			 wire_chan_name(c->chan), c->node_id,
			 wire_role_name(role), why);
		c->peer.role = role;
	}
	return true;
}

void mgr__conns_recheck(struct mgr *m)
{
	struct list_node *p;
	list_for_each(p, &m->conns)
	{
		struct mgr_conn *c = list_entry(p, struct mgr_conn, link);
		if (c->closed || c->revoked || limit_rights(c))
			continue;
		/* Removed: the node hears why (as mgr__end_sessions() tells
		 * it) and any further frame closes the connection. */
		log_info("peer=%s node=%s: certificate revoked, the node was "
			 "removed",
			 wire_chan_name(c->chan), c->node_id);
		c->revoked = true;
		if (!c->session) {
			wire_chan_close(c->chan);
			continue;
		}
		mgr__end_sessions(m, c->node_id,
				  "this node was removed from the swarm");
	}
}

static void on_connection(uv_stream_t *server, int status)
{
	struct mgr *m = server->data;
	if (status < 0 || m->stopping) {
		return;
	}
	struct mgr_conn *c = shoal_calloc(1, sizeof(*c));
	if (!c) {
		log_warn("connection not accepted: out of memory");
		return;
	}
	c->m = m;
	int rc = wire_chan_accept(m->loop, server, &m->chan_cfg, &chan_cb, c,
				  &c->chan);
	if (rc < 0) {
		log_warn("cannot accept a connection: %s", shoal_strerror(rc));
		shoal_free(c);
		return;
	}
	list_push_back(&m->conns, &c->link);
	if (++m->nconns > MGR_MAX_CONNS) {
		log_warn("peer=%s refused: more than %d connections",
			 wire_chan_name(c->chan), MGR_MAX_CONNS);
		wire_chan_close(c->chan);
	}
}

int mgr__parse_addr(const char *s, struct sockaddr_storage *ss)
{
	char host[SWARM_ADDR_MAX];
	snprintf(host, sizeof(host), "%s", s);
	char *colon = strrchr(host, ':');
	if (!colon)
		return -EINVAL;
	*colon = '\0';
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port < 0 || port > 65535)
		return -EINVAL;
	char *h = host;
	if (h[0] == '[') {
		h++;
		char *e = strchr(h, ']');
		if (!e)
			return -EINVAL;
		*e = '\0';
		return uv_ip6_addr(h, (int)port, (struct sockaddr_in6 *)ss);
	}
	return uv_ip4_addr(h, (int)port, (struct sockaddr_in *)ss);
}

int mgr__listen(struct mgr *m, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	int rc = mgr__parse_addr(m->st->listen_addr, &ss);
	if (rc < 0) {
		snprintf(err, errlen, "invalid listen address \"%s\"",
			 m->st->listen_addr);
		return -EINVAL;
	}
	m->chan_cfg = (struct wire_chan_config){
		.security = WIRE_SECURE,
		.root_pk = m->st->root_pk,
		.identity = &m->st->identity,
		.cert = m->st->cert,
		.cert_len = m->st->cert_len,
		.join_lookup = ca_join_lookup,
		.join_arg = m->st,
		.cert_check = mgr__cert_check,
		.cert_check_arg = m,
	};
	m->listener = shoal_calloc(1, sizeof(*m->listener));
	if (!m->listener)
		return -ENOMEM;
	uv_tcp_init(m->loop, m->listener);
	m->listener->data = m;
	rc = uv_tcp_bind(m->listener, (struct sockaddr *)&ss, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)m->listener, 128, on_connection);
	if (rc < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s",
			 m->st->listen_addr, uv_strerror(rc));
		/* Freed in its close callback; the manager is not told. */
		m->listener->data = NULL;
		uv_close((uv_handle_t *)m->listener, mgr__listener_closed);
		m->listener = NULL;
		return rc;
	}
	m->open_handles++;
	return 0;
}

void mgr__close_conns(struct mgr *m)
{
	struct list_node *p;
	list_for_each(p, &m->conns)
	{
		struct mgr_conn *c = list_entry(p, struct mgr_conn, link);
		if (!c->closed)
			wire_chan_close(c->chan);
	}
}

void mgr__end_sessions(struct mgr *m, const char *node_id, const char *why)
{
	struct list_node *p;
	list_for_each(p, &m->conns)
	{
		struct mgr_conn *c = list_entry(p, struct mgr_conn, link);
		if (c->closed || strcmp(c->node_id, node_id) != 0)
			continue;
		Swarm__Envelope env = SWARM__ENVELOPE__INIT;
		Swarm__SessionEnd se = SWARM__SESSION_END__INIT;
		se.code = SHOAL_ECERT;
		se.error = (char *)why;
		env.body_case = SWARM__ENVELOPE__BODY_SESSION_END;
		env.session_end = &se;
		wire_chan_send_pb(c->chan, &env.base);
		c->session = false;
		/* The node hears why before the close, as frames are in order
		 * and close discards only what is unsent: give the write a
		 * loop turn by closing on the peer's EOF instead. */
	}
}

static bool alive(struct mgr *m, const char *node_id, int64_t now)
{
	struct list_node *p;
	list_for_each(p, &m->conns)
	{
		struct mgr_conn *c = list_entry(p, struct mgr_conn, link);
		if (c->session && strcmp(c->node_id, node_id) == 0 &&
		    now - c->last_seen_ns <=
			    SWARM_MISSED_HEARTBEATS * period_ns(m))
			return true;
	}
	return false;
}

static void close_stale(struct mgr *m, int64_t now)
{
	struct list_node *p;
	list_for_each(p, &m->conns)
	{
		struct mgr_conn *c = list_entry(p, struct mgr_conn, link);
		if (c->session &&
		    now - c->last_seen_ns >
			    SWARM_MISSED_HEARTBEATS * period_ns(m)) {
			log_info("node=%s missed %d heartbeats", c->node_id,
				 SWARM_MISSED_HEARTBEATS);
			c->session = false;
			wire_chan_close(c->chan);
		}
	}
}

void mgr__check_down(struct mgr *m)
{
	int64_t now = time_mono_ns();
	close_stale(m, now);
	if (now - m->started_ns <= SWARM_MISSED_HEARTBEATS * period_ns(m))
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
