/*
 * Opening the disk log's segments: each segment is mapped once and read
 * sequentially; every record's CRC32C is checked and a sparse index (one
 * offset per DISK_SPARSE entries) is built, so a 1 GiB log costs a few
 * megabytes of memory and opens at the speed of a sequential read plus the
 * hardware CRC. The decision rule for damage:
 *   - in the last segment, after its last commit mark, with no valid mark
 *     beyond it: a torn or unsynced tail that was never acknowledged; the
 *     file is cut back to the mark and the reason logged (warn);
 *   - anywhere else, or with a valid mark beyond it: corruption of the
 *     acknowledged log; open fails with SHOAL_ECORRUPT naming the file and
 *     offset, and nothing on disk is touched.
 * Segments must follow each other without gaps, and the first must start
 * no later than right after the newest snapshot.
 */
#define LOG_MODULE "raft-disk"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/log.h"
#include "raft/disk_internal.h"

static int sparse_cb(void *arg, uint64_t index, uint64_t term, uint64_t off)
{
	return disk__seg_sparse_add(arg, index, off);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The first indexes of every "seg-N" file, sorted; owned array. */
static int list_segments(struct raft_disk *d, uint64_t **out, size_t *n)
{
	DIR *dir = opendir(d->dir);
	if (!dir)
		return -errno;
	uint64_t *v = NULL;
	size_t len = 0, cap = 0;
	struct dirent *e;
	int rc = 0;
	while ((e = readdir(dir))) {
		char *end;
		if (!strncmp(e->d_name, "seg-", 4) && strlen(e->d_name) == 28 &&
		    !strcmp(e->d_name + 24, ".tmp")) {
			/* A truncation's rewrite that a crash interrupted:
			 * the segment itself is still whole. */
			unlinkat(d->dirfd, e->d_name, 0);
			continue;
		}
		if (strncmp(e->d_name, "seg-", 4) || strlen(e->d_name) != 24)
			continue;
		uint64_t first = strtoull(e->d_name + 4, &end, 10);
		if (*end || first == 0)
			continue;
		if (len == cap) {
			cap = cap ? cap * 2 : 16;
			uint64_t *p = shoal_realloc(v, cap * sizeof(*v));
			if (!p) {
				rc = -ENOMEM;
				break;
			}
			v = p;
		}
		v[len++] = first;
	}
	closedir(dir);
	if (rc) {
		shoal_free(v);
		return rc;
	}
	if (len)
		qsort(v, len, sizeof(*v), cmp_u64);
	*out = v;
	*n = len;
	return 0;
}

static int segs_push(struct raft_disk *d, const struct disk_seg *s)
{
	if (d->nsegs == d->cap_segs) {
		size_t cap = d->cap_segs ? d->cap_segs * 2 : 16;
		struct disk_seg *p = shoal_realloc(d->segs, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		d->segs = p;
		d->cap_segs = cap;
	}
	d->segs[d->nsegs++] = *s;
	return 0;
}

/* Cut the last segment's unacknowledged tail back to its last mark. */
static int cut_tail(struct raft_disk *d, struct disk_seg *seg,
		    const struct disk_scan *sc, const char *path)
{
	uint64_t dropped =
		sc->last > sc->mark_last ? sc->last - sc->mark_last : 0;
	if (sc->stop != DISK_STOP_NONE)
		log_warn("file=%s offset=%" PRIu64 ": %s after the last commit "
			 "mark (index %" PRIu64 "); truncating the tail, which "
			 "was never acknowledged (%" PRIu64 " whole entries)",
			 path, sc->stop_off, disk__stop_text(sc->stop),
			 sc->mark_last, dropped);
	else
		log_warn("file=%s offset=%" PRIu64 ": %" PRIu64 " entries "
			 "after the last commit mark (index %" PRIu64 ") were "
			 "never synced nor acknowledged; truncating them",
			 path, sc->mark_end, dropped, sc->mark_last);
	if (sc->mark_end < DISK_SEG_HDR) {
		if (unlink(path) < 0)
			return -errno;
		return 1;
	}
	if (ftruncate(seg->fd, (off_t)sc->mark_end) < 0 ||
	    fdatasync(seg->fd) < 0)
		return -errno;
	size_t keep = seg->last >= seg->first
			      ? (seg->last - seg->first) / DISK_SPARSE + 1
			      : 0;
	if (seg->nsparse > keep)
		seg->nsparse = keep;
	return 0;
}

static int corrupt(const char *path, uint64_t off, const char *what)
{
	log_error("file=%s offset=%" PRIu64 ": %s inside the acknowledged log; "
		  "refusing to open (%s)",
		  path, off, what, shoal_strerror(SHOAL_ECORRUPT));
	return SHOAL_ECORRUPT;
}

/* Map the segment open in @seg->fd and scan it. */
static int scan_segment(struct disk_seg *seg, struct disk_scan *sc)
{
	struct stat st;
	if (fstat(seg->fd, &st) < 0)
		return -errno;
	uint64_t size = (uint64_t)st.st_size;
	void *map = NULL;
	if (size) {
		map = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE,
			   seg->fd, 0);
		if (map == MAP_FAILED)
			return -errno;
		madvise(map, size, MADV_SEQUENTIAL);
	}
	int rc = disk__scan(map ? map : (const uint8_t *)"", size, seg->first,
			    sc, sparse_cb, seg);
	if (map)
		munmap(map, size);
	return rc;
}

/* Decide what the scan means: 0 keep, 1 torn stub removed, or an error. */
static int judge_segment(struct raft_disk *d, struct disk_seg *seg,
			 const struct disk_scan *sc, bool is_last,
			 const char *path)
{
	if (d->nsegs && seg->first != d->segs[d->nsegs - 1].last + 1)
		return corrupt(path, 0,
			       "segment does not follow the one before");
	bool damaged = sc->stop != DISK_STOP_NONE;
	bool unmarked = sc->valid_end > sc->mark_end;
	if (damaged && sc->mark_after_stop)
		return corrupt(path, sc->stop_off, disk__stop_text(sc->stop));
	if ((damaged || unmarked) && !is_last)
		return corrupt(path, damaged ? sc->stop_off : sc->mark_end,
			       damaged ? disk__stop_text(sc->stop)
				       : "unmarked entries");
	seg->last = sc->mark_last;
	seg->last_term = sc->mark_term;
	seg->size = sc->mark_end;
	if (damaged || unmarked)
		return cut_tail(d, seg, sc, path);
	return 0;
}

/* Scan one segment file; adds it to d->segs unless it was a torn stub. */
static int load_segment(struct raft_disk *d, uint64_t first, bool is_last)
{
	char path[4096];
	struct disk_seg seg = {.first = first, .fd = -1};
	struct disk_scan sc;
	int rc = disk__seg_path(d, first, path, sizeof(path));
	if (rc)
		return rc;
	seg.fd = open(path, O_RDWR | O_CLOEXEC);
	if (seg.fd < 0)
		return -errno;
	rc = scan_segment(&seg, &sc);
	if (!rc)
		rc = judge_segment(d, &seg, &sc, is_last, path);
	if (rc == 1) {
		disk__seg_free(&seg);
		return disk__fsync_dir(d);
	}
	if (!rc)
		rc = segs_push(d, &seg);
	if (rc)
		disk__seg_free(&seg);
	return rc;
}

int disk__load_segments(struct raft_disk *d)
{
	uint64_t *firsts = NULL;
	size_t n = 0;
	int rc = list_segments(d, &firsts, &n);
	if (rc)
		return rc;
	for (size_t i = 0; i < n && !rc; i++)
		rc = load_segment(d, firsts[i], i + 1 == n);
	shoal_free(firsts);
	if (rc)
		return rc;
	uint64_t base = d->has_snap ? d->snap.index : 0;
	if (d->nsegs && d->segs[0].first > base + 1) {
		char path[4096];
		disk__seg_path(d, d->segs[0].first, path, sizeof(path));
		return corrupt(path, 0,
			       "entries missing between the snapshot "
			       "and the first segment");
	}
	if (!d->nsegs) {
		struct disk_seg seg;
		rc = disk__seg_create(d, base + 1, &seg);
		if (rc)
			return rc;
		rc = segs_push(d, &seg);
		if (rc) {
			disk__seg_free(&seg);
			return rc;
		}
	}
	return 0;
}
