/*
 * An image made from blobs fetched into the store's tmp/ (issue 14), with
 * no copy: the verified files are moved into a staging folder under the
 * names the store gives blobs and committed as a pull commits
 * (img__stage_and_commit(): the config checked, each layer unpacked and
 * its DiffID checked against the config, all or nothing). An uncompressed
 * layer's DiffID is its blob digest, so its bytes are hashed once here
 * and not again while unpacking. The earlier img_blob_assemble()
 * (image/blob.c) wrote the blobs into a docker-save archive that a load
 * then copied again: two more copies of every byte.
 */
#ifndef SHOAL_IMAGE_BLOB_ASSEMBLE_H
#define SHOAL_IMAGE_BLOB_ASSEMBLE_H

#include <stddef.h>

#include "common/error.h"
#include "image/image.h"

/**
 * img_blob_assemble_files() - as img_blob_assemble() (same arguments and
 * returns), but the files @config and @layers are moved, not copied: they
 * are gone afterwards whatever the result. @digests, when not NULL, gives
 * each layer file's sha256 ("sha256:<hex>", as img_blob_rx_finish()
 * verified it; NULL or "" entries are hashed here). Blocks: call it on a
 * worker thread.
 */
int img_blob_assemble_files(struct img_store *s, const char *config,
			    const char *const *layers,
			    const char *const *digests, size_t n,
			    const char *tag, struct shoal_err *err);

#endif
