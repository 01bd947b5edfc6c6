/*
 * Unit tests of common/http: the server runs its libuv loop in a thread of
 * its own and the tests talk to it over a unix socket with plain blocking
 * sockets, parsing answers with http-parser, so what is tested is the wire
 * behaviour a client sees: keep-alive, pipelining, limits, timeouts, the
 * four kinds of responses, many clients, failed allocations and leaks.
 * Each test starts and stops its own server and checks that every
 * allocation made meanwhile was released.
 */
/* cmocka needs these first */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <ctype.h>
#include <errno.h>
#include <http_parser.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/http.h"
#include "common/http_internal.h"

/* --- the server thread --------------------------------------------------- */

struct srv {
	pthread_t thread;
	sem_t ready;
	uv_loop_t loop;
	uv_async_t stop;
	struct http_server *http;
	struct http_server_opts opts;
	char dir[64];
	char path[128];
	int listen_rc;
	int64_t live_before;
};

static atomic_int closes_seen;
static atomic_int handled;
static struct srv S;

static void async_reply(uv_timer_t *t)
{
	struct http_response *res = t->data;
	http_response_send(res, 200, "text/plain", "later", 5);
	uv_close((uv_handle_t *)t, (uv_close_cb)shoal_free);
}

static void stream_closed(struct http_response *res, void *arg)
{
	atomic_fetch_add(&closes_seen, 1);
}

static void hijack_read(struct http_response *res, const char *data, ssize_t n,
			void *arg)
{
	if (n == UV_EOF) {
		http_response_hijack_write(res, "bye", 3);
		http_response_hijack_close(res);
		return;
	}
	if (n < 0)
		return;
	char up[256];
	size_t len = (size_t)n < sizeof(up) ? (size_t)n : sizeof(up);
	for (size_t i = 0; i < len; i++)
		up[i] = (char)toupper((unsigned char)data[i]);
	http_response_hijack_write(res, up, len);
}

/* What a spooled body looked like to its handler: "fd=1 len=N sum=S
 * mem=M" (S: the byte sum read back from the file, M: req->body's length). */
static void spooled_reply(struct http_request *req, struct http_response *res)
{
	char out[128], chunk[4096];
	uint64_t sum = 0, got = 0;
	ssize_t n;
	while (req->body_fd >= 0 &&
	       (n = read(req->body_fd, chunk, sizeof(chunk))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			sum += (unsigned char)chunk[i];
		got += (uint64_t)n;
	}
	int len = snprintf(out, sizeof(out),
			   "fd=%d len=%zu got=%llu sum=%llu "
			   "mem=%zu",
			   req->body_fd >= 0, req->body_len,
			   (unsigned long long)got, (unsigned long long)sum,
			   strlen(req->body));
	http_response_send(res, 200, "text/plain", out, (size_t)len);
}

/* The tests' body policy: /spooled bodies go to a file (up to 8 MiB),
 * /small ones are limited to 100 bytes, others get the defaults. */
static void policy(const struct http_request *req, struct http_body_policy *p,
		   void *arg)
{
	if (strcmp(req->path, "/spooled") == 0) {
		p->spool = true;
		p->max_bytes = 8u << 20;
	} else if (strcmp(req->path, "/small") == 0) {
		p->max_bytes = 100;
	}
}

static void handler(struct http_request *req, struct http_response *res,
		    void *arg)
{
	atomic_fetch_add(&handled, 1);
	if (strcmp(req->path, "/echo") == 0) {
		char out[512];
		const char *i = http_request_query(req, "i");
		int n = snprintf(out, sizeof(out), "%s %s i=%s body=%s",
				 req->method, req->path, i ? i : "-",
				 req->body);
		http_response_header(res, "X-Test", "yes");
		http_response_send(res, 200, "text/plain", out,
				   (size_t)n < sizeof(out) ? (size_t)n
							   : sizeof(out));
	} else if (strcmp(req->path, "/async") == 0) {
		uv_timer_t *t = shoal_malloc(sizeof(*t));
		if (!t) {
			http_response_send_error(res, 500, "oom");
			return;
		}
		uv_timer_init(&S.loop, t);
		t->data = res;
		uv_timer_start(t, async_reply,
			       http_request_query(req, "slow") ? 200 : 10, 0);
	} else if (strcmp(req->path, "/stream") == 0) {
		http_response_begin(res, 200, "text/plain");
		http_response_write(res, "one,", 4);
		http_response_write(res, "two,", 4);
		http_response_write(res, "three", 5);
		http_response_end(res);
	} else if (strcmp(req->path, "/forever") == 0) {
		http_response_on_close(res, stream_closed, NULL);
		http_response_begin(res, 200, "text/plain");
		http_response_write(res, "tick", 4);
	} else if (strcmp(req->path, "/hijack") == 0) {
		if (http_response_hijack(res, 101,
					 "application/vnd.docker.raw-stream",
					 hijack_read, NULL) < 0)
			http_response_send_error(res, 500, "hijack failed");
	} else if (strcmp(req->path, "/nothing") == 0) {
		http_response_send(res, 204, NULL, NULL, 0);
	} else if (strcmp(req->path, "/spooled") == 0) {
		spooled_reply(req, res);
	} else if (strcmp(req->path, "/broken") == 0) {
		http_response_begin(res, 200, "text/plain");
		http_response_write(res, "partial", 7);
		http_response_abort(res);
	} else {
		http_response_send(res, 200, "text/plain", "ok", 2);
	}
}

static void on_closed_async(uv_handle_t *h)
{
}

static void on_server_closed(void *arg)
{
	uv_close((uv_handle_t *)&S.stop, on_closed_async);
}

static void on_stop(uv_async_t *a)
{
	http_server_close(S.http, on_server_closed, NULL);
}

static void *server_main(void *arg)
{
	uv_loop_init(&S.loop);
	uv_async_init(&S.loop, &S.stop, on_stop);
	S.listen_rc = http_server_new(&S.loop, &S.opts, handler, NULL, &S.http);
	if (S.listen_rc == 0)
		S.listen_rc = http_server_listen_unix(S.http, S.path, 0660);
	sem_post(&S.ready);
	uv_run(&S.loop, UV_RUN_DEFAULT);
	uv_loop_close(&S.loop);
	return NULL;
}

static void server_start(const struct http_server_opts *opts)
{
	memset(&S, 0, sizeof(S));
	if (opts)
		S.opts = *opts;
	S.live_before = shoal_alloc_live();
	strcpy(S.dir, "/tmp/shoal-http-test.XXXXXX");
	assert_non_null(mkdtemp(S.dir));
	snprintf(S.path, sizeof(S.path), "%s/s.sock", S.dir);
	sem_init(&S.ready, 0, 0);
	atomic_store(&closes_seen, 0);
	atomic_store(&handled, 0);
	assert_int_equal(pthread_create(&S.thread, NULL, server_main, NULL), 0);
	sem_wait(&S.ready);
	assert_int_equal(S.listen_rc, 0);
}

/* Wait for the server thread after a stop was requested. */
static void server_join(void)
{
	pthread_join(S.thread, NULL);
	sem_destroy(&S.ready);
	struct stat st;
	assert_int_not_equal(stat(S.path, &st), 0); /* socket removed */
	rmdir(S.dir);
	assert_int_equal(shoal_alloc_live(), S.live_before);
}

static void server_stop(void)
{
	uv_async_send(&S.stop);
	server_join();
}

/* --- a blocking client ---------------------------------------------------- */

struct tc {
	int fd;
	http_parser p;
	char in[8192];
	size_t in_len;
	int status;
	char body[65536];
	size_t body_len;
	bool done;
	bool head;
};

static int tc_on_body(http_parser *p, const char *at, size_t len)
{
	struct tc *t = p->data;
	size_t room = sizeof(t->body) - 1 - t->body_len;
	len = len < room ? len : room;
	memcpy(t->body + t->body_len, at, len);
	t->body_len += len;
	t->body[t->body_len] = '\0';
	return 0;
}

static int tc_on_headers(http_parser *p)
{
	struct tc *t = p->data;
	t->status = p->status_code;
	return t->head ? 1 : 0;
}

static int tc_on_complete(http_parser *p)
{
	struct tc *t = p->data;
	t->done = true;
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings tc_settings = {
	.on_headers_complete = tc_on_headers,
	.on_body = tc_on_body,
	.on_message_complete = tc_on_complete,
};

static int tc_open(struct tc *t)
{
	memset(t, 0, sizeof(*t));
	t->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, S.path);
	if (connect(t->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(t->fd);
		return -errno;
	}
	struct timeval tv = {.tv_sec = 10};
	setsockopt(t->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	http_parser_init(&t->p, HTTP_RESPONSE);
	t->p.data = t;
	return 0;
}

static void tc_send(struct tc *t, const char *s, size_t len)
{
	while (len) {
		ssize_t n = send(t->fd, s, len, MSG_NOSIGNAL);
		if (n <= 0)
			return; /* the server may have closed: reads tell */
		s += n;
		len -= (size_t)n;
	}
}

static void tc_sends(struct tc *t, const char *s)
{
	tc_send(t, s, strlen(s));
}

/* Read one response; its status, or -1 when the connection ended first. */
static int tc_read(struct tc *t)
{
	t->done = false;
	t->status = 0;
	t->body_len = 0;
	t->body[0] = '\0';
	for (;;) {
		if (t->in_len) {
			size_t n = http_parser_execute(&t->p, &tc_settings,
						       t->in, t->in_len);
			memmove(t->in, t->in + n, t->in_len - n);
			t->in_len -= n;
			if (HTTP_PARSER_ERRNO(&t->p) == HPE_PAUSED)
				http_parser_pause(&t->p, 0);
			else if (HTTP_PARSER_ERRNO(&t->p) != HPE_OK)
				return -1;
			if (t->done)
				return t->status;
			if (t->in_len)
				continue;
		}
		ssize_t n = recv(t->fd, t->in, sizeof(t->in), 0);
		if (n <= 0) {
			http_parser_execute(&t->p, &tc_settings, NULL, 0);
			return t->done ? t->status : -1;
		}
		t->in_len = (size_t)n;
	}
}

/* Whether the server closed the connection (EOF or reset) in time. */
static bool tc_closed(struct tc *t)
{
	char c;
	ssize_t n = recv(t->fd, &c, 1, 0);
	return n == 0 || (n < 0 && errno == ECONNRESET);
}

static void tc_close(struct tc *t)
{
	close(t->fd);
}

/* --- tests ---------------------------------------------------------------- */

static void
answers_a_thousand_keep_alive_requests_on_one_connection(void **state)
{
	server_start(NULL);
	struct tc t;
	assert_int_equal(tc_open(&t), 0);
	for (int i = 0; i < 1000; i++) {
		char req[128], want[64];
		snprintf(req, sizeof(req),
			 "GET /echo?i=%d HTTP/1.1\r\nHost: x\r\n\r\n", i);
		tc_sends(&t, req);
		assert_int_equal(tc_read(&t), 200);
		snprintf(want, sizeof(want), "GET /echo i=%d body=", i);
		assert_string_equal(t.body, want);
	}
	tc_close(&t);
	server_stop();
}

static void answers_pipelined_requests_in_order(void **state)
{
	server_start(NULL);
	struct tc t;
	assert_int_equal(tc_open(&t), 0);
	tc_sends(&t, "GET /echo?i=1 HTTP/1.1\r\n\r\n"
		     "POST /echo?i=2 HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
		     "POST /echo?i=3 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
		     "\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
	assert_int_equal(tc_read(&t), 200);
	assert_string_equal(t.body, "GET /echo i=1 body=");
	assert_int_equal(tc_read(&t), 200);
	assert_string_equal(t.body, "POST /echo i=2 body=hello");
	assert_int_equal(tc_read(&t), 200);
	assert_string_equal(t.body, "POST /echo i=3 body=abcde");
	tc_close(&t);
	server_stop();
}

static void decodes_query_parameters(void **state)
{
	server_start(NULL);
	struct tc t;
	assert_int_equal(tc_open(&t), 0);
	tc_sends(&t, "GET /ech%6f?a=1&i=x%20y+z&i=second HTTP/1.1\r\n\r\n");
	assert_int_equal(tc_read(&t), 200);
	assert_string_equal(t.body, "GET /echo i=x y z body=");
	tc_sends(&t, "GET /echo?i=%zz HTTP/1.1\r\n\r\n");
	assert_int_equal(tc_read(&t), 400);
	assert_non_null(strstr(t.body, "\"message\""));
	tc_close(&t);
	server_stop();
}

static void serves_a_hundred_clients_at_once(void **state)
{
	server_start(NULL);
	static struct tc t[100];
	for (int i = 0; i < 100; i++)
		assert_int_equal(tc_open(&t[i]), 0);
	for (int i = 0; i < 100; i++) {
		char req[64];
		snprintf(req, sizeof(req), "GET /echo?i=%d HTTP/1.1\r\n\r\n",
			 i);
		tc_sends(&t[i], req);
	}
	for (int i = 99; i >= 0; i--) {
		char want[64];
		assert_int_equal(tc_read(&t[i]), 200);
		snprintf(want, sizeof(want), "GET /echo i=%d body=", i);
		assert_string_equal(t[i].body, want);
		tc_close(&t[i]);
	}
	server_stop();
}

static void expect_400_and_close(const char *req)
{
	struct tc t;
	assert_int_equal(tc_open(&t), 0);
	tc_sends(&t, req);
	assert_int_equal(tc_read(&t), 400);
	assert_non_null(strstr(t.body, "{\"message\":\"malformed"));
	assert_true(tc_closed(&t));
	tc_close(&t);
}

static void malformed_requests_get_400_with_a_json_message(void **state)
{
	server_start(NULL);
	expect_400_and_close("HELLO THERE\r\n\r\n");
	expect_400_and_close("\x01\x02\x03garbage\r\n\r\n");
	expect_400_and_close("FROB / HTTP/1.1\r\n\r\n");
	expect_400_and_close("GET / HTTP/9.9x\r\n\r\n");
	expect_400_and_close("POST /echo HTTP/1.1\r\nTransfer-Encoding: "
			     "chunked\r\n\r\nzz\r\nabc\r\n");
	expect_400_and_close("POST /echo HTTP/1.1\r\nContent-Length: 1\r\n"
			     "Content-Length: 2\r\n\r\nab");
	/* HTTP/1.1 without Host is fine over a unix socket. */
	struct tc t;
	assert_int_equal(tc_open(&t), 0);
	tc_sends(&t, "GET /echo HTTP/1.1\r\n\r\n");
	assert_int_equal(tc_read(&t), 200);
	tc_close(&t);
	server_stop();
}

static void oversized_headers_get_431_and_bodies_413(void **state)
{
	struct http_server_opts o = {.max_header_bytes = 1024,
				     .max_body_bytes = 1000};
	server_start(&o);
	struct tc t;
	char big[4096];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(tc_open(&t), 0);
	tc_sends(&t, "GET /echo HTTP/1.1\r\nX-Big: ");
	tc_sends(&t, big);
	tc_sends(&t, "\r\n\r\n");
	assert_int_equal(tc_read(&t), 431);
	assert_non_null(strstr(t.body, "\"message\""));
	tc_close(&t);

	assert_int_equal(tc_open(&t), 0);
	tc_sends(&t, "POST /echo HTTP/1.1\r\nContent-Length: 5000\r\n\r\n");
	assert_int_equal(tc_read(&t), 413);
	tc_close(&t);

	assert_int_equal(tc_open(&t), 0);
	tc_sends(&t, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
		     "\r\nfff\r\n");
	tc_sends(&t, big);
	assert_int_equal(tc_read(&t), 413);
	tc_close(&t);
	server_stop();
}

static void idle_client_is_closed_after_the_idle_timeout(void **state)
{
	struct http_server_opts o = {.idle_timeout_ms = 100,
				     .request_timeout_ms = 150};
	server_start(&o);
	struct tc t;
	assert_int_equal(tc_open(&t), 0);
	tc_sends(&t, "GET /echo HTTP/1.1\r\n\r\n");
	assert_int_equal(tc_read(&t), 200);
	assert_true(tc_closed(&t)); /* then nothing: closed */
	tc_close(&t);

	assert_int_equal(tc_open(&t), 0);
	tc_sends(&t, "GET /echo HTTP/1.1\r\nHost:"); /* and stall */
	assert_int_equal(tc_read(&t), 408);
	tc_close(&t);
	server_stop();
}

static void async_stream_and_empty_responses_reach_the_client(void **state)
{
	server_start(NULL);
	struct tc t;
	assert_int_equal(tc_open(&t), 0);
	tc_sends(&t, "GET /async HTTP/1.1\r\n\r\n");
	assert_int_equal(tc_read(&t), 200);
	assert_string_equal(t.body, "later");
	tc_sends(&t, "GET /stream HTTP/1.1\r\n\r\n");
	assert_int_equal(tc_read(&t), 200);
	assert_string_equal(t.body, "one,two,three");
	tc_sends(&t, "GET /nothing HTTP/1.1\r\n\r\n");
	assert_int_equal(tc_read(&t), 204);
	t.head = true;
	tc_sends(&t, "HEAD /echo HTTP/1.1\r\n\r\n");
	assert_int_equal(tc_read(&t), 200);
	assert_int_equal(t.body_len, 0);
	t.head = false;
	tc_sends(&t, "GET /stream HTTP/1.0\r\n\r\n");
	assert_int_equal(tc_read(&t), 200); /* close-delimited */
	assert_string_equal(t.body, "one,two,three");
	tc_close(&t);
	server_stop();
}

static void stream_handler_learns_when_the_client_leaves(void **state)
{
	server_start(NULL);
	struct tc t;
	assert_int_equal(tc_open(&t), 0);
	tc_sends(&t, "GET /forever HTTP/1.1\r\n\r\n");
	char buf[256];
	assert_true(recv(t.fd, buf, sizeof(buf), 0) > 0);
	tc_close(&t);
	for (int i = 0; i < 500 && atomic_load(&closes_seen) == 0; i++)
		usleep(10000);
	assert_int_equal(atomic_load(&closes_seen), 1);
	server_stop();
}

static void hijacked_connection_carries_raw_bytes_both_ways(void **state)
{
	server_start(NULL);
	struct tc t;
	assert_int_equal(tc_open(&t), 0);
	tc_sends(&t, "POST /hijack HTTP/1.1\r\nConnection: Upgrade\r\n"
		     "Upgrade: tcp\r\n\r\nearly");
	char buf[1024];
	size_t len = 0;
	while (!strstr(buf, "EARLY") && len < sizeof(buf) - 1) {
		ssize_t n = recv(t.fd, buf + len, sizeof(buf) - 1 - len, 0);
		assert_true(n > 0);
		len += (size_t)n;
		buf[len] = '\0';
	}
	assert_non_null(strstr(buf, "HTTP/1.1 101 Switching Protocols"));
	assert_non_null(strstr(buf, "Upgrade: tcp"));
	tc_sends(&t, "more");
	ssize_t n = recv(t.fd, buf, 4, MSG_WAITALL);
	assert_int_equal(n, 4);
	assert_memory_equal(buf, "MORE", 4);
	shutdown(t.fd, SHUT_WR); /* the client's stdin ended */
	n = recv(t.fd, buf, 3, MSG_WAITALL);
	assert_int_equal(n, 3);
	assert_memory_equal(buf, "bye", 3);
	assert_true(tc_closed(&t));
	tc_close(&t);
	server_stop();
}

static void connections_past_the_limit_get_503(void **state)
{
	struct http_server_opts o = {.max_conns = 2};
	server_start(&o);
	struct tc a, b, c;
	assert_int_equal(tc_open(&a), 0);
	assert_int_equal(tc_open(&b), 0);
	tc_sends(&a, "GET / HTTP/1.1\r\n\r\n");
	assert_int_equal(tc_read(&a), 200);
	tc_sends(&b, "GET / HTTP/1.1\r\n\r\n");
	assert_int_equal(tc_read(&b), 200);
	assert_int_equal(tc_open(&c), 0);
	assert_int_equal(tc_read(&c), 503);
	assert_non_null(strstr(c.body, "too many connections"));
	tc_close(&c);
	tc_sends(&a, "GET / HTTP/1.1\r\n\r\n"); /* the others go on */
	assert_int_equal(tc_read(&a), 200);
	tc_close(&a);
	tc_close(&b);
	server_stop();
}

static void failed_allocations_never_crash_or_leak(void **state)
{
	server_start(NULL);
	struct tc t;
	int answered = 0;
	/*
	 * libuv aborts when growing its table of fd watchers fails (outside
	 * Shoal's control); grow it first with many sockets at once, so the
	 * armed failures below land in Shoal's code.
	 */
	static struct tc warm[64];
	for (int i = 0; i < 64; i++) {
		assert_int_equal(tc_open(&warm[i]), 0);
		tc_sends(&warm[i], "GET / HTTP/1.1\r\n\r\n");
	}
	for (int i = 0; i < 64; i++) {
		assert_int_equal(tc_read(&warm[i]), 200);
		tc_close(&warm[i]);
	}
	usleep(20000);
	for (int n = 0; n < 40; n++) {
		assert_int_equal(tc_open(&t), 0);
		shoal_alloc_fail_after(n);
		tc_sends(&t, "POST /echo?i=7&x=y HTTP/1.1\r\nA: b\r\n"
			     "Content-Length: 3\r\n\r\nabc");
		int st = tc_read(&t);
		shoal_alloc_fail_after(-1);
		assert_true(st == -1 || st == 200 || st == 500 || st == 503);
		answered += st == 200;
		tc_close(&t);
	}
	assert_true(answered > 0);
	assert_int_equal(tc_open(&t), 0); /* and it still works */
	tc_sends(&t, "GET /echo HTTP/1.1\r\n\r\n");
	assert_int_equal(tc_read(&t), 200);
	tc_close(&t);
	usleep(20000);
	server_stop();
}

struct pieces {
	char data[256];
	size_t n;
	int head_status;
};

static void on_piece(const char *data, size_t len, void *arg)
{
	struct pieces *p = arg;
	if (p->n + len < sizeof(p->data)) {
		memcpy(p->data + p->n, data, len);
		p->n += len;
	}
}

static void on_head(int status, const struct http_header *h, size_t n,
		    void *arg)
{
	((struct pieces *)arg)->head_status = status;
}

static void on_done_stop(int rc, int status, const char *body, size_t len,
			 void *arg)
{
	struct pieces *p = arg;
	p->data[p->n] = '\0';
	p->head_status = rc < 0 ? rc : p->head_status;
}

static void client_fetches_whole_streamed_and_timed_out_answers(void **state)
{
	server_start(NULL);
	char host[200];
	snprintf(host, sizeof(host), "unix://%s", S.path);
	struct http_result r;
	struct http_client_req req = {.method = "POST",
				      .path = "/echo?i=5",
				      .body = "xyz",
				      .body_len = 3,
				      .timeout_ms = 5000};
	assert_int_equal(http_client_fetch(host, &req, &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "POST /echo i=5 body=xyz");
	assert_string_equal(http_result_header(&r, "x-test"), "yes");
	http_result_fini(&r);

	req = (struct http_client_req){.method = "HEAD", .path = "/echo"};
	assert_int_equal(http_client_fetch(host, &req, &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 0);
	http_result_fini(&r);

	/* Body pieces to a callback, on the caller's loop. */
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct http_addr addr;
	assert_int_equal(http_addr_parse(host, &addr), 0);
	struct pieces p = {0};
	struct http_client_cbs cbs = {.on_head = on_head,
				      .on_data = on_piece,
				      .on_done = on_done_stop,
				      .arg = &p};
	req = (struct http_client_req){.method = "GET", .path = "/stream"};
	assert_int_equal(http_client_start(&loop, &addr, &req, &cbs), 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	assert_int_equal(p.head_status, 200);
	assert_string_equal(p.data, "one,two,three");

	req = (struct http_client_req){
		.method = "GET", .path = "/forever", .timeout_ms = 100};
	assert_int_equal(http_client_fetch(host, &req, &r), -ETIMEDOUT);
	server_stop();

	assert_int_equal(http_client_fetch(host, &req, &r), -ENOENT);
	assert_int_equal(http_client_fetch("tcp://nowhere", &req, &r), -EINVAL);
	assert_int_equal(http_addr_parse("tcp://[::1]:2375", &addr), 0);
	assert_false(addr.is_unix);
	assert_int_equal(http_addr_parse("unix://relative", &addr), -EINVAL);
}

static void tcp_listener_serves_on_loopback(void **state)
{
	uv_loop_t loop;
	struct http_server *srv;
	uv_loop_init(&loop);
	assert_int_equal(http_server_new(&loop, NULL, handler, NULL, &srv), 0);
	assert_int_equal(http_server_listen_tcp(srv, "127.0.0.1", 0), 0);
	int port = http_server_port(srv);
	assert_true(port > 0);
	assert_int_equal(http_server_listen_tcp(srv, "not-an-ip", 0),
			 -EALREADY);
	struct http_addr addr;
	char host[64];
	snprintf(host, sizeof(host), "tcp://127.0.0.1:%d", port);
	assert_int_equal(http_addr_parse(host, &addr), 0);
	struct pieces p = {0};
	struct http_client_cbs cbs = {.on_head = on_head,
				      .on_data = on_piece,
				      .on_done = on_done_stop,
				      .arg = &p};
	struct http_client_req req = {.method = "GET", .path = "/echo?i=tcp"};
	assert_int_equal(http_client_start(&loop, &addr, &req, &cbs), 0);
	while (p.head_status == 0 || p.n == 0)
		uv_run(&loop, UV_RUN_ONCE);
	http_server_close(srv, NULL, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	assert_string_equal(p.data, "GET /echo i=tcp body=");
}

static void wait_handled(int n)
{
	for (int i = 0; i < 500 && atomic_load(&handled) < n; i++)
		usleep(10000);
	assert_int_equal(atomic_load(&handled), n);
}

static void shutdown_lets_answers_in_flight_finish(void **state)
{
	struct http_server_opts o = {.shutdown_grace_ms = 5000};
	server_start(&o);
	struct tc t;
	assert_int_equal(tc_open(&t), 0);
	tc_sends(&t, "GET /async?slow=1 HTTP/1.1\r\n\r\n");
	wait_handled(1);
	uv_async_send(&S.stop); /* while the answer is being made */
	assert_int_equal(tc_read(&t), 200);
	assert_string_equal(t.body, "later");
	assert_true(tc_closed(&t));
	tc_close(&t);
	server_join();
}

static void shutdown_ends_streams_after_the_grace_and_tells_them(void **state)
{
	struct http_server_opts o = {.shutdown_grace_ms = 50};
	server_start(&o);
	struct tc t;
	assert_int_equal(tc_open(&t), 0);
	tc_sends(&t, "GET /forever HTTP/1.1\r\n\r\n");
	wait_handled(1);
	server_stop();
	assert_int_equal(atomic_load(&closes_seen), 1);
	char buf[256];
	while (recv(t.fd, buf, sizeof(buf), 0) > 0)
		;
	tc_close(&t);
}

static void socketless_feed_answers_like_a_connection(void **state)
{
	uv_loop_t loop;
	struct http_server *srv;
	int64_t live = shoal_alloc_live();
	uv_loop_init(&loop);
	assert_int_equal(http_server_new(&loop, NULL, handler, NULL, &srv), 0);
	struct buf out;
	buf_init(&out, 1 << 20);
	const char *req = "GET /echo?i=1 HTTP/1.1\r\n\r\n"
			  "GET /echo?i=2 HTTP/1.1\r\nConnection: close\r\n\r\n";
	assert_int_equal(http__server_feed(srv, req, strlen(req), 3, &out), 0);
	assert_non_null(strstr(out.data, "i=1 body="));
	assert_non_null(strstr(out.data, "i=2 body="));
	assert_non_null(strstr(out.data, "Connection: close"));
	buf_fini(&out);
	http_server_close(srv, NULL, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	assert_int_equal(shoal_alloc_live(), live);
}

/* A server with the policy above, spooling into its own folder. */
static void server_start_with_policy(void)
{
	static char spool[64];
	strcpy(spool, "/tmp/shoal-http-spool.XXXXXX");
	assert_non_null(mkdtemp(spool));
	struct http_server_opts o = {.max_body_bytes = 1000,
				     .body_policy = policy,
				     .spool_dir = spool};
	server_start(&o);
}

static bool spool_dir_empty(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A %s)\"", S.opts.spool_dir);
	return system(cmd) == 0;
}

static void body_policy_sets_each_requests_limit_and_names_it(void **state)
{
	server_start_with_policy();
	struct tc t;
	assert_int_equal(tc_open(&t), 0);
	tc_sends(&t, "POST /small HTTP/1.1\r\nContent-Length: 101\r\n\r\n");
	assert_int_equal(tc_read(&t), 413); /* before any body byte */
	assert_non_null(strstr(t.body, "the limit is 100 bytes"));
	assert_true(tc_closed(&t));
	tc_close(&t);

	/* A chunked body learns it only when it gets there. */
	assert_int_equal(tc_open(&t), 0);
	tc_sends(&t, "POST /other HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
		     "\r\n3e9\r\n");
	char big[1001];
	memset(big, 'x', sizeof(big));
	tc_send(&t, big, sizeof(big));
	assert_int_equal(tc_read(&t), 413);
	assert_non_null(strstr(t.body, "the limit is 1000 bytes"));
	tc_close(&t);

	/* Under the limits, both answer on a kept-alive connection. */
	assert_int_equal(tc_open(&t), 0);
	tc_sends(&t, "POST /small HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello");
	assert_int_equal(tc_read(&t), 200);
	tc_sends(&t, "POST /echo HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
	assert_int_equal(tc_read(&t), 200);
	assert_string_equal(t.body, "POST /echo i=- body=abc");
	tc_close(&t);
	server_stop();
	rmdir(S.opts.spool_dir);
}

static void spooled_bodies_reach_the_handler_as_an_unlinked_file(void **state)
{
	server_start_with_policy();
	struct tc t;
	/* 5 MiB: far past the in-memory limit of 1000 bytes. */
	size_t len = 5u << 20;
	char *body = malloc(len);
	unsigned long long sum = 0;
	for (size_t i = 0; i < len; i++) {
		body[i] = (char)(i * 7);
		sum += (unsigned char)body[i];
	}
	char head[128], want[160];
	assert_int_equal(tc_open(&t), 0);
	snprintf(head, sizeof(head),
		 "POST /spooled HTTP/1.1\r\nContent-Length: %zu\r\n\r\n", len);
	tc_sends(&t, head);
	tc_send(&t, body, len);
	assert_int_equal(tc_read(&t), 200);
	snprintf(want, sizeof(want), "fd=1 len=%zu got=%zu sum=%llu mem=0", len,
		 len, sum);
	assert_string_equal(t.body, want);
	assert_true(spool_dir_empty()); /* unlinked from the start */

	/* Chunked, with a trailer, on the same connection. */
	tc_sends(&t, "POST /spooled HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
		     "\r\n3\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: 1\r\n\r\n");
	assert_int_equal(tc_read(&t), 200);
	snprintf(want, sizeof(want), "fd=1 len=5 got=5 sum=%d mem=0",
		 'a' + 'b' + 'c' + 'd' + 'e');
	assert_string_equal(t.body, want);

	/* Past the spooled limit: 413 naming it. */
	tc_sends(&t,
		 "POST /spooled HTTP/1.1\r\nContent-Length: 9000000\r\n\r\n");
	assert_int_equal(tc_read(&t), 413);
	assert_non_null(strstr(t.body, "the limit is 8 MiB"));
	tc_close(&t);
	free(body);
	server_stop();
	assert_true(spool_dir_empty());
	rmdir(S.opts.spool_dir);
}

static void aborted_stream_ends_without_its_last_chunk(void **state)
{
	server_start(NULL);
	struct tc t;
	assert_int_equal(tc_open(&t), 0);
	tc_sends(&t, "GET /broken HTTP/1.1\r\n\r\n");
	assert_int_equal(tc_read(&t), -1); /* the connection ended first */
	assert_string_equal(t.body, "partial");
	tc_close(&t);
	server_stop();
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN); /* as shoald does: see http.h */
	shoal_alloc_install();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			answers_a_thousand_keep_alive_requests_on_one_connection),
		cmocka_unit_test(answers_pipelined_requests_in_order),
		cmocka_unit_test(decodes_query_parameters),
		cmocka_unit_test(serves_a_hundred_clients_at_once),
		cmocka_unit_test(
			malformed_requests_get_400_with_a_json_message),
		cmocka_unit_test(oversized_headers_get_431_and_bodies_413),
		cmocka_unit_test(idle_client_is_closed_after_the_idle_timeout),
		cmocka_unit_test(
			async_stream_and_empty_responses_reach_the_client),
		cmocka_unit_test(stream_handler_learns_when_the_client_leaves),
		cmocka_unit_test(
			hijacked_connection_carries_raw_bytes_both_ways),
		cmocka_unit_test(connections_past_the_limit_get_503),
		cmocka_unit_test(failed_allocations_never_crash_or_leak),
		cmocka_unit_test(socketless_feed_answers_like_a_connection),
		cmocka_unit_test(shutdown_lets_answers_in_flight_finish),
		cmocka_unit_test(
			shutdown_ends_streams_after_the_grace_and_tells_them),
		cmocka_unit_test(
			client_fetches_whole_streamed_and_timed_out_answers),
		cmocka_unit_test(tcp_listener_serves_on_loopback),
		cmocka_unit_test(
			body_policy_sets_each_requests_limit_and_names_it),
		cmocka_unit_test(
			spooled_bodies_reach_the_handler_as_an_unlinked_file),
		cmocka_unit_test(aborted_stream_ends_without_its_last_chunk),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
