#!/usr/bin/env bash
# Issue 8's runtime findings through the docker CLI and a real shoald, one
# started the way a careless shell would: with the host's "/" open as fd 7
# and not close-on-exec (`exec 7</`). shoald must hold that descriptor
# close-on-exec from its start, no container or exec'd process (with or
# without a tty) may see any descriptor but 0-2, and their inheritable
# and ambient capability sets are empty, for root and for a user.
# Skipped when /usr/local/bin/docker is absent.
SHOALD=$1 SHOAL=$2 SRC=$3
D=/usr/local/bin/docker
[ -x "$D" ] || { echo "SKIP: no docker CLI at $D"; exit 77; }
. "$(dirname "$0")/lib.sh"
D=$(timed_wrapper docker "$D")
make_image
daemon_start 7</

# The shell's own descriptors as another process sees them (ls is not a
# builtin of busybox sh; no pipe in the shell, whose ends it could still
# hold when ls looks; "; true" so it cannot exec ls in its place).
fds='ls /proc/$$/fd; true'
caps="grep -E '^Cap(Inh|Amb)' /proc/self/status"
no_caps="CapInh: 0000000000000000 CapAmb: 0000000000000000"

check "shoald holds the inherited fd 7 on / and close-on-exec" \
	bash -c "test \"\$(readlink /proc/$pid/fd/7)\" = / && flags=\$(awk '/^flags:/ {print \$2}' /proc/$pid/fdinfo/7) && (( 0\$flags & 02000000 ))"
check "docker import makes an image" \
	bash -c "'$D' import '$work/busybox.tar' busybox:latest | grep -q '^sha256:'"

out=$("$D" run --rm busybox sh -c "$fds" 2>&1 | xargs)
check "a container sees only fds 0-2 (got: $out)" test "$out" = "0 1 2"
out=$("$D" run --rm -t busybox sh -c "$fds" 2>&1 | tr -d '\r' | xargs)
check "a container with a tty sees only fds 0-2 (got: $out)" \
	test "$out" = "0 1 2"

id=$("$D" run -d --name sec busybox sleep 1000)
track "$id"
out=$("$D" exec sec sh -c "$fds" 2>&1 | xargs)
check "docker exec sees only fds 0-2 (got: $out)" test "$out" = "0 1 2"
out=$("$D" exec -t sec sh -c "$fds" 2>&1 | tr -d '\r' | xargs)
check "docker exec -t sees only fds 0-2 (got: $out)" test "$out" = "0 1 2"
out=$("$D" exec sec sh -c 'readlink /proc/self/fd/7 || echo none' 2>&1)
check "docker exec cannot reach the host's / through fd 7 (got: $out)" \
	test "$out" = none

for user in root 1000; do
	out=$("$D" run --rm -u "$user" busybox sh -c "$caps" 2>&1 | xargs)
	check "a container as $user has empty inheritable and ambient sets (got: $out)" \
		test "$out" = "$no_caps"
	out=$("$D" exec -u "$user" sec sh -c "$caps" 2>&1 | xargs)
	check "docker exec as $user has empty inheritable and ambient sets (got: $out)" \
		test "$out" = "$no_caps"
done
out=$("$D" run --rm busybox grep -E '^Cap(Prm|Eff|Bnd)' /proc/self/status 2>&1 | xargs)
check "root keeps Docker's default set as permitted, effective and bounding (got: $out)" \
	test "$out" = "CapPrm: 00000000a80425fb CapEff: 00000000a80425fb CapBnd: 00000000a80425fb"

check "docker rm -f removes the container" \
	bash -c "'$D' rm -f sec >/dev/null && test -z \"\$('$D' ps -aq)\""
finish
