/*
 * Operations on the image store's index: Docker's inspect and list views,
 * tags, in-use tracking, removal, and the commit of staged images.
 *
 * Each change follows one pattern, under the store's mutex: deep-copy the
 * index, change the copy, write it (img__save_index: temp file, fsync,
 * rename), then swap it in. Files are created before the index names them
 * (commit) and deleted after the index stops naming them (remove), so the
 * index never points at something missing; what a crash strands is swept
 * at the next open.
 *
 * Removal follows Docker's rules (DELETE /images/{name}): a tag of an image
 * that has other tags is only untagged; the last tag or the id deletes the
 * image; an image a container uses is refused with Docker's wording.
 */
#include "image/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_MODULE "image"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/id.h"
#include "common/log.h"

static json_t *images_of(json_t *index)
{
	return json_object_get(index, "images");
}

static json_t *tags_of(json_t *index)
{
	return json_object_get(index, "tags");
}

static json_t *now_str(void)
{
	char t[64];
	time_format_rfc3339(time_real_ns(), t, sizeof(t));
	return json_string(t);
}

static json_t *str_or_empty(json_t *v)
{
	return json_string(json_is_string(v) ? json_string_value(v) : "");
}

/* Docker orders LowerDir top layer first, joined with ':'. */
static json_t *lower_dirs(struct img_store *s, json_t *layers)
{
	size_t n = json_array_size(layers);
	size_t cap = n * (strlen(s->root) + 80) + 1;
	char *p = shoal_malloc(cap);
	if (!p)
		return NULL;
	size_t o = 0;
	p[0] = '\0';
	for (size_t i = n; i-- > 0;) {
		const char *d = json_string_value(
			json_object_get(json_array_get(layers, i), "diff_id"));
		o += (size_t)snprintf(p + o, cap - o, "%s%s/layers/%s",
				      o ? ":" : "", s->root, d + 7);
	}
	json_t *v = json_string(p);
	shoal_free(p);
	return v;
}

static json_t *diff_ids(json_t *layers)
{
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < json_array_size(layers); i++) {
		json_t *d =
			json_object_get(json_array_get(layers, i), "diff_id");
		json_array_append_new(arr, json_string(json_string_value(d)));
	}
	return arr;
}

/* The image's repository digests (copies). Lock held. */
static json_t *repo_digests(json_t *rec)
{
	json_t *in = json_object_get(rec, "repo_digests");
	json_t *out = json_array();
	for (size_t i = 0; out && i < json_array_size(in); i++) {
		const char *d = json_string_value(json_array_get(in, i));
		if (d)
			json_array_append_new(out, json_string(d));
	}
	return out;
}

static json_t *inspect(struct img_store *s, const char *hex)
{
	json_t *cfg = json_object_get(s->configs, hex);
	json_t *rec = json_object_get(images_of(s->index), hex);
	json_t *layers = json_object_get(rec, "layers");
	json_t *cc = json_object_get(cfg, "config");
	json_int_t size = json_integer_value(json_object_get(rec, "size"));
	char id[DIGEST_STR_LEN];
	snprintf(id, sizeof(id), "sha256:%s", hex);
	/* Copies only: the result outlives the store's lock. */
	json_t *o = json_pack(
		"{s:s,s:o,s:o,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:I,s:I,"
		"s:{s:s,s:{s:o}},s:{s:s,s:o},s:{s:o}}",
		"Id", id, "RepoTags", img__tags_for(s, hex), "RepoDigests",
		repo_digests(rec), "Parent", "", "Comment",
		str_or_empty(json_object_get(cfg, "comment")), "Created",
		str_or_empty(json_object_get(cfg, "created")), "DockerVersion",
		str_or_empty(json_object_get(cfg, "docker_version")), "Author",
		str_or_empty(json_object_get(cfg, "author")), "Config",
		cc ? json_deep_copy(cc) : json_null(), "Architecture",
		str_or_empty(json_object_get(cfg, "architecture")), "Os",
		str_or_empty(json_object_get(cfg, "os")), "Size", size,
		"VirtualSize", size, "GraphDriver", "Name", "overlay2", "Data",
		"LowerDir", lower_dirs(s, layers), "RootFS", "Type", "layers",
		"Layers", diff_ids(layers), "Metadata", "LastTagTime",
		str_or_empty(json_object_get(rec, "last_tag_time")));
	json_t *variant = json_object_get(cfg, "variant");
	if (o && json_is_string(variant))
		json_object_set_new(o, "Variant",
				    json_string(json_string_value(variant)));
	return o;
}

int img_inspect_json(struct img_store *s, const char *ref, json_t **out,
		     struct shoal_err *err)
{
	const char *hex;
	pthread_mutex_lock(&s->lock);
	int rc = img__find_image(s, ref, &hex, NULL, NULL, err);
	if (rc == 0) {
		*out = inspect(s, hex);
		if (!*out)
			rc = img__fail(err, -ENOMEM, "out of memory");
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static int cmp_created(const void *a, const void *b)
{
	json_int_t x = json_integer_value(
		json_object_get(*(json_t *const *)a, "Created"));
	json_int_t y = json_integer_value(
		json_object_get(*(json_t *const *)b, "Created"));
	if (x != y)
		return x < y ? 1 : -1;
	return strcmp(
		json_string_value(json_object_get(*(json_t *const *)a, "Id")),
		json_string_value(json_object_get(*(json_t *const *)b, "Id")));
}

static json_t *summary(struct img_store *s, const char *hex)
{
	json_t *cfg = json_object_get(s->configs, hex);
	json_t *rec = json_object_get(images_of(s->index), hex);
	json_t *labels =
		json_object_get(json_object_get(cfg, "config"), "Labels");
	json_t *users = json_object_get(s->users, hex);
	char id[DIGEST_STR_LEN];
	snprintf(id, sizeof(id), "sha256:%s", hex);
	int64_t created = img__parse_time(
		json_string_value(json_object_get(cfg, "created")));
	json_int_t size = json_integer_value(json_object_get(rec, "size"));
	return json_pack("{s:s,s:s,s:o,s:o,s:I,s:I,s:i,s:I,s:o,s:I}", "Id", id,
			 "ParentId", "", "RepoTags", img__tags_for(s, hex),
			 "RepoDigests", repo_digests(rec), "Created",
			 (json_int_t)(created / NSEC_PER_SEC), "Size", size,
			 "SharedSize", -1, "VirtualSize", size, "Labels",
			 json_is_object(labels) ? json_deep_copy(labels)
						: json_object(),
			 "Containers", (json_int_t)json_object_size(users));
}

int img_list_json(struct img_store *s, json_t **out, struct shoal_err *err)
{
	pthread_mutex_lock(&s->lock);
	json_t *images = images_of(s->index);
	size_t n = json_object_size(images);
	json_t **items = shoal_calloc(n + 1, sizeof(*items));
	json_t *arr = json_array();
	int rc = 0;
	size_t i = 0;
	const char *k;
	json_t *v;
	if (!items || !arr)
		rc = -ENOMEM;
	for (void *it = img__first(images, &k, &v); it;
	     it = img__next(images, it, &k, &v)) {
		if (rc < 0)
			break;
		if (!(items[i++] = summary(s, k)))
			rc = -ENOMEM;
	}
	pthread_mutex_unlock(&s->lock);
	if (rc == 0) {
		qsort(items, n, sizeof(*items), cmp_created);
		for (i = 0; i < n; i++)
			json_array_append(arr, items[i]);
	}
	for (i = 0; items && i < n; i++)
		json_decref(items[i]);
	shoal_free(items);
	if (rc < 0) {
		json_decref(arr);
		return img__fail(err, rc, "out of memory");
	}
	*out = arr;
	return 0;
}

/* Tags ------------------------------------------------------------------ */

int img_tag(struct img_store *s, const char *ref, const char *new_ref,
	    struct shoal_err *err)
{
	char norm[SHOAL_ERR_MAX];
	if (img__ref_normalize(new_ref, norm, sizeof(norm)) < 0)
		return img__fail(err, -EINVAL, "invalid reference format: %s",
				 new_ref);
	const char *hex;
	char id[DIGEST_STR_LEN];
	json_t *next;
	pthread_mutex_lock(&s->lock);
	int rc = img__find_image(s, ref, &hex, NULL, NULL, err);
	if (rc < 0)
		goto out;
	snprintf(id, sizeof(id), "sha256:%s", hex);
	next = json_deep_copy(s->index);
	rc = -ENOMEM;
	if (!next ||
	    json_object_set_new(tags_of(next), norm, json_string(id)) ||
	    json_object_set_new(json_object_get(images_of(next), hex),
				"last_tag_time", now_str()))
		goto err_next;
	rc = img__save_index(s, next);
	if (rc < 0)
		goto err_next;
	json_decref(s->index);
	s->index = next;
	goto out;
err_next:
	json_decref(next);
	img__fail(err, rc, "saving the image index: %s", shoal_strerror(rc));
out:
	pthread_mutex_unlock(&s->lock);
	return rc;
}

#define REPO_DIGESTS_MAX 64

int img__add_repo_digest(struct img_store *s, const char *hex,
			 const char *repo_digest, struct shoal_err *err)
{
	pthread_mutex_lock(&s->lock);
	json_t *next = json_deep_copy(s->index);
	json_t *rec = json_object_get(images_of(next), hex);
	json_t *rds = json_object_get(rec, "repo_digests");
	int rc = next ? 0 : -ENOMEM;
	if (rc == 0 && !rec)
		rc = img__fail(err, SHOAL_ENOTFOUND, "No such image: sha256:%s",
			       hex);
	if (rc == 0 && !json_is_array(rds)) {
		rds = json_array();
		rc = json_object_set_new(rec, "repo_digests", rds) ? -ENOMEM
								   : 0;
	}
	for (size_t i = 0; rc == 0 && i < json_array_size(rds); i++)
		if (!strcmp(json_string_value(json_array_get(rds, i)) ?: "",
			    repo_digest))
			rc = 1; /* already there */
	/* Bounded: the oldest goes first. */
	while (rc == 0 && json_array_size(rds) >= REPO_DIGESTS_MAX)
		json_array_remove(rds, 0);
	if (rc == 0 && json_array_append_new(rds, json_string(repo_digest)))
		rc = -ENOMEM;
	if (rc == 0)
		rc = img__save_index(s, next);
	if (rc == 0) {
		json_decref(s->index);
		s->index = next;
	} else {
		json_decref(next);
	}
	pthread_mutex_unlock(&s->lock);
	if (rc < 0 && err && !err->msg[0])
		img__fail(err, rc, "saving the image index: %s",
			  shoal_strerror(rc));
	return rc < 0 ? rc : 0;
}

int img_untag(struct img_store *s, const char *ref, struct shoal_err *err)
{
	char norm[SHOAL_ERR_MAX];
	if (img__ref_normalize(ref, norm, sizeof(norm)) < 0)
		return img__fail(err, -EINVAL, "invalid reference format: %s",
				 ref);
	pthread_mutex_lock(&s->lock);
	int rc = 0;
	json_t *next = NULL;
	if (!json_object_get(tags_of(s->index), norm)) {
		rc = img__fail(err, SHOAL_ENOTFOUND, "No such image: %s", norm);
		goto out;
	}
	next = json_deep_copy(s->index);
	rc = next ? json_object_del(tags_of(next), norm) : -ENOMEM;
	if (rc == 0)
		rc = img__save_index(s, next);
	if (rc < 0) {
		json_decref(next);
		img__fail(err, rc, "saving the image index: %s",
			  shoal_strerror(rc));
		goto out;
	}
	json_decref(s->index);
	s->index = next;
out:
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* In use ---------------------------------------------------------------- */

void img_store_set_in_use(struct img_store *s, img_in_use_fn *fn, void *arg)
{
	pthread_mutex_lock(&s->lock);
	s->in_use = fn;
	s->in_use_arg = arg;
	pthread_mutex_unlock(&s->lock);
}

void img_store_set_running(struct img_store *s, img_running_fn *fn, void *arg)
{
	pthread_mutex_lock(&s->lock);
	s->running = fn;
	s->running_arg = arg;
	pthread_mutex_unlock(&s->lock);
}

static const char *image_hex(const char *image_id)
{
	return strncmp(image_id, "sha256:", 7) == 0 ? image_id + 7 : image_id;
}

int img_use(struct img_store *s, const char *image_id, const char *container_id)
{
	const char *hex = image_hex(image_id);
	pthread_mutex_lock(&s->lock);
	int rc = SHOAL_ENOTFOUND;
	if (json_object_get(images_of(s->index), hex)) {
		json_t *u = json_object_get(s->users, hex);
		if (!u) {
			u = json_object();
			if (json_object_set_new(s->users, hex, u))
				u = NULL;
		}
		rc = u && !json_object_set_new(u, container_id, json_true())
			     ? 0
			     : -ENOMEM;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int img_unuse(struct img_store *s, const char *image_id,
	      const char *container_id)
{
	const char *hex = image_hex(image_id);
	pthread_mutex_lock(&s->lock);
	json_t *u = json_object_get(s->users, hex);
	int rc = u && json_object_del(u, container_id) == 0 ? 0
							    : SHOAL_ENOTFOUND;
	if (u && json_object_size(u) == 0)
		json_object_del(s->users, hex);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* The containers that use an image: one of each kind, "" when none. */
struct users {
	char any[65];
	char running[65];
	char stopped[65];
};

static void user_seen(struct img_store *s, const char *cid, struct users *u)
{
	bool up = s->running && s->running(cid, s->running_arg);
	char *slot = up ? u->running : u->stopped;

	if (!u->any[0])
		snprintf(u->any, sizeof(u->any), "%s", cid);
	if (!slot[0])
		snprintf(slot, sizeof(u->any), "%s", cid);
}

/* Who uses image @hex: img_use() registrations and the in-use callback.
 * Lock held. */
static void users_of(struct img_store *s, const char *hex, struct users *u)
{
	json_t *reg = json_object_get(s->users, hex);
	const char *cid;
	json_t *v;

	memset(u, 0, sizeof(*u));
	json_object_foreach(reg, cid, v) user_seen(s, cid, u);
	if (s->in_use) {
		char id[DIGEST_STR_LEN], other[65] = "";
		snprintf(id, sizeof(id), "sha256:%s", hex);
		if (s->in_use(id, other, s->in_use_arg) && other[0])
			user_seen(s, other, u);
	}
}

/* Removal --------------------------------------------------------------- */

static int report_add(json_t *report, const char *key, const char *val)
{
	return json_array_append_new(report, json_pack("{s:s}", key, val))
		       ? -ENOMEM
		       : 0;
}

static int untag_all(json_t *next, const char *hex, json_t *report)
{
	const char *k;
	json_t *v;
	json_t *tags = tags_of(next);
	void *it = img__first(tags, &k, &v);
	while (it) {
		const char *cur = k;
		bool match = !strcmp(json_string_value(v) + 7, hex);
		it = img__next(tags, it, &k, &v);
		if (!match)
			continue;
		if (report_add(report, "Untagged", cur) < 0)
			return -ENOMEM;
		json_object_del(tags, cur);
	}
	return 0;
}

/*
 * Moves the files of image @hex that @next no longer needs into @trash
 * (later deleted outside the lock) and reports them. Lock held.
 */
static void discard_files(struct img_store *s, json_t *old, json_t *next,
			  const char *hex, const char *trash, json_t *report)
{
	json_t *rec = json_object_get(images_of(old), hex);
	char *p, *t;
	size_t i;
	json_t *l;
	for (i = 0; i < json_array_size(json_object_get(rec, "layers")) &&
		    (l = json_array_get(json_object_get(rec, "layers"), i));
	     i++) {
		const char *d =
			json_string_value(json_object_get(l, "diff_id"));
		const char *b = json_string_value(json_object_get(l, "blob"));
		if (!img__layer_used(next, d + 7)) {
			p = img__path(s->root, "layers", d + 7);
			t = img__path(trash, d + 7, NULL);
			if (p && t && rename(p, t) == 0)
				report_add(report, "Deleted", d);
			shoal_free(p);
			shoal_free(t);
		}
		if (!img__blob_used(next, b + 7)) {
			p = img__path(s->root, "blobs/sha256", b + 7);
			if (p)
				unlink(p);
			shoal_free(p);
		}
	}
	p = img__path(s->root, "blobs/sha256", hex);
	if (p && !img__blob_used(next, hex))
		unlink(p);
	shoal_free(p);
	img__fsync_dir(s->root);
}

/* Docker's reasons to refuse a removal, in its words, in its order. */
static int refusal(const char *ref, const char *hex, bool by_tag, bool last,
		   bool force, const struct users *u, size_t n_tags,
		   struct shoal_err *err)
{
	if (by_tag) {
		if (!force && last && u->any[0])
			return img__fail(err, SHOAL_ECONFLICT,
					 "conflict: unable to remove "
					 "repository reference \"%s\" (must "
					 "force) - container %.12s is using "
					 "its referenced image %.12s",
					 ref, u->any, hex);
		return 0;
	}
	if (u->running[0])
		return img__fail(err, SHOAL_ECONFLICT,
				 "conflict: unable to delete %.12s (cannot "
				 "be forced) - image is being used by "
				 "running container %.12s",
				 hex, u->running);
	if (force)
		return 0;
	if (n_tags > 1)
		return img__fail(err, SHOAL_ECONFLICT,
				 "conflict: unable to delete %.12s (must be "
				 "forced) - image is referenced in multiple "
				 "repositories",
				 hex);
	if (u->stopped[0])
		return img__fail(err, SHOAL_ECONFLICT,
				 "conflict: unable to delete %.12s (must be "
				 "forced) - image is being used by stopped "
				 "container %.12s",
				 hex, u->stopped);
	return 0;
}

static int remove_locked(struct img_store *s, const char *ref, bool force,
			 json_t *report, char **trash, struct shoal_err *err)
{
	const char *hex;
	bool by_tag;
	char norm[SHOAL_ERR_MAX];
	int rc = img__find_image(s, ref, &hex, &by_tag, norm, err);
	if (rc < 0)
		return rc;
	char keep[SHA256_HEX_LEN + 1];
	snprintf(keep, sizeof(keep), "%s", hex);
	hex = keep;
	json_t *tags = img__tags_for(s, hex);
	size_t n_tags = json_array_size(tags);
	json_decref(tags);
	struct users u;
	users_of(s, hex, &u);
	bool used = u.any[0] != '\0';
	bool last = !by_tag || n_tags <= 1;
	rc = refusal(ref, hex, by_tag, last, force, &u, n_tags, err);
	if (rc < 0)
		return rc;
	json_t *next = json_deep_copy(s->index);
	if (!next)
		return -ENOMEM;
	rc = 0;
	if (by_tag && !last) {
		rc = report_add(report, "Untagged", norm);
		json_object_del(tags_of(next), norm);
	} else {
		rc = untag_all(next, hex, report);
		if (rc == 0 && !used) {
			json_object_del(images_of(next), hex);
			rc = img__stage_create(s, trash);
		}
	}
	if (rc == 0)
		rc = img__save_index(s, next);
	if (rc < 0) {
		json_decref(next);
		if (*trash) {
			img__rmrf(*trash);
			shoal_free(*trash);
			*trash = NULL;
		}
		return img__fail(err, rc, "saving the image index: %s",
				 shoal_strerror(rc));
	}
	char id[DIGEST_STR_LEN];
	snprintf(id, sizeof(id), "sha256:%s", hex);
	if (*trash) {
		report_add(report, "Deleted", id);
		discard_files(s, s->index, next, hex, *trash, report);
		json_object_del(s->configs, hex);
		json_object_del(s->users, hex);
	}
	json_decref(s->index);
	s->index = next;
	return 0;
}

int img_remove(struct img_store *s, const char *ref, unsigned flags,
	       json_t **report, struct shoal_err *err)
{
	json_t *r = json_array();
	if (!r)
		return -ENOMEM;
	char *trash = NULL;
	pthread_mutex_lock(&s->lock);
	int rc = remove_locked(s, ref, flags & IMG_RM_FORCE, r, &trash, err);
	pthread_mutex_unlock(&s->lock);
	if (trash) {
		img__rmrf(trash);
		shoal_free(trash);
	}
	if (rc == 0 && report)
		*report = r;
	else
		json_decref(r);
	return rc;
}

/* Commit ---------------------------------------------------------------- */

/* Paths a commit created, deleted again if the commit fails. */
struct created {
	char **paths;
	size_t n, cap;
};

static int remember(struct created *c, const char *path)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 16;
		char **p = shoal_realloc(c->paths, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		c->paths = p;
		c->cap = cap;
	}
	c->paths[c->n] = shoal_strdup(path);
	return c->paths[c->n++] ? 0 : -ENOMEM;
}

/* Moves @from to @to unless @to exists; records what it created. */
static int place(const char *stage, const char *sub, const char *hex,
		 const char *to, struct created *c, struct shoal_err *err)
{
	if (img__exists(to))
		return 0;
	char *from = img__path(stage, sub, hex);
	if (!from)
		return -ENOMEM;
	/* Room in the undo list first, so that a rename is never lost. */
	int rc = remember(c, to);
	if (rc == 0 && rename(from, to) < 0)
		rc = -errno;
	shoal_free(from);
	if (rc < 0 && c->n > 0 && c->paths[c->n - 1] &&
	    !strcmp(c->paths[c->n - 1], to)) {
		shoal_free(c->paths[--c->n]);
	}
	if (rc == -ENOENT)
		return img__fail(err, -EAGAIN,
				 "%s %.12s was removed while loading; retry",
				 sub, hex);
	if (rc < 0)
		return img__fail(err, rc, "moving %s %.12s into the store: %s",
				 sub, hex, strerror(-rc));
	return 0;
}

/* Moves the files of plan @p into place and returns its index record. */
static json_t *place_image(struct img_store *s, const char *stage,
			   const struct img__plan *p,
			   const struct img__layer_done *done,
			   struct created *c, int *rc, struct shoal_err *err)
{
	char *to = img__path(s->root, "blobs/sha256", p->config_hex);
	*rc = to ? place(stage, "blobs", p->config_hex, to, c, err) : -ENOMEM;
	shoal_free(to);
	json_t *layers = json_array();
	uint64_t size = 0;
	char d[DIGEST_STR_LEN], b[DIGEST_STR_LEN];
	for (size_t i = 0; *rc == 0 && i < p->n_layers; i++) {
		const struct img__layer_plan *lp = &p->layers[i];
		to = img__path(s->root, "blobs/sha256", lp->blob_hex);
		*rc = to ? place(stage, "blobs", lp->blob_hex, to, c, err)
			 : -ENOMEM;
		shoal_free(to);
		to = img__path(s->root, "layers", done[i].diff_hex);
		if (*rc == 0)
			*rc = to ? place(stage, "layers", done[i].diff_hex, to,
					 c, err)
				 : -ENOMEM;
		shoal_free(to);
		snprintf(d, sizeof(d), "sha256:%s", done[i].diff_hex);
		snprintf(b, sizeof(b), "sha256:%s", lp->blob_hex);
		size += done[i].size;
		if (*rc == 0 &&
		    json_array_append_new(
			    layers,
			    json_pack("{s:s,s:s,s:s?,s:I}", "diff_id", d,
				      "blob", b, "media_type", lp->media_type,
				      "size", (json_int_t)done[i].size)))
			*rc = -ENOMEM;
	}
	if (*rc < 0) {
		json_decref(layers);
		return NULL;
	}
	/* "o" takes @layers, on failure too. */
	json_t *rec = json_pack("{s:o,s:I}", "layers", layers, "size",
				(json_int_t)size);
	if (!rec)
		*rc = -ENOMEM;
	return rec;
}

/*
 * Records plan @p in @next: its files and record unless the store already
 * has the image (then only its tags change, and the blobs it has stay the
 * ones it is made of).
 */
static int commit_one(struct img_store *s, json_t *next, const char *stage,
		      const struct img__plan *p,
		      const struct img__layer_done *done, struct created *c,
		      json_t *loaded, struct shoal_err *err)
{
	int rc = 0;
	json_t *rec = json_object_get(images_of(next), p->config_hex);
	if (!rec) {
		rec = place_image(s, stage, p, done, c, &rc, err);
		if (rc < 0)
			return rc;
		if (json_object_set_new(images_of(next), p->config_hex, rec))
			return -ENOMEM;
	}
	char id[DIGEST_STR_LEN];
	snprintf(id, sizeof(id), "sha256:%s", p->config_hex);
	for (size_t i = 0; i < p->n_tags; i++) {
		/* A tag that named another image moves; that one stays,
		 * untagged if this was its last tag (as Docker's load). */
		const char *was = json_string_value(
			json_object_get(tags_of(next), p->tags[i]));
		json_t *entry = json_pack("{s:s}", "ref", p->tags[i]);
		if (!entry || (was && strcmp(was, id) != 0 &&
			       json_object_set_new(entry, "replaced",
						   json_string(was)))) {
			json_decref(entry);
			return -ENOMEM;
		}
		if (json_array_append_new(loaded, entry) ||
		    json_object_set_new(tags_of(next), p->tags[i],
					json_string(id)))
			return -ENOMEM;
		json_object_set_new(rec, "last_tag_time", now_str());
	}
	if (p->n_tags == 0 &&
	    json_array_append_new(loaded, json_pack("{s:s}", "ref", id)))
		return -ENOMEM;
	return 0;
}

static void undo_created(struct created *c, bool remove)
{
	for (size_t i = 0; i < c->n; i++) {
		if (remove && c->paths[i])
			img__rmrf(c->paths[i]);
		shoal_free(c->paths[i]);
	}
	shoal_free(c->paths);
	c->paths = NULL;
	c->n = c->cap = 0;
}

int img__commit(struct img_store *s, const char *stage,
		const struct img__plan *plans, size_t n_plans,
		struct img__layer_done *const *layers, json_t **loaded,
		struct shoal_err *err)
{
	if (err)
		err->msg[0] = '\0';
	struct created *c = shoal_calloc(1, sizeof(*c));
	json_t *out = json_array();
	json_t **cfgs = shoal_calloc(n_plans + 1, sizeof(*cfgs));
	json_t *next;
	int sfd;
	int rc = -ENOMEM;
	if (!c || !out || !cfgs)
		goto err_free;
	/* One syncfs makes every staged file durable before it is named. */
	sfd = open(stage, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd >= 0) {
		syncfs(sfd);
		close(sfd);
	}
	pthread_mutex_lock(&s->lock);
	next = json_deep_copy(s->index);
	rc = next ? 0 : -ENOMEM;
	for (size_t i = 0; rc == 0 && i < n_plans; i++) {
		rc = commit_one(s, next, stage, &plans[i], layers[i], c, out,
				err);
		if (rc == 0)
			rc = img__load_config(s, plans[i].config_hex, &cfgs[i]);
	}
	if (rc == 0)
		rc = img__fsync_dir(s->root);
	if (rc == 0)
		rc = img__save_index(s, next);
	if (rc < 0) {
		json_decref(next);
		undo_created(c, true);
		pthread_mutex_unlock(&s->lock);
		if (err && !err->msg[0])
			img__fail(err, rc, "committing the images: %s",
				  shoal_strerror(rc));
		goto err_free;
	}
	/* Handed over under the lock: nothing shared is released after it. */
	for (size_t i = 0; i < n_plans; i++) {
		json_object_set_new(s->configs, plans[i].config_hex, cfgs[i]);
		cfgs[i] = NULL;
	}
	json_decref(s->index);
	s->index = next;
	pthread_mutex_unlock(&s->lock);
	undo_created(c, false);
	if (loaded)
		*loaded = json_incref(out);
err_free:
	for (size_t i = 0; cfgs && i < n_plans; i++)
		json_decref(cfgs[i]);
	shoal_free(cfgs);
	json_decref(out);
	shoal_free(c);
	return rc;
}
