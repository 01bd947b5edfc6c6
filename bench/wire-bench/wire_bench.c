/*
 * wire-bench: messages/s and MB/s through the secure channel and through
 * plain framed TCP on loopback, for 64-byte and 64-KiB messages, in one
 * run. Both ends share one libuv loop on one thread, so a figure is the
 * cost of sending plus receiving (encrypt + decrypt for the secure
 * channel) on one core. Each case sends until its count or its time runs
 * out, whichever first, waits for every message to arrive and checks the
 * last byte of each; it prints one JSON line per case:
 *
 *   {"test":"secure","size":64,"messages":...,"seconds":...,
 *    "msgs_per_s":...,"mb_per_s":...}
 *
 * and one line for handshakes per second. Options: --count N (messages per
 * case, default 1000000 for 64 B and 20000 for 64 KiB), --seconds S (time
 * limit per case, default 3).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/log.h"
#include "proto/channel.h"

struct bench {
	uv_loop_t loop;
	struct wire_chan *tx;
	struct wire_chan *rx;
	size_t size;
	long count; /* upper bound */
	int64_t deadline_ns;
	int64_t start_ns;
	int64_t end_ns;
	long sent;
	long received;
	long corrupt;
	bool sending_done;
	int connected;
	int closed;
	uint8_t *msg;
};

static void finish(struct bench *b)
{
	if (b->end_ns)
		return;
	b->end_ns = time_mono_ns();
	wire_chan_close(b->tx);
	wire_chan_close(b->rx);
}

static void pump(struct bench *b)
{
	while (!b->sending_done) {
		if (b->sent == b->count ||
		    ((b->sent & 63) == 0 && time_mono_ns() > b->deadline_ns)) {
			b->sending_done = true;
			break;
		}
		b->msg[b->size - 1] = (uint8_t)b->sent;
		int rc = wire_chan_send(b->tx, b->msg, b->size);
		if (rc == -ENOBUFS)
			return;
		if (rc < 0) {
			fprintf(stderr, "wire-bench: send: %s\n",
				uv_strerror(rc));
			exit(1);
		}
		b->sent++;
	}
	if (b->received == b->sent)
		finish(b);
}

static void on_connected(struct wire_chan *c, const struct wire_peer *p)
{
	struct bench *b = wire_chan_data(c);
	if (++b->connected < 2)
		return;
	b->start_ns = time_mono_ns();
	b->deadline_ns = b->start_ns + b->deadline_ns;
	pump(b);
}

static void on_frame(struct wire_chan *c, const uint8_t *data, size_t len)
{
	struct bench *b = wire_chan_data(c);
	if (len != b->size || data[len - 1] != (uint8_t)b->received)
		b->corrupt++;
	b->received++;
	if (b->sending_done && b->received == b->sent)
		finish(b);
}

static void on_writable(struct wire_chan *c)
{
	pump(wire_chan_data(c));
}

static void on_closed(struct wire_chan *c, int reason)
{
	struct bench *b = wire_chan_data(c);
	b->closed++;
	if (reason != 0) {
		fprintf(stderr, "wire-bench: channel closed: %s\n",
			uv_strerror(reason));
		exit(1);
	}
}

static const struct wire_chan_callbacks cbs = {
	.connected = on_connected,
	.frame = on_frame,
	.writable = on_writable,
	.closed = on_closed,
};

/* A connected pair of loopback TCP sockets. */
static void tcp_pair(int fds[2])
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &alen) < 0) {
		perror("wire-bench: listen");
		exit(1);
	}
	fds[0] = socket(AF_INET, SOCK_STREAM, 0);
	if (fds[0] < 0 || connect(fds[0], (struct sockaddr *)&a, alen) < 0) {
		perror("wire-bench: connect");
		exit(1);
	}
	fds[1] = accept(l, NULL, NULL);
	if (fds[1] < 0) {
		perror("wire-bench: accept");
		exit(1);
	}
	close(l);
}

struct creds {
	struct wire_keypair root, a, b;
	uint8_t *cert_a, *cert_b;
	size_t len_a, len_b;
};

static uint8_t *issue(const struct wire_keypair *root,
		      const struct wire_keypair *kp, const char *name,
		      size_t *len)
{
	struct wire_cert_info i = {0};
	strcpy(i.cluster_id, "benchcluster");
	strcpy(i.node_id, name);
	i.role = WIRE_ROLE_MANAGER;
	memcpy(i.public_key, kp->pk, WIRE_PK_LEN);
	i.not_before = time_real_ns() / NSEC_PER_SEC - 60;
	i.not_after = i.not_before + 3600;
	uint8_t *out;
	if (wire_cert_issue(&i, root->sk, &out, len) < 0)
		exit(1);
	return out;
}

static void configs(const struct creds *cr, bool secure,
		    struct wire_chan_config *ca, struct wire_chan_config *cb)
{
	memset(ca, 0, sizeof(*ca));
	ca->security = secure ? WIRE_SECURE : WIRE_PLAIN;
	ca->root_pk = cr->root.pk;
	ca->max_frame = 1024 * 1024;
	ca->max_write_buffer = 4 * 1024 * 1024;
	*cb = *ca;
	ca->identity = &cr->a;
	ca->cert = cr->cert_a;
	ca->cert_len = cr->len_a;
	ca->peer_name = "bench-server";
	cb->identity = &cr->b;
	cb->cert = cr->cert_b;
	cb->cert_len = cr->len_b;
	cb->peer_name = "bench-client";
}

static void run_case(const struct creds *cr, bool secure, size_t size,
		     long count, double seconds)
{
	struct bench b = {.size = size, .count = count};
	b.deadline_ns = (int64_t)(seconds * 1e9);
	b.msg = shoal_calloc(1, size);
	struct wire_chan_config ca, cb;
	configs(cr, secure, &ca, &cb);
	int fds[2];
	tcp_pair(fds);
	uv_loop_init(&b.loop);
	if (wire_chan_open(&b.loop, fds[0], false, &ca, &cbs, &b, &b.tx) ||
	    wire_chan_open(&b.loop, fds[1], true, &cb, &cbs, &b, &b.rx)) {
		fprintf(stderr, "wire-bench: cannot open channels\n");
		exit(1);
	}
	uv_run(&b.loop, UV_RUN_DEFAULT);
	uv_loop_close(&b.loop);
	shoal_free(b.msg);
	if (b.corrupt || b.received != b.sent || b.closed != 2) {
		fprintf(stderr,
			"wire-bench: %ld of %ld messages corrupt or "
			"lost\n",
			b.corrupt + (b.sent - b.received), b.sent);
		exit(1);
	}
	double s = (double)(b.end_ns - b.start_ns) / 1e9;
	printf("{\"test\":\"%s\",\"size\":%zu,\"messages\":%ld,"
	       "\"seconds\":%.3f,\"msgs_per_s\":%.0f,\"mb_per_s\":%.1f}\n",
	       secure ? "secure" : "plain", size, b.received, s,
	       (double)b.received / s, (double)b.received * size / s / 1e6);
	fflush(stdout);
}

struct hs_bench {
	int connected;
	int closed;
};

static void hs_connected(struct wire_chan *c, const struct wire_peer *p)
{
	struct hs_bench *h = wire_chan_data(c);
	h->connected++;
	/* The client closes once it has the server's confirmation; the
	 * server then sees the end of the stream. */
	if (h->connected == 2)
		wire_chan_close(c);
}

static void hs_frame(struct wire_chan *c, const uint8_t *d, size_t len)
{
}

static void hs_closed(struct wire_chan *c, int reason)
{
	struct hs_bench *h = wire_chan_data(c);
	h->closed++;
}

/* Full handshakes (socket, keys, certificates, confirmation) per second. */
static void run_handshakes(const struct creds *cr, long count, double seconds)
{
	static const struct wire_chan_callbacks hcbs = {
		.connected = hs_connected,
		.frame = hs_frame,
		.closed = hs_closed,
	};
	struct wire_chan_config ca, cb;
	configs(cr, true, &ca, &cb);
	uv_loop_t loop;
	uv_loop_init(&loop);
	int64_t start = time_mono_ns();
	int64_t limit = start + (int64_t)(seconds * 1e9);
	long n = 0;
	for (; n < count && time_mono_ns() < limit; n++) {
		struct hs_bench h = {0};
		struct wire_chan *x, *y;
		int fds[2];
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) < 0 ||
		    wire_chan_open(&loop, fds[0], false, &ca, &hcbs, &h, &x) ||
		    wire_chan_open(&loop, fds[1], true, &cb, &hcbs, &h, &y))
			exit(1);
		uv_run(&loop, UV_RUN_DEFAULT);
		if (h.connected != 2 || h.closed != 2) {
			fprintf(stderr, "wire-bench: handshake failed\n");
			exit(1);
		}
	}
	double s = (double)(time_mono_ns() - start) / 1e9;
	uv_loop_close(&loop);
	printf("{\"test\":\"handshake\",\"handshakes\":%ld,\"seconds\":%.3f,"
	       "\"per_s\":%.0f}\n",
	       n, s, (double)n / s);
}

int main(int argc, char **argv)
{
	long count = 0;
	double seconds = 3;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--count") && i + 1 < argc)
			count = atol(argv[++i]);
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = atof(argv[++i]);
		else {
			fprintf(stderr, "usage: wire-bench [--count N] "
					"[--seconds S]\n");
			return 2;
		}
	}
	if (shoal_crypto_init() < 0)
		return 1;
	log_set_level(LOG_LEVEL_WARN);
	struct creds cr;
	wire_keypair_generate(&cr.root);
	wire_keypair_generate(&cr.a);
	wire_keypair_generate(&cr.b);
	cr.cert_a = issue(&cr.root, &cr.a, "bench-a", &cr.len_a);
	cr.cert_b = issue(&cr.root, &cr.b, "bench-b", &cr.len_b);
	static const size_t sizes[] = {64, 64 * 1024};
	for (int s = 0; s < 2; s++) {
		long n = count ? count : sizes[s] == 64 ? 1000000 : 20000;
		run_case(&cr, true, sizes[s], n, seconds);
		run_case(&cr, false, sizes[s], n, seconds);
	}
	run_handshakes(&cr, count ? count : 100000, seconds);
	shoal_free(cr.cert_a);
	shoal_free(cr.cert_b);
	return 0;
}
