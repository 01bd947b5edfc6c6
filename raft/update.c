/*
 * The batch of work handed to the shell (etcd's Ready). Events append
 * messages, read states and snapshot chunks to the pending batch; entries to
 * persist are not copied until raft_update_get(), which takes everything
 * from log.unstable on (so entries truncated before the shell ever saw them
 * cost nothing), and committed entries are copied then too, up to
 * min(commit, persisted) and at most max_msg_entries / max_msg_bytes per
 * update so one update stays bounded.
 *
 * raft_update_get() is also where the leader flushes: proposals made since
 * the last update leave in one append per follower, and one heartbeat round
 * confirms all the reads that arrived meanwhile.
 *
 * A handed update owns its memory until raft_update_done(); the core may
 * keep running meanwhile (its new work goes to the next update).
 */
#include <errno.h>
#include <string.h>

#include "common/alloc.h"
#include "raft/internal.h"

static void msgs_free(struct raft_msg *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (m[i].type == RAFT_MSG_APPEND)
			raft__entries_free(m[i].append.entries,
					   m[i].append.n_entries);
		else if (m[i].type == RAFT_MSG_SNAPSHOT)
			shoal_free(m[i].snapshot.data);
	}
	shoal_free(m);
}

void raft__out_free(struct out *o)
{
	msgs_free(o->msgs, o->n_msgs);
	msgs_free(o->dmsgs, o->n_dmsgs);
	raft__entries_free(o->ents, o->n_ents);
	raft__entries_free(o->committed, o->n_committed);
	shoal_free(o->reads);
	for (size_t i = 0; i < o->n_chunks; i++)
		shoal_free(o->chunks[i].data);
	shoal_free(o->chunks);
	memset(o, 0, sizeof(*o));
}

struct raft_msg *raft__msg(struct raft *r, enum raft_msg_type type, uint64_t to,
			   bool durable)
{
	struct out *o = &r->pend;
	struct raft_msg **v = durable ? &o->dmsgs : &o->msgs;
	size_t *n = durable ? &o->n_dmsgs : &o->n_msgs;
	size_t *cap = durable ? &o->cap_dmsgs : &o->cap_msgs;
	struct raft_msg *m;

	/* On allocation failure the message is dropped: Raft tolerates
	 * message loss, and the sender retries on its timers. */
	if (raft__grow((void **)v, cap, *n + 1, sizeof(**v)))
		return NULL;
	m = &(*v)[(*n)++];
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->from = r->id;
	m->to = to;
	m->term = r->term;
	return m;
}

int raft__read_out(struct raft *r, uint64_t token, uint64_t index, int status)
{
	struct out *o = &r->pend;
	int rc = raft__grow((void **)&o->reads, &o->cap_reads, o->n_reads + 1,
			    sizeof(*o->reads));

	if (rc)
		return rc;
	o->reads[o->n_reads++] = (struct raft_read_state){token, index, status};
	return 0;
}

struct raft_snapshot_chunk *raft__chunk_out(struct raft *r)
{
	struct out *o = &r->pend;
	struct raft_snapshot_chunk *c;

	if (raft__grow((void **)&o->chunks, &o->cap_chunks, o->n_chunks + 1,
		       sizeof(*o->chunks)))
		return NULL;
	c = &o->chunks[o->n_chunks++];
	memset(c, 0, sizeof(*c));
	return c;
}

static uint64_t apply_limit(const struct raft *r)
{
	uint64_t lim =
		r->commit < r->log.persisted ? r->commit : r->log.persisted;

	return r->recv.pending ? r->applied : lim;
}

static bool hard_changed(const struct raft *r)
{
	return r->hard_out.term != r->term || r->hard_out.vote != r->vote ||
	       r->hard_out.commit != r->commit;
}

static void flush_leader(struct raft *r)
{
	if (r->role != RAFT_LEADER) {
		r->bcast_pending = r->hb_pending = false;
		return;
	}
	if (r->hb_pending)
		raft__bcast_heartbeat(r);
	for (uint32_t i = 0; i < r->n_prs; i++) {
		struct progress *p = &r->prs[i];
		size_t before = r->pend.n_msgs;

		if (r->bcast_pending)
			while (p->next <= r->log.last &&
			       raft__send_append(r, p, false))
				if (p->state != PR_REPLICATE)
					break;
		/* Nothing new to send: still tell it the commit index it can
		 * apply (at most its match), so its state machine keeps up
		 * without waiting for a heartbeat. */
		if (r->pend.n_msgs == before && p->state == PR_REPLICATE &&
		    p->commit_sent <
			    (p->match < r->commit ? p->match : r->commit) &&
		    p->next > r->log.last)
			raft__send_append(r, p, true);
	}
	r->bcast_pending = r->hb_pending = false;
}

static void maybe_ask_snapshot(struct raft *r)
{
	uint64_t t = r->o.snapshot_threshold;

	if (t && r->applied - r->snap.index >= t &&
	    r->applied - r->snap_asked_at >= t) {
		r->take_snapshot = true;
		r->snap_asked_at = r->applied;
	}
}

static void evict(struct raft *r)
{
	struct rlog *l = &r->log;

	while (l->n && l->mem_first <= r->applied &&
	       (l->n > r->o.mem_entries || l->mem_bytes > r->o.mem_bytes)) {
		uint64_t before = l->mem_first;

		rlog_evict(l, l->mem_first);
		if (l->mem_first == before)
			break;
	}
}

bool raft_has_update(const struct raft *r)
{
	const struct out *o = &r->pend;

	return o->n_msgs || o->n_dmsgs || o->n_reads || o->n_chunks ||
	       o->log_reset || o->truncate_from ||
	       r->log.unstable <= r->log.last || hard_changed(r) ||
	       r->applied < apply_limit(r) || r->compact_upto ||
	       r->take_snapshot || r->role_dirty || r->bcast_pending ||
	       r->hb_pending;
}

static int copy_unstable(struct raft *r, struct raft_entry **out, size_t *n)
{
	uint64_t from = r->log.unstable;
	struct raft_entry *ents;
	size_t cnt;

	*out = NULL;
	*n = 0;
	if (from > r->log.last)
		return 0;
	cnt = r->log.last - from + 1;
	ents = shoal_calloc(cnt, sizeof(*ents));
	if (!ents)
		return -ENOMEM;
	for (size_t i = 0; i < cnt; i++) {
		if (raft__entry_copy(&ents[i], rlog_mem(&r->log, from + i))) {
			raft__entries_free(ents, i);
			return -ENOMEM;
		}
	}
	*out = ents;
	*n = cnt;
	return 0;
}

int raft_update_get(struct raft *r, struct raft_update *u)
{
	struct raft_entry *ents, *committed = NULL;
	size_t n_ents, n_committed = 0;
	uint64_t lim;
	int rc;

	if (r->handed_active)
		return -EALREADY;
	flush_leader(r);
	rc = copy_unstable(r, &ents, &n_ents);
	if (rc)
		return rc;
	lim = apply_limit(r);
	if (r->applied < lim &&
	    rlog_copy(&r->log, r->applied + 1, lim - r->applied,
		      r->o.max_msg_bytes, &committed, &n_committed))
		n_committed = 0; /* reader trouble: retried next update */
	r->handed = r->pend;
	memset(&r->pend, 0, sizeof(r->pend));
	r->handed.ents = ents;
	r->handed.n_ents = n_ents;
	r->handed.committed = committed;
	r->handed.n_committed = n_committed;
	r->handed_active = true;

	memset(u, 0, sizeof(*u));
	u->log_reset = r->handed.log_reset;
	u->log_reset_index = r->handed.log_reset_index;
	u->truncate_from = r->handed.truncate_from;
	u->entries = ents;
	u->n_entries = n_ents;
	u->hard_changed = hard_changed(r);
	u->hard = (struct raft_hard_state){r->term, r->vote, r->commit};
	u->chunks = r->handed.chunks;
	u->n_chunks = r->handed.n_chunks;
	u->msgs = r->handed.msgs;
	u->n_msgs = r->handed.n_msgs;
	u->msgs_durable = r->handed.dmsgs;
	u->n_msgs_durable = r->handed.n_dmsgs;
	u->committed = committed;
	u->n_committed = n_committed;
	u->reads = r->handed.reads;
	u->n_reads = r->handed.n_reads;
	u->compact_upto = r->compact_upto;
	u->role_changed = r->role_dirty;
	u->role = r->role;
	u->leader = r->leader;
	u->term = r->term;

	r->hard_out = u->hard;
	r->log.unstable = r->log.last + 1;
	r->applied += n_committed;
	r->compact_upto = 0;
	r->role_dirty = false;
	maybe_ask_snapshot(r);
	u->take_snapshot = r->take_snapshot;
	r->take_snapshot = false;
	evict(r);
	return 0;
}

void raft_update_done(struct raft *r, struct raft_update *u)
{
	raft__out_free(&r->handed);
	r->handed_active = false;
	memset(u, 0, sizeof(*u));
}
