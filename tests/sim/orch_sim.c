/*
 * sim-orch: the manager's service machinery under faults, in virtual time,
 * from a seed (docs/services.md, "Simulation"). It runs the production
 * cores (manager/orch.h: orchestrator, scheduler, status report checks)
 * and the production store exactly as the leader's shell does: one pass,
 * one batch in flight, applied at the next index or refused whole, the
 * model fed back from the store's watcher. Around them:
 *
 *   Raft      a proposal commits after a random delay; a leader change
 *             either commits the batch in flight at once (it was in the new
 *             leader's log) or loses it, then the new leader starts from
 *             the store with an empty report queue (Raft's guarantee that
 *             no old entry commits after the new leader's barrier)
 *   agents    one per node: run what its assignment set holds (accepted,
 *             preparing, starting, running, sometimes failed), stop what
 *             is desired shutdown or remove; reports travel with delay,
 *             duplication and reordering; some agents are slow
 *   faults    node crashes (tasks die, the dispatcher marks the node down
 *             after a grace), partitions (tasks run on, reports are lost,
 *             down after the grace), drains and reactivations
 *   clients   service create, update (new image: a rolling update,
 *             stop-first or start-first), scale, rebalance, remove, at a
 *             version read before; an applied write is acknowledged
 *
 * Invariants, checked after every step:
 *   replicas    per replicated service, tasks desired running and not
 *               ended: none in a slot past the replicas (the larger of
 *               the spec's and the one its last pass saw), one per slot,
 *               two while a start-first replacement runs
 *   drained     no task of a service desired running on a node drained
 *               or down since before the last pass was computed
 *   lost-update no acknowledged service update is lost: the stored spec of
 *               the acknowledged generation is the acknowledged spec
 *   forward     no task's stored state ever moves backwards
 *   addresses   no two tasks that have not ended share an address on an
 *               overlay, and none has a service's VIP (allocator.c);
 *               services 1-3 are on overlay A, 2 and 4 on overlay B
 *   allocated   no task of a service on overlays is pending or later
 *               without its addresses
 *   attachments a network attachment (a task without ServiceID, written
 *               by clients here as the dispatcher does for a node) stays
 *               on its node and desired running (the orchestrator and the
 *               scheduler skip it), and runs only on an attachable
 *               overlay (A), with one address there; attachments to B
 *               (not attachable) never run
 *   converge    (at the end, after healing everything) every replicated
 *               service runs its replicas, every global one one task per
 *               active node
 *
 * --planted N runs the cores with a planted bug (orch_env.planted): 1 a
 * scale-down forgets a slot (replicas), 2 drain is ignored (drained), 3 a
 * report may take a state backwards (forward). --expect-violation NAME
 * passes only if a seed is caught by NAME (and fails if caught by another).
 */
#include "common/alloc.h"
#include "common/jsonx.h"
#include "manager/allocator.h"
#include "manager/orch.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NODES 5
#define MAX_SVC 6
#define MAX_NET 512
#define MAX_LOCAL 256
#define GRACE 3
#define MAX_SLOT 63
#define NET_A "netA0000000000000000000000"
#define NET_B "netB0000000000000000000000"

static uint64_t rng;

static uint64_t next(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned below(unsigned n)
{
	return n ? (unsigned)(next() % n) : 0;
}

static bool chance(unsigned pct)
{
	return below(100) < pct;
}

struct local {
	char id[STORE_ID_MAX + 1];
	enum task_state state;
};

struct node {
	char id[16];
	bool crashed, partitioned, slow, drained;
	int down_at; /* step at which the dispatcher marks it down */
	int since;   /* step it became drained or down */
	bool marked_down;
	struct local local[MAX_LOCAL];
	size_t nlocal;
};

struct msg {
	int node;
	char task[STORE_ID_MAX + 1];
	char json[200];
	int at;
};

struct ack {
	char id[32];
	int64_t gen;
	char *spec;	  /* owned */
	bool start_first; /* some acknowledged spec of it was */
};

static struct sim {
	struct store *s;
	struct store_watcher *w;
	struct store_watcher *tw; /* for @truth */
	uint64_t idx;
	struct orch_model m;
	struct orch_model truth;
	struct node nodes[NODES];
	struct msg net[MAX_NET];
	size_t nnet;
	uint8_t *inflight;
	size_t inflight_len;
	int commit_at;
	int pass_step;
	uint64_t pass_replicas[MAX_SVC]; /* per service index, at the pass */
	struct ack acks[MAX_SVC];
	size_t nsvc;
	int step;
	bool quiet; /* no task fails by itself */
	int planted;
	unsigned ids;
	char violation[64];
	char detail[300];
	struct hmap seen;  /* task id -> last state + 1 */
	char att[256][32]; /* attachments to A written and not given back */
	size_t natt;
} S;

static void violate(const char *name, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void violate(const char *name, const char *fmt, ...)
{
	if (*S.violation)
		return;
	snprintf(S.violation, sizeof(S.violation), "%s", name);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(S.detail, sizeof(S.detail), fmt, ap);
	va_end(ap);
}

static void new_id(void *arg, char *out)
{
	snprintf(out, 26, "task%021u", ++S.ids);
}

/* --- the store and the model ---------------------------------------- */

/* The store as it is, decoded once per change (for agents and checks). */
static void feed_truth(void)
{
	struct store_event ev;
	int rc;
	while ((rc = store_watch_next(S.tw, &ev)) != -EAGAIN) {
		if (rc == -ENOBUFS) {
			orch_model_load(&S.truth, S.s);
			continue;
		}
		if (ev.kind == STORE_EVENT_DELETE)
			orch_model_del(&S.truth, ev.table, ev.obj->id);
		else if (ev.obj)
			orch_model_put(&S.truth, ev.obj);
		store_event_fini(&ev);
	}
}

static void feed_model(void)
{
	struct store_event ev;
	int rc;
	bool reload = false;
	while ((rc = store_watch_next(S.w, &ev)) != -EAGAIN) {
		if (rc == -ENOBUFS) {
			reload = true;
			continue;
		}
		if (ev.kind == STORE_EVENT_DELETE)
			orch_model_del(&S.m, ev.table, ev.obj->id);
		else if (ev.obj)
			orch_model_put(&S.m, ev.obj);
		store_event_fini(&ev);
	}
	if (reload)
		orch_model_load(&S.m, S.s);
}

static int apply(struct store_batch *b)
{
	uint8_t *data;
	size_t len;
	if (store_batch_finish(b, &data, &len) < 0)
		return -1;
	int rc = store_apply(S.s, data, len, ++S.idx, NULL);
	shoal_free(data);
	return rc;
}

static json_t *obj_json(const uint8_t *d, size_t n)
{
	json_t *j = NULL;
	if (n)
		jsonx_parse((const char *)d, n, &j, NULL, 0);
	return j ? j : json_object();
}

static void node_write(struct node *n, const char *state)
{
	const struct store_object *o = store_get(S.s, STORE_NODES, n->id);
	char spec[200], st[400];
	snprintf(spec, sizeof(spec),
		 "{\"Role\":\"worker\",\"Availability\":\"%s\",\"Labels\":{}}",
		 n->drained ? "drain" : "active");
	snprintf(st, sizeof(st),
		 "{\"Description\":{\"Hostname\":\"%s\",\"Platform\":{\"OS\":"
		 "\"linux\",\"Architecture\":\"x86_64\"},\"Resources\":{"
		 "\"NanoCPUs\":4000000000,\"MemoryBytes\":8589934592}},"
		 "\"Status\":{\"State\":\"%s\"}}",
		 n->id, state);
	struct store_batch b;
	store_batch_init(&b, S.step);
	if (o)
		store_batch_update(&b, STORE_NODES, n->id, o->version, spec,
				   strlen(spec), st, strlen(st));
	else
		store_batch_create(&b, STORE_NODES, n->id, NULL, spec,
				   strlen(spec), st, strlen(st));
	apply(&b);
}

/* --- the leader ------------------------------------------------------ */

static int64_t now_ns(void)
{
	return 1700000000000000000LL + (int64_t)S.step * 500000000LL;
}

static void leader_pass(void)
{
	if (S.inflight)
		return;
	struct orch_env env = {.now_ns = now_ns(),
			       .new_id = new_id,
			       .history = 3,
			       .planted = S.planted};
	struct store_batch b;
	bool more;
	int64_t wake;
	store_batch_init(&b, now_ns());
	S.pass_step = S.step;
	for (size_t i = 0; i < S.nsvc; i++) {
		struct orch_service *sv = orch_service_get(&S.m, S.acks[i].id);
		S.pass_replicas[i] = sv ? sv->replicas : 0;
	}
	int n = orch_pass(&S.m, &env, &b, &more, &wake);
	if (n <= 0) {
		store_batch_fini(&b);
		orch_pass_done(&S.m, true);
		return;
	}
	if (store_batch_finish(&b, &S.inflight, &S.inflight_len) < 0) {
		orch_pass_done(&S.m, false);
		return;
	}
	S.commit_at = S.step + 1 + (int)below(3);
}

static void commit(void)
{
	int rc = store_apply(S.s, S.inflight, S.inflight_len, ++S.idx, NULL);
	shoal_free(S.inflight);
	S.inflight = NULL;
	orch_pass_done(&S.m, rc == 0);
	if (rc != 0) {
		S.pass_step = -1; /* that pass's decisions never landed */
		orch_model_load(&S.m, S.s);
	}
}

static void leader_change(void)
{
	if (S.inflight) {
		if (chance(50)) {
			commit();
		} else {
			shoal_free(S.inflight);
			S.inflight = NULL;
			S.pass_step = -1;
		}
	}
	/* The new leader: its own model and report queue. */
	orch_model_fini(&S.m);
	orch_model_init(&S.m);
	feed_model();
	orch_model_load(&S.m, S.s);
}

/* --- agents ------------------------------------------------------------ */

static struct local *local_of(struct node *n, const char *id,
			      enum task_state stored)
{
	for (size_t i = 0; i < n->nlocal; i++)
		if (strcmp(n->local[i].id, id) == 0)
			return &n->local[i];
	if (n->nlocal == MAX_LOCAL)
		return NULL;
	struct local *l = &n->local[n->nlocal++];
	snprintf(l->id, sizeof(l->id), "%s", id);
	l->state = stored;
	return l;
}

static void send_report(int node, const char *task, enum task_state st)
{
	if (S.nnet == MAX_NET)
		return;
	struct msg *m = &S.net[S.nnet++];
	m->node = node;
	snprintf(m->task, sizeof(m->task), "%s", task);
	snprintf(m->json, sizeof(m->json),
		 "{\"State\":\"%s\",\"Message\":\"%s\",\"ContainerStatus\":{"
		 "\"ExitCode\":%d}}",
		 task_state_name(st), task_state_name(st),
		 st == TASK_FAILED ? 1 : 0);
	m->at = S.step + 1 + (int)below(4);
	if (chance(10) && S.nnet < MAX_NET) { /* duplicated */
		S.net[S.nnet] = *m;
		S.net[S.nnet].at += (int)below(5);
		S.nnet++;
	}
}

/* What each node's assignment set holds now (decoded once a step). */
struct view {
	char id[STORE_ID_MAX + 1];
	char node[STORE_ID_MAX + 1];
	enum task_state stored, desired;
};

static struct view *views;
static size_t nviews;

static int by_view_id(const void *a, const void *b)
{
	return strcmp(((const struct view *)a)->id,
		      ((const struct view *)b)->id);
}

static void decode_views(void)
{
	feed_truth();
	size_t cnt = hmap_len(&S.truth.tasks), pos = 0, kl;
	const void *k;
	void *val;
	nviews = 0;
	struct view *a = shoal_realloc(views, (cnt + 1) * sizeof(*views));
	if (!a)
		return;
	views = a;
	while (hmap_next(&S.truth.tasks, &pos, &k, &kl, &val)) {
		const struct orch_task *t = val;
		if (!orch_task_assigned(t) || !*t->service_id)
			continue; /* an attachment is not the executor's */
		struct view *v = &views[nviews++];
		snprintf(v->id, sizeof(v->id), "%s", t->id);
		snprintf(v->node, sizeof(v->node), "%s", t->node_id);
		v->stored = t->state;
		v->desired = t->desired;
	}
	/* Hash order is per process (common/map.c): sort, so a seed replays
	 * exactly. */
	qsort(views, nviews, sizeof(*views), by_view_id);
}

/* Forget local tasks that left the node's set (the agent removes them). */
static void prune_local(struct node *n)
{
	size_t w = 0;
	for (size_t i = 0; i < n->nlocal; i++) {
		bool in = false;
		for (size_t k = 0; k < nviews && !in; k++)
			in = strcmp(views[k].id, n->local[i].id) == 0 &&
			     strcmp(views[k].node, n->id) == 0;
		if (in)
			n->local[w++] = n->local[i];
	}
	n->nlocal = w;
}

static void agent_step(int ni)
{
	struct node *n = &S.nodes[ni];
	if (n->crashed || (n->slow && chance(70)))
		return;
	prune_local(n);
	for (size_t i = 0; i < nviews; i++) {
		if (strcmp(views[i].node, n->id) != 0)
			continue;
		enum task_state desired = views[i].desired;
		struct local *l = local_of(n, views[i].id, views[i].stored);
		if (!l || task_state_terminal(l->state))
			continue;
		if (desired != TASK_RUNNING) {
			l->state = TASK_SHUTDOWN;
		} else if (l->state == TASK_RUNNING) {
			if (S.quiet || !chance(3))
				continue;
			l->state = TASK_FAILED;
		} else if (chance(60)) {
			l->state = l->state < TASK_ACCEPTED    ? TASK_ACCEPTED
				   : l->state < TASK_PREPARING ? TASK_PREPARING
				   : l->state < TASK_STARTING  ? TASK_STARTING
							       : TASK_RUNNING;
		} else {
			continue;
		}
		send_report(ni, l->id, l->state);
	}
}

static void deliver(void)
{
	for (size_t i = 0; i < S.nnet;) {
		struct msg *m = &S.net[i];
		if (m->at > S.step || (chance(30) && i + 1 < S.nnet)) {
			i++;
			continue;
		}
		struct node *n = &S.nodes[m->node];
		if (!n->partitioned && !n->crashed)
			orch_report_add(&S.m, n->id, m->task, m->json,
					strlen(m->json));
		S.net[i] = S.net[--S.nnet];
	}
}

/* After a new session (heal, leader change) the agent resends its
 * tasks' current states. */
static void resend(int ni)
{
	struct node *n = &S.nodes[ni];
	for (size_t i = 0; i < n->nlocal; i++)
		send_report(ni, n->local[i].id, n->local[i].state);
}

/* --- clients ------------------------------------------------------------ */

static void client_write(size_t si, const char *spec_text, bool create)
{
	struct ack *a = &S.acks[si];
	const struct store_object *o = store_get(S.s, STORE_SERVICES, a->id);
	json_t *st = o ? obj_json(o->status, o->status_len) : json_object();
	json_t *old = o ? obj_json(o->spec, o->spec_len) : NULL;
	int64_t gen = jsonx_int(st, "Generation", 0) + 1;
	json_object_set_new(st, "Generation", json_integer(gen));
	if (old)
		json_object_set_new(st, "PreviousSpec", old);
	json_object_del(st, "UpdateStatus");
	json_object_del(st, "UpdateStartedNs");
	char *status = jsonx_dump(st, NULL);
	json_decref(st);
	struct store_batch b;
	store_batch_init(&b, now_ns());
	char name[32];
	snprintf(name, sizeof(name), "svc%zu", si);
	if (create)
		store_batch_create(&b, STORE_SERVICES, a->id, name, spec_text,
				   strlen(spec_text), status, strlen(status));
	else
		store_batch_update(&b, STORE_SERVICES, a->id,
				   o->version - (chance(5) ? 1 : 0), spec_text,
				   strlen(spec_text), status, strlen(status));
	shoal_free(status);
	if (apply(&b) == 0) { /* acknowledged */
		a->start_first = a->start_first ||
				 strstr(spec_text, "start-first") != NULL;
		shoal_free(a->spec);
		a->spec = shoal_strdup(spec_text);
		a->gen = gen;
	}
}

static void service_spec(char *out, size_t cap, size_t si, bool global,
			 unsigned replicas, unsigned image, bool start_first)
{
	char mode[64];
	if (global)
		snprintf(mode, sizeof(mode), "{\"Global\":{}}");
	else
		snprintf(mode, sizeof(mode),
			 "{\"Replicated\":{\"Replicas\":%u}}", replicas);
	static const char *const nets[MAX_SVC] = {
		"",
		",\"Networks\":[{\"Target\":\"" NET_A "\"}]",
		",\"Networks\":[{\"Target\":\"" NET_A "\"},{\"Target\":\"" NET_B
		"\"}]",
		",\"Networks\":[{\"Target\":\"" NET_A "\"}]",
		",\"Networks\":[{\"Target\":\"" NET_B "\"}]",
		""};
	snprintf(out, cap,
		 "{\"Name\":\"svc%zu\",\"TaskTemplate\":{\"ContainerSpec\":{"
		 "\"Image\":\"img:%u\"},\"RestartPolicy\":{\"Delay\":%d}%s},"
		 "\"Mode\":%s,\"UpdateConfig\":{\"Parallelism\":%u,"
		 "\"Order\":\"%s\",\"Monitor\":1000000000}}",
		 si, image, (int)below(3) * 500000000, nets[si], mode,
		 1 + below(2), start_first ? "start-first" : "stop-first");
}

static void client_step(void)
{
	size_t si = below(MAX_SVC);
	struct ack *a = &S.acks[si];
	char spec[1024];
	const struct store_object *o = store_get(S.s, STORE_SERVICES, a->id);
	if (!o) {
		if (chance(50)) {
			service_spec(spec, sizeof(spec), si, si == 0,
				     1 + below(6), below(3), chance(50));
			client_write(si, spec, true);
		}
		return;
	}
	if (chance(8) && si != 0) { /* ask for a rebalance */
		json_t *st = obj_json(o->status, o->status_len);
		json_object_set_new(st, "Rebalance", json_true());
		char *status = jsonx_dump(st, NULL);
		json_decref(st);
		struct store_batch b;
		store_batch_init(&b, now_ns());
		store_batch_update(&b, STORE_SERVICES, a->id, o->version, NULL,
				   0, status, strlen(status));
		shoal_free(status);
		apply(&b);
		return;
	}
	if (chance(10)) { /* remove */
		struct store_batch b;
		store_batch_init(&b, now_ns());
		store_batch_delete(&b, STORE_SERVICES, a->id, o->version);
		if (apply(&b) == 0) {
			shoal_free(a->spec);
			a->spec = NULL;
			a->gen = 0;
		}
		return;
	}
	service_spec(spec, sizeof(spec), si, si == 0, 1 + below(7), below(3),
		     chance(50));
	client_write(si, spec, false);
}

/* A node attaches a container to overlay A (B sometimes: refused), or
 * gives an attachment back (the dispatcher's writes, manager/attach.c). */
static void attach_step(void)
{
	const struct store_object **all;
	size_t n, k = 0;
	if (chance(40) && store_list(S.s, STORE_TASKS, &all, &n) == 0) {
		const struct store_object *pick = NULL;
		for (size_t i = 0; i < n; i++)
			if (!strncmp(all[i]->id, "attach", 6) && !below(++k))
				pick = all[i];
		if (pick) {
			struct store_batch b;
			for (size_t i = 0; i < S.natt; i++)
				if (!strcmp(S.att[i], pick->id))
					memcpy(S.att[i], S.att[--S.natt],
					       sizeof(S.att[i]));
			store_batch_init(&b, now_ns());
			store_batch_delete(&b, STORE_TASKS, pick->id,
					   pick->version);
			apply(&b);
		}
		shoal_free(all);
		return;
	}
	char id[32], *spec, *status, name[16];
	const char *names[1] = {name};
	bool on_a = chance(80);
	snprintf(id, sizeof(id), "attach%019u", ++S.ids);
	snprintf(name, sizeof(name), "c%u", S.ids);
	if (alloc_attach_spec(S.nodes[below(NODES)].id, on_a ? NET_A : NET_B,
			      "", names, 1, now_ns(), &spec, &status) < 0)
		return;
	struct store_batch b;
	store_batch_init(&b, now_ns());
	store_batch_create(&b, STORE_TASKS, id, NULL, spec, strlen(spec),
			   status, strlen(status));
	if (apply(&b) == 0 && on_a && S.natt < 256)
		snprintf(S.att[S.natt++], sizeof(S.att[0]), "%s", id);
	shoal_free(spec);
	shoal_free(status);
}

/* --- invariants ---------------------------------------------------------- */

static void check_addresses(void);

/* attachments (see the top). */
static void check_attachments(void)
{
	size_t pos = 0, kl;
	const void *k;
	void *v;
	for (size_t i = 0; i < S.natt; i++)
		if (!hmap_get_str(&S.truth.tasks, S.att[i]))
			violate("attachments",
				"attachment %s was deleted, not given back",
				S.att[i]);
	while (hmap_next(&S.truth.tasks, &pos, &k, &kl, &v)) {
		const struct orch_task *t = v;
		if (*t->service_id)
			continue;
		json_t *sp = NULL;
		jsonx_parse(t->spec_text, strlen(t->spec_text), &sp, NULL, 0);
		const char *net = jsonx_str(
			json_array_get(json_object_get(sp, "Networks"), 0),
			"Target", "");
		bool on_a = !strcmp(net, NET_A);
		json_decref(sp);
		if (strncmp(t->node_id, "node", 4) ||
		    t->desired != TASK_RUNNING)
			violate("attachments",
				"attachment %s moved to node '%s', desired %s",
				t->id, t->node_id, task_state_name(t->desired));
		else if (t->state == TASK_RUNNING &&
			 (!on_a || t->naddrs != 1 ||
			  strcmp(t->addrs[0].net_id, NET_A)))
			violate("attachments",
				"attachment %s runs on %s with %zu addresses",
				t->id, net, t->naddrs);
		else if (t->state != TASK_RUNNING && t->state != TASK_NEW)
			violate("attachments", "attachment %s is %s", t->id,
				task_state_name(t->state));
	}
}

static void check(void)
{
	feed_truth();
	check_addresses();
	check_attachments();
	size_t running[MAX_SVC] = {0};
	/* live tasks per slot (slots past MAX_SLOT counted in the last) */
	static uint8_t per_slot[MAX_SVC][MAX_SLOT + 1];
	memset(per_slot, 0, sizeof(per_slot));
	size_t pos = 0, kl;
	const void *k;
	void *v;
	while (hmap_next(&S.truth.tasks, &pos, &k, &kl, &v)) {
		const struct orch_task *t = v;
		enum task_state s = t->state;
		uintptr_t prev = (uintptr_t)hmap_get_str(&S.seen, t->id);
		if (prev && (enum task_state)(prev - 1) > s)
			violate("forward", "task %s went from %s to %s", t->id,
				task_state_name((enum task_state)(prev - 1)),
				task_state_name(s));
		if (prev != (uintptr_t)s + 1)
			hmap_put_str(&S.seen, t->id, (void *)(uintptr_t)(s + 1),
				     NULL);
		/* Tasks that run or may: desired running, not ended. */
		bool want =
			t->desired == TASK_RUNNING && !task_state_terminal(s);
		for (size_t i = 0; want && i < MAX_SVC; i++)
			if (strcmp(S.acks[i].id, t->service_id) == 0) {
				running[i]++;
				uint64_t slot =
					t->slot < MAX_SLOT ? t->slot : MAX_SLOT;
				if (per_slot[i][slot] < UINT8_MAX)
					per_slot[i][slot]++;
			}
		/* An attachment stays on a drained or down node (its
		 * container is not the swarm's to move; Docker's too). */
		for (int i = 0; want && *t->service_id && i < NODES; i++) {
			struct node *nd = &S.nodes[i];
			bool out = nd->drained || nd->marked_down;
			if (strcmp(nd->id, t->node_id) == 0 && out &&
			    nd->since < S.pass_step && !S.inflight)
				violate("drained",
					"task %s desired running on %s, out "
					"since step %d (now %d)",
					t->id, nd->id, nd->since, S.step);
		}
	}
	for (size_t i = 0; i < MAX_SVC; i++) {
		const struct orch_service *sv =
			orch_service_get(&S.truth, S.acks[i].id);
		const struct store_object *o =
			store_get(S.s, STORE_SERVICES, S.acks[i].id);
		if (!sv || !o)
			continue;
		if (sv->generation == S.acks[i].gen && S.acks[i].spec &&
		    (o->spec_len != strlen(S.acks[i].spec) ||
		     memcmp(o->spec, S.acks[i].spec, o->spec_len) != 0))
			violate("lost-update",
				"service %s generation %lld lost its "
				"acknowledged spec",
				sv->id, (long long)sv->generation);
		else if (sv->generation < S.acks[i].gen)
			violate("lost-update",
				"service %s at generation %lld, acknowledged "
				"%lld",
				sv->id, (long long)sv->generation,
				(long long)S.acks[i].gen);
		if (sv->mode != SERVICE_REPLICATED || S.inflight)
			continue;
		uint64_t bound = sv->replicas > S.pass_replicas[i]
					 ? sv->replicas
					 : S.pass_replicas[i];
		bool sf = S.acks[i].start_first || S.pass_replicas[i] == 0;
		if (running[i] > (sf ? 2 * bound : bound) &&
		    getenv("SIM_DEBUG")) {
			size_t tp = 0, tkl;
			const void *tk;
			void *tv;
			fprintf(stderr,
				"step %d pass_step %d pass_replicas %llu spec %.*s\n",
				S.step, S.pass_step,
				(unsigned long long)S.pass_replicas[i],
				(int)o->spec_len, (const char *)o->spec);
			while (hmap_next(&S.truth.tasks, &tp, &tk, &tkl, &tv)) {
				const struct orch_task *t = tv;
				if (strcmp(t->service_id, sv->id) == 0)
					fprintf(stderr,
						"  %s slot %llu node %s desired %s "
						"state %s current %d v%llu\n",
						t->id,
						(unsigned long long)t->slot,
						t->node_id,
						task_state_name(t->desired),
						task_state_name(t->state),
						strcmp(t->spec_text,
						       sv->template_text) == 0,
						(unsigned long long)t->version);
			}
		}
		/* Per slot: nothing live past the replicas, one live task
		 * (two while a start-first replacement runs). */
		for (uint64_t slot = 1; slot <= MAX_SLOT; slot++) {
			unsigned live = per_slot[i][slot];
			if (live && slot > bound)
				violate("replicas",
					"service %s: slot %llu live past %llu "
					"replicas",
					sv->id, (unsigned long long)slot,
					(unsigned long long)bound);
			else if (live > (S.acks[i].start_first ? 2u : 1u))
				violate("replicas",
					"service %s: slot %llu has %u live "
					"tasks",
					sv->id, (unsigned long long)slot, live);
		}
		if (running[i] > (sf ? 2 * bound : bound))
			violate("replicas",
				"service %s: %zu tasks desired running for "
				"%llu replicas",
				sv->id, running[i], (unsigned long long)bound);
	}
}

/* addresses and allocated (see the top). */
static void check_addresses(void)
{
	struct hmap used = HMAP_INIT;
	size_t pos = 0, kl;
	const void *k;
	void *v;
	while (hmap_next(&S.truth.services, &pos, &k, &kl, &v)) {
		const struct orch_service *sv = v;
		for (size_t i = 0; i < sv->nvips; i++) {
			char key[96];
			snprintf(key, sizeof(key), "%s/%u", sv->vips[i].net_id,
				 sv->vips[i].addr);
			if (hmap_get_str(&used, key))
				violate("addresses", "VIP %s given twice", key);
			hmap_put_str(&used, key, (void *)sv->id, NULL);
		}
	}
	pos = 0;
	while (hmap_next(&S.truth.tasks, &pos, &k, &kl, &v)) {
		const struct orch_task *t = v;
		if (task_state_terminal(t->state))
			continue;
		if (t->state >= TASK_PENDING && !t->naddrs &&
		    strstr(t->spec_text, "\"Networks\""))
			violate("allocated", "task %s is %s without addresses",
				t->id, task_state_name(t->state));
		for (size_t i = 0; i < t->naddrs; i++) {
			char key[96];
			snprintf(key, sizeof(key), "%s/%u", t->addrs[i].net_id,
				 t->addrs[i].addr);
			const char *other = hmap_get_str(&used, key);
			if (other)
				violate("addresses",
					"task %s has %s, already %s's", t->id,
					key, other);
			hmap_put_str(&used, key, (void *)t->id, NULL);
		}
	}
	hmap_fini(&used);
}

/* Every replicated service runs its replicas; every global one runs on
 * each active node. Called after healing and quiet steps. */
static void check_converged(void)
{
	struct orch_model m;
	orch_model_init(&m);
	orch_model_load(&m, S.s);
	size_t pos = 0, kl;
	const void *k;
	void *v;
	while (hmap_next(&m.services, &pos, &k, &kl, &v)) {
		struct orch_service *s = v;
		size_t want = s->mode == SERVICE_GLOBAL ? NODES : s->replicas;
		size_t got = 0;
		size_t tp = 0;
		const void *tk;
		size_t tkl;
		void *tv;
		while (hmap_next(&m.tasks, &tp, &tk, &tkl, &tv)) {
			struct orch_task *t = tv;
			got += strcmp(t->service_id, s->id) == 0 &&
			       t->desired == TASK_RUNNING &&
			       t->state == TASK_RUNNING &&
			       strcmp(t->spec_text, s->template_text) == 0;
		}
		const char *us = jsonx_str(jsonx_obj(s->status, "UpdateStatus"),
					   "State", "");
		if (strstr(us, "paused")) {
			got = 0; /* a paused update is where it stopped */
			tp = 0;
			while (hmap_next(&m.tasks, &tp, &tk, &tkl, &tv)) {
				struct orch_task *t = tv;
				got += strcmp(t->service_id, s->id) == 0 &&
				       t->desired == TASK_RUNNING &&
				       t->state == TASK_RUNNING;
			}
		}
		if (got != want && getenv("SIM_DEBUG")) {
			tp = 0;
			fprintf(stderr, "service %s\n", s->id);
			while (hmap_next(&m.tasks, &tp, &tk, &tkl, &tv)) {
				struct orch_task *t = tv;
				if (strcmp(t->service_id, s->id) == 0)
					fprintf(stderr,
						"  %s slot %llu node %s desired %s "
						"state %s current %d err %s msg %s\n",
						t->id,
						(unsigned long long)t->slot,
						t->node_id,
						task_state_name(t->desired),
						task_state_name(t->state),
						strcmp(t->spec_text,
						       s->template_text) == 0,
						t->err, t->msg);
			}
		}
		if (got != want)
			violate("converge",
				"service %s runs %zu current tasks of %zu",
				s->id, got, want);
	}
	orch_model_fini(&m);
}

/* --- one run ------------------------------------------------------------ */

static void run_step(bool faults)
{
	S.step++;
	if (S.inflight && S.step >= S.commit_at)
		commit();
	feed_model();
	deliver();
	for (int i = 0; i < NODES; i++) {
		struct node *n = &S.nodes[i];
		if ((n->crashed || n->partitioned) && !n->marked_down &&
		    S.step >= n->down_at) {
			n->marked_down = true;
			n->since = S.step;
			node_write(n, "down");
		}
	}
	if (faults) {
		unsigned e = below(100);
		struct node *n = &S.nodes[below(NODES)];
		int ni = (int)(n - S.nodes);
		if (e < 3 && !n->crashed) { /* crash */
			n->crashed = true;
			n->nlocal = 0;
			n->down_at = S.step + GRACE;
		} else if (e < 6 && !n->partitioned && !n->crashed) {
			n->partitioned = true;
			n->down_at = S.step + GRACE;
		} else if (e < 12 && (n->crashed || n->partitioned)) {
			n->crashed = n->partitioned = false;
			if (n->marked_down)
				node_write(n, "ready");
			n->marked_down = false;
			resend(ni);
		} else if (e < 15) {
			n->drained = !n->drained;
			n->since = S.step;
			node_write(n, n->marked_down ? "down" : "ready");
		} else if (e < 17) {
			leader_change();
			for (int i = 0; i < NODES; i++)
				resend(i);
		} else if (e < 25) {
			client_step();
		} else if (e < 29) {
			attach_step();
		}
		feed_model();
	}
	decode_views();
	for (int i = 0; i < NODES; i++)
		if (chance(50))
			agent_step(i);
	leader_pass();
	check();
}

static int run(uint64_t seed, int steps)
{
	memset(&S, 0, sizeof(S));
	rng = seed * 0x2545f4914f6cdd1dULL + 1;
	S.planted = 0;
	store_new(&S.s);
	store_watch(S.s, STORE_ALL_TABLES, 65536, NULL, NULL, &S.w);
	store_watch(S.s, STORE_ALL_TABLES, 65536, NULL, NULL, &S.tw);
	orch_model_init(&S.m);
	orch_model_init(&S.truth);
	static const char *const nets[2][2] = {
		{NET_A, "{\"Name\":\"a\",\"Attachable\":true,\"IPAM\":{"
			"\"Config\":[{\"Subnet\":\"10.0.0.0/24\",\"Gateway\":"
			"\"10.0.0.1\"}]},\"VNI\":4096}"},
		{NET_B, "{\"Name\":\"b\",\"IPAM\":{\"Config\":[{\"Subnet\":"
			"\"10.0.1.0/26\",\"Gateway\":\"10.0.1.1\"}]},\"VNI\":"
			"4097}"}};
	for (int i = 0; i < 2; i++) {
		struct store_batch b;
		store_batch_init(&b, now_ns());
		store_batch_create(&b, STORE_NETWORKS, nets[i][0],
				   i ? "b" : "a", nets[i][1],
				   strlen(nets[i][1]), "{}", 2);
		apply(&b);
	}
	for (int i = 0; i < NODES; i++) {
		snprintf(S.nodes[i].id, sizeof(S.nodes[i].id), "node%d", i);
		S.nodes[i].slow = chance(20);
		node_write(&S.nodes[i], "ready");
	}
	S.nsvc = MAX_SVC;
	for (size_t i = 0; i < MAX_SVC; i++)
		snprintf(S.acks[i].id, sizeof(S.acks[i].id), "service%020zu",
			 i);
	return 0;
}

static void finish(void)
{
	shoal_free(S.inflight);
	for (size_t i = 0; i < MAX_SVC; i++)
		shoal_free(S.acks[i].spec);
	orch_model_fini(&S.m);
	orch_model_fini(&S.truth);
	store_unwatch(S.w);
	store_unwatch(S.tw);
	store_free(S.s);
	hmap_fini(&S.seen);
	shoal_free(views);
	views = NULL;
	nviews = 0;
}

/* Heal every fault, then quiet steps until the cluster settles. */
static void heal(void)
{
	for (int i = 0; i < NODES; i++) {
		struct node *n = &S.nodes[i];
		bool was = n->crashed || n->partitioned;
		n->crashed = n->partitioned = n->slow = false;
		n->drained = false;
		if (was || n->marked_down || true)
			node_write(n, "ready");
		n->marked_down = false;
		n->since = 0;
		resend(i);
	}
	feed_model();
}

static int one_seed(uint64_t seed, int steps, int planted)
{
	run(seed, steps);
	S.planted = planted;
	for (int i = 0; i < steps && !*S.violation; i++)
		run_step(true);
	if (!*S.violation) {
		S.quiet = true;
		heal();
		for (int i = 0; i < 400 && !*S.violation; i++)
			run_step(false);
		check_converged();
	}
	int caught = *S.violation != 0;
	finish();
	return caught;
}

int main(int argc, char **argv)
{
	uint64_t from = 0, to = 99;
	int steps = 300, planted = 0;
	const char *expect = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--seeds") == 0 && i + 1 < argc) {
			if (sscanf(argv[++i], "%" SCNu64 ":%" SCNu64, &from,
				   &to) != 2)
				return 2;
		} else if (strcmp(argv[i], "--steps") == 0 && i + 1 < argc) {
			steps = atoi(argv[++i]);
		} else if (strcmp(argv[i], "--planted") == 0 && i + 1 < argc) {
			planted = atoi(argv[++i]);
		} else if (strcmp(argv[i], "--expect-violation") == 0 &&
			   i + 1 < argc) {
			expect = argv[++i];
		} else if (strcmp(argv[i], "--list-invariants") == 0) {
			puts("replicas\ndrained\nlost-update\nforward\naddresses\n"
			     "allocated\nattachments\nconverge");
			return 0;
		} else {
			fprintf(stderr,
				"usage: sim-orch [--seeds A:B] [--steps N] "
				"[--planted N] [--expect-violation NAME]\n");
			return 2;
		}
	}
	for (uint64_t seed = from; seed <= to; seed++) {
		if (!one_seed(seed, steps, planted))
			continue;
		printf("seed %" PRIu64 ": %s violated at step %d: %s\n", seed,
		       S.violation, S.step, S.detail);
		if (!expect)
			return 1;
		if (strcmp(expect, S.violation) == 0) {
			printf("expected violation %s caught by seed %" PRIu64
			       "\n",
			       expect, seed);
			return 0;
		}
		printf("wrong catch: expected %s, caught by seed %" PRIu64
		       " as %s\n",
		       expect, seed, S.violation);
		return 1;
	}
	if (expect) {
		printf("planted bug not caught as %s in seeds %" PRIu64
		       "..%" PRIu64 "\n",
		       expect, from, to);
		return 1;
	}
	printf("seeds %" PRIu64 "..%" PRIu64 ": no violation\n", from, to);
	return 0;
}
