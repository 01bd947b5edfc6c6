/*
 * Internal to the builder (engine/build*.c): the file work a step does on
 * a worker thread (engine/build_copy.c). Not part of libshoal-engine's
 * contract.
 */
#ifndef SHOAL_ENGINE_BUILD_INTERNAL_H
#define SHOAL_ENGINE_BUILD_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/error.h"
#include "engine/build.h"

struct bc_copy_opts {
	bool chown; /* owner @uid:@gid, else root (or kept: keep_owner) */
	uid_t uid;
	gid_t gid;
	bool keep_owner; /* keep the source's owners (flattening layers) */
	bool whiteouts;	 /* apply overlay whiteouts and opaque folders */
};

/** eng__build_clean() - a relative path without ".", ".." or empty
 * components; -EPERM when ".." would leave the root. */
int eng__build_clean(const char *in, char *out, size_t cap);

/**
 * eng__build_copy() - copy @src (relative, resolved inside folder
 * @src_root: links and ".." never leave it) to @dst (relative to folder
 * @dst_root): a folder's contents into @dst; a file to @dst, or into it
 * when @dst_is_dir. Parents are made. @hash gets a digest of what was
 * copied (names, modes, sizes, contents, link targets). -ENOENT with
 * Docker's "file not found in build context" when @src is absent.
 */
int eng__build_copy(int src_root, const char *src, int dst_root,
		    const char *dst, bool dst_is_dir,
		    const struct bc_copy_opts *o, unsigned char hash[32],
		    struct shoal_err *err);

/** eng__build_glob() - the paths in @root matching @pattern (wildcards in
 * the last component), sorted; *@out NULL-terminated, shoal_free() each
 * and the array. */
int eng__build_glob(int root, const char *pattern, char ***out, size_t *n,
		    struct shoal_err *err);

/** eng__build_dockerignore() - delete what the context's .dockerignore
 * excludes (patterns with * ? [ and **, "!" exceptions, a folder pattern
 * covering what is in it), except @keep (the Dockerfile). */
int eng__build_dockerignore(int root, const char *keep, struct shoal_err *err);

/** eng__build_rmrf() - remove @path and what is in it (never through a
 * link). */
int eng__build_rmrf(const char *path);

/** eng__build_flatten() - the layers (lowest first) merged into folder
 * @dst as overlayfs would show them, owners kept. */
int eng__build_flatten(char *const *layers, size_t n, int dst,
		       struct shoal_err *err);

#endif
