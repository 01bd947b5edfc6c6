/*
 * docker pull --all-tags: the tags a repository's registry lists (GET
 * /v2/<name>/tags/list, through its Link pages, at most TAGS_MAX), each
 * pulled in turn as `docker pull name:tag` would, with Docker's
 * "Digest: ..." line after each. The first failure ends the pull; the
 * tags pulled before it stay, as with Docker.
 */
#define LOG_MODULE "image"
#include "image/registry_internal.h"

#include <errno.h>
#include <string.h>

#include "common/alloc.h"
#include "common/jsonx.h"
#include "common/log.h"

#define TAGS_PAGE 1000
#define TAGS_PAGES 4
#define TAGS_MAX (TAGS_PAGE * TAGS_PAGES)

int img_tags_parse(const char *data, size_t len, json_t *tags, size_t max,
		   struct shoal_err *err)
{
	json_t *o = NULL;
	if (jsonx_parse_object(data, len, &o, NULL, 0) < 0)
		return img__fail(err, -EPROTO, "the tag list is not JSON");
	json_t *list = json_object_get(o, "tags");
	int rc = !list || json_is_null(list) || json_is_array(list)
			 ? 0
			 : img__fail(err, -EPROTO,
				     "the tag list's tags is not a list");
	for (size_t i = 0; rc == 0 && i < json_array_size(list); i++) {
		const char *t = json_string_value(json_array_get(list, i));
		struct img_ref r;
		char ref[200];
		if (json_array_size(tags) >= max)
			break;
		if (!t || strlen(t) > 128)
			continue;
		snprintf(ref, sizeof(ref), "h:1/x:%s", t);
		if (img_ref_parse(ref, &r, NULL) < 0 || strcmp(r.tag, t))
			continue;
		if (json_array_append_new(tags, json_string(t)) < 0)
			rc = -ENOMEM;
	}
	json_decref(o);
	return rc;
}

/* "/v2/<path>/tags/list?..." of a Link header's next page, or "". */
static void next_page(const struct reg *r, const char *link, char *out,
		      size_t cap)
{
	char prefix[300];
	snprintf(prefix, sizeof(prefix), "/v2/%s/tags/list?", r->ref.path);
	out[0] = '\0';
	const char *lt = strchr(link, '<'), *gt = lt ? strchr(lt, '>') : NULL;
	if (!lt || !gt || !strstr(gt, "rel=\"next\"") ||
	    strncmp(lt + 1, prefix, strlen(prefix)) ||
	    (size_t)(gt - lt - 1) >= cap)
		return;
	memcpy(out, lt + 1, (size_t)(gt - lt - 1));
	out[gt - lt - 1] = '\0';
}

static int list_tags(const struct img_pull_opts *o, const struct img_ref *ref,
		     json_t *tags, struct shoal_err *err)
{
	struct reg r;
	char where[600];
	int rc = reg__init(&r, o, ref, err);
	if (rc == 0)
		rc = reg__ping(&r);
	snprintf(where, sizeof(where), "/tags/list?n=%d", TAGS_PAGE);
	for (int page = 0; rc == 0 && page < TAGS_PAGES && where[0]; page++) {
		struct reg_sink k;
		reg__sink_mem(&k);
		rc = reg__request(&r, where, &k, "tag list");
		if (rc == SHOAL_ENOTFOUND) {
			char fam[600];
			img_ref_familiar(ref, fam, sizeof(fam));
			rc = img__fail(err, SHOAL_ENOTFOUND,
				       "repository %s not found: name unknown",
				       fam);
		}
		if (rc == 0)
			rc = img_tags_parse(k.mem.data, k.mem.len, tags,
					    TAGS_MAX, err);
		if (rc == 0)
			next_page(&r, k.link, where, sizeof(where));
		reg__sink_fini(&k);
	}
	reg__fini(&r);
	if (rc == 0 && json_array_size(tags) == 0) {
		char fam[600];
		img_ref_familiar(ref, fam, sizeof(fam));
		rc = img__fail(err, SHOAL_ENOTFOUND,
			       "repository %s has no tags", fam);
	}
	return rc;
}

static int pull_tags(struct img_store *s, const struct img_pull_opts *o,
		     img_pull_msg_fn *msg, void *arg, json_t **result,
		     struct shoal_err *err)
{
	struct img_ref ref;
	char fam[600];
	int rc = img_ref_parse(o->reference, &ref, err);
	if (rc == 0 &&
	    (ref.digest[0] || strchr(o->reference, '@') ||
	     strrchr(o->reference, ':') > strrchr(o->reference, '/')))
		rc = img__fail(err, -EINVAL,
			       "tag can't be used with --all-tags/-a");
	json_t *tags = json_array();
	if (rc == 0 && !tags)
		rc = -ENOMEM;
	if (rc == 0)
		rc = list_tags(o, &ref, tags, err);
	img_ref_familiar(&ref, fam, sizeof(fam));
	bool fresh = false;
	for (size_t i = 0; rc == 0 && i < json_array_size(tags); i++) {
		char one[800], line[200];
		json_t *res = NULL;
		struct img_pull_opts t = *o;
		t.all_tags = false;
		snprintf(one, sizeof(one), "%s:%s", fam,
			 json_string_value(json_array_get(tags, i)));
		t.reference = one;
		rc = img__pull_one(s, &t, msg, arg, &res, err);
		fresh |= rc == 0 && jsonx_bool(res, "new", false);
		snprintf(line, sizeof(line), "Digest: %s",
			 jsonx_str(res, "digest", ""));
		struct img_pull_msg m = {line, "", 0, 0, false};
		if (rc == 0 && msg)
			msg(&m, arg);
		json_decref(res);
	}
	json_decref(tags);
	if (rc == 0) {
		*result = json_pack("{s:s,s:b,s:b}", "ref", fam, "new", fresh,
				    "all_tags", 1);
		rc = *result ? 0 : -ENOMEM;
	}
	return rc;
}

int img_pull(struct img_store *s, const struct img_pull_opts *o,
	     img_pull_msg_fn *msg, void *arg, json_t **result,
	     struct shoal_err *err)
{
	struct shoal_err local;
	if (!err)
		err = &local;
	err->msg[0] = '\0';
	*result = NULL;
	if (!o->all_tags)
		return img__pull_one(s, o, msg, arg, result, err);
	int rc = pull_tags(s, o, msg, arg, result, err);
	if (rc < 0)
		log_info("pull of every tag of %s failed: %s", o->reference,
			 err->msg);
	return rc;
}
