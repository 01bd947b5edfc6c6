/*
 * Internal to the image store (image/): the store's in-memory
 * state, the staging area, the parsers the fuzz targets drive, and small
 * file-system helpers. Not for use outside image/ and the image
 * tests.
 */
#ifndef SHOAL_IMAGE_INTERNAL_H
#define SHOAL_IMAGE_INTERNAL_H

#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <sys/types.h>

#include "common/error.h"
#include "image/image.h"

/* Bounds on what an archive may make us hold in memory. */
#define IMG_JSON_MAX (4u << 20) /* manifest, index, config files */
#define IMG_ENTRIES_MAX 100000	/* entries of a load archive */
#define IMG_IMAGES_MAX 1000	/* images of one load */
#define IMG_LAYERS_MAX 256	/* layers of one image */
#define IMG_CHANGES_MAX 256	/* --change lines */
#define IMG_INDEX_DEPTH_MAX 4	/* nested OCI indexes */

struct img_store {
	char *root;  /* <data-root>/images */
	int lock_fd; /* <root>/lock, flock()ed while open */
	pthread_mutex_t lock;
	/*
	 * {"version":1,"images":{hex:{"layers":[{"diff_id","blob",
	 * "media_type","size"}],"size":N,"last_tag_time":"..."}},
	 * "tags":{"name:tag":"sha256:hex"}}
	 */
	json_t *index;
	json_t *configs; /* hex -> parsed config blob */
	json_t *users;	 /* hex -> {container id: true} */
	img_in_use_fn *in_use;
	void *in_use_arg;
	img_running_fn *running; /* NULL: every user counts as stopped */
	void *running_arg;
};

/*
 * Iteration over a jansson object. Jansson's foreach macros are not used:
 * clang-format cannot lay them out. Usage:
 *   for (void *it = img__first(o, &k, &v); it; it = img__next(o, it, &k, &v))
 * To delete the current key, fetch the next iterator first.
 */
static inline void *img__first(json_t *o, const char **k, json_t **v)
{
	void *it = json_object_iter(o);
	if (it) {
		*k = json_object_iter_key(it);
		*v = json_object_iter_value(it);
	}
	return it;
}

static inline void *img__next(json_t *o, void *it, const char **k, json_t **v)
{
	it = json_object_iter_next(o, it);
	if (it) {
		*k = json_object_iter_key(it);
		*v = json_object_iter_value(it);
	}
	return it;
}

/* Errors. */
int img__fail(struct shoal_err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

int img__rmrf(const char *path);
int img__fsync_dir(const char *path);
/*
 * img__writeback() - staged bytes written since *@from, when there are at
 * least WRITEBACK_STEP of them (or @last), start going to disk now
 * (sync_file_range, not waiting), so that the commit's syncfs finds little
 * left to write: a big layer is then written back while it is still being
 * downloaded or unpacked instead of after. *@from moves to @to. A hint:
 * failures are ignored (the syncfs still makes the bytes durable).
 */
#define IMG_WRITEBACK_STEP (8u << 20)
void img__writeback(int fd, uint64_t *from, uint64_t to, bool last);
int img__write_atomic(const char *path, const void *data, size_t len);
/* img__write_file() - a plain write, for staging (made durable by the
 * commit's syncfs). */
int img__write_file(const char *path, const void *data, size_t len);
int img__read_file(const char *path, size_t max, char **out, size_t *len);
bool img__exists(const char *path);
char *img__path(const char *a, const char *b, const char *c);
/* img__stage_create() - a fresh folder under <root>/tmp (owned string). */
int img__stage_create(struct img_store *s, char **out);

/*
 * A relative archive path made safe: no leading "/" or "./", no "..", no
 * empty components. Returns 0 and the cleaned path in @out ("" for the
 * archive's root), or -EINVAL.
 */
int img__clean_path(const char *raw, char *out, size_t cap);

/*
 * Blobs and layers: streaming sha256 with OpenSSL's EVP (SHA-NI / AVX2
 * code, several times libsodium's portable one on big blobs).
 * img__hash_init() is 0 or -ENOMEM; img__hash_hex() finishes and frees;
 * img__hash_free() frees one not finished (idempotent, safe after a
 * failed init or after img__hash_hex()).
 */
struct img__hash {
	EVP_MD_CTX *ctx;
};
int img__hash_init(struct img__hash *h);
void img__hash_update(struct img__hash *h, const void *p, size_t n);
void img__hash_hex(struct img__hash *h, char hex[SHA256_HEX_LEN + 1]);
void img__hash_free(struct img__hash *h);

/* Layers (image_unpack.c). */
struct img__layer_result {
	char diff_hex[SHA256_HEX_LEN + 1]; /* sha256 of the tar stream */
	uint64_t size;			   /* bytes of regular files */
};

/*
 * img__unpack() - unpack the layer blob at @blob (a tar, maybe compressed)
 * into the new folder @dest, or, with @dest NULL, only read it through
 * (DiffID, size, and that it is a whole tar).
 * Whiteouts become overlay whiteouts; paths that would leave @dest are
 * refused. @progress may be NULL; @p carries the fields to fill in.
 */
int img__unpack(const char *blob, const char *dest,
		struct img__layer_result *res, img_progress_fn *progress,
		void *arg, struct img_progress *p, struct shoal_err *err);

/*
 * img__unpack_known() - img__unpack() of a blob whose sha256 the caller has
 * already verified (@blob_hex: the pull checked it while streaming, a load
 * or the store named the file by it). When the blob is not compressed its
 * tar stream is the blob itself, so the DiffID is @blob_hex and the stream
 * is not hashed a second time; a compressed blob is hashed as usual.
 */
int img__unpack_known(const char *blob, const char *blob_hex, const char *dest,
		      struct img__layer_result *res, img_progress_fn *progress,
		      void *arg, struct img_progress *p, struct shoal_err *err);

/*
 * img__unpack_source() - img__unpack_known() reading the blob's bytes from
 * @src instead of the file @blob (which then only names it): @src->read
 * sets *buf to the next bytes and returns their count, 0 at the end, -1
 * when the stream failed. The pull unpacks a layer this way while it is
 * still downloading (image/registry.c).
 */
struct img__source {
	ssize_t (*read)(void *arg, const void **buf);
	void *arg;
};
int img__unpack_source(const char *blob, const struct img__source *src,
		       const char *blob_hex, const char *dest,
		       struct img__layer_result *res, img_progress_fn *progress,
		       void *arg, struct img_progress *p,
		       struct shoal_err *err);

/* Image configs (image_config.c). */

/*
 * img__config_check() - validate a parsed image config (OCI image spec /
 * Docker image JSON): the field types the store reads, and rootfs.diff_ids
 * as "sha256:<hex>" strings. Returns the number of diff_ids or a negative
 * code.
 */
int img__config_check(const json_t *cfg, struct shoal_err *err);
/* img__config_parse() - bytes to a checked config (owned json). */
int img__config_parse(const char *data, size_t len, json_t **out,
		      struct shoal_err *err);
/* img__config_fill() - the struct img_config view of a checked config. */
int img__config_fill(const json_t *cfg, struct img_config *out);
void img__config_clear(struct img_config *c);

/*
 * img__change_apply() - apply one --change line (Dockerfile syntax: CMD,
 * ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR, and
 * ONBUILD) to the container config object @cc. -EINVAL with a message for
 * anything else; @cc is unchanged on failure.
 */
int img__change_apply(json_t *cc, const char *line, struct shoal_err *err);

/* References (image_store.c). */

/*
 * img__ref_normalize() - "name[:tag]" into its canonical "name:tag" form
 * (":latest" added, "docker.io/library/" dropped). -EINVAL when @ref is not
 * a valid reference; a digest reference ("name@sha256:...") is refused.
 */
int img__ref_normalize(const char *ref, char *out, size_t cap);

/*
 * img__add_repo_digest() - record "repo@sha256:<manifest>" (Docker's
 * RepoDigests, familiar name) for image @hex, as a pull or push of it
 * learnt it; shown by inspect and list, resolved by img__find_image().
 * At most 64 per image (the oldest dropped). Takes the lock.
 */
int img__add_repo_digest(struct img_store *s, const char *hex,
			 const char *repo_digest, struct shoal_err *err);

/* Store internals shared by image_store.c and image_ops.c; lock held. */
int img__find_image(struct img_store *s, const char *ref, const char **hex,
		    bool *by_tag, char *norm, struct shoal_err *err);
json_t *img__tags_for(struct img_store *s, const char *hex);
int img__save_index(struct img_store *s, json_t *index);
int img__load_config(struct img_store *s, const char *hex, json_t **out);
bool img__blob_used(json_t *index, const char *hex);
bool img__layer_used(json_t *index, const char *hex);
int64_t img__parse_time(const char *s);

/* Archive manifests (image_manifest.c). */

struct img__layer_plan {
	char blob_hex[SHA256_HEX_LEN + 1];
	char *media_type; /* NULL when unknown */
	/* A folder the pull already unpacked from this blob (verified
	 * after, as it streamed) and what that found; NULL: unpack the
	 * blob at commit. */
	char *unpacked;
	struct img__layer_result pre;
};

/* One image to commit: its config blob, its layer blobs, its tags. */
struct img__plan {
	char config_hex[SHA256_HEX_LEN + 1];
	char **tags; /* normalized, NULL-terminated */
	size_t n_tags;
	struct img__layer_plan *layers;
	size_t n_layers;
};

void img__plan_clear(struct img__plan *p);

/* docker save's manifest.json, as read (paths inside the archive). */
struct img__dmanifest_item {
	char *config;
	char **tags;
	size_t n_tags;
	char **layers;
	size_t n_layers;
};
struct img__dmanifest {
	struct img__dmanifest_item *items;
	size_t n;
};
int img__dmanifest_parse(const char *data, size_t len,
			 struct img__dmanifest *out, struct shoal_err *err);
void img__dmanifest_clear(struct img__dmanifest *m);

/* An OCI descriptor (index entry, config or layer). */
struct img__desc {
	char *media_type;
	char hex[SHA256_HEX_LEN + 1];
	int64_t size;
	char *name; /* image name from the annotations, or NULL */
	char *os;
	char *arch;
	char *variant;
	bool attestation;
};
struct img__desc_list {
	struct img__desc *d;
	size_t n;
};
/* img__oci_index_parse() - index.json or a nested image index. */
int img__oci_index_parse(const char *data, size_t len,
			 struct img__desc_list *out, struct shoal_err *err);
/* img__oci_manifest_parse() - an image manifest: config then layers. */
int img__oci_manifest_parse(const char *data, size_t len,
			    struct img__desc *config,
			    struct img__desc_list *layers,
			    struct shoal_err *err);
void img__desc_clear(struct img__desc *d);
void img__desc_list_clear(struct img__desc_list *l);
bool img__media_is_index(const char *mt);

/*
 * img__commit() - make staged images part of the store: move the staged
 * blobs (@stage/blobs/<hex>) and unpacked layers (@stage/layers/<diff>)
 * into place, record images and tags, write the index. All or nothing.
 * @layers holds, per plan and layer, the DiffID and size found.
 */
struct img__layer_done {
	char diff_hex[SHA256_HEX_LEN + 1];
	uint64_t size;
};
int img__commit(struct img_store *s, const char *stage,
		const struct img__plan *plans, size_t n_plans,
		struct img__layer_done *const *layers, json_t **loaded,
		struct shoal_err *err);

/* Stage the plans' layers and commit (image_load.c); shared by import. */
int img__stage_and_commit(struct img_store *s, const char *stage,
			  const struct img__plan *plans, size_t n_plans,
			  img_progress_fn *progress, void *arg, json_t **loaded,
			  struct shoal_err *err);

#endif
