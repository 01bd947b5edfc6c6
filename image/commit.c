/*
 * docker commit and docker history on the image side: a new image made of
 * a parent image plus one layer written from a folder (a container's
 * writable layer, or a build step's), and the history of an image as
 * Docker's GET /images/{name}/history shows it.
 *
 * A commit stages like an import (image/load.c): the layer tar is written
 * once into <store>/tmp/<stage>/blobs while it is hashed (it is stored
 * uncompressed, so its blob digest is its DiffID), unpacked from there into
 * the staging layers folder through the same checked unpacker every load
 * uses, and the config is written beside it; img__commit() then moves what
 * the store lacks into place and writes the index, all or nothing. The
 * parent's layers are named in the plan by their stored blobs: they exist
 * already, so the commit only records them; should the parent be removed
 * in between, the commit fails ("... was removed while loading; retry")
 * and leaves nothing.
 *
 * The new config is the parent's with: the container config given (or the
 * parent's) with the change lines applied; created now; author and
 * comment; the DiffID appended to rootfs; one history entry. An empty
 * layer (nothing changed) is not added, and its history entry carries
 * "empty_layer": true, as Docker's builder records metadata-only steps.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/platform.h"
#include "image/commit_internal.h"

/* The parent's config and layers, copied under the lock. */
struct parent {
	json_t *config; /* NULL for scratch */
	json_t *layers; /* [{"diff_id","blob","media_type","size"}] */
};

static int read_parent(struct img_store *s, const char *ref, struct parent *p,
		       struct shoal_err *err)
{
	const char *hex;
	p->config = NULL;
	p->layers = json_array();
	if (!p->layers)
		return -ENOMEM;
	if (!ref)
		return 0;
	pthread_mutex_lock(&s->lock);
	int rc = img__find_image(s, ref, &hex, NULL, NULL, err);
	if (rc == 0) {
		json_t *rec = json_object_get(
			json_object_get(s->index, "images"), hex);
		json_decref(p->layers);
		p->layers = json_deep_copy(json_object_get(rec, "layers"));
		p->config = json_deep_copy(json_object_get(s->configs, hex));
		rc = p->layers && p->config ? 0 : -ENOMEM;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static void parent_clear(struct parent *p)
{
	json_decref(p->config);
	json_decref(p->layers);
}

/* Writes the layer tar to <stage>/blobs/<hex> and unpacks it into
 * <stage>/layers/<diff>. res->entries 0: nothing to add. */
static int stage_layer(const char *stage, const char *upper,
		       const struct img_commit_opts *o,
		       struct img__layer_tar_result *res,
		       struct img__layer_done *done, struct shoal_err *err)
{
	char *tmp = img__path(stage, "blobs", ".incoming");
	char *blob = NULL, *ltmp = NULL, *ldst = NULL;
	struct img__layer_result lr;
	struct img_progress p = {.phase = "Committing"};
	int fd = tmp ? open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)
		     : -1;
	int rc = fd >= 0 ? 0 : tmp ? -errno : -ENOMEM;
	if (rc == 0)
		rc = img__layer_tar(upper, o->skip, fd, res, err);
	if (fd >= 0)
		close(fd);
	if (rc < 0 || res->entries == 0)
		goto err_free;
	blob = img__path(stage, "blobs", res->hex);
	ltmp = img__path(stage, "layers", ".incoming");
	rc = blob && ltmp ? 0 : -ENOMEM;
	if (rc == 0 && rename(tmp, blob) < 0)
		rc = -errno;
	if (rc == 0)
		rc = img__unpack(blob, ltmp, &lr, NULL, NULL, &p, err);
	if (rc == 0 && strcmp(lr.diff_hex, res->hex) != 0)
		rc = img__fail(err, -EIO, "the layer changed while written");
	if (rc == 0) {
		ldst = img__path(stage, "layers", lr.diff_hex);
		rc = ldst ? 0 : -ENOMEM;
	}
	if (rc == 0 && rename(ltmp, ldst) < 0)
		rc = -errno;
	if (rc == 0) {
		memcpy(done->diff_hex, lr.diff_hex, sizeof(done->diff_hex));
		done->size = lr.size;
	}
err_free:
	if (rc < 0 && err && !err->msg[0])
		img__fail(err, rc, "writing the layer: %s", strerror(-rc));
	shoal_free(ldst);
	shoal_free(ltmp);
	shoal_free(blob);
	shoal_free(tmp);
	return rc;
}

static int set_str(json_t *o, const char *key, const char *v)
{
	if (!v)
		return 0;
	json_t *s = json_string(v);
	if (!s)
		return -EINVAL; /* not UTF-8 */
	return json_object_set_new(o, key, s) ? -ENOMEM : 0;
}

/* The new config from the parent's; @diff_hex NULL for an empty layer. */
static int make_config(const struct parent *par,
		       const struct img_commit_opts *o, const char *diff_hex,
		       json_t **out, struct shoal_err *err)
{
	char now[64], diff[DIGEST_STR_LEN];
	time_format_rfc3339(time_real_ns(), now, sizeof(now));
	json_t *cfg = par->config ? json_deep_copy(par->config)
				  : json_pack("{s:s,s:s,s:{s:s,s:[]}}",
					      "architecture", SHOAL_HOST_ARCH,
					      "os", "linux", "rootfs", "type",
					      "layers", "diff_ids");
	const json_t *src =
		o->config ? o->config : json_object_get(par->config, "config");
	json_t *cc = src ? json_deep_copy(src) : json_object();
	json_t *hist = json_object();
	int rc = cfg && cc && hist ? 0 : -ENOMEM;
	for (size_t i = 0; rc == 0 && i < o->n_changes; i++)
		rc = img__change_apply(cc, o->changes[i], err);
	if (rc == 0 && json_object_set(cfg, "config", cc))
		rc = -ENOMEM;
	json_object_del(cfg, "container_config");
	json_object_del(cfg, "container");
	json_object_del(cfg, "comment");
	json_object_del(cfg, "author");
	if (rc == 0)
		rc = set_str(cfg, "created", now)
			     ?: set_str(hist, "created", now);
	if (rc == 0)
		rc = set_str(cfg, "author", o->author) ?:
		     set_str(hist, "author", o->author) ?:
		     set_str(cfg, "comment", o->comment) ?:
		     set_str(hist, "comment", o->comment) ?:
		     set_str(hist, "created_by", o->created_by);
	if (rc == -EINVAL && !err->msg[0])
		img__fail(err, rc, "commit: a message is not valid UTF-8");
	if (rc == 0 && !diff_hex &&
	    json_object_set_new(hist, "empty_layer", json_true()))
		rc = -ENOMEM;
	json_t *rootfs = json_object_get(cfg, "rootfs");
	json_t *ids = json_object_get(rootfs, "diff_ids");
	if (rc == 0 && diff_hex) {
		snprintf(diff, sizeof(diff), "sha256:%s", diff_hex);
		if (!json_is_array(ids) ||
		    json_array_append_new(ids, json_string(diff)))
			rc = -ENOMEM;
	}
	json_t *history = json_object_get(cfg, "history");
	if (rc == 0 && !json_is_array(history)) {
		history = json_array();
		if (json_object_set_new(cfg, "history", history))
			rc = -ENOMEM;
	}
	if (rc == 0 && json_array_append(history, hist))
		rc = -ENOMEM;
	json_decref(hist);
	json_decref(cc);
	if (rc < 0) {
		json_decref(cfg);
		return rc;
	}
	*out = cfg;
	return img__config_check(cfg, err) < 0 ? (json_decref(cfg), -EINVAL)
					       : 0;
}

static int write_config(const char *stage, json_t *cfg, char *hex)
{
	char *data = json_dumps(cfg, JSON_COMPACT | JSON_SORT_KEYS);
	if (!data)
		return -ENOMEM;
	char d[DIGEST_STR_LEN];
	shoal_sha256_str(data, strlen(data), d);
	memcpy(hex, d + 7, SHA256_HEX_LEN + 1);
	char *path = img__path(stage, "blobs", hex);
	int rc = path ? img__write_file(path, data, strlen(data)) : -ENOMEM;
	shoal_free(path);
	shoal_free(data);
	return rc;
}

/* The plan: the parent's layers as stored, then the new one if any. */
static int make_plan(const struct parent *par, const char *new_blob,
		     const struct img__layer_done *new_done,
		     struct img__plan *plan, struct img__layer_done **done)
{
	size_t n = json_array_size(par->layers) + (new_blob ? 1 : 0);
	plan->layers = shoal_calloc(n + 1, sizeof(*plan->layers));
	*done = shoal_calloc(n + 1, sizeof(**done));
	if (!plan->layers || !*done)
		return -ENOMEM;
	plan->n_layers = n;
	for (size_t i = 0; i < json_array_size(par->layers); i++) {
		json_t *l = json_array_get(par->layers, i);
		const char *blob =
			json_string_value(json_object_get(l, "blob"));
		const char *diff =
			json_string_value(json_object_get(l, "diff_id"));
		const char *mt =
			json_string_value(json_object_get(l, "media_type"));
		if (!blob || !diff || strlen(blob) != DIGEST_STR_LEN - 1 ||
		    strlen(diff) != DIGEST_STR_LEN - 1)
			return -EPROTO;
		memcpy(plan->layers[i].blob_hex, blob + 7, SHA256_HEX_LEN + 1);
		memcpy((*done)[i].diff_hex, diff + 7, SHA256_HEX_LEN + 1);
		(*done)[i].size = (uint64_t)json_integer_value(
			json_object_get(l, "size"));
		if (mt && !(plan->layers[i].media_type = shoal_strdup(mt)))
			return -ENOMEM;
	}
	if (new_blob) {
		memcpy(plan->layers[n - 1].blob_hex, new_blob,
		       SHA256_HEX_LEN + 1);
		(*done)[n - 1] = *new_done;
	}
	return 0;
}

static int commit_staged(struct img_store *s, const char *stage,
			 const char *upper, const struct img_commit_opts *o,
			 const char *norm, char id[DIGEST_STR_LEN],
			 struct shoal_err *err)
{
	struct parent par;
	struct img__layer_tar_result res = {0};
	struct img__layer_done new_done = {0}, *done = NULL;
	struct img__plan plan = {0};
	json_t *cfg = NULL;
	int rc = read_parent(s, o->parent, &par, err);
	if (rc == 0)
		rc = stage_layer(stage, upper, o, &res, &new_done, err);
	bool empty = res.entries == 0;
	if (rc == 0)
		rc = make_config(&par, o, empty ? NULL : res.hex, &cfg, err);
	if (rc == 0)
		rc = write_config(stage, cfg, plan.config_hex);
	if (rc == 0)
		rc = make_plan(&par, empty ? NULL : res.hex, &new_done, &plan,
			       &done);
	char *tags[2] = {(char *)norm, NULL};
	plan.tags = norm ? tags : NULL;
	plan.n_tags = norm ? 1 : 0;
	if (rc == 0 && plan.n_layers > IMG_LAYERS_MAX)
		rc = img__fail(err, -E2BIG, "an image has at most %d layers",
			       IMG_LAYERS_MAX);
	struct img__layer_done *dl[1] = {done};
	if (rc == 0)
		rc = img__commit(s, stage, &plan, 1, dl, NULL, err);
	if (rc == 0)
		snprintf(id, DIGEST_STR_LEN, "sha256:%s", plan.config_hex);
	plan.tags = NULL;
	plan.n_tags = 0;
	img__plan_clear(&plan);
	shoal_free(done);
	json_decref(cfg);
	parent_clear(&par);
	return rc;
}

int img_commit(struct img_store *s, const char *upper_dir,
	       const struct img_commit_opts *o, char id[DIGEST_STR_LEN],
	       struct shoal_err *err)
{
	struct shoal_err local;
	if (!err)
		err = &local;
	err->msg[0] = '\0';
	char norm[SHOAL_ERR_MAX];
	if (o->reference &&
	    img__ref_normalize(o->reference, norm, sizeof(norm)) < 0)
		return img__fail(err, -EINVAL, "invalid reference format: %s",
				 o->reference);
	if (o->n_changes > IMG_CHANGES_MAX)
		return img__fail(err, -EINVAL, "too many --change lines");
	char *stage;
	int rc = img__stage_create(s, &stage);
	if (rc < 0)
		return img__fail(err, rc, "creating a staging folder: %s",
				 strerror(-rc));
	rc = commit_staged(s, stage, upper_dir, o, o->reference ? norm : NULL,
			   id, err);
	if (rc < 0 && !err->msg[0])
		img__fail(err, rc, "commit: %s", shoal_strerror(rc));
	if (rc < 0)
		log_warn("image commit failed: %s", err->msg);
	img__rmrf(stage);
	shoal_free(stage);
	return rc;
}

int img_change_check(const char *line, struct shoal_err *err)
{
	json_t *cc = json_object();
	if (!cc)
		return -ENOMEM;
	int rc = img__change_apply(cc, line, err);
	json_decref(cc);
	return rc;
}

int img_unpack_tar(const char *path, const char *dest, struct shoal_err *err)
{
	struct img__layer_result res;
	struct img_progress p = {.phase = "Extracting"};
	if (err)
		err->msg[0] = '\0';
	return img__unpack(path, dest, &res, NULL, NULL, &p, err);
}

/* Build cache ----------------------------------------------------------- */

static json_t *cache_read(struct img_store *s)
{
	char *path = img__path(s->root, "build-cache.json", NULL);
	char *data = NULL;
	size_t len;
	json_t *c = NULL;
	if (path && img__read_file(path, IMG_JSON_MAX, &data, &len) == 0)
		c = json_loadb(data, len, 0, NULL);
	shoal_free(data);
	shoal_free(path);
	if (!json_is_object(c)) {
		json_decref(c);
		c = json_object();
	}
	return c;
}

int img_cache_get(struct img_store *s, const char *key, char id[DIGEST_STR_LEN])
{
	pthread_mutex_lock(&s->lock);
	json_t *c = cache_read(s);
	const char *v = json_string_value(json_object_get(c, key));
	int rc = SHOAL_ENOTFOUND;
	if (v && strlen(v) == DIGEST_STR_LEN - 1 && !strncmp(v, "sha256:", 7) &&
	    json_object_get(json_object_get(s->index, "images"), v + 7)) {
		snprintf(id, DIGEST_STR_LEN, "%s", v);
		rc = 0;
	}
	json_decref(c);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int img_cache_put(struct img_store *s, const char *key, const char *id)
{
	pthread_mutex_lock(&s->lock);
	json_t *c = cache_read(s);
	int rc = c ? 0 : -ENOMEM;
	if (rc == 0 && json_object_size(c) >= IMG_CACHE_MAX) {
		/* Drop entries whose image is gone, then any half. */
		const char *k;
		json_t *v;
		size_t n = 0;
		void *it = img__first(c, &k, &v);
		while (it) {
			void *next = img__next(c, it, &k, &v);
			const char *iv =
				json_string_value(json_object_iter_value(it));
			bool gone = !iv || strlen(iv) < 8 ||
				    !json_object_get(
					    json_object_get(s->index, "images"),
					    iv + 7);
			if (gone || n++ % 2 == 0)
				json_object_del(c, json_object_iter_key(it));
			it = next;
		}
	}
	if (rc == 0 && json_object_set_new(c, key, json_string(id)))
		rc = -ENOMEM;
	char *data = rc == 0 ? json_dumps(c, JSON_COMPACT) : NULL;
	char *path = img__path(s->root, "build-cache.json", NULL);
	if (rc == 0)
		rc = data && path ? img__write_atomic(path, data, strlen(data))
				  : -ENOMEM;
	shoal_free(data);
	shoal_free(path);
	json_decref(c);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* History ---------------------------------------------------------------- */

static json_t *history_row(const json_t *h, const char *id, json_t *tags,
			   json_int_t size)
{
	const char *created = json_string_value(json_object_get(h, "created"));
	int64_t ns = created ? img__parse_time(created) : 0;
	const char *by = json_string_value(json_object_get(h, "created_by"));
	const char *comment = json_string_value(json_object_get(h, "comment"));
	return json_pack("{s:s,s:I,s:s,s:o,s:I,s:s}", "Id", id, "Created",
			 (json_int_t)(ns > 0 ? ns / 1000000000 : 0),
			 "CreatedBy", by ? by : "", "Tags",
			 tags ? tags : json_null(), "Size", size, "Comment",
			 comment ? comment : "");
}

/* Whether config @c's history and diff_ids are the first @n and @nl of
 * @cfg's. */
static bool prefix_of(const json_t *c, const json_t *cfg, size_t n, size_t nl)
{
	const json_t *h = json_object_get(c, "history");
	const json_t *hc = json_object_get(cfg, "history");
	const json_t *d =
		json_object_get(json_object_get(c, "rootfs"), "diff_ids");
	const json_t *dc =
		json_object_get(json_object_get(cfg, "rootfs"), "diff_ids");
	if (json_array_size(h) != n || json_array_size(d) != nl)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!json_equal(json_array_get(h, i), json_array_get(hc, i)))
			return false;
	for (size_t i = 0; i < nl; i++)
		if (!json_equal(json_array_get(d, i), json_array_get(dc, i)))
			return false;
	return true;
}

/* A stored image that is @cfg up to history entry @n - 1 (Docker's
 * history shows the parent chain's ids), or NULL; borrowed. */
static const char *ancestor(struct img_store *s, json_t *cfg, size_t n,
			    size_t nl)
{
	const char *k;
	json_t *v;
	for (void *it = img__first(s->configs, &k, &v); it;
	     it = img__next(s->configs, it, &k, &v))
		if (v != cfg && prefix_of(v, cfg, n, nl))
			return k;
	return NULL;
}

static json_t *history_of(struct img_store *s, const char *hex)
{
	json_t *cfg = json_object_get(s->configs, hex);
	json_t *layers = json_object_get(
		json_object_get(json_object_get(s->index, "images"), hex),
		"layers");
	json_t *hist = json_object_get(cfg, "history");
	json_t *out = json_array();
	char id[DIGEST_STR_LEN];
	snprintf(id, sizeof(id), "sha256:%s", hex);
	size_t layer = 0, n = json_array_size(hist);
	for (size_t i = 0; out && i < n; i++) {
		json_t *h = json_array_get(hist, i);
		json_int_t size = 0;
		if (!json_is_true(json_object_get(h, "empty_layer")))
			size = json_integer_value(json_object_get(
				json_array_get(layers, layer++), "size"));
		bool top = i + 1 == n;
		const char *anc = top ? hex : ancestor(s, cfg, i + 1, layer);
		char aid[DIGEST_STR_LEN] = "<missing>";
		if (anc)
			snprintf(aid, sizeof(aid), "sha256:%s", anc);
		json_t *row = history_row(
			h, aid, anc ? img__tags_for(s, anc) : NULL, size);
		/* Newest first. */
		if (!row || json_array_insert_new(out, 0, row)) {
			json_decref(out);
			return NULL;
		}
	}
	if (out && n == 0) {
		/* An image without history: one row for all of it. */
		json_t *none = json_object();
		json_t *rec = json_object_get(
			json_object_get(s->index, "images"), hex);
		json_t *row =
			none ? history_row(none, id, img__tags_for(s, hex),
					   json_integer_value(json_object_get(
						   rec, "size")))
			     : NULL;
		json_decref(none);
		if (!row || json_array_append_new(out, row)) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

int img_history_json(struct img_store *s, const char *ref, json_t **out,
		     struct shoal_err *err)
{
	const char *hex;
	pthread_mutex_lock(&s->lock);
	int rc = img__find_image(s, ref, &hex, NULL, NULL, err);
	if (rc == 0) {
		*out = history_of(s, hex);
		rc = *out ? 0 : -ENOMEM;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}
