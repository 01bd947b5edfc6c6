/*
 * System tests of the image store, as root: whiteouts become the 0/0
 * character devices and trusted.overlay.opaque xattrs overlayfs reads;
 * owners and set-id bits survive unpacking; an
 * overlay mount of an image's layer folders shows the merged tree a
 * container will see; and the busybox image scripts/mkimage-busybox builds
 * imports and runs. Mounts happen in a private mount namespace of a child
 * process, so nothing outlives a test, even a failed one.
 *
 * Without root the binary exits 77 (ctest's "skipped") with a message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/log.h"
#include "image/image.h"
#include "image/internal.h"
#include "tests/unit/image/image_fixtures.h"

struct env {
	char root[80];
	char work[128];
	struct img_store *s;
	struct shoal_err err;
};

/* Every test's folder lives in one folder per run, removed by main()
 * even when a failed test skipped its teardown. */
static char run_root[40];

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	snprintf(e->root, sizeof(e->root), "%s/t.XXXXXX", run_root);
	if (!mkdtemp(e->root))
		return -1;
	snprintf(e->work, sizeof(e->work), "%s/work", e->root);
	mkdir(e->work, 0700);
	if (img_store_open(e->root, &e->s, &e->err) < 0)
		return -1;
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	img_store_close(e->s);
	img__rmrf(e->root);
	free(e);
	return 0;
}

static struct img_image *load_fixture(struct env *e)
{
	char save[256];
	snprintf(save, sizeof(save), "%s/save.tar", e->work);
	assert_int_equal(fx_docker_save(e->work, save, fx_base_layer,
					fx_base_layer_n, fx_upper_layer,
					fx_upper_layer_n, fx_config_fmt, "wh:1",
					NULL),
			 0);
	int fd = open(save, O_RDONLY);
	assert_true(fd >= 0);
	int rc = img_load(e->s, fd, NULL, NULL, NULL, &e->err);
	close(fd);
	if (rc < 0)
		fail_msg("load: %s", e->err.msg);
	struct img_image *img;
	assert_int_equal(img_resolve(e->s, "wh:1", &img, &e->err), 0);
	return img;
}

static void whiteouts_become_overlay_whiteouts(void **state)
{
	struct env *e = *state;
	struct img_image *img = load_fixture(e);
	char p[512];
	struct stat st;
	snprintf(p, sizeof(p), "%s/etc/old", img->layer_dirs[1]);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(major(st.st_rdev), 0);
	assert_int_equal(minor(st.st_rdev), 0);
	char val[8] = "";
	snprintf(p, sizeof(p), "%s/dir", img->layer_dirs[1]);
	assert_int_equal(
		lgetxattr(p, "trusted.overlay.opaque", val, sizeof(val)), 1);
	assert_int_equal(val[0], 'y');
	/* The lower layer keeps what the upper one hides. */
	snprintf(p, sizeof(p), "%s/etc/old", img->layer_dirs[0]);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_uid, 0);
	img_image_free(img);
}

static void ownership_and_set_id_bits_survive_unpacking(void **state)
{
	struct env *e = *state;
	const struct fx_entry layer[] = {
		{"bin/", 'd', NULL, 0755},
		{"bin/su", 'u', "#!fake su\n", 04755},
	};
	char out[256];
	snprintf(out, sizeof(out), "%s/owned.tar", e->work);
	assert_int_equal(fx_oci_layout(e->work, out, layer, 2, "owned:1", NULL),
			 0);
	int fd = open(out, O_RDONLY);
	int rc = img_load(e->s, fd, NULL, NULL, NULL, &e->err);
	close(fd);
	if (rc < 0)
		fail_msg("load: %s", e->err.msg);
	struct img_image *img;
	assert_int_equal(img_resolve(e->s, "owned:1", &img, &e->err), 0);
	char p[512];
	struct stat st;
	snprintf(p, sizeof(p), "%s/bin/su", img->layer_dirs[0]);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_uid, 1234);
	assert_int_equal(st.st_gid, 5678);
	assert_int_equal(st.st_mode & 07777, 04755);
	img_image_free(img);
}

static bool have_overlay(void)
{
	FILE *f = fopen("/proc/filesystems", "r");
	char line[128];
	bool ok = false;
	while (f && fgets(line, sizeof(line), f))
		ok |= strcmp(line, "nodev\toverlay\n") == 0;
	if (f)
		fclose(f);
	return ok;
}

/* In a child with its own mount namespace: mount @lower (':'-joined, top
 * first) at @at, then check the merged view. Returns the child's status. */
static int check_merged(const char *lower, const char *at)
{
	pid_t pid = fork();
	if (pid == 0) {
		if (unshare(CLONE_NEWNS) < 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
			_exit(10);
		char opts[4096];
		snprintf(opts, sizeof(opts), "lowerdir=%s", lower);
		if (mount("overlay", at, "overlay", MS_RDONLY, opts) < 0)
			_exit(11);
		char p[512];
		struct stat st;
		snprintf(p, sizeof(p), "%s/etc/old", at);
		if (lstat(p, &st) == 0)
			_exit(12); /* whiteout not honoured */
		snprintf(p, sizeof(p), "%s/dir/a", at);
		if (lstat(p, &st) == 0)
			_exit(13); /* opaque folder not honoured */
		snprintf(p, sizeof(p), "%s/dir/c", at);
		if (lstat(p, &st) < 0)
			_exit(14);
		snprintf(p, sizeof(p), "%s/bin/sh", at);
		char *sh = fx_read(p, NULL);
		if (!sh || strcmp(sh, "#!upper shell\n"))
			_exit(15);
		snprintf(p, sizeof(p), "%s/etc/passwd", at);
		if (lstat(p, &st) < 0)
			_exit(16);
		_exit(0);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

static void overlay_mount_of_the_layers_shows_the_merged_tree(void **state)
{
	struct env *e = *state;
	if (!have_overlay()) {
		print_message("skipped: the kernel has no overlay support\n");
		skip();
	}
	struct img_image *img = load_fixture(e);
	char *lower = img_lowerdir(img), at[256];
	snprintf(at, sizeof(at), "%s/merged", e->work);
	mkdir(at, 0755);
	assert_int_equal(check_merged(lower, at), 0);
	shoal_free(lower);
	img_image_free(img);
}

static void busybox_image_from_mkimage_imports_and_runs(void **state)
{
	struct env *e = *state;
	const char *src = getenv("SHOAL_SOURCE_DIR");
	if (!src)
		src = SHOAL_TEST_SOURCE_DIR;
	char cmd[1024], tar[256];
	snprintf(tar, sizeof(tar), "%s/busybox.tar", e->work);
	snprintf(cmd, sizeof(cmd), "%s/scripts/mkimage-busybox %s", src, tar);
	assert_int_equal(system(cmd), 0);
	const char *changes[] = {"CMD [\"/bin/sh\"]", "ENV PATH=/bin:/sbin"};
	struct img_import_opts o = {.reference = "busybox:latest",
				    .changes = changes,
				    .n_changes = 2};
	int fd = open(tar, O_RDONLY);
	char id[DIGEST_STR_LEN];
	int rc = img_import(e->s, fd, &o, id, &e->err);
	close(fd);
	if (rc < 0)
		fail_msg("import: %s", e->err.msg);
	struct img_image *img;
	assert_int_equal(img_resolve(e->s, "busybox", &img, &e->err), 0);
	assert_string_equal(img->config.cmd[0], "/bin/sh");
	char p[512];
	struct stat st;
	snprintf(p, sizeof(p), "%s/bin/busybox", img->layer_dirs[0]);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	snprintf(p, sizeof(p), "%s/tmp", img->layer_dirs[0]);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 01777);

	/* The image runs: busybox in a chroot of the layer. */
	int pipefd[2];
	assert_int_equal(pipe(pipefd), 0);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(pipefd[1], 1);
		if (chroot(img->layer_dirs[0]) < 0 || chdir("/") < 0)
			_exit(20);
		execl("/bin/sh", "sh", "-c", "echo hello from $(basename $0)",
		      (char *)NULL);
		_exit(21);
	}
	close(pipefd[1]);
	char out[128] = "";
	ssize_t n = read(pipefd[0], out, sizeof(out) - 1);
	close(pipefd[0]);
	int status;
	waitpid(pid, &status, 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_true(n > 0);
	assert_string_equal(out, "hello from sh\n");
	img_image_free(img);
}

/* In a child with its own mount namespace: the image's layers under a
 * writable upper folder, as a container gets them; run @script in it. */
static int run_on_overlay(const char *lower, const char *work,
			  const char *script)
{
	pid_t pid = fork();
	if (pid == 0) {
		char upper[256], wd[256], merged[256], opts[4096];
		snprintf(upper, sizeof(upper), "%s/upper", work);
		snprintf(wd, sizeof(wd), "%s/ovl-work", work);
		snprintf(merged, sizeof(merged), "%s/rootfs", work);
		mkdir(upper, 0755);
		mkdir(wd, 0700);
		mkdir(merged, 0755);
		snprintf(opts, sizeof(opts),
			 "lowerdir=%s,upperdir=%s,workdir=%s", lower, upper,
			 wd);
		if (unshare(CLONE_NEWNS) < 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		    mount("overlay", merged, "overlay", 0, opts) < 0)
			_exit(30);
		if (chroot(merged) < 0 || chdir("/") < 0)
			_exit(31);
		execl("/bin/sh", "sh", "-c", script, (char *)NULL);
		_exit(32);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

static void a_container_writes_to_its_upper_layer_only(void **state)
{
	struct env *e = *state;
	if (!have_overlay()) {
		print_message("skipped: the kernel has no overlay support\n");
		skip();
	}
	const char *src = getenv("SHOAL_SOURCE_DIR");
	char cmd[1024], tar[256];
	snprintf(tar, sizeof(tar), "%s/busybox.tar", e->work);
	snprintf(cmd, sizeof(cmd), "%s/scripts/mkimage-busybox %s",
		 src ? src : SHOAL_TEST_SOURCE_DIR, tar);
	assert_int_equal(system(cmd), 0);
	struct img_import_opts o = {.reference = "bb:ovl"};
	int fd = open(tar, O_RDONLY);
	char id[DIGEST_STR_LEN];
	assert_int_equal(img_import(e->s, fd, &o, id, &e->err), 0);
	close(fd);
	struct img_image *img;
	assert_int_equal(img_resolve(e->s, "bb:ovl", &img, &e->err), 0);
	char *lower = img_lowerdir(img);
	/* Writes, deletes and reads in the container's root... */
	assert_int_equal(run_on_overlay(lower, e->work,
					"echo written > /tmp/new && "
					"rm /etc/group && "
					"test ! -e /etc/group && "
					"grep -q '^root:' /etc/passwd"),
			 0);
	/* ...land in its upper folder, never in the shared layer. */
	char p[512];
	struct stat st;
	snprintf(p, sizeof(p), "%s/upper/tmp/new", e->work);
	assert_int_equal(stat(p, &st), 0);
	snprintf(p, sizeof(p), "%s/upper/etc/group", e->work);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISCHR(st.st_mode)); /* overlay's own whiteout */
	snprintf(p, sizeof(p), "%s/etc/group", img->layer_dirs[0]);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	snprintf(p, sizeof(p), "%s/tmp/new", img->layer_dirs[0]);
	assert_int_not_equal(lstat(p, &st), 0);
	shoal_free(lower);
	img_image_free(img);
}

int main(void)
{
	if (geteuid() != 0) {
		printf("skipped: the image system tests need root "
		       "(whiteout devices, trusted.* xattrs, overlay "
		       "mounts)\n");
		return 77;
	}
	shoal_alloc_install();
	log_set_level(LOG_LEVEL_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			whiteouts_become_overlay_whiteouts, setup, teardown),
		cmocka_unit_test_setup_teardown(
			ownership_and_set_id_bits_survive_unpacking, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			overlay_mount_of_the_layers_shows_the_merged_tree,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			busybox_image_from_mkimage_imports_and_runs, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			a_container_writes_to_its_upper_layer_only, setup,
			teardown),
	};
	snprintf(run_root, sizeof(run_root), "/tmp/shoal-img-sys.XXXXXX");
	if (!mkdtemp(run_root))
		return 1;
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	img__rmrf(run_root);
	return failed;
}
