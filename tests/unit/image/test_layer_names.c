/*
 * Unit tests of the names img__unpack() takes from a layer (issue 8):
 * whiteouts whose target is empty, "." or "..", names with a "." or ".."
 * component beyond a leading "./", and whiteout or opaque-whiteout names
 * used as folders are refused, with the entry named in the error, and
 * nothing next to the layer's folder changes. ".wh..." once made the
 * unpacker remove the folder that holds the layer's (its whiteout target
 * being "..").
 *
 * Each layer is unpacked into <sandbox>/layer, beside a file and a folder
 * that must survive; the layer folder itself is removed afterwards, as
 * the store does with a refused layer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/log.h"
#include "image/internal.h"
#include "tests/unit/image/image_fixtures.h"

/* One folder per run, removed by main() even after a failed test. */
static char run_root[48];

struct sandbox {
	char dir[128];
	char layer[160];
	char blob[160];
};

static void sandbox_make(struct sandbox *sb, const char *name)
{
	char p[256];
	FILE *f;

	snprintf(sb->dir, sizeof(sb->dir), "%s/%s", run_root, name);
	snprintf(sb->layer, sizeof(sb->layer), "%s/layer", sb->dir);
	snprintf(sb->blob, sizeof(sb->blob), "%s/blob.tar", run_root);
	assert_int_equal(mkdir(sb->dir, 0755), 0);
	snprintf(p, sizeof(p), "%s/sentinel", sb->dir);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs("must survive\n", f);
	fclose(f);
	snprintf(p, sizeof(p), "%s/keep", sb->dir);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/keep/file", sb->dir);
	f = fopen(p, "w");
	assert_non_null(f);
	fclose(f);
}

/* Unpacks @e into a fresh sandbox; 0 or the error, with @msg. */
static int unpack(const char *name, const struct fx_entry *e, size_t n,
		  struct sandbox *sb, char **before, struct shoal_err *err)
{
	struct img__layer_result res;
	struct img_progress p = {0};

	sandbox_make(sb, name);
	*before = fx_listing(sb->dir);
	assert_int_equal(fx_write_tar(sb->blob, e, n, FX_PLAIN), 0);
	err->msg[0] = '\0';
	return img__unpack(sb->blob, sb->layer, &res, NULL, NULL, &p, err);
}

struct refused {
	const char *what;
	struct fx_entry entries[3];
	size_t n;
	const char *entry; /* the name the error must quote */
	const char *why;   /* and the reason it must give */
};

static const struct refused refused[] = {
	{"whiteout of ..",
	 {{".wh...", 'f', "", 0644}},
	 1,
	 ".wh...",
	 "whiteout of \"..\""},
	{"whiteout of .",
	 {{".wh..", 'f', "", 0644}},
	 1,
	 ".wh..",
	 "whiteout of \".\""},
	{"whiteout of nothing",
	 {{".wh.", 'f', "", 0644}},
	 1,
	 ".wh.",
	 "empty whiteout"},
	{"whiteout of .. in a folder",
	 {{"a/", 'd', NULL, 0755}, {"a/.wh...", 'f', "", 0644}},
	 2,
	 "a/.wh...",
	 "whiteout of \"..\""},
	{"whiteout of .. after a leading ./",
	 {{"./.wh...", 'f', "", 0644}},
	 1,
	 "./.wh...",
	 "whiteout of \"..\""},
	{"a path up and out",
	 {{"a/", 'd', NULL, 0755}, {"a/../../x", 'f', "x\n", 0644}},
	 2,
	 "a/../../x",
	 "\"..\""},
	{"a path up and back in",
	 {{"a/", 'd', NULL, 0755}, {"a/../b", 'f', "b\n", 0644}},
	 2,
	 "a/../b",
	 "\"..\""},
	{"a . inside the path",
	 {{"a/", 'd', NULL, 0755}, {"./a/./b", 'f', "b\n", 0644}},
	 2,
	 "./a/./b",
	 "\".\""},
	{"a hard link through a . component",
	 {{"a/", 'd', NULL, 0755},
	  {"a/b", 'f', "b\n", 0644},
	  {"h", 'h', "a/./b", 0}},
	 3,
	 "a/./b",
	 "\".\""},
	{"a whiteout name as a folder",
	 {{".wh.a/", 'd', NULL, 0755}},
	 1,
	 ".wh.a/",
	 "folder"},
	{"a file under a whiteout name",
	 {{".wh.a/b", 'f', "b\n", 0644}},
	 1,
	 ".wh.a/b",
	 "folder"},
	{"the opaque marker as a folder",
	 {{"a/", 'd', NULL, 0755}, {"a/.wh..wh..opq/", 'd', NULL, 0755}},
	 2,
	 "a/.wh..wh..opq",
	 "folder"},
	{"a file under the opaque marker",
	 {{"a/", 'd', NULL, 0755}, {"a/.wh..wh..opq/b", 'f', "b\n", 0644}},
	 2,
	 "a/.wh..wh..opq/b",
	 "folder"},
};

static void dot_names_are_refused_and_nothing_outside_changes(void **state)
{
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		const struct refused *r = &refused[i];
		struct shoal_err err;
		struct sandbox sb;
		char name[16], *before, *after;
		bool same, said;
		int rc;

		snprintf(name, sizeof(name), "r%zu", i);
		rc = unpack(name, r->entries, r->n, &sb, &before, &err);
		img__rmrf(sb.layer);
		after = fx_listing(sb.dir);
		same = !strcmp(before, after);
		said = rc < 0 && strstr(err.msg, r->entry) &&
		       strstr(err.msg, r->why);
		if (!same)
			print_error(
				"%s: beside the layer, before:\n%safter:\n%s",
				r->what, before, after);
		if (!said)
			print_error("%s: rc=%d msg=\"%s\", want \"%s\" and "
				    "\"%s\"\n",
				    r->what, rc, err.msg, r->entry, r->why);
		else
			print_message("refused as expected: %s\n", err.msg);
		free(before);
		free(after);
		assert_true(same && said);
	}
}

static void ordinary_names_with_dots_still_unpack(void **state)
{
	static const struct fx_entry ok[] = {
		{"./", 'd', NULL, 0755},     {"./a/", 'd', NULL, 0755},
		{"./a/b", 'f', "b\n", 0644}, {"a/c..d", 'f', "c\n", 0644},
		{"a/..e", 'f', "e\n", 0644}, {"a/.f", 'f', "f\n", 0644},
		{"a/...", 'f', "g\n", 0644},
	};
	struct shoal_err err;
	struct sandbox sb;
	char *before, *after, p[256];
	struct stat st;

	assert_int_equal(unpack("ok", ok, sizeof(ok) / sizeof(ok[0]), &sb,
				&before, &err),
			 0);
	for (size_t i = 2; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", sb.layer, ok[i].path);
		assert_int_equal(stat(p, &st), 0);
	}
	img__rmrf(sb.layer);
	after = fx_listing(sb.dir);
	assert_string_equal(before, after);
	free(before);
	free(after);
}

/*
 * The DiffID: a plain layer's is the sha256 of the blob, computed by
 * OpenSSL in 1 MiB reads (checked against the fixtures' libsodium hash on
 * a 3 MiB file); img__unpack_known() takes a verified digest as the DiffID
 * of a plain blob without hashing it again (a stand-in digest proves it
 * was not recomputed), and still hashes the tar stream of a gzip blob.
 */
static void diff_id_is_hashed_once_and_right(void **state)
{
	(void)state;
	size_t big = 3u * 1024 * 1024 + 5;
	char *data = malloc(big + 1);
	assert_non_null(data);
	for (size_t i = 0; i < big; i++)
		data[i] = (char)('a' + (i * 7 + i / 4096) % 26);
	data[big] = '\0';
	const struct fx_entry e[] = {
		{"big", 'f', data, 0644},
		{"small", 'f', "s\n", 0644},
	};
	struct img__layer_result res, known;
	struct img_progress p = {0};
	struct shoal_err err = {0};
	struct sandbox sb;
	char blob_hex[65], layer2[200];
	static const char stand_in[] = "0123456789abcdef0123456789abcdef"
				       "0123456789abcdef0123456789abcdef";

	sandbox_make(&sb, "diffid");
	assert_int_equal(fx_write_tar(sb.blob, e, 2, FX_PLAIN), 0);
	assert_int_equal(fx_sha256_file(sb.blob, blob_hex), 0);
	assert_int_equal(img__unpack(sb.blob, NULL, &res, NULL, NULL, &p, &err),
			 0);
	assert_string_equal(res.diff_hex, blob_hex);
	assert_int_equal(res.size, big + 2);
	snprintf(layer2, sizeof(layer2), "%s/known", sb.dir);
	assert_int_equal(img__unpack_known(sb.blob, stand_in, layer2, &known,
					   NULL, NULL, &p, &err),
			 0);
	assert_string_equal(known.diff_hex, stand_in);
	assert_int_equal(known.size, big + 2);
	char path[260];
	snprintf(path, sizeof(path), "%s/big", layer2);
	size_t n;
	char *got = fx_read(path, &n);
	assert_non_null(got);
	assert_int_equal(n, big);
	assert_memory_equal(got, data, big);
	free(got);

	/* gzip: the blob's digest is not the DiffID; the stream is hashed. */
	assert_int_equal(fx_write_tar(sb.blob, e, 2, FX_GZIP), 0);
	assert_int_equal(fx_sha256_file(sb.blob, blob_hex), 0);
	assert_int_equal(img__unpack(sb.blob, NULL, &res, NULL, NULL, &p, &err),
			 0);
	assert_int_equal(img__unpack_known(sb.blob, blob_hex, NULL, &known,
					   NULL, NULL, &p, &err),
			 0);
	assert_string_not_equal(known.diff_hex, blob_hex);
	assert_string_equal(known.diff_hex, res.diff_hex);
	img__rmrf(sb.dir);
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			dot_names_are_refused_and_nothing_outside_changes),
		cmocka_unit_test(ordinary_names_with_dots_still_unpack),
		cmocka_unit_test(diff_id_is_hashed_once_and_right),
	};
	const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	int failed;

	shoal_alloc_install();
	log_set_level(LOG_LEVEL_ERROR);
	snprintf(run_root, sizeof(run_root), "%s/shoal-img-names.XXXXXX", tmp);
	if (!mkdtemp(run_root))
		return 1;
	failed = cmocka_run_group_tests(tests, NULL, NULL);
	img__rmrf(run_root);
	return failed;
}
