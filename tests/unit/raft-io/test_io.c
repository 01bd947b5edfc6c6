/*
 * Unit tests of raft-io's network and node pieces: the raft message codec
 * (round trip, refusal of invalid input), the TCP transport (delivery over
 * loopback, drops instead of buffering for unreachable peers, disconnect
 * of a peer sending garbage), and the libuv node: a three-node cluster in
 * one process and one loop over loopback TCP elects a leader, commits,
 * serves a linearizable read, loses its leader, elects another and
 * commits again, and a restarted node catches up from its own disk.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "proto/cert.h"
#include "raft/node_uv.h"
#include "raft/transport.h"
#include "raft/transport_codec.h"

/* ---- codec ---- */

static uint8_t *pack(const struct raft_msg *m, size_t *len)
{
	struct raft_msg_pb pb;
	assert_int_equal(raft__msg_encode(m, &pb), 0);
	*len = raft__message__get_packed_size(&pb.msg);
	uint8_t *buf = malloc(*len + 1);
	raft__message__pack(&pb.msg, buf);
	raft__msg_pb_fini(&pb);
	return buf;
}

static void append_message_survives_encoding(void **state)
{
	struct raft_entry e[2] = {{3, 8, RAFT_ENTRY_NORMAL, 5, (char *)"hello"},
				  {4, 9, RAFT_ENTRY_NOOP, 0, NULL}};
	struct raft_msg m = {
		.type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 4};
	m.append = (struct raft_msg_append){7, 3, 6, 2, e};
	size_t len;
	uint8_t *buf = pack(&m, &len);
	struct raft_msg_decoded d;
	assert_int_equal(raft__msg_decode(buf, len, &d), 0);
	assert_int_equal(d.msg.type, RAFT_MSG_APPEND);
	assert_int_equal(d.msg.term, 4);
	assert_int_equal(d.msg.append.prev_index, 7);
	assert_int_equal(d.msg.append.commit, 6);
	assert_int_equal(d.msg.append.n_entries, 2);
	assert_int_equal(d.msg.append.entries[0].len, 5);
	assert_memory_equal(d.msg.append.entries[0].data, "hello", 5);
	assert_int_equal(d.msg.append.entries[1].type, RAFT_ENTRY_NOOP);
	raft__msg_decoded_free(&d);
	free(buf);
}

static void snapshot_chunk_survives_encoding(void **state)
{
	struct raft_msg m = {
		.type = RAFT_MSG_SNAPSHOT, .from = 1, .to = 3, .term = 5};
	m.snapshot.meta = (struct raft_snapshot_meta){
		.index = 100, .term = 4, .conf_index = 1};
	m.snapshot.meta.conf.n = 2;
	m.snapshot.meta.conf.servers[0] = (struct raft_server){1, RAFT_VOTER};
	m.snapshot.meta.conf.servers[1] = (struct raft_server){3, RAFT_LEARNER};
	m.snapshot.offset = 0;
	m.snapshot.size = 3;
	m.snapshot.last = true;
	m.snapshot.len = 3;
	m.snapshot.data = (char *)"abc";
	size_t len;
	uint8_t *buf = pack(&m, &len);
	struct raft_msg_decoded d;
	assert_int_equal(raft__msg_decode(buf, len, &d), 0);
	assert_int_equal(d.msg.snapshot.meta.index, 100);
	assert_int_equal(d.msg.snapshot.meta.conf.n, 2);
	assert_int_equal(d.msg.snapshot.meta.conf.servers[1].role,
			 RAFT_LEARNER);
	assert_true(d.msg.snapshot.last);
	assert_memory_equal(d.msg.snapshot.data, "abc", 3);
	raft__msg_decoded_free(&d);
	free(buf);
}

static void invalid_messages_are_refused(void **state)
{
	struct raft_msg_decoded d;
	/* Not protobuf at all. */
	assert_int_equal(
		raft__msg_decode((const uint8_t *)"\xff\xff\xff", 3, &d),
		-EPROTO);
	/* Unknown type. */
	struct raft_msg m = {
		.type = RAFT_MSG_VOTE, .from = 1, .to = 2, .term = 1};
	size_t len;
	uint8_t *buf = pack(&m, &len);
	assert_int_equal(raft__msg_decode(buf, len, &d), 0);
	raft__msg_decoded_free(&d);
	free(buf);
	m.type = 77;
	buf = pack(&m, &len);
	assert_int_equal(raft__msg_decode(buf, len, &d), -EPROTO);
	free(buf);
	/* Entries out of sequence. */
	struct raft_entry e[2] = {{1, 5, RAFT_ENTRY_NORMAL, 1, (char *)"x"},
				  {1, 7, RAFT_ENTRY_NORMAL, 1, (char *)"y"}};
	m = (struct raft_msg){
		.type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 1};
	m.append = (struct raft_msg_append){4, 1, 0, 2, e};
	buf = pack(&m, &len);
	assert_int_equal(raft__msg_decode(buf, len, &d), -EPROTO);
	free(buf);
	/* A sender id of 0. */
	m = (struct raft_msg){.type = RAFT_MSG_TIMEOUT_NOW, .to = 2, .term = 1};
	buf = pack(&m, &len);
	assert_int_equal(raft__msg_decode(buf, len, &d), -EPROTO);
	free(buf);
}

/* ---- transport ---- */

struct inbox {
	int count;
	struct raft_msg last;
};

static void on_msg(void *arg, const struct raft_msg *m)
{
	struct inbox *in = arg;
	in->count++;
	in->last = *m;
	in->last.append.entries = NULL;
}

static struct raft_transport *transport(uv_loop_t *loop, uint64_t id)
{
	struct raft_tcp_options o = {.id = id, .listen_addr = "127.0.0.1:0"};
	struct raft_transport *t;
	assert_int_equal(raft_tcp_new(loop, &o, &t), 0);
	return t;
}

static void set_peer(struct raft_transport *t, uint64_t id,
		     struct raft_transport *to)
{
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", raft_tcp_port(to));
	assert_int_equal(raft_tcp_set_peer(t, id, addr), 0);
}

static void run_for(uv_loop_t *loop, int ms)
{
	int64_t until = time_mono_ns() + ms * NSEC_PER_MSEC;
	while (time_mono_ns() < until) {
		uv_run(loop, UV_RUN_NOWAIT);
		usleep(1000);
	}
}

static void close_transport(uv_loop_t *loop, struct raft_transport *t)
{
	t->close(t->impl, NULL, NULL);
}

static void messages_reach_their_peer_over_tcp(void **state)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct raft_transport *a = transport(&loop, 1),
			      *b = transport(&loop, 2);
	struct inbox in = {0};
	b->set_recv(b->impl, on_msg, &in);
	/* Unknown peers are refused; unreachable ones dropped, not queued. */
	struct raft_msg m = {
		.type = RAFT_MSG_HEARTBEAT, .from = 1, .to = 2, .term = 3};
	m.heartbeat = (struct raft_msg_heartbeat){.commit = 0, .ctx = 9};
	assert_int_equal(a->send(a->impl, &m), -ENOENT);
	set_peer(a, 2, b);
	assert_int_equal(a->send(a->impl, &m), -ENOTCONN);
	for (int i = 0; i < 2000 && !in.count; i++) {
		a->send(a->impl, &m);
		run_for(&loop, 5);
	}
	assert_true(in.count > 0);
	assert_int_equal(in.last.type, RAFT_MSG_HEARTBEAT);
	assert_int_equal(in.last.heartbeat.ctx, 9);
	struct raft_tcp_stats s;
	raft_tcp_stats(a, &s);
	assert_true(s.dropped >= 1);
	assert_true(s.sent >= 1);
	close_transport(&loop, a);
	close_transport(&loop, b);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void slow_peer_cannot_make_the_sender_buffer_without_limit(void **state)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	/* A "peer" that accepts connections and never reads. */
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_storage sa;
	assert_int_equal(raft_addr_parse("127.0.0.1:0", &sa), 0);
	assert_int_equal(
		bind(lfd, (struct sockaddr *)&sa, sizeof(struct sockaddr_in)),
		0);
	assert_int_equal(listen(lfd, 4), 0);
	socklen_t slen = sizeof(sa);
	getsockname(lfd, (struct sockaddr *)&sa, &slen);
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d",
		 ntohs(((struct sockaddr_in *)&sa)->sin_port));
	struct wire_chan_config cfg = {.security = WIRE_PLAIN,
				       .max_frame = 64 << 10,
				       .max_write_buffer = 128 << 10};
	struct raft_tcp_peer peer = {2, addr};
	struct raft_tcp_options o = {
		.id = 1, .n_peers = 1, .peers = &peer, .chan = &cfg};
	struct raft_transport *a;
	assert_int_equal(raft_tcp_new(&loop, &o, &a), 0);
	static char payload[8192];
	struct raft_entry e = {1, 1, RAFT_ENTRY_NORMAL, sizeof(payload),
			       payload};
	struct raft_msg m = {
		.type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 1};
	m.append = (struct raft_msg_append){0, 0, 0, 1, &e};
	struct raft_tcp_stats s;
	uint64_t max_queued = 0;
	int busy = 0;
	for (int i = 0; i < 20000 && busy < 1000; i++) {
		if (a->send(a->impl, &m) == -ENOBUFS)
			busy++;
		raft_tcp_stats(a, &s);
		if (s.queued > max_queued)
			max_queued = s.queued;
		if (i % 64 == 0)
			run_for(&loop, 1);
	}
	/* It filled up (kernel buffers included), then dropped. */
	assert_int_equal(busy, 1000);
	raft_tcp_stats(a, &s);
	assert_true(s.dropped >= 1000);
	assert_true(max_queued <= 128 << 10);
	close_transport(&loop, a);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	close(lfd);
}

static int unused_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

static void sender_reconnects_once_the_peer_comes_up(void **state)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	log_set_level(LOG_LEVEL_FATAL);
	int port = unused_port();
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	struct raft_tcp_peer peer = {2, addr};
	struct raft_tcp_options o = {.id = 1, .n_peers = 1, .peers = &peer};
	struct raft_transport *a, *b;
	assert_int_equal(raft_tcp_new(&loop, &o, &a), 0);
	struct raft_msg m = {
		.type = RAFT_MSG_TIMEOUT_NOW, .from = 1, .to = 2, .term = 1};
	/* Nobody listens: connects fail and are retried with back-off. */
	run_for(&loop, 200);
	assert_int_equal(a->send(a->impl, &m), -ENOTCONN);
	struct raft_tcp_stats s;
	raft_tcp_stats(a, &s);
	assert_int_equal(s.connects, 0);
	struct raft_tcp_options ob = {.id = 2, .listen_addr = addr};
	assert_int_equal(raft_tcp_new(&loop, &ob, &b), 0);
	struct inbox in = {0};
	b->set_recv(b->impl, on_msg, &in);
	for (int i = 0; i < 3000 && !in.count; i++) {
		a->send(a->impl, &m);
		run_for(&loop, 1);
	}
	assert_true(in.count > 0);
	assert_int_equal(in.last.type, RAFT_MSG_TIMEOUT_NOW);
	raft_tcp_stats(a, &s);
	assert_int_equal(s.connects, 1);
	/* The peer goes away and comes back: the sender reconnects. */
	close_transport(&loop, b);
	run_for(&loop, 50);
	assert_int_equal(raft_tcp_new(&loop, &ob, &b), 0);
	in.count = 0;
	b->set_recv(b->impl, on_msg, &in);
	for (int i = 0; i < 3000 && !in.count; i++) {
		a->send(a->impl, &m);
		run_for(&loop, 1);
	}
	assert_true(in.count > 0);
	raft_tcp_stats(a, &s);
	assert_int_equal(s.connects, 2);
	close_transport(&loop, a);
	close_transport(&loop, b);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	log_set_level(LOG_LEVEL_INFO);
}

static void peer_sending_garbage_is_disconnected(void **state)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct raft_transport *b = transport(&loop, 2);
	struct inbox in = {0};
	b->set_recv(b->impl, on_msg, &in);
	log_set_level(LOG_LEVEL_FATAL);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_storage sa;
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", raft_tcp_port(b));
	assert_int_equal(raft_addr_parse(addr, &sa), 0);
	assert_int_equal(
		connect(fd, (struct sockaddr *)&sa, sizeof(struct sockaddr_in)),
		0);
	/* One frame of 3 bytes that are not a raft message. */
	assert_int_equal(write(fd, "\0\0\0\3\xff\xff\xff", 7), 7);
	struct raft_tcp_stats s = {0};
	for (int i = 0; i < 2000 && !s.rejected; i++) {
		run_for(&loop, 2);
		raft_tcp_stats(b, &s);
	}
	assert_int_equal(s.rejected, 1);
	assert_int_equal(in.count, 0);
	/* The connection was closed on us. */
	char c;
	run_for(&loop, 20);
	assert_true(read(fd, &c, 1) <= 0);
	close(fd);
	log_set_level(LOG_LEVEL_INFO);
	close_transport(&loop, b);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- a three-node cluster ---- */

#define N 3

struct member {
	struct cluster *c;
	uint64_t id;
	struct raft_transport *t;
	struct raft_node *node;
	enum raft_role role;
	int applied; /* normal entries applied */
	uint64_t last_applied;
	uint64_t hash;		 /* of every normal entry applied, in order */
	int restores;		 /* snapshots loaded */
	struct wire_keypair key; /* secure clusters */
	uint8_t *cert;
	size_t cert_len;
	struct wire_chan_config chan;
	bool disk_full; /* its disk answers ENOSPC from now on */
	int error;	/* reported through the error callback */
};

struct cluster {
	uv_loop_t loop;
	char dir[64];
	struct member m[N + 1]; /* the last one joins later, if at all */
	struct raft_conf conf;
	bool snapshots;
	struct wire_keypair root; /* secure clusters */
	int acks;
	int ack_status;
	int reads;
};

static void on_apply(void *arg, const struct raft_entry *e)
{
	struct member *m = arg;
	if (e->type == RAFT_ENTRY_NORMAL) {
		m->applied++;
		for (uint32_t i = 0; i < e->len; i++)
			m->hash = m->hash * 31 + ((uint8_t *)e->data)[i];
	}
	m->last_applied = e->index;
}

/* The state machine is (applied count, hash): 16 bytes. */
static int on_snapshot_take(void *arg, void **data, size_t *len)
{
	struct member *m = arg;
	uint64_t *p = shoal_malloc(16);
	if (!p)
		return -ENOMEM;
	p[0] = (uint64_t)m->applied;
	p[1] = m->hash;
	*data = p;
	*len = 16;
	return 0;
}

static int on_snapshot_restore(void *arg, const void *data, size_t len)
{
	struct member *m = arg;
	const uint64_t *p = data;
	if (len != 16)
		return -EINVAL;
	m->applied = (int)p[0];
	m->hash = p[1];
	m->restores++;
	return 0;
}

static void on_role(void *arg, enum raft_role role, uint64_t leader,
		    uint64_t term)
{
	struct member *m = arg;
	m->role = role;
}

static void on_node_error(void *arg, int err)
{
	struct member *m = arg;
	m->error = err;
}

static ssize_t member_pwritev(int fd, const struct iovec *iov, int n, off_t off,
			      void *arg)
{
	struct member *m = arg;
	if (m->disk_full) {
		errno = ENOSPC;
		return -1;
	}
	return pwritev(fd, iov, n, off);
}

static void start_member(struct cluster *c, int i)
{
	struct member *m = &c->m[i];
	char dir[128];
	snprintf(dir, sizeof(dir), "%s/n%d", c->dir, i + 1);
	struct raft_options ro;
	raft_options_init(&ro);
	ro.election_timeout_ms = 150;
	ro.heartbeat_ms = 30;
	struct raft_disk_options disk = {.segment_bytes = 4096,
					 .pwritev_hook = member_pwritev,
					 .hook_arg = m};
	if (c->snapshots) {
		ro.snapshot_threshold = 20;
		ro.snapshot_trailing = 5;
	}
	struct raft_node_options o = {
		.id = m->id,
		.dir = dir,
		.bootstrap = i < N ? &c->conf : NULL,
		.raft = &ro,
		.transport = m->t,
		.cb = {.apply = on_apply,
		       .role = on_role,
		       .error = on_node_error,
		       .snapshot_take = on_snapshot_take,
		       .snapshot_restore = on_snapshot_restore},
		.cb_arg = m,
		.disk = &disk,
	};
	m->role = RAFT_FOLLOWER;
	m->applied = 0;
	m->hash = 0;
	assert_int_equal(raft_node_start(&c->loop, &o, &m->node), 0);
}

static int leader(struct cluster *c)
{
	for (int i = 0; i <= N; i++)
		if (c->m[i].node && c->m[i].role == RAFT_LEADER)
			return i;
	return -1;
}

static int wait_leader(struct cluster *c, int not )
{
	for (int k = 0; k < 5000; k++) {
		int l = leader(c);
		if (l >= 0 && l != not )
			return l;
		run_for(&c->loop, 2);
	}
	fail_msg("no leader elected within 10 s");
	return -1;
}

static void on_ack(void *arg, int status)
{
	struct cluster *c = arg;
	c->acks++;
	if (status)
		c->ack_status = status;
}

static void on_read(void *arg, int status)
{
	struct cluster *c = arg;
	if (!status)
		c->reads++;
}

static void propose(struct cluster *c, int l, int count)
{
	c->acks = 0;
	c->ack_status = 0;
	for (int i = 0; i < count; i++) {
		char buf[32];
		int len = snprintf(buf, sizeof(buf), "cmd-%d", i);
		assert_int_equal(raft_node_propose(c->m[l].node, buf,
						   (size_t)len, on_ack, c),
				 0);
	}
	for (int k = 0; k < 5000 && c->acks < count; k++)
		run_for(&c->loop, 2);
	assert_int_equal(c->acks, count);
	assert_int_equal(c->ack_status, 0);
}

static void wait_applied(struct cluster *c, int i, int count)
{
	for (int k = 0; k < 5000 && c->m[i].applied < count; k++)
		run_for(&c->loop, 2);
	assert_int_equal(c->m[i].applied, count);
}

static void stopped(void *arg)
{
	*(bool *)arg = true;
}

static void stop_member(struct cluster *c, int i)
{
	bool done = false;
	raft_node_stop(c->m[i].node, stopped, &done);
	while (!done)
		uv_run(&c->loop, UV_RUN_ONCE);
	c->m[i].node = NULL;
}

static int rm_one(const char *p, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	return remove(p);
}

/* Members are "manager-N", Raft id N. */
static uint64_t member_identify(void *arg, const struct wire_peer *p,
				const char **why)
{
	unsigned long long n = 0;
	if (sscanf(p->cert.node_id, "manager-%llu", &n) != 1)
		*why = "not a member";
	return n;
}

/* A certificate from the cluster root and a secure channel setup. */
static void secure_member(struct cluster *c, struct member *m)
{
	struct wire_cert_info i = {0};
	wire_keypair_generate(&m->key);
	snprintf(i.cluster_id, sizeof(i.cluster_id), "test-cluster");
	snprintf(i.node_id, sizeof(i.node_id), "manager-%" PRIu64, m->id);
	i.role = WIRE_ROLE_MANAGER;
	memcpy(i.public_key, m->key.pk, WIRE_PK_LEN);
	i.not_before = time(NULL) - 60;
	i.not_after = time(NULL) + 3600;
	i.serial = m->id;
	assert_int_equal(
		wire_cert_issue(&i, c->root.sk, &m->cert, &m->cert_len), 0);
	m->chan = (struct wire_chan_config){.security = WIRE_SECURE,
					    .root_pk = c->root.pk,
					    .identity = &m->key,
					    .cert = m->cert,
					    .cert_len = m->cert_len};
	struct raft_tcp_options o = {.id = m->id,
				     .listen_addr = "127.0.0.1:0",
				     .chan = &m->chan,
				     .identify = member_identify};
	assert_int_equal(raft_tcp_new(&c->loop, &o, &m->t), 0);
}

/* The directory of the running cluster test, removed by the teardown
 * even when an assertion failed half-way. */
static char cluster_dir[64];

static int remove_cluster_dir(void **state)
{
	if (cluster_dir[0])
		nftw(cluster_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	cluster_dir[0] = 0;
	log_set_level(LOG_LEVEL_INFO);
	return 0;
}

static struct cluster *cluster_new(bool snapshots, bool secure)
{
	struct cluster *c = calloc(1, sizeof(*c));
	c->snapshots = snapshots;
	if (secure)
		wire_keypair_generate(&c->root);
	uv_loop_init(&c->loop);
	strcpy(c->dir, "/tmp/shoal-raft-io-XXXXXX");
	assert_non_null(mkdtemp(c->dir));
	snprintf(cluster_dir, sizeof(cluster_dir), "%s", c->dir);
	log_set_level(LOG_LEVEL_ERROR);
	c->conf.n = N;
	for (int i = 0; i < N; i++) {
		c->m[i].c = c;
		c->m[i].id = (uint64_t)i + 1;
		c->conf.servers[i] =
			(struct raft_server){c->m[i].id, RAFT_VOTER};
		if (secure)
			secure_member(c, &c->m[i]);
		else
			c->m[i].t = transport(&c->loop, c->m[i].id);
	}
	for (int i = 0; i < N; i++)
		for (int j = 0; j < N; j++)
			if (i != j)
				set_peer(c->m[i].t, c->m[j].id, c->m[j].t);
	for (int i = 0; i < N; i++)
		start_member(c, i);
	return c;
}

static void cluster_free(struct cluster *c)
{
	for (int i = 0; i <= N; i++) {
		if (c->m[i].node)
			stop_member(c, i);
		if (c->m[i].t)
			close_transport(&c->loop, c->m[i].t);
	}
	uv_run(&c->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&c->loop), 0);
	nftw(c->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	log_set_level(LOG_LEVEL_INFO);
	for (int i = 0; i <= N; i++)
		shoal_free(c->m[i].cert);
	free(c);
}

static void cluster_elects_commits_and_survives_losing_its_leader(void **state)
{
	struct cluster *c = cluster_new(false, false);
	int l = wait_leader(c, -1);
	propose(c, l, 20);
	for (int i = 0; i < N; i++)
		wait_applied(c, i, 20);
	assert_int_equal(raft_node_read(c->m[l].node, on_read, c), 0);
	for (int k = 0; k < 5000 && !c->reads; k++)
		run_for(&c->loop, 2);
	assert_int_equal(c->reads, 1);
	/* A follower refuses proposals. */
	int f = (l + 1) % N;
	assert_int_equal(raft_node_propose(c->m[f].node, "x", 1, on_ack, c),
			 SHOAL_ENOTLEADER);

	/* The leader stops; the two others elect a new one and commit. */
	stop_member(c, l);
	int l2 = wait_leader(c, l);
	assert_int_not_equal(l2, l);
	propose(c, l2, 10);
	for (int i = 0; i < N; i++)
		if (i != l)
			wait_applied(c, i, 30);

	/* The old leader restarts from its disk and catches up. */
	start_member(c, l);
	wait_applied(c, l, 30);
	struct raft_status st;
	raft_node_status(c->m[l].node, &st);
	assert_int_equal(st.role, RAFT_FOLLOWER);
	cluster_free(c);
}

static void lagging_node_catches_up_from_a_snapshot(void **state)
{
	struct cluster *c = cluster_new(true, false);
	int l = wait_leader(c, -1);
	int f = (l + 1) % N;
	stop_member(c, f);
	for (int round = 0; round < 10; round++)
		propose(c, l, 10);
	struct raft_status st;
	raft_node_status(c->m[l].node, &st);
	assert_true(st.snapshot_index >= 20);
	/* The leader's log no longer holds what f lacks: it gets a snapshot,
	 * then the rest, and ends in the same state. */
	start_member(c, f);
	wait_applied(c, f, 100);
	assert_true(c->m[f].restores >= 1);
	assert_int_equal(c->m[f].hash, c->m[l].hash);
	/* It restarts from its own snapshot and log. */
	stop_member(c, f);
	start_member(c, f);
	wait_applied(c, f, 100);
	assert_int_equal(c->m[f].hash, c->m[l].hash);
	cluster_free(c);
}

static void follower_with_a_full_disk_stops_and_the_others_go_on(void **state)
{
	struct cluster *c = cluster_new(false, false);
	int l = wait_leader(c, -1);
	propose(c, l, 5);
	int f = (l + 1) % N;
	wait_applied(c, f, 5);
	log_set_level(LOG_LEVEL_FATAL);
	c->m[f].disk_full = true;
	propose(c, l, 10);
	for (int k = 0; k < 5000 && !c->m[f].error; k++)
		run_for(&c->loop, 2);
	assert_int_equal(c->m[f].error, -ENOSPC);
	/* It refuses work from now on; it applied nothing past its disk. */
	assert_int_equal(raft_node_read(c->m[f].node, on_read, c), -ENOSPC);
	assert_int_equal(c->m[f].applied, 5);
	/* Restarted on a disk with room, it catches up from its log. */
	stop_member(c, f);
	c->m[f].disk_full = false;
	start_member(c, f);
	wait_applied(c, f, 15);
	cluster_free(c);
}

static void new_server_joins_as_learner_then_votes(void **state)
{
	struct cluster *c = cluster_new(false, false);
	int l = wait_leader(c, -1);
	propose(c, l, 10);
	struct member *x = &c->m[N];
	x->c = c;
	x->id = N + 1;
	x->t = transport(&c->loop, x->id);
	for (int i = 0; i < N; i++) {
		set_peer(c->m[i].t, x->id, x->t);
		set_peer(x->t, c->m[i].id, c->m[i].t);
	}
	start_member(c, N); /* no bootstrap: waits to be added */
	assert_int_equal(raft_node_add_learner(c->m[l].node, x->id), 0);
	wait_applied(c, N, 10);
	int rc = -EAGAIN;
	for (int k = 0; k < 5000 && rc; k++) {
		rc = raft_node_promote(c->m[l].node, x->id);
		if (rc)
			assert_true(rc == -EAGAIN || rc == -EBUSY);
		run_for(&c->loop, 2);
	}
	assert_int_equal(rc, 0);
	propose(c, l, 5);
	struct raft_status st;
	raft_node_status(c->m[l].node, &st);
	assert_int_equal(st.conf.n, N + 1);
	const struct raft_server *srv = raft_conf_find(&st.conf, x->id);
	assert_non_null(srv);
	assert_int_equal(srv->role, RAFT_VOTER);
	wait_applied(c, N, 15);
	/* Four voters: losing the leader leaves three, a majority. */
	stop_member(c, l);
	int l2 = wait_leader(c, l);
	propose(c, l2, 5);
	wait_applied(c, N, 20);
	cluster_free(c);
}

static void secure_cluster_commits_over_encrypted_channels(void **state)
{
	struct cluster *c = cluster_new(false, true);
	int l = wait_leader(c, -1);
	propose(c, l, 20);
	for (int i = 0; i < N; i++)
		wait_applied(c, i, 20);
	cluster_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(append_message_survives_encoding),
		cmocka_unit_test(snapshot_chunk_survives_encoding),
		cmocka_unit_test(invalid_messages_are_refused),
		cmocka_unit_test(messages_reach_their_peer_over_tcp),
		cmocka_unit_test(
			slow_peer_cannot_make_the_sender_buffer_without_limit),
		cmocka_unit_test(sender_reconnects_once_the_peer_comes_up),
		cmocka_unit_test(peer_sending_garbage_is_disconnected),
		cmocka_unit_test_teardown(
			cluster_elects_commits_and_survives_losing_its_leader,
			remove_cluster_dir),
		cmocka_unit_test_teardown(
			lagging_node_catches_up_from_a_snapshot,
			remove_cluster_dir),
		cmocka_unit_test_teardown(
			follower_with_a_full_disk_stops_and_the_others_go_on,
			remove_cluster_dir),
		cmocka_unit_test_teardown(
			new_server_joins_as_learner_then_votes,
			remove_cluster_dir),
		cmocka_unit_test_teardown(
			secure_cluster_commits_over_encrypted_channels,
			remove_cluster_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
