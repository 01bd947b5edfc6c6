/*
 * Container life-cycle routes of the Docker Engine API v1.45: start, stop,
 * restart, kill, pause, unpause, wait and delete (create is in
 * containers_create.c, list and inspect in containers_json.c).
 *
 * Nothing here blocks the loop for long. stop and restart send the stop
 * signal and return to the loop; the container's exit watch (ctr_state.c)
 * wakes them, and a timer sends SIGKILL when the grace period runs out.
 * wait answers its head at once, as Docker does, because the docker CLI
 * waits for that head before it starts the container (docker run), then
 * sends the body when the condition is met. A client that leaves takes its
 * waiter with it; a stop whose client left still finishes.
 *
 * Status codes are Docker's: 404 "No such container: x", 304 for a start
 * of a running or a stop of a stopped container, 409 for a kill or pause
 * of a container that is not running and for removing a running one
 * without force.
 */
#define LOG_MODULE "api"
#include "api/internal.h"
#include "common/alloc.h"
#include "common/error.h"
#include "common/jsonx.h"
#include "common/log.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int api__resolve(struct api_call *call, struct api__state *st, const char *ref,
		 char id[RT_ID_LEN + 1])
{
	int rc = rt_container_resolve(st->rt, ref, id);
	if (rc == 0)
		return 0;
	if (rc == -EINVAL)
		api_reply_error(call, 400,
				"multiple containers found with provided "
				"prefix: %s",
				ref);
	else
		api_reply_error(call, 404, "No such container: %s", ref);
	return -1;
}

/* The container behind {id}, or an answer already sent and NULL. */
static struct api__state *target(struct api_call *call, char id[65],
				 struct rt_info *info)
{
	struct api__state *st = api__need(call);
	if (!st || api__resolve(call, st, api_param(call, "id"), id) < 0)
		return NULL;
	if (rt_container_inspect(st->rt, id, info) < 0) {
		api_reply_error(call, 404, "No such container: %s",
				api_param(call, "id"));
		return NULL;
	}
	return st;
}

/* target() for handlers that need only the container's status. */
static struct api__state *target_status(struct api_call *call, char id[65],
					enum rt_status *status)
{
	struct rt_info info;
	struct api__state *st = target(call, id, &info);
	if (st) {
		*status = info.status;
		rt_info_fini(&info);
	}
	return st;
}

static const struct {
	const char *name;
	int sig;
} signals[] = {
	{"HUP", SIGHUP},       {"INT", SIGINT},	  {"QUIT", SIGQUIT},
	{"ILL", SIGILL},       {"TRAP", SIGTRAP}, {"ABRT", SIGABRT},
	{"BUS", SIGBUS},       {"FPE", SIGFPE},	  {"KILL", SIGKILL},
	{"USR1", SIGUSR1},     {"SEGV", SIGSEGV}, {"USR2", SIGUSR2},
	{"PIPE", SIGPIPE},     {"ALRM", SIGALRM}, {"TERM", SIGTERM},
	{"CHLD", SIGCHLD},     {"CONT", SIGCONT}, {"STOP", SIGSTOP},
	{"TSTP", SIGTSTP},     {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},
	{"URG", SIGURG},       {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ},
	{"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH},
	{"IO", SIGIO},	       {"PWR", SIGPWR},	  {"SYS", SIGSYS},
};

/* "SIGTERM", "TERM", "15" (case-insensitive); -EINVAL. */
static int parse_signal(const char *s)
{
	if (!s || !*s)
		return -EINVAL;
	char *end;
	long n = strtol(s, &end, 10);
	if (*end == '\0')
		return n > 0 && n < 65 ? (int)n : -EINVAL;
	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (!strcasecmp(s, signals[i].name))
			return signals[i].sig;
	return -EINVAL;
}

/* Config.StopSignal and Config.StopTimeout from docker.json. */
static void stop_defaults(struct api__state *st, const char *id, int *sig,
			  int64_t *timeout)
{
	json_t *m = NULL;
	*sig = SIGTERM;
	*timeout = 10;
	if (api__meta_load(st, id, &m) < 0)
		return;
	const json_t *cfg = jsonx_obj(m, "Config");
	int s = parse_signal(jsonx_str(cfg, "StopSignal", NULL));
	if (s > 0)
		*sig = s;
	const json_t *t = json_object_get(cfg, "StopTimeout");
	if (json_is_integer(t))
		*timeout = json_integer_value(t);
	json_decref(m);
}

static int start_now(struct api__state *st, const char *id, struct rt_err *e)
{
	int rc = rt_container_start(st->rt, id, e);
	if (rc < 0)
		return rc;
	log_info("container=%s started", id);
	rc = api__watch(st, id);
	if (rc < 0)
		log_warn("container=%s: cannot watch its exit: %s", id,
			 shoal_strerror(rc));
	api__attach_started(st, id);
	return 0;
}

static void reply_start_error(struct api_call *call, int rc,
			      const struct rt_err *e)
{
	int status = rc == -ENOENT || rc == -EINVAL ? 400
		     : rc == SHOAL_ECONFLICT	    ? 409
						    : 500;
	api_reply_error(call, status, "%s",
			e->msg[0] ? e->msg : shoal_strerror(rc));
}

/* A container with AutoRemove that fails to start goes, as in Docker (the
 * docker CLI waits for its removal after a failed start with --rm). */
static void remove_if_auto(struct api__state *st, const char *id)
{
	json_t *m = NULL;
	if (api__meta_load(st, id, &m) < 0)
		return;
	bool ar = jsonx_bool(jsonx_obj(m, "HostConfig"), "AutoRemove", false);
	json_decref(m);
	if (ar)
		api__remove(st, id, true, true);
}

static void start(struct api_call *call)
{
	char id[65];
	enum rt_status s;
	struct api__state *st = target_status(call, id, &s);
	if (!st)
		return;
	if (s == RT_STATUS_RUNNING || s == RT_STATUS_PAUSED) {
		http_response_send(call->res, 304, NULL, NULL, 0);
		return;
	}
	struct rt_err e = {""};
	int rc = start_now(st, id, &e);
	if (rc < 0) {
		reply_start_error(call, rc, &e);
		if (rc != SHOAL_ECONFLICT) /* busy: it may start later */
			remove_if_auto(st, id);
		return;
	}
	http_response_send(call->res, 204, NULL, NULL, 0);
}

/* --- stop and restart ----------------------------------------------------- */

struct stop_op {
	struct api__waiter w;
	struct api__state *st;
	struct http_response *res; /* NULL once the client left */
	uv_timer_t timer;
	bool restart;
};

static void stop_freed(uv_handle_t *h)
{
	shoal_free(h->data);
}

static void stop_client_gone(struct http_response *res, void *arg)
{
	struct stop_op *op = arg;
	op->res = NULL;
}

static void stop_done(struct api__waiter *w, int code, bool removed)
{
	struct stop_op *op = w->arg;
	uv_timer_stop(&op->timer);
	if (op->res && op->restart && removed) {
		http_response_send_error(op->res, 404, "No such container");
	} else if (op->res && op->restart) {
		struct rt_err e = {""};
		int rc = start_now(op->st, w->id, &e);
		if (rc < 0)
			http_response_send_error(op->res, 500,
						 e.msg[0] ? e.msg
							  : shoal_strerror(rc));
		else
			http_response_send(op->res, 204, NULL, NULL, 0);
	} else if (op->res) {
		http_response_send(op->res, 204, NULL, NULL, 0);
	}
	if (op->res)
		http_response_on_close(op->res, NULL, NULL);
	uv_close((uv_handle_t *)&op->timer, stop_freed);
}

static void stop_timeout(uv_timer_t *t)
{
	struct stop_op *op = t->data;
	log_info("container=%s did not stop in time; sending SIGKILL",
		 op->w.id);
	rt_container_kill(op->st->rt, op->w.id, SIGKILL);
}

static void stop_or_restart(struct api_call *call, bool restart)
{
	char id[65];
	enum rt_status s;
	struct api__state *st = target_status(call, id, &s);
	if (!st)
		return;
	int sig;
	int64_t t;
	stop_defaults(st, id, &sig, &t);
	const char *qs = http_request_query(call->req, "signal");
	if (qs && *qs && (sig = parse_signal(qs)) < 0) {
		api_reply_error(call, 400, "Invalid signal: %s", qs);
		return;
	}
	const char *qt = http_request_query(call->req, "t");
	if (qt && *qt) {
		char *end;
		t = strtoll(qt, &end, 10);
		if (*end) {
			api_reply_error(call, 400, "invalid value for t: %s",
					qt);
			return;
		}
	}
	bool running = s == RT_STATUS_RUNNING || s == RT_STATUS_PAUSED;
	if (!running || api__watch(st, id) < 0) {
		if (!restart) {
			http_response_send(call->res, 304, NULL, NULL, 0);
			return;
		}
		struct rt_err e = {""};
		int rc = start_now(st, id, &e);
		if (rc < 0)
			reply_start_error(call, rc, &e);
		else
			http_response_send(call->res, 204, NULL, NULL, 0);
		return;
	}
	struct stop_op *op = shoal_calloc(1, sizeof(*op));
	if (!op) {
		api_reply_error(call, 500, "out of memory");
		return;
	}
	op->st = st;
	op->res = call->res;
	op->restart = restart;
	op->w.kind = API__WAIT_EXIT;
	op->w.fn = stop_done;
	op->w.arg = op;
	memcpy(op->w.id, id, sizeof(op->w.id));
	uv_timer_init(st->loop, &op->timer);
	op->timer.data = op;
	api__wait_add(st, &op->w);
	http_response_on_close(call->res, stop_client_gone, op);
	int rc = rt_container_kill(st->rt, id, sig);
	if (rc < 0 && rc != -ESRCH)
		log_warn("container=%s: stop signal failed: %s", id,
			 shoal_strerror(rc));
	if (t >= 0)
		uv_timer_start(&op->timer, stop_timeout, (uint64_t)t * 1000, 0);
	log_info("container=%s stopping (signal %d, grace %llds)", id, sig,
		 (long long)t);
}

static void stop(struct api_call *call)
{
	stop_or_restart(call, false);
}

static void restart(struct api_call *call)
{
	stop_or_restart(call, true);
}

/* --- kill, pause ---------------------------------------------------------- */

static void kill_(struct api_call *call)
{
	char id[65];
	enum rt_status s;
	struct api__state *st = target_status(call, id, &s);
	if (!st)
		return;
	const char *qs = http_request_query(call->req, "signal");
	int sig = qs && *qs ? parse_signal(qs) : SIGKILL;
	if (sig < 0) {
		api_reply_error(call, 400, "Invalid signal: %s", qs);
		return;
	}
	if (s != RT_STATUS_RUNNING && s != RT_STATUS_PAUSED) {
		api_reply_error(call, 409,
				"Cannot kill container: %s: container %s is "
				"not running",
				api_param(call, "id"), id);
		return;
	}
	int rc = rt_container_kill(st->rt, id, sig);
	if (rc == -ESRCH) {
		api_reply_error(call, 409,
				"Cannot kill container: %s: container %s is "
				"not running",
				api_param(call, "id"), id);
		return;
	}
	if (rc < 0) {
		api_reply_error(call, 500, "Cannot kill container: %s: %s",
				api_param(call, "id"), shoal_strerror(rc));
		return;
	}
	http_response_send(call->res, 204, NULL, NULL, 0);
}

static void pause_or_unpause(struct api_call *call, bool pause)
{
	char id[65];
	enum rt_status s;
	struct api__state *st = target_status(call, id, &s);
	if (!st)
		return;
	if (s != RT_STATUS_RUNNING && s != RT_STATUS_PAUSED) {
		api_reply_error(call, 409, "Container %s is not running", id);
		return;
	}
	if (pause && s == RT_STATUS_PAUSED) {
		api_reply_error(call, 409, "Container %s is already paused",
				id);
		return;
	}
	if (!pause && s != RT_STATUS_PAUSED) {
		api_reply_error(call, 409, "Container %s is not paused", id);
		return;
	}
	int rc = pause ? rt_container_pause(st->rt, id)
		       : rt_container_unpause(st->rt, id);
	if (rc < 0) {
		api_reply_error(call, 500, "cannot %s container %s: %s",
				pause ? "pause" : "unpause", id,
				shoal_strerror(rc));
		return;
	}
	http_response_send(call->res, 204, NULL, NULL, 0);
}

static void pause_(struct api_call *call)
{
	pause_or_unpause(call, true);
}

static void unpause(struct api_call *call)
{
	pause_or_unpause(call, false);
}

/* --- wait ----------------------------------------------------------------- */

struct wait_op {
	struct api__waiter w;
	struct http_response *res;
};

static void wait_body(struct http_response *res, int code)
{
	char body[96];
	int n = snprintf(body, sizeof(body),
			 "{\"Error\":null,\"StatusCode\":%d}\n",
			 code < 0 ? 0 : code);
	http_response_write(res, body, (size_t)n);
	http_response_end(res);
}

static void wait_done(struct api__waiter *w, int code, bool removed)
{
	struct wait_op *op = w->arg;
	http_response_on_close(op->res, NULL, NULL);
	wait_body(op->res, code);
	shoal_free(op);
}

static void wait_gone(struct http_response *res, void *arg)
{
	struct wait_op *op = arg;
	api__wait_cancel(&op->w);
	shoal_free(op);
}

static void wait_(struct api_call *call)
{
	char id[65];
	struct rt_info info;
	struct api__state *st = target(call, id, &info);
	if (!st)
		return;
	enum rt_status s = info.status;
	int code = info.exit_code;
	rt_info_fini(&info);
	const char *cond = http_request_query(call->req, "condition");
	enum api__wait_kind kind = API__WAIT_EXIT;
	bool now = false;
	if (!cond || !*cond || !strcmp(cond, "not-running"))
		now = s == RT_STATUS_CREATED || s == RT_STATUS_EXITED;
	else if (!strcmp(cond, "removed"))
		kind = API__WAIT_REMOVED;
	else if (strcmp(cond, "next-exit") != 0) {
		api_reply_error(call, 400, "invalid condition: \"%s\"", cond);
		return;
	}
	if (now) {
		if (http_response_begin(call->res, 200, "application/json") <
		    0) {
			api_reply_error(call, 500, "out of memory");
			return;
		}
		wait_body(call->res, s == RT_STATUS_EXITED ? code : 0);
		return;
	}
	struct wait_op *op = shoal_calloc(1, sizeof(*op));
	if (!op ||
	    http_response_begin(call->res, 200, "application/json") < 0) {
		shoal_free(op);
		api_reply_error(call, 500, "out of memory");
		return;
	}
	op->res = call->res;
	op->w.kind = kind;
	op->w.fn = wait_done;
	op->w.arg = op;
	memcpy(op->w.id, id, sizeof(op->w.id));
	api__wait_add(st, &op->w);
	http_response_on_close(call->res, wait_gone, op);
	/* A watch that cannot start would leave the client waiting forever:
	 * answer with what is known instead. */
	if ((s == RT_STATUS_RUNNING || s == RT_STATUS_PAUSED) &&
	    api__watch(st, id) < 0) {
		api__wait_cancel(&op->w);
		wait_done(&op->w, code, false);
	}
}

/* --- delete --------------------------------------------------------------- */

static void delete_(struct api_call *call)
{
	char id[65];
	enum rt_status s;
	struct api__state *st = target_status(call, id, &s);
	if (!st)
		return;
	bool force = api__query_bool(call, "force", false);
	bool vols = api__query_bool(call, "v", false);
	if ((s == RT_STATUS_RUNNING || s == RT_STATUS_PAUSED) && !force) {
		api_reply_error(call, 409,
				"cannot remove container \"%s\": container is "
				"%s: stop the container before removing or "
				"force remove",
				api_param(call, "id"),
				s == RT_STATUS_PAUSED ? "paused" : "running");
		return;
	}
	int rc = api__remove(st, id, force, vols);
	if (rc == SHOAL_ENOTFOUND) {
		api_reply_error(call, 404, "No such container: %s",
				api_param(call, "id"));
		return;
	}
	if (rc == SHOAL_ECONFLICT) {
		api_reply_error(call, 409,
				"cannot remove container \"%s\": container is "
				"running: stop the container before removing "
				"or force remove",
				api_param(call, "id"));
		return;
	}
	if (rc < 0) {
		api_reply_error(call, 500, "cannot remove container %s: %s", id,
				shoal_strerror(rc));
		return;
	}
	log_info("container=%s removed", id);
	http_response_send(call->res, 204, NULL, NULL, 0);
}

/* POST /containers/prune: every container that is not running. */
static void prune(struct api_call *call)
{
	struct api__state *st = api__need(call);
	if (!st)
		return;
	char **ids;
	size_t n;
	if (rt_container_list(st->rt, &ids, &n) < 0) {
		api_reply_error(call, 500, "cannot list containers");
		return;
	}
	json_t *gone = json_array();
	for (size_t i = 0; gone && i < n; i++) {
		struct rt_info info;
		if (rt_container_inspect(st->rt, ids[i], &info) < 0)
			continue;
		bool stopped = info.status == RT_STATUS_CREATED ||
			       info.status == RT_STATUS_EXITED;
		rt_info_fini(&info);
		if (stopped && api__remove(st, ids[i], false, false) == 0)
			json_array_append_new(gone, json_string(ids[i]));
	}
	rt_list_free(ids, n);
	api_reply_json(call, 200,
		       gone ? json_pack("{s:o, s:i}", "ContainersDeleted", gone,
					"SpaceReclaimed", 0)
			    : NULL);
}

void api__container_list(struct api_call *call);
void api__container_inspect(struct api_call *call);

static const struct api_route routes[] = {
	{"POST", "/containers/create", api__container_create},
	{"POST", "/containers/prune", prune},
	{"GET", "/containers/json", api__container_list},
	{"GET", "/containers/{id}/json", api__container_inspect},
	{"POST", "/containers/{id}/start", start},
	{"POST", "/containers/{id}/stop", stop},
	{"POST", "/containers/{id}/restart", restart},
	{"POST", "/containers/{id}/kill", kill_},
	{"POST", "/containers/{id}/pause", pause_},
	{"POST", "/containers/{id}/unpause", unpause},
	{"POST", "/containers/{id}/wait", wait_},
	{"DELETE", "/containers/{id}", delete_},
};

const struct api_route_table api_containers_table = {
	.name = "containers",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
};
