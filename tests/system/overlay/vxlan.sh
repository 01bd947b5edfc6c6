#!/usr/bin/env bash
# The overlay data plane's kernel side (overlay-net/vxlan.c) between two
# hosts that are network namespaces of the test's own, joined by a veth
# pair (192.168.250.1 and .2, the VTEPs). On each host one overlay (VNI
# 4200): the bridge and the VXLAN device (learning off, proxy on, UDP
# 4789, MTU 1450), and a "container" namespace with a veth on the bridge
# (10.0.0.2 on h1, 10.0.0.3 on h2). With the static FDB and neighbour
# entries the containers reach each other and ARP is answered on their
# own host; without them (before, and after the peer is removed) nothing
# crosses; down removes both devices. Everything is removed at exit.
set -u
TOOL=$1
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
unshare --net true 2>/dev/null || { echo "SKIP: no network namespaces"; exit 77; }
command -v busybox >/dev/null || { echo "FAIL - busybox not installed (scripts/setup installs it)"; exit 1; }
p="ovlt$$"
fails=0
ok() { echo "ok - $1"; }
bad() { echo "FAIL - $1"; fails=$((fails + 1)); }
check() { local what=$1; shift; if "$@" >/dev/null 2>&1; then ok "$what"; else bad "$what"; fi; }
refute() { local what=$1; shift; if "$@" >/dev/null 2>&1; then bad "$what"; else ok "$what"; fi; }
on() { local ns=$1; shift; ip netns exec "$p-$ns" "$@"; }
cleanup() {
	for ns in h1 h2 c1 c2; do ip netns del "$p-$ns" 2>/dev/null; done
}
[ -n "${KEEP:-}" ] || trap cleanup EXIT
for ns in h1 h2 c1 c2; do ip netns add "$p-$ns"; on "$ns" ip link set lo up; done
ip link add "${p}a" netns "$p-h1" type veth peer name "${p}b" netns "$p-h2"
on h1 ip addr add 192.168.250.1/24 dev "${p}a"; on h1 ip link set "${p}a" up
on h2 ip addr add 192.168.250.2/24 dev "${p}b"; on h2 ip link set "${p}b" up
mac1=02:42:0a:00:00:02 mac2=02:42:0a:00:00:03

check "h1: the overlay comes up" on h1 "$TOOL" up 4200 192.168.250.1 1450
check "h2: the overlay comes up (with the gateway on its bridge)" \
	on h2 "$TOOL" up 4200 192.168.250.2 1450 10.0.0.1/24
refute "a second up is refused" on h1 "$TOOL" up 4200 192.168.250.1 1450
d=$(on h1 ip -d link show shvx4200)
case "$d" in *"vxlan id 4200"*"local 192.168.250.1"*"dstport 4789"*nolearning*proxy*) ok "vxlan: id, local VTEP, port 4789, nolearning, proxy" ;;
*) bad "vxlan settings: $d" ;; esac
case "$d" in *"master shov4200"*) ok "the vxlan device is a port of the bridge" ;; *) bad "not on the bridge: $d" ;; esac
case "$(on h1 ip link show shov4200)" in *"mtu 1450"*UP*|*UP*"mtu 1450"*|*"mtu 1450"*) ok "bridge MTU 1450" ;; *) bad "bridge MTU" ;; esac
check "h2's bridge has the gateway address" sh -c "ip netns exec $p-h2 ip addr show shov4200 | grep -q 10.0.0.1/24"

# A container on each host, as the agent will attach it.
for i in 1 2; do
	on "h$i" ip link add "v$i" type veth peer name eth0 netns "$p-c$i"
	on "h$i" ip link set "v$i" master shov4200 mtu 1450 up
	m=$([ $i = 1 ] && echo $mac1 || echo $mac2)
	on "c$i" ip link set eth0 address "$m" mtu 1450 up
	on "c$i" ip addr add "10.0.0.$((i + 1))/24" dev eth0
done
refute "without peer entries nothing crosses" on c1 busybox ping -c1 -W1 10.0.0.3

check "h1: peer 10.0.0.3 behind h2" on h1 "$TOOL" peer add 4200 10.0.0.3 $mac2 192.168.250.2
check "h2: peer 10.0.0.2 behind h1" on h2 "$TOOL" peer add 4200 10.0.0.2 $mac1 192.168.250.1
check "adding a peer again replaces it" on h1 "$TOOL" peer add 4200 10.0.0.3 $mac2 192.168.250.2
check "h1's FDB names the remote VTEP" sh -c "ip netns exec $p-h1 bridge fdb show dev shvx4200 | grep -q '$mac2 dst 192.168.250.2.*permanent'"
check "c1 reaches c2 across the hosts" on c1 busybox ping -c2 -W2 10.0.0.3
check "c2 reaches c1" on c2 busybox ping -c1 -W2 10.0.0.2
check "c1 learned c2's MAC from the proxy" sh -c "ip netns exec $p-c1 ip neigh show 10.0.0.3 | grep -q $mac2"
check "a full 1450-byte packet crosses (VXLAN adds 50 to the 1500 underlay)" on c1 busybox ping -c1 -W2 -s 1422 10.0.0.3
case "$(on h2 ip -d link show shvx4200)" in *nolearning*) ok "h2 nolearning" ;; *) bad "h2 learns" ;; esac
# The bridge learns on its port as any bridge does ("master"); the VXLAN
# device's own table ("self", where the VTEP is chosen) holds only what
# was programmed.
fdbs=$(on h2 bridge fdb show dev shvx4200 | grep " self" | grep -vc "00:00:00:00:00:00")
[ "$fdbs" = 1 ] && ok "h2's VXLAN table holds only its static entry" || bad "h2's VXLAN table has $fdbs entries"

check "h1: the peer is removed" on h1 "$TOOL" peer del 4200 10.0.0.3 $mac2 192.168.250.2
on c1 ip neigh flush dev eth0
refute "after removal c1 no longer reaches c2" on c1 busybox ping -c1 -W1 10.0.0.3
refute "a peer on an overlay that is not up is refused" on h1 "$TOOL" peer add 4300 10.0.0.3 $mac2 192.168.250.2
check "down removes the devices" on h1 "$TOOL" down 4200
refute "no bridge left" on h1 ip link show shov4200
refute "no vxlan device left" on h1 ip link show shvx4200
echo "system-overlay-vxlan: $fails failed"
[ "$fails" = 0 ]
