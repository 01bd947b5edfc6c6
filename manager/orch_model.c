/*
 * The cores' view of the store (orch.h): nodes, services and tasks decoded
 * once per version of their objects, and the way back, a task's fields
 * encoded as the JSON the store and the agents read (docs/services.md).
 *
 * A task's Spec is kept as canonical JSON text (compact, keys sorted), so
 * "is this task current" is a string comparison with the service's
 * TaskTemplate made canonical the same way, and writing a task back copies
 * that text instead of building JSON. Objects whose JSON does not decode
 * are left out of the model (a service's spec was checked when written;
 * the store only holds what the managers wrote).
 */
#include "common/alloc.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/jsonx.h"
#include "manager/orch.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* @v as canonical JSON (compact, sorted keys), owned; NULL on failure. */
static char *canon(const json_t *v)
{
	const size_t flags = JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY;
	size_t n = json_dumpb(v, NULL, 0, flags);
	char *s = n ? shoal_malloc(n + 1) : NULL;
	if (!s)
		return NULL;
	if (json_dumpb(v, s, n, flags) != n) {
		shoal_free(s);
		return NULL;
	}
	s[n] = '\0';
	return s;
}

static json_t *parse(const uint8_t *data, size_t len)
{
	json_t *v = NULL;
	if (len == 0 || jsonx_parse((const char *)data, len, &v, NULL, 0) < 0)
		return NULL;
	return v;
}

void orch_model_init(struct orch_model *m)
{
	memset(m, 0, sizeof(*m));
}

static void node_free(struct orch_node *n)
{
	if (!n)
		return;
	json_decref(n->labels);
	json_decref(n->engine_labels);
	shoal_free(n);
}

static void service_free(struct orch_service *s)
{
	if (!s)
		return;
	json_decref(s->spec);
	json_decref(s->status);
	shoal_free(s->template_text);
	shoal_free(s->ann_text);
	shoal_free(s->vips);
	for (size_t i = 0; i < s->ncons; i++) {
		shoal_free(s->cons[i].key);
		shoal_free(s->cons[i].value);
	}
	shoal_free(s->cons);
	for (size_t i = 0; i < s->nprefs; i++)
		shoal_free(s->prefs[i]);
	shoal_free(s->prefs);
	shoal_free(s);
}

static void task_free(struct orch_task *t)
{
	if (!t)
		return;
	shoal_free(t->spec_text);
	shoal_free(t->ann_text);
	shoal_free(t->status_text);
	shoal_free(t->nets_text);
	shoal_free(t->addrs);
	shoal_free(t->ports_text);
	shoal_free(t);
}

struct orch__written {
	struct orch_task *fresh; /* a new task (owned), or NULL */
	size_t spec_len;
	uint64_t spec_hash;
};

static void fr_written(void *p)
{
	struct orch__written *w = p;
	if (w)
		task_free(w->fresh);
	shoal_free(w);
}

struct orch_node *orch__node_of(struct orch_model *m, struct orch_task *t)
{
	if (t->cnode_gen != m->nodes_gen || !t->cnode_gen) {
		t->cnode = *t->node_id ? hmap_get_str(&m->nodes, t->node_id)
				       : NULL;
		t->cnode_gen = m->nodes_gen;
	}
	return t->cnode;
}

struct orch_service *orch__service_of(struct orch_model *m, struct orch_task *t)
{
	if (t->csvc_gen != m->services_gen || !t->csvc_gen) {
		t->csvc = hmap_get_str(&m->services, t->service_id);
		t->csvc_gen = m->services_gen;
	}
	return t->csvc;
}

uint64_t orch__hash(const void *p, size_t len)
{
	const unsigned char *c = p;
	uint64_t h = 14695981039346656037ULL;
	for (size_t i = 0; i < len; i++) {
		h ^= c[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static void clear_map(struct hmap *h, void (*fr)(void *))
{
	size_t pos = 0;
	const void *k;
	size_t kl;
	void *v;
	while (hmap_next(h, &pos, &k, &kl, &v))
		fr(v);
	hmap_fini(h);
	*h = (struct hmap)HMAP_INIT;
}

static void fr_node(void *p)
{
	node_free(p);
}

static void fr_service(void *p)
{
	service_free(p);
}

static void fr_task(void *p)
{
	task_free(p);
}

static void fr_none(void *p)
{
	(void)p;
}

static void fr_net(void *p)
{
	struct orch_net *n = p;
	if (n)
		shoal_free(n->naddr);
	shoal_free(n);
}

void orch_model_clear(struct orch_model *m)
{
	clear_map(&m->networks, fr_net);
	clear_map(&m->nodes, fr_node);
	clear_map(&m->services, fr_service);
	m->nodes_gen++;
	m->services_gen++;
	clear_map(&m->tasks, fr_task);
	clear_map(&m->dirty_nodes, fr_none);
	clear_map(&m->written, fr_written);
	json_decref(m->spec_json);
	shoal_free(m->spec_text);
	m->spec_json = NULL;
	m->spec_text = NULL;
	m->all_dirty = true;
}

void orch_model_fini(struct orch_model *m)
{
	orch_model_clear(m);
	for (size_t i = 0; i < m->nreports; i++)
		shoal_free(m->reports[i].json);
	shoal_free(m->reports);
	m->reports = NULL;
	m->nreports = m->capreports = 0;
	hmap_fini(&m->report_idx);
	m->report_idx = (struct hmap)HMAP_INIT;
	orch_pass_done(m, true);
	shoal_free(m->inflight);
	m->inflight = NULL;
}

/* The queue's key of a report: "NODE\0TASK" into @out. */
static size_t report_key(const char *node, const char *task,
			 char out[2 * STORE_ID_MAX + 2])
{
	size_t n = strnlen(node, STORE_ID_MAX), t = strnlen(task, STORE_ID_MAX);
	memcpy(out, node, n);
	out[n] = '\0';
	memcpy(out + n + 1, task, t);
	return n + 1 + t;
}

static struct orch_report *report_find(struct orch_model *m, const char *node,
				       const char *task)
{
	char key[2 * STORE_ID_MAX + 2];
	size_t kl = report_key(node, task, key);
	uintptr_t i = (uintptr_t)hmap_get(&m->report_idx, key, kl);
	return i ? &m->reports[i - 1] : NULL;
}

int orch__reports_reindex(struct orch_model *m)
{
	hmap_fini(&m->report_idx);
	m->report_idx = (struct hmap)HMAP_INIT;
	for (size_t i = 0; i < m->nreports; i++) {
		char key[2 * STORE_ID_MAX + 2];
		size_t kl = report_key(m->reports[i].node_id,
				       m->reports[i].task_id, key);
		if (hmap_put(&m->report_idx, key, kl, (void *)(i + 1), NULL) <
		    0)
			return -ENOMEM;
	}
	return 0;
}

void orch_pass_done(struct orch_model *m, bool applied)
{
	for (size_t i = 0; i < m->ninflight; i++) {
		struct orch_report *r = &m->inflight[i];
		bool newer = report_find(m, r->node_id, r->task_id) != NULL;
		if (!applied && !newer)
			orch_report_add(m, r->node_id, r->task_id, r->json,
					r->len);
		shoal_free(r->json);
	}
	m->ninflight = 0;
}

static void mark_node(struct orch_model *m, const char *node_id)
{
	if (*node_id && !hmap_has(&m->dirty_nodes, node_id, strlen(node_id)))
		hmap_put_str(&m->dirty_nodes, node_id, NULL, NULL);
}

/* ------------------------------------------------------------------ nodes */

static struct orch_node *node_decode(const struct store_object *o)
{
	json_t *sp = parse(o->spec, o->spec_len);
	json_t *st = parse(o->status, o->status_len);
	struct orch_node *n = shoal_calloc(1, sizeof(*n));
	if (!n || !sp) {
		json_decref(sp);
		json_decref(st);
		shoal_free(n);
		return NULL;
	}
	snprintf(n->id, sizeof(n->id), "%s", o->id);
	const json_t *d = jsonx_obj(st, "Description");
	snprintf(n->hostname, sizeof(n->hostname), "%s",
		 jsonx_str(d, "Hostname", ""));
	snprintf(n->role, sizeof(n->role), "%s", jsonx_str(sp, "Role", ""));
	snprintf(n->os, sizeof(n->os), "%s",
		 jsonx_str(jsonx_obj(d, "Platform"), "OS", ""));
	snprintf(n->arch, sizeof(n->arch), "%s",
		 jsonx_str(jsonx_obj(d, "Platform"), "Architecture", ""));
	n->nano_cpus = jsonx_int(jsonx_obj(d, "Resources"), "NanoCPUs", 0);
	n->memory = jsonx_int(jsonx_obj(d, "Resources"), "MemoryBytes", 0);
	const char *state = jsonx_str(jsonx_obj(st, "Status"), "State", "");
	n->ready = strcmp(state, "ready") == 0;
	n->down = strcmp(state, "down") == 0;
	const char *av = jsonx_str(sp, "Availability", "active");
	n->avail = strcmp(av, "drain") == 0   ? ORCH_DRAIN
		   : strcmp(av, "pause") == 0 ? ORCH_PAUSE
					      : ORCH_ACTIVE;
	snprintf(n->addr, sizeof(n->addr), "%s",
		 jsonx_str(jsonx_obj(st, "Status"), "Addr", ""));
	n->labels = json_incref(jsonx_obj(sp, "Labels"));
	n->engine_labels =
		json_incref(jsonx_obj(jsonx_obj(d, "Engine"), "Labels"));
	json_decref(sp);
	json_decref(st);
	return n;
}

/* --------------------------------------------------------------- services */

static int parse_constraint(struct orch_constraint *c, const char *s)
{
	const char *op = strstr(s, "==");
	c->equal = op != NULL;
	if (!op)
		op = strstr(s, "!=");
	if (!op)
		return -EINVAL;
	const char *b = s, *e = op;
	while (b < e && (*b == ' ' || *b == '\t'))
		b++;
	while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	const char *v = op + 2, *ve = v + strlen(v);
	while (*v == ' ' || *v == '\t')
		v++;
	while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
		ve--;
	c->key = shoal_malloc((size_t)(e - b) + 1);
	c->value = shoal_malloc((size_t)(ve - v) + 1);
	if (!c->key || !c->value)
		return -ENOMEM;
	memcpy(c->key, b, (size_t)(e - b));
	c->key[e - b] = '\0';
	memcpy(c->value, v, (size_t)(ve - v));
	c->value[ve - v] = '\0';
	return 0;
}

static int service_placement(struct orch_service *s, const json_t *tmpl)
{
	const json_t *pl = jsonx_obj(tmpl, "Placement");
	const json_t *res =
		jsonx_obj(jsonx_obj(tmpl, "Resources"), "Reservations");
	s->res_cpus = jsonx_int(res, "NanoCPUs", 0);
	s->res_mem = jsonx_int(res, "MemoryBytes", 0);
	s->max_per_node = (uint64_t)jsonx_int(pl, "MaxReplicas", 0);
	const json_t *cons = json_object_get(pl, "Constraints");
	size_t n = json_is_array(cons) ? json_array_size(cons) : 0;
	s->cons = n ? shoal_calloc(n, sizeof(*s->cons)) : NULL;
	if (n && !s->cons)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *c = json_string_value(json_array_get(cons, i));
		if (!c)
			continue;
		int rc = parse_constraint(&s->cons[s->ncons], c);
		s->ncons++;
		if (rc < 0)
			return rc;
	}
	const json_t *prefs = json_object_get(pl, "Preferences");
	n = json_is_array(prefs) ? json_array_size(prefs) : 0;
	s->prefs = n ? shoal_calloc(n, sizeof(*s->prefs)) : NULL;
	if (n && !s->prefs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *d =
			jsonx_str(jsonx_obj(json_array_get(prefs, i), "Spread"),
				  "SpreadDescriptor", "");
		if (!(s->prefs[s->nprefs++] = shoal_strdup(d)))
			return -ENOMEM;
	}
	const json_t *plats = json_object_get(pl, "Platforms");
	s->platforms = json_is_array(plats) && json_array_size(plats)
			       ? (json_t *)plats
			       : NULL;
	return 0;
}

/* The update or rollback config in effect: a rollback in progress uses
 * RollbackConfig. */
static void service_update_config(struct orch_service *s)
{
	const char *us =
		jsonx_str(jsonx_obj(s->status, "UpdateStatus"), "State", "");
	bool rb = strncmp(us, "rollback", 8) == 0;
	const json_t *u =
		jsonx_obj(s->spec, rb ? "RollbackConfig" : "UpdateConfig");
	s->parallelism = (uint64_t)jsonx_int(u, "Parallelism", 1);
	s->update_delay_ns = jsonx_int(u, "Delay", 0);
	s->monitor_ns = jsonx_int(u, "Monitor", SERVICE_DEFAULT_MONITOR_NS);
	const json_t *r = json_object_get(u, "MaxFailureRatio");
	s->max_failure_ratio = json_is_number(r) ? json_number_value(r) : 0;
	s->start_first = strcmp(jsonx_str(u, "Order", ""), "start-first") == 0;
	const char *fa = jsonx_str(u, "FailureAction", "pause");
	s->failure_action = strcmp(fa, "continue") == 0	  ? FAIL_CONTINUE
			    : strcmp(fa, "rollback") == 0 ? FAIL_ROLLBACK
							  : FAIL_PAUSE;
}

static int service_fill(struct orch_service *s, const struct store_object *o,
			const json_t *stored)
{
	snprintf(s->id, sizeof(s->id), "%s", o->id);
	snprintf(s->name, sizeof(s->name), "%s", o->name);
	s->version = o->version;
	s->spec = service_spec_defaults(stored);
	s->status = parse(o->status, o->status_len);
	if (!s->status)
		s->status = json_object();
	if (!s->spec || !s->status)
		return -ENOMEM;
	const json_t *tmpl = jsonx_obj(s->spec, "TaskTemplate");
	s->template_text = canon(tmpl);
	json_t *ann = json_pack("{s:s, s:O}", "Name", o->name, "Labels",
				jsonx_obj(s->spec, "Labels"));
	s->ann_text = ann ? canon(ann) : NULL;
	json_decref(ann);
	if (!s->template_text || !s->ann_text)
		return -ENOMEM;
	s->mode = service_spec_mode(s->spec);
	const json_t *mode = jsonx_obj(s->spec, "Mode");
	if (s->mode == SERVICE_REPLICATED)
		s->replicas = (uint64_t)jsonx_int(jsonx_obj(mode, "Replicated"),
						  "Replicas", 1);
	if (s->mode == SERVICE_REPLICATED_JOB) {
		const json_t *j = jsonx_obj(mode, "ReplicatedJob");
		s->replicas = (uint64_t)jsonx_int(j, "TotalCompletions", 1);
		s->max_concurrent = (uint64_t)jsonx_int(j, "MaxConcurrent", 1);
	}
	s->generation = jsonx_int(s->status, "Generation", 1);
	const json_t *rp = jsonx_obj(tmpl, "RestartPolicy");
	const char *cond = jsonx_str(rp, "Condition", "any");
	s->restart = strcmp(cond, "none") == 0	       ? RESTART_NONE
		     : strcmp(cond, "on-failure") == 0 ? RESTART_ON_FAILURE
						       : RESTART_ANY;
	s->restart_delay_ns = jsonx_int(rp, "Delay", 0);
	s->restart_window_ns = jsonx_int(rp, "Window", 0);
	s->restart_max = (uint64_t)jsonx_int(rp, "MaxAttempts", 0);
	service_update_config(s);
	if (alloc__service_fill(s) < 0)
		return -ENOMEM;
	return service_placement(s, tmpl);
}

static struct orch_service *service_decode(const struct store_object *o)
{
	json_t *stored = parse(o->spec, o->spec_len);
	struct orch_service *s = shoal_calloc(1, sizeof(*s));
	if (!s || !stored || service_fill(s, o, stored) < 0) {
		service_free(s);
		s = NULL;
	}
	json_decref(stored);
	return s;
}

/* ------------------------------------------------------------------ tasks */

/*
 * The canonical text of a task's Spec. Tasks of one service share their
 * Spec, so the last one made canonical is kept (@m's cache): comparing
 * the parsed Spec with it is cheaper than writing it out again.
 */
static char *spec_canon(struct orch_model *m, const json_t *spec)
{
	if (m->spec_json && m->spec_text && json_equal(m->spec_json, spec))
		return shoal_strdup(m->spec_text);
	char *text = canon(spec);
	if (text) {
		char *copy = shoal_strdup(text);
		if (copy) {
			json_decref(m->spec_json);
			shoal_free(m->spec_text);
			m->spec_json = json_deep_copy(spec);
			m->spec_text = copy;
		}
	}
	return text;
}

static int task_fill(struct orch_model *m, struct orch_task *t,
		     const struct store_object *o, const json_t *sp,
		     const json_t *st)
{
	snprintf(t->id, sizeof(t->id), "%s", o->id);
	snprintf(t->service_id, sizeof(t->service_id), "%s",
		 jsonx_str(sp, "ServiceID", ""));
	snprintf(t->node_id, sizeof(t->node_id), "%s",
		 jsonx_str(sp, "NodeID", ""));
	t->slot = (uint64_t)jsonx_int(sp, "Slot", 0);
	t->version = o->version;
	t->gen = jsonx_int(jsonx_obj(sp, "SpecVersion"), "Index", 0);
	t->created_ns = o->created_ns;
	t->updated_ns = o->updated_ns;
	t->spec_len = o->spec_len;
	t->spec_hash = orch__hash(o->spec, o->spec_len);
	if (task_state_parse(jsonx_str(st, "State", ""), &t->state) < 0 ||
	    task_state_parse(jsonx_str(sp, "DesiredState", ""), &t->desired) <
		    0)
		return -EINVAL;
	const char *mode = jsonx_str(sp, "Mode", "replicated");
	for (int i = 0; i < 4; i++)
		if (strcmp(mode, service_mode_name((enum service_mode)i)) == 0)
			t->mode =
				(char *)service_mode_name((enum service_mode)i);
	if (!t->mode)
		t->mode = (char *)service_mode_name(SERVICE_REPLICATED);
	snprintf(t->msg, sizeof(t->msg), "%s", jsonx_str(st, "Message", ""));
	snprintf(t->err, sizeof(t->err), "%s", jsonx_str(st, "Err", ""));
	const json_t *spec = jsonx_obj(sp, "Spec");
	const json_t *res =
		jsonx_obj(jsonx_obj(spec, "Resources"), "Reservations");
	t->res_cpus = jsonx_int(res, "NanoCPUs", 0);
	t->res_mem = jsonx_int(res, "MemoryBytes", 0);
	t->spec_text =
		spec ? spec_canon(m, spec) : canon(json_object_get(sp, "Spec"));
	t->ann_text = canon(json_object_get(sp, "ServiceAnnotations"));
	t->status_text = shoal_malloc(o->status_len + 1);
	if (!t->spec_text || !t->ann_text || !t->status_text)
		return -ENOMEM;
	memcpy(t->status_text, o->status, o->status_len);
	t->status_text[o->status_len] = '\0';
	return alloc__task_fill(t, sp);
}

static struct orch_task *task_decode(struct orch_model *m,
				     const struct store_object *o)
{
	json_t *sp = parse(o->spec, o->spec_len);
	json_t *st = parse(o->status, o->status_len);
	struct orch_task *t = shoal_calloc(1, sizeof(*t));
	if (!t || !sp || !st || task_fill(m, t, o, sp, st) < 0) {
		task_free(t);
		t = NULL;
	}
	json_decref(sp);
	json_decref(st);
	return t;
}

bool orch_task_assigned(const struct orch_task *t)
{
	/* A finished task stays in its node's set until the history limit
	 * (or its service's removal) deletes it: the node keeps its
	 * container, for `docker ps -a` and service logs, as Docker does. */
	return *t->node_id && t->state >= TASK_ASSIGNED &&
	       t->state != TASK_ORPHANED;
}

/* ------------------------------------------------------------ put, del */

static int put(struct hmap *h, const char *id, void *v, void (*fr)(void *))
{
	void *old = NULL;
	int rc = hmap_put_str(h, id, v, &old);
	if (rc < 0) {
		fr(v);
		return rc;
	}
	if (old)
		fr(old);
	return 0;
}

int orch__written(struct orch_model *m, struct orch_task *t, bool fresh,
		  size_t spec_len, uint64_t spec_hash)
{
	struct orch__written *w = shoal_calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	*w = (struct orch__written){fresh ? t : NULL, spec_len, spec_hash};
	void *old = NULL;
	if (hmap_put_str(&m->written, t->id, w, &old) < 0) {
		shoal_free(w);
		return -ENOMEM;
	}
	fr_written(old);
	return 0;
}

/*
 * @o is a task a pass wrote, exactly as written (same spec bytes, by
 * length and hash, and same status bytes): the model's task (in place
 * since the pass, or the new one kept) is it, but for what the store
 * adds (version, times). NULL when it is not (a later write, another
 * writer): then it is decoded as any other.
 */
static struct orch_task *own_write(struct orch_model *m,
				   const struct store_object *o)
{
	struct orch__written *w = hmap_del_str(&m->written, o->id);
	if (!w)
		return NULL;
	struct orch_task *t =
		w->fresh ? w->fresh : hmap_get_str(&m->tasks, o->id);
	size_t sl = t ? strlen(t->status_text) : 0;
	bool same = t && w->spec_len == o->spec_len &&
		    w->spec_hash == orch__hash(o->spec, o->spec_len) &&
		    sl == o->status_len &&
		    memcmp(o->status, t->status_text, sl) == 0;
	if (!same) {
		fr_written(w);
		return NULL;
	}
	t->version = o->version;
	t->created_ns = o->created_ns;
	t->updated_ns = o->updated_ns;
	t->spec_len = w->spec_len;
	t->spec_hash = w->spec_hash;
	shoal_free(w); /* a fresh task now belongs to the caller */
	return t;
}

int orch_model_put(struct orch_model *m, const struct store_object *o)
{
	switch (o->table) {
	case STORE_NODES: {
		struct orch_node *n = node_decode(o);
		if (!n)
			return -EINVAL;
		struct orch_node *was = hmap_get_str(&m->nodes, n->id);
		if (!was || strcmp(was->addr, n->addr))
			m->all_dirty = true; /* a VTEP in other nodes' items */
		if (was && was->ready != n->ready)
			mark_node(m, n->id); /* the ingress item */
		if (was && was->down != n->down)
			m->all_dirty = true; /* its peers in others' items */
		m->nodes_gen++;
		return put(&m->nodes, n->id, n, fr_node);
	}
	case STORE_SERVICES: {
		struct orch_service *s = service_decode(o);
		if (!s)
			return -EINVAL;
		struct orch_service *was = hmap_get_str(&m->services, s->id);
		if (s->nets || s->nvips || s->ports ||
		    (was && (was->nets || was->nvips || was->ports)))
			m->all_dirty = true; /* in network items */
		m->services_gen++;
		return put(&m->services, s->id, s, fr_service);
	}
	case STORE_NETWORKS: {
		struct orch_net *n = alloc__net_decode(o);
		if (!n)
			return -EINVAL;
		m->all_dirty = true;
		return put(&m->networks, n->id, n, fr_net);
	}
	case STORE_TASKS: {
		struct orch_task *t =
			hmap_len(&m->written) ? own_write(m, o) : NULL;
		struct orch_task *old = hmap_get_str(&m->tasks, o->id);
		if (t && t == old) {
			/* Changed in place by a pass: what it was is gone, so a
			 * task with addresses may have changed what every node
			 * on its networks sees (Ready, an address, its end). */
			mark_node(m, t->node_id);
			if (t->naddrs)
				m->all_dirty = true;
			return 0; /* already the model's */
		}
		if (!t)
			t = task_decode(m, o);
		if (!t)
			return -EINVAL;
		if (old)
			mark_node(m, old->node_id);
		mark_node(m, t->node_id);
		if (t->naddrs || (old && old->naddrs))
			m->all_dirty = true; /* a peer of other nodes */
		return put(&m->tasks, t->id, t, fr_task);
	}
	default:
		return 0;
	}
}

void orch_model_del(struct orch_model *m, enum store_table t, const char *id)
{
	switch (t) {
	case STORE_NODES:
		m->nodes_gen++;
		node_free(hmap_del_str(&m->nodes, id));
		break;
	case STORE_SERVICES:
		m->services_gen++;
		service_free(hmap_del_str(&m->services, id));
		break;
	case STORE_TASKS: {
		fr_written(hmap_del_str(&m->written, id));
		struct orch_task *old = hmap_del_str(&m->tasks, id);
		if (old)
			mark_node(m, old->node_id);
		if (old && old->naddrs)
			m->all_dirty = true;
		task_free(old);
		break;
	}
	case STORE_NETWORKS:
		fr_net(hmap_del_str(&m->networks, id));
		m->all_dirty = true;
		break;
	default:
		break;
	}
}

int orch_model_load(struct orch_model *m, const struct store *s)
{
	static const enum store_table tables[] = {STORE_NODES, STORE_NETWORKS,
						  STORE_SERVICES, STORE_TASKS};
	orch_model_clear(m);
	for (size_t i = 0; i < 4; i++) {
		const struct store_object **all;
		size_t n;
		int rc = store_list(s, tables[i], &all, &n);
		if (rc < 0)
			return rc;
		for (size_t j = 0; j < n; j++) {
			rc = orch_model_put(m, all[j]);
			if (rc == -ENOMEM) {
				shoal_free(all);
				return rc;
			}
		}
		shoal_free(all);
	}
	m->all_dirty = true;
	return 0;
}

struct orch_service *orch_service_get(const struct orch_model *m,
				      const char *id)
{
	return hmap_get_str(&m->services, id);
}

/* The State a report names (TASK_STATE_COUNT when it names none). */
static enum task_state report_state(const char *json, size_t len)
{
	json_t *j = NULL;
	enum task_state s = TASK_STATE_COUNT;
	if (jsonx_parse(json, len, &j, NULL, 0) == 0 &&
	    task_state_parse(jsonx_str(j, "State", ""), &s) < 0)
		s = TASK_STATE_COUNT;
	json_decref(j);
	return s;
}

int orch_report_add(struct orch_model *m, const char *node_id,
		    const char *task_id, const char *json, size_t len)
{
	if (strlen(task_id) > STORE_ID_MAX || strlen(node_id) > STORE_ID_MAX)
		return -EINVAL;
	struct orch_report *r = report_find(m, node_id, task_id);
	if (r) {
		/* A report that arrives late (a resend, a duplicate) never
		 * replaces a later state. */
		enum task_state was = report_state(r->json, r->len);
		if (was != TASK_STATE_COUNT && report_state(json, len) < was)
			return 0;
		char *copy = shoal_malloc(len + 1);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, json, len);
		copy[len] = '\0';
		shoal_free(r->json);
		r->json = copy;
		r->len = len;
		return 0;
	}
	if (m->nreports >= ORCH_MAX_REPORTS)
		return -ENOBUFS;
	if (m->nreports == m->capreports) {
		size_t cap = m->capreports ? 2 * m->capreports : 64;
		struct orch_report *a =
			shoal_realloc(m->reports, cap * sizeof(*a));
		if (!a)
			return -ENOMEM;
		m->reports = a;
		m->capreports = cap;
	}
	r = &m->reports[m->nreports];
	memset(r, 0, sizeof(*r));
	snprintf(r->task_id, sizeof(r->task_id), "%s", task_id);
	snprintf(r->node_id, sizeof(r->node_id), "%s", node_id);
	r->json = shoal_malloc(len + 1);
	if (!r->json)
		return -ENOMEM;
	memcpy(r->json, json, len);
	r->json[len] = '\0';
	r->len = len;
	char key[2 * STORE_ID_MAX + 2];
	size_t kl = report_key(node_id, task_id, key);
	if (hmap_put(&m->report_idx, key, kl, (void *)(m->nreports + 1), NULL) <
	    0) {
		shoal_free(r->json);
		return -ENOMEM;
	}
	m->nreports++;
	return 0;
}

/* ------------------------------------------------------------ encoding */

/* A JSON string literal of @s into @b. */
static int str_lit(struct buf *b, const char *s)
{
	json_t *v = json_string(s);
	if (!v)
		return -EINVAL;
	char tmp[600];
	size_t n = json_dumpb(v, tmp, sizeof(tmp), JSON_ENCODE_ANY);
	json_decref(v);
	if (n == 0 || n > sizeof(tmp))
		return -EINVAL;
	return buf_append(b, tmp, n);
}

int orch__task_spec(const struct orch_task *t, struct buf *b)
{
	int rc = buf_printf(b,
			    "{\"ServiceID\":\"%s\",\"Slot\":%llu,"
			    "\"NodeID\":\"%s\",\"Spec\":",
			    t->service_id, (unsigned long long)t->slot,
			    t->node_id);
	rc |= buf_append_str(b, t->spec_text);
	rc |= buf_append_str(b, ",\"ServiceAnnotations\":");
	rc |= buf_append_str(b, t->ann_text);
	if (t->nets_text) {
		rc |= buf_append_str(b, ",\"NetworksAttachments\":");
		rc |= buf_append_str(b, t->nets_text);
	}
	if (t->ports_text) {
		rc |= buf_append_str(b, ",\"Endpoint\":");
		rc |= buf_append_str(b, t->ports_text);
	}
	rc |= buf_printf(b,
			 ",\"DesiredState\":\"%s\",\"SpecVersion\":{\"Index\":"
			 "%lld},\"Mode\":\"%s\"}",
			 task_state_name(t->desired), (long long)t->gen,
			 t->mode);
	return rc ? -ENOMEM : 0;
}

/* A status written by the managers (pending, assigned, orphaned). */
int orch__task_set_status(struct orch_task *t, int64_t now_ns)
{
	struct buf bb = BUF_INIT, *b = &bb;
	char ts[48];
	time_format_rfc3339(now_ns, ts, sizeof(ts));
	int rc = buf_printf(b,
			    "{\"Timestamp\":\"%s\",\"State\":\"%s\","
			    "\"Message\":",
			    ts, task_state_name(t->state));
	rc |= str_lit(b, t->msg);
	rc |= buf_append_str(b, ",\"Err\":");
	rc |= str_lit(b, t->err);
	rc |= buf_append_str(b, ",\"ContainerStatus\":{},\"PortStatus\":{}}");
	char *text = rc ? NULL : buf_take(b, NULL);
	if (!text) {
		buf_fini(b);
		return -ENOMEM;
	}
	shoal_free(t->status_text);
	t->status_text = text;
	return 0;
}

char *orch_assignment_json(const struct orch_task *t, size_t *len)
{
	struct buf b = BUF_INIT;
	/* A network attachment (no service) is not a task for the node's
	 * executor: its agent's network part takes it (docs/overlay.md). */
	int rc = buf_append_str(
		&b, *t->service_id ? "{" : "{\"Kind\":\"attachment\",");
	rc |= buf_printf(&b, "\"ID\":\"%s\",\"Version\":{\"Index\":%llu},",
			 t->id, (unsigned long long)t->version);
	/* The task spec's fields, then the status. */
	struct buf sp = BUF_INIT;
	rc |= orch__task_spec(t, &sp);
	if (rc == 0 && sp.len > 2)
		rc |= buf_append(&b, sp.data + 1, sp.len - 2);
	buf_fini(&sp);
	rc |= buf_append_str(&b, ",\"Status\":");
	rc |= buf_append_str(&b, t->status_text);
	rc |= buf_append_str(&b, "}");
	if (rc) {
		buf_fini(&b);
		return NULL;
	}
	return buf_take(&b, len);
}
