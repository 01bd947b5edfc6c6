/*
 * The scheduler (pure; orch.h, placement_run()): pending tasks to nodes,
 * as swarmkit's scheduler does it.
 *
 * Tasks are placed in groups of identical tasks (same service, same
 * Spec): the filters run once per group over every node, in swarmkit's
 * order, and each node failing one is counted against the first filter it
 * fails, which is how a task that cannot be placed explains itself in
 * Docker's words: "no suitable node (scheduling constraints not satisfied
 * on 2 nodes; insufficient resources on 1 node)".
 *
 *   ready        Status ready and Availability active
 *   resources    Reservations (NanoCPUs, MemoryBytes) against the node's
 *                description minus what its live tasks reserve
 *   constraints  node.id, node.hostname, node.role, node.platform.os and
 *                .arch, node.labels.X, engine.labels.X with == and !=
 *   platform     Placement.Platforms (OS and architecture)
 *   max replicas Placement.MaxReplicas live tasks of the service per node
 *
 * Then spread: with placement preferences, the tasks go to the value of
 * the first preference's label with the fewest tasks of the service (nodes
 * without the label form a group of their own), then within it by the
 * next preference, and so on; then, and without preferences, to the node
 * with the fewest tasks of the service, then the fewest tasks overall,
 * then the smallest id (so placement is deterministic). Without
 * preferences the nodes sit in a binary heap on that key, so a group of k
 * tasks over n nodes costs O(n + k log n).
 *
 * A global service's task comes with its node chosen; the scheduler only
 * checks that node's filters (it stays pending, explained, if they fail).
 */
#include "common/alloc.h"
#include "manager/orch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool orch__constraint_ok(const struct orch_constraint *c,
			 const struct orch_node *n);
bool orch__platform_ok(const struct orch_service *s, const struct orch_node *n);

enum filter {
	F_READY,
	F_RESOURCES,
	F_CONSTRAINTS,
	F_PLATFORM,
	F_MAX_REPLICAS,
	F_OK,
};

static bool fits(const struct orch_service *s, const struct orch_node *n)
{
	return (s->res_cpus == 0 ||
		n->nano_cpus - n->used_cpus >= s->res_cpus) &&
	       (s->res_mem == 0 || n->memory - n->used_mem >= s->res_mem);
}

static enum filter check(const struct orch_service *s,
			 const struct orch_node *n)
{
	if (!n->ready || n->avail != ORCH_ACTIVE)
		return F_READY;
	if (!fits(s, n))
		return F_RESOURCES;
	for (size_t i = 0; i < s->ncons; i++)
		if (!orch__constraint_ok(&s->cons[i], n))
			return F_CONSTRAINTS;
	if (!orch__platform_ok(s, n))
		return F_PLATFORM;
	if (s->max_per_node && n->nsvc >= s->max_per_node)
		return F_MAX_REPLICAS;
	return F_OK;
}

/* Docker's "no suitable node (...)" from the count of nodes per filter. */
static void explain(const size_t count[F_OK], char *out, size_t cap)
{
	static const char *const one[F_OK] = {
		"1 node not available for new tasks",
		"insufficient resources on 1 node",
		"scheduling constraints not satisfied on 1 node",
		"unsupported platform on 1 node",
		"max replicas per node limit exceed",
	};
	static const char *const many[F_OK][2] = {
		{"", " nodes not available for new tasks"},
		{"insufficient resources on ", " nodes"},
		{"scheduling constraints not satisfied on ", " nodes"},
		{"unsupported platform on ", " nodes"},
		{NULL, "max replicas per node limit exceed"},
	};
	size_t len = (size_t)snprintf(out, cap, "no suitable node (");
	bool first = true;
	for (int f = 0; f < F_OK && len < cap; f++) {
		if (!count[f])
			continue;
		char part[96];
		if (count[f] == 1)
			snprintf(part, sizeof(part), "%s", one[f]);
		else if (!many[f][0])
			snprintf(part, sizeof(part), "%s", many[f][1]);
		else
			snprintf(part, sizeof(part), "%s%zu%s", many[f][0],
				 count[f], many[f][1]);
		len += (size_t)snprintf(out + len, cap - len, "%s%s",
					first ? "" : "; ", part);
		first = false;
	}
	if (first && len < cap)
		len += (size_t)snprintf(out + len, cap - len, "no nodes");
	if (len < cap)
		snprintf(out + len, cap - len, ")");
}

/* ------------------------------------------------------------ the heap */

static bool less(const struct orch_node *a, const struct orch_node *b)
{
	if (a->nsvc != b->nsvc)
		return a->nsvc < b->nsvc;
	if (a->ntasks != b->ntasks)
		return a->ntasks < b->ntasks;
	return strcmp(a->id, b->id) < 0;
}

struct heap {
	struct orch_node **a;
	size_t n;
};

static void sift_down(struct heap *h, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < h->n && less(h->a[l], h->a[m]))
			m = l;
		if (r < h->n && less(h->a[r], h->a[m]))
			m = r;
		if (m == i)
			return;
		struct orch_node *t = h->a[i];
		h->a[i] = h->a[m];
		h->a[m] = t;
		i = m;
	}
}

static void heap_pop(struct heap *h)
{
	h->a[0] = h->a[--h->n];
	if (h->n)
		sift_down(h, 0);
}

/* ------------------------------------------------------------- placing */

static void assign(struct orch_task *t, struct orch_node *n, int64_t now)
{
	snprintf(t->node_id, sizeof(t->node_id), "%s", n->id);
	t->cnode = n; /* its node from now on, as the cache holds it */
	t->state = TASK_ASSIGNED;
	snprintf(t->msg, sizeof(t->msg), "scheduler assigned task to node");
	t->err[0] = '\0';
	t->dirty |= ORCH_DIRTY_SPEC | ORCH_DIRTY_STATUS;
	orch__task_set_status(t, now);
	n->nsvc++;
	n->ntasks++;
	n->used_cpus += t->res_cpus;
	n->used_mem += t->res_mem;
}

static void unplaced(struct orch_task *t, const char *why, int64_t now)
{
	if (strcmp(t->err, why) == 0 && !(t->dirty & ORCH_NEW))
		return;
	snprintf(t->err, sizeof(t->err), "%s", why);
	snprintf(t->msg, sizeof(t->msg), "pending task scheduling");
	t->dirty |= ORCH_DIRTY_STATUS;
	orch__task_set_status(t, now);
}

struct ctx {
	struct orch_node **nodes; /* sorted by id */
	size_t nn;
	int64_t now;
};

static void why_not(struct ctx *c, const struct orch_service *s, char *out,
		    size_t cap)
{
	size_t count[F_OK] = {0};
	for (size_t i = 0; i < c->nn; i++) {
		enum filter f = check(s, c->nodes[i]);
		if (f != F_OK)
			count[f]++;
	}
	explain(count, out, cap);
}

static struct orch_node *find_node(struct ctx *c, const char *id)
{
	size_t lo = 0, hi = c->nn;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int r = strcmp(c->nodes[mid]->id, id);
		if (r == 0)
			return c->nodes[mid];
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int place_heap(struct ctx *c, const struct orch_service *s,
		      struct orch_task **t, size_t n)
{
	struct heap h = {shoal_calloc(c->nn + 1, sizeof(*h.a)), 0};
	if (!h.a)
		return -ENOMEM;
	for (size_t i = 0; i < c->nn; i++)
		if (check(s, c->nodes[i]) == F_OK)
			h.a[h.n++] = c->nodes[i];
	for (size_t i = h.n / 2; i-- > 0;)
		sift_down(&h, i);
	int placed = 0;
	char why[256] = "";
	for (size_t i = 0; i < n; i++) {
		while (h.n && check(s, h.a[0]) != F_OK)
			heap_pop(&h);
		if (!h.n) {
			if (!*why)
				why_not(c, s, why, sizeof(why));
			unplaced(t[i], why, c->now);
			continue;
		}
		assign(t[i], h.a[0], c->now);
		sift_down(&h, 0);
		placed++;
	}
	shoal_free(h.a);
	return placed;
}

static const char *pref_value(const struct orch_node *n, const char *desc)
{
	const char *v = NULL;
	if (strncmp(desc, "node.labels.", 12) == 0)
		v = json_string_value(json_object_get(n->labels, desc + 12));
	else if (strncmp(desc, "engine.labels.", 14) == 0)
		v = json_string_value(
			json_object_get(n->engine_labels, desc + 14));
	return v ? v : "";
}

/*
 * With preferences: narrow @cand (nodes that pass every filter) level by
 * level to the label value whose nodes hold the fewest tasks of the
 * service, then take the least loaded node.
 */
static struct orch_node *pick_pref(const struct orch_service *s,
				   struct orch_node **cand, size_t n,
				   struct orch_node **tmp)
{
	for (size_t lvl = 0; lvl < s->nprefs && n; lvl++) {
		const char *best = NULL;
		uint64_t best_count = 0;
		for (size_t i = 0; i < n; i++) {
			const char *v = pref_value(cand[i], s->prefs[lvl]);
			bool seen = false;
			for (size_t j = 0; j < i && !seen; j++)
				seen = strcmp(pref_value(cand[j],
							 s->prefs[lvl]),
					      v) == 0;
			if (seen)
				continue;
			uint64_t count = 0;
			for (size_t j = i; j < n; j++)
				if (strcmp(pref_value(cand[j], s->prefs[lvl]),
					   v) == 0)
					count += cand[j]->nsvc;
			if (!best || count < best_count ||
			    (count == best_count && strcmp(v, best) < 0)) {
				best = v;
				best_count = count;
			}
		}
		size_t k = 0;
		for (size_t i = 0; i < n; i++)
			if (strcmp(pref_value(cand[i], s->prefs[lvl]), best) ==
			    0)
				tmp[k++] = cand[i];
		memcpy(cand, tmp, k * sizeof(*cand));
		n = k;
	}
	struct orch_node *min = NULL;
	for (size_t i = 0; i < n; i++)
		if (!min || less(cand[i], min))
			min = cand[i];
	return min;
}

static int place_prefs(struct ctx *c, const struct orch_service *s,
		       struct orch_task **t, size_t n)
{
	struct orch_node **cand = shoal_calloc(c->nn + 1, sizeof(*cand));
	struct orch_node **tmp = shoal_calloc(c->nn + 1, sizeof(*tmp));
	int placed = 0;
	if (!cand || !tmp) {
		shoal_free(cand);
		shoal_free(tmp);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		size_t k = 0;
		for (size_t j = 0; j < c->nn; j++)
			if (check(s, c->nodes[j]) == F_OK)
				cand[k++] = c->nodes[j];
		struct orch_node *nd = pick_pref(s, cand, k, tmp);
		if (!nd) {
			char why[256];
			why_not(c, s, why, sizeof(why));
			unplaced(t[i], why, c->now);
			continue;
		}
		assign(t[i], nd, c->now);
		placed++;
	}
	shoal_free(cand);
	shoal_free(tmp);
	return placed;
}

static int place_preset(struct ctx *c, const struct orch_service *s,
			struct orch_task *t)
{
	struct orch_node *n = find_node(c, t->node_id);
	size_t count[F_OK] = {0};
	enum filter f = n ? check(s, n) : F_READY;
	if (f == F_OK) {
		assign(t, n, c->now);
		return 1;
	}
	count[f] = 1;
	char why[256];
	explain(count, why, sizeof(why));
	unplaced(t, why, c->now);
	return 0;
}

/* ------------------------------------------------------------ the run */

static int by_id(const void *a, const void *b)
{
	return strcmp((*(struct orch_node *const *)a)->id,
		      (*(struct orch_node *const *)b)->id);
}

static int by_group(const void *a, const void *b)
{
	const struct orch_task *x = *(struct orch_task *const *)a;
	const struct orch_task *y = *(struct orch_task *const *)b;
	int c = strcmp(x->service_id, y->service_id);
	if (c)
		return c;
	if ((c = strcmp(x->spec_text, y->spec_text)) != 0)
		return c;
	if (x->slot != y->slot)
		return x->slot < y->slot ? -1 : 1;
	if ((c = strcmp(x->node_id, y->node_id)) != 0)
		return c;
	return strcmp(x->id, y->id);
}

/* Count the live tasks of @svc on each node (nodes' nsvc); their nodes
 * were resolved by placement_run(). */
static void count_service(struct ctx *c, struct orch_task **live, size_t nl,
			  const char *svc)
{
	for (size_t i = 0; i < c->nn; i++)
		c->nodes[i]->nsvc = 0;
	for (size_t i = 0; i < nl; i++)
		if (live[i]->node && live[i]->service_id[0] == svc[0] &&
		    strcmp(live[i]->service_id, svc) == 0)
			live[i]->node->nsvc++;
}

int placement_run(struct orch_model *m, struct orch_task **tasks, size_t n,
		  struct orch_task *const *live_in, size_t nlive,
		  int64_t now_ns)
{
	struct ctx c = {.now = now_ns};
	size_t cap = hmap_len(&m->nodes);
	c.nodes = shoal_calloc(cap + 1, sizeof(*c.nodes));
	struct orch_task **live = shoal_calloc(nlive + 1, sizeof(*live));
	if (!c.nodes || !live) {
		shoal_free(c.nodes);
		shoal_free(live);
		return -ENOMEM;
	}
	size_t pos = 0;
	const void *k;
	size_t kl;
	void *v;
	while (hmap_next(&m->nodes, &pos, &k, &kl, &v)) {
		struct orch_node *nd = v;
		nd->used_cpus = nd->used_mem = 0;
		nd->ntasks = nd->nsvc = 0;
		c.nodes[c.nn++] = nd;
	}
	qsort(c.nodes, c.nn, sizeof(*c.nodes), by_id);
	if (nlive)
		memcpy(live, live_in, nlive * sizeof(*live));
	for (size_t i = 0; i < nlive; i++) {
		struct orch_node *nd = orch__node_of(m, live[i]);
		live[i]->node = nd;
		if (!nd)
			continue;
		nd->ntasks++;
		nd->used_cpus += live[i]->res_cpus;
		nd->used_mem += live[i]->res_mem;
	}
	qsort(tasks, n, sizeof(*tasks), by_group);
	int placed = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		while (j < n &&
		       strcmp(tasks[j]->service_id, tasks[i]->service_id) ==
			       0 &&
		       strcmp(tasks[j]->spec_text, tasks[i]->spec_text) == 0)
			j++;
		const struct orch_service *s =
			orch_service_get(m, tasks[i]->service_id);
		if (!s) {
			i = j;
			continue;
		}
		count_service(&c, live, nlive, s->id);
		/* Preset (global) tasks first, then the free ones. */
		size_t free_from = i;
		for (size_t x = i; x < j; x++) {
			if (!*tasks[x]->node_id)
				continue;
			placed += place_preset(&c, s, tasks[x]);
		}
		/* Compact the free ones in place (x never trails nrest). */
		struct orch_task **rest = tasks + free_from;
		size_t nrest = 0;
		for (size_t x = i; x < j; x++)
			if (!*tasks[x]->node_id)
				rest[nrest++] = tasks[x];
		int r = s->nprefs ? place_prefs(&c, s, rest, nrest)
				  : place_heap(&c, s, rest, nrest);
		if (r < 0) {
			placed = r;
			break;
		}
		placed += r;
		i = j;
	}
	shoal_free(c.nodes);
	shoal_free(live);
	return placed;
}
