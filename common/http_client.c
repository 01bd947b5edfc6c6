/*
 * The HTTP/1.1 client: see http.h. One request per connection ("Connection:
 * close"), which is all the CLI and the tests need. The exchange is a small
 * state machine: connect, write the request, parse the answer with
 * http-parser as it arrives, and finish. finish() records the result and
 * closes both handles; on_done runs from the last close callback, so when it
 * runs nothing of the exchange is left on the loop. A timeout covers the
 * whole exchange. The body collected for on_done is bounded.
 */
#include "common/alloc.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/http.h"
#include "common/list.h"

#include <arpa/inet.h>
#include <errno.h>
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#define MAX_RESP_HEADERS 128
#define MAX_RESP_HEADER_BYTES (64 * 1024)

struct client {
	uv_loop_t *loop;
	union {
		uv_handle_t handle;
		uv_stream_t stream;
		uv_tcp_t tcp;
		uv_pipe_t pipe;
	} h;
	uv_connect_t connect;
	uv_write_t write;
	uv_timer_t timer;
	int handles;
	http_parser parser;
	struct buf out;
	struct buf body;
	struct buf hraw;
	size_t hoff[MAX_RESP_HEADERS];
	size_t nh;
	int last;
	struct http_client_cbs cbs;
	uint64_t timeout_ms;
	bool head_method;
	bool done;
	int rc;
};

int http_addr_parse(const char *host, struct http_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (strncmp(host, "unix://", 7) == 0) {
		const char *p = host + 7;
		if (*p != '/' || strlen(p) >= sizeof(out->path))
			return -EINVAL;
		out->is_unix = true;
		strcpy(out->path, p);
		return 0;
	}
	if (strncmp(host, "tcp://", 6) != 0)
		return -EINVAL;
	char tmp[128];
	if (snprintf(tmp, sizeof(tmp), "%s", host + 6) >= (int)sizeof(tmp))
		return -EINVAL;
	char *a = tmp, *colon;
	if (*a == '[') {
		char *end = strchr(a, ']');
		if (!end || end[1] != ':')
			return -EINVAL;
		*end = '\0';
		a++;
		colon = end + 1;
	} else {
		colon = strrchr(a, ':');
		if (!colon)
			return -EINVAL;
		*colon = '\0';
	}
	char *endp;
	long port = strtol(colon + 1, &endp, 10);
	if (*endp || endp == colon + 1 || port <= 0 || port > 65535)
		return -EINVAL;
	if (strcmp(a, "localhost") == 0)
		a = (char *)"127.0.0.1";
	if (uv_ip4_addr(a, (int)port, (struct sockaddr_in *)&out->sa) &&
	    uv_ip6_addr(a, (int)port, (struct sockaddr_in6 *)&out->sa))
		return -EINVAL;
	return 0;
}

static void on_closed(uv_handle_t *h)
{
	struct client *c = h->data;
	if (--c->handles > 0)
		return;
	if (c->cbs.on_done)
		c->cbs.on_done(c->rc, c->parser.status_code,
			       c->body.data ? c->body.data : "", c->body.len,
			       c->cbs.arg);
	buf_fini(&c->out);
	buf_fini(&c->body);
	buf_fini(&c->hraw);
	shoal_free(c);
}

static void finish(struct client *c, int rc)
{
	if (c->done)
		return;
	c->done = true;
	c->rc = rc;
	uv_close(&c->h.handle, on_closed);
	uv_close((uv_handle_t *)&c->timer, on_closed);
}

/* --- the answer ---------------------------------------------------------- */

static struct client *pclient(http_parser *p)
{
	return container_of(p, struct client, parser);
}

static int hraw_add(struct client *c, const char *at, size_t len)
{
	return buf_append(&c->hraw, at, len) ? -1 : 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
	struct client *c = pclient(p);
	if (c->last != 1) {
		if (c->nh == MAX_RESP_HEADERS)
			return -1;
		if (c->nh && hraw_add(c, "", 1))
			return -1;
		c->hoff[c->nh++] = c->hraw.len;
		c->last = 1;
	}
	return hraw_add(c, at, len);
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
	struct client *c = pclient(p);
	if (c->last != 2) {
		if (hraw_add(c, "", 1))
			return -1;
		c->last = 2;
	}
	return hraw_add(c, at, len);
}

static int on_headers_complete(http_parser *p)
{
	struct client *c = pclient(p);
	if (hraw_add(c, "", 1) || (c->last == 1 && hraw_add(c, "", 1)))
		return -1;
	if (c->cbs.on_head) {
		struct http_header *hs =
			shoal_calloc(c->nh ? c->nh : 1, sizeof(*hs));
		if (!hs)
			return -1;
		for (size_t i = 0; i < c->nh; i++) {
			hs[i].name = c->hraw.data + c->hoff[i];
			hs[i].value = hs[i].name + strlen(hs[i].name) + 1;
		}
		c->cbs.on_head(p->status_code, hs, c->nh, c->cbs.arg);
		shoal_free(hs);
	}
	return c->head_method ? 1 : 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct client *c = pclient(p);
	if (c->cbs.on_data) {
		c->cbs.on_data(at, len, c->cbs.arg);
		return 0;
	}
	int rc = buf_append(&c->body, at, len);
	if (rc)
		c->rc = rc;
	return rc ? -1 : 0;
}

static int on_message_complete(http_parser *p)
{
	finish(pclient(p), 0);
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings settings = {
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	b->base = shoal_malloc(64 * 1024);
	b->len = b->base ? 64 * 1024 : 0;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct client *c = s->data;
	if (n == 0 || c->done) {
		shoal_free(b->base);
		return;
	}
	if (n < 0) {
		shoal_free(b->base);
		/* EOF may end a close-delimited body. */
		if (n == UV_EOF)
			http_parser_execute(&c->parser, &settings, NULL, 0);
		finish(c, n == UV_EOF ? SHOAL_ECLOSED : (int)n);
		return;
	}
	http_parser_execute(&c->parser, &settings, b->base, (size_t)n);
	shoal_free(b->base);
	enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
	if (e != HPE_OK && e != HPE_PAUSED)
		finish(c, c->rc ? c->rc : SHOAL_EHTTP);
}

static void on_written(uv_write_t *w, int status)
{
	struct client *c = w->data;
	if (status < 0)
		finish(c, status);
}

static void on_connect(uv_connect_t *req, int status)
{
	struct client *c = req->data;
	if (c->done)
		return;
	if (status < 0) {
		finish(c, status);
		return;
	}
	uv_buf_t b = uv_buf_init(c->out.data, (unsigned)c->out.len);
	c->write.data = c;
	int rc = uv_write(&c->write, &c->h.stream, &b, 1, on_written);
	if (rc == 0)
		rc = uv_read_start(&c->h.stream, on_alloc, on_read);
	if (rc < 0)
		finish(c, rc);
}

static void on_timeout(uv_timer_t *t)
{
	finish(t->data, -ETIMEDOUT);
}

static int build_request(struct client *c, const struct http_addr *addr,
			 const struct http_client_req *req)
{
	int rc = buf_printf(&c->out,
			    "%s %s HTTP/1.1\r\nHost: %s\r\n"
			    "User-Agent: shoal/" SHOAL_VERSION "\r\n"
			    "Connection: close\r\n",
			    req->method, req->path,
			    addr->is_unix ? "localhost" : "shoald");
	for (size_t i = 0; rc == 0 && i < req->nheaders; i++) {
		if (strpbrk(req->headers[i].name, "\r\n:") ||
		    strpbrk(req->headers[i].value, "\r\n"))
			return -EINVAL;
		rc = buf_printf(&c->out, "%s: %s\r\n", req->headers[i].name,
				req->headers[i].value);
	}
	if (rc == 0 && (req->body_len || strcmp(req->method, "POST") == 0 ||
			strcmp(req->method, "PUT") == 0))
		rc = buf_printf(&c->out,
				"Content-Type: %s\r\nContent-Length: %zu\r\n",
				req->content_type ? req->content_type
						  : "application/json",
				req->body_len);
	if (rc == 0)
		rc = buf_append_str(&c->out, "\r\n");
	if (rc == 0 && req->body_len)
		rc = buf_append(&c->out, req->body, req->body_len);
	return rc;
}

int http_client_start(uv_loop_t *loop, const struct http_addr *addr,
		      const struct http_client_req *req,
		      const struct http_client_cbs *cbs)
{
	if (strpbrk(req->method, " \r\n") || strpbrk(req->path, " \r\n"))
		return -EINVAL;
	struct client *c = shoal_calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->loop = loop;
	c->cbs = *cbs;
	c->head_method = strcmp(req->method, "HEAD") == 0;
	buf_init(&c->out, 0);
	buf_init(&c->body, req->max_body_bytes ?: 64 * 1024 * 1024);
	buf_init(&c->hraw, MAX_RESP_HEADER_BYTES);
	http_parser_init(&c->parser, HTTP_RESPONSE);
	int rc = build_request(c, addr, req);
	if (rc < 0)
		goto err_free;
	if (addr->is_unix)
		rc = uv_pipe_init(loop, &c->h.pipe, 0);
	else
		rc = uv_tcp_init(loop, &c->h.tcp);
	if (rc < 0)
		goto err_free;
	c->h.handle.data = c;
	uv_timer_init(loop, &c->timer);
	c->timer.data = c;
	c->handles = 2;
	c->connect.data = c;
	if (addr->is_unix) {
		uv_pipe_connect(&c->connect, &c->h.pipe, addr->path,
				on_connect);
	} else {
		rc = uv_tcp_connect(&c->connect, &c->h.tcp,
				    (const struct sockaddr *)&addr->sa,
				    on_connect);
		if (rc < 0) {
			c->cbs.on_done =
				NULL; /* failed calls never call back */
			finish(c, rc);
			return rc;
		}
	}
	if (req->timeout_ms)
		uv_timer_start(&c->timer, on_timeout, req->timeout_ms, 0);
	return 0;
err_free:
	buf_fini(&c->out);
	buf_fini(&c->body);
	buf_fini(&c->hraw);
	shoal_free(c);
	return rc;
}

/* --- the synchronous wrapper --------------------------------------------- */

struct fetch {
	struct http_result *out;
	int rc;
};

static void fetch_head(int status, const struct http_header *hs, size_t n,
		       void *arg)
{
	struct fetch *f = arg;
	size_t bytes = 0;
	for (size_t i = 0; i < n; i++)
		bytes += strlen(hs[i].name) + strlen(hs[i].value) + 2;
	/* One block: the array, then the strings it points into. */
	struct http_header *copy = shoal_malloc(n * sizeof(*copy) + bytes + 1);
	if (!copy) {
		f->rc = -ENOMEM;
		return;
	}
	char *p = (char *)(copy + n);
	for (size_t i = 0; i < n; i++) {
		copy[i].name = p;
		p = stpcpy(p, hs[i].name) + 1;
		copy[i].value = p;
		p = stpcpy(p, hs[i].value) + 1;
	}
	f->out->headers = copy;
	f->out->nheaders = n;
}

static void fetch_done(int rc, int status, const char *body, size_t len,
		       void *arg)
{
	struct fetch *f = arg;
	if (f->rc == 0)
		f->rc = rc;
	f->out->status = status;
	f->out->body = shoal_malloc(len + 1);
	if (!f->out->body) {
		f->rc = f->rc ? f->rc : -ENOMEM;
		return;
	}
	memcpy(f->out->body, body, len);
	f->out->body[len] = '\0';
	f->out->body_len = len;
}

int http_client_fetch(const char *host, const struct http_client_req *req,
		      struct http_result *out)
{
	struct http_addr addr;
	memset(out, 0, sizeof(*out));
	int rc = http_addr_parse(host, &addr);
	if (rc < 0)
		return rc;
	uv_loop_t loop;
	rc = uv_loop_init(&loop);
	if (rc < 0)
		return rc;
	struct fetch f = {.out = out};
	struct http_client_cbs cbs = {
		.on_head = fetch_head,
		.on_done = fetch_done,
		.arg = &f,
	};
	rc = http_client_start(&loop, &addr, req, &cbs);
	/* Also when the start failed: a failed connect closes the handles
	 * it opened, and only the loop finishes closing (and freeing) them. */
	uv_run(&loop, UV_RUN_DEFAULT);
	if (rc == 0)
		rc = f.rc;
	uv_loop_close(&loop);
	if (rc < 0)
		http_result_fini(out);
	return rc;
}

const char *http_result_header(const struct http_result *r, const char *name)
{
	for (size_t i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

void http_result_fini(struct http_result *r)
{
	shoal_free(r->headers);
	shoal_free(r->body);
	memset(r, 0, sizeof(*r));
}
