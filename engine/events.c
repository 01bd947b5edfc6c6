/*
 * The event log: Docker's events (Engine API "Monitor events", the
 * events.Message of moby's daemon/events) in the order they happened,
 * kept in a bounded ring for `docker events --since` and streamed to
 * listeners (GET /events).
 *
 * Every event is one JSON object as Docker sends it: Type, Action, Actor
 * {ID, Attributes}, scope "local", time (seconds) and timeNano, plus the
 * deprecated status, id and from that Docker still fills for container
 * and image events. Container events come from eng__emit() (their
 * attributes: name, image, the container's labels, exitCode for die,
 * signal for kill); api/ posts exec, attach, image and volume events with
 * eng_event_post() and eng_event_post_container(); later the network and
 * swarm sides post theirs the same way.
 *
 * Invariants. The ring holds at most ENG_EVENT_RING events, oldest
 * dropped first; times never go backwards within it (a clock step back
 * is clamped to the previous event's time), so a replay by time is a
 * suffix walk. Listeners are called on the loop thread, in order, at
 * most once per event, never for an event posted before they listened;
 * a listener may stop listening (itself or another) from its callback.
 * The ring lives in memory: a restart of shoald starts it empty.
 */
#define LOG_MODULE "engine"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "engine/internal.h"

#include <errno.h>
#include <string.h>

struct eng__events {
	json_t *ring[ENG_EVENT_RING];
	int64_t times[ENG_EVENT_RING];
	size_t head, count; /* oldest at head */
	uint64_t seq;	    /* events posted so far */
	struct list_node listeners;
	size_t nlisteners;
	/* The attributes of a container being removed, read before its
	 * record goes, for its destroy event. */
	char doomed_id[RT_ID_LEN + 1];
	json_t *doomed;
};

struct eng_listener {
	struct list_node node;
	struct eng__events *ev;
	eng_msg_fn *fn;
	void *arg;
	uint64_t since, delivered;
};

int eng__events_open(struct eng *e)
{
	e->events = shoal_calloc(1, sizeof(*e->events));
	if (!e->events)
		return -ENOMEM;
	list_init(&e->events->listeners);
	return 0;
}

void eng__events_close(struct eng *e)
{
	struct eng__events *ev = e->events;
	if (!ev)
		return;
	for (size_t i = 0; i < ev->count; i++)
		json_decref(ev->ring[(ev->head + i) % ENG_EVENT_RING]);
	while (!list_empty(&ev->listeners)) {
		struct list_node *n = list_front(&ev->listeners);
		list_remove(n);
		shoal_free(list_entry(n, struct eng_listener, node));
	}
	json_decref(ev->doomed);
	shoal_free(ev);
	e->events = NULL;
}

static void deliver(struct eng__events *ev, const json_t *msg, int64_t t)
{
	uint64_t seq = ev->seq;
	struct list_node *n;
again:
	list_for_each(n, &ev->listeners)
	{
		struct eng_listener *l =
			list_entry(n, struct eng_listener, node);
		if (l->since >= seq || l->delivered >= seq)
			continue;
		l->delivered = seq;
		l->fn(msg, t, l->arg);
		goto again;
	}
}

int eng_event_post(struct eng *e, const char *type, const char *action,
		   const char *actor_id, json_t *attrs)
{
	return eng_event_post_scope(e, type, action, actor_id, attrs, "local");
}

int eng_event_post_scope(struct eng *e, const char *type, const char *action,
			 const char *actor_id, json_t *attrs, const char *scope)
{
	struct eng__events *ev = e->events;
	if (!attrs)
		attrs = json_object();
	if (!ev || !attrs) {
		json_decref(attrs);
		return -ENOMEM;
	}
	int64_t t = time_real_ns();
	if (ev->count) {
		size_t last = (ev->head + ev->count - 1) % ENG_EVENT_RING;
		if (t < ev->times[last])
			t = ev->times[last];
	}
	json_t *msg = json_pack(
		"{s:s, s:s, s:{s:s, s:o}, s:s, s:I, s:I}", "Type", type,
		"Action", action, "Actor", "ID", actor_id ? actor_id : "",
		"Attributes", attrs, "scope", scope, "time",
		(json_int_t)(t / 1000000000), "timeNano", (json_int_t)t);
	if (!msg)
		return -ENOMEM;
	if (!strcmp(type, "container") || !strcmp(type, "image")) {
		json_object_set_new(msg, "status", json_string(action));
		json_object_set_new(msg, "id",
				    json_string(actor_id ? actor_id : ""));
		const char *from = jsonx_str(attrs, "image", NULL);
		if (from)
			json_object_set_new(msg, "from", json_string(from));
	}
	size_t slot;
	if (ev->count == ENG_EVENT_RING) {
		json_decref(ev->ring[ev->head]);
		slot = ev->head;
		ev->head = (ev->head + 1) % ENG_EVENT_RING;
	} else {
		slot = (ev->head + ev->count++) % ENG_EVENT_RING;
	}
	ev->ring[slot] = msg;
	ev->times[slot] = t;
	ev->seq++;
	deliver(ev, msg, t);
	return 0;
}

/* name, image and labels of container @id; NULL when it is unknown. */
static json_t *ctr_attrs(struct eng *e, const char *id)
{
	struct eng_info i;
	if (!e->rt || eng_inspect(e, id, &i) < 0)
		return NULL;
	json_t *a = json_object();
	const json_t *labels = json_object_get(i.record, "Labels");
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)labels, k, v)
	{
		if (json_is_string(v))
			json_object_set(a, k, v);
	}
	const char *name = i.rt.name ? i.rt.name : "";
	json_object_set_new(a, "name",
			    json_string(name[0] == '/' ? name + 1 : name));
	json_object_set_new(a, "image",
			    json_string(jsonx_str(i.record, "Image", "")));
	eng_info_fini(&i);
	return a;
}

int eng_event_post_container(struct eng *e, const char *id, const char *action,
			     json_t *extra)
{
	json_t *a = NULL;
	struct eng__events *ev = e->events;
	if (ev && ev->doomed && !strcmp(ev->doomed_id, id))
		a = json_deep_copy(ev->doomed);
	else
		a = ctr_attrs(e, id);
	if (!a)
		a = json_object();
	if (a && extra)
		json_object_update(a, extra);
	json_decref(extra);
	return eng_event_post(e, "container", action, id, a);
}

void eng__events_doomed(struct eng *e, const char *id)
{
	struct eng__events *ev = e->events;
	if (!ev)
		return;
	json_decref(ev->doomed);
	ev->doomed = ctr_attrs(e, id);
	snprintf(ev->doomed_id, sizeof(ev->doomed_id), "%s", id);
}

/*
 * Docker's volume mount events at a start (before the container's start
 * event) and unmount events at an exit (after its die event), one per
 * named or anonymous volume the container's config mounts.
 */
static void volume_events(struct eng *e, const char *id, bool mount)
{
	struct rt_info i;
	json_t *cfg;
	if (!e->rt || rt_container_inspect(e->rt, id, &i) < 0)
		return;
	cfg = i.config_json ? json_loads(i.config_json, 0, NULL) : NULL;
	rt_info_fini(&i);
	const json_t *ms = json_object_get(cfg, "mounts");
	for (size_t k = 0; k < json_array_size(ms); k++) {
		const json_t *m = json_array_get(ms, k);
		const char *kind = jsonx_str(m, "kind", "");
		const char *vol = jsonx_str(m, "volume", NULL);
		if (!vol ||
		    (strcmp(kind, "volume") && strcmp(kind, "anonymous")))
			continue;
		json_t *a = mount ? json_pack("{s:s, s:s, s:s, s:s, s:s}",
					      "container", id, "destination",
					      jsonx_str(m, "target", ""),
					      "driver", "local", "propagation",
					      "", "read/write",
					      jsonx_bool(m, "readonly", false)
						      ? "false"
						      : "true")
				  : json_pack("{s:s, s:s}", "container", id,
					      "driver", "local");
		eng_event_post(e, "volume", mount ? "mount" : "unmount", vol,
			       a);
	}
	json_decref(cfg);
}

void eng__events_container(struct eng *e, const struct eng_event *x)
{
	char num[24];
	json_t *extra = NULL;
	if (x->type == ENG_EVENT_START)
		volume_events(e, x->id, true);
	if (x->type == ENG_EVENT_DIE && x->oom_killed)
		eng_event_post_container(e, x->id, "oom", NULL);
	if (x->type == ENG_EVENT_DIE) {
		snprintf(num, sizeof(num), "%d", x->exit_code);
		extra = json_pack("{s:s}", "exitCode", num);
	} else if (x->type == ENG_EVENT_KILL) {
		snprintf(num, sizeof(num), "%d", x->signal);
		extra = json_pack("{s:s}", "signal", num);
	}
	int rc = eng_event_post_container(e, x->id, eng_event_name(x->type),
					  extra);
	if (rc < 0)
		log_warn("event %s of container=%s lost: %s",
			 eng_event_name(x->type), x->id, shoal_strerror(rc));
	if (x->type == ENG_EVENT_DIE)
		volume_events(e, x->id, false);
	if (x->type == ENG_EVENT_DESTROY && e->events) {
		json_decref(e->events->doomed);
		e->events->doomed = NULL;
	}
}

size_t eng_event_replay(struct eng *e, int64_t since_ns, int64_t until_ns,
			eng_msg_fn *fn, void *arg)
{
	struct eng__events *ev = e->events;
	size_t n = 0;
	if (!ev)
		return 0;
	for (size_t i = 0; i < ev->count; i++) {
		size_t slot = (ev->head + i) % ENG_EVENT_RING;
		if (ev->times[slot] < since_ns)
			continue;
		if (until_ns && ev->times[slot] > until_ns)
			break;
		fn(ev->ring[slot], ev->times[slot], arg);
		n++;
	}
	return n;
}

int eng_event_listen(struct eng *e, eng_msg_fn *fn, void *arg,
		     struct eng_listener **out)
{
	struct eng__events *ev = e->events;
	if (!ev)
		return -ENOMEM;
	if (ev->nlisteners >= ENG_MAX_SUBSCRIBERS)
		return -EBUSY;
	struct eng_listener *l = shoal_calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->ev = ev;
	l->fn = fn;
	l->arg = arg;
	l->since = ev->seq;
	list_push_back(&ev->listeners, &l->node);
	ev->nlisteners++;
	*out = l;
	return 0;
}

void eng_event_unlisten(struct eng_listener *l)
{
	if (!l)
		return;
	list_remove(&l->node);
	l->ev->nlisteners--;
	shoal_free(l);
}
