/*
 * Docker's swarm events (moby daemon/events.go: logServiceEvent,
 * logNodeEvent, logSecretEvent, logConfigEvent), posted on every manager
 * to the engine's event log so that `docker events` on any manager shows
 * them: Type "service", "node", "secret" or "config", Action "create",
 * "update" or "remove", scope "swarm", Actor.ID the object's id and
 * Attributes its `name` and, for updates, the changes Docker names:
 * services `image.old/new`, `replicas.old/new`, `updatestate.old/new`;
 * nodes `state.old/new`, `availability.old/new`, `role.old/new`.
 *
 * Source: a store watcher on this manager's store (mgr_watch()), drained
 * in its notify callback, so every manager sees every committed change
 * once it applies it. manager/ does not know the engine, so the daemon
 * wires the two (daemon/swarm.c starts this after mgr_start() and stops
 * it before mgr_stop()).
 *
 * Decisions: an update is posted only when something a user sees changed
 * (a service's spec or its UpdateStatus.State; a node's spec or its
 * Status.State), not for each bookkeeping write of the orchestrator or a
 * node's description. Changes older than this watcher (a log replayed at
 * start, a follower catching up) are not posted as news: a create or
 * update whose time in the store is before the start is skipped; a
 * snapshot restore (RESET) posts nothing. Deletes carry no time and are
 * always posted. A queue overflow drops the events it held (logged).
 */
#define LOG_MODULE "daemon"
#include "daemon/swarm_events.h"

#include "common/alloc.h"
#include "common/clock.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "engine/engine.h"
#include "manager/manager.h"
#include "manager/store.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define QUEUE 4096

struct swarm_events {
	struct eng *e;
	struct store_watcher *w;
	int64_t since_ns;
};

static json_t *parse(const uint8_t *data, size_t len)
{
	json_t *j = NULL;
	if (!data || !len ||
	    jsonx_parse((const char *)data, len, &j, NULL, 0) < 0)
		return json_object();
	return j;
}

static bool same_bytes(const uint8_t *a, size_t alen, const uint8_t *b,
		       size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* Docker's lower-case enum words. */
static json_t *lower(const char *s)
{
	char buf[64];
	size_t i = 0;
	for (; s[i] && i + 1 < sizeof(buf); i++)
		buf[i] = (char)tolower((unsigned char)s[i]);
	buf[i] = '\0';
	return json_string(buf);
}

/* @attrs gets KEY.old and KEY.new when @old and @cur differ. */
static void change(json_t *attrs, const char *key, const char *old,
		   const char *cur)
{
	char k[64];
	if (strcmp(old, cur) == 0)
		return;
	snprintf(k, sizeof(k), "%s.old", key);
	json_object_set_new(attrs, k, lower(old));
	snprintf(k, sizeof(k), "%s.new", key);
	json_object_set_new(attrs, k, lower(cur));
}

static const char *update_state(const json_t *status)
{
	return jsonx_str(jsonx_obj(status, "UpdateStatus"), "State", "");
}

static const char *image(const json_t *spec)
{
	return jsonx_str(
		jsonx_obj(jsonx_obj(spec, "TaskTemplate"), "ContainerSpec"),
		"Image", "");
}

/* replicas of a replicated service as text, "" otherwise. */
static void replicas(const json_t *spec, char *out, size_t cap)
{
	const json_t *r = jsonx_obj(jsonx_obj(spec, "Mode"), "Replicated");
	out[0] = '\0';
	if (r)
		snprintf(out, cap, "%" PRId64,
			 (int64_t)jsonx_int(r, "Replicas", 1));
}

/* The attributes of a service update, or NULL when nothing Docker would
 * report changed. */
static json_t *service_update(const struct store_object *o,
			      const struct store_object *old, json_t *attrs)
{
	json_t *spec = parse(o->spec, o->spec_len);
	json_t *ospec = parse(old->spec, old->spec_len);
	json_t *st = parse(o->status, o->status_len);
	json_t *ost = parse(old->status, old->status_len);
	const char *us = update_state(st), *ous = update_state(ost);
	bool news =
		!same_bytes(o->spec, o->spec_len, old->spec, old->spec_len) ||
		strcmp(us, ous) != 0;
	char r[32], oldr[32];
	replicas(spec, r, sizeof(r));
	replicas(ospec, oldr, sizeof(oldr));
	if (strcmp(image(spec), image(ospec)) != 0) {
		json_object_set_new(attrs, "image.old",
				    json_string(image(ospec)));
		json_object_set_new(attrs, "image.new",
				    json_string(image(spec)));
	}
	if (*r && *oldr && strcmp(r, oldr) != 0) {
		json_object_set_new(attrs, "replicas.old", json_string(oldr));
		json_object_set_new(attrs, "replicas.new", json_string(r));
	}
	if (*us && !*ous)
		json_object_set_new(attrs, "updatestate.new", lower(us));
	else if (*us)
		change(attrs, "updatestate", ous, us);
	json_decref(spec);
	json_decref(ospec);
	json_decref(st);
	json_decref(ost);
	if (!news) {
		json_decref(attrs);
		return NULL;
	}
	return attrs;
}

static const char *node_state(const json_t *status)
{
	return jsonx_str(jsonx_obj(status, "Status"), "State", "unknown");
}

static json_t *node_update(const struct store_object *o,
			   const struct store_object *old, json_t *attrs)
{
	json_t *spec = parse(o->spec, o->spec_len);
	json_t *ospec = parse(old->spec, old->spec_len);
	json_t *st = parse(o->status, o->status_len);
	json_t *ost = parse(old->status, old->status_len);
	bool news =
		!same_bytes(o->spec, o->spec_len, old->spec, old->spec_len) ||
		strcmp(node_state(st), node_state(ost)) != 0;
	change(attrs, "state", node_state(ost), node_state(st));
	change(attrs, "availability",
	       jsonx_str(ospec, "Availability", "active"),
	       jsonx_str(spec, "Availability", "active"));
	change(attrs, "role", jsonx_str(ospec, "Role", "worker"),
	       jsonx_str(spec, "Role", "worker"));
	json_decref(spec);
	json_decref(ospec);
	json_decref(st);
	json_decref(ost);
	if (!news) {
		json_decref(attrs);
		return NULL;
	}
	return attrs;
}

/* Docker's name of @o: the spec's Name, else (nodes) the hostname. */
static json_t *name_attrs(const struct store_object *o)
{
	json_t *spec = parse(o->spec, o->spec_len);
	const char *name =
		o->name && *o->name ? o->name : jsonx_str(spec, "Name", "");
	json_t *st = NULL;
	if (!*name && o->table == STORE_NODES) {
		st = parse(o->status, o->status_len);
		name = jsonx_str(jsonx_obj(st, "Description"), "Hostname", "");
	}
	json_t *attrs = json_pack("{s:s}", "name", name);
	json_decref(spec);
	json_decref(st);
	return attrs;
}

static const char *type_of(enum store_table t)
{
	switch (t) {
	case STORE_SERVICES:
		return "service";
	case STORE_NODES:
		return "node";
	case STORE_SECRETS:
		return "secret";
	case STORE_CONFIGS:
		return "config";
	default:
		return NULL;
	}
}

static void post(struct swarm_events *ev, const struct store_event *x)
{
	const char *type = type_of(x->table);
	const char *action = x->kind == STORE_EVENT_CREATE   ? "create"
			     : x->kind == STORE_EVENT_UPDATE ? "update"
							     : "remove";
	if (!type || !x->obj)
		return;
	if (x->kind != STORE_EVENT_DELETE && x->obj->updated_ns < ev->since_ns)
		return; /* old news: replayed or caught up */
	json_t *attrs = name_attrs(x->obj);
	if (attrs && x->kind == STORE_EVENT_UPDATE && x->old) {
		if (x->table == STORE_SERVICES)
			attrs = service_update(x->obj, x->old, attrs);
		else if (x->table == STORE_NODES)
			attrs = node_update(x->obj, x->old, attrs);
		if (!attrs)
			return; /* nothing Docker would report */
	}
	if (attrs)
		eng_event_post_scope(ev->e, type, action, x->obj->id, attrs,
				     "swarm");
}

static void notify(struct store_watcher *w, void *arg)
{
	struct swarm_events *ev = arg;
	struct store_event x;
	int rc;
	while ((rc = store_watch_next(w, &x)) != -EAGAIN) {
		if (rc == -ENOBUFS) {
			log_warn("swarm events: the queue overflowed; some "
				 "service/node events were not posted");
			continue;
		}
		if (rc < 0)
			break;
		if (x.kind != STORE_EVENT_RESET)
			post(ev, &x);
		store_event_fini(&x);
	}
}

int swarm_events_start(struct eng *e, struct mgr *m, struct swarm_events **out)
{
	struct swarm_events *ev = shoal_calloc(1, sizeof(*ev));
	if (!ev)
		return -ENOMEM;
	ev->e = e;
	ev->since_ns = time_real_ns();
	int rc = mgr_watch(m,
			   STORE_TABLE_BIT(STORE_SERVICES) |
				   STORE_TABLE_BIT(STORE_NODES) |
				   STORE_TABLE_BIT(STORE_SECRETS) |
				   STORE_TABLE_BIT(STORE_CONFIGS),
			   QUEUE, notify, ev, &ev->w);
	if (rc < 0) {
		shoal_free(ev);
		return rc;
	}
	*out = ev;
	return 0;
}

void swarm_events_stop(struct swarm_events *ev)
{
	if (!ev)
		return;
	store_unwatch(ev->w);
	shoal_free(ev);
}
