/*
 * The disk log's writer thread. The loop queues requests (entries to
 * append, a suffix to truncate, a prefix to compact, a reset) under d->mu;
 * the writer takes everything queued at once and turns consecutive appends
 * into one pwritev ending with a commit mark and ONE fdatasync (group
 * commit), so that while a write is in flight the next ones pile up and go
 * out together. Completed requests go back on d->done and the loop is woken
 * with uv_async_send(); their callbacks run there, in submission order.
 *
 * Order on disk: a group's newest hard state is written (to its own file,
 * fdatasync) before any of the group's entries, so a term or vote is never
 * durable later than entries that depend on it. Its commit hint is capped
 * below the group's truncation points, since the suffix they drop is still
 * on disk until they are done. A truncation rewrites a
 * commit mark right after the last kept entry, so the kept prefix stays
 * "acknowledged" for the next open.
 *
 * Failure: the first write or fsync error rolls the segment back to its
 * last durable mark (ftruncate) and becomes sticky (d->werror): every later
 * request fails with it. After a failed fsync nothing is retried, since
 * the kernel may already have dropped the dirty pages (the "fsyncgate"
 * lesson); the node must stop and reopen, and open will find a clean log.
 */
#define LOG_MODULE "raft-disk"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/log.h"
#include "raft/disk_internal.h"

/* At most this many requests in one group (one pwritev). */
#define MAX_GROUP 256

struct flush {
	struct iovec iov[MAX_GROUP + 1];
	struct disk_req *reqs[MAX_GROUP];
	int nreq;
	uint64_t bytes;
	uint64_t last;
	uint64_t last_term;
	uint8_t mark[DISK_REC_HDR];
};

static ssize_t do_pwritev(struct raft_disk *d, int fd, const struct iovec *iov,
			  int n, off_t off)
{
	if (d->opt.pwritev_hook)
		return d->opt.pwritev_hook(fd, iov, n, off, d->opt.hook_arg);
	return pwritev(fd, iov, n, off);
}

/* Write all of @iov at @off, through short writes; 0 or -errno. */
static int write_all(struct raft_disk *d, int fd, struct iovec *iov, int n,
		     uint64_t off)
{
	while (n > 0) {
		ssize_t w = do_pwritev(d, fd, iov, n, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		if (w == 0)
			return -EIO;
		off += (uint64_t)w;
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

int disk__seg_create(struct raft_disk *d, uint64_t first, struct disk_seg *s)
{
	char path[4096];
	uint8_t hdr[DISK_SEG_HDR];
	int rc = disk__seg_path(d, first, path, sizeof(path));
	if (rc)
		return rc;
	*s = (struct disk_seg){
		.first = first, .last = first - 1, .size = DISK_SEG_HDR};
	s->fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (s->fd < 0)
		return -errno;
	disk__seg_header(hdr, first);
	struct iovec iov = {hdr, sizeof(hdr)};
	rc = write_all(d, s->fd, &iov, 1, 0);
	if (!rc && fdatasync(s->fd) < 0)
		rc = -errno;
	if (!rc)
		rc = disk__fsync_dir(d);
	if (rc) {
		close(s->fd);
		unlink(path);
		s->fd = -1;
	}
	return rc;
}

int disk__entry_offset(struct raft_disk *d, const struct disk_seg *s,
		       uint64_t index, uint64_t *off, struct disk_rec *rec)
{
	size_t slot = (index - s->first) / DISK_SPARSE;
	if (index < s->first || index > s->last || slot >= s->nsparse)
		return -ENOENT;
	uint64_t at = s->sparse[slot];
	/* At most DISK_SPARSE entries, each maybe followed by two marks. */
	for (int steps = 0; steps < 3 * DISK_SPARSE + 3 && at < s->size;
	     steps++) {
		uint8_t hdr[DISK_REC_HDR];
		ssize_t got = pread(s->fd, hdr, sizeof(hdr), (off_t)at);
		if (got < 0)
			return -errno;
		if (got != (ssize_t)sizeof(hdr))
			break;
		disk__rec_decode_hdr(hdr, rec);
		if (rec->magic == DISK_REC_ENTRY && rec->index == index) {
			*off = at;
			return 0;
		}
		if ((rec->magic != DISK_REC_ENTRY &&
		     rec->magic != DISK_REC_MARK) ||
		    rec->len > DISK_MAX_ENTRY || rec->index > index)
			break;
		at += disk__rec_size(rec->len);
	}
	log_error("dir=%s segment=%" PRIu64 " index=%" PRIu64
		  ": record not where the index says",
		  d->dir, s->first, index);
	return SHOAL_ECORRUPT;
}

static struct disk_seg *tail(struct raft_disk *d)
{
	return &d->segs[d->nsegs - 1];
}

static int reserve_sparse(struct disk_seg *s, size_t extra)
{
	if (s->nsparse + extra <= s->cap_sparse)
		return 0;
	size_t cap = s->cap_sparse ? s->cap_sparse : 64;
	while (cap < s->nsparse + extra)
		cap *= 2;
	uint64_t *p = shoal_realloc(s->sparse, cap * sizeof(*p));
	if (!p)
		return -ENOMEM;
	s->sparse = p;
	s->cap_sparse = cap;
	return 0;
}

/* Write what @f holds plus a commit mark, then fdatasync. */
static int flush(struct raft_disk *d, struct flush *f)
{
	if (!f->nreq)
		return 0;
	struct disk_seg *s = tail(d);
	uint64_t entries = f->last - (s->last + 1) + 1;
	int rc = reserve_sparse(s, entries / DISK_SPARSE + 2);
	if (rc)
		return rc;
	disk__rec_encode(f->mark, DISK_REC_MARK, f->last, f->last_term, 0, NULL,
			 0);
	int n = 0;
	for (int i = 0; i < f->nreq; i++)
		f->iov[n++] = (struct iovec){f->reqs[i]->buf, f->reqs[i]->len};
	f->iov[n++] = (struct iovec){f->mark, sizeof(f->mark)};
	rc = write_all(d, s->fd, f->iov, n, s->size);
	if (!rc && fdatasync(s->fd) < 0)
		rc = -errno;
	__atomic_add_fetch(&d->fsyncs, 1, __ATOMIC_RELAXED);
	if (rc) {
		if (ftruncate(s->fd, (off_t)s->size) < 0)
			log_error("dir=%s segment=%" PRIu64
				  ": rollback after a failed write failed: %s",
				  d->dir, s->first, shoal_strerror(-errno));
		return rc;
	}
	pthread_mutex_lock(&d->seg_mu);
	uint64_t base = s->size, start = s->size;
	for (int i = 0; i < f->nreq; i++) {
		struct disk_req *r = f->reqs[i];
		for (uint64_t idx = r->first; idx <= r->last; idx++)
			disk__seg_sparse_add(s, idx,
					     base + r->offs[idx - r->first]);
		base += r->len;
	}
	s->last = f->last;
	s->last_term = f->last_term;
	s->size = base + DISK_REC_HDR;
	pthread_mutex_unlock(&d->seg_mu);
	__atomic_add_fetch(&d->bytes, s->size - start, __ATOMIC_RELAXED);
	f->nreq = 0;
	f->bytes = 0;
	return 0;
}

static int segs_reserve(struct raft_disk *d)
{
	if (d->nsegs < d->cap_segs)
		return 0;
	size_t cap = d->cap_segs ? d->cap_segs * 2 : 16;
	struct disk_seg *p = shoal_realloc(d->segs, cap * sizeof(*p));
	if (!p)
		return -ENOMEM;
	pthread_mutex_lock(&d->seg_mu);
	d->segs = p;
	d->cap_segs = cap;
	pthread_mutex_unlock(&d->seg_mu);
	return 0;
}

static int add_segment(struct raft_disk *d, uint64_t first)
{
	struct disk_seg s;
	int rc = segs_reserve(d);
	if (!rc)
		rc = disk__seg_create(d, first, &s);
	if (rc)
		return rc;
	pthread_mutex_lock(&d->seg_mu);
	d->segs[d->nsegs++] = s;
	pthread_mutex_unlock(&d->seg_mu);
	return 0;
}

/* Unlink segment @i (closing it) and drop it from the table. */
static int drop_segment(struct raft_disk *d, size_t i)
{
	char path[4096];
	int rc = disk__seg_path(d, d->segs[i].first, path, sizeof(path));
	if (rc)
		return rc;
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	pthread_mutex_lock(&d->seg_mu);
	disk__seg_free(&d->segs[i]);
	memmove(&d->segs[i], &d->segs[i + 1],
		(d->nsegs - i - 1) * sizeof(d->segs[0]));
	d->nsegs--;
	pthread_mutex_unlock(&d->seg_mu);
	return 0;
}

/*
 * Write bytes [0, @off) of @s and then @mark into a new file @tmp,
 * fdatasync'd; its descriptor into *@out. On failure @tmp is removed.
 */
static int copy_prefix(struct raft_disk *d, const struct disk_seg *s,
		       uint64_t off, uint8_t *mark, const char *tmp, int *out)
{
	uint8_t *buf = shoal_malloc(64 * 1024);
	int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int rc = !buf ? -ENOMEM : fd < 0 ? -errno : 0;
	for (uint64_t at = 0; !rc && at < off;) {
		size_t want = off - at < 64 * 1024 ? off - at : 64 * 1024;
		ssize_t got = pread(s->fd, buf, want, (off_t)at);
		if (got <= 0) {
			rc = got < 0 ? -errno : -EIO;
			break;
		}
		struct iovec iov = {buf, (size_t)got};
		rc = write_all(d, fd, &iov, 1, at);
		at += (uint64_t)got;
	}
	struct iovec iov = {mark, DISK_REC_HDR};
	if (!rc)
		rc = write_all(d, fd, &iov, 1, off);
	if (!rc && fdatasync(fd) < 0)
		rc = -errno;
	shoal_free(buf);
	if (rc && fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	if (!rc)
		*out = fd;
	return rc;
}

/*
 * Drop entries from @t on; the kept prefix gets a fresh commit mark.
 *
 * When @t lies inside the tail segment, entries below @t may share a
 * batch (and so the commit mark after it) with entries from @t: cutting
 * the file in place and then writing the new mark leaves, should the
 * cut reach the disk before the mark, kept entries that no mark covers,
 * which the next open drops although they were acknowledged. So the kept
 * prefix and its mark are written to "<segment>.tmp", synced, and renamed
 * over the segment (then the directory is synced): a crash leaves either
 * the old segment or the new one.
 */
static int do_truncate(struct raft_disk *d, uint64_t t)
{
	int rc = 0;
	bool unlinked = false;
	while (d->nsegs > 1 && tail(d)->first >= t && !rc) {
		rc = drop_segment(d, d->nsegs - 1);
		unlinked = true;
	}
	if (!rc && unlinked)
		rc = disk__fsync_dir(d);
	struct disk_seg *s = tail(d);
	if (rc || t > s->last)
		return rc;
	uint64_t off = DISK_SEG_HDR, prev_off, term = 0;
	struct disk_rec rec;
	if (t > s->first) {
		rc = disk__entry_offset(d, s, t, &off, &rec);
		if (!rc)
			rc = disk__entry_offset(d, s, t - 1, &prev_off, &rec);
		if (rc)
			return rc;
		term = rec.term;
	}
	uint8_t mark[DISK_REC_HDR];
	disk__rec_encode(mark, DISK_REC_MARK, t - 1, term, 0, NULL, 0);
	int fd = -1;
	if (t > s->first) {
		char path[4096], tmp[4096 + 8];
		rc = disk__seg_path(d, s->first, path, sizeof(path));
		if (rc)
			return rc;
		snprintf(tmp, sizeof(tmp), "%s.tmp", path);
		rc = copy_prefix(d, s, off, mark, tmp, &fd);
		if (rc)
			return rc;
		if (rename(tmp, path) < 0) {
			rc = -errno;
			close(fd);
			unlink(tmp);
			return rc;
		}
		rc = disk__fsync_dir(d);
	} else {
		/* Nothing kept here: either state of the cut is whole. */
		if (ftruncate(s->fd, (off_t)off) < 0)
			return -errno;
		if (fdatasync(s->fd) < 0)
			rc = -errno;
	}
	if (rc && fd < 0)
		return rc;
	/* With a renamed file, it is the segment now even if the directory
	 * sync failed (that error is sticky anyway). */
	pthread_mutex_lock(&d->seg_mu);
	if (fd >= 0) {
		close(s->fd);
		s->fd = fd;
	}
	s->last = t - 1;
	s->last_term = term;
	s->size = t > s->first ? off + DISK_REC_HDR : DISK_SEG_HDR;
	size_t keep = t > s->first ? (t - 1 - s->first) / DISK_SPARSE + 1 : 0;
	if (s->nsparse > keep)
		s->nsparse = keep;
	pthread_mutex_unlock(&d->seg_mu);
	return rc;
}

static int do_compact(struct raft_disk *d, struct disk_req *r)
{
	int rc = 0;
	bool unlinked = false;
	while (d->nsegs > 1 && d->segs[0].last <= r->upto && !rc) {
		r->new_base_term = d->segs[0].last_term;
		rc = drop_segment(d, 0);
		unlinked = true;
	}
	if (!rc && unlinked)
		rc = disk__fsync_dir(d);
	r->new_first = d->segs[0].first;
	return rc;
}

static int do_reset(struct raft_disk *d, uint64_t next)
{
	int rc = 0;
	while (d->nsegs && !rc)
		rc = drop_segment(d, d->nsegs - 1);
	if (!rc)
		rc = disk__fsync_dir(d);
	if (!rc)
		rc = add_segment(d, next);
	return rc;
}

/* Queue @r's entries into @f, rolling over to a new segment if full. */
static int add_entries(struct raft_disk *d, struct flush *f, struct disk_req *r)
{
	struct disk_seg *s = tail(d);
	bool has_entries = s->last >= s->first || f->nreq;
	if (has_entries &&
	    s->size + f->bytes + r->len + DISK_REC_HDR > d->opt.segment_bytes) {
		int rc = flush(d, f);
		if (!rc)
			rc = add_segment(d, tail(d)->last + 1);
		if (rc)
			return rc;
	}
	f->reqs[f->nreq++] = r;
	f->bytes += r->len;
	f->last = r->last;
	f->last_term = r->last_term;
	return 0;
}

static int run_req(struct raft_disk *d, struct flush *f, struct disk_req *r)
{
	int rc = 0;
	switch (r->kind) {
	case DISK_REQ_WRITE:
		if (r->truncate_from) {
			rc = flush(d, f);
			if (!rc)
				rc = do_truncate(d, r->truncate_from);
		}
		if (!rc && r->len)
			rc = add_entries(d, f, r);
		break;
	case DISK_REQ_COMPACT:
		rc = flush(d, f);
		if (!rc)
			rc = do_compact(d, r);
		break;
	case DISK_REQ_RESET:
		rc = flush(d, f);
		if (!rc)
			rc = do_reset(d, r->truncate_from);
		break;
	case DISK_REQ_CALL:
		rc = flush(d, f);
		if (!rc)
			r->status = r->fn(r->fn_arg);
		break;
	}
	return rc;
}

static void run_group(struct raft_disk *d, struct list_node *group)
{
	struct flush *f = shoal_calloc(1, sizeof(*f));
	int rc = d->werror ? d->werror : f ? 0 : -ENOMEM;
	struct disk_req *hs = NULL;
	struct list_node *n;
	list_for_each(n, group)
	{
		struct disk_req *r = list_entry(n, struct disk_req, link);
		if (r->has_hs)
			hs = r;
	}
	if (!rc && hs) {
		/* The hard state goes first, before the group's truncations
		 * are durable: its commit hint must not reach into a suffix
		 * they drop, or after a crash the old entries would be taken
		 * for committed ones. */
		struct raft_disk_hard_state h = hs->hs;
		list_for_each(n, group)
		{
			struct disk_req *r =
				list_entry(n, struct disk_req, link);
			if ((r->kind == DISK_REQ_WRITE ||
			     r->kind == DISK_REQ_RESET) &&
			    r->truncate_from && h.commit >= r->truncate_from)
				h.commit = r->truncate_from - 1;
		}
		rc = disk__hs_write(d, &h);
	}
	list_for_each(n, group)
	{
		if (rc)
			break;
		rc = run_req(d, f, list_entry(n, struct disk_req, link));
	}
	if (!rc)
		rc = flush(d, f);
	shoal_free(f);
	if (rc && !d->werror)
		d->werror = rc;
	list_for_each(n, group)
	{
		struct disk_req *r = list_entry(n, struct disk_req, link);
		if (d->werror || r->kind != DISK_REQ_CALL)
			r->status = d->werror;
	}
}

static void *writer_main(void *arg)
{
	struct raft_disk *d = arg;
	struct list_node group;
	pthread_mutex_lock(&d->mu);
	for (;;) {
		while (list_empty(&d->queue) && !d->stop)
			pthread_cond_wait(&d->cv, &d->mu);
		if (list_empty(&d->queue))
			break;
		list_init(&group);
		for (int i = 0; i < MAX_GROUP && !list_empty(&d->queue); i++) {
			struct list_node *n = list_front(&d->queue);
			list_remove(n);
			list_push_back(&group, n);
			d->queued_bytes -=
				list_entry(n, struct disk_req, link)->len;
		}
		pthread_mutex_unlock(&d->mu);
		run_group(d, &group);
		pthread_mutex_lock(&d->mu);
		while (!list_empty(&group)) {
			struct list_node *n = list_front(&group);
			list_remove(n);
			list_push_back(&d->done, n);
		}
		uv_async_send(&d->async);
	}
	d->exited = true;
	pthread_mutex_unlock(&d->mu);
	uv_async_send(&d->async);
	return NULL;
}

int disk__writer_start(struct raft_disk *d)
{
	int rc = pthread_create(&d->thread, NULL, writer_main, d);
	if (rc)
		return -rc;
	d->thread_started = true;
	return 0;
}

void disk__writer_stop(struct raft_disk *d)
{
	if (!d->thread_started)
		return;
	pthread_join(d->thread, NULL);
	d->thread_started = false;
}

int disk__admit(struct raft_disk *d, size_t len)
{
	int rc = 0;
	pthread_mutex_lock(&d->mu);
	if (d->queued_bytes && d->queued_bytes + len > d->opt.queue_bytes)
		rc = -EBUSY;
	pthread_mutex_unlock(&d->mu);
	return rc;
}

void disk__submit(struct raft_disk *d, struct disk_req *r)
{
	pthread_mutex_lock(&d->mu);
	list_push_back(&d->queue, &r->link);
	d->queued_bytes += r->len;
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
}
