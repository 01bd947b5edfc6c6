/*
 * Unit tests of the image side of docker commit (image/layer_tar.c and
 * image/commit.c), no root needed: the layer tar of an overlay upper
 * folder (whiteout devices and opaque folders converted to Docker's
 * .wh. files, hard links, symbolic links recorded and never followed,
 * skipped paths, a stable DiffID), and img_commit() into a scratch
 * store: a layer image and an empty-layer image on top of it, their
 * configs, history (ids of the parent chain) and tags, and a bad change
 * or reference leaving the store as it was.
 */
/* cmocka needs these first */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "image/commit_internal.h"
#include "image/image.h"

static char root[] = "/tmp/unit-build-XXXXXX";
static bool have_whiteout, have_opaque;

static void put(const char *rel, const char *text)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/upper/%s", root, rel);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	char p[512];
	if (!mkdtemp(root))
		return -1;
	snprintf(p, sizeof(p), "%s/upper", root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/upper/a", root);
	mkdir(p, 0755);
	put("a/file", "hello\n");
	put("hostname", "skip me\n");
	snprintf(p, sizeof(p), "%s/upper/a/file", root);
	char q[512];
	snprintf(q, sizeof(q), "%s/upper/a/hard", root);
	assert_int_equal(link(p, q), 0);
	snprintf(q, sizeof(q), "%s/upper/a/link", root);
	assert_int_equal(symlink("/etc/passwd", q), 0);
	snprintf(q, sizeof(q), "%s/upper/gone", root);
	have_whiteout = mknod(q, S_IFCHR | 0600, makedev(0, 0)) == 0;
	snprintf(q, sizeof(q), "%s/upper/opq", root);
	mkdir(q, 0755);
	have_opaque = setxattr(q, "trusted.overlay.opaque", "y", 1, 0) == 0 ||
		      setxattr(q, "user.overlay.opaque", "y", 1, 0) == 0;
	snprintf(q, sizeof(q), "%s/empty", root);
	mkdir(q, 0755);
	return 0;
}

static int teardown(void **state)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	return system(cmd) == 0 ? 0 : -1;
}

/* The entries of tar @path as "name type [target]" lines. */
static void entries(const char *path, char *out, size_t cap)
{
	struct archive *a = archive_read_new();
	archive_read_support_format_tar(a);
	assert_int_equal(archive_read_open_filename(a, path, 10240),
			 ARCHIVE_OK);
	struct archive_entry *e;
	out[0] = '\0';
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		const char *hl = archive_entry_hardlink(e);
		const char *sl = archive_entry_symlink(e);
		char line[600];
		snprintf(line, sizeof(line), "%s %s%s%s\n",
			 archive_entry_pathname(e),
			 hl   ? "hardlink "
			 : sl ? "symlink "
			      : "",
			 hl   ? hl
			 : sl ? sl
			      : "",
			 archive_entry_filetype(e) == AE_IFDIR ? "dir" : "");
		strncat(out, line, cap - strlen(out) - 1);
	}
	archive_read_free(a);
}

static void the_layer_tar_converts_overlay_to_docker(void **state)
{
	char upper[512], tar[512], list[8192];
	snprintf(upper, sizeof(upper), "%s/upper", root);
	snprintf(tar, sizeof(tar), "%s/layer.tar", root);
	static const char *const skip[] = {"hostname", NULL};
	struct img__layer_tar_result r1, r2;
	struct shoal_err err = {""};
	int fd = open(tar, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(img__layer_tar(upper, skip, fd, &r1, &err), 0);
	close(fd);
	entries(tar, list, sizeof(list));
	assert_non_null(strstr(list, "a/ dir\n"));
	assert_non_null(strstr(list, "a/file \n"));
	/* The second name of the inode is a hard link to the first. */
	assert_non_null(strstr(list, "a/hard hardlink a/file\n")
				?: strstr(list, "a/file hardlink a/hard\n"));
	assert_non_null(strstr(list, "a/link symlink /etc/passwd\n"));
	assert_null(strstr(list, "hostname"));
	if (have_whiteout)
		assert_non_null(strstr(list, ".wh.gone \n"));
	if (have_opaque)
		assert_non_null(strstr(list, "opq/.wh..wh..opq \n"));
	/* The same tree gives the same bytes. */
	fd = open(tar, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(img__layer_tar(upper, skip, fd, &r2, &err), 0);
	close(fd);
	assert_string_equal(r1.hex, r2.hex);
	/* An empty folder has no entries. */
	snprintf(upper, sizeof(upper), "%s/empty", root);
	fd = open(tar, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(img__layer_tar(upper, NULL, fd, &r1, &err), 0);
	close(fd);
	assert_int_equal(r1.entries, 0);
}

static void commit_makes_images_with_history(void **state)
{
	char data[512], upper[512], empty[512], id1[DIGEST_STR_LEN],
		id2[DIGEST_STR_LEN];
	snprintf(data, sizeof(data), "%s/data", root);
	snprintf(upper, sizeof(upper), "%s/upper", root);
	snprintf(empty, sizeof(empty), "%s/empty", root);
	mkdir(data, 0755);
	struct img_store *s;
	struct shoal_err err = {""};
	assert_int_equal(img_store_open(data, &s, &err), 0);
	static const char *const changes[] = {"CMD [\"cat\", \"/a/file\"]"};
	struct img_commit_opts o = {.reference = "one:v1",
				    .changes = changes,
				    .n_changes = 1,
				    .comment = "first",
				    .created_by = "sh -c make"};
	assert_int_equal(img_commit(s, upper, &o, id1, &err), 0);
	struct img_image *img;
	assert_int_equal(img_resolve(s, "one:v1", &img, &err), 0);
	assert_int_equal(img->n_layers, 1);
	assert_string_equal(img->config.cmd[1], "/a/file");
	assert_string_equal(img->comment, "first");
	char p[600];
	snprintf(p, sizeof(p), "%s/a/file", img->layer_dirs[0]);
	assert_int_equal(access(p, R_OK), 0);
	img_image_free(img);

	/* Nothing changed: no layer, an empty_layer entry. */
	struct img_commit_opts o2 = {
		.parent = "one:v1", .reference = "two", .comment = "second"};
	assert_int_equal(img_commit(s, empty, &o2, id2, &err), 0);
	assert_int_equal(img_resolve(s, "two", &img, &err), 0);
	assert_int_equal(img->n_layers, 1);
	assert_string_equal(img->config.cmd[0], "cat");
	img_image_free(img);
	json_t *h;
	assert_int_equal(img_history_json(s, "two", &h, &err), 0);
	assert_int_equal(json_array_size(h), 2);
	const json_t *top = json_array_get(h, 0), *below = json_array_get(h, 1);
	assert_string_equal(json_string_value(json_object_get(top, "Id")), id2);
	assert_int_equal(json_integer_value(json_object_get(top, "Size")), 0);
	assert_string_equal(json_string_value(json_object_get(below, "Id")),
			    id1);
	assert_string_equal(
		json_string_value(json_object_get(below, "CreatedBy")),
		"sh -c make");
	assert_true(json_integer_value(json_object_get(below, "Size")) > 0);
	json_decref(h);

	/* Refusals leave the store as it was. */
	json_t *before, *after;
	assert_int_equal(img_list_json(s, &before, &err), 0);
	static const char *const bad[] = {"FROBNICATE x"};
	struct img_commit_opts o3 = {
		.parent = "one:v1", .changes = bad, .n_changes = 1};
	assert_int_equal(img_commit(s, upper, &o3, id2, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "not a valid change command"));
	struct img_commit_opts o4 = {.parent = "one:v1", .reference = "A:B:C"};
	assert_int_equal(img_commit(s, upper, &o4, id2, &err), -EINVAL);
	struct img_commit_opts o5 = {.parent = "nosuch:1"};
	assert_int_equal(img_commit(s, upper, &o5, id2, &err), SHOAL_ENOTFOUND);
	assert_int_equal(img_list_json(s, &after, &err), 0);
	assert_true(json_equal(before, after));
	json_decref(before);
	json_decref(after);
	img_store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_layer_tar_converts_overlay_to_docker),
		cmocka_unit_test(commit_makes_images_with_history),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
