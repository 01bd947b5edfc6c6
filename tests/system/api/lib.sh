# Shared set-up of the container API system tests: private roots, a
# shoald on them, the busybox image from scripts/mkimage-busybox, and a
# clean-up that removes every container, checks nothing is left behind
# (monitors, mounts, cgroups) and stops the daemon. Sourced by the tests.
#   SHOALD SHOAL SRC: paths given by ctest.
set -u
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (containers need namespaces and cgroups)"

# Short: the monitor's sockets live at <exec-root>/<64-hex id>/attach.sock
# and a unix socket path has at most 107 characters.
work=$(mktemp -d /tmp/sa.XXXXXX)
sock="$work/x/shoald.sock"
export SHOAL_HOST="unix://$sock"
export DOCKER_HOST="unix://$sock" DOCKER_CONFIG="$work/docker-config"
pid=""
fails=0
ids_file="$work/ids"
# The test's own cgroup parent, removed at the end (shoald's default is
# "shoal", which a test must not leave behind).
cgparent="shoal-test-$$"
: >"$ids_file"

# shoald runs in a network namespace of the test's own, bound to
# $work/netns (lo up), the same one across restarts: the containers'
# bridge, veth pairs and nftables table never touch the machine's.
daemon_start() {
	if [ ! -e "$work/netns" ]; then
		touch "$work/netns"
		unshare --net="$work/netns" ip link set lo up ||
			{ echo "cannot make a network namespace"; exit 1; }
	fi
	nsenter --net="$work/netns" -- \
		"$SHOALD" --data-root "$work/data" --exec-root "$work/x" \
		--host "unix://$sock" --cgroup-parent "$cgparent" \
		--log-level "${SHOAL_TEST_LOG_LEVEL:-info}" 2>>"$work/shoald.log" &
	pid=$!
	for _ in $(seq 100); do
		[ -S "$sock" ] && curl -sf --unix-socket "$sock" \
			http://x/_ping >/dev/null 2>&1 && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	echo "shoald did not start:"; cat "$work/shoald.log"; exit 1
}

daemon_stop() {
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	pid=""
}

# Remember a container id so the final check can look for its leftovers.
track() { echo "$1" >>"$ids_file"; }

leftovers() {
	local id bad=0
	while read -r id; do
		[ -n "$id" ] || continue
		if grep -q "$id" /proc/self/mountinfo; then
			echo "LEFTOVER mount of $id"; bad=1
		fi
		if ls -d /sys/fs/cgroup/*/"$cgparent"/"$id" >/dev/null 2>&1; then
			echo "LEFTOVER cgroup of $id"; bad=1
		fi
		if pgrep -f "$id" >/dev/null 2>&1; then
			echo "LEFTOVER process of $id"; bad=1
		fi
	done <"$ids_file"
	return $bad
}

# A client command that hangs becomes a failure with diagnostics (rc 124)
# instead of a ctest timeout: every client call goes through timed().
timed() {
	local rc
	timeout -k 5 "${SHOAL_TEST_CMD_TIMEOUT:-30}" "$@"
	rc=$?
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		echo "TIMEOUT after ${SHOAL_TEST_CMD_TIMEOUT:-30}s: $*" >&2
		echo "TIMEOUT: $*" >>"$work/timeouts"
	fi
	return $rc
}

# A wrapper script around @real at $work/bin/@name that runs it under
# timed(), for commands run from `bash -c` strings; prints its path.
timed_wrapper() { # timed_wrapper name real
	mkdir -p "$work/bin"
	cat >"$work/bin/$1" <<-EOF
	#!/usr/bin/env bash
	# On a terminal (run -it under script(1)) the command must stay in
	# the terminal's foreground process group, or reading it stops it.
	fg=; [ -t 0 ] && fg=--foreground
	rc=0
	timeout \$fg -k 5 "\${SHOAL_TEST_CMD_TIMEOUT:-30}" "$2" "\$@" || rc=\$?
	if [ "\$rc" = 124 ] || [ "\$rc" = 137 ]; then
		echo "TIMEOUT: $1 \$*" >&2
		echo "TIMEOUT: $1 \$*" >>"$work/timeouts"
	fi
	exit \$rc
	EOF
	chmod +x "$work/bin/$1"
	echo "$work/bin/$1"
}

# The daemon's log, on any failure or unexpected exit.
dump_log() {
	[ -f "$work/shoald.log" ] || return 0
	echo "----- shoald's log -----"
	cat "$work/shoald.log"
	echo "----- end of shoald's log -----"
}

cleanup() {
	local rc=$?
	if [ "$rc" != 0 ] && [ "$rc" != 77 ] && [ -z "${log_dumped:-}" ]; then
		dump_log
	fi
	if [ -n "$pid" ]; then
		for c in $("$SHOAL" ps -aq --no-trunc 2>/dev/null); do
			"$SHOAL" rm -f "$c" >/dev/null 2>&1
		done
	fi
	daemon_stop
	# Monitors outlive shoald by design: kill any that a failed test left.
	while read -r id; do
		[ -n "$id" ] && pkill -KILL -f "containers/$id" 2>/dev/null
	done <"$ids_file"
	rmdir /sys/fs/cgroup/*/"$cgparent" 2>/dev/null
	# Container namespaces a failed test left bound (shoald unbinds
	# them when it removes the containers), then shoald's own.
	for m in "$work"/x/netns/*; do
		[ -e "$m" ] && umount "$m" 2>/dev/null
	done
	[ -e "$work/netns" ] && umount "$work/netns" 2>/dev/null
	rm -rf "$work"
	exit $rc
}
trap cleanup EXIT

ok() { echo "ok - $*"; }
fail() { echo "FAIL - $*"; fails=$((fails + 1)); }
check() { # check "sentence" command...
	local what=$1; shift
	if "$@"; then ok "$what"; else fail "$what"; fi
}

make_image() {
	"$SRC/scripts/mkimage-busybox" "$work/busybox.tar" >/dev/null ||
		{ echo "cannot build the busybox image"; exit 1; }
}

# The containers left (all states), as ids.
all_ids() { "$SHOAL" ps -aq --no-trunc; }

finish() {
	if ! leftovers; then fails=$((fails + 1)); fi
	daemon_stop
	if grep -q "Sanitizer" "$work/shoald.log"; then
		echo "FAIL - shoald reported a sanitizer error or a leak"
		fails=$((fails + 1))
	fi
	if [ -s "$work/timeouts" ]; then
		cat "$work/timeouts"
		fails=$((fails + 1))
	fi
	if [ "$fails" -ne 0 ]; then
		echo "$fails check(s) failed"
		dump_log
		log_dumped=1
		exit 1
	fi
	echo "all checks passed"
}
