/*
 * Fetching a whole image from the nodes that hold it (issue 14): its
 * config by the image's id, then each layer by its DiffID, over the blob
 * service (worker/blob_service.h), each blob verified, then the image
 * assembled into the store (img_blob_assemble(): DiffIDs checked against
 * the config, all or nothing). A blob that fails from one holder (refused,
 * corrupt, the holder gone mid-transfer) is asked from the next holder;
 * the fetch fails when every holder failed for one blob, naming the last
 * cause. A holder that refuses the config because this node is not in
 * its set yet ("not allowed", -EACCES) is asked again 4 times, 500 ms
 * apart (the reason in a progress message), before the next holder. This part
 * fetches one blob at a time (see docs/images.md).
 */
#ifndef SHOAL_WORKER_IMAGE_FETCH_H
#define SHOAL_WORKER_IMAGE_FETCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

#include "image/image.h"
#include "proto/channel.h"

#define IMGFETCH_HOLDERS_MAX 16

/* A connected stream socket to holder @i (tests); NULL: TCP to
 * @holders[i]. Returns the fd or a negative code. */
typedef int imgfetch_dial_fn(void *arg, size_t i);

/* Progress, for the task's status message: e.g. "fetching layer 2/3
 * from 10.0.0.2:2377 (1048576 bytes)". */
typedef void imgfetch_progress_fn(const char *msg, void *arg);

/* The end, once: 0, or a code and a message saying what failed. */
typedef void imgfetch_done_fn(int rc, const char *msg, void *arg);

struct imgfetch_opts {
	uv_loop_t *loop;
	struct img_store *store;
	const struct wire_chan_config *cfg; /* copied per connection */
	const struct sockaddr_storage *holders;
	const char *const *holder_names; /* for messages; may be NULL */
	size_t n_holders;		 /* 1..IMGFETCH_HOLDERS_MAX */
	imgfetch_dial_fn *dial;
	void *dial_arg;
	const char *image_id; /* "sha256:<hex>" */
	const char *tag;      /* may be NULL */
	imgfetch_progress_fn *progress;
	imgfetch_done_fn *done;
	void *arg;
};

/*
 * imgfetch_start() - start fetching; @o and what it points to are copied.
 * 0 and then @done exactly once; or -EINVAL (bad id, no holders, too
 * many) / -ENOMEM and no callback.
 */
int imgfetch_start(const struct imgfetch_opts *o);

#endif
