# shellcheck shell=bash
# Summary statistics for the shell benchmarks: the same definition as
# bench/common/stats.h (docs/bench.md). Nearest rank on the samples sorted
# ascending: the P-th percentile (P = 1..100) of N samples is the sample of
# 1-based rank ceil(P * N / 100); the median is P = 50 (for an even N, the
# lower middle sample). Always one of the samples, never an interpolation.

# bench_percentile P SAMPLE...: prints the P-th percentile of the samples
# (numbers, integer or decimal); fails without samples or with a bad P.
bench_percentile() {
	local p=$1
	shift
	[[ "$p" =~ ^[0-9]+$ ]] && [ "$p" -ge 1 ] && [ "$p" -le 100 ] ||
		{ echo "bench_percentile: P must be 1..100, not '$p'" >&2; return 2; }
	[ $# -gt 0 ] ||
		{ echo "bench_percentile: no samples" >&2; return 2; }
	printf '%s\n' "$@" | sort -g |
		awk -v p="$p" -v n=$# 'NR == int((p * n + 99) / 100) { print; exit }'
}

# bench_median SAMPLE...: bench_percentile 50 SAMPLE...
bench_median() { bench_percentile 50 "$@"; }
