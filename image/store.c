/*
 * The image store's state: the index (images and tags) and its atomic
 * persistence, reference resolution, the views the runtime and the API
 * read (struct img_image, Docker's inspect and list JSON), tags, in-use
 * tracking, removal, and the commit step that makes staged images real.
 *
 * The index lives in memory as a jansson object guarded by one mutex and is
 * rewritten whole (temp file, fsync, rename) on every change. A change is
 * made to a deep copy first; the copy replaces the live index only once it
 * is on disk, so a failed write changes nothing.
 *
 * Blobs and layers are only ever created by img__commit() and deleted by
 * img_remove() (or, for leftovers of a crash, by img_store_open()), all
 * under the mutex: a load that found a layer present may rely on it
 * staying until its commit, which checks again.
 */
#include "common/path.h"
#include "image/internal.h"
#include "image/registry.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOG_MODULE "image"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/id.h"
#include "common/log.h"

/* References ---------------------------------------------------------- */

static bool name_component_ok(const char *p, size_t n, bool host)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (islower((unsigned char)c) || isdigit((unsigned char)c))
			continue;
		if (host && (isupper((unsigned char)c) || c == ':'))
			continue;
		if ((c == '.' || c == '_' || c == '-') && i > 0 && i < n - 1)
			continue;
		return false;
	}
	return true;
}

static bool tag_ok(const char *t)
{
	size_t n = strlen(t);
	if (n == 0 || n > 128 || t[0] == '.' || t[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)t[i]) && !strchr("_.-", t[i]))
			return false;
	return true;
}

int img__ref_normalize(const char *ref, char *out, size_t cap)
{
	size_t len = strlen(ref);
	if (len == 0 || len > 255 || strchr(ref, '@'))
		return -EINVAL;
	const char *slash = strrchr(ref, '/');
	const char *colon = strrchr(ref, ':');
	const char *tag = "latest";
	size_t nlen = len;
	if (colon && (!slash || colon > slash)) {
		tag = colon + 1;
		nlen = (size_t)(colon - ref);
	}
	if (!tag_ok(tag))
		return -EINVAL;
	static const char *const prefixes[] = {
		"docker.io/library/", "index.docker.io/library/", "docker.io/",
		"index.docker.io/"};
	for (size_t i = 0; i < 4; i++) {
		size_t pl = strlen(prefixes[i]);
		if (nlen > pl && strncmp(ref, prefixes[i], pl) == 0) {
			ref += pl;
			nlen -= pl;
			break;
		}
	}
	if (nlen == 64 && id_is_hex(ref, 64))
		return -EINVAL; /* a repository may not look like an id */
	const char *p = ref;
	const char *end = ref + nlen;
	bool first = true;
	while (p < end) {
		const char *s = memchr(p, '/', (size_t)(end - p));
		size_t n = s ? (size_t)(s - p) : (size_t)(end - p);
		bool host = first && s &&
			    (memchr(p, '.', n) || memchr(p, ':', n) ||
			     (n == 9 && !memcmp(p, "localhost", 9)));
		if (!name_component_ok(p, n, host))
			return -EINVAL;
		first = false;
		p += n + (s ? 1 : 0);
		if (s && p == end)
			return -EINVAL;
	}
	if ((size_t)snprintf(out, cap, "%.*s:%s", (int)nlen, ref, tag) >= cap)
		return -ENAMETOOLONG;
	return 0;
}

/* Index persistence --------------------------------------------------- */

int img__save_index(struct img_store *s, json_t *index)
{
	char *data = json_dumps(index, JSON_SORT_KEYS | JSON_INDENT(1));
	if (!data)
		return -ENOMEM;
	char *path = img__path(s->root, "index.json", NULL);
	int rc = path ? img__write_atomic(path, data, strlen(data)) : -ENOMEM;
	shoal_free(path);
	shoal_free(data);
	return rc;
}

static json_t *images_of(json_t *index)
{
	return json_object_get(index, "images");
}

static json_t *tags_of(json_t *index)
{
	return json_object_get(index, "tags");
}

int img__load_config(struct img_store *s, const char *hex, json_t **out)
{
	char *path = img__path(s->root, "blobs/sha256", hex);
	if (!path)
		return -ENOMEM;
	char *data;
	size_t len;
	int rc = img__read_file(path, IMG_JSON_MAX, &data, &len);
	shoal_free(path);
	if (rc < 0)
		return rc;
	rc = img__config_parse(data, len, out, NULL);
	shoal_free(data);
	return rc;
}

static bool index_shape_ok(json_t *index)
{
	json_t *images = images_of(index);
	json_t *tags = tags_of(index);
	if (!json_is_object(images) || !json_is_object(tags))
		return false;
	const char *k;
	json_t *v;
	for (void *it = img__first(images, &k, &v); it;
	     it = img__next(images, it, &k, &v)) {
		json_t *layers = json_object_get(v, "layers");
		if (!id_is_hex(k, 64) || !json_is_array(layers))
			return false;
		size_t i;
		json_t *l;
		for (i = 0; i < json_array_size(layers) &&
			    (l = json_array_get(layers, i));
		     i++) {
			const char *d = json_string_value(
				json_object_get(l, "diff_id"));
			const char *b =
				json_string_value(json_object_get(l, "blob"));
			if (!d || !b || strncmp(d, "sha256:", 7) ||
			    strncmp(b, "sha256:", 7) || !id_is_hex(d + 7, 64) ||
			    !id_is_hex(b + 7, 64))
				return false;
		}
	}
	for (void *it = img__first(tags, &k, &v); it;
	     it = img__next(tags, it, &k, &v)) {
		const char *id = json_string_value(v);
		if (!id || strncmp(id, "sha256:", 7) ||
		    !json_object_get(images, id + 7))
			return false;
	}
	return true;
}

static int read_index(struct img_store *s, struct shoal_err *err)
{
	char *path = img__path(s->root, "index.json", NULL);
	if (!path)
		return -ENOMEM;
	char *data = NULL;
	size_t len = 0;
	int rc = img__read_file(path, 256u << 20, &data, &len);
	shoal_free(path);
	if (rc == -ENOENT) {
		/* A new store: its index exists from the start. */
		s->index = json_pack("{s:i,s:{},s:{}}", "version", 1, "images",
				     "tags");
		if (!s->index)
			return -ENOMEM;
		rc = img__save_index(s, s->index);
		return rc < 0 ? img__fail(err, rc, "writing %s/index.json: %s",
					  s->root, strerror(-rc))
			      : 0;
	}
	if (rc < 0)
		return img__fail(err, rc, "reading %s/index.json: %s", s->root,
				 strerror(-rc));
	json_error_t je;
	s->index = json_loadb(data, len, 0, &je);
	shoal_free(data);
	if (!s->index || !index_shape_ok(s->index))
		return img__fail(err, SHOAL_ECORRUPT,
				 "%s/index.json is corrupt%s%s", s->root,
				 s->index ? "" : ": ", s->index ? "" : je.text);
	return 0;
}

static bool layers_present(struct img_store *s, json_t *rec)
{
	json_t *layers = json_object_get(rec, "layers");
	for (size_t i = 0; i < json_array_size(layers); i++) {
		const char *d = json_string_value(
			json_object_get(json_array_get(layers, i), "diff_id"));
		char *p = img__path(s->root, "layers", d + 7);
		struct stat st;
		bool ok = p && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
		shoal_free(p);
		if (!ok)
			return false;
	}
	return true;
}

/* Loads every image's config; drops (with a warning) images whose config
 * blob or a layer folder is gone, and the tags pointing at them. */
static int load_configs(struct img_store *s)
{
	json_t *images = images_of(s->index);
	const char *k;
	json_t *v;
	bool dropped = false;
	void *it = img__first(images, &k, &v);
	while (it) {
		const char *cur = k;
		json_t *rec = v;
		it = img__next(images, it, &k, &v);
		json_t *cfg;
		int rc = img__load_config(s, cur, &cfg);
		if (rc == -ENOMEM)
			return rc;
		if (rc == 0 && !layers_present(s, rec)) {
			json_decref(cfg);
			rc = -ENOENT;
		}
		if (rc < 0) {
			log_warn("image=%.12s dropped: config or layer "
				 "missing: %s",
				 cur, shoal_strerror(rc));
			json_object_del(images, cur);
			dropped = true;
			continue;
		}
		json_object_set_new(s->configs, cur, cfg);
	}
	if (!dropped)
		return 0;
	json_t *tags = tags_of(s->index);
	it = img__first(tags, &k, &v);
	while (it) {
		const char *cur = k;
		bool orphan =
			!json_object_get(images, json_string_value(v) + 7);
		it = img__next(tags, it, &k, &v);
		if (orphan)
			json_object_del(tags, cur);
	}
	return img__save_index(s, s->index);
}

bool img__blob_used(json_t *index, const char *hex)
{
	const char *k;
	json_t *v;
	for (void *it = img__first(images_of(index), &k, &v); it;
	     it = img__next(images_of(index), it, &k, &v)) {
		if (!strcmp(k, hex))
			return true;
		json_t *layers = json_object_get(v, "layers");
		for (size_t i = 0; i < json_array_size(layers); i++) {
			json_t *b = json_object_get(json_array_get(layers, i),
						    "blob");
			if (!strcmp(json_string_value(b) + 7, hex))
				return true;
		}
	}
	return false;
}

bool img__layer_used(json_t *index, const char *hex)
{
	const char *k;
	json_t *v;
	for (void *it = img__first(images_of(index), &k, &v); it;
	     it = img__next(images_of(index), it, &k, &v)) {
		json_t *layers = json_object_get(v, "layers");
		for (size_t i = 0; i < json_array_size(layers); i++) {
			json_t *d = json_object_get(json_array_get(layers, i),
						    "diff_id");
			if (!strcmp(json_string_value(d) + 7, hex))
				return true;
		}
	}
	return false;
}

/* Deletes what no image names in folder @sub (a crash's leftovers). */
static void sweep(struct img_store *s, const char *sub, bool layers)
{
	char *dir = img__path(s->root, sub, NULL);
	DIR *d = dir ? opendir(dir) : NULL;
	if (!d) {
		shoal_free(dir);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		bool used = layers ? img__layer_used(s->index, e->d_name)
				   : img__blob_used(s->index, e->d_name);
		if (used)
			continue;
		char *p = img__path(dir, e->d_name, NULL);
		if (p) {
			log_info("removing unreferenced %s/%s", sub, e->d_name);
			img__rmrf(p);
		}
		shoal_free(p);
	}
	closedir(d);
	shoal_free(dir);
}

static int make_dirs(struct img_store *s)
{
	static const char *const subs[] = {"blobs/sha256", "layers", "tmp"};
	char *tmp = img__path(s->root, "tmp", NULL);
	if (!tmp)
		return -ENOMEM;
	int rc = img__rmrf(tmp);
	shoal_free(tmp);
	for (size_t i = 0; rc == 0 && i < 3; i++) {
		char *p = img__path(s->root, subs[i], NULL);
		rc = p ? path_mkdir_p(p, 0700) : -ENOMEM;
		shoal_free(p);
	}
	return rc;
}

/*
 * One process per store: staging folders and crash sweeps assume nobody
 * else writes here. The lock dies with its process, so a crash never
 * leaves the store locked.
 */
static int lock_store(struct img_store *s, struct shoal_err *err)
{
	int rc = path_mkdir_p(s->root, 0700);
	if (rc < 0)
		return img__fail(err, rc, "creating %s: %s", s->root,
				 strerror(-rc));
	char *path = img__path(s->root, "lock", NULL);
	if (!path)
		return -ENOMEM;
	s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	shoal_free(path);
	if (s->lock_fd < 0)
		return img__fail(err, -errno, "opening %s/lock: %s", s->root,
				 strerror(errno));
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0)
		return img__fail(err, errno == EWOULDBLOCK ? -EBUSY : -errno,
				 "image store %s is in use by another "
				 "process",
				 s->root);
	return 0;
}

int img_store_open(const char *data_root, struct img_store **out,
		   struct shoal_err *err)
{
	struct img_store *s = shoal_calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	int rc = -ENOMEM;
	s->root = img__path(data_root, "images", NULL);
	s->configs = json_object();
	s->users = json_object();
	s->lock_fd = -1;
	if (!s->root || !s->configs || !s->users)
		goto err_free;
	rc = lock_store(s, err);
	if (rc < 0)
		goto err_free;
	rc = make_dirs(s);
	if (rc < 0) {
		img__fail(err, rc, "creating %s: %s", s->root, strerror(-rc));
		goto err_free;
	}
	rc = read_index(s, err);
	if (rc < 0)
		goto err_free;
	rc = load_configs(s);
	if (rc < 0) {
		img__fail(err, rc, "loading image configs: %s",
			  shoal_strerror(rc));
		goto err_free;
	}
	sweep(s, "blobs/sha256", false);
	sweep(s, "layers", true);
	pthread_mutex_init(&s->lock, NULL);
	*out = s;
	return 0;
err_free:
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	json_decref(s->index);
	json_decref(s->configs);
	json_decref(s->users);
	shoal_free(s->root);
	shoal_free(s);
	return rc;
}

void img_store_close(struct img_store *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	close(s->lock_fd);
	json_decref(s->index);
	json_decref(s->configs);
	json_decref(s->users);
	shoal_free(s->root);
	shoal_free(s);
}

const char *img_store_path(const struct img_store *s)
{
	return s->root;
}

/* Resolution ---------------------------------------------------------- */

/* The image whose id starts with @prefix; lock held. */
static int by_prefix(struct img_store *s, const char *ref, const char *prefix,
		     const char **hex, struct shoal_err *err)
{
	size_t n = strlen(prefix);
	const char *found = NULL;
	const char *k;
	json_t *v;
	for (void *it = img__first(images_of(s->index), &k, &v); it;
	     it = img__next(images_of(s->index), it, &k, &v)) {
		if (strncmp(k, prefix, n) != 0)
			continue;
		if (found)
			return img__fail(err, -EINVAL,
					 "short id %s is ambiguous", ref);
		found = k;
	}
	if (!found)
		return img__fail(err, SHOAL_ENOTFOUND, "No such image: %s",
				 ref);
	*hex = found;
	return 0;
}

/*
 * Finds the image @ref names; lock held. *@hex is borrowed from the index;
 * *@tag (may be NULL) is set to whether @ref named a tag, whose normalized
 * form goes to @norm (SHOAL_ERR_MAX bytes) then.
 */
/*
 * "name[:tag]@sha256:<hex>": the image whose RepoDigests hold the name
 * (familiar) with that digest; the tag is ignored, as Docker does.
 */
static int by_repo_digest(struct img_store *s, const char *ref,
			  const char **hex, struct shoal_err *err)
{
	struct img_ref r;
	char fam[600], want[700];
	if (img_ref_parse(ref, &r, NULL) < 0 || !r.digest[0])
		return img__fail(err, -EINVAL, "invalid reference format: %s",
				 ref);
	img_ref_familiar(&r, fam, sizeof(fam));
	snprintf(want, sizeof(want), "%s@%s", fam, r.digest);
	const char *k;
	json_t *v;
	json_t *images = images_of(s->index);
	for (void *it = img__first(images, &k, &v); it;
	     it = img__next(images, it, &k, &v)) {
		json_t *rds = json_object_get(v, "repo_digests");
		for (size_t i = 0; i < json_array_size(rds); i++) {
			const char *d =
				json_string_value(json_array_get(rds, i));
			if (d && !strcmp(d, want)) {
				*hex = k;
				return 0;
			}
		}
	}
	return img__fail(err, SHOAL_ENOTFOUND, "No such image: %s", want);
}

int img__find_image(struct img_store *s, const char *ref, const char **hex,
		    bool *by_tag, char *norm, struct shoal_err *err)
{
	if (by_tag)
		*by_tag = false;
	size_t n = strlen(ref);
	if (strncmp(ref, "sha256:", 7) == 0) {
		if (n == 7 || n > 71 || !id_is_hex(ref + 7, n - 7))
			return img__fail(err, -EINVAL,
					 "invalid reference format: %s", ref);
		return by_prefix(s, ref, ref + 7, hex, err);
	}
	char buf[SHOAL_ERR_MAX];
	if (!norm)
		norm = buf;
	if (strchr(ref, '@'))
		return by_repo_digest(s, ref, hex, err);
	if (img__ref_normalize(ref, norm, SHOAL_ERR_MAX) == 0) {
		json_t *id = json_object_get(tags_of(s->index), norm);
		if (id) {
			*hex = json_string_value(id) + 7;
			if (by_tag)
				*by_tag = true;
			return 0;
		}
	}
	if (n >= 1 && n <= 64 && id_is_hex(ref, n))
		return by_prefix(s, ref, ref, hex, err);
	if (img__ref_normalize(ref, norm, SHOAL_ERR_MAX) < 0)
		return img__fail(err, -EINVAL, "invalid reference format: %s",
				 ref);
	return img__fail(err, SHOAL_ENOTFOUND, "No such image: %s", norm);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The tags of image @hex, sorted, as a json array; lock held. */
json_t *img__tags_for(struct img_store *s, const char *hex)
{
	const char *names[1024];
	size_t n = 0;
	const char *k;
	json_t *v;
	json_t *tags = tags_of(s->index);
	for (void *it = img__first(tags, &k, &v); it;
	     it = img__next(tags, it, &k, &v))
		if (n < 1024 && !strcmp(json_string_value(v) + 7, hex))
			names[n++] = k;
	qsort(names, n, sizeof(*names), cmp_str);
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < n; i++)
		if (json_array_append_new(arr, json_string(names[i]))) {
			json_decref(arr);
			return NULL;
		}
	return arr;
}

/* RFC 3339 text to nanoseconds since the epoch; 0 when unparseable. */
int64_t img__parse_time(const char *s)
{
	struct tm tm = {0};
	int used = 0;
	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year,
			 &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
			 &tm.tm_sec, &used) != 6)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	int64_t ns = (int64_t)timegm(&tm) * NSEC_PER_SEC;
	const char *p = s + used;
	if (*p == '.') {
		int64_t scale = NSEC_PER_SEC / 10;
		for (p++; isdigit((unsigned char)*p); p++, scale /= 10)
			ns += (*p - '0') * scale;
	}
	int sh, sm;
	if ((*p == '+' || *p == '-') && sscanf(p + 1, "%2d:%2d", &sh, &sm) == 2)
		ns -= (*p == '+' ? 1 : -1) * (sh * 3600LL + sm * 60LL) *
		      NSEC_PER_SEC;
	return ns;
}

static char **strv_from_json(json_t *arr)
{
	char **v = shoal_calloc(json_array_size(arr) + 1, sizeof(*v));
	if (!v)
		return NULL;
	size_t i;
	json_t *x;
	for (i = 0; i < json_array_size(arr) && (x = json_array_get(arr, i));
	     i++) {
		if (!(v[i] = shoal_strdup(json_string_value(x)))) {
			while (i-- > 0)
				shoal_free(v[i]);
			shoal_free(v);
			return NULL;
		}
	}
	return v;
}

static char *opt_dup(const json_t *v)
{
	return json_is_string(v) ? shoal_strdup(json_string_value(v)) : NULL;
}

/* Builds the caller's snapshot of image @hex; lock held. */
static int make_image(struct img_store *s, const char *hex,
		      struct img_image **out)
{
	json_t *cfg = json_object_get(s->configs, hex);
	json_t *rec = json_object_get(images_of(s->index), hex);
	json_t *layers = json_object_get(rec, "layers");
	struct img_image *img = shoal_calloc(1, sizeof(*img));
	if (!img)
		return -ENOMEM;
	snprintf(img->id, sizeof(img->id), "sha256:%s", hex);
	json_t *tags = img__tags_for(s, hex);
	img->repo_tags = tags ? strv_from_json(tags) : NULL;
	json_decref(tags);
	img->layer_dirs = shoal_calloc(json_array_size(layers) + 1,
				       sizeof(*img->layer_dirs));
	int rc = -ENOMEM;
	if (!img->repo_tags || !img->layer_dirs ||
	    img__config_fill(cfg, &img->config) < 0)
		goto err_free;
	size_t i;
	json_t *l;
	for (i = 0;
	     i < json_array_size(layers) && (l = json_array_get(layers, i));
	     i++) {
		const char *d =
			json_string_value(json_object_get(l, "diff_id"));
		img->layer_dirs[i] = img__path(s->root, "layers", d + 7);
		if (!img->layer_dirs[i])
			goto err_free;
		img->n_layers = i + 1;
	}
	img->architecture = opt_dup(json_object_get(cfg, "architecture"));
	img->os = opt_dup(json_object_get(cfg, "os"));
	img->variant = opt_dup(json_object_get(cfg, "variant"));
	img->author = opt_dup(json_object_get(cfg, "author"));
	img->comment = opt_dup(json_object_get(cfg, "comment"));
	img->created_ns = img__parse_time(
		json_string_value(json_object_get(cfg, "created")));
	img->size = (uint64_t)json_integer_value(json_object_get(rec, "size"));
	*out = img;
	return 0;
err_free:
	img_image_free(img);
	return rc;
}

void img_image_free(struct img_image *img)
{
	if (!img)
		return;
	for (char **p = img->repo_tags; p && *p; p++)
		shoal_free(*p);
	shoal_free(img->repo_tags);
	for (char **p = img->layer_dirs; p && *p; p++)
		shoal_free(*p);
	shoal_free(img->layer_dirs);
	img__config_clear(&img->config);
	shoal_free(img->architecture);
	shoal_free(img->os);
	shoal_free(img->variant);
	shoal_free(img->author);
	shoal_free(img->comment);
	shoal_free(img);
}

char *img_lowerdir(const struct img_image *img)
{
	size_t n = 1;
	for (size_t i = 0; i < img->n_layers; i++)
		n += strlen(img->layer_dirs[i]) + 1;
	char *out = shoal_malloc(n);
	if (!out)
		return NULL;
	size_t o = 0;
	out[0] = '\0';
	for (size_t i = img->n_layers; i-- > 0;)
		o += (size_t)snprintf(out + o, n - o, "%s%s", o ? ":" : "",
				      img->layer_dirs[i]);
	return out;
}

int img_resolve(struct img_store *s, const char *ref, struct img_image **out,
		struct shoal_err *err)
{
	const char *hex;
	pthread_mutex_lock(&s->lock);
	int rc = img__find_image(s, ref, &hex, NULL, NULL, err);
	if (rc == 0) {
		rc = make_image(s, hex, out);
		if (rc < 0)
			img__fail(err, rc, "out of memory");
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}
