/*
 * Checks and the stored form of a node's image report (node_images.h).
 * The checks run on the leader over a peer's message: nothing here
 * asserts on the input, and a refusal names the first thing wrong.
 */
#include "proto/node_images.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

bool wire_digest_ok(const char *s)
{
	if (!s || strncmp(s, "sha256:", 7) != 0 || strlen(s) != 7 + 64)
		return false;
	for (const char *p = s + 7; *p; p++) {
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	}
	return true;
}

static bool tag_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > WIRE_IMAGE_TAG_LEN_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			return false;
	}
	return true;
}

static int image_check(const Swarm__NodeImage *im, size_t i, char *err,
		       size_t errlen)
{
	if (!im || !wire_digest_ok(im->id)) {
		snprintf(err, errlen, "image %zu: id is not a sha256 digest",
			 i);
		return -EPROTO;
	}
	if (im->n_layers > WIRE_IMAGE_LAYERS_MAX ||
	    im->n_repo_tags > WIRE_IMAGE_TAGS_MAX) {
		snprintf(err, errlen,
			 "image %s: more than %d layers or %d tags", im->id,
			 WIRE_IMAGE_LAYERS_MAX, WIRE_IMAGE_TAGS_MAX);
		return -EPROTO;
	}
	for (size_t k = 0; k < im->n_layers; k++) {
		if (!wire_digest_ok(im->layers[k])) {
			snprintf(err, errlen,
				 "image %s: layer %zu is not a sha256 digest",
				 im->id, k);
			return -EPROTO;
		}
	}
	for (size_t k = 0; k < im->n_repo_tags; k++) {
		if (!tag_ok(im->repo_tags[k])) {
			snprintf(err, errlen, "image %s: tag %zu is invalid",
				 im->id, k);
			return -EPROTO;
		}
	}
	return 0;
}

int wire_images_check(const Swarm__NodeImages *pb, char *err, size_t errlen)
{
	if (!pb)
		return 0;
	if (pb->n_images > WIRE_IMAGES_MAX) {
		snprintf(err, errlen, "%zu images, more than %d", pb->n_images,
			 WIRE_IMAGES_MAX);
		return -EPROTO;
	}
	for (size_t i = 0; i < pb->n_images; i++) {
		int rc = image_check(pb->images[i], i, err, errlen);
		if (rc < 0)
			return rc;
		if (i > 0 &&
		    strcmp(pb->images[i - 1]->id, pb->images[i]->id) >= 0) {
			snprintf(err, errlen,
				 "image %s: ids not sorted or repeated",
				 pb->images[i]->id);
			return -EPROTO;
		}
	}
	return 0;
}

static json_t *strings(char **v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++) {
		if (json_array_append_new(a, json_string(v[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

json_t *wire_images_json(const Swarm__NodeImages *pb)
{
	json_t *list = json_array();
	size_t n = pb ? pb->n_images : 0;
	for (size_t i = 0; list && i < n; i++) {
		const Swarm__NodeImage *im = pb->images[i];
		json_t *o =
			json_pack("{s:s, s:o*, s:o*}", "Id", im->id, "Layers",
				  strings(im->layers, im->n_layers), "RepoTags",
				  strings(im->repo_tags, im->n_repo_tags));
		if (!o || !json_object_get(o, "Layers") ||
		    !json_object_get(o, "RepoTags") ||
		    json_array_append_new(list, o) < 0) {
			json_decref(o);
			json_decref(list);
			return NULL;
		}
	}
	if (!list)
		return NULL;
	return json_pack("{s:o, s:b}", "Images", list, "Truncated",
			 pb && pb->truncated);
}
