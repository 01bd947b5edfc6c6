/*
 * This node's images for its heartbeats (image_report.h). The image store
 * answers from memory (its index and configs), so the report is built on
 * the loop each heartbeat; the agent sends it only when its fingerprint
 * changed since the last one it sent in the session, and again every so
 * often (agent.c), so the managers' copy follows imports, loads and
 * removals within a heartbeat or two. Images beyond WIRE_IMAGES_MAX (the
 * lowest ids are kept) and tags beyond WIRE_IMAGE_TAGS_MAX are left out;
 * the report says it was truncated.
 */
#include "worker/image_report.h"

#include "common/alloc.h"
#include "common/error.h"
#include "image/image.h"
#include "proto/node_images.h"
#include "proto/wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int cmp_id(const void *a, const void *b)
{
	return strcmp(json_string_value(json_object_get(*(json_t **)a, "Id")),
		      json_string_value(json_object_get(*(json_t **)b, "Id")));
}

/* The store's images, inspected, sorted by id, into r->src. */
static int inspect_all(struct img_store *s, struct image_report *r)
{
	json_t *list = NULL;
	if (img_list_json(s, &list, NULL) < 0)
		return -ENOMEM;
	size_t n = json_array_size(list);
	json_t **v = shoal_calloc(n + 1, sizeof(*v));
	r->src = json_array();
	size_t k = 0;
	for (size_t i = 0; v && r->src && i < n; i++) {
		const char *id = json_string_value(
			json_object_get(json_array_get(list, i), "Id"));
		json_t *o = NULL;
		/* An image removed meanwhile is simply not reported. */
		if (id && wire_digest_ok(id) &&
		    img_inspect_json(s, id, &o, NULL) == 0)
			v[k++] = o;
	}
	json_decref(list);
	if (!v || !r->src) {
		shoal_free(v);
		return -ENOMEM;
	}
	qsort(v, k, sizeof(*v), cmp_id);
	for (size_t i = 0; i < k; i++)
		json_array_append_new(r->src, v[i]);
	shoal_free(v);
	return 0;
}

static size_t count_strings(json_t *src, size_t n)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_array_get(src, i);
		total += json_array_size(json_object_get(
			json_object_get(o, "RootFS"), "Layers"));
		total += json_array_size(json_object_get(o, "RepoTags"));
	}
	return total;
}

/* Borrow @a's strings (up to @max) into @out; the count kept. */
static size_t borrow(json_t *a, size_t max, char **out, bool *cut)
{
	size_t k = 0;
	for (size_t i = 0; i < json_array_size(a); i++) {
		const char *s = json_string_value(json_array_get(a, i));
		if (!s)
			continue;
		if (k == max) {
			*cut = true;
			break;
		}
		out[k++] = (char *)s;
	}
	return k;
}

static void fill(struct image_report *r, size_t n)
{
	char **next = r->strs;
	bool cut = false;
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_array_get(r->src, i);
		Swarm__NodeImage *im = &r->items[i];
		swarm__node_image__init(im);
		im->id = (char *)json_string_value(json_object_get(o, "Id"));
		im->layers = next;
		im->n_layers = borrow(
			json_object_get(json_object_get(o, "RootFS"), "Layers"),
			WIRE_IMAGE_LAYERS_MAX, next, &cut);
		next += im->n_layers;
		im->repo_tags = next;
		im->n_repo_tags = borrow(json_object_get(o, "RepoTags"),
					 WIRE_IMAGE_TAGS_MAX, next, &cut);
		next += im->n_repo_tags;
		r->ptrs[i] = im;
	}
	r->pb.truncated = r->pb.truncated || cut;
}

/* The packed report's sha256, what the agent compares between beats. */
static int fingerprint(struct image_report *r)
{
	size_t len = swarm__node_images__get_packed_size(&r->pb);
	uint8_t *buf = shoal_malloc(len + 1);
	if (!buf)
		return -ENOMEM;
	swarm__node_images__pack(&r->pb, buf);
	shoal_sha256(buf, len, r->fingerprint);
	shoal_free(buf);
	return 0;
}

int worker__image_report(struct img_store *s, struct image_report *r)
{
	memset(r, 0, sizeof(*r));
	swarm__node_images__init(&r->pb);
	int rc = inspect_all(s, r);
	size_t n = json_array_size(r->src);
	if (n > WIRE_IMAGES_MAX) {
		n = WIRE_IMAGES_MAX;
		r->pb.truncated = true;
	}
	if (rc == 0) {
		r->items = shoal_calloc(n + 1, sizeof(*r->items));
		r->ptrs = shoal_calloc(n + 1, sizeof(*r->ptrs));
		r->strs = shoal_calloc(count_strings(r->src, n) + 1,
				       sizeof(*r->strs));
		if (!r->items || !r->ptrs || !r->strs)
			rc = -ENOMEM;
	}
	if (rc == 0) {
		fill(r, n);
		r->pb.images = r->ptrs;
		r->pb.n_images = n;
		rc = fingerprint(r);
	}
	if (rc < 0)
		worker__image_report_free(r);
	return rc;
}

void worker__image_report_free(struct image_report *r)
{
	shoal_free(r->items);
	shoal_free(r->ptrs);
	shoal_free(r->strs);
	json_decref(r->src);
	memset(r, 0, sizeof(*r));
}
