/*
 * Leadership transfer (thesis §3.10). The leader stops accepting proposals,
 * brings the target's log up to date, then sends it TimeoutNow; the target
 * starts an election at once, skipping pre-vote, and its vote requests are
 * marked so that voters ignore their leader lease (the leader asked for
 * this election). With its log as up to date as anyone's it wins unless it
 * crashed; if nothing happens within an election timeout the leader
 * abandons the transfer and accepts proposals again.
 */
#include <errno.h>

#define LOG_MODULE "raft"
#include "common/error.h"
#include "common/log.h"
#include "raft/internal.h"

void raft__transfer_abort(struct raft *r)
{
	r->transfer_to = RAFT_ID_NONE;
}

void raft__transfer_check(struct raft *r, struct progress *p)
{
	if (r->role != RAFT_LEADER || r->transfer_to != p->id ||
	    p->match != r->log.last)
		return;
	raft__msg(r, RAFT_MSG_TIMEOUT_NOW, p->id, false);
}

static uint64_t best_voter(struct raft *r)
{
	struct progress *best = NULL;

	for (uint32_t i = 0; i < r->n_prs; i++) {
		struct progress *p = &r->prs[i];

		if (p->voter && (!best || p->match > best->match))
			best = p;
	}
	return best ? best->id : RAFT_ID_NONE;
}

int raft_transfer_leadership(struct raft *r, uint64_t to)
{
	struct progress *p;

	if (r->role != RAFT_LEADER)
		return SHOAL_ENOTLEADER;
	if (r->transfer_to)
		return -EALREADY;
	if (to == RAFT_ID_NONE)
		to = best_voter(r);
	p = raft__pr(r, to);
	if (to == r->id || !p || !p->voter)
		return -EINVAL;
	log_info("node=%llu transfers leadership to node=%llu",
		 (unsigned long long)r->id, (unsigned long long)to);
	r->transfer_to = to;
	r->transfer_deadline = r->now + r->o.election_timeout_ms;
	if (p->match == r->log.last)
		raft__transfer_check(r, p);
	else
		raft__send_append(r, p, true);
	return 0;
}

void raft__recv_timeout_now(struct raft *r, const struct raft_msg *m)
{
	if (r->role != RAFT_FOLLOWER || r->recv.pending ||
	    (r->leader && r->leader != m->from))
		return;
	raft__campaign(r, false, true);
}
