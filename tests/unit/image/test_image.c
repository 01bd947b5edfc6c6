/*
 * Unit tests of the image store (runtime/image*.c), without root: import,
 * docker-save and OCI loads, reference resolution, tags, removal rules,
 * in-use refusal, rejection of damaged archives with nothing left behind,
 * --change parsing, the async jobs on a libuv loop, and leaks.
 *
 * Checks that need root (whiteout device nodes, trusted.* xattrs, an
 * overlay mount) live in tests/system/image.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/error.h"
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
	if (img_store_open(e->root, &e->s, &e->err) < 0) {
		fprintf(stderr, "open: %s\n", e->err.msg);
		return -1;
	}
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

static char *wpath(struct env *e, const char *name)
{
	static char p[4][256];
	static int i;
	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", e->work, name);
	return p[i];
}

/* The "ref" of entry @i of img_load()'s report. */
static const char *loaded_ref(const json_t *loaded, size_t i)
{
	return json_string_value(
		json_object_get(json_array_get(loaded, i), "ref"));
}

static int load_file(struct env *e, const char *path, json_t **loaded)
{
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	int rc = img_load(e->s, fd, NULL, NULL, loaded, &e->err);
	close(fd);
	return rc;
}

static int import_file(struct env *e, const char *path,
		       const struct img_import_opts *o, char *id)
{
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	int rc = img_import(e->s, fd, o, id, &e->err);
	close(fd);
	return rc;
}

static char *store_listing(struct env *e)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/images", e->root);
	return fx_listing(p);
}

static void assert_file(const char *dir, const char *name, const char *text)
{
	char p[1024];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	char *d = fx_read(p, NULL);
	assert_non_null(d);
	assert_string_equal(d, text);
	free(d);
}

static const struct fx_entry rootfs[] = {
	{"./", 'd', NULL, 0755},
	{"./bin/", 'd', NULL, 0755},
	{"./bin/busybox", 'f', "#!fake busybox\n", 0755},
	{"./bin/sh", 'l', "busybox", 0777},
	{"./etc/", 'd', NULL, 0755},
	{"./etc/passwd", 'f', "root:x:0:0::/root:/bin/sh\n", 0644},
	{"./tmp/", 'd', NULL, 01777},
};

/* Import ---------------------------------------------------------------- */

static void imported_rootfs_resolves_to_its_layer_and_config(void **state)
{
	struct env *e = *state;
	char *tar = wpath(e, "rootfs.tar.gz");
	assert_int_equal(fx_write_tar(tar, rootfs, 7, FX_GZIP), 0);
	const char *changes[] = {
		"CMD echo hello world",
		"ENTRYPOINT [\"/bin/sh\", \"-c\"]",
		"ENV A=1 B=\"two words\"",
		"env C three words",
		"WORKDIR /srv",
		"WORKDIR app",
		"USER nobody",
		"EXPOSE 80 53/udp",
		"LABEL org.example=\"a b\"",
		"VOLUME [\"/data\"]",
	};
	struct img_import_opts o = {.reference = "example/rootfs:v1",
				    .changes = changes,
				    .n_changes = 10};
	char id[DIGEST_STR_LEN];
	assert_int_equal(import_file(e, tar, &o, id), 0);
	assert_int_equal(strncmp(id, "sha256:", 7), 0);

	struct img_image *img;
	assert_int_equal(img_resolve(e->s, "example/rootfs:v1", &img, &e->err),
			 0);
	assert_string_equal(img->id, id);
	assert_string_equal(img->repo_tags[0], "example/rootfs:v1");
	assert_null(img->repo_tags[1]);
	assert_int_equal(img->n_layers, 1);
	assert_file(img->layer_dirs[0], "bin/busybox", "#!fake busybox\n");
	assert_file(img->layer_dirs[0], "etc/passwd",
		    "root:x:0:0::/root:/bin/sh\n");
	char p[1024], target[64] = "";
	snprintf(p, sizeof(p), "%s/bin/sh", img->layer_dirs[0]);
	assert_int_equal(readlink(p, target, sizeof(target) - 1), 7);
	assert_string_equal(target, "busybox");
	struct stat st;
	snprintf(p, sizeof(p), "%s/tmp", img->layer_dirs[0]);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 01777);
	assert_int_equal(img->size, 15 + 26);

	const struct img_config *c = &img->config;
	assert_string_equal(c->cmd[0], "/bin/sh");
	assert_string_equal(c->cmd[1], "-c");
	assert_string_equal(c->cmd[2], "echo hello world");
	assert_string_equal(c->entrypoint[0], "/bin/sh");
	assert_string_equal(c->entrypoint[1], "-c");
	assert_null(c->entrypoint[2]);
	assert_string_equal(c->env[0], "A=1");
	assert_string_equal(c->env[1], "B=two words");
	assert_string_equal(c->env[2], "C=three words");
	assert_string_equal(c->working_dir, "/srv/app");
	assert_string_equal(c->user, "nobody");
	assert_int_equal(c->n_labels, 1);
	assert_string_equal(c->labels[0].value, "a b");
	assert_string_equal(c->volumes[0], "/data");
	assert_string_equal(img->os, "linux");
	assert_non_null(img->architecture);
	assert_true(img->created_ns > 0);
	img_image_free(img);

	/* The same image under every name a user may type. */
	const char *refs[] = {"docker.io/example/rootfs:v1", id, id + 7,
			      "sha256:0", NULL};
	char shortid[13];
	snprintf(shortid, sizeof(shortid), "%.12s", id + 7);
	refs[3] = shortid;
	for (int i = 0; refs[i]; i++) {
		assert_int_equal(img_resolve(e->s, refs[i], &img, &e->err), 0);
		assert_string_equal(img->id, id);
		img_image_free(img);
	}
	assert_int_equal(img_resolve(e->s, "example/rootfs", &img, &e->err),
			 SHOAL_ENOTFOUND);
	assert_string_equal(e->err.msg, "No such image: example/rootfs:latest");
}

static void import_accepts_every_compression(void **state)
{
	struct env *e = *state;
	const enum fx_filter filters[] = {FX_PLAIN, FX_GZIP, FX_BZIP2, FX_XZ,
					  FX_ZSTD};
	const char *names[] = {"plain", "gzip", "bzip2", "xz", "zstd"};
	char first[512] = "";
	for (int i = 0; i < 5; i++) {
		char *tar = wpath(e, names[i]);
		if (fx_write_tar(tar, rootfs, 7, filters[i]) < 0) {
			print_message("%s: cannot write it here; skipped\n",
				      names[i]);
			continue;
		}
		char ref[64], id[DIGEST_STR_LEN];
		snprintf(ref, sizeof(ref), "comp:%s", names[i]);
		struct img_import_opts o = {.reference = ref};
		if (import_file(e, tar, &o, id) < 0)
			fail_msg("%s: %s", names[i], e->err.msg);
		struct img_image *img;
		assert_int_equal(img_resolve(e->s, ref, &img, &e->err), 0);
		assert_file(img->layer_dirs[0], "bin/busybox",
			    "#!fake busybox\n");
		/* Every compression of one tar has one DiffID: one folder. */
		if (!first[0])
			snprintf(first, sizeof(first), "%s",
				 img->layer_dirs[0]);
		assert_string_equal(img->layer_dirs[0], first);
		img_image_free(img);
	}
}

/*
 * An archive that starts like lzop's output, with a fake lzop (and lrzip,
 * grzip) first on PATH that leaves a marker: import and load refuse it and
 * the program never runs. libarchive's "every filter" ran such programs.
 */
static void compressions_without_a_library_are_refused_never_run(void **state)
{
	struct env *e = *state;
	static const char *const progs[] = {"lzop", "lrzip", "grzip",
					    "lz4",  "lzip",  "zstd"};
	char bin[256], marker[256], prog[300], path[1024];
	snprintf(bin, sizeof(bin), "%s/bin", e->work);
	snprintf(marker, sizeof(marker), "%s/ran", e->work);
	assert_int_equal(mkdir(bin, 0755), 0);
	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		snprintf(prog, sizeof(prog), "%s/%s", bin, progs[i]);
		FILE *f = fopen(prog, "w");
		assert_non_null(f);
		fprintf(f, "#!/bin/sh\necho %s >>%s\ncat >/dev/null\n",
			progs[i], marker);
		fclose(f);
		chmod(prog, 0755);
	}
	const char *old = getenv("PATH");
	char *saved = old ? strdup(old) : NULL;
	snprintf(path, sizeof(path), "%s:%s", bin, old ? old : "/usr/bin");
	setenv("PATH", path, 1);
	char *lzo = wpath(e, "x.tar.lzo");
	FILE *f = fopen(lzo, "w");
	assert_non_null(f);
	fwrite("\x89LZO\x00\r\n\x1a\n\x10\x30\x20\xa0", 1, 13, f);
	for (int i = 0; i < 4096; i++)
		fputc(i * 7, f);
	fclose(f);
	char id[DIGEST_STR_LEN];
	struct img_import_opts o = {.reference = "lzo:x"};
	assert_true(import_file(e, lzo, &o, id) < 0);
	assert_true(load_file(e, lzo, NULL) < 0);
	if (saved)
		setenv("PATH", saved, 1);
	free(saved);
	struct stat st;
	assert_int_not_equal(stat(marker, &st), 0); /* nothing ran */
}

static void import_refuses_a_bad_change_and_leaves_nothing(void **state)
{
	struct env *e = *state;
	char *tar = wpath(e, "rootfs.tar");
	assert_int_equal(fx_write_tar(tar, rootfs, 7, FX_PLAIN), 0);
	char *before = store_listing(e);
	const char *changes[] = {"RUN rm -rf /"};
	struct img_import_opts o = {.changes = changes, .n_changes = 1};
	char id[DIGEST_STR_LEN];
	assert_int_equal(import_file(e, tar, &o, id), -EINVAL);
	assert_string_equal(e->err.msg, "run is not a valid change command");
	o.n_changes = 0;
	o.reference = "Bad/Name";
	assert_int_equal(import_file(e, tar, &o, id), -EINVAL);
	assert_non_null(strstr(e->err.msg, "invalid reference format"));
	/* Not a tar at all. */
	char *junk = wpath(e, "junk");
	FILE *f = fopen(junk, "w");
	fputs("this is not an archive, only some text\n", f);
	fclose(f);
	o.reference = NULL;
	assert_int_equal(import_file(e, junk, &o, id), SHOAL_ECORRUPT);
	assert_non_null(strstr(e->err.msg, "not a tar"));
	char *after = store_listing(e);
	assert_string_equal(before, after);
	free(before);
	free(after);
}

struct feeder {
	int fd;
	char *data;
	size_t len;
};

static void *feed(void *arg)
{
	struct feeder *f = arg;
	for (size_t off = 0; off < f->len;) {
		ssize_t n = write(f->fd, f->data + off, f->len - off);
		if (n < 0 && errno == EAGAIN) {
			usleep(1000);
			continue;
		}
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(f->fd);
	return NULL;
}

static void import_and_load_read_from_nonblocking_pipes(void **state)
{
	struct env *e = *state;
	char *tar = wpath(e, "rootfs.tar.gz"), *save = wpath(e, "save.tar");
	assert_int_equal(fx_write_tar(tar, rootfs, 7, FX_GZIP), 0);
	assert_int_equal(fx_docker_save(e->work, save, fx_base_layer,
					fx_base_layer_n, fx_upper_layer,
					fx_upper_layer_n, fx_config_fmt,
					"piped:2", NULL),
			 0);
	for (int round = 0; round < 2; round++) {
		int p[2];
		assert_int_equal(pipe2(p, O_NONBLOCK), 0);
		struct feeder f = {p[1], NULL, 0};
		f.data = fx_read(round ? save : tar, &f.len);
		pthread_t t;
		assert_int_equal(pthread_create(&t, NULL, feed, &f), 0);
		int rc;
		if (round == 0) {
			struct img_import_opts o = {.reference = "piped:1"};
			char id[DIGEST_STR_LEN];
			rc = img_import(e->s, p[0], &o, id, &e->err);
		} else {
			rc = img_load(e->s, p[0], NULL, NULL, NULL, &e->err);
		}
		pthread_join(t, NULL);
		close(p[0]);
		free(f.data);
		if (rc < 0)
			fail_msg("round %d: %s", round, e->err.msg);
	}
	struct img_image *img;
	assert_int_equal(img_resolve(e->s, "piped:1", &img, &e->err), 0);
	assert_string_equal(img->comment, "Imported from -");
	img_image_free(img);
	assert_int_equal(img_resolve(e->s, "piped:2", &img, &e->err), 0);
	img_image_free(img);
}

static void implied_folders_are_0755_whatever_the_umask(void **state)
{
	struct env *e = *state;
	const struct fx_entry layer[] = {{"a/b/c/file", 'f', "x\n", 0644}};
	char *tar = wpath(e, "implied.tar");
	assert_int_equal(fx_write_tar(tar, layer, 1, FX_PLAIN), 0);
	mode_t old = umask(077);
	struct img_import_opts o = {.reference = "implied:1"};
	char id[DIGEST_STR_LEN];
	int rc = import_file(e, tar, &o, id);
	umask(old);
	assert_int_equal(rc, 0);
	struct img_image *img;
	assert_int_equal(img_resolve(e->s, "implied:1", &img, &e->err), 0);
	const char *dirs[] = {"", "/a", "/a/b", "/a/b/c"};
	for (int i = 0; i < 4; i++) {
		char p[512];
		struct stat st;
		snprintf(p, sizeof(p), "%s%s", img->layer_dirs[0], dirs[i]);
		assert_int_equal(stat(p, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0755);
	}
	img_image_free(img);
}

/* Load ------------------------------------------------------------------ */

static void docker_save_archive_loads_with_layers_in_order(void **state)
{
	struct env *e = *state;
	char *out = wpath(e, "save.tar");
	char cid[65];
	assert_int_equal(fx_docker_save(e->work, out, fx_base_layer,
					fx_base_layer_n, fx_upper_layer,
					fx_upper_layer_n, fx_config_fmt,
					"busybox:latest", cid),
			 0);
	json_t *loaded = NULL;
	assert_int_equal(load_file(e, out, &loaded), 0);
	assert_int_equal(json_array_size(loaded), 1);
	assert_string_equal(loaded_ref(loaded, 0), "busybox:latest");
	json_decref(loaded);

	struct img_image *img;
	assert_int_equal(img_resolve(e->s, "busybox", &img, &e->err), 0);
	char want[DIGEST_STR_LEN];
	snprintf(want, sizeof(want), "sha256:%s", cid);
	assert_string_equal(img->id, want);
	assert_int_equal(img->n_layers, 2);
	const char *low = img->layer_dirs[0], *up = img->layer_dirs[1];
	char *lower = img_lowerdir(img), want_lower[1024];
	snprintf(want_lower, sizeof(want_lower), "%s:%s", up, low);
	assert_string_equal(lower, want_lower);
	shoal_free(lower);
	assert_file(low, "bin/sh", "#!base shell\n");
	assert_file(up, "bin/sh", "#!upper shell\n");
	assert_file(low, "etc/old", "to be deleted\n");
	assert_file(low, "ro/file", "in a read-only folder\n");
	assert_file(up, "dir/c", "c\n");
	/* The hard link shares the inode; folder modes are restored. */
	char a[512], b[512];
	struct stat sa, sb;
	snprintf(a, sizeof(a), "%s/etc/passwd", low);
	snprintf(b, sizeof(b), "%s/etc/passwd.hl", low);
	assert_int_equal(stat(a, &sa), 0);
	assert_int_equal(stat(b, &sb), 0);
	assert_int_equal(sa.st_ino, sb.st_ino);
	snprintf(a, sizeof(a), "%s/ro", low);
	assert_int_equal(stat(a, &sa), 0);
	assert_int_equal(sa.st_mode & 07777, 0555);
	/* The whiteout exists in some form in the upper layer only (its
	 * exact shape, a 0/0 device, is checked by the system tests). */
	snprintf(a, sizeof(a), "%s/etc/old", up);
	assert_int_equal(lstat(a, &sa), 0);
	assert_false(S_ISREG(sa.st_mode));
	snprintf(a, sizeof(a), "%s/etc/.wh.old", up);
	assert_int_not_equal(lstat(a, &sa), 0);

	const struct img_config *c = &img->config;
	assert_string_equal(c->env[1], "MODE=test");
	assert_string_equal(c->cmd[2], "echo hi");
	assert_string_equal(c->working_dir, "/dir");
	assert_string_equal(c->exposed_ports[0], "80/tcp");
	assert_string_equal(c->labels[0].key, "org.test");
	assert_string_equal(img->author, "tests");
	assert_true(img->created_ns ==
		    1767323045LL * 1000000000LL + 500000000LL);
	img_image_free(img);

	/* Inspect has Docker's fields. */
	json_t *ins;
	assert_int_equal(
		img_inspect_json(e->s, "busybox:latest", &ins, &e->err), 0);
	assert_string_equal(json_string_value(json_object_get(ins, "Id")),
			    want);
	assert_int_equal(json_array_size(json_object_get(
				 json_object_get(ins, "RootFS"), "Layers")),
			 2);
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(json_object_get(ins, "Config"),
					"Labels"),
			"org.test")),
		"yes");
	assert_string_equal(json_string_value(json_object_get(ins, "Os")),
			    "linux");
	json_decref(ins);
}

static void a_layer_shared_by_two_images_is_unpacked_once(void **state)
{
	struct env *e = *state;
	char *one = wpath(e, "one.tar"), *two = wpath(e, "two.tar");
	const struct fx_entry other[] = {{"other", 'f', "x\n", 0644}};
	assert_int_equal(fx_docker_save(e->work, one, fx_base_layer,
					fx_base_layer_n, fx_upper_layer,
					fx_upper_layer_n, fx_config_fmt,
					"one:1", NULL),
			 0);
	assert_int_equal(fx_docker_save(e->work, two, fx_base_layer,
					fx_base_layer_n, other, 1,
					fx_config_fmt, "two:1", NULL),
			 0);
	assert_int_equal(load_file(e, one, NULL), 0);
	assert_int_equal(load_file(e, two, NULL), 0);
	struct img_image *a, *b;
	assert_int_equal(img_resolve(e->s, "one:1", &a, &e->err), 0);
	assert_int_equal(img_resolve(e->s, "two:1", &b, &e->err), 0);
	assert_string_equal(a->layer_dirs[0], b->layer_dirs[0]);
	assert_string_not_equal(a->layer_dirs[1], b->layer_dirs[1]);
	img_image_free(b);
	/* Removing one image keeps the layer the other still needs. */
	assert_int_equal(img_remove(e->s, "two:1", 0, NULL, &e->err), 0);
	struct stat st;
	assert_int_equal(stat(a->layer_dirs[0], &st), 0);
	assert_int_equal(stat(a->layer_dirs[1], &st), 0);
	img_image_free(a);
}

static void layer_xattrs_are_kept_but_never_overlay_metadata(void **state)
{
	struct env *e = *state;
	const struct fx_entry layer[] = {
		{"x/", 'X', NULL, 0755},
		{"x/file", 'f', "f\n", 0644},
	};
	char *out = wpath(e, "oci.tar");
	assert_int_equal(fx_oci_layout(e->work, out, layer, 2, "xattr:1", NULL),
			 0);
	assert_int_equal(load_file(e, out, NULL), 0);
	struct img_image *img;
	assert_int_equal(img_resolve(e->s, "xattr:1", &img, &e->err), 0);
	char p[512], val[16] = "";
	snprintf(p, sizeof(p), "%s/x", img->layer_dirs[0]);
	ssize_t n = lgetxattr(p, "user.shoal.test", val, sizeof(val));
	if (n < 0 && errno == ENOTSUP) {
		print_message("file system without user xattrs: not checked\n");
	} else {
		assert_int_equal(n, 3);
		assert_memory_equal(val, "yes", 3);
	}
	/* A layer cannot make a folder opaque except by .wh..wh..opq. */
	assert_int_equal(
		lgetxattr(p, "trusted.overlay.opaque", val, sizeof(val)), -1);
	assert_int_equal(lgetxattr(p, "user.overlay.opaque", val, sizeof(val)),
			 -1);
	img_image_free(img);
}

static void oci_layout_archive_loads_with_its_annotated_name(void **state)
{
	struct env *e = *state;
	char *out = wpath(e, "oci.tar");
	char cid[65];
	assert_int_equal(fx_oci_layout(e->work, out, rootfs, 7,
				       "docker.io/library/oci-test:2", cid),
			 0);
	json_t *loaded = NULL;
	assert_int_equal(load_file(e, out, &loaded), 0);
	assert_string_equal(loaded_ref(loaded, 0), "oci-test:2");
	json_decref(loaded);
	struct img_image *img;
	assert_int_equal(img_resolve(e->s, "oci-test:2", &img, &e->err), 0);
	assert_int_equal(strcmp(img->id + 7, cid), 0);
	assert_int_equal(img->n_layers, 1);
	assert_file(img->layer_dirs[0], "bin/busybox", "#!fake busybox\n");
	assert_string_equal(img->config.cmd[0], "/bin/sh");
	img_image_free(img);
}

static void multi_platform_index_loads_the_host_platform(void **state)
{
	struct env *e = *state;
	char *out = wpath(e, "multi.tar.gz");
	char amd64[65];
	assert_int_equal(fx_oci_multiarch(e->work, out, rootfs, 7,
					  "example.com/multi:3", amd64),
			 0);
	json_t *loaded;
	assert_int_equal(load_file(e, out, &loaded), 0);
	assert_int_equal(json_array_size(loaded), 1);
	json_decref(loaded);
	struct img_image *img;
	assert_int_equal(
		img_resolve(e->s, "example.com/multi:3", &img, &e->err), 0);
#if defined(__x86_64__)
	assert_int_equal(strcmp(img->id + 7, amd64), 0);
	assert_string_equal(img->architecture, "amd64");
#endif
	img_image_free(img);
}

static void legacy_docker_save_with_a_linked_layer_loads(void **state)
{
	struct env *e = *state;
	char *out = wpath(e, "legacy.tar");
	char cid[65];
	assert_int_equal(
		fx_docker_save_legacy(e->work, out, rootfs, 7, "legacy:1", cid),
		0);
	if (load_file(e, out, NULL) < 0)
		fail_msg("load: %s", e->err.msg);
	struct img_image *img;
	assert_int_equal(img_resolve(e->s, "legacy:1", &img, &e->err), 0);
	assert_int_equal(img->n_layers, 2);
	assert_string_equal(img->layer_dirs[0], img->layer_dirs[1]);
	assert_file(img->layer_dirs[1], "etc/passwd",
		    "root:x:0:0::/root:/bin/sh\n");
	img_image_free(img);
}

/* Removes the line of @listing that starts with @prefix. */
static void drop_line(char *listing, const char *prefix)
{
	char *at = strstr(listing, prefix);
	if (!at)
		return;
	char *end = strchr(at, '\n');
	memmove(at, end + 1, strlen(end + 1) + 1);
}

static void loading_a_present_image_only_adds_its_tags(void **state)
{
	struct env *e = *state;
	char *oci = wpath(e, "oci-img.tar");
	char cid[65];
	assert_int_equal(fx_oci_layout(e->work, oci, rootfs, 7, "same:1", cid),
			 0);
	assert_int_equal(load_file(e, oci, NULL), 0);
	char *before = store_listing(e);
	/* The same image as docker save would write it: same config, the
	 * layer uncompressed (so another blob digest). */
	char cfgpath[256], man[512], cname[80], lhex[65];
	snprintf(cfgpath, sizeof(cfgpath), "%s/images/blobs/sha256/%s", e->root,
		 cid);
	snprintf(cname, sizeof(cname), "%s.json", cid);
	snprintf(man, sizeof(man),
		 "[{\"Config\":\"%s\",\"RepoTags\":[\"same:2\"],"
		 "\"Layers\":[\"l/layer.tar\"]}]",
		 cname);
	size_t nc, nl;
	struct fx_file f[] = {
		{(char *)"manifest.json", man, strlen(man)},
		{cname, fx_read(cfgpath, &nc), 0},
		{(char *)"l/layer.tar", fx_read(wpath(e, "oci.tar"), &nl), 0},
	};
	f[1].len = nc;
	f[2].len = nl;
	fx_sha256(f[2].data, nl, lhex);
	char *save = wpath(e, "same.tar");
	assert_int_equal(fx_write_files(save, f, 3, FX_PLAIN), 0);
	free(f[1].data);
	free(f[2].data);
	json_t *loaded;
	assert_int_equal(load_file(e, save, &loaded), 0);
	assert_string_equal(loaded_ref(loaded, 0), "same:2");
	json_decref(loaded);
	struct img_image *a, *b;
	assert_int_equal(img_resolve(e->s, "same:1", &a, &e->err), 0);
	assert_int_equal(img_resolve(e->s, "same:2", &b, &e->err), 0);
	assert_string_equal(a->id, b->id);
	img_image_free(a);
	img_image_free(b);
	/* No new blob or layer: only index.json changed (its size). */
	char *after = store_listing(e);
	char p[256];
	snprintf(p, sizeof(p), "/blobs/sha256/%s", lhex);
	assert_null(strstr(after, p));
	drop_line(before, "/index.json ");
	drop_line(after, "/index.json ");
	assert_string_equal(before, after);
	free(before);
	free(after);
}

/* Docker's load moves a tag that named another image and says so; the
 * other image stays, untagged. */
static void loading_a_tag_that_moves_reports_the_old_image(void **state)
{
	struct env *e = *state;
	char *tar = wpath(e, "rootfs.tar"), *out = wpath(e, "a.tar");
	char a[DIGEST_STR_LEN], b[DIGEST_STR_LEN];
	struct img_import_opts o = {.reference = "moved:1"};
	assert_int_equal(fx_write_tar(tar, rootfs, 7, FX_PLAIN), 0);
	assert_int_equal(import_file(e, tar, &o, a), 0);
	int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	const char *refs[] = {"moved:1"};
	assert_int_equal(img_save(e->s, refs, 1, fd, &e->err), 0);
	close(fd);
	o.message = "another";
	assert_int_equal(import_file(e, tar, &o, b), 0);
	assert_string_not_equal(a, b);

	json_t *loaded;
	assert_int_equal(load_file(e, out, &loaded), 0);
	assert_int_equal(json_array_size(loaded), 1);
	assert_string_equal(loaded_ref(loaded, 0), "moved:1");
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(loaded, 0), "replaced")),
			    b);
	json_decref(loaded);
	struct img_image *img;
	assert_int_equal(img_resolve(e->s, "moved:1", &img, &e->err), 0);
	assert_string_equal(img->id, a);
	img_image_free(img);
	assert_int_equal(img_resolve(e->s, b, &img, &e->err), 0);
	assert_null(img->repo_tags[0]);
	img_image_free(img);

	/* Loading it again moves nothing and says nothing of it. */
	assert_int_equal(load_file(e, out, &loaded), 0);
	assert_null(json_object_get(json_array_get(loaded, 0), "replaced"));
	json_decref(loaded);
}

struct loader {
	struct env *e;
	const char *path;
	int rc;
	struct shoal_err err;
};

static void *load_thread(void *arg)
{
	struct loader *l = arg;
	int fd = open(l->path, O_RDONLY);
	l->rc = img_load(l->e->s, fd, NULL, NULL, NULL, &l->err);
	close(fd);
	return NULL;
}

static void concurrent_loads_sharing_a_layer_both_succeed(void **state)
{
	struct env *e = *state;
	char *one = wpath(e, "one.tar"), *two = wpath(e, "two.tar");
	const struct fx_entry other[] = {{"other", 'f', "x\n", 0644}};
	assert_int_equal(fx_docker_save(e->work, one, fx_base_layer,
					fx_base_layer_n, fx_upper_layer,
					fx_upper_layer_n, fx_config_fmt,
					"one:1", NULL),
			 0);
	assert_int_equal(fx_docker_save(e->work, two, fx_base_layer,
					fx_base_layer_n, other, 1,
					fx_config_fmt, "two:1", NULL),
			 0);
	char *empty = store_listing(e);
	for (int round = 0; round < 4; round++) {
		struct loader l[3] = {{e, one, 0, {""}},
				      {e, two, 0, {""}},
				      {e, one, 0, {""}}};
		pthread_t t[3];
		for (int i = 0; i < 3; i++)
			assert_int_equal(
				pthread_create(&t[i], NULL, load_thread, &l[i]),
				0);
		for (int i = 0; i < 3; i++) {
			pthread_join(t[i], NULL);
			if (l[i].rc < 0)
				fail_msg("round %d loader %d: %s", round, i,
					 l[i].err.msg);
		}
		struct img_image *a, *b;
		assert_int_equal(img_resolve(e->s, "one:1", &a, &e->err), 0);
		assert_int_equal(img_resolve(e->s, "two:1", &b, &e->err), 0);
		assert_string_equal(a->layer_dirs[0], b->layer_dirs[0]);
		img_image_free(a);
		img_image_free(b);
		assert_int_equal(img_remove(e->s, "one:1", 0, NULL, &e->err),
				 0);
		assert_int_equal(img_remove(e->s, "two:1", 0, NULL, &e->err),
				 0);
		char *now = store_listing(e);
		drop_line(now, "/index.json ");
		char *want = strdup(empty);
		drop_line(want, "/index.json ");
		assert_string_equal(now, want);
		free(now);
		free(want);
	}
	free(empty);
}

static void store_keeps_images_across_reopen_and_sweeps_leftovers(void **state)
{
	struct env *e = *state;
	char *tar = wpath(e, "rootfs.tar");
	assert_int_equal(fx_write_tar(tar, rootfs, 7, FX_PLAIN), 0);
	struct img_import_opts o = {.reference = "keep:1"};
	char id[DIGEST_STR_LEN];
	assert_int_equal(import_file(e, tar, &o, id), 0);
	img_store_close(e->s);
	/* What a crash between staging and the index write would leave. */
	char p[512];
	snprintf(p, sizeof(p), "%s/images/blobs/sha256/%064d", e->root, 0);
	FILE *f = fopen(p, "w");
	fclose(f);
	snprintf(p, sizeof(p), "%s/images/layers/%064d", e->root, 1);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/images/tmp/stage.abc", e->root);
	mkdir(p, 0700);
	assert_int_equal(img_store_open(e->root, &e->s, &e->err), 0);
	/* A second opener (another daemon on the same data root) is
	 * refused and changes nothing. */
	struct img_store *other;
	assert_int_equal(img_store_open(e->root, &other, &e->err), -EBUSY);
	assert_non_null(strstr(e->err.msg, "in use by another process"));
	struct stat st;
	assert_int_not_equal(stat(p, &st), 0);
	snprintf(p, sizeof(p), "%s/images/layers/%064d", e->root, 1);
	assert_int_not_equal(stat(p, &st), 0);
	snprintf(p, sizeof(p), "%s/images/blobs/sha256/%064d", e->root, 0);
	assert_int_not_equal(stat(p, &st), 0);
	struct img_image *img;
	assert_int_equal(img_resolve(e->s, "keep:1", &img, &e->err), 0);
	assert_string_equal(img->id, id);
	assert_file(img->layer_dirs[0], "bin/busybox", "#!fake busybox\n");

	/* An image whose layer folder vanished is dropped, not served. */
	img_store_close(e->s);
	img__rmrf(img->layer_dirs[0]);
	img_image_free(img);
	assert_int_equal(img_store_open(e->root, &e->s, &e->err), 0);
	assert_int_equal(img_resolve(e->s, "keep:1", &img, &e->err),
			 SHOAL_ENOTFOUND);
}

/* Tags and removal ------------------------------------------------------ */

static void removing_tags_follows_docker_rules(void **state)
{
	struct env *e = *state;
	char *tar = wpath(e, "rootfs.tar");
	assert_int_equal(fx_write_tar(tar, rootfs, 7, FX_PLAIN), 0);
	char *empty = store_listing(e);
	struct img_import_opts o = {.reference = "first:1"};
	char id[DIGEST_STR_LEN];
	assert_int_equal(import_file(e, tar, &o, id), 0);
	assert_int_equal(img_tag(e->s, "first:1", "second", &e->err), 0);
	assert_int_equal(img_tag(e->s, "first:1", "UPPER", &e->err), -EINVAL);
	json_t *list;
	assert_int_equal(img_list_json(e->s, &list, &e->err), 0);
	assert_int_equal(json_array_size(list), 1);
	json_t *tags = json_object_get(json_array_get(list, 0), "RepoTags");
	assert_int_equal(json_array_size(tags), 2);
	assert_string_equal(json_string_value(json_array_get(tags, 0)),
			    "first:1");
	assert_string_equal(json_string_value(json_array_get(tags, 1)),
			    "second:latest");
	json_decref(list);

	/* By id while two tags point at it: refused without force. */
	assert_int_equal(img_remove(e->s, id, 0, NULL, &e->err),
			 SHOAL_ECONFLICT);
	assert_non_null(strstr(e->err.msg, "referenced in multiple "
					   "repositories"));
	/* A tag of an image with another tag: only untagged. */
	json_t *report;
	assert_int_equal(img_remove(e->s, "second", 0, &report, &e->err), 0);
	assert_int_equal(json_array_size(report), 1);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(report, 0), "Untagged")),
			    "second:latest");
	json_decref(report);
	/* The last tag: the image goes, and with it every file. */
	assert_int_equal(img_remove(e->s, "first:1", 0, &report, &e->err), 0);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(report, 0), "Untagged")),
			    "first:1");
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(report, 1), "Deleted")),
			    id);
	json_decref(report);
	char *after = store_listing(e);
	assert_string_equal(after, empty);
	free(after);
	free(empty);
	struct img_image *img;
	assert_int_equal(img_resolve(e->s, id, &img, &e->err), SHOAL_ENOTFOUND);
	assert_int_equal(img_untag(e->s, "first:1", &e->err), SHOAL_ENOTFOUND);
}

static bool fake_runtime(const char *image_id, char cid[65], void *arg)
{
	const char *used = arg;
	if (strcmp(image_id, used) != 0)
		return false;
	snprintf(cid, 65, "%s",
		 "c0ffee0000000000000000000000000000000000000000"
		 "000000000000000000");
	return true;
}

static void removal_is_refused_while_a_container_uses_the_image(void **state)
{
	struct env *e = *state;
	char *tar = wpath(e, "rootfs.tar");
	assert_int_equal(fx_write_tar(tar, rootfs, 7, FX_PLAIN), 0);
	struct img_import_opts o = {.reference = "busy:1"};
	char id[DIGEST_STR_LEN];
	assert_int_equal(import_file(e, tar, &o, id), 0);
	const char *ctr = "abcdef0123456789abcdef0123456789abcdef0123456789abcd"
			  "ef0123456789";
	assert_int_equal(img_use(e->s, id, ctr), 0);
	assert_int_equal(img_remove(e->s, "busy:1", 0, NULL, &e->err),
			 SHOAL_ECONFLICT);
	char want[256];
	snprintf(want, sizeof(want),
		 "conflict: unable to remove repository reference \"busy:1\" "
		 "(must force) - container abcdef012345 is using its "
		 "referenced image %.12s",
		 id + 7);
	assert_string_equal(e->err.msg, want);
	assert_int_equal(img_remove(e->s, id, 0, NULL, &e->err),
			 SHOAL_ECONFLICT);
	struct img_image *img;
	assert_int_equal(img_resolve(e->s, "busy:1", &img, &e->err), 0);
	img_image_free(img);

	/* The runtime's callback counts as well as img_use(). */
	assert_int_equal(img_unuse(e->s, id, ctr), 0);
	assert_int_equal(img_unuse(e->s, id, ctr), SHOAL_ENOTFOUND);
	img_store_set_in_use(e->s, fake_runtime, id);
	assert_int_equal(img_remove(e->s, "busy:1", 0, NULL, &e->err),
			 SHOAL_ECONFLICT);
	assert_non_null(strstr(e->err.msg, "container c0ffee000000"));
	/* Forced: the tag goes, the image stays for its container. */
	assert_int_equal(
		img_remove(e->s, "busy:1", IMG_RM_FORCE, NULL, &e->err), 0);
	assert_int_equal(img_resolve(e->s, id, &img, &e->err), 0);
	assert_null(img->repo_tags[0]);
	struct stat st;
	assert_int_equal(stat(img->layer_dirs[0], &st), 0);
	img_image_free(img);
	img_store_set_in_use(e->s, NULL, NULL);
	assert_int_equal(img_remove(e->s, id, 0, NULL, &e->err), 0);
}

/* img_running_fn of the test: the container named in @arg runs. */
static bool fake_running(const char *cid, void *arg)
{
	return strcmp(cid, arg) == 0;
}

static void
removal_by_id_follows_dockers_running_and_stopped_rules(void **state)
{
	struct env *e = *state;
	char *tar = wpath(e, "rootfs.tar");
	assert_int_equal(fx_write_tar(tar, rootfs, 7, FX_PLAIN), 0);
	struct img_import_opts o = {.reference = "used:1"};
	char id[DIGEST_STR_LEN], want[256];
	assert_int_equal(import_file(e, tar, &o, id), 0);
	const char *up = "1111110000000000000000000000000000000000000000000"
			 "000000000000000",
		   *down = "2222220000000000000000000000000000000000000000000"
			   "000000000000000";
	img_store_set_running(e->s, fake_running, (void *)up);
	assert_int_equal(img_use(e->s, id, down), 0);
	assert_int_equal(img_use(e->s, id, up), 0);

	/* A running user: refused by id, forced or not ("cannot be forced"). */
	snprintf(want, sizeof(want),
		 "conflict: unable to delete %.12s (cannot be forced) - image "
		 "is being used by running container 111111000000",
		 id + 7);
	assert_int_equal(img_remove(e->s, id, 0, NULL, &e->err),
			 SHOAL_ECONFLICT);
	assert_string_equal(e->err.msg, want);
	assert_int_equal(img_remove(e->s, id, IMG_RM_FORCE, NULL, &e->err),
			 SHOAL_ECONFLICT);
	assert_string_equal(e->err.msg, want);
	/* By name, forced: Docker untags it and keeps the image quietly. */
	assert_int_equal(img_tag(e->s, id, "used:2", &e->err), 0);
	json_t *report;
	assert_int_equal(
		img_remove(e->s, "used:2", IMG_RM_FORCE, &report, &e->err), 0);
	assert_int_equal(json_array_size(report), 1);
	json_decref(report);

	/* Only a stopped user left: refused unless forced ("must be"). */
	assert_int_equal(img_unuse(e->s, id, up), 0);
	snprintf(want, sizeof(want),
		 "conflict: unable to delete %.12s (must be forced) - image is "
		 "being used by stopped container 222222000000",
		 id + 7);
	assert_int_equal(img_remove(e->s, id, 0, NULL, &e->err),
			 SHOAL_ECONFLICT);
	assert_string_equal(e->err.msg, want);
	/* Several tags come before a stopped user in Docker's order. */
	assert_int_equal(img_tag(e->s, id, "used:3", &e->err), 0);
	assert_int_equal(img_remove(e->s, id, 0, NULL, &e->err),
			 SHOAL_ECONFLICT);
	assert_non_null(strstr(e->err.msg, "(must be forced) - image is "
					   "referenced in multiple "
					   "repositories"));
	/* Forced: untagged, kept for the stopped container's layers. */
	assert_int_equal(img_remove(e->s, id, IMG_RM_FORCE, &report, &e->err),
			 0);
	assert_int_equal(json_array_size(report), 2);
	json_decref(report);
	struct img_image *img;
	assert_int_equal(img_resolve(e->s, id, &img, &e->err), 0);
	assert_null(img->repo_tags[0]);
	img_image_free(img);
	assert_int_equal(img_unuse(e->s, id, down), 0);
	img_store_set_running(e->s, NULL, NULL);
	assert_int_equal(img_remove(e->s, id, 0, NULL, &e->err), 0);
}

/* Damaged archives ------------------------------------------------------ */

/* Loads @path and checks it fails with @expect, leaving the store as it
 * was (including a previously loaded image). */
static void assert_rejected(struct env *e, const char *path, const char *expect)
{
	char *before = store_listing(e);
	char *index_before;
	char ip[128];
	snprintf(ip, sizeof(ip), "%s/images/index.json", e->root);
	index_before = fx_read(ip, NULL);
	int rc = load_file(e, path, NULL);
	if (rc == 0 || !strstr(e->err.msg, expect))
		fail_msg("%s: rc=%d msg=\"%s\", want \"%s\"", path, rc,
			 e->err.msg, expect);
	print_message("rejected as expected: %s\n", e->err.msg);
	char *after = store_listing(e);
	assert_string_equal(before, after);
	char *index_after = fx_read(ip, NULL);
	assert_string_equal(index_before, index_after);
	free(before);
	free(after);
	free(index_before);
	free(index_after);
}

static void patch_file(const char *path, long offset, char with)
{
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	if (offset < 0)
		offset += lseek(fd, 0, SEEK_END);
	assert_int_equal(pwrite(fd, &with, 1, offset), 1);
	close(fd);
}

static void damaged_archives_are_rejected_leaving_nothing(void **state)
{
	struct env *e = *state;
	/* A good image first: it must survive every failure intact. */
	char *good = wpath(e, "good.tar");
	assert_int_equal(
		fx_oci_layout(e->work, good, rootfs, 7, "good:1", NULL), 0);
	assert_int_equal(load_file(e, good, NULL), 0);

	/* A flipped byte inside the gzip layer. */
	char *save = wpath(e, "save.tar");
	assert_int_equal(fx_docker_save(e->work, save, fx_base_layer,
					fx_base_layer_n, fx_upper_layer,
					fx_upper_layer_n, fx_config_fmt,
					"bad:1", NULL),
			 0);
	char *l2gz = wpath(e, "l2.tar.gz");
	size_t gzlen;
	char *gz = fx_read(l2gz, &gzlen);
	size_t savelen;
	char *sv = fx_read(save, &savelen);
	char *at = memmem(sv, savelen, gz, gzlen);
	assert_non_null(at);
	long off = (long)(at - sv) + (long)gzlen / 2;
	free(gz);
	patch_file(save, off, (char)(sv[off] ^ 0x55));
	free(sv);
	assert_rejected(e, save, "layer");

	/* A truncated archive. */
	assert_int_equal(fx_docker_save(e->work, save, fx_base_layer,
					fx_base_layer_n, fx_upper_layer,
					fx_upper_layer_n, fx_config_fmt,
					"bad:1", NULL),
			 0);
	assert_int_equal(truncate(save, 3000), 0);
	assert_rejected(e, save, "damaged");

	/* A config whose name is not its digest. */
	assert_int_equal(fx_docker_save(e->work, save, fx_base_layer,
					fx_base_layer_n, fx_upper_layer,
					fx_upper_layer_n, fx_config_fmt,
					"bad:1", NULL),
			 0);
	sv = fx_read(save, &savelen);
	at = memmem(sv, savelen, "\"author\":\"tests\"", 16);
	assert_non_null(at);
	patch_file(save, (long)(at - sv) + 10, 'T');
	free(sv);
	assert_rejected(e, save, "does not match its digest");

	/* A config whose DiffIDs do not match the layers: the archive's
	 * second layer is replaced by another tar. */
	const struct fx_entry l2b[] = {{"x", 'f', "x\n", 0644}};
	char save2[300];
	snprintf(save2, sizeof(save2), "%s/save2.tar", e->work);
	char work2[300];
	snprintf(work2, sizeof(work2), "%s/w2", e->work);
	mkdir(work2, 0700);
	assert_int_equal(fx_docker_save(work2, save2, fx_base_layer,
					fx_base_layer_n, fx_upper_layer,
					fx_upper_layer_n, fx_config_fmt,
					"bad:1", NULL),
			 0);
	char l2path[320];
	snprintf(l2path, sizeof(l2path), "%s/l2.tar.gz", work2);
	assert_int_equal(fx_write_tar(l2path, l2b, 1, FX_GZIP), 0);
	{
		char cfg[4096], cid[65], cname[80], man[512], d1h[65], d2h[65];
		char l1p[320], l2p[320];
		snprintf(l1p, sizeof(l1p), "%s/l1.tar", work2);
		snprintf(l2p, sizeof(l2p), "%s/l2.tar", work2);
		assert_int_equal(fx_sha256_file(l1p, d1h), 0);
		assert_int_equal(fx_sha256_file(l2p, d2h), 0);
		fx_fill_config(cfg, sizeof(cfg), fx_config_fmt, d1h, d2h);
		fx_sha256(cfg, strlen(cfg), cid);
		snprintf(cname, sizeof(cname), "%s.json", cid);
		snprintf(man, sizeof(man),
			 "[{\"Config\":\"%s\",\"RepoTags\":[\"bad:1\"],"
			 "\"Layers\":[\"l1/layer.tar\",\"l2/layer.tar\"]}]",
			 cname);
		size_t n1, n2;
		struct fx_file f[] = {
			{(char *)"manifest.json", man, strlen(man)},
			{cname, cfg, strlen(cfg)},
			{(char *)"l1/layer.tar", fx_read(l1p, &n1), 0},
			{(char *)"l2/layer.tar", fx_read(l2path, &n2), 0},
		};
		f[2].len = n1;
		f[3].len = n2;
		assert_int_equal(fx_write_files(save2, f, 4, FX_PLAIN), 0);
		free(f[2].data);
		free(f[3].data);
		assert_rejected(e, save2, "does not match the config");

		/* A manifest naming a layer the archive lacks. */
		snprintf(man, sizeof(man),
			 "[{\"Config\":\"%s\",\"RepoTags\":[\"bad:1\"],"
			 "\"Layers\":[\"l1/layer.tar\",\"l9/layer.tar\"]}]",
			 cname);
		f[0].len = strlen(man);
		f[2].data = fx_read(l1p, &n1);
		f[3].data = fx_read(l2path, &n2);
		assert_int_equal(fx_write_files(save2, f, 4, FX_PLAIN), 0);
		free(f[2].data);
		free(f[3].data);
		assert_rejected(e, save2, "l9/layer.tar is not in the archive");
	}

	/* Layers that try to write outside their folder. */
	const struct fx_entry dotdot[] = {{"../escape", 'f', "x", 0644}};
	const struct fx_entry abs[] = {{"/etc/escape", 'f', "x", 0644}};
	const struct fx_entry via_link[] = {
		{"evil", 'l', "/tmp", 0777},
		{"evil/escape", 'f', "x", 0644},
	};
	const struct fx_entry hl_out[] = {{"h", 'h', "../../etc/passwd", 0}};
	struct {
		const struct fx_entry *e;
		size_t n;
		const char *expect;
	} traversal[] = {
		{dotdot, 1, "path leaves the layer"},
		{abs, 1, "path leaves the layer"},
		{via_link, 2, "symbolic link"},
		{hl_out, 1, "outside the layer"},
	};
	for (size_t i = 0; i < 4; i++) {
		char w[320];
		snprintf(w, sizeof(w), "%s/t%zu", e->work, i);
		mkdir(w, 0700);
		assert_int_equal(fx_docker_save(w, save, fx_base_layer,
						fx_base_layer_n, traversal[i].e,
						traversal[i].n, fx_config_fmt,
						"bad:1", NULL),
				 0);
		assert_rejected(e, save, traversal[i].expect);
	}
	struct stat st;
	assert_int_not_equal(stat("/tmp/escape", &st), 0);

	/* Not an archive of images at all. */
	char *plain = wpath(e, "plain.tar");
	assert_int_equal(fx_write_tar(plain, rootfs, 7, FX_PLAIN), 0);
	assert_rejected(e, plain, "neither manifest.json");

	/* The good image is still whole. */
	struct img_image *img;
	assert_int_equal(img_resolve(e->s, "good:1", &img, &e->err), 0);
	assert_file(img->layer_dirs[0], "bin/busybox", "#!fake busybox\n");
	img_image_free(img);
}

/* --change -------------------------------------------------------------- */

static json_t *changed(const char *line, int *rc, struct shoal_err *err)
{
	json_t *cc = json_object();
	*rc = img__change_apply(cc, line, err);
	return cc;
}

static void change_lines_parse_like_dockerfile_instructions(void **state)
{
	struct shoal_err err;
	int rc;
	json_t *cc = changed("CMD [\"a\", \"b c\"]", &rc, &err);
	assert_int_equal(rc, 0);
	assert_string_equal(json_string_value(json_array_get(
				    json_object_get(cc, "Cmd"), 1)),
			    "b c");
	json_decref(cc);
	/* Not valid JSON: the shell form, like Docker. */
	cc = changed("cmd [not json", &rc, &err);
	assert_int_equal(rc, 0);
	assert_string_equal(json_string_value(json_array_get(
				    json_object_get(cc, "Cmd"), 2)),
			    "[not json");
	json_decref(cc);
	cc = changed("EXPOSE 8000-8002/udp 9000", &rc, &err);
	assert_int_equal(rc, 0);
	json_t *ports = json_object_get(cc, "ExposedPorts");
	assert_int_equal(json_object_size(ports), 4);
	assert_non_null(json_object_get(ports, "8001/udp"));
	assert_non_null(json_object_get(ports, "9000/tcp"));
	json_decref(cc);
	cc = changed("ENV PATH=/usr/bin:/bin X='single $quoted' Y=a\\ b", &rc,
		     &err);
	assert_int_equal(rc, 0);
	json_t *env = json_object_get(cc, "Env");
	assert_string_equal(json_string_value(json_array_get(env, 1)),
			    "X=single $quoted");
	assert_string_equal(json_string_value(json_array_get(env, 2)), "Y=a b");
	/* A later ENV of the same name replaces the earlier one. */
	assert_int_equal(img__change_apply(cc, "ENV X=2", &err), 0);
	assert_int_equal(json_array_size(json_object_get(cc, "Env")), 3);
	assert_string_equal(json_string_value(json_array_get(
				    json_object_get(cc, "Env"), 1)),
			    "X=2");
	json_decref(cc);

	const char *bad[][2] = {
		{"EXPOSE 70000", "invalid port: 70000"},
		{"EXPOSE 80/icmp", "invalid proto: icmp"},
		{"ENV", "ENV requires at least one argument"},
		{"ENV =x", "can not be blank"},
		{"LABEL a=\"open", "unterminated quote"},
		{"USER a b", "USER requires exactly one argument"},
		{"FROM scratch", "from is not a valid change command"},
		{"", "is not a valid change command"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		cc = changed(bad[i][0], &rc, &err);
		if (rc != -EINVAL || !strstr(err.msg, bad[i][1]))
			fail_msg("\"%s\": rc=%d msg=\"%s\"", bad[i][0], rc,
				 err.msg);
		assert_int_equal(json_object_size(cc), 0);
		json_decref(cc);
	}
}

static void references_normalize_like_docker(void **state)
{
	char out[256];
	const char *ok[][2] = {
		{"busybox", "busybox:latest"},
		{"docker.io/library/busybox:1.36", "busybox:1.36"},
		{"docker.io/me/app", "me/app:latest"},
		{"localhost:5000/app:v2", "localhost:5000/app:v2"},
		{"registry.example.com/a/b-c_d.e:T_1", "registry.example.com/"
						       "a/b-c_d.e:T_1"},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++) {
		assert_int_equal(img__ref_normalize(ok[i][0], out, sizeof(out)),
				 0);
		assert_string_equal(out, ok[i][1]);
	}
	const char *bad[] = {"",   "Upper", "a//b", "a:",
			     "-a", "a/",    "a:-x", "busybox@sha256:0000",
			     "a b"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		if (img__ref_normalize(bad[i], out, sizeof(out)) == 0)
			fail_msg("\"%s\" accepted as %s", bad[i], out);
}

/* Async ----------------------------------------------------------------- */

struct async_result {
	int calls;
	int status;
	char id[DIGEST_STR_LEN];
	int progress;
	unsigned last_layers_done;
};

static void on_done(int status, const char *msg, json_t *result, void *arg)
{
	struct async_result *r = arg;
	r->calls++;
	r->status = status;
	if (status == 0 && json_is_string(result))
		snprintf(r->id, sizeof(r->id), "%s", json_string_value(result));
	if (status == 0 && json_is_array(result))
		snprintf(r->id, sizeof(r->id), "%s", loaded_ref(result, 0));
}

static void on_progress(const struct img_progress *p, void *arg)
{
	struct async_result *r = arg;
	r->progress++;
	r->last_layers_done = p->layers_done;
}

static void async_jobs_complete_on_the_loop_with_progress(void **state)
{
	struct env *e = *state;
	uv_loop_t loop;
	assert_int_equal(uv_loop_init(&loop), 0);
	char *tar = wpath(e, "rootfs.tar.xz");
	assert_int_equal(fx_write_tar(tar, rootfs, 7, FX_XZ), 0);
	int fd = open(tar, O_RDONLY);
	struct async_result imp = {0}, ld = {0};
	struct img_import_opts o = {.reference = "async:1",
				    .progress = on_progress,
				    .progress_arg = &imp};
	assert_int_equal(img_import_async(&loop, e->s, fd, &o, on_done, &imp),
			 0);
	char *save = wpath(e, "save.tar");
	assert_int_equal(fx_docker_save(e->work, save, fx_base_layer,
					fx_base_layer_n, fx_upper_layer,
					fx_upper_layer_n, fx_config_fmt,
					"async:2", NULL),
			 0);
	int fd2 = open(save, O_RDONLY);
	assert_int_equal(
		img_load_async(&loop, e->s, fd2, on_progress, on_done, &ld), 0);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	close(fd);
	close(fd2);
	assert_int_equal(imp.calls, 1);
	assert_int_equal(imp.status, 0);
	assert_true(imp.progress >= 1);
	assert_int_equal(ld.calls, 1);
	assert_int_equal(ld.status, 0);
	assert_string_equal(ld.id, "async:2");
	assert_true(ld.progress >= 1);
	assert_int_equal(ld.last_layers_done, 2);
	struct img_image *img;
	assert_int_equal(img_resolve(e->s, "async:1", &img, &e->err), 0);
	assert_string_equal(img->id, imp.id);
	img_image_free(img);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* Save ------------------------------------------------------------------ */

static void saved_images_load_back_identically_elsewhere(void **state)
{
	struct env *e = *state;
	char *save = wpath(e, "in.tar"), *tar = wpath(e, "rootfs.tar");
	char cid[65], id2[DIGEST_STR_LEN];
	assert_int_equal(fx_docker_save(e->work, save, fx_base_layer,
					fx_base_layer_n, fx_upper_layer,
					fx_upper_layer_n, fx_config_fmt, "rt:1",
					cid),
			 0);
	assert_int_equal(load_file(e, save, NULL), 0);
	assert_int_equal(fx_write_tar(tar, rootfs, 7, FX_GZIP), 0);
	struct img_import_opts o = {.reference = "rt:2"};
	assert_int_equal(import_file(e, tar, &o, id2), 0);

	char *out = wpath(e, "out.tar");
	int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	const char *refs[] = {"rt:1", id2};
	assert_int_equal(img_save(e->s, refs, 2, fd, &e->err), 0);
	close(fd);
	const char *missing[] = {"nope:1"};
	fd = open(wpath(e, "none.tar"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(img_save(e->s, missing, 1, fd, &e->err),
			 SHOAL_ENOTFOUND);
	close(fd);

	char other[128];
	snprintf(other, sizeof(other), "%s/other", e->root);
	struct img_store *s2;
	assert_int_equal(img_store_open(other, &s2, &e->err), 0);
	fd = open(out, O_RDONLY);
	json_t *loaded;
	assert_int_equal(img_load(s2, fd, NULL, NULL, &loaded, &e->err), 0);
	close(fd);
	assert_int_equal(json_array_size(loaded), 2);
	assert_string_equal(loaded_ref(loaded, 0), "rt:1");
	/* Saved by id: loaded without a tag, under its id. */
	assert_string_equal(loaded_ref(loaded, 1), id2);
	json_decref(loaded);
	struct img_image *a, *b;
	assert_int_equal(img_resolve(s2, "rt:1", &a, &e->err), 0);
	assert_int_equal(strcmp(a->id + 7, cid), 0);
	assert_int_equal(a->n_layers, 2);
	assert_file(a->layer_dirs[1], "bin/sh", "#!upper shell\n");
	assert_file(a->layer_dirs[0], "etc/passwd",
		    "root:x:0:0:root:/root:/bin/sh\n");
	assert_int_equal(img_resolve(s2, id2, &b, &e->err), 0);
	assert_null(b->repo_tags[0]);
	assert_file(b->layer_dirs[0], "bin/busybox", "#!fake busybox\n");
	img_image_free(a);
	img_image_free(b);

	/* Without manifest.json the archive is an OCI layout: same images,
	 * the tag taken from index.json's annotations. */
	assert_int_equal(img_remove(s2, "rt:1", 0, NULL, &e->err), 0);
	assert_int_equal(img_remove(s2, id2, 0, NULL, &e->err), 0);
	char *oci = wpath(e, "oci-only.tar");
	assert_int_equal(fx_copy_without(out, oci, "manifest.json"), 0);
	fd = open(oci, O_RDONLY);
	assert_int_equal(img_load(s2, fd, NULL, NULL, &loaded, &e->err), 0);
	close(fd);
	assert_string_equal(loaded_ref(loaded, 0), "rt:1");
	assert_string_equal(loaded_ref(loaded, 1), id2);
	json_decref(loaded);
	assert_int_equal(img_resolve(s2, "rt:1", &a, &e->err), 0);
	assert_int_equal(strcmp(a->id + 7, cid), 0);
	img_image_free(a);
	img_store_close(s2);
}

/* Allocation failures --------------------------------------------------- */

/* Runs @op with the Nth allocation failing, for N = 0, 1, ... until it
 * succeeds; every failure must leave the store and the heap as they were. */
static void fail_each_allocation(struct env *e, int (*op)(struct env *))
{
	char *before = store_listing(e);
	int64_t live = shoal_alloc_live();
	int n;
	for (n = 0; n < 20000; n++) {
		shoal_alloc_fail_after(n);
		int rc = op(e);
		shoal_alloc_fail_after(-1);
		if (rc == 0)
			break;
		char *after = store_listing(e);
		if (strcmp(before, after) || shoal_alloc_live() != live)
			fail_msg("allocation %d failed: rc=%d (%s), store "
				 "changed=%d, leaked=%lld",
				 n, rc, e->err.msg, strcmp(before, after) != 0,
				 (long long)(shoal_alloc_live() - live));
		free(after);
	}
	print_message("succeeded once %d allocations could\n", n);
	assert_true(n > 0 && n < 20000);
	free(before);
}

static int import_once(struct env *e)
{
	const char *changes[] = {"CMD [\"sh\"]", "ENV A=1 B=2", "EXPOSE 80",
				 "LABEL a=b"};
	struct img_import_opts o = {
		.reference = "fail:1", .changes = changes, .n_changes = 4};
	char id[DIGEST_STR_LEN];
	return import_file(e, wpath(e, "rootfs.tar.gz"), &o, id);
}

static int load_once(struct env *e)
{
	json_t *loaded = NULL;
	int rc = load_file(e, wpath(e, "save.tar"), &loaded);
	json_decref(loaded);
	return rc;
}

static int save_once(struct env *e)
{
	const char *refs[] = {"fail:1", "fail:2"};
	int fd =
		open(wpath(e, "saved.tar"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int rc = img_save(e->s, refs, 2, fd, &e->err);
	close(fd);
	return rc;
}

static int tag_once(struct env *e)
{
	return img_tag(e->s, "fail:1", "fail:3", &e->err);
}

static int untag_once(struct env *e)
{
	return img_remove(e->s, "fail:3", 0, NULL, &e->err);
}

static int delete_once(struct env *e)
{
	json_t *report = NULL;
	int rc = img_remove(e->s, "fail:2", 0, &report, &e->err);
	json_decref(report);
	return rc;
}

static void import_and_load_survive_every_allocation_failure(void **state)
{
	struct env *e = *state;
	assert_int_equal(
		fx_write_tar(wpath(e, "rootfs.tar.gz"), rootfs, 7, FX_GZIP), 0);
	assert_int_equal(fx_docker_save(e->work, wpath(e, "save.tar"),
					fx_base_layer, fx_base_layer_n,
					fx_upper_layer, fx_upper_layer_n,
					fx_config_fmt, "fail:2", NULL),
			 0);
	fail_each_allocation(e, import_once);
	fail_each_allocation(e, load_once);
	fail_each_allocation(e, save_once);
	struct img_image *img;
	assert_int_equal(img_resolve(e->s, "fail:1", &img, &e->err), 0);
	img_image_free(img);
	assert_int_equal(img_resolve(e->s, "fail:2", &img, &e->err), 0);
	img_image_free(img);
	fail_each_allocation(e, tag_once);
	fail_each_allocation(e, untag_once);
	fail_each_allocation(e, delete_once);
	assert_int_equal(img_resolve(e->s, "fail:1", &img, &e->err), 0);
	img_image_free(img);
	assert_int_equal(img_resolve(e->s, "fail:2", &img, &e->err),
			 SHOAL_ENOTFOUND);
	assert_int_equal(img_resolve(e->s, "fail:3", &img, &e->err),
			 SHOAL_ENOTFOUND);
}

/* Leaks ----------------------------------------------------------------- */

static void store_operations_leak_nothing(void **state)
{
	struct env *e = *state;
	img_store_close(e->s);
	e->s = NULL;
	int64_t live = shoal_alloc_live();
	assert_int_equal(img_store_open(e->root, &e->s, &e->err), 0);
	char *save = wpath(e, "save.tar"), *bad = wpath(e, "bad.tar");
	assert_int_equal(fx_docker_save(e->work, save, fx_base_layer,
					fx_base_layer_n, fx_upper_layer,
					fx_upper_layer_n, fx_config_fmt,
					"leak:1", NULL),
			 0);
	assert_int_equal(fx_oci_layout(e->work, bad, rootfs, 7, "leak:2", NULL),
			 0);
	json_t *loaded, *j;
	assert_int_equal(load_file(e, save, &loaded), 0);
	json_decref(loaded);
	assert_int_equal(load_file(e, bad, NULL), 0);
	assert_int_equal(truncate(bad, 2000), 0);
	assert_true(load_file(e, bad, NULL) < 0);
	struct img_image *img;
	assert_int_equal(img_resolve(e->s, "leak:1", &img, &e->err), 0);
	img_image_free(img);
	assert_int_equal(img_inspect_json(e->s, "leak:2", &j, &e->err), 0);
	json_decref(j);
	assert_int_equal(img_list_json(e->s, &j, &e->err), 0);
	json_decref(j);
	assert_int_equal(img_use(e->s, "leak:1", "c1"), SHOAL_ENOTFOUND);
	const char *refs[] = {"leak:1", "leak:2"};
	int fd = open(wpath(e, "saved.tar"), O_WRONLY | O_CREAT, 0600);
	assert_int_equal(img_save(e->s, refs, 2, fd, &e->err), 0);
	close(fd);
	assert_int_equal(img_tag(e->s, "leak:1", "leak:3", &e->err), 0);
	assert_int_equal(img_remove(e->s, "leak:1", 0, &j, &e->err), 0);
	json_decref(j);
	assert_int_equal(img_remove(e->s, "leak:3", 0, &j, &e->err), 0);
	json_decref(j);
	img_store_close(e->s);
	assert_int_equal(shoal_alloc_live(), live);
	assert_int_equal(img_store_open(e->root, &e->s, &e->err), 0);
}

int main(void)
{
	shoal_alloc_install();
	log_set_level(LOG_LEVEL_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			imported_rootfs_resolves_to_its_layer_and_config, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			import_accepts_every_compression, setup, teardown),
		cmocka_unit_test_setup_teardown(
			import_refuses_a_bad_change_and_leaves_nothing, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			compressions_without_a_library_are_refused_never_run,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			import_and_load_read_from_nonblocking_pipes, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			implied_folders_are_0755_whatever_the_umask, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			docker_save_archive_loads_with_layers_in_order, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			a_layer_shared_by_two_images_is_unpacked_once, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			oci_layout_archive_loads_with_its_annotated_name, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			layer_xattrs_are_kept_but_never_overlay_metadata, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			multi_platform_index_loads_the_host_platform, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			loading_a_present_image_only_adds_its_tags, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			concurrent_loads_sharing_a_layer_both_succeed, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			legacy_docker_save_with_a_linked_layer_loads, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			store_keeps_images_across_reopen_and_sweeps_leftovers,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			removing_tags_follows_docker_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(
			removal_is_refused_while_a_container_uses_the_image,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			removal_by_id_follows_dockers_running_and_stopped_rules,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			loading_a_tag_that_moves_reports_the_old_image, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			damaged_archives_are_rejected_leaving_nothing, setup,
			teardown),
		cmocka_unit_test(
			change_lines_parse_like_dockerfile_instructions),
		cmocka_unit_test(references_normalize_like_docker),
		cmocka_unit_test_setup_teardown(
			async_jobs_complete_on_the_loop_with_progress, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			saved_images_load_back_identically_elsewhere, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			import_and_load_survive_every_allocation_failure, setup,
			teardown),
		cmocka_unit_test_setup_teardown(store_operations_leak_nothing,
						setup, teardown),
	};
	/* tmpfs when there is one: many small files come and go here. */
	const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(run_root, sizeof(run_root), "%s/shoal-img-unit.XXXXXX", tmp);
	if (!mkdtemp(run_root))
		return 1;
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	img__rmrf(run_root);
	return failed;
}
