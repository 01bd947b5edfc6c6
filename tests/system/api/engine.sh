#!/usr/bin/env bash
# The node engine through the real docker CLI and curl: restart policies
# (on-failure:N, always, unless-stopped, the restarting state, stop and
# kill by the user, a daemon restart), --rm with --restart refused, prune
# filters and SpaceReclaimed, volume list filters, volume prune by API
# version, and Config/HostConfig fields refused or applied.
SHOALD=$1 SHOAL=$2 SRC=$3
D=/usr/local/bin/docker
[ -x "$D" ] || { echo "SKIP: no docker CLI at $D"; exit 77; }
command -v curl >/dev/null || { echo "SKIP: curl missing"; exit 77; }
. "$(dirname "$0")/lib.sh"
D=$(timed_wrapper docker "$D")
make_image
daemon_start
"$D" import "$work/busybox.tar" busybox:latest >/dev/null

# api METHOD PATH [BODY] -> status in $st, body in $body (PATH has its
# version prefix).
api() {
	local out
	out=$(curl -s -m "${SHOAL_TEST_CMD_TIMEOUT:-30}" --unix-socket "$sock" \
		-X "$1" -w '\n%{http_code}' -H 'Content-Type: application/json' \
		${3:+--data "$3"} "http://x$2")
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
# filters JSON, percent-encoded for a query
enc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$1"; }
ins() { "$D" inspect -f "$1" "$2" 2>/dev/null; }
# until_true SECONDS command...: poll every 0.1 s
until_true() {
	local end=$((SECONDS + $1)); shift
	while [ "$SECONDS" -le "$end" ]; do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}
run_d() { # run_d NAME ARGS...: docker run -d, tracked
	local name=$1; shift
	track "$("$D" run -d --name "$name" "$@")"
}

# --- restart policies --------------------------------------------------------

run_d of2 --restart on-failure:2 busybox sh -c 'exit 3'
of2_done() { [ "$(ins '{{.State.Status}} {{.RestartCount}}' of2)" = "exited 2" ]; }
check "on-failure:2 restarts a command that exits 3 twice (RestartCount 2)" \
	until_true 20 of2_done
sleep 1.5
check "on-failure:2 then leaves it exited: no third restart" of2_done
check "on-failure:2 reports the command's exit code" \
	test "$(ins '{{.State.ExitCode}}' of2)" = 3

run_d ofok --restart on-failure busybox true
sleep 1
check "on-failure does not restart a command that exits 0" \
	test "$(ins '{{.State.Status}} {{.RestartCount}}' ofok)" = "exited 0"

run_d alw --restart always busybox sh -c 'sleep 0.5; exit 0'
alw_again() { [ "$(ins '{{.RestartCount}}' alw)" -ge 2 ] && [ "$(ins '{{.State.Running}}' alw)" = true ]; }
check "always runs a command that exits 0 again, and again" until_true 20 alw_again
check "docker stop of an always container answers" \
	bash -c "'$D' stop -t 1 alw >/dev/null"
n=$(ins '{{.RestartCount}}' alw)
sleep 1.5
check "docker stop leaves an always container stopped" \
	test "$(ins '{{.State.Status}} {{.RestartCount}}' alw)" = "exited $n"
check "docker start runs it again, with its restart count reset" \
	bash -c "'$D' start alw >/dev/null && test \"\$('$D' inspect -f '{{.State.Running}} {{.RestartCount}}' alw)\" = 'true 0'"
"$D" stop -t 1 alw >/dev/null

run_d uk --restart unless-stopped busybox sleep 1000
check "docker kill of an unless-stopped container answers" \
	bash -c "'$D' kill uk >/dev/null"
sleep 1
check "docker kill leaves an unless-stopped container stopped" \
	test "$(ins '{{.State.Status}} {{.RestartCount}}' uk)" = "exited 0"

# A command that fails at once is restarted after 100, 200, 400, 800 ms...:
# soon it spends most of its time waiting.
run_d flap --restart always busybox sh -c 'exit 1'
flap_waits() { [ "$(ins '{{.State.Status}} {{.State.Restarting}} {{.State.Running}}' flap)" = "restarting true true" ]; }
check "a container waiting for its restart is restarting (State.Restarting, Running)" \
	until_true 20 flap_waits
check "docker ps shows it Restarting" \
	bash -c "'$D' ps --format '{{.Names}} {{.Status}}' | grep -q '^flap Restarting (1)'"
api DELETE "/v1.45/containers/flap"
expect "removing a restarting container without force is a 409" 409 "container is restarting"
check "docker rm -f removes a restarting container" \
	bash -c "'$D' rm -f flap >/dev/null && ! '$D' inspect flap >/dev/null 2>&1"

out=$("$D" run --rm --restart always busybox true 2>&1)
check "docker run --rm --restart always is refused" \
	grep -q "conflicting options: cannot specify both --restart and --rm" <<<"$out"
api POST /v1.45/containers/create '{"Image": "busybox", "Cmd": ["true"], "HostConfig": {"AutoRemove": true, "RestartPolicy": {"Name": "always"}}}'
expect "the daemon refuses AutoRemove with a restart policy" 400 "conflicting options: cannot specify both --restart and --rm"
api POST /v1.45/containers/create '{"Image": "busybox", "Cmd": ["true"], "HostConfig": {"RestartPolicy": {"Name": "sometimes"}}}'
expect "an unknown restart policy is a 400 with Docker's text" 400 "invalid restart policy: unknown policy 'sometimes'"
api POST /v1.45/containers/create '{"Image": "busybox", "Cmd": ["true"], "HostConfig": {"RestartPolicy": {"Name": "always", "MaximumRetryCount": 3}}}'
expect "a retry count with always is a 400" 400 "maximum retry count can only be used with 'on-failure'"

# --- a daemon restart ---------------------------------------------------------

run_d u1 --restart unless-stopped busybox sleep 1000
run_d u2 --restart unless-stopped busybox sleep 1000
run_d a1 --restart always busybox sleep 1000
"$D" stop -t 0 u2 a1 >/dev/null
u1=$(ins '{{.Id}}' u1)
p1=$(ins '{{.State.Pid}}' u1)
daemon_stop
# u1 ends while shoald is away, not by the user.
kill -KILL "$p1"
gone() { ! pgrep -f "$u1" >/dev/null; }
until_true 10 gone
daemon_start
check "after a daemon restart, an unless-stopped container that was not stopped by the user runs again" \
	test "$(ins '{{.State.Running}}' u1)" = true
check "after a daemon restart, an unless-stopped container stopped by the user stays stopped" \
	test "$(ins '{{.State.Status}}' u2)" = exited
check "after a daemon restart, an always container stopped by the user runs again" \
	test "$(ins '{{.State.Running}}' a1)" = true
check "the restart count survives a daemon restart" \
	test "$(ins '{{.State.Status}} {{.RestartCount}}' of2)" = "exited 2"
check "an on-failure container that was done stays exited after a daemon restart" \
	test "$(ins '{{.State.Status}}' ofok)" = exited
"$D" rm -f u1 u2 a1 of2 ofok alw uk >/dev/null

# --- container prune ----------------------------------------------------------

for c in pa:tier=a pb:tier=b pc:; do
	name=${c%%:*} label=${c#*:}
	track "$("$D" create --name "$name" ${label:+--label "$label"} busybox true)"
done
run_d running --label tier=a busybox sleep 1000
api POST "/v1.45/containers/prune?filters=$(enc '{"label":["tier=a"]}')"
expect "prune label=tier=a removes only the stopped container with that label" 200 '"ContainersDeleted":["'
left=$("$D" ps -a --format '{{.Names}}' | sort | tr '\n' ' ')
check "prune label=tier=a left the others and the running one" test "$left" = "pb pc running "
api POST "/v1.45/containers/prune?filters=$(enc '{"label!":["tier"]}')"
left=$("$D" ps -a --format '{{.Names}}' | sort | tr '\n' ' ')
check "prune label!=tier removes only the container without the label" test "$left" = "pb running "
api POST "/v1.45/containers/prune?filters=$(enc '{"bogus":["1"]}')"
expect "prune with an unknown filter is a 400 naming it" 400 "invalid filter 'bogus'"
api POST "/v1.45/containers/prune?filters=$(enc '{"until":["yesterday-ish"]}')"
expect "prune with a bad until is a 400" 400 "yesterday-ish"
"$D" rm -f pb running >/dev/null

track "$("$D" create --name old busybox true)"
sleep 1.2
t=$(date +%s.%N)
sleep 1.2
track "$("$D" create --name new busybox true)"
api POST "/v1.45/containers/prune?filters=$(enc "{\"until\":[\"$t\"]}")"
left=$("$D" ps -a --format '{{.Names}}' | tr '\n' ' ')
check "prune until=<time> removes what was created before and keeps the newer" \
	test "$left" = "new "
api POST "/v1.45/containers/prune?filters=$(enc '{"until":["10m"]}')"
check "prune until=10m keeps a container created just now" \
	test "$("$D" ps -aq | wc -l)" = 1
"$D" rm new >/dev/null

track "$("$D" run --name writer busybox dd if=/dev/zero of=/big bs=1024 count=1024 2>/dev/null; ins '{{.Id}}' writer)"
api POST /v1.45/containers/prune
space=$(sed -n 's/.*"SpaceReclaimed":\([0-9]*\).*/\1/p' <<<"$body")
check "prune reports the space of a container that wrote 1 MiB (SpaceReclaimed >= 1048576)" \
	test "${space:-0}" -ge 1048576
out=$("$D" container prune -f 2>&1)
check "docker container prune prints Docker's summary" grep -q "Total reclaimed space: 0B" <<<"$out"

# --- volumes -------------------------------------------------------------------

"$D" volume create --label env=prod v-alpha >/dev/null
"$D" volume create --label env=dev v-beta >/dev/null
"$D" volume create plain >/dev/null
track "$("$D" create --name user -v v-beta:/data busybox true)"
vls() { "$D" volume ls -q "$@" | sort | tr '\n' ' '; }
check "volume ls --filter name= matches a substring" test "$(vls --filter name=alph)" = "v-alpha "
check "volume ls --filter label=key=value" test "$(vls --filter label=env=prod)" = "v-alpha "
check "volume ls --filter label=key" test "$(vls --filter label=env)" = "v-alpha v-beta "
check "volume ls --filter dangling=true lists the unused ones" test "$(vls --filter dangling=true)" = "plain v-alpha "
check "volume ls --filter dangling=false lists the used one" test "$(vls --filter dangling=false)" = "v-beta "
check "volume ls --filter driver=local lists them all" test "$(vls --filter driver=local)" = "plain v-alpha v-beta "
check "volume ls --filter driver=other lists none" test -z "$(vls --filter driver=other)"
check "volume inspect shows the labels" \
	test "$("$D" volume inspect -f '{{.Labels.env}}' v-alpha)" = prod
api GET "/v1.45/volumes?filters=$(enc '{"colour":["red"]}')"
expect "volume ls with an unknown filter is a 400 naming it" 400 "invalid filter 'colour'"
api GET "/v1.45/volumes?filters=$(enc '{"dangling":["maybe"]}')"
expect "volume ls with a bad dangling value is a 400" 400 "invalid filter 'dangling=maybe'"
"$D" rm user >/dev/null

# An anonymous volume with 512 KiB of data, and the named ones.
track "$("$D" run --name filler -v /anon busybox dd if=/dev/zero of=/anon/f bs=1024 count=512 2>/dev/null; ins '{{.Id}}' filler)"
anon=$("$D" inspect -f '{{range .Mounts}}{{.Name}}{{end}}' filler)
"$D" rm filler >/dev/null
api POST /v1.44/volumes/prune
expect "volume prune at API 1.44 removes the anonymous volume" 200 "\"VolumesDeleted\":[\"$anon\"]"
space=$(sed -n 's/.*"SpaceReclaimed":\([0-9]*\).*/\1/p' <<<"$body")
check "volume prune reports the space of the removed data (>= 512 KiB)" test "${space:-0}" -ge 524288
check "volume prune at API 1.44 keeps the named volumes" test "$(vls)" = "plain v-alpha v-beta "
api POST "/v1.44/volumes/prune?filters=$(enc '{"all":["true"],"label":["env=prod"]}')"
expect "volume prune all=true with a label removes just that named volume" 200 '"VolumesDeleted":["v-alpha"]'
api POST "/v1.44/volumes/prune?filters=$(enc '{"label!":["env"],"all":["1"]}')"
expect "volume prune label!=env removes the volume without the label" 200 '"VolumesDeleted":["plain"]'
"$D" volume create plain2 >/dev/null
api POST /v1.41/volumes/prune
expect "volume prune at API 1.41 removes every unused volume" 200 '"VolumesDeleted":["plain2","v-beta"]'
check "no volume is left" test -z "$(vls)"
api POST "/v1.45/volumes/prune?filters=$(enc '{"dangling":["true"]}')"
expect "volume prune with a filter it does not know is a 400" 400 "invalid filter 'dangling'"

# --- create: fields refused or applied ---------------------------------------

out=$("$D" run --blkio-weight 500 busybox true 2>&1)
rc=$?
refused() { [ "$rc" = 125 ] && grep -q "$1" <<<"$out"; }
check "docker run --blkio-weight is refused naming the field" \
	refused "HostConfig.BlkioWeight is not supported yet"
api POST /v1.45/containers/create '{"Image": "busybox", "Cmd": ["true"], "NetworkingConfig": {"EndpointsConfig": {"bridge": {"DriverOpts": {"k": "v"}}}}}'
expect "endpoint DriverOpts are refused naming the field" 400 "NetworkingConfig.EndpointsConfig.bridge.DriverOpts is not supported yet"
api POST /v1.45/containers/create '{"Image": "busybox", "Cmd": ["true"], "Healthcheck": {"Test": ["CMD", "true"], "StartInterval": 1000000000}}'
expect "a health check's StartInterval is refused naming the field" 400 "Config.Healthcheck.StartInterval is not supported yet"
api POST /v1.45/containers/create '{"Image": "busybox", "Cmd": ["true"], "HostConfig": {"LogConfig": {"Type": "json-file", "Config": {"labels": "a"}}}}'
expect "log options not applied are refused naming the option" 400 "unknown log opt 'labels' for json-file log driver"
check "nothing was created by the refused requests" test -z "$(all_ids)"
api POST /v1.45/containers/create '{"Image": "busybox", "Cmd": ["true"], "HostConfig": {"ShmSize": 67108864, "MemorySwappiness": -1, "IpcMode": "private", "LogConfig": {"Type": "json-file", "Config": {}}}}'
expect "defaults written out in full are accepted" 201 '"Warnings":[]'
c=$(sed -n 's/.*"Id":"\([0-9a-f]*\)".*/\1/p' <<<"$body"); track "$c"
"$D" rm "$c" >/dev/null
out=$("$D" run --rm -v /anon busybox sh -c 'grep -c " /anon " /proc/mounts' 2>&1)
check "docker run -v /path (Config.Volumes) mounts an anonymous volume" test "$out" = 1
out=$("$D" run --rm --mount type=tmpfs,dst=/t,tmpfs-size=1048576,tmpfs-mode=1770 busybox sh -c 'grep " /t " /proc/mounts; stat -c %a /t' 2>&1)
tmpfs_ok() { grep -q 'size=1024k' <<<"$out" && grep -q '^1770$' <<<"$out"; }
check "a tmpfs mount's size and mode are applied" tmpfs_ok
check "no volume is left by --rm" test -z "$(vls)"

# --- the shoal CLI's flags for the same -----------------------------------------

S=$(timed_wrapper shoal "$SHOAL")
track "$("$S" run -d --name sof --restart on-failure:1 busybox sh -c 'exit 2')"
sof_done() { [ "$(ins '{{.State.Status}} {{.RestartCount}}' sof)" = "exited 1" ]; }
check "shoal run --restart on-failure:1 restarts once" until_true 20 sof_done
out=$("$S" run --rm --restart always busybox true 2>&1)
check "shoal run --rm --restart always is refused by the daemon" \
	grep -q "conflicting options: cannot specify both --restart and --rm" <<<"$out"
"$S" volume create --label team=x sv >/dev/null
"$S" volume create other >/dev/null
check "shoal volume ls --filter label=" test "$("$S" volume ls -q --filter label=team)" = sv
"$S" container prune -f --filter label=nope >/dev/null
check "shoal container prune --filter keeps what does not match" \
	test "$("$S" ps -aq | wc -l)" = 1
"$S" volume prune -f -a --filter label=team >/dev/null
check "shoal volume prune -a --filter removes only the matching volume" \
	test "$(vls)" = "other "
"$S" rm -f sof >/dev/null
"$S" volume rm other >/dev/null

finish
