/*
 * A container's output and input over the API (Docker Engine API v1.45):
 * GET /containers/{id}/logs (follow, tail, since, until, timestamps,
 * stdout, stderr) and POST /containers/{id}/attach (hijacked, Docker's
 * 101 Upgrade: tcp), plus POST /containers/{id}/resize.
 *
 * Logs come from the json-file log through logstream.c: multiplexed with
 * Docker's 8-byte headers unless the container has a tty.
 *
 * Attach to a running container connects to the monitor's attach socket:
 * its output (already framed by the monitor when there is no tty) goes to
 * the client as is, and the client's bytes go to the container's stdin;
 * the client's EOF closes the container's stdin. Attach to a container
 * that has not started yet (docker run attaches first, then starts) waits
 * in st->attaches; at its start (the engine's start event, also for a
 * restart by the container's policy) the output comes from the log (which
 * holds every byte from the first instant, raw for a tty) unless the
 * client sends stdin to a tty: then from the socket both ways, and an
 * interactive container's monitor keeps what came out before the first
 * attach and hands it over. (A tty without stdin once read the socket and
 * replayed the lines logged before connecting; output the monitor read
 * between that moment and its accept() of the connection was lost.)
 * Stdin bytes sent before the start are kept (up to 1 MiB) and delivered
 * once connected. The hijacked connection is closed when the output ends
 * (the container exited) or the client leaves.
 */
#define LOG_MODULE "api"
#include "api/detach_keys.h"
#include "api/internal.h"
#include "api/logstream.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/jsonx.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Tty or OpenStdin of container @id, from its record. */
static bool config_flag(struct api__state *st, const char *id, const char *key)
{
	struct eng_info i;
	bool v = false;
	if (eng_inspect(st->eng, id, &i) == 0) {
		v = jsonx_bool(i.record, key, false);
		eng_info_fini(&i);
	}
	return v;
}

/* --log-driver none: no log to read an attach's output from. */
static bool log_none(struct api__state *st, const char *id)
{
	struct eng_info i;
	bool v = false;
	if (eng_inspect(st->eng, id, &i) == 0) {
		const json_t *hc = jsonx_obj(jsonx_obj(i.record, "Annotations"),
					     "HostConfig");
		v = !strcmp(jsonx_str(jsonx_obj(hc, "LogConfig"), "Type", ""),
			    "none");
		eng_info_fini(&i);
	}
	return v;
}

static bool container_tty(struct api__state *st, const char *id)
{
	return config_flag(st, id, "Tty");
}

/* Docker's forms: unix seconds with a fraction (what the docker CLI
 * sends), an RFC 3339 date or time, or a Go duration meaning that long
 * ago. */
static int parse_time(const char *s, int64_t *out)
{
	return eng_parse_until(s, time_real_ns(), out) < 0 ? -EINVAL : 0;
}

/* --- logs ----------------------------------------------------------------- */

struct logs_op {
	struct api__logstream ls;
};

static void logs_freed(struct api__logstream *ls)
{
	shoal_free(ls->arg);
}

static void logs_done(struct api__logstream *ls, int rc)
{
	http_response_on_close(ls->res, NULL, NULL);
	http_response_end(ls->res);
	api__logstream_close(ls);
}

static void logs_gone(struct http_response *res, void *arg)
{
	struct logs_op *op = arg;
	api__logstream_close(&op->ls);
}

static void logs(struct api_call *call)
{
	struct api__state *st = api__need(call);
	char id[65];
	if (!st || api__resolve(call, st, api_param(call, "id"), id) < 0)
		return;
	struct rt_log_options o = {
		.tail = -1,
		.stdout_on = api__query_bool(call, "stdout", false),
		.stderr_on = api__query_bool(call, "stderr", false),
	};
	if (!o.stdout_on && !o.stderr_on) {
		api_reply_error(call, 400,
				"Bad parameters: you must choose at least one "
				"stream");
		return;
	}
	const char *tail = http_request_query(call->req, "tail");
	if (tail && *tail && strcmp(tail, "all") != 0) {
		char *end;
		o.tail = strtoll(tail, &end, 10);
		if (*end || o.tail < 0) {
			api_reply_error(call, 400, "invalid tail value: %s",
					tail);
			return;
		}
	}
	int64_t until = 0;
	const char *since = http_request_query(call->req, "since");
	const char *untilq = http_request_query(call->req, "until");
	if ((since && *since && parse_time(since, &o.since_ns) < 0) ||
	    (untilq && *untilq && parse_time(untilq, &until) < 0)) {
		api_reply_error(call, 400,
				"invalid since or until value: expected unix "
				"seconds, an RFC 3339 time or a duration");
		return;
	}
	struct logs_op *op = shoal_calloc(1, sizeof(*op));
	if (!op) {
		api_reply_error(call, 500, "out of memory");
		return;
	}
	int rc = rt_log_open(st->rt, id, &o, &op->ls.r);
	if (rc == -ENOTSUP) { /* --log-driver none: Docker's 501 */
		shoal_free(op);
		api_reply_error(call, 501,
				"configured logging driver does not support "
				"reading");
		return;
	}
	if (rc < 0) {
		shoal_free(op);
		api_reply_error(call, 500, "cannot read the logs: %s",
				shoal_strerror(rc));
		return;
	}
	op->ls.tty = container_tty(st, id);
	op->ls.res = call->res;
	op->ls.timestamps = api__query_bool(call, "timestamps", false);
	op->ls.follow = api__query_bool(call, "follow", false);
	op->ls.until_ns = until;
	op->ls.done = logs_done;
	op->ls.freed = logs_freed;
	op->ls.arg = op;
	const char *ct = op->ls.tty ? "application/vnd.docker.raw-stream"
				    : "application/vnd.docker.multiplexed-"
				      "stream";
	if (http_response_begin(call->res, 200, ct) < 0) {
		rt_log_close(op->ls.r);
		shoal_free(op);
		api_reply_error(call, 500, "out of memory");
		return;
	}
	http_response_on_close(call->res, logs_gone, op);
	api__logstream_start(&op->ls, st->loop);
}

/* --- attach --------------------------------------------------------------- */

/*
 * Docker's attach query: stream (live output and input), logs (replay the
 * log first), stdin (used only when the container has OpenStdin, as
 * Docker), stdout, stderr (which output streams are sent: a tty has only
 * stdout), detachKeys (default ctrl-p,ctrl-q; a bad spec is a 400). The
 * output is framed with Docker's 8-byte headers when the container has no
 * tty and raw when it has one.
 */
struct attach_op {
	struct list_node node; /* in st->attaches while waiting */
	struct api__state *st;
	struct http_response *res; /* NULL once finished or gone */
	char id[65];
	bool tty, want_in, want_out, want_err;
	bool sock_open, sock_out; /* output comes from the socket */
	bool client_eof;
	bool ended; /* the response is finished or gone */
	uv_pipe_t sock;
	struct api__logstream *ls;
	struct buf in; /* stdin before the connection */
	struct api__detach keys;
	/* The monitor's framed output, filtered by stream (no tty). */
	unsigned char hdr[8];
	size_t hdr_len;
	uint32_t left; /* payload bytes of the current frame still to come */
	bool pass;     /* the current frame's stream is wanted */
	int handles;
};

struct wreq {
	uv_write_t req;
	char data[];
};

static void op_release(struct attach_op *op)
{
	if (op->handles > 0 || !op->ended)
		return;
	buf_fini(&op->in);
	shoal_free(op);
}

static void sock_closed(uv_handle_t *h)
{
	struct attach_op *op = h->data;
	op->handles--;
	op_release(op);
}

static void ls_freed(struct api__logstream *ls)
{
	struct attach_op *op = ls->arg;
	shoal_free(ls);
	op->handles--;
	op_release(op);
}

/* Tear everything down; @res already finished or gone. */
static void attach_end(struct attach_op *op)
{
	list_remove(&op->node);
	op->res = NULL;
	op->ended = true;
	if (op->sock_open) {
		op->sock_open = false;
		uv_close((uv_handle_t *)&op->sock, sock_closed);
	}
	if (op->ls) {
		api__logstream_close(op->ls);
		op->ls = NULL;
	}
	op_release(op);
}

static void attach_finish(struct attach_op *op)
{
	if (op->res) {
		http_response_on_close(op->res, NULL, NULL);
		http_response_hijack_close(op->res);
	}
	attach_end(op);
}

static void attach_gone(struct http_response *res, void *arg)
{
	attach_end(arg);
}

static void written(uv_write_t *w, int status)
{
	shoal_free(container_of(w, struct wreq, req));
}

static void shut(uv_shutdown_t *s, int status)
{
	shoal_free(s);
}

static void to_container(struct attach_op *op, const char *d, size_t n)
{
	struct wreq *w = shoal_malloc(sizeof(*w) + n);
	if (!w)
		return;
	memcpy(w->data, d, n);
	uv_buf_t b = uv_buf_init(w->data, (unsigned)n);
	if (uv_write(&w->req, (uv_stream_t *)&op->sock, &b, 1, written) < 0)
		shoal_free(w);
}

static void close_stdin(struct attach_op *op)
{
	uv_shutdown_t *s = shoal_malloc(sizeof(*s));
	if (s && uv_shutdown(s, (uv_stream_t *)&op->sock, shut) < 0)
		shoal_free(s);
}

static void feed_stdin(struct attach_op *op, const char *d, size_t n)
{
	if (op->sock_open)
		to_container(op, d, n);
	else
		buf_append(&op->in, d, n); /* bounded: dropped past */
}

static void from_client(struct http_response *res, const char *d, ssize_t n,
			void *arg)
{
	struct attach_op *op = arg;
	if (n == UV_EOF) {
		op->client_eof = true;
		if (op->sock_open && op->want_in)
			close_stdin(op);
		return;
	}
	if (n <= 0 || !op->want_in)
		return;
	char out[4096 + API__DETACH_MAX];
	while (n > 0 && !op->ended) {
		size_t chunk = n > 4096 ? 4096 : (size_t)n, len;
		bool detached =
			api__detach_scan(&op->keys, d, chunk, out, &len);
		if (len)
			feed_stdin(op, out, len);
		if (detached) {
			log_debug("container=%s: attach detached by its keys",
				  op->id);
			attach_finish(op);
			return;
		}
		d += chunk;
		n -= (ssize_t)chunk;
	}
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	static char space[65536];
	*b = uv_buf_init(space, sizeof(space));
}

static int out_write(struct attach_op *op, const void *d, size_t n)
{
	return n ? http_response_hijack_write(op->res, d, n) : 0;
}

/*
 * The monitor's output without a tty is a run of frames; pass those of
 * the wanted streams whole, drop the others. Returns the last write's code.
 */
static int out_filtered(struct attach_op *op, const char *p, size_t n)
{
	int rc = 0;
	if (op->tty)
		return op->want_out ? out_write(op, p, n) : 0;
	if (op->want_out && op->want_err)
		return out_write(op, p, n);
	while (n > 0) {
		if (op->left == 0) {
			size_t take = 8 - op->hdr_len;
			if (take > n)
				take = n;
			memcpy(op->hdr + op->hdr_len, p, take);
			op->hdr_len += take;
			p += take;
			n -= take;
			if (op->hdr_len < 8)
				break;
			op->hdr_len = 0;
			op->left = (uint32_t)op->hdr[4] << 24 |
				   (uint32_t)op->hdr[5] << 16 |
				   (uint32_t)op->hdr[6] << 8 | op->hdr[7];
			op->pass =
				op->hdr[0] == 2 ? op->want_err : op->want_out;
			if (op->pass)
				rc = out_write(op, op->hdr, 8);
			continue;
		}
		size_t take = op->left < n ? op->left : n;
		if (op->pass)
			rc = out_write(op, p, take);
		op->left -= (uint32_t)take;
		p += take;
		n -= take;
	}
	return rc;
}

static void from_container(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct attach_op *op = s->data;
	if (n < 0) {
		if (op->sock_out)
			attach_finish(op);
		else
			uv_read_stop(s);
		return;
	}
	if (n == 0 || !op->sock_out || !op->res)
		return;
	if (out_filtered(op, b->base, (size_t)n) == -ENOBUFS)
		uv_read_stop(s);
}

static void on_drain(struct http_response *res, void *arg)
{
	struct attach_op *op = arg;
	if (op->sock_open)
		uv_read_start((uv_stream_t *)&op->sock, alloc_cb,
			      from_container);
}

static int connect_sock(struct attach_op *op)
{
	int fd, rc = rt_container_attach(op->st->rt, op->id, &fd);
	if (rc < 0)
		return rc;
	rc = uv_pipe_init(op->st->loop, &op->sock, 0);
	if (rc == 0) {
		op->sock.data = op;
		rc = uv_pipe_open(&op->sock, fd);
		op->sock_open = true;
		op->handles++;
		if (rc < 0) {
			close(fd);
			return rc;
		}
	} else {
		close(fd);
		return rc;
	}
	if (op->in.len)
		to_container(op, op->in.data, op->in.len);
	buf_reset(&op->in);
	if (op->client_eof && op->want_in)
		close_stdin(op);
	if (!op->want_in && !op->sock_out) {
		/* Only the log is wanted; the socket is not needed. */
		uv_close((uv_handle_t *)&op->sock, sock_closed);
		op->sock_open = false;
		return 0;
	}
	return uv_read_start((uv_stream_t *)&op->sock, alloc_cb,
			     from_container);
}

static void ls_done(struct api__logstream *ls, int rc)
{
	attach_finish(ls->arg);
}

/*
 * Send the log entries written from @since_ns (0: all) and before
 * @until_ns, framed unless the container has a tty, of the wanted
 * streams: the replay of logs=1, and for a tty attach made before the
 * start what the container wrote before the socket was connected.
 */
static void replay_log(struct attach_op *op, int64_t since_ns, int64_t until_ns)
{
	struct rt_log_options o = {.tail = -1,
				   .since_ns = since_ns,
				   .stdout_on = op->want_out,
				   .stderr_on = op->want_err && !op->tty};
	struct rt_log_reader *r;
	struct rt_log_entry e;
	if (!op->res || (!o.stdout_on && !o.stderr_on) ||
	    rt_log_open(op->st->rt, op->id, &o, &r) < 0)
		return;
	while (rt_log_next(r, &e) == 0 && e.time_ns < until_ns) {
		if (!op->tty) {
			uint32_t n = (uint32_t)e.len;
			unsigned char h[8] = {(unsigned char)e.stream,
					      0,
					      0,
					      0,
					      n >> 24,
					      n >> 16 & 0xff,
					      n >> 8 & 0xff,
					      n & 0xff};
			http_response_hijack_write(op->res, h, 8);
		}
		http_response_hijack_write(op->res, e.line, e.len);
	}
	rt_log_close(r);
}

static int64_t started_at(struct attach_op *op)
{
	struct rt_info i;
	int64_t t = 0;
	if (rt_container_inspect(op->st->rt, op->id, &i) == 0) {
		t = i.started_ns;
		rt_info_fini(&i);
	}
	return t;
}

/* The container has just started: connect output and input. */
static void attach_connect(struct attach_op *op, bool from_log)
{
	int rc = 0;
	list_remove(&op->node);
	op->sock_out = !from_log;
	if (from_log) {
		struct rt_log_options o = {.tail = -1,
					   .since_ns = started_at(op),
					   .stdout_on = op->want_out,
					   .stderr_on = op->want_err};
		struct api__logstream *ls = shoal_calloc(1, sizeof(*ls));
		rc = ls ? rt_log_open(op->st->rt, op->id, &o, &ls->r) : -ENOMEM;
		if (rc < 0) {
			shoal_free(ls);
			attach_finish(op);
			return;
		}
		ls->res = op->res;
		ls->tty = op->tty;
		ls->hijacked = true;
		ls->follow = true;
		ls->done = ls_done;
		ls->freed = ls_freed;
		ls->arg = op;
		op->ls = ls;
		op->handles++;
		api__logstream_start(ls, op->st->loop);
		if (!op->res)
			return; /* finished already */
	} else {
		http_response_on_drain(op->res, on_drain, op);
	}
	/* With open_stdin the monitor keeps the early output for the first
	 * attach itself; otherwise it is only in the log. A container that
	 * is already gone (a short command on a loaded machine exits before
	 * we connect) has no monitor left to connect to: all it wrote is in
	 * the log, send that. */
	int64_t t = time_real_ns();
	rc = connect_sock(op);
	if (!from_log && rc < 0)
		replay_log(op, started_at(op), INT64_MAX);
	else if (!from_log && !config_flag(op->st, op->id, "OpenStdin"))
		replay_log(op, started_at(op), t);
	if (rc < 0 && op->sock_out)
		attach_finish(op);
}

void api__attach_started(struct api__state *st, const char *id)
{
	struct list_node *n, *t;
	list_for_each_safe(n, t, &st->attaches)
	{
		struct attach_op *op = list_entry(n, struct attach_op, node);
		/* Without a log (driver none) the monitor keeps the early
		 * output for this first attach instead. */
		if (!strcmp(op->id, id))
			attach_connect(op, (!op->tty || !op->want_in) &&
						   !log_none(st, id));
	}
}

/* Attach to a running container: its output from now on, from the
 * monitor's socket (Docker does not replay without logs=1). */
static void attach_live(struct attach_op *op)
{
	op->sock_out = true;
	http_response_on_drain(op->res, on_drain, op);
	if (connect_sock(op) < 0)
		attach_finish(op); /* it exited meanwhile */
}

static void attach(struct api_call *call)
{
	struct api__state *st = api__need(call);
	char id[65];
	if (!st || api__resolve(call, st, api_param(call, "id"), id) < 0)
		return;
	struct rt_info i;
	if (rt_container_inspect(st->rt, id, &i) < 0) {
		api_reply_error(call, 404, "No such container: %s", id);
		return;
	}
	enum rt_status s = i.status;
	rt_info_fini(&i);
	struct api__detach keys;
	const char *dk = http_request_query(call->req, "detachKeys");
	if (api__detach_parse(dk, &keys) < 0) {
		api_reply_error(call, 400, "Invalid detach keys (%s) provided",
				dk);
		return;
	}
	bool tty = container_tty(st, id);
	struct attach_op *op = shoal_calloc(1, sizeof(*op));
	if (!op) {
		api_reply_error(call, 500, "out of memory");
		return;
	}
	op->st = st;
	op->res = call->res;
	op->tty = tty;
	op->keys = keys;
	op->want_in = api__query_bool(call, "stdin", false) &&
		      config_flag(st, id, "OpenStdin");
	op->want_out = api__query_bool(call, "stdout", false);
	op->want_err = api__query_bool(call, "stderr", false);
	bool stream = api__query_bool(call, "stream", false);
	bool logs = api__query_bool(call, "logs", false);
	memcpy(op->id, id, sizeof(op->id));
	buf_init(&op->in, 1 << 20);
	list_init(&op->node);
	const char *ct = tty ? "application/vnd.docker.raw-stream"
			     : "application/vnd.docker.multiplexed-stream";
	int rc = http_response_hijack(call->res, call->req->upgrade ? 101 : 200,
				      ct, from_client, op);
	if (rc < 0) {
		buf_fini(&op->in);
		shoal_free(op);
		api_reply_error(call, 500, "cannot attach: %s",
				shoal_strerror(rc));
		return;
	}
	http_response_on_close(call->res, attach_gone, op);
	eng_event_post_container(st->eng, id, "attach", NULL);
	if (logs)
		replay_log(op, 0, INT64_MAX);
	if (!stream)
		attach_finish(op); /* logs only: done at once */
	else if (s == RT_STATUS_CREATED || s == RT_STATUS_EXITED)
		/* Not running: wait for the start (docker run, start -a). */
		list_push_back(&st->attaches, &op->node);
	else
		attach_live(op);
}

static void resize(struct api_call *call)
{
	struct api__state *st = api__need(call);
	char id[65];
	if (!st || api__resolve(call, st, api_param(call, "id"), id) < 0)
		return;
	const char *h = http_request_query(call->req, "h");
	const char *w = http_request_query(call->req, "w");
	long rows = h ? strtol(h, NULL, 10) : 0;
	long cols = w ? strtol(w, NULL, 10) : 0;
	if (rows <= 0 || cols <= 0 || rows > 65535 || cols > 65535) {
		api_reply_error(call, 400, "invalid tty size: h=%s w=%s",
				h ? h : "", w ? w : "");
		return;
	}
	int rc =
		rt_container_resize(st->rt, id, (unsigned)rows, (unsigned)cols);
	if (rc < 0 && rc != -ESRCH && rc != -ENOTTY && rc != -ENOENT &&
	    rc != -ECONNREFUSED) {
		api_reply_error(call, 500, "cannot resize: %s",
				shoal_strerror(rc));
		return;
	}
	http_response_send(call->res, 200, NULL, NULL, 0);
}

static const struct api_route routes[] = {
	{"GET", "/containers/{id}/logs", logs},
	{"POST", "/containers/{id}/attach", attach},
	{"POST", "/containers/{id}/resize", resize},
};

const struct api_route_table api_containers_io_table = {
	.name = "containers-io",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
};
