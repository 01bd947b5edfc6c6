/*
 * Allocation hooks. All of Shoal's heap memory, and libuv's, jansson's and
 * protobuf-c's, goes through these functions so that tests can count live
 * allocations (leaks) and make the Nth allocation fail (error paths).
 *
 * In normal builds the hooks are malloc/free plus two relaxed atomic
 * counters. shoal_alloc_fail_after() arms a countdown: after N more
 * successful allocations, each one fails (returns NULL) until disarmed.
 * Callers of shoal_malloc() must handle NULL like malloc's; code that cannot
 * fail gracefully (a handful of start-up paths) uses shoal_xmalloc(), which
 * aborts with a message.
 */
#ifndef SHOAL_COMMON_ALLOC_H
#define SHOAL_COMMON_ALLOC_H

#include <stddef.h>
#include <stdint.h>

void *shoal_malloc(size_t size);
void *shoal_calloc(size_t n, size_t size);
void *shoal_realloc(void *ptr, size_t size);
void shoal_free(void *ptr);
char *shoal_strdup(const char *s);
char *shoal_strndup(const char *s, size_t n);
void *shoal_memdup(const void *p, size_t n);

/** shoal_xmalloc() - malloc or abort with a message; for start-up only. */
void *shoal_xmalloc(size_t size);

/**
 * shoal_alloc_install() - route libuv and jansson through the hooks. Call
 * once at start, before the first uv_loop_init(); returns 0 or -errno.
 */
int shoal_alloc_install(void);

/** Live allocations (allocations minus frees) since start. */
int64_t shoal_alloc_live(void);

/**
 * shoal_alloc_fail_after() - fail every allocation after @n more succeed;
 * a negative @n disarms. For tests; not thread-safe against itself.
 */
void shoal_alloc_fail_after(int64_t n);

/** shoal_alloc_failures() - allocations failed on purpose so far. */
int64_t shoal_alloc_failures(void);

#endif
