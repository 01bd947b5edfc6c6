/*
 * Allocation hooks: see alloc.h. The counters are relaxed atomics because
 * the writer thread and uv_queue_work jobs allocate too; the fail countdown
 * is a test facility and is decremented with the same atomics so that a
 * countdown armed before threads start is exact.
 */
#include "common/alloc.h"

#include <errno.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static atomic_int_fast64_t live;
static atomic_int_fast64_t fail_countdown = -1;
static atomic_int_fast64_t failures;

static int should_fail(void)
{
	int_fast64_t n =
		atomic_load_explicit(&fail_countdown, memory_order_relaxed);
	if (n < 0)
		return 0;
	if (n == 0) {
		atomic_fetch_add_explicit(&failures, 1, memory_order_relaxed);
		return 1;
	}
	atomic_fetch_sub_explicit(&fail_countdown, 1, memory_order_relaxed);
	return 0;
}

void *shoal_malloc(size_t size)
{
	if (should_fail())
		return NULL;
	void *p = malloc(size ? size : 1);
	if (p)
		atomic_fetch_add_explicit(&live, 1, memory_order_relaxed);
	return p;
}

void *shoal_calloc(size_t n, size_t size)
{
	if (should_fail())
		return NULL;
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (p)
		atomic_fetch_add_explicit(&live, 1, memory_order_relaxed);
	return p;
}

void *shoal_realloc(void *ptr, size_t size)
{
	if (!ptr)
		return shoal_malloc(size);
	if (size == 0) {
		shoal_free(ptr);
		return NULL;
	}
	if (should_fail())
		return NULL;
	return realloc(ptr, size);
}

void shoal_free(void *ptr)
{
	if (!ptr)
		return;
	atomic_fetch_sub_explicit(&live, 1, memory_order_relaxed);
	free(ptr);
}

void *shoal_memdup(const void *p, size_t n)
{
	void *d = shoal_malloc(n);
	if (d && n)
		memcpy(d, p, n);
	return d;
}

/* @len bytes of @s and a NUL. */
static char *shoal_memdup_str(const char *s, size_t len)
{
	char *d = shoal_malloc(len + 1);
	if (!d)
		return NULL;
	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

char *shoal_strndup(const char *s, size_t n)
{
	return shoal_memdup_str(s, strnlen(s, n));
}

char *shoal_strdup(const char *s)
{
	/* Not shoal_strndup(s, SIZE_MAX): inlined at -O3, gcc reads the
	 * bound as the size of @s and warns (stringop-overread). */
	size_t len = strlen(s);
	return shoal_memdup_str(s, len);
}

void *shoal_xmalloc(size_t size)
{
	void *p = shoal_malloc(size);
	if (!p) {
		fprintf(stderr, "shoal: out of memory allocating %zu bytes\n",
			size);
		abort();
	}
	return p;
}

static void *json_malloc_hook(size_t size)
{
	return shoal_malloc(size);
}

int shoal_alloc_install(void)
{
	json_set_alloc_funcs(json_malloc_hook, shoal_free);
	int rc = uv_replace_allocator(shoal_malloc, shoal_realloc, shoal_calloc,
				      shoal_free);
	return rc;
}

int64_t shoal_alloc_live(void)
{
	return atomic_load_explicit(&live, memory_order_relaxed);
}

void shoal_alloc_fail_after(int64_t n)
{
	atomic_store_explicit(&fail_countdown, n < 0 ? -1 : n,
			      memory_order_relaxed);
}

int64_t shoal_alloc_failures(void)
{
	return atomic_load_explicit(&failures, memory_order_relaxed);
}
