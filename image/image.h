/*
 * The image store: where a node keeps the images its containers run from.
 *
 * Layout under <data-root>/images/ (see docs/images.md):
 *
 *   blobs/sha256/<hex>   content-addressed blobs: image configs and the
 *                        layer archives as they arrived (compressed or not)
 *   layers/<diff-hex>/   each layer unpacked once, as an overlayfs lower
 *                        directory (whiteouts are 0/0 character devices,
 *                        opaque directories carry trusted.overlay.opaque=y),
 *                        shared by every image and container that uses it
 *   index.json           images (config digest, layer list, sizes) and tags,
 *                        replaced atomically (temp file, fsync, rename)
 *   tmp/                 staging for imports and loads in progress
 *   lock                 flock()ed by the process that has the store open
 *
 * Invariants: the index only names blobs and layers that are complete on
 * disk; a blob's name is the sha256 of its bytes; a layer folder's name is
 * the sha256 of its uncompressed tar stream (its DiffID). An import or a
 * load stages everything under tmp/ and commits with renames and one index
 * write, so a failure or a crash leaves nothing half-written: at open the
 * store deletes tmp/ and anything the index does not name.
 *
 * Threads: every function here is thread-safe (one mutex guards the index).
 * img_import(), img_load() and img_save() block on disk and CPU: call them
 * from a worker thread, or use img_import_async()/img_load_async() from the
 * libuv loop.
 * Resolving, listing and inspecting are in-memory. img_tag() and
 * img_untag() rewrite the index (one small fsync); img_remove() does too
 * and deletes folders: run it on a worker when layers can be large.
 *
 * Errors: functions return 0 or a negative code (common/error.h) and, when
 * @err is non-NULL, put a one-line message in it, worded like Docker's where
 * Docker has a wording ("No such image: busybox:latest").
 */
#ifndef SHOAL_IMAGE_IMAGE_H
#define SHOAL_IMAGE_IMAGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/crypto.h"
#include "common/error.h"

struct img_store;

/* A label or other key/value pair of an image config. */
struct img_kv {
	char *key;
	char *value;
};

/*
 * The parts of an image's config a container starts from (Docker's
 * container config inside the image config). String arrays are
 * NULL-terminated; an absent field is NULL (an empty array is a non-NULL
 * array holding only NULL).
 */
struct img_config {
	char **env; /* "KEY=value" */
	char **cmd;
	char **entrypoint;
	char *working_dir;
	char *user;
	char **exposed_ports; /* "80/tcp" */
	char **volumes;	      /* "/data" */
	struct img_kv *labels;
	size_t n_labels;
	char *stop_signal;
};

/*
 * One image as the runtime and the API see it: a snapshot, owned by the
 * caller, free with img_image_free(). The layer folders stay on disk for as
 * long as the image is registered as in use (img_use()).
 */
struct img_image {
	char id[DIGEST_STR_LEN]; /* "sha256:<hex>" */
	char **repo_tags;	 /* NULL-terminated, sorted */
	struct img_config config;
	char *architecture;
	char *os;
	char *variant; /* NULL when the config has none */
	char *author;
	char *comment;
	int64_t created_ns; /* from the config; 0 when absent */
	uint64_t size;	    /* bytes of regular files over all layers */
	char **layer_dirs;  /* absolute, lowest first, NULL-terminated */
	size_t n_layers;
};

/* Progress of an import or a load, for Docker-style progress messages. */
struct img_progress {
	const char *phase; /* "Reading archive", "Loading layer", ... */
	char id[13];	   /* short id of the item, "" when none */
	uint64_t current;  /* bytes of this item done */
	uint64_t total;	   /* bytes of this item; 0 when unknown */
	unsigned layers_done;
	unsigned layers_total;
};

/**
 * img_progress_fn - progress report. Called on the thread doing the work
 * (for the _async variants: on the loop thread, coalesced). @p is borrowed
 * for the call.
 */
typedef void img_progress_fn(const struct img_progress *p, void *arg);

/**
 * img_in_use_fn - whether a container uses image @image_id ("sha256:...").
 * When it does, the function copies that container's id (at most 64
 * characters) into @container_id and returns true. Called with the store's
 * lock held: it must not call back into the store.
 */
typedef bool img_in_use_fn(const char *image_id, char container_id[65],
			   void *arg);

/**
 * img_running_fn - whether container @container_id is running (a paused
 * one counts, as in Docker). Called with the store's lock held: it must not
 * call back into the store.
 */
typedef bool img_running_fn(const char *container_id, void *arg);

/**
 * img_store_open() - open (creating when absent) the store under
 * @data_root/images. Cleans up what a crash left: tmp/ and unreferenced
 * blobs and layers. One process at a time: the store is flock()ed until
 * img_store_close(). Returns 0 and *@out (free with img_store_close()),
 * -EBUSY when another open store holds the lock, -errno on I/O failure,
 * SHOAL_ECORRUPT when the index cannot be read.
 */
int img_store_open(const char *data_root, struct img_store **out,
		   struct shoal_err *err);
void img_store_close(struct img_store *s);

/** img_store_path() - the store's folder (borrowed, valid until close). */
const char *img_store_path(const struct img_store *s);

/**
 * img_store_set_in_use() - the runtime's answer to "does a container use
 * this image?", consulted by img_remove() in addition to img_use() counts.
 */
void img_store_set_in_use(struct img_store *s, img_in_use_fn *fn, void *arg);

/**
 * img_store_set_running() - how img_remove() tells a running user of an
 * image (a conflict no force overrides) from a stopped one. Without it
 * every user counts as stopped.
 */
void img_store_set_running(struct img_store *s, img_running_fn *fn, void *arg);

/**
 * img_use() / img_unuse() - container @container_id starts or stops
 * referencing image @image_id (as returned in img_image.id). A used image
 * cannot be removed. img_use() returns SHOAL_ENOTFOUND for an unknown image,
 * img_unuse() SHOAL_ENOTFOUND for a pair never registered.
 */
int img_use(struct img_store *s, const char *image_id,
	    const char *container_id);
int img_unuse(struct img_store *s, const char *image_id,
	      const char *container_id);

/**
 * img_resolve() - find the image @ref names: "name[:tag]" (":latest" by
 * default; "docker.io/library/" is implied), a full or short hex id, or
 * "sha256:<hex>". Returns 0 and *@out (free with img_image_free()),
 * SHOAL_ENOTFOUND ("No such image: ref"), -EINVAL for a malformed or
 * ambiguous reference, -ENOMEM.
 */
int img_resolve(struct img_store *s, const char *ref, struct img_image **out,
		struct shoal_err *err);
void img_image_free(struct img_image *img);

/**
 * img_lowerdir() - the overlayfs "lowerdir=" value for @img: its layer
 * folders topmost first, joined with ':'. Owned; free with shoal_free().
 * NULL when out of memory.
 */
char *img_lowerdir(const struct img_image *img);

/**
 * img_inspect_json() - Docker's GET /images/{name}/json object for @ref
 * (Id, RepoTags, RepoDigests, Parent, Comment, Created, Author, Config,
 * Architecture, Variant, Os, Size, VirtualSize, GraphDriver, RootFS,
 * Metadata). *@out is owned (json_decref()). Errors as img_resolve().
 */
int img_inspect_json(struct img_store *s, const char *ref, json_t **out,
		     struct shoal_err *err);

/**
 * img_list_json() - Docker's GET /images/json array (Id, ParentId,
 * RepoTags, RepoDigests, Created, Size, SharedSize, VirtualSize, Labels,
 * Containers), newest first; untagged images included (Shoal has no
 * intermediate images to hide). *@out is owned.
 */
int img_list_json(struct img_store *s, json_t **out, struct shoal_err *err);

/**
 * img_tag() - add tag @new_ref ("name[:tag]") to the image @ref names,
 * moving it from another image if it pointed elsewhere. -EINVAL for an
 * invalid name, SHOAL_ENOTFOUND for an unknown @ref.
 */
int img_tag(struct img_store *s, const char *ref, const char *new_ref,
	    struct shoal_err *err);

/**
 * img_untag() - remove tag @ref (never the image). SHOAL_ENOTFOUND when no
 * such tag exists.
 */
int img_untag(struct img_store *s, const char *ref, struct shoal_err *err);

#define IMG_RM_FORCE 0x1

/**
 * img_remove() - Docker's DELETE /images/{name} (its graph-driver rules,
 * daemon/images/image_delete.go): removing a tag of an image that has
 * others only untags it; removing the last tag, or the image by id,
 * deletes the image, its config blob, and the blobs and layers no other
 * image needs. Refused with SHOAL_ECONFLICT, in Docker's words:
 *   - by name, the last tag of an image a container uses, unless forced
 *     ("conflict: unable to remove repository reference ... (must force)");
 *   - by id, an image a running container uses, even forced ("... (cannot
 *     be forced) - image is being used by running container ...");
 *   - by id, unless forced, an image with several tags ("... (must be
 *     forced) - image is referenced in multiple repositories") or used by
 *     a stopped container ("... image is being used by stopped container").
 * A forced removal of an image in use takes its tags and keeps the image
 * (its layers are a container's lower folders), where Docker would also
 * delete the image record. *@report (may be NULL) gets Docker's response
 * array ([{"Untagged": ...}, {"Deleted": ...}]), owned.
 */
int img_remove(struct img_store *s, const char *ref, unsigned flags,
	       json_t **report, struct shoal_err *err);

/* Options of an import (docker import). */
struct img_import_opts {
	const char *reference;	    /* "repo[:tag]" or NULL */
	const char *const *changes; /* Dockerfile lines, e.g. "CMD [\"sh\"]" */
	size_t n_changes;
	const char *message; /* history comment; NULL: "Imported from -" */
	img_progress_fn *progress;
	void *progress_arg;
};

/**
 * img_import() - `docker import`: make a one-layer image from the rootfs
 * tarball read from @fd to its end (plain, gzip, xz, bzip2 or zstd; a
 * non-blocking @fd is switched to blocking mode), applying the
 * --change lines. Blocks (worker thread). On success 0 and the new image's
 * id in @id. On failure nothing is left in the store. -EINVAL for a bad
 * change line or reference, SHOAL_ECORRUPT for a damaged archive.
 */
int img_import(struct img_store *s, int fd, const struct img_import_opts *o,
	       char id[DIGEST_STR_LEN], struct shoal_err *err);

/**
 * img_load() - `docker load`: every image of a `docker save` archive or an
 * OCI image layout archive read from @fd (optionally compressed; made
 * blocking like img_import()'s). Blocks.
 * On success 0 and *@loaded (owned; may be NULL): an array of objects,
 * one per tag loaded ({"ref": "busybox:latest"}) or per image without a
 * tag ({"ref": "sha256:<id>"}); a tag that named another image moves, and
 * its entry says which ("replaced": "sha256:<old id>"; that image stays,
 * untagged if it was its last tag, as with Docker). All or nothing: on
 * failure no blob, layer or tag of the archive stays.
 */
int img_load(struct img_store *s, int fd, img_progress_fn *progress,
	     void *progress_arg, json_t **loaded, struct shoal_err *err);

/**
 * img_save() - `docker save`: write the images @refs name to @fd as one
 * archive that is both a docker-save archive (manifest.json) and an OCI
 * layout (oci-layout, index.json, blobs/sha256/: configs, layer blobs as
 * stored, generated manifests). A reference by name saves that tag; by
 * id, the image untagged. Blocks (worker thread) without holding the
 * store. SHOAL_ENOTFOUND / -EINVAL for a bad reference (nothing written),
 * -errno when writing fails.
 */
int img_save(struct img_store *s, const char *const *refs, size_t n_refs,
	     int fd, struct shoal_err *err);

/*
 * Asynchronous variants for the libuv loop: the work runs on libuv's thread
 * pool (uv_queue_work); @progress runs on the loop thread; @done runs
 * exactly once on the loop thread, unless the call itself fails (then never).
 * The store must outlive the job. @fd is borrowed until @done.
 */

/*
 * @result: the image id (a JSON string) for an import, the "loaded" array
 * for a load; NULL on failure, when @errmsg says why. Both are borrowed for
 * the call (json_incref() @result to keep it).
 */
typedef void img_done_fn(int status, const char *errmsg, json_t *result,
			 void *arg);

/**
 * img_import_async() - img_import() on a worker; @o's strings are copied,
 * and @o->progress runs on the loop thread with @o->progress_arg.
 */
int img_import_async(uv_loop_t *loop, struct img_store *s, int fd,
		     const struct img_import_opts *o, img_done_fn *done,
		     void *arg);

/** img_load_async() - img_load() on a worker. */
int img_load_async(uv_loop_t *loop, struct img_store *s, int fd,
		   img_progress_fn *progress, img_done_fn *done, void *arg);

/* Options of a commit (docker commit, and each step of a build). */
struct img_commit_opts {
	const char *parent;    /* image id or reference; NULL: scratch */
	const char *reference; /* "repo[:tag]" to tag the result, or NULL */
	const json_t *config;  /* Docker's container config object to
				* record (borrowed); NULL: the parent's */
	const char *const *changes; /* Dockerfile lines applied after @config */
	size_t n_changes;
	const char *comment; /* "comment" of the config and the history */
	const char *author;
	const char *created_by;	 /* the history entry's created_by */
	const char *const *skip; /* relative paths left out of the layer */
};

/**
 * img_commit() - make a new image from @parent plus the layer that folder
 * @upper_dir (overlay upper form: 0:0 devices are whiteouts, opaque
 * folders carry trusted.overlay.opaque or user.overlay.opaque) holds, as
 * `docker commit` does with a container's writable layer. A folder with
 * nothing in it adds no layer; the history entry then says
 * "empty_layer". @upper_dir is walked without following a symbolic link.
 * Blocks (worker thread). 0 and the new id in @id; on failure nothing is
 * left in the store. -EINVAL for a bad change line or reference,
 * SHOAL_ENOTFOUND for an unknown parent.
 */
int img_commit(struct img_store *s, const char *upper_dir,
	       const struct img_commit_opts *o, char id[DIGEST_STR_LEN],
	       struct shoal_err *err);

/**
 * img_change_check() - whether @line is a change img_commit() and
 * img_import() take (-EINVAL with Docker's words in @err otherwise), so
 * a caller can refuse it before doing anything. Pure.
 */
int img_change_check(const char *line, struct shoal_err *err);

/**
 * img_unpack_tar() - unpack the tar at @path (maybe compressed) into the
 * new folder @dest with the checks every layer gets (no absolute paths,
 * no "..", nothing through a symbolic link, hard links inside): how the
 * builder reads a build context and ADD's local archives. Blocks.
 */
int img_unpack_tar(const char *path, const char *dest, struct shoal_err *err);

/*
 * The classic builder's layer cache: a step's key (a digest of the parent
 * image id, the instruction and, for COPY/ADD, the files' contents) to the
 * image it made, in <store>/build-cache.json (at most IMG_CACHE_MAX
 * entries; past it the oldest half goes). Thread-safe.
 */
#define IMG_CACHE_MAX 10000
/** img_cache_get() - 0 and @id when @key is cached and its image is still
 * in the store; SHOAL_ENOTFOUND otherwise. */
int img_cache_get(struct img_store *s, const char *key,
		  char id[DIGEST_STR_LEN]);
/** img_cache_put() - remember @key -> @id (written atomically). */
int img_cache_put(struct img_store *s, const char *key, const char *id);

/**
 * img_history_json() - Docker's GET /images/{name}/history array for
 * @ref, newest first: Id (the image's for the top entry; below, the id
 * of a stored image that is this one up to that entry, else "<missing>"
 * with its tags), Created (seconds), CreatedBy, Tags, Size (of the entry's
 * layer, 0 for an empty one), Comment. *@out owned. Errors as img_resolve().
 */
int img_history_json(struct img_store *s, const char *ref, json_t **out,
		     struct shoal_err *err);

#endif
