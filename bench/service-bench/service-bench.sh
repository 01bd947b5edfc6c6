#!/usr/bin/env bash
# Services on the lab (scripts/lab; needs root): three hosts, h1 the
# manager, h2 and h3 workers, Shoal's default settings (node heartbeat
# 1 s), busybox `sleep` tasks. One JSON line each:
#   {"test":"create_running","replicas":10,"ms":N}
#       `service create -d --replicas 10` until 10 tasks are Running
#       (Docker Swarm 20.10 on this lab: 13.9 s; goal: under 1 s)
#   {"test":"scale_running","from":10,"to":50,"ms":N}
#       `service scale -d web=50` until 50 tasks are Running
#   {"test":"rolling_update","replicas":10,"parallelism":2,"ms":N}
#       `service update -d --image busybox:v2 --update-parallelism 2` until
#       every Running task has the new image and the update is completed
#       (UpdateConfig.Monitor is Docker's default 5 s: it bounds this)
#   {"test":"kill_reschedule","tasks":K,"ms":N}
#       SIGKILL of h3's shoald until its K tasks run on h1 and h2 again
#       (goal: under 3 s; the node heartbeat and its misses bound it)
#   {"test":"build","type":T}   the build measured (release or debug)
#
# The clock starts right before the command (or the kill) and stops when a
# poll of `service ps` on h1 sees the state; polls run back to back, each
# one `lab exec` (a few ms), so figures are upper bounds by that much. A
# precondition that fails prints {"test":...,"error":"..."} and exits 1.
# Usage: service-bench [SHOAL_BIN_DIR]   (default build/release)
set -euo pipefail
src=${SHOAL_SOURCE_DIR:-@CMAKE_SOURCE_DIR@}
[ -x "$src/scripts/lab" ] || src=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
export SHOAL_BIN_DIR=${1:-${SHOAL_BIN_DIR:-$src/build/release}}
[ -x "$SHOAL_BIN_DIR/daemon/shoald" ] ||
	{ echo "service-bench: no shoald in $SHOAL_BIN_DIR" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "service-bench: needs root (the lab)" >&2; exit 2; }
SHOAL_LAB_DIR=$(mktemp -d /run/shoal-sbench.XXXXXX)
export SHOAL_LAB_DIR SHOAL_LAB_NAME=shoal-sbench
lab() { "$src/scripts/lab" "$@"; }
trap 'lab down >/dev/null 2>&1 || true' EXIT
limit_ms=120000

now() { echo "${EPOCHREALTIME/./}"; }
ms() { echo $((($2 - $1) / 1000)); }
failed() {
	echo "{\"test\":\"$1\",\"error\":\"$2\"}"
	exit 1
}
# running SERVICE [IMAGE]: tasks desired and Running (with IMAGE).
running() {
	lab exec h1 shoal service ps -f desired-state=running "$1" 2>/dev/null |
		awk -v img="${2:-}" 'NR > 1 && $6 == "Running" &&
			(img == "" || $3 == img) {n++} END {print n + 0}'
}
on_host() {
	lab exec h1 shoal service ps -f desired-state=running "$1" 2>/dev/null |
		awk -v h="$2" 'NR > 1 && $6 == "Running" && $4 == h {n++}
			END {print n + 0}'
}
# wait_until TEST T0 COMMAND...: poll until COMMAND succeeds; the ms since T0.
wait_until() {
	local test=$1 t0=$2
	shift 2
	until "$@"; do
		[ "$(ms "$t0" "$(now)")" -lt "$limit_ms" ] ||
			failed "$test" "not reached in $((limit_ms / 1000)) s"
	done
	ms "$t0" "$(now)"
}

case "$SHOAL_BIN_DIR" in
*release*) echo '{"test":"build","type":"release"}' ;;
*) echo '{"test":"build","type":"debug"}' ;;
esac
lab up 3 >/dev/null
m="$(lab addr h1):2377"
lab exec h1 shoal swarm init --listen-addr "$m" >/dev/null
tok=$(lab exec h1 shoal swarm join-token -q worker)
for h in h2 h3; do
	lab exec "$h" shoal swarm join --token "$tok" "$m" >/dev/null
done
"$src/scripts/mkimage-busybox" "$SHOAL_LAB_DIR/busybox.tar" >/dev/null
for h in h1 h2 h3; do
	lab exec "$h" shoal import "$SHOAL_LAB_DIR/busybox.tar" busybox:latest >/dev/null
	lab exec "$h" shoal tag busybox:latest busybox:v2
done
ready() { [ "$(lab exec h1 shoal node ls | grep -c ' Ready ')" -eq 3 ]; }
wait_until setup "$(now)" ready >/dev/null

n10() { [ "$(running web)" -eq 10 ]; }
t0=$(now)
lab exec h1 shoal service create -d --name web --replicas 10 \
	--stop-grace-period 1s busybox sleep 1000000 >/dev/null
echo "{\"test\":\"create_running\",\"replicas\":10,\"ms\":$(wait_until create_running "$t0" n10)}"

n50() { [ "$(running web)" -eq 50 ]; }
t0=$(now)
lab exec h1 shoal service scale -d web=50 >/dev/null
echo "{\"test\":\"scale_running\",\"from\":10,\"to\":50,\"ms\":$(wait_until scale_running "$t0" n50)}"

lab exec h1 shoal service create -d --name roll --replicas 10 \
	--stop-grace-period 1s busybox sleep 1000000 >/dev/null
r10() { [ "$(running roll)" -eq 10 ]; }
wait_until rolling_update "$(now)" r10 >/dev/null
updated() {
	[ "$(running roll busybox:v2)" -eq 10 ] &&
		lab exec h1 shoal service inspect roll | grep -q '"State": "completed"'
}
t0=$(now)
lab exec h1 shoal service update -d --image busybox:v2 \
	--update-parallelism 2 roll >/dev/null
echo "{\"test\":\"rolling_update\",\"replicas\":10,\"parallelism\":2,\"ms\":$(wait_until rolling_update "$t0" updated)}"

lab exec h1 shoal service rm roll >/dev/null
lab exec h1 shoal service scale -d web=9 >/dev/null
n9() { [ "$(running web)" -eq 9 ] && [ "$(on_host web h3)" -gt 0 ]; }
wait_until kill_reschedule "$(now)" n9 >/dev/null
k=$(on_host web h3)
moved() { [ "$(running web)" -eq 9 ] && [ "$(on_host web h3)" -eq 0 ]; }
pid=$(lab pid h3)
t0=$(now)
kill -KILL "$pid"
echo "{\"test\":\"kill_reschedule\",\"tasks\":$k,\"ms\":$(wait_until kill_reschedule "$t0" moved)}"
