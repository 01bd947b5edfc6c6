#!/usr/bin/env bash
# docker run's runtime and create flags (issue 10) through the real docker
# CLI and a real shoald: each check reads what the flag changes inside the
# container (/proc/1/cmdline, df, id, /proc/sys, the cgroup files,
# namespace inodes, device nodes, log files), so it fails if the flag were
# ignored; and Docker's refusals come back with Docker's words.
# Skipped when /usr/local/bin/docker is absent.
SHOALD=$1 SHOAL=$2 SRC=$3
D=/usr/local/bin/docker
[ -x "$D" ] || { echo "SKIP: no docker CLI at $D"; exit 77; }
. "$(dirname "$0")/lib.sh"
D=$(timed_wrapper docker "$D")
make_image
daemon_start
"$D" import "$work/busybox.tar" busybox:latest >/dev/null ||
	{ echo "docker import failed"; exit 1; }

run() { "$D" run --rm "$@" 2>&1; }
create() { # create BODY: the status, the answer in $work/out
	curl -s -o "$work/out" -w '%{http_code}' --unix-socket "$sock" \
		-H 'Content-Type: application/json' -d "$1" \
		http://x/containers/create
}
same() { # same "what" got want
	if [ "$2" = "$3" ]; then ok "$1"; else fail "$1 (got: $2, want: $3)"; fi
}
has() { # has "what" text needle
	case "$2" in *"$3"*) ok "$1" ;; *) fail "$1 (got: $2)" ;; esac
}

# --init: pid 1 is shoal-init, the command its child; a signal reaches it.
same "--init runs /sbin/docker-init as pid 1" \
	"$(run --init busybox cat /proc/1/cmdline | tr '\0' ' ')" \
	"/sbin/docker-init -- cat /proc/1/cmdline "
same "without --init the command is pid 1" \
	"$(run busybox cat /proc/1/cmdline | tr '\0' ' ')" "cat /proc/1/cmdline "
id=$("$D" run -d --init busybox sleep 600)
track "$id"
check "--init forwards docker stop's SIGTERM (exit 143, no kill after the grace period)" \
	bash -c "timeout 8 '$D' stop -t 30 '$id' >/dev/null && test \"\$('$D' inspect -f '{{.State.ExitCode}}' '$id')\" = 143"
"$D" rm -f "$id" >/dev/null

if command -v script >/dev/null; then
	out=$(script -qec "'$D' run -it --rm --init busybox sh -c 'tty; ps -o pid,comm | grep -c docker-init; exit 4'" /dev/null </dev/null | tr -d '\r\0' | sed 's/\^@//g' | xargs)
	rc=$(script -qec "'$D' run -it --rm --init busybox sh -c 'exit 4'" /dev/null </dev/null >/dev/null; echo $?)
	same "--init with a tty: the command has the terminal, the exit code passes" \
		"$out $rc" "/dev/pts/0 1 4"
fi

# --stop-timeout: the grace period docker stop uses.
id=$("$D" run -d --stop-timeout 1 busybox sleep 600)
track "$id"
same "--stop-timeout is kept (Config.StopTimeout)" \
	"$("$D" inspect -f '{{.Config.StopTimeout}}' "$id")" 1
check "--stop-timeout 1 kills after a second (sleep as pid 1 ignores SIGTERM)" \
	bash -c "timeout 8 '$D' stop '$id' >/dev/null"
"$D" rm -f "$id" >/dev/null

# /dev/shm, groups, sysctls, oom_score_adj.
same "/dev/shm is 64 MiB by default" \
	"$(run busybox sh -c "df -k /dev/shm | awk 'NR==2 {print \$2}'")" 65536
same "--shm-size 128m makes it 128 MiB" \
	"$(run --shm-size 128m busybox sh -c "df -k /dev/shm | awk 'NR==2 {print \$2}'")" 131072
same "--group-add adds groups" \
	"$(run --group-add 4321 --group-add 50 busybox id -G)" "0 50 4321"
same "--sysctl sets namespaced values" \
	"$(run --sysctl net.ipv4.ip_forward=1 --sysctl kernel.shmmax=1073741824 busybox cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax | xargs)" \
	"1 1073741824"
# (the docker CLI refuses that one itself; the daemon too, with runc's
# words)
same "--sysctl of a host-wide value is a 400" \
	"$(create '{"Image":"busybox","Cmd":["true"],"HostConfig":{"Sysctls":{"kernel.panic":"1"}}}')" 400
has "with runc's words" "$(cat "$work/out")" \
	'sysctl \"kernel.panic\" is not in a separate kernel namespace'
has "--sysctl net.* with --network host is refused" \
	"$(run --network host --sysctl net.ipv4.ip_forward=1 busybox true)" \
	"not allowed in host network namespace"
same "--oom-score-adj sets the score" \
	"$(run --oom-score-adj 123 busybox cat /proc/self/oom_score_adj)" 123
has "--oom-score-adj out of range is refused" \
	"$(run --oom-score-adj 1001 busybox true)" \
	"range for oom score adj is [-1000, 1000]"

many=$(for i in $(seq 1 40); do printf '"net.x%d":"1",' "$i"; done)
same "forty sysctls and devices in one create are fine (no arena limit)" \
	"$(create "{\"Image\":\"busybox\",\"Cmd\":[\"true\"],\"HostConfig\":{\"Sysctls\":{${many%,}},\"Devices\":[$(for i in $(seq 1 40); do printf '{"PathOnHost":"/dev/null","PathInContainer":"/dev/n%d"},' "$i"; done | sed 's/,$//')]}}")" 201
track "$(sed 's/.*"Id":"\([0-9a-f]*\)".*/\1/' "$work/out")"

# cgroups, as the container sees them in its read-only /sys/fs/cgroup.
out=$(run -m 64m --memory-swap 96m --memory-swappiness 7 --oom-kill-disable \
	busybox sh -c 'cd /sys/fs/cgroup/memory && cat memory.memsw.limit_in_bytes memory.swappiness && grep oom_kill_disable memory.oom_control' | xargs)
same "--memory-swap, --memory-swappiness, --oom-kill-disable reach the cgroup" \
	"$out" "100663296 7 oom_kill_disable 1"
has "--memory-swap below --memory is refused" \
	"$(run -m 64m --memory-swap 32m busybox true)" \
	"Minimum memoryswap limit should be larger than memory limit"
same "--cpuset-cpus reaches the cgroup and the scheduler" \
	"$(run --cpuset-cpus 0 busybox sh -c 'cat /sys/fs/cgroup/cpuset/cpuset.cpus; grep Cpus_allowed_list /proc/self/status' | xargs)" \
	"0 Cpus_allowed_list: 0"
same "/sys/fs/cgroup is the container's own (cgroupns private)" \
	"$(run busybox grep :memory: /proc/self/cgroup | cut -d: -f2-)" "memory:/"
has "--cgroupns host shows the host's path" \
	"$(run --cgroupns host busybox grep :memory: /proc/self/cgroup)" \
	":memory:/$cgparent/"
same "/sys/fs/cgroup is read-only" \
	"$(run busybox sh -c 'mkdir /sys/fs/cgroup/memory/x 2>/dev/null || echo ro')" ro

# Namespaces.
host_pid=$(readlink /proc/self/ns/pid)
host_ipc=$(readlink /proc/self/ns/ipc)
host_uts=$(readlink /proc/self/ns/uts)
out=$(run busybox readlink /proc/self/ns/pid)
check "a container has its own pid namespace" test "$out" != "$host_pid"
same "--pid host shares the host's" \
	"$(run --pid host busybox readlink /proc/self/ns/pid)" "$host_pid"
same "--ipc host shares the host's" \
	"$(run --ipc host busybox readlink /proc/self/ns/ipc)" "$host_ipc"
same "--uts host shares the host's and its name" \
	"$(run --uts host busybox sh -c 'readlink /proc/self/ns/uts; hostname' | xargs)" \
	"$host_uts $(hostname)"
donor=$("$D" run -d --name donor --ipc shareable busybox sh -c 'echo hi >/dev/shm/x; exec sleep 600')
track "$donor"
sleep 0.3
dpid=$("$D" inspect -f '{{.State.Pid}}' donor)
same "--pid and --ipc container:NAME join the donor's namespaces and /dev/shm" \
	"$(run --pid container:donor --ipc container:donor busybox sh -c 'readlink /proc/self/ns/pid; readlink /proc/self/ns/ipc; cat /dev/shm/x' | xargs)" \
	"$(readlink /proc/$dpid/ns/pid) $(readlink /proc/$dpid/ns/ipc) hi"
same "--pid container: of an unknown container is a 404" \
	"$(create '{"Image":"busybox","Cmd":["true"],"HostConfig":{"PidMode":"container:nosuch"}}')" 404
has "with Docker's message" "$(cat "$work/out")" "No such container: nosuch"
"$D" stop -t 0 donor >/dev/null
has "joining a stopped container is refused" \
	"$(run --pid container:donor busybox true)" \
	"cannot join PID of a non running container"
"$D" rm -f donor >/dev/null

# Devices.
out=$(run --device /dev/loop-control:/dev/k:r busybox sh -c 'ls -l /dev/k; : </dev/k && echo read-ok; (: >/dev/k) 2>/dev/null || echo write-denied' | xargs)
has "--device makes the node with the host's numbers" "$out" "10, 237"
has "--device allows exactly its permissions" "$out" "read-ok write-denied"
same "a node made in the container is refused by the devices cgroup" \
	"$(run busybox sh -c 'mknod /tmp/m c 10 237; (: </tmp/m) 2>/dev/null && echo allowed || echo denied')" denied
same "--device-cgroup-rule allows it" \
	"$(run --device-cgroup-rule 'c 10:237 r' busybox sh -c 'mknod /tmp/m c 10 237; (: </tmp/m) 2>/dev/null && echo allowed || echo denied')" allowed

# Volumes: anonymous ones (Config.Volumes) and --volumes-from.
before=$("$D" volume ls -q | wc -l)
id=$("$D" run -d -v /data busybox sh -c 'echo kept >/data/f; sleep 600')
track "$id"
sleep 0.3
after=$("$D" volume ls -q | wc -l)
same "-v /data makes one anonymous volume" "$after" $((before + 1))
same "--volumes-from shares the other's volumes" \
	"$(run --volumes-from "$id" busybox cat /data/f)" kept
has "--volumes-from CTR:ro mounts them read-only" \
	"$(run --volumes-from "$id:ro" busybox sh -c 'echo x >/data/g')" \
	"Read-only file system"
same "--volumes-from an unknown container is a 404" \
	"$(create '{"Image":"busybox","Cmd":["true"],"HostConfig":{"VolumesFrom":["nosuch"]}}')" 404
has "with Docker's message" "$(cat "$work/out")" "No such container: nosuch"
"$D" rm -f -v "$id" >/dev/null
"$D" import --change 'VOLUME /vol' "$work/busybox.tar" withvol >/dev/null
before=$("$D" volume ls -q | wc -l)
id=$("$D" run -d withvol sh -c 'grep -c " /vol " /proc/mounts')
track "$id"
"$D" wait "$id" >/dev/null
same "an image's VOLUME is mounted as an anonymous volume" \
	"$("$D" logs "$id")" 1
same "and that volume is made" "$("$D" volume ls -q | wc -l)" $((before + 1))
"$D" rm -v "$id" >/dev/null
id=$("$D" run -d -v /tmp:/vol withvol sh -c 'grep -c " /vol " /proc/mounts')
track "$id"
"$D" wait "$id" >/dev/null
same "a -v at the image's VOLUME path replaces it" "$("$D" logs "$id")" 1
same "and no anonymous volume is made for it" \
	"$("$D" volume ls -q | wc -l)" "$before"
"$D" rm -v "$id" >/dev/null

# Logging: rotation, reading across files, drivers.
lines='for i in $(seq 1 100); do echo line-$i; done'
id=$("$D" run -d --log-opt max-size=1k --log-opt max-file=3 busybox sh -c "$lines")
track "$id"
"$D" wait "$id" >/dev/null
dir="$work/data/containers/$id"
check "max-size/max-file rotate the json-file log into 3 files" \
	bash -c "test -f '$dir/$id-json.log.2' && ! test -e '$dir/$id-json.log.3' && test \$(stat -c %s '$dir/$id-json.log') -le 1024"
same "docker logs reads across the rotated files" \
	"$("$D" logs --tail 15 "$id" | head -1) $("$D" logs "$id" | tail -1)" \
	"line-86 line-100"
id=$("$D" run -d --log-opt max-size=1k --log-opt max-file=3 --log-opt compress=true busybox sh -c "$lines")
track "$id"
"$D" wait "$id" >/dev/null
check "compress=true gzips the rotated files" \
	test -f "$work/data/containers/$id/$id-json.log.1.gz"
same "docker logs reads the gzipped files" \
	"$("$D" logs --tail 15 "$id" | head -1)" line-86
id=$("$D" run -d --log-driver none busybox echo hi)
track "$id"
"$D" wait "$id" >/dev/null
has "--log-driver none: docker logs answers Docker's error" \
	"$("$D" logs "$id" 2>&1)" "configured logging driver does not support reading"
same "--log-driver none: docker run still shows the output (attach)" \
	"$(run --log-driver none busybox echo hi)" hi
id=$("$D" run -d --log-driver local busybox echo hi)
track "$id"
"$D" wait "$id" >/dev/null
same "--log-driver local writes and reads back" "$("$D" logs "$id")" hi
same "inspect shows the log driver" \
	"$("$D" inspect -f '{{.HostConfig.LogConfig.Type}}' "$id")" local
has "an unknown log driver is refused" \
	"$(run --log-driver syslog busybox true)" \
	"logger: no log driver named 'syslog' is registered"
has "an unknown log option is refused" \
	"$(run --log-opt labels=x busybox true)" \
	"unknown log opt 'labels' for json-file log driver"

# Validation as Docker does it.
same "-e NAME passes the client's value through" \
	"$(FOO=bar run -e FOO busybox sh -c 'echo $FOO')" bar
same "an Env entry without = is accepted" \
	"$(create '{"Image":"busybox","Cmd":["true"],"Env":["NOPE"]}')" 201
track "$(sed 's/.*"Id":"\([0-9a-f]*\)".*/\1/' "$work/out")"
has "an unknown runtime is refused" "$(run --runtime kata busybox true)" \
	"Unknown runtime specified kata"
id=$("$D" create busybox true)
track "$id"
same "inspect shows HostConfig.Runtime, the log driver and /dev/shm's size" \
	"$("$D" inspect -f '{{.HostConfig.Runtime}} {{.HostConfig.LogConfig.Type}} {{.HostConfig.ShmSize}}' "$id")" \
	"runc json-file 67108864"
same "an unknown volume driver is a 404" \
	"$(create '{"Image":"busybox","Cmd":["true"],"HostConfig":{"VolumeDriver":"nfs","Binds":["v:/v"]}}')" 404
has "with Docker's message" "$(cat "$work/out")" \
	'error looking up volume plugin nfs: plugin \"nfs\" not found'

# The same flags through shoal run.
S=$(timed_wrapper shoal "$SHOAL")
same "shoal run --init --shm-size --group-add --sysctl --oom-score-adj" \
	"$("$S" run --rm --init --shm-size 32m --group-add 4321 --sysctl kernel.shmmax=4096 --oom-score-adj 11 busybox sh -c 'head -c 17 /proc/1/cmdline; echo; df -k /dev/shm | awk "NR==2 {print \$2}"; id -G; cat /proc/sys/kernel/shmmax /proc/self/oom_score_adj' 2>&1 | xargs)" \
	"/sbin/docker-init 32768 0 4321 4096 11"
same "shoal run --device, --pid host, --cgroupns host" \
	"$("$S" run --rm --device /dev/loop-control:/dev/k:r --pid host --cgroupns host busybox sh -c "ls -l /dev/k | cut -c1; readlink /proc/self/ns/pid; grep -c ':memory:/$cgparent/' /proc/self/cgroup" 2>&1 | xargs)" \
	"c $host_pid 1"
id=$("$S" run -d --log-opt max-size=1k --log-opt max-file=2 busybox sh -c "$lines")
track "$id"
"$S" wait "$id" >/dev/null
check "shoal run --log-opt rotates" \
	test -f "$work/data/containers/$id/$id-json.log.1"
same "shoal run -e NAME passes the client's value" \
	"$(FOO=baz "$S" run --rm -e FOO busybox sh -c 'echo $FOO')" baz

for c in $("$D" ps -aq); do "$D" rm -f -v "$c" >/dev/null; done
finish
