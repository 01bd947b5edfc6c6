/*
 * The orchestrator's shell on the leader (docs/services.md): a built-in
 * leader-only component (component.c) that keeps the cores' model
 * (orch.h) in step with the store, runs their passes, proposes what they
 * decide, pushes each node's assignment set, and takes the nodes' task
 * status reports.
 *
 * Flow: start() loads the model from the store and runs a pass; every
 * applied change arrives as watcher events (changed()), which update the
 * model, push the assignment sets of the nodes whose tasks changed, and
 * run the next pass. At most one batch of ours is in flight: the next
 * pass starts once it was applied (its events arrive) or refused (then
 * the model is reloaded from the store, since a pass changes the tasks
 * it decides on, and the reports it carried are queued again). Status
 * reports queue in the model and ride in the next batch. Delayed
 * decisions (restart delay, update delay and monitor) are taken by the
 * leader's timer (every half heartbeat period), which also retries after
 * a refusal and continues a pass that filled its batch.
 *
 * Sets are the leader's memory only (dispatcher.c): a new leader's start()
 * pushes every node's. The model is dropped when leadership is lost.
 */
#define LOG_MODULE "orchestrator"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/id.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "manager/image_holders.h"
#include "manager/internal.h"
#include "manager/orch.h"
#include "manager/secrets.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct mgr_orch {
	struct mgr *m;
	struct orch_model model;
	struct store_watcher *w;
	bool running;
	bool inflight;
	bool again; /* run a pass at the next chance */
	int64_t wake_ns;
	uint64_t gen; /* leadership generation of @running */
	struct log_ratelimit rl_refused;
	struct log_ratelimit rl_failed;
	struct log_ratelimit rl_assign;
	/* node id -> hash of the set last pushed (| 1, never NULL): a set
	 * recomputed unchanged is not sent again (the overlays' items make
	 * every node's set recomputed when any task with an address moves).
	 * Cleared with leadership, as the dispatcher's sets are. */
	struct hmap pushed;
	struct mgr_holders *holders; /* where images are (image_holders.h) */
};

struct orch_prop {
	struct mgr_orch *o;
	uint64_t gen;
};

static void new_id(void *arg, char *out)
{
	(void)arg;
	id_swarm(out);
}

static uint32_t history_limit(struct mgr *m)
{
	const struct store_object *c = mgr_cluster(m);
	json_t *spec = c ? swarm_spec_read(c->spec, c->spec_len) : NULL;
	int64_t v = jsonx_int(jsonx_obj(spec, "Orchestration"),
			      "TaskHistoryRetentionLimit",
			      SWARM_DEFAULT_TASK_HISTORY);
	json_decref(spec);
	return v < 0 ? 0 : (uint32_t)v;
}

static void reload(struct mgr_orch *o)
{
	int rc = orch_model_load(&o->model, o->m->store);
	if (rc < 0)
		log_error("cannot read the store into the orchestrator's "
			  "model: %s",
			  shoal_strerror(rc));
}

static bool rl(struct log_ratelimit *r)
{
	unsigned long held;
	if (!r->interval_ns)
		r->interval_ns = 10 * NSEC_PER_SEC;
	return log_ratelimit_pass(r, time_mono_ns(), &held);
}

/* --- assignments ------------------------------------------------------- */

struct node_items {
	struct mgr_item *items;
	size_t n, cap;
	bool overflow;
};

/* Adds @j (owned, taken even on failure) to @ni. */
static int add_item(void *arg, char *j, size_t len)
{
	struct node_items *ni = arg;
	if (ni->n == ni->cap) {
		size_t cap = ni->cap ? 2 * ni->cap : 16;
		struct mgr_item *a = shoal_realloc(ni->items, cap * sizeof(*a));
		if (!a) {
			ni->overflow = true;
			shoal_free(j);
			return -ENOMEM;
		}
		ni->items = a;
		ni->cap = cap;
	}
	ni->items[ni->n++] = (struct mgr_item){j, len};
	return 0;
}

static void collect(struct hmap *sets, const struct orch_task *t,
		    const struct mgr_holders *h)
{
	struct node_items *ni = hmap_get_str(sets, t->node_id);
	if (!ni || !orch_task_assigned(t))
		return;
	size_t len;
	char *j = orch_assignment_json(t, &len);
	if (j && mgr_holders_annotate(h, t, &j, &len) < 0)
		ni->overflow = true;
	if (!j) {
		ni->overflow = true;
		return;
	}
	add_item(ni, j, len);
}

/* The nodes that may fetch from node @id (image_holders.h), if any. */
static void add_clients(const struct mgr_holders *h, const char *id,
			struct node_items *ni)
{
	char *j;
	size_t len;
	if (mgr_holders_clients_item(h, id, &j, &len) < 0)
		ni->overflow = true;
	else if (j)
		add_item(ni, j, len);
}

static uint64_t set_hash(const struct node_items *ni)
{
	uint64_t h = orch__hash(&ni->n, sizeof(ni->n));
	for (size_t i = 0; i < ni->n; i++)
		h = h * 1099511628211ULL ^
		    orch__hash(ni->items[i].data, ni->items[i].len);
	return h | 1;
}

static void push_one(struct mgr_orch *o, const char *node_id,
		     struct node_items *ni)
{
	if (!ni->overflow &&
	    orch_secrets_append(o->m->store, &ni->items, &ni->n, &ni->cap) < 0)
		ni->overflow = true;
	uint64_t h = ni->overflow ? 0 : set_hash(ni);
	bool same = h && (uintptr_t)hmap_get_str(&o->pushed, node_id) ==
				 (uintptr_t)h;
	int rc = ni->overflow ? -ENOMEM
		 : same	      ? 0
			: mgr_assign(o->m, node_id, ni->items, ni->n, NULL);
	if (!same)
		hmap_put_str(&o->pushed, node_id,
			     rc == 0 ? (void *)(uintptr_t)h : NULL, NULL);
	if (rc < 0 && rc != SHOAL_ENOTFOUND && rl(&o->rl_assign))
		log_warn("node=%s: its %zu assignments cannot be pushed: %s",
			 node_id, ni->n, shoal_strerror(rc));
	for (size_t i = 0; i < ni->n; i++)
		shoal_free((void *)ni->items[i].data);
	shoal_free(ni->items);
	shoal_free(ni);
}

static void push_assignments(struct mgr_orch *o)
{
	struct orch_model *md = &o->model;
	struct hmap sets = HMAP_INIT;
	const void *k;
	size_t kl, pos = 0;
	void *v;
	if (mgr_holders_update(&o->holders, o->m->store, md->nodes_gen) > 0)
		md->all_dirty = true; /* an image's holders changed */
	if (mgr_holders_clients(o->holders, &md->tasks) != 0)
		md->all_dirty = true; /* who may fetch from whom changed */
	struct hmap *from = md->all_dirty ? &md->nodes : &md->dirty_nodes;
	if (hmap_len(from) == 0)
		return;
	while (hmap_next(from, &pos, &k, &kl, &v)) {
		struct node_items *ni = shoal_calloc(1, sizeof(*ni));
		if (!ni || hmap_put(&sets, k, kl, ni, NULL) < 0) {
			shoal_free(ni);
			break;
		}
	}
	pos = 0;
	while (hmap_next(&md->tasks, &pos, &k, &kl, &v))
		collect(&sets, v, o->holders);
	pos = 0;
	while (hmap_next(&sets, &pos, &k, &kl, &v)) {
		char id[STORE_ID_MAX + 1];
		snprintf(id, sizeof(id), "%.*s", (int)kl, (const char *)k);
		/* Overlays after the tasks (allocator.h, alloc_items()). */
		if (alloc_items(md, id, add_item, v) < 0)
			((struct node_items *)v)->overflow = true;
		add_clients(o->holders, id, v);
		push_one(o, id, v);
	}
	hmap_fini(&sets);
	hmap_fini(&md->dirty_nodes);
	md->dirty_nodes = (struct hmap)HMAP_INIT;
	md->all_dirty = false;
}

/* --- passes ------------------------------------------------------------ */

static void proposed(void *arg, int rc, const char *msg)
{
	struct orch_prop *p = arg;
	struct mgr_orch *o = p->o;
	bool ours = o->running && p->gen == o->gen;
	shoal_free(p);
	if (!ours)
		return;
	o->inflight = false;
	orch_pass_done(&o->model, rc == 0);
	if (rc == 0)
		return; /* its events run the next pass */
	if (rl(&o->rl_refused))
		log_info("a batch of the orchestrator was refused (%s); "
			 "deciding again from the store",
			 msg && *msg ? msg : shoal_strerror(rc));
	reload(o);
	o->again = true;
}

static void run(struct mgr_orch *o)
{
	if (!o->running || o->inflight)
		return;
	o->again = false;
	struct orch_env env = {.now_ns = time_real_ns(),
			       .new_id = new_id,
			       .history = history_limit(o->m)};
	struct store_batch b;
	bool more;
	int64_t wake;
	store_batch_init(&b, env.now_ns);
	int n = orch_pass(&o->model, &env, &b, &more, &wake);
	o->wake_ns = wake;
	o->again = more;
	if (o->model.refused && rl(&o->rl_refused))
		log_warn("%zu task status report(s) refused, e.g. %s",
			 o->model.refused, o->model.refused_why);
	if (n <= 0) {
		store_batch_fini(&b);
		orch_pass_done(&o->model, n == 0);
		if (n < 0) {
			if (rl(&o->rl_failed))
				log_error("orchestrator pass failed: %s",
					  shoal_strerror(n));
			reload(o);
			o->again = true;
		}
		return;
	}
	struct orch_prop *p = shoal_calloc(1, sizeof(*p));
	int rc = p ? 0 : -ENOMEM;
	if (p) {
		*p = (struct orch_prop){o, o->gen};
		rc = mgr__propose(o->m, &b, proposed, p);
	}
	store_batch_fini(&b);
	if (rc < 0) {
		shoal_free(p);
		orch_pass_done(&o->model, false);
		if (rl(&o->rl_failed))
			log_warn("orchestrator batch not proposed: %s",
				 shoal_strerror(rc));
		reload(o);
		o->again = true;
		return;
	}
	o->inflight = true;
}

/* --- the component ----------------------------------------------------- */

static int start(void *arg, struct mgr *m, struct store_watcher *w)
{
	struct mgr_orch *o = arg;
	o->w = w;
	o->gen++;
	o->inflight = false;
	o->running = true;
	hmap_fini(&o->pushed);
	o->pushed = (struct hmap)HMAP_INIT;
	reload(o);
	push_assignments(o);
	run(o);
	return 0;
}

static void changed(void *arg, struct store_watcher *w)
{
	struct mgr_orch *o = arg;
	struct store_event ev;
	bool re = false;
	int rc;
	while ((rc = store_watch_next(w, &ev)) != -EAGAIN) {
		if (rc == -ENOBUFS) {
			re = true;
			continue;
		}
		if (rc < 0)
			break;
		if (ev.kind == STORE_EVENT_RESET)
			re = true;
		else if (ev.kind == STORE_EVENT_DELETE)
			orch_model_del(&o->model, ev.table, ev.obj->id);
		else if (!re && orch_model_put(&o->model, ev.obj) == -ENOMEM)
			re = true;
		store_event_fini(&ev);
	}
	if (re)
		reload(o);
	push_assignments(o);
	run(o);
}

static void stop(void *arg)
{
	struct mgr_orch *o = arg;
	o->running = false;
	o->inflight = false;
	o->w = NULL;
	hmap_fini(&o->pushed);
	o->pushed = (struct hmap)HMAP_INIT;
	mgr_holders_free(o->holders);
	o->holders = NULL;
	orch_model_fini(&o->model);
	orch_model_init(&o->model);
}

int mgr__orch_init(struct mgr *m)
{
	struct mgr_orch *o = shoal_calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->m = m;
	orch_model_init(&o->model);
	m->orch = o;
	struct mgr_component c = {
		.name = "orchestrator",
		.tables = STORE_TABLE_BIT(STORE_NODES) |
			  STORE_TABLE_BIT(STORE_SERVICES) |
			  STORE_TABLE_BIT(STORE_TASKS) |
			  STORE_TABLE_BIT(STORE_NETWORKS),
		.queue = 65536,
		.start = start,
		.changed = changed,
		.stop = stop,
		.arg = o,
	};
	int rc = mgr_component_add(m, &c);
	if (rc < 0) {
		shoal_free(o);
		m->orch = NULL;
	}
	return rc;
}

void mgr__orch_free(struct mgr *m)
{
	if (!m->orch)
		return;
	orch_model_fini(&m->orch->model);
	hmap_fini(&m->orch->pushed);
	shoal_free(m->orch);
	m->orch = NULL;
}

void mgr__orch_tick(struct mgr *m)
{
	struct mgr_orch *o = m->orch;
	if (!o || !o->running)
		return;
	if (o->again || o->model.nreports ||
	    (o->wake_ns && time_real_ns() >= o->wake_ns))
		run(o);
}

void mgr__orch_reports(struct mgr *m, const char *node_id,
		       const Swarm__TaskStatusReport *r)
{
	struct mgr_orch *o = m->orch;
	if (!o || !o->running)
		return;
	for (size_t i = 0; i < r->n_items; i++) {
		const Swarm__TaskStatusItem *it = r->items[i];
		const char *tid = it->task_id ? it->task_id : "";
		const char *js = it->status_json ? it->status_json : "";
		size_t len = strlen(js);
		int rc = strlen(tid) > STORE_ID_MAX || len > TASK_STATUS_MAX
				 ? -EINVAL
				 : orch_report_add(&o->model, node_id, tid, js,
						   len);
		if (rc < 0 && rl(&o->rl_refused))
			log_warn(
				"node=%s task=%.64s: status report dropped: %s",
				node_id, tid,
				rc == -EINVAL ? "too long"
					      : shoal_strerror(rc));
	}
	run(o);
}
