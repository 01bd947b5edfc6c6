/*
 * The libuv node (contract in node_uv.h): the shell around the pure core.
 *
 * Flow of one core update (raft.h, struct raft_update):
 *   1. persistence goes to the disk log in order: reset, snapshot chunks
 *      (ordered calls on the writer thread, node_uv_snapshot.c), then one
 *      write (hard state, truncation, entries) carrying a struct persist
 *      whose completion calls raft_persisted() and sends the
 *      update's msgs_durable (deep-copied, since the update is released at
 *      once). Disk completions arrive in submission order, which is the
 *      order the core requires.
 *   2. msgs go to the transport now, in parallel with the write.
 *   3. committed entries are applied; proposals waiting on them complete;
 *      reads whose index is applied are answered.
 *   4. compaction is passed to the disk only up to the newest durable
 *      snapshot, so a crash never finds a log that starts after it.
 * Time: a timer set to raft_next_deadline(); every event ticks the core
 * with the monotonic clock first.
 */
#define LOG_MODULE "raft-node"

#include "raft/node_uv.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/list.h"
#include "common/log.h"
#include "raft/node_uv_internal.h"

uint64_t node__now_ms(void)
{
	return (uint64_t)(time_mono_ns() / NSEC_PER_MSEC);
}

void node__fatal(struct raft_node *n, int err, const char *what)
{
	if (n->err)
		return;
	n->err = err;
	log_error("node=%" PRIu64 ": %s failed, the node stops: %s", n->id,
		  what, shoal_strerror(err));
	uv_timer_stop(&n->timer);
	if (n->cb.error)
		n->cb.error(n->cb_arg, err);
}

/* ---- readers for the core ---- */

static int log_read(void *arg, uint64_t first, size_t max, size_t max_bytes,
		    struct raft_entry *out, size_t *n)
{
	struct raft_node *nd = arg;
	size_t bytes = 0, i;
	int rc = 0;
	for (i = 0; i < max && (i == 0 || bytes < max_bytes); i++) {
		struct raft_disk_entry e;
		rc = raft_disk_read(nd->disk, first + i, &e);
		if (rc)
			break;
		if (e.type < RAFT_ENTRY_NORMAL || e.type > RAFT_ENTRY_NOOP) {
			shoal_free(e.data);
			rc = SHOAL_ECORRUPT;
			break;
		}
		out[i] = (struct raft_entry){e.term, e.index,
					     (enum raft_entry_type)e.type,
					     e.len, e.data};
		bytes += e.len;
	}
	if (rc && i == 0)
		return rc;
	*n = i;
	return 0;
}

static int log_term(void *arg, uint64_t index, uint64_t *term)
{
	struct raft_node *nd = arg;
	return raft_disk_term(nd->disk, index, term);
}

/* ---- waiters ---- */

void node__finish_waiters(struct list_node *head, int status)
{
	while (!list_empty(head)) {
		struct waiter *w =
			list_entry(list_front(head), struct waiter, link);
		list_remove(&w->link);
		w->cb(w->arg, status);
		shoal_free(w);
	}
}

static void proposals_applied(struct raft_node *n, const struct raft_entry *e)
{
	while (!list_empty(&n->proposals)) {
		struct waiter *w = list_entry(list_front(&n->proposals),
					      struct waiter, link);
		if (w->index > e->index)
			break;
		list_remove(&w->link);
		w->cb(w->arg, w->index == e->index && w->term == e->term
				      ? 0
				      : SHOAL_ENOTLEADER);
		shoal_free(w);
	}
}

static void reads_serve(struct raft_node *n)
{
	struct list_node *p, *tmp;
	list_for_each_safe(p, tmp, &n->reads)
	{
		struct waiter *w = list_entry(p, struct waiter, link);
		if (!w->granted || w->index > n->applied)
			continue;
		list_remove(&w->link);
		w->cb(w->arg, 0);
		shoal_free(w);
	}
}

static void reads_granted(struct raft_node *n, const struct raft_update *u)
{
	for (size_t i = 0; i < u->n_reads; i++) {
		const struct raft_read_state *rs = &u->reads[i];
		struct list_node *p;
		list_for_each(p, &n->reads)
		{
			struct waiter *w = list_entry(p, struct waiter, link);
			if (w->token != rs->token)
				continue;
			if (rs->status) {
				list_remove(&w->link);
				w->cb(w->arg, rs->status);
				shoal_free(w);
			} else {
				w->granted = true;
				w->index = rs->index;
			}
			break;
		}
	}
	reads_serve(n);
}

/* ---- persistence ---- */

static void msg_free(struct raft_msg *m)
{
	if (m->type == RAFT_MSG_APPEND) {
		for (size_t i = 0; i < m->append.n_entries; i++)
			shoal_free(m->append.entries[i].data);
		shoal_free(m->append.entries);
	} else if (m->type == RAFT_MSG_SNAPSHOT) {
		shoal_free(m->snapshot.data);
	}
}

static int msg_copy(struct raft_msg *dst, const struct raft_msg *src)
{
	*dst = *src;
	if (src->type == RAFT_MSG_SNAPSHOT && src->snapshot.len) {
		dst->snapshot.data =
			shoal_memdup(src->snapshot.data, src->snapshot.len);
		return dst->snapshot.data ? 0 : -ENOMEM;
	}
	if (src->type != RAFT_MSG_APPEND || !src->append.n_entries)
		return 0;
	size_t k = src->append.n_entries;
	dst->append.entries = shoal_calloc(k, sizeof(struct raft_entry));
	if (!dst->append.entries)
		return -ENOMEM;
	for (size_t i = 0; i < k; i++) {
		const struct raft_entry *e = &src->append.entries[i];
		dst->append.entries[i] = *e;
		dst->append.entries[i].data =
			e->len ? shoal_memdup(e->data, e->len) : NULL;
		if (e->len && !dst->append.entries[i].data) {
			dst->append.n_entries = i;
			msg_free(dst);
			return -ENOMEM;
		}
	}
	return 0;
}

static void persist_free(struct persist *p)
{
	for (size_t i = 0; i < p->n_msgs; i++)
		msg_free(&p->msgs[i]);
	shoal_free(p->msgs);
	shoal_free(p);
}

static void on_persisted(void *arg, int status)
{
	struct persist *p = arg;
	struct raft_node *n = p->n;
	n->pending_jobs--;
	if (status)
		node__fatal(n, status, "disk write");
	if (!n->err && !n->stopping) {
		raft_tick(n->r, node__now_ms());
		if (p->index)
			raft_persisted(n->r, p->index, p->term);
		for (size_t i = 0; i < p->n_msgs; i++)
			n->tr->send(n->tr->impl, &p->msgs[i]);
		node__process(n);
	}
	persist_free(p);
	node__maybe_stopped(n);
}

/* Only to sequence a persist behind earlier writes. */
static int nothing(void *arg)
{
	return 0;
}

static int persist_entries(struct raft_node *n, const struct raft_update *u,
			   struct persist *p)
{
	struct raft_disk_hard_state hs = {u->hard.term, u->hard.vote,
					  u->hard.commit};
	struct raft_disk_entry *e = NULL;
	if (u->n_entries) {
		e = shoal_calloc(u->n_entries, sizeof(*e));
		if (!e)
			return -ENOMEM;
	}
	for (size_t i = 0; i < u->n_entries; i++)
		e[i] = (struct raft_disk_entry){
			u->entries[i].index, u->entries[i].term,
			u->entries[i].type, u->entries[i].len,
			u->entries[i].data};
	struct raft_disk_write w = {.hs = u->hard_changed ? &hs : NULL,
				    .truncate_from = u->truncate_from,
				    .entries = e,
				    .n = u->n_entries};
	int rc = raft_disk_write(n->disk, &w, on_persisted, p);
	shoal_free(e);
	return rc;
}

static void on_reset(void *arg, int status)
{
	struct raft_node *n = arg;
	n->pending_jobs--;
	if (status)
		node__fatal(n, status, "log reset");
	node__maybe_stopped(n);
}

static int persist(struct raft_node *n, const struct raft_update *u)
{
	bool writes = u->truncate_from || u->n_entries || u->hard_changed;
	if (!u->log_reset && !writes && !u->n_chunks && !u->n_msgs_durable)
		return 0;
	struct persist *p = shoal_calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->n = n;
	int rc = 0;
	if (u->n_msgs_durable) {
		p->msgs = shoal_calloc(u->n_msgs_durable, sizeof(*p->msgs));
		rc = p->msgs ? 0 : -ENOMEM;
		for (size_t i = 0; !rc && i < u->n_msgs_durable; i++) {
			rc = msg_copy(&p->msgs[i], &u->msgs_durable[i]);
			if (!rc)
				p->n_msgs++;
		}
	}
	if (!rc && u->log_reset) {
		struct raft_snapshot_meta sm;
		raft_snapshot_meta(n->r, &sm);
		uint64_t term = sm.index == u->log_reset_index ? sm.term : 0;
		rc = raft_disk_reset(n->disk, u->log_reset_index + 1, term,
				     on_reset, n);
		if (!rc)
			n->pending_jobs++;
		p->index = u->log_reset_index;
		p->term = term;
	}
	if (!rc && u->n_entries) {
		p->index = u->entries[u->n_entries - 1].index;
		p->term = u->entries[u->n_entries - 1].term;
	}
	if (!rc)
		rc = node__persist_chunks(n, u);
	if (!rc)
		rc = writes ? persist_entries(n, u, p)
			    : raft_disk_run(n->disk, nothing, NULL,
					    on_persisted, p);
	if (rc) {
		persist_free(p);
		return rc;
	}
	n->pending_jobs++;
	return 0;
}

/* ---- the update loop ---- */

static void apply(struct raft_node *n, const struct raft_update *u)
{
	for (size_t i = 0; i < u->n_committed; i++) {
		const struct raft_entry *e = &u->committed[i];
		if (n->cb.apply)
			n->cb.apply(n->cb_arg, e);
		n->applied = e->index;
		proposals_applied(n, e);
	}
}

static void handle(struct raft_node *n, const struct raft_update *u)
{
	int rc = persist(n, u);
	if (rc) {
		node__fatal(n, rc, "queueing a disk write");
		return;
	}
	for (size_t i = 0; i < u->n_msgs; i++)
		n->tr->send(n->tr->impl, &u->msgs[i]);
	apply(n, u);
	reads_granted(n, u);
	if (u->compact_upto)
		node__compact(n, u->compact_upto);
	if (u->role_changed && n->cb.role)
		n->cb.role(n->cb_arg, u->role, u->leader, u->term);
	if (u->take_snapshot)
		node__take_snapshot(n);
}

static void on_timer(uv_timer_t *t);

static void schedule(struct raft_node *n)
{
	uint64_t now = node__now_ms(), at = raft_next_deadline(n->r);
	uint64_t wait = at > now ? at - now : 0;
	if (wait > 1000)
		wait = 1000;
	uv_timer_start(&n->timer, on_timer, wait, 0);
}

void node__process(struct raft_node *n)
{
	for (int guard = 0;
	     guard < 1000 && !n->err && !n->stopping && raft_has_update(n->r);
	     guard++) {
		struct raft_update u;
		if (raft_update_get(n->r, &u))
			break;
		handle(n, &u);
		raft_update_done(n->r, &u);
	}
	if (!n->err && !n->stopping)
		schedule(n);
}

static void on_timer(uv_timer_t *t)
{
	struct raft_node *n = t->data;
	raft_tick(n->r, node__now_ms());
	node__process(n);
}

static void on_recv(void *arg, const struct raft_msg *m)
{
	struct raft_node *n = arg;
	if (n->err || n->stopping)
		return;
	raft_tick(n->r, node__now_ms());
	int rc = raft_step(n->r, m);
	if (rc == -ENOMEM)
		node__fatal(n, rc, "handling a message");
	node__process(n);
}

/* ---- client requests ---- */

static int ready(struct raft_node *n)
{
	if (n->err)
		return n->err;
	return n->stopping ? -ECANCELED : 0;
}

int raft_node_propose(struct raft_node *n, const void *data, size_t len,
		      raft_node_cb *cb, void *arg)
{
	int rc = ready(n);
	if (rc)
		return rc;
	struct waiter *w = shoal_calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	raft_tick(n->r, node__now_ms());
	rc = raft_propose(n->r, data, len, &w->index, &w->term);
	if (rc) {
		shoal_free(w);
		return rc;
	}
	w->cb = cb;
	w->arg = arg;
	list_push_back(&n->proposals, &w->link);
	node__process(n);
	return 0;
}

int raft_node_read(struct raft_node *n, raft_node_cb *cb, void *arg)
{
	int rc = ready(n);
	if (rc)
		return rc;
	struct waiter *w = shoal_calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->token = ++n->next_token;
	raft_tick(n->r, node__now_ms());
	rc = raft_read_index(n->r, w->token);
	if (rc) {
		shoal_free(w);
		return rc;
	}
	w->cb = cb;
	w->arg = arg;
	list_push_back(&n->reads, &w->link);
	node__process(n);
	return 0;
}

#define MEMBERSHIP(name, call)                                                 \
	int raft_node_##name(struct raft_node *n, uint64_t id)                 \
	{                                                                      \
		uint64_t index;                                                \
		int rc = ready(n);                                             \
		if (!rc)                                                       \
			rc = call(n->r, id, &index);                           \
		if (!rc)                                                       \
			node__process(n);                                      \
		return rc;                                                     \
	}
MEMBERSHIP(add_learner, raft_add_learner)
MEMBERSHIP(promote, raft_promote)
MEMBERSHIP(remove, raft_remove)
#undef MEMBERSHIP

int raft_node_transfer(struct raft_node *n, uint64_t to)
{
	int rc = ready(n);
	if (!rc)
		rc = raft_transfer_leadership(n->r, to);
	if (!rc)
		node__process(n);
	return rc;
}

void raft_node_status(const struct raft_node *n, struct raft_status *out)
{
	raft_status(n->r, out);
}

/* ---- start and stop ---- */

static int open_core(struct raft_node *n, const struct raft_node_options *o)
{
	struct raft_options ro;
	struct raft_restore rs = {0};
	struct raft_disk_state st;
	int rc = node__restore_snapshot(n, &rs);
	if (rc)
		return rc;
	raft_disk_state(n->disk, &st);
	rs.hard =
		(struct raft_hard_state){st.hs.term, st.hs.vote, st.hs.commit};
	if (st.last_index >= st.first_index) {
		rs.log_first = st.first_index;
		rs.log_last = st.last_index;
	}
	rs.bootstrap = o->bootstrap;
	if (o->raft)
		ro = *o->raft;
	else
		raft_options_init(&ro);
	ro.id = o->id;
	ro.seed ^= (uint64_t)time_mono_ns() ^ (o->id * 0x9e3779b97f4a7c15ull);
	ro.log = (struct raft_log_reader){n, log_read, log_term};
	ro.snapshot = (struct raft_snapshot_reader){n, node__snap_read};
	return raft_new(&ro, &rs, &n->r);
}

int raft_node_start(uv_loop_t *loop, const struct raft_node_options *o,
		    struct raft_node **out)
{
	if (!o->id || !o->dir || !o->transport)
		return -EINVAL;
	struct raft_node *n = shoal_calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->loop = loop;
	n->id = o->id;
	n->tr = o->transport;
	n->cb = o->cb;
	n->cb_arg = o->cb_arg;
	list_init(&n->proposals);
	list_init(&n->reads);
	struct raft_disk_options dopt = {0};
	if (o->disk)
		dopt = *o->disk;
	dopt.dir = o->dir;
	/* The core bounds what it hands out (uncommitted bytes, in-flight
	 * messages); the queue must never refuse it. The core keeps its own
	 * window of entries, so the disk's only needs what is in flight. */
	if (!dopt.queue_bytes)
		dopt.queue_bytes = 512u << 20;
	if (!dopt.cache_bytes)
		dopt.cache_bytes = 4u << 20;
	int rc = raft_disk_open(loop, &dopt, &n->disk);
	if (rc)
		goto err_free;
	rc = open_core(n, o);
	if (rc)
		goto err_close_disk;
	uv_timer_init(loop, &n->timer);
	n->timer.data = n;
	n->tr->set_recv(n->tr->impl, on_recv, n);
	raft_tick(n->r, node__now_ms());
	node__process(n);
	*out = n;
	return 0;
err_close_disk:
	/* The disk frees itself on the loop; nothing else refers to it. */
	raft_disk_close(n->disk, NULL, NULL);
err_free:
	shoal_free(n);
	return rc;
}

static void on_disk_closed(void *arg)
{
	struct raft_node *n = arg;
	void (*cb)(void *) = n->stop_cb;
	void *cb_arg = n->stop_arg;
	if (n->snap_w)
		raft_disk_snapshot_abort(n->snap_w);
	raft_free(n->r);
	shoal_free(n);
	if (cb)
		cb(cb_arg);
}

static void on_timer_closed(uv_handle_t *h)
{
	struct raft_node *n = h->data;
	raft_disk_close(n->disk, on_disk_closed, n);
}

void node__maybe_stopped(struct raft_node *n)
{
	if (!n->stopping || n->pending_jobs ||
	    uv_is_closing((uv_handle_t *)&n->timer))
		return;
	uv_close((uv_handle_t *)&n->timer, on_timer_closed);
}

void raft_node_stop(struct raft_node *n, void (*cb)(void *arg), void *arg)
{
	if (n->stopping)
		return;
	n->stopping = true;
	n->stop_cb = cb;
	n->stop_arg = arg;
	n->tr->set_recv(n->tr->impl, NULL, NULL);
	uv_timer_stop(&n->timer);
	node__finish_waiters(&n->proposals, -ECANCELED);
	node__finish_waiters(&n->reads, -ECANCELED);
	node__maybe_stopped(n);
}
