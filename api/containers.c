/*
 * Container life-cycle routes of the Docker Engine API v1.45: start, stop,
 * restart, kill, pause, unpause, wait, delete and prune (create is in
 * containers_create.c, list and inspect in containers_json.c). Each is a
 * thin translation to the engine (engine/engine.h), which does the work
 * without blocking the loop: stop and restart answer when the engine's
 * completion runs, wait answers its head at once (the docker CLI waits for
 * it before it starts a container it runs attached) and its body from an
 * engine waiter. A client that leaves takes its waiter with it; a stop
 * whose client left still finishes.
 *
 * Status codes are Docker's: 404 "No such container: x", 304 for a start
 * of a running (or restarting) container or a stop of a stopped one, 409
 * for a kill or pause of a container that is not running and for removing
 * a running or restarting one without force.
 */
#define LOG_MODULE "api"
#include "api/internal.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/jsonx.h"
#include "common/log.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int api__resolve(struct api_call *call, struct api__state *st, const char *ref,
		 char id[RT_ID_LEN + 1])
{
	int rc = eng_resolve(st->eng, ref, id);
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
				 struct eng_info *info)
{
	struct api__state *st = api__need(call);
	if (!st || api__resolve(call, st, api_param(call, "id"), id) < 0)
		return NULL;
	if (eng_inspect(st->eng, id, info) < 0) {
		api_reply_error(call, 404, "No such container: %s",
				api_param(call, "id"));
		return NULL;
	}
	return st;
}

/* target() for handlers that need only the container's state. */
static struct api__state *target_state(struct api_call *call, char id[65],
				       enum eng_state *state)
{
	struct eng_info info;
	struct api__state *st = target(call, id, &info);
	if (st) {
		*state = info.state;
		eng_info_fini(&info);
	}
	return st;
}

static void reply_start_error(struct api_call *call, int rc,
			      const struct shoal_err *e)
{
	int status = rc == -ENOENT || rc == -EINVAL ? 400
		     : rc == SHOAL_ECONFLICT	    ? 409
						    : 500;
	api_reply_error(call, status, "%s",
			e->msg[0] ? e->msg : shoal_strerror(rc));
}

static void start(struct api_call *call)
{
	char id[65];
	enum eng_state s;
	struct api__state *st = target_state(call, id, &s);
	if (!st)
		return;
	struct shoal_err e = {""};
	int rc = eng_start(st->eng, id, &e);
	if (rc == -EALREADY) {
		http_response_send(call->res, 304, NULL, NULL, 0);
		return;
	}
	if (rc < 0) {
		reply_start_error(call, rc, &e);
		return;
	}
	http_response_send(call->res, 204, NULL, NULL, 0);
}

/* --- stop and restart ----------------------------------------------------- */

struct stop_op {
	struct http_response *res; /* NULL once the client left */
	bool restart;
};

static void stop_client_gone(struct http_response *res, void *arg)
{
	struct stop_op *op = arg;
	op->res = NULL;
}

static void stop_done(void *arg, int rc, const char *msg)
{
	struct stop_op *op = arg;
	if (op->res) {
		http_response_on_close(op->res, NULL, NULL);
		if (op->restart && rc == SHOAL_ENOTFOUND)
			http_response_send_error(op->res, 404,
						 "No such container");
		else if (op->restart && rc < 0)
			http_response_send_error(
				op->res, 500,
				msg && *msg ? msg : shoal_strerror(rc));
		else
			http_response_send(op->res, 204, NULL, NULL, 0);
	}
	shoal_free(op);
}

static void stop_or_restart(struct api_call *call, bool restart)
{
	char id[65];
	enum eng_state s;
	struct api__state *st = target_state(call, id, &s);
	if (!st)
		return;
	struct eng_stop_opts o = {0};
	const char *qs = http_request_query(call->req, "signal");
	if (qs && *qs && (o.signal = eng_signal_parse(qs)) < 0) {
		api_reply_error(call, 400, "Invalid signal: %s", qs);
		return;
	}
	const char *qt = http_request_query(call->req, "t");
	if (qt && *qt) {
		char *end;
		o.timeout_s = strtoll(qt, &end, 10);
		o.timeout_set = true;
		if (*end) {
			api_reply_error(call, 400, "invalid value for t: %s",
					qt);
			return;
		}
	}
	struct stop_op *op = shoal_calloc(1, sizeof(*op));
	if (!op) {
		api_reply_error(call, 500, "out of memory");
		return;
	}
	op->res = call->res;
	op->restart = restart;
	int rc = restart ? eng_restart(st->eng, id, &o, stop_done, op)
			 : eng_stop(st->eng, id, &o, stop_done, op);
	if (rc < 0) {
		shoal_free(op);
		if (rc == -EALREADY)
			http_response_send(call->res, 304, NULL, NULL, 0);
		else if (rc == SHOAL_ENOTFOUND)
			api_reply_error(call, 404, "No such container: %s",
					api_param(call, "id"));
		else
			api_reply_error(call, 500,
					"cannot stop container %s: %s", id,
					shoal_strerror(rc));
		return;
	}
	http_response_on_close(call->res, stop_client_gone, op);
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

/*
 * A kill with SIGKILL answers once the container has exited, as Docker's
 * daemon.Kill() does: an inspect right after shows it exited and a
 * remove right after succeeds. The wait is bounded (KILL_WAIT_MS); past
 * it the answer is sent anyway (a task stuck in the kernel).
 */
#define KILL_WAIT_MS 10000

struct kill_op {
	struct eng_waiter w;
	struct http_response *res; /* NULL once answered or gone */
	uv_timer_t timer;
	bool waiting;
};

static void kill_timer_closed(uv_handle_t *h)
{
	shoal_free(h->data);
}

static void kill_finish(struct kill_op *op)
{
	if (op->waiting)
		eng_wait_cancel(&op->w);
	op->waiting = false;
	if (op->res) {
		http_response_on_close(op->res, NULL, NULL);
		http_response_send(op->res, 204, NULL, NULL, 0);
		op->res = NULL;
	}
	uv_close((uv_handle_t *)&op->timer, kill_timer_closed);
}

static void kill_exited(struct eng_waiter *w, int code, bool removed)
{
	struct kill_op *op = w->arg;
	op->waiting = false;
	kill_finish(op);
}

static void kill_timeout(uv_timer_t *t)
{
	struct kill_op *op = t->data;
	log_warn("container=%s still running %d ms after SIGKILL", op->w.id,
		 KILL_WAIT_MS);
	kill_finish(op);
}

static void kill_gone(struct http_response *res, void *arg)
{
	struct kill_op *op = arg;
	op->res = NULL;
	kill_finish(op);
}

/* Queue the wait for the exit before the signal; NULL: do not wait. */
static struct kill_op *kill_wait_prepare(struct api__state *st, const char *id)
{
	struct kill_op *op = shoal_calloc(1, sizeof(*op));
	if (!op)
		return NULL;
	op->w.kind = ENG_WAIT_EXIT;
	op->w.fn = kill_exited;
	op->w.arg = op;
	if (uv_timer_init(st->loop, &op->timer) < 0) {
		shoal_free(op);
		return NULL;
	}
	op->timer.data = op;
	if (eng_wait_add(st->eng, id, &op->w) < 0) {
		uv_close((uv_handle_t *)&op->timer, kill_timer_closed);
		return NULL;
	}
	op->waiting = true;
	return op;
}

static void kill_(struct api_call *call)
{
	char id[65];
	enum eng_state s;
	struct api__state *st = target_state(call, id, &s);
	if (!st)
		return;
	const char *qs = http_request_query(call->req, "signal");
	int sig = qs && *qs ? eng_signal_parse(qs) : SIGKILL;
	if (sig < 0) {
		api_reply_error(call, 400, "Invalid signal: %s", qs);
		return;
	}
	struct kill_op *op = NULL;
	if (sig == SIGKILL && (s == ENG_STATE_RUNNING || s == ENG_STATE_PAUSED))
		op = kill_wait_prepare(st, id);
	int rc = eng_kill(st->eng, id, sig);
	if (rc < 0 && op) {
		op->res = NULL;
		kill_finish(op);
		op = NULL;
	}
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
	if (!op) {
		http_response_send(call->res, 204, NULL, NULL, 0);
		return;
	}
	op->res = call->res;
	http_response_on_close(call->res, kill_gone, op);
	uv_timer_start(&op->timer, kill_timeout, KILL_WAIT_MS, 0);
}

static void pause_or_unpause(struct api_call *call, bool pause)
{
	char id[65];
	enum eng_state s;
	struct api__state *st = target_state(call, id, &s);
	if (!st)
		return;
	if (pause && s == ENG_STATE_RESTARTING) {
		api_reply_error(call, 409,
				"Container %s is restarting, wait until the "
				"container is running",
				id);
		return;
	}
	int rc = pause ? eng_pause(st->eng, id) : eng_unpause(st->eng, id);
	if (rc == -ESRCH)
		api_reply_error(call, 409, "Container %s is not running", id);
	else if (rc == -EALREADY)
		api_reply_error(call, 409,
				pause ? "Container %s is already paused"
				      : "Container %s is not paused",
				id);
	else if (rc < 0)
		api_reply_error(call, 500, "cannot %s container %s: %s",
				pause ? "pause" : "unpause", id,
				shoal_strerror(rc));
	else
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
	struct eng_waiter w;
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

static void wait_done(struct eng_waiter *w, int code, bool removed)
{
	struct wait_op *op = w->arg;
	http_response_on_close(op->res, NULL, NULL);
	wait_body(op->res, code);
	shoal_free(op);
}

static void wait_gone(struct http_response *res, void *arg)
{
	struct wait_op *op = arg;
	eng_wait_cancel(&op->w);
	shoal_free(op);
}

static void wait_(struct api_call *call)
{
	char id[65];
	struct eng_info info;
	struct api__state *st = target(call, id, &info);
	if (!st)
		return;
	enum eng_state s = info.state;
	int code = info.rt.exit_code;
	eng_info_fini(&info);
	const char *cond = http_request_query(call->req, "condition");
	enum eng_wait_kind kind = ENG_WAIT_EXIT;
	bool now = false;
	/* A container waiting for its policy's restart is running for
	 * Docker: not-running waits for its next exit. */
	if (!cond || !*cond || !strcmp(cond, "not-running"))
		now = s == ENG_STATE_CREATED || s == ENG_STATE_EXITED;
	else if (!strcmp(cond, "removed"))
		kind = ENG_WAIT_REMOVED;
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
		wait_body(call->res, s == ENG_STATE_EXITED ? code : 0);
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
	/* A watch that cannot start would leave the client waiting forever:
	 * answer with what is known instead. */
	if (eng_wait_add(st->eng, id, &op->w) < 0) {
		wait_body(op->res, code);
		shoal_free(op);
		return;
	}
	http_response_on_close(call->res, wait_gone, op);
}

/* --- rename ------------------------------------------------------------ */

static void rename_(struct api_call *call)
{
	char id[65];
	enum eng_state s;
	struct api__state *st = target_state(call, id, &s);
	if (!st)
		return;
	struct shoal_err e = {""};
	int rc = eng_rename(st->eng, id, http_request_query(call->req, "name"),
			    &e);
	if (rc == 0) {
		http_response_send(call->res, 204, NULL, NULL, 0);
		return;
	}
	int status = rc == -EINVAL	     ? 400
		     : rc == SHOAL_ECONFLICT ? 409
		     : rc == SHOAL_ENOTFOUND ? 404
					     : 500;
	api_reply_error(call, status, "%s",
			e.msg[0] ? e.msg : shoal_strerror(rc));
}

/* --- update -------------------------------------------------------------- */

/*
 * POST /containers/{id}/update: Memory, MemoryReservation, CpuShares,
 * NanoCpus, PidsLimit (0 or -1: no limit; absent or null: unchanged) and
 * RestartPolicy (an empty Name: unchanged) are applied; Docker's 0 means
 * "unchanged" for the others as for these. Any other field set to what
 * is not its default is refused, naming it, rather than ignored.
 */
static int update_refused(const json_t *b, char *msg, size_t cap)
{
	static const char *const zero[] = {
		"BlkioWeight",	      "CpuPeriod",
		"CpuQuota",	      "CpuRealtimePeriod",
		"CpuRealtimeRuntime", "KernelMemory",
		"KernelMemoryTCP",    "MemorySwap",
		"CpuCount",	      "CpuPercent",
		"IOMaximumIOps",      "IOMaximumBandwidth"};
	static const char *const empty[] = {"CpusetCpus",
					    "CpusetMems",
					    "BlkioWeightDevice",
					    "BlkioDeviceReadBps",
					    "BlkioDeviceWriteBps",
					    "BlkioDeviceReadIOps",
					    "BlkioDeviceWriteIOps",
					    "Devices",
					    "DeviceCgroupRules",
					    "DeviceRequests",
					    "Ulimits"};
	for (size_t i = 0; i < sizeof(zero) / sizeof(zero[0]); i++) {
		const json_t *v = json_object_get(b, zero[i]);
		if (v && !json_is_null(v) && json_integer_value(v) != 0) {
			snprintf(
				msg, cap,
				"%s cannot be updated: Shoal does not apply it "
				"yet",
				zero[i]);
			return -1;
		}
	}
	for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
		const json_t *v = json_object_get(b, empty[i]);
		if ((json_is_string(v) && *json_string_value(v)) ||
		    (json_is_array(v) && json_array_size(v))) {
			snprintf(
				msg, cap,
				"%s cannot be updated: Shoal does not apply it "
				"yet",
				empty[i]);
			return -1;
		}
	}
	const json_t *sw = json_object_get(b, "MemorySwappiness");
	const json_t *oom = json_object_get(b, "OomKillDisable");
	if ((sw && !json_is_null(sw) && json_integer_value(sw) != -1) ||
	    json_is_true(oom)) {
		snprintf(msg, cap,
			 "%s cannot be updated: Shoal does not apply it yet",
			 json_is_true(oom) ? "OomKillDisable"
					   : "MemorySwappiness");
		return -1;
	}
	return 0;
}

/* A positive field of @b into *@v and @hc, flagging it set. */
static void update_field(const json_t *b, const char *key, int64_t *v,
			 bool *set, json_t *hc)
{
	json_int_t x = json_integer_value(json_object_get(b, key));
	if (x > 0) {
		*v = x;
		*set = true;
		json_object_set_new(hc, key, json_integer(x));
	}
}

static void update(struct api_call *call)
{
	char id[65], err[256];
	enum eng_state s;
	struct api__state *st = target_state(call, id, &s);
	json_t *b = NULL;
	if (!st)
		return;
	if (jsonx_parse_object(call->req->body, call->req->body_len, &b, err,
			       sizeof(err)) < 0 ||
	    update_refused(b, err, sizeof(err)) < 0) {
		json_decref(b);
		api_reply_error(call, 400, "%s", err);
		return;
	}
	struct eng_update u = {0};
	json_t *hc = json_object();
	update_field(b, "Memory", &u.rt.memory, &u.rt.memory_set, hc);
	update_field(b, "MemoryReservation", &u.rt.memory_reservation,
		     &u.rt.memory_reservation_set, hc);
	update_field(b, "CpuShares", &u.rt.cpu_shares, &u.rt.cpu_shares_set,
		     hc);
	update_field(b, "NanoCpus", &u.rt.nano_cpus, &u.rt.nano_cpus_set, hc);
	const json_t *pl = json_object_get(b, "PidsLimit");
	if (json_is_integer(pl)) {
		u.rt.pids_limit = json_integer_value(pl);
		u.rt.pids_limit_set = true;
		json_object_set(hc, "PidsLimit", (json_t *)pl);
	}
	const json_t *rp = json_object_get(b, "RestartPolicy");
	const char *rname = jsonx_str(rp, "Name", "");
	struct shoal_err e = {""};
	int rc = 0;
	if (*rname) {
		rc = eng_restart_parse(rname,
				       jsonx_int(rp, "MaximumRetryCount", 0),
				       &u.restart, &e);
		u.restart_set = rc == 0;
		json_object_set(hc, "RestartPolicy", (json_t *)rp);
	}
	u.host_config = hc;
	if (rc == 0)
		rc = eng_update(st->eng, id, &u, &e);
	json_decref(hc);
	json_decref(b);
	if (rc < 0) {
		api_reply_error(call,
				rc == -EINVAL		? 400
				: rc == SHOAL_ENOTFOUND ? 404
							: 500,
				"%s", e.msg[0] ? e.msg : shoal_strerror(rc));
		return;
	}
	api_reply_json(call, 200, json_pack("{s:[]}", "Warnings"));
}

/* --- diff ---------------------------------------------------------------- */

static void changes(struct api_call *call)
{
	char id[65];
	enum eng_state s;
	struct api__state *st = target_state(call, id, &s);
	if (!st)
		return;
	json_t *out = NULL;
	int rc = rt_container_changes(st->rt, id, &out);
	if (rc < 0) {
		api_reply_error(call, rc == SHOAL_ENOTFOUND ? 404 : 500,
				"cannot read the changes of container %s: %s",
				id, shoal_strerror(rc));
		return;
	}
	api_reply_json(call, 200, out);
}

/* --- delete, prune -------------------------------------------------------- */

/*
 * A stopped container's folder is locked while a copy (docker cp) or a
 * start holds it. The copy's helper keeps the lock until it has unmounted
 * the container's files and exited, which can be a moment after the client
 * read the whole archive: `docker cp` then `docker rm` must not fail on
 * that. A remove that finds the lock held retries every RM_RETRY_MS for
 * up to RM_BUSY_WAIT_MS, then answers 409 naming what holds it.
 */
#define RM_RETRY_MS 20
#define RM_BUSY_WAIT_MS 3000

struct rm_op {
	uv_timer_t timer;
	struct api__state *st;
	struct http_response *res; /* NULL once answered or gone */
	char id[65], ref[256];
	bool force, vols;
	int64_t deadline_ns;
};

static void rm_closed(uv_handle_t *h)
{
	shoal_free(h->data);
}

static void rm_gone(struct http_response *res, void *arg)
{
	struct rm_op *op = arg;
	op->res = NULL;
	uv_timer_stop(&op->timer);
	uv_close((uv_handle_t *)&op->timer, rm_closed);
}

static void rm_answer(struct rm_op *op, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void rm_answer(struct rm_op *op, int status, const char *fmt, ...)
{
	if (op->res) {
		http_response_on_close(op->res, NULL, NULL);
		if (status == 204) {
			http_response_send(op->res, 204, NULL, NULL, 0);
		} else {
			char msg[1024];
			va_list ap;
			va_start(ap, fmt);
			vsnprintf(msg, sizeof(msg), fmt, ap);
			va_end(ap);
			http_response_send_error(op->res, status, msg);
		}
		op->res = NULL;
	}
	uv_close((uv_handle_t *)&op->timer, rm_closed);
}

static void rm_try(struct rm_op *op);

static void rm_retry(uv_timer_t *t)
{
	rm_try(t->data);
}

static void rm_try(struct rm_op *op)
{
	int rc = eng_remove(op->st->eng, op->id, op->force, op->vols);
	if (rc == SHOAL_ENOTFOUND) {
		rm_answer(op, 404, "No such container: %s", op->ref);
		return;
	}
	if (rc == SHOAL_ECONFLICT) {
		struct eng_info i;
		int irc = eng_inspect(op->st->eng, op->id, &i);
		if (irc == SHOAL_ENOTFOUND) {
			rm_answer(op, 404, "No such container: %s", op->ref);
			return;
		}
		bool running = irc == 0 && i.running;
		if (irc == 0)
			eng_info_fini(&i);
		if (!running && time_mono_ns() < op->deadline_ns) {
			uv_timer_start(&op->timer, rm_retry, RM_RETRY_MS, 0);
			return;
		}
		if (running)
			rm_answer(op, 409,
				  "cannot remove container \"%s\": container "
				  "is running: stop the container before "
				  "removing or force remove",
				  op->ref);
		else
			rm_answer(op, 409,
				  "cannot remove container \"%s\": its files "
				  "are in use (a copy or a start of it is in "
				  "progress): try again when it ends",
				  op->ref);
		return;
	}
	if (rc < 0) {
		rm_answer(op, 500, "cannot remove container %s: %s", op->id,
			  shoal_strerror(rc));
		return;
	}
	rm_answer(op, 204, "%s", "");
}

static void delete_(struct api_call *call)
{
	char id[65];
	enum eng_state s;
	/* `docker rm --link NAME`: a name without a parent is a container's
	 * own name, which Docker refuses to remove as a link. */
	if (api__query_bool(call, "link", false)) {
		if (!target_state(call, id, &s))
			return;
		api_reply_error(call, 400,
				"Conflict, cannot remove the default link name "
				"of the container");
		return;
	}
	struct api__state *st = target_state(call, id, &s);
	if (!st)
		return;
	bool force = api__query_bool(call, "force", false);
	bool vols = api__query_bool(call, "v", false);
	const char *what = s == ENG_STATE_PAUSED       ? "paused"
			   : s == ENG_STATE_RESTARTING ? "restarting"
						       : "running";
	if ((s == ENG_STATE_RUNNING || s == ENG_STATE_PAUSED ||
	     s == ENG_STATE_RESTARTING) &&
	    !force) {
		api_reply_error(call, 409,
				"cannot remove container \"%s\": container is "
				"%s: stop the container before removing or "
				"force remove",
				api_param(call, "id"), what);
		return;
	}
	struct rm_op *op = shoal_calloc(1, sizeof(*op));
	if (!op) {
		api_reply_error(call, 500, "out of memory");
		return;
	}
	op->st = st;
	op->res = call->res;
	op->force = force;
	op->vols = vols;
	snprintf(op->id, sizeof(op->id), "%s", id);
	snprintf(op->ref, sizeof(op->ref), "%s", api_param(call, "id"));
	op->deadline_ns = time_mono_ns() + RM_BUSY_WAIT_MS * 1000000LL;
	if (uv_timer_init(st->loop, &op->timer) < 0) {
		shoal_free(op);
		api_reply_error(call, 500, "out of memory");
		return;
	}
	op->timer.data = op;
	http_response_on_close(call->res, rm_gone, op);
	rm_try(op);
}

/*
 * DELETE /containers/PARENT/ALIAS?link=1 (the CLI trims the leading '/' of
 * `docker rm --link /PARENT/ALIAS`; the API form with it has an empty first
 * segment): remove the legacy link ALIAS of PARENT, no container.
 */
static void delete_link(struct api_call *call)
{
	struct api__state *st = api__need(call);
	struct shoal_err err = {""};
	if (!st)
		return;
	if (!api__query_bool(call, "link", false)) {
		api_reply_error(call, 404, "No such container: %s/%s",
				api_param(call, "parent"),
				api_param(call, "alias"));
		return;
	}
	int rc = eng_link_remove(st->eng, api_param(call, "parent"),
				 api_param(call, "alias"), &err);
	if (rc < 0) {
		api_reply_error(call, rc == SHOAL_ENOTFOUND ? 404 : 500, "%s",
				err.msg);
		return;
	}
	http_response_send(call->res, 204, NULL, NULL, 0);
}

/*
 * POST /containers/prune: every container that is not running, with
 * Docker's filters: label, label! (key or key=value) and until.
 */
static void prune(struct api_call *call)
{
	static const char *const known[] = {"label", "label!", "until", NULL};
	const char *want[API__FILTER_VALUES + 1];
	const char *reject[API__FILTER_VALUES + 1];
	const char *until[API__FILTER_VALUES + 1];
	struct api__state *st = api__need(call);
	json_t *f;
	char err[256];
	int64_t until_ns = 0;
	if (!st)
		return;
	if (api__filters_parse(http_request_query(call->req, "filters"), known,
			       &f, err, sizeof(err)) < 0) {
		api_reply_error(call, 400, "%s", err);
		return;
	}
	api__filter_values(f, "label", want);
	api__filter_values(f, "label!", reject);
	size_t nu = api__filter_values(f, "until", until);
	if (nu > 1) {
		json_decref(f);
		api_reply_error(call, 400,
				"more than one until filter specified");
		return;
	}
	if (nu == 1 &&
	    eng_parse_until(until[0], time_real_ns(), &until_ns) < 0) {
		api_reply_error(call, 400,
				"failed to parse value as time or duration: "
				"\"%s\"",
				until[0]);
		json_decref(f);
		return;
	}
	struct eng_label_filter lf = {want, reject};
	struct eng_pruned p;
	int rc = eng_prune(st->eng, &lf, until_ns, &p);
	json_decref(f);
	api__reply_pruned(call, rc, "containers", "ContainersDeleted", &p);
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
	{"POST", "/containers/{id}/rename", rename_},
	{"GET", "/containers/{id}/changes", changes},
	{"POST", "/containers/{id}/update", update},
	{"DELETE", "/containers/{id}", delete_},
	{"DELETE", "/containers/{parent}/{alias}", delete_link},
	{"DELETE", "/containers//{parent}/{alias}", delete_link},
};

const struct api_route_table api_containers_table = {
	.name = "containers",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
};
