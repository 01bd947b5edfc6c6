/*
 * The commit index stored with the hard state (raft/disk.h) is a hint the
 * core trusts at restart (clamped to the log's last index). It must never
 * name entries that a crash can leave on disk although the core had
 * already replaced them: a write that changes the term, truncates a
 * conflicting suffix and appends the new leader's entries, with a commit
 * index covering them, has its hard state written first. Should the node
 * crash before the truncation is durable, the stored commit index must not
 * cover the old suffix, or the restarted node applies entries that were
 * never committed. The pwritev hook stands in for the crash: it copies the
 * log directory as it is when the truncation's first write is issued.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/log.h"
#include "raft/disk.h"

#include "crash_fixture.h"

static int setup(void **state)
{
	return crash_fixture_setup(state, "/tmp/shoal-raft-hint-XXXXXX");
}

/* Write entries [from, to] of @term (after truncating from @truncate when
 * non-zero) and wait for the result. */
static int write_wait(struct fixture *f, struct raft_disk *d, uint64_t from,
		      uint64_t to, uint64_t term, uint64_t truncate,
		      const struct raft_disk_hard_state *hs)
{
	struct raft_disk_entry e[16];
	uint8_t data[16][8];
	size_t n = to - from + 1;
	assert_true(n <= 16);
	for (size_t i = 0; i < n; i++) {
		memset(data[i], crash_byte_of(from + i, term), sizeof(data[i]));
		e[i] = (struct raft_disk_entry){.index = from + i,
						.term = term,
						.type = 1,
						.len = sizeof(data[i]),
						.data = data[i]};
	}
	struct raft_disk_write w = {
		.hs = hs, .entries = e, .n = n, .truncate_from = truncate};
	struct done dn = {0};
	int rc = raft_disk_write(d, &w, crash_on_done, &dn);
	if (rc)
		return rc;
	while (!dn.calls)
		uv_run(&f->loop, UV_RUN_ONCE);
	return dn.status;
}

static void
crash_before_truncation_leaves_no_commit_hint_over_the_old_suffix(void **state)
{
	struct fixture *f = *state;
	struct crash *c = &f->c;
	snprintf(c->src, sizeof(c->src), "%s/log", f->dir);
	snprintf(c->img, sizeof(c->img), "%s/img", f->dir);
	assert_int_equal(mkdir(c->src, 0700), 0);
	/* pwritev calls: the new segment's header, the batch 1..10, then
	 * the truncation's first write (the hard state is not a pwritev). */
	c->call = 2;
	struct raft_disk_options o = {
		.dir = c->src, .pwritev_hook = crash_pwritev, .hook_arg = c};
	struct raft_disk *d;
	assert_int_equal(raft_disk_open(&f->loop, &o, &d), 0);
	assert_int_equal(write_wait(f, d, 1, 10, 1, 0, NULL), 0);
	/* Leader of term 2: 6..10 conflict, 6..8 replace them, and its
	 * commit index 8 covers the new entries. */
	struct raft_disk_hard_state hs = {.term = 2, .vote = 0, .commit = 8};
	assert_int_equal(write_wait(f, d, 6, 8, 2, 6, &hs), -EIO);
	assert_true(c->crashed);
	crash_close_log(f, d);

	o = (struct raft_disk_options){.dir = c->img};
	assert_int_equal(raft_disk_open(&f->loop, &o, &d), 0);
	struct raft_disk_state st;
	raft_disk_state(d, &st);
	assert_int_equal(st.hs.term, 2);
	/* Every entry the hint covers is the committed one (term 1 up to 5,
	 * term 2 from 6). */
	for (uint64_t i = 1; i <= st.hs.commit && i <= st.last_index; i++) {
		struct raft_disk_entry e;
		assert_int_equal(raft_disk_read(d, i, &e), 0);
		assert_int_equal(e.term, i <= 5 ? 1 : 2);
		shoal_free(e.data);
	}
	crash_close_log(f, d);
}

static void commit_hint_without_truncation_is_kept(void **state)
{
	struct fixture *f = *state;
	struct raft_disk_options o = {.dir = f->dir};
	struct raft_disk *d;
	assert_int_equal(raft_disk_open(&f->loop, &o, &d), 0);
	assert_int_equal(write_wait(f, d, 1, 10, 1, 0, NULL), 0);
	struct raft_disk_hard_state hs = {.term = 2, .vote = 3, .commit = 9};
	assert_int_equal(write_wait(f, d, 11, 12, 2, 0, &hs), 0);
	crash_close_log(f, d);
	assert_int_equal(raft_disk_open(&f->loop, &o, &d), 0);
	struct raft_disk_state st;
	raft_disk_state(d, &st);
	assert_int_equal(st.hs.term, 2);
	assert_int_equal(st.hs.vote, 3);
	assert_int_equal(st.hs.commit, 9);
	crash_close_log(f, d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name)                                                                \
	cmocka_unit_test_setup_teardown(name, setup, crash_fixture_teardown)
		T(crash_before_truncation_leaves_no_commit_hint_over_the_old_suffix),
		T(commit_hint_without_truncation_is_kept),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
