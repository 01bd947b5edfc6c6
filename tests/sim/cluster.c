/*
 * The simulated cluster behind tests/unit/raft and tests/sim (see
 * cluster.h). Everything is driven by one event heap ordered by (virtual
 * time, sequence number), so a run depends only on its options and seed.
 *
 * The disk model: each update's persistent part becomes a write that
 * completes after a latency and in order. Only completed writes are
 * durable; completion applies the write to the node's durable image, calls
 * raft_persisted() and releases the update's msgs_durable. A crash drops the
 * queue; with @torn the write in progress is half done: its hard state and
 * truncation happened and a random prefix of its entries reached the disk,
 * which is what a disk log finds after losing power mid-write (the entries
 * were never acknowledged).
 *
 * The checker keeps an oracle: for every (index, term) ever appended to any
 * log, the entry's hash and its predecessor's term (log matching); for every
 * index ever applied, the entry applied (state machine safety); the leader
 * of each term (election safety); acknowledged writes and reads.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "tests/sim/cluster.h"

/* ---- PRNG: xoshiro256** seeded by splitmix64 ---- */

struct prng {
	uint64_t s[4];
};

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void prng_seed(struct prng *p, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		p->s[i] = splitmix(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t prng_next(struct prng *p)
{
	uint64_t *s = p->s, result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

static uint64_t prng_range(struct prng *p, uint64_t lo, uint64_t hi)
{
	return hi <= lo ? lo : lo + prng_next(p) % (hi - lo + 1);
}

static bool prng_ppm(struct prng *p, uint32_t ppm)
{
	return ppm && prng_next(p) % 1000000 < ppm;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	return splitmix(&h);
}

static uint64_t hash_bytes(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ULL;
	return h;
}

/* ---- growable arrays ---- */

static void *xgrow(void *p, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap ? *cap : 16;

	if (need <= *cap)
		return p;
	while (n < need)
		n *= 2;
	p = shoal_realloc(p, n * size);
	if (!p)
		abort(); /* test harness: out of memory is fatal */
	*cap = n;
	return p;
}

#define PUSH(arr, n, cap, v)                                                   \
	do {                                                                   \
		(arr) = xgrow((arr), &(cap), (n) + 1, sizeof(*(arr)));         \
		(arr)[(n)++] = (v);                                            \
	} while (0)

/* ---- messages ---- */

static struct raft_msg *msg_copy(const struct raft_msg *m)
{
	struct raft_msg *c = shoal_malloc(sizeof(*c));

	if (!c)
		abort();
	*c = *m;
	if (m->type == RAFT_MSG_APPEND)
		c->append.entries = NULL;
	if (m->type == RAFT_MSG_SNAPSHOT)
		c->snapshot.data = NULL;
	if (m->type == RAFT_MSG_APPEND && m->append.n_entries) {
		size_t n = m->append.n_entries;

		c->append.entries = shoal_calloc(n, sizeof(struct raft_entry));
		for (size_t i = 0; i < n; i++) {
			c->append.entries[i] = m->append.entries[i];
			c->append.entries[i].data =
				m->append.entries[i].len
					? shoal_memdup(
						  m->append.entries[i].data,
						  m->append.entries[i].len)
					: NULL;
		}
	} else if (m->type == RAFT_MSG_SNAPSHOT && m->snapshot.len) {
		c->snapshot.data =
			shoal_memdup(m->snapshot.data, m->snapshot.len);
	}
	return c;
}

static void msg_free(struct raft_msg *m)
{
	if (!m)
		return;
	if (m->type == RAFT_MSG_APPEND) {
		for (size_t i = 0; i < m->append.n_entries; i++)
			shoal_free(m->append.entries[i].data);
		shoal_free(m->append.entries);
	} else if (m->type == RAFT_MSG_SNAPSHOT) {
		shoal_free(m->snapshot.data);
	}
	shoal_free(m);
}

/* ---- events ---- */

enum ev_type { EV_MSG, EV_TICK, EV_DISK };

struct ev {
	uint64_t t, seq;
	enum ev_type type;
	uint32_t node;
	uint64_t gen;
	struct raft_msg *msg;
};

/* ---- per node ---- */

struct dentry { /* a durable entry */
	uint64_t term;
	enum raft_entry_type type;
	uint32_t len;
	void *data;
};

struct disk {
	struct raft_hard_state hard;
	struct raft_snapshot_meta snap;
	unsigned char *snap_data;
	size_t snap_len;
	struct dentry *ents; /* index first + i */
	size_t n, cap;
	uint64_t first;
	unsigned char *in_data; /* snapshot being received */
	size_t in_len, in_cap;
};

struct write {
	uint64_t done_at;
	bool log_reset;
	uint64_t reset_index;
	uint64_t truncate_from;
	struct raft_entry *ents;
	size_t n_ents;
	bool hard_changed;
	struct raft_hard_state hard;
	struct raft_snapshot_chunk *chunks;
	size_t n_chunks;
	struct raft_msg **dmsgs;
	size_t n_dmsgs;
	uint64_t compact_upto;
	struct write *next;
};

struct vent { /* the node's log as handed to its shell, for checks */
	uint64_t term;
	uint64_t hash;
};

struct pending_prop {
	uint64_t index, term, hash;
};

struct pending_read {
	uint64_t token;
	uint64_t min_applied; /* max acked write index when it started */
	uint64_t index;	      /* read index, once granted */
	bool granted;
};

struct node {
	uint64_t id;
	bool up;
	uint64_t gen; /* incarnation */
	struct raft *r;
	struct raft_log_reader lreader;
	struct raft_snapshot_reader sreader;
	struct disk disk;
	struct write *wq, *wq_tail;
	uint32_t disk_min, disk_max;
	uint64_t tick_at, tick_gen;
	bool tick_set;
	/* state machine */
	uint64_t applied, sm_hash, sm_count;
	/* view of the log */
	struct vent *view;
	size_t view_cap;
	uint64_t view_last;
	struct pending_prop *props;
	size_t n_props, cap_props;
	struct pending_read *reads;
	size_t n_reads, cap_reads;
	enum raft_role role;
	uint64_t term;
};

struct okey { /* oracle of appended entries */
	uint64_t term, hash, prev_term;
};

struct oslot {
	struct okey *keys;
	size_t n, cap;
};

struct applied_rec {
	uint64_t term, hash;
	uint64_t sm; /* state machine hash after applying it */
	bool set;
};

struct cluster {
	struct cluster_opts o;
	struct prng rng;
	uint64_t now, seq, events;
	struct ev *heap;
	size_t n_heap, cap_heap;
	struct node nodes[CLUSTER_MAX + 1];
	bool blocked[CLUSTER_MAX + 1][CLUSTER_MAX + 1];
	struct raft_conf boot;
	char violation[512];
	bool failed;
	/* oracle */
	struct oslot *appended;
	size_t appended_cap;
	struct applied_rec *applied;
	size_t applied_cap;
	uint64_t applied_max;
	uint64_t *leader_of_term;
	size_t lot_cap;
	uint64_t max_acked, acked, reads_served, installs;
	uint64_t next_op, next_token;
	uint64_t leader_since;
};

static void fail(struct cluster *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void fail(struct cluster *c, const char *fmt, ...)
{
	va_list ap;

	if (c->failed)
		return;
	c->failed = true;
	va_start(ap, fmt);
	vsnprintf(c->violation, sizeof(c->violation), fmt, ap);
	va_end(ap);
	if (c->o.trace)
		printf("%8" PRIu64 " VIOLATION %s\n", c->now, c->violation);
}

#define TRACE(c, ...)                                                          \
	do {                                                                   \
		if ((c)->o.trace) {                                            \
			printf("%8" PRIu64 " ", (c)->now);                     \
			printf(__VA_ARGS__);                                   \
			printf("\n");                                          \
		}                                                              \
	} while (0)

void cluster_opts_init(struct cluster_opts *o, uint32_t n)
{
	memset(o, 0, sizeof(*o));
	o->n = n;
	o->net_min_ms = 1;
	o->net_max_ms = 1;
	o->disk_min_ms = 1;
	o->disk_max_ms = 1;
	o->snapshot_bytes = 300;
	raft_options_init(&o->raft);
	o->raft.heartbeat_ms = 50;
	o->raft.election_timeout_ms = 500;
	o->raft.election_jitter_ms = 500;
	o->raft.snapshot_threshold = 64;
	o->raft.snapshot_trailing = 8;
	o->raft.snapshot_chunk = 64;
	o->raft.snapshot_inflight = 2;
	o->raft.mem_entries = 32;
	o->raft.max_msg_entries = 16;
	o->raft.max_inflight_msgs = 8;
	o->raft.max_uncommitted = 64;
	o->raft.max_pending_reads = 64;
}

/* ---- heap ---- */

static bool ev_less(const struct ev *a, const struct ev *b)
{
	return a->t != b->t ? a->t < b->t : a->seq < b->seq;
}

static void heap_push(struct cluster *c, struct ev e)
{
	size_t i;

	e.seq = c->seq++;
	c->heap = xgrow(c->heap, &c->cap_heap, c->n_heap + 1, sizeof(e));
	i = c->n_heap++;
	c->heap[i] = e;
	while (i && ev_less(&c->heap[i], &c->heap[(i - 1) / 2])) {
		struct ev t = c->heap[i];

		c->heap[i] = c->heap[(i - 1) / 2];
		c->heap[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

static struct ev heap_pop(struct cluster *c)
{
	struct ev top = c->heap[0];
	size_t i = 0;

	c->heap[0] = c->heap[--c->n_heap];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < c->n_heap && ev_less(&c->heap[l], &c->heap[m]))
			m = l;
		if (r < c->n_heap && ev_less(&c->heap[r], &c->heap[m]))
			m = r;
		if (m == i)
			break;
		struct ev t = c->heap[i];
		c->heap[i] = c->heap[m];
		c->heap[m] = t;
		i = m;
	}
	return top;
}

/* ---- oracle ---- */

static uint64_t entry_hash(const struct raft_entry *e)
{
	return mix(mix(e->type, e->len), hash_bytes(e->data, e->len));
}

static void oracle_append(struct cluster *c, struct node *nd, uint64_t index,
			  uint64_t term, uint64_t hash)
{
	uint64_t prev = index > 1 && index - 1 <= nd->view_last
				? nd->view[index - 1].term
				: 0;
	struct oslot *s;

	if (index > 1 && prev > term)
		fail(c,
		     "log matching: node %" PRIu64 " index %" PRIu64
		     " has term %" PRIu64 " after term %" PRIu64,
		     nd->id, index, term, prev);
	if (index >= c->appended_cap) {
		size_t old = c->appended_cap;

		c->appended = xgrow(c->appended, &c->appended_cap, index + 1,
				    sizeof(*c->appended));
		memset(c->appended + old, 0,
		       (c->appended_cap - old) * sizeof(*c->appended));
	}
	s = &c->appended[index];
	for (size_t i = 0; i < s->n; i++) {
		struct okey *k = &s->keys[i];

		if (k->term != term)
			continue;
		if (k->hash != hash)
			fail(c,
			     "log matching: two entries at index %" PRIu64
			     " term %" PRIu64 " differ (node %" PRIu64 ")",
			     index, term, nd->id);
		if (prev && k->prev_term && k->prev_term != prev)
			fail(c,
			     "log matching: index %" PRIu64 " term %" PRIu64
			     " follows term %" PRIu64 " on node %" PRIu64
			     " but term %" PRIu64 " elsewhere",
			     index, term, prev, nd->id, k->prev_term);
		if (!k->prev_term)
			k->prev_term = prev;
		return;
	}
	s->keys = xgrow(s->keys, &s->cap, s->n + 1, sizeof(*s->keys));
	s->keys[s->n++] = (struct okey){term, hash, prev};
}

static void view_set(struct cluster *c, struct node *nd, uint64_t index,
		     uint64_t term, uint64_t hash)
{
	if (index >= nd->view_cap) {
		size_t old = nd->view_cap;

		nd->view = xgrow(nd->view, &nd->view_cap, index + 1,
				 sizeof(*nd->view));
		memset(nd->view + old, 0,
		       (nd->view_cap - old) * sizeof(*nd->view));
	}
	oracle_append(c, nd, index, term, hash);
	nd->view[index] = (struct vent){term, hash};
	nd->view_last = index;
}

static void view_reset(struct node *nd, uint64_t index)
{
	if (nd->view_cap)
		memset(nd->view, 0, nd->view_cap * sizeof(*nd->view));
	nd->view_last = index;
}

static void check_apply(struct cluster *c, struct node *nd, uint64_t index,
			uint64_t term, uint64_t hash, uint64_t sm)
{
	struct applied_rec *a;

	if (index >= c->applied_cap) {
		size_t old = c->applied_cap;

		c->applied = xgrow(c->applied, &c->applied_cap, index + 1,
				   sizeof(*c->applied));
		memset(c->applied + old, 0,
		       (c->applied_cap - old) * sizeof(*c->applied));
	}
	a = &c->applied[index];
	if (!a->set) {
		*a = (struct applied_rec){term, hash, sm, true};
		if (index > c->applied_max)
			c->applied_max = index;
	} else if (a->term != term || a->hash != hash || a->sm != sm) {
		fail(c,
		     "state machine safety: node %" PRIu64
		     " applied term %" PRIu64 " at index %" PRIu64
		     ", another node applied term %" PRIu64,
		     nd->id, term, index, a->term);
	}
}

static void check_leader(struct cluster *c, struct node *nd)
{
	uint64_t t = nd->term;

	if (t >= c->lot_cap) {
		size_t old = c->lot_cap;

		c->leader_of_term = xgrow(c->leader_of_term, &c->lot_cap, t + 1,
					  sizeof(uint64_t));
		memset(c->leader_of_term + old, 0,
		       (c->lot_cap - old) * sizeof(uint64_t));
	}
	if (c->leader_of_term[t] && c->leader_of_term[t] != nd->id) {
		fail(c,
		     "election safety: nodes %" PRIu64 " and %" PRIu64
		     " both lead term %" PRIu64,
		     c->leader_of_term[t], nd->id, t);
		return;
	}
	c->leader_of_term[t] = nd->id;
	c->leader_since = c->now;
	if (c->o.on_leader)
		c->o.on_leader(c->o.on_leader_arg, nd->id, t, c->now);
	/* Leader completeness: every applied entry is in the new leader's
	 * log (entries covered by its snapshot are in its state). */
	for (uint64_t i = 1; i <= c->applied_max; i++) {
		const struct applied_rec *a = &c->applied[i];

		if (!a->set || i >= nd->view_cap || !nd->view[i].term)
			continue;
		if (i > nd->view_last || nd->view[i].term != a->term ||
		    nd->view[i].hash != a->hash) {
			fail(c,
			     "leader completeness: leader %" PRIu64
			     " of term %" PRIu64 " lacks applied index %" PRIu64
			     " (has term %" PRIu64 ", applied term %" PRIu64
			     ", last %" PRIu64 ")",
			     nd->id, t, i, nd->view[i].term, a->term,
			     nd->view_last);
			return;
		}
	}
	if (nd->view_last < c->applied_max)
		fail(c,
		     "leader completeness: leader %" PRIu64 " of term %" PRIu64
		     " has last index %" PRIu64 " < applied %" PRIu64,
		     nd->id, t, nd->view_last, c->applied_max);
}

/* ---- disk ---- */

static uint64_t disk_last(const struct disk *d)
{
	return d->first + d->n - 1;
}

static void disk_truncate(struct disk *d, uint64_t from)
{
	while (d->n && disk_last(d) >= from)
		shoal_free(d->ents[--d->n].data);
}

static void disk_append(struct disk *d, const struct raft_entry *e)
{
	struct dentry de = {e->term, e->type, e->len, NULL};

	if (e->index != d->first + d->n) {
		fprintf(stderr,
			"disk: append %" PRIu64 " to a log of [%" PRIu64
			", %zu entries]\n",
			e->index, d->first, d->n);
		abort(); /* the core broke its contract */
	}
	if (e->len)
		de.data = shoal_memdup(e->data, e->len);
	PUSH(d->ents, d->n, d->cap, de);
}

static void disk_reset(struct disk *d, uint64_t index)
{
	disk_truncate(d, d->first);
	d->first = index + 1;
}

static void disk_compact(struct disk *d, uint64_t upto)
{
	size_t k = 0;

	if (!d->n || upto < d->first)
		return;
	k = upto - d->first + 1;
	if (k > d->n)
		k = d->n;
	for (size_t i = 0; i < k; i++)
		shoal_free(d->ents[i].data);
	memmove(d->ents, d->ents + k, (d->n - k) * sizeof(*d->ents));
	d->n -= k;
	d->first += k;
}

static int reader_read(void *arg, uint64_t first, size_t max, size_t max_bytes,
		       struct raft_entry *out, size_t *n)
{
	struct node *nd = arg;
	struct disk *d = &nd->disk;
	size_t bytes = 0;

	*n = 0;
	if (!d->n || first < d->first || first > disk_last(d))
		return -ENOENT;
	for (uint64_t i = first; i <= disk_last(d) && *n < max; i++) {
		const struct dentry *de = &d->ents[i - d->first];

		if (*n && bytes + de->len > max_bytes)
			break;
		out[*n] = (struct raft_entry){de->term, i, de->type, de->len,
					      NULL};
		if (de->len)
			out[*n].data = shoal_memdup(de->data, de->len);
		bytes += de->len;
		(*n)++;
	}
	return 0;
}

static int reader_term(void *arg, uint64_t index, uint64_t *term)
{
	struct node *nd = arg;
	struct disk *d = &nd->disk;

	if (!d->n || index < d->first || index > disk_last(d))
		return -ENOENT;
	*term = d->ents[index - d->first].term;
	return 0;
}

static int snap_read(void *arg, uint64_t index, uint64_t offset, void *buf,
		     size_t len, size_t *n, uint64_t *size)
{
	struct node *nd = arg;
	struct disk *d = &nd->disk;

	if (d->snap.index != index || !d->snap_data)
		return -ENOENT;
	if (offset > d->snap_len)
		return -EINVAL;
	*n = d->snap_len - offset < len ? d->snap_len - offset : len;
	memcpy(buf, d->snap_data + offset, *n);
	*size = d->snap_len;
	return 0;
}

/* A state machine snapshot: applied, hash, count, then filler. */
static unsigned char *sm_serialize(struct cluster *c, struct node *nd,
				   size_t *len)
{
	size_t n = c->o.snapshot_bytes < 24 ? 24 : c->o.snapshot_bytes;
	unsigned char *b = shoal_malloc(n);
	uint64_t h = nd->sm_hash;

	memcpy(b, &nd->applied, 8);
	memcpy(b + 8, &nd->sm_hash, 8);
	memcpy(b + 16, &nd->sm_count, 8);
	for (size_t i = 24; i < n; i++)
		b[i] = (unsigned char)(splitmix(&h) & 0xff);
	*len = n;
	return b;
}

static bool sm_load(struct cluster *c, struct node *nd, const unsigned char *b,
		    size_t len, uint64_t index)
{
	uint64_t applied, hash, count, h;

	if (len < 24)
		return false;
	memcpy(&applied, b, 8);
	memcpy(&hash, b + 8, 8);
	memcpy(&count, b + 16, 8);
	h = hash;
	for (size_t i = 24; i < len; i++)
		if (b[i] != (unsigned char)(splitmix(&h) & 0xff))
			return false;
	if (applied != index)
		return false;
	nd->applied = applied;
	nd->sm_hash = hash;
	nd->sm_count = count;
	return true;
}

/* ---- sending ---- */

static void send_msg(struct cluster *c, const struct raft_msg *m)
{
	uint32_t from = (uint32_t)m->from, to = (uint32_t)m->to;
	int copies = 1;

	if (to == 0 || to > c->o.n || c->blocked[from][to])
		return;
	if (c->o.filter && !c->o.filter(c->o.filter_arg, m))
		return;
	if (prng_ppm(&c->rng, c->o.loss_ppm))
		return;
	if (prng_ppm(&c->rng, c->o.dup_ppm))
		copies = 2;
	for (int i = 0; i < copies; i++) {
		struct ev e = {0};

		e.t = c->now +
		      prng_range(&c->rng, c->o.net_min_ms, c->o.net_max_ms);
		e.type = EV_MSG;
		e.node = to;
		e.msg = msg_copy(m);
		heap_push(c, e);
	}
}

static void write_free(struct write *w)
{
	for (size_t i = 0; i < w->n_ents; i++)
		shoal_free(w->ents[i].data);
	shoal_free(w->ents);
	for (size_t i = 0; i < w->n_chunks; i++)
		shoal_free(w->chunks[i].data);
	shoal_free(w->chunks);
	for (size_t i = 0; i < w->n_dmsgs; i++)
		msg_free(w->dmsgs[i]);
	shoal_free(w->dmsgs);
	shoal_free(w);
}

static struct write *write_from(struct cluster *c, struct node *nd,
				const struct raft_update *u)
{
	struct write *w = shoal_calloc(1, sizeof(*w));
	uint64_t lat = prng_range(&c->rng, nd->disk_min, nd->disk_max);

	w->done_at = c->now + lat;
	if (nd->wq_tail && nd->wq_tail->done_at > w->done_at)
		w->done_at = nd->wq_tail->done_at;
	w->log_reset = u->log_reset;
	w->reset_index = u->log_reset_index;
	w->truncate_from = u->truncate_from;
	w->hard_changed = u->hard_changed;
	w->hard = u->hard;
	w->compact_upto = u->compact_upto;
	if (u->n_entries) {
		w->ents = shoal_calloc(u->n_entries, sizeof(*w->ents));
		for (size_t i = 0; i < u->n_entries; i++) {
			w->ents[i] = u->entries[i];
			w->ents[i].data =
				u->entries[i].len
					? shoal_memdup(u->entries[i].data,
						       u->entries[i].len)
					: NULL;
		}
		w->n_ents = u->n_entries;
	}
	if (u->n_chunks) {
		w->chunks = shoal_calloc(u->n_chunks, sizeof(*w->chunks));
		for (size_t i = 0; i < u->n_chunks; i++) {
			w->chunks[i] = u->chunks[i];
			w->chunks[i].data =
				u->chunks[i].len
					? shoal_memdup(u->chunks[i].data,
						       u->chunks[i].len)
					: NULL;
		}
		w->n_chunks = u->n_chunks;
	}
	if (u->n_msgs_durable) {
		w->dmsgs = shoal_calloc(u->n_msgs_durable, sizeof(*w->dmsgs));
		for (size_t i = 0; i < u->n_msgs_durable; i++)
			w->dmsgs[i] = msg_copy(&u->msgs_durable[i]);
		w->n_dmsgs = u->n_msgs_durable;
	}
	return w;
}

static void schedule_disk(struct cluster *c, struct node *nd, uint64_t t)
{
	struct ev e = {0};

	e.t = t;
	e.type = EV_DISK;
	e.node = (uint32_t)nd->id;
	e.gen = nd->gen;
	heap_push(c, e);
}

static void schedule_tick(struct cluster *c, struct node *nd)
{
	uint64_t d = raft_next_deadline(nd->r);
	struct ev e = {0};

	if (d < c->now)
		d = c->now;
	if (nd->tick_set && nd->tick_at == d)
		return;
	nd->tick_at = d;
	nd->tick_set = true;
	e.t = d;
	e.type = EV_TICK;
	e.node = (uint32_t)nd->id;
	e.gen = ++nd->tick_gen;
	heap_push(c, e);
}

/* ---- applying ---- */

static void ack_props(struct cluster *c, struct node *nd, uint64_t index,
		      uint64_t term, uint64_t hash)
{
	size_t k = 0;

	for (size_t i = 0; i < nd->n_props; i++) {
		struct pending_prop *p = &nd->props[i];

		if (p->index > index) {
			nd->props[k++] = *p;
			continue;
		}
		if (p->index == index && p->term == term) {
			if (p->hash != hash)
				fail(c,
				     "durability: index %" PRIu64
				     " applied with another payload",
				     index);
			c->acked++;
			if (index > c->max_acked)
				c->max_acked = index;
		}
	}
	nd->n_props = k;
}

static void apply_entries(struct cluster *c, struct node *nd,
			  const struct raft_update *u)
{
	for (size_t i = 0; i < u->n_committed; i++) {
		const struct raft_entry *e = &u->committed[i];
		uint64_t h = entry_hash(e);

		if (e->index != nd->applied + 1) {
			fail(c,
			     "apply order: node %" PRIu64 " applied %" PRIu64
			     " then %" PRIu64,
			     nd->id, nd->applied, e->index);
			return;
		}
		nd->applied = e->index;
		if (e->type == RAFT_ENTRY_NORMAL) {
			nd->sm_hash = mix(nd->sm_hash, h);
			nd->sm_count++;
		}
		check_apply(c, nd, e->index, e->term, h, nd->sm_hash);
		ack_props(c, nd, e->index, e->term, h);
	}
}

static void serve_reads(struct cluster *c, struct node *nd)
{
	size_t k = 0;

	for (size_t i = 0; i < nd->n_reads; i++) {
		struct pending_read *rd = &nd->reads[i];

		if (!rd->granted || nd->applied < rd->index) {
			nd->reads[k++] = *rd;
			continue;
		}
		if (nd->applied < rd->min_applied)
			fail(c,
			     "linearizability: node %" PRIu64
			     " served a read at applied %" PRIu64
			     " missing acknowledged write %" PRIu64,
			     nd->id, nd->applied, rd->min_applied);
		c->reads_served++;
	}
	nd->n_reads = k;
}

static void grant_reads(struct cluster *c, struct node *nd,
			const struct raft_update *u)
{
	for (size_t i = 0; i < u->n_reads; i++) {
		const struct raft_read_state *rs = &u->reads[i];

		for (size_t j = 0; j < nd->n_reads; j++) {
			struct pending_read *rd = &nd->reads[j];

			if (rd->token != rs->token)
				continue;
			if (rs->status) {
				nd->reads[j] = nd->reads[--nd->n_reads];
			} else {
				rd->granted = true;
				rd->index = rs->index;
			}
			break;
		}
	}
}

static void take_snapshot(struct cluster *c, struct node *nd)
{
	struct disk *d = &nd->disk;
	struct raft_snapshot_meta meta;
	unsigned char *data;
	size_t len;

	if (nd->applied <= d->snap.index)
		return;
	data = sm_serialize(c, nd, &len);
	if (raft_snapshot_done(nd->r, nd->applied)) {
		shoal_free(data);
		fail(c, "snapshot: node %" PRIu64 " refused its own snapshot",
		     nd->id);
		return;
	}
	raft_snapshot_meta(nd->r, &meta);
	shoal_free(d->snap_data);
	d->snap_data = data;
	d->snap_len = len;
	d->snap = meta;
	TRACE(c, "n%" PRIu64 " snapshot at %" PRIu64, nd->id, meta.index);
}

static void update_view(struct cluster *c, struct node *nd,
			const struct raft_update *u)
{
	if (u->log_reset) {
		TRACE(c, "n%" PRIu64 " log reset after %" PRIu64, nd->id,
		      u->log_reset_index);
		view_reset(nd, u->log_reset_index);
	}
	if (u->truncate_from && u->truncate_from <= nd->view_last) {
		TRACE(c, "n%" PRIu64 " log truncated from %" PRIu64, nd->id,
		      u->truncate_from);
		nd->view_last = u->truncate_from - 1;
	}
	for (size_t i = 0; i < u->n_entries; i++) {
		const struct raft_entry *e = &u->entries[i];

		if (e->index != nd->view_last + 1) {
			fail(c,
			     "update: node %" PRIu64 " appends %" PRIu64
			     " after %" PRIu64,
			     nd->id, e->index, nd->view_last);
			return;
		}
		view_set(c, nd, e->index, e->term, entry_hash(e));
	}
}

static void drain(struct cluster *c, struct node *nd);

static void handle_update(struct cluster *c, struct node *nd,
			  const struct raft_update *u)
{
	bool persist = u->log_reset || u->truncate_from || u->n_entries ||
		       u->hard_changed || u->n_chunks || u->n_msgs_durable ||
		       u->compact_upto;

	if (u->role_changed || u->term != nd->term) {
		nd->term = u->term;
		if (u->role == RAFT_LEADER && nd->role != RAFT_LEADER)
			TRACE(c, "n%" PRIu64 " leader term %" PRIu64, nd->id,
			      u->term);
		nd->role = u->role;
	}
	update_view(c, nd, u);
	if (nd->role == RAFT_LEADER && u->role_changed)
		check_leader(c, nd);
	if (persist) {
		struct write *w = write_from(c, nd, u);

		if (nd->wq_tail)
			nd->wq_tail->next = w;
		else
			nd->wq = w;
		nd->wq_tail = w;
		schedule_disk(c, nd, w->done_at);
	}
	for (size_t i = 0; i < u->n_msgs; i++)
		send_msg(c, &u->msgs[i]);
	apply_entries(c, nd, u);
	grant_reads(c, nd, u);
	serve_reads(c, nd);
	if (u->take_snapshot)
		take_snapshot(c, nd);
}

static void drain(struct cluster *c, struct node *nd)
{
	struct raft_update u;
	int guard = 0;

	while (nd->up && raft_has_update(nd->r) && guard++ < 1000) {
		if (raft_update_get(nd->r, &u)) {
			fail(c,
			     "update: node %" PRIu64 " cannot hand its update",
			     nd->id);
			return;
		}
		handle_update(c, nd, &u);
		raft_update_done(nd->r, &u);
	}
	if (nd->up)
		schedule_tick(c, nd);
}

/* ---- disk completion ---- */

static void complete_chunks(struct cluster *c, struct node *nd,
			    const struct write *w)
{
	struct disk *d = &nd->disk;

	for (size_t i = 0; i < w->n_chunks; i++) {
		const struct raft_snapshot_chunk *ch = &w->chunks[i];
		int rc;

		if (ch->offset == 0)
			d->in_len = 0;
		if (ch->offset != d->in_len) {
			fail(c,
			     "snapshot: node %" PRIu64 " got chunk at %" PRIu64
			     " after %zu bytes",
			     nd->id, ch->offset, d->in_len);
			return;
		}
		d->in_data = xgrow(d->in_data, &d->in_cap,
				   d->in_len + ch->len + 1, 1);
		memcpy(d->in_data + d->in_len, ch->data, ch->len);
		d->in_len += ch->len;
		if (!ch->last)
			continue;
		if (!sm_load(c, nd, d->in_data, d->in_len, ch->meta.index)) {
			fail(c,
			     "snapshot: node %" PRIu64
			     " received a corrupt snapshot",
			     nd->id);
			return;
		}
		if (ch->meta.index < c->applied_cap &&
		    c->applied[ch->meta.index].set &&
		    c->applied[ch->meta.index].sm != nd->sm_hash)
			fail(c,
			     "snapshot: node %" PRIu64 " installed a state"
			     " that differs from the one applied at %" PRIu64,
			     nd->id, ch->meta.index);
		shoal_free(d->snap_data);
		d->snap_data = shoal_memdup(d->in_data, d->in_len);
		d->snap_len = d->in_len;
		d->snap = ch->meta;
		d->in_len = 0;
		rc = raft_snapshot_installed(nd->r, ch->meta.index,
					     ch->meta.term);
		if (rc)
			fail(c,
			     "snapshot: node %" PRIu64 " install refused: %d",
			     nd->id, rc);
		c->installs++;
		TRACE(c, "n%" PRIu64 " installed snapshot %" PRIu64, nd->id,
		      ch->meta.index);
	}
}

static void complete_write(struct cluster *c, struct node *nd, struct write *w)
{
	struct disk *d = &nd->disk;

	if (w->log_reset)
		disk_reset(d, w->reset_index);
	if (w->truncate_from)
		disk_truncate(d, w->truncate_from);
	for (size_t i = 0; i < w->n_ents; i++)
		disk_append(d, &w->ents[i]);
	if (w->hard_changed)
		d->hard = w->hard;
	if (w->compact_upto)
		disk_compact(d, w->compact_upto);
	if (w->n_ents)
		raft_persisted(nd->r, w->ents[w->n_ents - 1].index,
			       w->ents[w->n_ents - 1].term);
	else if (w->log_reset)
		raft_persisted(nd->r, w->reset_index, d->snap.term);
	complete_chunks(c, nd, w);
	for (size_t i = 0; i < w->n_dmsgs; i++)
		send_msg(c, w->dmsgs[i]);
}

static void disk_event(struct cluster *c, struct node *nd)
{
	raft_tick(nd->r, c->now);
	while (nd->wq && nd->wq->done_at <= c->now) {
		struct write *w = nd->wq;

		nd->wq = w->next;
		if (!nd->wq)
			nd->wq_tail = NULL;
		complete_write(c, nd, w);
		write_free(w);
	}
	drain(c, nd);
}

/* ---- nodes ---- */

static int node_start(struct cluster *c, struct node *nd)
{
	struct raft_options o = c->o.raft;
	struct raft_restore rs = {0};
	struct disk *d = &nd->disk;
	int rc;

	o.id = nd->id;
	o.seed = c->o.seed * 131 + nd->id * 7 + nd->gen;
	if (c->o.election_ms[nd->id]) {
		o.election_timeout_ms = c->o.election_ms[nd->id];
		o.election_jitter_ms = 0;
	}
	nd->lreader = (struct raft_log_reader){nd, reader_read, reader_term};
	nd->sreader = (struct raft_snapshot_reader){nd, snap_read};
	o.log = nd->lreader;
	o.snapshot = nd->sreader;
	rs.hard = d->hard;
	rs.snapshot = d->snap;
	if (d->n) {
		rs.log_first = d->first;
		rs.log_last = disk_last(d);
	}
	rs.bootstrap = &c->boot;
	rc = raft_new(&o, &rs, &nd->r);
	if (rc)
		return rc;
	raft_tick(nd->r, c->now);
	nd->up = true;
	nd->role = RAFT_FOLLOWER;
	nd->term = d->hard.term;
	/* The state machine restarts from the snapshot. */
	nd->applied = 0;
	nd->sm_hash = 0;
	nd->sm_count = 0;
	if (d->snap.index &&
	    !sm_load(c, nd, d->snap_data, d->snap_len, d->snap.index))
		return -EIO;
	/* The view restarts from the durable log. */
	view_reset(nd, d->snap.index);
	nd->view_last = d->n ? d->first - 1 : d->snap.index;
	if (d->n && d->first - 1 > d->snap.index)
		nd->view_last = d->first - 1;
	for (size_t i = 0; i < d->n; i++) {
		struct raft_entry e = {d->ents[i].term, d->first + i,
				       d->ents[i].type, d->ents[i].len,
				       d->ents[i].data};

		if (e.index <= nd->view_last)
			continue;
		view_set(c, nd, e.index, e.term, entry_hash(&e));
	}
	drain(c, nd);
	return 0;
}

int cluster_new(const struct cluster_opts *o, struct cluster **out)
{
	struct cluster *c;

	if (o->n == 0 || o->n > CLUSTER_MAX)
		return -EINVAL;
	c = shoal_calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->o = *o;
	prng_seed(&c->rng, o->seed);
	c->boot.n = o->n;
	for (uint32_t i = 0; i < o->n; i++)
		c->boot.servers[i] = (struct raft_server){i + 1, RAFT_VOTER};
	for (uint32_t i = 1; i <= o->n; i++) {
		struct node *nd = &c->nodes[i];
		int rc;

		nd->id = i;
		nd->disk.first = 1;
		nd->disk_min = o->disk_min_ms;
		nd->disk_max = o->disk_max_ms;
		rc = node_start(c, nd);
		if (rc) {
			cluster_free(c);
			return rc;
		}
	}
	*out = c;
	return 0;
}

static void node_stop(struct node *nd)
{
	while (nd->wq) {
		struct write *w = nd->wq;

		nd->wq = w->next;
		write_free(w);
	}
	nd->wq_tail = NULL;
	raft_free(nd->r);
	nd->r = NULL;
	nd->up = false;
	nd->n_props = 0;
	nd->n_reads = 0;
	nd->gen++;
	nd->tick_set = false;
	nd->tick_gen++;
}

void cluster_free(struct cluster *c)
{
	if (!c)
		return;
	for (uint32_t i = 1; i <= c->o.n; i++) {
		struct node *nd = &c->nodes[i];

		if (nd->up)
			node_stop(nd);
		disk_truncate(&nd->disk, nd->disk.first);
		shoal_free(nd->disk.ents);
		shoal_free(nd->disk.snap_data);
		shoal_free(nd->disk.in_data);
		shoal_free(nd->view);
		shoal_free(nd->props);
		shoal_free(nd->reads);
	}
	while (c->n_heap) {
		struct ev e = heap_pop(c);

		msg_free(e.msg);
	}
	shoal_free(c->heap);
	for (size_t i = 0; i < c->appended_cap; i++)
		shoal_free(c->appended[i].keys);
	shoal_free(c->appended);
	shoal_free(c->applied);
	shoal_free(c->leader_of_term);
	shoal_free(c);
}

void cluster_crash(struct cluster *c, uint64_t id, bool torn)
{
	struct node *nd = &c->nodes[id];
	struct write *w = nd->wq;

	if (!nd->up)
		return;
	TRACE(c, "n%" PRIu64 " crashes%s", id, torn ? " (torn write)" : "");
	if (torn && w) {
		struct disk *d = &nd->disk;
		size_t k = w->n_ents ? prng_range(&c->rng, 0, w->n_ents) : 0;

		if (w->hard_changed)
			d->hard = w->hard;
		if (w->log_reset)
			disk_reset(d, w->reset_index);
		if (w->truncate_from)
			disk_truncate(d, w->truncate_from);
		for (size_t i = 0; i < k; i++)
			disk_append(d, &w->ents[i]);
	}
	node_stop(nd);
}

int cluster_restart(struct cluster *c, uint64_t id)
{
	struct node *nd = &c->nodes[id];
	int rc;

	if (nd->up)
		return 0;
	TRACE(c, "n%" PRIu64 " restarts", id);
	rc = node_start(c, nd);
	if (rc)
		fail(c, "restart: node %" PRIu64 " cannot restart: %d", id, rc);
	return rc;
}

/* ---- running ---- */

static void trace_msg(struct cluster *c, const struct raft_msg *m)
{
	char extra[128] = "";

	switch (m->type) {
	case RAFT_MSG_APPEND:
		snprintf(extra, sizeof(extra),
			 "prev %" PRIu64 "/%" PRIu64 " n %zu commit %" PRIu64,
			 m->append.prev_index, m->append.prev_term,
			 m->append.n_entries, m->append.commit);
		break;
	case RAFT_MSG_APPEND_RESP:
		snprintf(extra, sizeof(extra),
			 "%s %" PRIu64 " hint %" PRIu64 "/%" PRIu64,
			 m->append_resp.reject ? "reject" : "ok",
			 m->append_resp.index, m->append_resp.hint_index,
			 m->append_resp.hint_term);
		break;
	case RAFT_MSG_VOTE:
		snprintf(extra, sizeof(extra), "%s last %" PRIu64 "/%" PRIu64,
			 m->vote.prevote ? "pre" : "real", m->vote.last_index,
			 m->vote.last_term);
		break;
	case RAFT_MSG_VOTE_RESP:
		snprintf(extra, sizeof(extra), "%s %s",
			 m->vote_resp.prevote ? "pre" : "real",
			 m->vote_resp.granted ? "granted" : "refused");
		break;
	case RAFT_MSG_SNAPSHOT:
		snprintf(extra, sizeof(extra),
			 "snap %" PRIu64 " off %" PRIu64 " len %u%s",
			 m->snapshot.meta.index, m->snapshot.offset,
			 m->snapshot.len, m->snapshot.last ? " last" : "");
		break;
	case RAFT_MSG_SNAPSHOT_RESP:
		snprintf(extra, sizeof(extra),
			 "snap %" PRIu64 " next %" PRIu64 "%s",
			 m->snapshot_resp.index, m->snapshot_resp.next_offset,
			 m->snapshot_resp.reject ? " reject" : "");
		break;
	default:
		break;
	}
	TRACE(c, "n%" PRIu64 " <- n%" PRIu64 " %s t%" PRIu64 " %s", m->to,
	      m->from, raft_msg_type_name(m->type), m->term, extra);
}

static void run_event(struct cluster *c, struct ev *e)
{
	struct node *nd = &c->nodes[e->node];
	int rc;

	switch (e->type) {
	case EV_MSG:
		if (!nd->up)
			break;
		if (c->o.trace)
			trace_msg(c, e->msg);
		raft_tick(nd->r, c->now);
		rc = raft_step(nd->r, e->msg);
		if (rc)
			fail(c, "step: node %" PRIu64 " rejected a %s: %d",
			     nd->id, raft_msg_type_name(e->msg->type), rc);
		drain(c, nd);
		break;
	case EV_TICK:
		if (!nd->up || e->gen != nd->tick_gen)
			break;
		nd->tick_set = false;
		raft_tick(nd->r, c->now);
		drain(c, nd);
		break;
	case EV_DISK:
		if (!nd->up || e->gen != nd->gen)
			break;
		disk_event(c, nd);
		break;
	}
}

int cluster_step(struct cluster *c)
{
	struct ev e;

	if (c->failed)
		return -EIO;
	if (!c->n_heap)
		return 1;
	e = heap_pop(c);
	if (e.t > c->now)
		c->now = e.t;
	c->events++;
	run_event(c, &e);
	msg_free(e.msg);
	return c->failed ? -EIO : 0;
}

int cluster_run_until(struct cluster *c, uint64_t t)
{
	while (c->n_heap && c->heap[0].t <= t) {
		int rc = cluster_step(c);

		if (rc < 0)
			return rc;
	}
	if (t > c->now)
		c->now = t;
	return c->failed ? -EIO : 0;
}

uint64_t cluster_now(const struct cluster *c)
{
	return c->now;
}

uint64_t cluster_next_time(const struct cluster *c)
{
	return c->n_heap ? c->heap[0].t : UINT64_MAX;
}

uint64_t cluster_events(const struct cluster *c)
{
	return c->events;
}

const char *cluster_violation(const struct cluster *c)
{
	return c->failed ? c->violation : NULL;
}

struct raft *cluster_raft(struct cluster *c, uint64_t id)
{
	return id && id <= c->o.n && c->nodes[id].up ? c->nodes[id].r : NULL;
}

bool cluster_up(const struct cluster *c, uint64_t id)
{
	return id && id <= c->o.n && c->nodes[id].up;
}

uint64_t cluster_leader(const struct cluster *c)
{
	uint64_t best = 0, term = 0;

	for (uint32_t i = 1; i <= c->o.n; i++) {
		const struct node *nd = &c->nodes[i];

		if (nd->up && nd->role == RAFT_LEADER && nd->term >= term) {
			best = i;
			term = nd->term;
		}
	}
	return best;
}

uint64_t cluster_leader_since(const struct cluster *c)
{
	return c->leader_since;
}

uint64_t cluster_applied(const struct cluster *c, uint64_t id)
{
	return c->nodes[id].applied;
}

uint64_t cluster_max_acked(const struct cluster *c)
{
	return c->max_acked;
}

uint64_t cluster_acked_count(const struct cluster *c)
{
	return c->acked;
}

uint64_t cluster_reads_served(const struct cluster *c)
{
	return c->reads_served;
}

uint64_t cluster_snapshots_installed(const struct cluster *c)
{
	return c->installs;
}

void cluster_block(struct cluster *c, uint64_t from, uint64_t to, bool on)
{
	c->blocked[from][to] = on;
}

void cluster_isolate(struct cluster *c, uint64_t id)
{
	for (uint32_t i = 1; i <= c->o.n; i++) {
		if (i == id)
			continue;
		c->blocked[id][i] = true;
		c->blocked[i][id] = true;
	}
}

void cluster_heal(struct cluster *c)
{
	memset(c->blocked, 0, sizeof(c->blocked));
}

void cluster_set_loss(struct cluster *c, uint32_t loss_ppm, uint32_t dup_ppm)
{
	c->o.loss_ppm = loss_ppm;
	c->o.dup_ppm = dup_ppm;
}

void cluster_set_disk(struct cluster *c, uint64_t id, uint32_t min_ms,
		      uint32_t max_ms)
{
	c->nodes[id].disk_min = min_ms;
	c->nodes[id].disk_max = max_ms;
}

int cluster_propose(struct cluster *c, uint64_t id, uint64_t *index)
{
	struct node *nd = &c->nodes[id];
	unsigned char cmd[16];
	struct raft_entry e = {0};
	uint64_t idx, term, op = ++c->next_op;
	int rc;

	if (!nd->up)
		return -ESHUTDOWN;
	memcpy(cmd, &op, 8);
	memcpy(cmd + 8, &c->seq, 8);
	raft_tick(nd->r, c->now);
	rc = raft_propose(nd->r, cmd, sizeof(cmd), &idx, &term);
	if (rc)
		return rc;
	e = (struct raft_entry){term, idx, RAFT_ENTRY_NORMAL, sizeof(cmd), cmd};
	PUSH(nd->props, nd->n_props, nd->cap_props,
	     ((struct pending_prop){idx, term, entry_hash(&e)}));
	if (index)
		*index = idx;
	drain(c, nd);
	return 0;
}

int cluster_read(struct cluster *c, uint64_t id)
{
	struct node *nd = &c->nodes[id];
	uint64_t token = ++c->next_token;
	int rc;

	if (!nd->up)
		return -ESHUTDOWN;
	raft_tick(nd->r, c->now);
	rc = raft_read_index(nd->r, token);
	if (rc)
		return rc;
	PUSH(nd->reads, nd->n_reads, nd->cap_reads,
	     ((struct pending_read){token, c->max_acked, 0, false}));
	drain(c, nd);
	return 0;
}

int cluster_call(struct cluster *c, uint64_t id,
		 int (*fn)(struct raft *r, void *arg), void *arg)
{
	struct node *nd = &c->nodes[id];
	int rc;

	if (!nd->up)
		return -ESHUTDOWN;
	raft_tick(nd->r, c->now);
	rc = fn(nd->r, arg);
	drain(c, nd);
	return rc;
}

int cluster_check_converged(struct cluster *c)
{
	uint64_t l = cluster_leader(c);
	struct raft_status st;

	if (c->failed)
		return -EIO;
	if (!l) {
		for (uint32_t i = 1; i <= c->o.n && c->o.trace; i++) {
			if (!c->nodes[i].up)
				continue;
			raft_status(c->nodes[i].r, &st);
			printf("n%u: %s term %" PRIu64 " last %" PRIu64
			       "/%" PRIu64 " commit %" PRIu64 " conf@%" PRIu64
			       ":",
			       i, raft_role_name(st.role), st.term,
			       st.last_index, st.last_term, st.commit,
			       st.conf_index);
			for (uint32_t j = 0; j < st.conf.n; j++)
				printf(" %" PRIu64 "%s", st.conf.servers[j].id,
				       st.conf.servers[j].role == RAFT_VOTER
					       ? "v"
					       : "l");
			printf("\n");
		}
		fail(c, "liveness: no leader after the faults healed");
		return -EIO;
	}
	raft_status(c->nodes[l].r, &st);
	if (st.commit < c->max_acked) {
		fail(c,
		     "durability: leader %" PRIu64 " commit %" PRIu64
		     " below acknowledged write %" PRIu64,
		     l, st.commit, c->max_acked);
		return -EIO;
	}
	for (uint32_t i = 0; i < st.conf.n; i++) {
		uint64_t id = st.conf.servers[i].id;

		if (id > c->o.n || !c->nodes[id].up)
			continue;
		if (c->nodes[id].applied < st.commit) {
			fail(c,
			     "liveness: node %" PRIu64 " applied %" PRIu64
			     " of commit %" PRIu64 " after healing",
			     id, c->nodes[id].applied, st.commit);
			return -EIO;
		}
	}
	return 0;
}
