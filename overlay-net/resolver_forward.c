/*
 * Forwarding: the queries the daemon cannot answer go to the container's own
 * servers (--dns, net_resolver_set_servers()) when it has some, else to the
 * nameservers of the daemon's own resolv.conf; always from the daemon's own
 * network namespace (so a host's 127.0.0.53 works), and their answers go back
 * to the container with the client's id.
 *
 * Each try is a fresh socket with a random 16-bit id (libsodium), connected
 * to one server: the kernel picks a random source port and drops datagrams
 * from anyone else, and an answer counts only when its id and question
 * (name without case, type, class) are ours and it is well formed
 * (dns_parse_response()). A UDP answer with TC is asked again over TCP of
 * the same server; a client that came over TCP is forwarded over TCP from
 * the start. A server that is silent for forward_timeout_ms, answers
 * SERVFAIL or REFUSED, or sends garbage over TCP gives way to the next;
 * after the last the client gets SERVFAIL. An answer too large for the
 * client's UDP limit is replaced by an empty one with TC, so the client
 * retries over TCP.
 *
 * Bounds: max_forward_per_ctr and max_forward_total outstanding queries
 * (past either, SERVFAIL at once); one upstream socket per outstanding
 * query; the TCP answer buffer is the length the server announces (at most
 * 64 KiB).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/crypto.h"

#define LOG_MODULE "resolver"
#include "overlay-net/resolver_internal.h"

#define QBUF_MAX (DNS_HEADER_LEN + DNS_MAX_NAME + 4 + 11)

struct rs_fwd;

struct rs_up {
	union {
		uv_handle_t h;
		uv_udp_t udp;
		uv_tcp_t tcp;
	} u;
	struct rs_fwd *f;
	bool tcp;
	bool closing;
	uv_connect_t connect;
	uv_write_t wr;
	uint8_t wbuf[2 + QBUF_MAX];
	uint8_t hdr[2];
	size_t have;
	uint8_t *msg;
};

struct rs_fwd {
	struct list_node node;
	struct rs_ctr *ctr;
	struct rs_client cl;
	struct dns_query q;
	uint16_t id;
	unsigned server;
	bool tcp;
	bool done;
	unsigned refs; /* the timer and upstream handles not yet closed */
	uv_timer_t timer;
	struct rs_up *up;
	uint8_t qbuf[QBUF_MAX];
	size_t qlen;
};

enum finish {
	FINISH_RELAY,
	FINISH_SERVFAIL,
	FINISH_CANCEL,
};

static void try_server(struct rs_fwd *f);

/* The servers @c forwards to: its own, else the daemon's. */
static const struct sockaddr_storage *servers_of(const struct rs_ctr *c,
						 unsigned *n)
{
	if (c->n_upstream) {
		*n = c->n_upstream;
		return c->upstream;
	}
	*n = c->r->n_upstream;
	return c->r->upstream;
}

static void fwd_unref(struct rs_fwd *f)
{
	if (--f->refs == 0)
		shoal_free(f);
}

static void timer_closed(uv_handle_t *h)
{
	fwd_unref(h->data);
}

static void up_closed(uv_handle_t *h)
{
	struct rs_up *up = h->data;
	struct rs_fwd *f = up->f;

	shoal_free(up->msg);
	shoal_free(up);
	fwd_unref(f);
}

static void up_close(struct rs_fwd *f)
{
	struct rs_up *up = f->up;

	if (!up)
		return;
	f->up = NULL;
	up->closing = true;
	uv_close(&up->u.h, up_closed);
}

/* Relay an upstream answer (@msg is ours to change) to the client. */
static void relay(struct rs_fwd *f, uint8_t *msg, size_t len,
		  const struct dns_response *resp)
{
	size_t limit = f->cl.conn ? DNS_MAX_MSG : f->q.udp_limit;

	if (len > limit) {
		struct dns_reply rep = {.rcode = resp->rcode, .tc = true};
		uint8_t out[DNS_UDP_MAX];
		int n = dns_build_reply(&f->q, &rep, limit, out, sizeof(out));

		if (n > 0)
			rs__reply(f->ctr, &f->cl, out, (size_t)n);
		return;
	}
	msg[0] = (uint8_t)(f->q.id >> 8);
	msg[1] = (uint8_t)f->q.id;
	rs__reply(f->ctr, &f->cl, msg, len);
}

static void fwd_finish(struct rs_fwd *f, enum finish how, uint8_t *msg,
		       size_t len, const struct dns_response *resp)
{
	struct rs_ctr *c = f->ctr;

	if (f->done)
		return;
	f->done = true;
	list_remove(&f->node);
	c->n_fwd--;
	c->r->n_fwd--;
	if (how == FINISH_RELAY)
		relay(f, msg, len, resp);
	else if (how == FINISH_SERVFAIL)
		rs__reply_code(c, &f->cl, &f->q, DNS_RCODE_SERVFAIL);
	up_close(f);
	uv_timer_stop(&f->timer);
	uv_close((uv_handle_t *)&f->timer, timer_closed);
}

static void next_server(struct rs_fwd *f)
{
	f->server++;
	f->tcp = f->cl.conn != NULL;
	try_server(f);
}

/* An answer from upstream over UDP (@tcp false) or TCP. */
static void on_answer(struct rs_fwd *f, uint8_t *msg, size_t len, bool tcp)
{
	struct dns_response resp;
	unsigned n_up;

	if (dns_parse_response(msg, len, &f->q.q, &resp) < 0 ||
	    resp.id != f->id) {
		/* Over UDP it may be a stray; over TCP the server is bad. */
		if (tcp)
			next_server(f);
		return;
	}
	if (resp.tc && !tcp) {
		f->tcp = true;
		try_server(f);
		return;
	}
	if ((resp.rcode == DNS_RCODE_SERVFAIL ||
	     resp.rcode == DNS_RCODE_REFUSED) &&
	    servers_of(f->ctr, &n_up) && f->server + 1 < n_up) {
		next_server(f);
		return;
	}
	fwd_finish(f, FINISH_RELAY, msg, len, &resp);
}

static void up_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct rs_up *up = h->data;
	struct net_resolver *r = up->f->ctr->r;

	(void)suggested;
	*buf = uv_buf_init((char *)r->rbuf, sizeof(r->rbuf));
}

static void udp_answer(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
		       const struct sockaddr *addr, unsigned flags)
{
	struct rs_up *up = h->data;

	(void)addr;
	if (up->closing || nread <= 0 || (flags & UV_UDP_PARTIAL))
		return; /* errors (ICMP refused) end with the timer */
	on_answer(up->f, (uint8_t *)buf->base, (size_t)nread, false);
}

static void tcp_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct rs_up *up = s->data;
	const uint8_t *p = (const uint8_t *)buf->base;
	size_t left = nread > 0 ? (size_t)nread : 0, take, mlen;

	if (up->closing)
		return;
	if (nread < 0) {
		next_server(up->f);
		return;
	}
	while (left > 0 && up->have < 2) {
		up->hdr[up->have++] = *p++;
		left--;
	}
	if (up->have < 2)
		return;
	mlen = (size_t)up->hdr[0] << 8 | up->hdr[1];
	if (!up->msg &&
	    (mlen < DNS_HEADER_LEN || !(up->msg = shoal_malloc(mlen)))) {
		next_server(up->f);
		return;
	}
	take = mlen - (up->have - 2);
	take = take < left ? take : left;
	memcpy(up->msg + up->have - 2, p, take);
	up->have += take;
	if (up->have - 2 == mlen)
		on_answer(up->f, up->msg, mlen, true);
}

static void tcp_written(uv_write_t *req, int status)
{
	struct rs_up *up = req->data;

	if (status < 0 && !up->closing)
		next_server(up->f);
}

static void tcp_connected(uv_connect_t *req, int status)
{
	struct rs_up *up = req->data;
	uv_buf_t buf;

	if (up->closing)
		return;
	if (status < 0) {
		next_server(up->f);
		return;
	}
	up->wbuf[0] = (uint8_t)(up->f->qlen >> 8);
	up->wbuf[1] = (uint8_t)up->f->qlen;
	memcpy(up->wbuf + 2, up->f->qbuf, up->f->qlen);
	buf = uv_buf_init((char *)up->wbuf, (unsigned)(up->f->qlen + 2));
	up->wr.data = up;
	if (uv_write(&up->wr, (uv_stream_t *)&up->u.tcp, &buf, 1, tcp_written) <
		    0 ||
	    uv_read_start((uv_stream_t *)&up->u.tcp, up_alloc, tcp_read) < 0)
		next_server(up->f);
}

static int up_open_udp(struct rs_up *up, const struct sockaddr *server)
{
	struct sockaddr_storage any = {.ss_family = server->sa_family};
	uv_buf_t buf = uv_buf_init((char *)up->f->qbuf, (unsigned)up->f->qlen);
	int rc;

	rc = uv_udp_bind(&up->u.udp, (const struct sockaddr *)&any, 0);
	if (rc == 0)
		rc = uv_udp_connect(&up->u.udp, server);
	if (rc == 0)
		rc = uv_udp_recv_start(&up->u.udp, up_alloc, udp_answer);
	if (rc == 0)
		rc = uv_udp_try_send(&up->u.udp, &buf, 1, NULL);
	return rc < 0 ? rc : 0;
}

/* A socket to server f->server over f->tcp, the query sent or on its way. */
static int up_open(struct rs_fwd *f)
{
	struct net_resolver *r = f->ctr->r;
	unsigned n_up;
	const struct sockaddr *server =
		(const struct sockaddr *)&servers_of(f->ctr, &n_up)[f->server];
	struct rs_up *up;
	int rc;

	up = shoal_calloc(1, sizeof(*up));
	if (!up)
		return -ENOMEM;
	up->f = f;
	up->tcp = f->tcp;
	rc = f->tcp ? uv_tcp_init(r->cfg.loop, &up->u.tcp)
		    : uv_udp_init(r->cfg.loop, &up->u.udp);
	if (rc < 0) {
		shoal_free(up);
		return rc;
	}
	up->u.h.data = up;
	f->up = up;
	f->refs++;
	if (f->tcp) {
		up->connect.data = up;
		rc = uv_tcp_connect(&up->connect, &up->u.tcp, server,
				    tcp_connected);
	} else {
		rc = up_open_udp(up, server);
	}
	if (rc < 0)
		up_close(f);
	return rc;
}

static void timed_out(uv_timer_t *t)
{
	next_server(t->data);
}

static void try_server(struct rs_fwd *f)
{
	struct net_resolver *r = f->ctr->r;
	unsigned n_up;

	servers_of(f->ctr, &n_up);
	while (f->server < n_up) {
		up_close(f);
		shoal_random(&f->id, sizeof(f->id));
		f->qbuf[0] = (uint8_t)(f->id >> 8);
		f->qbuf[1] = (uint8_t)f->id;
		if (up_open(f) == 0) {
			uv_timer_start(&f->timer, timed_out,
				       r->cfg.forward_timeout_ms, 0);
			return;
		}
		f->server++;
		f->tcp = f->cl.conn != NULL;
	}
	fwd_finish(f, FINISH_SERVFAIL, NULL, 0, NULL);
}

void rs__forward(struct rs_ctr *c, const struct rs_client *cl,
		 const struct dns_query *q)
{
	struct net_resolver *r = c->r;
	struct rs_fwd *f;
	int n;
	unsigned n_up;

	if (c->detached) /* detached by a lookup callback just now */
		return;
	if (servers_of(c, &n_up) && n_up == 0) {
		rs__reply_code(c, cl, q, DNS_RCODE_SERVFAIL);
		return;
	}
	if (c->n_fwd >= r->cfg.max_forward_per_ctr ||
	    r->n_fwd >= r->cfg.max_forward_total) {
		rs__warn(r,
			 "container=%s resolver query answered SERVFAIL: "
			 "%u of its queries already forwarded (cap %u), %u "
			 "in all (cap %u)",
			 c->id, c->n_fwd, r->cfg.max_forward_per_ctr, r->n_fwd,
			 r->cfg.max_forward_total);
		rs__reply_code(c, cl, q, DNS_RCODE_SERVFAIL);
		return;
	}
	f = shoal_calloc(1, sizeof(*f));
	if (!f) {
		rs__reply_code(c, cl, q, DNS_RCODE_SERVFAIL);
		return;
	}
	f->ctr = c;
	f->cl = *cl;
	f->q = *q;
	f->tcp = cl->conn != NULL;
	n = dns_build_forward(q, 0, f->qbuf, sizeof(f->qbuf));
	if (n < 0) {
		shoal_free(f);
		rs__reply_code(c, cl, q, DNS_RCODE_SERVFAIL);
		return;
	}
	f->qlen = (size_t)n;
	uv_timer_init(r->cfg.loop, &f->timer);
	f->timer.data = f;
	f->refs = 1;
	list_push_back(&c->fwds, &f->node);
	c->n_fwd++;
	r->n_fwd++;
	try_server(f);
}

void rs__forward_cancel(struct rs_ctr *c, const struct rs_conn *conn)
{
	struct list_node *pos, *tmp;

	list_for_each_safe(pos, tmp, &c->fwds)
	{
		struct rs_fwd *f = list_entry(pos, struct rs_fwd, node);

		if (!conn || f->cl.conn == conn)
			fwd_finish(f, FINISH_CANCEL, NULL, 0, NULL);
	}
}

static void parse_nameserver(struct net_resolver *r, char *line)
{
	struct sockaddr_storage *ss = &r->upstream[r->n_upstream];
	char *tok, *save = NULL;

	tok = strtok_r(line, " \t\r\n", &save);
	if (!tok || strcmp(tok, "nameserver") != 0)
		return;
	tok = strtok_r(NULL, " \t\r\n", &save);
	if (!tok || r->n_upstream >= RS_MAX_UPSTREAM)
		return;
	if (uv_ip4_addr(tok, 53, (struct sockaddr_in *)ss) != 0 &&
	    uv_ip6_addr(tok, 53, (struct sockaddr_in6 *)ss) != 0) {
		log_warn("resolv.conf: nameserver \"%.64s\" is not an IP "
			 "address: skipped",
			 tok);
		return;
	}
	r->n_upstream++;
}

int rs__read_resolv_conf(struct net_resolver *r, const char *path)
{
	char *line = NULL;
	size_t cap = 0;
	FILE *fp;
	int rc;

	fp = fopen(path, "re");
	if (!fp)
		return errno == ENOENT ? 0 : -errno;
	errno = 0;
	while (getline(&line, &cap, fp) >= 0)
		parse_nameserver(r, line);
	rc = ferror(fp) ? (errno ? -errno : -EIO) : 0;
	free(line);
	fclose(fp);
	if (rc < 0)
		r->n_upstream = 0;
	return rc;
}
