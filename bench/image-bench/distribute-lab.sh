#!/usr/bin/env bash
# distribute-lab: an image of SIZE MB (default 100: busybox plus one file
# of random bytes, so one layer of ~SIZE MB that does not compress) goes
# from h1 to the 4 other nodes of a 5-node swarm on the lab (scripts/lab:
# one shoald per host, each in its own network namespace, talking over
# the lab's bridge), through the real path: the managers name the holders
# in the assignment, the agent fetches over the blob service (secure
# channel, every blob verified by digest), assembles and unpacks.
#
#   sequential  4 copies one after the other: a task constrained to h2,
#               then h3, h4, h5 (each waits for the previous to hold the
#               image); per_copy_ms is each node's fetch.
#   at_once     the image removed from h2..h5 again, then one global
#               service on the workers: the 4 fetch at once.
#
# The clock is each node's own log: from its "fetching from N node(s)"
# line to its "fetched from the swarm" line (ms, one host clock); at once
# is the first start to the last end. Goal (issue 14): at once faster
# than 2 sequential copies (2 x the median copy). Preconditions, checked
# before any figure is printed: every node logged exactly one fetch of
# the image for the round, and holds the image id afterwards. Needs root.
# JSON lines:
#   {"test":"distribute","case":"sequential","size_mb":S,"per_copy_ms":
#    [a,b,c,d],"total_ms":T,"median_copy_ms":M,"transfer_ms":[..],
#    "assemble_ms":[..],"cpu_ms":C}   (transfer: config and layers
#    received and verified; assemble: the image made from them, layer
#    unpacked; cpu_ms: CPU time of the 5 shoalds during the case, polls
#    and the services' creation included)
#   {"test":"distribute","case":"at_once","size_mb":S,"nodes":4,"ms":X,
#    "goal_ms":2M,"goal_met":true|false,"per_node_ms":[..],
#    "start_skew_ms":K,"cpu_ms":C,"cores":N}   (per node: its own fetch;
#    skew: the last node's start after the first's, the assignments
#    reaching the nodes at their own times)
#
#   bench/image-bench/distribute-lab [SIZE_MB] [SHOAL_BIN_DIR]
#     (default: build/release of this repository)
set -euo pipefail
src=${SHOAL_SOURCE_DIR:-@CMAKE_SOURCE_DIR@}
[ -x "$src/scripts/lab" ] || src=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
size=${1:-100}
export SHOAL_BIN_DIR=${2:-${SHOAL_BIN_DIR:-$src/build/release}}
[[ "$size" =~ ^[1-9][0-9]{0,3}$ ]] ||
	{ echo '{"error":"distribute-lab: SIZE_MB must be 1..9999"}'; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo '{"skipped":"distribute-lab: needs root (the lab)"}'; exit 0; }
[ -x "$SHOAL_BIN_DIR/daemon/shoald" ] ||
	{ echo "{\"skipped\":\"distribute-lab: no shoald in $SHOAL_BIN_DIR\"}"; exit 0; }
. "$src/bench/common/stats.sh"
lab() { "$src/scripts/lab" "$@"; }
SHOAL_LAB_DIR=$(mktemp -d /run/shoal-lab-distribute.XXXXXX)
SHOAL_LAB_NAME=distribute
export SHOAL_LAB_DIR SHOAL_LAB_NAME
trap 'lab down >/dev/null 2>&1 || true' EXIT
err() { echo "{\"test\":\"distribute\",\"error\":\"$*\"}"; exit 1; }
wait_until() { # SECS CMD...
	local end=$((SECONDS + $1)); shift
	until "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.05
	done
}

lab up 5 >/dev/null
m="$(lab addr h1):2377"
lab exec h1 shoal swarm init --listen-addr "$m" --dispatcher-heartbeat 300ms >/dev/null
tok=$(lab exec h1 shoal swarm join-token -q worker)
for h in h2 h3 h4 h5; do
	lab exec $h shoal swarm join --token "$tok" "$m" >/dev/null
done
ready() { [ "$(lab exec h1 shoal node ls | grep -c ' Ready ')" -eq 5 ]; }
wait_until 30 ready || err "the swarm has no 5 Ready nodes"

w=$SHOAL_LAB_DIR/img
mkdir -p "$w/root"
"$src/scripts/mkimage-busybox" "$w/busybox.tar" >/dev/null
tar -C "$w/root" -xf "$w/busybox.tar"
head -c $((size << 20)) /dev/urandom >"$w/root/data"
tar -C "$w/root" -cf "$w/dist.tar" .
rm -rf "$w/root"
lab exec h1 shoal import --change 'CMD ["sleep","100000"]' "$w/dist.tar" dist:1 >/dev/null
id=$(lab exec h1 shoal images -q --no-trunc dist:1)
holders_are() { [ "$(lab exec h1 shoal image ls --cluster dist | awk 'NR == 2 {print $4}')" = "$1" ]; }
wait_until 20 holders_are h1 || err "the managers do not see dist:1 on h1"

# ts_ms LINE: the log line's time in ms since the epoch.
ts_ms() { date -d "${1%% *}" +%s%3N; }
# fetch_ms HOST: "START ASSEMBLY END" of HOST's last fetch of the image
# (its log; ASSEMBLY: all blobs received and verified, the image being
# assembled and unpacked).
fetch_ms() {
	local log s a e
	log=$(lab log "$1")
	s=$(grep "image $id: fetching from" "$log" | tail -1)
	a=$(grep "preparing: assembling image ${id:0:19}" "$log" | tail -1)
	e=$(grep "image $id fetched from the swarm" "$log" | tail -1)
	[ -n "$s" ] && [ -n "$a" ] && [ -n "$e" ] || return 1
	echo "$(ts_ms "$s") $(ts_ms "$a") $(ts_ms "$e")"
}
# cpu_ms: CPU time (user + system) the 5 shoalds have used so far, in ms.
cpu_ms() {
	local h t=0 f
	for h in h1 h2 h3 h4 h5; do
		f=$(awk '{print $14 + $15}' "/proc/$(lab pid $h)/stat")
		t=$((t + f))
	done
	echo $((t * 1000 / $(getconf CLK_TCK)))
}
fetches() { grep -c "image $id fetched from the swarm" "$(lab log "$1")" || true; }
holds() { lab exec "$1" shoal image inspect "$id"; }

per=() xfer=() asm=()
c0=$(cpu_ms)
for h in h2 h3 h4 h5; do
	lab exec h1 shoal service create -d --name "seq-$h" \
		--constraint "node.hostname==$h" dist:1 >/dev/null
	wait_until 120 holds $h || err "$h does not hold the image"
	fetched() { [ "$(fetches "$1")" -eq 1 ]; }
	wait_until 10 fetched $h || err "$h did not log exactly one fetch"
	read -r s a e < <(fetch_ms $h)
	per+=($((e - s))) xfer+=($((a - s))) asm+=($((e - a)))
done
seq_cpu=$(($(cpu_ms) - c0))
total=0
for x in "${per[@]}"; do total=$((total + x)); done
med=$(bench_median "${per[@]}")
echo "{\"test\":\"distribute\",\"case\":\"sequential\",\"size_mb\":$size,\"per_copy_ms\":[$(IFS=,; echo "${per[*]}")],\"total_ms\":$total,\"median_copy_ms\":$med,\"transfer_ms\":[$(IFS=,; echo "${xfer[*]}")],\"assemble_ms\":[$(IFS=,; echo "${asm[*]}")],\"cpu_ms\":$seq_cpu}"

for h in h2 h3 h4 h5; do
	lab exec h1 shoal service rm "seq-$h" >/dev/null
done
gone() { [ -z "$(lab exec "$1" shoal ps -aq)" ]; }
for h in h2 h3 h4 h5; do
	wait_until 30 gone $h || err "the containers of seq-$h stay"
	lab exec $h shoal rmi -f "$id" >/dev/null
done
wait_until 20 holders_are h1 || err "the managers still see dist:1 beyond h1"

c0=$(cpu_ms)
lab exec h1 shoal service create -d --name at-once --mode global \
	--constraint node.role==worker dist:1 >/dev/null
first=0 last=0 lasts=0 nodes=()
for h in h2 h3 h4 h5; do
	wait_until 120 holds $h || err "$h does not hold the image (at once)"
done
for h in h2 h3 h4 h5; do
	two() { [ "$(fetches "$1")" -eq 2 ]; }
	wait_until 10 two $h || err "$h did not log exactly one fetch at once"
	read -r s a e < <(fetch_ms $h)
	{ [ "$first" -eq 0 ] || [ "$s" -lt "$first" ]; } && first=$s
	[ "$e" -gt "$last" ] && last=$e
	[ "$s" -gt "$lasts" ] && lasts=$s
	nodes+=("$((e - s))")
done
at=$((last - first)) at_cpu=$(($(cpu_ms) - c0))
met=false
[ "$at" -lt $((2 * med)) ] && met=true
echo "{\"test\":\"distribute\",\"case\":\"at_once\",\"size_mb\":$size,\"nodes\":4,\"ms\":$at,\"goal_ms\":$((2 * med)),\"goal_met\":$met,\"per_node_ms\":[$(IFS=,; echo "${nodes[*]}")],\"start_skew_ms\":$((lasts - first)),\"cpu_ms\":$at_cpu,\"cores\":$(nproc)}"
