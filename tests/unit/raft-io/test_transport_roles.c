/*
 * Only managers speak Raft. Over secure channels the TCP transport
 * (raft/transport.h) delivers messages only from peers whose certificate
 * names the manager role: a worker holds a valid certificate of the same
 * cluster, yet a message from it (claiming any node id, with any term)
 * could depose leaders and overwrite uncommitted entries.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	bool connected;
	bool closed;
};

static void cl_connected(struct wire_chan *c, const struct wire_peer *peer)
{
	struct client *cl = wire_chan_data(c);
	cl->connected = true;
	struct raft_msg m = {.type = RAFT_MSG_HEARTBEAT,
			     .from = 1,
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
	struct raft_tcp_options o = {
		.id = 2, .listen_addr = "127.0.0.1:0", .chan = &node2.cfg};
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(raft_messages_are_taken_only_from_managers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
