/*
 * The manager's listener: the swarm port (2377 by default) and the life
 * of every connection on it. The roles a connection may play live in
 * their own files; this one accepts, checks who is speaking, and routes
 * each frame.
 *
 * A connection is a secure channel (proto/channel.h). A joining host holds
 * only a join token: its handshake proves the token's secret and the
 * channel grants the token's role; such a connection may send one thing,
 * a JoinRequest (join.c). Every other connection presents a certificate,
 * which the channel checks against the root and then against the store
 * through mgr__cert_check(): a node no longer in the store, or removed
 * (revoke.c), is refused at the handshake. A demoted node's manager
 * certificate is admitted with a worker's rights only, so that the node
 * can still learn its new role and fetch a worker certificate. A
 * certified connection carries a node's session (dispatcher.c) or a
 * follower manager's forwarded writes (write.c).
 *
 * Revocation on live connections: after every applied change the manager
 * calls mgr__conns_recheck(), which lowers the rights of demoted nodes
 * and ends the connections of removed ones (their session first hears
 * why).
 *
 * Lifetime: a connection is freed once its channel has closed and no
 * proposal made for it is still waiting for its answer (@pending); the
 * answer of such a proposal is dropped when the channel is gone. At most
 * MGR_MAX_CONNS connections at once; past that a new one is closed.
 *
 * Outside input: every frame is decoded with the tracking allocator and
 * checked; a malformed or unexpected message closes that connection with
 * a warning and changes nothing.
 */
#define LOG_MODULE "listener"
#include "common/alloc.h"
#include "common/error.h"
#include "common/log.h"
#include "manager/internal.h"
#include "proto/swarm.pb-c.h"
#include "proto/wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mgr__send(struct mgr_conn *c, Swarm__Envelope *env)
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

void mgr__desc_from_pb(struct mgr_node_desc *d,
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

void mgr__raft_settings_pb(const struct mgr *m, Swarm__RaftSettings *out)
{
	const struct swarm_raft *r = &m->st->raft;
	swarm__raft_settings__init(out);
	out->election_tick = r->election_tick;
	out->heartbeat_tick = r->heartbeat_tick;
	out->snapshot_interval = r->snapshot_interval;
	out->keep_old_snapshots = r->keep_old_snapshots;
	out->log_entries_for_slow_followers = r->log_entries_for_slow_followers;
}

/* Every manager's address, as the store knows them (see sync_peers). */
void mgr__fill_managers(struct mgr *m, char **out, size_t *n)
{
	for (size_t i = 0; i < m->st->nmanagers; i++)
		out[i] = m->st->managers[i];
	*n = m->st->nmanagers;
}

void mgr__fill_manager_ids(struct mgr *m, char **out, size_t *n)
{
	for (size_t i = 0; i < m->st->nmanagers; i++)
		out[i] = m->st->manager_ids[i];
	*n = m->st->nmanagers;
}

void mgr__leader_hint(struct mgr *m, char *buf, size_t cap, char **list,
		      size_t *n)
{
	mgr_leader_addr(m, buf, cap);
	list[0] = buf;
	*n = *buf ? 1 : 0;
}

/* A joining host may send its JoinRequest and nothing else; a certified
 * node anything but a JoinRequest. */
static bool fits_connection(const struct mgr_conn *c,
			    Swarm__Envelope__BodyCase body)
{
	return c->peer.joined == (body == SWARM__ENVELOPE__BODY_JOIN_REQUEST);
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
	if (!fits_connection(c, env->body_case)) {
		log_warn("peer=%s sent a message (%d) its connection may not "
			 "carry",
			 wire_chan_name(ch), (int)env->body_case);
		wire_chan_close(ch);
		swarm__envelope__free_unpacked(env, &t.alloc);
		return;
	}
	switch (env->body_case) {
	case SWARM__ENVELOPE__BODY_JOIN_REQUEST:
		mgr__on_join(c, env->join_request);
		break;
	case SWARM__ENVELOPE__BODY_SESSION_REQUEST:
		mgr__on_session(c, env->session_request);
		break;
	case SWARM__ENVELOPE__BODY_HEARTBEAT:
		mgr__on_heartbeat(c, env->heartbeat);
		break;
	case SWARM__ENVELOPE__BODY_RENEW_REQUEST:
		mgr__on_renew(c);
		break;
	case SWARM__ENVELOPE__BODY_CONTROL_REQUEST:
		mgr__on_control(c, env->control_request);
		break;
	case SWARM__ENVELOPE__BODY_TASK_STATUS:
		mgr__on_task_status(c, env->task_status);
		break;
	case SWARM__ENVELOPE__BODY_LOGS_DATA:
		mgr__on_logs_data(c, env->logs_data);
		break;
	case SWARM__ENVELOPE__BODY_ATTACH_NETWORK:
		mgr__on_attach(c, env->attach_network);
		break;
	case SWARM__ENVELOPE__BODY_DETACH_NETWORK:
		mgr__on_detach(c, env->detach_network);
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

static void conn_free(struct mgr_conn *c)
{
	struct mgr *m = c->m;
	list_remove(&c->link);
	m->nconns--;
	shoal_free(c);
	mgr__maybe_done(m);
}

static void on_closed(struct wire_chan *ch, int reason)
{
	struct mgr_conn *c = wire_chan_data(ch);
	mgr__session_closed(c, reason);
	c->closed = true;
	if (c->pending == 0)
		conn_free(c); /* else by the last mgr__conn_release() */
}

void mgr__conn_release(struct mgr_conn *c)
{
	if (--c->pending > 0 || !c->closed)
		return;
	conn_free(c);
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
