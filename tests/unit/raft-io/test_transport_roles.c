/*
 * Only managers speak Raft, each in its own name. Over secure channels the
 * TCP transport (raft/transport.h) asks its owner's identify callback who
 * an authenticated peer is: a worker's certificate, or a manager's that
 * was revoked, is refused; a manager may send only messages whose `from`
 * is its own id (one message in the leader's name with a high term
 * deposes it; an AppendEntries in its name writes the store); a live
 * connection is dropped when a recheck no longer admits it; an outgoing
 * connection must reach the node it was made for. And strangers who open
 * connections and never finish the handshake cannot take the slots that
 * managers need.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "proto/cert.h"
#include "proto/channel.h"
#include "raft/transport.h"
#include "raft/transport_codec.h"

struct ident {
	struct wire_keypair key;
	uint8_t *cert;
	size_t cert_len;
	struct wire_chan_config cfg;
};

static void ident_make(struct ident *id, const struct wire_keypair *root,
		       const char *node, enum wire_role role)
{
	struct wire_cert_info i = {0};
	wire_keypair_generate(&id->key);
	snprintf(i.cluster_id, sizeof(i.cluster_id), "test-cluster");
	snprintf(i.node_id, sizeof(i.node_id), "%s", node);
	i.role = role;
	memcpy(i.public_key, id->key.pk, WIRE_PK_LEN);
	i.not_before = time(NULL) - 60;
	i.not_after = time(NULL) + 3600;
	i.serial = 1;
	assert_int_equal(
		wire_cert_issue(&i, root->sk, &id->cert, &id->cert_len), 0);
	id->cfg = (struct wire_chan_config){.security = WIRE_SECURE,
					    .root_pk = root->pk,
					    .identity = &id->key,
					    .cert = id->cert,
					    .cert_len = id->cert_len};
}

/* manager-N is Raft id N unless bit N is set here. */
static uint64_t revoked;

static uint64_t identify(void *arg, const struct wire_peer *p, const char **why)
{
	unsigned long n;
	if (p->role != WIRE_ROLE_MANAGER) {
		*why = "not a manager";
		return 0;
	}
	if (sscanf(p->cert.node_id, "manager-%lu", &n) != 1 || n >= 64) {
		*why = "unknown node";
		return 0;
	}
	if (revoked & (1ull << n)) {
		*why = "revoked";
		return 0;
	}
	return n;
}

static void run_for(uv_loop_t *loop, int ms)
{
	int64_t until = time_mono_ns() + ms * NSEC_PER_MSEC;
	while (time_mono_ns() < until) {
		uv_run(loop, UV_RUN_NOWAIT);
		usleep(1000);
	}
}

static void on_msg(void *arg, const struct raft_msg *m)
{
	(*(int *)arg)++;
}

struct client {
	uint64_t from; /* the sender the heartbeat claims (0: 1) */
	bool connected;
	bool closed;
};

static void cl_connected(struct wire_chan *c, const struct wire_peer *peer)
{
	struct client *cl = wire_chan_data(c);
	cl->connected = true;
	struct raft_msg m = {.type = RAFT_MSG_HEARTBEAT,
			     .from = cl->from ? cl->from : 1,
			     .to = 2,
			     .term = 7,
			     .heartbeat = {.commit = 0, .ctx = 1}};
	struct raft_msg_pb pb;
	assert_int_equal(raft__msg_encode(&m, &pb), 0);
	assert_int_equal(wire_chan_send_pb(c, &pb.msg.base), 0);
	raft__msg_pb_fini(&pb);
}

static void cl_frame(struct wire_chan *c, const uint8_t *data, size_t len)
{
}

static void cl_closed(struct wire_chan *c, int reason)
{
	struct client *cl = wire_chan_data(c);
	cl->closed = true;
}

static const struct wire_chan_callbacks cl_cbs = {
	.connected = cl_connected, .frame = cl_frame, .closed = cl_closed};

/* Connect to @t as @who, send one heartbeat; the messages @t delivered. */
static int send_as(uv_loop_t *loop, struct raft_transport *t, struct ident *who,
		   struct client *cl)
{
	int delivered = 0;
	t->set_recv(t->impl, on_msg, &delivered);
	struct sockaddr_storage sa;
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", raft_tcp_port(t));
	assert_int_equal(raft_addr_parse(addr, &sa), 0);
	struct wire_chan *c;
	assert_int_equal(wire_chan_connect(loop, (struct sockaddr *)&sa,
					   &who->cfg, &cl_cbs, cl, &c),
			 0);
	for (int i = 0; i < 1000 && !delivered && !cl->closed; i++)
		run_for(loop, 2);
	run_for(loop, 20);
	if (!cl->closed)
		wire_chan_close(c);
	while (!cl->closed)
		uv_run(loop, UV_RUN_ONCE);
	return delivered;
}

static void raft_messages_are_taken_only_from_managers(void **state)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	log_set_level(LOG_LEVEL_FATAL);
	struct wire_keypair root;
	wire_keypair_generate(&root);
	struct ident node2, worker, manager1;
	ident_make(&node2, &root, "manager-2", WIRE_ROLE_MANAGER);
	ident_make(&worker, &root, "worker-9", WIRE_ROLE_WORKER);
	ident_make(&manager1, &root, "manager-1", WIRE_ROLE_MANAGER);
	struct raft_tcp_options o = {.id = 2,
				     .listen_addr = "127.0.0.1:0",
				     .chan = &node2.cfg,
				     .identify = identify};
	struct raft_transport *t;
	assert_int_equal(raft_tcp_new(&loop, &o, &t), 0);

	struct client cw = {0}, cm = {0};
	assert_int_equal(send_as(&loop, t, &worker, &cw), 0);
	assert_true(cw.connected); /* the certificate itself is valid */
	assert_int_equal(send_as(&loop, t, &manager1, &cm), 1);

	t->close(t->impl, NULL, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	shoal_free(node2.cert);
	shoal_free(worker.cert);
	shoal_free(manager1.cert);
	log_set_level(LOG_LEVEL_INFO);
}

struct fixture {
	uv_loop_t loop;
	struct wire_keypair root;
	struct ident self; /* manager-2, the transport under test */
	struct raft_transport *t;
};

static void fixture_start(struct fixture *f)
{
	uv_loop_init(&f->loop);
	log_set_level(LOG_LEVEL_FATAL);
	revoked = 0;
	wire_keypair_generate(&f->root);
	ident_make(&f->self, &f->root, "manager-2", WIRE_ROLE_MANAGER);
	struct raft_tcp_options o = {.id = 2,
				     .listen_addr = "127.0.0.1:0",
				     .chan = &f->self.cfg,
				     .identify = identify};
	assert_int_equal(raft_tcp_new(&f->loop, &o, &f->t), 0);
}

static void fixture_stop(struct fixture *f)
{
	f->t->close(f->t->impl, NULL, NULL);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	shoal_free(f->self.cert);
	log_set_level(LOG_LEVEL_INFO);
}

static void a_manager_cannot_speak_in_another_managers_name(void **state)
{
	struct fixture f;
	fixture_start(&f);
	struct ident m3;
	ident_make(&m3, &f.root, "manager-3", WIRE_ROLE_MANAGER);
	struct client forged = {.from = 1}, own = {.from = 3};
	assert_int_equal(send_as(&f.loop, f.t, &m3, &forged), 0);
	assert_true(forged.connected);
	struct raft_tcp_stats st;
	raft_tcp_stats(f.t, &st);
	assert_int_equal(st.rejected, 1);
	assert_int_equal(st.received, 0);
	assert_int_equal(send_as(&f.loop, f.t, &m3, &own), 1);
	shoal_free(m3.cert);
	fixture_stop(&f);
}

static void a_revoked_manager_is_refused(void **state)
{
	struct fixture f;
	fixture_start(&f);
	struct ident m4;
	ident_make(&m4, &f.root, "manager-4", WIRE_ROLE_MANAGER);
	revoked = 1ull << 4;
	struct client c = {.from = 4};
	assert_int_equal(send_as(&f.loop, f.t, &m4, &c), 0);
	struct raft_tcp_stats st;
	raft_tcp_stats(f.t, &st);
	assert_true(st.refused >= 1);
	shoal_free(m4.cert);
	fixture_stop(&f);
}

static void a_recheck_drops_a_manager_revoked_while_connected(void **state)
{
	struct fixture f;
	fixture_start(&f);
	struct ident m5;
	ident_make(&m5, &f.root, "manager-5", WIRE_ROLE_MANAGER);
	int delivered = 0;
	f.t->set_recv(f.t->impl, on_msg, &delivered);
	struct sockaddr_storage sa;
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", raft_tcp_port(f.t));
	assert_int_equal(raft_addr_parse(addr, &sa), 0);
	struct client c = {.from = 5};
	struct wire_chan *ch;
	assert_int_equal(wire_chan_connect(&f.loop, (struct sockaddr *)&sa,
					   &m5.cfg, &cl_cbs, &c, &ch),
			 0);
	for (int i = 0; i < 1000 && !delivered; i++)
		run_for(&f.loop, 2);
	assert_int_equal(delivered, 1);
	raft_tcp_recheck(f.t); /* still admitted: nothing happens */
	run_for(&f.loop, 50);
	assert_false(c.closed);
	revoked = 1ull << 5;
	raft_tcp_recheck(f.t);
	for (int i = 0; i < 1000 && !c.closed; i++)
		run_for(&f.loop, 2);
	assert_true(c.closed);
	shoal_free(m5.cert);
	fixture_stop(&f);
}

static bool peer_connected(struct raft_transport *t)
{
	struct raft_tcp_stats st;
	raft_tcp_stats(t, &st);
	return st.connects > 0;
}

static void
an_outgoing_connection_must_reach_the_node_it_was_made_for(void **state)
{
	struct fixture f;
	fixture_start(&f);
	/* manager-6 listens where we believe manager-7 is. */
	struct ident m6;
	ident_make(&m6, &f.root, "manager-6", WIRE_ROLE_MANAGER);
	struct raft_tcp_options o6 = {.id = 6,
				      .listen_addr = "127.0.0.1:0",
				      .chan = &m6.cfg,
				      .identify = identify};
	struct raft_transport *t6;
	assert_int_equal(raft_tcp_new(&f.loop, &o6, &t6), 0);
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", raft_tcp_port(t6));
	assert_int_equal(raft_tcp_set_peer(f.t, 7, addr), 0);
	run_for(&f.loop, 300);
	assert_false(peer_connected(f.t));
	/* The right id at that address connects. */
	assert_int_equal(raft_tcp_set_peer(f.t, 7, NULL), 0);
	assert_int_equal(raft_tcp_set_peer(f.t, 6, addr), 0);
	for (int i = 0; i < 500 && !peer_connected(f.t); i++)
		run_for(&f.loop, 2);
	assert_true(peer_connected(f.t));
	t6->close(t6->impl, NULL, NULL);
	shoal_free(m6.cert);
	fixture_stop(&f);
}

/* A raw TCP connection from @from (127.x.y.z) that never says a word. */
static int stranger(const char *from, int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_in src = {.sin_family = AF_INET};
	inet_pton(AF_INET, from, &src.sin_addr);
	assert_int_equal(bind(fd, (struct sockaddr *)&src, sizeof(src)), 0);
	struct sockaddr_in sin = {.sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return fd;
}

/* Whether the server closed @fd (EOF or reset) by now. */
static bool closed_by_server(int fd)
{
	char b;
	ssize_t n = recv(fd, &b, 1, MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

#define N_STRANGERS (RAFT_TCP_MAX_HANDSHAKING + 8)

static void strangers_cannot_take_the_slots_managers_need(void **state)
{
	struct fixture f;
	fixture_start(&f);
	int port = raft_tcp_port(f.t);
	/* manager-1 is a known peer at 127.0.0.1 (its port is not used). */
	assert_int_equal(raft_tcp_set_peer(f.t, 1, "127.0.0.1:1"), 0);

	/* One address gets only a few connections into their handshake. */
	int fds[N_STRANGERS];
	int k = RAFT_TCP_MAX_HANDSHAKING_PER_SOURCE + 3;
	for (int i = 0; i < k; i++)
		fds[i] = stranger("127.0.0.2", port);
	run_for(&f.loop, 100);
	int refused = 0;
	for (int i = 0; i < k; i++)
		refused += closed_by_server(fds[i]);
	assert_int_equal(refused, 3);

	/* Many addresses fill the handshake budget, and no more. */
	for (int i = k; i < N_STRANGERS; i++) {
		char a[32];
		snprintf(a, sizeof(a), "127.0.1.%d", i);
		fds[i] = stranger(a, port);
	}
	run_for(&f.loop, 100);
	refused = 0;
	for (int i = 0; i < N_STRANGERS; i++)
		refused += closed_by_server(fds[i]);
	assert_int_equal(refused, N_STRANGERS - RAFT_TCP_MAX_HANDSHAKING);
	struct raft_tcp_stats st;
	raft_tcp_stats(f.t, &st);
	assert_int_equal(st.refused, N_STRANGERS - RAFT_TCP_MAX_HANDSHAKING);

	/* A known manager still gets in while the strangers hold theirs. */
	struct ident m1;
	ident_make(&m1, &f.root, "manager-1", WIRE_ROLE_MANAGER);
	struct client c = {.from = 1};
	assert_int_equal(send_as(&f.loop, f.t, &m1, &c), 1);

	/* And the strangers' handshakes run out of time. */
	run_for(&f.loop, RAFT_TCP_HANDSHAKE_TIMEOUT_MS + 500);
	for (int i = 0; i < N_STRANGERS; i++) {
		bool gone = closed_by_server(fds[i]);
		close(fds[i]);
		if (!gone)
			fail_msg("stranger %d still connected", i);
	}
	shoal_free(m1.cert);
	fixture_stop(&f);
}

static void a_secure_transport_needs_an_identify_callback(void **state)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct wire_keypair root;
	wire_keypair_generate(&root);
	struct ident self;
	ident_make(&self, &root, "manager-2", WIRE_ROLE_MANAGER);
	struct raft_tcp_options o = {
		.id = 2, .listen_addr = "127.0.0.1:0", .chan = &self.cfg};
	struct raft_transport *t;
	assert_int_equal(raft_tcp_new(&loop, &o, &t), -EINVAL);
	assert_int_equal(uv_loop_close(&loop), 0);
	shoal_free(self.cert);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(raft_messages_are_taken_only_from_managers),
		cmocka_unit_test(
			a_manager_cannot_speak_in_another_managers_name),
		cmocka_unit_test(a_revoked_manager_is_refused),
		cmocka_unit_test(
			a_recheck_drops_a_manager_revoked_while_connected),
		cmocka_unit_test(
			an_outgoing_connection_must_reach_the_node_it_was_made_for),
		cmocka_unit_test(strangers_cannot_take_the_slots_managers_need),
		cmocka_unit_test(a_secure_transport_needs_an_identify_callback),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
