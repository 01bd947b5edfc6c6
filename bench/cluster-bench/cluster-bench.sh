#!/usr/bin/env bash
# Swarm timings on the lab (scripts/lab; needs root): five hosts, h1-h3
# managers, h4-h5 workers, Shoal's default settings (Raft heartbeat 100 ms,
# election timeout 500 ms plus up to 250 ms of jitter; node heartbeat 1 s).
# One JSON line each:
#   {"test":"init_ready","ms":N}          swarm init until node ls shows it Ready
#   {"test":"join","role":R,"host":H,"ms":N}  one `swarm join` command
#   {"test":"all_ready","ms":N}           last join until 5 nodes Ready
#   {"test":"idle_rss","host":H,"kb":N}   VmRSS of each idle shoald
#   {"test":"idle_rss_max","kb":N}
#   {"test":"failover","kill":K,"killed":H,"new_leader":H2,
#    "new_leader_ms":N,"first_write_ms":N}
#                                         one kill of the leader (K = 1..KILLS)
#   {"test":"failover_summary","kills":KILLS,"new_leader_median_ms":N,
#    "new_leader_p90_ms":N,"first_write_median_ms":N,"first_write_p90_ms":N}
#
# What the failover compares: the time from SIGKILL of the leading manager's
# shoald until a surviving manager names another host as Leader, and until
# that new leader accepts a write (a node label update), against the floor
# the settings set: followers wait 500-750 ms after the last heartbeat they
# got (up to 100 ms before the kill) before they campaign. The clock starts
# right before the SIGKILL, sent here to the pid `lab pid` gives, not after
# `lab kill` returns (that polls for the exit). The leader is the host that
# `node ls` on a manager shows as Leader, confirmed by the leader's own
# `node ls`; it is killed only if it is, and the figure counts only once a
# survivor names another leader and the killed pid is gone. A precondition
# that fails prints {"test":"failover","kill":K,"error":"..."} and the
# benchmark exits 1, with no figure. After each kill the killed host's
# shoald is started again and must be back as a Reachable manager before
# the next kill. Medians and p90 are nearest-rank (bench/common/stats.sh,
# docs/bench.md); with 3 kills the p90 is the slowest kill.
#
# Times are wall clock around `lab exec` calls, so each includes one process
# start inside the lab (a few ms); polls run back to back. Usage:
#   cluster-bench [SHOAL_BIN_DIR]    (default: build/release of this
#                                     repository; CLUSTER_BENCH_KILLS=3)
set -euo pipefail
# The build's copy has the source tree written in; the source's own copy
# finds it two levels up.
src=${SHOAL_SOURCE_DIR:-@CMAKE_SOURCE_DIR@}
[ -x "$src/scripts/lab" ] || src=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
export SHOAL_BIN_DIR=${1:-${SHOAL_BIN_DIR:-$src/build/release}}
kills=${CLUSTER_BENCH_KILLS:-3}
[[ "$kills" =~ ^[1-9][0-9]?$ ]] ||
	{ echo "cluster-bench: CLUSTER_BENCH_KILLS must be 1..99" >&2; exit 2; }
[ -x "$SHOAL_BIN_DIR/daemon/shoald" ] ||
	{ echo "cluster-bench: no shoald in $SHOAL_BIN_DIR" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "cluster-bench: needs root (the lab)" >&2; exit 2; }
# shellcheck source=bench/common/stats.sh
. "$src/bench/common/stats.sh"
SHOAL_LAB_DIR=$(mktemp -d /run/shoal-bench.XXXXXX)
export SHOAL_LAB_DIR SHOAL_LAB_NAME=shoal-bench
lab() { "$src/scripts/lab" "$@"; }
trap 'lab down >/dev/null 2>&1 || true' EXIT
managers=(h1 h2 h3)
poll_limit_ms=30000

# Microseconds of wall clock, without a fork (bash 5).
now() { echo "${EPOCHREALTIME/./}"; }
ms() { echo $((($2 - $1) / 1000)); }
ready_count() { lab exec "$1" shoal node ls 2>/dev/null | grep -c ' Ready ' || true; }
# leader_of HOST: the hostname `node ls` on HOST shows as Leader; empty
# when HOST cannot tell, or shows more than one.
leader_of() {
	lab exec "$1" shoal node ls 2>/dev/null |
		awk '/ Leader( |$)/ { n++; for (i = 2; i <= NF; i++)
			if ($i ~ /^h[0-9]+$/) h = $i }
		END { if (n == 1) print h }'
}
reachable_managers() {
	lab exec "$1" shoal node ls 2>/dev/null | grep -cE ' (Leader|Reachable)( |$)' || true
}
node_id() {
	lab exec "$1" shoal node ls |
		awk -v h="$2" '{for (i = 2; i <= NF; i++) if ($i == h) print $1}'
}
pid_alive() {
	local state
	state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' \
		"/proc/$1/status" 2>/dev/null) || return 1
	[ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}
# failed K WHY: the error line for kill K, and exit 1.
failed() {
	echo "{\"test\":\"failover\",\"kill\":$1,\"error\":\"$2\"}"
	exit 1
}

lab up 5 >/dev/null
m="$(lab addr h1):2377"

t0=$(now)
lab exec h1 shoal swarm init --listen-addr "$m" >/dev/null
until [ "$(ready_count h1)" -ge 1 ]; do sleep 0.01; done
echo "{\"test\":\"init_ready\",\"ms\":$(ms "$t0" "$(now)")}"

mt=$(lab exec h1 shoal swarm join-token -q manager)
wt=$(lab exec h1 shoal swarm join-token -q worker)
for spec in h2:manager h3:manager h4:worker h5:worker; do
	h=${spec%%:*} role=${spec#*:}
	tok=$wt
	[ "$role" = manager ] && tok=$mt
	t0=$(now)
	lab exec "$h" shoal swarm join --token "$tok" "$m" >/dev/null
	echo "{\"test\":\"join\",\"role\":\"$role\",\"host\":\"$h\",\"ms\":$(ms "$t0" "$(now)")}"
done
t0=$(now)
until [ "$(ready_count h1)" -ge 5 ]; do sleep 0.01; done
echo "{\"test\":\"all_ready\",\"ms\":$(ms "$t0" "$(now)")}"

sleep 5
max=0
for h in h1 h2 h3 h4 h5; do
	kb=$(awk '/^VmRSS:/{print $2}' "/proc/$(lab pid "$h")/status")
	echo "{\"test\":\"idle_rss\",\"host\":\"$h\",\"kb\":$kb}"
	[ "$kb" -gt "$max" ] && max=$kb
done
echo "{\"test\":\"idle_rss_max\",\"kb\":$max}"

id4=$(node_id h1 h4)
[ -n "$id4" ] || failed 0 "no node id for h4 in node ls"
lead_ms=()
write_ms=()
for k in $(seq "$kills"); do
	# The leader, as a manager sees it and as it sees itself.
	old=""
	for h in "${managers[@]}"; do
		old=$(leader_of "$h")
		[ -n "$old" ] && break
	done
	[ -n "$old" ] || failed "$k" "no manager names a leader"
	[ "$(leader_of "$old")" = "$old" ] ||
		failed "$k" "$old, named leader, does not show itself as Leader"
	pid=$(lab pid "$old" 2>/dev/null) ||
		failed "$k" "the leader $old has no running shoald"
	survivor=""
	for h in "${managers[@]}"; do
		[ "$h" != "$old" ] && survivor=$h && break
	done

	t0=$(now)
	kill -KILL "$pid"
	new=""
	until [ -n "$new" ] && [ "$new" != "$old" ]; do
		new=$(leader_of "$survivor")
		[ "$(ms "$t0" "$(now)")" -lt "$poll_limit_ms" ] ||
			failed "$k" "no new leader named by $survivor within ${poll_limit_ms} ms of killing $old"
	done
	t1=$(now)
	until lab exec "$new" shoal node update --label-add "bench=$k" "$id4" >/dev/null 2>&1; do
		[ "$(ms "$t0" "$(now)")" -lt "$poll_limit_ms" ] ||
			failed "$k" "the new leader $new accepted no write within ${poll_limit_ms} ms"
	done
	t2=$(now)
	! pid_alive "$pid" ||
		failed "$k" "the killed shoald of $old (pid $pid) still runs"
	[ "$(leader_of "$new")" = "$new" ] ||
		failed "$k" "$new, named leader by $survivor, does not show itself as Leader"
	lead_ms+=("$(ms "$t0" "$t1")")
	write_ms+=("$(ms "$t0" "$t2")")
	echo "{\"test\":\"failover\",\"kill\":$k,\"killed\":\"$old\",\"new_leader\":\"$new\",\"new_leader_ms\":${lead_ms[-1]},\"first_write_ms\":${write_ms[-1]}}"

	# Back to three managers before the next kill.
	lab start "$old" >/dev/null 2>&1 || failed "$k" "cannot restart $old"
	t0=$(now)
	until [ "$(reachable_managers "$new")" -ge 3 ] &&
		[ "$(leader_of "$old")" = "$new" ]; do
		[ "$(ms "$t0" "$(now)")" -lt "$poll_limit_ms" ] ||
			failed "$k" "$old did not come back as a reachable manager"
		sleep 0.1
	done
done
echo "{\"test\":\"failover_summary\",\"kills\":$kills,\"new_leader_median_ms\":$(bench_median "${lead_ms[@]}"),\"new_leader_p90_ms\":$(bench_percentile 90 "${lead_ms[@]}"),\"first_write_median_ms\":$(bench_median "${write_ms[@]}"),\"first_write_p90_ms\":$(bench_percentile 90 "${write_ms[@]}")}"
