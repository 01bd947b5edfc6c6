/*
 * Unit tests of the raft disk log (raft/disk.h): durability across reopen,
 * group commit, torn and unsynced tails cut with a logged reason,
 * corruption inside the acknowledged log refused with SHOAL_ECORRUPT,
 * a full disk reported without damage, hard state, suffix truncation,
 * compaction, the memory window and snapshots. Each test works in its own
 * temporary directory, removed afterwards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/log.h"
#include "raft/disk.h"
#include "raft/disk_format.h"

struct fixture {
	char dir[64];
	uv_loop_t loop;
	char logs[8192];
};

static void capture(enum log_level level, const char *module, const char *msg,
		    void *arg)
{
	struct fixture *f = arg;
	size_t len = strlen(f->logs);
	snprintf(f->logs + len, sizeof(f->logs) - len, "%s\n", msg);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	strcpy(f->dir, "/tmp/shoal-raft-disk-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(uv_loop_init(&f->loop), 0);
	log_set_sink(capture, f);
	*state = f;
	return 0;
}

static int rm_one(const char *p, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	return remove(p);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	log_set_sink(NULL, NULL);
	/* A failed test may leave a log open: don't hang on it. */
	for (int i = 0; i < 100 && uv_run(&f->loop, UV_RUN_NOWAIT); i++)
		usleep(1000);
	uv_loop_close(&f->loop);
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static struct raft_disk *open_opts(struct fixture *f,
				   struct raft_disk_options *o)
{
	struct raft_disk *d = NULL;
	o->dir = f->dir;
	assert_int_equal(raft_disk_open(&f->loop, o, &d), 0);
	return d;
}

static struct raft_disk *open_log(struct fixture *f)
{
	struct raft_disk_options o = {0};
	return open_opts(f, &o);
}

static int try_open(struct fixture *f)
{
	struct raft_disk_options o = {.dir = f->dir};
	struct raft_disk *d = NULL;
	int rc = raft_disk_open(&f->loop, &o, &d);
	if (!rc) {
		raft_disk_close(d, NULL, NULL);
		uv_run(&f->loop, UV_RUN_DEFAULT);
	}
	return rc;
}

static void close_log(struct fixture *f, struct raft_disk *d)
{
	raft_disk_close(d, NULL, NULL);
	uv_run(&f->loop, UV_RUN_DEFAULT);
}

struct done {
	int calls;
	int status;
};

static void on_done(void *arg, int status)
{
	struct done *dn = arg;
	dn->calls++;
	dn->status = status;
}

static void run_until(struct fixture *f, struct done *dn, int calls)
{
	while (dn->calls < calls)
		uv_run(&f->loop, UV_RUN_ONCE);
}

/* Payload of entry @i: deterministic, varying length (0..300 bytes). */
static uint32_t payload(uint64_t i, uint8_t *buf)
{
	uint32_t len = (uint32_t)((i * 37) % 301);
	for (uint32_t k = 0; k < len; k++)
		buf[k] = (uint8_t)(i * 131 + k);
	return len;
}

/* Queue entries [from, to] with term @term as one write; no waiting. */
static int submit(struct raft_disk *d, uint64_t from, uint64_t to,
		  uint64_t term, uint64_t truncate, struct done *dn)
{
	size_t n = to >= from ? to - from + 1 : 0;
	struct raft_disk_entry *e = calloc(n ? n : 1, sizeof(*e));
	uint8_t(*bufs)[301] = calloc(n ? n : 1, 301);
	for (size_t i = 0; i < n; i++) {
		e[i].index = from + i;
		e[i].term = term;
		e[i].type = 1;
		e[i].len = payload(from + i, bufs[i]);
		e[i].data = bufs[i];
	}
	struct raft_disk_write w = {
		.entries = e, .n = n, .truncate_from = truncate};
	int rc = raft_disk_write(d, &w, on_done, dn);
	free(e);
	free(bufs);
	return rc;
}

static void append(struct fixture *f, struct raft_disk *d, uint64_t from,
		   uint64_t to, uint64_t term)
{
	struct done dn = {0};
	assert_int_equal(submit(d, from, to, term, 0, &dn), 0);
	run_until(f, &dn, 1);
	assert_int_equal(dn.status, 0);
}

static void check_entry(struct raft_disk *d, uint64_t i, uint64_t term)
{
	struct raft_disk_entry e;
	uint8_t want[301];
	uint32_t len = payload(i, want);
	assert_int_equal(raft_disk_read(d, i, &e), 0);
	assert_int_equal(e.index, i);
	assert_int_equal(e.term, term);
	assert_int_equal(e.type, 1);
	assert_int_equal(e.len, len);
	if (len)
		assert_memory_equal(e.data, want, len);
	shoal_free(e.data);
}

static void check_range(struct raft_disk *d, uint64_t first, uint64_t last)
{
	struct raft_disk_state st;
	raft_disk_state(d, &st);
	assert_int_equal(st.first_index, first);
	assert_int_equal(st.last_index, last);
}

static void seg_file(struct fixture *f, uint64_t first, char *out)
{
	sprintf(out, "%s/seg-%020" PRIu64, f->dir, first);
}

static off_t file_size(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

/* ---- tests ---- */

static void acknowledged_entries_survive_reopen(void **state)
{
	struct fixture *f = *state;
	struct raft_disk *d = open_log(f);
	check_range(d, 1, 0);
	append(f, d, 1, 10, 1);
	append(f, d, 11, 100, 2);
	close_log(f, d);
	d = open_log(f);
	check_range(d, 1, 100);
	for (uint64_t i = 1; i <= 100; i++)
		check_entry(d, i, i <= 10 ? 1 : 2);
	struct raft_disk_state st;
	raft_disk_state(d, &st);
	assert_int_equal(st.last_term, 2);
	close_log(f, d);
	assert_string_equal(f->logs, "");
}

static void queued_writes_share_one_fsync(void **state)
{
	struct fixture *f = *state;
	struct raft_disk *d = open_log(f);
	struct done dn = {0};
	for (uint64_t i = 1; i <= 200; i++)
		assert_int_equal(submit(d, i, i, 1, 0, &dn), 0);
	run_until(f, &dn, 200);
	assert_int_equal(dn.status, 0);
	struct raft_disk_stats s;
	raft_disk_stats(d, &s);
	assert_int_equal(s.writes, 200);
	assert_true(s.fsyncs < 100);
	close_log(f, d);
	d = open_log(f);
	check_range(d, 1, 200);
	close_log(f, d);
}

static void torn_tail_is_truncated_with_a_logged_reason(void **state)
{
	struct fixture *f = *state;
	struct raft_disk *d = open_log(f);
	append(f, d, 1, 50, 1);
	append(f, d, 51, 60, 1);
	close_log(f, d);
	char path[128];
	seg_file(f, 1, path);
	/* Cut the second batch in the middle of its last entry. */
	off_t size = file_size(path);
	assert_int_equal(truncate(path, size - DISK_REC_HDR - 40), 0);
	d = open_log(f);
	check_range(d, 1, 50);
	check_entry(d, 50, 1);
	assert_non_null(strstr(f->logs, "never acknowledged"));
	assert_non_null(strstr(f->logs, "record cut short"));
	/* The cut tail is gone from disk: the log appends after it. */
	append(f, d, 51, 52, 2);
	close_log(f, d);
	f->logs[0] = 0;
	d = open_log(f);
	check_range(d, 1, 52);
	check_entry(d, 52, 2);
	close_log(f, d);
	assert_string_equal(f->logs, "");
}

static void
flipped_bit_in_acknowledged_log_is_reported_as_corruption(void **state)
{
	struct fixture *f = *state;
	struct raft_disk *d = open_log(f);
	for (uint64_t i = 1; i <= 100; i += 10)
		append(f, d, i, i + 9, 1);
	close_log(f, d);
	char path[128];
	seg_file(f, 1, path);
	off_t size = file_size(path);
	int fd = open(path, O_RDWR);
	uint8_t b;
	off_t at = size / 2;
	assert_int_equal(pread(fd, &b, 1, at), 1);
	b ^= 0x10;
	assert_int_equal(pwrite(fd, &b, 1, at), 1);
	close(fd);
	assert_int_equal(try_open(f), SHOAL_ECORRUPT);
	assert_non_null(strstr(f->logs, path));
	assert_non_null(strstr(f->logs, "inside the acknowledged log"));
	assert_non_null(strstr(f->logs, "offset="));
	/* Nothing was cut: the damaged file is left for inspection. */
	assert_int_equal(file_size(path), size);
}

static void
unsynced_batch_without_commit_mark_is_dropped_at_reopen(void **state)
{
	struct fixture *f = *state;
	struct raft_disk *d = open_log(f);
	append(f, d, 1, 5, 1);
	close_log(f, d);
	/* A crash between write and fsync: records landed, the mark not. */
	char path[128];
	seg_file(f, 1, path);
	int fd = open(path, O_WRONLY | O_APPEND);
	for (uint64_t i = 6; i <= 8; i++) {
		uint8_t rec[DISK_REC_HDR + 8];
		disk__rec_encode(rec, DISK_REC_ENTRY, i, 1, 1, "abcdefgh", 8);
		assert_int_equal(write(fd, rec, sizeof(rec)), sizeof(rec));
	}
	close(fd);
	d = open_log(f);
	check_range(d, 1, 5);
	assert_non_null(
		strstr(f->logs, "3 entries after the last commit mark"));
	close_log(f, d);
}

static int enospc_after;
static ssize_t full_disk(int fd, const struct iovec *iov, int n, off_t off,
			 void *arg)
{
	if (enospc_after-- > 0)
		return pwritev(fd, iov, n, off);
	/* Half of what was asked lands, then the disk is full. */
	size_t want = 0;
	for (int i = 0; i < n; i++)
		want += iov[i].iov_len;
	if (enospc_after == -1 && want > 64) {
		ssize_t w = pwrite(fd, iov[0].iov_base,
				   iov[0].iov_len < want / 2 ? iov[0].iov_len
							     : want / 2,
				   off);
		if (w > 0)
			return w;
	}
	errno = ENOSPC;
	return -1;
}

static void full_disk_reports_enospc_and_leaves_the_log_intact(void **state)
{
	struct fixture *f = *state;
	struct raft_disk_options o = {.pwritev_hook = full_disk};
	enospc_after = 3;
	struct raft_disk *d = open_opts(f, &o);
	append(f, d, 1, 10, 1);
	append(f, d, 11, 20, 1);
	struct done dn = {0};
	assert_int_equal(submit(d, 21, 40, 1, 0, &dn), 0);
	run_until(f, &dn, 1);
	assert_int_equal(dn.status, -ENOSPC);
	assert_non_null(strstr(f->logs, "No space left on device"));
	/* Sticky: the node must stop; later writes get the same error. */
	assert_int_equal(submit(d, 21, 21, 1, 0, &dn), -ENOSPC);
	struct raft_disk_state st;
	raft_disk_state(d, &st);
	assert_int_equal(st.error, -ENOSPC);
	close_log(f, d);
	f->logs[0] = 0;
	d = open_log(f);
	check_range(d, 1, 20);
	for (uint64_t i = 1; i <= 20; i++)
		check_entry(d, i, 1);
	close_log(f, d);
	/* Rolled back at failure time: open found nothing to cut. */
	assert_string_equal(f->logs, "");
}

/* Writes into a 256 KiB tmpfs until it is full, in a child process with a
 * private mount namespace; exit status 0 means every check held. */
static int tmpfs_child(const char *dir)
{
	if (unshare(CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("shoal-test", dir, "tmpfs", 0, "size=256k") < 0)
		return 77;
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct raft_disk_options o = {.dir = dir, .segment_bytes = 64 << 10};
	struct raft_disk *d;
	if (raft_disk_open(&loop, &o, &d))
		return 1;
	uint64_t next = 1, acked = 0;
	struct done dn = {0};
	for (int round = 0; round < 10000 && !dn.status; round++) {
		int calls = dn.calls;
		if (submit(d, next, next + 9, 1, 0, &dn))
			return 2;
		while (dn.calls == calls)
			uv_run(&loop, UV_RUN_ONCE);
		if (!dn.status)
			acked = next + 9;
		next += 10;
	}
	if (dn.status != -ENOSPC || acked == 0)
		return 3;
	raft_disk_close(d, NULL, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	if (raft_disk_open(&loop, &o, &d))
		return 4;
	struct raft_disk_state st;
	raft_disk_state(d, &st);
	if (st.last_index != acked)
		return 5;
	for (uint64_t i = 1; i <= acked; i++) {
		struct raft_disk_entry e;
		uint8_t want[301];
		if (raft_disk_read(d, i, &e) || e.len != payload(i, want) ||
		    (e.len && memcmp(e.data, want, e.len)))
			return 6;
		shoal_free(e.data);
	}
	raft_disk_close(d, NULL, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	umount(dir);
	return 0;
}

static void real_full_tmpfs_reports_enospc_and_keeps_acked_entries(void **state)
{
	struct fixture *f = *state;
	if (geteuid() != 0)
		skip();
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		log_set_sink(NULL, NULL);
		log_set_level(LOG_LEVEL_FATAL);
		_exit(tmpfs_child(f->dir));
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* A crash at any byte of a batch: the hook writes a prefix of the batch,
 * copies the directory as the crash left it, then fails the write. */
struct crash {
	int call;      /* which pwritev call crashes */
	size_t cut;    /* bytes of it that reach the disk */
	char src[128]; /* the log directory */
	char img[128]; /* the copy: the disk after the crash */
	size_t batch;  /* bytes the crashing call wanted */
};

static void copy_dir(const char *from, const char *to)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -a '%s' '%s'", to, from,
		 to);
	assert_int_equal(system(cmd), 0);
}

static ssize_t crashing(int fd, const struct iovec *iov, int n, off_t off,
			void *arg)
{
	struct crash *c = arg;
	if (c->call-- != 0)
		return pwritev(fd, iov, n, off);
	size_t left = c->cut, done = 0;
	c->batch = 0;
	for (int i = 0; i < n; i++)
		c->batch += iov[i].iov_len;
	for (int i = 0; i < n && left; i++) {
		size_t k = iov[i].iov_len < left ? iov[i].iov_len : left;
		assert_int_equal(
			pwrite(fd, iov[i].iov_base, k, off + (off_t)done),
			(ssize_t)k);
		done += k;
		left -= k;
	}
	copy_dir(c->src, c->img);
	errno = EIO;
	return -1;
}

static void crash_at_any_byte_of_a_batch_keeps_every_acked_entry(void **state)
{
	struct fixture *f = *state;
	/* Cut points: none, inside the first header, between records,
	 * inside a payload, right before the mark, inside the mark. */
	size_t cuts[] = {0, 1, 31, 32, 33, 100, 200, 3000};
	for (size_t k = 0; k < sizeof(cuts) / sizeof(cuts[0]) + 3; k++) {
		struct crash c = {.call = 3};
		snprintf(c.src, sizeof(c.src), "%s/log%zu", f->dir, k);
		snprintf(c.img, sizeof(c.img), "%s/img%zu", f->dir, k);
		struct raft_disk_options o = {
			.dir = c.src, .pwritev_hook = crashing, .hook_arg = &c};
		/* The last three: the batch's size minus 33, 32 and 1. */
		c.cut = k < 8 ? cuts[k] : (size_t)-1;
		struct raft_disk *d;
		assert_int_equal(raft_disk_open(&f->loop, &o, &d), 0);
		append(f, d, 1, 10, 1);
		append(f, d, 11, 20, 1);
		if (k >= 8) {
			size_t batch = DISK_REC_HDR; /* the mark */
			uint8_t buf[301];
			for (uint64_t i = 21; i <= 50; i++)
				batch += disk__rec_size(payload(i, buf));
			c.cut = batch - (k == 8 ? 33 : k == 9 ? 32 : 1);
		}
		struct done dn = {0};
		assert_int_equal(submit(d, 21, 50, 2, 0, &dn), 0);
		run_until(f, &dn, 1);
		assert_int_equal(dn.status, -EIO);
		assert_true(c.cut < c.batch);
		close_log(f, d);
		/* The disk as the crash left it opens with the 20 acked
		 * entries; the torn batch was never acknowledged. */
		o = (struct raft_disk_options){.dir = c.img};
		assert_int_equal(raft_disk_open(&f->loop, &o, &d), 0);
		check_range(d, 1, 20);
		for (uint64_t i = 1; i <= 20; i++)
			check_entry(d, i, 1);
		append(f, d, 21, 22, 3);
		close_log(f, d);
	}
}

static void reopen_after_many_segments_reads_every_entry(void **state)
{
	struct fixture *f = *state;
	struct raft_disk_options o = {.segment_bytes = 4096,
				      .cache_bytes = 4096};
	struct raft_disk *d = open_opts(f, &o);
	for (uint64_t i = 1; i <= 2000; i += 20)
		append(f, d, i, i + 19, 1 + i / 500);
	close_log(f, d);
	int segs = 0;
	for (uint64_t i = 1; i <= 2000; i++) {
		char path[128];
		seg_file(f, i, path);
		segs += access(path, F_OK) == 0;
	}
	assert_true(segs > 50);
	d = open_opts(f, &o);
	check_range(d, 1, 2000);
	for (uint64_t i = 1; i <= 2000; i++)
		check_entry(d, i, 1 + ((i - 1) / 20 * 20 + 1) / 500);
	close_log(f, d);
	assert_string_equal(f->logs, "");
}

static void hard_state_survives_reopen(void **state)
{
	struct fixture *f = *state;
	struct raft_disk *d = open_log(f);
	struct raft_disk_state st;
	raft_disk_state(d, &st);
	assert_int_equal(st.hs.term, 0);
	for (uint64_t t = 1; t <= 5; t++) {
		struct raft_disk_hard_state hs = {t, t % 3, 10 * t};
		struct raft_disk_write w = {.hs = &hs};
		struct done dn = {0};
		assert_int_equal(raft_disk_write(d, &w, on_done, &dn), 0);
		run_until(f, &dn, 1);
		assert_int_equal(dn.status, 0);
	}
	close_log(f, d);
	d = open_log(f);
	raft_disk_state(d, &st);
	assert_int_equal(st.hs.term, 5);
	assert_int_equal(st.hs.vote, 2);
	assert_int_equal(st.hs.commit, 50);
	close_log(f, d);
}

static void
commit_index_alone_is_not_synced_but_rides_with_the_term(void **state)
{
	struct fixture *f = *state;
	struct raft_disk *d = open_log(f);
	struct done dn = {0};
	int calls = 0;
	for (uint64_t c = 1; c <= 50; c++) {
		struct raft_disk_hard_state hs = {3, 2, c};
		struct raft_disk_write w = {.hs = &hs};
		assert_int_equal(raft_disk_write(d, &w, on_done, &dn), 0);
		run_until(f, &dn, ++calls);
		assert_int_equal(dn.status, 0);
	}
	close_log(f, d);
	d = open_log(f);
	struct raft_disk_state st;
	raft_disk_state(d, &st);
	assert_int_equal(st.hs.term, 3);
	assert_int_equal(st.hs.vote, 2);
	assert_int_equal(st.hs.commit, 1);
	struct raft_disk_hard_state next = {4, 0, 60};
	struct raft_disk_write w = {.hs = &next};
	assert_int_equal(raft_disk_write(d, &w, on_done, &dn), 0);
	run_until(f, &dn, ++calls);
	close_log(f, d);
	d = open_log(f);
	raft_disk_state(d, &st);
	assert_int_equal(st.hs.term, 4);
	assert_int_equal(st.hs.commit, 60);
	close_log(f, d);
}

static void torn_hard_state_update_falls_back_to_the_previous_one(void **state)
{
	struct fixture *f = *state;
	struct raft_disk *d = open_log(f);
	struct raft_disk_hard_state a = {7, 1, 0}, b = {8, 2, 0};
	struct raft_disk_write w = {.hs = &a};
	struct done dn = {0};
	assert_int_equal(raft_disk_write(d, &w, on_done, &dn), 0);
	w.hs = &b;
	run_until(f, &dn, 1);
	assert_int_equal(raft_disk_write(d, &w, on_done, &dn), 0);
	run_until(f, &dn, 2);
	close_log(f, d);
	/* Damage the slot holding the newest value (b). */
	char path[128];
	sprintf(path, "%s/hardstate", f->dir);
	int fd = open(path, O_RDWR);
	uint8_t s0[48], s1[48];
	assert_int_equal(pread(fd, s0, 48, 0), 48);
	assert_int_equal(pread(fd, s1, 48, 4096), 48);
	off_t newest = s0[16] == 8 ? 0 : 4096;
	uint8_t junk = 0xff;
	assert_int_equal(pwrite(fd, &junk, 1, newest + 20), 1);
	close(fd);
	d = open_log(f);
	struct raft_disk_state st;
	raft_disk_state(d, &st);
	assert_int_equal(st.hs.term, 7);
	assert_int_equal(st.hs.vote, 1);
	close_log(f, d);
	/* Both slots damaged: that is corruption, not a fresh start. */
	fd = open(path, O_RDWR);
	assert_int_equal(pwrite(fd, &junk, 1, 20), 1);
	assert_int_equal(pwrite(fd, &junk, 1, 4096 + 20), 1);
	close(fd);
	assert_int_equal(try_open(f), SHOAL_ECORRUPT);
}

static void conflicting_suffix_is_replaced_and_survives_reopen(void **state)
{
	struct fixture *f = *state;
	struct raft_disk_options o = {.segment_bytes = 4096};
	struct raft_disk *d = open_opts(f, &o);
	for (uint64_t i = 1; i <= 200; i += 10)
		append(f, d, i, i + 9, 1);
	/* Out of sequence or outside the log: refused, nothing changes. */
	struct done dn = {0};
	assert_int_equal(submit(d, 202, 202, 1, 0, &dn), -EINVAL);
	assert_int_equal(submit(d, 150, 150, 1, 300, &dn), -EINVAL);
	assert_int_equal(submit(d, 201, 201, 0, 0, &dn), -EINVAL);
	/* Conflict from 57 on: replaced by term 2 entries. */
	assert_int_equal(submit(d, 57, 60, 2, 57, &dn), 0);
	run_until(f, &dn, 1);
	assert_int_equal(dn.status, 0);
	check_range(d, 1, 60);
	check_entry(d, 56, 1);
	check_entry(d, 57, 2);
	close_log(f, d);
	d = open_opts(f, &o);
	check_range(d, 1, 60);
	check_entry(d, 56, 1);
	check_entry(d, 60, 2);
	struct raft_disk_entry e;
	assert_int_equal(raft_disk_read(d, 61, &e), -ENOENT);
	append(f, d, 61, 70, 2);
	close_log(f, d);
	d = open_opts(f, &o);
	check_range(d, 1, 70);
	close_log(f, d);
	assert_string_equal(f->logs, "");
}

static void compaction_drops_old_segments_and_keeps_the_rest(void **state)
{
	struct fixture *f = *state;
	struct raft_disk_options o = {.segment_bytes = 4096};
	struct raft_disk *d = open_opts(f, &o);
	for (uint64_t i = 1; i <= 300; i += 10)
		append(f, d, i, i + 9, 1);
	struct raft_disk_snapshot_meta m = {.index = 250, .term = 1};
	struct done dn = {0};
	assert_int_equal(
		raft_disk_snapshot_save(d, &m, "state", 5, on_done, &dn), 0);
	run_until(f, &dn, 1);
	assert_int_equal(dn.status, 0);
	assert_int_equal(raft_disk_compact(d, 250, on_done, &dn), 0);
	run_until(f, &dn, 2);
	assert_int_equal(dn.status, 0);
	struct raft_disk_state st;
	raft_disk_state(d, &st);
	assert_true(st.first_index > 200 && st.first_index <= 251);
	uint64_t first = st.first_index;
	struct raft_disk_entry e;
	assert_int_equal(raft_disk_read(d, first - 1, &e), -ENOENT);
	check_entry(d, 300, 1);
	close_log(f, d);
	d = open_opts(f, &o);
	check_range(d, first, 300);
	check_entry(d, first, 1);
	close_log(f, d);
}

static void old_entries_are_read_back_from_disk(void **state)
{
	struct fixture *f = *state;
	struct raft_disk_options o = {.cache_bytes = 8192};
	struct raft_disk *d = open_opts(f, &o);
	for (uint64_t i = 1; i <= 1000; i += 50)
		append(f, d, i, i + 49, 3);
	struct raft_disk_stats s;
	raft_disk_stats(d, &s);
	assert_true(s.cache_bytes <= 8192 + 50 * (300 + 64));
	check_entry(d, 1, 3);
	check_entry(d, 1000, 3);
	uint64_t term;
	assert_int_equal(raft_disk_term(d, 2, &term), 0);
	assert_int_equal(term, 3);
	raft_disk_stats(d, &s);
	assert_true(s.disk_reads >= 1);
	assert_true(s.cache_hits >= 1);
	close_log(f, d);
}

static void full_queue_answers_busy(void **state)
{
	struct fixture *f = *state;
	struct raft_disk_options o = {.queue_bytes = 4096};
	struct raft_disk *d = open_opts(f, &o);
	struct done dn = {0};
	int accepted = 0, rc = 0;
	uint64_t next = 1;
	while (!rc && accepted < 100000) {
		rc = submit(d, next, next + 9, 1, 0, &dn);
		if (!rc) {
			accepted++;
			next += 10;
		}
	}
	assert_int_equal(rc, -EBUSY);
	run_until(f, &dn, accepted);
	assert_int_equal(dn.status, 0);
	append(f, d, next, next, 1);
	close_log(f, d);
}

static void snapshot_round_trips_and_only_the_last_two_are_kept(void **state)
{
	struct fixture *f = *state;
	struct raft_disk *d = open_log(f);
	static uint8_t big[3 << 20];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7);
	uint8_t conf[] = {1, 2, 3};
	struct done dn = {0};
	for (uint64_t k = 1; k <= 3; k++) {
		struct raft_disk_snapshot_meta m = {.index = 10 * k,
						    .term = k,
						    .conf = conf,
						    .conf_len = 3};
		assert_int_equal(raft_disk_snapshot_save(
					 d, &m, big, sizeof(big), on_done, &dn),
				 0);
		run_until(f, &dn, (int)k);
		assert_int_equal(dn.status, 0);
	}
	char path[128];
	sprintf(path, "%s/snap-%020d-%020d", f->dir, 10, 1);
	assert_int_equal(access(path, F_OK), -1);
	sprintf(path, "%s/snap-%020d-%020d", f->dir, 20, 2);
	assert_int_equal(access(path, F_OK), 0);
	close_log(f, d);
	d = open_log(f);
	struct raft_disk_snapshot_meta m;
	void *data;
	size_t len;
	assert_int_equal(raft_disk_snapshot_load(d, &m, &data, &len), 0);
	assert_int_equal(m.index, 30);
	assert_int_equal(m.term, 3);
	assert_int_equal(m.conf_len, 3);
	assert_memory_equal(m.conf, conf, 3);
	assert_int_equal(len, sizeof(big));
	assert_memory_equal(data, big, len);
	uint8_t chunk[100];
	assert_int_equal(raft_disk_snapshot_read(d, 1000, chunk, 100), 100);
	assert_memory_equal(chunk, big + 1000, 100);
	shoal_free(data);
	shoal_free(m.conf);
	/* Damage in the data is caught when loading. */
	sprintf(path, "%s/snap-%020d-%020d", f->dir, 30, 3);
	int fd = open(path, O_RDWR);
	assert_int_equal(pwrite(fd, "x", 1, 5000), 1);
	close(fd);
	assert_int_equal(raft_disk_snapshot_load(d, &m, &data, &len),
			 SHOAL_ECORRUPT);
	close_log(f, d);
}

static void reset_after_snapshot_install_starts_the_log_there(void **state)
{
	struct fixture *f = *state;
	struct raft_disk *d = open_log(f);
	append(f, d, 1, 10, 1);
	struct raft_disk_snapshot_meta m = {.index = 500, .term = 4};
	struct done dn = {0};
	assert_int_equal(raft_disk_snapshot_save(d, &m, "s", 1, on_done, &dn),
			 0);
	run_until(f, &dn, 1);
	assert_int_equal(raft_disk_reset(d, 501, 4, on_done, &dn), 0);
	check_range(d, 501, 500);
	assert_int_equal(submit(d, 501, 510, 5, 0, &dn), 0);
	run_until(f, &dn, 3);
	assert_int_equal(dn.status, 0);
	close_log(f, d);
	d = open_log(f);
	check_range(d, 501, 510);
	check_entry(d, 505, 5);
	uint64_t term;
	assert_int_equal(raft_disk_term(d, 500, &term), 0);
	assert_int_equal(term, 4);
	close_log(f, d);
}

static void second_open_of_the_same_directory_is_refused(void **state)
{
	struct fixture *f = *state;
	struct raft_disk *d = open_log(f);
	assert_int_equal(try_open(f), -EBUSY);
	close_log(f, d);
}

static void allocation_failures_are_reported_and_leak_nothing(void **state)
{
	struct fixture *f = *state;
	uint64_t acked = 0;
	for (int k = 0; k < 80; k++) {
		int64_t live = shoal_alloc_live();
		struct raft_disk_options o = {.dir = f->dir};
		struct raft_disk *d = NULL;
		struct done dn = {0};
		shoal_alloc_fail_after(k);
		int rc = raft_disk_open(&f->loop, &o, &d);
		if (!rc) {
			struct raft_disk_state st;
			raft_disk_state(d, &st);
			assert_int_equal(st.last_index, acked);
			rc = submit(d, acked + 1, acked + 5, 1, 0, &dn);
			if (!rc) {
				run_until(f, &dn, 1);
				rc = dn.status;
			}
			if (!rc)
				acked += 5;
			raft_disk_close(d, NULL, NULL);
		}
		uv_run(&f->loop, UV_RUN_DEFAULT);
		shoal_alloc_fail_after(-1);
		assert_true(rc == 0 || rc == -ENOMEM);
		assert_int_equal(shoal_alloc_live(), live);
	}
	assert_true(acked > 0);
	struct raft_disk *d = open_log(f);
	check_range(d, 1, acked);
	for (uint64_t i = 1; i <= acked; i++)
		check_entry(d, i, 1);
	close_log(f, d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(acknowledged_entries_survive_reopen),
		T(queued_writes_share_one_fsync),
		T(torn_tail_is_truncated_with_a_logged_reason),
		T(flipped_bit_in_acknowledged_log_is_reported_as_corruption),
		T(unsynced_batch_without_commit_mark_is_dropped_at_reopen),
		T(full_disk_reports_enospc_and_leaves_the_log_intact),
		T(real_full_tmpfs_reports_enospc_and_keeps_acked_entries),
		T(crash_at_any_byte_of_a_batch_keeps_every_acked_entry),
		T(reopen_after_many_segments_reads_every_entry),
		T(hard_state_survives_reopen),
		T(commit_index_alone_is_not_synced_but_rides_with_the_term),
		T(torn_hard_state_update_falls_back_to_the_previous_one),
		T(conflicting_suffix_is_replaced_and_survives_reopen),
		T(compaction_drops_old_segments_and_keeps_the_rest),
		T(old_entries_are_read_back_from_disk),
		T(full_queue_answers_busy),
		T(snapshot_round_trips_and_only_the_last_two_are_kept),
		T(reset_after_snapshot_install_starts_the_log_there),
		T(second_open_of_the_same_directory_is_refused),
		T(allocation_failures_are_reported_and_leak_nothing),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
