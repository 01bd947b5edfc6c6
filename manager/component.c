/*
 * Leader-only components (manager.h, "components"): the seam the
 * orchestrator, the scheduler and the allocator plug into. They act on
 * the cluster as its leader does, so they must run on exactly the manager
 * that leads, from a store that holds everything committed so far.
 *
 * Life of a leadership. on_role() (cluster.c) calls
 * mgr__components_lead(): the generation moves on and, in the next loop
 * turn, a read index is asked of Raft. It completes once this leader has
 * committed an entry of its own term (Raft's no-op, thesis 6.4) and applied
 * everything before it, so the store is current. Then, once the cluster object
 * exists too (a new swarm's founder proposes it right after its first
 * election), every component gets a fresh watcher and its start() runs. A read
 * index that fails while we still lead is asked again by the leader's timer.
 * Losing leadership, a Raft failure or the manager's stop calls stop()
 * at once, in the callback that noticed, so a component never acts on a
 * leadership that has ended; its watcher is freed right after.
 *
 * Loop turns. start() and changed() run from a uv_idle callback: the
 * store notifies watchers inside store_apply(), which runs inside Raft's
 * apply, where proposing again is best avoided. The idle handle is active
 * only while there is something to deliver.
 *
 * A start() that fails is logged once per leadership and retried on each
 * run of the leader's timer. Registration is bounded (MGR_MAX_COMPONENTS)
 * and so is each watcher's queue; a component that falls behind gets
 * -ENOBUFS once and re-reads the store, as store.h describes.
 */
#define LOG_MODULE "manager"
#include "common/alloc.h"
#include "common/error.h"
#include "common/log.h"
#include "manager/internal.h"
#include "raft/node_uv.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void deliver(uv_idle_t *h);

static void arm(struct mgr *m)
{
	if (m->comps.idle_on)
		uv_idle_start(&m->comps.idle, deliver);
}

static void notify(struct store_watcher *w, void *arg)
{
	struct mgr_comp *p = arg;
	p->notified = true;
	arm(p->m);
}

static void start_one(struct mgr *m, struct mgr_comp *p)
{
	const struct mgr_component *c = &p->c;
	int rc = store_watch(m->store, c->tables,
			     c->queue ? c->queue : MGR_COMPONENT_QUEUE, notify,
			     p, &p->w);
	if (rc == 0) {
		rc = c->start(c->arg, m, p->w);
		if (rc < 0) {
			store_unwatch(p->w);
			p->w = NULL;
		}
	}
	if (rc < 0) {
		if (!p->warned)
			log_warn("component=%s does not start: %s; retrying",
				 c->name, shoal_strerror(rc));
		p->failed = p->warned = true;
		return;
	}
	p->running = true;
	p->failed = p->warned = false;
	p->notified = store_watch_pending(p->w) > 0;
	log_info("component=%s started: this manager leads", c->name);
}

static void stop_one(struct mgr_comp *p)
{
	p->running = false;
	p->notified = false;
	p->c.stop(p->c.arg);
	store_unwatch(p->w);
	p->w = NULL;
	log_info("component=%s stopped", p->c.name);
}

static bool may_run(const struct mgr *m)
{
	return m->comps.current && m->leader && !m->stopping && mgr_cluster(m);
}

static void ask_barrier(struct mgr *m);

static void deliver(uv_idle_t *h)
{
	struct mgr *m = h->data;
	uv_idle_stop(h);
	if (m->leader)
		ask_barrier(m);
	for (size_t i = 0; i < m->comps.n && may_run(m); i++) {
		struct mgr_comp *p = &m->comps.all[i];
		if (!p->running && !p->failed)
			start_one(m, p);
		if (!p->running || !p->notified)
			continue;
		p->notified = false;
		if (p->c.changed)
			p->c.changed(p->c.arg, p->w);
	}
}

int mgr_component_add(struct mgr *m, const struct mgr_component *c)
{
	if (!c->start || !c->stop || !c->name ||
	    !(c->tables & STORE_ALL_TABLES))
		return -EINVAL;
	if (m->comps.n == MGR_MAX_COMPONENTS)
		return -ENOSPC;
	struct mgr_comp *p = &m->comps.all[m->comps.n++];
	memset(p, 0, sizeof(*p));
	p->m = m;
	p->c = *c;
	if (may_run(m))
		arm(m);
	return 0;
}

bool mgr_components_running(const struct mgr *m)
{
	return may_run(m);
}

int mgr__components_init(struct mgr *m, const struct mgr_config *cfg)
{
	for (size_t i = 0; i < cfg->ncomponents; i++) {
		int rc = mgr_component_add(m, &cfg->components[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

void mgr__components_open(struct mgr *m)
{
	uv_idle_init(m->loop, &m->comps.idle);
	m->comps.idle.data = m;
	m->comps.idle_on = true;
	m->open_handles++;
	if (may_run(m))
		arm(m);
}

struct barrier {
	struct mgr *m;
	uint64_t gen;
};

static void barrier_done(void *arg, int status)
{
	struct barrier *b = arg;
	struct mgr *m = b->m;
	bool same = b->gen == m->comps.gen;
	shoal_free(b);
	if (!same)
		return; /* a leadership that has ended */
	m->comps.barrier = false;
	if (status != 0 || !m->leader || m->stopping)
		return; /* the timer asks again while we lead */
	m->comps.current = true;
	for (size_t i = 0; i < m->comps.n; i++)
		m->comps.all[i].failed = m->comps.all[i].warned = false;
	arm(m);
}

static void ask_barrier(struct mgr *m)
{
	if (m->comps.barrier || m->comps.current || !m->rn || m->stopping)
		return;
	struct barrier *b = shoal_calloc(1, sizeof(*b));
	if (!b)
		return;
	b->m = m;
	b->gen = m->comps.gen;
	if (raft_node_read(m->rn, barrier_done, b) < 0) {
		shoal_free(b);
		return;
	}
	m->comps.barrier = true;
}

void mgr__components_lead(struct mgr *m)
{
	m->comps.gen++;
	m->comps.barrier = false;
	m->comps.current = false;
	arm(m); /* the read index is asked there, out of Raft's callback */
}

void mgr__components_follow(struct mgr *m)
{
	m->comps.gen++;
	m->comps.barrier = false;
	m->comps.current = false;
	for (size_t i = 0; i < m->comps.n; i++)
		if (m->comps.all[i].running)
			stop_one(&m->comps.all[i]);
}

void mgr__components_tick(struct mgr *m)
{
	if (!m->leader)
		return;
	ask_barrier(m);
	for (size_t i = 0; i < m->comps.n && may_run(m); i++) {
		struct mgr_comp *p = &m->comps.all[i];
		if (p->failed)
			start_one(m, p);
	}
}

void mgr__components_changed(struct mgr *m)
{
	for (size_t i = 0; i < m->comps.n; i++)
		if (!m->comps.all[i].running && may_run(m)) {
			arm(m);
			return;
		}
}

void mgr__components_close(struct mgr *m)
{
	mgr__components_follow(m);
	if (!m->comps.idle_on)
		return;
	m->comps.idle_on = false;
	uv_close((uv_handle_t *)&m->comps.idle, mgr__handle_closed);
}
