/*
 * A crash during the very first hard state write of a new log directory
 * (raft/disk.h). Only the initial state (term 0, no vote) was ever being
 * written to the first slot; the second slot is written by the first term
 * change, which comes before any vote or entry. A first slot left torn
 * (zeros or a partial record) with no second slot therefore hides nothing
 * and the log must open as new instead of refusing to start for ever.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "raft/disk.h"

struct fixture {
	char dir[64];
	uv_loop_t loop;
};

static void quiet(enum log_level level, const char *module, const char *msg,
		  void *arg)
{
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	strcpy(f->dir, "/tmp/shoal-raft-hs0-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(uv_loop_init(&f->loop), 0);
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

static void write_first_slot(struct fixture *f, const uint8_t *bytes,
			     size_t len)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/hardstate", f->dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, bytes, len), (ssize_t)len);
	close(fd);
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

static void opens_as_new_and_keeps_a_term(struct fixture *f)
{
	struct raft_disk_options o = {.dir = f->dir};
	struct raft_disk *d = NULL;
	assert_int_equal(raft_disk_open(&f->loop, &o, &d), 0);
	struct raft_disk_state st;
	raft_disk_state(d, &st);
	assert_int_equal(st.hs.term, 0);
	assert_int_equal(st.hs.vote, 0);
	struct raft_disk_hard_state hs = {.term = 1, .vote = 1};
	struct raft_disk_write w = {.hs = &hs};
	struct done dn = {0};
	assert_int_equal(raft_disk_write(d, &w, on_done, &dn), 0);
	while (!dn.calls)
		uv_run(&f->loop, UV_RUN_ONCE);
	assert_int_equal(dn.status, 0);
	raft_disk_close(d, NULL, NULL);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(raft_disk_open(&f->loop, &o, &d), 0);
	raft_disk_state(d, &st);
	assert_int_equal(st.hs.term, 1);
	assert_int_equal(st.hs.vote, 1);
	raft_disk_close(d, NULL, NULL);
	uv_run(&f->loop, UV_RUN_DEFAULT);
}

static void zeroed_first_hard_state_write_opens_as_new(void **state)
{
	uint8_t zeros[48] = {0};
	write_first_slot(*state, zeros, sizeof(zeros));
	opens_as_new_and_keeps_a_term(*state);
}

static void torn_first_hard_state_write_opens_as_new(void **state)
{
	uint8_t junk[48];
	memset(junk, 0, sizeof(junk));
	memcpy(junk, "HSHS\1\0\0\0\2", 9); /* a record cut after its seq */
	write_first_slot(*state, junk, sizeof(junk));
	opens_as_new_and_keeps_a_term(*state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(zeroed_first_hard_state_write_opens_as_new),
		T(torn_first_hard_state_write_opens_as_new),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
