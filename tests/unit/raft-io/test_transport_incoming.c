/*
 * The TCP transport holds a bounded number of incoming connections
 * (RAFT_TCP_MAX_INCOMING, raft/transport.h): each may hold a read buffer
 * and a frame of up to max_frame bytes, so a stranger opening connections
 * without end must not make the node allocate without end. Connections
 * past the bound are closed at once; those within it stay open, and a
 * slot freed by a closing connection is usable again. And a connection
 * that cannot be taken (out of memory) must not stop the listener: libuv
 * stops accepting until uv_accept() is called.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "proto/wire.h"
#include "raft/transport.h"
#include "raft/transport_codec.h"

#define EXTRA 8

static void run_for(uv_loop_t *loop, int ms)
{
	int64_t until = time_mono_ns() + ms * NSEC_PER_MSEC;
	while (time_mono_ns() < until) {
		uv_run(loop, UV_RUN_NOWAIT);
		usleep(1000);
	}
}

static int dial(const struct sockaddr_storage *sa)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (const struct sockaddr *)sa,
				 sizeof(struct sockaddr_in)),
			 0);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

/* 1: the server closed it (EOF or reset); 0: still open. */
static int closed_by_server(int fd)
{
	char c;
	ssize_t n = read(fd, &c, 1);
	if (n == 0)
		return 1;
	return n < 0 && errno != EAGAIN && errno != EWOULDBLOCK;
}

static void connections_beyond_the_bound_are_closed(void **state)
{
	int64_t live = shoal_alloc_live();
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct raft_tcp_options o = {.id = 2, .listen_addr = "127.0.0.1:0"};
	struct raft_transport *t;
	assert_int_equal(raft_tcp_new(&loop, &o, &t), 0);
	log_set_level(LOG_LEVEL_FATAL);
	struct sockaddr_storage sa;
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", raft_tcp_port(t));
	assert_int_equal(raft_addr_parse(addr, &sa), 0);

	enum { N = RAFT_TCP_MAX_INCOMING + EXTRA };
	int fds[N];
	for (int i = 0; i < N; i++) {
		fds[i] = dial(&sa);
		if (i % 16 == 15)
			run_for(&loop, 2);
	}
	run_for(&loop, 100);
	int closed = 0;
	for (int i = 0; i < N; i++)
		closed += closed_by_server(fds[i]);
	assert_int_equal(closed, EXTRA);
	for (int i = 0; i < RAFT_TCP_MAX_INCOMING; i++)
		assert_int_equal(closed_by_server(fds[i]), 0);

	/* A slot freed is usable again. */
	close(fds[0]);
	run_for(&loop, 50);
	fds[0] = dial(&sa);
	run_for(&loop, 50);
	assert_int_equal(closed_by_server(fds[0]), 0);

	for (int i = 0; i < N; i++)
		close(fds[i]);
	t->close(t->impl, NULL, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	log_set_level(LOG_LEVEL_INFO);
	assert_int_equal(shoal_alloc_live(), live);
}

static void on_msg(void *arg, const struct raft_msg *m)
{
	(*(int *)arg)++;
}

/* A heartbeat from node 1 to node 2, framed for a plain channel. */
static void send_heartbeat(int fd)
{
	struct raft_msg m = {.type = RAFT_MSG_HEARTBEAT,
			     .from = 1,
			     .to = 2,
			     .term = 1,
			     .heartbeat = {.commit = 0, .ctx = 1}};
	struct raft_msg_pb pb;
	assert_int_equal(raft__msg_encode(&m, &pb), 0);
	size_t n = raft__message__get_packed_size(&pb.msg);
	uint8_t buf[256];
	assert_true(WIRE_HEADER_LEN + n <= sizeof(buf));
	wire_put_header(buf, (uint32_t)n);
	raft__message__pack(&pb.msg, buf + WIRE_HEADER_LEN);
	raft__msg_pb_fini(&pb);
	assert_int_equal(write(fd, buf, WIRE_HEADER_LEN + n),
			 (ssize_t)(WIRE_HEADER_LEN + n));
}

static void listener_survives_a_failed_accept(void **state)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct raft_tcp_options o = {.id = 2, .listen_addr = "127.0.0.1:0"};
	struct raft_transport *t;
	assert_int_equal(raft_tcp_new(&loop, &o, &t), 0);
	int delivered = 0;
	t->set_recv(t->impl, on_msg, &delivered);
	log_set_level(LOG_LEVEL_FATAL);
	struct sockaddr_storage sa;
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", raft_tcp_port(t));
	assert_int_equal(raft_addr_parse(addr, &sa), 0);

	/* Out of memory when the first connection arrives. */
	shoal_alloc_fail_after(0);
	int a = dial(&sa);
	run_for(&loop, 50);
	shoal_alloc_fail_after(-1);
	/* Memory is back: the next peer must get through. */
	int b = dial(&sa);
	send_heartbeat(b);
	for (int i = 0; i < 500 && !delivered; i++)
		run_for(&loop, 2);
	assert_int_equal(delivered, 1);

	close(a);
	close(b);
	t->close(t->impl, NULL, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	log_set_level(LOG_LEVEL_INFO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(connections_beyond_the_bound_are_closed),
		cmocka_unit_test(listener_survives_a_failed_accept),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
