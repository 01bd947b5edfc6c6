/*
 * Blobs of the image store handed between the nodes of a swarm (issue 14,
 * "a node fetches a missing image from the swarm"): the holder's side
 * (img_blob_open(): only a blob some image of the store names, never an
 * arbitrary file), the decoder of a peer's request (img_blob_digest_parse())
 * and the fetcher's side (struct img_blob_rx: the bytes staged under the
 * store's tmp/ folder and hashed as they come; a blob whose bytes do not
 * hash to the digest asked for is refused and its file removed, so the
 * caller tries another holder).
 */
#ifndef SHOAL_IMAGE_BLOB_H
#define SHOAL_IMAGE_BLOB_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "image/image.h"

/* The largest blob a fetch accepts (a layer of an image). */
#define IMG_BLOB_MAX (64ull << 30)

/*
 * img_blob_digest_parse() - a peer's request for a blob: exactly
 * "sha256:" and 64 lowercase hex digits, nothing else (no NUL, no newline).
 * The hex digits go to @hex (65 bytes). -EINVAL with a message otherwise.
 */
int img_blob_digest_parse(const void *buf, size_t len, char hex[65],
			  struct shoal_err *err);

/*
 * img_blob_open() - the blob @digest ("sha256:<hex>") of the store, opened
 * read-only for a peer, when an image of the store names it (its config or
 * one of its layer blobs). *@fd (close it) and *@size are set on success.
 * -EINVAL for a malformed digest, -ENOENT for a blob no image names or
 * whose file is gone.
 */
int img_blob_open(struct img_store *s, const char *digest, int *fd,
		  uint64_t *size, struct shoal_err *err);

/*
 * img_blob_open_layer() - img_blob_open() of the blob of a layer whose
 * DiffID is @diff_id ("sha256:<hex>"), for a peer that knows an image's
 * DiffIDs (its config) but not the blobs this node keeps them in (a pulled
 * layer is kept compressed). The blob's digest goes to @blob (80 bytes).
 */
int img_blob_open_layer(struct img_store *s, const char *diff_id, int *fd,
			uint64_t *size, char blob[80], struct shoal_err *err);

/*
 * img_blob_config_layers() - the DiffIDs of the image config in file
 * @config (a fetched, verified config), lowest first: *@out an owned
 * array of @n owned "sha256:<hex>" strings (free each and the array with
 * shoal_free). -EINVAL for a config the store would refuse.
 */
int img_blob_config_layers(const char *config, char ***out, size_t *n,
			   struct shoal_err *err);

/* A blob being received from a peer. */
struct img_blob_rx;

/*
 * img_blob_rx_begin() - start receiving blob @digest ("sha256:<hex>") of
 * at most @max bytes (IMG_BLOB_MAX when 0) into a fresh file under the
 * store's tmp/ folder (removed when the store opens next, should the node
 * die mid-transfer).
 */
int img_blob_rx_begin(struct img_store *s, const char *digest, uint64_t max,
		      struct img_blob_rx **out, struct shoal_err *err);

/* img_blob_rx_feed() - the next @n bytes; -EFBIG past the bound, -EIO
 * when the file cannot be written. After a failure only _abort() is
 * allowed. */
int img_blob_rx_feed(struct img_blob_rx *rx, const void *buf, size_t n,
		     struct shoal_err *err);

/* img_blob_rx_received() - bytes fed so far. */
uint64_t img_blob_rx_received(const struct img_blob_rx *rx);

/*
 * img_blob_rx_finish() - the blob is complete: its sha256 must be the
 * digest asked for, else -EBADMSG naming both digests (the file is
 * removed). On success *@path (owned) names the verified file, which the
 * caller moves into the store or removes. @rx is freed in every case.
 */
int img_blob_rx_finish(struct img_blob_rx *rx, char **path,
		       struct shoal_err *err);

/* img_blob_rx_abort() - drop a transfer: the file is removed, @rx freed.
 * NULL is allowed. */
void img_blob_rx_abort(struct img_blob_rx *rx);

/*
 * img_blob_assemble() - make an image of the store from blobs fetched and
 * verified (img_blob_rx_finish()): the config file @config (its sha256 is
 * the image's id) and the layer blob files @layers[0..@n-1], lowest
 * first, tagged @tag when not NULL. Runs img_load() on a docker-save
 * archive of them, so each layer's DiffID is checked against the config
 * before anything is kept (all or nothing), and stores them as a load
 * does. The files are left in place (the caller removes them). Blocks.
 */
int img_blob_assemble(struct img_store *s, const char *config,
		      const char *const *layers, size_t n, const char *tag,
		      struct shoal_err *err);

#endif
