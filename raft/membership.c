/*
 * Membership changes (thesis chapter 4), one server at a time (§4.1): each
 * change adds or removes a single server, so the majorities of the old and
 * the new configuration always overlap and no joint consensus is needed.
 *
 *  - A configuration takes effect as soon as its entry is appended to a
 *    log, committed or not (§4.1); if the entry is truncated away the
 *    previous one is back in effect (raft__confs_truncate()).
 *  - A leader appends a new configuration only once the previous one is
 *    committed and it has committed an entry of its own term (-EBUSY
 *    otherwise).
 *  - New servers join as learners (§4.2.1): they receive the log but never
 *    vote or count towards a majority. raft_promote() makes one a voter
 *    only when its log is within catchup_margin entries of the leader's,
 *    so a slow newcomer never stalls commitment.
 *  - Removing the leader (§4.2.2): it keeps leading while the change is
 *    uncommitted, without counting itself, and steps down when it commits.
 *
 * The core keeps every configuration entry after the snapshot (there are
 * few) so truncation and snapshots can find the one in effect at any index.
 */
#include <errno.h>
#include <string.h>

#define LOG_MODULE "raft"
#include "common/alloc.h"
#include "common/error.h"
#include "common/log.h"
#include "raft/internal.h"

int raft__confs_push(struct raft *r, uint64_t index, const struct raft_conf *c)
{
	int rc = raft__grow((void **)&r->confs, &r->cap_confs, r->n_confs + 1,
			    sizeof(*r->confs));

	if (rc)
		return rc;
	r->confs[r->n_confs].index = index;
	r->confs[r->n_confs].conf = *c;
	r->n_confs++;
	return 0;
}

void raft__confs_truncate(struct raft *r, uint64_t from)
{
	size_t before = r->n_confs;

	while (r->n_confs > 1 && r->confs[r->n_confs - 1].index >= from)
		r->n_confs--;
	if (before != r->n_confs && r->role == RAFT_LEADER)
		raft__prs_sync(r);
}

const struct raft_conf *raft__conf_at(const struct raft *r, uint64_t index,
				      uint64_t *conf_index)
{
	size_t i = r->n_confs - 1;

	while (i > 0 && r->confs[i].index > index)
		i--;
	*conf_index = r->confs[i].index;
	return &r->confs[i].conf;
}

void raft__confs_compact(struct raft *r, uint64_t upto)
{
	size_t keep = 0;

	for (size_t i = 1; i < r->n_confs; i++)
		if (r->confs[i].index <= upto)
			keep = i;
	if (!keep)
		return;
	memmove(r->confs, r->confs + keep,
		(r->n_confs - keep) * sizeof(*r->confs));
	r->n_confs -= keep;
}

void raft__note_entry(struct raft *r, const struct raft_entry *e)
{
	struct raft_conf c;

	if (!e || e->type != RAFT_ENTRY_CONF)
		return;
	if (raft_conf_decode(e->data, e->len, &c) ||
	    raft__confs_push(r, e->index, &c)) {
		log_error("node=%llu cannot track conf entry index=%llu",
			  (unsigned long long)r->id,
			  (unsigned long long)e->index);
		return;
	}
	if (r->role == RAFT_LEADER)
		raft__prs_sync(r);
}

void raft__prs_clear(struct raft *r)
{
	for (uint32_t i = 0; i < r->n_prs; i++)
		pr_fini(&r->prs[i]);
	r->n_prs = 0;
}

/* Make the progress array follow the configuration in effect: keep what we
 * know of remaining servers, start new ones probing at our last index. */
int raft__prs_sync(struct raft *r)
{
	const struct raft_conf *c = raft__conf(r);
	struct progress prs[RAFT_CONF_MAX];
	uint32_t n = 0;
	int rc = 0;

	for (uint32_t i = 0; i < c->n; i++) {
		const struct raft_server *s = &c->servers[i];
		struct progress *old = raft__pr(r, s->id);

		if (s->id == r->id)
			continue;
		if (old) {
			prs[n] = *old;
			old->inflight = NULL;
		} else {
			rc = pr_init(&prs[n], s->id, false,
				     r->o.max_inflight_msgs, r->log.last + 1,
				     r->now);
			if (rc)
				continue;
			prs[n].active = true;
		}
		prs[n++].voter = s->role == RAFT_VOTER;
	}
	raft__prs_clear(r);
	memcpy(r->prs, prs, n * sizeof(prs[0]));
	r->n_prs = n;
	return rc;
}

/* §4.2.2: once a configuration without us commits, a leader steps down. */
void raft__conf_committed(struct raft *r)
{
	if (r->role != RAFT_LEADER || raft__conf_index(r) > r->commit ||
	    raft__is_voter(raft__conf(r), r->id))
		return;
	log_info("node=%llu steps down: removed from the configuration",
		 (unsigned long long)r->id);
	raft__become_follower(r, r->term, RAFT_ID_NONE);
}

static int change_check(struct raft *r)
{
	if (r->role != RAFT_LEADER)
		return SHOAL_ENOTLEADER;
	if (raft__conf_index(r) > r->commit || r->transfer_to)
		return -EBUSY;
	/* Not before an entry of our term (the no-op) commits: until then
	 * an uncommitted change of an earlier leader that our log lacks may
	 * still win, and two one-server changes from different bases need
	 * not share a majority (Ongaro, raft-dev 2015). */
	if (rlog_term_or0(&r->log, r->commit) != r->term)
		return -EBUSY;
	return 0;
}

static int append_conf(struct raft *r, const struct raft_conf *c,
		       uint64_t *index)
{
	unsigned char buf[4 + RAFT_CONF_MAX * 9];
	int len = raft_conf_encode(c, buf, sizeof(buf));

	if (len < 0)
		return len;
	log_info("node=%llu proposes a configuration of %u servers",
		 (unsigned long long)r->id, c->n);
	r->bcast_pending = true;
	return raft__append_local(r, RAFT_ENTRY_CONF, buf, (size_t)len, index);
}

int raft_add_learner(struct raft *r, uint64_t id, uint64_t *index)
{
	struct raft_conf c;
	int rc = change_check(r);

	if (rc)
		return rc;
	if (id == RAFT_ID_NONE)
		return -EINVAL;
	c = *raft__conf(r);
	if (raft_conf_find(&c, id))
		return SHOAL_ECONFLICT;
	if (c.n >= RAFT_CONF_MAX)
		return -ENOSPC;
	c.servers[c.n].id = id;
	c.servers[c.n].role = RAFT_LEARNER;
	c.n++;
	return append_conf(r, &c, index);
}

int raft_promote(struct raft *r, uint64_t id, uint64_t *index)
{
	struct raft_server *s;
	struct progress *p;
	struct raft_conf c;
	int rc = change_check(r);

	if (rc)
		return rc;
	c = *raft__conf(r);
	s = (struct raft_server *)raft_conf_find(&c, id);
	if (!s || s->role != RAFT_LEARNER)
		return -EINVAL;
	p = raft__pr(r, id);
	if (!p || p->match + r->o.catchup_margin < r->log.last)
		return -EAGAIN;
	s->role = RAFT_VOTER;
	return append_conf(r, &c, index);
}

int raft_remove(struct raft *r, uint64_t id, uint64_t *index)
{
	struct raft_conf c, nc = {0};
	uint32_t voters = 0;
	int rc = change_check(r);

	if (rc)
		return rc;
	c = *raft__conf(r);
	if (!raft_conf_find(&c, id))
		return -EINVAL;
	for (uint32_t i = 0; i < c.n; i++) {
		if (c.servers[i].id == id)
			continue;
		nc.servers[nc.n++] = c.servers[i];
		voters += c.servers[i].role == RAFT_VOTER;
	}
	if (!voters)
		return -EINVAL;
	return append_conf(r, &nc, index);
}
