/*
 * The leader's view of one follower (thesis §3.5, §10.2.1): its match index
 * (highest entry known replicated, durably), its next index (next entry to
 * send) and how to send. A follower is in one of three states:
 *
 *   probe      the match point is unknown: one AppendEntries at a time,
 *              moving next back on each rejection using the follower's hint;
 *   replicate  the match point is known: appends are pipelined, next is
 *              advanced optimistically as soon as a message leaves, and a
 *              ring of in-flight message ends bounds the pipeline
 *              (max_inflight_msgs) for flow control;
 *   snapshot   the entries it needs were compacted: InstallSnapshot chunks.
 *
 * Invariant: match < next. Stale or duplicated responses never move match
 * back (pr_update() only advances).
 */
#include <errno.h>
#include <string.h>

#include "common/alloc.h"
#include "raft/internal.h"

int pr_init(struct progress *p, uint64_t id, bool voter, uint32_t inflight,
	    uint64_t next, uint64_t now)
{
	memset(p, 0, sizeof(*p));
	p->inflight = shoal_calloc(inflight, sizeof(*p->inflight));
	if (!p->inflight)
		return -ENOMEM;
	p->in_cap = inflight;
	p->id = id;
	p->voter = voter;
	p->next = next;
	p->state = PR_PROBE;
	p->progress_ms = now;
	return 0;
}

void pr_fini(struct progress *p)
{
	shoal_free(p->inflight);
	p->inflight = NULL;
}

static void reset_inflight(struct progress *p)
{
	p->in_head = 0;
	p->in_n = 0;
}

void pr_become_probe(struct progress *p, uint64_t now)
{
	if (p->state == PR_SNAPSHOT && p->next <= p->snap_index)
		p->next = p->snap_index + 1;
	p->state = PR_PROBE;
	p->paused = false;
	p->next = p->next > p->match + 1 ? p->next : p->match + 1;
	reset_inflight(p);
}

void pr_become_replicate(struct progress *p, uint64_t now)
{
	p->state = PR_REPLICATE;
	p->paused = false;
	p->next = p->match + 1;
	p->progress_ms = now;
	reset_inflight(p);
}

void pr_become_snapshot(struct progress *p, uint64_t index, uint64_t now)
{
	p->state = PR_SNAPSHOT;
	p->paused = false;
	p->snap_index = index;
	p->snap_sent = 0;
	p->snap_acked = 0;
	p->snap_size = 0;
	p->snap_done_sent = false;
	p->snap_ms = now;
	reset_inflight(p);
}

bool pr_inflight_full(const struct progress *p)
{
	return p->in_n >= p->in_cap;
}

void pr_inflight_add(struct progress *p, uint64_t last)
{
	assert(!pr_inflight_full(p));
	p->inflight[(p->in_head + p->in_n) % p->in_cap] = last;
	p->in_n++;
}

void pr_inflight_free_to(struct progress *p, uint64_t index)
{
	while (p->in_n && p->inflight[p->in_head] <= index) {
		p->in_head = (p->in_head + 1) % p->in_cap;
		p->in_n--;
	}
}

bool pr_update(struct progress *p, uint64_t index, uint64_t now)
{
	bool advanced = false;

	if (index > p->match) {
		p->match = index;
		p->progress_ms = now;
		advanced = true;
	}
	if (p->next < index + 1)
		p->next = index + 1;
	return advanced;
}
