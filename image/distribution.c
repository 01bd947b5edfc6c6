/*
 * What a registry holds under a reference, without pulling it: Docker's
 * GET /distribution/{name}/json answer, which the docker CLI reads to pin
 * a service's image to a digest (`service create` turns "busybox" into
 * "busybox:latest@sha256:...").
 *
 * The manifest the reference names is fetched (with the same Accept list,
 * authentication and TLS rules as a pull) and described as it came: its
 * media type, the sha256 of its bytes and their count. Its platforms are
 * the entries' of a manifest list or OCI index, or, for an image manifest,
 * the os and architecture of its config blob (fetched, bounded to 4 MiB,
 * and checked against its digest as a pull checks it).
 */
#define LOG_MODULE "image"
#include "image/registry_internal.h"

#include <errno.h>
#include <string.h>

#include "common/alloc.h"
#include "common/id.h"
#include "common/jsonx.h"

#define ACCEPT                                                                 \
	"application/vnd.docker.distribution.manifest.v2+json, "               \
	"application/vnd.docker.distribution.manifest.list.v2+json, "          \
	"application/vnd.oci.image.manifest.v1+json, "                         \
	"application/vnd.oci.image.index.v1+json"

static json_t *platform(const char *os, const char *arch, const char *variant)
{
	json_t *p = json_pack("{s:s,s:s}", "architecture", arch ? arch : "",
			      "os", os ? os : "");
	if (p && variant && *variant)
		json_object_set_new(p, "variant", json_string(variant));
	return p;
}

static int index_platforms(struct reg *r, struct reg_sink *k, json_t *out)
{
	struct img__desc_list l;
	int rc = img__oci_index_parse(k->mem.data, k->mem.len, &l, r->err);
	if (rc < 0)
		return rc;
	for (size_t i = 0; rc == 0 && i < l.n; i++) {
		if (l.d[i].attestation)
			continue;
		if (json_array_append_new(
			    out, platform(l.d[i].os, l.d[i].arch, NULL)) < 0)
			rc = -ENOMEM;
	}
	img__desc_list_clear(&l);
	return rc;
}

static int image_platform(struct reg *r, struct reg_sink *k, json_t *out)
{
	struct img__desc config;
	struct img__desc_list layers;
	int rc = img__oci_manifest_parse(k->mem.data, k->mem.len, &config,
					 &layers, r->err);
	if (rc < 0)
		return rc;
	struct reg_sink c;
	char path[100], d[DIGEST_STR_LEN];
	snprintf(path, sizeof(path), "/blobs/sha256:%s", config.hex);
	reg__sink_mem(&c);
	rc = reg__get(r, path, NULL, &c, "image config");
	if (rc == 0) {
		shoal_sha256_str(c.mem.data, c.mem.len, d);
		if (strcmp(d + 7, config.hex))
			rc = img__fail(r->err, SHOAL_ECORRUPT,
				       "image config verification failed for "
				       "digest sha256:%s",
				       config.hex);
	}
	json_t *cfg = NULL;
	if (rc == 0 &&
	    jsonx_parse_object(c.mem.data, c.mem.len, &cfg, NULL, 0) < 0)
		rc = img__fail(r->err, -EPROTO, "the image config is not JSON");
	if (rc == 0 &&
	    json_array_append_new(
		    out, platform(jsonx_str(cfg, "os", NULL),
				  jsonx_str(cfg, "architecture", NULL),
				  jsonx_str(cfg, "variant", NULL))) < 0)
		rc = -ENOMEM;
	json_decref(cfg);
	reg__sink_fini(&c);
	img__desc_clear(&config);
	img__desc_list_clear(&layers);
	return rc;
}

static int describe(struct reg *r, json_t **out)
{
	const char *ref = r->ref.digest[0] ? r->ref.digest : r->ref.tag;
	char path[300], d[DIGEST_STR_LEN];
	struct reg_sink k;
	snprintf(path, sizeof(path), "/manifests/%s", ref);
	reg__sink_mem(&k);
	int rc = reg__get(r, path, ACCEPT, &k, "manifest");
	if (rc == SHOAL_ENOTFOUND) {
		char fam[600];
		img_ref_familiar(&r->ref, fam, sizeof(fam));
		rc = img__fail(r->err, SHOAL_ENOTFOUND,
			       "manifest for %s:%s not found: manifest "
			       "unknown",
			       fam, ref);
	}
	if (rc == 0) {
		shoal_sha256_str(k.mem.data, k.mem.len, d);
		if (r->ref.digest[0] && strcmp(d, r->ref.digest))
			rc = img__fail(r->err, SHOAL_ECORRUPT,
				       "manifest verification failed for "
				       "digest %s",
				       r->ref.digest);
	}
	json_t *o = NULL;
	if (rc == 0 &&
	    jsonx_parse_object(k.mem.data, k.mem.len, &o, NULL, 0) < 0)
		rc = img__fail(r->err, -EPROTO, "the manifest is not JSON");
	const char *mt = jsonx_str(o, "mediaType", NULL);
	if (!mt || !*mt)
		mt = k.ctype;
	bool index =
		img__media_is_index(mt) || (json_object_get(o, "manifests") &&
					    !json_object_get(o, "layers"));
	json_t *plats = json_array();
	if (rc == 0 && !plats)
		rc = -ENOMEM;
	if (rc == 0)
		rc = index ? index_platforms(r, &k, plats)
			   : image_platform(r, &k, plats);
	if (rc == 0) {
		*out = json_pack("{s:{s:s,s:s,s:I},s:O}", "Descriptor",
				 "mediaType", mt, "digest", d, "size",
				 (json_int_t)k.mem.len, "Platforms", plats);
		rc = *out ? 0 : -ENOMEM;
	}
	json_decref(plats);
	json_decref(o);
	reg__sink_fini(&k);
	return rc;
}

int img_distribution(const struct img_pull_opts *o, json_t **out,
		     struct shoal_err *err)
{
	struct shoal_err local;
	struct img_ref ref;
	struct reg r;
	if (!err)
		err = &local;
	err->msg[0] = '\0';
	*out = NULL;
	int rc = img_ref_parse(o->reference, &ref, err);
	if (rc < 0)
		return rc;
	rc = reg__init(&r, o, &ref, err);
	if (rc == 0)
		rc = reg__ping(&r);
	if (rc == 0)
		rc = describe(&r, out);
	reg__fini(&r);
	return rc;
}
