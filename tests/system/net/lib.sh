# Shared set-up of the networking system tests: the container API test
# library (private roots, busybox, clean-up, leftovers, shoald in a network
# namespace of the test's own: the "host"), and an "outside" namespace
# joined to it by a veth pair: 10.99.0.1 on the host's side, 10.99.0.2
# outside (another host, or the internet). Nothing touches the machine's
# own namespace.
#   SHOALD SHOAL SRC: paths given by ctest.
. "$SRC/tests/system/api/lib.sh"
command -v nsenter >/dev/null || skip "nsenter missing"
command -v ip >/dev/null || skip "ip missing"
command -v python3 >/dev/null || skip "python3 missing"

outside="shoal-net-out-$$"

# Run a command in shoald's namespace (api/lib.sh's $work/netns).
inhost() { nsenter --net="$work/netns" -- "$@"; }
# Run a command in the outside namespace.
inout() { ip netns exec "$outside" "$@"; }

outside_up() {
	ip netns add "$outside" || exit 1
	ip link add sn-in-$$ type veth peer name sn-out-$$ || exit 1
	ip link set sn-in-$$ netns "$pid" || exit 1
	ip link set sn-out-$$ netns "$outside"
	inhost ip addr add 10.99.0.1/24 dev sn-in-$$
	inhost ip link set sn-in-$$ up
	inout ip addr add 10.99.0.2/24 dev sn-out-$$
	inout ip link set sn-out-$$ up
	inout ip link set lo up
	inout ip route add default via 10.99.0.1
}

net_cleanup() {
	[ -n "${dns_up_pid:-}" ] && kill "$dns_up_pid" 2>/dev/null
	ip netns del "$outside" 2>/dev/null
}
trap 'rc=$?; net_cleanup; (exit $rc); cleanup' EXIT

# Netns mounts of the daemon left under its exec-root.
netns_left() { grep -c " $work/x/netns/" /proc/self/mountinfo; }
