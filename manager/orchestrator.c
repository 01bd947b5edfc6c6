/*
 * The orchestrator (pure; orch.h): one pass turns services into task
 * decisions, as swarmkit's orchestrators do (docs/services.md).
 *
 * Replicated services own slots 1..Replicas. A slot's newest task is the
 * one that counts; older ones are its history. A slot gets a new task
 * when it has none, when its newest was shut down (its node went down,
 * was drained or removed, or the slot was scaled away and back), or when
 * its newest ended and the restart policy allows another attempt (after
 * the policy's delay, within MaxAttempts per Window). Slots above the
 * replica count are shut down. Global services own one slot per eligible
 * node (not drained, not down, matching the constraints and platforms),
 * and jobs run their slots (ReplicatedJob: TotalCompletions slots, at most
 * MaxConcurrent at a time; GlobalJob: one per eligible node) until each
 * completes once, never restarting a completed one.
 *
 * The update supervisor: a slot whose live task's Spec is not the
 * service's TaskTemplate is outdated. At most Parallelism slots (0: all)
 * are replaced at a time; a replaced slot counts as in progress until its
 * new task has run for the update Delay; stop-first shuts the old task in
 * the same change that creates the new one, start-first keeps it until the
 * new one runs. New tasks that fail since the update started count against
 * MaxFailureRatio; past it FailureAction pauses, continues or rolls back
 * (the previous spec becomes the spec again, RollbackConfig in effect).
 * UpdateStatus follows Docker's states; "completed" once no slot is
 * outdated and every new task has run for Monitor.
 *
 * Invariant kept for the simulator: per replicated service, the tasks
 * whose desired state is running are at most Replicas, plus one per slot
 * while a start-first update replaces it.
 *
 * Tasks of a removed service get desired state "remove" and are deleted
 * once they stopped (or never ran, or their node is gone). History: per
 * slot (per node for global services) at most TaskHistoryRetentionLimit
 * tasks are kept, never deleting one that runs or should.
 */
#include "common/alloc.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/jsonx.h"
#include "manager/orch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pass {
	struct orch_model *m;
	const struct orch_env *env;
	size_t ops;
	size_t nets; /* network objects written (the allocator's) */
	size_t bytes;
	bool more;
	int64_t wake;
	int err;
	struct orch_task **fresh;
	size_t nfresh, capfresh;
	struct orch_service **touched; /* services whose object changes */
	size_t ntouched;
	json_t **svc_spec; /* new spec per touched service, or NULL */
	struct store_batch *b;
};

static void wake_at(struct pass *p, int64_t t)
{
	if (t > p->env->now_ns && (p->wake == 0 || t < p->wake))
		p->wake = t;
}

/* Room for one more changed task in the batch; marks @t dirty with @what. */
static bool touch(struct pass *p, struct orch_task *t, unsigned what)
{
	if (t->dirty) {
		t->dirty |= what;
		return true;
	}
	size_t est = strlen(t->spec_text) + strlen(t->status_text) + 512;
	if (p->ops + 1 > ORCH_BATCH_OPS || p->bytes + est > ORCH_BATCH_BYTES) {
		p->more = true;
		return false;
	}
	p->ops++;
	p->bytes += est;
	t->dirty |= what;
	return true;
}

static bool set_desired(struct pass *p, struct orch_task *t, enum task_state d)
{
	if (t->desired == d)
		return true;
	if (!touch(p, t, ORCH_DIRTY_SPEC))
		return false;
	t->desired = d;
	return true;
}

/* Managers' own status changes (orphaned). */
static bool set_state(struct pass *p, struct orch_task *t, enum task_state s,
		      const char *msg)
{
	if (!touch(p, t, ORCH_DIRTY_STATUS))
		return false;
	t->state = s;
	snprintf(t->msg, sizeof(t->msg), "%s", msg);
	if (orch__task_set_status(t, p->env->now_ns) < 0)
		p->err = -ENOMEM;
	return true;
}

static struct orch_task *create(struct pass *p, struct orch_service *s,
				uint64_t slot, const char *node_id)
{
	size_t est = strlen(s->template_text) + 700;
	if (p->ops + 1 > ORCH_BATCH_OPS || p->bytes + est > ORCH_BATCH_BYTES) {
		p->more = true;
		return NULL;
	}
	if (p->nfresh == p->capfresh) {
		size_t cap = p->capfresh ? 2 * p->capfresh : 64;
		struct orch_task **a =
			shoal_realloc(p->fresh, cap * sizeof(*a));
		if (!a) {
			p->err = -ENOMEM;
			return NULL;
		}
		p->fresh = a;
		p->capfresh = cap;
	}
	struct orch_task *t = shoal_calloc(1, sizeof(*t));
	if (!t) {
		p->err = -ENOMEM;
		return NULL;
	}
	char id[STORE_ID_MAX + 1] = "";
	p->env->new_id(p->env->arg, id);
	snprintf(t->id, sizeof(t->id), "%s", id);
	snprintf(t->service_id, sizeof(t->service_id), "%s", s->id);
	snprintf(t->node_id, sizeof(t->node_id), "%s", node_id ? node_id : "");
	t->slot = slot;
	t->gen = s->generation;
	/* On overlays: the allocator's first (allocator.c). */
	t->state = alloc_service_has_nets(s) ? TASK_NEW : TASK_PENDING;
	t->desired = TASK_RUNNING;
	t->created_ns = t->updated_ns = p->env->now_ns;
	t->spec_text = shoal_strdup(s->template_text);
	t->ann_text = shoal_strdup(s->ann_text);
	t->mode = (char *)service_mode_name(s->mode);
	t->res_cpus = s->res_cpus;
	t->res_mem = s->res_mem;
	t->current = true;
	snprintf(t->msg, sizeof(t->msg), "pending task scheduling");
	t->dirty = ORCH_NEW;
	p->fresh[p->nfresh++] = t;
	p->ops++;
	p->bytes += est;
	if (!t->spec_text || !t->ann_text ||
	    orch__task_set_status(t, p->env->now_ns) < 0)
		p->err = -ENOMEM;
	return t;
}

/* ------------------------------------------------------------- reports */

static void refuse(struct orch_model *m, const struct orch_report *r,
		   const char *why)
{
	m->refused++;
	snprintf(m->refused_why, sizeof(m->refused_why),
		 "task=%.64s from node=%.64s: %.60s", r->task_id, r->node_id,
		 why);
}

static void fold_reports(struct pass *p)
{
	struct orch_model *m = p->m;
	size_t done = 0;
	m->refused = 0;
	for (; done < m->nreports; done++) {
		struct orch_report *r = &m->reports[done];
		struct orch_task *t = hmap_get_str(&m->tasks, r->task_id);
		char err[200];
		json_t *st = NULL;
		enum task_state s;
		if (!t) {
			refuse(m, r, "no such task");
			continue;
		}
		if (strcmp(t->node_id, r->node_id) != 0) {
			refuse(m, r, "the task is not assigned to this node");
			continue;
		}
		/* planted 3: a report may take a task's state backwards */
		enum task_state cur =
			p->env->planted == 3 ? TASK_ASSIGNED : t->state;
		int rc = task_status_check(r->json, r->len, cur, t->msg, &st,
					   &s, err, sizeof(err));
		if (rc == -ENOMEM) {
			p->err = rc;
			break;
		}
		if (rc < 0) {
			refuse(m, r, err);
			continue;
		}
		if (!touch(p, t, ORCH_DIRTY_STATUS)) {
			json_decref(st);
			break;
		}
		size_t len;
		char *text = jsonx_dump(st, &len);
		json_decref(st);
		if (!text) {
			p->err = -ENOMEM;
			break;
		}
		shoal_free(t->status_text);
		t->status_text = text;
		t->state = s;
		t->updated_ns = p->env->now_ns;
		json_t *again = NULL;
		if (jsonx_parse(text, len, &again, NULL, 0) == 0) {
			snprintf(t->msg, sizeof(t->msg), "%s",
				 jsonx_str(again, "Message", ""));
			snprintf(t->err, sizeof(t->err), "%s",
				 jsonx_str(again, "Err", ""));
		}
		json_decref(again);
	}
	if (done == 0)
		return;
	/* Folded reports wait for the batch's outcome (orch_pass_done()). */
	struct orch_report *fl =
		done ? shoal_realloc(m->inflight,
				     (m->ninflight + done) * sizeof(*fl))
		     : m->inflight;
	if (done && !fl) {
		p->err = -ENOMEM;
		return;
	}
	m->inflight = fl;
	memcpy(fl + m->ninflight, m->reports, done * sizeof(*fl));
	m->ninflight += done;
	memmove(m->reports, m->reports + done,
		(m->nreports - done) * sizeof(*m->reports));
	m->nreports -= done;
	if (orch__reports_reindex(m) < 0)
		p->err = -ENOMEM;
}

/* ---------------------------------------------------------- task order */

static int by_service_slot(const void *a, const void *b)
{
	const struct orch_task *x = *(struct orch_task *const *)a;
	const struct orch_task *y = *(struct orch_task *const *)b;
	int c;
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	if (x->rank == UINT32_MAX &&
	    (c = strcmp(x->service_id, y->service_id)) != 0)
		return c;
	if (x->slot != y->slot)
		return x->slot < y->slot ? -1 : 1;
	if (x->slot == 0 && (c = strcmp(x->node_id, y->node_id)) != 0)
		return c;
	if (x->created_ns != y->created_ns)
		return x->created_ns < y->created_ns ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* Services and nodes both start with their id (a char array). */
static int by_id(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* ------------------------------------------------------------- filters */

static bool label_is(const json_t *labels, const char *key, const char *want)
{
	const char *have = jsonx_str(labels, key, NULL);
	return have && strcmp(have, want) == 0;
}

bool orch__constraint_ok(const struct orch_constraint *c,
			 const struct orch_node *n);
bool orch__constraint_ok(const struct orch_constraint *c,
			 const struct orch_node *n)
{
	bool eq;
	const char *k = c->key;
	if (strcmp(k, "node.id") == 0)
		eq = strcmp(n->id, c->value) == 0;
	else if (strcmp(k, "node.hostname") == 0)
		eq = strcmp(n->hostname, c->value) == 0;
	else if (strcmp(k, "node.role") == 0)
		eq = strcmp(n->role, c->value) == 0;
	else if (strcmp(k, "node.platform.os") == 0)
		eq = strcmp(n->os, c->value) == 0;
	else if (strcmp(k, "node.platform.arch") == 0)
		eq = strcmp(n->arch, c->value) == 0;
	else if (strncmp(k, "node.labels.", 12) == 0)
		eq = label_is(n->labels, k + 12, c->value);
	else if (strncmp(k, "engine.labels.", 14) == 0)
		eq = label_is(n->engine_labels, k + 14, c->value);
	else
		eq = false;
	return c->equal ? eq : !eq;
}

/* Docker's name of an architecture the kernel names otherwise (swarmkit's
 * platform filter compares them so: a service pinned by the docker CLI
 * says "amd64", a node may say "x86_64"). */
static const char *arch_name(const char *a)
{
	if (!strcmp(a, "x86_64"))
		return "amd64";
	if (!strcmp(a, "aarch64"))
		return "arm64";
	return a;
}

bool orch__platform_ok(const struct orch_service *s, const struct orch_node *n);
bool orch__platform_ok(const struct orch_service *s, const struct orch_node *n)
{
	if (!s->platforms)
		return true;
	size_t i;
	json_t *p;
	json_array_foreach(s->platforms, i, p)
	{
		const char *os = jsonx_str(p, "OS", "");
		const char *arch = jsonx_str(p, "Architecture", "");
		if ((!*os || strcmp(os, n->os) == 0) &&
		    (!*arch ||
		     strcmp(arch_name(arch), arch_name(n->arch)) == 0))
			return true;
	}
	return false;
}

/* Whether a global service (or global job) runs on @n. */
static bool global_eligible(const struct orch_service *s,
			    const struct orch_node *n)
{
	if (n->down || n->avail == ORCH_DRAIN)
		return false;
	for (size_t i = 0; i < s->ncons; i++)
		if (!orch__constraint_ok(&s->cons[i], n))
			return false;
	return orch__platform_ok(s, n);
}

/* ------------------------------------------------------- slot decisions */

static bool live(const struct orch_task *t)
{
	return t->desired == TASK_RUNNING && !task_state_terminal(t->state) &&
	       !(t->dirty & ORCH_DELETE);
}

/* A live task whose node is gone, down or drained is shut down (and
 * orphaned when its node was removed); false when it stays. */
static void node_loss(struct pass *p, struct orch_task *t)
{
	if (!*t->node_id || task_state_terminal(t->state))
		return;
	struct orch_node *n = orch__node_of(p->m, t);
	if (!n) {
		if (set_desired(p, t, TASK_SHUTDOWN))
			set_state(p, t, TASK_ORPHANED,
				  "task orphaned: its node was removed");
		return;
	}
	bool drained = n->avail == ORCH_DRAIN && p->env->planted != 2;
	if (t->desired == TASK_RUNNING && (n->down || drained))
		set_desired(p, t, TASK_SHUTDOWN);
}

/* Terminal tasks of the group ended within the restart window. */
static uint64_t attempts(const struct orch_service *s, struct orch_task **g,
			 size_t n, int64_t now)
{
	uint64_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (task_state_terminal(g[i]->state) &&
		    g[i]->state != TASK_ORPHANED &&
		    (s->restart_window_ns == 0 ||
		     g[i]->updated_ns >= now - s->restart_window_ns))
			k++;
	return k;
}

/*
 * The newest task of a group ended by itself: whether the restart policy
 * gives it another attempt now (true), later (*@later, with a wake-up) or
 * never.
 */
static bool may_restart(struct pass *p, const struct orch_service *s,
			struct orch_task **g, size_t n,
			const struct orch_task *last)
{
	bool job = s->mode == SERVICE_REPLICATED_JOB ||
		   s->mode == SERVICE_GLOBAL_JOB;
	bool ok = last->state == TASK_COMPLETE
			  ? s->restart == RESTART_ANY && !job
			  : s->restart != RESTART_NONE;
	if (!ok)
		return false;
	if (s->restart_max &&
	    attempts(s, g, n, p->env->now_ns) > s->restart_max)
		return false;
	int64_t at = last->updated_ns + s->restart_delay_ns;
	if (p->env->now_ns < at) {
		wake_at(p, at);
		return false;
	}
	return true;
}

struct upd {
	struct orch_task **outdated; /* newest live task of outdated slots */
	size_t noutdated;
	size_t in_progress;
	size_t settling; /* current tasks not yet run for Monitor */
	size_t failures;
	const struct orch_task *failed; /* one of them, for the message */
	size_t slots;
	int64_t started_ns;
};

static int64_t update_started(const struct orch_service *s)
{
	return jsonx_int(s->status, "UpdateStartedNs", 0);
}

/*
 * One group (a slot, or a global service's node): decide what it needs.
 * @in_range: the slot is wanted (replicated: slot <= Replicas; global:
 * the node is eligible). @node_id: where a global task goes.
 */
static void group(struct pass *p, struct orch_service *s, struct orch_task **g,
		  size_t n, bool in_range, const char *node_id, bool may_create,
		  struct upd *u, size_t *running_jobs)
{
	for (size_t i = 0; i < n; i++)
		node_loss(p, g[i]);
	struct orch_task *last = n ? g[n - 1] : NULL;
	struct orch_task *newest_live = NULL;
	size_t nlive = 0;
	for (size_t i = 0; i < n; i++)
		if (live(g[i])) {
			nlive++;
			newest_live = g[i];
		}
	if (!in_range) {
		for (size_t i = 0; i < n; i++)
			if (live(g[i]))
				set_desired(p, g[i], TASK_SHUTDOWN);
		return;
	}
	u->slots++;
	/* start-first: an older live task serves until the newest runs;
	 * only the latest older one that runs is worth keeping, so a slot
	 * never holds more than two live tasks. */
	if (nlive > 1) {
		struct orch_task *keep = NULL;
		if (newest_live->state != TASK_RUNNING)
			for (size_t i = 0; i < n; i++)
				if (g[i] != newest_live && live(g[i]) &&
				    g[i]->state == TASK_RUNNING)
					keep = g[i];
		for (size_t i = 0; i < n; i++)
			if (g[i] != newest_live && g[i] != keep && live(g[i]))
				set_desired(p, g[i], TASK_SHUTDOWN);
		u->in_progress++;
	}
	bool job = s->mode == SERVICE_REPLICATED_JOB ||
		   s->mode == SERVICE_GLOBAL_JOB;
	if (newest_live && newest_live == last) {
		if (!last->current) {
			u->outdated[u->noutdated++] = last;
		} else if (!job && u->started_ns &&
			   last->created_ns >= u->started_ns) {
			int64_t ran = p->env->now_ns - last->updated_ns;
			if (last->state < TASK_RUNNING ||
			    ran < s->update_delay_ns) {
				u->in_progress++;
				wake_at(p,
					last->updated_ns + s->update_delay_ns);
			}
			if (last->state < TASK_RUNNING || ran < s->monitor_ns) {
				u->settling++;
				wake_at(p, last->updated_ns + s->monitor_ns);
			}
		}
		return;
	}
	/* The newest task of the group is not live (an older one may be,
	 * in a start-first replacement). */
	bool need;
	if (!last) {
		need = true;
	} else if (last->desired != TASK_RUNNING) {
		need = true; /* shut down: node lost, scaled, replaced */
	} else if (job && last->state == TASK_COMPLETE) {
		need = !last->current; /* a new run of an updated job */
	} else {
		if (last->current && u->started_ns &&
		    last->created_ns >= u->started_ns &&
		    (last->state == TASK_FAILED ||
		     last->state == TASK_REJECTED)) {
			u->failures++;
			u->failed = last;
		}
		need = may_restart(p, s, g, n, last);
		if (need && !set_desired(p, last, TASK_SHUTDOWN))
			return;
	}
	if (!need || !may_create)
		return;
	if (job && running_jobs) {
		if (newest_live)
			return;
		if (*running_jobs >= s->max_concurrent &&
		    s->mode == SERVICE_REPLICATED_JOB)
			return;
		(*running_jobs)++;
	}
	create(p, s, g && n ? g[0]->slot : 0, node_id);
}

/* Fill in the slot number of the task create() just made. */
static void last_fresh_slot(struct pass *p, size_t before, uint64_t slot)
{
	if (p->nfresh > before)
		p->fresh[p->nfresh - 1]->slot = slot;
}

/* ------------------------------------------------------- update status */

static json_t *touch_service(struct pass *p, struct orch_service *s)
{
	for (size_t i = 0; i < p->ntouched; i++)
		if (p->touched[i] == s)
			return s->status;
	if (p->ops + 1 > ORCH_BATCH_OPS) {
		p->more = true;
		return NULL;
	}
	struct orch_service **a =
		shoal_realloc(p->touched, (p->ntouched + 1) * sizeof(*a));
	json_t **sp =
		shoal_realloc(p->svc_spec, (p->ntouched + 1) * sizeof(*sp));
	if (a)
		p->touched = a;
	if (sp)
		p->svc_spec = sp;
	if (!a || !sp) {
		p->err = -ENOMEM;
		return NULL;
	}
	p->touched[p->ntouched] = s;
	p->svc_spec[p->ntouched] = NULL;
	p->ntouched++;
	p->ops++;
	return s->status;
}

static void set_update_status(struct pass *p, struct orch_service *s,
			      const char *state, const char *msg, bool start,
			      bool end)
{
	json_t *st = touch_service(p, s);
	if (!st)
		return;
	char ts[48];
	time_format_rfc3339(p->env->now_ns, ts, sizeof(ts));
	json_t *us = jsonx_obj(st, "UpdateStatus");
	if (!us || start) {
		us = json_object();
		jsonx_set(st, "UpdateStatus", us);
	}
	if (!us) {
		p->err = -ENOMEM;
		return;
	}
	int rc = jsonx_set(us, "State", json_string(state));
	rc |= jsonx_set(us, "Message", json_string(msg));
	if (start) {
		rc |= jsonx_set(us, "StartedAt", json_string(ts));
		rc |= jsonx_set(st, "UpdateStartedNs",
				json_integer(p->env->now_ns));
	}
	if (end)
		rc |= jsonx_set(us, "CompletedAt", json_string(ts));
	if (rc)
		p->err = -ENOMEM;
}

/* FailureAction rollback: the previous spec becomes the spec. */
static void rollback(struct pass *p, struct orch_service *s, const char *why)
{
	json_t *prev = jsonx_obj(s->status, "PreviousSpec");
	json_t *st = prev ? touch_service(p, s) : NULL;
	if (!st) {
		if (!prev)
			set_update_status(p, s, "paused", why, false, false);
		return;
	}
	json_t *cur = json_deep_copy(s->spec);
	json_t *spec = json_deep_copy(prev);
	size_t i = 0;
	while (i < p->ntouched && p->touched[i] != s)
		i++;
	if (!cur || !spec || i == p->ntouched) {
		json_decref(cur);
		json_decref(spec);
		p->err = -ENOMEM;
		return;
	}
	json_decref(p->svc_spec[i]);
	p->svc_spec[i] = spec;
	jsonx_set(st, "PreviousSpec", cur);
	jsonx_set(st, "Generation", json_integer(s->generation + 1));
	set_update_status(p, s, "rollback_started", why, true, false);
}

static void supervise(struct pass *p, struct orch_service *s, struct upd *u)
{
	const char *state =
		jsonx_str(jsonx_obj(s->status, "UpdateStatus"), "State", "");
	bool rb = strncmp(state, "rollback", 8) == 0;
	bool paused = strcmp(state, "paused") == 0 ||
		      strcmp(state, "rollback_paused") == 0;
	bool active = strcmp(state, "updating") == 0 ||
		      strcmp(state, "rollback_started") == 0;
	if (u->noutdated == 0) {
		if (active && u->in_progress == 0 && u->settling == 0)
			set_update_status(
				p, s, rb ? "rollback_completed" : "completed",
				rb ? "rollback completed" : "update completed",
				false, true);
		return;
	}
	if (paused)
		return;
	if (!active) {
		set_update_status(p, s, rb ? "rollback_started" : "updating",
				  rb ? "rollback in progress"
				     : "update in progress",
				  true, false);
		return; /* the next pass replaces, with StartedAt known */
	}
	double allowed = s->max_failure_ratio * (double)u->slots;
	if (u->failures && (double)u->failures > allowed &&
	    s->failure_action != FAIL_CONTINUE) {
		char why[200];
		snprintf(why, sizeof(why),
			 "update paused due to failure or early termination "
			 "of task %s",
			 u->failed->id);
		if (s->failure_action == FAIL_ROLLBACK && !rb) {
			snprintf(why, sizeof(why),
				 "update rolled back due to failure or early "
				 "termination of task %s",
				 u->failed->id);
			rollback(p, s, why);
		} else {
			set_update_status(p, s,
					  rb ? "rollback_paused" : "paused",
					  why, false, false);
		}
		return;
	}
	size_t budget = u->noutdated;
	if (s->parallelism) {
		if (u->in_progress >= s->parallelism)
			return;
		budget = s->parallelism - u->in_progress;
	}
	for (size_t i = 0; i < u->noutdated && budget; i++) {
		struct orch_task *old = u->outdated[i];
		/* start-first keeps the old task only while it serves. */
		bool keep = s->start_first && old->state == TASK_RUNNING;
		if (!keep && !set_desired(p, old, TASK_SHUTDOWN))
			return;
		size_t before = p->nfresh;
		if (!create(p, s, old->slot,
			    s->mode == SERVICE_GLOBAL ? old->node_id : NULL))
			return;
		last_fresh_slot(p, before, old->slot);
		budget--;
	}
}

/* A job has no rolling update: its new spec's runs are made at once
 * (group()), so an update or rollback written as started (a manual
 * rollback, ?rollback=previous) is complete as soon as it is seen. */
static void job_update_done(struct pass *p, struct orch_service *s)
{
	const char *state =
		jsonx_str(jsonx_obj(s->status, "UpdateStatus"), "State", "");
	if (strcmp(state, "rollback_started") == 0)
		set_update_status(p, s, "rollback_completed",
				  "rollback completed", false, true);
	else if (strcmp(state, "updating") == 0)
		set_update_status(p, s, "completed", "update completed", false,
				  true);
}

/* ----------------------------------------------------------- rebalance */

/* A node that would take a new task of @s now (the scheduler's filters
 * but resources, which it checks when placing). */
static bool may_take(const struct orch_service *s, const struct orch_node *n)
{
	if (!n->ready || n->avail != ORCH_ACTIVE)
		return false;
	for (size_t i = 0; i < s->ncons; i++)
		if (!orch__constraint_ok(&s->cons[i], n))
			return false;
	return orch__platform_ok(s, n);
}

/*
 * Beyond Docker: a replicated service whose status asks for "Rebalance"
 * (POST /services/{id}/update?rebalance=true) is spread again over the
 * nodes that may take its tasks: while the busiest such node holds two
 * tasks more than the idlest, a task of the busiest moves (a new task in
 * its slot, placed by the scheduler on the least loaded node; stop-first
 * or start-first as the update order says), at most Parallelism at a time
 * (0: all), after the previous moves run. Once balanced, the request is
 * cleared. Nothing moves during an update.
 */
static void rebalance(struct pass *p, struct orch_service *s,
		      struct orch_task **t, size_t n, struct upd *u)
{
	if (!jsonx_bool(s->status, "Rebalance", false))
		return;
	if (u->noutdated || u->in_progress)
		return; /* an update first */
	size_t pos = 0, kl, eligible = 0;
	const void *k;
	void *v;
	while (hmap_next(&p->m->nodes, &pos, &k, &kl, &v))
		((struct orch_node *)v)->nsvc = 0;
	size_t moving = 0;
	for (size_t i = 0; i < n; i++) {
		if (!live(t[i]) || !*t[i]->node_id) {
			moving += live(t[i]);
			continue;
		}
		struct orch_node *nd = orch__node_of(p->m, t[i]);
		if (nd)
			nd->nsvc++;
		if (t[i]->state < TASK_RUNNING)
			moving++;
	}
	uint32_t lo = UINT32_MAX, hi = 0;
	struct orch_node *busiest = NULL;
	pos = 0;
	while (hmap_next(&p->m->nodes, &pos, &k, &kl, &v)) {
		struct orch_node *nd = v;
		if (!may_take(s, nd))
			continue;
		eligible++;
		lo = nd->nsvc < lo ? nd->nsvc : lo;
		if (nd->nsvc > hi || (nd->nsvc == hi && busiest &&
				      strcmp(nd->id, busiest->id) < 0)) {
			hi = nd->nsvc;
			busiest = nd;
		}
	}
	if (!eligible || hi <= lo + 1) {
		json_t *st = touch_service(p, s);
		if (st)
			json_object_del(st, "Rebalance");
		return;
	}
	if (moving)
		return; /* the previous moves run first */
	uint64_t budget = s->parallelism ? s->parallelism : UINT64_MAX;
	/* Move from the busiest nodes, one task per node and pass, until
	 * the busiest is no more than one above the average. */
	for (size_t i = 0; i < n && budget; i++) {
		struct orch_task *x = t[i];
		if (!live(x) || !*x->node_id || x->state != TASK_RUNNING)
			continue;
		struct orch_node *nd = orch__node_of(p->m, x);
		if (!nd || nd->nsvc < lo + 2)
			continue;
		if (!s->start_first && !set_desired(p, x, TASK_SHUTDOWN))
			return;
		size_t before = p->nfresh;
		if (!create(p, s, x->slot, NULL))
			return;
		last_fresh_slot(p, before, x->slot);
		nd->nsvc--;
		lo++; /* the new task goes to an idle node */
		budget--;
	}
}

/* ------------------------------------------------------------ services */

static size_t span(struct orch_task **all, size_t n, size_t i, bool by_node)
{
	size_t j = i + 1;
	while (j < n && all[j]->rank == all[i]->rank &&
	       all[j]->slot == all[i]->slot &&
	       (!by_node || strcmp(all[j]->node_id, all[i]->node_id) == 0))
		j++;
	return j;
}

static void replicated(struct pass *p, struct orch_service *s,
		       struct orch_task **t, size_t n, struct upd *u)
{
	uint64_t want = s->replicas;
	bool job = s->mode == SERVICE_REPLICATED_JOB;
	size_t running = 0;
	uint64_t next = 1;
	/* Count the live jobs first, so MaxConcurrent holds in slot order. */
	for (size_t x = 0; job && x < n; x++)
		if (live(t[x]) && t[x]->slot >= 1 && t[x]->slot <= want)
			running++;
	size_t i = 0;
	while (i < n) {
		size_t j = span(t, n, i, false);
		uint64_t slot = t[i]->slot;
		for (; next < slot && next <= want; next++) {
			size_t before = p->nfresh;
			group(p, s, NULL, 0, true, NULL, true, u,
			      job ? &running : NULL);
			last_fresh_slot(p, before, next);
		}
		if (next == slot)
			next++;
		bool in_range = slot >= 1 && slot <= want;
		if (p->env->planted == 1 && slot == want + 1)
			in_range = true; /* planted: scale-down forgets one */
		group(p, s, t + i, j - i, in_range, NULL, true, u,
		      job ? &running : NULL);
		i = j;
	}
	for (; next <= want; next++) {
		size_t before = p->nfresh;
		group(p, s, NULL, 0, true, NULL, true, u,
		      job ? &running : NULL);
		last_fresh_slot(p, before, next);
	}
}

static void global(struct pass *p, struct orch_service *s, struct orch_task **t,
		   size_t n, struct orch_node **nodes, size_t nn, struct upd *u)
{
	size_t i = 0, k = 0;
	/* Both sorted by node id: a merge. */
	while (i < n || k < nn) {
		int c = i >= n	  ? 1
			: k >= nn ? -1
				  : strcmp(t[i]->node_id, nodes[k]->id);
		if (c < 0) { /* tasks on a node the model lacks */
			size_t j = span(t, n, i, true);
			group(p, s, t + i, j - i, false, NULL, false, u, NULL);
			i = j;
			continue;
		}
		struct orch_node *nd = nodes[k++];
		bool ok = global_eligible(s, nd);
		bool may_create = ok && nd->avail == ORCH_ACTIVE;
		if (c > 0) {
			if (may_create)
				group(p, s, NULL, 0, true, nd->id, true, u,
				      NULL);
			continue;
		}
		size_t j = span(t, n, i, true);
		group(p, s, t + i, j - i, ok, nd->id, may_create, u, NULL);
		i = j;
	}
}

/* A removed service's tasks: desired remove, deleted once stopped. */
/*
 * A network attachment (a task without ServiceID, docs/overlay.md,
 * "Attachable overlays"): no service makes, replaces or places it. It
 * goes with its node (`node rm`, a node that left), and one the
 * allocator could not give an address within ORCH_ATTACH_WAIT_NS (the
 * dispatcher that asked for it answers and deletes it; a new leader may
 * not know it) goes too. Its container's removal deletes it through the
 * dispatcher.
 */
#define ORCH_ATTACH_WAIT_NS (60LL * 1000000000LL)

static void attachment(struct pass *p, struct orch_task *x)
{
	struct orch_node *nd = orch__node_of(p->m, x);
	bool stale = x->state < TASK_RUNNING &&
		     p->env->now_ns - x->created_ns > ORCH_ATTACH_WAIT_NS;
	if (!nd || stale || task_state_terminal(x->state))
		touch(p, x, ORCH_DELETE);
	else if (x->state < TASK_RUNNING)
		wake_at(p, x->created_ns + ORCH_ATTACH_WAIT_NS + 1);
}

static void orphans(struct pass *p, struct orch_task **t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct orch_task *x = t[i];
		if (!*x->service_id) {
			attachment(p, x);
			continue;
		}
		struct orch_node *nd = orch__node_of(p->m, x);
		bool gone = task_state_terminal(x->state) ||
			    x->state < TASK_ASSIGNED || !nd || nd->down;
		if (gone) {
			touch(p, x, ORCH_DELETE);
			continue;
		}
		set_desired(p, x, TASK_REMOVE);
	}
}

/* At most @limit tasks per group; never one that runs or should. */
static void prune(struct pass *p, struct orch_task **g, size_t n)
{
	uint32_t limit = p->env->history;
	size_t keep = n;
	for (size_t i = 0; i < n && keep > limit; i++) {
		struct orch_task *x = g[i];
		if (x->desired <= TASK_RUNNING || x->state <= TASK_RUNNING ||
		    x->dirty)
			continue;
		if (touch(p, x, ORCH_DELETE))
			keep--;
	}
}

static int run_services(struct pass *p, struct orch_task **all, size_t n,
			struct orch_service **svcs, size_t k)
{
	size_t nn = hmap_len(&p->m->nodes);
	struct orch_node **nodes = shoal_calloc(nn + 1, sizeof(*nodes));
	struct orch_task **outdated =
		shoal_calloc(n + nn + 1, sizeof(*outdated));
	if (!nodes || !outdated) {
		shoal_free(nodes);
		shoal_free(outdated);
		return -ENOMEM;
	}
	size_t pos = 0, kn = 0;
	const void *key;
	size_t kl;
	void *v;
	while (hmap_next(&p->m->nodes, &pos, &key, &kl, &v))
		nodes[kn++] = v;
	qsort(nodes, kn, sizeof(*nodes), by_id);
	/* Tasks are sorted by their service's rank; orphans come last. */
	size_t i = 0;
	for (size_t si = 0; si < k; si++) {
		struct orch_service *s = svcs[si];
		size_t j = i;
		while (j < n && all[j]->rank == si)
			j++;
		for (size_t x = i; x < j; x++)
			all[x]->current = strcmp(all[x]->spec_text,
						 s->template_text) == 0 &&
					  alloc_task_current(p->m, s, all[x]);
		struct upd u = {.outdated = outdated,
				.started_ns = update_started(s)};
		bool is_global = s->mode == SERVICE_GLOBAL ||
				 s->mode == SERVICE_GLOBAL_JOB;
		if (is_global)
			global(p, s, all + i, j - i, nodes, kn, &u);
		else
			replicated(p, s, all + i, j - i, &u);
		if (s->mode == SERVICE_REPLICATED || s->mode == SERVICE_GLOBAL)
			supervise(p, s, &u);
		else
			job_update_done(p, s);
		if (s->mode == SERVICE_REPLICATED)
			rebalance(p, s, all + i, j - i, &u);
		for (size_t x = i; x < j;) {
			size_t y = span(all, j, x, is_global);
			prune(p, all + x, y - x);
			x = y;
		}
		i = j;
	}
	orphans(p, all + i, n - i);
	shoal_free(nodes);
	shoal_free(outdated);
	return 0;
}

/* The services sorted by id, each given its rank, and every task its
 * service's rank (UINT32_MAX for a removed service). */
static struct orch_service **
rank_services(struct orch_model *m, struct orch_task **all, size_t n, size_t *k)
{
	size_t ns = hmap_len(&m->services), pos = 0, kl;
	const void *key;
	void *v;
	struct orch_service **svcs = shoal_calloc(ns + 1, sizeof(*svcs));
	*k = 0;
	if (!svcs)
		return NULL;
	while (hmap_next(&m->services, &pos, &key, &kl, &v))
		svcs[(*k)++] = v;
	qsort(svcs, *k, sizeof(*svcs), by_id);
	for (size_t i = 0; i < *k; i++)
		svcs[i]->rank = (uint32_t)i;
	for (size_t i = 0; i < n; i++) {
		struct orch_service *s = orch__service_of(m, all[i]);
		all[i]->rank = s ? s->rank : UINT32_MAX;
	}
	return svcs;
}

/* The allocator's way into the pass's batch (alloc_pass()). */
static bool alloc_touch_task(void *arg, struct orch_task *t)
{
	return touch(arg, t, ORCH_DIRTY_SPEC | ORCH_DIRTY_STATUS);
}

static json_t *alloc_touch_service(void *arg, struct orch_service *s)
{
	return touch_service(arg, s);
}

static int alloc_create_net(void *arg, char *id, const char *name,
			    const char *spec)
{
	struct pass *p = arg;
	if (p->ops + 1 > ORCH_BATCH_OPS) {
		p->more = true;
		return -ENOBUFS;
	}
	p->env->new_id(p->env->arg, id);
	p->ops++;
	return store_batch_create(p->b, STORE_NETWORKS, id, name, spec,
				  strlen(spec), "{}", 2);
}

static int alloc_update_net(void *arg, const struct orch_net *n,
			    const char *status)
{
	struct pass *p = arg;
	if (p->ops + 1 > ORCH_BATCH_OPS) {
		p->more = true;
		return -ENOBUFS;
	}
	p->ops++;
	p->nets++;
	return store_batch_update(p->b, STORE_NETWORKS, n->id, n->version, NULL,
				  0, status, strlen(status));
}

/* ------------------------------------------------------------ encoding */

/*
 * @t into the batch. The model remembers what it wrote (orch__written()),
 * so that the store's event for it is taken without decoding; a fresh
 * task is then the model's (*@taken), else the caller frees it.
 */
static int encode_task(struct orch_model *m, struct store_batch *b,
		       struct orch_task *t, bool fresh, bool *taken)
{
	struct buf spec = BUF_INIT;
	int rc = 0;
	*taken = false;
	if (t->dirty & ORCH_DELETE)
		return t->version ? store_batch_delete(b, STORE_TASKS, t->id,
						       t->version)
				  : 0;
	if (t->dirty & (ORCH_NEW | ORCH_DIRTY_SPEC))
		rc = orch__task_spec(t, &spec);
	if (rc == 0 && (t->dirty & ORCH_NEW))
		rc = store_batch_create(b, STORE_TASKS, t->id, NULL, spec.data,
					spec.len, t->status_text,
					strlen(t->status_text));
	else if (rc == 0)
		rc = store_batch_update(
			b, STORE_TASKS, t->id, t->version,
			(t->dirty & ORCH_DIRTY_SPEC) ? spec.data : NULL,
			spec.len,
			(t->dirty & ORCH_DIRTY_STATUS) ? t->status_text : NULL,
			strlen(t->status_text));
	bool wrote = t->dirty & (ORCH_NEW | ORCH_DIRTY_SPEC);
	/* Not remembered (out of memory): the event is decoded instead. */
	if (rc == 0 &&
	    orch__written(m, t, fresh, wrote ? spec.len : t->spec_len,
			  wrote ? orch__hash(spec.data, spec.len)
				: t->spec_hash) == 0)
		*taken = fresh;
	buf_fini(&spec);
	return rc;
}

static int encode_service(struct store_batch *b, const struct orch_service *s,
			  const json_t *spec)
{
	size_t sl = 0, pl = 0;
	char *st = jsonx_dump(s->status, &sl);
	char *sp = spec ? jsonx_dump(spec, &pl) : NULL;
	int rc = !st || (spec && !sp)
			 ? -ENOMEM
			 : store_batch_update(b, STORE_SERVICES, s->id,
					      s->version, sp, pl, st, sl);
	shoal_free(st);
	shoal_free(sp);
	return rc;
}

int orch_pass(struct orch_model *m, const struct orch_env *env,
	      struct store_batch *b, bool *more, int64_t *wake_ns)
{
	struct pass p = {.m = m, .env = env};
	*more = false;
	*wake_ns = 0;
	fold_reports(&p);
	size_t n = hmap_len(&m->tasks);
	struct orch_task **all = shoal_calloc(n + 1, sizeof(*all));
	if (!all)
		return -ENOMEM;
	size_t pos = 0, k = 0;
	const void *key;
	size_t kl;
	void *v;
	while (hmap_next(&m->tasks, &pos, &key, &kl, &v))
		all[k++] = v;
	size_t nsvc = 0;
	struct orch_service **svcs = rank_services(m, all, k, &nsvc);
	if (!svcs) {
		shoal_free(all);
		return -ENOMEM;
	}
	qsort(all, k, sizeof(*all), by_service_slot);
	int rc = p.err ? p.err : run_services(&p, all, k, svcs, nsvc);
	shoal_free(svcs);
	struct alloc_hooks ah = {alloc_touch_task,
				 alloc_touch_service,
				 alloc_create_net,
				 alloc_update_net,
				 &p,
				 env->now_ns};
	p.b = b;
	if (rc == 0)
		rc = alloc_pass(m, all, k, p.fresh, p.nfresh, &ah);
	/* The scheduler: pending tasks, old and new. */
	struct orch_task **pend = NULL, **lv = NULL;
	size_t npend = 0, nlv = 0;
	if (rc == 0) {
		pend = shoal_calloc(k + p.nfresh + 1, sizeof(*pend));
		lv = shoal_calloc(k + 1, sizeof(*lv));
		if (!pend || !lv)
			rc = -ENOMEM;
	}
	for (size_t i = 0; rc == 0 && i < k; i++) {
		struct orch_task *t = all[i];
		if ((t->dirty & ORCH_DELETE) || !*t->service_id)
			continue; /* an attachment is not placed, nor counted */
		if (t->desired == TASK_RUNNING && t->state < TASK_ASSIGNED) {
			if (t->state >= TASK_PENDING)
				pend[npend++] = t;
		} else if (t->desired == TASK_RUNNING && *t->node_id &&
			   !task_state_terminal(t->state))
			lv[nlv++] = t;
	}
	for (size_t i = 0; rc == 0 && i < p.nfresh; i++)
		if (p.fresh[i]->state == TASK_PENDING)
			pend[npend++] = p.fresh[i];
	if (rc == 0) {
		/* Existing pending tasks need room in the batch. */
		size_t w = 0;
		for (size_t i = 0; i < npend; i++)
			if ((pend[i]->dirty & ORCH_NEW) ||
			    touch(&p, pend[i], 0) || pend[i]->dirty)
				pend[w++] = pend[i];
		npend = w;
		rc = placement_run(m, pend, npend, lv, nlv, env->now_ns);
		rc = rc < 0 ? rc : 0;
	}
	if (rc == 0)
		rc = p.err;
	size_t added = 0;
	bool taken;
	for (size_t i = 0; rc == 0 && i < k; i++)
		if (all[i]->dirty) {
			rc = encode_task(m, b, all[i], false, &taken);
			added++;
		}
	for (size_t i = 0; rc == 0 && i < p.nfresh; i++) {
		rc = encode_task(m, b, p.fresh[i], true, &taken);
		if (taken) {
			p.fresh[i]->dirty = 0;
			p.fresh[i] = NULL;
		}
		added++;
	}
	for (size_t i = 0; rc == 0 && i < p.ntouched; i++) {
		rc = encode_service(b, p.touched[i], p.svc_spec[i]);
		added++;
	}
	/* The model keeps the stored versions: a refused batch changes
	 * nothing, and applied changes come back as events. Objects this
	 * pass wrote are taken from those events without decoding them
	 * again when they come back as written (orch_model_put()). */
	for (size_t i = 0; i < k; i++)
		all[i]->dirty = 0;
	for (size_t i = 0; i < p.nfresh; i++) {
		struct orch_task *t = p.fresh[i];
		if (!t)
			continue; /* the model's until its event */
		shoal_free(t->spec_text);
		shoal_free(t->ann_text);
		shoal_free(t->status_text);
		shoal_free(t->nets_text);
		shoal_free(t->addrs);
		shoal_free(t->ports_text);
		shoal_free(t);
	}
	for (size_t i = 0; i < p.ntouched; i++)
		json_decref(p.svc_spec[i]);
	shoal_free(p.fresh);
	shoal_free(p.touched);
	shoal_free(p.svc_spec);
	shoal_free(pend);
	shoal_free(lv);
	shoal_free(all);
	*more = p.more;
	*wake_ns = p.wake;
	if (rc < 0)
		return rc;
	return (int)(added + p.nets);
}
