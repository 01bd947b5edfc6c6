/*
 * The simulated cluster behind tests/unit/raft and tests/sim (see
 * cluster.h): the event heap, the network and the nodes' lifecycle.
 * Everything is driven by one event heap ordered by (virtual time, sequence
 * number), so a run depends only on its options and seed.
 *
 * After each event the node's core is drained: every update's persistent
 * part becomes a write of the simulated disk (simdisk.c), its messages go
 * on the network (delay, loss, duplication, partitions), its committed
 * entries are applied to a state machine that is a running hash, and the
 * oracle (oracle.c) checks the invariants.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "tests/sim/sim_internal.h"

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

/* ---- disk ---- */

/* ---- sending ---- */

void sim_send_msg(struct cluster *c, const struct raft_msg *m)
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
		e.msg = sim_msg_copy(m);
		heap_push(c, e);
	}
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

static void take_snapshot(struct cluster *c, struct node *nd)
{
	struct disk *d = &nd->disk;
	struct raft_snapshot_meta meta;
	unsigned char *data;
	size_t len;

	if (nd->applied <= d->snap.index)
		return;
	data = sim_sm_serialize(c, nd, &len);
	if (raft_snapshot_done(nd->r, nd->applied)) {
		shoal_free(data);
		sim_fail(c, CLUSTER_INV_CORE_CONTRACT,
			 "node %" PRIu64 " refused its own snapshot", nd->id);
		return;
	}
	raft_snapshot_meta(nd->r, &meta);
	shoal_free(d->snap_data);
	d->snap_data = data;
	d->snap_len = len;
	d->snap = meta;
	TRACE(c, "n%" PRIu64 " snapshot at %" PRIu64, nd->id, meta.index);
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
	if (nd->role == RAFT_LEADER && u->role_changed)
		sim_check_election(c, nd);
	sim_update_view(c, nd, u);
	if (nd->role == RAFT_LEADER && u->role_changed)
		sim_check_leader(c, nd);
	if (persist) {
		struct write *w = sim_write_from(c, nd, u);

		if (nd->wq_tail)
			nd->wq_tail->next = w;
		else
			nd->wq = w;
		nd->wq_tail = w;
		schedule_disk(c, nd, w->done_at);
	}
	for (size_t i = 0; i < u->n_msgs; i++)
		sim_send_msg(c, &u->msgs[i]);
	sim_apply_entries(c, nd, u);
	sim_grant_reads(c, nd, u);
	sim_serve_reads(c, nd);
	if (u->take_snapshot)
		take_snapshot(c, nd);
}

static void drain(struct cluster *c, struct node *nd)
{
	struct raft_update u;
	int guard = 0;

	while (nd->up && raft_has_update(nd->r) && guard++ < 1000) {
		if (raft_update_get(nd->r, &u)) {
			sim_fail(c, CLUSTER_INV_CORE_CONTRACT,
				 "node %" PRIu64 " cannot hand its update",
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

static void disk_event(struct cluster *c, struct node *nd)
{
	raft_tick(nd->r, c->now);
	while (nd->wq && nd->wq->done_at <= c->now) {
		struct write *w = nd->wq;

		nd->wq = w->next;
		if (!nd->wq)
			nd->wq_tail = NULL;
		sim_complete_write(c, nd, w);
		sim_write_free(w);
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
	nd->lreader =
		(struct raft_log_reader){nd, sim_reader_read, sim_reader_term};
	nd->sreader = (struct raft_snapshot_reader){nd, sim_snap_read};
	o.log = nd->lreader;
	o.snapshot = nd->sreader;
	rs.hard = d->hard;
	rs.snapshot = d->snap;
	if (d->n) {
		rs.log_first = d->first;
		rs.log_last = sim_disk_last(d);
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
	    !sim_sm_load(c, nd, d->snap_data, d->snap_len, d->snap.index))
		return -EIO;
	/* The view restarts from the durable log. */
	sim_view_reset(nd, d->snap.index);
	nd->view_last = d->n ? d->first - 1 : d->snap.index;
	if (d->n && d->first - 1 > d->snap.index)
		nd->view_last = d->first - 1;
	for (size_t i = 0; i < d->n; i++) {
		struct raft_entry e = {d->ents[i].term, d->first + i,
				       d->ents[i].type, d->ents[i].len,
				       d->ents[i].data};

		if (e.index <= nd->view_last)
			continue;
		sim_view_set(c, nd, e.index, e.term, sim_entry_hash(&e));
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
		sim_write_free(w);
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
		sim_disk_truncate(&nd->disk, nd->disk.first);
		shoal_free(nd->disk.ents);
		shoal_free(nd->disk.snap_data);
		shoal_free(nd->disk.in_data);
		shoal_free(nd->view);
		shoal_free(nd->props);
		shoal_free(nd->reads);
	}
	while (c->n_heap) {
		struct ev e = heap_pop(c);

		sim_msg_free(e.msg);
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
			sim_disk_reset(d, w->reset_index);
		if (w->truncate_from)
			sim_disk_truncate(d, w->truncate_from);
		for (size_t i = 0; i < k; i++)
			sim_disk_append(d, &w->ents[i]);
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
		sim_fail(c, CLUSTER_INV_CORE_CONTRACT,
			 "node %" PRIu64 " cannot restart from its disk: %d",
			 id, rc);
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
			sim_fail(c, CLUSTER_INV_CORE_CONTRACT,
				 "node %" PRIu64 " rejected a %s: %d", nd->id,
				 raft_msg_type_name(e->msg->type), rc);
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
	sim_msg_free(e.msg);
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

enum cluster_invariant cluster_violated(const struct cluster *c)
{
	return c->failed ? c->violated : CLUSTER_INV_NONE;
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
	     ((struct pending_prop){idx, term, sim_entry_hash(&e)}));
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
		sim_fail(c, CLUSTER_INV_LIVENESS,
			 "no leader after the faults healed");
		return -EIO;
	}
	raft_status(c->nodes[l].r, &st);
	if (st.commit < c->max_acked) {
		sim_fail(c, CLUSTER_INV_DURABILITY,
			 "leader %" PRIu64 " commit %" PRIu64
			 " below acknowledged write %" PRIu64,
			 l, st.commit, c->max_acked);
		return -EIO;
	}
	for (uint32_t i = 0; i < st.conf.n; i++) {
		uint64_t id = st.conf.servers[i].id;

		if (id > c->o.n || !c->nodes[id].up)
			continue;
		if (c->nodes[id].applied < st.commit) {
			sim_fail(c, CLUSTER_INV_LIVENESS,
				 "node %" PRIu64 " applied %" PRIu64
				 " of commit %" PRIu64 " after healing",
				 id, c->nodes[id].applied, st.commit);
			return -EIO;
		}
	}
	return 0;
}
