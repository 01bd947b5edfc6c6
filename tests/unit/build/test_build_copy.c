/*
 * Unit tests of the builder's file work (engine/build_copy.c), no root:
 * paths are cleaned and ".." above the root refused; a copy resolves
 * sources inside the context, so a symbolic link to a host path is
 * copied as a link and a link used as a folder on the way stays inside
 * the context; folders copy their contents; wildcards match the last
 * component; .dockerignore removes what it names (with "!" exceptions)
 * and keeps the Dockerfile; the copy's digest follows the contents.
 */
/* cmocka needs these first */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "engine/build_internal.h"

static char root[] = "/tmp/unit-build-copy-XXXXXX";
static int ctx = -1, dst = -1;

static void put(const char *rel, const char *text)
{
	int fd = openat(ctx, rel, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static bool exists(int dir, const char *rel)
{
	struct stat st;
	return fstatat(dir, rel, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static int setup(void **state)
{
	char p[256];
	if (!mkdtemp(root))
		return -1;
	snprintf(p, sizeof(p), "%s/ctx", root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/dst", root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/ctx", root);
	ctx = open(p, O_RDONLY | O_DIRECTORY);
	snprintf(p, sizeof(p), "%s/dst", root);
	dst = open(p, O_RDONLY | O_DIRECTORY);
	return ctx >= 0 && dst >= 0 ? 0 : -1;
}

static int teardown(void **state)
{
	close(ctx);
	close(dst);
	return eng__build_rmrf(root) == 0 ? 0 : -1;
}

static void paths_are_cleaned_and_kept_inside(void **state)
{
	char out[256];
	assert_int_equal(eng__build_clean("./a//b/./c/", out, sizeof(out)), 0);
	assert_string_equal(out, "a/b/c");
	assert_int_equal(eng__build_clean("a/../b", out, sizeof(out)), 0);
	assert_string_equal(out, "b");
	assert_int_equal(eng__build_clean("/", out, sizeof(out)), 0);
	assert_string_equal(out, "");
	assert_int_equal(eng__build_clean("../x", out, sizeof(out)), -EPERM);
	assert_int_equal(eng__build_clean("a/../../x", out, sizeof(out)),
			 -EPERM);
}

static void copies_stay_inside_the_context(void **state)
{
	unsigned char h1[32], h2[32];
	struct shoal_err err = {""};
	struct bc_copy_opts o = {0};
	mkdirat(ctx, "dir", 0755);
	put("dir/a.txt", "a\n");
	put("f.txt", "f\n");
	assert_int_equal(symlinkat("/etc", ctx, "hostetc"), 0);
	assert_int_equal(symlinkat("/etc/passwd", ctx, "pw"), 0);
	/* A folder's contents into the destination. */
	assert_int_equal(
		eng__build_copy(ctx, "dir", dst, "out", false, &o, h1, &err),
		0);
	assert_true(exists(dst, "out/a.txt"));
	assert_false(exists(dst, "out/dir"));
	/* A link is copied as a link. */
	assert_int_equal(
		eng__build_copy(ctx, "pw", dst, "pw", false, &o, h2, &err), 0);
	char target[64] = "";
	assert_true(readlinkat(dst, "pw", target, sizeof(target)) > 0);
	assert_string_equal(target, "/etc/passwd");
	/* Through a link to a host folder: resolved inside the context,
	 * where /etc/passwd does not exist. */
	assert_int_equal(eng__build_copy(ctx, "hostetc/passwd", dst, "stolen",
					 false, &o, h2, &err),
			 -ENOENT);
	assert_non_null(strstr(err.msg, "file not found in build context"));
	assert_false(exists(dst, "stolen"));
	/* The digest follows the contents. */
	put("dir/a.txt", "changed\n");
	assert_int_equal(
		eng__build_copy(ctx, "dir", dst, "out2", false, &o, h2, &err),
		0);
	assert_memory_not_equal(h1, h2, 32);
}

static void wildcards_and_dockerignore(void **state)
{
	put("x1.go", "1");
	put("x2.go", "2");
	put("y.txt", "y");
	put("Dockerfile", "FROM a\n");
	mkdirat(ctx, "build", 0755);
	put("build/out", "o");
	put("keep.md", "k");
	put("drop.md", "d");
	char **m;
	size_t n;
	struct shoal_err err = {""};
	assert_int_equal(eng__build_glob(ctx, "x*.go", &m, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(m[0], "x1.go");
	assert_string_equal(m[1], "x2.go");
	for (size_t i = 0; i < n; i++)
		shoal_free(m[i]);
	shoal_free(m);
	assert_int_equal(eng__build_glob(ctx, "*/x.go", &m, &n, &err), -EINVAL);
	put(".dockerignore", "# comment\nbuild\n*.md\n!keep.md\nDockerfile\n");
	assert_int_equal(eng__build_dockerignore(ctx, "Dockerfile", &err), 0);
	assert_false(exists(ctx, "build"));
	assert_false(exists(ctx, "drop.md"));
	assert_true(exists(ctx, "keep.md"));
	assert_true(exists(ctx, "Dockerfile"));
	assert_true(exists(ctx, "x1.go"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(paths_are_cleaned_and_kept_inside),
		cmocka_unit_test(copies_stay_inside_the_context),
		cmocka_unit_test(wildcards_and_dockerignore),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
