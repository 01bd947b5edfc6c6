#!/usr/bin/env bash
# The shoal CLI against shoald with real containers: output, exit codes,
# logs (also after a daemon restart), exec, a detached container that
# survives a restart, stop, rm, volumes, and bad input that must leave no
# container behind.
SHOALD=$1 SHOAL=$2 SRC=$3
. "$(dirname "$0")/lib.sh"
make_image
daemon_start
# Every shoal command under its own timeout (a hang is a failure with
# shoald's log, not a ctest timeout).
S=$(timed_wrapper shoal "$SHOAL")

check "import makes an image listed by shoal images" \
	bash -c "'$S' image import --change 'CMD [\"sh\"]' '$work/busybox.tar' busybox:latest >/dev/null && '$S' images | grep -q '^busybox *latest'"

out=$("$S" run --name hello busybox sh -c 'echo to-stdout; echo to-stderr >&2; exit 3' 2>"$work/err")
rc=$?
track "$("$S" inspect hello 2>/dev/null | sed -n 's/.*"Id": "\([0-9a-f]*\)".*/\1/p' | head -1)"
check "run prints the container's stdout" test "$out" = "to-stdout"
check "run prints the container's stderr on stderr" grep -q to-stderr "$work/err"
check "run passes the exit code through" test "$rc" = 3
check "ps -a shows the exited container as docker does" \
	bash -c "'$S' ps -a | grep hello | grep -q 'Exited (3)'"

id=$("$S" run -d --name bg busybox sh -c 'echo started; while true; do sleep 1; done')
track "$id"
check "run -d prints the full id" bash -c "[[ '$id' =~ ^[0-9a-f]{64}$ ]]"
sleep 0.3
check "ps lists the detached container as Up" \
	bash -c "'$S' ps | grep bg | grep -q ' Up '"
check "logs shows the detached container's output" \
	bash -c "'$S' logs bg | grep -q started"
check "exec sees the container's hostname" \
	bash -c "test \"\$('$S' exec bg hostname)\" = '${id:0:12}'"
check "exec sees the container's pid namespace" \
	bash -c "'$S' exec bg ps | awk 'NR>1 {print \$1}' | grep -qx 1"
"$S" exec bg sh -c 'exit 5'
check "exec passes the exit code through" test $? = 5
check "exec -i feeds stdin" \
	bash -c "test \"\$(echo piped | '$S' exec -i bg cat)\" = piped"
fid=$("$S" run -d --name follow busybox sh -c 'echo one; sleep 0.5; echo two; sleep 0.5; echo three')
track "$fid"
out=$(timeout 10 "$S" logs -f follow)
check "logs -f follows the output and ends when the container exits" \
	test "$(echo $out)" = "one two three"
check "restart runs the container again" \
	bash -c "'$S' restart -t 1 follow >/dev/null && sleep 1.5 && test \"\$('$S' logs follow | grep -c one)\" = 2"
check "pause and unpause show in ps" \
	bash -c "'$S' pause bg >/dev/null && '$S' ps | grep bg | grep -q '(Paused)' && '$S' unpause bg >/dev/null && ! '$S' ps | grep bg | grep -q Paused"
check "wait prints the exit code" \
	bash -c "test \"\$('$S' wait follow)\" = 0"
"$S" rm follow >/dev/null

echo cp-data >"$work/local.txt"
check "cp copies a file into the container" \
	bash -c "'$S' cp '$work/local.txt' bg:/tmp/in.txt && test \"\$('$S' exec bg cat /tmp/in.txt)\" = cp-data"
check "cp copies a folder out of the container" \
	bash -c "'$S' cp bg:/etc '$work/etc-out' && test -f '$work/etc-out/passwd'"

rmid=$("$S" run -d --rm busybox sleep 1)
track "$rmid"
daemon_stop
sleep 1.5
daemon_start
check "an --rm container that exited while shoald was stopped is removed" \
	bash -c "! '$S' ps -aq --no-trunc | grep -q '$rmid'"
check "a detached container survives a shoald restart and is listed Up" \
	bash -c "'$S' ps | grep bg | grep -q ' Up '"
check "logs of an exited container survive a shoald restart" \
	bash -c "'$S' logs hello 2>&1 | grep -q to-stdout"
check "exec works in a re-attached container" \
	bash -c "'$S' exec bg true"
check "stop stops the re-attached container" \
	bash -c "'$S' stop -t 1 bg >/dev/null && '$S' ps -a | grep bg | grep -q Exited"
check "rm removes both containers" \
	bash -c "'$S' rm hello bg >/dev/null && test -z \"\$('$S' ps -aq)\""

"$S" run --name p1 busybox true
track "$("$S" inspect p1 | sed -n 's/.*"Id": "\([0-9a-f]*\)".*/\1/p' | head -1)"
check "container prune removes stopped containers" \
	bash -c "'$S' container prune -f | grep -q 'Deleted Containers' && '$S' container prune -f | grep -qx 'Total reclaimed space: 0B' && test -z \"\$('$S' ps -aq)\""

check "volume create, ls, rm" \
	bash -c "'$S' volume create data1 >/dev/null && '$S' volume ls | grep -q data1 && '$S' volume rm data1 >/dev/null && ! '$S' volume ls | grep -q data1"

# Bad input: a clear error, an exit code of 125, and no container left.
bad() { # bad "sentence" "expected message" args...
	local what=$1 msg=$2; shift 2
	local e rc
	e=$("$S" run --rm "$@" 2>&1 >/dev/null); rc=$?
	if [ "$rc" -ne 0 ] && grep -qi -- "$msg" <<<"$e" && [ -z "$(all_ids)" ]; then
		ok "$what"
	else
		fail "$what (rc=$rc, said: $e, left: $(all_ids))"
	fi
}
bad "an unknown image is refused" "No such image" nosuch:latest true
bad "an invalid mount spec is refused" "invalid" -v "a:b:c:d" busybox true
bad "a bad memory value is refused" "invalid size" -m 12zz busybox true
bad "a memory limit below 6MB is refused" "Minimum memory" -m 1k busybox true
bad "a command that does not exist is refused" "not found" busybox no-such-cmd
echo '{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [ {' >"$work/bad.json"
bad "a malformed seccomp profile is refused" "seccomp" \
	--security-opt "seccomp=$work/bad.json" busybox true
"$S" image import "$work/busybox.tar" nocmd:latest >/dev/null
bad "an image without a command and no command is refused" \
	"no command specified" nocmd:latest
finish
