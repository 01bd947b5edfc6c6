#!/usr/bin/env bash
# overlay-bench: the overlay data plane's kernel side (overlay-net/vxlan.c)
# against the same paths without Shoal.
#
#   program  overlay-bench-program: bringing an overlay up, programming
#            PEERS peers (FDB + neighbour entry, one netlink batch each,
#            as the agent will per task of the network on another node),
#            removing them, bringing it down; median and p90.
#   tcp      iperf3 throughput (3 s, one stream; the median of
#            OVERLAY_BENCH_ROUNDS rounds, 3 by default, the paths in turn)
#            between two hosts (network namespaces joined by a veth pair):
#              bare-veth: host to host, no VXLAN: the floor;
#              raw-vxlan: a VXLAN pair made with `ip link add ... type
#                vxlan remote ...` on the two hosts (no bridge);
#              shoal-overlay: a "container" namespace on each host, on the
#                overlay's bridge made by vxlan.c with static peers;
#            and the ratios to raw-vxlan and bare-veth.
#              shoal-agent: a task namespace on each host made by the
#                agent's code from a hand-made assignment set
#                (ovl-agent-tool: worker/net.c joins the overlay and
#                programs the peer, overlay-net attaches the task with
#                its address, MAC and MTU), as shoald does for a task,
#                with the hosts' net.bridge.bridge-nf-call-* at the
#                kernel's default (1: `shoald --bridge-nf-call=keep`);
#              shoal-agent+bridge-nf-call-off: the same path with both
#                hosts' three sysctls at 0, as `shoald
#                --bridge-nf-call=off` leaves its namespace; the two
#                in the same rounds, alternating which goes first;
#            and the ratios to raw-vxlan and bare-veth.
#   scale-to-vip: the agent's time to take a set in which one more task of
#            a service became Ready, until the VIP's new map is loaded in
#            every task namespace of the network on the host (TASKS of
#            them, 8 by default); median and p90 of 10 sets, in line (the
#            loop's thread enters each namespace, as before the loader)
#            and as shoald does it (the loader thread, overlay-net/
#            nsload.c), in turn; loop_held_*: how long the loop's thread
#            was held by the set. The managers' part (scheduling, the
#            task's start, the set's push) is not in it.
#   DNS latency of the overlay records needs shoald's resolver: measured
#   by dns-lab beside this script (a 2-host lab, from a task's namespace).
#
# Everything runs in a network and mount namespace of the benchmark's own
# (unshare); nothing touches the machine's. Needs root and iperf3.
#
#   build/<preset>/bench/overlay-bench/overlay-bench [PEERS]
set -u
PEERS=${1:-200}
here=$(cd "$(dirname "$0")" && pwd)
prog=$here/overlay-bench-program
tool=@SHOAL_BINARY_DIR@/tests/system/overlay/ovl-vxlan-tool
agent=@SHOAL_BINARY_DIR@/tests/system/overlay/ovl-agent-tool
[ "$(id -u)" = 0 ] || { echo '{"skipped":"overlay-bench: needs root"}'; exit 0; }
for b in "$prog" "$tool" "$agent"; do
	[ -x "$b" ] || { echo "{\"error\":\"no $b (build it)\"}"; exit 1; }
done
if [ "${OVERLAY_BENCH_INNER:-}" != 1 ]; then
	export OVERLAY_BENCH_INNER=1
	exec unshare --net --mount --propagation private -- "$0" "$@"
fi
. "@SHOAL_SOURCE_DIR@/bench/common/stats.sh" ||
	{ echo '{"error":"bench/common/stats.sh missing"}'; exit 1; }
ip link set lo up
p="ovb$$"
pids=()
cleanup() {
	for x in "${pids[@]}"; do kill "$x" 2>/dev/null; done
	for ns in hx hy cx cy prog; do ip netns del "$p-$ns" 2>/dev/null; done
}
trap cleanup EXIT
on() { local ns=$1; shift; ip netns exec "$p-$ns" "$@"; }
for ns in hx hy cx cy prog; do ip netns add "$p-$ns"; on "$ns" ip link set lo up; done

on prog "$prog" "$PEERS" || exit 1

T=$(mktemp -d /tmp/overlay-bench.XXXXXX)
NET=b3nchn3tw0rk1d0000000001
agent_on() { # HOST ARGS...: the agent's code on HOST (one run = one set)
	local h=$1; shift
	mkdir -p "$T/$h/d" "$T/$h/e"
	nsenter --net="/run/netns/$p-$h" "$agent" "$T/$h/d" "$T/$h/e" "$(cat "$T/$h/vtep")" "$@"
}
net_set() { # PEERS-JSON SERVICES-JSON
	echo "[{\"Kind\":\"network\",\"ID\":\"$NET\",\"Name\":\"bench\",\"VNI\":4300,\"Subnet\":\"10.96.0.0/24\",\"Gateway\":\"10.96.0.1\",\"Peers\":$1,\"Services\":$2}]" > "$T/set.json"
	echo "$T/set.json"
}
agent_cleanup() {
	for f in "$T"/*/ctr.*; do
		[ -e "$f" ] || continue
		h=$(basename "$(dirname "$f")")
		agent_on "$h" detach "$(cut -d' ' -f1 "$f")"
	done
	rm -rf "$T"
}
trap 'agent_cleanup; cleanup' EXIT
command -v iperf3 >/dev/null ||
	{ echo '{"test":"tcp","skipped":"iperf3: not installed"}'; exit 0; }

# Two hosts joined by a veth pair (the underlay, MTU 1500).
ip link add "${p}x" netns "$p-hx" type veth peer name "${p}y" netns "$p-hy"
on hx sh -c "ip addr add 192.168.252.1/24 dev ${p}x && ip link set ${p}x up"
on hy sh -c "ip addr add 192.168.252.2/24 dev ${p}y && ip link set ${p}y up"
# The raw VXLAN pair (VNI 42, port 4789, MTU 1450).
on hx sh -c "ip link add rvx type vxlan id 42 local 192.168.252.1 remote 192.168.252.2 dstport 4789 && ip link set rvx mtu 1450 up && ip addr add 10.98.0.1/24 dev rvx"
on hy sh -c "ip link add rvx type vxlan id 42 local 192.168.252.2 remote 192.168.252.1 dstport 4789 && ip link set rvx mtu 1450 up && ip addr add 10.98.0.2/24 dev rvx"
# Shoal's overlay (VNI 4200) and a container on each host.
mac_x=02:42:0a:61:00:02 mac_y=02:42:0a:61:00:03
on hx "$tool" up 4200 192.168.252.1 1450 || exit 1
on hy "$tool" up 4200 192.168.252.2 1450 || exit 1
for s in x y; do
	on "h$s" ip link add "v$s" type veth peer name eth0 netns "$p-c$s"
	on "h$s" ip link set "v$s" master shov4200 mtu 1450 up
done
on cx sh -c "ip link set eth0 address $mac_x mtu 1450 up && ip addr add 10.97.0.2/24 dev eth0"
on cy sh -c "ip link set eth0 address $mac_y mtu 1450 up && ip addr add 10.97.0.3/24 dev eth0"
on hx "$tool" peer add 4200 10.97.0.3 $mac_y 192.168.252.2 || exit 1
on hy "$tool" peer add 4200 10.97.0.2 $mac_x 192.168.252.1 || exit 1
# The agent's overlay (VNI 4300) with a task on each host.
mkdir -p "$T/hx" "$T/hy"
echo 192.168.252.1 > "$T/hx/vtep"
echo 192.168.252.2 > "$T/hy/vtep"
agent_on hx assign "$(net_set '[{"Addr":"10.96.0.3","VTEP":"192.168.252.2"}]' '[]')" 2>/dev/null || exit 1
agent_on hy assign "$(net_set '[{"Addr":"10.96.0.2","VTEP":"192.168.252.1"}]' '[]')" 2>/dev/null || exit 1
agent_on hx attach $NET 10.96.0.2 > "$T/hx/ctr.1" 2>/dev/null || exit 1
agent_on hy attach $NET 10.96.0.3 > "$T/hy/ctr.1" 2>/dev/null || exit 1
in_task() { local h=$1; shift; nsenter --net="$(cut -d' ' -f2 "$T/$h/ctr.1")" "$@"; }

serve() { # NS PORT
	if [ "$1" = task-hy ]; then
		in_task hy iperf3 -s -1 -p "$2" >/dev/null 2>&1 &
	else
		on "$1" iperf3 -s -1 -p "$2" >/dev/null 2>&1 &
	fi
	pids+=($!)
	for _ in $(seq 50); do
		{ if [ "$1" = task-hy ]; then in_task hy cat /proc/net/tcp /proc/net/tcp6; else on "$1" cat /proc/net/tcp /proc/net/tcp6; fi; } 2>/dev/null |
			awk -v p=":$(printf %04X "$2")" '$2 ~ p"$" && $4 == "0A" {f=1} END {exit !f}' && return 0
		sleep 0.05
	done
	echo "{\"error\":\"iperf3 did not listen in $1\"}"; exit 1
}
gbps() { # NS HOST PORT
	local out
	if [ "$1" = task-hx ]; then
		out=$(in_task hx iperf3 -c "$2" -p "$3" -t 3 -J 2>&1)
	else
		out=$(on "$1" iperf3 -c "$2" -p "$3" -t 3 -J 2>&1)
	fi
	python3 -c 'import json,sys; d=json.load(sys.stdin); print("%.3f" % (d["end"]["sum_received"]["bits_per_second"] / 1e9))' <<<"$out" 2>/dev/null ||
		{ echo "{\"error\":\"iperf3 -c $2 failed\"}" >&2; return 1; }
}
ROUNDS=${OVERLAY_BENCH_ROUNDS:-3}
case "${OVERLAY_BENCH_TRY:-}" in
"" | notrack | gro) ;;
nobrnf) echo '{"error":"OVERLAY_BENCH_TRY=nobrnf: now the regular shoal-agent+bridge-nf-call-off line; unset it"}'; exit 1 ;;
*) echo "{\"error\":\"OVERLAY_BENCH_TRY=$OVERLAY_BENCH_TRY: expected notrack or gro\"}"; exit 1 ;;
esac
# Without br_netfilter there is no sysctl to turn off (nor a cost).
brnf_here=1
[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ] || brnf_here=0
bare=() raw=() shoal=() via_agent=() via_off=() via_try=()
# OVERLAY_BENCH_TRY=notrack|gro: the agent's path again in each
# round with one change on both hosts, undone after (docs/overlay.md,
# "Figures"); gro: GRO on both ends of the tasks' veths (needs ethtool);
# (the bridge-nf-call sysctls at 0, once "nobrnf", are now the regular
# shoal-agent+bridge-nf-call-off line); notrack:
# frames an overlay's bridge forwards are not tracked (a bridge-family
# prerouting chain before br_netfilter: from the VXLAN device or a task's
# veth, not for the bridge itself: notrack).
gro_all() { # HOST on|off: GRO on the agent's veths there (both ends)
	local i
	for i in $(on "$1" ls /sys/class/net | grep '^vs'); do
		on "$1" ethtool -K "$i" gro "$2" || exit 1
	done
	in_task "$1" ethtool -K eth0 gro "$2" || exit 1
}
brnf() { # HOST 0|1: br_netfilter for every bridge of that host's namespace
	local k
	for k in iptables ip6tables arptables; do
		on "$1" sysctl -qw "net.bridge.bridge-nf-call-$k=$2" || exit 1
	done
}
try_on() {
	local h
	for h in hx hy; do case "$OVERLAY_BENCH_TRY" in
	notrack) printf '%s\n' 'table bridge bench-try {' 'chain pre {' \
		'type filter hook prerouting priority -300; policy accept;' \
		'iifname "shvx*" meta pkttype other notrack' \
		'iifname "vs*" meta pkttype other notrack' '}' '}' |
		on "$h" nft -f - || exit 1 ;;
	gro) gro_all "$h" on ;;
	esac; done
}
try_off() {
	local h
	for h in hx hy; do case "$OVERLAY_BENCH_TRY" in
	notrack) on "$h" nft delete table bridge bench-try ;;
	gro) gro_all "$h" off ;;
	esac; done
}
agent_plain() { serve task-hy 5204; v=$(gbps task-hx 10.96.0.3 5204) || exit 1; via_agent+=("$v"); }
agent_off() { # both hosts' bridge-nf-call-* at 0, then back to 1
	[ "$brnf_here" = 1 ] || return 0
	brnf hx 0; brnf hy 0
	serve task-hy 5206; v=$(gbps task-hx 10.96.0.3 5206) || exit 1; via_off+=("$v")
	brnf hx 1; brnf hy 1
}
agent_try() {
	try_on
	serve task-hy 5205; v=$(gbps task-hx 10.96.0.3 5205) || exit 1; via_try+=("$v")
	try_off
}
for r in $(seq "$ROUNDS"); do
	serve hy 5201; v=$(gbps hx 192.168.252.2 5201) || exit 1; bare+=("$v")
	serve hy 5202; v=$(gbps hx 10.98.0.2 5202) || exit 1; raw+=("$v")
	serve cy 5203; v=$(gbps cx 10.97.0.3 5203) || exit 1; shoal+=("$v")
	# The agent's path with the sysctls at 1 and at 0 (and a change to
	# try), alternating which goes first: a fixed order showed a bias of
	# 3-4% for the later slot.
	if [ $((r % 2)) = 0 ]; then
		[ -n "${OVERLAY_BENCH_TRY:-}" ] && agent_try
		agent_off; agent_plain
	else
		agent_plain; agent_off
		[ -n "${OVERLAY_BENCH_TRY:-}" ] && agent_try
	fi
done
ratio() { python3 -c "print('%.3f' % ($1 / $2))"; }
mb=$(bench_median "${bare[@]}")
mr=$(bench_median "${raw[@]}")
ms=$(bench_median "${shoal[@]}")
echo "{\"test\":\"tcp\",\"path\":\"bare-veth\",\"rounds\":$ROUNDS,\"gbps\":$mb}"
echo "{\"test\":\"tcp\",\"path\":\"raw-vxlan\",\"rounds\":$ROUNDS,\"gbps\":$mr,\"ratio_to_bare\":$(ratio "$mr" "$mb")}"
ma=$(bench_median "${via_agent[@]}")
echo "{\"test\":\"tcp\",\"path\":\"shoal-agent\",\"rounds\":$ROUNDS,\"gbps\":$ma,\"ratio_to_raw_vxlan\":$(ratio "$ma" "$mr"),\"ratio_to_bare\":$(ratio "$ma" "$mb")}"
if [ "$brnf_here" = 0 ]; then
	echo '{"test":"tcp","path":"shoal-agent+bridge-nf-call-off","skipped":"br_netfilter is not loaded: bridged frames skip the IP hooks already"}'
else
	mo=$(bench_median "${via_off[@]}")
	echo "{\"test\":\"tcp\",\"path\":\"shoal-agent+bridge-nf-call-off\",\"rounds\":$ROUNDS,\"gbps\":$mo,\"ratio_to_raw_vxlan\":$(ratio "$mo" "$mr"),\"ratio_to_bare\":$(ratio "$mo" "$mb"),\"ratio_to_shoal_agent\":$(ratio "$mo" "$ma")}"
fi
if [ -n "${OVERLAY_BENCH_TRY:-}" ]; then
	mt=$(bench_median "${via_try[@]}")
	echo "{\"test\":\"tcp\",\"path\":\"shoal-agent+$OVERLAY_BENCH_TRY\",\"rounds\":$ROUNDS,\"gbps\":$mt,\"ratio_to_raw_vxlan\":$(ratio "$mt" "$mr"),\"ratio_to_bare\":$(ratio "$mt" "$mb")}"
fi
echo "{\"test\":\"tcp\",\"path\":\"shoal-overlay\",\"rounds\":$ROUNDS,\"gbps\":$ms,\"ratio_to_raw_vxlan\":$(ratio "$ms" "$mr"),\"ratio_to_bare\":$(ratio "$ms" "$mb")}"

# scale-to-vip: TASKS task namespaces on hx, a service whose Ready tasks
# grow by one per set; the agent's time per set.
TASKS=${OVERLAY_BENCH_TASKS:-8}
for i in $(seq 2 "$TASKS"); do
	agent_on hx attach $NET "10.96.0.$((i + 10))" > "$T/hx/ctr.$i" 2>/dev/null || exit 1
done
svc() { # N: web with N Ready tasks of the host's
	local j tasks=""
	for j in $(seq 1 "$1"); do
		tasks="$tasks${tasks:+,}{\"Name\":\"web.$j.t$j\",\"Addr\":\"10.96.0.$((j + 100))\",\"Ready\":true}"
	done
	echo "[{\"Name\":\"web\",\"Mode\":\"vip\",\"VIP\":\"10.96.0.99\",\"Tasks\":[$tasks]}]"
}
# In line (the loop's thread enters every namespace: before nsload.c) and
# as shoald runs it (OVL_AGENT_LOOP: the loader thread; the loop's thread
# is held only for the set's decoding, peers and queueing), in turn.
ms_v=() loop_v=() loaded_v=()
n=0
for round in $(seq 1 10); do
	for mode in inline loop; do
		n=$((n + 1))
		lp=""
		[ "$mode" = loop ] && lp=1
		# The set before (one Ready task fewer) first, untimed: a
		# running daemon has its kernel side up and that set in.
		net_set '[{"Addr":"10.96.0.3","VTEP":"192.168.252.2"}]' "$(svc $((n - 1)))" >/dev/null
		mv "$T/set.json" "$T/set0.json"
		out=$(env OVL_AGENT_TIMING=1 OVL_AGENT_WARM="$T/set0.json" ${lp:+OVL_AGENT_LOOP=1} nsenter --net="/run/netns/$p-hx" "$agent" "$T/hx/d" "$T/hx/e" "$(cat "$T/hx/vtep")" \
			assign "$(net_set '[{"Addr":"10.96.0.3","VTEP":"192.168.252.2"}]' "$(svc "$n")")" 2>&1)
		a=$(awk '/^assign_ms/ {print $2}' <<<"$out")
		l=$(awk '/^loaded_ms/ {print $2}' <<<"$out")
		[ -n "$a" ] && [ -n "$l" ] || { echo "{\"error\":\"scale-to-vip: no timing: $out\"}"; exit 1; }
		if [ "$mode" = inline ]; then ms_v+=("$l"); else loop_v+=("$a"); loaded_v+=("$l"); fi
	done
done
grep -q "mod 20 map" <(in_task hx nft list table inet shoal-vip 2>/dev/null) ||
	{ echo '{"error":"scale-to-vip: the last map is not loaded"}'; exit 1; }
echo "{\"test\":\"scale-to-vip\",\"mode\":\"inline\",\"task_namespaces\":$TASKS,\"sets\":10,\"median_ms\":$(bench_median "${ms_v[@]}"),\"p90_ms\":$(bench_percentile 90 "${ms_v[@]}"),\"loop_held_median_ms\":$(bench_median "${ms_v[@]}")}"
echo "{\"test\":\"scale-to-vip\",\"mode\":\"loader-thread\",\"task_namespaces\":$TASKS,\"sets\":10,\"median_ms\":$(bench_median "${loaded_v[@]}"),\"p90_ms\":$(bench_percentile 90 "${loaded_v[@]}"),\"loop_held_median_ms\":$(bench_median "${loop_v[@]}"),\"loop_held_p90_ms\":$(bench_percentile 90 "${loop_v[@]}")}"
