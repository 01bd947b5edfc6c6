# shellcheck shell=bash
# Harness for tests/cluster scenarios (sourced by each scenario's run.sh).
#
# A scenario calls lab_begin N to get a fresh lab of N hosts in a private
# state directory; an EXIT trap always tears it down (`scripts/lab down`),
# whether the scenario passed, failed an assertion, or died on an error, and
# on failure first prints the lab's status and the tail of every host's log.
# Assertions do not stop the scenario: each prints "ok - ..." or
# "FAIL - ..." with what was expected and what came back, and the scenario's
# exit status is the number of failures (capped). A scenario that cannot run
# here (not root, no namespaces) exits 77, which ctest reports as skipped.
#
# Settings honoured: SHOAL_SOURCE_DIR (repository), SHOAL_BIN_DIR (build dir
# with daemon/shoald and cli/shoal; when there is no shoald there, lab_begin
# runs a stand-in daemon: busybox nc on TCP 7946 answering its hostname).

set -euo pipefail

SHOAL_SOURCE_DIR=${SHOAL_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
SHOAL_BIN_DIR=${SHOAL_BIN_DIR:-$SHOAL_SOURCE_DIR/build/release}
export SHOAL_SOURCE_DIR SHOAL_BIN_DIR

LAB_SCRIPT=$SHOAL_SOURCE_DIR/scripts/lab
STANDIN_PORT=7946
# A daemon that answers its hostname on TCP $STANDIN_PORT.
SHOAL_LAB_DAEMON_STANDIN="busybox nc -ll -p $STANDIN_PORT -e hostname"
lab_other_dirs=() # more labs a scenario made (lab_other), also torn down
t_passed=0
t_failed=0
t_name=$(basename "$(dirname "$(readlink -f "$0")")")

lab() { "$LAB_SCRIPT" "$@"; }

note() { echo "# $*"; }

skip() {
	echo "SKIP: $t_name: $*"
	exit 77
}

# lab_require: skips unless this process may create namespaces and mounts.
lab_require() {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	unshare --net --mount true 2>/dev/null ||
		skip "cannot create network and mount namespaces here"
	local c
	for c in ip nft nsenter findmnt setsid busybox; do
		command -v "$c" >/dev/null ||
			{ echo "FAIL - $c not installed (scripts/setup installs it)"; exit 1; }
	done
}

# has_shoald: the build holds a real shoald (else the stand-in is used).
has_shoald() { [ -x "$SHOAL_BIN_DIR/daemon/shoald" ]; }

# lab_begin N: a fresh lab of N hosts in its own state dir, torn down at exit.
lab_begin() {
	local n=$1
	lab_require
	SHOAL_LAB_DIR=$(mktemp -d "/run/shoal-lab-$t_name.XXXXXX")
	SHOAL_LAB_NAME="t-$t_name"
	export SHOAL_LAB_DIR SHOAL_LAB_NAME
	if ! has_shoald; then
		note "no shoald in $SHOAL_BIN_DIR: using the stand-in daemon"
		export SHOAL_LAB_DAEMON="exec $SHOAL_LAB_DAEMON_STANDIN"
	fi
	trap lab_end EXIT
	trap 'exit 130' INT TERM
	lab up "$n"
}

# lab_other NAME: prints the state dir of a second lab, for a scenario
# that runs two side by side (use it as SHOAL_LAB_DIR=...; torn down at
# exit like the first).
lab_other() {
	local dir
	dir=$(mktemp -d "/run/shoal-lab-$t_name-$1.XXXXXX")
	lab_other_dirs+=("$dir")
	echo "$dir"
}

lab_end() {
	local rc=$? h log dir
	trap - EXIT
	if [ "$rc" -ne 0 ] || [ "$t_failed" -ne 0 ]; then
		if [ -f "${SHOAL_LAB_DIR:-/nonexistent}/config" ]; then
			lab status || true
			for log in "$SHOAL_LAB_DIR"/h*/shoald.log; do
				[ -f "$log" ] || continue
				h=$(basename "$(dirname "$log")")
				echo "--- last lines of $h's log"
				tail -n 30 "$log" || true
			done
		fi
	fi
	if [ -n "${SHOAL_LAB_DIR:-}" ] && [ -d "$SHOAL_LAB_DIR" ]; then
		lab down || echo "FAIL - lab down failed"
	fi
	for dir in "${lab_other_dirs[@]}"; do
		[ -d "$dir" ] || continue
		SHOAL_LAB_DIR=$dir lab down || echo "FAIL - lab down of $dir failed"
	done
	lab_summary "$rc"
}

lab_summary() {
	local rc=${1:-0}
	[ "$rc" -eq 0 ] || [ "$rc" -eq 77 ] ||
		echo "FAIL - $t_name stopped early (exit $rc)"
	echo "$t_name: $t_passed passed, $t_failed failed"
	if [ "$rc" -eq 77 ]; then
		exit 77
	fi
	if [ "$t_failed" -ne 0 ] || [ "$rc" -ne 0 ]; then
		exit 1
	fi
	exit 0
}

pass() {
	t_passed=$((t_passed + 1))
	echo "ok - $1"
}

fail() {
	t_failed=$((t_failed + 1))
	echo "FAIL - $1"
	shift
	local line
	for line in "$@"; do
		echo "       $line"
	done
}

# assert_ok DESC CMD...: CMD exits 0.
assert_ok() {
	local desc=$1 out rc=0
	shift
	out=$("$@" 2>&1) || rc=$?
	if [ "$rc" -eq 0 ]; then
		pass "$desc"
	else
		fail "$desc" "command: $*" "exit $rc, output: $out"
	fi
}

# assert_fails DESC CMD...: CMD exits non-zero.
assert_fails() {
	local desc=$1 out rc=0
	shift
	out=$("$@" 2>&1) || rc=$?
	if [ "$rc" -ne 0 ]; then
		pass "$desc"
	else
		fail "$desc" "command: $*" "expected failure, got exit 0: $out"
	fi
}

# assert_eq DESC EXPECTED ACTUAL
assert_eq() {
	if [ "$2" = "$3" ]; then
		pass "$1"
	else
		fail "$1" "expected: $2" "actual:   $3"
	fi
}

# assert_contains DESC NEEDLE HAYSTACK
assert_contains() {
	if [[ "$3" == *"$2"* ]]; then
		pass "$1"
	else
		fail "$1" "expected to contain: $2" "actual: $3"
	fi
}

# assert_not_contains DESC NEEDLE HAYSTACK
assert_not_contains() {
	if [[ "$3" != *"$2"* ]]; then
		pass "$1"
	else
		fail "$1" "expected not to contain: $2" "actual: $3"
	fi
}

# wait_for SECONDS CMD...: polls CMD (quietly) every 0.1 s until it exits 0;
# returns 1 when it never did.
wait_for() {
	local secs=$1 end
	shift
	end=$((SECONDS + secs))
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.1
	done
}

# assert_eventually DESC SECONDS CMD...: CMD succeeds within SECONDS.
assert_eventually() {
	local desc=$1 secs=$2 out rc=0
	shift 2
	if wait_for "$secs" "$@"; then
		pass "$desc"
	else
		out=$("$@" 2>&1) || rc=$?
		fail "$desc" "not true after ${secs}s: $*" "last exit $rc: $out"
	fi
}

# lab_partition "A..." "B...": cut every host of the first group from every
# host of the second (a minority from the rest, say); `lab heal` undoes it.
lab_partition() {
	local a b
	for a in $1; do
		for b in $2; do
			lab cut "$a" "$b"
		done
	done
}

# Reachability inside the lab: one ICMP echo with a one-second wait.
lab_ping() { lab exec "$1" busybox ping -c 1 -W 1 "$(lab addr "$2")"; }

# lab_ask HOST PEER: what PEER's daemon answers HOST over the lab network
# (the stand-in answers its hostname).
lab_ask() {
	lab exec "$1" busybox nc -w 2 "$(lab addr "$2")" "$STANDIN_PORT" </dev/null
}

# tagged_pids DIR: pids of live processes started by the lab in DIR inside
# one of its hosts (the lab puts SHOAL_LAB_DIR and SHOAL_LAB_HOST in the
# environment of everything it starts there; the tests export only the
# first).
tagged_pids() {
	local f
	# grep exits 2 for the files it may not read (pid 1's, say).
	{ grep -lzxF "SHOAL_LAB_DIR=$1" /proc/[0-9]*/environ 2>/dev/null ||
		true; } |
		while read -r f; do
			if grep -qz '^SHOAL_LAB_HOST=' "$f" 2>/dev/null; then
				f=${f#/proc/}
				echo "${f%/environ}"
			fi
		done
}

# proc_start PID: field 22 of /proc/PID/stat (start time), which tells a
# process from a later one that reused its pid.
proc_start() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	# shellcheck disable=SC2086
	set -- $stat
	echo "${20}"
}

# same_process PID START: the process PID that started at START still runs.
same_process() {
	pid_alive "$1" && [ "$(proc_start "$1" || true)" = "$2" ]
}

# cgroup_dirs_named NAME: cgroup directories called NAME anywhere in the
# machine's cgroup hierarchies (a container's cgroup is named by its id).
cgroup_dirs_named() {
	find /sys/fs/cgroup -maxdepth 6 -type d -name "$1" 2>/dev/null || true
}

# mount_holders TEXT: pids whose mount table names TEXT (a container's
# rootfs overlay names its id in upperdir=); one per mount namespace is
# enough to keep the mount alive.
mount_holders() {
	{ grep -lF "$1" /proc/[0-9]*/mountinfo 2>/dev/null || true; } |
		sed 's|^/proc/\([0-9]*\)/.*|\1|'
}

# lab_busybox HOST: imports a busybox image (scripts/mkimage-busybox) into
# HOST's shoald as busybox:latest.
lab_busybox() {
	local tar
	tar=$(mktemp /tmp/shoal-lab-busybox.XXXXXX)
	if ! "$SHOAL_SOURCE_DIR/scripts/mkimage-busybox" "$tar" ||
		! lab exec "$1" shoal image import "$tar" busybox >/dev/null; then
		rm -f "$tar"
		return 1
	fi
	rm -f "$tar"
}

# container_pid HOST ID: the host pid of the container's init (State.Pid).
container_pid() {
	lab exec "$1" shoal inspect "$2" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print((d[0] if isinstance(d, list) else d)["State"]["Pid"])'
}

# pid_alive PID: PID runs (a zombie waiting for its reaper has died).
pid_alive() {
	local state
	state=$({ sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' \
		"/proc/$1/status"; } 2>/dev/null) || return 1
	[ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}
