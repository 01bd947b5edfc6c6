/*
 * Unit tests of the pull's unpack-while-downloading path
 * (img__unpack_source): a layer read in small pieces, as the download
 * hands them over, unpacks to the same folder and DiffID as from its file,
 * a gzip layer included; a stream that stops in the middle fails and says
 * so; a hostile entry is refused as from a file.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "image/internal.h"
#include "tests/unit/image/image_fixtures.h"

struct chunks {
	char *data;
	size_t len, off, step;
	size_t stop_at; /* fail once this many bytes were given; 0: never */
};

static ssize_t chunk_read(void *arg, const void **buf)
{
	struct chunks *c = arg;
	if (c->stop_at && c->off >= c->stop_at)
		return -1;
	size_t n = c->len - c->off < c->step ? c->len - c->off : c->step;
	*buf = c->data + c->off;
	c->off += n;
	return (ssize_t)n;
}

static const struct fx_entry layer[] = {
	{"etc/", 'd', NULL, 0755}, {"etc/hostname", 'f', "streamed\n", 0644},
	{"bin/", 'd', NULL, 0755}, {"bin/sh", 'l', "busybox", 0777},
	{"big", 'f', NULL, 0600},
};

static char work[] = "/tmp/shoal-unit-stream.XXXXXX";

static void tar_of(const char *name, enum fx_filter f, char *path, size_t cap)
{
	/* "big" gets 300 KiB so the stream has many pieces. */
	static char big[300 * 1024 + 1];
	memset(big, 'b', sizeof(big) - 1);
	struct fx_entry e[5];
	memcpy(e, layer, sizeof(e));
	e[4].data = big;
	snprintf(path, cap, "%s/%s", work, name);
	assert_int_equal(fx_write_tar(path, e, 5, f), 0);
}

static void unpack_both_ways(enum fx_filter f)
{
	char tar[600], hex[SHA256_HEX_LEN + 1], a[600], b[600];
	tar_of(f == FX_GZIP ? "l.tgz" : "l.tar", f, tar, sizeof(tar));
	assert_int_equal(fx_sha256_file(tar, hex), 0);
	snprintf(a, sizeof(a), "%s/from-file-%d", work, f);
	snprintf(b, sizeof(b), "%s/from-stream-%d", work, f);
	struct img__layer_result ra, rb;
	struct shoal_err err;
	assert_int_equal(
		img__unpack_known(tar, hex, a, &ra, NULL, NULL, NULL, &err), 0);
	struct chunks c = {0};
	c.data = fx_read(tar, &c.len);
	c.step = 4097; /* odd pieces cut headers and blocks anywhere */
	struct img__source src = {chunk_read, &c};
	assert_int_equal(img__unpack_source(NULL, &src, hex, b, &rb, NULL, NULL,
					    NULL, &err),
			 0);
	assert_string_equal(ra.diff_hex, rb.diff_hex);
	assert_int_equal(ra.size, rb.size);
	char p[700];
	snprintf(p, sizeof(p), "%s/etc/hostname", b);
	size_t n;
	char *got = fx_read(p, &n);
	assert_non_null(got);
	assert_string_equal(got, "streamed\n");
	free(got);
	snprintf(p, sizeof(p), "%s/big", b);
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 300 * 1024);
	free(c.data);
}

static void a_streamed_plain_layer_unpacks_as_from_its_file(void **state)
{
	unpack_both_ways(FX_PLAIN);
}

static void a_streamed_gzip_layer_unpacks_as_from_its_file(void **state)
{
	unpack_both_ways(FX_GZIP);
}

static void a_stream_that_stops_fails(void **state)
{
	char tar[600], hex[SHA256_HEX_LEN + 1], d[600];
	tar_of("cut.tar", FX_PLAIN, tar, sizeof(tar));
	assert_int_equal(fx_sha256_file(tar, hex), 0);
	struct chunks c = {0};
	c.data = fx_read(tar, &c.len);
	c.step = 8192;
	c.stop_at = c.len / 2;
	struct img__source src = {chunk_read, &c};
	struct img__layer_result r;
	struct shoal_err err = {0};
	snprintf(d, sizeof(d), "%s/cut", work);
	assert_true(img__unpack_source(NULL, &src, hex, d, &r, NULL, NULL, NULL,
				       &err) < 0);
	assert_non_null(strstr(err.msg, "the download stopped"));
	free(c.data);
}

static void a_streamed_escape_is_refused(void **state)
{
	static const struct fx_entry bad[] = {
		{"../escape", 'f', "x", 0644},
	};
	char tar[600], hex[SHA256_HEX_LEN + 1], d[600];
	snprintf(tar, sizeof(tar), "%s/bad.tar", work);
	assert_int_equal(fx_write_tar(tar, bad, 1, FX_PLAIN), 0);
	assert_int_equal(fx_sha256_file(tar, hex), 0);
	struct chunks c = {0};
	c.data = fx_read(tar, &c.len);
	c.step = 100;
	struct img__source src = {chunk_read, &c};
	struct img__layer_result r;
	struct shoal_err err = {0};
	snprintf(d, sizeof(d), "%s/bad", work);
	assert_true(img__unpack_source(NULL, &src, hex, d, &r, NULL, NULL, NULL,
				       &err) < 0);
	assert_non_null(strstr(err.msg, "escape"));
	char p[700];
	snprintf(p, sizeof(p), "%s/escape", work);
	assert_int_equal(access(p, F_OK), -1);
	free(c.data);
}

static int setup(void **state)
{
	return mkdtemp(work) ? 0 : -1;
}

static int teardown(void **state)
{
	return img__rmrf(work) < 0 ? -1 : 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			a_streamed_plain_layer_unpacks_as_from_its_file),
		cmocka_unit_test(
			a_streamed_gzip_layer_unpacks_as_from_its_file),
		cmocka_unit_test(a_stream_that_stops_fails),
		cmocka_unit_test(a_streamed_escape_is_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
