#!/usr/bin/env bash
# The Engine API's answers themselves, with curl on the unix socket:
# Docker's status codes and messages for missing objects, conflicts, bad
# parameters and no-ops; list filters; wait; the multiplexed log format;
# exec inspect; stats; an interactive tty through `shoal run -it`.
SHOALD=$1 SHOAL=$2 SRC=$3
command -v curl >/dev/null || { echo "SKIP: curl missing"; exit 77; }
. "$(dirname "$0")/lib.sh"
make_image
daemon_start
# Every shoal command under its own timeout (a hang is a failure with
# shoald's log, not a ctest timeout).
S=$(timed_wrapper shoal "$SHOAL")
"$S" image import --change 'CMD ["sh"]' "$work/busybox.tar" busybox >/dev/null

# api METHOD PATH [BODY] -> status in $st, body in $body
api() {
	local out
	out=$(curl -s -m "${SHOAL_TEST_CMD_TIMEOUT:-30}" --unix-socket "$sock" -X "$1" -w '\n%{http_code}' \
		-H 'Content-Type: application/json' ${3:+--data "$3"} \
		"http://x/v1.45$2")
	st=${out##*$'\n'}
	body=${out%$'\n'*}
}
expect() { # expect "sentence" STATUS [substring of the body]
	if [ "$st" = "$2" ] && { [ -z "${3:-}" ] || grep -qF -- "$3" <<<"$body"; }; then
		ok "$1"
	else
		fail "$1 (got $st: $body)"
	fi
}

api GET /containers/nosuch/json
expect "inspect of a missing container is 404 with Docker's message" 404 '{"message":"No such container: nosuch"}'
api POST /containers/create '{"Image": "busybox", "Cmd": '
expect "a malformed create body is a 400" 400 "invalid JSON"
api POST /containers/create '{"Image": "busybox", "Cmd": ["true"], "HostConfig": {"Memory": 1024}}'
expect "a memory limit below 6MB is a 400" 400 "Minimum memory limit allowed is 6MB"
api POST /containers/create '{"Image": "busybox", "Cmd": ["true"], "HostConfig": {"Binds": ["/x:relative"]}}'
expect "a bind to a relative path is a 400" 400 ""
api POST '/containers/create?name=bad%20name' '{"Image": "busybox"}'
expect "an invalid name is a 400" 400 "Invalid container name"
api POST /containers/create '{"Image": "busybox", "Cmd": ["nosuch-binary"]}'
expect "create does not look for the command" 201 '"Id"'
nb=$(sed -n 's/.*"Id":"\([0-9a-f]*\)".*/\1/p' <<<"$body"); track "$nb"
api POST "/containers/$nb/start"
expect "starting a missing command is a 400 naming it" 400 "nosuch-binary"
api DELETE "/containers/$nb"
expect "the failed container can be removed" 204
test -z "$(all_ids)" && ok "no container is left after the bad requests" ||
	fail "containers left: $(all_ids)"

api POST '/containers/create?name=web' '{"Image": "busybox", "Cmd": ["sh", "-c", "echo out; echo err >&2; sleep 100"], "Labels": {"tier": "front"}}'
expect "create answers 201 with an Id" 201 '"Warnings":[]'
web=$(sed -n 's/.*"Id":"\([0-9a-f]*\)".*/\1/p' <<<"$body"); track "$web"
api POST '/containers/create?name=web' '{"Image": "busybox", "Cmd": ["true"]}'
expect "a taken name is a 409 Conflict" 409 'Conflict. The container name \"/web\" is already in use'
api POST /containers/web/start
expect "start answers 204" 204
api POST /containers/web/start
expect "starting a running container is a 304" 304
api GET /info
expect "/info counts the running container" 200 '"ContainersRunning":1'
expect "/info counts the image" 200 '"Images":1'
api GET '/images/json?filters=%7B%22reference%22%3A%5B%22nosuch%22%5D%7D'
expect "the reference filter of the image list leaves other images out" 200 '[]'
api GET '/images/json?filters=%7B%22reference%22%3A%5B%22busybox%22%5D%7D'
expect "the reference filter of the image list finds busybox" 200 'busybox:latest'

sleep 0.3
api GET '/containers/json?filters=%7B%22label%22%3A%5B%22tier%3Dfront%22%5D%7D'
expect "the label filter finds the container" 200 '"Names":["/web"]'
api GET '/containers/json?filters=%7B%22status%22%3A%5B%22exited%22%5D%7D'
expect "the status filter leaves a running container out" 200 '[]'
api GET '/containers/json?filters=%7B%22bogus%22%3A%5B%22x%22%5D%7D'
expect "an unknown filter is a 400" 400 "invalid filter 'bogus'"
api DELETE /containers/web
expect "removing a running container without force is a 409" 409 "stop the container before removing or force remove"
hdr=$(curl -s --unix-socket "$sock" "http://x/v1.45/containers/web/logs?stdout=1&stderr=1" | od -An -tu1 -N8 | tr -s ' ')
[ "$hdr" = " 1 0 0 0 0 0 0 4" ] && ok "logs are multiplexed with Docker's 8-byte headers" || fail "log header: $hdr"
api POST /containers/web/exec '{"Cmd": ["sh", "-c", "exit 9"], "AttachStdout": true}'
ex=$(sed -n 's/.*"Id":"\([0-9a-f]*\)".*/\1/p' <<<"$body")
curl -s --unix-socket "$sock" -X POST -H 'Content-Type: application/json' \
	--data '{"Detach": true}' "http://x/v1.45/exec/$ex/start" >/dev/null
sleep 0.3
api GET "/exec/$ex/json"
expect "exec inspect reports the exit code" 200 '"ExitCode":9'
api GET '/containers/web/stats?stream=false'
expect "one-shot stats carry cpu and precpu samples" 200 '"precpu_stats"'
api GET /containers/web/top
expect "top lists the container's processes" 200 '"Titles":["UID","PID","PPID"'
api POST /containers/web/pause
expect "pause answers 204" 204
api POST /containers/web/pause
expect "pausing a paused container is a 409" 409 "already paused"
api POST /containers/web/unpause
expect "unpause answers 204" 204
api DELETE /images/busybox
expect "removing an image in use is a 409" 409 "conflict"
api POST '/containers/web/stop?t=1'
expect "stop answers 204" 204
api POST '/containers/web/stop?t=1'
expect "stopping a stopped container is a 304" 304
api POST /containers/web/kill
expect "killing a stopped container is a 409" 409 "is not running"
api POST /containers/web/wait
expect "wait on an exited container gives its status" 200 '"StatusCode":137'
api DELETE /containers/web
expect "an exited container is removed with 204" 204
api GET /containers/web/json
expect "it is gone" 404

api POST /volumes/create '{"Name": "v1"}'
expect "volume create answers 201" 201 '"Mountpoint"'
api POST /containers/create '{"Image": "busybox", "Cmd": ["true"], "HostConfig": {"Binds": ["v1:/data"]}}'
vc=$(sed -n 's/.*"Id":"\([0-9a-f]*\)".*/\1/p' <<<"$body"); track "$vc"
api DELETE /volumes/v1
expect "removing a volume in use is a 409" 409 "volume is in use"
api DELETE "/containers/$vc"
api DELETE /volumes/v1
expect "an unused volume is removed with 204" 204
api GET /volumes/v1
expect "a missing volume is a 404" 404 "no such volume"

# A stopped container's folder is locked while a copy holds its files (the
# copy's helper keeps it until it has unmounted and exited, a moment after
# the client read the archive): a remove waits for it, up to 3 s, then
# answers 409 naming the copy. The test holds that lock itself.
held_dir() { find "$work/data" -maxdepth 4 -type d -path "*/containers/$1" | head -1; }
api POST '/containers/create?name=held' '{"Image": "busybox", "Cmd": ["true"]}'
held=$(sed -n 's/.*"Id":"\([0-9a-f]*\)".*/\1/p' <<<"$body"); track "$held"
d=$(held_dir "$held")
if [ -n "$d" ]; then
	flock -o "$d" sleep 0.6 & fl=$!
	sleep 0.2
	api DELETE /containers/held
	expect "a remove waits for a copy that still holds the container's files" 204
	wait $fl
	api POST '/containers/create?name=held' '{"Image": "busybox", "Cmd": ["true"]}'
	held=$(sed -n 's/.*"Id":"\([0-9a-f]*\)".*/\1/p' <<<"$body"); track "$held"
	d=$(held_dir "$held")
	flock -o "$d" sleep 3.6 & fl=$!
	sleep 0.2
	api DELETE /containers/held
	expect "a remove of files held longer than 3 s is a 409 naming the copy" 409 "its files are in use"
	wait $fl
	api DELETE /containers/held
	expect "once the copy is done the remove succeeds" 204
else
	fail "cannot find the folder of container $held under $work/data"
fi

if command -v script >/dev/null; then
	out=$(script -qec "'$S' run -it --rm busybox sh -c 'tty; exit 2'" /dev/null </dev/null)
	rc=$?
	grep -q /dev/pts <<<"$out" && [ "$rc" = 2 ] &&
		ok "run -it gives the container a tty and passes its exit code" ||
		fail "run -it (rc=$rc): $out"
fi
finish
