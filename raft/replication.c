/*
 * Log replication (thesis §3.5, §3.6, §10.2): AppendEntries on both sides,
 * heartbeats, and the commit rule.
 *
 * Leader side. Proposals are appended to the leader's log and marked for a
 * broadcast that happens when the shell next takes an update, so all
 * proposals made in one loop iteration travel in one message per follower
 * (batching). Followers in the replicate state get a pipeline of up to
 * max_inflight_msgs appends of at most max_msg_entries / max_msg_bytes each
 * (flow control); a rejection moves next back by a whole term at a time
 * using the follower's (hint_index, hint_term) (§5.3's optimisation in the
 * form etcd uses). The leader's own disk write runs in parallel with the
 * sends (§10.2.1): it counts itself towards a majority only once
 * raft_persisted() covered the entry.
 *
 * Commit rule (§3.6.2, Figure 8): an index is committed when a majority of
 * the voters of the latest configuration store it durably AND its entry is
 * of the leader's current term; entries of older terms are committed only
 * indirectly. New leaders append a no-op to commit quickly (§6.4).
 *
 * Follower side. An append is accepted only when our log has an entry at
 * prev_index with prev_term (the log matching property); a conflicting
 * suffix is truncated, never an entry at or below the commit index. The
 * accepting response is sent only after the entries are durable
 * (msgs_durable), so the leader's match index always means "on disk".
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "raft"
#include "common/alloc.h"
#include "common/log.h"
#include "raft/internal.h"

struct progress *raft__pr(struct raft *r, uint64_t id)
{
	for (uint32_t i = 0; i < r->n_prs; i++)
		if (r->prs[i].id == id)
			return &r->prs[i];
	return NULL;
}

int raft__append_local(struct raft *r, enum raft_entry_type type,
		       const void *data, size_t len, uint64_t *index)
{
	void *copy = NULL;
	int rc;

	if (len) {
		copy = shoal_memdup(data, len);
		if (!copy)
			return -ENOMEM;
	}
	rc = rlog_append_take(&r->log, r->term, type, copy, (uint32_t)len);
	if (rc) {
		shoal_free(copy);
		return rc;
	}
	r->uncommitted_bytes += len;
	if (index)
		*index = r->log.last;
	raft__note_entry(r, rlog_mem(&r->log, r->log.last));
	return 0;
}

void raft__become_leader(struct raft *r)
{
	log_info("node=%llu is leader for term=%llu", (unsigned long long)r->id,
		 (unsigned long long)r->term);
	if (r->role != RAFT_LEADER || r->leader != r->id)
		r->role_dirty = true;
	r->role = RAFT_LEADER;
	r->leader = r->id;
	r->transfer_to = RAFT_ID_NONE;
	r->uncommitted_bytes = 0;
	raft__prs_clear(r);
	raft__prs_sync(r);
	r->heartbeat_deadline = r->now + r->o.heartbeat_ms;
	r->quorum_deadline = r->now + r->o.election_timeout_ms;
	if (raft__append_local(r, RAFT_ENTRY_NOOP, NULL, 0, NULL))
		log_warn("node=%llu could not append its no-op: out of memory",
			 (unsigned long long)r->id);
	raft__bcast_append(r);
}

static bool need_snapshot(struct raft *r, struct progress *p)
{
	if (p->state == PR_SNAPSHOT)
		return true;
	pr_become_snapshot(p, r->snap.index, r->now);
	return true;
}

/*
 * Send one AppendEntries to @p if its state allows. With @empty_ok an append
 * without entries is sent when there is nothing new (it carries commit).
 * Returns whether a message went out.
 */
bool raft__send_append(struct raft *r, struct progress *p, bool empty_ok)
{
	struct raft_entry *ents = NULL;
	uint64_t prev = p->next - 1, prev_term;
	struct raft_msg *m;
	size_t n = 0;
	int rc;

	if (p->state == PR_SNAPSHOT) {
		raft__send_snapshot(r, p);
		return false;
	}
	if ((p->state == PR_PROBE && p->paused) ||
	    (p->state == PR_REPLICATE && pr_inflight_full(p)))
		return false;
	if (p->next > r->log.last && !empty_ok)
		return false;
	if (!rlog_term(&r->log, prev, &prev_term) && need_snapshot(r, p)) {
		raft__send_snapshot(r, p);
		return false;
	}
	rc = rlog_copy(&r->log, p->next, r->o.max_msg_entries,
		       r->o.max_msg_bytes, &ents, &n);
	if (rc == -ENOENT && need_snapshot(r, p)) {
		raft__send_snapshot(r, p);
		return false;
	}
	if (rc)
		return false;
	m = raft__msg(r, RAFT_MSG_APPEND, p->id, false);
	if (!m) {
		raft__entries_free(ents, n);
		return false;
	}
	m->append.prev_index = prev;
	m->append.prev_term = prev_term;
	m->append.commit = r->commit;
	p->commit_sent = r->commit;
	m->append.entries = ents;
	m->append.n_entries = n;
	if (p->state == PR_REPLICATE && n) {
		pr_inflight_add(p, prev + n);
		p->next = prev + n + 1;
	} else if (p->state == PR_PROBE) {
		p->paused = true;
	}
	return true;
}

static void send_fill(struct raft *r, struct progress *p)
{
	if (p->state != PR_REPLICATE) {
		raft__send_append(r, p, false);
		return;
	}
	while (p->next <= r->log.last && raft__send_append(r, p, false))
		;
}

void raft__bcast_append(struct raft *r)
{
	for (uint32_t i = 0; i < r->n_prs; i++) {
		struct progress *p = &r->prs[i];

		send_fill(r, p);
		if (p->state == PR_PROBE && !p->paused)
			raft__send_append(r, p, true);
	}
}

void raft__bcast_heartbeat(struct raft *r)
{
	for (uint32_t i = 0; i < r->n_prs; i++) {
		struct progress *p = &r->prs[i];
		struct raft_msg *m;

		m = raft__msg(r, RAFT_MSG_HEARTBEAT, p->id, false);
		if (!m)
			continue;
		m->heartbeat.commit =
			p->match < r->commit ? p->match : r->commit;
		m->heartbeat.ctx = r->read_ctx;
	}
}

static int cmp_desc(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

static void committed_to(struct raft *r, uint64_t n)
{
	for (uint64_t i = r->commit + 1; i <= n; i++) {
		const struct raft_entry *e = rlog_mem(&r->log, i);

		if (e && r->uncommitted_bytes >= e->len)
			r->uncommitted_bytes -= e->len;
	}
	r->commit = n;
}

void raft__maybe_commit(struct raft *r)
{
	const struct raft_conf *c = raft__conf(r);
	uint64_t match[RAFT_CONF_MAX];
	uint32_t n = 0, quorum = raft__quorum(r);
	uint64_t idx, t;

	for (uint32_t i = 0; i < c->n; i++) {
		const struct raft_server *s = &c->servers[i];
		struct progress *p;

		if (s->role != RAFT_VOTER)
			continue;
		if (s->id == r->id) {
			match[n++] = r->log.persisted;
			continue;
		}
		p = raft__pr(r, s->id);
		match[n++] = p ? p->match : 0;
	}
	if (n < quorum)
		return;
	qsort(match, n, sizeof(match[0]), cmp_desc);
	idx = match[quorum - 1];
	if (idx <= r->commit || !rlog_term(&r->log, idx, &t))
		return;
	if (t != r->term && !PLANTED(RAFT_BUG_COMMIT_OLD_TERM))
		return; /* Figure 8: never commit older terms by counting */
	committed_to(r, idx);
	raft__conf_committed(r);
	if (r->role == RAFT_LEADER)
		raft__reads_on_commit(r);
}

void raft__follower_commit(struct raft *r, uint64_t commit)
{
	if (commit > r->log.last)
		commit = r->log.last;
	if (commit > r->commit)
		r->commit = commit;
}

static void follow(struct raft *r, const struct raft_msg *m)
{
	if (r->role != RAFT_FOLLOWER || r->leader != m->from)
		raft__become_follower(r, m->term, m->from);
	r->leader_contact = r->now;
	raft__reset_election_timer(r);
}

static void reject_append(struct raft *r, const struct raft_msg *m)
{
	uint64_t prev = m->append.prev_index;
	uint64_t i = prev < r->log.last ? prev : r->log.last;
	uint64_t floor = r->commit, t = 0;
	struct raft_msg *resp;

	/* Largest index <= prev whose term is <= prev_term: everything after
	 * it certainly differs from the leader's log. */
	while (i > floor && rlog_term(&r->log, i, &t) &&
	       t > m->append.prev_term)
		i--;
	resp = raft__msg(r, RAFT_MSG_APPEND_RESP, m->from, false);
	if (!resp)
		return;
	resp->append_resp.reject = true;
	resp->append_resp.index = prev;
	resp->append_resp.hint_index = i;
	resp->append_resp.hint_term = rlog_term_or0(&r->log, i);
}

static int keep_suffix(struct raft *r, uint64_t from, struct raft_entry **out,
		       size_t *n)
{
	*out = NULL;
	*n = 0;
	if (from > r->log.last)
		return 0;
	return rlog_copy(&r->log, from, r->log.last - from + 1, SIZE_MAX, out,
			 n);
}

/* Append the entries of @m that we lack, truncating a conflicting suffix
 * (never below commit: committed entries match by Leader Completeness).
 * *@matched is the index through which our log now matches the leader's. */
static bool append_entries(struct raft *r, const struct raft_msg *m,
			   uint64_t *matched)
{
	const struct raft_msg_append *a = &m->append;
	struct raft_entry *saved = NULL;
	size_t k = 0, n_saved = 0;
	uint64_t t;

	for (; k < a->n_entries; k++) {
		const struct raft_entry *e = &a->entries[k];

		if (e->index <= r->commit)
			continue; /* committed entries always match */
		if (e->index > r->log.last)
			break;
		if (rlog_term(&r->log, e->index, &t) && t == e->term)
			continue;
		if (PLANTED(RAFT_BUG_KEEP_CONFLICT_SUFFIX))
			keep_suffix(r, a->prev_index + a->n_entries + 1, &saved,
				    &n_saved);
		rlog_truncate(&r->log, e->index);
		raft__confs_truncate(r, e->index);
		if (r->pend.truncate_from == 0 ||
		    r->pend.truncate_from > e->index)
			r->pend.truncate_from = e->index;
		break;
	}
	for (; k < a->n_entries; k++) {
		if (rlog_append(&r->log, &a->entries[k]))
			break;
		raft__note_entry(r, rlog_mem(&r->log, r->log.last));
	}
	for (size_t i = 0; i < n_saved && k == a->n_entries; i++)
		if (saved[i].index == r->log.last + 1)
			rlog_append(&r->log, &saved[i]);
	raft__entries_free(saved, n_saved);
	*matched = a->prev_index + k;
	if (*matched < r->commit)
		*matched = r->commit;
	return true;
}

void raft__recv_append(struct raft *r, const struct raft_msg *m)
{
	const struct raft_msg_append *a = &m->append;
	struct raft_msg *resp;
	uint64_t t, matched;

	follow(r, m);
	if (r->recv.pending)
		return; /* a snapshot is being loaded; the leader retries */
	if (a->prev_index >= r->commit &&
	    (!rlog_term(&r->log, a->prev_index, &t) || t != a->prev_term)) {
		reject_append(r, m);
		return;
	}
	if (!append_entries(r, m, &matched))
		return;
	raft__follower_commit(r, a->commit < matched ? a->commit : matched);
	resp = raft__msg(r, RAFT_MSG_APPEND_RESP, m->from, true);
	if (resp)
		resp->append_resp.index = matched;
}

/* Largest index <= @index in our log with term <= @term (stops at match). */
static uint64_t leader_conflict(struct raft *r, struct progress *p,
				uint64_t index, uint64_t term)
{
	uint64_t t;

	if (index > r->log.last)
		index = r->log.last;
	while (index > p->match && rlog_term(&r->log, index, &t) && t > term)
		index--;
	return index;
}

static void on_reject(struct raft *r, struct progress *p,
		      const struct raft_msg_append_resp *a)
{
	uint64_t rej = a->index, next;

	if (p->state == PR_REPLICATE ? rej <= p->match : rej != p->next - 1)
		return; /* stale */
	if (p->state == PR_SNAPSHOT)
		return;
	next = leader_conflict(r, p, a->hint_index, a->hint_term) + 1;
	if (next > rej)
		next = rej;
	if (next <= p->match)
		next = p->match + 1;
	p->next = next;
	pr_become_probe(p, r->now);
	p->next = next;
	raft__send_append(r, p, true);
}

void raft__recv_append_resp(struct raft *r, const struct raft_msg *m)
{
	const struct raft_msg_append_resp *a = &m->append_resp;
	struct progress *p;

	if (r->role != RAFT_LEADER)
		return;
	p = raft__pr(r, m->from);
	if (!p)
		return;
	p->active = true;
	if (a->reject) {
		on_reject(r, p, a);
		return;
	}
	if (a->index > r->log.last)
		return; /* cannot match what we never had */
	if (pr_update(p, a->index, r->now))
		raft__maybe_commit(r);
	if (r->role != RAFT_LEADER)
		return; /* the commit removed us (§4.2.2) */
	pr_inflight_free_to(p, a->index);
	if (p->state == PR_PROBE ||
	    (p->state == PR_SNAPSHOT && p->match >= p->snap_index))
		pr_become_replicate(p, r->now);
	raft__transfer_check(r, p);
	send_fill(r, p);
}

void raft__recv_heartbeat(struct raft *r, const struct raft_msg *m)
{
	struct raft_msg *resp;

	follow(r, m);
	if (!r->recv.pending)
		raft__follower_commit(r, m->heartbeat.commit);
	resp = raft__msg(r, RAFT_MSG_HEARTBEAT_RESP, m->from, false);
	if (resp)
		resp->heartbeat_resp.ctx = m->heartbeat.ctx;
}

void raft__recv_heartbeat_resp(struct raft *r, const struct raft_msg *m)
{
	struct progress *p;

	if (r->role != RAFT_LEADER)
		return;
	p = raft__pr(r, m->from);
	if (!p)
		return;
	p->active = true;
	if (m->heartbeat_resp.ctx > p->read_ctx) {
		p->read_ctx = m->heartbeat_resp.ctx;
		raft__reads_check(r);
	}
	if (p->state == PR_PROBE) {
		p->paused = false;
	} else if (p->state == PR_REPLICATE && p->in_n &&
		   r->now >= p->progress_ms + 2 * r->o.heartbeat_ms) {
		/* Appends were lost: find the match point again. */
		pr_become_probe(p, r->now);
		p->next = p->match + 1;
	}
	if (p->match < r->log.last)
		raft__send_append(r, p, true);
}
