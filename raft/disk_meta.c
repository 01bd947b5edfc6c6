/*
 * Hard state and snapshots of the raft disk log.
 *
 * Hard state (term, vote, commit) lives in "hardstate": two 48-byte slots at
 * offsets 0 and 4096 (different sectors), each with a sequence number and
 * a CRC32C. An update goes to the slot not holding the newest value, then
 * fdatasync: a torn update damages only that slot, and open picks the
 * valid slot with the highest sequence, so the change is atomic. Both
 * slots invalid on a file that was once written is corruption. The commit
 * index is a hint: it is written only along with a term or vote change.
 *
 * A snapshot is "snap-<index>-<term>" (20 digits each): a 64-byte header
 * (magic, index, term, sizes, CRC32C of the configuration and of the data,
 * CRC32C of the header), the encoded configuration, then the state
 * machine's data. It is written as "<name>.tmp" in order, in chunks,
 * fdatasync'd, renamed into place, and the directory fsync'd; then older
 * snapshots beyond the kept count are removed. At open, leftover ".tmp"
 * files are removed and the newest snapshot whose header checks out is
 * taken; its data CRC is checked when it is loaded in full.
 */
#define LOG_MODULE "raft-disk"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/bytes.h"
#include "common/crypto.h"
#include "common/error.h"
#include "common/log.h"
#include "raft/disk_crc.h"
#include "raft/disk_internal.h"

#define HS_MAGIC 0x53485348u /* "HSHS" */
#define HS_SLOT_LEN 48
#define HS_SLOT_STRIDE 4096
#define SNAP_MAGIC 0x504e534c414f4853ull /* "SHOALSNP" */
#define SNAP_HDR 64u
#define SNAP_MAX_CONF (64u << 20)

/* ---- hard state ---- */

static bool hs_decode(const uint8_t *p, uint64_t *seq,
		      struct raft_disk_hard_state *hs)
{
	if (get_le32(p) != HS_MAGIC || get_le32(p + 4) != 1 ||
	    get_le32(p + 40) != disk__crc32c(0, p, 40))
		return false;
	*seq = get_le64(p + 8);
	hs->term = get_le64(p + 16);
	hs->vote = get_le64(p + 24);
	hs->commit = get_le64(p + 32);
	return true;
}

static int hs_put(struct raft_disk *d, uint64_t seq,
		  const struct raft_disk_hard_state *hs)
{
	uint8_t p[HS_SLOT_LEN] = {0};
	put_le32(p, HS_MAGIC);
	put_le32(p + 4, 1);
	put_le64(p + 8, seq);
	put_le64(p + 16, hs->term);
	put_le64(p + 24, hs->vote);
	put_le64(p + 32, hs->commit);
	put_le32(p + 40, disk__crc32c(0, p, 40));
	off_t off = (off_t)(seq & 1) * HS_SLOT_STRIDE;
	ssize_t w = pwrite(d->hs_fd, p, sizeof(p), off);
	if (w < 0)
		return -errno;
	if (w != (ssize_t)sizeof(p))
		return -EIO;
	if (fdatasync(d->hs_fd) < 0)
		return -errno;
	d->hs_seq = seq;
	d->hs_disk = *hs;
	return 0;
}

int disk__hs_write(struct raft_disk *d, const struct raft_disk_hard_state *hs)
{
	/* The commit index is only a hint (Raft keeps it volatile): a change
	 * of it alone costs no fsync; it rides along with the next term or
	 * vote change. */
	if (hs->term == d->hs_disk.term && hs->vote == d->hs_disk.vote)
		return 0;
	return hs_put(d, d->hs_seq + 1, hs);
}

int disk__hs_open(struct raft_disk *d)
{
	char path[4096];
	if (snprintf(path, sizeof(path), "%s/hardstate", d->dir) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	d->hs_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (d->hs_fd < 0)
		return -errno;
	uint8_t a[HS_SLOT_LEN] = {0}, b[HS_SLOT_LEN] = {0};
	ssize_t ra = pread(d->hs_fd, a, sizeof(a), 0);
	ssize_t rb = pread(d->hs_fd, b, sizeof(b), HS_SLOT_STRIDE);
	if (ra < 0 || rb < 0)
		return -errno;
	uint64_t sa = 0, sb = 0;
	struct raft_disk_hard_state ha = {0}, hb = {0};
	bool va = hs_decode(a, &sa, &ha), vb = hs_decode(b, &sb, &hb);
	if (va || vb) {
		bool take_a = va && (!vb || sa > sb);
		d->hs = d->hs_disk = take_a ? ha : hb;
		d->hs_seq = take_a ? sa : sb;
		return 0;
	}
	if (rb > 0) {
		log_error("file=%s offset=0: both hard state slots fail their "
			  "checksum; refusing to open (%s)",
			  path, shoal_strerror(SHOAL_ECORRUPT));
		return SHOAL_ECORRUPT;
	}
	/* New, or its very first write (of term 0, no vote: the second slot
	 * is written by the first term change) was torn: term 0, no vote. */
	if (ra > 0)
		log_warn("file=%s: the first hard state write was torn; "
			 "starting from term 0",
			 path);
	d->hs = (struct raft_disk_hard_state){0, 0, 0};
	int rc = hs_put(d, 2, &d->hs);
	return rc ? rc : disk__fsync_dir(d);
}

/* ---- snapshots ---- */

void disk__snap_meta_free(struct raft_disk_snapshot_meta *m)
{
	shoal_free(m->conf);
	m->conf = NULL;
}

static int snap_path(const struct raft_disk *d, uint64_t index, uint64_t term,
		     const char *suffix, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s/snap-%020" PRIu64 "-%020" PRIu64 "%s",
			 d->dir, index, term, suffix);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* How a snapshot's data is stored: its CRC, and whether it is encrypted
 * (header bytes 48..59: the key check, 0 in the clear, then the stream
 * nonce; see disk_seal.h). */
struct snap_data {
	uint32_t crc;
	bool sealed;
	uint32_t check;
	uint8_t nonce[DISK_SNAP_NONCE];
};

/* Can this log read the data described by @sd? 0, -ENOKEY (no key) or
 * SHOAL_ECORRUPT (a different key). */
static int snap_key_ok(const struct raft_disk *d, const struct snap_data *sd)
{
	if (!sd->sealed)
		return 0;
	if (!d->sealed)
		return -ENOKEY;
	return disk__snap_check(d->key, sd->nonce) == sd->check
		       ? 0
		       : SHOAL_ECORRUPT;
}

/* Read and check a snapshot's header and configuration. */
static int snap_read_meta(int fd, struct raft_disk_snapshot_meta *m,
			  struct snap_data *sd)
{
	uint8_t h[SNAP_HDR];
	struct stat st;
	if (pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    fstat(fd, &st) < 0)
		return SHOAL_ECORRUPT;
	if (get_le64(h) != SNAP_MAGIC || get_le32(h + 8) != 1 ||
	    get_le32(h + 60) != disk__crc32c(0, h, 60))
		return SHOAL_ECORRUPT;
	m->index = get_le64(h + 16);
	m->term = get_le64(h + 24);
	m->size = get_le64(h + 32);
	m->conf_len = get_le32(h + 12);
	sd->crc = get_le32(h + 40);
	sd->check = get_le32(h + 48);
	sd->sealed = sd->check != 0;
	memcpy(sd->nonce, h + 52, DISK_SNAP_NONCE);
	if (m->conf_len > SNAP_MAX_CONF ||
	    (uint64_t)st.st_size != SNAP_HDR + m->conf_len + m->size)
		return SHOAL_ECORRUPT;
	m->conf = shoal_malloc(m->conf_len ? m->conf_len : 1);
	if (!m->conf)
		return -ENOMEM;
	if (pread(fd, m->conf, m->conf_len, SNAP_HDR) != (ssize_t)m->conf_len ||
	    disk__crc32c(0, m->conf, m->conf_len) != get_le32(h + 44)) {
		disk__snap_meta_free(m);
		return SHOAL_ECORRUPT;
	}
	return 0;
}

struct snap_name {
	uint64_t index;
	uint64_t term;
};

static int cmp_snap_desc(const void *a, const void *b)
{
	const struct snap_name *x = a, *y = b;
	if (x->index != y->index)
		return x->index > y->index ? -1 : 1;
	return x->term > y->term ? -1 : x->term < y->term;
}

/* Snapshot names, newest first; removes leftover .tmp files. */
static int snap_list(struct raft_disk *d, struct snap_name **out, size_t *n)
{
	DIR *dir = opendir(d->dir);
	if (!dir)
		return -errno;
	struct snap_name *v = NULL;
	size_t len = 0, cap = 0;
	struct dirent *e;
	int rc = 0;
	while ((e = readdir(dir)) && !rc) {
		struct snap_name s;
		char tail[8] = "";
		if (strncmp(e->d_name, "snap-", 5))
			continue;
		if (sscanf(e->d_name, "snap-%20" SCNu64 "-%20" SCNu64 "%7s",
			   &s.index, &s.term, tail) < 2)
			continue;
		if (!strcmp(tail, ".tmp")) {
			unlinkat(d->dirfd, e->d_name, 0);
			continue;
		}
		if (tail[0] || strlen(e->d_name) != 46)
			continue;
		if (len == cap) {
			cap = cap ? cap * 2 : 8;
			struct snap_name *p =
				shoal_realloc(v, cap * sizeof(*p));
			if (!p) {
				rc = -ENOMEM;
				break;
			}
			v = p;
		}
		v[len++] = s;
	}
	closedir(dir);
	if (rc) {
		shoal_free(v);
		return rc;
	}
	if (len)
		qsort(v, len, sizeof(*v), cmp_snap_desc);
	*out = v;
	*n = len;
	return 0;
}

int disk__snap_scan(struct raft_disk *d)
{
	struct snap_name *v;
	size_t n;
	int rc = snap_list(d, &v, &n);
	if (rc)
		return rc;
	for (size_t i = 0; i < n && !d->has_snap; i++) {
		char path[4096];
		struct snap_data crc;
		rc = snap_path(d, v[i].index, v[i].term, "", path,
			       sizeof(path));
		int fd = rc ? -1 : open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		struct raft_disk_snapshot_meta m = {0};
		rc = snap_read_meta(fd, &m, &crc);
		close(fd);
		if (rc == -ENOMEM)
			break;
		if (rc || m.index != v[i].index || m.term != v[i].term) {
			disk__snap_meta_free(&m);
			log_warn(
				"file=%s: snapshot header is damaged; using an "
				"older snapshot if there is one",
				path);
			rc = 0;
			continue;
		}
		d->snap = m;
		d->has_snap = true;
	}
	shoal_free(v);
	return rc == -ENOMEM ? rc : 0;
}

/* Remove snapshots beyond the newest @keep. */
static void snap_prune(struct raft_disk *d)
{
	struct snap_name *v;
	size_t n;
	if (snap_list(d, &v, &n))
		return;
	for (size_t i = d->opt.snapshots_kept; i < n; i++) {
		char path[4096];
		if (!snap_path(d, v[i].index, v[i].term, "", path,
			       sizeof(path)))
			unlink(path);
	}
	shoal_free(v);
}

struct raft_disk_snap_writer {
	struct raft_disk *d;
	struct raft_disk_snapshot_meta m;
	int fd;
	uint64_t off;
	uint32_t crc;
	uint8_t nonce[DISK_SNAP_NONCE];
	char tmp[4096];
};

int raft_disk_snapshot_begin(struct raft_disk *d,
			     const struct raft_disk_snapshot_meta *m,
			     struct raft_disk_snap_writer **out)
{
	if (!m->index || !m->term || m->conf_len > SNAP_MAX_CONF ||
	    (m->conf_len && !m->conf))
		return -EINVAL;
	struct raft_disk_snap_writer *w = shoal_calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->d = d;
	w->m = *m;
	w->m.size = 0;
	w->off = SNAP_HDR + m->conf_len;
	if (d->sealed)
		shoal_random(w->nonce, sizeof(w->nonce));
	int rc =
		snap_path(d, m->index, m->term, ".tmp", w->tmp, sizeof(w->tmp));
	if (rc)
		goto err_free;
	w->fd = open(w->tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (w->fd < 0) {
		rc = -errno;
		goto err_free;
	}
	if (m->conf_len &&
	    pwrite(w->fd, m->conf, m->conf_len, SNAP_HDR) != m->conf_len) {
		rc = errno ? -errno : -EIO;
		goto err_unlink;
	}
	w->m.conf = NULL;
	*out = w;
	return 0;
err_unlink:
	close(w->fd);
	unlink(w->tmp);
err_free:
	shoal_free(w);
	return rc;
}

static int pwrite_all(int fd, const uint8_t *c, size_t len, uint64_t off)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n =
			pwrite(fd, c + done, len - done, (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (size_t)n;
	}
	return 0;
}

/* Encrypt and write @len bytes in pieces through a bounded buffer. */
static int write_sealed(struct raft_disk_snap_writer *w, const uint8_t *p,
			size_t len)
{
	uint8_t buf[16384];
	int rc = 0;
	for (size_t done = 0; !rc && done < len;) {
		size_t k = len - done < sizeof(buf) ? len - done : sizeof(buf);
		memcpy(buf, p + done, k);
		disk__snap_xor(w->d->key, w->nonce, w->m.index, w->m.term,
			       w->m.size + done, buf, k);
		rc = pwrite_all(w->fd, buf, k, w->off + done);
		w->crc = disk__crc32c(w->crc, buf, k);
		done += k;
	}
	shoal_wipe(buf, sizeof(buf));
	return rc;
}

int raft_disk_snapshot_chunk(struct raft_disk_snap_writer *w, const void *p,
			     size_t len)
{
	int rc;
	if (w->d->sealed) {
		rc = write_sealed(w, p, len);
	} else {
		rc = pwrite_all(w->fd, p, len, w->off);
		w->crc = disk__crc32c(w->crc, p, len);
	}
	if (rc)
		return rc;
	w->off += len;
	w->m.size += len;
	return 0;
}

void raft_disk_snapshot_abort(struct raft_disk_snap_writer *w)
{
	close(w->fd);
	unlink(w->tmp);
	shoal_free(w);
}

static int snap_write_header(struct raft_disk_snap_writer *w, uint32_t conf_crc)
{
	uint8_t h[SNAP_HDR] = {0};
	put_le64(h, SNAP_MAGIC);
	put_le32(h + 8, 1);
	put_le32(h + 12, w->m.conf_len);
	put_le64(h + 16, w->m.index);
	put_le64(h + 24, w->m.term);
	put_le64(h + 32, w->m.size);
	put_le32(h + 40, w->crc);
	put_le32(h + 44, conf_crc);
	if (w->d->sealed) {
		put_le32(h + 48, disk__snap_check(w->d->key, w->nonce));
		memcpy(h + 52, w->nonce, DISK_SNAP_NONCE);
	}
	put_le32(h + 60, disk__crc32c(0, h, 60));
	if (pwrite(w->fd, h, sizeof(h), 0) != (ssize_t)sizeof(h))
		return errno ? -errno : -EIO;
	return fdatasync(w->fd) < 0 ? -errno : 0;
}

int raft_disk_snapshot_commit(struct raft_disk_snap_writer *w)
{
	struct raft_disk *d = w->d;
	char path[4096];
	struct raft_disk_snapshot_meta m = {0};
	struct snap_data crc;
	int rc = snap_path(d, w->m.index, w->m.term, "", path, sizeof(path));
	uint8_t *conf = NULL;
	if (!rc && w->m.conf_len) {
		conf = shoal_malloc(w->m.conf_len);
		rc = !conf ? -ENOMEM
		     : pread(w->fd, conf, w->m.conf_len, SNAP_HDR) ==
				     (ssize_t)w->m.conf_len
			     ? 0
			     : -EIO;
	}
	if (!rc)
		rc = snap_write_header(w, disk__crc32c(0, conf, w->m.conf_len));
	shoal_free(conf);
	if (!rc && rename(w->tmp, path) < 0)
		rc = -errno;
	if (!rc)
		rc = disk__fsync_dir(d);
	if (!rc)
		rc = snap_read_meta(w->fd, &m, &crc);
	if (rc) {
		raft_disk_snapshot_abort(w);
		return rc;
	}
	close(w->fd);
	shoal_free(w);
	pthread_mutex_lock(&d->seg_mu);
	/* Two writers (a save and an install) may finish out of order. */
	if (!d->has_snap || m.index >= d->snap.index) {
		disk__snap_meta_free(&d->snap);
		d->snap = m;
		d->has_snap = true;
	} else {
		disk__snap_meta_free(&m);
	}
	pthread_mutex_unlock(&d->seg_mu);
	snap_prune(d);
	return 0;
}

int raft_disk_snapshot_latest(struct raft_disk *d,
			      struct raft_disk_snapshot_meta *out)
{
	int rc = 0;
	pthread_mutex_lock(&d->seg_mu);
	if (!d->has_snap) {
		rc = -ENOENT;
		goto out_unlock;
	}
	*out = d->snap;
	out->conf = shoal_memdup(d->snap.conf,
				 d->snap.conf_len ? d->snap.conf_len : 1);
	if (!out->conf)
		rc = -ENOMEM;
out_unlock:
	pthread_mutex_unlock(&d->seg_mu);
	return rc;
}

/* Open the latest snapshot; fills its metadata (conf not copied). */
static int snap_open_latest(struct raft_disk *d,
			    struct raft_disk_snapshot_meta *m)
{
	char path[4096];
	int rc = 0;
	pthread_mutex_lock(&d->seg_mu);
	if (!d->has_snap)
		rc = -ENOENT;
	else
		*m = d->snap;
	pthread_mutex_unlock(&d->seg_mu);
	m->conf = NULL;
	if (!rc)
		rc = snap_path(d, m->index, m->term, "", path, sizeof(path));
	if (rc)
		return rc;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

ssize_t raft_disk_snapshot_read(struct raft_disk *d, uint64_t off, void *buf,
				size_t len)
{
	struct raft_disk_snapshot_meta m;
	int fd = snap_open_latest(d, &m);
	if (fd < 0)
		return fd;
	struct raft_disk_snapshot_meta full = {0};
	struct snap_data sd;
	ssize_t n = snap_read_meta(fd, &full, &sd);
	disk__snap_meta_free(&full);
	if (!n)
		n = snap_key_ok(d, &sd);
	if (n)
		goto out_close;
	if (off >= m.size)
		len = 0;
	else if (len > m.size - off)
		len = (size_t)(m.size - off);
	n = len ? pread(fd, buf, len, (off_t)(SNAP_HDR + m.conf_len + off)) : 0;
	if (n < 0)
		n = -errno;
	else if (n > 0 && sd.sealed)
		disk__snap_xor(d->key, sd.nonce, m.index, m.term, off, buf,
			       (size_t)n);
out_close:
	close(fd);
	return n;
}

/* The data of the open snapshot @fd described by @m, CRC checked. */
static int snap_read_data(struct raft_disk *d, int fd,
			  const struct raft_disk_snapshot_meta *m,
			  const struct snap_data *sd, void **data)
{
	int rc = snap_key_ok(d, sd);
	if (rc)
		return rc;
	uint8_t *p = shoal_malloc(m->size ? m->size : 1);
	if (!p)
		return -ENOMEM;
	ssize_t n = pread(fd, p, m->size, SNAP_HDR + m->conf_len);
	if (n == (ssize_t)m->size && disk__crc32c(0, p, m->size) == sd->crc) {
		if (sd->sealed)
			disk__snap_xor(d->key, sd->nonce, m->index, m->term, 0,
				       p, m->size);
		*data = p;
		return 0;
	}
	log_error("dir=%s snapshot=%" PRIu64 "-%" PRIu64
		  ": data fails its checksum",
		  d->dir, m->index, m->term);
	shoal_free(p);
	return n < 0 ? -errno : SHOAL_ECORRUPT;
}

int raft_disk_snapshot_load(struct raft_disk *d,
			    struct raft_disk_snapshot_meta *out, void **data,
			    size_t *len)
{
	int fd = snap_open_latest(d, out);
	if (fd < 0)
		return fd;
	struct snap_data sd;
	int rc = snap_read_meta(fd, out, &sd);
	if (!rc) {
		rc = snap_read_data(d, fd, out, &sd, data);
		if (rc)
			disk__snap_meta_free(out);
		else
			*len = out->size;
	}
	close(fd);
	return rc;
}

/* ---- whole-snapshot save on a work thread ---- */

struct snap_save {
	uv_work_t work;
	struct raft_disk *d;
	struct raft_disk_snapshot_meta m;
	const void *data;
	size_t len;
	int status;
	raft_disk_cb *cb;
	void *arg;
};

static void save_work(uv_work_t *req)
{
	struct snap_save *s = req->data;
	struct raft_disk_snap_writer *w;
	s->status = raft_disk_snapshot_begin(s->d, &s->m, &w);
	if (s->status)
		return;
	const uint8_t *p = s->data;
	for (size_t off = 0; off < s->len && !s->status; off += 1 << 20) {
		size_t n = s->len - off < (1u << 20) ? s->len - off : 1u << 20;
		s->status = raft_disk_snapshot_chunk(w, p + off, n);
	}
	if (s->status)
		raft_disk_snapshot_abort(w);
	else
		s->status = raft_disk_snapshot_commit(w);
}

static void save_done(uv_work_t *req, int status)
{
	struct snap_save *s = req->data;
	s->cb(s->arg, status ? status : s->status);
	shoal_free(s);
}

int raft_disk_snapshot_save(struct raft_disk *d,
			    const struct raft_disk_snapshot_meta *m,
			    const void *data, size_t len, raft_disk_cb *cb,
			    void *arg)
{
	struct snap_save *s = shoal_calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	*s = (struct snap_save){.d = d,
				.m = *m,
				.data = data,
				.len = len,
				.cb = cb,
				.arg = arg};
	s->work.data = s;
	int rc = uv_queue_work(d->loop, &s->work, save_work, save_done);
	if (rc)
		shoal_free(s);
	return rc;
}
