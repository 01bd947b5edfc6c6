/*
 * Linearizable reads without a log write: the read-index protocol of thesis
 * §6.4.
 *
 *  1. The leader must have committed an entry of its own term (its no-op)
 *     so that its commit index is at least that of any earlier leader;
 *     reads arriving before that wait (index 0) instead of failing.
 *  2. It records its commit index as the read index, and tags the read with
 *     a new heartbeat round number (ctx).
 *  3. When a majority of voters (itself included) answered a heartbeat of
 *     that round or a later one, no other leader can have existed at the
 *     moment the read arrived, and the read is safe at the read index: the
 *     shell serves it once its state machine applied that index.
 *
 * Rounds are monotonic and each follower's highest acknowledged round is
 * kept, so confirming a later read confirms all earlier ones: pending reads
 * are a FIFO. The queue is bounded (max_pending_reads, then -EBUSY); if
 * leadership is lost every pending read is answered SHOAL_ENOTLEADER.
 */
#include <errno.h>
#include <string.h>

#include "common/error.h"
#include "raft/internal.h"

static bool committed_in_term(const struct raft *r)
{
	return rlog_term_or0(&r->log, r->commit) == r->term;
}

static void drop_front(struct raft *r, size_t k)
{
	if (!k)
		return;
	memmove(r->reads, r->reads + k, (r->n_reads - k) * sizeof(*r->reads));
	r->n_reads -= k;
}

void raft__reads_check(struct raft *r)
{
	uint32_t quorum = raft__quorum(r);
	bool self = raft__is_voter(raft__conf(r), r->id);
	size_t k = 0;

	for (; k < r->n_reads; k++) {
		struct pending_read *rd = &r->reads[k];
		uint32_t acks = self ? 1 : 0;

		if (!rd->ctx)
			break;
		for (uint32_t i = 0; i < r->n_prs; i++)
			if (r->prs[i].voter && r->prs[i].read_ctx >= rd->ctx)
				acks++;
		if (acks < quorum && !PLANTED(RAFT_BUG_READ_NO_ROUND))
			break;
		if (raft__read_out(r, rd->token, rd->index, 0))
			break;
	}
	drop_front(r, k);
}

/* Start a confirmation round for every read that has none yet. */
static void start_round(struct raft *r)
{
	bool any = false;

	for (size_t i = 0; i < r->n_reads; i++) {
		if (r->reads[i].ctx)
			continue;
		if (!any)
			r->read_ctx++;
		any = true;
		r->reads[i].index = r->commit;
		r->reads[i].ctx = r->read_ctx;
	}
	if (!any)
		return;
	r->hb_pending = true; /* one heartbeat round per update */
	raft__reads_check(r);
}

void raft__reads_on_commit(struct raft *r)
{
	if (r->n_reads && committed_in_term(r))
		start_round(r);
}

void raft__reads_fail(struct raft *r)
{
	for (size_t i = 0; i < r->n_reads; i++)
		raft__read_out(r, r->reads[i].token, 0, SHOAL_ENOTLEADER);
	r->n_reads = 0;
}

int raft_read_index(struct raft *r, uint64_t token)
{
	int rc;

	if (r->role != RAFT_LEADER)
		return SHOAL_ENOTLEADER;
	if (r->n_reads >= r->o.max_pending_reads)
		return -EBUSY;
	rc = raft__grow((void **)&r->reads, &r->cap_reads, r->n_reads + 1,
			sizeof(*r->reads));
	if (rc)
		return rc;
	r->reads[r->n_reads++] = (struct pending_read){token, 0, 0};
	if (committed_in_term(r))
		start_round(r);
	return 0;
}
