/*
 * docker search against a registry's catalog (GET /v2/_catalog, the
 * Distribution API's listing of repositories, followed through its Link
 * pages up to CATALOG_MAX names): the repositories whose path contains
 * the term, in the catalog's order, as Docker's search results. A catalog
 * has no descriptions, stars or official images, so those are empty,
 * zero and false. Docker Hub has no catalog (its search is another API),
 * so a term without a registry host is refused by the caller.
 */
#define LOG_MODULE "image"
#include "image/registry_internal.h"

#include <errno.h>
#include <string.h>

#include "common/alloc.h"
#include "common/jsonx.h"

#define CATALOG_PAGE 1000
#define CATALOG_PAGES 10
#define CATALOG_MAX (CATALOG_PAGE * CATALOG_PAGES)

int img_catalog_parse(const char *data, size_t len, json_t *names, size_t max,
		      struct shoal_err *err)
{
	json_t *o = NULL;
	if (jsonx_parse_object(data, len, &o, NULL, 0) < 0)
		return img__fail(err, -EPROTO, "the catalog is not JSON");
	json_t *repos = json_object_get(o, "repositories");
	int rc = json_is_array(repos) || json_is_null(repos) || !repos
			 ? 0
			 : img__fail(err, -EPROTO,
				     "the catalog's repositories is not a "
				     "list");
	for (size_t i = 0; rc == 0 && i < json_array_size(repos); i++) {
		const char *n = json_string_value(json_array_get(repos, i));
		struct img_ref r;
		char ref[300];
		if (json_array_size(names) >= max)
			break;
		/* Only names a reference can hold (the path grammar). */
		if (!n || strlen(n) > 255)
			continue;
		snprintf(ref, sizeof(ref), "h:1/%s", n);
		if (img_ref_parse(ref, &r, NULL) < 0 || strcmp(r.path, n))
			continue;
		if (json_array_append_new(names, json_string(n)) < 0)
			rc = -ENOMEM;
	}
	json_decref(o);
	return rc;
}

/* The next page's "/v2/_catalog?..." from a Link header, or "". */
static void next_page(const char *link, char *out, size_t cap)
{
	out[0] = '\0';
	const char *lt = strchr(link, '<'), *gt = lt ? strchr(lt, '>') : NULL;
	if (!lt || !gt || !strstr(gt, "rel=\"next\"") ||
	    strncmp(lt + 1, "/v2/_catalog?", 13) ||
	    (size_t)(gt - lt - 1) >= cap)
		return;
	memcpy(out, lt + 1, (size_t)(gt - lt - 1));
	out[gt - lt - 1] = '\0';
}

static int catalog(struct reg *r, json_t *names)
{
	char where[600];
	snprintf(where, sizeof(where), "/v2/_catalog?n=%d", CATALOG_PAGE);
	for (int page = 0; page < CATALOG_PAGES && where[0]; page++) {
		struct reg_sink k;
		reg__sink_mem(&k);
		int rc = reg__request(r, where, &k, "catalog");
		if (rc == SHOAL_ENOTFOUND)
			rc = img__fail(r->err, SHOAL_ENOTFOUND,
				       "registry %s has no catalog to search",
				       r->host);
		if (rc == 0)
			rc = img_catalog_parse(k.mem.data, k.mem.len, names,
					       CATALOG_MAX, r->err);
		if (rc == 0)
			next_page(k.link, where, sizeof(where));
		reg__sink_fini(&k);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int img_search(const struct img_pull_opts *o, const char *host,
	       const char *term, size_t limit, json_t **out,
	       struct shoal_err *err)
{
	struct shoal_err local;
	struct img_ref ref = {0};
	struct reg r;
	if (!err)
		err = &local;
	err->msg[0] = '\0';
	*out = NULL;
	if (snprintf(ref.domain, sizeof(ref.domain), "%s", host) >=
	    (int)sizeof(ref.domain))
		return img__fail(err, -EINVAL, "registry name too long");
	json_t *names = json_array();
	if (!names)
		return -ENOMEM;
	int rc = reg__init(&r, o, &ref, err);
	r.extra_scope = "registry:catalog:*";
	if (rc == 0)
		rc = reg__ping(&r);
	if (rc == 0)
		rc = catalog(&r, names);
	json_t *res = rc == 0 ? json_array() : NULL;
	if (rc == 0 && !res)
		rc = -ENOMEM;
	for (size_t i = 0; rc == 0 && i < json_array_size(names); i++) {
		const char *n = json_string_value(json_array_get(names, i));
		char full[600];
		if (json_array_size(res) >= limit)
			break;
		if (*term && !strstr(n, term))
			continue;
		snprintf(full, sizeof(full), "%s/%s", host, n);
		if (json_array_append_new(
			    res,
			    json_pack("{s:s,s:s,s:i,s:b,s:b}", "name", full,
				      "description", "", "star_count", 0,
				      "is_official", 0, "is_automated", 0)) < 0)
			rc = -ENOMEM;
	}
	if (rc == 0)
		*out = res;
	else
		json_decref(res);
	json_decref(names);
	reg__fini(&r);
	return rc;
}
