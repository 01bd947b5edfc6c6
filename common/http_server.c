/*
 * The HTTP/1.1 server: see http.h for the contract.
 *
 * Each connection is one struct conn with its stream handle, one timer and
 * one response object embedded in it (a connection answers one request at
 * a time, so there is never a second). Bytes read go into the connection's
 * input buffer and the pump feeds them to http-parser. When a request is
 * complete, on_message_complete pauses the parser, reading stops, and the
 * request is dispatched; once its response is finished and the last write
 * has completed, the pump resumes on the buffered bytes (pipelining) and
 * reading starts again. The timer is the idle timeout between requests and
 * the slow-request timeout while one arrives; it is off while a handler
 * owns the connection.
 *
 * The request (method, path, query, headers) is built when its head is
 * complete, so that the body policy can see it; header callbacks after
 * that are trailers of a chunked body, and are dropped. A spooled body is
 * written to its unlinked file as it arrives (the file is closed with the
 * request); an in-memory one grows a buffer bounded by the same limit.
 *
 * Closing: http__conn_close() stops everything and uv_close()s both handles;
 * the connection is freed in the last close callback, after the response's
 * close callback ran (if the handler still held it). Writes that are in
 * flight when a response asks for the connection to close are drained
 * first with uv_shutdown(). A socketless connection (http__server_feed,
 * for the fuzzer) discards or collects its output and is freed by the feed.
 */
#define LOG_MODULE "http"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/http.h"
#include "common/http_conn.h"
#include "common/http_internal.h"
#include "common/list.h"
#include "common/log.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <http_parser.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static const http_parser_settings settings;
static void on_srv_closed(uv_handle_t *h);
static void conn_pump(struct conn *c);
static void server_maybe_done(struct http_server *srv);

/* --- request state ------------------------------------------------------- */

static void request_reset(struct conn *c)
{
	struct http_response *r = &c->res;
	shoal_free(r->req.query);
	shoal_free(r->req.headers);
	shoal_free(c->dec);
	c->dec = NULL;
	buf_fini(&r->extra);
	memset(r, 0, sizeof(*r));
	r->req.body = "";
	r->req.body_fd = -1;
	buf_init(&r->extra, c->srv->o.max_header_bytes);
	buf_fini(&c->raw);
	buf_init(&c->raw, c->srv->o.max_header_bytes);
	buf_fini(&c->body);
	buf_init(&c->body, c->srv->o.max_body_bytes);
	if (c->spool_fd >= 0)
		close(c->spool_fd);
	c->spool_fd = -1;
	c->body_max = c->srv->o.max_body_bytes;
	c->body_seen = 0;
	c->nh = 0;
	c->last = 0;
	c->in_request = false;
	c->headers_done = false;
	c->build_rc = 0;
	c->complete = false;
	c->fail_status = 0;
	c->fail_msg = NULL;
}

/* The response is finished: once its bytes are out, go on or close. */
void http__response_done(struct conn *c)
{
	c->res.state = RES_IDLE;
	c->flushing = true;
	if (c->closing || c->queued == 0 || c->socketless)
		http__conn_flushed(c);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	http__conn_close(container_of(req, struct conn, shutdown));
}

void http__conn_flushed(struct conn *c)
{
	c->flushing = false;
	if (c->closing)
		return;
	if (!c->keep_alive || c->srv->closing) {
		if (c->socketless || c->eof ||
		    uv_shutdown(&c->shutdown, &c->h.stream, on_shutdown) < 0) {
			http__conn_close(c);
			return;
		}
		c->shutting = true;
		http__timer_set(c, c->srv->o.request_timeout_ms);
		return;
	}
	request_reset(c);
	http__timer_set(c, c->srv->o.idle_timeout_ms);
	conn_pump(c);
}

/* --- parser callbacks ---------------------------------------------------- */

static struct conn *pconn(http_parser *p)
{
	return container_of(p, struct conn, parser);
}

static int fail(struct conn *c, int status, const char *msg)
{
	if (!c->fail_status) {
		c->fail_status = status;
		c->fail_msg = msg;
	}
	return -1;
}

static int on_message_begin(http_parser *p)
{
	struct conn *c = pconn(p);
	c->in_request = true;
	http__timer_set(c, c->srv->o.request_timeout_ms);
	return 0;
}

static int raw_add(struct conn *c, const char *at, size_t len)
{
	int rc = buf_append(&c->raw, at, len);
	if (rc == -ENOBUFS)
		return fail(c, 431, "request header fields too large");
	if (rc)
		return fail(c, 500, "out of memory");
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	return raw_add(pconn(p), at, len);
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
	struct conn *c = pconn(p);
	if (c->headers_done)
		return 0; /* a trailer: the request is already built */
	if (c->last != 1) {
		if (c->nh == HTTP_MAX_HEADERS)
			return fail(c, 431, "too many request header fields");
		if (raw_add(c, "", 1)) /* ends the url or the last value */
			return -1;
		c->hoff[c->nh++] = c->raw.len;
		c->last = 1;
	}
	return raw_add(c, at, len);
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
	struct conn *c = pconn(p);
	if (c->headers_done)
		return 0;
	if (c->last != 2) {
		if (raw_add(c, "", 1))
			return -1;
		c->last = 2;
	}
	return raw_add(c, at, len);
}

static const char *raw_header(struct conn *c, const char *name)
{
	for (size_t i = 0; i < c->nh; i++) {
		const char *n = c->raw.data + c->hoff[i];
		if (strcasecmp(n, name) == 0)
			return n + strlen(n) + 1;
	}
	return NULL;
}

/* "4 MiB", "1 GiB", "1000 bytes": a limit as a person reads it. */
static void human_bytes(uint64_t n, char *out, size_t cap)
{
	static const char *const units[] = {"GiB", "MiB", "KiB"};
	for (int i = 0; i < 3; i++) {
		uint64_t unit = (uint64_t)1 << (30 - 10 * i);
		if (n >= unit && n % unit == 0) {
			snprintf(out, cap, "%" PRIu64 " %s", n / unit,
				 units[i]);
			return;
		}
	}
	snprintf(out, cap, "%" PRIu64 " bytes", n);
}

static int too_large(struct conn *c)
{
	char limit[32];
	human_bytes(c->body_max, limit, sizeof(limit));
	snprintf(c->fail_text, sizeof(c->fail_text),
		 "request body too large: the limit is %s", limit);
	return fail(c, 413, c->fail_text);
}

/* An unlinked file in the spool folder for this request's body. */
static int spool_open(struct conn *c)
{
	const char *dir = c->srv->spool_dir;
	if (!dir)
		return -ENOTSUP;
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR)) {
		/* A file system without O_TMPFILE: name it, then unlink. */
		char path[4096];
		snprintf(path, sizeof(path), "%s/body-XXXXXX", dir);
		fd = mkostemp(path, O_CLOEXEC);
		if (fd >= 0)
			unlink(path);
	}
	if (fd < 0)
		return -errno;
	c->spool_fd = fd;
	return 0;
}

static int build_request(struct conn *c);

static int on_headers_complete(http_parser *p)
{
	struct conn *c = pconn(p);
	struct http_server *srv = c->srv;
	if (raw_add(c, "", 1))
		return -1;
	if (c->last == 1 && raw_add(c, "", 1)) /* a field without value */
		return -1;
	c->headers_done = true;
	c->build_rc = build_request(c);
	struct http_body_policy pol = {.max_bytes = srv->o.max_body_bytes};
	if (c->build_rc == 0 && srv->o.body_policy)
		srv->o.body_policy(&c->res.req, &pol, srv->arg);
	c->body_max = pol.max_bytes ? pol.max_bytes : srv->o.max_body_bytes;
	if ((p->flags & F_CONTENTLENGTH) && p->content_length > c->body_max)
		return too_large(c);
	if (pol.spool && spool_open(c) < 0)
		return fail(c, 500, "cannot store the request body");
	if (!pol.spool) {
		buf_fini(&c->body);
		buf_init(&c->body, c->body_max < SIZE_MAX ? (size_t)c->body_max
							  : SIZE_MAX);
	}
	const char *expect = raw_header(c, "Expect");
	if (expect && strcasecmp(expect, "100-continue") == 0) {
		uv_buf_t v = uv_buf_init(
			(char *)"HTTP/1.1 100 Continue\r\n\r\n", 25);
		(void)http__conn_write(c, &v, 1);
	}
	return 0;
}

static int spool_write(struct conn *c, const char *at, size_t len)
{
	while (len) {
		ssize_t n = write(c->spool_fd, at, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_warn("cannot spool a request body into %s: %s",
				 c->srv->spool_dir,
				 n < 0 ? strerror(errno) : "short write");
			return fail(c, 500, "cannot store the request body");
		}
		at += n;
		len -= (size_t)n;
	}
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct conn *c = pconn(p);
	if (len > c->body_max - c->body_seen)
		return too_large(c);
	c->body_seen += len;
	if (c->spool_fd >= 0)
		return spool_write(c, at, len);
	int rc = buf_append(&c->body, at, len);
	if (rc == -ENOBUFS)
		return too_large(c);
	if (rc)
		return fail(c, 500, "out of memory");
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct conn *c = pconn(p);
	c->complete = true;
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

/* --- dispatch ------------------------------------------------------------ */

static size_t count_params(const char *q)
{
	size_t n = 1;
	for (; *q; q++)
		n += *q == '&';
	return n;
}

/*
 * Fill c->res.req, but for the body, from the raw buffer once the head is
 * complete; -ENOMEM or -EINVAL. Nothing is added to c->raw afterwards
 * (trailers are dropped), so the pointers into it stay valid.
 */
static int build_request(struct conn *c)
{
	struct http_request *r = &c->res.req;
	const char *url = c->raw.data;
	r->method = http_method_str(c->parser.method);
	r->url = url;
	r->path = "";
	struct http_parser_url u;
	http_parser_url_init(&u);
	if (http_parser_parse_url(url, strlen(url), 0, &u) ||
	    !(u.field_set & (1 << UF_PATH)))
		return -EINVAL;
	size_t plen = u.field_data[UF_PATH].len;
	const char *q = "";
	size_t qlen = 0;
	if (u.field_set & (1 << UF_QUERY)) {
		q = url + u.field_data[UF_QUERY].off;
		qlen = u.field_data[UF_QUERY].len;
	}
	c->dec = shoal_malloc(plen + qlen + 2);
	r->headers = shoal_calloc(c->nh ? c->nh : 1, sizeof(*r->headers));
	if (!c->dec || !r->headers)
		return -ENOMEM;
	char *path = c->dec, *qs = c->dec + plen + 1;
	memcpy(path, url + u.field_data[UF_PATH].off, plen);
	path[plen] = '\0';
	memcpy(qs, q, qlen);
	qs[qlen] = '\0';
	if (http__pct_decode(path, false) < 0)
		return -EINVAL;
	r->query = shoal_calloc(count_params(qs), sizeof(*r->query));
	if (!r->query)
		return -ENOMEM;
	char *save = NULL;
	for (char *t = strtok_r(qs, "&", &save); t;
	     t = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(t, '=');
		char *val = eq ? eq + 1 : t + strlen(t);
		if (eq)
			*eq = '\0';
		if (http__pct_decode(t, true) < 0 ||
		    http__pct_decode(val, true) < 0)
			return -EINVAL;
		r->query[r->nquery].name = t;
		r->query[r->nquery++].value = val;
	}
	for (size_t i = 0; i < c->nh; i++) {
		const char *n = c->raw.data + c->hoff[i];
		r->headers[i].name = n;
		r->headers[i].value = n + strlen(n) + 1;
	}
	r->nheaders = c->nh;
	r->path = path;
	r->http_major = c->parser.http_major;
	r->http_minor = c->parser.http_minor;
	r->upgrade = c->parser.upgrade;
	return 0;
}

static void dispatch(struct conn *c)
{
	c->keep_alive = http_should_keep_alive(&c->parser) &&
			!c->parser.upgrade && !c->srv->closing;
	http__timer_stop(c);
	c->res.state = RES_PENDING;
	int rc = c->build_rc;
	if (rc == 0 && c->spool_fd >= 0 && lseek(c->spool_fd, 0, SEEK_SET) < 0)
		rc = -errno;
	if (rc == -EINVAL) {
		c->keep_alive = false;
		http_response_send_error(&c->res, 400,
					 "malformed request target");
		return;
	}
	if (rc < 0) {
		c->keep_alive = false;
		http_response_send_error(&c->res, 500,
					 rc == -ENOMEM
						 ? "out of memory"
						 : "cannot read the body");
		return;
	}
	struct http_request *r = &c->res.req;
	r->body = c->body.data ? c->body.data : "";
	r->body_len = c->spool_fd >= 0 ? c->body_seen : c->body.len;
	r->body_fd = c->spool_fd;
	c->srv->handler(r, &c->res, c->srv->arg);
}

/* Answer a request the parser refused, then close. */
static void conn_fail(struct conn *c, int status, const char *msg)
{
	char text[160];
	snprintf(text, sizeof(text), "%s%s",
		 status == 400 ? "malformed HTTP request: " : "", msg);
	log_debug("closing connection after %d: %s", status, text);
	c->keep_alive = false;
	c->res.state = RES_PENDING;
	c->res.req.method = "GET";
	buf_reset(&c->res.extra);
	http_response_send_error(&c->res, status, text);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b);
static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b);

static void conn_pump(struct conn *c)
{
	if (c->pumping)
		return;
	c->pumping = true;
	while (!c->closing && !c->shutting && !c->flushing &&
	       c->res.state == RES_IDLE && c->in_off < c->in.len) {
		size_t n = http_parser_execute(&c->parser, &settings,
					       c->in.data + c->in_off,
					       c->in.len - c->in_off);
		c->in_off += n;
		enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
		if (e == HPE_PAUSED)
			http_parser_pause(&c->parser, 0);
		if (c->fail_status) {
			conn_fail(c, c->fail_status, c->fail_msg);
			break;
		}
		if (e == HPE_HEADER_OVERFLOW) {
			conn_fail(c, 431, "request header fields too large");
			break;
		}
		if (e != HPE_OK && e != HPE_PAUSED) {
			conn_fail(c, 400, http_errno_description(e));
			break;
		}
		if (c->complete)
			dispatch(c);
		else if (c->parser.upgrade)
			break;
	}
	buf_consume(&c->in, c->in_off);
	c->in_off = 0;
	c->pumping = false;
	if (c->socketless || c->closing || c->shutting ||
	    c->res.state != RES_IDLE || c->flushing)
		return;
	if (c->eof) {
		http__conn_close(c); /* nothing more will come */
		return;
	}
	if (!c->reading && uv_read_start(&c->h.stream, on_alloc, on_read) == 0)
		c->reading = true;
}

/* --- connections --------------------------------------------------------- */

static void on_timer(uv_timer_t *t);

void http__timer_set(struct conn *c, uint64_t ms)
{
	if (!c->socketless && !c->closing)
		uv_timer_start(&c->timer, on_timer, ms, 0);
}

void http__timer_stop(struct conn *c)
{
	if (!c->socketless && !c->closing)
		uv_timer_stop(&c->timer);
}

static void hijack_resume(struct conn *c)
{
	struct http_response *res = &c->res;
	if (c->in.len > c->in_off) {
		size_t n = c->in.len - c->in_off;
		buf_consume(&c->in, c->in_off);
		c->in_off = 0;
		res->on_read(res, c->in.data, (ssize_t)n, res->read_arg);
		if (c->closing || res->state != RES_HIJACKED)
			return;
		buf_reset(&c->in);
	}
	if (!c->reading && !c->eof &&
	    uv_read_start(&c->h.stream, on_alloc, on_read) == 0)
		c->reading = true;
}

static void on_timer(uv_timer_t *t)
{
	struct conn *c = container_of(t, struct conn, timer);
	if (c->res.state == RES_HIJACKED) {
		hijack_resume(c);
		return;
	}
	if (c->shutting || c->flushing || c->res.state != RES_IDLE) {
		/* A shutdown that never completed, or a stalled reader. */
		http__conn_close(c);
		return;
	}
	if (c->in_request) {
		conn_fail(c, 408, "request timed out");
		return;
	}
	http__conn_close(c);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	b->base = shoal_malloc(HTTP_READ_CHUNK);
	b->len = b->base ? HTTP_READ_CHUNK : 0;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct conn *c = container_of(s, struct conn, h.stream);
	if (n == 0) {
		shoal_free(b->base);
		return;
	}
	if (c->res.state == RES_HIJACKED) {
		if (n == UV_EOF) {
			uv_read_stop(s);
			c->reading = false;
			c->eof = true;
		}
		c->res.on_read(&c->res, n > 0 ? b->base : NULL, n,
			       c->res.read_arg);
		shoal_free(b->base);
		if (n < 0 && n != UV_EOF)
			http__conn_close(c);
		return;
	}
	if (n < 0) {
		shoal_free(b->base);
		c->eof = true;
		if (c->shutting) {
			http__conn_close(c);
			return;
		}
		/*
		 * A client that goes away while its answer is being made is
		 * gone (the handler hears of it); answers already complete
		 * are still flushed.
		 */
		if (!c->flushing)
			http__conn_close(c);
		else if (c->reading) {
			uv_read_stop(s);
			c->reading = false;
		}
		return;
	}
	int rc = buf_append(&c->in, b->base, (size_t)n);
	shoal_free(b->base);
	if (rc < 0) {
		http__conn_close(c);
		return;
	}
	if (c->res.state != RES_IDLE || c->flushing || c->shutting) {
		/*
		 * Keep reading while busy, to notice a client that leaves,
		 * but buffer no more than one more request's head.
		 */
		if (c->in.len > c->srv->o.max_header_bytes) {
			uv_read_stop(s);
			c->reading = false;
		}
		return;
	}
	conn_pump(c);
}

static int conn_init(struct http_server *srv, struct conn *c)
{
	c->srv = srv;
	c->spool_fd = -1;
	list_init(&c->link);
	http_parser_init(&c->parser, HTTP_REQUEST);
	buf_init(&c->in, srv->o.max_header_bytes + srv->o.max_body_bytes +
				 2 * HTTP_READ_CHUNK);
	buf_init(&c->res.extra, srv->o.max_header_bytes);
	request_reset(c);
	return 0;
}

static void conn_free(struct conn *c)
{
	struct http_response *res = &c->res;
	if (res->state != RES_IDLE && res->close_cb)
		res->close_cb(res, res->close_arg);
	request_reset(c);
	buf_fini(&c->res.extra);
	buf_fini(&c->raw);
	buf_fini(&c->body);
	buf_fini(&c->in);
	shoal_free(c);
}

static void on_conn_handle_closed(uv_handle_t *h)
{
	struct conn *c = h->data;
	if (--c->handles > 0)
		return;
	struct http_server *srv = c->srv;
	conn_free(c);
	srv->pending--;
	server_maybe_done(srv);
}

void http__conn_close(struct conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	list_remove(&c->link);
	c->srv->nconns--;
	if (c->socketless)
		return;
	c->srv->pending++;
	uv_close(&c->h.handle, on_conn_handle_closed);
	uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
}

static void reject(struct http_server *srv, uv_stream_t *server,
		   const char *why);

static void spare_closed(uv_handle_t *h)
{
	struct http_server *srv = h->data;
	srv->spare_busy = false;
	srv->pending--;
	uv_stream_t *server = srv->reject_pending;
	srv->reject_pending = NULL;
	if (server && !srv->closing)
		reject(srv, server, "shoald is busy");
	server_maybe_done(srv);
}

/*
 * Accept a connection we will not serve, say why, and close it. libuv
 * stops accepting until the pending connection is taken, so this must never
 * fail for want of memory: it uses the server's one spare handle, and a
 * second refusal while the spare closes waits for spare_closed().
 */
static void reject(struct http_server *srv, uv_stream_t *server,
		   const char *why)
{
	if (srv->spare_busy) {
		srv->reject_pending = server;
		return;
	}
	char msg[256];
	int blen = (int)strlen(why) + 15;
	int n = snprintf(msg, sizeof(msg),
			 "HTTP/1.1 503 Service Unavailable\r\n"
			 "Content-Type: application/json\r\n"
			 "Content-Length: %d\r\nConnection: close\r\n\r\n"
			 "{\"message\":\"%s\"}\n",
			 blen, why);
	uv_stream_t *s = &srv->spare.stream;
	if (server->type == UV_TCP)
		uv_tcp_init(srv->loop, &srv->spare.tcp);
	else
		uv_pipe_init(srv->loop, &srv->spare.pipe, 0);
	s->data = srv;
	srv->spare_busy = true;
	if (uv_accept(server, s) == 0) {
		uv_buf_t b = uv_buf_init(msg, (unsigned)n);
		(void)uv_try_write(s, &b, 1);
	}
	srv->pending++;
	uv_close((uv_handle_t *)s, spare_closed);
	log_warn("connection refused (%s): %u connections open", why,
		 srv->nconns);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct http_server *srv = server->data;
	if (status < 0 || srv->closing)
		return;
	if (srv->nconns >= srv->o.max_conns) {
		reject(srv, server, "too many connections to shoald");
		return;
	}
	struct conn *c = shoal_calloc(1, sizeof(*c));
	if (!c) {
		reject(srv, server, "shoald is out of memory");
		return;
	}
	conn_init(srv, c);
	if (server->type == UV_TCP)
		uv_tcp_init(srv->loop, &c->h.tcp);
	else
		uv_pipe_init(srv->loop, &c->h.pipe, 0);
	uv_timer_init(srv->loop, &c->timer);
	c->h.handle.data = c;
	c->timer.data = c;
	c->handles = 2;
	list_push_back(&srv->conns, &c->link);
	srv->nconns++;
	if (uv_accept(server, &c->h.stream) < 0 ||
	    uv_read_start(&c->h.stream, on_alloc, on_read) < 0) {
		http__conn_close(c);
		return;
	}
	c->reading = true;
	http__timer_set(c, srv->o.idle_timeout_ms);
}

/* --- the server ---------------------------------------------------------- */

int http_server_new(uv_loop_t *loop, const struct http_server_opts *opts,
		    http_handler_fn *handler, void *arg,
		    struct http_server **out)
{
	struct http_server *srv = shoal_calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	if (opts)
		srv->o = *opts;
	struct http_server_opts *o = &srv->o;
	if (o->spool_dir && !(srv->spool_dir = shoal_strdup(o->spool_dir))) {
		shoal_free(srv);
		return -ENOMEM;
	}
	o->spool_dir = srv->spool_dir;
	o->max_header_bytes = o->max_header_bytes ?: 64 * 1024;
	o->max_body_bytes = o->max_body_bytes ?: 16 * 1024 * 1024;
	o->idle_timeout_ms = o->idle_timeout_ms ?: 60 * 1000;
	o->request_timeout_ms = o->request_timeout_ms ?: 30 * 1000;
	o->max_conns = o->max_conns ?: 1024;
	o->max_queued_bytes = o->max_queued_bytes ?: 4 * 1024 * 1024;
	o->shutdown_grace_ms = o->shutdown_grace_ms ?: 2000;
	srv->loop = loop;
	srv->handler = handler;
	srv->arg = arg;
	list_init(&srv->conns);
	*out = srv;
	return 0;
}

/* Whether something answers on the unix socket at @path. */
static bool unix_alive(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	bool alive = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return alive;
}

int http_server_listen_unix(struct http_server *srv, const char *path, int mode)
{
	struct stat st;
	if (srv->has_unix)
		return -EALREADY;
	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return -ENAMETOOLONG;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return -EEXIST;
		if (unix_alive(path))
			return -EADDRINUSE;
		unlink(path);
	}
	char *copy = shoal_strdup(path);
	if (!copy)
		return -ENOMEM;
	int rc = uv_pipe_init(srv->loop, &srv->upipe, 0);
	if (rc < 0)
		goto err_free;
	srv->upipe.data = srv;
	mode_t old;
	old = umask(~(mode_t)mode & 0777);
	rc = uv_pipe_bind(&srv->upipe, path);
	umask(old);
	if (rc == 0 && chmod(path, (mode_t)mode) < 0)
		rc = -errno;
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&srv->upipe, 511, on_connection);
	if (rc < 0)
		goto err_close;
	srv->unix_path = copy;
	srv->has_unix = true;
	return 0;
err_close:
	srv->pending++;
	uv_close((uv_handle_t *)&srv->upipe, on_srv_closed);
	unlink(path);
err_free:
	shoal_free(copy);
	return rc;
}

int http_server_listen_tcp(struct http_server *srv, const char *addr, int port)
{
	struct sockaddr_storage sa;
	if (srv->has_tcp)
		return -EALREADY;
	if (uv_ip4_addr(addr, port, (struct sockaddr_in *)&sa) != 0 &&
	    uv_ip6_addr(addr, port, (struct sockaddr_in6 *)&sa) != 0)
		return -EINVAL;
	int rc = uv_tcp_init(srv->loop, &srv->tcp);
	if (rc < 0)
		return rc;
	srv->tcp.data = srv;
	rc = uv_tcp_bind(&srv->tcp, (struct sockaddr *)&sa, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&srv->tcp, 511, on_connection);
	if (rc < 0) {
		srv->pending++;
		uv_close((uv_handle_t *)&srv->tcp, on_srv_closed);
		return rc;
	}
	srv->has_tcp = true;
	return 0;
}

int http_server_port(const struct http_server *srv)
{
	struct sockaddr_storage sa;
	int len = sizeof(sa);
	if (!srv->has_tcp ||
	    uv_tcp_getsockname(&srv->tcp, (struct sockaddr *)&sa, &len) < 0)
		return -ENOTCONN;
	if (sa.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&sa)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
}

unsigned http_server_conns(const struct http_server *srv)
{
	return srv->nconns;
}

static void on_srv_closed(uv_handle_t *h)
{
	struct http_server *srv = h->data;
	srv->pending--;
	server_maybe_done(srv);
}

/* Frees the server once it is closing, connectionless and quiet. */
static void server_maybe_done(struct http_server *srv)
{
	if (!srv->closing || srv->nconns > 0)
		return;
	if (srv->grace_init) {
		srv->grace_init = false;
		srv->pending++;
		uv_close((uv_handle_t *)&srv->grace, on_srv_closed);
		return;
	}
	if (srv->pending > 0)
		return;
	void (*cb)(void *) = srv->close_cb;
	void *arg = srv->close_arg;
	shoal_free(srv->spool_dir);
	shoal_free(srv);
	if (cb)
		cb(arg);
}

static void on_grace(uv_timer_t *t)
{
	struct http_server *srv = t->data;
	struct list_node *pos, *tmp;
	list_for_each_safe(pos, tmp, &srv->conns)
	{
		http__conn_close(list_entry(pos, struct conn, link));
	}
	server_maybe_done(srv);
}

void http_server_close(struct http_server *srv, void (*cb)(void *arg),
		       void *arg)
{
	assert(!srv->closing);
	srv->closing = true;
	srv->close_cb = cb;
	srv->close_arg = arg;
	srv->pending++; /* held until the end of this function */
	if (srv->has_unix) {
		srv->has_unix = false;
		srv->pending++;
		uv_close((uv_handle_t *)&srv->upipe, on_srv_closed);
		unlink(srv->unix_path);
		shoal_free(srv->unix_path);
		srv->unix_path = NULL;
	}
	if (srv->has_tcp) {
		srv->has_tcp = false;
		srv->pending++;
		uv_close((uv_handle_t *)&srv->tcp, on_srv_closed);
	}
	struct list_node *pos, *tmp;
	list_for_each_safe(pos, tmp, &srv->conns)
	{
		struct conn *c = list_entry(pos, struct conn, link);
		if (c->res.state == RES_IDLE && !c->flushing)
			http__conn_close(c);
		else
			c->keep_alive = false;
	}
	if (srv->nconns > 0) {
		uv_timer_init(srv->loop, &srv->grace);
		srv->grace.data = srv;
		srv->grace_init = true;
		uv_timer_start(&srv->grace, on_grace, srv->o.shutdown_grace_ms,
			       0);
	}
	srv->pending--;
	server_maybe_done(srv);
}

/* --- the socketless seam ------------------------------------------------- */

int http__server_feed(struct http_server *srv, const void *data, size_t len,
		      size_t piece, struct buf *out)
{
	struct conn *c = shoal_calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	conn_init(srv, c);
	c->socketless = true;
	c->sink = out;
	list_push_back(&srv->conns, &c->link);
	srv->nconns++;
	const char *p = data;
	if (piece == 0)
		piece = len ? len : 1;
	for (size_t off = 0; off < len && !c->closing; off += piece) {
		size_t n = len - off < piece ? len - off : piece;
		if (buf_append(&c->in, p + off, n) < 0)
			break;
		conn_pump(c);
	}
	http__conn_close(c);
	conn_free(c);
	return 0;
}
