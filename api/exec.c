/*
 * Exec instances (Docker Engine API v1.45, "Exec"): POST
 * /containers/{id}/exec creates one, POST /exec/{id}/start runs it
 * (hijacked like attach, or detached), GET /exec/{id}/json reports it,
 * POST /exec/{id}/resize sets its tty size.
 *
 * An instance lives in st->execs from create until it is evicted: at most
 * MAX_EXECS are kept, and past that the oldest finished ones go (Docker
 * keeps them until the container goes; a bound is the house rule). The
 * process is started only by start, with rt_exec_start() (setns into the
 * container, its cgroup, caps and seccomp filter). Its stdio fds go to
 * libuv pipes: with a tty the pty master carries raw bytes both ways;
 * without, stdout and stderr are framed with Docker's 8-byte headers and
 * the client's bytes go to stdin, its EOF closing stdin. The exit is seen
 * on the helper's pidfd; the connection closes once the process has exited
 * and its output is drained, so `docker exec` prints everything and then
 * reads the exit code from GET /exec/{id}/json.
 *
 * A start that fails (command not found or not executable) records exit
 * code 126 and, as Docker does, upgrades the connection anyway and writes
 * Docker's sentence on the stdout stream before closing it: the docker CLI
 * prints it and exits 126.
 */
#define LOG_MODULE "api"
#include "api/detach_keys.h"
#include "api/internal.h"
#include "common/alloc.h"
#include "common/error.h"
#include "common/id.h"
#include "common/jsonx.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#define MAX_EXECS 512
#define MAX_ARGS 256

struct api__exec {
	struct list_node lru;
	struct api__state *st;
	char id[65];
	char cid[65];
	json_t *cfg; /* the create body, owned */
	bool started, running, exited;
	int exit_code;
	pid_t pid;
	struct rt_exec *ex;
	/* while running */
	struct http_response *res; /* NULL: detached, finished or gone */
	bool tty;		   /* the process has a pty (create's Tty) */
	bool framed; /* 8-byte headers: start's Tty false, as Docker */
	bool want_in, want_out, want_err; /* create's AttachStd* */
	struct api__detach keys;
	unsigned rows, cols; /* ConsoleSize; 0: none */
	uv_pipe_t out, err, in;
	bool out_open, err_open, in_open;
	uv_poll_t exit_poll;
	bool poll_open;
	int handles;
	bool dead; /* removed from the table; free when handles are 0 */
};

struct wreq {
	uv_write_t req;
	char data[];
};

static void exec_release(struct api__exec *e)
{
	if (!e->dead || e->handles > 0)
		return;
	rt_exec_free(e->ex);
	json_decref(e->cfg);
	shoal_free(e);
}

static void handle_closed(uv_handle_t *h)
{
	struct api__exec *e = h->data;
	e->handles--;
	exec_release(e);
}

static void close_handle(struct api__exec *e, uv_handle_t *h, bool *open)
{
	if (!*open)
		return;
	*open = false;
	uv_close(h, handle_closed);
}

static void exec_drop(struct api__exec *e)
{
	list_remove(&e->lru);
	hmap_del_str(&e->st->execs, e->id);
	e->st->nexecs--;
	e->dead = true;
	if (e->res) {
		http_response_on_close(e->res, NULL, NULL);
		http_response_hijack_close(e->res);
		e->res = NULL;
	}
	close_handle(e, (uv_handle_t *)&e->out, &e->out_open);
	close_handle(e, (uv_handle_t *)&e->err, &e->err_open);
	close_handle(e, (uv_handle_t *)&e->in, &e->in_open);
	close_handle(e, (uv_handle_t *)&e->exit_poll, &e->poll_open);
	exec_release(e);
}

void api__exec_free_all(struct api__state *st)
{
	while (!list_empty(&st->exec_lru))
		exec_drop(list_entry(list_front(&st->exec_lru),
				     struct api__exec, lru));
}

static void evict(struct api__state *st)
{
	struct list_node *n, *t;
	list_for_each_safe(n, t, &st->exec_lru)
	{
		if (st->nexecs < MAX_EXECS)
			return;
		struct api__exec *e = list_entry(n, struct api__exec, lru);
		if (!e->running)
			exec_drop(e);
	}
}

/*
 * Docker's exec events on the container: "exec_create: CMD ARGS",
 * "exec_start: CMD ARGS" and exec_die, with the exec's id (and exit
 * code).
 */
static void exec_event(struct api__exec *e, const char *what, int code)
{
	char action[512];
	size_t n = (size_t)snprintf(action, sizeof(action), "%s", what);
	const json_t *cmd = json_object_get(e->cfg, "Cmd");
	for (size_t i = 0;
	     code < 0 && i < json_array_size(cmd) && n < sizeof(action); i++)
		n += (size_t)snprintf(
			action + n, sizeof(action) - n, "%s%s", i ? " " : ": ",
			json_string_value(json_array_get(cmd, i)));
	json_t *extra = json_pack("{s:s}", "execID", e->id);
	if (extra && code >= 0)
		json_object_set_new(extra, "exitCode",
				    json_sprintf("%d", code));
	eng_event_post_container(e->st->eng, e->cid, action, extra);
}

/* --- create --------------------------------------------------------------- */

static void exec_create(struct api_call *call)
{
	struct api__state *st = api__need(call);
	char cid[65], err[256];
	if (!st || api__resolve(call, st, api_param(call, "id"), cid) < 0)
		return;
	json_t *body = NULL;
	if (jsonx_parse_object(call->req->body, call->req->body_len, &body, err,
			       sizeof(err)) < 0) {
		api_reply_error(call, 400, "%s", err);
		return;
	}
	const json_t *cmd = json_object_get(body, "Cmd");
	bool ok = json_is_array(cmd) && json_array_size(cmd) > 0 &&
		  json_array_size(cmd) < MAX_ARGS;
	for (size_t i = 0; ok && i < json_array_size(cmd); i++)
		ok = json_is_string(json_array_get(cmd, i));
	if (!ok) {
		json_decref(body);
		api_reply_error(call, 400, "No exec command specified");
		return;
	}
	struct api__detach keys;
	const char *dk = jsonx_str(body, "DetachKeys", "");
	if (api__detach_parse(dk, &keys) < 0) {
		api_reply_error(call, 400, "Invalid escape keys (%s) provided",
				dk);
		json_decref(body);
		return;
	}
	struct rt_info info;
	if (rt_container_inspect(st->rt, cid, &info) < 0) {
		json_decref(body);
		api_reply_error(call, 404, "No such container: %s", cid);
		return;
	}
	enum rt_status s = info.status;
	rt_info_fini(&info);
	if (s == RT_STATUS_PAUSED || s != RT_STATUS_RUNNING) {
		json_decref(body);
		api_reply_error(call, 409,
				s == RT_STATUS_PAUSED
					? "Container %s is paused, unpause the "
					  "container before exec"
					: "Container %s is not running",
				cid);
		return;
	}
	evict(st);
	struct api__exec *e = shoal_calloc(1, sizeof(*e));
	if (!e || st->nexecs >= MAX_EXECS) {
		shoal_free(e);
		json_decref(body);
		api_reply_error(call, 503, "too many exec instances");
		return;
	}
	e->st = st;
	e->cfg = body;
	e->keys = keys;
	memcpy(e->cid, cid, sizeof(e->cid));
	id_hex(e->id);
	list_init(&e->lru);
	if (hmap_put_str(&st->execs, e->id, e, NULL) < 0) {
		json_decref(body);
		shoal_free(e);
		api_reply_error(call, 500, "out of memory");
		return;
	}
	list_push_back(&st->exec_lru, &e->lru);
	st->nexecs++;
	exec_event(e, "exec_create", -1);
	api_reply_json(call, 201, json_pack("{s:s}", "Id", e->id));
}

static struct api__exec *find(struct api_call *call, struct api__state **stp)
{
	struct api__state *st = api__need(call);
	if (!st)
		return NULL;
	struct api__exec *e = hmap_get_str(&st->execs, api_param(call, "id"));
	if (!e)
		api_reply_error(call, 404, "No such exec instance: %s",
				api_param(call, "id"));
	*stp = st;
	return e;
}

/* --- running -------------------------------------------------------------- */

static void maybe_finish(struct api__exec *e)
{
	if (e->running || e->out_open || e->err_open)
		return;
	if (e->res) {
		http_response_on_close(e->res, NULL, NULL);
		http_response_hijack_close(e->res);
		e->res = NULL;
	}
	close_handle(e, (uv_handle_t *)&e->in, &e->in_open);
}

static void on_exit_ready(uv_poll_t *p, int status, int events)
{
	struct api__exec *e = p->data;
	int code = -1;
	if (rt_exec_wait(e->ex, 0, &code) == -ETIMEDOUT)
		return;
	e->running = false;
	e->exited = true;
	e->exit_code = code;
	close_handle(e, (uv_handle_t *)&e->exit_poll, &e->poll_open);
	log_debug("exec=%s in container=%s exited with %d", e->id, e->cid,
		  code);
	exec_event(e, "exec_die", code < 0 ? 0 : code);
	maybe_finish(e);
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	static char space[65536];
	*b = uv_buf_init(space, sizeof(space));
}

static void on_output(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct api__exec *e = s->data;
	bool is_err = s == (uv_stream_t *)&e->err;
	if (n < 0) {
		close_handle(e, (uv_handle_t *)s,
			     is_err ? &e->err_open : &e->out_open);
		maybe_finish(e);
		return;
	}
	if (n == 0 || !e->res || !(is_err ? e->want_err : e->want_out))
		return;
	if (e->framed) {
		uint32_t len = (uint32_t)n;
		unsigned char h[8] = {is_err ? 2 : 1,
				      0,
				      0,
				      0,
				      len >> 24,
				      len >> 16 & 0xff,
				      len >> 8 & 0xff,
				      len & 0xff};
		http_response_hijack_write(e->res, h, 8);
	}
	if (http_response_hijack_write(e->res, b->base, (size_t)n) ==
	    -ENOBUFS) {
		uv_read_stop((uv_stream_t *)&e->out);
		if (e->err_open)
			uv_read_stop((uv_stream_t *)&e->err);
	}
}

static void on_drain(struct http_response *res, void *arg)
{
	struct api__exec *e = arg;
	if (e->out_open)
		uv_read_start((uv_stream_t *)&e->out, alloc_cb, on_output);
	if (e->err_open)
		uv_read_start((uv_stream_t *)&e->err, alloc_cb, on_output);
}

static void written(uv_write_t *w, int status)
{
	shoal_free(container_of(w, struct wreq, req));
}

static void on_input(struct http_response *res, const char *d, ssize_t n,
		     void *arg)
{
	struct api__exec *e = arg;
	if (!e->in_open || !e->res)
		return;
	if (n == UV_EOF && !e->tty) {
		/* A pipe has no half-close: closing it is the EOF. */
		close_handle(e, (uv_handle_t *)&e->in, &e->in_open);
		return;
	}
	if (n <= 0)
		return;
	struct wreq *w = shoal_malloc(sizeof(*w) + (size_t)n + API__DETACH_MAX);
	if (!w)
		return;
	size_t len;
	bool detached = api__detach_scan(&e->keys, d, (size_t)n, w->data, &len);
	uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
	if (!len ||
	    uv_write(&w->req, (uv_stream_t *)&e->in, &b, 1, written) < 0)
		shoal_free(w);
	if (detached) {
		/* The process goes on; the client leaves (Docker). */
		log_debug("exec=%s detached by its keys", e->id);
		http_response_on_close(e->res, NULL, NULL);
		http_response_hijack_close(e->res);
		e->res = NULL;
	}
}

static void client_gone(struct http_response *res, void *arg)
{
	struct api__exec *e = arg;
	e->res = NULL;
}

/* Hand fd *@fd to a libuv pipe; the rt_exec no longer owns it. */
static int adopt(struct api__exec *e, uv_pipe_t *p, int *fd, bool *open)
{
	if (*fd < 0)
		return 0;
	int rc = uv_pipe_init(e->st->loop, p, 0);
	if (rc < 0)
		return rc;
	p->data = e;
	*open = true;
	e->handles++;
	rc = uv_pipe_open(p, *fd);
	if (rc == 0)
		*fd = -1;
	return rc;
}

/* The pty's size, through any handle on its master. */
static void set_size(struct api__exec *e, uv_handle_t *h, unsigned rows,
		     unsigned cols)
{
	int fd;
	struct winsize ws = {.ws_row = (unsigned short)rows,
			     .ws_col = (unsigned short)cols};
	if (uv_fileno(h, &fd) == 0 && ioctl(fd, TIOCSWINSZ, &ws) < 0)
		log_debug("exec=%s: cannot resize its tty: %s", e->id,
			  strerror(errno));
}

/* ConsoleSize [rows, cols] of the start body, else of the create body. */
static void console_size(const json_t *start, const json_t *cfg, unsigned *rows,
			 unsigned *cols)
{
	const json_t *cs = json_object_get(start, "ConsoleSize");
	if (!json_is_array(cs))
		cs = json_object_get(cfg, "ConsoleSize");
	json_int_t r = json_integer_value(json_array_get(cs, 0));
	json_int_t c = json_integer_value(json_array_get(cs, 1));
	if (r > 0 && c > 0 && r <= 65535 && c <= 65535) {
		*rows = (unsigned)r;
		*cols = (unsigned)c;
	}
}

static int wire(struct api__exec *e, bool attached)
{
	struct rt_exec *x = e->ex;
	int rc = 0;
	if (e->tty) {
		int dupfd = attached ? fcntl(x->pty, F_DUPFD_CLOEXEC, 0) : -1;
		if (attached && dupfd < 0)
			return -errno;
		rc = adopt(e, &e->out, &dupfd, &e->out_open);
		if (rc == 0 && attached && e->want_in)
			rc = adopt(e, &e->in, &x->pty, &e->in_open);
	} else if (attached) {
		rc = adopt(e, &e->out, &x->stdout_fd, &e->out_open);
		if (rc == 0)
			rc = adopt(e, &e->err, &x->stderr_fd, &e->err_open);
		if (rc == 0 && e->want_in)
			rc = adopt(e, &e->in, &x->stdin_fd, &e->in_open);
	}
	if (rc == 0)
		rc = uv_poll_init(e->st->loop, &e->exit_poll, x->pidfd);
	if (rc == 0) {
		e->exit_poll.data = e;
		e->poll_open = true;
		e->handles++;
		rc = uv_poll_start(&e->exit_poll, UV_READABLE, on_exit_ready);
	}
	if (!e->tty && x->stdin_fd >= 0) {
		/* Not attached: the process reads EOF, as with Docker. */
		close(x->stdin_fd);
		x->stdin_fd = -1;
	}
	if (rc == 0 && e->tty && e->out_open && e->rows)
		set_size(e, (uv_handle_t *)&e->out, e->rows, e->cols);
	if (rc == 0 && e->out_open)
		rc = uv_read_start((uv_stream_t *)&e->out, alloc_cb, on_output);
	if (rc == 0 && e->err_open)
		rc = uv_read_start((uv_stream_t *)&e->err, alloc_cb, on_output);
	return rc;
}

static int strv(const json_t *a, const char **v, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; json_is_array(a) && i < json_array_size(a); i++) {
		const char *s = json_string_value(json_array_get(a, i));
		if (s && n + 1 < max)
			v[n++] = s;
	}
	v[n] = NULL;
	return (int)n;
}

static const char *stream_type(bool tty)
{
	return tty ? "application/vnd.docker.raw-stream"
		   : "application/vnd.docker.multiplexed-stream";
}

static void ignore_input(struct http_response *res, const char *d, ssize_t n,
			 void *arg)
{
}

/*
 * The process could not be started (not found, not executable, ...).
 * Docker records exit code 126 whatever the cause and, for an attached
 * start, upgrades the connection first and writes its sentence on the
 * stdout stream, then closes: the docker CLI prints it and exits with the
 * exec's exit code. A detached start gets the sentence as an error answer.
 */
static void start_failed(struct api_call *call, struct api__exec *e, int rc,
			 const struct shoal_err *re, bool detach)
{
	char msg[sizeof(re->msg) + 128];
	int n = snprintf(msg, sizeof(msg),
			 "OCI runtime exec failed: exec failed: unable to "
			 "start container process: %s: unknown\r\n",
			 re->msg[0] ? re->msg : shoal_strerror(rc));
	size_t len = n < 0		       ? 0
		     : (size_t)n < sizeof(msg) ? (size_t)n
					       : sizeof(msg) - 1;

	e->exited = true;
	e->exit_code = 126;
	log_info("exec=%s in container=%s failed: %s", e->id, e->cid, re->msg);
	if (detach) {
		msg[len > 2 ? len - 2 : 0] = '\0'; /* no CR LF in JSON */
		api_reply_error(call,
				rc == -ENOENT || rc == -EINVAL ? 400 : 500,
				"%s", msg);
		return;
	}
	if (http_response_hijack(call->res, call->req->upgrade ? 101 : 200,
				 stream_type(!e->framed), ignore_input,
				 e) < 0) {
		api_reply_error(call, 500, "%s", msg);
		return;
	}
	if (e->framed) {
		unsigned char h[8] = {1,	 0, 0, 0, 0, 0, len >> 8 & 0xff,
				      len & 0xff};
		http_response_hijack_write(call->res, h, sizeof(h));
	}
	http_response_hijack_write(call->res, msg, len);
	http_response_hijack_close(call->res);
}

static void exec_start(struct api_call *call)
{
	struct api__state *st;
	struct api__exec *e = find(call, &st);
	if (!e)
		return;
	if (e->started) {
		api_reply_error(call, 409, "Exec %s has already been started",
				e->id);
		return;
	}
	json_t *body = NULL;
	char err[256];
	if (call->req->body_len &&
	    jsonx_parse_object(call->req->body, call->req->body_len, &body, err,
			       sizeof(err)) < 0) {
		api_reply_error(call, 400, "%s", err);
		return;
	}
	bool detach = jsonx_bool(body, "Detach", false);
	/* Docker frames the stream by the start's Tty, not the create's. */
	e->framed = !jsonx_bool(body, "Tty", false);
	console_size(body, e->cfg, &e->rows, &e->cols);
	json_decref(body);
	e->want_in = jsonx_bool(e->cfg, "AttachStdin", false);
	e->want_out = jsonx_bool(e->cfg, "AttachStdout", false);
	e->want_err = jsonx_bool(e->cfg, "AttachStderr", false);
	const char *argv[MAX_ARGS], *env[MAX_ARGS];
	strv(json_object_get(e->cfg, "Cmd"), argv, MAX_ARGS);
	strv(json_object_get(e->cfg, "Env"), env, MAX_ARGS);
	const char *user = jsonx_str(e->cfg, "User", "");
	const char *wd = jsonx_str(e->cfg, "WorkingDir", "");
	e->tty = jsonx_bool(e->cfg, "Tty", false);
	struct rt_exec_spec spec = {
		.argv = argv,
		.env = env,
		.user = *user ? user : NULL,
		.workdir = *wd ? wd : NULL,
		.tty = e->tty,
		.privileged = jsonx_bool(e->cfg, "Privileged", false),
	};
	struct shoal_err re = {""};
	e->started = true;
	int rc = rt_exec_start(st->rt, e->cid, &spec, &e->ex, &re);
	if (rc < 0) {
		start_failed(call, e, rc, &re, detach);
		return;
	}
	e->running = true;
	e->pid = e->ex->pid;
	exec_event(e, "exec_start", -1);
	if (detach) {
		rc = wire(e, false);
		http_response_send(call->res, 200, NULL, NULL, 0);
		return;
	}
	rc = http_response_hijack(call->res, call->req->upgrade ? 101 : 200,
				  stream_type(!e->framed), on_input, e);
	if (rc < 0) {
		api_reply_error(call, 500, "cannot hijack: %s",
				shoal_strerror(rc));
		return;
	}
	e->res = call->res;
	http_response_on_close(call->res, client_gone, e);
	http_response_on_drain(call->res, on_drain, e);
	rc = wire(e, true);
	if (rc < 0) {
		log_warn("exec=%s: cannot relay its stdio: %s", e->id,
			 shoal_strerror(rc));
		maybe_finish(e);
	}
}

/* --- inspect, resize ------------------------------------------------------ */

static void exec_inspect(struct api_call *call)
{
	struct api__state *st;
	struct api__exec *e = find(call, &st);
	if (!e)
		return;
	const json_t *cmd = json_object_get(e->cfg, "Cmd");
	json_t *args = json_array();
	for (size_t i = 1; args && i < json_array_size(cmd); i++)
		json_array_append(args, json_array_get(cmd, i));
	json_t *pc = json_pack("{s:b, s:s, s:o, s:b, s:s}", "tty",
			       jsonx_bool(e->cfg, "Tty", false), "entrypoint",
			       json_string_value(json_array_get(cmd, 0)),
			       "arguments", args, "privileged",
			       jsonx_bool(e->cfg, "Privileged", false), "user",
			       jsonx_str(e->cfg, "User", ""));
	json_t *o = json_pack(
		"{s:s, s:b, s:o, s:o, s:b, s:b, s:b, s:b, s:s, s:s, s:i}", "ID",
		e->id, "Running", e->running, "ExitCode",
		e->exited ? json_integer(e->exit_code) : json_null(),
		"ProcessConfig", pc, "OpenStdin",
		jsonx_bool(e->cfg, "AttachStdin", false), "OpenStderr",
		jsonx_bool(e->cfg, "AttachStderr", false), "OpenStdout",
		jsonx_bool(e->cfg, "AttachStdout", false), "CanRemove", 0,
		"ContainerID", e->cid, "DetachKeys",
		jsonx_str(e->cfg, "DetachKeys", ""), "Pid", (int)e->pid);
	api_reply_json(call, 200, o);
}

static void exec_resize(struct api_call *call)
{
	struct api__state *st;
	struct api__exec *e = find(call, &st);
	if (!e)
		return;
	const char *h = http_request_query(call->req, "h");
	const char *w = http_request_query(call->req, "w");
	long rows = h ? strtol(h, NULL, 10) : 0;
	long cols = w ? strtol(w, NULL, 10) : 0;
	if (rows <= 0 || cols <= 0 || rows > 65535 || cols > 65535) {
		api_reply_error(call, 400, "invalid tty size");
		return;
	}
	if (e->tty && e->out_open)
		set_size(e, (uv_handle_t *)&e->out, (unsigned)rows,
			 (unsigned)cols);
	http_response_send(call->res, 201, NULL, NULL, 0);
}

static const struct api_route routes[] = {
	{"POST", "/containers/{id}/exec", exec_create},
	{"POST", "/exec/{id}/start", exec_start},
	{"GET", "/exec/{id}/json", exec_inspect},
	{"POST", "/exec/{id}/resize", exec_resize},
};

const struct api_route_table api_exec_table = {
	.name = "exec",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
};
