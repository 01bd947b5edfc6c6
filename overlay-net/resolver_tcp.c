/*
 * DNS over TCP at 127.0.0.11:53 (RFC 1035 section 4.2.2, RFC 7766): each
 * message is preceded by its 16-bit length. Clients use it after a TC
 * answer, and may pipeline queries; answers may come back out of order.
 *
 * Bounds, since a container controls the other end: at most
 * max_tcp_per_ctr connections per container and RS_MAX_TCP_TOTAL in all
 * (a connection past the cap is accepted and closed at once, so the
 * listener keeps draining); a connection idle for tcp_idle_ms is closed; a
 * message buffer is allocated only for the length announced (at most 64
 * KiB); a zero length or a peer that does not read its answers (more than
 * RS_TCP_WRITE_QUEUE_MAX queued) closes the connection.
 */
#include <errno.h>
#include <string.h>

#include "common/alloc.h"

#define LOG_MODULE "resolver"
#include "overlay-net/resolver_internal.h"

struct wreq {
	uv_write_t req;
	uint8_t data[];
};

static void conn_closed(uv_handle_t *h)
{
	struct rs_conn *conn = h->data;
	struct rs_ctr *c = conn->ctr;

	if (--conn->refs > 0)
		return;
	shoal_free(conn->msg);
	shoal_free(conn);
	rs__ctr_unref(c);
}

void rs__conn_close(struct rs_conn *conn)
{
	struct rs_ctr *c = conn->ctr;

	if (conn->closing)
		return;
	conn->closing = true;
	list_remove(&conn->node);
	c->n_tcp--;
	c->r->n_tcp--;
	rs__forward_cancel(c, conn);
	uv_close((uv_handle_t *)&conn->tcp, conn_closed);
	uv_close((uv_handle_t *)&conn->idle, conn_closed);
}

static void write_done(uv_write_t *req, int status)
{
	(void)status;
	shoal_free(container_of(req, struct wreq, req));
}

void rs__conn_send(struct rs_conn *conn, const uint8_t *msg, size_t len)
{
	struct wreq *w;
	uv_buf_t buf;

	if (conn->closing || len > DNS_MAX_MSG)
		return;
	w = shoal_malloc(sizeof(*w) + 2 + len);
	if (!w) {
		rs__conn_close(conn);
		return;
	}
	w->data[0] = (uint8_t)(len >> 8);
	w->data[1] = (uint8_t)len;
	memcpy(w->data + 2, msg, len);
	buf = uv_buf_init((char *)w->data, (unsigned)(len + 2));
	if (uv_write(&w->req, (uv_stream_t *)&conn->tcp, &buf, 1, write_done) <
	    0) {
		shoal_free(w);
		rs__conn_close(conn);
		return;
	}
	if (uv_stream_get_write_queue_size((uv_stream_t *)&conn->tcp) >
	    RS_TCP_WRITE_QUEUE_MAX) {
		rs__warn(conn->ctr->r,
			 "container=%s resolver TCP client does not read its "
			 "answers: connection closed",
			 conn->ctr->id);
		rs__conn_close(conn);
	}
}

static void idle_fired(uv_timer_t *t)
{
	rs__conn_close(t->data);
}

static void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct rs_conn *conn = h->data;

	(void)suggested;
	*buf = uv_buf_init((char *)conn->ctr->r->rbuf,
			   sizeof(conn->ctr->r->rbuf));
}

/* Take bytes of the stream; returns how many, or 0 to stop (closed). */
static size_t conn_feed(struct rs_conn *conn, const uint8_t *p, size_t n)
{
	size_t mlen, take;

	if (conn->have < 2) {
		take = n < 2 - conn->have ? n : 2 - conn->have;
		memcpy(conn->hdr + conn->have, p, take);
		conn->have += take;
		if (conn->have < 2)
			return take;
		mlen = (size_t)conn->hdr[0] << 8 | conn->hdr[1];
		if (mlen == 0) {
			rs__conn_close(conn);
			return 0;
		}
		conn->msg = shoal_malloc(mlen);
		if (!conn->msg) {
			rs__conn_close(conn);
			return 0;
		}
		return take;
	}
	mlen = (size_t)conn->hdr[0] << 8 | conn->hdr[1];
	take = mlen - (conn->have - 2);
	if (take > n)
		take = n;
	memcpy(conn->msg + conn->have - 2, p, take);
	conn->have += take;
	if (conn->have - 2 == mlen) {
		struct rs_client cl = {.conn = conn};
		uint8_t *msg = conn->msg;

		conn->msg = NULL;
		conn->have = 0;
		rs__query(conn->ctr, &cl, msg, mlen);
		shoal_free(msg);
	}
	return take;
}

static void conn_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct rs_conn *conn = s->data;
	const uint8_t *p = (const uint8_t *)buf->base;
	size_t left;

	if (nread < 0) {
		rs__conn_close(conn);
		return;
	}
	uv_timer_again(&conn->idle);
	left = (size_t)nread;
	while (left > 0 && !conn->closing) {
		size_t took = conn_feed(conn, p, left);

		p += took;
		left -= took;
	}
}

static void free_handle(uv_handle_t *h)
{
	shoal_free(h);
}

static void refuse_conn(uv_stream_t *listener)
{
	uv_tcp_t *t = shoal_malloc(sizeof(*t));

	if (!t)
		return;
	uv_tcp_init(listener->loop, t);
	uv_accept(listener, (uv_stream_t *)t);
	uv_close((uv_handle_t *)t, free_handle);
}

void rs__tcp_accept(uv_stream_t *listener, int status)
{
	struct rs_ctr *c = listener->data;
	struct net_resolver *r = c->r;
	struct rs_conn *conn;
	unsigned idle = r->cfg.tcp_idle_ms;

	if (status < 0 || c->detached)
		return;
	if (c->n_tcp >= r->cfg.max_tcp_per_ctr ||
	    r->n_tcp >= RS_MAX_TCP_TOTAL) {
		rs__warn(r,
			 "container=%s resolver TCP connection refused: %u "
			 "open (the cap)",
			 c->id, c->n_tcp);
		refuse_conn(listener);
		return;
	}
	conn = shoal_calloc(1, sizeof(*conn));
	if (!conn) {
		refuse_conn(listener);
		return;
	}
	conn->ctr = c;
	uv_tcp_init(listener->loop, &conn->tcp);
	uv_timer_init(listener->loop, &conn->idle);
	conn->tcp.data = conn;
	conn->idle.data = conn;
	conn->refs = 2;
	c->refs++;
	c->n_tcp++;
	r->n_tcp++;
	list_push_back(&c->conns, &conn->node);
	if (uv_accept(listener, (uv_stream_t *)&conn->tcp) < 0 ||
	    uv_read_start((uv_stream_t *)&conn->tcp, conn_alloc, conn_read) <
		    0) {
		rs__conn_close(conn);
		return;
	}
	uv_timer_start(&conn->idle, idle_fired, idle, idle);
}
