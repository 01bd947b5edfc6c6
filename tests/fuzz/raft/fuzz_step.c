/*
 * Fuzz target: arbitrary sequences of peer messages, ticks and client calls
 * into one Raft core (node 1 of voters 1-3 and learner 4), with a shell that
 * persists everything it is handed. Remote input must never crash the core
 * or trip an assert; malformed messages must be refused with -EPROTO.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "raft/raft.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LOG_CAP 4096

struct in {
	const uint8_t *p;
	size_t n;
};

struct shell {
	struct raft *r;
	struct raft_entry log[LOG_CAP + 2]; /* by index */
	uint64_t first, last;
	uint64_t now;
	unsigned char payload[64];
};

static uint64_t take(struct in *in, int bytes)
{
	uint64_t v = 0;

	for (int i = 0; i < bytes && in->n; i++, in->n--, in->p++)
		v = (v << 8) | *in->p;
	return v;
}

static int sh_read(void *arg, uint64_t first, size_t max, size_t max_bytes,
		   struct raft_entry *out, size_t *n)
{
	struct shell *s = arg;

	*n = 0;
	if (first < s->first || first > s->last)
		return -ENOENT;
	for (uint64_t i = first; i <= s->last && *n < max; i++) {
		out[*n] = s->log[i];
		out[*n].data = s->log[i].len ? shoal_memdup(s->log[i].data,
							    s->log[i].len)
					     : NULL;
		(*n)++;
	}
	return 0;
}

static int sh_term(void *arg, uint64_t index, uint64_t *term)
{
	struct shell *s = arg;

	if (index < s->first || index > s->last)
		return -ENOENT;
	*term = s->log[index].term;
	return 0;
}

static int sh_snap(void *arg, uint64_t index, uint64_t offset, void *buf,
		   size_t len, size_t *n, uint64_t *size)
{
	*size = 100;
	if (offset > 100)
		return -EINVAL;
	*n = 100 - offset < len ? 100 - offset : len;
	memset(buf, 0, *n);
	return 0;
}

static void drop_from(struct shell *s, uint64_t from)
{
	for (; s->last >= from && s->last >= s->first; s->last--) {
		shoal_free(s->log[s->last].data);
		s->log[s->last].data = NULL;
	}
}

static bool persist(struct shell *s, const struct raft_update *u)
{
	if (u->log_reset) {
		drop_from(s, s->first);
		if (u->log_reset_index >= LOG_CAP)
			return false;
		s->first = u->log_reset_index + 1;
		s->last = u->log_reset_index;
	}
	if (u->truncate_from)
		drop_from(s, u->truncate_from);
	for (size_t i = 0; i < u->n_entries; i++) {
		const struct raft_entry *e = &u->entries[i];

		if (e->index != s->last + 1 || e->index > LOG_CAP)
			return false;
		s->log[e->index] = *e;
		s->log[e->index].data =
			e->len ? shoal_memdup(e->data, e->len) : NULL;
		s->last = e->index;
	}
	if (u->n_entries)
		raft_persisted(s->r, s->last, s->log[s->last].term);
	for (size_t i = 0; i < u->n_chunks; i++)
		if (u->chunks[i].last)
			raft_snapshot_installed(s->r, u->chunks[i].meta.index,
						u->chunks[i].meta.term);
	return true;
}

static bool drain(struct shell *s)
{
	struct raft_update u;
	bool ok = true;

	while (ok && raft_has_update(s->r)) {
		if (raft_update_get(s->r, &u))
			return false;
		ok = persist(s, &u);
		if (ok && u.take_snapshot) {
			struct raft_status st;

			raft_status(s->r, &st);
			raft_snapshot_done(s->r, st.applied);
		}
		raft_update_done(s->r, &u);
	}
	return ok;
}

static void fill_entries(struct shell *s, struct in *in, struct raft_msg *m,
			 struct raft_entry *ents)
{
	static const struct raft_conf conf = {4,
					      {{1, RAFT_VOTER},
					       {2, RAFT_VOTER},
					       {3, RAFT_VOTER},
					       {4, RAFT_LEARNER}}};
	size_t n = take(in, 1) % 5;

	for (size_t i = 0; i < n; i++) {
		uint64_t kind = take(in, 1);

		ents[i].index =
			m->append.prev_index + 1 + i + (kind % 17 == 0 ? 1 : 0);
		ents[i].term = take(in, 1) % 8;
		ents[i].type = (enum raft_entry_type)(kind % 4);
		ents[i].len = (uint32_t)(take(in, 1) % 32);
		ents[i].data = s->payload;
		if (ents[i].type == RAFT_ENTRY_CONF && kind & 0x80) {
			int len = raft_conf_encode(&conf, s->payload,
						   sizeof(s->payload));

			ents[i].len = (uint32_t)len;
		}
	}
	m->append.entries = ents;
	m->append.n_entries = n;
}

static void message(struct shell *s, struct in *in)
{
	struct raft_entry ents[4];
	struct raft_msg m;

	memset(&m, 0, sizeof(m));
	m.type = (enum raft_msg_type)(take(in, 1) % 11);
	m.from = take(in, 1) % 6;
	m.to = take(in, 1) % 16 ? 1 : 2;
	m.term = take(in, 1) % 10;
	switch (m.type) {
	case RAFT_MSG_APPEND:
		m.append.prev_index = take(in, 1) % 40;
		m.append.prev_term = take(in, 1) % 8;
		m.append.commit = take(in, 1) % 40;
		fill_entries(s, in, &m, ents);
		break;
	case RAFT_MSG_APPEND_RESP:
		m.append_resp.reject = take(in, 1) & 1;
		m.append_resp.index = take(in, 1) % 40;
		m.append_resp.hint_index = take(in, 1) % 40;
		m.append_resp.hint_term = take(in, 1) % 8;
		break;
	case RAFT_MSG_VOTE_RESP:
		m.vote_resp.granted = take(in, 1) & 1;
		m.vote_resp.prevote = take(in, 1) & 1;
		break;
	case RAFT_MSG_VOTE:
		m.vote.last_index = take(in, 1) % 40;
		m.vote.last_term = take(in, 1) % 8;
		m.vote.prevote = take(in, 1) & 1;
		m.vote.transfer = take(in, 1) & 1;
		break;
	case RAFT_MSG_HEARTBEAT_RESP:
		m.heartbeat_resp.ctx = take(in, 1) % 8;
		break;
	case RAFT_MSG_HEARTBEAT:
		m.heartbeat.commit = take(in, 1) % 40;
		m.heartbeat.ctx = take(in, 1) % 8;
		break;
	case RAFT_MSG_SNAPSHOT:
		m.snapshot.meta.index = take(in, 1) % 40;
		m.snapshot.meta.term = take(in, 1) % 8;
		m.snapshot.meta.conf.n = (uint32_t)(take(in, 1) % 4);
		for (uint32_t i = 0; i < m.snapshot.meta.conf.n; i++)
			m.snapshot.meta.conf.servers[i] =
				(struct raft_server){i + 1, RAFT_VOTER};
		m.snapshot.size = take(in, 1) % 100;
		m.snapshot.offset = take(in, 1) % 100;
		m.snapshot.len = (uint32_t)(take(in, 1) % 32);
		m.snapshot.last = take(in, 1) & 1;
		m.snapshot.data = s->payload;
		break;
	case RAFT_MSG_SNAPSHOT_RESP:
		m.snapshot_resp.index = take(in, 1) % 40;
		m.snapshot_resp.next_offset = take(in, 1) % 128;
		m.snapshot_resp.reject = take(in, 1) & 1;
		break;
	default:
		break;
	}
	raft_step(s->r, &m);
}

static void client(struct shell *s, struct in *in)
{
	uint64_t idx, term, id = take(in, 1) % 6;

	switch (take(in, 1) % 7) {
	case 0:
		raft_propose(s->r, s->payload, take(in, 1) % 32, &idx, &term);
		break;
	case 1:
		raft_read_index(s->r, take(in, 1));
		break;
	case 2:
		raft_transfer_leadership(s->r, id);
		break;
	case 3:
		raft_add_learner(s->r, id, &idx);
		break;
	case 4:
		raft_promote(s->r, id, &idx);
		break;
	case 5:
		raft_remove(s->r, id, &idx);
		break;
	default:
		raft_snapshot_done(s->r, take(in, 1) % 40);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct raft_conf boot = {4,
					      {{1, RAFT_VOTER},
					       {2, RAFT_VOTER},
					       {3, RAFT_VOTER},
					       {4, RAFT_LEARNER}}};
	struct shell *s = calloc(1, sizeof(*s));
	struct raft_restore rs = {.bootstrap = &boot};
	struct raft_options o;
	struct in in = {data, size};

	log_set_level(LOG_LEVEL_FATAL);
	s->first = 1;
	raft_options_init(&o);
	o.id = 1;
	o.heartbeat_ms = 10;
	o.election_timeout_ms = 100;
	o.prevote = take(&in, 1) & 1;
	o.snapshot_threshold = 5;
	o.snapshot_trailing = 2;
	o.snapshot_chunk = 16;
	o.mem_entries = 4;
	o.max_uncommitted = 16;
	o.log = (struct raft_log_reader){s, sh_read, sh_term};
	o.snapshot = (struct raft_snapshot_reader){s, sh_snap};
	if (raft_new(&o, &rs, &s->r)) {
		free(s);
		return 0;
	}
	raft_tick(s->r, 0);
	while (in.n) {
		uint64_t op = take(&in, 1) % 8;

		if (op == 0) {
			s->now += take(&in, 1);
			raft_tick(s->r, s->now);
		} else if (op < 6) {
			message(s, &in);
		} else {
			client(s, &in);
		}
		if (!drain(s))
			break;
	}
	raft_free(s->r);
	drop_from(s, s->first);
	free(s);
	return 0;
}
