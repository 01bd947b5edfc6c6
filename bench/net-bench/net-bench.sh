#!/usr/bin/env bash
# net-bench: single-host networking against the same path without Shoal.
#
#   attach           overlay-net's attach of a container to the default
#                    bridge (namespace, veth pair, address, routes, records;
#                    and with a published port the nftables rebuild), median
#                    and p90 over N containers, and the detach (net-bench-
#                    attach: the clock brackets the library calls). Goal:
#                    under 5 ms. For scale, the same steps with `ip`
#                    commands took ~110 ms here.
#   tcp              iperf3 throughput (3 s, one stream; the median of
#                    NET_BENCH_ROUNDS rounds, 3 by default, the paths in
#                    turn) of
#                      bare-veth: two namespaces joined by a bare veth pair
#                        (no bridge, no nftables): the floor of the path;
#                      container-to-container: two containers on shoal0;
#                      published-port: from a namespace outside through the
#                        host's address and a published port (DNAT) to a
#                        container;
#                    and each Shoal path's ratio to the bare one (goal:
#                    within 5%, ratio >= 0.95).
#
# Everything runs in a network and mount namespace of the benchmark's own
# (unshare), made and dropped here; nothing touches the machine's. Needs
# root and iperf3 (Debian's); without iperf3 the tcp lines are skipped.
# JSON lines, one per result:
#   {"test":"attach","containers":N,"median_ms":X,"p90_ms":Y}
#   {"test":"tcp","path":"...","gbps":X[,"ratio_to_bare":R]}
#
#   build/<preset>/bench/net-bench/net-bench [N]
set -u
N=${1:-100}
here=$(cd "$(dirname "$0")" && pwd)
attach_bin=$here/net-bench-attach
[ "$(id -u)" = 0 ] || { echo '{"skipped":"net-bench: needs root"}'; exit 0; }
[ -x "$attach_bin" ] || { echo "{\"error\":\"no $attach_bin\"}"; exit 1; }
for t in ip nsenter unshare; do
	command -v $t >/dev/null || { echo "{\"skipped\":\"net-bench: $t missing\"}"; exit 0; }
done

if [ "${NET_BENCH_INNER:-}" != 1 ]; then
	export NET_BENCH_INNER=1
	exec unshare --net --mount --propagation private -- "$0" "$@"
fi

. "@SHOAL_SOURCE_DIR@/bench/common/stats.sh" ||
	{ echo '{"error":"bench/common/stats.sh missing"}'; exit 1; }
work=$(mktemp -d /tmp/net-bench.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for m in "$work"/*/netns/* "$work"/ns-*; do
		[ -e "$m" ] && umount "$m" 2>/dev/null
	done
	rm -rf "$work"
}
trap cleanup EXIT
ip link set lo up

"$attach_bin" attach "$work/a" "$N" || exit 1

command -v iperf3 >/dev/null ||
	{ echo '{"test":"tcp","skipped":"iperf3: not installed"}'; exit 0; }

# iperf3 server in namespace file $1 on port $2 (one test, then it exits).
serve() {
	nsenter --net="$1" iperf3 -s -1 -p "$2" >/dev/null 2>&1 &
	pids+=($!)
	for _ in $(seq 50); do
		nsenter --net="$1" cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
			awk -v p=":$(printf %04X "$2")" '$2 ~ p"$" && $4 == "0A" {f=1} END {exit !f}' && return 0
		sleep 0.05
	done
	echo "{\"error\":\"iperf3 did not listen on $2\"}"; exit 1
}
# gbps NSFILE-or-"" HOST PORT: client throughput in Gbit/s (received).
gbps() {
	local out
	if [ -n "$1" ]; then
		out=$(nsenter --net="$1" iperf3 -c "$2" -p "$3" -t 3 -J 2>&1)
	else
		out=$(iperf3 -c "$2" -p "$3" -t 3 -J 2>&1)
	fi
	python3 -c 'import json,sys; d=json.load(sys.stdin); print("%.3f" % (d["end"]["sum_received"]["bits_per_second"] / 1e9))' <<<"$out" 2>/dev/null ||
		{ echo "{\"error\":\"iperf3 -c $2:$3 failed: $(tr -d '"\n' <<<"$out" | head -c 200)\"}" >&2; return 1; }
}
mkns() { touch "$work/ns-$1"; unshare --net="$work/ns-$1" ip link set lo up; }

# A process holding namespace file $1, for `ip link set ... netns PID`.
hold() {
	nsenter --net="$1" sleep 600 &
	holder=$!
	pids+=("$holder")
	# Until nsenter has entered it, the pid is still in ours.
	for _ in $(seq 100); do
		[ "$(readlink "/proc/$holder/ns/net")" != "$(readlink /proc/self/ns/net)" ] && return 0
		sleep 0.01
	done
	echo '{"error":"a namespace holder did not start"}'; exit 1
}

# The floor: a bare veth pair between two namespaces.
mkns x && mkns y
ip link add bx type veth peer name by || exit 1
hold "$work/ns-x"; ip link set bx netns "$holder"
hold "$work/ns-y"; ip link set by netns "$holder"
nsenter --net="$work/ns-x" sh -c 'ip addr add 10.97.0.1/24 dev bx && ip link set bx up'
nsenter --net="$work/ns-y" sh -c 'ip addr add 10.97.0.2/24 dev by && ip link set by up'

# Shoal's paths: two containers on shoal0, A publishing 15201 -> 5201;
# and a namespace outside, joined to the host by a veth pair, reaching A
# through the host's address and the published port.
read -r ns_a ip_a ns_b ip_b < <("$attach_bin" setup "$work/s") || exit 1
[ -n "$ip_b" ] || { echo '{"error":"setup gave no containers"}'; exit 1; }
mkns o
ip link add ho type veth peer name oo || exit 1
hold "$work/ns-o"; ip link set oo netns "$holder"
ip addr add 10.96.0.1/24 dev ho && ip link set ho up
nsenter --net="$work/ns-o" sh -c 'ip addr add 10.96.0.2/24 dev oo && ip link set oo up && ip route add default via 10.96.0.1'

# The three paths in turn, ROUNDS times (the machine is shared: one run
# each would compare moments, not paths); each path's median.
ROUNDS=${NET_BENCH_ROUNDS:-3}
bare=() c2c=() pub=()
for _ in $(seq "$ROUNDS"); do
	serve "$work/ns-x" 5201
	v=$(gbps "$work/ns-y" 10.97.0.1 5201) || exit 1
	bare+=("$v")
	serve "$ns_a" 5201
	v=$(gbps "$ns_b" "$ip_a" 5201) || exit 1
	c2c+=("$v")
	serve "$ns_a" 5201
	v=$(gbps "$work/ns-o" 10.96.0.1 15201) || exit 1
	pub+=("$v")
done
ratio() { python3 -c "print('%.3f' % ($1 / $2))"; }
mb=$(bench_median "${bare[@]}")
mc=$(bench_median "${c2c[@]}")
mp=$(bench_median "${pub[@]}")
echo "{\"test\":\"tcp\",\"path\":\"bare-veth\",\"rounds\":$ROUNDS,\"gbps\":$mb}"
echo "{\"test\":\"tcp\",\"path\":\"container-to-container\",\"rounds\":$ROUNDS,\"gbps\":$mc,\"ratio_to_bare\":$(ratio "$mc" "$mb")}"
echo "{\"test\":\"tcp\",\"path\":\"published-port\",\"rounds\":$ROUNDS,\"gbps\":$mp,\"ratio_to_bare\":$(ratio "$mp" "$mb")}"
