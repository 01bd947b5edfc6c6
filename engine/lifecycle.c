/*
 * A container's life: start, kill, pause, stop, restart, removal, what
 * happens when a run ends (waiters, the restart policy, auto-remove), and
 * the restore at start-up.
 *
 * Stop and restart do not block the loop: they send the stop signal and
 * queue a waiter; the exit watch wakes it, and a timer sends SIGKILL when
 * the grace period runs out. Their completion is never called from inside
 * the call that started them: when there is nothing to wait for (a
 * container waiting for a policy restart, a restart of a stopped one) it
 * is deferred to the next turn of the loop by a zero timer.
 *
 * The restart policy is decided when a run ends, before anyone is told:
 * the record gets RestartCount + 1 and RestartPending, a timer is armed
 * for the back-off delay, and only then are waiters and subscribers
 * called, so whatever they look at already says "restarting". A stop or
 * kill by the user sets StoppedByUser in the record first, which the
 * decision reads; a start by the user clears it and the restart count
 * (Docker's ResetRestartManager). RestartPending is what lets the next
 * daemon take up an on-failure restart this one could not finish.
 */
#define LOG_MODULE "engine"
#include "common/alloc.h"
#include "common/error.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "engine/internal.h"
#include "image/image.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

/* One stop or restart in flight. */
struct eng__op {
	struct list_node node; /* in e->ops */
	struct eng_waiter w;
	struct eng *e;
	uv_timer_t timer; /* SIGKILL after the grace period, or deferral */
	char id[RT_ID_LEN + 1];
	bool restart;
	eng_done_fn *cb;
	void *arg;
	int rc;
	char msg[sizeof(((struct shoal_err *)0)->msg)];
};

static bool is_running(enum eng_state s)
{
	return s == ENG_STATE_RUNNING || s == ENG_STATE_PAUSED;
}

/* --- start ---------------------------------------------------------------- */

static void apply_console_size(struct eng *e, const char *id, const json_t *r)
{
	const json_t *cs = json_object_get(r, "ConsoleSize");
	json_int_t rows = json_integer_value(json_array_get(cs, 0));
	json_int_t cols = json_integer_value(json_array_get(cs, 1));

	if (jsonx_bool(r, "Tty", false) && rows > 0 && cols > 0 &&
	    rows <= 65535 && cols <= 65535)
		rt_container_resize(e->rt, id, (unsigned)rows, (unsigned)cols);
}

int eng__start(struct eng *e, const char *id, bool by_user,
	       struct shoal_err *err)
{
	struct shoal_err re = {""};
	json_t *r = NULL, *changes;
	int rc = eng__net_start(e, id, err);

	if (rc < 0)
		return rc;
	rc = rt_container_start(e->rt, id, &re);

	if (rc < 0) {
		eng__err(err, "%s", re.msg[0] ? re.msg : shoal_strerror(rc));
		return rc;
	}
	log_info("container=%s started%s", id, by_user ? "" : " by its policy");
	changes = json_pack("{s:b, s:b}", "StoppedByUser", 0, "RestartPending",
			    0);
	if (changes && by_user)
		json_object_set_new(changes, "RestartCount", json_integer(0));
	if (eng__record_update(e, id, changes) < 0)
		log_warn("container=%s: cannot update its record", id);
	if (by_user) {
		struct eng__ctr *c = eng__live(e, id, false);
		if (c) {
			c->backoff_ms = 0;
			eng__live_put(c);
		}
	}
	rc = eng__watch(e, id);
	if (rc < 0)
		log_warn("container=%s: cannot watch its exit: %s", id,
			 shoal_strerror(rc));
	eng__health_start(e, id);
	if (eng__record_load(e, id, &r) == 0)
		apply_console_size(e, id, r);
	json_decref(r);
	eng__emit(e, ENG_EVENT_START, id, -1, false, false, 0);
	return 0;
}

int eng_start(struct eng *e, const char *id, struct shoal_err *err)
{
	struct eng_info info;
	bool auto_remove;
	int rc = eng_inspect(e, id, &info);

	if (rc < 0)
		return rc;
	auto_remove = info.auto_remove;
	rc = info.running ? -EALREADY : 0;
	eng_info_fini(&info);
	if (rc < 0)
		return rc;
	rc = eng__start(e, id, true, err);
	/* A --rm container that cannot start goes, as in Docker (the docker
	 * CLI waits for its removal); a busy one may start later. */
	if (rc < 0 && rc != SHOAL_ECONFLICT && auto_remove)
		eng_remove(e, id, true, true);
	return rc;
}

/* --- kill, pause ---------------------------------------------------------- */

void eng__mark_stopped(struct eng *e, const char *id)
{
	if (eng__record_update(e, id, json_pack("{s:b}", "StoppedByUser", 1)) <
	    0)
		log_warn("container=%s: cannot record its stop", id);
}

static int stop_signal_of(const json_t *r)
{
	int sig = (int)jsonx_int(r, "StopSignal", SIGTERM);

	return sig > 0 && sig < 65 ? sig : SIGTERM;
}

int eng_kill(struct eng *e, const char *id, int sig)
{
	struct eng_info info;
	enum eng_state s;
	int stop_sig, rc = eng_inspect(e, id, &info);

	if (rc < 0)
		return rc;
	s = info.state;
	stop_sig = stop_signal_of(info.record);
	eng_info_fini(&info);
	if (s == ENG_STATE_RESTARTING) {
		/* Docker: no process to signal; it just stays stopped. */
		eng__cancel_restart(e, id);
		eng__mark_stopped(e, id);
		eng__emit(e, ENG_EVENT_KILL, id, -1, false, false, sig);
		return 0;
	}
	if (!is_running(s))
		return -ESRCH;
	rc = rt_container_kill(e->rt, id, sig);
	if (rc < 0)
		return rc;
	eng__mark_stopped(e, id);
	/* A frozen process gets its signal once thawed (Docker unpauses
	 * for the signals that end it). */
	if (s == ENG_STATE_PAUSED && (sig == SIGKILL || sig == stop_sig))
		rt_container_unpause(e->rt, id);
	eng__emit(e, ENG_EVENT_KILL, id, -1, false, false, sig);
	return 0;
}

/* Pause (@pause) or unpause a container that is in the other state. */
static int set_paused(struct eng *e, const char *id, bool pause)
{
	struct eng_info info;
	enum eng_state from = pause ? ENG_STATE_RUNNING : ENG_STATE_PAUSED;
	enum eng_state to = pause ? ENG_STATE_PAUSED : ENG_STATE_RUNNING;
	enum eng_state s;
	int rc = eng_inspect(e, id, &info);

	if (rc < 0)
		return rc;
	s = info.state;
	eng_info_fini(&info);
	if (s == to)
		return -EALREADY;
	if (s != from)
		return -ESRCH;
	rc = pause ? rt_container_pause(e->rt, id)
		   : rt_container_unpause(e->rt, id);
	if (rc == 0)
		eng__emit(e, pause ? ENG_EVENT_PAUSE : ENG_EVENT_UNPAUSE, id,
			  -1, false, false, 0);
	return rc;
}

int eng_pause(struct eng *e, const char *id)
{
	return set_paused(e, id, true);
}

int eng_unpause(struct eng *e, const char *id)
{
	return set_paused(e, id, false);
}

/* --- stop and restart ----------------------------------------------------- */

static void op_freed(uv_handle_t *h)
{
	shoal_free(h->data);
}

static void op_finish(struct eng__op *op)
{
	list_remove(&op->node);
	eng_wait_cancel(&op->w);
	uv_timer_stop(&op->timer);
	op->cb(op->arg, op->rc, op->msg);
	uv_close((uv_handle_t *)&op->timer, op_freed);
}

static void op_deferred(uv_timer_t *t)
{
	op_finish(t->data);
}

/* Finish @op with @rc on the next turn of the loop. */
static void op_defer(struct eng__op *op, int rc)
{
	op->rc = rc;
	uv_timer_stop(&op->timer);
	uv_timer_start(&op->timer, op_deferred, 0, 0);
}

/* Start @op's container now and finish on the next turn. */
static void op_start_now(struct eng__op *op)
{
	struct shoal_err err = {""};
	int rc = eng__start(op->e, op->id, true, &err);

	snprintf(op->msg, sizeof(op->msg), "%s", err.msg);
	if (rc == 0)
		eng__emit(op->e, ENG_EVENT_RESTART, op->id, -1, false, false,
			  0);
	op_defer(op, rc);
}

static void op_exited(struct eng_waiter *w, int code, bool removed)
{
	struct eng__op *op = w->arg;

	if (op->e->closing) {
		op->rc = SHOAL_ECLOSED;
		op_finish(op);
		return;
	}
	if (removed) {
		op->rc = SHOAL_ENOTFOUND;
		op_finish(op);
		return;
	}
	if (!op->restart) {
		eng__emit(op->e, ENG_EVENT_STOP, op->id, code, false, false, 0);
		op->rc = 0;
		op_finish(op);
		return;
	}
	uv_timer_stop(&op->timer);
	op_start_now(op);
}

static void op_grace_over(uv_timer_t *t)
{
	struct eng__op *op = t->data;

	log_info("container=%s did not stop in time; sending SIGKILL", op->id);
	rt_container_kill(op->e->rt, op->id, SIGKILL);
	rt_container_unpause(op->e->rt, op->id);
}

static struct eng__op *op_new(struct eng *e, const char *id, bool restart,
			      eng_done_fn *cb, void *arg)
{
	struct eng__op *op = shoal_calloc(1, sizeof(*op));

	if (!op)
		return NULL;
	op->e = e;
	snprintf(op->id, sizeof(op->id), "%s", id);
	op->restart = restart;
	op->cb = cb;
	op->arg = arg;
	op->w.kind = ENG_WAIT_EXIT;
	op->w.fn = op_exited;
	op->w.arg = op;
	list_init(&op->w.node);
	uv_timer_init(e->loop, &op->timer);
	op->timer.data = op;
	list_push_back(&e->ops, &op->node);
	return op;
}

void eng__ops_close(struct eng *e)
{
	while (!list_empty(&e->ops)) {
		struct eng__op *op =
			list_entry(list_front(&e->ops), struct eng__op, node);
		op->rc = SHOAL_ECLOSED;
		op_finish(op);
	}
}

/* The stop signal and grace period of @r under @o. */
static void stop_params(const json_t *r, const struct eng_stop_opts *o,
			int *sig, int64_t *timeout_s)
{
	const json_t *t = json_object_get(r, "StopTimeout");

	*sig = o && o->signal > 0 ? o->signal : stop_signal_of(r);
	if (o && o->timeout_set)
		*timeout_s = o->timeout_s;
	else
		*timeout_s = json_is_integer(t) ? json_integer_value(t) : 10;
}

static int stop_or_restart(struct eng *e, const char *id,
			   const struct eng_stop_opts *o, bool restart,
			   eng_done_fn *cb, void *arg)
{
	struct eng_info info;
	struct eng__op *op;
	enum eng_state s;
	int sig, rc = eng_inspect(e, id, &info);
	int64_t t;

	if (rc < 0)
		return rc;
	s = info.state;
	stop_params(info.record, o, &sig, &t);
	eng_info_fini(&info);
	if (!restart && !is_running(s) && s != ENG_STATE_RESTARTING)
		return -EALREADY;
	op = op_new(e, id, restart, cb, arg);
	if (!op)
		return -ENOMEM;
	if (s == ENG_STATE_RESTARTING) {
		eng__cancel_restart(e, id);
		eng__mark_stopped(e, id);
	}
	if (!is_running(s) || eng__watch(e, id) < 0) {
		if (restart) {
			op_start_now(op);
		} else {
			eng__emit(e, ENG_EVENT_STOP, id, -1, false, false, 0);
			op_defer(op, 0);
		}
		return 0;
	}
	eng__mark_stopped(e, id);
	snprintf(op->w.id, sizeof(op->w.id), "%s", id);
	op->w.last_code = -1;
	list_push_back(&e->waiters, &op->w.node);
	rc = rt_container_kill(e->rt, id, sig);
	if (rc < 0 && rc != -ESRCH)
		log_warn("container=%s: stop signal failed: %s", id,
			 shoal_strerror(rc));
	if (s == ENG_STATE_PAUSED)
		rt_container_unpause(e->rt, id);
	if (t >= 0)
		uv_timer_start(&op->timer, op_grace_over, (uint64_t)t * 1000,
			       0);
	log_info("container=%s stopping (signal %d, grace %llds)", id, sig,
		 (long long)t);
	return 0;
}

int eng_stop(struct eng *e, const char *id, const struct eng_stop_opts *o,
	     eng_done_fn *cb, void *arg)
{
	return stop_or_restart(e, id, o, false, cb, arg);
}

int eng_restart(struct eng *e, const char *id, const struct eng_stop_opts *o,
		eng_done_fn *cb, void *arg)
{
	return stop_or_restart(e, id, o, true, cb, arg);
}

/* --- removal -------------------------------------------------------------- */

int eng_remove(struct eng *e, const char *id, bool force, bool volumes)
{
	struct eng_info info;
	char image[128] = "";
	bool live;
	int code, rc = eng_inspect(e, id, &info);

	if (rc < 0)
		return rc;
	code = info.rt.status == RT_STATUS_EXITED ? info.rt.exit_code : -1;
	live = info.rt.status == RT_STATUS_RUNNING ||
	       info.rt.status == RT_STATUS_PAUSED;
	snprintf(image, sizeof(image), "%s",
		 jsonx_str(info.record, "ImageID", ""));
	rc = info.running && !force ? SHOAL_ECONFLICT : 0;
	eng_info_fini(&info);
	if (rc < 0)
		return rc;
	eng__cancel_restart(e, id);
	eng__events_doomed(e, id);
	/* Docker's events of rm -f of a running container: kill (9), die
	 * (137), destroy. */
	if (live)
		eng__emit(e, ENG_EVENT_KILL, id, -1, false, false, SIGKILL);
	rc = rt_container_remove(e->rt, id, force, volumes);
	if (rc < 0)
		return rc;
	if (live)
		eng__emit(e, ENG_EVENT_DIE, id, 137, false, false, 0);
	eng__net_removed(e, id);
	if (*image && e->img)
		img_unuse(e->img, image, id);
	if (force && code < 0)
		code = 137;
	log_info("container=%s removed", id);
	eng__gone(e, id, code);
	eng__health_drop(e, id);
	return 0;
}

/* --- exits ---------------------------------------------------------------- */

static void restart_due(uv_timer_t *t)
{
	struct eng__ctr *c = t->data;
	struct eng *e = c->e;
	struct shoal_err err = {""};
	char id[RT_ID_LEN + 1];
	int rc;

	snprintf(id, sizeof(id), "%s", c->id);
	uv_close((uv_handle_t *)t, eng__timer_freed);
	c->timer = NULL;
	rc = eng__start(e, id, false, &err);
	if (rc < 0) {
		log_warn("container=%s: restart by its policy failed: %s", id,
			 err.msg);
		eng__record_update(e, id,
				   json_pack("{s:b}", "RestartPending", 0));
	}
}

int eng__arm_restart(struct eng *e, const char *id, int64_t ran_ns)
{
	struct eng__ctr *c = eng__live(e, id, true);
	uv_timer_t *t;

	if (!c)
		return -ENOMEM;
	if (c->timer)
		return 0;
	t = shoal_calloc(1, sizeof(*t));
	if (!t) {
		eng__live_put(c);
		return -ENOMEM;
	}
	c->backoff_ms = eng_restart_delay(c->backoff_ms, ran_ns);
	uv_timer_init(e->loop, t);
	t->data = c;
	c->timer = t;
	uv_timer_start(t, restart_due, c->backoff_ms, 0);
	log_info("container=%s will restart in %llu ms", id,
		 (unsigned long long)c->backoff_ms);
	return 0;
}

/* Whether the policy restarts @id now; if so the record says so and the
 * timer is armed. */
static bool decide(struct eng *e, const char *id, const json_t *r, int code,
		   const struct rt_info *info)
{
	struct eng_restart_policy p;
	int count = (int)jsonx_int(r, "RestartCount", 0);
	int64_t ran = info->finished_ns - info->started_ns;

	eng__record_policy(r, &p);
	if (e->closing ||
	    !eng_restart_wanted(&p, code, jsonx_bool(r, "StoppedByUser", false),
				count))
		return false;
	if (eng__record_update(e, id,
			       json_pack("{s:i, s:b}", "RestartCount",
					 count + 1, "RestartPending", 1)) < 0 ||
	    eng__arm_restart(e, id, ran) < 0) {
		log_warn("container=%s: cannot arm its restart", id);
		return false;
	}
	return true;
}

/* Whether @id runs (again) now. */
static bool runs_now(struct eng *e, const char *id)
{
	struct rt_info info;
	bool up;

	if (rt_container_inspect(e->rt, id, &info) < 0)
		return false;
	up = info.status == RT_STATUS_RUNNING ||
	     info.status == RT_STATUS_PAUSED;
	rt_info_fini(&info);
	return up;
}

void eng__on_exit(struct eng *e, const char *id, int code, bool oom)
{
	struct rt_info info;
	json_t *r = NULL;
	bool again, restart = false, auto_remove;
	int rc;

	if (rt_container_inspect(e->rt, id, &info) < 0)
		return;
	/* An exit seen late (the watch's zero timer) may come after a start
	 * handled meanwhile, which found the old watch still armed. */
	again = info.status == RT_STATUS_RUNNING ||
		info.status == RT_STATUS_PAUSED;
	if (eng__record_load(e, id, &r) < 0)
		r = NULL;
	auto_remove = jsonx_bool(r, "AutoRemove", false);
	if (!again) {
		eng__health_exited(e, id);
		restart = decide(e, id, r, code, &info);
	}
	rt_info_fini(&info);
	json_decref(r);
	eng__wake_exit(e, id, code);
	eng__emit(e, ENG_EVENT_DIE, id, code, oom, restart, 0);
	/* A waiter or subscriber may have started it again (docker
	 * restart): then it is watched already, or now. */
	if (again || runs_now(e, id)) {
		if ((rc = eng__watch(e, id)) < 0)
			log_warn("container=%s: cannot watch its exit: %s", id,
				 shoal_strerror(rc));
		return;
	}
	if (!restart && auto_remove) {
		rc = eng_remove(e, id, false, true);
		if (rc < 0 && rc != SHOAL_ENOTFOUND)
			log_warn("container=%s auto-remove failed: %s", id,
				 shoal_strerror(rc));
	}
}

/* --- restore -------------------------------------------------------------- */

/* Whether a container found stopped at start-up is started again. */
static bool restore_start(const json_t *r)
{
	struct eng_restart_policy p;

	eng__record_policy(r, &p);
	switch (p.kind) {
	case ENG_RESTART_ALWAYS:
		return true;
	case ENG_RESTART_UNLESS_STOPPED:
		return !jsonx_bool(r, "StoppedByUser", false);
	case ENG_RESTART_ON_FAILURE:
		return jsonx_bool(r, "RestartPending", false);
	default:
		return false;
	}
}

static void restore_one(struct eng *e, const char *id)
{
	struct shoal_err err = {""};
	struct rt_info info;
	json_t *r = NULL;
	const char *image;
	enum rt_status s;
	int rc;

	if (eng__record_load(e, id, &r) < 0)
		r = NULL;
	image = jsonx_str(r, "ImageID", NULL);
	if (image && *image && img_use(e->img, image, id) < 0)
		log_warn("container=%s: its image %s is gone", id, image);
	if (rt_container_inspect(e->rt, id, &info) < 0) {
		json_decref(r);
		return;
	}
	s = info.status;
	rt_info_fini(&info);
	if (s == RT_STATUS_RUNNING || s == RT_STATUS_PAUSED) {
		if ((rc = eng__watch(e, id)) < 0)
			log_warn("container=%s: cannot watch its exit: %s", id,
				 shoal_strerror(rc));
		eng__health_start(e, id);
	} else if (s == RT_STATUS_EXITED &&
		   jsonx_bool(r, "AutoRemove", false)) {
		log_info("container=%s exited while shoald was stopped; "
			 "auto-removing it",
			 id);
		eng_remove(e, id, false, true);
	} else if (s == RT_STATUS_EXITED && restore_start(r)) {
		log_info("container=%s: restart policy %s: starting it again",
			 id,
			 jsonx_str(jsonx_obj(r, "RestartPolicy"), "Name", ""));
		if (eng__start(e, id, false, &err) < 0)
			log_warn("container=%s: cannot start it again: %s", id,
				 err.msg);
	}
	json_decref(r);
}

int eng_restore(struct eng *e)
{
	char **ids;
	size_t n;
	int rc = rt_container_list(e->rt, &ids, &n);

	if (rc < 0)
		return rc;
	eng__net_restore(e, ids, n);
	for (size_t i = 0; i < n; i++)
		restore_one(e, ids[i]);
	rt_list_free(ids, n);
	return 0;
}
