/*
 * Construction, the event entry points and validation of the pure Raft
 * core. Everything here is deterministic: the same options, restored state
 * and sequence of calls (with the same time arguments) produce the same
 * updates, which is what lets tests/sim replay a failing seed exactly.
 *
 * raft_step() is the trust boundary: a message comes from a peer and may be
 * anything. raft_msg_validate() rejects malformed ones with -EPROTO before
 * any state changes; after that the handlers may assume well-formed input
 * but never assume a correct peer (a stale, duplicated or lying message is
 * handled by the term rules of Figure 2, not by asserts).
 */
#include <errno.h>
#include <string.h>

#define LOG_MODULE "raft"
#include "common/alloc.h"
#include "common/error.h"
#include "common/log.h"
#include "raft/internal.h"

#ifdef RAFT_PLANTED_BUGS
int raft__planted;
#endif

void raft_options_init(struct raft_options *o)
{
	memset(o, 0, sizeof(*o));
	o->heartbeat_ms = 100;
	o->election_timeout_ms = 1000;
	o->election_jitter_ms = -1;
	o->prevote = true;
	o->check_quorum = true;
	o->max_inflight_msgs = 64;
	o->max_msg_entries = 512;
	o->max_msg_bytes = 1u << 20;
	o->max_uncommitted = 4096;
	o->max_uncommitted_bytes = 64u << 20;
	o->max_pending_reads = 4096;
	o->mem_entries = 8192;
	o->mem_bytes = 64u << 20;
	o->snapshot_threshold = 8192;
	o->snapshot_trailing = 1024;
	o->snapshot_chunk = 1u << 20;
	o->snapshot_inflight = 4;
	o->catchup_margin = 64;
}

/* splitmix64: tiny, seedable, good enough for election jitter. */
uint64_t raft__rand(struct raft *r)
{
	uint64_t z = (r->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

const struct raft_conf *raft__conf(const struct raft *r)
{
	return &r->confs[r->n_confs - 1].conf;
}

uint64_t raft__conf_index(const struct raft *r)
{
	return r->confs[r->n_confs - 1].index;
}

bool raft__is_voter(const struct raft_conf *c, uint64_t id)
{
	const struct raft_server *s = raft_conf_find(c, id);

	return s && s->role == RAFT_VOTER;
}

uint32_t raft__quorum(const struct raft *r)
{
	const struct raft_conf *c = raft__conf(r);
	uint32_t voters = 0;

	for (uint32_t i = 0; i < c->n; i++)
		voters += c->servers[i].role == RAFT_VOTER;
	return voters / 2 + 1;
}

static int options_check(const struct raft_options *o)
{
	if (o->id == RAFT_ID_NONE || !o->heartbeat_ms ||
	    o->election_timeout_ms <= o->heartbeat_ms ||
	    !o->max_inflight_msgs || !o->max_msg_entries || !o->max_msg_bytes ||
	    !o->max_uncommitted || !o->max_pending_reads || !o->mem_entries ||
	    !o->snapshot_chunk || !o->snapshot_inflight ||
	    o->snapshot_chunk > RAFT_ENTRY_MAX)
		return -EINVAL;
	return 0;
}

/*
 * The restored log must continue the snapshot. A log that stops short of
 * it, or holds another term at its index (a crash between saving an
 * installed snapshot and resetting the log), is discarded: the core starts
 * after the snapshot and the first update tells the shell to reset the log.
 * A commit index beyond the log (a torn tail lost entries that were never
 * acknowledged) is clamped: commit is only a hint the leader repeats.
 */
static int restore_check(struct raft *r, const struct raft_restore *s,
			 uint64_t *first, uint64_t *last, uint64_t *last_term)
{
	uint64_t si = s->snapshot.index, t;

	*first = s->log_first;
	*last = s->log_last;
	*last_term = s->snapshot.term;
	if (si && !s->snapshot.term)
		return -EINVAL;
	if (s->snapshot.conf.n > RAFT_CONF_MAX)
		return -EINVAL;
	if (*first || *last) {
		if (*first == 0 || *last + 1 < *first || *first > si + 1)
			return -EINVAL;
		if (*last > si &&
		    (!r->o.log.term ||
		     r->o.log.term(r->o.log.arg, *last, last_term)))
			return -EINVAL;
		if (*last >= si && si && *first <= si &&
		    (!r->o.log.term || r->o.log.term(r->o.log.arg, si, &t) ||
		     t != s->snapshot.term))
			*last = 0;
	}
	if (*last < si || (!*first && !*last)) {
		/* Tell the disk where the log restarts (idempotent). */
		r->pend.log_reset = si != 0;
		r->pend.log_reset_index = si;
		*first = si + 1;
		*last = si;
		*last_term = s->snapshot.term;
	}
	return 0;
}

/* Find the configuration entries after the snapshot (§4.1: a server uses
 * the latest configuration in its log, committed or not). */
static int scan_confs(struct raft *r)
{
	uint64_t idx = r->snap.index + 1;

	if (idx < r->log.first)
		idx = r->log.first;
	while (idx <= r->log.last) {
		struct raft_entry *ents;
		size_t n;
		int rc = rlog_copy(&r->log, idx, 1024, 16u << 20, &ents, &n);

		if (rc)
			return rc;
		for (size_t i = 0; i < n; i++) {
			struct raft_conf c;

			if (ents[i].type != RAFT_ENTRY_CONF)
				continue;
			rc = raft_conf_decode(ents[i].data, ents[i].len, &c);
			if (!rc)
				rc = raft__confs_push(r, ents[i].index, &c);
			if (rc) {
				raft__entries_free(ents, n);
				return rc == -EPROTO ? -EINVAL : rc;
			}
		}
		raft__entries_free(ents, n);
		idx += n;
	}
	return 0;
}

static int init_log(struct raft *r, const struct raft_restore *s)
{
	uint64_t first, last, last_term;
	int rc = restore_check(r, s, &first, &last, &last_term);

	if (rc)
		return rc;
	rlog_init(&r->log, &r->o.log, first, last, last_term, s->snapshot.index,
		  s->snapshot.term);
	return 0;
}

int raft_new(const struct raft_options *options,
	     const struct raft_restore *state, struct raft **out)
{
	const struct raft_conf *c0;
	struct raft_conf empty = {0};
	struct raft *r;
	int rc;

	rc = options_check(options);
	if (rc)
		return rc;
	r = shoal_calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->o = *options;
	if (r->o.election_jitter_ms < 0)
		r->o.election_jitter_ms = r->o.election_timeout_ms / 2;
	r->id = options->id;
	r->rng = options->seed ^ (options->id * 0x2545f4914f6cdd1dULL);
	r->snap = state->snapshot;
	rc = init_log(r, state);
	if (rc)
		goto err_free;
	c0 = &state->snapshot.conf;
	if (!state->snapshot.index && !c0->n)
		c0 = state->bootstrap ? state->bootstrap : &empty;
	rc = raft__confs_push(r, state->snapshot.conf_index, c0);
	if (rc)
		goto err_free;
	rc = scan_confs(r);
	if (rc)
		goto err_confs;
	r->term = state->hard.term;
	r->vote = state->hard.vote;
	r->commit = state->hard.commit > r->snap.index ? state->hard.commit
						       : r->snap.index;
	if (r->commit > r->log.last)
		r->commit = r->log.last;
	r->hard_out = (struct raft_hard_state){r->term, r->vote, r->commit};
	r->applied = r->snap.index;
	r->snap_asked_at = r->snap.index;
	r->role = RAFT_FOLLOWER;
	raft__reset_election_timer(r);
	*out = r;
	return 0;

err_confs:
	shoal_free(r->confs);
err_free:
	rlog_fini(&r->log);
	shoal_free(r);
	return rc;
}

void raft_free(struct raft *r)
{
	if (!r)
		return;
	raft__out_free(&r->pend);
	raft__out_free(&r->handed);
	raft__prs_clear(r);
	rlog_fini(&r->log);
	shoal_free(r->confs);
	shoal_free(r->reads);
	shoal_free(r);
}

int raft_tick(struct raft *r, uint64_t now_ms)
{
	if (!r->ticked) {
		/* The first tick sets the clock: timers start from here. */
		r->ticked = true;
		r->now = now_ms;
		raft__reset_election_timer(r);
		return 0;
	}
	if (now_ms > r->now)
		r->now = now_ms;
	if (r->role == RAFT_LEADER)
		raft__tick_leader(r);
	else
		raft__tick_election(r);
	return 0;
}

uint64_t raft_next_deadline(const struct raft *r)
{
	uint64_t d;

	if (r->role != RAFT_LEADER)
		return r->election_deadline;
	d = r->heartbeat_deadline;
	if (r->o.check_quorum && r->quorum_deadline < d)
		d = r->quorum_deadline;
	if (r->transfer_to && r->transfer_deadline < d)
		d = r->transfer_deadline;
	return d;
}

static bool from_leader(enum raft_msg_type t)
{
	return t == RAFT_MSG_APPEND || t == RAFT_MSG_HEARTBEAT ||
	       t == RAFT_MSG_SNAPSHOT || t == RAFT_MSG_TIMEOUT_NOW;
}

/* Reply to a message of an older term so that its sender learns ours. */
static void reply_stale(struct raft *r, const struct raft_msg *m)
{
	struct raft_msg *resp;

	if (from_leader(m->type) && m->type != RAFT_MSG_TIMEOUT_NOW) {
		resp = raft__msg(r, RAFT_MSG_APPEND_RESP, m->from, false);
		if (resp)
			resp->append_resp.reject = true;
	} else if (m->type == RAFT_MSG_VOTE) {
		resp = raft__msg(r, RAFT_MSG_VOTE_RESP, m->from, false);
		if (resp)
			resp->vote_resp.prevote = m->vote.prevote;
	}
}

/*
 * Figure 2, "Rules for all servers": a higher term makes us a follower of
 * that term. Exceptions (§9.6, §4.2.3): a vote request inside our leader
 * lease is ignored (unless it follows a TimeoutNow), and pre-votes and
 * granted pre-vote responses do not change terms. Returns false when the
 * message must be dropped.
 */
static bool step_term(struct raft *r, const struct raft_msg *m)
{
	if (m->term > r->term) {
		if (m->type == RAFT_MSG_VOTE) {
			if (!m->vote.transfer && raft__in_lease(r))
				return false;
			if (m->vote.prevote)
				return true;
		}
		if (m->type == RAFT_MSG_VOTE_RESP && m->vote_resp.prevote &&
		    m->vote_resp.granted)
			return true;
		raft__become_follower(r, m->term,
				      from_leader(m->type) ? m->from : 0);
		return true;
	}
	if (m->term < r->term) {
		reply_stale(r, m);
		return false;
	}
	return true;
}

int raft_step(struct raft *r, const struct raft_msg *m)
{
	int rc = raft_msg_validate(m);

	if (rc)
		return rc;
	if (m->to != r->id || m->from == r->id)
		return -EPROTO;
	if (!step_term(r, m))
		return 0;
	switch (m->type) {
	case RAFT_MSG_APPEND:
		raft__recv_append(r, m);
		break;
	case RAFT_MSG_APPEND_RESP:
		raft__recv_append_resp(r, m);
		break;
	case RAFT_MSG_VOTE:
		raft__recv_vote(r, m);
		break;
	case RAFT_MSG_VOTE_RESP:
		raft__recv_vote_resp(r, m);
		break;
	case RAFT_MSG_HEARTBEAT:
		raft__recv_heartbeat(r, m);
		break;
	case RAFT_MSG_HEARTBEAT_RESP:
		raft__recv_heartbeat_resp(r, m);
		break;
	case RAFT_MSG_SNAPSHOT:
		raft__recv_snapshot(r, m);
		break;
	case RAFT_MSG_SNAPSHOT_RESP:
		raft__recv_snapshot_resp(r, m);
		break;
	case RAFT_MSG_TIMEOUT_NOW:
		raft__recv_timeout_now(r, m);
		break;
	}
	return 0;
}

int raft_persisted(struct raft *r, uint64_t index, uint64_t term)
{
	uint64_t t;

	if (index > r->log.last || !rlog_term(&r->log, index, &t) || t != term)
		return 0; /* stale: that entry was replaced since */
	if (index >= r->log.unstable)
		return -EINVAL;
	if (index > r->log.persisted) {
		r->log.persisted = index;
		if (r->role == RAFT_LEADER)
			raft__maybe_commit(r);
	}
	return 0;
}

int raft_propose(struct raft *r, const void *data, size_t len, uint64_t *index,
		 uint64_t *term)
{
	int rc;

	if (r->role != RAFT_LEADER)
		return SHOAL_ENOTLEADER;
	if (r->transfer_to)
		return -EBUSY;
	if (len > RAFT_ENTRY_MAX)
		return -EMSGSIZE;
	if (r->log.last - r->commit >= r->o.max_uncommitted ||
	    r->uncommitted_bytes + len > r->o.max_uncommitted_bytes)
		return -EBUSY;
	rc = raft__append_local(r, RAFT_ENTRY_NORMAL, data, len, index);
	if (rc)
		return rc;
	r->bcast_pending = true;
	if (term)
		*term = r->term;
	return 0;
}

void raft_status(const struct raft *r, struct raft_status *out)
{
	memset(out, 0, sizeof(*out));
	out->id = r->id;
	out->role = r->role;
	out->term = r->term;
	out->vote = r->vote;
	out->leader = r->leader;
	out->commit = r->commit;
	out->applied = r->applied;
	out->persisted = r->log.persisted;
	out->first_index = r->log.first;
	out->last_index = r->log.last;
	out->last_term = r->log.last_term;
	out->snapshot_index = r->snap.index;
	out->snapshot_term = r->snap.term;
	out->conf = *raft__conf(r);
	out->conf_index = raft__conf_index(r);
	out->mem_entries = r->log.n;
	out->mem_bytes = r->log.mem_bytes;
	out->transfer_to = r->transfer_to;
}

uint64_t raft_match_index(const struct raft *r, uint64_t id)
{
	if (r->role != RAFT_LEADER)
		return 0;
	if (id == r->id)
		return r->log.persisted;
	for (uint32_t i = 0; i < r->n_prs; i++)
		if (r->prs[i].id == id)
			return r->prs[i].match;
	return 0;
}
