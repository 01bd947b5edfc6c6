/*
 * Leader election (thesis §3.4) with the two refinements that keep a stable
 * cluster stable:
 *
 *  - Pre-vote (§9.6): a server whose election timer fires first asks the
 *    voters whether they *would* vote for it in term+1, without changing
 *    any term. Only with a majority of yeses does it become a candidate.
 *    A partitioned or removed server thus never disrupts the cluster with
 *    ever-higher terms.
 *  - Leader lease (§4.2.3, "disruptive servers"): a server that heard from
 *    a leader within the minimum election timeout ignores (pre-)vote
 *    requests of higher terms. Because every election timer is at least
 *    that long and is restarted by each leader contact, when the leader
 *    really crashed the first server to time out finds every other
 *    server's lease expired too, and wins in the first round. A request
 *    sent after TimeoutNow (leadership transfer, §3.10) bypasses leases.
 *
 * Check-quorum (§6.2): a leader that did not hear from a majority within an
 * election timeout steps down, so a partitioned or disk-stalled leader stops
 * accepting proposals and reads, and its lease ends.
 *
 * Safety: a vote is granted at most once per term (the vote is persisted
 * with the term and the response goes in msgs_durable, sent only once it is
 * on disk) and only to a candidate whose log is at least as up-to-date as
 * ours (§3.6.1: last term, then last index).
 */
#include <string.h>

#define LOG_MODULE "raft"
#include "common/log.h"
#include "raft/internal.h"

void raft__reset_election_timer(struct raft *r)
{
	uint64_t jitter = (uint64_t)r->o.election_jitter_ms;

	r->election_deadline = r->now + r->o.election_timeout_ms;
	if (jitter)
		r->election_deadline += raft__rand(r) % jitter;
}

bool raft__in_lease(const struct raft *r)
{
	if (r->role == RAFT_LEADER)
		return r->o.check_quorum;
	return r->leader != RAFT_ID_NONE &&
	       r->now < r->leader_contact + r->o.election_timeout_ms;
}

static void set_role(struct raft *r, enum raft_role role, uint64_t leader)
{
	if (r->role != role || r->leader != leader)
		r->role_dirty = true;
	r->role = role;
	r->leader = leader;
}

void raft__become_follower(struct raft *r, uint64_t term, uint64_t leader)
{
	if (term > r->term) {
		r->term = term;
		r->vote = RAFT_ID_NONE;
	}
	if (r->role == RAFT_LEADER) {
		raft__reads_fail(r);
		raft__transfer_abort(r);
		r->uncommitted_bytes = 0;
	}
	set_role(r, RAFT_FOLLOWER, leader);
	if (leader)
		r->leader_contact = r->now;
	r->transfer_campaign = false;
	raft__reset_election_timer(r);
}

static void send_votes(struct raft *r, bool prevote, bool transfer)
{
	const struct raft_conf *c = raft__conf(r);

	for (uint32_t i = 0; i < c->n; i++) {
		const struct raft_server *s = &c->servers[i];
		struct raft_msg *m;

		if (s->id == r->id || s->role != RAFT_VOTER)
			continue;
		/* A real vote request goes out only once our own vote for
		 * ourselves is durable (msgs_durable). */
		m = raft__msg(r, RAFT_MSG_VOTE, s->id, !prevote);
		if (!m)
			continue;
		m->term = prevote ? r->term + 1 : r->term;
		m->vote.last_index = r->log.last;
		m->vote.last_term = r->log.last_term;
		m->vote.prevote = prevote;
		m->vote.transfer = transfer;
	}
}

/*
 * §4.2.2: a server campaigns if it is a voter of its latest configuration,
 * or of the previous one while the latest is uncommitted (the change that
 * removes it may never commit, and the cluster may need it until then). It
 * counts its own vote only if it is a voter of its latest configuration.
 */
static bool can_campaign(const struct raft *r)
{
	if (raft__is_voter(raft__conf(r), r->id))
		return true;
	return r->n_confs > 1 && raft__conf_index(r) > r->commit &&
	       raft__is_voter(&r->confs[r->n_confs - 2].conf, r->id);
}

void raft__campaign(struct raft *r, bool prevote, bool transfer)
{
	bool self = raft__is_voter(raft__conf(r), r->id);

	if (!can_campaign(r))
		return;
	if (prevote) {
		set_role(r, RAFT_PRECANDIDATE, RAFT_ID_NONE);
	} else {
		set_role(r, RAFT_CANDIDATE, RAFT_ID_NONE);
		r->term++;
		r->vote = r->id;
	}
	r->transfer_campaign = transfer;
	r->n_for = self ? 1 : 0;
	r->n_against = 0;
	r->votes_for[0] = r->id;
	raft__reset_election_timer(r);
	if (self && raft__quorum(r) <= 1) {
		if (prevote)
			raft__campaign(r, false, transfer);
		else
			raft__become_leader(r);
		return;
	}
	log_debug("node=%llu starts %s for term=%llu",
		  (unsigned long long)r->id, prevote ? "pre-vote" : "election",
		  (unsigned long long)(r->term + prevote));
	send_votes(r, prevote, transfer);
}

void raft__tick_election(struct raft *r)
{
	if (r->now < r->election_deadline)
		return;
	if (!can_campaign(r) || r->recv.pending) {
		raft__reset_election_timer(r);
		return;
	}
	raft__campaign(r, r->o.prevote, false);
}

static bool log_up_to_date(const struct raft *r, const struct raft_msg *m)
{
	if (PLANTED(RAFT_BUG_VOTE_NO_LOG_CHECK))
		return true;
	if (m->vote.last_term != r->log.last_term)
		return m->vote.last_term > r->log.last_term;
	return m->vote.last_index >= r->log.last;
}

/* RequestVote and PreVote receiver (Figure 2, §9.6). The term rules ran
 * in raft_step(): m->term >= r->term, or a pre-vote for a higher term. */
void raft__recv_vote(struct raft *r, const struct raft_msg *m)
{
	bool prevote = m->vote.prevote;
	bool can_vote =
		r->vote == m->from ||
		(r->vote == RAFT_ID_NONE && r->leader == RAFT_ID_NONE) ||
		(prevote && m->term > r->term);
	bool grant = can_vote && log_up_to_date(r, m);
	bool durable = !prevote && !PLANTED(RAFT_BUG_VOTE_NOT_DURABLE);
	struct raft_msg *resp;

	if (grant && !prevote) {
		r->vote = m->from;
		raft__reset_election_timer(r);
	}
	resp = raft__msg(r, RAFT_MSG_VOTE_RESP, m->from, durable);
	if (!resp)
		return;
	resp->term = grant && prevote ? m->term : r->term;
	resp->vote_resp.granted = grant;
	resp->vote_resp.prevote = prevote;
}

static bool record(uint64_t *ids, uint32_t *n, uint64_t id)
{
	for (uint32_t i = 0; i < *n; i++)
		if (ids[i] == id)
			return false;
	if (*n >= RAFT_CONF_MAX)
		return false;
	ids[(*n)++] = id;
	return true;
}

void raft__recv_vote_resp(struct raft *r, const struct raft_msg *m)
{
	bool prevote = m->vote_resp.prevote;
	uint32_t quorum = raft__quorum(r);

	if (prevote ? r->role != RAFT_PRECANDIDATE : r->role != RAFT_CANDIDATE)
		return;
	if (prevote && m->vote_resp.granted && m->term != r->term + 1)
		return;
	if (!raft__is_voter(raft__conf(r), m->from))
		return; /* learners and strangers do not count (§4.2.1) */
	if (m->vote_resp.granted) {
		if (record(r->votes_for, &r->n_for, m->from) &&
		    r->n_for >= quorum) {
			if (prevote)
				raft__campaign(r, false, r->transfer_campaign);
			else
				raft__become_leader(r);
		}
		return;
	}
	if (record(r->votes_against, &r->n_against, m->from) &&
	    r->n_against >= quorum)
		raft__become_follower(r, r->term, RAFT_ID_NONE);
}

static void check_quorum(struct raft *r)
{
	uint32_t active = raft__is_voter(raft__conf(r), r->id) ? 1 : 0;

	for (uint32_t i = 0; i < r->n_prs; i++) {
		struct progress *p = &r->prs[i];

		if (p->voter && p->active)
			active++;
		p->active = false;
	}
	r->quorum_deadline = r->now + r->o.election_timeout_ms;
	if (active >= raft__quorum(r))
		return;
	log_info(
		"node=%llu steps down in term=%llu: no quorum heard within %u ms",
		(unsigned long long)r->id, (unsigned long long)r->term,
		r->o.election_timeout_ms);
	raft__become_follower(r, r->term, RAFT_ID_NONE);
}

void raft__tick_leader(struct raft *r)
{
	if (r->now >= r->heartbeat_deadline) {
		r->heartbeat_deadline = r->now + r->o.heartbeat_ms;
		raft__bcast_heartbeat(r);
		raft__tick_snapshots(r);
	}
	if (r->transfer_to && r->now >= r->transfer_deadline) {
		log_info("node=%llu abandons leadership transfer to node=%llu",
			 (unsigned long long)r->id,
			 (unsigned long long)r->transfer_to);
		raft__transfer_abort(r);
	}
	if (r->o.check_quorum && r->now >= r->quorum_deadline)
		check_quorum(r);
}
