/*
 * Reading archives that someone else wrote, with libarchive, without ever
 * running a program. libarchive runs an external program (lzop, lrzip,
 * grzip, ...) for a filter it has no library for, found on the PATH of
 * whatever root the reader runs in: for docker cp that is a container's,
 * for an image load a host's. Every reader of outside archives registers
 * its decompressors through tarx_builtin_filters() and checks, after the
 * first header, with tarx_filters_ok() that nothing else was used.
 *
 * Kept in its own library (libshoal-common-tar) so that what links only
 * common does not pull in libarchive.
 */
#ifndef SHOAL_COMMON_TARX_H
#define SHOAL_COMMON_TARX_H

#include <stdbool.h>
#include <stddef.h>

struct archive;

/**
 * tarx_builtin_filters() - register gzip, bzip2 and xz (and zstd when
 * @zstd) decompression on the reader @a. Returns 0, or -ENOTSUP with a
 * sentence in @err (@cap bytes) when libarchive would run an external
 * program for any of them instead of a library.
 */
int tarx_builtin_filters(struct archive *a, bool zstd, char *err, size_t cap);

/**
 * tarx_filters_ok() - after the first header was read: whether every
 * filter @a applies is one of the built-in decompressors (or none).
 */
bool tarx_filters_ok(struct archive *a);

#endif
