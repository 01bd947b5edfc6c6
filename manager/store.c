/*
 * The replicated store: tables of immutable, reference-counted objects, the
 * deterministic apply of a batch, reads, snapshots' restore side, and
 * watchers (see store.h for the contract, docs/store.md for the choices).
 *
 * Apply runs in three steps so that a batch is all or nothing:
 *   1. check every operation against the store as it was before the batch,
 *      and build the new version of every object it changes (allocations
 *      happen here, the store is not touched; any refusal stops here);
 *   2. insert the created objects: the only step that can fail (-ENOMEM in
 *      the hash maps), undone on failure by deletions, which cannot fail;
 *   3. replace the updated objects and remove the deleted ones, queue the
 *      events: none of it allocates (hash map replacements and deletions,
 *      watcher rings sized at watch time), so none of it can fail.
 * Only then does the applied index move. Nothing in apply depends on the
 * hash maps' order, the clock or randomness, so every manager ends in the
 * same state.
 */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "manager/store.h"
#include "manager/store_int.h"

static const char *const table_names[STORE_TABLE_COUNT] = {
	[STORE_NODES] = "nodes",       [STORE_CLUSTERS] = "clusters",
	[STORE_SERVICES] = "services", [STORE_TASKS] = "tasks",
	[STORE_NETWORKS] = "networks", [STORE_SECRETS] = "secrets",
	[STORE_CONFIGS] = "configs",
};

const char *store_table_name(enum store_table t)
{
	return (unsigned)t < STORE_TABLE_COUNT ? table_names[t] : "?";
}

bool store_table_unique_names(enum store_table t)
{
	return t == STORE_CLUSTERS || t == STORE_SERVICES ||
	       t == STORE_NETWORKS || t == STORE_SECRETS || t == STORE_CONFIGS;
}

bool store__valid_id(const char *s, size_t len)
{
	if (len == 0 || len > STORE_ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		      c == '-'))
			return false;
	}
	return true;
}

bool store__valid_name(const char *s, size_t len)
{
	if (len == 0 || len > STORE_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return false;
	return true;
}

/* ------------------------------------------------------------- objects */

struct store_object *store__object_new(enum store_table t, const char *id,
				       size_t id_len, const char *name,
				       size_t name_len, const uint8_t *spec,
				       size_t spec_len, const uint8_t *status,
				       size_t status_len)
{
	size_t size = sizeof(struct store_object) + id_len + 1 + name_len + 1 +
		      spec_len + status_len;
	struct store_object *o = shoal_malloc(size);
	if (!o)
		return NULL;
	char *p = (char *)(o + 1);
	memcpy(p, id, id_len);
	p[id_len] = '\0';
	o->id = p;
	p += id_len + 1;
	if (name_len)
		memcpy(p, name, name_len);
	p[name_len] = '\0';
	o->name = p;
	p += name_len + 1;
	if (spec_len)
		memcpy(p, spec, spec_len);
	o->spec = (const uint8_t *)p;
	o->spec_len = spec_len;
	p += spec_len;
	if (status_len)
		memcpy(p, status, status_len);
	o->status = (const uint8_t *)p;
	o->status_len = status_len;
	o->version = 0;
	o->created_ns = 0;
	o->updated_ns = 0;
	o->table = t;
	o->refs = 1;
	return o;
}

const struct store_object *store_object_ref(const struct store_object *o)
{
	/* Objects are immutable but for their count, which is the store's. */
	struct store_object *m = (struct store_object *)o;
	assert(m->refs > 0);
	m->refs++;
	return o;
}

void store_object_unref(const struct store_object *o)
{
	struct store_object *m = (struct store_object *)o;
	if (!m)
		return;
	assert(m->refs > 0);
	if (--m->refs == 0)
		shoal_free(m);
}

/* -------------------------------------------------------------- tables */

static bool named(const struct store_object *o)
{
	return o->name[0] && store_table_unique_names(o->table);
}

int store__tab_insert(struct store_tab *tab, struct store_object *o)
{
	size_t id_len = strlen(o->id);
	if (hmap_has(&tab->by_id, o->id, id_len))
		return -EEXIST;
	if (named(o) && hmap_get_str(&tab->by_name, o->name))
		return -EEXIST;
	int rc = hmap_put(&tab->by_id, o->id, id_len, o, NULL);
	if (rc)
		return rc;
	if (named(o)) {
		rc = hmap_put_str(&tab->by_name, o->name, o, NULL);
		if (rc) {
			hmap_del(&tab->by_id, o->id, id_len);
			return rc;
		}
	}
	return 0;
}

static void tab_remove(struct store_tab *tab, const struct store_object *o)
{
	hmap_del_str(&tab->by_id, o->id);
	if (named(o))
		hmap_del_str(&tab->by_name, o->name);
}

void store__tabs_fini(struct store_tab *tabs)
{
	for (int t = 0; t < STORE_TABLE_COUNT; t++) {
		size_t pos = 0;
		const void *key;
		size_t klen;
		void *val;
		while (hmap_next(&tabs[t].by_id, &pos, &key, &klen, &val))
			store_object_unref(val);
		hmap_fini(&tabs[t].by_id);
		hmap_fini(&tabs[t].by_name);
	}
}

static int cmp_objects(const void *a, const void *b)
{
	const struct store_object *const *x = a, *const *y = b;
	return strcmp((*x)->id, (*y)->id);
}

int store__sorted(const struct store_tab *tab, const struct store_object ***out,
		  size_t *n)
{
	size_t len = hmap_len(&tab->by_id), i = 0, pos = 0;
	const struct store_object **arr =
		shoal_malloc((len ? len : 1) * sizeof(*arr));
	if (!arr)
		return -ENOMEM;
	const void *key;
	size_t klen;
	void *val;
	while (hmap_next(&tab->by_id, &pos, &key, &klen, &val))
		arr[i++] = val;
	qsort(arr, len, sizeof(*arr), cmp_objects);
	*out = arr;
	*n = len;
	return 0;
}

/* --------------------------------------------------------------- store */

struct store_watcher {
	struct list_node link;
	struct store *store;
	uint32_t tables;
	struct store_event *ring;
	size_t cap, head, len;
	bool overflowed;
	bool pending_notify;
	store_notify_fn *notify;
	void *arg;
};

int store_new(struct store **out)
{
	struct store *s = shoal_calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	list_init(&s->watchers);
	*out = s;
	return 0;
}

void store_free(struct store *s)
{
	if (!s)
		return;
	while (!list_empty(&s->watchers)) {
		struct store_watcher *w = list_entry(
			list_front(&s->watchers), struct store_watcher, link);
		store_unwatch(w);
	}
	store__tabs_fini(s->tabs);
	shoal_free(s);
}

uint64_t store_applied_index(const struct store *s)
{
	return s->applied;
}

static const struct store_object *
get_n(const struct store *s, enum store_table t, const char *id, size_t len)
{
	if ((unsigned)t >= STORE_TABLE_COUNT)
		return NULL;
	return hmap_get(&s->tabs[t].by_id, id, len);
}

const struct store_object *store_get(const struct store *s, enum store_table t,
				     const char *id)
{
	return id ? get_n(s, t, id, strlen(id)) : NULL;
}

const struct store_object *
store_get_by_name(const struct store *s, enum store_table t, const char *name)
{
	if ((unsigned)t >= STORE_TABLE_COUNT || !name ||
	    !store_table_unique_names(t))
		return NULL;
	return hmap_get_str(&s->tabs[t].by_name, name);
}

size_t store_count(const struct store *s, enum store_table t)
{
	return (unsigned)t < STORE_TABLE_COUNT ? hmap_len(&s->tabs[t].by_id)
					       : 0;
}

int store_list(const struct store *s, enum store_table t,
	       const struct store_object ***out, size_t *n)
{
	if ((unsigned)t >= STORE_TABLE_COUNT)
		return -EINVAL;
	return store__sorted(&s->tabs[t], out, n);
}

/* ------------------------------------------------------------ watchers */

void store_event_fini(struct store_event *ev)
{
	store_object_unref(ev->obj);
	store_object_unref(ev->old);
	ev->obj = NULL;
	ev->old = NULL;
}

int store_watch(struct store *s, uint32_t tables, size_t max_events,
		store_notify_fn *notify, void *arg, struct store_watcher **out)
{
	if (!tables || (tables & ~STORE_ALL_TABLES) || max_events == 0 ||
	    max_events > 65536)
		return -EINVAL;
	struct store_watcher *w = shoal_calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->ring = shoal_calloc(max_events, sizeof(*w->ring));
	if (!w->ring) {
		shoal_free(w);
		return -ENOMEM;
	}
	w->store = s;
	w->tables = tables;
	w->cap = max_events;
	w->notify = notify;
	w->arg = arg;
	list_push_back(&s->watchers, &w->link);
	*out = w;
	return 0;
}

static void watcher_drop(struct store_watcher *w)
{
	for (size_t i = 0; i < w->len; i++)
		store_event_fini(&w->ring[(w->head + i) % w->cap]);
	w->head = 0;
	w->len = 0;
}

void store_unwatch(struct store_watcher *w)
{
	if (!w)
		return;
	watcher_drop(w);
	list_remove(&w->link);
	shoal_free(w->ring);
	shoal_free(w);
}

int store_watch_next(struct store_watcher *w, struct store_event *ev)
{
	if (w->overflowed) {
		w->overflowed = false;
		return -ENOBUFS;
	}
	if (w->len == 0)
		return -EAGAIN;
	*ev = w->ring[w->head];
	memset(&w->ring[w->head], 0, sizeof(*ev));
	w->head = (w->head + 1) % w->cap;
	w->len--;
	return 0;
}

size_t store_watch_pending(const struct store_watcher *w)
{
	return w->len;
}

/* push: the ring has room (checked by the caller); takes new references. */
static void watcher_push(struct store_watcher *w, enum store_event_kind kind,
			 enum store_table t, uint64_t index,
			 const struct store_object *obj,
			 const struct store_object *old)
{
	struct store_event *ev = &w->ring[(w->head + w->len) % w->cap];
	ev->kind = kind;
	ev->table = t;
	ev->index = index;
	ev->obj = obj ? store_object_ref(obj) : NULL;
	ev->old = old ? store_object_ref(old) : NULL;
	w->len++;
	w->pending_notify = true;
}

static void notify_all(struct store *s)
{
	struct list_node *pos, *tmp;
	list_for_each_safe(pos, tmp, &s->watchers)
	{
		struct store_watcher *w =
			list_entry(pos, struct store_watcher, link);
		bool due = w->pending_notify;
		w->pending_notify = false;
		if (due && w->notify)
			w->notify(w, w->arg);
	}
}

/* ---------------------------------------------------------------- apply */

/* One operation of a batch being applied: the object before and after. */
struct pending {
	const struct store_op *op;
	const struct store_object *old; /* borrowed from the table */
	struct store_object *obj;	/* owned until committed */
};

static int refuse(struct store_result *res, int op, int code, const char *fmt,
		  ...) __attribute__((format(printf, 4, 5)));

static int refuse(struct store_result *res, int op, int code, const char *fmt,
		  ...)
{
	if (res) {
		va_list ap;
		va_start(ap, fmt);
		res->failed_op = op;
		vsnprintf(res->msg, sizeof(res->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}

static struct store_object *next_version(const struct store_op *op,
					 const struct store_object *old,
					 uint64_t index, int64_t time_ns)
{
	struct store_object *o;
	if (op->kind == STORE_OP_CREATE) {
		o = store__object_new(op->table, op->id, op->id_len, op->name,
				      op->name_len, op->spec, op->spec_len,
				      op->status, op->status_len);
		if (o)
			o->created_ns = time_ns;
	} else {
		o = store__object_new(
			op->table, old->id, strlen(old->id), old->name,
			strlen(old->name), op->has_spec ? op->spec : old->spec,
			op->has_spec ? op->spec_len : old->spec_len,
			op->has_status ? op->status : old->status,
			op->has_status ? op->status_len : old->status_len);
		if (o)
			o->created_ns = old->created_ns;
	}
	if (o) {
		o->version = index;
		o->updated_ns = time_ns;
	}
	return o;
}

/* check_op: step 1 for one operation; fills @p or refuses. */
static int check_op(const struct store *s, struct pending *p, int i,
		    struct hmap *names, uint64_t index, int64_t time_ns,
		    struct store_result *res)
{
	const struct store_op *op = p->op;
	const char *tn = store_table_name(op->table);
	int id_len = (int)op->id_len;
	p->old = get_n(s, op->table, op->id, op->id_len);
	if (op->kind == STORE_OP_CREATE) {
		if (p->old)
			return refuse(res, i, SHOAL_ECONFLICT,
				      "%s %.*s already exists", tn, id_len,
				      op->id);
		if (op->name_len && store_table_unique_names(op->table)) {
			const struct store_tab *tab = &s->tabs[op->table];
			/* Names are per table: key on table byte + name. */
			char key[1 + STORE_NAME_MAX];
			key[0] = (char)op->table;
			memcpy(key + 1, op->name, op->name_len);
			if (hmap_has(&tab->by_name, op->name, op->name_len) ||
			    hmap_has(names, key, 1 + op->name_len))
				return refuse(res, i, SHOAL_ECONFLICT,
					      "%s name %.*s is already in use",
					      tn, (int)op->name_len, op->name);
			if (hmap_put(names, key, 1 + op->name_len, NULL, NULL))
				return -ENOMEM;
		}
	} else if (!p->old) {
		return refuse(res, i, SHOAL_ENOTFOUND, "%s %.*s not found", tn,
			      id_len, op->id);
	} else if (p->old->version != op->version) {
		return refuse(res, i, SHOAL_ESTALE,
			      "%s %.*s: update out of sequence (version %llu, "
			      "current %llu)",
			      tn, id_len, op->id,
			      (unsigned long long)op->version,
			      (unsigned long long)p->old->version);
	}
	if (op->kind == STORE_OP_DELETE)
		return 0;
	p->obj = next_version(op, p->old, index, time_ns);
	return p->obj ? 0 : -ENOMEM;
}

static void free_pending(struct pending *ps, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		store_object_unref(ps[i].obj);
	shoal_free(ps);
}

/* insert_created: step 2; on -ENOMEM every insertion made is undone. */
static int insert_created(struct store *s, struct pending *ps, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		if (ps[i].op->kind != STORE_OP_CREATE)
			continue;
		int rc = store__tab_insert(&s->tabs[ps[i].obj->table],
					   ps[i].obj);
		if (rc) {
			/* -EEXIST cannot happen: step 1 checked ids, names. */
			while (i-- > 0)
				if (ps[i].op->kind == STORE_OP_CREATE)
					tab_remove(&s->tabs[ps[i].obj->table],
						   ps[i].obj);
			return rc;
		}
	}
	return 0;
}

static enum store_event_kind event_kind(enum store_op_kind k)
{
	return k == STORE_OP_CREATE   ? STORE_EVENT_CREATE
	       : k == STORE_OP_UPDATE ? STORE_EVENT_UPDATE
				      : STORE_EVENT_DELETE;
}

/* queue_events: step 3's events; overflowing watchers lose their queue. */
static void queue_events(struct store *s, const struct pending *ps, uint32_t n,
			 uint64_t index)
{
	struct list_node *pos;
	list_for_each(pos, &s->watchers)
	{
		struct store_watcher *w =
			list_entry(pos, struct store_watcher, link);
		size_t want = 0;
		for (uint32_t i = 0; i < n; i++)
			want += !!(w->tables &
				   STORE_TABLE_BIT(ps[i].op->table));
		if (want == 0 || w->overflowed)
			continue;
		if (want > w->cap - w->len) {
			watcher_drop(w);
			w->overflowed = true;
			w->pending_notify = true;
			continue;
		}
		for (uint32_t i = 0; i < n; i++) {
			const struct pending *p = &ps[i];
			if (!(w->tables & STORE_TABLE_BIT(p->op->table)))
				continue;
			enum store_event_kind k = event_kind(p->op->kind);
			watcher_push(w, k, p->op->table, index,
				     k == STORE_EVENT_DELETE ? p->old : p->obj,
				     k == STORE_EVENT_UPDATE ? p->old : NULL);
		}
	}
}

/* commit: step 3; cannot fail. Releases the table's old versions. */
static void commit(struct store *s, struct pending *ps, uint32_t n,
		   uint64_t index)
{
	for (uint32_t i = 0; i < n; i++) {
		struct pending *p = &ps[i];
		struct store_tab *tab = &s->tabs[p->op->table];
		if (p->op->kind == STORE_OP_UPDATE) {
			int rc = hmap_put_str(&tab->by_id, p->obj->id, p->obj,
					      NULL);
			assert(rc == 0); /* replacing never allocates */
			if (named(p->obj))
				rc = hmap_put_str(&tab->by_name, p->obj->name,
						  p->obj, NULL);
			assert(rc == 0);
			(void)rc;
		} else if (p->op->kind == STORE_OP_DELETE) {
			tab_remove(tab, p->old);
		}
	}
	queue_events(s, ps, n, index);
	for (uint32_t i = 0; i < n; i++) {
		if (ps[i].op->kind != STORE_OP_CREATE)
			store_object_unref(ps[i].old);
		ps[i].obj = NULL; /* the table's reference now */
	}
}

/* A batch decoded and checked against the store, ready to commit. */
struct prepared {
	struct store_decoded d;
	struct pending *ps;
	struct hmap names; /* unique names created by the batch */
};

static void prepared_fini(struct prepared *p)
{
	if (p->ps)
		free_pending(p->ps, p->d.nops);
	hmap_fini(&p->names);
	store_decoded_fini(&p->d);
}

/*
 * prepare: step 1 for the whole batch. Returns 0 (then release @p with
 * prepared_fini), -ENOMEM, or a refusal (-EINVAL for a malformed batch).
 */
static int prepare(const struct store *s, const void *data, size_t len,
		   uint64_t index, struct prepared *p, struct store_result *res)
{
	char err[160];
	memset(p, 0, sizeof(*p));
	int rc = store_batch_decode(data, len, &p->d, err, sizeof(err));
	if (rc == -EINVAL)
		return refuse(res, -1, rc, "malformed batch: %s", err);
	if (rc)
		return rc;
	p->ps = shoal_calloc(p->d.nops, sizeof(*p->ps));
	if (!p->ps) {
		rc = -ENOMEM;
		goto err_fini;
	}
	for (uint32_t i = 0; i < p->d.nops; i++) {
		p->ps[i].op = &p->d.ops[i];
		rc = check_op(s, &p->ps[i], (int)i, &p->names, index,
			      p->d.time_ns, res);
		if (rc)
			goto err_fini;
	}
	return 0;

err_fini:
	prepared_fini(p);
	return rc;
}

static void result_init(struct store_result *res)
{
	if (res) {
		res->failed_op = -1;
		res->msg[0] = '\0';
	}
}

int store_check(const struct store *s, const void *data, size_t len,
		struct store_result *res)
{
	struct prepared p;
	result_init(res);
	int rc = prepare(s, data, len, s->applied + 1, &p, res);
	if (!rc)
		prepared_fini(&p);
	return rc;
}

int store_apply(struct store *s, const void *data, size_t len, uint64_t index,
		struct store_result *res)
{
	struct prepared p;
	result_init(res);
	if (index <= s->applied)
		return refuse(res, -1, -EALREADY,
			      "entry %llu is not after applied entry %llu",
			      (unsigned long long)index,
			      (unsigned long long)s->applied);
	int rc = prepare(s, data, len, index, &p, res);
	if (rc) {
		if (rc != -ENOMEM)
			s->applied = index; /* refused: consumed all the same */
		return rc;
	}
	rc = insert_created(s, p.ps, p.d.nops);
	if (rc) {
		prepared_fini(&p);
		return rc;
	}
	commit(s, p.ps, p.d.nops, index);
	s->applied = index;
	prepared_fini(&p);
	notify_all(s);
	return 0;
}

/* ------------------------------------------------------------- restore */

int store_restore(struct store *s, const void *data, size_t len,
		  struct store_result *res)
{
	struct store_tab tabs[STORE_TABLE_COUNT];
	uint64_t applied = 0;
	char err[160] = "";
	result_init(res);
	memset(tabs, 0, sizeof(tabs));
	int rc = store__snapshot_decode(data, len, tabs, &applied, err,
					sizeof(err));
	if (rc) {
		store__tabs_fini(tabs);
		if (rc == -EINVAL)
			return refuse(res, -1, rc, "bad snapshot: %s", err);
		return rc;
	}
	store__tabs_fini(s->tabs);
	memcpy(s->tabs, tabs, sizeof(tabs));
	s->applied = applied;

	struct list_node *pos;
	list_for_each(pos, &s->watchers)
	{
		struct store_watcher *w =
			list_entry(pos, struct store_watcher, link);
		watcher_drop(w);
		w->overflowed = false;
		watcher_push(w, STORE_EVENT_RESET, 0, applied, NULL, NULL);
	}
	notify_all(s);
	return 0;
}
