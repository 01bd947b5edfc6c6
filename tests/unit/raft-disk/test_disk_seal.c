/*
 * Encryption at rest of the raft disk log (raft/disk.h, options.key): with
 * a data-encryption key the bytes on disk hold no plaintext of an entry or
 * of a snapshot, the same key reads them back after a reopen, and another
 * key (or none) cannot read them. A log written in the clear still reads
 * once a key is set (turning autolock on for an existing swarm).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/log.h"
#include "raft/disk.h"

static const char SECRET[] = "SWMTKN-plaintext-secret-of-entry-";
static const char SNAP_SECRET[] = "root-key-inside-the-snapshot-data";

struct fixture {
	char dir[64];
	uv_loop_t loop;
	uint8_t key[32];
	uint8_t other[32];
};

static void quiet(enum log_level level, const char *module, const char *msg,
		  void *arg)
{
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	strcpy(f->dir, "/tmp/shoal-raft-seal-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(uv_loop_init(&f->loop), 0);
	memset(f->key, 0x5a, sizeof(f->key));
	memset(f->other, 0xa5, sizeof(f->other));
	log_set_sink(quiet, NULL);
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
	for (int i = 0; i < 100 && uv_run(&f->loop, UV_RUN_NOWAIT); i++)
		usleep(1000);
	uv_loop_close(&f->loop);
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static struct raft_disk *open_log(struct fixture *f, const uint8_t *key)
{
	struct raft_disk_options o = {.dir = f->dir, .key = key};
	struct raft_disk *d = NULL;
	assert_int_equal(raft_disk_open(&f->loop, &o, &d), 0);
	return d;
}

static void on_closed(void *arg)
{
	*(int *)arg = 1;
}

static void close_log(struct fixture *f, struct raft_disk *d)
{
	int done = 0;
	raft_disk_close(d, on_closed, &done);
	while (!done)
		uv_run(&f->loop, UV_RUN_ONCE);
}

static void on_done(void *arg, int status)
{
	int *st = arg;
	st[0]++;
	st[1] = status;
}

static void entry_text(uint64_t index, char *out, size_t cap)
{
	snprintf(out, cap, "%s%03llu", SECRET, (unsigned long long)index);
}

static void write_entries(struct fixture *f, struct raft_disk *d, uint64_t from,
			  uint64_t to)
{
	struct raft_disk_entry e[8];
	char text[8][64];
	size_t n = to - from + 1;
	for (size_t i = 0; i < n; i++) {
		entry_text(from + i, text[i], sizeof(text[i]));
		e[i] = (struct raft_disk_entry){
			.index = from + i,
			.term = 1,
			.type = 1,
			.len = (uint32_t)strlen(text[i]),
			.data = text[i]};
	}
	struct raft_disk_write w = {.entries = e, .n = n};
	int st[2] = {0};
	assert_int_equal(raft_disk_write(d, &w, on_done, st), 0);
	while (!st[0])
		uv_run(&f->loop, UV_RUN_ONCE);
	assert_int_equal(st[1], 0);
}

static void write_snapshot(struct raft_disk *d, uint64_t index)
{
	struct raft_disk_snapshot_meta m = {.index = index, .term = 1};
	struct raft_disk_snap_writer *w;
	assert_int_equal(raft_disk_snapshot_begin(d, &m, &w), 0);
	/* Two chunks, the second starting off a 64-byte block boundary. */
	assert_int_equal(raft_disk_snapshot_chunk(w, SNAP_SECRET, 10), 0);
	assert_int_equal(raft_disk_snapshot_chunk(w, SNAP_SECRET + 10,
						  sizeof(SNAP_SECRET) - 10),
			 0);
	assert_int_equal(raft_disk_snapshot_commit(w), 0);
}

/* Does any file in @dir contain @needle? */
static bool dir_contains(const char *dir, const char *needle)
{
	DIR *dp = opendir(dir);
	assert_non_null(dp);
	struct dirent *de;
	bool found = false;
	while (!found && (de = readdir(dp))) {
		char path[512];
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		FILE *fp = fopen(path, "rb");
		if (!fp || de->d_type == DT_DIR) {
			if (fp)
				fclose(fp);
			continue;
		}
		static char buf[1 << 20];
		size_t n = fread(buf, 1, sizeof(buf), fp);
		fclose(fp);
		found = memmem(buf, n, needle, strlen(needle)) != NULL;
	}
	closedir(dp);
	return found;
}

static void check_entry(struct raft_disk *d, uint64_t index)
{
	char want[64];
	struct raft_disk_entry e;
	entry_text(index, want, sizeof(want));
	assert_int_equal(raft_disk_read(d, index, &e), 0);
	assert_int_equal(e.len, strlen(want));
	assert_int_equal(e.type, 1);
	assert_memory_equal(e.data, want, e.len);
	shoal_free(e.data);
}

static void encrypted_log_holds_no_plaintext_and_reads_back(void **state)
{
	struct fixture *f = *state;
	struct raft_disk *d = open_log(f, f->key);
	write_entries(f, d, 1, 5);
	write_snapshot(d, 3);
	close_log(f, d);
	assert_false(dir_contains(f->dir, SECRET));
	assert_false(dir_contains(f->dir, SNAP_SECRET));

	d = open_log(f, f->key); /* cold: reads come from the files */
	for (uint64_t i = 1; i <= 5; i++)
		check_entry(d, i);
	struct raft_disk_snapshot_meta m;
	void *data;
	size_t len;
	assert_int_equal(raft_disk_snapshot_load(d, &m, &data, &len), 0);
	assert_int_equal(len, sizeof(SNAP_SECRET));
	assert_memory_equal(data, SNAP_SECRET, len);
	shoal_free(data);
	shoal_free(m.conf);
	char part[8];
	assert_int_equal(raft_disk_snapshot_read(d, 13, part, sizeof(part)),
			 sizeof(part));
	assert_memory_equal(part, SNAP_SECRET + 13, sizeof(part));
	close_log(f, d);
}

static void another_key_or_none_cannot_read_the_log(void **state)
{
	struct fixture *f = *state;
	struct raft_disk *d = open_log(f, f->key);
	write_entries(f, d, 1, 3);
	write_snapshot(d, 2);
	close_log(f, d);

	struct raft_disk_entry e;
	struct raft_disk_snapshot_meta m;
	void *data;
	size_t len;
	char part[8];
	d = open_log(f, f->other);
	assert_int_equal(raft_disk_read(d, 3, &e), SHOAL_ECORRUPT);
	assert_int_equal(raft_disk_snapshot_load(d, &m, &data, &len),
			 SHOAL_ECORRUPT);
	assert_int_equal(raft_disk_snapshot_read(d, 0, part, sizeof(part)),
			 SHOAL_ECORRUPT);
	close_log(f, d);

	d = open_log(f, NULL);
	assert_int_equal(raft_disk_read(d, 3, &e), -ENOKEY);
	assert_int_equal(raft_disk_snapshot_load(d, &m, &data, &len), -ENOKEY);
	close_log(f, d);

	d = open_log(f, f->key); /* the failed attempts changed nothing */
	check_entry(d, 3);
	close_log(f, d);
}

static void clear_log_still_reads_once_a_key_is_set(void **state)
{
	struct fixture *f = *state;
	struct raft_disk *d = open_log(f, NULL);
	write_entries(f, d, 1, 2);
	close_log(f, d);
	assert_true(dir_contains(f->dir, SECRET));

	d = open_log(f, f->key);
	write_entries(f, d, 3, 4);
	close_log(f, d);
	d = open_log(f, f->key);
	for (uint64_t i = 1; i <= 4; i++)
		check_entry(d, i);
	close_log(f, d);
}

static void an_empty_entry_reads_back_empty(void **state)
{
	struct fixture *f = *state;
	struct raft_disk *d = open_log(f, f->key);
	struct raft_disk_entry e = {.index = 1, .term = 2, .type = 3};
	struct raft_disk_write w = {.entries = &e, .n = 1};
	int st[2] = {0};
	assert_int_equal(raft_disk_write(d, &w, on_done, st), 0);
	while (!st[0])
		uv_run(&f->loop, UV_RUN_ONCE);
	assert_int_equal(st[1], 0);
	close_log(f, d);
	d = open_log(f, f->key);
	struct raft_disk_entry back;
	assert_int_equal(raft_disk_read(d, 1, &back), 0);
	assert_int_equal(back.len, 0);
	assert_null(back.data);
	assert_int_equal(back.type, 3);
	assert_int_equal(back.term, 2);
	close_log(f, d);
}

static void an_entry_claiming_the_sealed_type_bit_is_refused(void **state)
{
	struct fixture *f = *state;
	struct raft_disk *d = open_log(f, f->key);
	static char big[16];
	struct raft_disk_entry e = {.index = 1,
				    .term = 1,
				    .type = 0x80000001u,
				    .len = sizeof(big),
				    .data = big};
	struct raft_disk_write w = {.entries = &e, .n = 1};
	int st[2] = {0};
	/* The type bit the log uses to mark sealed records is not the
	 * caller's to set. */
	assert_int_equal(raft_disk_write(d, &w, on_done, st), -EINVAL);
	assert_int_equal(st[0], 0);
	close_log(f, d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			encrypted_log_holds_no_plaintext_and_reads_back, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			another_key_or_none_cannot_read_the_log, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			clear_log_still_reads_once_a_key_is_set, setup,
			teardown),
		cmocka_unit_test_setup_teardown(an_empty_entry_reads_back_empty,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			an_entry_claiming_the_sealed_type_bit_is_refused, setup,
			teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
