/*
 * The raft disk log: open, the loop-side
 * view of the log, the window of recent entries kept in memory, reads, and
 * close. The writer thread lives in disk_writer.c, hard state and
 * snapshots in disk_meta.c; formats in disk_format.h.
 *
 * Open's scan and its rules for damage live in disk_open.c.
 *
 * The loop-side view (first/last index, terms) runs ahead of the disk by
 * whatever is queued; durable_index trails it. The memory window evicts
 * only durable entries, so every index of the log is either in memory or
 * readable from its segment.
 */
#define LOG_MODULE "raft-disk"

#include "raft/disk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/crypto.h"
#include "common/error.h"
#include "common/log.h"
#include "raft/disk_internal.h"

#define DEFAULT_SEGMENT_BYTES (64ull << 20)
#define DEFAULT_CACHE_BYTES (16u << 20)
#define DEFAULT_QUEUE_BYTES (64u << 20)
/* Bookkeeping counted against the memory window for each entry. */
#define CACHE_ENTRY_OVERHEAD 64

int disk__seg_path(const struct raft_disk *d, uint64_t first, char *out,
		   size_t cap)
{
	int n = snprintf(out, cap, "%s/seg-%020" PRIu64, d->dir, first);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

int disk__seg_sparse_add(struct disk_seg *s, uint64_t index, uint64_t off)
{
	if ((index - s->first) % DISK_SPARSE)
		return 0;
	if (s->nsparse == s->cap_sparse) {
		size_t cap = s->cap_sparse ? s->cap_sparse * 2 : 64;
		uint64_t *p = shoal_realloc(s->sparse, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		s->sparse = p;
		s->cap_sparse = cap;
	}
	s->sparse[s->nsparse++] = off;
	return 0;
}

void disk__seg_free(struct disk_seg *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	shoal_free(s->sparse);
	s->sparse = NULL;
	s->nsparse = s->cap_sparse = 0;
}

int disk__fsync_dir(struct raft_disk *d)
{
	return fsync(d->dirfd) < 0 ? -errno : 0;
}

/* The loop-side view from the segment table, once at open. */
static void init_view(struct raft_disk *d)
{
	d->first_index = d->segs[0].first;
	d->last_index = d->segs[d->nsegs - 1].last;
	d->last_term = 0;
	for (size_t i = d->nsegs; i-- > 0;) {
		if (d->segs[i].last >= d->segs[i].first) {
			d->last_term = d->segs[i].last_term;
			break;
		}
	}
	if (d->has_snap && d->snap.index == d->first_index - 1)
		d->base_term = d->snap.term;
	if (!d->last_term && d->last_index == d->first_index - 1)
		d->last_term = d->base_term;
	d->durable_index = d->last_index;
}

static int open_dir(struct raft_disk *d)
{
	if (mkdir(d->dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	d->dirfd = open(d->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->dirfd < 0)
		return -errno;
	char path[4096];
	if (snprintf(path, sizeof(path), "%s/LOCK", d->dir) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	d->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (d->lockfd < 0)
		return -errno;
	if (flock(d->lockfd, LOCK_EX | LOCK_NB) < 0)
		return errno == EWOULDBLOCK ? -EBUSY : -errno;
	return 0;
}

static void disk_free(struct raft_disk *d)
{
	for (size_t i = 0; i < d->nsegs; i++)
		disk__seg_free(&d->segs[i]);
	shoal_free(d->segs);
	for (size_t i = 0; i < d->ncache; i++)
		shoal_free(d->cache[(d->cache_head + i) % d->cap_cache].data);
	shoal_free(d->cache);
	disk__snap_meta_free(&d->snap);
	if (d->hs_fd >= 0)
		close(d->hs_fd);
	if (d->lockfd >= 0)
		close(d->lockfd);
	if (d->dirfd >= 0)
		close(d->dirfd);
	pthread_mutex_destroy(&d->mu);
	pthread_mutex_destroy(&d->seg_mu);
	pthread_cond_destroy(&d->cv);
	shoal_free(d->dir);
	shoal_wipe(d->key, sizeof(d->key));
	shoal_free(d);
}

static void on_async(uv_async_t *h);

static void free_on_close(uv_handle_t *h)
{
	disk_free(h->data);
}

int raft_disk_open(uv_loop_t *loop, const struct raft_disk_options *o,
		   struct raft_disk **out)
{
	if (!o || !o->dir || !*o->dir)
		return -EINVAL;
	struct raft_disk *d = shoal_calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->loop = loop;
	d->opt = *o;
	d->opt.key = NULL;
	if (o->key) {
		memcpy(d->key, o->key, DISK_KEY_LEN);
		d->sealed = true;
	}
	d->dirfd = d->lockfd = d->hs_fd = -1;
	if (!d->opt.segment_bytes)
		d->opt.segment_bytes = DEFAULT_SEGMENT_BYTES;
	if (d->opt.segment_bytes > (1ull << 30))
		d->opt.segment_bytes = 1ull << 30;
	if (!d->opt.cache_bytes)
		d->opt.cache_bytes = DEFAULT_CACHE_BYTES;
	if (!d->opt.queue_bytes)
		d->opt.queue_bytes = DEFAULT_QUEUE_BYTES;
	if (!d->opt.snapshots_kept)
		d->opt.snapshots_kept = 2;
	pthread_mutex_init(&d->mu, NULL);
	pthread_mutex_init(&d->seg_mu, NULL);
	pthread_cond_init(&d->cv, NULL);
	list_init(&d->queue);
	list_init(&d->done);
	int rc = -ENOMEM;
	d->dir = shoal_strdup(o->dir);
	d->opt.dir = d->dir;
	if (!d->dir)
		goto err_free;
	rc = open_dir(d);
	if (!rc)
		rc = disk__hs_open(d);
	if (!rc)
		rc = disk__snap_scan(d);
	if (!rc)
		rc = disk__load_segments(d);
	if (rc)
		goto err_free;
	init_view(d);
	rc = uv_async_init(loop, &d->async, on_async);
	if (rc)
		goto err_free;
	d->async.data = d;
	rc = disk__writer_start(d);
	if (rc) {
		uv_close((uv_handle_t *)&d->async, free_on_close);
		return rc;
	}
	*out = d;
	return 0;
err_free:
	disk_free(d);
	return rc;
}

void raft_disk_state(const struct raft_disk *d, struct raft_disk_state *out)
{
	memset(out, 0, sizeof(*out));
	out->hs = d->hs;
	out->first_index = d->first_index;
	out->last_index = d->last_index;
	out->last_term = d->last_term;
	out->durable_index = d->durable_index;
	out->error = d->error;
	pthread_mutex_lock((pthread_mutex_t *)&d->seg_mu);
	out->has_snapshot = d->has_snap;
	if (d->has_snap) {
		out->snapshot = d->snap;
		out->snapshot.conf = NULL;
	}
	pthread_mutex_unlock((pthread_mutex_t *)&d->seg_mu);
}

void raft_disk_stats(const struct raft_disk *d, struct raft_disk_stats *out)
{
	*out = d->stats;
	out->fsyncs = __atomic_load_n(&d->fsyncs, __ATOMIC_RELAXED);
	out->bytes = __atomic_load_n(&d->bytes, __ATOMIC_RELAXED);
	out->cache_bytes = d->cache_payload;
}

/* ---- the memory window ---- */

static struct disk_cache_ent *cache_at(struct raft_disk *d, size_t i)
{
	return &d->cache[(d->cache_head + i) % d->cap_cache];
}

static uint64_t cache_first(struct raft_disk *d)
{
	return d->ncache ? cache_at(d, 0)->index : 0;
}

static void cache_pop_front(struct raft_disk *d)
{
	struct disk_cache_ent *e = cache_at(d, 0);
	d->cache_payload -= e->len + CACHE_ENTRY_OVERHEAD;
	shoal_free(e->data);
	d->cache_head = (d->cache_head + 1) % d->cap_cache;
	d->ncache--;
}

static void cache_pop_back(struct raft_disk *d)
{
	struct disk_cache_ent *e = cache_at(d, d->ncache - 1);
	d->cache_payload -= e->len + CACHE_ENTRY_OVERHEAD;
	shoal_free(e->data);
	d->ncache--;
}

static int cache_grow(struct raft_disk *d, size_t need)
{
	if (need <= d->cap_cache)
		return 0;
	size_t cap = d->cap_cache ? d->cap_cache : 256;
	while (cap < need)
		cap *= 2;
	struct disk_cache_ent *p = shoal_calloc(cap, sizeof(*p));
	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < d->ncache; i++)
		p[i] = *cache_at(d, i);
	shoal_free(d->cache);
	d->cache = p;
	d->cap_cache = cap;
	d->cache_head = 0;
	return 0;
}

static void cache_truncate(struct raft_disk *d, uint64_t from)
{
	while (d->ncache && cache_at(d, d->ncache - 1)->index >= from)
		cache_pop_back(d);
}

/* ---- requests ---- */

static void req_free(struct disk_req *r)
{
	shoal_free(r->buf);
	shoal_free(r->offs);
	shoal_free(r);
}

static int check_entries(const struct raft_disk *d, uint64_t last,
			 uint64_t last_term, const struct raft_disk_write *w)
{
	uint32_t max = DISK_MAX_ENTRY - (d->sealed ? DISK_SEAL_OVERHEAD : 0);
	for (size_t i = 0; i < w->n; i++) {
		const struct raft_disk_entry *e = &w->entries[i];
		if (e->index != last + 1 + i || e->term < last_term ||
		    e->term == 0 || e->len > max || (e->len && !e->data) ||
		    (e->type & DISK_TYPE_SEALED))
			return -EINVAL;
		last_term = e->term;
	}
	return 0;
}

/* One record, its payload sealed with the DEK when the log has one. */
static int encode_entry(const struct raft_disk *d, uint8_t *out,
			const struct raft_disk_entry *e)
{
	if (!d->sealed) {
		disk__rec_encode(out, DISK_REC_ENTRY, e->index, e->term,
				 e->type, e->data, e->len);
		return 0;
	}
	uint8_t *c;
	int rc = disk__seal(d->key, e->index, e->term, e->type, e->data, e->len,
			    &c);
	if (rc)
		return rc;
	disk__rec_encode(out, DISK_REC_ENTRY, e->index, e->term,
			 e->type | DISK_TYPE_SEALED, c,
			 e->len + DISK_SEAL_OVERHEAD);
	shoal_free(c);
	return 0;
}

static int encode_entries(const struct raft_disk *d, struct disk_req *r,
			  const struct raft_disk_write *w)
{
	size_t len = 0;
	uint32_t extra = d->sealed ? DISK_SEAL_OVERHEAD : 0;
	for (size_t i = 0; i < w->n; i++) {
		len += disk__rec_size(w->entries[i].len + extra);
		if (len > (1ull << 30))
			return -E2BIG;
	}
	r->buf = shoal_malloc(len ? len : 1);
	r->offs = shoal_malloc((w->n ? w->n : 1) * sizeof(*r->offs));
	if (!r->buf || !r->offs)
		return -ENOMEM;
	size_t off = 0;
	for (size_t i = 0; i < w->n; i++) {
		const struct raft_disk_entry *e = &w->entries[i];
		r->offs[i] = off;
		int rc = encode_entry(d, r->buf + off, e);
		if (rc)
			return rc;
		off += disk__rec_size(e->len + extra);
	}
	r->len = len;
	if (w->n) {
		r->first = w->entries[0].index;
		r->last = w->entries[w->n - 1].index;
		r->last_term = w->entries[w->n - 1].term;
	}
	return 0;
}

/* The term the log ends with once truncated before @from (loop view). */
static int term_before(struct raft_disk *d, uint64_t from, uint64_t *term)
{
	if (from <= d->first_index) {
		*term = d->base_term;
		return 0;
	}
	return raft_disk_term(d, from - 1, term);
}

/* Copies of the entries' payloads, all or nothing. */
static int copy_payloads(const struct raft_disk_write *w, void ***out)
{
	void **c = shoal_calloc(w->n ? w->n : 1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	for (size_t i = 0; i < w->n; i++) {
		if (!w->entries[i].len)
			continue;
		c[i] = shoal_memdup(w->entries[i].data, w->entries[i].len);
		if (!c[i]) {
			while (i--)
				shoal_free(c[i]);
			shoal_free(c);
			return -ENOMEM;
		}
	}
	*out = c;
	return 0;
}

static void cache_push(struct raft_disk *d, const struct raft_disk_entry *e,
		       void **copies, size_t n, uint64_t seq)
{
	for (size_t i = 0; i < n; i++) {
		struct disk_cache_ent *c = cache_at(d, d->ncache);
		*c = (struct disk_cache_ent){seq,	e[i].index, e[i].term,
					     e[i].type, e[i].len,   copies[i]};
		d->ncache++;
		d->cache_payload += e[i].len + CACHE_ENTRY_OVERHEAD;
	}
}

int raft_disk_write(struct raft_disk *d, const struct raft_disk_write *w,
		    raft_disk_cb *cb, void *arg)
{
	if (d->error)
		return d->error;
	if (d->closing || (w->n && !w->entries))
		return -EINVAL;
	uint64_t last = d->last_index, last_term = d->last_term;
	int rc;
	if (w->truncate_from) {
		if (w->truncate_from < d->first_index ||
		    w->truncate_from > d->last_index + 1)
			return -EINVAL;
		last = w->truncate_from - 1;
		rc = term_before(d, w->truncate_from, &last_term);
		if (rc)
			return rc;
	}
	rc = check_entries(d, last, last_term, w);
	if (rc)
		return rc;
	struct disk_req *r = shoal_calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	void **copies = NULL;
	r->kind = DISK_REQ_WRITE;
	r->cb = cb;
	r->arg = arg;
	r->truncate_from = w->truncate_from;
	if (w->hs) {
		r->has_hs = true;
		r->hs = *w->hs;
	}
	rc = encode_entries(d, r, w);
	if (!rc)
		rc = disk__admit(d, r->len);
	if (!rc)
		rc = copy_payloads(w, &copies);
	if (rc)
		goto err_free;
	rc = cache_grow(d, d->ncache + w->n);
	if (rc)
		goto err_free_copies;
	/* Nothing fails from here on. */
	r->seq = ++d->next_seq;
	if (w->truncate_from)
		cache_truncate(d, w->truncate_from);
	cache_push(d, w->entries, copies, w->n, r->seq);
	shoal_free(copies);
	if (w->hs)
		d->hs = *w->hs;
	d->last_index = w->n ? r->last : last;
	d->last_term = w->n ? r->last_term : last_term;
	if (d->durable_index > last)
		d->durable_index = last;
	if (w->truncate_from)
		d->trunc_seq = r->seq;
	r->end = d->last_index;
	disk__submit(d, r);
	return 0;
err_free_copies:
	for (size_t i = 0; i < w->n; i++)
		shoal_free(copies[i]);
	shoal_free(copies);
err_free:
	req_free(r);
	return rc;
}

static int submit_simple(struct raft_disk *d, struct disk_req *r,
			 raft_disk_cb *cb, void *arg)
{
	if (d->error) {
		req_free(r);
		return d->error;
	}
	int rc = d->closing ? -EINVAL : disk__admit(d, 0);
	if (rc) {
		req_free(r);
		return rc;
	}
	r->cb = cb;
	r->arg = arg;
	r->seq = ++d->next_seq;
	disk__submit(d, r);
	return 0;
}

int raft_disk_compact(struct raft_disk *d, uint64_t upto, raft_disk_cb *cb,
		      void *arg)
{
	struct disk_req *r = shoal_calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->kind = DISK_REQ_COMPACT;
	r->upto = upto;
	return submit_simple(d, r, cb, arg);
}

int raft_disk_reset(struct raft_disk *d, uint64_t next_index,
		    uint64_t last_term, raft_disk_cb *cb, void *arg)
{
	if (next_index == 0 || next_index == UINT64_MAX)
		return -EINVAL;
	struct disk_req *r = shoal_calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->kind = DISK_REQ_RESET;
	r->truncate_from = next_index;
	r->last_term = last_term;
	r->end = next_index - 1;
	int rc = submit_simple(d, r, cb, arg);
	if (rc)
		return rc;
	cache_truncate(d, 0);
	d->trunc_seq = r->seq;
	d->first_index = next_index;
	d->last_index = d->durable_index = next_index - 1;
	d->last_term = d->base_term = last_term;
	return 0;
}

int raft_disk_run(struct raft_disk *d, int (*fn)(void *fn_arg), void *fn_arg,
		  raft_disk_cb *cb, void *arg)
{
	struct disk_req *r = shoal_calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->kind = DISK_REQ_CALL;
	r->fn = fn;
	r->fn_arg = fn_arg;
	return submit_simple(d, r, cb, arg);
}

/* ---- completions, on the loop ---- */

static void complete(struct raft_disk *d, struct disk_req *r)
{
	d->done_seq = r->seq;
	if (r->status && !d->error && r->kind != DISK_REQ_CALL) {
		d->error = r->status;
		log_error("dir=%s: write failed, the log refuses further "
			  "writes: %s",
			  d->dir, shoal_strerror(r->status));
	}
	if (!r->status) {
		d->stats.writes++;
		if ((r->kind == DISK_REQ_WRITE || r->kind == DISK_REQ_RESET) &&
		    r->seq >= d->trunc_seq)
			d->durable_index = r->end;
		if (r->kind == DISK_REQ_COMPACT &&
		    r->new_first > d->first_index) {
			d->first_index = r->new_first;
			d->base_term = r->new_base_term;
			while (d->ncache && cache_first(d) < d->first_index)
				cache_pop_front(d);
		}
	}
	if (r->cb)
		r->cb(r->arg, r->status);
	req_free(r);
}

static void on_closed(uv_handle_t *h)
{
	struct raft_disk *d = h->data;
	void (*cb)(void *) = d->close_cb;
	void *arg = d->close_arg;
	disk_free(d);
	if (cb)
		cb(arg);
}

static void on_async(uv_async_t *h)
{
	struct raft_disk *d = h->data;
	struct list_node done;
	list_init(&done);
	pthread_mutex_lock(&d->mu);
	while (!list_empty(&d->done)) {
		struct list_node *n = list_front(&d->done);
		list_remove(n);
		list_push_back(&done, n);
	}
	bool exited = d->exited;
	pthread_mutex_unlock(&d->mu);
	while (!list_empty(&done)) {
		struct list_node *n = list_front(&done);
		list_remove(n);
		complete(d, list_entry(n, struct disk_req, link));
	}
	/* Evict only what every request so far has made durable. */
	while (d->ncache && d->cache_payload > d->opt.cache_bytes &&
	       cache_at(d, 0)->seq <= d->done_seq)
		cache_pop_front(d);
	if (exited && d->closing && !uv_is_closing((uv_handle_t *)h)) {
		disk__writer_stop(d);
		uv_close((uv_handle_t *)h, on_closed);
	}
}

void raft_disk_close(struct raft_disk *d, void (*cb)(void *arg), void *arg)
{
	if (d->closing)
		return;
	d->closing = true;
	d->close_cb = cb;
	d->close_arg = arg;
	pthread_mutex_lock(&d->mu);
	d->stop = true;
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
}

/* ---- reads ---- */

static struct disk_cache_ent *cache_find(struct raft_disk *d, uint64_t index)
{
	uint64_t first = cache_first(d);
	if (!d->ncache || index < first || index - first >= d->ncache)
		return NULL;
	return cache_at(d, index - first);
}

static struct disk_seg *seg_find(struct raft_disk *d, uint64_t index)
{
	size_t lo = 0, hi = d->nsegs;
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;
		if (d->segs[mid].first <= index)
			lo = mid;
		else
			hi = mid;
	}
	struct disk_seg *s = &d->segs[lo];
	if (!d->nsegs || index < s->first || index > s->last)
		return NULL;
	return s;
}

/* Decrypt a sealed payload in place; -ENOKEY when the log has no key. */
static int open_payload(struct raft_disk *d, struct disk_rec *rec, void *data)
{
	if (!(rec->type & DISK_TYPE_SEALED))
		return 0;
	if (!d->sealed)
		return -ENOKEY;
	uint32_t n;
	int rc = disk__unseal(d->key, rec->index, rec->term, rec->type, data,
			      rec->len, &n);
	if (rc)
		return rc;
	rec->type &= ~DISK_TYPE_SEALED;
	rec->len = n;
	return 0;
}

static int read_payload(struct raft_disk *d, const struct disk_seg *s,
			uint64_t off, struct disk_rec *rec, void **out)
{
	uint8_t hdr[DISK_REC_HDR];
	void *data = rec->len ? shoal_malloc(rec->len) : NULL;
	if (rec->len && !data)
		return -ENOMEM;
	ssize_t got = pread(s->fd, hdr, sizeof(hdr), (off_t)off);
	if (got == (ssize_t)sizeof(hdr))
		got = rec->len ? pread(s->fd, data, rec->len,
				       (off_t)(off + DISK_REC_HDR))
			       : 0;
	int rc = got < 0 ? -errno : SHOAL_ECORRUPT;
	if (got == (ssize_t)rec->len &&
	    disk__rec_crc(hdr, data, rec->len) == rec->crc) {
		rc = open_payload(d, rec, data);
		if (!rc) {
			if (!rec->len) { /* an empty entry, once opened */
				shoal_free(data);
				data = NULL;
			}
			*out = data;
			return 0;
		}
	}
	char path[4096];
	disk__seg_path(d, s->first, path, sizeof(path));
	log_error("file=%s offset=%" PRIu64 " index=%" PRIu64
		  ": cannot read entry: %s",
		  path, off, rec->index, shoal_strerror(rc));
	shoal_free(data);
	return rc;
}

static int read_disk(struct raft_disk *d, uint64_t index,
		     struct raft_disk_entry *out, bool payload)
{
	struct disk_rec rec;
	uint64_t off;
	int rc = -ENOENT;
	pthread_mutex_lock(&d->seg_mu);
	struct disk_seg *s = seg_find(d, index);
	if (s)
		rc = disk__entry_offset(d, s, index, &off, &rec);
	if (!rc && payload)
		rc = read_payload(d, s, off, &rec, &out->data);
	if (!rc) {
		out->index = rec.index;
		out->term = rec.term;
		out->type = rec.type & ~DISK_TYPE_SEALED;
		out->len = rec.len;
	}
	pthread_mutex_unlock(&d->seg_mu);
	return rc;
}

int raft_disk_read(struct raft_disk *d, uint64_t index,
		   struct raft_disk_entry *out)
{
	if (index < d->first_index || index > d->last_index)
		return -ENOENT;
	struct disk_cache_ent *c = cache_find(d, index);
	if (!c) {
		out->data = NULL;
		int rc = read_disk(d, index, out, true);
		if (!rc)
			d->stats.disk_reads++;
		return rc;
	}
	void *copy = c->len ? shoal_memdup(c->data, c->len) : NULL;
	if (c->len && !copy)
		return -ENOMEM;
	*out = (struct raft_disk_entry){c->index, c->term, c->type, c->len,
					copy};
	d->stats.cache_hits++;
	return 0;
}

int raft_disk_term(struct raft_disk *d, uint64_t index, uint64_t *term)
{
	if (index == d->first_index - 1 && d->base_term) {
		*term = d->base_term;
		return 0;
	}
	if (index < d->first_index || index > d->last_index)
		return -ENOENT;
	struct disk_cache_ent *c = cache_find(d, index);
	if (c) {
		*term = c->term;
		return 0;
	}
	struct raft_disk_entry e;
	int rc = read_disk(d, index, &e, false);
	if (!rc)
		*term = e.term;
	return rc;
}
