/*
 * The TCP transport refuses a well-formed raft message addressed to
 * another node (raft/transport.h: "a peer that sends a malformed or
 * invalid message is disconnected") and keeps no memory of it: a peer
 * repeating such messages must not grow our heap.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

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

static void on_msg(void *arg, const struct raft_msg *m)
{
	(*(int *)arg)++;
}

static void run_for(uv_loop_t *loop, int ms)
{
	int64_t until = time_mono_ns() + ms * NSEC_PER_MSEC;
	while (time_mono_ns() < until) {
		uv_run(loop, UV_RUN_NOWAIT);
		usleep(1000);
	}
}

/* An AppendEntries with two entries from node 1 to node @to, framed. */
static uint8_t *framed_append(uint64_t to, size_t *len)
{
	static uint8_t data[2][64];
	struct raft_entry e[2];
	for (int i = 0; i < 2; i++) {
		memset(data[i], 'a' + i, sizeof(data[i]));
		e[i] = (struct raft_entry){.term = 3,
					   .index = 5 + (uint64_t)i,
					   .type = RAFT_ENTRY_NORMAL,
					   .len = sizeof(data[i]),
					   .data = data[i]};
	}
	struct raft_msg m = {.type = RAFT_MSG_APPEND,
			     .from = 1,
			     .to = to,
			     .term = 3,
			     .append = {.prev_index = 4,
					.prev_term = 2,
					.commit = 4,
					.entries = e,
					.n_entries = 2}};
	struct raft_msg_pb pb;
	assert_int_equal(raft__msg_encode(&m, &pb), 0);
	size_t n = raft__message__get_packed_size(&pb.msg);
	uint8_t *buf = malloc(WIRE_HEADER_LEN + n);
	wire_put_header(buf, (uint32_t)n);
	raft__message__pack(&pb.msg, buf + WIRE_HEADER_LEN);
	raft__msg_pb_fini(&pb);
	*len = WIRE_HEADER_LEN + n;
	return buf;
}

static void message_for_another_node_is_refused_without_a_leak(void **state)
{
	int64_t live = shoal_alloc_live();
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
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(
		connect(fd, (struct sockaddr *)&sa, sizeof(struct sockaddr_in)),
		0);
	size_t len;
	uint8_t *frame = framed_append(3, &len);
	assert_int_equal(write(fd, frame, len), (ssize_t)len);
	free(frame);

	struct raft_tcp_stats s = {0};
	for (int i = 0; i < 2000 && !s.rejected; i++) {
		run_for(&loop, 2);
		raft_tcp_stats(t, &s);
	}
	assert_int_equal(s.rejected, 1);
	assert_int_equal(delivered, 0);
	close(fd);
	t->close(t->impl, NULL, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	log_set_level(LOG_LEVEL_INFO);
	assert_int_equal(shoal_alloc_live(), live);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			message_for_another_node_is_refused_without_a_leak),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
