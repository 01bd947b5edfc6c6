/*
 * Internal to common/http_*.c and their tests and fuzz targets: seams that
 * drive a server connection's state machine without sockets, and helpers
 * shared by the server and the client. Not part of the public contract.
 */
#ifndef SHOAL_COMMON_HTTP_INTERNAL_H
#define SHOAL_COMMON_HTTP_INTERNAL_H

#include <stddef.h>

#include "common/buf.h"
#include "common/http.h"

/**
 * http__server_feed() - run @len bytes through a socketless connection of
 * @srv, in pieces of at most @piece bytes (0: all at once), as if a client
 * had sent them, then close it. Whatever the server answers is appended to
 * @out when it is non-NULL (bounded by its limit; excess is dropped).
 * Handlers must answer synchronously. Returns 0 or -ENOMEM.
 */
int http__server_feed(struct http_server *srv, const void *data, size_t len,
		      size_t piece, struct buf *out);

/** http__json_escape() - append @s as a JSON string (with quotes) to @b. */
int http__json_escape(struct buf *b, const char *s);

/** http__pct_decode() - decode %XX (and '+' when @plus) in place; -EINVAL
 * on a bad escape or an encoded NUL. Returns the new length. */
int http__pct_decode(char *s, bool plus);

#endif
