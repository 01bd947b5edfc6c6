/*
 * A node's image report: what the leader accepts (wire_images_check), the
 * form it keeps (wire_images_json), and the report an agent builds from
 * its image store (worker__image_report): every image with its layers and
 * tags, sorted by id, a fingerprint that follows imports and removals.
 */
#include "common/crypto.h"
#include "image/image.h"
#include "proto/node_images.h"
#include "worker/image_report.h"

#include "../image/image_fixtures.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define X4(c) c c c c
#define X16(c) X4(c) X4(c) X4(c) X4(c)
/* "sha256:" and 64 times the digit @c. */
#define D(c) ((char *)"sha256:" X16(c) X16(c) X16(c) X16(c))

static char *layers_a[] = {D("1"), D("2")};
static char *tags_a[] = {(char *)"busybox:latest"};

static void image(Swarm__NodeImage *im, char *id)
{
	swarm__node_image__init(im);
	im->id = id;
	im->layers = layers_a;
	im->n_layers = 2;
	im->repo_tags = tags_a;
	im->n_repo_tags = 1;
}

static int check2(char *id1, char *id2, char *err, size_t errlen)
{
	Swarm__NodeImage a, b;
	Swarm__NodeImage *v[] = {&a, &b};
	image(&a, id1);
	image(&b, id2);
	Swarm__NodeImages r = SWARM__NODE_IMAGES__INIT;
	r.images = v;
	r.n_images = 2;
	return wire_images_check(&r, err, errlen);
}

static void accepts_a_sorted_report_of_digests(void **state)
{
	char err[256] = "";
	assert_int_equal(check2(D("a"), D("b"), err, sizeof(err)), 0);
	assert_int_equal(wire_images_check(NULL, err, sizeof(err)), 0);
}

static void refuses_unsorted_repeated_and_malformed_ids(void **state)
{
	char err[256] = "";
	assert_int_equal(check2(D("b"), D("a"), err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "not sorted or repeated"));
	assert_int_equal(check2(D("a"), D("a"), err, sizeof(err)), -EPROTO);
	assert_int_equal(check2(D("a"), D("B"), err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "not a sha256 digest"));
	assert_int_equal(check2(D("a"), (char *)"sha256:abc", err, sizeof(err)),
			 -EPROTO);
	assert_int_equal(check2(D("a"), (char *)"", err, sizeof(err)), -EPROTO);
	assert_false(wire_digest_ok(NULL));
}

static void refuses_bad_layers_and_tags(void **state)
{
	char err[256] = "";
	Swarm__NodeImage a;
	Swarm__NodeImage *v[] = {&a};
	Swarm__NodeImages r = SWARM__NODE_IMAGES__INIT;
	r.images = v;
	r.n_images = 1;
	image(&a, D("a"));
	char *bad_layers[] = {D("1"), (char *)"sha256:zz"};
	a.layers = bad_layers;
	assert_int_equal(wire_images_check(&r, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "layer 1"));
	image(&a, D("a"));
	char *bad_tags[] = {(char *)"has space:1"};
	a.repo_tags = bad_tags;
	assert_int_equal(wire_images_check(&r, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "tag 0"));
	char *empty[] = {(char *)""};
	a.repo_tags = empty;
	assert_int_equal(wire_images_check(&r, err, sizeof(err)), -EPROTO);
}

static void refuses_reports_past_their_bounds(void **state)
{
	char err[256] = "";
	Swarm__NodeImage a;
	Swarm__NodeImage *v[] = {&a};
	Swarm__NodeImages r = SWARM__NODE_IMAGES__INIT;
	r.images = v;
	r.n_images = 1;
	image(&a, D("a"));
	char *many[WIRE_IMAGE_LAYERS_MAX + 1];
	for (size_t i = 0; i <= WIRE_IMAGE_LAYERS_MAX; i++)
		many[i] = D("c");
	a.layers = many;
	a.n_layers = WIRE_IMAGE_LAYERS_MAX;
	assert_int_equal(wire_images_check(&r, err, sizeof(err)), 0);
	a.n_layers = WIRE_IMAGE_LAYERS_MAX + 1;
	assert_int_equal(wire_images_check(&r, err, sizeof(err)), -EPROTO);
	image(&a, D("a"));
	r.n_images = WIRE_IMAGES_MAX + 1; /* refused before any is read */
	assert_int_equal(wire_images_check(&r, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "more than"));
}

static void keeps_ids_layers_tags_and_truncation(void **state)
{
	Swarm__NodeImage a;
	Swarm__NodeImage *v[] = {&a};
	Swarm__NodeImages r = SWARM__NODE_IMAGES__INIT;
	r.images = v;
	r.n_images = 1;
	r.truncated = true;
	image(&a, D("a"));
	json_t *j = wire_images_json(&r);
	assert_non_null(j);
	json_t *im = json_array_get(json_object_get(j, "Images"), 0);
	assert_string_equal(json_string_value(json_object_get(im, "Id")),
			    D("a"));
	assert_int_equal(json_array_size(json_object_get(im, "Layers")), 2);
	assert_string_equal(json_string_value(json_array_get(
				    json_object_get(im, "RepoTags"), 0)),
			    "busybox:latest");
	assert_true(json_is_true(json_object_get(j, "Truncated")));
	json_decref(j);
}

/* --- the agent's report from a real image store --- */

struct env {
	char root[64];
	struct img_store *s;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	snprintf(e->root, sizeof(e->root), "/tmp/shoal-imgrep.XXXXXX");
	if (!mkdtemp(e->root))
		return -1;
	struct shoal_err err;
	if (img_store_open(e->root, &e->s, &err) < 0)
		return -1;
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	img_store_close(e->s);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", e->root);
	if (system(cmd) != 0)
		return -1;
	free(e);
	return 0;
}

static void import(struct env *e, const char *ref, char *id)
{
	char tar[128];
	snprintf(tar, sizeof(tar), "%s/rootfs.tar", e->root);
	assert_int_equal(
		fx_write_tar(tar, fx_base_layer, fx_base_layer_n, FX_PLAIN), 0);
	int fd = open(tar, O_RDONLY);
	assert_true(fd >= 0);
	struct img_import_opts o = {.reference = ref};
	struct shoal_err err;
	assert_int_equal(img_import(e->s, fd, &o, id, &err), 0);
	close(fd);
}

static void reports_every_image_sorted_with_layers(void **state)
{
	struct env *e = *state;
	struct image_report r;
	assert_int_equal(worker__image_report(e->s, &r), 0);
	assert_int_equal(r.pb.n_images, 0);
	uint8_t empty[SHA256_BYTES];
	memcpy(empty, r.fingerprint, sizeof(empty));
	worker__image_report_free(&r);

	char id1[DIGEST_STR_LEN], id2[DIGEST_STR_LEN];
	import(e, "one:1", id1);
	sleep(1); /* another Created, so another id */
	import(e, "two:2", id2);
	assert_int_equal(worker__image_report(e->s, &r), 0);
	assert_int_equal(r.pb.n_images, 2);
	assert_false(r.pb.truncated);
	assert_true(strcmp(r.pb.images[0]->id, r.pb.images[1]->id) < 0);
	char err[256];
	assert_int_equal(wire_images_check(&r.pb, err, sizeof(err)), 0);
	for (size_t i = 0; i < 2; i++) {
		const Swarm__NodeImage *im = r.pb.images[i];
		assert_int_equal(im->n_layers, 1);
		assert_int_equal(im->n_repo_tags, 1);
		bool first = strcmp(im->id, id1) == 0;
		assert_true(first || strcmp(im->id, id2) == 0);
		assert_string_equal(im->repo_tags[0],
				    first ? "one:1" : "two:2");
	}
	uint8_t two[SHA256_BYTES];
	memcpy(two, r.fingerprint, sizeof(two));
	assert_memory_not_equal(two, empty, SHA256_BYTES);
	worker__image_report_free(&r);

	/* The same store, the same fingerprint: nothing to resend. */
	assert_int_equal(worker__image_report(e->s, &r), 0);
	assert_memory_equal(r.fingerprint, two, SHA256_BYTES);
	worker__image_report_free(&r);

	struct shoal_err serr;
	assert_int_equal(img_remove(e->s, "one:1", 0, NULL, &serr), 0);
	assert_int_equal(worker__image_report(e->s, &r), 0);
	assert_int_equal(r.pb.n_images, 1);
	assert_string_equal(r.pb.images[0]->id, id2);
	assert_memory_not_equal(r.fingerprint, two, SHA256_BYTES);
	worker__image_report_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(accepts_a_sorted_report_of_digests),
		cmocka_unit_test(refuses_unsorted_repeated_and_malformed_ids),
		cmocka_unit_test(refuses_bad_layers_and_tags),
		cmocka_unit_test(refuses_reports_past_their_bounds),
		cmocka_unit_test(keeps_ids_layers_tags_and_truncation),
		cmocka_unit_test_setup_teardown(
			reports_every_image_sorted_with_layers, setup,
			teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
