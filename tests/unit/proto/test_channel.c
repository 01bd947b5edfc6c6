/*
 * Unit tests of the channel: two ends on one libuv loop over socketpairs,
 * optionally with a man-in-the-middle proxy between them that re-frames the
 * byte stream and alters one frame (flip a byte, replay it, truncate it,
 * replace its length with an oversized one). Each failure must close the
 * connection with one logged line per channel naming the cause, without
 * crashes or leaks (shoal_alloc_live() back to its baseline; ASan in the
 * debug preset).
 */
/* cmocka needs these first, in this order. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "common/alloc.h"
#include "common/crypto.h"
#include "common/error.h"
#include "common/log.h"
#include "proto/cert.h"
#include "proto/channel.h"
#include "proto/token.h"
#include "proto/wire.h"
#include "proto/wire.pb-c.h"

/* ---- captured log lines ---- */

#define MAX_LINES 16

static struct {
	int n;
	enum log_level level[MAX_LINES];
	char text[MAX_LINES][512];
} logs;

static void sink(enum log_level level, const char *module, const char *msg,
		 void *arg)
{
	if (logs.n < MAX_LINES) {
		logs.level[logs.n] = level;
		snprintf(logs.text[logs.n], sizeof(logs.text[0]), "%s", msg);
	}
	logs.n++;
}

/* Lines logged by the channel whose peer is @peer. */
static int lines_about(const char *peer, const char **last)
{
	char key[64];
	snprintf(key, sizeof(key), "peer=%s ", peer);
	int n = 0;
	for (int i = 0; i < logs.n && i < MAX_LINES; i++) {
		if (strncmp(logs.text[i], key, strlen(key)) == 0) {
			n++;
			*last = logs.text[i];
		}
	}
	return n;
}

/* ---- a cluster: a root and nodes with certificates ---- */

struct node {
	struct wire_keypair id;
	uint8_t *cert;
	size_t cert_len;
};

static void node_make(struct node *n, const struct wire_keypair *root,
		      const char *cluster, const char *name,
		      enum wire_role role, int64_t not_before,
		      int64_t not_after)
{
	wire_keypair_generate(&n->id);
	struct wire_cert_info i = {0};
	snprintf(i.cluster_id, sizeof(i.cluster_id), "%s", cluster);
	snprintf(i.node_id, sizeof(i.node_id), "%s", name);
	i.role = role;
	memcpy(i.public_key, n->id.pk, WIRE_PK_LEN);
	i.not_before = not_before;
	i.not_after = not_after;
	i.serial = 1;
	assert_int_equal(wire_cert_issue(&i, root->sk, &n->cert, &n->cert_len),
			 0);
}

static void node_free(struct node *n)
{
	shoal_free(n->cert);
}

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

static struct wire_chan_config cfg_for(const struct node *n,
				       const struct wire_keypair *root,
				       const char *peer_name)
{
	struct wire_chan_config c = {0};
	c.security = WIRE_SECURE;
	c.root_pk = root->pk;
	c.identity = &n->id;
	c.cert = n->cert;
	c.cert_len = n->cert_len;
	c.peer_name = peer_name;
	return c;
}

/* ---- the two ends ---- */

#define MSGS 10000

struct end {
	struct wire_chan *c;
	bool connected;
	struct wire_peer peer;
	bool closed;
	int reason;
	/* traffic */
	int to_send;
	int sent;
	int received;
	int bad;
	int enobufs;
	int send_errors;
	bool close_when_done;
	struct end *other;
};

static bool done(const struct end *e)
{
	return e->sent == e->to_send && e->received == e->other->to_send;
}

static void maybe_finish(struct end *e)
{
	if (e->close_when_done && done(e) && done(e->other)) {
		if (!e->closed)
			wire_chan_close(e->c);
		if (!e->other->closed)
			wire_chan_close(e->other->c);
	}
}

/* Message i: its number, then (i % 301) bytes of a pattern. */
static size_t make_msg(int i, uint8_t *out)
{
	size_t len = 4 + (size_t)(i % 301);
	memcpy(out, &i, 4);
	for (size_t j = 4; j < len; j++)
		out[j] = (uint8_t)(i * 7 + j);
	return len;
}

static void pump(struct end *e)
{
	uint8_t msg[512];
	while (e->sent < e->to_send) {
		size_t len = make_msg(e->sent, msg);
		int rc = wire_chan_send(e->c, msg, len);
		if (rc == -ENOBUFS) {
			e->enobufs++;
			return;
		}
		if (rc < 0) {
			/* Only allocation failures, injected on purpose. */
			assert_int_equal(rc, -ENOMEM);
			e->send_errors++;
			wire_chan_close(e->c);
			return;
		}
		e->sent++;
	}
	maybe_finish(e);
}

static void on_connected(struct wire_chan *c, const struct wire_peer *p)
{
	struct end *e = wire_chan_data(c);
	e->connected = true;
	e->peer = *p;
	pump(e);
}

static void on_frame(struct wire_chan *c, const uint8_t *data, size_t len)
{
	struct end *e = wire_chan_data(c);
	uint8_t want[512];
	size_t wlen = make_msg(e->received, want);
	if (len != wlen || memcmp(data, want, len) != 0)
		e->bad++;
	e->received++;
	maybe_finish(e);
}

static void on_writable(struct wire_chan *c)
{
	pump(wire_chan_data(c));
}

static void on_closed(struct wire_chan *c, int reason)
{
	struct end *e = wire_chan_data(c);
	e->closed = true;
	e->reason = reason;
	e->c = NULL;
}

static const struct wire_chan_callbacks cbs = {
	.connected = on_connected,
	.frame = on_frame,
	.writable = on_writable,
	.closed = on_closed,
};

/* ---- the man in the middle ---- */

enum mitm_action {
	MITM_NONE,
	MITM_FLIP,     /* flip the last payload byte of the frame */
	MITM_REPLAY,   /* send the frame twice */
	MITM_TRUNCATE, /* send half the frame, then end the stream */
	MITM_OVERSIZE, /* send a 2 GiB length instead of the frame */
	MITM_DROP,     /* leave the frame out */
	MITM_SWAP,     /* hold the frame back and send it after the next */
};

struct mitm;

struct mitm_dir {
	struct mitm *m;
	uv_pipe_t *from;
	uv_pipe_t *to;
	struct wire_decoder dec;
	int frame_no;
	bool ended;
};

struct mitm {
	uv_pipe_t a; /* toward the client */
	uv_pipe_t b; /* toward the server */
	struct mitm_dir c2s;
	struct mitm_dir s2c;
	enum mitm_action action;
	int target; /* frame number, client to server */
	uint8_t *held;
	size_t held_len;
	uint8_t rbuf[65536];
	int open;
	uv_shutdown_t sreq;
};

struct wreq {
	uv_write_t req;
	uint8_t data[];
};

static void mitm_write_done(uv_write_t *req, int status)
{
	shoal_free(req);
}

static void mitm_write(uv_pipe_t *to, const uint8_t *p, size_t len)
{
	struct wreq *w = shoal_malloc(sizeof(*w) + len);
	assert_non_null(w);
	memcpy(w->data, p, len);
	uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)len);
	if (uv_write(&w->req, (uv_stream_t *)to, &b, 1, mitm_write_done) < 0)
		shoal_free(w);
}

static void mitm_handle_closed(uv_handle_t *h)
{
	struct mitm *m = h->data;
	m->open--;
}

static void mitm_close(struct mitm *m)
{
	if (!uv_is_closing((uv_handle_t *)&m->a))
		uv_close((uv_handle_t *)&m->a, mitm_handle_closed);
	if (!uv_is_closing((uv_handle_t *)&m->b))
		uv_close((uv_handle_t *)&m->b, mitm_handle_closed);
}

static void mitm_shutdown_done(uv_shutdown_t *req, int status)
{
}

static int mitm_frame(void *arg, uint8_t *p, size_t len)
{
	struct mitm_dir *d = arg;
	struct mitm *m = d->m;
	uint8_t hdr[WIRE_HEADER_LEN];
	int no = d->frame_no++;
	bool hit = d == &m->c2s && no == m->target;
	enum mitm_action act = hit ? m->action : MITM_NONE;
	if (d->ended)
		return -ECANCELED;
	if (act == MITM_OVERSIZE) {
		wire_put_header(hdr, 0x7ffffff0u);
		mitm_write(d->to, hdr, sizeof(hdr));
		return 0;
	}
	if (act == MITM_DROP)
		return 0;
	if (act == MITM_SWAP) {
		m->held = shoal_memdup(p, len);
		m->held_len = len;
		return 0;
	}
	if (act == MITM_FLIP && len > 0)
		p[len - 1] ^= 0x20;
	wire_put_header(hdr, (uint32_t)len);
	mitm_write(d->to, hdr, sizeof(hdr));
	if (act == MITM_TRUNCATE) {
		mitm_write(d->to, p, len / 2);
		d->ended = true;
		uv_shutdown(&m->sreq, (uv_stream_t *)d->to, mitm_shutdown_done);
		return -ECANCELED;
	}
	mitm_write(d->to, p, len);
	if (act == MITM_REPLAY) {
		mitm_write(d->to, hdr, sizeof(hdr));
		mitm_write(d->to, p, len);
	}
	if (m->held && d == &m->c2s) {
		wire_put_header(hdr, (uint32_t)m->held_len);
		mitm_write(d->to, hdr, sizeof(hdr));
		mitm_write(d->to, m->held, m->held_len);
		shoal_free(m->held);
		m->held = NULL;
	}
	return 0;
}

static void mitm_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct mitm *m = h->data;
	*b = uv_buf_init((char *)m->rbuf, sizeof(m->rbuf));
}

static void mitm_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
	struct mitm *m = s->data;
	struct mitm_dir *d = s == (uv_stream_t *)&m->a ? &m->c2s : &m->s2c;
	if (nread < 0) {
		mitm_close(m);
		return;
	}
	if (!d->ended)
		wire_decoder_feed(&d->dec, (uint8_t *)b->base, (size_t)nread,
				  mitm_frame, d);
}

static void mitm_start(struct mitm *m, uv_loop_t *loop, int fd_a, int fd_b)
{
	m->c2s = (struct mitm_dir){.m = m, .from = &m->a, .to = &m->b};
	m->s2c = (struct mitm_dir){.m = m, .from = &m->b, .to = &m->a};
	wire_decoder_init(&m->c2s.dec, 0);
	wire_decoder_init(&m->s2c.dec, 0);
	uv_pipe_init(loop, &m->a, 0);
	uv_pipe_init(loop, &m->b, 0);
	m->a.data = m;
	m->b.data = m;
	assert_int_equal(uv_pipe_open(&m->a, fd_a), 0);
	assert_int_equal(uv_pipe_open(&m->b, fd_b), 0);
	m->open = 2;
	uv_read_start((uv_stream_t *)&m->a, mitm_alloc, mitm_read);
	uv_read_start((uv_stream_t *)&m->b, mitm_alloc, mitm_read);
}

static void mitm_fini(struct mitm *m)
{
	shoal_free(m->held);
	wire_decoder_fini(&m->c2s.dec);
	wire_decoder_fini(&m->s2c.dec);
}

/* ---- running a pair ---- */

struct pair {
	uv_loop_t loop;
	struct end client;
	struct end server;
	struct mitm *mitm;
	int64_t live;
};

static void pair_init(struct pair *p)
{
	memset(p, 0, sizeof(*p));
	logs.n = 0;
	log_set_sink(sink, NULL);
	p->live = shoal_alloc_live();
	assert_int_equal(uv_loop_init(&p->loop), 0);
	p->client.other = &p->server;
	p->server.other = &p->client;
}

/* Connect client and server (through @mitm when not NULL) and run the
 * loop until everything has closed. */
static void pair_run(struct pair *p, const struct wire_chan_config *ccfg,
		     const struct wire_chan_config *scfg, struct mitm *mitm)
{
	int sv[2], mv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	int server_fd = sv[1];
	if (mitm) {
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, mv), 0);
		mitm_start(mitm, &p->loop, sv[1], mv[0]);
		server_fd = mv[1];
	}
	assert_int_equal(wire_chan_open(&p->loop, sv[0], false, ccfg, &cbs,
					&p->client, &p->client.c),
			 0);
	assert_int_equal(wire_chan_open(&p->loop, server_fd, true, scfg, &cbs,
					&p->server, &p->server.c),
			 0);
	uv_run(&p->loop, UV_RUN_DEFAULT);
	if (mitm)
		mitm_fini(mitm);
}

static void pair_fini(struct pair *p)
{
	assert_true(p->client.closed);
	assert_true(p->server.closed);
	assert_int_equal(uv_loop_close(&p->loop), 0);
	log_set_sink(NULL, NULL);
	assert_int_equal(shoal_alloc_live(), p->live);
}

/* Both ends logged exactly one line; the detecting one names @cause. */
static void assert_one_reason(const char *detector, const char *cause)
{
	const char *line = NULL, *other = NULL;
	assert_int_equal(lines_about(detector, &line), 1);
	if (!strstr(line, cause))
		fail_msg("line \"%s\" does not name \"%s\"", line, cause);
	const char *peer = strcmp(detector, "client") ? "client" : "server";
	assert_true(lines_about(peer, &other) <= 1);
	assert_true(logs.n <= 2);
}

struct cluster {
	struct wire_keypair root;
	struct node mgr;
	struct node wrk;
};

static void cluster_make(struct cluster *c, const char *id)
{
	wire_keypair_generate(&c->root);
	int64_t t = now_s();
	node_make(&c->mgr, &c->root, id, "manager1", WIRE_ROLE_MANAGER, t - 60,
		  t + 3600);
	node_make(&c->wrk, &c->root, id, "worker1", WIRE_ROLE_WORKER, t - 60,
		  t + 3600);
}

static void cluster_free(struct cluster *c)
{
	node_free(&c->mgr);
	node_free(&c->wrk);
}

/* ---- tests ---- */

static void secure_channel_carries_10000_messages_each_way_in_order(void **s)
{
	struct cluster cl;
	cluster_make(&cl, "cl-a");
	struct pair p;
	pair_init(&p);
	struct wire_chan_config cc = cfg_for(&cl.wrk, &cl.root, "server");
	struct wire_chan_config sc = cfg_for(&cl.mgr, &cl.root, "client");
	/* A small write buffer so the writers must wait for writable(). */
	cc.max_write_buffer = sc.max_write_buffer = 64 * 1024 + 64;
	cc.max_frame = sc.max_frame = 64 * 1024;
	p.client.to_send = p.server.to_send = MSGS;
	p.client.close_when_done = p.server.close_when_done = true;
	pair_run(&p, &cc, &sc, NULL);
	assert_true(p.client.connected);
	assert_true(p.server.connected);
	assert_int_equal(p.client.received, MSGS);
	assert_int_equal(p.server.received, MSGS);
	assert_int_equal(p.client.bad, 0);
	assert_int_equal(p.server.bad, 0);
	assert_true(p.client.enobufs > 0);
	assert_int_equal(p.client.reason, 0);
	assert_int_equal(p.server.reason, 0);
	/* Each side learnt who the other is from its certificate. */
	assert_true(p.client.peer.authenticated);
	assert_string_equal(p.client.peer.cert.node_id, "manager1");
	assert_int_equal(p.client.peer.role, WIRE_ROLE_MANAGER);
	assert_string_equal(p.server.peer.cert.node_id, "worker1");
	assert_int_equal(p.server.peer.role, WIRE_ROLE_WORKER);
	assert_int_equal(logs.n, 0);
	pair_fini(&p);
	cluster_free(&cl);
}

static void plain_channel_carries_messages_in_order(void **state)
{
	struct pair p;
	pair_init(&p);
	struct wire_chan_config c = {.security = WIRE_PLAIN,
				     .peer_name = "server"};
	struct wire_chan_config sc = c;
	sc.peer_name = "client";
	p.client.to_send = p.server.to_send = 1000;
	p.client.close_when_done = p.server.close_when_done = true;
	pair_run(&p, &c, &sc, NULL);
	assert_int_equal(p.client.received, 1000);
	assert_int_equal(p.server.received, 1000);
	assert_int_equal(p.server.bad + p.client.bad, 0);
	assert_false(p.client.peer.authenticated);
	pair_fini(&p);
}

/* Run a secure pair through a proxy doing @act to client frame @target. */
static void run_tampered(enum mitm_action act, int target, int expect,
			 const char *cause)
{
	struct cluster cl;
	cluster_make(&cl, "cl-a");
	struct pair p;
	pair_init(&p);
	struct mitm m = {.action = act, .target = target};
	struct wire_chan_config cc = cfg_for(&cl.wrk, &cl.root, "server");
	struct wire_chan_config sc = cfg_for(&cl.mgr, &cl.root, "client");
	sc.max_frame = 1024 * 1024;
	p.client.to_send = 50;
	pair_run(&p, &cc, &sc, &m);
	assert_true(p.server.connected);
	/* Frames before the tampered one arrived intact; none after. */
	assert_int_equal(p.server.bad, 0);
	assert_int_equal(p.server.received, target - 2);
	assert_int_equal(p.server.reason, expect);
	assert_one_reason("client", cause);
	assert_int_equal(m.open, 0);
	pair_fini(&p);
	cluster_free(&cl);
}

static void flipped_byte_closes_the_connection(void **state)
{
	run_tampered(MITM_FLIP, 7, SHOAL_EAUTH, "failed authentication");
}

static void replayed_frame_closes_the_connection(void **state)
{
	/* Frame 7 is delivered, its replay is not. */
	struct cluster cl;
	cluster_make(&cl, "cl-a");
	struct pair p;
	pair_init(&p);
	struct mitm m = {.action = MITM_REPLAY, .target = 7};
	struct wire_chan_config cc = cfg_for(&cl.wrk, &cl.root, "server");
	struct wire_chan_config sc = cfg_for(&cl.mgr, &cl.root, "client");
	p.client.to_send = 50;
	pair_run(&p, &cc, &sc, &m);
	assert_int_equal(p.server.received, 6);
	assert_int_equal(p.server.bad, 0);
	assert_int_equal(p.server.reason, SHOAL_EAUTH);
	assert_one_reason("client", "failed authentication");
	pair_fini(&p);
	cluster_free(&cl);
}

static void truncated_frame_closes_the_connection(void **state)
{
	run_tampered(MITM_TRUNCATE, 5, SHOAL_EFRAME, "truncated frame");
}

static void oversized_length_closes_the_connection(void **state)
{
	run_tampered(MITM_OVERSIZE, 4, SHOAL_EFRAME, "over the limit");
}

static void dropped_frame_closes_the_connection(void **state)
{
	run_tampered(MITM_DROP, 6, SHOAL_EAUTH, "failed authentication");
}

static void reordered_frames_close_the_connection(void **state)
{
	run_tampered(MITM_SWAP, 9, SHOAL_EAUTH, "failed authentication");
}

static void tampered_handshake_fails_authentication(void **state)
{
	/* Frame 1 is the ClientFinish: flip a byte of its signature. */
	struct cluster cl;
	cluster_make(&cl, "cl-a");
	struct pair p;
	pair_init(&p);
	struct mitm m = {.action = MITM_FLIP, .target = 1};
	struct wire_chan_config cc = cfg_for(&cl.wrk, &cl.root, "server");
	struct wire_chan_config sc = cfg_for(&cl.mgr, &cl.root, "client");
	pair_run(&p, &cc, &sc, &m);
	assert_false(p.server.connected);
	assert_false(p.client.connected);
	assert_int_equal(p.server.reason, SHOAL_EAUTH);
	assert_one_reason("client", "signature");
	pair_fini(&p);
	cluster_free(&cl);
}

/* A handshake between @ccfg and @scfg fails; check who says what. */
static void run_refused(const struct wire_chan_config *cc,
			const struct wire_chan_config *sc, const char *detector,
			int expect, const char *cause)
{
	struct pair p;
	pair_init(&p);
	pair_run(&p, cc, sc, NULL);
	assert_false(p.client.connected && p.server.connected);
	struct end *d = strcmp(detector, "client") == 0 ? &p.server : &p.client;
	assert_int_equal(d->reason, expect);
	assert_int_not_equal(d->other->reason, 0);
	assert_one_reason(detector, cause);
	pair_fini(&p);
}

static void certificate_from_another_cluster_is_refused(void **state)
{
	struct cluster a, b;
	cluster_make(&a, "cl-a");
	cluster_make(&b, "cl-b");
	struct wire_chan_config cc = cfg_for(&b.wrk, &b.root, "server");
	struct wire_chan_config sc = cfg_for(&a.mgr, &a.root, "client");
	/* The client trusts cluster b, so it refuses the server first. */
	run_refused(&cc, &sc, "server", SHOAL_ECERT, "root key");
	/* A client trusting a's root, showing a certificate of an impostor
	 * cluster with the same id but its own root: the server refuses. */
	struct cluster fake;
	cluster_make(&fake, "cl-a");
	cc = cfg_for(&fake.wrk, &fake.root, "server");
	cc.root_pk = a.root.pk;
	run_refused(&cc, &sc, "client", SHOAL_ECERT, "root key");
	/* The cluster id in a certificate must match ours too. */
	cc = cfg_for(&b.wrk, &b.root, "server");
	cc.root_pk = a.root.pk;
	run_refused(&cc, &sc, "server", SHOAL_ECERT, "another cluster");
	cluster_free(&a);
	cluster_free(&b);
	cluster_free(&fake);
}

static void expired_certificate_is_refused(void **state)
{
	struct cluster cl;
	cluster_make(&cl, "cl-a");
	struct node old;
	int64_t t = now_s();
	node_make(&old, &cl.root, "cl-a", "worker2", WIRE_ROLE_WORKER, t - 7200,
		  t - 3600);
	struct wire_chan_config cc = cfg_for(&old, &cl.root, "server");
	struct wire_chan_config sc = cfg_for(&cl.mgr, &cl.root, "client");
	run_refused(&cc, &sc, "client", SHOAL_ECERT, "certificate expired");
	node_free(&old);
	cluster_free(&cl);
}

static int revoke_worker2(void *arg, const struct wire_cert_info *info)
{
	int *calls = arg;
	(*calls)++;
	return strcmp(info->node_id, "worker1") == 0 ? SHOAL_ECERT : 0;
}

static void revocation_hook_can_refuse_a_valid_certificate(void **state)
{
	struct cluster cl;
	cluster_make(&cl, "cl-a");
	int calls = 0;
	struct wire_chan_config cc = cfg_for(&cl.wrk, &cl.root, "server");
	struct wire_chan_config sc = cfg_for(&cl.mgr, &cl.root, "client");
	sc.cert_check = revoke_worker2;
	sc.cert_check_arg = &calls;
	run_refused(&cc, &sc, "client", SHOAL_ECERT, "revoked");
	assert_int_equal(calls, 1);
	cluster_free(&cl);
}

/* ---- joins ---- */

struct secrets {
	uint8_t worker[WIRE_TOKEN_SECRET_LEN];
	uint8_t manager[WIRE_TOKEN_SECRET_LEN];
};

static int lookup(void *arg, size_t i, uint8_t secret[WIRE_TOKEN_SECRET_LEN],
		  enum wire_role *role)
{
	struct secrets *s = arg;
	if (i > 1)
		return -ENOENT;
	memcpy(secret, i ? s->manager : s->worker, WIRE_TOKEN_SECRET_LEN);
	*role = i ? WIRE_ROLE_MANAGER : WIRE_ROLE_WORKER;
	return 0;
}

static struct wire_chan_config join_cfg(const struct wire_token *t)
{
	struct wire_chan_config c = {0};
	c.security = WIRE_SECURE;
	c.token = t;
	c.peer_name = "server";
	return c;
}

static void join_with_a_token_grants_its_role(void **state)
{
	struct cluster cl;
	cluster_make(&cl, "cl-a");
	struct wire_token wt, mt;
	wire_token_new(cl.root.pk, &wt);
	wire_token_new(cl.root.pk, &mt);
	struct secrets sec;
	memcpy(sec.worker, wt.secret, sizeof(sec.worker));
	memcpy(sec.manager, mt.secret, sizeof(sec.manager));
	struct wire_chan_config sc = cfg_for(&cl.mgr, &cl.root, "client");
	sc.join_lookup = lookup;
	sc.join_arg = &sec;
	for (int i = 0; i < 2; i++) {
		struct wire_chan_config cc = join_cfg(i ? &mt : &wt);
		struct pair p;
		pair_init(&p);
		p.client.to_send = p.server.to_send = 3;
		p.client.close_when_done = p.server.close_when_done = true;
		pair_run(&p, &cc, &sc, NULL);
		assert_true(p.server.peer.joined);
		assert_int_equal(p.server.peer.role,
				 i ? WIRE_ROLE_MANAGER : WIRE_ROLE_WORKER);
		assert_string_equal(p.client.peer.cert.node_id, "manager1");
		assert_int_equal(p.client.received, 3);
		assert_int_equal(p.server.received, 3);
		assert_int_equal(p.client.bad + p.server.bad, 0);
		assert_int_equal(logs.n, 0);
		pair_fini(&p);
	}
	cluster_free(&cl);
}

static void join_with_a_wrong_secret_is_refused(void **state)
{
	struct cluster cl;
	cluster_make(&cl, "cl-a");
	struct wire_token t;
	wire_token_new(cl.root.pk, &t);
	struct secrets sec;
	shoal_random(&sec, sizeof(sec));
	struct wire_chan_config sc = cfg_for(&cl.mgr, &cl.root, "client");
	sc.join_lookup = lookup;
	sc.join_arg = &sec;
	struct wire_chan_config cc = join_cfg(&t);
	run_refused(&cc, &sc, "client", SHOAL_ETOKEN, "no current token");
	cluster_free(&cl);
}

static void join_to_the_wrong_cluster_is_refused(void **state)
{
	struct cluster cl;
	cluster_make(&cl, "cl-a");
	struct wire_keypair other;
	wire_keypair_generate(&other);
	struct wire_token t;
	wire_token_new(other.pk, &t);
	struct secrets sec;
	memcpy(sec.worker, t.secret, sizeof(sec.worker));
	memcpy(sec.manager, t.secret, sizeof(sec.manager));
	struct wire_chan_config sc = cfg_for(&cl.mgr, &cl.root, "client");
	sc.join_lookup = lookup;
	sc.join_arg = &sec;
	struct wire_chan_config cc = join_cfg(&t);
	run_refused(&cc, &sc, "server", SHOAL_ETOKEN, "join token digest");
	cluster_free(&cl);
}

static void join_is_refused_where_joins_are_off(void **state)
{
	struct cluster cl;
	cluster_make(&cl, "cl-a");
	struct wire_token t;
	wire_token_new(cl.root.pk, &t);
	struct wire_chan_config sc = cfg_for(&cl.mgr, &cl.root, "client");
	struct wire_chan_config cc = join_cfg(&t);
	run_refused(&cc, &sc, "client", SHOAL_ETOKEN, "not accepted");
	cluster_free(&cl);
}

/* ---- timeouts, bounds, misuse ---- */

static void stalled_handshake_times_out(void **state)
{
	struct cluster cl;
	cluster_make(&cl, "cl-a");
	struct pair p;
	pair_init(&p);
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct wire_chan_config sc = cfg_for(&cl.mgr, &cl.root, "client");
	sc.handshake_timeout_ms = 50;
	assert_int_equal(wire_chan_open(&p.loop, sv[1], true, &sc, &cbs,
					&p.server, &p.server.c),
			 0);
	/* The client end sends half a ClientHello header, then nothing. */
	assert_int_equal(write(sv[0], "\0\0", 2), 2);
	uv_run(&p.loop, UV_RUN_DEFAULT);
	close(sv[0]);
	assert_int_equal(p.server.reason, -ETIMEDOUT);
	const char *line = NULL;
	assert_int_equal(lines_about("client", &line), 1);
	assert_non_null(strstr(line, "handshake timed out"));
	p.client.closed = true;
	pair_fini(&p);
	cluster_free(&cl);
}

static void oversized_handshake_message_is_refused(void **state)
{
	struct cluster cl;
	cluster_make(&cl, "cl-a");
	struct pair p;
	pair_init(&p);
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct wire_chan_config sc = cfg_for(&cl.mgr, &cl.root, "client");
	assert_int_equal(wire_chan_open(&p.loop, sv[1], true, &sc, &cbs,
					&p.server, &p.server.c),
			 0);
	uint8_t hdr[4];
	wire_put_header(hdr, 1024 * 1024);
	assert_int_equal(write(sv[0], hdr, 4), 4);
	uv_run(&p.loop, UV_RUN_DEFAULT);
	close(sv[0]);
	assert_int_equal(p.server.reason, SHOAL_EFRAME);
	assert_one_reason("client", "over the limit");
	p.client.closed = true;
	pair_fini(&p);
	cluster_free(&cl);
}

static void sending_before_connected_is_refused(void **s)
{
	struct cluster cl;
	cluster_make(&cl, "cl-a");
	struct pair p;
	pair_init(&p);
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct wire_chan_config cc = cfg_for(&cl.wrk, &cl.root, "server");
	assert_int_equal(wire_chan_open(&p.loop, sv[0], false, &cc, &cbs,
					&p.client, &p.client.c),
			 0);
	assert_int_equal(wire_chan_send(p.client.c, "x", 1), -ENOTCONN);
	wire_chan_close(p.client.c);
	wire_chan_close(p.client.c);
	uv_run(&p.loop, UV_RUN_DEFAULT);
	close(sv[1]);
	assert_int_equal(p.client.reason, 0);
	assert_int_equal(logs.n, 0);
	p.server.closed = true;
	pair_fini(&p);
	cluster_free(&cl);
}

static void fast_writer_gets_enobufs_not_unbounded_growth(void **state)
{
	struct pair p;
	pair_init(&p);
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct wire_chan_config c = {.security = WIRE_PLAIN,
				     .peer_name = "server",
				     .max_frame = 4096,
				     .max_write_buffer = 16384};
	assert_int_equal(wire_chan_open(&p.loop, sv[0], false, &c, &cbs,
					&p.client, &p.client.c),
			 0);
	uv_run(&p.loop, UV_RUN_NOWAIT); /* plain: connected next turn */
	assert_true(p.client.connected);
	uint8_t msg[4000] = {0};
	int rc = 0, n = 0;
	/* Nobody reads sv[1]; the socket buffer fills, then ours. */
	for (n = 0; n < 100000 && rc == 0; n++) {
		rc = wire_chan_send(p.client.c, msg, sizeof(msg));
		if (rc == 0)
			uv_run(&p.loop, UV_RUN_NOWAIT);
	}
	assert_int_equal(rc, -ENOBUFS);
	assert_true(wire_chan_queued(p.client.c) <= 16384);
	assert_int_equal(wire_chan_send(p.client.c, msg, 4097), -EMSGSIZE);
	wire_chan_close(p.client.c);
	uv_run(&p.loop, UV_RUN_DEFAULT);
	close(sv[1]);
	p.server.closed = true;
	pair_fini(&p);
}

static void open_refuses_incomplete_configuration(void **state)
{
	struct pair p;
	pair_init(&p);
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct wire_chan_config c = {.security = WIRE_SECURE};
	struct wire_chan *ch = NULL;
	assert_int_equal(
		wire_chan_open(&p.loop, sv[0], true, &c, &cbs, &p.server, &ch),
		-EINVAL);
	assert_null(ch);
	/* The fd was taken and closed: the other end sees EOF. */
	char x;
	assert_int_equal(read(sv[1], &x, 1), 0);
	close(sv[1]);
	uv_run(&p.loop, UV_RUN_DEFAULT);
	assert_false(p.server.closed);
	p.client.closed = p.server.closed = true;
	log_set_sink(NULL, NULL);
	assert_int_equal(uv_loop_close(&p.loop), 0);
	assert_int_equal(shoal_alloc_live(), p.live);
}

/* ---- TCP: accept and connect ---- */

struct listener {
	uv_tcp_t tcp;
	struct pair *p;
	const struct wire_chan_config *cfg;
	int rc;
};

static void on_connection(uv_stream_t *s, int status)
{
	struct listener *l = s->data;
	assert_int_equal(status, 0);
	l->rc = wire_chan_accept(&l->p->loop, s, l->cfg, &cbs, &l->p->server,
				 &l->p->server.c);
	uv_close((uv_handle_t *)&l->tcp, NULL);
}

static void tcp_channels_accept_and_connect(void **state)
{
	struct cluster cl;
	cluster_make(&cl, "cl-a");
	for (int secure = 0; secure < 2; secure++) {
		struct pair p;
		pair_init(&p);
		struct wire_chan_config cc =
			cfg_for(&cl.wrk, &cl.root, "server");
		struct wire_chan_config sc =
			cfg_for(&cl.mgr, &cl.root, "client");
		if (!secure)
			cc.security = sc.security = WIRE_PLAIN;
		struct listener l = {.p = &p, .cfg = &sc, .rc = 1};
		struct sockaddr_in addr;
		int alen = sizeof(addr);
		uv_ip4_addr("127.0.0.1", 0, &addr);
		uv_tcp_init(&p.loop, &l.tcp);
		l.tcp.data = &l;
		assert_int_equal(
			uv_tcp_bind(&l.tcp, (struct sockaddr *)&addr, 0), 0);
		assert_int_equal(
			uv_listen((uv_stream_t *)&l.tcp, 4, on_connection), 0);
		uv_tcp_getsockname(&l.tcp, (struct sockaddr *)&addr, &alen);
		p.client.to_send = p.server.to_send = 100;
		p.client.close_when_done = p.server.close_when_done = true;
		assert_int_equal(
			wire_chan_connect(&p.loop, (struct sockaddr *)&addr,
					  &cc, &cbs, &p.client, &p.client.c),
			0);
		uv_run(&p.loop, UV_RUN_DEFAULT);
		assert_int_equal(l.rc, 0);
		assert_int_equal(p.client.received, 100);
		assert_int_equal(p.server.received, 100);
		assert_int_equal(p.client.bad + p.server.bad, 0);
		assert_int_equal(p.client.peer.authenticated, secure);
		assert_int_equal(logs.n, 0);
		pair_fini(&p);
	}
	cluster_free(&cl);
}

static void connect_to_a_closed_port_closes_with_the_refusal(void **state)
{
	struct pair p;
	pair_init(&p);
	/* A port that was free a moment ago and has no listener. */
	uv_tcp_t t;
	struct sockaddr_in addr;
	int alen = sizeof(addr);
	uv_ip4_addr("127.0.0.1", 0, &addr);
	uv_tcp_init(&p.loop, &t);
	assert_int_equal(uv_tcp_bind(&t, (struct sockaddr *)&addr, 0), 0);
	uv_tcp_getsockname(&t, (struct sockaddr *)&addr, &alen);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&p.loop, UV_RUN_DEFAULT);
	struct wire_chan_config c = {.security = WIRE_PLAIN,
				     .peer_name = "server"};
	assert_int_equal(wire_chan_connect(&p.loop, (struct sockaddr *)&addr,
					   &c, &cbs, &p.client, &p.client.c),
			 0);
	uv_run(&p.loop, UV_RUN_DEFAULT);
	assert_false(p.client.connected);
	assert_int_equal(p.client.reason, -ECONNREFUSED);
	const char *line = NULL;
	assert_int_equal(lines_about("server", &line), 1);
	assert_non_null(strstr(line, "connect failed"));
	p.server.closed = true;
	pair_fini(&p);
}

/*
 * Fail the Nth allocation for every N through a whole secure session
 * (open, handshake, traffic, close): each run must end with both channels
 * closed, nothing leaked and nothing crashed. The loop is warmed by one
 * clean session first so libuv's own tables (which abort on failure) are
 * already big enough.
 */
static void every_allocation_failure_is_survived(void **state)
{
	struct cluster cl;
	cluster_make(&cl, "cl-a");
	struct pair p;
	pair_init(&p);
	struct wire_chan_config cc = cfg_for(&cl.wrk, &cl.root, "server");
	struct wire_chan_config sc = cfg_for(&cl.mgr, &cl.root, "client");
	int successes = 0, failures = 0;
	for (int n = 0; n < 2000 && successes < 3; n++) {
		memset(&p.client, 0, sizeof(p.client));
		memset(&p.server, 0, sizeof(p.server));
		p.client.other = &p.server;
		p.server.other = &p.client;
		p.client.to_send = p.server.to_send = 5;
		p.client.close_when_done = p.server.close_when_done = true;
		int64_t live = shoal_alloc_live();
		int sv[2];
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		shoal_alloc_fail_after(n);
		int rc_c = wire_chan_open(&p.loop, sv[0], false, &cc, &cbs,
					  &p.client, &p.client.c);
		int rc_s = wire_chan_open(&p.loop, sv[1], true, &sc, &cbs,
					  &p.server, &p.server.c);
		uv_run(&p.loop, UV_RUN_DEFAULT);
		shoal_alloc_fail_after(-1);
		assert_true(rc_c == 0 || rc_c == -ENOMEM);
		assert_true(rc_s == 0 || rc_s == -ENOMEM);
		assert_int_equal(p.client.closed, rc_c == 0);
		assert_int_equal(p.server.closed, rc_s == 0);
		assert_int_not_equal(p.client.reason, -ETIMEDOUT);
		assert_int_not_equal(p.server.reason, -ETIMEDOUT);
		assert_int_equal(p.client.bad + p.server.bad, 0);
		assert_int_equal(shoal_alloc_live(), live);
		/* Past the session's last allocation every run succeeds. */
		if (p.client.received == 5 && p.server.received == 5) {
			successes++;
		} else {
			failures++;
			successes = 0;
		}
	}
	print_message("%d runs failed an allocation\n", failures);
	assert_true(failures > 10);
	assert_int_equal(successes, 3);
	log_set_sink(NULL, NULL);
	assert_int_equal(uv_loop_close(&p.loop), 0);
	cluster_free(&cl);
}

/*
 * The join flow end to end: a host with only a token connects, the server
 * (standing in for the manager's CA) answers over the encrypted channel
 * with a certificate for the granted role, sent with wire_chan_send_pb();
 * the host verifies it under the root key the handshake showed it.
 */
struct join_flow {
	const struct cluster *cl;
	struct wire_keypair host;
	uint8_t root_seen[WIRE_PK_LEN];
	struct wire_cert_info got;
	int verified;
	int closed;
};

static void jf_connected(struct wire_chan *c, const struct wire_peer *peer)
{
	struct join_flow *f = wire_chan_data(c);
	if (!peer->joined)
		return; /* the host's end: wait for the certificate */
	struct wire_cert_info i = {0};
	strcpy(i.cluster_id, "cl-a");
	strcpy(i.node_id, "newhost");
	i.role = peer->role;
	memcpy(i.public_key, f->host.pk, WIRE_PK_LEN);
	i.not_before = now_s() - 1;
	i.not_after = now_s() + 60;
	uint8_t *enc;
	size_t len;
	assert_int_equal(wire_cert_issue(&i, f->cl->root.sk, &enc, &len), 0);
	Wire__Certificate *cert =
		wire__certificate__unpack(&wire_pb_allocator, len, enc);
	assert_non_null(cert);
	assert_int_equal(wire_chan_send_pb(c, &cert->base), 0);
	wire__certificate__free_unpacked(cert, &wire_pb_allocator);
	shoal_free(enc);
}

static void jf_frame(struct wire_chan *c, const uint8_t *data, size_t len)
{
	struct join_flow *f = wire_chan_data(c);
	const char *why = NULL;
	if (wire_cert_verify(data, len, f->cl->root.pk, now_s(), &f->got,
			     &why) == 0)
		f->verified++;
	wire_chan_close(c);
}

static void jf_closed(struct wire_chan *c, int reason)
{
	struct join_flow *f = wire_chan_data(c);
	f->closed++;
}

static void joined_host_receives_a_certificate_over_the_channel(void **s)
{
	static const struct wire_chan_callbacks jcbs = {
		.connected = jf_connected,
		.frame = jf_frame,
		.closed = jf_closed,
	};
	struct cluster cl;
	cluster_make(&cl, "cl-a");
	struct wire_token t;
	wire_token_new(cl.root.pk, &t);
	struct secrets sec;
	memcpy(sec.worker, t.secret, sizeof(sec.worker));
	shoal_random(sec.manager, sizeof(sec.manager));
	struct wire_chan_config sc = cfg_for(&cl.mgr, &cl.root, "client");
	sc.join_lookup = lookup;
	sc.join_arg = &sec;
	struct wire_chan_config cc = join_cfg(&t);
	struct join_flow host = {.cl = &cl}, mgr = {.cl = &cl};
	wire_keypair_generate(&host.host);
	mgr.host = host.host; /* the host's public key reached the CA */
	struct pair p;
	pair_init(&p);
	int sv[2];
	struct wire_chan *a, *b;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(
		wire_chan_open(&p.loop, sv[0], false, &cc, &jcbs, &host, &a),
		0);
	assert_int_equal(
		wire_chan_open(&p.loop, sv[1], true, &sc, &jcbs, &mgr, &b), 0);
	uv_run(&p.loop, UV_RUN_DEFAULT);
	assert_int_equal(host.verified, 1);
	assert_string_equal(host.got.node_id, "newhost");
	assert_int_equal(host.got.role, WIRE_ROLE_WORKER);
	assert_memory_equal(host.got.public_key, host.host.pk, WIRE_PK_LEN);
	assert_int_equal(host.closed + mgr.closed, 2);
	p.client.closed = p.server.closed = true;
	pair_fini(&p);
	cluster_free(&cl);
}

static void paused_reader_holds_frames_until_resumed(void **state)
{
	struct pair p;
	pair_init(&p);
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct wire_chan_config c = {.security = WIRE_PLAIN,
				     .peer_name = "server",
				     .max_frame = 4096,
				     .max_write_buffer = 8192};
	struct wire_chan_config sc = c;
	sc.peer_name = "client";
	assert_int_equal(wire_chan_open(&p.loop, sv[0], false, &c, &cbs,
					&p.client, &p.client.c),
			 0);
	assert_int_equal(wire_chan_open(&p.loop, sv[1], true, &sc, &cbs,
					&p.server, &p.server.c),
			 0);
	uv_run(&p.loop, UV_RUN_NOWAIT);
	assert_true(p.server.connected);
	assert_int_equal(wire_chan_pause(p.server.c, true), 0);
	p.client.to_send = 20000;
	p.server.to_send = 0;
	pump(&p.client);
	for (int i = 0; i < 50; i++)
		uv_run(&p.loop, UV_RUN_NOWAIT);
	/* The socket and the writer's buffer fill; nothing is delivered. */
	assert_int_equal(p.server.received, 0);
	assert_true(p.client.sent < 20000);
	assert_true(p.client.enobufs > 0);
	p.client.close_when_done = p.server.close_when_done = true;
	assert_int_equal(wire_chan_pause(p.server.c, false), 0);
	uv_run(&p.loop, UV_RUN_DEFAULT);
	assert_int_equal(p.server.received, 20000);
	assert_int_equal(p.server.bad, 0);
	pair_fini(&p);
}

int main(void)
{
	shoal_crypto_init();
	shoal_alloc_install();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			secure_channel_carries_10000_messages_each_way_in_order),
		cmocka_unit_test(plain_channel_carries_messages_in_order),
		cmocka_unit_test(flipped_byte_closes_the_connection),
		cmocka_unit_test(replayed_frame_closes_the_connection),
		cmocka_unit_test(truncated_frame_closes_the_connection),
		cmocka_unit_test(oversized_length_closes_the_connection),
		cmocka_unit_test(dropped_frame_closes_the_connection),
		cmocka_unit_test(reordered_frames_close_the_connection),
		cmocka_unit_test(tampered_handshake_fails_authentication),
		cmocka_unit_test(certificate_from_another_cluster_is_refused),
		cmocka_unit_test(expired_certificate_is_refused),
		cmocka_unit_test(
			revocation_hook_can_refuse_a_valid_certificate),
		cmocka_unit_test(join_with_a_token_grants_its_role),
		cmocka_unit_test(
			joined_host_receives_a_certificate_over_the_channel),
		cmocka_unit_test(join_with_a_wrong_secret_is_refused),
		cmocka_unit_test(join_to_the_wrong_cluster_is_refused),
		cmocka_unit_test(join_is_refused_where_joins_are_off),
		cmocka_unit_test(stalled_handshake_times_out),
		cmocka_unit_test(oversized_handshake_message_is_refused),
		cmocka_unit_test(sending_before_connected_is_refused),
		cmocka_unit_test(fast_writer_gets_enobufs_not_unbounded_growth),
		cmocka_unit_test(open_refuses_incomplete_configuration),
		cmocka_unit_test(paused_reader_holds_frames_until_resumed),
		cmocka_unit_test(tcp_channels_accept_and_connect),
		cmocka_unit_test(every_allocation_failure_is_survived),
		cmocka_unit_test(
			connect_to_a_closed_port_closes_with_the_refusal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
