/*
 * The disk log crash tests' shared fixture: see crash_fixture.h.
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
#include <unistd.h>

#include "common/log.h"
#include "crash_fixture.h"

static void quiet(enum log_level level, const char *module, const char *msg,
		  void *arg)
{
}

int crash_fixture_setup(void **state, const char *tmpl)
{
	struct fixture *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "%s", tmpl);
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

int crash_fixture_teardown(void **state)
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

ssize_t crash_pwritev(int fd, const struct iovec *iov, int n, off_t off,
		      void *arg)
{
	struct crash *c = arg;
	char cmd[512];
	if (c->call-- != 0)
		return pwritev(fd, iov, n, off);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -a '%s' '%s'", c->img,
		 c->src, c->img);
	assert_int_equal(system(cmd), 0);
	c->crashed = true;
	errno = EIO;
	return -1;
}

void crash_on_done(void *arg, int status)
{
	struct done *dn = arg;
	dn->calls++;
	dn->status = status;
}

uint8_t crash_byte_of(uint64_t index, uint64_t term)
{
	return (uint8_t)(index * 7 + term);
}

void crash_close_log(struct fixture *f, struct raft_disk *d)
{
	raft_disk_close(d, NULL, NULL);
	uv_run(&f->loop, UV_RUN_DEFAULT);
}
