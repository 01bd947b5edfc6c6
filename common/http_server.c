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
 * Closing: conn_close() stops everything and uv_close()s both handles; the
 * connection is freed in the last close callback, after the response's
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
#include "common/http_internal.h"
#include "common/list.h"
#include "common/log.h"

#include <assert.h>
#include <errno.h>
#include <http_parser.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define READ_CHUNK (64 * 1024)
#define MAX_HEADERS 128

enum res_state {
	RES_IDLE,      /* no request being answered */
	RES_PENDING,   /* handler owns it, nothing sent */
	RES_STREAMING, /* head sent, chunks follow */
	RES_HIJACKED,  /* raw bytes both ways */
};

struct http_response {
	enum res_state state;
	struct http_request req;
	struct buf extra; /* "Name: value\r\n" lines */
	bool chunked;
	bool need_drain;
	void (*close_cb)(struct http_response *, void *);
	void *close_arg;
	void (*drain_cb)(struct http_response *, void *);
	void *drain_arg;
	http_hijack_read_fn *on_read;
	void *read_arg;
};

struct conn {
	struct http_server *srv;
	struct list_node link;
	union {
		uv_handle_t handle;
		uv_stream_t stream;
		uv_tcp_t tcp;
		uv_pipe_t pipe;
	} h;
	uv_timer_t timer;
	uv_shutdown_t shutdown;
	bool socketless;
	struct buf *sink; /* socketless output */
	int handles;	  /* open uv handles */
	http_parser parser;
	struct buf in;
	size_t in_off;
	/* the request being read */
	struct buf raw; /* url NUL, then name NUL value NUL ... */
	size_t hoff[MAX_HEADERS];
	size_t nh;
	int last; /* 0 none, 1 field, 2 value */
	struct buf body;
	char *dec; /* decoded path and query strings */
	bool in_request;
	bool complete;
	int fail_status;
	const char *fail_msg;
	/* the response */
	struct http_response res;
	bool keep_alive;
	bool flushing; /* response done, writes in flight */
	bool reading;
	bool pumping;
	bool closing;
	bool shutting; /* uv_shutdown in flight; closes when done */
	bool eof;
	size_t queued;
};

struct http_server {
	uv_loop_t *loop;
	struct http_server_opts o;
	http_handler_fn *handler;
	void *arg;
	uv_pipe_t upipe;
	uv_tcp_t tcp;
	bool has_unix, has_tcp;
	char *unix_path;
	struct list_node conns;
	unsigned nconns;
	bool closing;
	int pending; /* handles still closing */
	uv_timer_t grace;
	bool grace_init;
	void (*close_cb)(void *);
	void *close_arg;
};

struct wreq {
	uv_write_t req;
	struct conn *c;
	size_t len;
	char data[];
};

static const http_parser_settings settings;
static void on_srv_closed(uv_handle_t *h);
static void conn_pump(struct conn *c);
static void conn_close(struct conn *c);
static void server_maybe_done(struct http_server *srv);

/* --- small helpers ------------------------------------------------------- */

const char *http_status_text(int status)
{
	switch (status) {
	case 100:
		return "Continue";
	case 101:
		return "Switching Protocols";
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 204:
		return "No Content";
	case 304:
		return "Not Modified";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 406:
		return "Not Acceptable";
	case 408:
		return "Request Timeout";
	case 409:
		return "Conflict";
	case 411:
		return "Length Required";
	case 413:
		return "Payload Too Large";
	case 415:
		return "Unsupported Media Type";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 503:
		return "Service Unavailable";
	default:
		return "Unknown";
	}
}

int http__json_escape(struct buf *b, const char *s)
{
	int rc = buf_append(b, "\"", 1);
	for (; rc == 0 && *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			rc = buf_printf(b, "\\%c", ch);
		else if (ch < 0x20)
			rc = buf_printf(b, "\\u%04x", ch);
		else
			rc = buf_append(b, s, 1);
	}
	return rc ? rc : buf_append(b, "\"", 1);
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int http__pct_decode(char *s, bool plus)
{
	char *w = s;
	for (const char *r = s; *r; r++) {
		if (*r == '%') {
			int hi = hexval(r[1]);
			int lo = hi < 0 ? -1 : hexval(r[2]);
			if (lo < 0 || (hi == 0 && lo == 0))
				return -EINVAL;
			*w++ = (char)(hi * 16 + lo);
			r += 2;
		} else if (plus && *r == '+') {
			*w++ = ' ';
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
	return (int)(w - s);
}

const char *http_request_header(const struct http_request *req,
				const char *name)
{
	for (size_t i = 0; i < req->nheaders; i++)
		if (strcasecmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	return NULL;
}

const char *http_request_query(const struct http_request *req, const char *name)
{
	for (size_t i = 0; i < req->nquery; i++)
		if (strcmp(req->query[i].name, name) == 0)
			return req->query[i].value;
	return NULL;
}

static struct conn *res_conn(struct http_response *res)
{
	return container_of(res, struct conn, res);
}

struct http_request *http_response_request(struct http_response *res)
{
	return &res->req;
}

/* --- writing ------------------------------------------------------------- */

static void conn_flushed(struct conn *c);

static void on_write(uv_write_t *req, int status)
{
	struct wreq *w = container_of(req, struct wreq, req);
	struct conn *c = w->c;
	c->queued -= w->len;
	shoal_free(w);
	if (status < 0) {
		conn_close(c);
		return;
	}
	if (c->res.need_drain && c->queued <= c->srv->o.max_queued_bytes / 2) {
		c->res.need_drain = false;
		if (c->res.drain_cb && !c->closing)
			c->res.drain_cb(&c->res, c->res.drain_arg);
	}
	if (c->queued == 0 && c->flushing)
		conn_flushed(c);
}

/* Queue @n pieces as one write; 0, -ECONNRESET or -ENOMEM. */
static int conn_write(struct conn *c, const uv_buf_t *bufs, int n)
{
	if (c->closing)
		return -ECONNRESET;
	size_t len = 0;
	for (int i = 0; i < n; i++)
		len += bufs[i].len;
	if (c->socketless) {
		for (int i = 0; c->sink && i < n; i++)
			(void)buf_append(c->sink, bufs[i].base, bufs[i].len);
		return 0;
	}
	struct wreq *w = shoal_malloc(sizeof(*w) + len);
	if (!w)
		return -ENOMEM;
	w->c = c;
	w->len = len;
	size_t off = 0;
	for (int i = 0; i < n; i++) {
		memcpy(w->data + off, bufs[i].base, bufs[i].len);
		off += bufs[i].len;
	}
	uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
	int rc = uv_write(&w->req, &c->h.stream, &b, 1, on_write);
	if (rc < 0) {
		shoal_free(w);
		return rc;
	}
	c->queued += len;
	return 0;
}

static int build_head(struct conn *c, struct buf *b, int status,
		      const char *ctype, long long clen, bool chunked)
{
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	int rc = buf_printf(b, "HTTP/1.1 %d %s\r\n", status,
			    http_status_text(status));
	if (!rc && ctype)
		rc = buf_printf(b, "Content-Type: %s\r\n", ctype);
	if (!rc && clen >= 0)
		rc = buf_printf(b, "Content-Length: %lld\r\n", clen);
	if (!rc && chunked)
		rc = buf_append_str(b, "Transfer-Encoding: chunked\r\n");
	if (!rc)
		rc = buf_printf(b, "Date: %s\r\n", date);
	if (!rc && !c->keep_alive && status != 101)
		rc = buf_append_str(b, "Connection: close\r\n");
	if (!rc && c->res.extra.len)
		rc = buf_append(b, c->res.extra.data, c->res.extra.len);
	return rc ? rc : buf_append_str(b, "\r\n");
}

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
	buf_init(&r->extra, c->srv->o.max_header_bytes);
	buf_fini(&c->raw);
	buf_init(&c->raw, c->srv->o.max_header_bytes);
	buf_fini(&c->body);
	buf_init(&c->body, c->srv->o.max_body_bytes);
	c->nh = 0;
	c->last = 0;
	c->in_request = false;
	c->complete = false;
	c->fail_status = 0;
	c->fail_msg = NULL;
}

static void timer_set(struct conn *c, uint64_t ms);
static void timer_stop(struct conn *c);

/* The response is finished: once its bytes are out, go on or close. */
static void response_done(struct conn *c)
{
	c->res.state = RES_IDLE;
	c->flushing = true;
	if (c->closing || c->queued == 0 || c->socketless)
		conn_flushed(c);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	conn_close(container_of(req, struct conn, shutdown));
}

static void conn_flushed(struct conn *c)
{
	c->flushing = false;
	if (c->closing)
		return;
	if (!c->keep_alive || c->srv->closing) {
		if (c->socketless || c->eof ||
		    uv_shutdown(&c->shutdown, &c->h.stream, on_shutdown) < 0) {
			conn_close(c);
			return;
		}
		c->shutting = true;
		timer_set(c, c->srv->o.request_timeout_ms);
		return;
	}
	request_reset(c);
	timer_set(c, c->srv->o.idle_timeout_ms);
	conn_pump(c);
}

/* --- responses ----------------------------------------------------------- */

int http_response_header(struct http_response *res, const char *name,
			 const char *value)
{
	if (res->state != RES_PENDING)
		return -EALREADY;
	if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n") || !*name)
		return -EINVAL;
	return buf_printf(&res->extra, "%s: %s\r\n", name, value);
}

int http_response_send(struct http_response *res, int status,
		       const char *content_type, const void *body, size_t len)
{
	struct conn *c = res_conn(res);
	if (res->state != RES_PENDING)
		return -EALREADY;
	bool head = strcmp(res->req.method, "HEAD") == 0;
	bool nobody = status == 204 || status == 304;
	struct buf b;
	buf_init(&b, 0);
	int rc = build_head(c, &b, status, content_type,
			    nobody ? -1 : (long long)len, false);
	if (rc == 0) {
		uv_buf_t v[2] = {uv_buf_init(b.data, (unsigned)b.len),
				 uv_buf_init((char *)body, (unsigned)len)};
		rc = conn_write(c, v, head || nobody || !len ? 1 : 2);
	}
	buf_fini(&b);
	if (rc < 0)
		c->keep_alive = false;
	if (rc < 0 && rc != -ECONNRESET)
		conn_close(c);
	response_done(c);
	return rc == -ECONNRESET ? 0 : rc;
}

int http_response_send_error(struct http_response *res, int status,
			     const char *message)
{
	struct buf b;
	buf_init(&b, 0);
	int rc = buf_append_str(&b, "{\"message\":");
	if (!rc)
		rc = http__json_escape(&b, message);
	if (!rc)
		rc = buf_append_str(&b, "}\n");
	if (rc) {
		buf_fini(&b);
		/* Still finish the response: an empty body beats none. */
		return http_response_send(res, status, NULL, NULL, 0);
	}
	rc = http_response_send(res, status, "application/json", b.data, b.len);
	buf_fini(&b);
	return rc;
}

int http_response_begin(struct http_response *res, int status,
			const char *content_type)
{
	struct conn *c = res_conn(res);
	if (res->state != RES_PENDING)
		return -EALREADY;
	bool chunked = res->req.http_major == 1 && res->req.http_minor >= 1;
	if (!chunked)
		c->keep_alive = false;
	struct buf b;
	buf_init(&b, 0);
	int rc = build_head(c, &b, status, content_type, -1, chunked);
	if (rc == 0) {
		uv_buf_t v = uv_buf_init(b.data, (unsigned)b.len);
		rc = conn_write(c, &v, 1);
	}
	buf_fini(&b);
	if (rc == 0) {
		res->state = RES_STREAMING;
		res->chunked = chunked;
	}
	return rc;
}

static int stream_write(struct conn *c, const void *data, size_t len,
			bool chunk)
{
	if (c->closing)
		return -ECONNRESET;
	if (len == 0)
		return 0;
	if (c->queued > c->srv->o.max_queued_bytes) {
		c->res.need_drain = true;
		return -ENOBUFS;
	}
	char pre[32];
	int n = snprintf(pre, sizeof(pre), "%zx\r\n", len);
	uv_buf_t v[3] = {uv_buf_init(pre, (unsigned)n),
			 uv_buf_init((char *)data, (unsigned)len),
			 uv_buf_init((char *)"\r\n", 2)};
	return chunk ? conn_write(c, v, 3) : conn_write(c, v + 1, 1);
}

int http_response_write(struct http_response *res, const void *data, size_t len)
{
	if (res->state != RES_STREAMING)
		return -EINVAL;
	return stream_write(res_conn(res), data, len, res->chunked);
}

int http_response_end(struct http_response *res)
{
	struct conn *c = res_conn(res);
	if (res->state != RES_STREAMING)
		return -EINVAL;
	int rc = 0;
	if (res->chunked) {
		uv_buf_t v = uv_buf_init((char *)"0\r\n\r\n", 5);
		rc = conn_write(c, &v, 1);
	}
	if (rc == -ENOMEM) {
		c->keep_alive = false;
		conn_close(c);
	}
	response_done(c);
	return rc == -ECONNRESET ? 0 : rc;
}

void http_response_on_close(struct http_response *res,
			    void (*cb)(struct http_response *res, void *arg),
			    void *arg)
{
	res->close_cb = cb;
	res->close_arg = arg;
}

void http_response_on_drain(struct http_response *res,
			    void (*cb)(struct http_response *res, void *arg),
			    void *arg)
{
	res->drain_cb = cb;
	res->drain_arg = arg;
}

int http_response_hijack(struct http_response *res, int status,
			 const char *content_type, http_hijack_read_fn *on_read,
			 void *arg)
{
	struct conn *c = res_conn(res);
	if (res->state != RES_PENDING)
		return -EALREADY;
	if (c->socketless)
		return -ENOTSUP;
	int rc = 0;
	if (status == 101) {
		rc = http_response_header(res, "Connection", "Upgrade");
		if (!rc)
			rc = http_response_header(res, "Upgrade", "tcp");
	}
	struct buf b;
	buf_init(&b, 0);
	bool keep = c->keep_alive;
	c->keep_alive = true; /* no "Connection: close" in the head */
	timer_stop(c);
	if (!rc)
		rc = build_head(c, &b, status, content_type, -1, false);
	c->keep_alive = keep;
	if (!rc) {
		uv_buf_t v = uv_buf_init(b.data, (unsigned)b.len);
		rc = conn_write(c, &v, 1);
	}
	buf_fini(&b);
	if (rc)
		return rc;
	res->state = RES_HIJACKED;
	res->on_read = on_read;
	res->read_arg = arg;
	c->keep_alive = false;
	/* Leftover bytes and reading resume from the loop, not from here. */
	timer_set(c, 0);
	return 0;
}

int http_response_hijack_write(struct http_response *res, const void *data,
			       size_t len)
{
	if (res->state != RES_HIJACKED)
		return -EINVAL;
	return stream_write(res_conn(res), data, len, false);
}

void http_response_hijack_close(struct http_response *res)
{
	struct conn *c = res_conn(res);
	if (res->state != RES_HIJACKED)
		return;
	c->keep_alive = false;
	if (c->reading) {
		uv_read_stop(&c->h.stream);
		c->reading = false;
	}
	response_done(c);
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
	timer_set(c, c->srv->o.request_timeout_ms);
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
	if (c->last != 1) {
		if (c->nh == MAX_HEADERS)
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

static int on_headers_complete(http_parser *p)
{
	struct conn *c = pconn(p);
	if (raw_add(c, "", 1))
		return -1;
	if (c->last == 1 && raw_add(c, "", 1)) /* a field without value */
		return -1;
	if ((p->flags & F_CONTENTLENGTH) &&
	    p->content_length > c->srv->o.max_body_bytes)
		return fail(c, 413, "request body too large");
	const char *expect = raw_header(c, "Expect");
	if (expect && strcasecmp(expect, "100-continue") == 0) {
		uv_buf_t v = uv_buf_init(
			(char *)"HTTP/1.1 100 Continue\r\n\r\n", 25);
		(void)conn_write(c, &v, 1);
	}
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct conn *c = pconn(p);
	int rc = buf_append(&c->body, at, len);
	if (rc == -ENOBUFS)
		return fail(c, 413, "request body too large");
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

/* Fill c->res.req from the raw buffer; -ENOMEM or -EINVAL. */
static int build_request(struct conn *c)
{
	struct http_request *r = &c->res.req;
	const char *url = c->raw.data;
	r->method = http_method_str(c->parser.method);
	r->url = url;
	r->path = "";
	r->body = "";
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
	r->body = c->body.data ? c->body.data : "";
	r->body_len = c->body.len;
	r->http_major = c->parser.http_major;
	r->http_minor = c->parser.http_minor;
	r->upgrade = c->parser.upgrade;
	return 0;
}

static void dispatch(struct conn *c)
{
	c->keep_alive = http_should_keep_alive(&c->parser) &&
			!c->parser.upgrade && !c->srv->closing;
	timer_stop(c);
	c->res.state = RES_PENDING;
	int rc = build_request(c);
	if (rc == -EINVAL) {
		c->keep_alive = false;
		http_response_send_error(&c->res, 400,
					 "malformed request target");
		return;
	}
	if (rc < 0) {
		c->keep_alive = false;
		http_response_send_error(&c->res, 500, "out of memory");
		return;
	}
	c->srv->handler(&c->res.req, &c->res, c->srv->arg);
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
		conn_close(c); /* nothing more will come */
		return;
	}
	if (!c->reading && uv_read_start(&c->h.stream, on_alloc, on_read) == 0)
		c->reading = true;
}

/* --- connections --------------------------------------------------------- */

static void on_timer(uv_timer_t *t);

static void timer_set(struct conn *c, uint64_t ms)
{
	if (!c->socketless && !c->closing)
		uv_timer_start(&c->timer, on_timer, ms, 0);
}

static void timer_stop(struct conn *c)
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
		conn_close(c);
		return;
	}
	if (c->in_request) {
		conn_fail(c, 408, "request timed out");
		return;
	}
	conn_close(c);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	b->base = shoal_malloc(READ_CHUNK);
	b->len = b->base ? READ_CHUNK : 0;
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
			conn_close(c);
		return;
	}
	if (n < 0) {
		shoal_free(b->base);
		c->eof = true;
		if (c->shutting) {
			conn_close(c);
			return;
		}
		/*
		 * A client that goes away while its answer is being made is
		 * gone (the handler hears of it); answers already complete
		 * are still flushed.
		 */
		if (!c->flushing)
			conn_close(c);
		else if (c->reading) {
			uv_read_stop(s);
			c->reading = false;
		}
		return;
	}
	int rc = buf_append(&c->in, b->base, (size_t)n);
	shoal_free(b->base);
	if (rc < 0) {
		conn_close(c);
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
	list_init(&c->link);
	http_parser_init(&c->parser, HTTP_REQUEST);
	buf_init(&c->in, srv->o.max_header_bytes + srv->o.max_body_bytes +
				 2 * READ_CHUNK);
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

static void conn_close(struct conn *c)
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

static void reject_closed(uv_handle_t *h)
{
	shoal_free(h);
}

/* Past max_conns: accept, say why, and close. */
static void reject(struct http_server *srv, uv_stream_t *server)
{
	static const char msg[] =
		"HTTP/1.1 503 Service Unavailable\r\n"
		"Content-Type: application/json\r\nContent-Length: 44\r\n"
		"Connection: close\r\n\r\n"
		"{\"message\":\"too many connections to shoald\"}";
	uv_stream_t *s = shoal_malloc(sizeof(union {
		uv_tcp_t t;
		uv_pipe_t p;
	}));
	if (!s)
		return;
	if (server->type == UV_TCP)
		uv_tcp_init(srv->loop, (uv_tcp_t *)s);
	else
		uv_pipe_init(srv->loop, (uv_pipe_t *)s, 0);
	if (uv_accept(server, s) == 0) {
		uv_buf_t b = uv_buf_init((char *)msg, sizeof(msg) - 1);
		(void)uv_try_write(s, &b, 1);
	}
	uv_close((uv_handle_t *)s, reject_closed);
	log_warn("connection refused: %u connections open (max_conns)",
		 srv->nconns);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct http_server *srv = server->data;
	if (status < 0 || srv->closing)
		return;
	if (srv->nconns >= srv->o.max_conns) {
		reject(srv, server);
		return;
	}
	struct conn *c = shoal_calloc(1, sizeof(*c));
	if (!c) {
		reject(srv, server);
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
		conn_close(c);
		return;
	}
	c->reading = true;
	timer_set(c, srv->o.idle_timeout_ms);
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
		conn_close(list_entry(pos, struct conn, link));
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
			conn_close(c);
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
	conn_close(c);
	conn_free(c);
	return 0;
}
