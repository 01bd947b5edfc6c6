/*
 * Parsers of the archive formats' tables of contents:
 *
 * - docker save's manifest.json: [{"Config": path, "RepoTags": [...],
 *   "Layers": [path, ...]}], paths inside the archive (moby's
 *   image/tarexport);
 * - the OCI image layout's index.json and nested image indexes, and OCI or
 *   Docker schema 2 image manifests (OCI image spec: image-layout.md,
 *   image-index.md, manifest.md, descriptor.md).
 *
 * Everything here reads bytes from an untrusted archive, so each field's
 * type is checked and every count is bounded; the fuzz target
 * tests/fuzz/image/fuzz_image_manifest.c drives these functions.
 */
#include "image/internal.h"

#include <errno.h>
#include <string.h>

#include "common/alloc.h"
#include "common/id.h"

#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_DOCKER_LIST                                                         \
	"application/vnd.docker.distribution.manifest.list.v2+json"

static json_t *load_json(const char *data, size_t len, const char *what,
			 struct shoal_err *err)
{
	json_error_t je;
	if (len > IMG_JSON_MAX) {
		img__fail(err, -EINVAL, "%s is too large", what);
		return NULL;
	}
	json_t *v = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
	if (!v)
		img__fail(err, -EINVAL, "%s is not valid JSON: %s (line %d)",
			  what, je.text, je.line);
	return v;
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		shoal_free(v[i]);
	shoal_free(v);
}

static int strv_from(const json_t *arr, size_t max, char ***out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (!arr || json_is_null(arr))
		return 0;
	if (!json_is_array(arr) || json_array_size(arr) > max)
		return -EINVAL;
	char **v = shoal_calloc(json_array_size(arr) + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	size_t i;
	json_t *x;
	for (i = 0; i < json_array_size(arr) && (x = json_array_get(arr, i));
	     i++) {
		if (!json_is_string(x) ||
		    !(v[i] = shoal_strdup(json_string_value(x)))) {
			free_strv(v, i);
			return json_is_string(x) ? -ENOMEM : -EINVAL;
		}
	}
	*out = v;
	*n = json_array_size(arr);
	return 0;
}

void img__dmanifest_clear(struct img__dmanifest *m)
{
	for (size_t i = 0; i < m->n; i++) {
		struct img__dmanifest_item *it = &m->items[i];
		shoal_free(it->config);
		free_strv(it->tags, it->n_tags);
		free_strv(it->layers, it->n_layers);
	}
	shoal_free(m->items);
	m->items = NULL;
	m->n = 0;
}

int img__dmanifest_parse(const char *data, size_t len,
			 struct img__dmanifest *out, struct shoal_err *err)
{
	memset(out, 0, sizeof(*out));
	json_t *root = load_json(data, len, "manifest.json", err);
	if (!root)
		return -EINVAL;
	int rc = img__fail(err, -EINVAL,
			   "manifest.json is not an array of images");
	size_t n = json_array_size(root);
	if (!json_is_array(root) || n == 0 || n > IMG_IMAGES_MAX)
		goto out;
	out->items = shoal_calloc(n, sizeof(*out->items));
	rc = -ENOMEM;
	if (!out->items)
		goto out;
	size_t i;
	json_t *x;
	for (i = 0; i < json_array_size(root) && (x = json_array_get(root, i));
	     i++) {
		struct img__dmanifest_item *it = &out->items[i];
		json_t *cfg = json_object_get(x, "Config");
		out->n = i + 1;
		rc = img__fail(err, -EINVAL,
			       "manifest.json: image %zu has no Config", i);
		if (!json_is_string(cfg))
			goto out;
		rc = -ENOMEM;
		if (!(it->config = shoal_strdup(json_string_value(cfg))))
			goto out;
		rc = strv_from(json_object_get(x, "RepoTags"), 1000, &it->tags,
			       &it->n_tags);
		if (rc < 0) {
			img__fail(err, rc,
				  "manifest.json: image %zu: bad RepoTags", i);
			goto out;
		}
		rc = strv_from(json_object_get(x, "Layers"), IMG_LAYERS_MAX,
			       &it->layers, &it->n_layers);
		if (rc < 0 || !json_is_array(json_object_get(x, "Layers"))) {
			rc = img__fail(err, rc < 0 ? rc : -EINVAL,
				       "manifest.json: image %zu: bad Layers",
				       i);
			goto out;
		}
	}
	rc = 0;
out:
	json_decref(root);
	if (rc < 0)
		img__dmanifest_clear(out);
	return rc;
}

void img__desc_clear(struct img__desc *d)
{
	shoal_free(d->media_type);
	shoal_free(d->name);
	shoal_free(d->os);
	shoal_free(d->arch);
	shoal_free(d->variant);
	memset(d, 0, sizeof(*d));
}

void img__desc_list_clear(struct img__desc_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		img__desc_clear(&l->d[i]);
	shoal_free(l->d);
	l->d = NULL;
	l->n = 0;
}

bool img__media_is_index(const char *mt)
{
	return mt && (!strcmp(mt, MT_OCI_INDEX) || !strcmp(mt, MT_DOCKER_LIST));
}

static int opt_str(const json_t *v, char **out)
{
	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return -EINVAL;
	*out = shoal_strdup(json_string_value(v));
	return *out ? 0 : -ENOMEM;
}

/* The image name of an index entry: containerd's annotation, or an OCI
 * ref.name that is a whole reference (a bare tag names no repository). */
static int desc_name(const json_t *ann, char **out)
{
	*out = NULL;
	if (ann && !json_is_object(ann))
		return -EINVAL;
	const char *n = json_string_value(
		json_object_get(ann, "io.containerd.image.name"));
	if (!n) {
		n = json_string_value(json_object_get(
			ann, "org.opencontainers.image.ref.name"));
		if (n && !strpbrk(n, ":/"))
			n = NULL;
	}
	if (!n)
		return 0;
	*out = shoal_strdup(n);
	return *out ? 0 : -ENOMEM;
}

static int desc_parse(const json_t *v, struct img__desc *d, const char *what,
		      struct shoal_err *err)
{
	memset(d, 0, sizeof(*d));
	const char *digest = json_string_value(json_object_get(v, "digest"));
	json_t *size = json_object_get(v, "size");
	if (!json_is_object(v) || !digest || strncmp(digest, "sha256:", 7) ||
	    !id_is_hex(digest + 7, 64))
		return img__fail(err, -EINVAL,
				 "%s: descriptor without a sha256 digest",
				 what);
	if (!json_is_integer(size) || json_integer_value(size) < 0)
		return img__fail(err, -EINVAL, "%s: descriptor %s has no size",
				 what, digest);
	memcpy(d->hex, digest + 7, 65);
	d->size = json_integer_value(size);
	const json_t *ann = json_object_get(v, "annotations");
	const json_t *plat = json_object_get(v, "platform");
	int rc = opt_str(json_object_get(v, "mediaType"), &d->media_type);
	if (rc == 0)
		rc = desc_name(ann, &d->name);
	if (rc == 0 && plat && !json_is_object(plat))
		rc = -EINVAL;
	if (rc == 0)
		rc = opt_str(json_object_get(plat, "os"), &d->os);
	if (rc == 0)
		rc = opt_str(json_object_get(plat, "architecture"), &d->arch);
	if (rc == 0)
		rc = opt_str(json_object_get(plat, "variant"), &d->variant);
	const char *ref = json_string_value(
		json_object_get(ann, "vnd.docker.reference.type"));
	d->attestation = ref && !strcmp(ref, "attestation-manifest");
	if (rc < 0) {
		img__desc_clear(d);
		return img__fail(err, rc, "%s: descriptor %s is malformed",
				 what, digest);
	}
	return 0;
}

static int desc_array(const json_t *arr, size_t max, const char *what,
		      struct img__desc_list *out, struct shoal_err *err)
{
	memset(out, 0, sizeof(*out));
	if (!json_is_array(arr) || json_array_size(arr) > max)
		return img__fail(err, -EINVAL, "%s: missing or too long list",
				 what);
	if (json_array_size(arr) == 0)
		return 0;
	out->d = shoal_calloc(json_array_size(arr), sizeof(*out->d));
	if (!out->d)
		return -ENOMEM;
	size_t i;
	json_t *x;
	for (i = 0; i < json_array_size(arr) && (x = json_array_get(arr, i));
	     i++) {
		int rc = desc_parse(x, &out->d[i], what, err);
		if (rc < 0) {
			img__desc_list_clear(out);
			return rc;
		}
		out->n = i + 1;
	}
	return 0;
}

int img__oci_index_parse(const char *data, size_t len,
			 struct img__desc_list *out, struct shoal_err *err)
{
	memset(out, 0, sizeof(*out));
	json_t *root = load_json(data, len, "index.json", err);
	if (!root)
		return -EINVAL;
	int rc;
	json_t *ver = json_object_get(root, "schemaVersion");
	if (!json_is_integer(ver) || json_integer_value(ver) != 2)
		rc = img__fail(err, -EINVAL,
			       "index.json: schemaVersion is not 2");
	else
		rc = desc_array(json_object_get(root, "manifests"),
				IMG_IMAGES_MAX, "index.json", out, err);
	json_decref(root);
	return rc;
}

int img__oci_manifest_parse(const char *data, size_t len,
			    struct img__desc *config,
			    struct img__desc_list *layers,
			    struct shoal_err *err)
{
	memset(config, 0, sizeof(*config));
	memset(layers, 0, sizeof(*layers));
	json_t *root = load_json(data, len, "image manifest", err);
	if (!root)
		return -EINVAL;
	int rc;
	json_t *ver = json_object_get(root, "schemaVersion");
	if (!json_is_integer(ver) || json_integer_value(ver) != 2)
		rc = img__fail(err, -EINVAL,
			       "image manifest: schemaVersion is not 2");
	else
		rc = desc_parse(json_object_get(root, "config"), config,
				"image manifest config", err);
	if (rc == 0) {
		rc = desc_array(json_object_get(root, "layers"), IMG_LAYERS_MAX,
				"image manifest layers", layers, err);
		if (rc < 0)
			img__desc_clear(config);
	}
	json_decref(root);
	return rc;
}

void img__plan_clear(struct img__plan *p)
{
	free_strv(p->tags, p->n_tags);
	for (size_t i = 0; i < p->n_layers; i++) {
		shoal_free(p->layers[i].media_type);
		shoal_free(p->layers[i].unpacked);
	}
	shoal_free(p->layers);
	memset(p, 0, sizeof(*p));
}
