/*
 * Snapshots and log compaction (thesis chapter 5).
 *
 * Taking one (§5.1): the state machine decides when (update.take_snapshot
 * hints after snapshot_threshold applied entries), saves its state at an
 * applied index and calls raft_snapshot_done(). The core records the
 * snapshot's metadata (index, term, the configuration in effect there) and
 * lets the disk log drop entries more than snapshot_trailing behind it
 * (update.compact_upto), so slightly lagging followers still get entries
 * rather than a whole snapshot.
 *
 * Sending one (§5.3): a follower that needs compacted entries gets the
 * leader's latest snapshot as InstallSnapshot chunks of snapshot_chunk
 * bytes, at most snapshot_inflight chunks in flight, read on demand through
 * struct raft_snapshot_reader: the leader's memory stays bounded whatever
 * the snapshot's size. The follower acknowledges the offset it has received
 * in order; after a loss the leader resumes from that offset (a resend
 * timeout of two heartbeats), and a follower that already holds a prefix of
 * the same snapshot keeps it.
 *
 * Installing one: each in-order chunk is handed to the shell to write.
 * After the last, the shell syncs and loads it, then calls
 * raft_snapshot_installed(); only then does the core move its log past the
 * snapshot and tell the leader, so a crash mid-install loses nothing that
 * was acknowledged. Meanwhile appends are ignored so nothing is applied on
 * top of a state the snapshot is about to replace.
 */
#include <errno.h>
#include <string.h>

#define LOG_MODULE "raft"
#include "common/alloc.h"
#include "common/log.h"
#include "raft/internal.h"

int raft_snapshot_done(struct raft *r, uint64_t index)
{
	const struct raft_conf *c;
	uint64_t term, conf_index, trailing = r->o.snapshot_trailing;

	if (index <= r->snap.index)
		return 0;
	if (index > r->applied || !rlog_term(&r->log, index, &term))
		return -EINVAL;
	c = raft__conf_at(r, index, &conf_index);
	r->snap.index = index;
	r->snap.term = term;
	r->snap.conf = *c;
	r->snap.conf_index = conf_index;
	r->log.snap_index = index;
	r->log.snap_term = term;
	raft__confs_compact(r, index);
	r->take_snapshot = false;
	r->snap_asked_at = index;
	if (index > trailing && index - trailing >= r->log.first) {
		r->compact_upto = index - trailing;
		r->log.first = r->compact_upto + 1;
		rlog_evict(&r->log, r->compact_upto);
	}
	return 0;
}

void raft_snapshot_meta(const struct raft *r, struct raft_snapshot_meta *out)
{
	*out = r->snap;
}

static void send_chunk(struct raft *r, struct progress *p)
{
	uint32_t len = r->o.snapshot_chunk;
	uint64_t size = 0;
	struct raft_msg *m;
	size_t n = 0;
	void *buf;
	int rc = -ENOENT;

	buf = shoal_malloc(len);
	if (!buf)
		return;
	if (r->o.snapshot.read)
		rc = r->o.snapshot.read(r->o.snapshot.arg, p->snap_index,
					p->snap_sent, buf, len, &n, &size);
	if (rc || n > len || p->snap_sent + n > size ||
	    (n == 0 && p->snap_sent < size)) {
		shoal_free(buf);
		if (rc == -ENOENT && p->snap_index != r->snap.index)
			pr_become_snapshot(p, r->snap.index, r->now);
		p->snap_done_sent = rc == 0; /* unusable: wait for a timeout */
		return;
	}
	m = raft__msg(r, RAFT_MSG_SNAPSHOT, p->id, false);
	if (!m || n == 0) {
		shoal_free(buf);
		buf = NULL;
		if (!m)
			return;
	}
	m->snapshot.meta = r->snap;
	m->snapshot.offset = p->snap_sent;
	m->snapshot.size = size;
	m->snapshot.len = (uint32_t)n;
	m->snapshot.data = buf;
	m->snapshot.last = p->snap_sent + n == size;
	p->snap_size = size;
	p->snap_sent += n;
	p->snap_done_sent = m->snapshot.last;
	p->snap_ms = r->now;
}

void raft__send_snapshot(struct raft *r, struct progress *p)
{
	uint64_t window =
		(uint64_t)r->o.snapshot_chunk * r->o.snapshot_inflight;

	if (p->snap_index != r->snap.index && p->snap_acked == 0)
		pr_become_snapshot(p, r->snap.index, r->now);
	if (r->snap.index == 0)
		return;
	while (!p->snap_done_sent && p->snap_sent - p->snap_acked < window) {
		uint64_t before = p->snap_sent;

		send_chunk(r, p);
		if (p->snap_sent == before && !p->snap_done_sent)
			break;
	}
}

void raft__tick_snapshots(struct raft *r)
{
	for (uint32_t i = 0; i < r->n_prs; i++) {
		struct progress *p = &r->prs[i];
		uint64_t idle = r->now - p->snap_ms;

		if (p->state != PR_SNAPSHOT)
			continue;
		if (idle >= r->o.election_timeout_ms) {
			/* No word at all: start again, from a fresh probe. */
			pr_become_probe(p, r->now);
			p->next = p->match + 1;
			p->snap_ms = r->now;
			continue;
		}
		if (idle < 2 * (uint64_t)r->o.heartbeat_ms ||
		    (p->snap_done_sent && p->snap_acked == p->snap_size))
			continue;
		p->snap_sent = p->snap_acked; /* resume after a loss */
		p->snap_done_sent = false;
		raft__send_snapshot(r, p);
	}
}

static void reply_chunk(struct raft *r, const struct raft_msg *m,
			uint64_t index, uint64_t next_offset, bool reject)
{
	struct raft_msg *resp;

	resp = raft__msg(r, RAFT_MSG_SNAPSHOT_RESP, m->from, false);
	if (!resp)
		return;
	resp->snapshot_resp.index = index;
	resp->snapshot_resp.next_offset = next_offset;
	resp->snapshot_resp.reject = reject;
}

static bool same_snapshot(const struct raft_snapshot_meta *a,
			  const struct raft_snapshot_meta *b)
{
	return a->index == b->index && a->term == b->term;
}

static void accept_chunk(struct raft *r, const struct raft_msg *m)
{
	const struct raft_msg_snapshot *s = &m->snapshot;
	struct raft_snapshot_chunk *c = raft__chunk_out(r);

	if (!c)
		return;
	c->meta = s->meta;
	c->offset = s->offset;
	c->len = s->len;
	c->last = s->last;
	if (s->len) {
		c->data = shoal_memdup(s->data, s->len);
		if (!c->data) {
			r->pend.n_chunks--;
			return;
		}
	}
	r->recv.offset += s->len;
	r->recv.pending = s->last;
	r->recv.from = m->from;
}

void raft__recv_snapshot(struct raft *r, const struct raft_msg *m)
{
	const struct raft_msg_snapshot *s = &m->snapshot;
	struct raft_msg *resp;

	if (r->role != RAFT_FOLLOWER || r->leader != m->from)
		raft__become_follower(r, m->term, m->from);
	r->leader_contact = r->now;
	raft__reset_election_timer(r);
	if (r->recv.pending) {
		reply_chunk(r, m, r->recv.meta.index, r->recv.offset, false);
		return;
	}
	if (s->meta.index <= r->commit) {
		/* We already have all of it: tell the leader where we are. */
		r->recv.active = false;
		reply_chunk(r, m, s->meta.index, 0, true);
		resp = raft__msg(r, RAFT_MSG_APPEND_RESP, m->from, true);
		if (resp)
			resp->append_resp.index = r->commit;
		return;
	}
	if (!r->recv.active || !same_snapshot(&r->recv.meta, &s->meta)) {
		if (s->offset != 0) {
			reply_chunk(r, m, s->meta.index, 0, false);
			return;
		}
		r->recv.active = true;
		r->recv.meta = s->meta;
		r->recv.offset = 0;
	}
	if (s->offset == r->recv.offset)
		accept_chunk(r, m);
	reply_chunk(r, m, s->meta.index, r->recv.offset, false);
}

void raft__recv_snapshot_resp(struct raft *r, const struct raft_msg *m)
{
	const struct raft_msg_snapshot_resp *a = &m->snapshot_resp;
	struct progress *p;

	if (r->role != RAFT_LEADER)
		return;
	p = raft__pr(r, m->from);
	if (!p)
		return;
	p->active = true;
	if (p->state != PR_SNAPSHOT || a->index != p->snap_index)
		return;
	if (a->reject) {
		pr_become_probe(p, r->now);
		return;
	}
	if (a->next_offset > p->snap_acked && a->next_offset <= p->snap_sent) {
		p->snap_acked = a->next_offset;
		p->snap_ms = r->now;
	} else if (a->next_offset > p->snap_sent) {
		/* The follower kept a prefix from an earlier attempt. */
		p->snap_acked = a->next_offset;
		p->snap_sent = a->next_offset;
		p->snap_done_sent = false;
		p->snap_ms = r->now;
	} else if (a->next_offset < p->snap_acked) {
		/* The follower restarted and lost its prefix. */
		p->snap_acked = a->next_offset;
		p->snap_sent = a->next_offset;
		p->snap_done_sent = false;
	}
	raft__send_snapshot(r, p);
}

int raft_snapshot_installed(struct raft *r, uint64_t index, uint64_t term)
{
	const struct raft_snapshot_meta *meta = &r->recv.meta;
	struct raft_msg *resp;
	uint64_t t;

	if (!r->recv.pending || meta->index != index || meta->term != term)
		return -EINVAL;
	if (rlog_term(&r->log, index, &t) && t == term &&
	    index <= r->log.last) {
		/* Our log continues the snapshot: keep the suffix. */
		r->log.snap_index = index;
		r->log.snap_term = term;
		r->compact_upto = index;
		r->log.first = index + 1;
		rlog_evict(&r->log, index);
		raft__confs_compact(r, index);
		if (r->n_confs && r->confs[0].index < meta->conf_index) {
			r->confs[0].index = meta->conf_index;
			r->confs[0].conf = meta->conf;
		}
	} else {
		rlog_reset(&r->log, index, term);
		r->pend.log_reset = true;
		r->pend.log_reset_index = index;
		r->pend.truncate_from = 0;
		r->n_confs = 1;
		r->confs[0].index = meta->conf_index;
		r->confs[0].conf = meta->conf;
	}
	r->snap = *meta;
	if (r->commit < index)
		r->commit = index;
	if (r->applied < index)
		r->applied = index;
	r->snap_asked_at = index;
	r->recv.pending = false;
	r->recv.active = false;
	log_info("node=%llu installed snapshot index=%llu term=%llu",
		 (unsigned long long)r->id, (unsigned long long)index,
		 (unsigned long long)term);
	resp = raft__msg(r, RAFT_MSG_APPEND_RESP,
			 r->leader ? r->leader : r->recv.from, true);
	if (resp)
		resp->append_resp.index = index;
	return 0;
}
