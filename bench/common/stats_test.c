/*
 * The benchmarks' percentile definition (bench/common/stats.h): nearest
 * rank on sorted samples, pinned to the examples docs/bench.md gives, so a
 * change of rule shows up here before it changes a published figure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "bench/common/stats.h"

static void fill_shuffled(double *v, size_t n)
{
	/* 1..n in a scrambled order (7 is prime to every n used here). */
	for (size_t i = 0; i < n; i++)
		v[i] = (double)((i * 7) % n + 1);
}

static void p90_of_50_runs_is_the_45th_smallest(void **state)
{
	double v[50];

	(void)state;
	fill_shuffled(v, 50);
	bench_sort(v, 50);
	assert_true(bench_percentile(v, 50, 90) == 45.0);
}

static void median_of_an_even_count_is_the_lower_middle(void **state)
{
	double v[50];

	(void)state;
	fill_shuffled(v, 50);
	bench_sort(v, 50);
	assert_true(bench_median(v, 50) == 25.0);
}

static void median_of_5_kills_is_the_3rd(void **state)
{
	double v[5] = {900, 510, 700, 505, 640};

	(void)state;
	bench_sort(v, 5);
	assert_true(bench_median(v, 5) == 640.0);
}

static void p99_of_10_samples_is_the_largest(void **state)
{
	double v[10];

	(void)state;
	fill_shuffled(v, 10);
	bench_sort(v, 10);
	assert_true(bench_percentile(v, 10, 99) == 10.0);
	assert_true(bench_percentile(v, 10, 100) == 10.0);
}

static void p1_of_100_is_the_smallest_and_p99_the_99th(void **state)
{
	double v[100];

	(void)state;
	fill_shuffled(v, 100);
	bench_sort(v, 100);
	assert_true(bench_percentile(v, 100, 1) == 1.0);
	assert_true(bench_percentile(v, 100, 99) == 99.0);
}

static void one_sample_is_every_percentile(void **state)
{
	double v[1] = {3.5};

	(void)state;
	assert_true(bench_percentile(v, 1, 1) == 3.5);
	assert_true(bench_percentile(v, 1, 90) == 3.5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(p90_of_50_runs_is_the_45th_smallest),
		cmocka_unit_test(median_of_an_even_count_is_the_lower_middle),
		cmocka_unit_test(median_of_5_kills_is_the_3rd),
		cmocka_unit_test(p99_of_10_samples_is_the_largest),
		cmocka_unit_test(p1_of_100_is_the_smallest_and_p99_the_99th),
		cmocka_unit_test(one_sample_is_every_percentile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
