#!/bin/sh
# The docker CLI (v28) talks to shoald: `docker version` and `docker info`
# succeed and show the fields a user looks for; `shoal` prints the same
# server. Runs shoald on temporary roots; skipped when docker is absent.
set -u
shoald=$1
shoal=$2
docker=${DOCKER_BIN:-/usr/local/bin/docker}
if [ ! -x "$docker" ]; then
	echo "SKIP: $docker not found"
	exit 77
fi
# Short: the runtime takes an exec-root of at most 30 characters.
work=$(mktemp -d /tmp/sdc.XXXXXX)
sock="$work/exec/shoald.sock"
pid=""
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		wait "$pid" 2>/dev/null
	fi
	rm -rf "$work"
}
trap cleanup EXIT INT TERM
fail() {
	echo "FAIL: $*"
	echo "--- shoald log"
	cat "$work/shoald.log"
	exit 1
}

"$shoald" --data-root "$work/data" --exec-root "$work/exec" \
	2>"$work/shoald.log" &
pid=$!
i=0
while [ ! -S "$sock" ]; do
	i=$((i + 1))
	[ $i -gt 200 ] && fail "shoald did not create $sock"
	kill -0 "$pid" 2>/dev/null || fail "shoald exited"
	sleep 0.05
done

export DOCKER_HOST="unix://$sock"
export DOCKER_CONFIG="$work/docker-config" # no user config, no contexts
"$docker" version >"$work/version.txt" 2>&1 ||
	fail "docker version: $(cat "$work/version.txt")"
cat "$work/version.txt"
grep -q '^Server: Shoal Engine' "$work/version.txt" || fail "no Server section"
api=$(sed -n 's/^  API version: *\([0-9.]*\).*/\1/p' "$work/version.txt")
minor=${api#1.}
[ -n "$api" ] && [ "$minor" -ge 44 ] || fail "server API version '$api' < 1.44"

"$docker" info >"$work/info.txt" 2>&1 || fail "docker info: $(cat "$work/info.txt")"
cat "$work/info.txt"
grep -q 'Server Version: ' "$work/info.txt" || fail "no Server Version"
grep -q 'OSType: linux' "$work/info.txt" || fail "no OSType linux"
grep -q 'Swarm: inactive' "$work/info.txt" || fail "no Swarm: inactive"
grep -q "Docker Root Dir: $work/data" "$work/info.txt" || fail "wrong root dir"
grep -qi 'error' "$work/info.txt" && fail "docker info printed an error"

SHOAL_HOST="unix://$sock" "$shoal" info >"$work/shoal-info.txt" 2>&1 ||
	fail "shoal info: $(cat "$work/shoal-info.txt")"
grep -q 'OSType: linux' "$work/shoal-info.txt" || fail "shoal info lacks OSType"
echo "PASS"
