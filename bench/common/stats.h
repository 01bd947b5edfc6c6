/*
 * Summary statistics for the benchmarks: the one definition of a
 * percentile behind every p50/p90/p99 (and median) that bench/ prints, so
 * that two figures with the same name are computed the same way
 * (docs/bench.md).
 *
 * Percentiles are nearest-rank on the samples sorted ascending: the p-th
 * percentile (p = 1..100) of n samples is the sample of 1-based rank
 * ceil(p * n / 100), the smallest sample with at least p% of the samples at
 * or below it. It is always one of the samples, never an interpolation
 * between two. The median is p50 by the same rule: for an even n, the lower
 * of the two middle samples. Examples: with 50 runs p90 is the 45th
 * smallest and the median the 25th; with 5 kills the median is the 3rd;
 * with 10 samples p99 is the largest.
 *
 * Header-only (static inline): benchmarks link no library for this. The
 * shell benchmarks use the same rule through bench/common/stats.sh;
 * bench/common/stats_test.c and stats_test.sh pin both to these examples.
 */
#ifndef SHOAL_BENCH_COMMON_STATS_H
#define SHOAL_BENCH_COMMON_STATS_H

#include <assert.h>
#include <stddef.h>
#include <stdlib.h>

static inline int bench__cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/** bench_sort() - sort @n samples ascending, in place. */
static inline void bench_sort(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), bench__cmp_double);
}

/**
 * bench_percentile() - the nearest-rank @pct-th percentile (1..100) of @n
 * samples already sorted by bench_sort(); @n > 0. Borrows @sorted.
 */
static inline double bench_percentile(const double *sorted, size_t n,
				      unsigned pct)
{
	size_t rank;

	assert(n > 0 && pct >= 1 && pct <= 100);
	rank = (pct * n + 99) / 100; /* ceil(pct * n / 100), 1-based */
	return sorted[rank - 1];
}

/** bench_median() - bench_percentile(@sorted, @n, 50). */
static inline double bench_median(const double *sorted, size_t n)
{
	return bench_percentile(sorted, n, 50);
}

#endif
