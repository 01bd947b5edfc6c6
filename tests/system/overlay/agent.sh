#!/usr/bin/env bash
# The agent's overlay side (worker/net.c) on two hosts that are network
# namespaces of the test's own, joined by a veth pair (VTEPs
# 192.168.251.1 and .2). Each run of the tool is one start of the agent
# on a host, with hand-made assignment sets: network items join the
# overlay and program the peers, a task namespace gets its address,
# Docker's MAC, MTU 1450 and the default route via the gateway, tasks on
# the two hosts reach each other; a restart with a changed set removes
# stale peers (also ones left in the kernel behind the agent's back) and
# programs new ones; a bad item changes nothing; unknown kinds are
# ignored; the network is left only once its last container is gone, and
# then nothing of it is left (no shov/shvx link, no record).
set -u
TOOL=$1
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
unshare --net true 2>/dev/null || { echo "SKIP: no network namespaces"; exit 77; }
command -v busybox >/dev/null || { echo "FAIL - busybox not installed (scripts/setup installs it)"; exit 1; }
p="ovla$$"
T=$(mktemp -d /tmp/ovl-agent.XXXXXX)
fails=0
ok() { echo "ok - $1"; }
bad() { echo "FAIL - $1"; fails=$((fails + 1)); }
check() { local what=$1; shift; if "$@" >/dev/null 2>&1; then ok "$what"; else bad "$what"; fi; }
refute() { local what=$1; shift; if "$@" >/dev/null 2>&1; then bad "$what"; else ok "$what"; fi; }
on() { local ns=$1; shift; ip netns exec "$p-$ns" "$@"; }
# nsenter, not `ip netns exec`: the task namespaces the tool binds under
# EXEC must outlive it (ip netns exec runs in a mount namespace of its own).
agent() { local h=$1; shift; nsenter --net="/run/netns/$p-$h" "$TOOL" "$T/$h/data" "$T/$h/exec" "$(vtep "$h")" "$@"; }
vtep() { [ "$1" = h1 ] && echo 192.168.251.1:2377 || echo 192.168.251.2:2377; }
cleanup() {
	[ -e "$T/pids" ] && while read -r pid; do kill "$pid" 2>/dev/null; done < "$T/pids"
	for h in h1 h2; do
		for f in "$T/$h"/ctr.*; do [ -e "$f" ] && agent "$h" detach "$(cut -d' ' -f1 "$f")"; done
		umount -R "$T/$h/exec/netns"/* 2>/dev/null
		ip netns del "$p-$h" 2>/dev/null
	done
	rm -rf "$T"
}
[ -n "${KEEP:-}" ] || trap cleanup EXIT
for h in h1 h2; do
	ip netns add "$p-$h"; on "$h" ip link set lo up
	mkdir -p "$T/$h/data" "$T/$h/exec"
done
ip link add "${p}a" netns "$p-h1" type veth peer name "${p}b" netns "$p-h2"
on h1 ip addr add 192.168.251.1/24 dev "${p}a"; on h1 ip link set "${p}a" up
on h2 ip addr add 192.168.251.2/24 dev "${p}b"; on h2 ip link set "${p}b" up

NET=k9f3t0w2x8a1b4c7d6e5f0g1h
net_item() { # PEERS-JSON
	echo "{\"Kind\":\"network\",\"ID\":\"$NET\",\"Name\":\"front\",\"VNI\":4097,\"Subnet\":\"10.0.1.0/24\",\"Gateway\":\"10.0.1.1\",\"MTU\":1450,\"Internal\":false,\"Attachable\":false,\"Peers\":$1,\"Services\":[]}"
}
task_item='{"ID":"t1","ServiceID":"s1","NodeID":"n1","DesiredState":"running","Spec":{}}'
set_of() { local IFS=,; echo "[$*]" > "$T/set.json"; echo "$T/set.json"; }
peer() { echo "{\"Addr\":\"$1\",\"VTEP\":\"$2\",\"NodeID\":\"n\"}"; }
in_ctr() { local h=$1; shift; nsenter --net="$(cut -d' ' -f2 "$T/$h/ctr.1")" "$@"; }

# h1 has a task at 10.0.1.5, h2 one at 10.0.1.6.
check "h1: a set with the network item (and a task and an unknown kind) joins it" \
	agent h1 assign "$(set_of "$(net_item "[$(peer 10.0.1.6 192.168.251.2)]")" "$task_item" '{"Kind":"frobnicate"}')"
check "h2: the same from its side" \
	agent h2 assign "$(set_of "$(net_item "[$(peer 10.0.1.5 192.168.251.1)]")")"
d=$(on h1 ip -d link show shvx4097)
case "$d" in *"vxlan id 4097"*"local 192.168.251.1"*"dstport 4789"*nolearning*proxy*) ok "h1: vxlan 4097 with its VTEP, learning off" ;; *) bad "vxlan: $d" ;; esac
check "h1: the bridge has the gateway" sh -c "ip netns exec $p-h1 ip addr show shov4097 | grep -q 10.0.1.1/24"
check "h1: peer 10.0.1.6 behind h2 in the FDB" sh -c "ip netns exec $p-h1 bridge fdb show dev shvx4097 | grep -q '02:42:0a:00:01:06 dst 192.168.251.2 self permanent'"
check "h1: its neighbour entry" sh -c "ip netns exec $p-h1 ip neigh show dev shvx4097 | grep -q '10.0.1.6 lladdr 02:42:0a:00:01:06 PERMANENT'"
check "the joined overlay is recorded under the data root" test -e "$T/h1/data/network/$NET.json"

agent h1 attach $NET 10.0.1.5 > "$T/h1/ctr.1" || bad "h1: attach"
agent h2 attach $NET 10.0.1.6 > "$T/h2/ctr.1" || bad "h2: attach"
check "h1's task has Docker's MAC and MTU 1450" sh -c "nsenter --net=$(cut -d' ' -f2 "$T/h1/ctr.1") ip link show eth0 | grep -q 'mtu 1450.*' && nsenter --net=$(cut -d' ' -f2 "$T/h1/ctr.1") ip link show eth0 | grep -q 02:42:0a:00:01:05"
check "h1's task has its address" sh -c "nsenter --net=$(cut -d' ' -f2 "$T/h1/ctr.1") ip addr show eth0 | grep -q 10.0.1.5/24"
check "its default route goes through the overlay's gateway" sh -c "nsenter --net=$(cut -d' ' -f2 "$T/h1/ctr.1") ip route | grep -q 'default via 10.0.1.1 dev eth0'"
check "the host end of its veth has MTU 1450 on shov4097" sh -c "ip netns exec $p-h1 ip link show master shov4097 | grep -v shvx | grep -q 'mtu 1450'"
check "h1's task reaches h2's across the hosts" in_ctr h1 busybox ping -c2 -W2 10.0.1.6
check "h2's task reaches h1's" in_ctr h2 busybox ping -c1 -W2 10.0.1.5
check "a full 1450-byte packet crosses" in_ctr h1 busybox ping -c1 -W2 -s 1422 10.0.1.6
check "the task reaches its gateway (the bridge on its own host)" in_ctr h1 busybox ping -c1 -W2 10.0.1.1

# VIP balancing (step 4): web's VIP 10.0.1.2 over the task on h1
# (10.0.1.5) and the one on h2 (10.0.1.6), each serving its own page; a
# client task on h1 (10.0.1.10) attached after the set gets the table too.
svc() { # READY5 READY6
	echo "[{\"ID\":\"s1\",\"Name\":\"web\",\"Mode\":\"vip\",\"VIP\":\"10.0.1.2\",\"Aliases\":[],\"Tasks\":[{\"ID\":\"a\",\"Name\":\"web.1.a\",\"Addr\":\"10.0.1.5\",\"Ready\":$1},{\"ID\":\"b\",\"Name\":\"web.2.b\",\"Addr\":\"10.0.1.6\",\"Ready\":$2}]}]"
}
net_item_svc() { net_item "$1" | sed "s|\"Services\":\[\]|\"Services\":$2|"; }
for h in h1 h2; do
	mkdir -p "$T/$h/www"; echo "page-$h" > "$T/$h/www/index.html"
	nsenter --net="$(cut -d' ' -f2 "$T/$h/ctr.1")" busybox httpd -f -p 80 -h "$T/$h/www" </dev/null >/dev/null 2>&1 &
	echo $! >> "$T/pids"
done
check "h2: 10.0.1.10 (h1's client) is a peer too" \
	agent h2 assign "$(set_of "$(net_item "[$(peer 10.0.1.5 192.168.251.1),$(peer 10.0.1.10 192.168.251.1)]")")"
agent h1 assign-attach "$(set_of "$(net_item_svc "[$(peer 10.0.1.6 192.168.251.2)]" "$(svc true true)")")" \
	$NET 10.0.1.10 > "$T/h1/ctr.2" && ok "h1: a set with web's VIP over both tasks, then a client joins" || bad "h1: set and attach"
check "the task's own namespace got the VIP map with the set" sh -c "nsenter --net=$(cut -d' ' -f2 "$T/h1/ctr.1") nft list table inet shoal-vip | grep -q 'numgen random mod 2'"
client() { nsenter --net="$(cut -d' ' -f2 "$T/h1/ctr.2")" "$@"; }
check "the client's namespace has the VIP map" sh -c "nsenter --net=$(cut -d' ' -f2 "$T/h1/ctr.2") nft list table inet shoal-vip | grep -q 'ip daddr 10.0.1.2 dnat ip to numgen random mod 2 map { 0 : 10.0.1.5, 1 : 10.0.1.6 }'"
sleep 0.3
got=$(for i in $(seq 1 24); do client curl -s -m 2 http://10.0.1.2/; done | sort | uniq -c)
case "$got" in *page-h1*page-h2*) ok "connections to the VIP reach both tasks: $(echo $got)" ;; *) bad "VIP balancing: $got" ;; esac
check "h1: the task on h1 is no longer Ready" \
	agent h1 assign "$(set_of "$(net_item_svc "[$(peer 10.0.1.6 192.168.251.2)]" "$(svc true false | sed 's/"Ready":true}\]/X/; s/"Ready":false/"Ready":true/; s/"Ready":true},{/"Ready":false},{/; s/X/"Ready":true}]/')")")"
got=$(for i in $(seq 1 8); do client curl -s -m 2 http://10.0.1.2/; done | sort -u)
[ "$got" = page-h2 ] && ok "then every new connection goes to the Ready one" || bad "after a task left the map: $got"
check "h1: no task Ready" \
	agent h1 assign "$(set_of "$(net_item_svc "[$(peer 10.0.1.6 192.168.251.2)]" "$(svc false false)")")"
start=$(date +%s%N)
refute "the VIP is refused" client curl -sf -m 3 http://10.0.1.2/
[ $(( ($(date +%s%N) - start) / 1000000 )) -lt 2000 ] && ok "at once (rejected, not timed out)" || bad "the VIP without tasks timed out"
agent h1 detach "$(cut -d' ' -f1 "$T/h1/ctr.2")"; rm -f "$T/h1/ctr.2"
check "h1: the service is gone from the set" \
	agent h1 assign "$(set_of "$(net_item "[$(peer 10.0.1.6 192.168.251.2)]")")"
refute "the task's namespace has no VIP table left" sh -c "nsenter --net=$(cut -d' ' -f2 "$T/h1/ctr.1") nft list table inet shoal-vip"

# Something left in the kernel behind the agent's back (a crash between
# two sets) and a peer that moved: a restart with the next set fixes both.
on h1 bridge fdb replace 02:42:0a:00:01:63 dev shvx4097 dst 192.168.251.9 self permanent
on h1 ip neigh replace 10.0.1.99 lladdr 02:42:0a:00:01:63 dev shvx4097 nud permanent
check "h1 restarted with a set: 10.0.1.6 now behind .3, 10.0.1.7 new" \
	agent h1 assign "$(set_of "$(net_item "[$(peer 10.0.1.6 192.168.251.3),$(peer 10.0.1.7 192.168.251.2)]")")"
refute "the stale neighbour 10.0.1.99 is gone" sh -c "ip netns exec $p-h1 ip neigh show dev shvx4097 | grep -q 10.0.1.99"
refute "its FDB entry too" sh -c "ip netns exec $p-h1 bridge fdb show dev shvx4097 | grep -q 02:42:0a:00:01:63"
check "10.0.1.6's FDB entry names its new VTEP" sh -c "ip netns exec $p-h1 bridge fdb show dev shvx4097 | grep -q '02:42:0a:00:01:06 dst 192.168.251.3'"
check "10.0.1.7 is programmed" sh -c "ip netns exec $p-h1 ip neigh show dev shvx4097 | grep -q 10.0.1.7"
n=$(on h1 bridge fdb show dev shvx4097 | grep -c "self permanent" )
[ "$n" = 2 ] && ok "h1's VXLAN table holds exactly the two peers" || bad "h1's VXLAN table has $n entries"

check "a set naming 10.0.1.6 behind h2 again" \
	agent h1 assign "$(set_of "$(net_item "[$(peer 10.0.1.6 192.168.251.2)]")")"
refute "the peer removed from the list is removed from the kernel" sh -c "ip netns exec $p-h1 ip neigh show dev shvx4097 | grep -q 10.0.1.7"
check "traffic flows again" in_ctr h1 busybox ping -c1 -W2 10.0.1.6

# A task on two overlays (the ingress network and its own, say): eth0 on
# the first with the default route, eth1 on the second joined after.
BACK=b4ckn3tw0rk0000000000002
back_item="{\"Kind\":\"network\",\"ID\":\"$BACK\",\"Name\":\"back\",\"VNI\":4098,\"Subnet\":\"10.0.2.0/24\",\"Gateway\":\"10.0.2.1\",\"Peers\":[]}"
check "h1: a set with both networks" \
	agent h1 assign "$(set_of "$(net_item "[$(peer 10.0.1.6 192.168.251.2)]")" "$back_item")"
agent h1 attach $NET 10.0.1.20 $BACK 10.0.2.20 > "$T/h1/ctr.3" || bad "h1: attach to two overlays"
in3() { nsenter --net="$(cut -d' ' -f2 "$T/h1/ctr.3")" "$@"; }
check "eth1 is on the second overlay with its address" sh -c "nsenter --net=$(cut -d' ' -f2 "$T/h1/ctr.3") ip addr show eth1 | grep -q 10.0.2.20/24"
check "eth1 has Docker's MAC and MTU 1450" sh -c "nsenter --net=$(cut -d' ' -f2 "$T/h1/ctr.3") ip link show eth1 | grep -q 'mtu 1450' && nsenter --net=$(cut -d' ' -f2 "$T/h1/ctr.3") ip link show eth1 | grep -q 02:42:0a:00:02:14"
[ "$(in3 ip route | grep -c default)" = 1 ] && ok "one default route, through the first network" || bad "default routes: $(in3 ip route)"
check "the two-network task reaches the task beside it on the first" in3 busybox ping -c1 -W2 10.0.1.5
check "and its gateway on the second" in3 busybox ping -c1 -W2 10.0.2.1
agent h1 detach "$(cut -d' ' -f1 "$T/h1/ctr.3")"; rm -f "$T/h1/ctr.3"

# A bad item is refused whole and changes nothing; the network stays
# while its container is on it even if no item names it.
before=$(on h1 bridge fdb show dev shvx4097 | sort)
agent h1 assign "$(set_of "$(net_item "[$(peer 10.9.9.9 192.168.251.2)]")")" 2>/dev/null
[ "$(on h1 bridge fdb show dev shvx4097 | sort)" = "$before" ] && ok "a peer outside the subnet: the item is refused, nothing changes" || bad "a bad item changed the FDB"
agent h1 assign "$(set_of)"
check "an empty set while the task's namespace is still there keeps the network" on h1 ip link show shov4097
agent h1 detach "$(cut -d' ' -f1 "$T/h1/ctr.1")"; rm -f "$T/h1/ctr.1"
agent h1 assign "$(set_of)"
refute "once the container is gone the next set leaves it: no bridge" on h1 ip link show shov4097
refute "no vxlan device" on h1 ip link show shvx4097
refute "no record" test -e "$T/h1/data/network/$NET.json"
refute "no nftables rule names it" sh -c "ip netns exec $p-h1 nft list ruleset | grep -q shov4097"
echo "system-overlay-agent: $fails failed"
[ "$fails" = 0 ]
