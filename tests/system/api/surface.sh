#!/usr/bin/env bash
# Issue 10's second half through the real docker CLI (and the raw API
# where the CLI hides a detail): attach framing with and without a tty,
# logs=1 replay, stream selection, detach keys (API and a pty), exec
# framing by the start's Tty, exec -d/-u/--privileged, run -a, start -ai,
# kill-then-rm at once, wait conditions, rename, and the event log
# (order, filters, --since replay, --until, a live stream).
SHOALD=$1 SHOAL=$2 SRC=$3
[ -x /usr/local/bin/docker ] || { echo "SKIP: /usr/local/bin/docker missing"; exit 77; }
command -v curl >/dev/null || { echo "SKIP: curl missing"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 missing"; exit 77; }
. "$(dirname "$0")/lib.sh"
H="$(dirname "$0")/hijack.py"
make_image
daemon_start
D=$(timed_wrapper docker /usr/local/bin/docker)
"$D" import "$work/busybox.tar" busybox:latest >/dev/null ||
	{ echo "cannot import busybox"; exit 1; }

field() { python3 -c 'import json,sys; print(json.loads(sys.stdin.read())[sys.argv[1]])' "$1"; }
raw() { timed python3 "$H" raw "$sock" "$@"; }

# --- attach ---------------------------------------------------------------
id=$("$D" run -d --name att busybox sh -c 'sleep 2; for i in 1 2; do echo out$i; echo err$i >&2; done')
track "$id"
"$D" attach att >"$work/a.out" 2>"$work/a.err"
rc=$?
check "docker attach to a running container without a tty gets both streams, framed (no 'Unrecognized input header')" \
	bash -c "[ $rc = 0 ] && ! grep -q Unrecognized '$work/a.err' && grep -qx out2 '$work/a.out' && grep -qx err2 '$work/a.err' && ! grep -q err '$work/a.out'"
r=$(raw POST "/v1.45/containers/att/attach?logs=1&stdout=1&stderr=1")
check "attach with logs=1 and no stream to an exited container returns at once" \
	test "$(field closed <<<"$r")" = True
check "the logs=1 replay is framed: stdout frames 1, stderr frames 2" \
	bash -c "python3 '$H' frames $(field body <<<"$r") | grep -qx \"2:'err1\\\\\\\\n'\" && python3 '$H' frames $(field body <<<"$r") | grep -qx \"1:'out2\\\\\\\\n'\""
r=$(raw POST "/v1.45/containers/att/attach?logs=1&stdout=1&stderr=0")
check "stderr=0 leaves the stderr frames out" \
	bash -c "! python3 '$H' frames $(field body <<<"$r") | grep -q '^2:' && python3 '$H' frames $(field body <<<"$r") | grep -q '^1:'"
r=$(raw POST "/v1.45/containers/att/attach?stream=1&stdout=1&detachKeys=bogus-key")
check "a bad detachKeys is Docker's 400" \
	bash -c "grep -q ' 400 ' <<<'$(field status <<<"$r")'"

id=$("$D" run -d --name live busybox sh -c 'while true; do echo o; echo e >&2; sleep 0.2; done')
track "$id"
r=$(raw POST "/v1.45/containers/live/attach?stream=1&stdout=1&stderr=0" --wait 1.5)
b=$(field body <<<"$r")
check "a live attach without a tty is a run of 8-byte frames, only stdout's when asked" \
	bash -c "[ -n '$b' ] && python3 '$H' frames '$b' >'$work/f' && grep -q '^1:' '$work/f' && ! grep -q '^2:' '$work/f'"
id=$("$D" run -d -t --name ttyc busybox sh -c 'while true; do echo tick; sleep 0.2; done')
track "$id"
r=$(raw POST "/v1.45/containers/ttyc/attach?stream=1&stdout=1&stderr=1" --wait 1.5)
b=$(field body <<<"$r")
check "a live attach to a tty container is raw (no frame header)" \
	bash -c "[ -n '$b' ] && [ \"\${b:0:8}\" != 01000000 ] && grep -q 7469636b <<<'$b'"
"$D" rm -f att live ttyc >/dev/null

# --- detach keys ----------------------------------------------------------
id=$("$D" run -d -i --name dk busybox sh -c 'while true; do sleep 1; done')
track "$id"
r=$(raw POST "/v1.45/containers/dk/attach?stream=1&stdin=1&stdout=1" --send 1011 --wait 3)
check "ctrl-p ctrl-q (the default keys) on stdin ends the attach" test "$(field closed <<<"$r")" = True
r=$(raw POST "/v1.45/containers/dk/attach?stream=1&stdin=1&stdout=1" --send 6869 --wait 1)
check "other bytes on stdin do not end it" test "$(field closed <<<"$r")" = False
r=$(raw POST "/v1.45/containers/dk/attach?stream=1&stdin=1&stdout=1&detachKeys=ctrl-x,y" --send 1879 --wait 3)
check "custom detachKeys (ctrl-x,y) end the attach" test "$(field closed <<<"$r")" = True
check "the container runs on after a detach" test "$("$D" inspect -f '{{.State.Running}}' dk)" = true
"$D" rm -f dk >/dev/null
r=$(timed python3 "$H" pty 15 1011 /usr/local/bin/docker run -it --name ptyc busybox sh)
track "$("$D" inspect -f '{{.Id}}' ptyc)"
check "docker run -it detaches on ctrl-p ctrl-q through a pty and the container runs on" \
	bash -c "[ '$(field code <<<"$r")' = 0 ] && [ \"\$('$D' inspect -f '{{.State.Running}}' ptyc)\" = true ]"
r=$(timed python3 "$H" pty 15 18 /usr/local/bin/docker attach --detach-keys ctrl-x ptyc)
check "docker attach --detach-keys ctrl-x detaches through a pty" \
	bash -c "grep -q \$(printf 'read escape sequence' | xxd -p) <<<'$(field out <<<"$r")' && [ \"\$('$D' inspect -f '{{.State.Running}}' ptyc)\" = true ]"
"$D" rm -f ptyc >/dev/null

# --- run -a, start -ai ----------------------------------------------------
out=$("$D" run --rm -a stdout busybox sh -c 'echo OUT; echo ERR >&2' 2>"$work/e")
check "run -a stdout gets stdout only" bash -c "[ '$out' = OUT ] && [ ! -s '$work/e' ]"
out=$("$D" run --rm -a stderr busybox sh -c 'echo OUT; echo ERR >&2' 2>&1 >/dev/null)
check "run -a stderr gets stderr only" test "$out" = ERR
id=$("$D" create -i --name sai busybox cat)
track "$id"
check "start -ai passes stdin and prints the output" test "$(echo piped | "$D" start -ai sai)" = piped
"$D" rm sai >/dev/null

# --- exec -----------------------------------------------------------------
id=$("$D" run -d --name ex busybox sleep 1000)
track "$id"
check "exec -u nobody runs as nobody" test "$("$D" exec -u nobody ex id -u)" = 65534
plain=$("$D" exec ex sh -c 'grep CapEff /proc/self/status')
priv=$("$D" exec --privileged ex sh -c 'grep CapEff /proc/self/status')
check "exec --privileged gets CAP_SYS_ADMIN, a plain exec does not" \
	python3 -c "import sys; p=int('${priv##*:}'.strip(),16); n=int('${plain##*:}'.strip(),16); sys.exit(0 if p & (1<<21) and not n & (1<<21) else 1)"
"$D" exec -d ex sh -c 'sleep 0.5; echo done >/tmp/d'
check "exec -d returns at once and the command runs" bash -c "sleep 1.5 && [ \"\$('$D' exec ex cat /tmp/d)\" = done ]"
check "exec without -i gives the command an empty stdin" test "$("$D" exec ex cat </dev/null | wc -c)" = 0
eid=$(curl -s --unix-socket "$sock" -H 'Content-Type: application/json' \
	-d '{"Cmd":["echo","hello"],"Tty":true,"AttachStdout":true,"AttachStderr":true}' \
	http://x/v1.45/containers/ex/exec | field Id)
r=$(raw POST "/v1.45/exec/$eid/start" --body '{"Tty":false}')
check "a tty exec started with Tty:false comes back framed (Docker follows the start)" \
	bash -c "python3 '$H' frames $(field body <<<"$r") | grep -q \"^1:'hello\""
eid=$(curl -s --unix-socket "$sock" -H 'Content-Type: application/json' \
	-d '{"Cmd":["echo","hello"],"AttachStdout":true,"AttachStderr":true}' \
	http://x/v1.45/containers/ex/exec | field Id)
r=$(raw POST "/v1.45/exec/$eid/start" --body '{"Tty":true}')
check "an exec without a tty started with Tty:true comes back raw" \
	test "$(field body <<<"$r")" = "$(printf 'hello\n' | xxd -p)"
code=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$sock" -H 'Content-Type: application/json' \
	-d '{"Cmd":["true"],"DetachKeys":"ctrl-"}' http://x/v1.45/containers/ex/exec)
check "exec create with bad DetachKeys is a 400" test "$code" = 400

# --- kill, wait -----------------------------------------------------------
for i in 1 2 3; do
	"$D" kill ex >/dev/null
	st=$("$D" inspect -f '{{.State.Status}}' ex)
	check "kill #$i: inspect right after shows exited" test "$st" = exited
	check "kill #$i: rm right after succeeds" bash -c "'$D' rm ex >/dev/null"
	[ $i -lt 3 ] && { id=$("$D" run -d --name ex busybox sleep 1000); track "$id"; }
done
id=$("$D" create --name wc busybox sh -c 'exit 4')
track "$id"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST --unix-socket "$sock" "http://x/v1.45/containers/wc/wait?condition=bogus")
check "an unknown wait condition is a 400" test "$code" = 400
code=$(curl -s -m 5 -X POST --unix-socket "$sock" "http://x/v1.45/containers/wc/wait?condition=not-running")
check "wait not-running on a created container answers at once" grep -q '"StatusCode":0' <<<"$code"
curl -s -m 20 -X POST --unix-socket "$sock" "http://x/v1.45/containers/wc/wait?condition=next-exit" >"$work/w1" &
w1=$!
sleep 0.5
"$D" start wc >/dev/null
wait $w1
check "wait next-exit answers the next run's exit code" grep -q '"StatusCode":4' "$work/w1"
curl -s -m 20 -X POST --unix-socket "$sock" "http://x/v1.45/containers/wc/wait?condition=removed" >"$work/w2" &
w2=$!
sleep 0.5
check "wait removed is still waiting while the container exists" kill -0 $w2
"$D" rm wc >/dev/null
wait $w2
check "wait removed answers at the removal" grep -q '"StatusCode"' "$work/w2"

# --- rename ---------------------------------------------------------------
id=$("$D" run -d --name rn1 busybox sleep 1000)
track "$id"
"$D" create --name rn2 busybox true >/dev/null
check "rename a running container" bash -c "'$D' rename rn1 rn3 && [ \"\$('$D' inspect -f '{{.Name}}' $id)\" = /rn3 ]"
check "rename to a name in use is Docker's conflict" bash -c "'$D' rename rn3 rn2 2>&1 | grep -q 'is already in use'"
check "rename to an invalid name is refused" bash -c "'$D' rename rn3 'a b' 2>&1 | grep -q 'Invalid container name'"
daemon_stop
daemon_start
check "the new name survives a daemon restart" test "$("$D" ps --format '{{.Names}}' --filter id="$id")" = rn3
"$D" rm -f rn3 rn2 >/dev/null

# --- logs --until ---------------------------------------------------------
ts=$(date +%s)
id=$("$D" run -d --name lu busybox sh -c 'echo early; sleep 3; echo late; sleep 1000'); track "$id"
sleep 4
check "logs --until 2s leaves out what came after" test "$("$D" logs --until 2s lu | tr '\n' ' ')" = "early "
check "logs --until with -f ends at until" test "$("$D" logs -f --until 2s lu | tr '\n' ' ')" = "early "
u=$(date -u -d @$((ts + 2)) +%Y-%m-%dT%H:%M:%SZ)
check "the API takes an RFC 3339 until too" \
	bash -c "curl -s --unix-socket '$sock' 'http://x/v1.45/containers/lu/logs?stdout=1&until=$u' >'$work/lu' && grep -a -q early '$work/lu' && ! grep -a -q late '$work/lu'"
"$D" rm -f lu >/dev/null

# --- update ---------------------------------------------------------------
# cgfile CONTROLLER V1FILE V2FILE: the container's cgroup file on this host
cgfile() {
	if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
		cat "/sys/fs/cgroup/$cgparent/$id/$3"
	else
		cat "/sys/fs/cgroup/$1/$cgparent/$id/$2"
	fi
}
id=$("$D" run -d --name up -m 64m busybox sleep 1000); track "$id"
check "update: the memory limit starts at 64m" test "$(cgfile memory memory.limit_in_bytes memory.max)" = 67108864
"$D" update --memory 128m --cpus 0.5 --pids-limit 50 --restart on-failure:3 up >/dev/null
check "update --memory is live in the cgroup" test "$(cgfile memory memory.limit_in_bytes memory.max)" = 134217728
check "update --cpus is live in the cgroup" bash -c "[ \"\$(cat /sys/fs/cgroup/cpu/$cgparent/$id/cpu.cfs_quota_us 2>/dev/null || cut -d' ' -f1 /sys/fs/cgroup/$cgparent/$id/cpu.max)\" = 50000 ]"
check "update --pids-limit is live in the cgroup" test "$(cgfile pids pids.max pids.max)" = 50
check "inspect shows the new values and restart policy" \
	test "$("$D" inspect -f '{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}' up)" = "134217728 500000000 50 on-failure:3"
"$D" update --memory 32m --pids-limit -1 up >/dev/null
check "update lowers memory and lifts the pids limit" \
	bash -c "[ \"\$(cat /sys/fs/cgroup/memory/$cgparent/$id/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/$cgparent/$id/memory.max)\" = 33554432 ] && [ \"\$(cat /sys/fs/cgroup/pids/$cgparent/$id/pids.max 2>/dev/null || cat /sys/fs/cgroup/$cgparent/$id/pids.max)\" = max ]"
check "update of a field Shoal does not apply is refused, naming it" \
	bash -c "'$D' update --cpuset-cpus 0 up 2>&1 | grep -q 'CpusetCpus cannot be updated'"
check "update below 6MB is refused with Docker's words" \
	bash -c "'$D' update --memory 1m up 2>&1 | grep -q 'Minimum memory limit allowed is 6MB'"
"$D" stop -t 0 up >/dev/null; "$D" start up >/dev/null
check "the updated limits apply at the next start too" test "$(cgfile memory memory.limit_in_bytes memory.max)" = 33554432
"$D" rm -f up >/dev/null
id=$("$D" run -d --rm --name uprm busybox sleep 1000); track "$id"
check "a restart policy for an --rm container is refused as Docker does" \
	bash -c "'$D' update --restart always uprm 2>&1 | grep -q 'AutoRemove is enabled'"
"$D" rm -f uprm >/dev/null

# --- diff -----------------------------------------------------------------
id=$("$D" run --name dif busybox sh -c 'echo x >/new; rm /etc/group; echo z >>/etc/passwd; mkdir -p /tmp/a; rm -rf /root; mkdir /root; touch /root/n'); track "$id"
"$D" diff dif >"$work/diff"
check "diff: an added file is A" grep -qx 'A /new' "$work/diff"
check "diff: a deleted file (a whiteout) is D" grep -qx 'D /etc/group' "$work/diff"
check "diff: a modified file is C, its parent C" bash -c "grep -qx 'C /etc/passwd' '$work/diff' && grep -qx 'C /etc' '$work/diff'"
check "diff: a folder deleted and made again (opaque) is D, its new content A" \
	bash -c "grep -qx 'D /root' '$work/diff' && grep -qx 'A /root/n' '$work/diff'"
check "diff: the runtime's own mount points are not listed" bash -c "! grep -q 'hostname\|resolv.conf\|/etc/hosts' '$work/diff'"
id=$("$D" run --name dif2 busybox true); track "$id"
check "diff of a container that changed nothing is empty" test -z "$("$D" diff dif2)"
"$D" rm dif dif2 >/dev/null

# --- ps filters and size --------------------------------------------------
id=$("$D" run -d --name p1 -v pv:/data busybox sleep 1000); track "$id"
sleep 1.1
id=$("$D" run -d --name p2 --network host busybox sh -c 'dd if=/dev/zero of=/big bs=1k count=2048 2>/dev/null; sleep 1000'); track "$id"
sleep 1.1
id=$("$D" create --name p3 --network none busybox true); track "$id"
sleep 0.5
psf() { "$D" ps -a --filter "$1" --format '{{.Names}}' | tr '\n' ' '; }
check "ps --filter before" test "$(psf before=p2)" = "p1 "
check "ps --filter since" test "$(psf since=p1)" = "p3 p2 "
check "ps --filter volume by name" test "$(psf volume=pv)" = "p1 "
check "ps --filter volume by destination" test "$(psf volume=/data)" = "p1 "
check "ps --filter network=host" test "$(psf network=host)" = "p2 "
check "ps --filter network=none" test "$(psf network=none)" = "p3 "
check "ps --filter health=none keeps all (no health checks)" test "$(psf health=none)" = "p3 p2 p1 "
check "ps --filter health=healthy keeps none" test -z "$(psf health=healthy)"
check "ps --filter is-task=true keeps none, false all" bash -c "[ -z \"\$('$D' ps -aq --filter is-task=true)\" ] && [ \$('$D' ps -aq --filter is-task=false | wc -l) = 3 ]"
check "ps --filter with a bad health or an unknown container is refused" \
	bash -c "'$D' ps --filter health=bogus 2>&1 | grep -q 'Unrecognised filter value for health: bogus' && '$D' ps --filter before=nosuch 2>&1 | grep -q 'No such container: nosuch'"
sz=$(curl -s --unix-socket "$sock" 'http://x/v1.45/containers/json?size=1&filters=%7B%22name%22%3A%5B%22p2%22%5D%7D' | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["SizeRw"])')
check "ps --size: SizeRw counts the 2 MiB the container wrote" test "$sz" -ge 2097152 -a "$sz" -lt 3000000
"$D" rm -f p1 p2 p3 >/dev/null
"$D" volume rm pv >/dev/null

# --- system df, image prune -----------------------------------------------
id=$("$D" run -d --name sd -v sdv:/d busybox sh -c 'dd if=/dev/zero of=/d/f bs=1k count=1024 2>/dev/null; dd if=/dev/zero of=/g bs=1k count=3072 2>/dev/null; sleep 1000'); track "$id"
sleep 1.5
curl -s --unix-socket "$sock" http://x/v1.45/system/df >"$work/df"
py() { python3 -c "import json,sys; d=json.load(open('$work/df')); $1"; }
vol=$(find "$work/data/volumes/sdv/_data" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
check "system df: the volume's size is its _data folder's (du)" \
	test "$(py "print([v for v in d['Volumes'] if v['Name']=='sdv'][0]['UsageData']['Size'])")" = "$vol"
check "system df: the volume's RefCount is the containers mounting it" \
	test "$(py "print([v for v in d['Volumes'] if v['Name']=='sdv'][0]['UsageData']['RefCount'])")" = 1
rw=$(py "print([c for c in d['Containers'] if c['Id']=='$id'][0]['SizeRw'])")
check "system df: the container's SizeRw counts the 3 MiB it wrote" test "$rw" -ge 3145728 -a "$rw" -lt 3300000
isz=$("$D" image inspect -f '{{.Size}}' busybox)
check "system df: the image's size is the store's and LayersSize sums them" \
	test "$(py "print(d['LayersSize'], [i['Size'] for i in d['Images'] if 'busybox:latest' in i['RepoTags']][0])")" = "$isz $isz"
check "docker system df prints the table" bash -c "'$D' system df | grep -q '^Local Volumes *1 *1'"
code=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$sock" 'http://x/v1.45/system/df?type=bogus')
check "system df with an unknown type is a 400" test "$code" = 400
"$D" rm -f sd >/dev/null; "$D" volume rm sdv >/dev/null
"$D" import --change 'LABEL keep=no' "$work/busybox.tar" pr:x >/dev/null
"$D" import "$work/busybox.tar" >/dev/null
out=$("$D" image prune -f)
check "image prune removes the untagged image only" \
	bash -c "grep -q '^deleted: sha256:' <<<'$out' && '$D' image inspect pr:x >/dev/null 2>&1 && [ \$('$D' images -q | wc -l) = 2 ]"
id=$("$D" create --name prc pr:x true); track "$id"
"$D" image prune -a -f --filter label=keep=no >/dev/null
check "image prune -a keeps an image a container uses" bash -c "'$D' image inspect pr:x >/dev/null 2>&1"
"$D" rm prc >/dev/null
out=$("$D" image prune -a -f --filter label=keep=no)
check "image prune -a --filter label removes the unused tagged image it matches, and only that" \
	bash -c "grep -q 'untagged: pr:x' <<<'$out' && ! '$D' image inspect pr:x >/dev/null 2>&1 && '$D' image inspect busybox >/dev/null 2>&1"
check "image prune with an unknown filter is refused" bash -c "'$D' image prune -f --filter bogus=1 2>&1 | grep -q \"invalid filter 'bogus'\""

# --- events ---------------------------------------------------------------
sleep 1 # nothing above falls in t0's second
t0=$(date +%s)
"$D" events --filter type=container --filter container=evc --format '{{.Action}}' >"$work/live" 2>&1 &
ev=$!
sleep 0.5
"$D" run --name evc -l team=blue busybox sh -c 'exit 3' >/dev/null
"$D" rm evc >/dev/null
"$D" tag busybox busybox:evtag
"$D" rmi busybox:evtag >/dev/null
sleep 1.2
t1=$(date +%s)
actions=$("$D" events --since "$t0" --until "$t1" --filter container=evc --format '{{.Action}}' | tr '\n' ' ')
check "update events were recorded" bash -c "'$D' events --since 1 --until \$(date +%s) --filter event=update --filter container=up | grep -q 'container update'"
check "the events of a run come in Docker's order (create attach start die destroy)" \
	test "$actions" = "create attach start die destroy "
check "die carries exitCode and the container's labels" \
	test "$("$D" events --since "$t0" --until "$t1" --filter event=die --filter label=team=blue --format '{{.Actor.Attributes.exitCode}} {{.Actor.Attributes.name}}')" = "3 evc"
check "a label filter that does not hold leaves them out" \
	test -z "$("$D" events --since "$t0" --until "$t1" --filter label=team=red)"
check "image events: tag and untag" \
	test "$("$D" events --since "$t0" --until "$t1" --filter type=image --format '{{.Action}}' | tr '\n' ' ')" = "tag untag "
check "the image filter finds a container's events by its image" \
	bash -c "'$D' events --since $t0 --until $t1 --filter image=busybox --filter event=start | grep -q evc"
check "a network filter applies to every event (none of these is on network x)" \
	test -z "$("$D" events --since "$t0" --until "$t1" --filter network=x)"
check "scope=local keeps them, scope=swarm none" \
	bash -c "[ -n \"\$('$D' events --since $t0 --until $t1 --filter scope=local)\" ] && [ -z \"\$('$D' events --since $t0 --until $t1 --filter scope=swarm)\" ]"
check "an unknown events filter is Docker's 400" \
	bash -c "'$D' events --since $t0 --until $t1 --filter bogus=x 2>&1 | grep -q \"invalid filter 'bogus'\""
check "a bad --since is refused" bash -c "! '$D' events --since 'not a time' --until $t1 2>/dev/null"
kill $ev 2>/dev/null; wait $ev 2>/dev/null
check "a live docker events stream saw the same run" \
	test "$(tr '\n' ' ' <"$work/live")" = "create attach start die destroy "
start=$(date +%s)
"$D" events --until "$(($(date +%s) + 2))" >/dev/null
check "--until in the future ends the stream then" test $(($(date +%s) - start)) -ge 1
t3=$(date +%s)
"$D" run --rm -v evm:/data busybox true
sleep 1.1
check "a volume's mount and unmount events bracket the run (destination, read/write)" \
	test "$("$D" events --since "$t3" --until "$(date +%s)" --filter volume=evm --filter event=mount --filter event=unmount --format '{{.Action}} {{.Actor.Attributes.destination}} {{index .Actor.Attributes "read/write"}}' | tr '\n' ' ')" = "mount /data true unmount <no value>  "
"$D" volume rm evm >/dev/null
check "--since replays from before the client came (a volume's create and destroy)" \
	bash -c "'$D' volume create evv >/dev/null && '$D' volume rm evv >/dev/null && sleep 1.1 && [ \"\$('$D' events --since $t0 --until \$(date +%s) --filter type=volume --filter volume=evv --format '{{.Action}} {{.Actor.ID}}' | tr '\n' ' ')\" = 'create evv destroy evv ' ]"

# --- the same through shoal -----------------------------------------------
S=$(timed_wrapper shoal "$SHOAL")
t2=$(date +%s)
id=$("$S" run -d --name sh1 busybox sh -c 'echo x >/y; sleep 1000'); track "$id"
sleep 0.5
check "shoal rename" bash -c "'$S' rename sh1 sh2 && [ \"\$('$D' inspect -f '{{.Name}}' $id)\" = /sh2 ]"
check "shoal diff" test "$("$S" diff sh2)" = "A /y"
check "shoal update --memory (no limit before) is live" \
	bash -c "'$S' update --memory 100m sh2 >/dev/null && [ \"\$(cat /sys/fs/cgroup/memory/$cgparent/$id/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/$cgparent/$id/memory.max)\" = 104857600 ]"
"$S" rm -f sh2 >/dev/null
sleep 1.1
check "shoal events --since/--until with a filter, in docker's line format" \
	bash -c "'$S' events --since $t2 --until \$(date +%s) --filter container=$id | awk '{print \$3}' | tr '\\n' ' ' | grep -qx 'create start rename update kill die destroy '"
check "shoal events --format json prints one object a line" \
	bash -c "'$S' events --since $t2 --until \$(date +%s) --format json --filter event=rename | python3 -c 'import json,sys; [json.loads(l) for l in sys.stdin]; print(\"ok\")' | grep -q ok"
check "shoal system df" bash -c "'$S' system df | grep -q '^Images *1 *'"
"$S" import "$work/busybox.tar" >/dev/null
check "shoal image prune" bash -c "'$S' image prune -f | grep -q '^deleted: sha256:'"
check "shoal system prune removes stopped containers and dangling images" \
	bash -c "'$S' create busybox true >/dev/null && '$S' system prune -f | grep -q 'Deleted Containers' && [ -z \"\$('$S' ps -aq)\" ]"
out=$("$S" run --rm -a stdout busybox sh -c 'echo OUT; echo ERR >&2' 2>"$work/e")
check "shoal run -a stdout gets stdout only" bash -c "[ '$out' = OUT ] && [ ! -s '$work/e' ]"
check "shoal run -a with a bad stream is refused" bash -c "'$S' run -a bogus busybox true 2>&1 | grep -q 'valid streams are STDIN, STDOUT and STDERR'"
r=$(timed python3 "$H" pty 15 1011 "$SHOAL" run -it --name shp busybox sh)
track "$("$D" inspect -f '{{.Id}}' shp)"
check "shoal run -it detaches on ctrl-p ctrl-q and the container runs on" \
	bash -c "[ '$(field code <<<"$r")' = 0 ] && [ \"\$('$D' inspect -f '{{.State.Running}}' shp)\" = true ]"
r=$(timed python3 "$H" pty 15 18 "$SHOAL" attach --detach-keys ctrl-x shp)
check "shoal attach --detach-keys detaches" \
	bash -c "grep -q \$(printf 'read escape sequence' | xxd -p) <<<'$(field out <<<"$r")' && [ \"\$('$D' inspect -f '{{.State.Running}}' shp)\" = true ]"
r=$(timed python3 "$H" pty 15 "$(printf 'exit 4\n' | xxd -p)" "$SHOAL" attach shp)
check "shoal attach passes stdin and returns the container's exit code" test "$(field code <<<"$r")" = 4
"$S" rm -f shp >/dev/null
id=$("$S" run -d --name shp busybox sleep 1000); track "$id"
r=$(timed python3 "$H" pty 15 18 "$SHOAL" exec -it --detach-keys ctrl-x shp sh -c 'sleep 999')
check "shoal exec --detach-keys leaves the exec running and exits 0" \
	bash -c "[ '$(field code <<<"$r")' = 0 ] && '$S' exec shp ps | grep -q 'sleep 999'"
check "shoal exec with bad detach keys is refused" \
	bash -c "'$S' exec --detach-keys bad shp true 2>&1 | grep -q 'Invalid escape keys (bad) provided'"
"$S" rm -f shp >/dev/null
# --sig-proxy: without a tty a TERM to the CLI goes to the container
trapper='trap "echo got-term; exit 3" TERM; while true; do sleep 0.1; done'
"$SHOAL" run --name sg1 busybox sh -c "$trapper" >"$work/sg1" 2>&1 &
p=$!
sleep 1.5
kill -TERM $p
wait $p
rc=$?
track "$("$D" inspect -f '{{.Id}}' sg1)"
check "shoal run passes a TERM to the container (--sig-proxy, the default)" \
	bash -c "[ $rc = 3 ] && grep -q got-term '$work/sg1'"
"$SHOAL" run --sig-proxy=false --name sg2 busybox sh -c "$trapper" >/dev/null 2>&1 &
p=$!
sleep 1.5
kill -TERM $p
wait $p
track "$("$D" inspect -f '{{.Id}}' sg2)"
check "shoal run --sig-proxy=false leaves the container alone" \
	test "$("$D" inspect -f '{{.State.Running}}' sg2)" = true
"$SHOAL" attach sg2 >"$work/sg2" 2>&1 &
p=$!
sleep 1
kill -TERM $p
wait $p
rc=$?
check "shoal attach passes a TERM on to the container" bash -c "[ $rc = 3 ] && grep -q got-term '$work/sg2'"
check "a bad --sig-proxy value is refused" \
	bash -c "'$S' attach --sig-proxy=maybe sg2 2>&1 | grep -q 'invalid argument \"maybe\" for \"--sig-proxy\"'"
"$S" rm -f sg1 sg2 >/dev/null

finish
