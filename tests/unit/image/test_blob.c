/*
 * Unit tests of the blobs handed between the nodes of a swarm
 * (image/blob.h): the holder serves only blobs its images name, the
 * request decoder takes only "sha256:<64 lowercase hex>", and the fetcher
 * keeps a blob only when its bytes hash to the digest asked for (one
 * byte changed: refused, its file removed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/log.h"
#include "image/blob.h"
#include "image/internal.h"
#include "tests/unit/image/image_fixtures.h"

static char run_root[48];
static struct img_store *store;
static char image_id[65];

/* The whole blob @digest as the holder serves it (malloc'd). */
static char *serve(const char *digest, size_t *len)
{
	struct shoal_err err = {0};
	int fd;
	uint64_t size;
	assert_int_equal(img_blob_open(store, digest, &fd, &size, &err), 0);
	char *buf = malloc(size + 1);
	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, size, 0), (ssize_t)size);
	close(fd);
	*len = size;
	return buf;
}

/* Feeds @buf to a new transfer of @digest in 1000-byte pieces. */
static int receive(const char *digest, const char *buf, size_t len, char **path,
		   struct shoal_err *err)
{
	struct img_blob_rx *rx;
	assert_int_equal(img_blob_rx_begin(store, digest, 0, &rx, err), 0);
	for (size_t off = 0; off < len; off += 1000) {
		size_t n = len - off < 1000 ? len - off : 1000;
		assert_int_equal(img_blob_rx_feed(rx, buf + off, n, err), 0);
	}
	assert_int_equal(img_blob_rx_received(rx), len);
	return img_blob_rx_finish(rx, path, err);
}

static size_t tmp_entries(void)
{
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "ls -A %s/store/images/tmp | wc -l",
		 run_root);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	size_t n = 0;
	assert_int_equal(fscanf(p, "%zu", &n), 1);
	pclose(p);
	return n;
}

static void config_and_layers_round_trip(void **state)
{
	(void)state;
	struct img_image *img;
	struct shoal_err err = {0};
	assert_int_equal(img_resolve(store, image_id, &img, &err), 0);
	img_image_free(img);

	json_t *index = store->index;
	json_t *layers = json_object_get(
		json_object_get(json_object_get(index, "images"), image_id),
		"layers");
	assert_int_equal(json_array_size(layers), 2);

	char digest[80];
	snprintf(digest, sizeof(digest), "sha256:%s", image_id);
	const char *digests[3] = {
		digest,
		json_string_value(
			json_object_get(json_array_get(layers, 0), "blob")),
		json_string_value(
			json_object_get(json_array_get(layers, 1), "blob")),
	};
	for (size_t i = 0; i < 3; i++) {
		size_t len;
		char *buf = serve(digests[i], &len);
		char *path = NULL;
		assert_int_equal(receive(digests[i], buf, len, &path, &err), 0);
		char hex[65];
		assert_int_equal(fx_sha256_file(path, hex), 0);
		assert_string_equal(hex, digests[i] + 7);
		unlink(path);
		shoal_free(path);

		/* One byte changed: refused, naming both digests, and
		 * nothing left in tmp/. */
		buf[len / 2] ^= 0x01;
		path = NULL;
		assert_int_equal(receive(digests[i], buf, len, &path, &err),
				 -EBADMSG);
		assert_null(path);
		assert_non_null(strstr(err.msg, digests[i]));
		assert_non_null(strstr(err.msg, "refused"));
		assert_int_equal(tmp_entries(), 0);

		/* Cut short: refused too. */
		assert_int_equal(receive(digests[i], buf, len - 1, &path, &err),
				 -EBADMSG);
		assert_int_equal(tmp_entries(), 0);
		free(buf);
	}
}

static void holder_serves_only_named_blobs(void **state)
{
	(void)state;
	struct shoal_err err = {0};
	int fd = -1;
	uint64_t size;
	/* A file in blobs/ that no image names (left by a crash, or
	 * planted): not served. */
	char planted[200], hex[65], digest[80];
	fx_sha256("planted", 7, hex);
	snprintf(planted, sizeof(planted), "%s/store/images/blobs/sha256/%s",
		 run_root, hex);
	FILE *f = fopen(planted, "w");
	assert_non_null(f);
	fputs("planted", f);
	fclose(f);
	snprintf(digest, sizeof(digest), "sha256:%s", hex);
	assert_int_equal(img_blob_open(store, digest, &fd, &size, &err),
			 -ENOENT);
	assert_non_null(strstr(err.msg, "no image of this node holds"));
	unlink(planted);

	static const char *const bad[] = {
		"",
		"sha256:",
		"sha512:0000000000000000000000000000000000000000000000000000000000000000",
		"sha256:ABCDEF0000000000000000000000000000000000000000000000000000000000",
		"sha256:../../../../../../etc/passwd00000000000000000000000000000000",
		"sha256:00000000000000000000000000000000000000000000000000000000000000000",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(img_blob_open(store, bad[i], &fd, &size, &err),
				 -EINVAL);
		struct img_blob_rx *rx = NULL;
		assert_int_equal(img_blob_rx_begin(store, bad[i], 0, &rx, &err),
				 -EINVAL);
		assert_null(rx);
	}
	/* The decoder takes the bytes as they come: no NUL or newline. */
	char good[72];
	memcpy(good, "sha256:", 7);
	memset(good + 7, 'a', 64);
	good[71] = '\n';
	assert_int_equal(img_blob_digest_parse(good, 71, hex, &err), 0);
	assert_int_equal(img_blob_digest_parse(good, 72, hex, &err), -EINVAL);
	good[20] = '\0';
	assert_int_equal(img_blob_digest_parse(good, 71, hex, &err), -EINVAL);
}

static void size_bound_is_kept(void **state)
{
	(void)state;
	struct shoal_err err = {0};
	struct img_blob_rx *rx;
	char digest[80];
	snprintf(digest, sizeof(digest), "sha256:%s", image_id);
	assert_int_equal(img_blob_rx_begin(store, digest, 10, &rx, &err), 0);
	assert_int_equal(img_blob_rx_feed(rx, "0123456789", 10, &err), 0);
	assert_int_equal(img_blob_rx_feed(rx, "x", 1, &err), -EFBIG);
	assert_non_null(strstr(err.msg, "more than 10 bytes"));
	char *path = NULL;
	assert_int_equal(img_blob_rx_finish(rx, &path, &err), -EINVAL);
	assert_null(path);
	assert_int_equal(tmp_entries(), 0);
	img_blob_rx_abort(NULL);
}

/* Blobs received into a second store (another node) become the same
 * image there; layers that do not match the config's DiffIDs are refused
 * and leave nothing. */
static void assemble_makes_the_same_image(void **state)
{
	(void)state;
	struct shoal_err err = {0};
	char root2[96];
	snprintf(root2, sizeof(root2), "%s/store2", run_root);
	assert_int_equal(mkdir(root2, 0755), 0);
	struct img_store *s2;
	assert_int_equal(img_store_open(root2, &s2, &err), 0);

	json_t *layers = json_object_get(
		json_object_get(json_object_get(store->index, "images"),
				image_id),
		"layers");
	char cfg_digest[80];
	snprintf(cfg_digest, sizeof(cfg_digest), "sha256:%s", image_id);
	const char *digests[3] = {
		cfg_digest,
		json_string_value(
			json_object_get(json_array_get(layers, 0), "blob")),
		json_string_value(
			json_object_get(json_array_get(layers, 1), "blob")),
	};
	char *paths[3];
	for (size_t i = 0; i < 3; i++) {
		size_t len;
		char *buf = serve(digests[i], &len);
		struct img_blob_rx *rx;
		assert_int_equal(
			img_blob_rx_begin(s2, digests[i], 0, &rx, &err), 0);
		assert_int_equal(img_blob_rx_feed(rx, buf, len, &err), 0);
		assert_int_equal(img_blob_rx_finish(rx, &paths[i], &err), 0);
		free(buf);
	}
	/* Swapped layers: the DiffIDs do not match; nothing kept. */
	const char *swapped[2] = {paths[2], paths[1]};
	assert_true(img_blob_assemble(s2, paths[0], swapped, 2, "fetched:v1",
				      &err) < 0);
	struct img_image *img = NULL;
	assert_true(img_resolve(s2, "fetched:v1", &img, &err) < 0);
	/* One layer missing: refused too. */
	assert_true(img_blob_assemble(s2, paths[0], swapped, 1, "fetched:v1",
				      &err) < 0);

	const char *right[2] = {paths[1], paths[2]};
	assert_int_equal(
		img_blob_assemble(s2, paths[0], right, 2, "fetched:v1", &err),
		0);
	assert_int_equal(img_resolve(s2, "fetched:v1", &img, &err), 0);
	img_image_free(img);
	char ref[80];
	snprintf(ref, sizeof(ref), "sha256:%s", image_id);
	assert_int_equal(img_resolve(s2, ref, &img, &err), 0);
	img_image_free(img);
	for (size_t i = 0; i < 3; i++) {
		unlink(paths[i]);
		shoal_free(paths[i]);
	}
	img_store_close(s2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(config_and_layers_round_trip),
		cmocka_unit_test(holder_serves_only_named_blobs),
		cmocka_unit_test(size_bound_is_kept),
		cmocka_unit_test(assemble_makes_the_same_image),
	};
	const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	struct shoal_err err = {0};
	char work[96], archive[128], root[96];
	json_t *loaded = NULL;
	int failed = 1, fd = -1;

	shoal_alloc_install();
	log_set_level(LOG_LEVEL_ERROR);
	snprintf(run_root, sizeof(run_root), "%s/shoal-img-blob.XXXXXX", tmp);
	if (!mkdtemp(run_root))
		return 1;
	snprintf(work, sizeof(work), "%s/work", run_root);
	snprintf(archive, sizeof(archive), "%s/save.tar", run_root);
	snprintf(root, sizeof(root), "%s/store", run_root);
	if (mkdir(work, 0755) < 0 || mkdir(root, 0755) < 0 ||
	    fx_docker_save(work, archive, fx_base_layer, fx_base_layer_n,
			   fx_upper_layer, fx_upper_layer_n, fx_config_fmt,
			   "blobtest:latest", image_id) < 0 ||
	    img_store_open(root, &store, &err) < 0) {
		fprintf(stderr, "setup: %s\n", err.msg);
		goto out;
	}
	fd = open(archive, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || img_load(store, fd, NULL, NULL, &loaded, &err) < 0) {
		fprintf(stderr, "load: %s\n", err.msg);
		goto out;
	}
	close(fd);
	json_decref(loaded);
	failed = cmocka_run_group_tests(tests, NULL, NULL);
out:
	if (store)
		img_store_close(store);
	img__rmrf(run_root);
	return failed;
}
