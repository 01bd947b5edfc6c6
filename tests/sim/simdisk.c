/*
 * The simulated disk: each node's durable image (hard state, snapshot,
 * entries), the readers the core uses to get entries and snapshot chunks
 * back, and the writes of updates that complete after a latency. Only
 * completed writes are durable; cluster_crash() decides what survives of
 * the write in progress. Also the state machine's snapshot format: applied
 * index, hash and count, then filler derived from the hash, so a corrupt or
 * misassembled snapshot is detected when loaded.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "tests/sim/sim_internal.h"

struct raft_msg *sim_msg_copy(const struct raft_msg *m)
{
	struct raft_msg *c = shoal_malloc(sizeof(*c));

	if (!c)
		abort();
	*c = *m;
	if (m->type == RAFT_MSG_APPEND)
		c->append.entries = NULL;
	if (m->type == RAFT_MSG_SNAPSHOT)
		c->snapshot.data = NULL;
	if (m->type == RAFT_MSG_APPEND && m->append.n_entries) {
		size_t n = m->append.n_entries;

		c->append.entries = shoal_calloc(n, sizeof(struct raft_entry));
		for (size_t i = 0; i < n; i++) {
			c->append.entries[i] = m->append.entries[i];
			c->append.entries[i].data =
				m->append.entries[i].len
					? shoal_memdup(
						  m->append.entries[i].data,
						  m->append.entries[i].len)
					: NULL;
		}
	} else if (m->type == RAFT_MSG_SNAPSHOT && m->snapshot.len) {
		c->snapshot.data =
			shoal_memdup(m->snapshot.data, m->snapshot.len);
	}
	return c;
}

void sim_msg_free(struct raft_msg *m)
{
	if (!m)
		return;
	if (m->type == RAFT_MSG_APPEND) {
		for (size_t i = 0; i < m->append.n_entries; i++)
			shoal_free(m->append.entries[i].data);
		shoal_free(m->append.entries);
	} else if (m->type == RAFT_MSG_SNAPSHOT) {
		shoal_free(m->snapshot.data);
	}
	shoal_free(m);
}

uint64_t sim_disk_last(const struct disk *d)
{
	return d->first + d->n - 1;
}

void sim_disk_truncate(struct disk *d, uint64_t from)
{
	while (d->n && sim_disk_last(d) >= from)
		shoal_free(d->ents[--d->n].data);
}

void sim_disk_append(struct disk *d, const struct raft_entry *e)
{
	struct dentry de = {e->term, e->type, e->len, NULL};

	if (e->index != d->first + d->n) {
		fprintf(stderr,
			"disk: append %" PRIu64 " to a log of [%" PRIu64
			", %zu entries]\n",
			e->index, d->first, d->n);
		abort(); /* the core broke its contract */
	}
	if (e->len)
		de.data = shoal_memdup(e->data, e->len);
	PUSH(d->ents, d->n, d->cap, de);
}

void sim_disk_reset(struct disk *d, uint64_t index)
{
	sim_disk_truncate(d, d->first);
	d->first = index + 1;
}

void sim_disk_compact(struct disk *d, uint64_t upto)
{
	size_t k = 0;

	if (!d->n || upto < d->first)
		return;
	k = upto - d->first + 1;
	if (k > d->n)
		k = d->n;
	for (size_t i = 0; i < k; i++)
		shoal_free(d->ents[i].data);
	memmove(d->ents, d->ents + k, (d->n - k) * sizeof(*d->ents));
	d->n -= k;
	d->first += k;
}

int sim_reader_read(void *arg, uint64_t first, size_t max, size_t max_bytes,
		    struct raft_entry *out, size_t *n)
{
	struct node *nd = arg;
	struct disk *d = &nd->disk;
	size_t bytes = 0;

	*n = 0;
	if (!d->n || first < d->first || first > sim_disk_last(d))
		return -ENOENT;
	for (uint64_t i = first; i <= sim_disk_last(d) && *n < max; i++) {
		const struct dentry *de = &d->ents[i - d->first];

		if (*n && bytes + de->len > max_bytes)
			break;
		out[*n] = (struct raft_entry){de->term, i, de->type, de->len,
					      NULL};
		if (de->len)
			out[*n].data = shoal_memdup(de->data, de->len);
		bytes += de->len;
		(*n)++;
	}
	return 0;
}

int sim_reader_term(void *arg, uint64_t index, uint64_t *term)
{
	struct node *nd = arg;
	struct disk *d = &nd->disk;

	if (!d->n || index < d->first || index > sim_disk_last(d))
		return -ENOENT;
	*term = d->ents[index - d->first].term;
	return 0;
}

int sim_snap_read(void *arg, uint64_t index, uint64_t offset, void *buf,
		  size_t len, size_t *n, uint64_t *size)
{
	struct node *nd = arg;
	struct disk *d = &nd->disk;

	if (d->snap.index != index || !d->snap_data)
		return -ENOENT;
	if (offset > d->snap_len)
		return -EINVAL;
	*n = d->snap_len - offset < len ? d->snap_len - offset : len;
	memcpy(buf, d->snap_data + offset, *n);
	*size = d->snap_len;
	return 0;
}

/* A state machine snapshot: applied, hash, count, then filler. */
unsigned char *sim_sm_serialize(struct cluster *c, struct node *nd, size_t *len)
{
	size_t n = c->o.snapshot_bytes < 24 ? 24 : c->o.snapshot_bytes;
	unsigned char *b = shoal_malloc(n);
	uint64_t h = nd->sm_hash;

	memcpy(b, &nd->applied, 8);
	memcpy(b + 8, &nd->sm_hash, 8);
	memcpy(b + 16, &nd->sm_count, 8);
	for (size_t i = 24; i < n; i++)
		b[i] = (unsigned char)(splitmix(&h) & 0xff);
	*len = n;
	return b;
}

bool sim_sm_load(struct cluster *c, struct node *nd, const unsigned char *b,
		 size_t len, uint64_t index)
{
	uint64_t applied, hash, count, h;

	if (len < 24)
		return false;
	memcpy(&applied, b, 8);
	memcpy(&hash, b + 8, 8);
	memcpy(&count, b + 16, 8);
	h = hash;
	for (size_t i = 24; i < len; i++)
		if (b[i] != (unsigned char)(splitmix(&h) & 0xff))
			return false;
	if (applied != index)
		return false;
	nd->applied = applied;
	nd->sm_hash = hash;
	nd->sm_count = count;
	return true;
}

void sim_write_free(struct write *w)
{
	for (size_t i = 0; i < w->n_ents; i++)
		shoal_free(w->ents[i].data);
	shoal_free(w->ents);
	for (size_t i = 0; i < w->n_chunks; i++)
		shoal_free(w->chunks[i].data);
	shoal_free(w->chunks);
	for (size_t i = 0; i < w->n_dmsgs; i++)
		sim_msg_free(w->dmsgs[i]);
	shoal_free(w->dmsgs);
	shoal_free(w);
}

struct write *sim_write_from(struct cluster *c, struct node *nd,
			     const struct raft_update *u)
{
	struct write *w = shoal_calloc(1, sizeof(*w));
	uint64_t lat = prng_range(&c->rng, nd->disk_min, nd->disk_max);

	w->done_at = c->now + lat;
	if (nd->wq_tail && nd->wq_tail->done_at > w->done_at)
		w->done_at = nd->wq_tail->done_at;
	w->log_reset = u->log_reset;
	w->reset_index = u->log_reset_index;
	w->truncate_from = u->truncate_from;
	w->hard_changed = u->hard_changed;
	w->hard = u->hard;
	w->compact_upto = u->compact_upto;
	if (u->n_entries) {
		w->ents = shoal_calloc(u->n_entries, sizeof(*w->ents));
		for (size_t i = 0; i < u->n_entries; i++) {
			w->ents[i] = u->entries[i];
			w->ents[i].data =
				u->entries[i].len
					? shoal_memdup(u->entries[i].data,
						       u->entries[i].len)
					: NULL;
		}
		w->n_ents = u->n_entries;
	}
	if (u->n_chunks) {
		w->chunks = shoal_calloc(u->n_chunks, sizeof(*w->chunks));
		for (size_t i = 0; i < u->n_chunks; i++) {
			w->chunks[i] = u->chunks[i];
			w->chunks[i].data =
				u->chunks[i].len
					? shoal_memdup(u->chunks[i].data,
						       u->chunks[i].len)
					: NULL;
		}
		w->n_chunks = u->n_chunks;
	}
	if (u->n_msgs_durable) {
		w->dmsgs = shoal_calloc(u->n_msgs_durable, sizeof(*w->dmsgs));
		for (size_t i = 0; i < u->n_msgs_durable; i++)
			w->dmsgs[i] = sim_msg_copy(&u->msgs_durable[i]);
		w->n_dmsgs = u->n_msgs_durable;
	}
	return w;
}

void sim_complete_chunks(struct cluster *c, struct node *nd,
			 const struct write *w)
{
	struct disk *d = &nd->disk;

	for (size_t i = 0; i < w->n_chunks; i++) {
		const struct raft_snapshot_chunk *ch = &w->chunks[i];
		int rc;

		if (ch->offset == 0)
			d->in_len = 0;
		if (ch->offset != d->in_len) {
			sim_fail(c, CLUSTER_INV_CORE_CONTRACT,
				 "node %" PRIu64
				 " got snapshot chunk at %" PRIu64
				 " after %zu bytes",
				 nd->id, ch->offset, d->in_len);
			return;
		}
		d->in_data = xgrow(d->in_data, &d->in_cap,
				   d->in_len + ch->len + 1, 1);
		memcpy(d->in_data + d->in_len, ch->data, ch->len);
		d->in_len += ch->len;
		if (!ch->last)
			continue;
		if (!sim_sm_load(c, nd, d->in_data, d->in_len,
				 ch->meta.index)) {
			sim_fail(c, CLUSTER_INV_CORE_CONTRACT,
				 "node %" PRIu64 " received a corrupt snapshot",
				 nd->id);
			return;
		}
		if (ch->meta.index < c->applied_cap &&
		    c->applied[ch->meta.index].set &&
		    c->applied[ch->meta.index].sm != nd->sm_hash)
			sim_fail(
				c, CLUSTER_INV_STATE_MACHINE_SAFETY,
				"node %" PRIu64 " installed a snapshot state"
				" that differs from the one applied at %" PRIu64,
				nd->id, ch->meta.index);
		shoal_free(d->snap_data);
		d->snap_data = shoal_memdup(d->in_data, d->in_len);
		d->snap_len = d->in_len;
		d->snap = ch->meta;
		d->in_len = 0;
		rc = raft_snapshot_installed(nd->r, ch->meta.index,
					     ch->meta.term);
		if (rc)
			sim_fail(c, CLUSTER_INV_CORE_CONTRACT,
				 "node %" PRIu64
				 " refused a snapshot install: %d",
				 nd->id, rc);
		c->installs++;
		TRACE(c, "n%" PRIu64 " installed snapshot %" PRIu64, nd->id,
		      ch->meta.index);
	}
}

void sim_complete_write(struct cluster *c, struct node *nd, struct write *w)
{
	struct disk *d = &nd->disk;

	if (w->log_reset)
		sim_disk_reset(d, w->reset_index);
	if (w->truncate_from)
		sim_disk_truncate(d, w->truncate_from);
	for (size_t i = 0; i < w->n_ents; i++)
		sim_disk_append(d, &w->ents[i]);
	if (w->hard_changed)
		d->hard = w->hard;
	if (w->compact_upto)
		sim_disk_compact(d, w->compact_upto);
	if (w->n_ents)
		raft_persisted(nd->r, w->ents[w->n_ents - 1].index,
			       w->ents[w->n_ents - 1].term);
	else if (w->log_reset)
		raft_persisted(nd->r, w->reset_index, d->snap.term);
	sim_complete_chunks(c, nd, w);
	for (size_t i = 0; i < w->n_dmsgs; i++)
		sim_send_msg(c, w->dmsgs[i]);
}
