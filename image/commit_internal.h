/*
 * Internal to image/commit.c and image/layer_tar.c (and their tests): the
 * writer of a layer tar from a folder in overlay "upper" form.
 */
#ifndef SHOAL_IMAGE_COMMIT_INTERNAL_H
#define SHOAL_IMAGE_COMMIT_INTERNAL_H

#include "image/internal.h"

struct img__layer_tar_result {
	char hex[SHA256_HEX_LEN + 1]; /* sha256 of the tar written */
	uint64_t bytes;
	size_t entries; /* 0: nothing changed */
};

/*
 * img__layer_tar() - write the layer tar of folder @dir (overlay upper
 * form: 0:0 devices are whiteouts, opaque folders carry the overlay
 * xattr) to @out_fd, leaving out the relative paths in @skip
 * (NULL-terminated, may be NULL; "etc/hostname"). Never follows a
 * symbolic link. Returns 0 with @res filled, or a negative code with @err.
 */
int img__layer_tar(const char *dir, const char *const *skip, int out_fd,
		   struct img__layer_tar_result *res, struct shoal_err *err);

#endif
