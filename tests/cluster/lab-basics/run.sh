#!/usr/bin/env bash
# The lab itself: three hosts that look like three machines (own hostname,
# address, /run/shoal and /var/lib/shoal), a network between them that
# `cut` and `heal` control pair by pair, daemons that `kill`, `stop` and
# `start` control host by host, and a `down` that leaves nothing behind,
# not even the containers running inside a host (one of them paused),
# even after an `up` that was killed halfway.
# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/../lib.sh"

links_before=$(ip -o link show | awk -F': ' '{print $2}' | sort)
lab_begin 3
dir=$SHOAL_LAB_DIR

note "each host is its own machine"
for h in h1 h2 h3; do
	assert_eq "$h has hostname $h" "$h" "$(lab exec "$h" hostname)"
	assert_contains "$h has address $(lab addr "$h") on eth0" \
		"inet $(lab addr "$h")/24" \
		"$(lab exec "$h" ip -4 -o addr show dev eth0)"
done
assert_eq "the machine's own network namespace gained no link" \
	"$links_before" "$(ip -o link show | awk -F': ' '{print $2}' | sort)"
assert_not_contains "the machine's own namespace has no lab address" \
	"10.213.0." "$(ip -4 -o addr show)"
assert_eq "hosts resolve each other's names" "$(lab addr h3)" \
	"$(lab exec h1 getent hosts h3 | awk '{print $1}')"

lab exec h1 sh -c 'echo from-h1 >/run/shoal/lab-mark'
lab exec h1 sh -c 'echo from-h1 >/var/lib/shoal/lab-mark'
assert_eq "h1 reads back what it wrote in /run/shoal" "from-h1" \
	"$(lab exec h1 cat /run/shoal/lab-mark)"
assert_fails "h2 does not see h1's /run/shoal" \
	lab exec h2 test -e /run/shoal/lab-mark
assert_fails "h2 does not see h1's /var/lib/shoal" \
	lab exec h2 test -e /var/lib/shoal/lab-mark
assert_fails "the machine itself does not see h1's /run/shoal" \
	test -e /run/shoal/lab-mark

note "the lab network"
assert_ok "h1 reaches h2" lab_ping h1 h2
assert_ok "h1 reaches h3" lab_ping h1 h3
lab cut h1 h2
assert_fails "after cut h1 h2, h1 no longer reaches h2" lab_ping h1 h2
assert_fails "after cut h1 h2, h2 no longer reaches h1" lab_ping h2 h1
assert_ok "after cut h1 h2, h1 still reaches h3" lab_ping h1 h3
assert_ok "after cut h1 h2, h2 still reaches h3" lab_ping h2 h3
assert_contains "status lists the cut" "h1<->h2" "$(lab status)"
lab heal
assert_ok "after heal, h1 reaches h2 again" lab_ping h1 h2
assert_ok "after heal, h2 reaches h1 again" lab_ping h2 h1
assert_contains "status lists no cut after heal" "cuts: none" "$(lab status)"

lab_partition "h1" "h2 h3"
assert_fails "after partitioning h1 from h2 h3, h1 no longer reaches h3" \
	lab_ping h1 h3
assert_ok "while h2 and h3 still reach each other" lab_ping h2 h3
lab heal h1 h3
assert_ok "after heal h1 h3 alone, h1 reaches h3" lab_ping h1 h3
assert_fails "and h1 still does not reach h2" lab_ping h1 h2
lab heal
assert_ok "after heal, h1 reaches h2 once more" lab_ping h1 h2

note "bad requests are refused and change nothing"
assert_fails "cut of a host with itself is refused" lab cut h1 h1
assert_fails "cut of a host outside the lab is refused" lab cut h1 h9
assert_fails "exec on a host outside the lab is refused" lab exec h4 true
assert_fails "a second up on the same lab is refused" lab up 2
assert_contains "the lab still has its three hosts" "h3 " "$(lab status)"
junk=$(mktemp -d /tmp/shoal-lab-junk.XXXXXX)
touch "$junk/keep"
assert_fails "up in a directory that is not empty is refused" \
	env SHOAL_LAB_DIR="$junk" "$LAB_SCRIPT" up 1
assert_fails "down of a directory that holds no lab is refused" \
	env SHOAL_LAB_DIR="$junk" "$LAB_SCRIPT" down
assert_eq "and the directory is left as it was" "keep" "$(ls -A "$junk")"
rm -rf "$junk"
assert_fails "a relative or odd SHOAL_LAB_DIR is refused" \
	env SHOAL_LAB_DIR=../x "$LAB_SCRIPT" down
junk=$(mktemp -d /run/shoal-lab-junk.XXXXXX)
assert_fails "up with its own --cgroup-parent in SHOAL_LAB_DAEMON_ARGS is refused" \
	env SHOAL_LAB_DIR="$junk" SHOAL_LAB_DAEMON_ARGS="--cgroup-parent x" \
	"$LAB_SCRIPT" up 1
assert_fails "and leaves no lab behind" test -e "$junk/config"
SHOAL_LAB_DIR=$junk lab down >/dev/null 2>&1 || rmdir "$junk" 2>/dev/null || true

note "daemons"
if has_shoald; then
	info_name() {
		lab exec "$1" shoal info | sed -n 's/^ *Name: *//p'
	}
	answers() { info_name "$1" >/dev/null; }
	for h in h1 h2 h3; do
		assert_eq "shoal info inside $h answers from $h's shoald" "$h" \
			"$(info_name "$h")"
	done
	if command -v docker >/dev/null; then
		assert_eq "docker info inside h3 answers from h3's shoald" h3 \
			"$(lab exec h3 docker info --format '{{.Name}}')"
	fi
else
	answers() { [ "$(lab_ask h1 "$1")" = "$1" ]; }
	for h in h2 h3; do
		assert_eq "h1 gets an answer from $h's daemon" "$h" \
			"$(lab_ask h1 "$h")"
	done
fi
old=$(lab pid h2)
lab kill h2
assert_fails "after kill h2, its daemon pid $old is gone" pid_alive "$old"
assert_fails "after kill h2, h2's daemon no longer answers" answers h2
assert_contains "status shows h2 stopped" "stopped" \
	"$(lab status | grep '^h2 ')"
assert_fails "kill of a stopped daemon is refused" lab kill h2
lab start h2
assert_eventually "after start h2, h2's daemon answers again" 10 answers h2
assert_ok "h2 has a new daemon pid" test "$(lab pid h2)" != "$old"
assert_fails "start of a running daemon is refused" lab start h2
lab stop h3
assert_fails "after stop h3, h3's daemon no longer answers" answers h3
assert_ok "h1's daemon kept running through all of it" answers h1

note "a second lab beside the first"
other=$(lab_other b)
lab_other_dirs=("$other") # this shell's copy; lab_other ran in a subshell
SHOAL_LAB_DIR=$other SHOAL_LAB_NAME=t-other \
	SHOAL_LAB_DAEMON="exec env SELF={host}@{addr}@{cgroup} $SHOAL_LAB_DAEMON_STANDIN" \
	lab up 2
in_b() { SHOAL_LAB_DIR=$other "$LAB_SCRIPT" "$@"; }
b_cgroup=$(in_b status | sed -n "s/^containers' cgroups: \(.*\)\/hN .*/\1/p")
assert_ok "{host}, {addr} and {cgroup} in the daemon's command become h2's own" \
	grep -qzx "SELF=h2@$(lab addr h2)@$b_cgroup/h2" "/proc/$(in_b pid h2)/environ"
assert_not_contains "each lab has a cgroup parent of its own" "$b_cgroup" \
	"$(lab status)"
assert_eq "the second lab has its own h1" h1 "$(in_b exec h1 hostname)"
assert_contains "at the same address as the first lab's h1" \
	"inet $(lab addr h1)/24" "$(in_b exec h1 ip -4 -o addr show dev eth0)"
assert_eq "the second lab's hosts hold no namespace file (none of the first's)" \
	0 "$(in_b exec h2 grep -c ' - nsfs ' /proc/self/mountinfo || true)"
in_b cut h1 h2
assert_fails "a cut in the second lab holds there" \
	in_b exec h1 busybox ping -c 1 -W 1 "$(lab addr h2)"
assert_ok "and does not reach the first lab" lab_ping h1 h2
in_b down
assert_ok "the first lab still works after the second is down" \
	lab_ping h2 h1
assert_contains "the first lab's status is whole" "h3 " "$(lab status)"

# Containers inside a host live in namespaces of their own, out of the
# lab's: down must end them by their cgroups (its own per host) and
# recorded pids, or they outlive the lab as orphans.
ctr_ids=()
ctr_pids=()
ctr_starts=()
if has_shoald; then
	note "containers inside a host"
	assert_ok "a busybox image is imported into h1" lab_busybox h1
	ctr_ids+=("$(lab exec h1 shoal run -d busybox sleep 1000 || true)")
	ctr_ids+=("$(lab exec h1 shoal run -d busybox \
		sh -c 'sleep 1000 & exec sleep 1001' || true)")
	assert_ok "the second container is paused" \
		lab exec h1 shoal pause "${ctr_ids[1]:-none}"
	for c in "${ctr_ids[@]}"; do
		pid=$(container_pid h1 "$c" 2>/dev/null || echo 0)
		ctr_pids+=("$pid")
		ctr_starts+=("$(proc_start "$pid" || echo none)")
		assert_ok "container ${c:0:12} runs in h1 (pid $pid)" \
			same_process "$pid" "${ctr_starts[-1]}"
		assert_ok "container ${c:0:12} has cgroup directories" \
			test -n "$(cgroup_dirs_named "$c")"
		assert_ok "container ${c:0:12} has its rootfs mounted" \
			test -n "$(mount_holders "$c")"
	done
	ctr_parent_dirs=$(for c in "${ctr_ids[@]}"; do
		cgroup_dirs_named "$c" | xargs -r -n1 dirname
	done | sort -u)
	assert_eq "h1's containers are in a cgroup parent of h1's own, not the machine's default" \
		"" "$(echo "$ctr_parent_dirs" | grep -v '/h1$' || true)"
fi

note "down leaves nothing behind"
ns_ids=()
for f in "$dir"/ns/*; do
	ns_ids+=("$(basename "$f" | cut -d. -f2):[$(stat -L -c %i "$f")]")
done
pids=$(tagged_pids "$dir" | tr '\n' ' ')
assert_ok "the lab's processes are found by their tag before down" \
	test -n "$pids"
"$LAB_SCRIPT" exec h3 sleep 300 2>/dev/null &
exec_pid=$!
disown "$exec_pid" # its death at down is expected, not news
in_h3() {
	[ "$(readlink "/proc/$exec_pid/ns/net")" = "${ns_ids[2]}" ]
}
wait_for 5 in_h3 || true
lab down
assert_eq "no process started by the lab survives down (a stray exec too)" \
	"" "$(tagged_pids "$dir")"
for i in "${!ctr_ids[@]}"; do
	c=${ctr_ids[$i]}
	assert_fails "no process of container ${c:0:12} survives down (pid ${ctr_pids[$i]})" \
		same_process "${ctr_pids[$i]}" "${ctr_starts[$i]}"
	assert_eq "no cgroup directory of container ${c:0:12} remains" "" \
		"$(cgroup_dirs_named "$c")"
	assert_eq "no mount of container ${c:0:12} remains in any namespace" "" \
		"$(mount_holders "$c")"
done
if [ ${#ctr_ids[@]} -gt 0 ]; then
	left=""
	for d in $ctr_parent_dirs; do
		[ -e "$d" ] && left="$left $d"
	done
	assert_eq "no cgroup of h1 (the containers' parent) remains" "" "$left"
fi
assert_eq "no mount under the lab dir remains" "" \
	"$(grep -F " $dir" /proc/self/mountinfo || true)"
left=""
for id in "${ns_ids[@]}"; do
	grep -qF "$id" /proc/self/mountinfo && left="$left $id"
done
assert_eq "no namespace file of the lab stays mounted" "" "$left"
assert_eq "the machine's own network namespace has the links it had" \
	"$links_before" "$(ip -o link show | awk -F': ' '{print $2}' | sort)"
assert_fails "the lab dir is gone" test -e "$dir"
assert_ok "a second down succeeds and does nothing" lab down

note "down after an up killed halfway"
SHOAL_LAB_DIR=$(mktemp -d "/run/shoal-lab-$t_name.XXXXXX")
dir=$SHOAL_LAB_DIR
"$LAB_SCRIPT" up 3 >/dev/null 2>&1 &
up_pid=$!
wait_for 5 test -e "$dir/ns/h1.mnt" || true
kill -KILL "$up_pid" 2>/dev/null || true
wait "$up_pid" 2>/dev/null || true
sleep 0.5
lab down
assert_fails "the half-made lab dir is gone" test -e "$dir"
assert_eq "no process of the half-made lab survives" "" \
	"$(tagged_pids "$dir")"
assert_eq "no mount of the half-made lab remains" "" \
	"$(grep -F " $dir" /proc/self/mountinfo || true)"
assert_eq "the machine's links are as before" \
	"$links_before" "$(ip -o link show | awk -F': ' '{print $2}' | sort)"
