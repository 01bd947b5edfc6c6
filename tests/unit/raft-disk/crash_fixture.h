/*
 * A crash fixture shared by the disk log's crash tests: a temporary log
 * directory and loop per test, and a pwritev hook (crash_pwritev) that
 * copies the log directory as it stands when the chosen write is issued,
 * then fails that write: the copy is the disk a crash at that instant
 * leaves behind.
 */
#ifndef SHOAL_TESTS_RAFT_DISK_CRASH_FIXTURE_H
#define SHOAL_TESTS_RAFT_DISK_CRASH_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <uv.h>

#include "raft/disk.h"

struct crash {
	int call;      /* which pwritev call crashes (0 = the first) */
	char src[128]; /* the log directory */
	char img[128]; /* the copy: the disk as the crash left it */
	bool crashed;
};

struct fixture {
	char dir[64];
	uv_loop_t loop;
	struct crash c;
};

struct done {
	int calls;
	int status;
};

/** crash_fixture_setup() - a fresh directory from mkdtemp(@tmpl), a loop. */
int crash_fixture_setup(void **state, const char *tmpl);
int crash_fixture_teardown(void **state);
/** crash_pwritev() - the pwritev hook; @arg is a struct crash. */
ssize_t crash_pwritev(int fd, const struct iovec *iov, int n, off_t off,
		      void *arg);
/** crash_on_done() - a write callback filling a struct done. */
void crash_on_done(void *arg, int status);
/** crash_byte_of() - the payload byte of entry @index in @term. */
uint8_t crash_byte_of(uint64_t index, uint64_t term);
/** crash_close_log() - close @d and run the loop until it is closed. */
void crash_close_log(struct fixture *f, struct raft_disk *d);

#endif
