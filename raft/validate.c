/*
 * Validation of messages from peers. Everything a decoder produced is
 * checked here before the core looks at it, so a buggy or hostile peer gets
 * -EPROTO instead of corrupting the log or tripping an assert: known type,
 * non-zero ids, contiguous entries of known types whose terms never exceed
 * the sender's, payload sizes within RAFT_ENTRY_MAX, configuration payloads
 * that decode, snapshot chunks inside their declared size.
 */
#include <errno.h>

#include "raft/internal.h"

/* Entries a single message may carry; far above what any sender batches. */
#define MSG_ENTRIES_MAX (1u << 20)

static int entry_check(const struct raft_entry *e, uint64_t index,
		       uint64_t min_term, uint64_t max_term)
{
	struct raft_conf c;

	if (e->index != index || e->term < min_term || e->term > max_term ||
	    e->term == 0)
		return -EPROTO;
	if (e->len > RAFT_ENTRY_MAX || (e->len && !e->data))
		return -EPROTO;
	switch (e->type) {
	case RAFT_ENTRY_NORMAL:
	case RAFT_ENTRY_NOOP:
		return 0;
	case RAFT_ENTRY_CONF:
		return raft_conf_decode(e->data, e->len, &c);
	}
	return -EPROTO;
}

static int append_check(const struct raft_msg *m)
{
	const struct raft_msg_append *a = &m->append;
	uint64_t term = a->prev_term;

	if (m->term == 0 || a->prev_term > m->term ||
	    a->n_entries > MSG_ENTRIES_MAX || (a->n_entries && !a->entries))
		return -EPROTO;
	if (a->prev_index > UINT64_MAX - MSG_ENTRIES_MAX)
		return -EPROTO;
	if (a->prev_index == 0 && a->prev_term != 0)
		return -EPROTO;
	for (size_t i = 0; i < a->n_entries; i++) {
		const struct raft_entry *e = &a->entries[i];

		if (entry_check(e, a->prev_index + 1 + i, term, m->term))
			return -EPROTO;
		term = e->term;
	}
	return 0;
}

static int conf_check(const struct raft_conf *c)
{
	if (c->n > RAFT_CONF_MAX)
		return -EPROTO;
	for (uint32_t i = 0; i < c->n; i++) {
		const struct raft_server *s = &c->servers[i];

		if (s->id == RAFT_ID_NONE ||
		    (s->role != RAFT_VOTER && s->role != RAFT_LEARNER))
			return -EPROTO;
		for (uint32_t j = 0; j < i; j++)
			if (c->servers[j].id == s->id)
				return -EPROTO;
	}
	return 0;
}

static int snapshot_check(const struct raft_msg *m)
{
	const struct raft_msg_snapshot *s = &m->snapshot;

	if (m->term == 0 || s->meta.index == 0 || s->meta.term == 0 ||
	    s->meta.term > m->term || s->meta.conf_index > s->meta.index)
		return -EPROTO;
	if (s->len > RAFT_ENTRY_MAX || (s->len && !s->data))
		return -EPROTO;
	if (s->offset > s->size || s->len > s->size - s->offset)
		return -EPROTO;
	if (s->last && s->offset + s->len != s->size)
		return -EPROTO;
	return conf_check(&s->meta.conf);
}

int raft_msg_validate(const struct raft_msg *m)
{
	if (m->from == RAFT_ID_NONE || m->to == RAFT_ID_NONE)
		return -EPROTO;
	switch (m->type) {
	case RAFT_MSG_APPEND:
		return append_check(m);
	case RAFT_MSG_SNAPSHOT:
		return snapshot_check(m);
	case RAFT_MSG_VOTE:
		if (m->term == 0 || m->vote.last_term > m->term ||
		    (m->vote.last_index == 0 && m->vote.last_term != 0))
			return -EPROTO;
		return 0;
	case RAFT_MSG_HEARTBEAT:
	case RAFT_MSG_TIMEOUT_NOW:
		return m->term ? 0 : -EPROTO;
	case RAFT_MSG_APPEND_RESP:
	case RAFT_MSG_VOTE_RESP:
	case RAFT_MSG_HEARTBEAT_RESP:
	case RAFT_MSG_SNAPSHOT_RESP:
		return 0;
	}
	return -EPROTO;
}
