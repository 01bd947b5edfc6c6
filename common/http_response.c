/*
 * Responses of the HTTP server: heads, whole bodies, chunked streams,
 * hijacked connections, and the small text helpers they share (status
 * texts, JSON escaping, percent-decoding). See http.h for the contract and
 * http_server.c for the connection life cycle. Every write goes through
 * http__conn_write(), which copies the bytes into one write request, so
 * callers' buffers are never held past the call.
 */
#define LOG_MODULE "http"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/http.h"
#include "common/http_conn.h"
#include "common/http_internal.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

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

struct http_request *http_response_request(struct http_response *res)
{
	return &res->req;
}

/* --- writing ------------------------------------------------------------- */

static void on_write(uv_write_t *req, int status)
{
	struct wreq *w = container_of(req, struct wreq, req);
	struct conn *c = w->c;
	c->queued -= w->len;
	shoal_free(w);
	if (status < 0) {
		http__conn_close(c);
		return;
	}
	if (c->res.need_drain && c->queued <= c->srv->o.max_queued_bytes / 2) {
		c->res.need_drain = false;
		/* Not once the response is finished: its owner may be gone. */
		if (c->res.drain_cb && !c->closing &&
		    (c->res.state == RES_STREAMING ||
		     c->res.state == RES_HIJACKED))
			c->res.drain_cb(&c->res, c->res.drain_arg);
	}
	if (c->queued == 0 && c->flushing)
		http__conn_flushed(c);
}

/* Queue @n pieces as one write; 0, -ECONNRESET or -ENOMEM. */
int http__conn_write(struct conn *c, const uv_buf_t *bufs, int n)
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
		rc = http__conn_write(c, v, head || nobody || !len ? 1 : 2);
	}
	buf_fini(&b);
	if (rc < 0)
		c->keep_alive = false;
	if (rc < 0 && rc != -ECONNRESET)
		http__conn_close(c);
	http__response_done(c);
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
		rc = http__conn_write(c, &v, 1);
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
	return chunk ? http__conn_write(c, v, 3)
		     : http__conn_write(c, v + 1, 1);
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
		rc = http__conn_write(c, &v, 1);
	}
	if (rc == -ENOMEM) {
		c->keep_alive = false;
		http__conn_close(c);
	}
	http__response_done(c);
	return rc == -ECONNRESET ? 0 : rc;
}

int http_response_abort(struct http_response *res)
{
	struct conn *c = res_conn(res);
	if (res->state != RES_STREAMING)
		return -EINVAL;
	c->keep_alive = false; /* no last chunk: closing says "truncated" */
	http__response_done(c);
	return 0;
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
	http__timer_stop(c);
	if (!rc)
		rc = build_head(c, &b, status, content_type, -1, false);
	c->keep_alive = keep;
	if (!rc) {
		uv_buf_t v = uv_buf_init(b.data, (unsigned)b.len);
		rc = http__conn_write(c, &v, 1);
	}
	buf_fini(&b);
	if (rc)
		return rc;
	res->state = RES_HIJACKED;
	res->on_read = on_read;
	res->read_arg = arg;
	c->keep_alive = false;
	/*
	 * Leftover bytes go first, then reading resumes, from the loop and
	 * not from inside the handler; nothing is read meanwhile, so the
	 * order of the client's bytes is kept.
	 */
	if (c->reading) {
		uv_read_stop(&c->h.stream);
		c->reading = false;
	}
	http__timer_set(c, 0);
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
	http__response_done(c);
}
