/*
 * The TCP transport (contract in transport.h). One outgoing channel per
 * peer carries our messages to it; peers' messages arrive on the channels
 * they opened to us (accepted on the listener), so each direction has its
 * own connection and neither side waits for the other to reconnect.
 *
 * Bounded memory: a message is packed straight into the channel's write
 * buffer (wire_chan_send_pb), which never holds more than
 * max_write_buffer bytes; past that the channel answers -ENOBUFS and the
 * message is dropped. A peer that is down costs nothing but a reconnect
 * timer with exponential back-off.
 *
 * Identity: an incoming channel is "handshaking" until its connected()
 * callback; then, over secure channels, it carries the Raft id the owner's
 * identify callback gave it (peer_id) and every frame on it must name that
 * id as its sender (deliver()). An outgoing channel is bound to its peer's
 * id from the start and must reach exactly that node. The authenticated
 * peer is kept (struct wire_peer) so raft_tcp_recheck() can ask again.
 *
 * Life cycle: every libuv handle (listener, one timer per peer) and every
 * channel counts in t->handles; close() closes them all and frees the
 * transport from the last close callback.
 */
#define LOG_MODULE "raft-net"

#include "raft/transport.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/list.h"
#include "common/log.h"
#include "raft/transport_codec.h"

#define BACKOFF_MIN_MS 25
#define BACKOFF_MAX_MS 1000

struct tcp;

struct tcp_peer {
	struct tcp *t;
	uint64_t id;
	char name[64];
	struct sockaddr_storage addr;
	struct wire_chan *chan; /* outgoing, or NULL */
	bool connected;
	struct wire_peer peer; /* when connected */
	uv_timer_t timer;
	uint64_t backoff_ms;
	bool removed;
	int handles; /* timer + chan still to close */
};

struct tcp_in {
	struct list_node link;
	struct tcp *t;
	struct wire_chan *chan;
	bool handshaking; /* until connected() */
	bool has_src;
	struct sockaddr_storage src;
	uint64_t peer_id; /* secure and connected: the id it speaks as */
	struct wire_peer peer;
};

struct tcp {
	struct raft_transport pub;
	uv_loop_t *loop;
	uint64_t id;
	uv_tcp_t listener;
	bool listening;
	struct wire_chan_config cfg;
	struct tcp_peer *peers[RAFT_CONF_MAX];
	size_t n_peers;
	struct list_node incoming;
	size_t n_incoming;
	size_t n_handshaking;
	raft_tcp_identify_fn *identify;
	void *identify_arg;
	struct log_ratelimit refuse_rl;
	uv_tcp_t spare; /* to refuse a connection without allocating */
	bool spare_busy;
	bool refuse_pending; /* one waits for the spare to close */
	raft_transport_recv_fn *recv;
	void *recv_arg;
	struct raft_tcp_stats stats;
	bool closing;
	int handles;
	void (*close_cb)(void *arg);
	void *close_arg;
};

int raft_addr_parse(const char *s, struct sockaddr_storage *out)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	if (!colon || colon == s || (size_t)(colon - s) >= sizeof(host))
		return -EINVAL;
	char *end;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (*end || !colon[1] || port > 65535)
		return -EINVAL;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = 0;
	memset(out, 0, sizeof(*out));
	if (host[0] == '[') {
		size_t n = strlen(host);
		if (n < 3 || host[n - 1] != ']')
			return -EINVAL;
		host[n - 1] = 0;
		return uv_ip6_addr(host + 1, (int)port,
				   (struct sockaddr_in6 *)out)
			       ? -EINVAL
			       : 0;
	}
	return uv_ip4_addr(host, (int)port, (struct sockaddr_in *)out) ? -EINVAL
								       : 0;
}

static void maybe_free(struct tcp *t)
{
	if (!t->closing || t->handles)
		return;
	void (*cb)(void *) = t->close_cb;
	void *arg = t->close_arg;
	shoal_free(t);
	if (cb)
		cb(arg);
}

static void handle_gone(struct tcp *t)
{
	t->handles--;
	maybe_free(t);
}

static void peer_release(struct tcp_peer *p)
{
	struct tcp *t = p->t;
	if (--p->handles)
		return;
	shoal_free(p);
	handle_gone(t);
}

/* ---- receiving ---- */

static bool secure(const struct tcp *t)
{
	return t->cfg.security == WIRE_SECURE;
}

/*
 * @from: the id the channel's certificate speaks for (0 on plain
 * channels, which carry no identity). A message that claims another
 * sender is a forgery: one Raft message with a borrowed id and a high
 * term deposes a leader, and an AppendEntries in the leader's name writes
 * the store. The connection goes, with one logged reason.
 */
static void deliver(struct tcp *t, struct wire_chan *c, uint64_t from,
		    const uint8_t *data, size_t len)
{
	struct raft_msg_decoded d;
	int rc = raft__msg_decode(data, len, &d);
	if (!rc && d.msg.to != t->id) {
		raft__msg_decoded_free(&d); /* decoded, but not for us */
		rc = -EPROTO;
	}
	if (!rc && from && d.msg.from != from) {
		t->stats.rejected++;
		log_warn("node=%" PRIu64 " peer=%s: dropping the connection: "
			 "a message claims to come from %" PRIx64
			 " but the certificate is node %" PRIx64 "'s",
			 t->id, wire_chan_name(c), d.msg.from, from);
		raft__msg_decoded_free(&d);
		wire_chan_close(c);
		return;
	}
	if (rc) {
		t->stats.rejected++;
		log_warn("node=%" PRIu64 " peer=%s: dropping the connection: "
			 "invalid raft message (%s)",
			 t->id, wire_chan_name(c), shoal_strerror(rc));
		wire_chan_close(c);
		return;
	}
	t->stats.received++;
	if (t->recv && !t->closing)
		t->recv(t->recv_arg, &d.msg);
	raft__msg_decoded_free(&d);
}

/* A line about a stranger: at most one per RAFT_TCP_LOG_INTERVAL_MS. */
__attribute__((format(printf, 2, 3))) static void
log_refusal(struct tcp *t, const char *fmt, ...)
{
	unsigned long held;
	if (!log_ratelimit_pass(&t->refuse_rl, time_mono_ns(), &held))
		return;
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (held)
		log_warn("node=%" PRIu64 ": %s (and %lu more refusals or "
			 "failed handshakes since the last such line)",
			 t->id, msg, held);
	else
		log_warn("node=%" PRIu64 ": %s", t->id, msg);
}

static void addr_name(const struct sockaddr_storage *ss, char *out, size_t cap)
{
	if (ss->ss_family == AF_INET6)
		uv_ip6_name((const struct sockaddr_in6 *)ss, out, cap);
	else if (ss->ss_family == AF_INET)
		uv_ip4_name((const struct sockaddr_in *)ss, out, cap);
	else
		snprintf(out, cap, "?");
}

/*
 * The Raft id a secure peer speaks as, from the owner's identify
 * callback (which checks its certificate against the cluster's
 * membership); 0, logged, when it may not speak Raft at all.
 */
static uint64_t identify(struct tcp *t, struct wire_chan *c,
			 const struct wire_peer *peer)
{
	const char *why = "not a manager";
	uint64_t id = 0;
	if (peer->authenticated && !peer->joined)
		id = t->identify(t->identify_arg, peer, &why);
	else if (peer->joined)
		why = "a joining host has no certificate";
	if (!id)
		log_warn("node=%" PRIu64 " peer=%s node=%s: dropping the "
			 "connection: %s",
			 t->id, wire_chan_name(c),
			 peer->joined ? "-" : peer->cert.node_id, why);
	return id;
}

static void in_connected(struct wire_chan *c, const struct wire_peer *peer)
{
	struct tcp_in *in = wire_chan_data(c);
	struct tcp *t = in->t;
	in->handshaking = false;
	t->n_handshaking--;
	if (!secure(t))
		return;
	uint64_t id = identify(t, c, peer);
	if (!id) {
		t->stats.refused++;
		wire_chan_close(c);
		return;
	}
	in->peer_id = id;
	in->peer = *peer;
	/* One incoming connection per peer: a reconnect replaces the old
	 * one, and a peer cannot pile up connections. */
	struct list_node *n;
	list_for_each(n, &t->incoming)
	{
		struct tcp_in *o = list_entry(n, struct tcp_in, link);
		if (o != in && o->peer_id == id)
			wire_chan_close(o->chan);
	}
}

static void in_frame(struct wire_chan *c, const uint8_t *data, size_t len)
{
	struct tcp_in *in = wire_chan_data(c);
	deliver(in->t, c, in->peer_id, data, len);
}

static void in_closed(struct wire_chan *c, int reason)
{
	struct tcp_in *in = wire_chan_data(c);
	struct tcp *t = in->t;
	if (in->handshaking) {
		t->n_handshaking--;
		if (reason && !t->closing) {
			char a[64] = "?";
			if (in->has_src)
				addr_name(&in->src, a, sizeof(a));
			log_refusal(t, "handshake from %s failed: %s", a,
				    shoal_strerror(reason));
		}
	}
	list_remove(&in->link);
	t->n_incoming--;
	shoal_free(in);
	handle_gone(t);
}

static const struct wire_chan_callbacks in_cbs = {
	.connected = in_connected,
	.frame = in_frame,
	.closed = in_closed,
};

static void refuse(struct tcp *t, uv_stream_t *server);

static void refused_closed(uv_handle_t *h)
{
	struct tcp *t = h->data;
	if (h == (uv_handle_t *)&t->spare) {
		t->spare_busy = false;
		if (t->refuse_pending && !t->closing) {
			t->refuse_pending = false;
			refuse(t, (uv_stream_t *)&t->listener);
		}
	} else {
		shoal_free(h);
	}
	handle_gone(t);
}

/*
 * Accept a connection only to close it at once. A connection callback
 * must end in uv_accept(): until then libuv stops accepting on the
 * listener. Without memory the embedded spare handle serves, when free.
 */
static void refuse(struct tcp *t, uv_stream_t *server)
{
	uv_tcp_t *h = shoal_malloc(sizeof(*h));
	if (!h && t->spare_busy) {
		t->refuse_pending = true; /* refused once the spare closed */
		return;
	}
	if (!h) {
		h = &t->spare;
		t->spare_busy = true;
	}
	uv_tcp_init(t->loop, h);
	h->data = t;
	t->handles++;
	(void)uv_accept(server, (uv_stream_t *)h);
	uv_close((uv_handle_t *)h, refused_closed);
}

static bool same_host(const struct sockaddr_storage *a,
		      const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		      &((const struct sockaddr_in6 *)b)->sin6_addr,
		      sizeof(struct in6_addr)) == 0;
}

/* Connections from @src still in their handshake, @self aside. */
static size_t handshaking_from(struct tcp *t, const struct tcp_in *self,
			       const struct sockaddr_storage *src)
{
	size_t k = 0;
	struct list_node *n;
	list_for_each(n, &t->incoming)
	{
		struct tcp_in *o = list_entry(n, struct tcp_in, link);
		k += o != self && o->handshaking && o->has_src &&
		     same_host(&o->src, src);
	}
	return k;
}

/* Whether @src is the address of one of our peers (a known manager). */
static bool known_source(const struct tcp *t,
			 const struct sockaddr_storage *src)
{
	for (size_t i = 0; i < t->n_peers; i++)
		if (same_host(&t->peers[i]->addr, src))
			return true;
	return false;
}

/*
 * Admit an accepted connection into its handshake, or say why not. The
 * per-source and total limits on handshakes keep most slots for peers
 * that authenticate, whatever strangers open; the addresses of known
 * peers are not held to them (only to the incoming bound), so strangers
 * elsewhere cannot keep a manager out.
 */
static const char *admit(struct tcp *t, struct tcp_in *in)
{
	if (in->has_src && known_source(t, &in->src))
		return NULL;
	if (t->n_handshaking >= RAFT_TCP_MAX_HANDSHAKING)
		return "too many connections in their handshake";
	if (in->has_src && handshaking_from(t, in, &in->src) >=
				   RAFT_TCP_MAX_HANDSHAKING_PER_SOURCE)
		return "too many connections in their handshake from that "
		       "address";
	return NULL;
}

static void on_connection(uv_stream_t *server, int status)
{
	struct tcp *t = server->data;
	if (status < 0 || t->closing)
		return;
	if (t->n_incoming >= RAFT_TCP_MAX_INCOMING) {
		/* Each connection may hold a read buffer and a frame of up
		 * to max_frame bytes: strangers must not open them without
		 * limit. */
		t->stats.refused++;
		log_refusal(t, "refusing a connection: already %d incoming",
			    RAFT_TCP_MAX_INCOMING);
		refuse(t, server);
		return;
	}
	struct tcp_in *in = shoal_calloc(1, sizeof(*in));
	if (!in) {
		refuse(t, server);
		return;
	}
	in->t = t;
	struct wire_chan_config cfg = t->cfg;
	cfg.peer_name = "incoming";
	cfg.quiet_handshake = true;
	int rc =
		wire_chan_accept(t->loop, server, &cfg, &in_cbs, in, &in->chan);
	if (rc) {
		log_warn("node=%" PRIu64 ": cannot accept a connection: %s",
			 t->id, shoal_strerror(rc));
		shoal_free(in);
		refuse(t, server); /* if the channel did not take it */
		return;
	}
	list_push_back(&t->incoming, &in->link);
	t->n_incoming++;
	t->handles++;
	in->handshaking = true;
	in->has_src = wire_chan_peer_addr(in->chan, &in->src) == 0;
	/* Plain channels (tests, benchmarks) have no handshake to wait
	 * for: only the incoming bound applies. */
	const char *why = secure(t) ? admit(t, in) : NULL;
	t->n_handshaking++;
	if (why) {
		char a[64] = "?";
		if (in->has_src)
			addr_name(&in->src, a, sizeof(a));
		t->stats.refused++;
		log_refusal(t, "refusing a connection from %s: %s", a, why);
		in->handshaking = false; /* refused: not a failed handshake */
		t->n_handshaking--;
		wire_chan_close(in->chan);
	}
}

/* ---- sending ---- */

static void peer_connect(struct tcp_peer *p);

static void on_retry(uv_timer_t *timer)
{
	struct tcp_peer *p = timer->data;
	if (!p->chan && !p->removed && !p->t->closing)
		peer_connect(p);
}

static void schedule_retry(struct tcp_peer *p)
{
	if (p->removed || p->t->closing)
		return;
	uv_timer_start(&p->timer, on_retry, p->backoff_ms, 0);
	p->backoff_ms *= 2;
	if (p->backoff_ms > BACKOFF_MAX_MS)
		p->backoff_ms = BACKOFF_MAX_MS;
}

static void out_connected(struct wire_chan *c, const struct wire_peer *peer)
{
	struct tcp_peer *p = wire_chan_data(c);
	struct tcp *t = p->t;
	if (secure(t)) {
		/* The address may now belong to another node (or to a
		 * removed one): talk only to the node we meant. */
		uint64_t id = identify(t, c, peer);
		if (id != p->id) {
			if (id)
				log_warn("node=%" PRIu64 " peer=%s: dropping "
					 "the connection: reached node %" PRIx64
					 " instead",
					 t->id, wire_chan_name(c), id);
			t->stats.refused++;
			wire_chan_close(c);
			return; /* out_closed() schedules a retry */
		}
		p->peer = *peer;
	}
	p->connected = true;
	p->backoff_ms = BACKOFF_MIN_MS;
	p->t->stats.connects++;
}

static void out_frame(struct wire_chan *c, const uint8_t *data, size_t len)
{
	struct tcp_peer *p = wire_chan_data(c);
	deliver(p->t, c, secure(p->t) ? p->id : 0, data, len);
}

static void out_closed(struct wire_chan *c, int reason)
{
	struct tcp_peer *p = wire_chan_data(c);
	p->chan = NULL;
	p->connected = false;
	if (p->removed || p->t->closing) {
		peer_release(p);
		return;
	}
	p->handles--;
	schedule_retry(p);
}

static const struct wire_chan_callbacks out_cbs = {
	.connected = out_connected,
	.frame = out_frame,
	.closed = out_closed,
};

static void peer_connect(struct tcp_peer *p)
{
	struct tcp *t = p->t;
	struct wire_chan_config cfg = t->cfg;
	cfg.peer_name = p->name;
	int rc = wire_chan_connect(t->loop, (struct sockaddr *)&p->addr, &cfg,
				   &out_cbs, p, &p->chan);
	if (rc) {
		p->chan = NULL;
		schedule_retry(p);
		return;
	}
	p->handles++;
}

static struct tcp_peer *find_peer(struct tcp *t, uint64_t id)
{
	for (size_t i = 0; i < t->n_peers; i++)
		if (t->peers[i]->id == id)
			return t->peers[i];
	return NULL;
}

static int tcp_send(void *impl, const struct raft_msg *m)
{
	struct tcp *t = impl;
	struct tcp_peer *p = find_peer(t, m->to);
	if (!p)
		return -ENOENT;
	if (!p->connected) {
		if (!p->chan && !uv_is_active((uv_handle_t *)&p->timer))
			peer_connect(p);
		t->stats.dropped++;
		return -ENOTCONN;
	}
	struct raft_msg_pb pb;
	int rc = raft__msg_encode(m, &pb);
	if (!rc)
		rc = wire_chan_send_pb(p->chan, &pb.msg.base);
	raft__msg_pb_fini(&pb);
	if (rc)
		t->stats.dropped++;
	else
		t->stats.sent++;
	return rc;
}

static void tcp_set_recv(void *impl, raft_transport_recv_fn *fn, void *arg)
{
	struct tcp *t = impl;
	t->recv = fn;
	t->recv_arg = arg;
}

static void timer_closed(uv_handle_t *h)
{
	peer_release(h->data);
}

static void peer_drop(struct tcp_peer *p)
{
	p->removed = true;
	uv_close((uv_handle_t *)&p->timer, timer_closed);
	if (p->chan)
		wire_chan_close(p->chan);
}

static void listener_closed(uv_handle_t *h)
{
	handle_gone(h->data);
}

static void tcp_close(void *impl, void (*cb)(void *arg), void *arg)
{
	struct tcp *t = impl;
	if (t->closing)
		return;
	t->closing = true;
	t->close_cb = cb;
	t->close_arg = arg;
	t->handles++; /* held while we start closing everything */
	if (t->listening)
		uv_close((uv_handle_t *)&t->listener, listener_closed);
	for (size_t i = 0; i < t->n_peers; i++)
		peer_drop(t->peers[i]);
	t->n_peers = 0;
	struct list_node *n;
	list_for_each(n, &t->incoming)
	{
		wire_chan_close(list_entry(n, struct tcp_in, link)->chan);
	}
	handle_gone(t);
}

static int peer_add(struct tcp *t, uint64_t id, const char *addr)
{
	if (id == 0 || id == t->id || t->n_peers == RAFT_CONF_MAX)
		return -EINVAL;
	struct tcp_peer *p = shoal_calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	int rc = raft_addr_parse(addr, &p->addr);
	if (rc) {
		shoal_free(p);
		return rc;
	}
	p->t = t;
	p->id = id;
	p->backoff_ms = BACKOFF_MIN_MS;
	snprintf(p->name, sizeof(p->name), "%" PRIu64 "@%s", id, addr);
	uv_timer_init(t->loop, &p->timer);
	p->timer.data = p;
	p->handles = 1;
	t->handles++;
	t->peers[t->n_peers++] = p;
	peer_connect(p);
	return 0;
}

int raft_tcp_set_peer(struct raft_transport *pub, uint64_t id, const char *addr)
{
	struct tcp *t = pub->impl;
	for (size_t i = 0; i < t->n_peers; i++) {
		if (t->peers[i]->id != id)
			continue;
		peer_drop(t->peers[i]);
		t->peers[i] = t->peers[--t->n_peers];
		break;
	}
	return addr ? peer_add(t, id, addr) : 0;
}

void raft_tcp_recheck(struct raft_transport *pub)
{
	struct tcp *t = pub->impl;
	if (!secure(t) || t->closing)
		return;
	struct list_node *n;
	list_for_each(n, &t->incoming)
	{
		struct tcp_in *in = list_entry(n, struct tcp_in, link);
		if (!in->peer_id)
			continue; /* handshaking, or already refused */
		if (identify(t, in->chan, &in->peer) != in->peer_id) {
			in->peer_id = 0;
			wire_chan_close(in->chan);
		}
	}
	for (size_t i = 0; i < t->n_peers; i++) {
		struct tcp_peer *p = t->peers[i];
		if (p->connected && identify(t, p->chan, &p->peer) != p->id) {
			p->connected = false;
			wire_chan_close(p->chan);
		}
	}
}

void raft_tcp_stats(struct raft_transport *pub, struct raft_tcp_stats *out)
{
	struct tcp *t = pub->impl;
	*out = t->stats;
	out->queued = 0;
	for (size_t i = 0; i < t->n_peers; i++)
		if (t->peers[i]->chan)
			out->queued += wire_chan_queued(t->peers[i]->chan);
}

int raft_tcp_port(struct raft_transport *pub)
{
	struct tcp *t = pub->impl;
	struct sockaddr_storage sa;
	int len = sizeof(sa);
	if (!t->listening)
		return -ENOTCONN;
	int rc = uv_tcp_getsockname(&t->listener, (struct sockaddr *)&sa, &len);
	if (rc)
		return rc;
	if (sa.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&sa)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
}

static int tcp_listen(struct tcp *t, const char *addr)
{
	struct sockaddr_storage sa;
	int rc = raft_addr_parse(addr, &sa);
	if (rc)
		return rc;
	rc = uv_tcp_init(t->loop, &t->listener);
	if (rc)
		return rc;
	t->listener.data = t;
	t->listening = true;
	t->handles++;
	rc = uv_tcp_bind(&t->listener, (struct sockaddr *)&sa, 0);
	if (!rc)
		rc = uv_listen((uv_stream_t *)&t->listener, 64, on_connection);
	return rc;
}

int raft_tcp_new(uv_loop_t *loop, const struct raft_tcp_options *o,
		 struct raft_transport **out)
{
	if (!o->id || o->n_peers > RAFT_CONF_MAX)
		return -EINVAL;
	struct tcp *t = shoal_calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->loop = loop;
	t->id = o->id;
	list_init(&t->incoming);
	if (o->chan)
		t->cfg = *o->chan;
	else
		t->cfg.security = WIRE_PLAIN;
	if (secure(t) && !o->identify) {
		shoal_free(t);
		return -EINVAL;
	}
	if (!t->cfg.handshake_timeout_ms)
		t->cfg.handshake_timeout_ms = RAFT_TCP_HANDSHAKE_TIMEOUT_MS;
	t->identify = o->identify;
	t->identify_arg = o->identify_arg;
	t->refuse_rl.interval_ns =
		(int64_t)RAFT_TCP_LOG_INTERVAL_MS * NSEC_PER_MSEC;
	t->pub = (struct raft_transport){t, tcp_send, tcp_set_recv, tcp_close};
	int rc = o->listen_addr ? tcp_listen(t, o->listen_addr) : 0;
	for (size_t i = 0; i < o->n_peers && !rc; i++)
		rc = peer_add(t, o->peers[i].id, o->peers[i].addr);
	if (rc) {
		/* Handles were made: unwind through the close path. */
		tcp_close(t, NULL, NULL);
		return rc;
	}
	*out = &t->pub;
	return 0;
}
