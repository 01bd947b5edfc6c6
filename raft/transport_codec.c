/*
 * raft.Message <-> struct raft_msg. One flat protobuf message; which fields
 * matter depends on the type, exactly as in the union of struct raft_msg.
 * Decoding is the trust boundary for bytes from peers: numbers that become
 * enums are range-checked before the cast, sizes before narrowing, and the
 * result goes through raft_msg_validate() before anyone sees it.
 */
#include "raft/transport_codec.h"

#include <errno.h>
#include <string.h>

#include "common/alloc.h"
#include "proto/wire.h"

static void encode_meta(const struct raft_snapshot_meta *m,
			struct raft_msg_pb *pb)
{
	raft__snapshot_meta__init(&pb->meta);
	pb->meta.index = m->index;
	pb->meta.term = m->term;
	pb->meta.conf_index = m->conf_index;
	for (uint32_t i = 0; i < m->conf.n && i < RAFT_CONF_MAX; i++) {
		raft__server__init(&pb->servers[i]);
		pb->servers[i].id = m->conf.servers[i].id;
		pb->servers[i].role = m->conf.servers[i].role;
		pb->server_ptrs[i] = &pb->servers[i];
	}
	pb->meta.n_servers =
		m->conf.n < RAFT_CONF_MAX ? m->conf.n : RAFT_CONF_MAX;
	pb->meta.servers = pb->server_ptrs;
	pb->msg.meta = &pb->meta;
}

static int encode_entries(const struct raft_msg_append *a,
			  struct raft_msg_pb *pb)
{
	if (!a->n_entries)
		return 0;
	pb->entries = shoal_calloc(a->n_entries, sizeof(*pb->entries));
	pb->entry_ptrs = shoal_calloc(a->n_entries, sizeof(*pb->entry_ptrs));
	if (!pb->entries || !pb->entry_ptrs)
		return -ENOMEM;
	for (size_t i = 0; i < a->n_entries; i++) {
		const struct raft_entry *e = &a->entries[i];
		Raft__Entry *p = &pb->entries[i];
		raft__entry__init(p);
		p->term = e->term;
		p->index = e->index;
		p->type = e->type;
		p->data.len = e->len;
		p->data.data = e->data;
		pb->entry_ptrs[i] = p;
	}
	pb->msg.n_entries = a->n_entries;
	pb->msg.entries = pb->entry_ptrs;
	return 0;
}

int raft__msg_encode(const struct raft_msg *m, struct raft_msg_pb *pb)
{
	Raft__Message *p = &pb->msg;
	pb->entries = NULL;
	pb->entry_ptrs = NULL;
	raft__message__init(p);
	p->type = m->type;
	p->from = m->from;
	p->to = m->to;
	p->term = m->term;
	switch (m->type) {
	case RAFT_MSG_APPEND:
		p->prev_index = m->append.prev_index;
		p->prev_term = m->append.prev_term;
		p->commit = m->append.commit;
		return encode_entries(&m->append, pb);
	case RAFT_MSG_APPEND_RESP:
		p->reject = m->append_resp.reject;
		p->index = m->append_resp.index;
		p->hint_index = m->append_resp.hint_index;
		p->hint_term = m->append_resp.hint_term;
		break;
	case RAFT_MSG_VOTE:
		p->last_index = m->vote.last_index;
		p->last_term = m->vote.last_term;
		p->prevote = m->vote.prevote;
		p->transfer = m->vote.transfer;
		break;
	case RAFT_MSG_VOTE_RESP:
		p->granted = m->vote_resp.granted;
		p->prevote = m->vote_resp.prevote;
		break;
	case RAFT_MSG_HEARTBEAT:
		p->commit = m->heartbeat.commit;
		p->ctx = m->heartbeat.ctx;
		break;
	case RAFT_MSG_HEARTBEAT_RESP:
		p->ctx = m->heartbeat_resp.ctx;
		break;
	case RAFT_MSG_SNAPSHOT:
		encode_meta(&m->snapshot.meta, pb);
		p->offset = m->snapshot.offset;
		p->size = m->snapshot.size;
		p->last = m->snapshot.last;
		p->data.len = m->snapshot.len;
		p->data.data = m->snapshot.data;
		break;
	case RAFT_MSG_SNAPSHOT_RESP:
		p->index = m->snapshot_resp.index;
		p->next_offset = m->snapshot_resp.next_offset;
		p->reject = m->snapshot_resp.reject;
		break;
	case RAFT_MSG_TIMEOUT_NOW:
		break;
	}
	return 0;
}

void raft__msg_pb_fini(struct raft_msg_pb *pb)
{
	shoal_free(pb->entries);
	shoal_free(pb->entry_ptrs);
	pb->entries = NULL;
	pb->entry_ptrs = NULL;
}

static int decode_meta(const Raft__SnapshotMeta *p,
		       struct raft_snapshot_meta *m)
{
	if (!p || p->n_servers > RAFT_CONF_MAX)
		return -EPROTO;
	m->index = p->index;
	m->term = p->term;
	m->conf_index = p->conf_index;
	m->conf.n = (uint32_t)p->n_servers;
	for (size_t i = 0; i < p->n_servers; i++) {
		if (p->servers[i]->role != RAFT_VOTER &&
		    p->servers[i]->role != RAFT_LEARNER)
			return -EPROTO;
		m->conf.servers[i].id = p->servers[i]->id;
		m->conf.servers[i].role =
			(enum raft_server_role)p->servers[i]->role;
	}
	return 0;
}

static int decode_entries(const Raft__Message *p, struct raft_msg_decoded *d)
{
	struct raft_msg_append *a = &d->msg.append;
	a->prev_index = p->prev_index;
	a->prev_term = p->prev_term;
	a->commit = p->commit;
	if (!p->n_entries)
		return 0;
	d->entries = shoal_calloc(p->n_entries, sizeof(*d->entries));
	if (!d->entries)
		return -ENOMEM;
	for (size_t i = 0; i < p->n_entries; i++) {
		const Raft__Entry *e = p->entries[i];
		if (e->type < RAFT_ENTRY_NORMAL || e->type > RAFT_ENTRY_NOOP ||
		    e->data.len > RAFT_ENTRY_MAX)
			return -EPROTO;
		d->entries[i] = (struct raft_entry){
			.term = e->term,
			.index = e->index,
			.type = (enum raft_entry_type)e->type,
			.len = (uint32_t)e->data.len,
			.data = e->data.len ? e->data.data : NULL,
		};
	}
	a->n_entries = p->n_entries;
	a->entries = d->entries;
	return 0;
}

static int decode_body(const Raft__Message *p, struct raft_msg_decoded *d)
{
	struct raft_msg *m = &d->msg;
	switch (m->type) {
	case RAFT_MSG_APPEND:
		return decode_entries(p, d);
	case RAFT_MSG_APPEND_RESP:
		m->append_resp = (struct raft_msg_append_resp){
			p->reject, p->index, p->hint_index, p->hint_term};
		return 0;
	case RAFT_MSG_VOTE:
		m->vote = (struct raft_msg_vote){p->last_index, p->last_term,
						 p->prevote, p->transfer};
		return 0;
	case RAFT_MSG_VOTE_RESP:
		m->vote_resp =
			(struct raft_msg_vote_resp){p->granted, p->prevote};
		return 0;
	case RAFT_MSG_HEARTBEAT:
		m->heartbeat = (struct raft_msg_heartbeat){p->commit, p->ctx};
		return 0;
	case RAFT_MSG_HEARTBEAT_RESP:
		m->heartbeat_resp.ctx = p->ctx;
		return 0;
	case RAFT_MSG_SNAPSHOT:
		if (p->data.len > RAFT_ENTRY_MAX)
			return -EPROTO;
		m->snapshot.offset = p->offset;
		m->snapshot.size = p->size;
		m->snapshot.last = p->last;
		m->snapshot.len = (uint32_t)p->data.len;
		m->snapshot.data = p->data.len ? p->data.data : NULL;
		return decode_meta(p->meta, &m->snapshot.meta);
	case RAFT_MSG_SNAPSHOT_RESP:
		m->snapshot_resp = (struct raft_msg_snapshot_resp){
			p->index, p->next_offset, p->reject};
		return 0;
	case RAFT_MSG_TIMEOUT_NOW:
		return 0;
	}
	return -EPROTO;
}

int raft__msg_decode(const uint8_t *buf, size_t len,
		     struct raft_msg_decoded *out)
{
	struct wire_pb_tracker t;
	memset(out, 0, sizeof(*out));
	wire_pb_tracker_init(&t);
	Raft__Message *p = raft__message__unpack(&t.alloc, len, buf);
	if (!p)
		return t.failed ? -ENOMEM : -EPROTO;
	out->pb = p;
	int rc = -EPROTO;
	if (p->type >= RAFT_MSG_APPEND && p->type <= RAFT_MSG_TYPE_MAX) {
		out->msg.type = (enum raft_msg_type)p->type;
		out->msg.from = p->from;
		out->msg.to = p->to;
		out->msg.term = p->term;
		rc = decode_body(p, out);
	}
	if (!rc)
		rc = raft_msg_validate(&out->msg) ? -EPROTO : 0;
	if (rc)
		raft__msg_decoded_free(out);
	return rc;
}

void raft__msg_decoded_free(struct raft_msg_decoded *d)
{
	if (d->pb)
		raft__message__free_unpacked(d->pb, &wire_pb_allocator);
	shoal_free(d->entries);
	memset(d, 0, sizeof(*d));
}
