#!/usr/bin/env bash
# bench/common/stats.sh gives the same answers as stats.h (stats_test.c).
set -euo pipefail
# shellcheck source=bench/common/stats.sh
. "$(dirname "$0")/stats.sh"
failed=0
check() {
	local desc=$1 want=$2 got=$3
	if [ "$want" = "$got" ]; then
		echo "ok - $desc"
	else
		echo "FAIL - $desc: expected $want, got $got"
		failed=1
	fi
}
shuffled() { seq 1 "$1" | awk '{ print ($1 * 7) % 1000 " " $1 }' | sort -n | cut -d' ' -f2; }
# shellcheck disable=SC2046
check "p90 of 50 runs is the 45th smallest" 45 "$(bench_percentile 90 $(shuffled 50))"
# shellcheck disable=SC2046
check "median of an even count is the lower middle" 25 "$(bench_median $(shuffled 50))"
check "median of 5 kills is the 3rd" 640 "$(bench_median 900 510 700 505 640)"
# shellcheck disable=SC2046
check "p99 of 10 samples is the largest" 10 "$(bench_percentile 99 $(shuffled 10))"
check "decimals sort as numbers" 10.5 "$(bench_percentile 100 9.75 10.5 2)"
check "one sample is every percentile" 3.5 "$(bench_percentile 90 3.5)"
if bench_percentile 0 1 2 2>/dev/null; then
	check "P 0 is refused" refused accepted
else
	check "P 0 is refused" refused refused
fi
if bench_percentile 50 2>/dev/null; then
	check "no samples is refused" refused accepted
else
	check "no samples is refused" refused refused
fi
exit "$failed"
