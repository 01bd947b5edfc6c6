#!/usr/bin/env bash
# Swarm timings on the lab (scripts/lab; needs root), one JSON line each:
#   {"test":"init_ready","ms":N}          swarm init until node ls shows it Ready
#   {"test":"join","role":R,"host":H,"ms":N}  one `swarm join` command
#   {"test":"all_ready","ms":N}           last join until 5 nodes Ready
#   {"test":"failover","new_leader_ms":N,"first_write_ms":N}
#                                         kill -9 of the leader until a
#                                         survivor names a new leader, and
#                                         until a write is accepted
#   {"test":"idle_rss","host":H,"kb":N}   VmRSS of each idle shoald
#   {"test":"idle_rss_max","kb":N}
# Times are wall clock around `lab exec` calls, so each includes one
# process start inside the lab (a few ms). Default settings (heartbeat 1 s,
# Raft election timeout 500 ms). Usage: cluster-bench [SHOAL_BIN_DIR]
# (default: build/release of this repository).
set -euo pipefail
# The build's copy has the source tree written in; the source's own copy
# finds it two levels up.
src=${SHOAL_SOURCE_DIR:-@CMAKE_SOURCE_DIR@}
[ -x "$src/scripts/lab" ] || src=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
export SHOAL_BIN_DIR=${1:-${SHOAL_BIN_DIR:-$src/build/release}}
[ -x "$SHOAL_BIN_DIR/daemon/shoald" ] ||
	{ echo "cluster-bench: no shoald in $SHOAL_BIN_DIR" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "cluster-bench: needs root (the lab)" >&2; exit 2; }
SHOAL_LAB_DIR=$(mktemp -d /run/shoal-bench.XXXXXX)
export SHOAL_LAB_DIR SHOAL_LAB_NAME=shoal-bench
lab() { "$src/scripts/lab" "$@"; }
trap 'lab down >/dev/null 2>&1 || true' EXIT
now() { date +%s%N; }
ms() { echo $((($2 - $1) / 1000000)); }
ready_count() { lab exec "$1" shoal node ls 2>/dev/null | grep -c ' Ready ' || true; }
leader_of() {
	lab exec "$1" shoal node ls 2>/dev/null |
		awk '/ Leader /{for (i = 1; i <= NF; i++) if ($i ~ /^h[0-9]$/) print $i}'
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

id4=$(lab exec h1 shoal node ls | awk '$2 == "h4" {print $1}')
lab kill h1 >/dev/null
t0=$(now)
new=""
until [ -n "$new" ] && [ "$new" != h1 ]; do new=$(leader_of h2); done
t1=$(now)
until lab exec "$new" shoal node update --label-add bench=1 "$id4" >/dev/null 2>&1; do :; done
t2=$(now)
echo "{\"test\":\"failover\",\"new_leader_ms\":$(ms "$t0" "$t1"),\"first_write_ms\":$(ms "$t0" "$t2")}"
