/*
 * Growable byte buffers with a hard limit. A buffer never grows past its
 * @max: the append that would cross it fails with -ENOBUFS and changes
 * nothing, so a peer that sends without end cannot make us allocate without
 * end. Data is kept NUL-terminated (one spare byte) so text can be read as a
 * C string.
 */
#ifndef SHOAL_COMMON_BUF_H
#define SHOAL_COMMON_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max; /* 0: SIZE_MAX / 2 */
};

#define BUF_INIT                                                               \
	{                                                                      \
		NULL, 0, 0, 0                                                  \
	}

/** buf_init() - an empty buffer that may hold at most @max bytes. */
void buf_init(struct buf *b, size_t max);
void buf_fini(struct buf *b);
/** buf_reserve() - room for @extra more bytes; -ENOBUFS past max, -ENOMEM. */
int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *data, size_t len);
int buf_append_str(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/** buf_consume() - drop the first @n bytes (n <= len). */
void buf_consume(struct buf *b, size_t n);
/** buf_reset() - empty it, keeping the memory. */
void buf_reset(struct buf *b);
/**
 * buf_take() - the data, owned by the caller (free with shoal_free); the
 * buffer is left empty. NULL if the buffer never allocated.
 */
char *buf_take(struct buf *b, size_t *len);

#endif
