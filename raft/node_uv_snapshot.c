/*
 * Snapshots of the libuv node (node_uv.h). Taking: the app serializes its
 * state (snapshot_take), the core is told at once (raft_snapshot_done) and
 * the bytes are saved on a libuv work thread; the disk log is compacted
 * only up to the newest snapshot that is durable, so a crash during a save
 * never leaves a log starting after the last snapshot. Receiving: chunks
 * from the leader are written in order by calls on the disk writer thread
 * (raft_disk_run), the last one commits the file, which is then loaded
 * into the app (snapshot_restore) before raft_snapshot_installed(). The
 * raft metadata (conf index and configuration) travels in the snapshot
 * file's configuration blob: 8 bytes conf index, 8 reserved, then
 * raft_conf_encode().
 */
#define LOG_MODULE "raft-node"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/log.h"
#include "raft/node_uv_internal.h"

#define META_HDR 16

/* ---- snapshot metadata in the disk's conf blob ---- */

static uint8_t *meta_encode(const struct raft_snapshot_meta *m, uint32_t *len)
{
	size_t clen = raft_conf_encoded_len(&m->conf);
	uint8_t *p = shoal_malloc(META_HDR + clen);
	if (!p)
		return NULL;
	memcpy(p, &m->conf_index, 8);
	memset(p + 8, 0, 8);
	raft_conf_encode(&m->conf, p + META_HDR, clen);
	*len = (uint32_t)(META_HDR + clen);
	return p;
}

static int meta_decode(const struct raft_disk_snapshot_meta *d,
		       struct raft_snapshot_meta *m)
{
	if (d->conf_len < META_HDR)
		return SHOAL_ECORRUPT;
	memset(m, 0, sizeof(*m));
	m->index = d->index;
	m->term = d->term;
	memcpy(&m->conf_index, d->conf, 8);
	return raft_conf_decode(d->conf + META_HDR, d->conf_len - META_HDR,
				&m->conf)
		       ? SHOAL_ECORRUPT
		       : 0;
}

int node__snap_read(void *arg, uint64_t index, uint64_t offset, void *buf,
		    size_t len, size_t *n, uint64_t *size)
{
	struct raft_node *nd = arg;
	struct raft_disk_state st;
	raft_disk_state(nd->disk, &st);
	if (!st.has_snapshot || st.snapshot.index != index)
		return -ENOENT;
	ssize_t got = raft_disk_snapshot_read(nd->disk, offset, buf, len);
	if (got < 0)
		return (int)got;
	*n = (size_t)got;
	*size = st.snapshot.size;
	return 0;
}

struct chunk_job {
	struct raft_node *n;
	struct raft_snapshot_chunk ch; /* data owned */
	int status;
};

struct snap_job {
	struct raft_node *n;
	struct raft_snapshot_meta meta;
	void *data;
	uint8_t *blob;
};

static int chunk_write(void *arg)
{
	struct chunk_job *j = arg;
	struct raft_node *n = j->n;
	const struct raft_snapshot_chunk *ch = &j->ch;
	int rc = 0;
	if (ch->offset == 0) {
		struct raft_disk_snapshot_meta dm = {.index = ch->meta.index,
						     .term = ch->meta.term};
		if (n->snap_w)
			raft_disk_snapshot_abort(n->snap_w);
		n->snap_w = NULL;
		dm.conf = meta_encode(&ch->meta, &dm.conf_len);
		rc = dm.conf ? raft_disk_snapshot_begin(n->disk, &dm,
							&n->snap_w)
			     : -ENOMEM;
		shoal_free(dm.conf);
		n->snap_w_off = 0;
	}
	if (!rc && (!n->snap_w || ch->offset != n->snap_w_off))
		rc = -EINVAL;
	if (!rc)
		rc = raft_disk_snapshot_chunk(n->snap_w, ch->data, ch->len);
	if (!rc)
		n->snap_w_off += ch->len;
	if (!rc && ch->last) {
		rc = raft_disk_snapshot_commit(n->snap_w);
		n->snap_w = NULL;
	}
	return rc;
}

static void install_loaded(struct raft_node *n,
			   const struct raft_snapshot_chunk *ch)
{
	struct raft_disk_snapshot_meta dm;
	void *data;
	size_t len;
	int rc = raft_disk_snapshot_load(n->disk, &dm, &data, &len);
	if (rc) {
		node__fatal(n, rc, "loading a received snapshot");
		return;
	}
	if (n->cb.snapshot_restore)
		rc = n->cb.snapshot_restore(n->cb_arg, data, len);
	shoal_free(data);
	shoal_free(dm.conf);
	if (rc) {
		node__fatal(n, rc, "restoring a received snapshot");
		return;
	}
	n->snap_durable = ch->meta.index;
	n->applied = ch->meta.index;
	node__finish_waiters(&n->proposals, SHOAL_ENOTLEADER);
	rc = raft_snapshot_installed(n->r, ch->meta.index, ch->meta.term);
	if (rc)
		log_warn("node=%" PRIu64 " snapshot=%" PRIu64
			 ": install refused by the core: %s",
			 n->id, ch->meta.index, shoal_strerror(rc));
}

static void on_chunk(void *arg, int status)
{
	struct chunk_job *j = arg;
	struct raft_node *n = j->n;
	n->pending_jobs--;
	/* The core counts the chunk as received: a chunk that could not be
	 * written would leave the install hanging, so it stops the node like
	 * any other disk error. */
	if (status)
		node__fatal(n, status, "writing a received snapshot chunk");
	else if (j->ch.last && !n->err && !n->stopping) {
		raft_tick(n->r, node__now_ms());
		install_loaded(n, &j->ch);
		node__process(n);
	}
	shoal_free(j->ch.data);
	shoal_free(j);
	node__maybe_stopped(n);
}

int node__persist_chunks(struct raft_node *n, const struct raft_update *u)
{
	for (size_t i = 0; i < u->n_chunks; i++) {
		struct chunk_job *j = shoal_calloc(1, sizeof(*j));
		if (!j)
			return -ENOMEM;
		j->n = n;
		j->ch = u->chunks[i];
		j->ch.data = u->chunks[i].len ? shoal_memdup(u->chunks[i].data,
							     u->chunks[i].len)
					      : NULL;
		int rc = u->chunks[i].len && !j->ch.data ? -ENOMEM : 0;
		if (!rc)
			rc = raft_disk_run(n->disk, chunk_write, j, on_chunk,
					   j);
		if (rc) {
			shoal_free(j->ch.data);
			shoal_free(j);
			return rc;
		}
		n->pending_jobs++;
	}
	return 0;
}

/* ---- snapshots and compaction ---- */

void node__compact(struct raft_node *n, uint64_t upto)
{
	if (upto > n->compact_pending)
		n->compact_pending = upto;
	uint64_t can = n->compact_pending < n->snap_durable ? n->compact_pending
							    : n->snap_durable;
	if (!can)
		return;
	if (raft_disk_compact(n->disk, can, NULL, NULL) == 0 &&
	    can == n->compact_pending)
		n->compact_pending = 0;
}

static void on_snap_saved(void *arg, int status)
{
	struct snap_job *j = arg;
	struct raft_node *n = j->n;
	n->pending_jobs--;
	n->snap_saving = false;
	if (status)
		log_warn("node=%" PRIu64 " snapshot=%" PRIu64 ": not saved: %s",
			 n->id, j->meta.index, shoal_strerror(status));
	else if (j->meta.index > n->snap_durable)
		n->snap_durable = j->meta.index;
	if (!status && !n->err && !n->stopping)
		node__compact(n, 0);
	shoal_free(j->data);
	shoal_free(j->blob);
	shoal_free(j);
	node__maybe_stopped(n);
}

void node__take_snapshot(struct raft_node *n)
{
	void *data = NULL;
	size_t len = 0;
	if (!n->cb.snapshot_take || n->snap_saving)
		return;
	int rc = n->cb.snapshot_take(n->cb_arg, &data, &len);
	if (!rc)
		rc = raft_snapshot_done(n->r, n->applied);
	struct snap_job *j = rc ? NULL : shoal_calloc(1, sizeof(*j));
	if (j) {
		j->n = n;
		j->data = data;
		raft_snapshot_meta(n->r, &j->meta);
		struct raft_disk_snapshot_meta dm = {.index = j->meta.index,
						     .term = j->meta.term};
		j->blob = dm.conf = meta_encode(&j->meta, &dm.conf_len);
		rc = j->blob ? raft_disk_snapshot_save(n->disk, &dm, data, len,
						       on_snap_saved, j)
			     : -ENOMEM;
		if (!rc) {
			n->snap_saving = true;
			n->pending_jobs++;
			return;
		}
		shoal_free(j->blob);
		shoal_free(j);
	}
	shoal_free(data);
	log_warn("node=%" PRIu64 ": snapshot not taken: %s", n->id,
		 shoal_strerror(rc ? rc : -ENOMEM));
}

int node__restore_snapshot(struct raft_node *n, struct raft_restore *rs)
{
	struct raft_disk_snapshot_meta dm;
	void *data;
	size_t len;
	int rc = raft_disk_snapshot_load(n->disk, &dm, &data, &len);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	rc = meta_decode(&dm, &rs->snapshot);
	if (!rc && n->cb.snapshot_restore)
		rc = n->cb.snapshot_restore(n->cb_arg, data, len);
	shoal_free(data);
	shoal_free(dm.conf);
	if (!rc)
		n->applied = n->snap_durable = rs->snapshot.index;
	return rc;
}
