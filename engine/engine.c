/*
 * The engine object and its live state: exit watches, pending policy
 * restarts, waiters and event subscribers (see engine/engine.h for the
 * contract, engine/internal.h for the structures).
 *
 * Live state is kept per container only while it holds something (a
 * watch, a restart timer, a back-off to remember), so a node with many
 * stopped containers keeps nothing in memory for them; everything else is
 * read from disk, where the runtime and the record keep it.
 *
 * Delivery. When an exit or a removal wakes waiters, the waiters on that
 * container are moved to a private list first, so a callback may start
 * the container again or queue new waiters without being woken by the
 * event it handles. Subscribers get the number of the last event when
 * they subscribe and only see later ones; each gets an event at most once
 * and may unsubscribe anyone, itself included, from its callback (see
 * eng__emit()).
 */
#define LOG_MODULE "engine"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "engine/internal.h"
#include "image/image.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct eng_sub {
	struct list_node node;
	struct eng *e;
	eng_event_fn *fn;
	void *arg;
	uint64_t since;	    /* sees events numbered above this */
	uint64_t delivered; /* the last event it was given */
};

void eng__err(struct shoal_err *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

int eng_open(const struct eng_config *cfg, struct eng **out)
{
	struct eng *e = shoal_calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	e->data_root = shoal_strdup(cfg->data_root);
	if (!e->data_root) {
		shoal_free(e);
		return -ENOMEM;
	}
	if (eng__events_open(e) < 0) {
		shoal_free(e->data_root);
		shoal_free(e);
		return -ENOMEM;
	}
	e->rt = cfg->rt;
	e->img = cfg->images;
	e->net = cfg->net;
	e->loop = cfg->loop;
	list_init(&e->waiters);
	list_init(&e->subs);
	list_init(&e->ops);
	*out = e;
	return 0;
}

struct rt *eng_runtime(const struct eng *e)
{
	return e->rt;
}

struct img_store *eng_images(const struct eng *e)
{
	return e->img;
}

/* --- live state ----------------------------------------------------------- */

struct eng__ctr *eng__live(struct eng *e, const char *id, bool make)
{
	struct eng__ctr *c = hmap_get_str(&e->live, id);

	if (c || !make)
		return c;
	c = shoal_calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->e = e;
	snprintf(c->id, sizeof(c->id), "%s", id);
	if (hmap_put_str(&e->live, c->id, c, NULL) < 0) {
		shoal_free(c);
		return NULL;
	}
	return c;
}

static void live_free(struct eng__ctr *c)
{
	hmap_del_str(&c->e->live, c->id);
	shoal_free(c);
}

void eng__live_put(struct eng__ctr *c)
{
	if (c && !c->watch && !c->timer && !c->backoff_ms)
		live_free(c);
}

void eng__timer_freed(uv_handle_t *h)
{
	shoal_free(h);
}

bool eng__restarting(struct eng *e, const char *id)
{
	struct eng__ctr *c = eng__live(e, id, false);

	return c && c->timer;
}

bool eng__cancel_restart(struct eng *e, const char *id)
{
	struct eng__ctr *c = eng__live(e, id, false);

	if (!c || !c->timer)
		return false;
	uv_close((uv_handle_t *)c->timer, eng__timer_freed);
	c->timer = NULL;
	eng__record_update(e, id, json_pack("{s:b}", "RestartPending", 0));
	eng__live_put(c);
	return true;
}

/* --- exit watches -----------------------------------------------------------
 */

static void exit_seen(struct rt_exit_watch *w, const char *cid, int code,
		      bool oom, void *arg)
{
	struct eng__ctr *c = arg;
	struct eng *e = c->e;
	char id[RT_ID_LEN + 1];

	snprintf(id, sizeof(id), "%s", c->id);
	rt_exit_watch_close(w);
	c->watch = NULL;
	eng__live_put(c);
	log_debug("container=%s exited with %d%s", id, code,
		  oom ? " (OOM)" : "");
	eng__on_exit(e, id, code, oom);
}

int eng__watch(struct eng *e, const char *id)
{
	struct eng__ctr *c = eng__live(e, id, true);
	int rc;

	if (!c)
		return -ENOMEM;
	if (c->watch)
		return 0;
	rc = rt_exit_watch_start(e->rt, e->loop, id, exit_seen, c, &c->watch);
	if (rc < 0) {
		c->watch = NULL;
		eng__live_put(c);
	}
	return rc;
}

/* --- waiters -------------------------------------------------------------- */

/* Move the waiters on @id (of kind EXIT, or all when @all) to @out. */
static void take_waiters(struct eng *e, const char *id, bool all, int code,
			 struct list_node *out)
{
	struct list_node *n, *t;

	list_for_each_safe(n, t, &e->waiters)
	{
		struct eng_waiter *w = list_entry(n, struct eng_waiter, node);
		if (strcmp(w->id, id) != 0)
			continue;
		if (!all && w->kind == ENG_WAIT_REMOVED) {
			w->last_code = code;
			continue;
		}
		list_remove(n);
		list_push_back(out, n);
	}
}

static void run_waiters(struct list_node *l, int code, bool removed)
{
	while (!list_empty(l)) {
		struct list_node *n = list_front(l);
		struct eng_waiter *w = list_entry(n, struct eng_waiter, node);
		list_remove(n);
		int c = removed && w->last_code >= 0 ? w->last_code : code;
		w->fn(w, c, removed);
	}
}

int eng_wait_add(struct eng *e, const char *id, struct eng_waiter *w)
{
	struct rt_info info;
	bool running = false;
	int rc;

	if (rt_container_inspect(e->rt, id, &info) == 0) {
		running = info.status == RT_STATUS_RUNNING ||
			  info.status == RT_STATUS_PAUSED;
		rt_info_fini(&info);
	}
	if (running && (rc = eng__watch(e, id)) < 0)
		return -ESRCH;
	snprintf(w->id, sizeof(w->id), "%s", id);
	w->last_code = -1;
	list_push_back(&e->waiters, &w->node);
	return 0;
}

void eng_wait_cancel(struct eng_waiter *w)
{
	if (w->node.next && !list_empty(&w->node))
		list_remove(&w->node);
}

/* --- events --------------------------------------------------------------- */

int eng_subscribe(struct eng *e, eng_event_fn *fn, void *arg,
		  struct eng_sub **out)
{
	struct eng_sub *s;

	if (e->nsubs >= ENG_MAX_SUBSCRIBERS)
		return -EBUSY;
	s = shoal_calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->e = e;
	s->fn = fn;
	s->arg = arg;
	s->since = e->event_seq;
	list_push_back(&e->subs, &s->node);
	e->nsubs++;
	*out = s;
	return 0;
}

void eng_unsubscribe(struct eng_sub *s)
{
	if (!s)
		return;
	list_remove(&s->node);
	s->e->nsubs--;
	shoal_free(s);
}

/*
 * Each subscriber is called at most once per event, and the scan starts
 * over from the head after every call: a callback may subscribe (the new
 * one has since >= seq and is skipped) or unsubscribe anyone, itself
 * included, and no pointer is used after the call that may have freed it.
 * At most ENG_MAX_SUBSCRIBERS, so the quadratic scan stays small.
 */
void eng__emit(struct eng *e, enum eng_event_type t, const char *id,
	       int exit_code, bool oom, bool restarting, int sig)
{
	struct eng_event ev = {
		.type = t,
		.id = id,
		.time_ns = time_real_ns(),
		.exit_code = exit_code,
		.oom_killed = oom,
		.restarting = restarting,
		.signal = sig,
	};
	uint64_t seq = ++e->event_seq;
	struct list_node *n;

	eng__events_container(e, &ev);

again:
	list_for_each(n, &e->subs)
	{
		struct eng_sub *s = list_entry(n, struct eng_sub, node);
		if (s->since >= seq || s->delivered >= seq)
			continue;
		s->delivered = seq;
		s->fn(&ev, s->arg);
		goto again;
	}
}

static const char *const event_names[] = {
	[ENG_EVENT_CREATE] = "create",
	[ENG_EVENT_START] = "start",
	[ENG_EVENT_DIE] = "die",
	[ENG_EVENT_KILL] = "kill",
	[ENG_EVENT_STOP] = "stop",
	[ENG_EVENT_RESTART] = "restart",
	[ENG_EVENT_PAUSE] = "pause",
	[ENG_EVENT_UNPAUSE] = "unpause",
	[ENG_EVENT_DESTROY] = "destroy",
	[ENG_EVENT_HEALTH_HEALTHY] = "health_status: healthy",
	[ENG_EVENT_HEALTH_UNHEALTHY] = "health_status: unhealthy",
};

const char *eng_event_name(enum eng_event_type t)
{
	if ((size_t)t >= sizeof(event_names) / sizeof(event_names[0]))
		return "unknown";
	return event_names[t];
}

void eng__gone(struct eng *e, const char *id, int code)
{
	struct eng__ctr *c = eng__live(e, id, false);
	struct list_node l;

	if (c) {
		if (c->watch)
			rt_exit_watch_close(c->watch);
		c->watch = NULL;
		if (c->timer)
			uv_close((uv_handle_t *)c->timer, eng__timer_freed);
		c->timer = NULL;
		live_free(c);
	}
	list_init(&l);
	take_waiters(e, id, true, code, &l);
	run_waiters(&l, code, true);
	eng__emit(e, ENG_EVENT_DESTROY, id, code, false, false, 0);
}

void eng__wake_exit(struct eng *e, const char *id, int code)
{
	struct list_node l;

	list_init(&l);
	take_waiters(e, id, false, code, &l);
	run_waiters(&l, code, false);
}

/* --- close ---------------------------------------------------------------- */

void eng_close(struct eng *e)
{
	size_t pos = 0, klen;
	const void *key;
	void *val;
	struct list_node l;

	if (!e)
		return;
	e->closing = true;
	while (hmap_next(&e->live, &pos, &key, &klen, &val)) {
		struct eng__ctr *c = val;
		if (c->watch)
			rt_exit_watch_close(c->watch);
		if (c->timer)
			uv_close((uv_handle_t *)c->timer, eng__timer_freed);
		shoal_free(c);
	}
	hmap_fini(&e->live);
	eng__health_close(e);
	/* Waiters left are operations and waits whose clients went away or
	 * are going: wake them as if their container were gone. */
	list_init(&l);
	while (!list_empty(&e->waiters)) {
		struct list_node *n = list_front(&e->waiters);
		list_remove(n);
		list_push_back(&l, n);
	}
	run_waiters(&l, -1, true);
	eng__ops_close(e);
	while (!list_empty(&e->subs)) {
		struct list_node *n = list_front(&e->subs);
		list_remove(n);
		shoal_free(list_entry(n, struct eng_sub, node));
	}
	eng__events_close(e);
	shoal_free(e->data_root);
	shoal_free(e);
}

/* --- inspect -------------------------------------------------------------- */

static const char *const state_names[] = {
	[ENG_STATE_CREATED] = "created", [ENG_STATE_RUNNING] = "running",
	[ENG_STATE_PAUSED] = "paused",	 [ENG_STATE_RESTARTING] = "restarting",
	[ENG_STATE_EXITED] = "exited",
};

const char *eng_state_name(enum eng_state s)
{
	if ((size_t)s >= sizeof(state_names) / sizeof(state_names[0]))
		return "unknown";
	return state_names[s];
}

int eng_inspect(struct eng *e, const char *ref, struct eng_info *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	rc = rt_container_inspect(e->rt, ref, &out->rt);
	if (rc < 0)
		return rc;
	if (eng__record_load(e, out->rt.id, &out->record) < 0)
		out->record = json_object();
	if (!out->record) {
		rt_info_fini(&out->rt);
		return -ENOMEM;
	}
	switch (out->rt.status) {
	case RT_STATUS_RUNNING:
		out->state = ENG_STATE_RUNNING;
		break;
	case RT_STATUS_PAUSED:
		out->state = ENG_STATE_PAUSED;
		break;
	case RT_STATUS_EXITED:
		out->state = eng__restarting(e, out->rt.id)
				     ? ENG_STATE_RESTARTING
				     : ENG_STATE_EXITED;
		break;
	default:
		out->state = ENG_STATE_CREATED;
	}
	out->running = out->state == ENG_STATE_RUNNING ||
		       out->state == ENG_STATE_PAUSED ||
		       out->state == ENG_STATE_RESTARTING;
	eng__record_policy(out->record, &out->restart);
	out->restart_count = (int)json_integer_value(
		json_object_get(out->record, "RestartCount"));
	out->stopped_by_user =
		json_is_true(json_object_get(out->record, "StoppedByUser"));
	out->auto_remove =
		json_is_true(json_object_get(out->record, "AutoRemove"));
	out->health_status = eng_health_status(e, out->rt.id);
	out->health =
		out->health_status ? eng_health_json(e, out->rt.id) : NULL;
	return 0;
}

void eng_info_fini(struct eng_info *info)
{
	rt_info_fini(&info->rt);
	json_decref(info->record);
	info->record = NULL;
	json_decref(info->health);
	info->health = NULL;
}

int eng_resolve(struct eng *e, const char *ref, char id[RT_ID_LEN + 1])
{
	return rt_container_resolve(e->rt, ref, id);
}

int eng_list(struct eng *e, char ***ids, size_t *count)
{
	return rt_container_list(e->rt, ids, count);
}

void eng_counts(struct eng *e, struct eng_counts *out)
{
	char **ids;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (rt_container_list(e->rt, &ids, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct rt_info info;
		if (rt_container_inspect(e->rt, ids[i], &info) < 0)
			continue;
		if (info.status == RT_STATUS_RUNNING ||
		    (info.status == RT_STATUS_EXITED &&
		     eng__restarting(e, ids[i])))
			out->running++;
		else if (info.status == RT_STATUS_PAUSED)
			out->paused++;
		else
			out->stopped++;
		rt_info_fini(&info);
	}
	rt_list_free(ids, n);
}
