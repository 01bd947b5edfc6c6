/*
 * Crash safety of suffix truncation in the raft disk log (raft/disk.h).
 *
 * A follower truncates a conflicting suffix [t, last] that shares a
 * segment (and an fsync batch) with entries below t it has already
 * acknowledged. Whatever part of the truncation reaches the disk before a
 * crash, the next open must still hold every acknowledged entry below t.
 * The pwritev hook stands in for the crash: it copies the log directory as
 * it is when the truncation's write is issued, then fails that write.
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
	return crash_fixture_setup(state, "/tmp/shoal-raft-trunc-XXXXXX");
}

/* Write entries [from, to] of @term (after truncating from @truncate when
 * non-zero) and wait for the result. */
static int write_wait(struct fixture *f, struct raft_disk *d, uint64_t from,
		      uint64_t to, uint64_t term, uint64_t truncate)
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
		.entries = e, .n = n, .truncate_from = truncate};
	struct done dn = {0};
	int rc = raft_disk_write(d, &w, crash_on_done, &dn);
	if (rc)
		return rc;
	while (!dn.calls)
		uv_run(&f->loop, UV_RUN_ONCE);
	return dn.status;
}

static void crash_during_truncation_keeps_the_acknowledged_prefix(void **state)
{
	struct fixture *f = *state;
	struct crash *c = &f->c;
	snprintf(c->src, sizeof(c->src), "%s/log", f->dir);
	snprintf(c->img, sizeof(c->img), "%s/img", f->dir);
	assert_int_equal(mkdir(c->src, 0700), 0);
	/* pwritev calls: the new segment's header, the batch 1..10, then
	 * whatever the truncation writes. */
	c->call = 2;
	struct raft_disk_options o = {
		.dir = c->src, .pwritev_hook = crash_pwritev, .hook_arg = c};
	struct raft_disk *d;
	assert_int_equal(raft_disk_open(&f->loop, &o, &d), 0);
	/* One batch, one commit mark after entry 10: all ten acknowledged. */
	assert_int_equal(write_wait(f, d, 1, 10, 1, 0), 0);
	/* A new leader replaces 6..10; the node crashes meanwhile. */
	assert_int_equal(write_wait(f, d, 6, 8, 2, 6), -EIO);
	assert_true(c->crashed);
	crash_close_log(f, d);

	o = (struct raft_disk_options){.dir = c->img};
	assert_int_equal(raft_disk_open(&f->loop, &o, &d), 0);
	struct raft_disk_state st;
	raft_disk_state(d, &st);
	assert_true(st.last_index >= 5);
	for (uint64_t i = 1; i <= 5; i++) {
		struct raft_disk_entry e;
		assert_int_equal(raft_disk_read(d, i, &e), 0);
		assert_int_equal(e.term, 1);
		assert_int_equal(e.len, 8);
		assert_int_equal(((uint8_t *)e.data)[0], crash_byte_of(i, 1));
		shoal_free(e.data);
	}
	crash_close_log(f, d);
	/* Nothing half-written is left behind by the open. */
	char tmp[256];
	snprintf(tmp, sizeof(tmp), "%s/seg-%020d.tmp", c->img, 1);
	assert_int_not_equal(access(tmp, F_OK), 0);
}

static void truncation_then_reopen_holds_the_new_suffix(void **state)
{
	struct fixture *f = *state;
	struct raft_disk_options o = {.dir = f->dir};
	struct raft_disk *d;
	assert_int_equal(raft_disk_open(&f->loop, &o, &d), 0);
	assert_int_equal(write_wait(f, d, 1, 10, 1, 0), 0);
	assert_int_equal(write_wait(f, d, 6, 8, 2, 6), 0);
	assert_int_equal(write_wait(f, d, 9, 9, 2, 0), 0);
	crash_close_log(f, d);
	assert_int_equal(raft_disk_open(&f->loop, &o, &d), 0);
	struct raft_disk_state st;
	raft_disk_state(d, &st);
	assert_int_equal(st.last_index, 9);
	assert_int_equal(st.last_term, 2);
	for (uint64_t i = 1; i <= 9; i++) {
		struct raft_disk_entry e;
		uint64_t term = i <= 5 ? 1 : 2;
		assert_int_equal(raft_disk_read(d, i, &e), 0);
		assert_int_equal(e.term, term);
		assert_int_equal(((uint8_t *)e.data)[0],
				 crash_byte_of(i, term));
		shoal_free(e.data);
	}
	crash_close_log(f, d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name)                                                                \
	cmocka_unit_test_setup_teardown(name, setup, crash_fixture_teardown)
		T(crash_during_truncation_keeps_the_acknowledged_prefix),
		T(truncation_then_reopen_holds_the_new_suffix),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
