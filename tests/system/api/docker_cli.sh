#!/usr/bin/env bash
# The real docker CLI (v28) against shoald: import, images, run attached
# (output and exit code), run -d, ps, logs, exec, inspect, stop, rm, and
# load of a saved archive. Skipped when /usr/local/bin/docker is absent.
SHOALD=$1 SHOAL=$2 SRC=$3
D=/usr/local/bin/docker
[ -x "$D" ] || { echo "SKIP: no docker CLI at $D"; exit 77; }
. "$(dirname "$0")/lib.sh"
# Every docker command under its own timeout: a hang is a failure with
# shoald's log, not a ctest timeout.
D=$(timed_wrapper docker "$D")
make_image
daemon_start

check "docker import makes an image" \
	bash -c "'$D' import '$work/busybox.tar' busybox:latest | grep -q '^sha256:'"
check "docker images lists it" \
	bash -c "'$D' images | grep -q '^busybox *latest'"

out=$("$D" run --name att busybox sh -c 'echo hello-docker; exit 7' 2>&1)
rc=$?
track "$("$D" inspect -f '{{.Id}}' att 2>/dev/null)"
check "docker run prints the output" test "$out" = hello-docker
check "docker run passes the exit code through" test "$rc" = 7
check "docker ps filters by exit code and by image" \
	bash -c "test \"\$('$D' ps -a --filter exited=7 --format '{{.Names}}')\" = att && test \"\$('$D' ps -a --filter ancestor=nosuch -q)\" = '' && test \"\$('$D' ps -a --filter ancestor=busybox --format '{{.Names}}')\" = att"
check "docker run --rm removes the container after it exits" \
	bash -c "'$D' run --rm --name gone busybox true && ! '$D' ps -a | grep -q gone"

check "docker run -i feeds stdin to the container" \
	bash -c "test \"\$(echo piped | '$D' run -i --rm busybox cat)\" = piped"
"$D" create --name sa busybox sh -c 'echo attached; exit 6' >/dev/null
track "$("$D" inspect -f '{{.Id}}' sa 2>/dev/null)"
out=$("$D" start -a sa 2>&1)
rc=$?
check "docker start -a prints the output and passes the exit code" \
	bash -c "test '$out' = attached && test '$rc' = 6"
"$D" rm sa >/dev/null

id=$("$D" run -d --name det busybox sh -c 'echo det-out; while true; do sleep 1; done')
track "$id"
sleep 0.3
check "docker ps lists the detached container" \
	bash -c "'$D' ps | grep det | grep -q 'Up'"
check "docker logs shows its output" \
	bash -c "'$D' logs det | grep -q det-out"
check "docker exec runs in it with the exit code" \
	bash -c "test \"\$('$D' exec det cat /etc/hostname)\" = '${id:0:12}'; '$D' exec det sh -c 'exit 4'; test \$? = 4"
echo docker-cp >"$work/local.txt"
check "docker cp copies a file in and out" \
	bash -c "'$D' cp '$work/local.txt' det:/tmp/x.txt && '$D' cp det:/tmp/x.txt '$work/back.txt' && test \"\$(cat '$work/back.txt')\" = docker-cp"
check "docker inspect reports it running" \
	bash -c "test \"\$('$D' inspect -f '{{.State.Running}}' det)\" = true"
check "docker stop stops it" \
	bash -c "'$D' stop -t 1 det >/dev/null && test \"\$('$D' inspect -f '{{.State.Status}}' det)\" = exited"
check "docker cp works on a stopped container" \
	bash -c "'$D' cp det:/tmp/x.txt '$work/back2.txt' && test \"\$(cat '$work/back2.txt')\" = docker-cp"
check "docker rm removes both" \
	bash -c "'$D' rm att det >/dev/null && test -z \"\$('$D' ps -aq)\""

check "docker save, rmi and load bring the image back" \
	bash -c "'$D' save -o '$work/saved.tar' busybox:latest && '$D' rmi busybox:latest >/dev/null && ! '$D' images | grep -q busybox && '$D' load -i '$work/saved.tar' | grep -q 'Loaded image: busybox:latest' && '$D' run --rm busybox echo back | grep -q back"

e=$("$D" run --rm nosuch:latest true 2>&1)
rc=$?
if [ "$rc" = 125 ] && grep -q "nosuch" <<<"$e" && [ -z "$("$D" ps -aq)" ]; then
	ok "docker run of an unknown image fails clearly and leaves nothing"
else
	fail "docker run of an unknown image (rc=$rc): $e"
fi
e=$("$D" run --rm -v a:b:c:d busybox true 2>&1)
rc=$?
if [ "$rc" = 125 ] && grep -qi "invalid" <<<"$e" && [ -z "$("$D" ps -aq)" ]; then
	ok "docker run with an invalid mount spec fails clearly and leaves nothing"
else
	fail "docker run with an invalid mount spec (rc=$rc): $e"
fi
finish
