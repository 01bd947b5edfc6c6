/*
 * Service logs, the leader's side (logs.h).
 *
 * A subscription has an id unique in this process, one entry per node it
 * asked (the node's tasks, its credit owed, done or not) and a timer that
 * checks every second that each node still has a session (a node that
 * went away is done: its logs can no longer come). LogsData from a
 * node's connection are routed here by the listener (mgr__on_logs_data)
 * and checked against the subscription: an unknown id or a node it did
 * not ask is dropped (a subscription cancelled a moment ago), a line of a
 * task the node was not asked for is dropped with a rate-limited warning.
 *
 * Following a service (opts.service_id): the tasks are not taken from
 * the caller but from the store, at the start and at every check: each
 * task of the service that has a node and has started a container (state
 * starting or later) is asked once. Each wave of tasks is asked from its
 * node under a sub id of its own (one lnode per wave and node), so a
 * node's earlier readers are never disturbed; lnodes that are done are
 * dropped at the next wave. Such a subscription ends when the service is
 * removed (or its owner stops it), not when its tasks end: a restarted
 * or added task shows up within a check.
 *
 * Lifetime: the subscription is freed in its timer's close callback,
 * after done() ran or mgr_logs_stop(); once closing it sends nothing and
 * calls nothing. mgr__logs_stop_all() ends a stopping manager's.
 */
#define LOG_MODULE "manager"
#include "manager/logs.h"

#include "common/alloc.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/jsonx.h"
#include "common/list.h"
#include "common/log.h"
#include "common/map.h"
#include "manager/internal.h"
#include "manager/service.h"
#include "manager/store.h"
#include "proto/swarm.pb-c.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define CHECK_MS 1000

struct lnode {
	uint64_t sub_id;
	char id[WIRE_ID_MAX + 1];
	char **tasks;
	size_t ntasks;
	uint32_t owed; /* batches the owner has not taken yet */
	bool whole;    /* a task started after the start: all its lines */
	bool done;
};

struct mgr_logs {
	struct list_node link;
	struct mgr *m;
	uint64_t id;
	struct mgr_logs_opts o;
	struct mgr_logs_cb cb;
	void *arg;
	struct lnode *nodes;
	size_t nnodes, cap;
	char svc[WIRE_ID_MAX + 1]; /* following this service; "" not */
	struct hmap asked;	   /* task ids asked for (following) */
	bool scanned;		   /* the first rescan() ran */
	uv_timer_t timer;
	bool closing;
};

static struct list_node subs = {&subs, &subs};
static uint64_t next_id = 1;
static struct log_ratelimit warn_rl = {.interval_ns = 10 * NSEC_PER_SEC};

static void lnode_fini(struct lnode *n)
{
	for (size_t k = 0; k < n->ntasks; k++)
		shoal_free(n->tasks[k]);
	shoal_free(n->tasks);
}

static void sub_freed(uv_handle_t *h)
{
	struct mgr_logs *l = h->data;
	for (size_t i = 0; i < l->nnodes; i++)
		lnode_fini(&l->nodes[i]);
	shoal_free(l->nodes);
	hmap_fini(&l->asked);
	shoal_free(l);
}

static void sub_close(struct mgr_logs *l)
{
	if (l->closing)
		return;
	l->closing = true;
	list_remove(&l->link);
	uv_close((uv_handle_t *)&l->timer, sub_freed);
}

static struct mgr_conn *session_of(struct mgr *m, const char *node_id)
{
	struct list_node *p;
	list_for_each(p, &m->conns)
	{
		struct mgr_conn *c = list_entry(p, struct mgr_conn, link);
		if (c->session && !c->closed && !c->revoked &&
		    strcmp(c->node_id, node_id) == 0)
			return c;
	}
	return NULL;
}

static void finish(struct mgr_logs *l, const char *error)
{
	if (l->closing)
		return;
	void (*done)(void *, const char *) = l->cb.done;
	void *arg = l->arg;
	sub_close(l);
	done(arg, error);
}

static void check_done(struct mgr_logs *l)
{
	if (l->svc[0])
		return; /* following a service: ends with the service */
	for (size_t i = 0; i < l->nnodes; i++)
		if (!l->nodes[i].done)
			return;
	finish(l, NULL);
}

static void control(struct mgr_logs *l, struct lnode *n, bool cancel,
		    uint32_t credit)
{
	struct mgr_conn *c = session_of(l->m, n->id);
	if (!c)
		return;
	Swarm__Envelope env = SWARM__ENVELOPE__INIT;
	Swarm__LogsControl lc = SWARM__LOGS_CONTROL__INIT;
	lc.sub_id = n->sub_id;
	lc.cancel = cancel;
	lc.credit = credit;
	env.body_case = SWARM__ENVELOPE__BODY_LOGS_CONTROL;
	env.logs_control = &lc;
	mgr__send(c, &env);
}

/* The lnode of node @id asked in the current wave (from @from on). */
static struct lnode *node_for_wave(struct mgr_logs *l, size_t from,
				   const char *id)
{
	for (size_t i = from; i < l->nnodes; i++)
		if (strcmp(l->nodes[i].id, id) == 0)
			return &l->nodes[i];
	return NULL;
}

static int add_task(struct mgr_logs *l, size_t wave,
		    const struct mgr_logs_task *t)
{
	if (!t->node_id || !*t->node_id || strlen(t->node_id) > WIRE_ID_MAX)
		return 0; /* not placed: no logs anywhere */
	struct lnode *n = node_for_wave(l, wave, t->node_id);
	if (!n) {
		if (l->nnodes >= MGR_LOGS_MAX_NODES)
			return -EINVAL;
		if (l->nnodes == l->cap) {
			size_t cap = l->cap ? 2 * l->cap : 8;
			struct lnode *a =
				shoal_realloc(l->nodes, cap * sizeof(*a));
			if (!a)
				return -ENOMEM;
			l->nodes = a;
			l->cap = cap;
		}
		n = &l->nodes[l->nnodes++];
		*n = (struct lnode){.sub_id = next_id++};
		snprintf(n->id, sizeof(n->id), "%s", t->node_id);
	}
	char **nt = shoal_realloc(n->tasks, (n->ntasks + 1) * sizeof(char *));
	if (!nt)
		return -ENOMEM;
	n->tasks = nt;
	nt[n->ntasks] = shoal_strdup(t->task_id);
	if (!nt[n->ntasks])
		return -ENOMEM;
	n->ntasks++;
	return 0;
}

static void subscribe(struct mgr_logs *l, struct lnode *n)
{
	struct mgr_conn *c = session_of(l->m, n->id);
	if (!c) {
		n->done = true;
		return;
	}
	Swarm__Envelope env = SWARM__ENVELOPE__INIT;
	Swarm__LogsSubscribe ls = SWARM__LOGS_SUBSCRIBE__INIT;
	ls.sub_id = n->sub_id;
	ls.task_ids = n->tasks;
	ls.n_task_ids = n->ntasks;
	ls.follow = l->o.follow;
	ls.tail = n->whole ? -1 : l->o.tail;
	ls.since_ns = l->o.since_ns;
	ls.stdout = l->o.out;
	ls.stderr = l->o.err;
	ls.credit = MGR_LOGS_CREDIT;
	env.body_case = SWARM__ENVELOPE__BODY_LOGS_SUBSCRIBE;
	env.logs_subscribe = &ls;
	mgr__send(c, &env);
}

/* Drop the lnodes that are done (their tasks stay in l->asked). */
static void compact(struct mgr_logs *l)
{
	size_t k = 0;
	for (size_t i = 0; i < l->nnodes; i++) {
		if (l->nodes[i].done)
			lnode_fini(&l->nodes[i]);
		else
			l->nodes[k++] = l->nodes[i];
	}
	l->nnodes = k;
}

/* A task of l->svc worth asking its node for: placed, and its container
 * started (a task still preparing is asked at a later check). */
static bool task_has_logs(const struct mgr_logs *l,
			  const struct store_object *o, char *node)
{
	char pat[WIRE_ID_MAX + 16];
	snprintf(pat, sizeof(pat), "\"ServiceID\":\"%s\"", l->svc);
	if (!memmem(o->spec, o->spec_len, pat, strlen(pat)))
		return false;
	json_t *sp = NULL, *st = NULL;
	bool ok = false;
	enum task_state ts;
	if (jsonx_parse((const char *)o->spec, o->spec_len, &sp, NULL, 0) ==
		    0 &&
	    jsonx_parse((const char *)o->status, o->status_len, &st, NULL, 0) ==
		    0 &&
	    strcmp(jsonx_str(sp, "ServiceID", ""), l->svc) == 0 &&
	    task_state_parse(jsonx_str(st, "State", ""), &ts) == 0 &&
	    ts >= TASK_STARTING && strlen(jsonx_str(sp, "NodeID", "")) > 0 &&
	    strlen(jsonx_str(sp, "NodeID", "")) <= WIRE_ID_MAX) {
		snprintf(node, WIRE_ID_MAX + 1, "%s",
			 jsonx_str(sp, "NodeID", ""));
		ok = true;
	}
	json_decref(sp);
	json_decref(st);
	return ok;
}

/* Following a service: ask for its tasks not asked yet. */
static int rescan(struct mgr_logs *l)
{
	const struct store *s = l->m->store;
	const struct store_object **all;
	size_t n, wave;
	char node[WIRE_ID_MAX + 1];
	int rc = 0;
	if (store_list(s, STORE_TASKS, &all, &n) < 0)
		return -ENOMEM;
	compact(l);
	wave = l->nnodes;
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (hmap_has(&l->asked, all[i]->id, strlen(all[i]->id)) ||
		    !task_has_logs(l, all[i], node))
			continue;
		struct mgr_logs_task t = {all[i]->id, node};
		rc = add_task(l, wave, &t);
		if (rc == 0)
			rc = hmap_put_str(&l->asked, all[i]->id, NULL, NULL);
	}
	shoal_free(all);
	for (size_t i = wave; i < l->nnodes; i++) {
		l->nodes[i].whole = l->scanned;
		subscribe(l, &l->nodes[i]);
	}
	l->scanned = true;
	return rc;
}

/* Nodes that lost their session are done; a followed service's new tasks
 * are asked for, and its removal ends the subscription. */
static void on_check(uv_timer_t *t)
{
	struct mgr_logs *l = t->data;
	for (size_t i = 0; i < l->nnodes; i++)
		if (!l->nodes[i].done && !session_of(l->m, l->nodes[i].id))
			l->nodes[i].done = true;
	if (l->svc[0]) {
		if (!store_get(l->m->store, STORE_SERVICES, l->svc)) {
			finish(l, NULL);
			return;
		}
		int rc = rescan(l);
		if (rc < 0)
			finish(l, rc == -EINVAL ? "the tasks span too many "
						  "nodes"
						: "out of memory");
		return;
	}
	check_done(l);
}

int mgr_logs_start(struct mgr *m, const struct mgr_logs_task *tasks, size_t n,
		   const struct mgr_logs_opts *o, const struct mgr_logs_cb *cb,
		   void *arg, struct mgr_logs **out, char *err, size_t errlen)
{
	if (!mgr_is_leader(m)) {
		snprintf(err, errlen,
			 "service logs are served by the leader manager; run "
			 "the command there");
		return SHOAL_ENOTLEADER;
	}
	struct mgr_logs *l = shoal_calloc(1, sizeof(*l));
	if (!l) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	l->m = m;
	l->id = next_id++;
	l->o = *o;
	l->o.service_id = NULL;
	l->asked = (struct hmap)HMAP_INIT;
	if (o->follow && o->service_id) {
		snprintf(l->svc, sizeof(l->svc), "%s", o->service_id);
		n = 0; /* from the store, by the first check */
	}
	l->cb = *cb;
	l->arg = arg;
	for (size_t i = 0; i < n; i++) {
		int rc = add_task(l, 0, &tasks[i]);
		if (rc < 0) {
			snprintf(err, errlen,
				 rc == -EINVAL ? "the tasks span too many nodes"
					       : "out of memory");
			uv_timer_init(m->loop, &l->timer);
			l->timer.data = l;
			list_init(&l->link);
			l->closing = true;
			uv_close((uv_handle_t *)&l->timer, sub_freed);
			return rc;
		}
	}
	uv_timer_init(m->loop, &l->timer);
	l->timer.data = l;
	list_push_back(&subs, &l->link);
	for (size_t i = 0; i < l->nnodes; i++)
		subscribe(l, &l->nodes[i]);
	/* The first check runs on the next turn: done() is never called
	 * from inside this call, even when no node could be asked. */
	uv_timer_start(&l->timer, on_check, 0, CHECK_MS);
	*out = l;
	return 0;
}

void mgr_logs_credit(struct mgr_logs *l, const char *node_id)
{
	/* The credit goes back to the wave of that node that is owed it. */
	for (size_t i = 0; !l->closing && i < l->nnodes; i++) {
		struct lnode *n = &l->nodes[i];
		if (n->owed && strcmp(n->id, node_id) == 0) {
			n->owed--;
			if (!n->done)
				control(l, n, false, 1);
			return;
		}
	}
}

void mgr_logs_stop(struct mgr_logs *l)
{
	if (l->closing)
		return;
	for (size_t i = 0; i < l->nnodes; i++)
		if (!l->nodes[i].done)
			control(l, &l->nodes[i], true, 0);
	sub_close(l);
}

void mgr__logs_stop_all(struct mgr *m)
{
	struct list_node *p, *tmp;
	list_for_each_safe(p, tmp, &subs)
	{
		struct mgr_logs *l = list_entry(p, struct mgr_logs, link);
		if (l->m == m)
			finish(l, "the manager stopped");
	}
}

static bool owns(const struct lnode *n, const char *task_id)
{
	for (size_t i = 0; i < n->ntasks; i++)
		if (strcmp(n->tasks[i], task_id) == 0)
			return true;
	return false;
}

void mgr__on_logs_data(struct mgr_conn *c, const Swarm__LogsData *d)
{
	struct mgr_logs *l = NULL;
	struct lnode *n = NULL;
	struct list_node *p;
	list_for_each(p, &subs)
	{
		struct mgr_logs *s = list_entry(p, struct mgr_logs, link);
		for (size_t i = 0; s->m == c->m && !n && i < s->nnodes; i++)
			if (s->nodes[i].sub_id == d->sub_id &&
			    strcmp(s->nodes[i].id, c->node_id) == 0) {
				l = s;
				n = &s->nodes[i];
			}
	}
	if (!n || n->done)
		return; /* cancelled, or not asked: nothing to do */
	struct mgr_log_line *lines =
		shoal_calloc(d->n_lines ? d->n_lines : 1, sizeof(*lines));
	size_t k = 0;
	for (size_t i = 0; lines && i < d->n_lines; i++) {
		const Swarm__LogLine *ln = d->lines[i];
		unsigned long held = 0;
		if (!ln->task_id || !owns(n, ln->task_id) ||
		    (ln->stream != 1 && ln->stream != 2)) {
			if (log_ratelimit_pass(&warn_rl, time_mono_ns(), &held))
				log_warn("node=%s sent a log line of a task it "
					 "was not asked for; dropped (%lu more "
					 "held back)",
					 c->node_id, held);
			continue;
		}
		lines[k++] = (struct mgr_log_line){
			.task_id = ln->task_id,
			.stream = (int)ln->stream,
			.time_ns = ln->time_ns,
			.data = ln->data.data,
			.len = ln->data.len,
		};
	}
	if (d->done) {
		n->done = true;
		if (d->error && *d->error)
			log_info("logs of node=%s ended: %s", n->id, d->error);
	}
	bool taken = true;
	if (k)
		taken = l->cb.lines(l->arg, n->id, lines, k);
	shoal_free(lines);
	if (l->closing)
		return; /* the owner stopped it from lines() */
	if (d->done) {
		check_done(l);
		return;
	}
	if (taken)
		control(l, n, false, 1);
	else
		n->owed++;
}
