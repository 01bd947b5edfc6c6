#!/usr/bin/env bash
# Issue 9, "answers that tell the truth", through the real docker CLI (v28)
# and a private shoald: /info says what this host's cgroups can limit and
# names only drivers that exist; stats list only interfaces that exist,
# with their counters; exec and run of a command that is missing or not
# executable fail with Docker's text and exit codes; a user's groups from
# the image's /etc/group; rmi's conflicts; load's report of a moved tag;
# top's columns as ps -ef prints them; the texts for bad volume specs, a
# volume in use and an unknown image. Skipped when /usr/local/bin/docker
# is absent.
SHOALD=$1 SHOAL=$2 SRC=$3
D=/usr/local/bin/docker
[ -x "$D" ] || { echo "SKIP: no docker CLI at $D"; exit 77; }
. "$(dirname "$0")/lib.sh"
D=$(timed_wrapper docker "$D")
make_image
daemon_start
"$D" import "$work/busybox.tar" busybox:latest >/dev/null ||
	{ echo "cannot import busybox"; exit 1; }

# expect_eq "sentence" WANT GOT
expect_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: want [$2], got [$3]"; fi
}

# --- /info ------------------------------------------------------------------

# What Docker's pkg/sysinfo would find here, from the files themselves.
cg=/sys/fs/cgroup
has() { [ -e "$1" ] && echo true || echo false; }
if [ -e "$cg/cgroup.controllers" ]; then
	ctl=" $(cat "$cg/cgroup.controllers") "
	word() { [[ "$ctl" == *" $1 "* ]] && echo true || echo false; }
	want_mem=$(word memory) want_cpu=$(word cpu)
	want_cpuset=$(word cpuset) want_pids=$(word pids)
	want_oom=false want_kmem_tcp=false
	want_swap=false
	[ "$want_mem" = true ] && ls "$cg"/*/memory.swap.max >/dev/null 2>&1 &&
		want_swap=true
	want_period=$want_cpu want_quota=$want_cpu want_shares=$want_cpu
else
	want_mem=$(has "$cg/memory/cgroup.procs")
	want_swap=$(has "$cg/memory/memory.memsw.limit_in_bytes")
	want_kmem_tcp=$(has "$cg/memory/memory.kmem.tcp.limit_in_bytes")
	want_oom=$(has "$cg/memory/memory.oom_control")
	want_shares=$(has "$cg/cpu/cpu.shares")
	want_period=$(has "$cg/cpu/cpu.cfs_period_us")
	want_quota=$(has "$cg/cpu/cpu.cfs_quota_us")
	want_cpuset=$(has "$cg/cpuset/cpuset.cpus")
	want_pids=$(has "$cg/pids/cgroup.procs")
fi
info=$("$D" info --format '{{.MemoryLimit}} {{.SwapLimit}} {{.KernelMemoryTCP}} {{.OomKillDisable}} {{.CPUShares}} {{.CPUCfsPeriod}} {{.CPUCfsQuota}} {{.CPUSet}} {{.PidsLimit}}')
expect_eq "/info's limits are what this host's cgroup files offer" \
	"$want_mem $want_swap $want_kmem_tcp $want_oom $want_shares $want_period $want_quota $want_cpuset $want_pids" \
	"$info"
expect_eq "/info says live restore: containers outlive shoald" true \
	"$("$D" info --format '{{.LiveRestoreEnabled}}')"
expect_eq "/info names only drivers that exist" \
	'{"Volume":["local"],"Network":["bridge","host","null"],"Authorization":null,"Log":["json-file"]}' \
	"$("$D" info --format '{{json .Plugins}}')"
check "docker info prints the network drivers and no error" \
	bash -c "'$D' info 2>&1 | grep -qx '  Network: bridge host null' && '$D' info >/dev/null 2>&1"

# --- a command that cannot be run --------------------------------------------

id=$("$D" run -d --name box busybox sleep 1000); track "$id"
out=$("$D" exec box nosuchcmd 2>&1); rc=$?; out=${out//$'\r'/}
expect_eq "docker exec of a missing command exits 126" 126 "$rc"
expect_eq "docker exec of a missing command prints Docker's sentence" \
	'OCI runtime exec failed: exec failed: unable to start container process: exec: "nosuchcmd": executable file not found in $PATH: unknown' \
	"$out"
out=$("$D" exec box /etc/passwd 2>&1); rc=$?; out=${out//$'\r'/}
expect_eq "docker exec of a file that is not executable exits 126" 126 "$rc"
expect_eq "docker exec of a file that is not executable says permission denied" \
	'OCI runtime exec failed: exec failed: unable to start container process: exec: "/etc/passwd": permission denied: unknown' \
	"$out"
expect_eq "the failed exec's sentence comes on stdout, as Docker writes it" \
	"" "$("$D" exec box nosuchcmd 2>&1 >/dev/null)"

out=$("$D" run --name nobin busybox nosuchbinary 2>&1); rc=$?
track "$("$D" inspect -f '{{.Id}}' nobin 2>/dev/null)"
expect_eq "docker run of a missing command exits 127" 127 "$rc"
check "docker run of a missing command prints Docker's sentence" grep -qxF \
	'docker: Error response from daemon: OCI runtime create failed: unable to start container process: exec: "nosuchbinary": executable file not found in $PATH: unknown' \
	<<<"$out"
expect_eq "the container of a failed start stays created, as in Docker" \
	created "$("$D" inspect -f '{{.State.Status}}' nobin 2>&1)"
out=$("$D" run --rm busybox /etc/passwd 2>&1); rc=$?
expect_eq "docker run of a file that is not executable exits 126" 126 "$rc"
check "docker run of a file that is not executable says permission denied" \
	grep -qF 'exec: "/etc/passwd": permission denied: unknown' <<<"$out"
out=$("$D" run --rm busybox /tmp 2>&1); rc=$?
expect_eq "docker run of a folder exits 126 (is a directory)" 126 "$rc"
"$D" rm -f box nobin >/dev/null

# --- a user's groups -----------------------------------------------------------

# An image whose /etc/group lists alice in staff and audio (not in video).
mkdir -p "$work/users"
tar -xf "$work/busybox.tar" -C "$work/users"
echo 'alice:x:1000:1000:alice:/home/alice:/bin/sh' >>"$work/users/etc/passwd"
printf 'alice:x:1000:\nstaff:x:50:alice\naudio:x:29:bob,alice\nvideo:x:44:bob\n' \
	>>"$work/users/etc/group"
tar -cf "$work/users.tar" -C "$work/users" .
"$D" import "$work/users.tar" users:latest >/dev/null
groups_of() { # groups_of ARGS... -> the supplementary gids, sorted
	"$D" "$@" grep ^Groups: /proc/self/status 2>&1 | cut -f2 |
		tr ' ' '\n' | sort -n | xargs
}
expect_eq "--user alice gets her primary group and those listing her" \
	"29 50 1000" "$(groups_of run --rm --user alice users)"
expect_eq "--user 1000 finds alice by uid, with the same groups" \
	"29 50 1000" "$(groups_of run --rm --user 1000 users)"
expect_eq "--user alice:video gets only the group named" \
	"44" "$(groups_of run --rm --user alice:video users)"
expect_eq "--user 4242 (no passwd entry) gets group 0" \
	"0" "$(groups_of run --rm --user 4242 users)"
expect_eq "root gets its primary group" "0" "$(groups_of run --rm users)"
id=$("$D" run -d --name ubox users sleep 1000); track "$id"
expect_eq "docker exec --user alice gets the same groups" \
	"29 50 1000" "$(groups_of exec --user alice ubox)"
"$D" rm -f ubox >/dev/null
out=$("$D" run --rm --user nosuchuser users true 2>&1); rc=$?
expect_eq "an unknown user fails as Docker says it (125)" 125 "$rc"
check "an unknown user's message is Docker's, unwrapped" grep -qxF \
	'docker: Error response from daemon: unable to find user nosuchuser: no matching entries in passwd file' \
	<<<"$out"

# --- stats: only interfaces that exist -----------------------------------------

api_json() { curl -s -m 30 --unix-socket "$sock" "http://x/v1.45$1"; }
id=$("$D" run -d --name net --network none busybox sleep 1000); track "$id"
stats=$(api_json /containers/net/stats?stream=0\&one-shot=1)
check "stats omit networks when the container has only lo" \
	bash -c "grep -q '\"pids_stats\"' <<<'$stats' && ! grep -q '\"networks\"' <<<'$stats'"
check "docker stats shows no network traffic for it" \
	bash -c "'$D' stats --no-stream --format '{{.NetIO}}' net | grep -qx '0B / 0B'"
if command -v nsenter >/dev/null && command -v ip >/dev/null; then
	# Give the container a veth pair of its own (both ends inside its
	# namespace, no IPv6 chatter) and send ARP requests through it.
	cpid=$("$D" inspect -f '{{.State.Pid}}' net)
	nsenter -t "$cpid" -n sh -c 'sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 && ip link add eth0 type veth peer name peer0 && ip addr add 10.99.0.1/24 dev eth0 && ip link set eth0 up && ip link set peer0 up'
	"$D" exec net ping -c 2 -W 1 10.99.0.2 >/dev/null 2>&1
	sleep 0.2
	stats=$(api_json /containers/net/stats?stream=0\&one-shot=1)
	want=$(awk -F'[: ]+' '$2 == "eth0" {print $3, $4, $11, $12}' /proc/"$cpid"/net/dev)
	got=$(python3 -c 'import json,sys; n=json.load(sys.stdin)["networks"]; e=n["eth0"]; print(e["rx_bytes"], e["rx_packets"], e["tx_bytes"], e["tx_packets"]) if "lo" not in n and "peer0" in n else print("lo listed or peer0 missing")' <<<"$stats" 2>&1)
	expect_eq "stats list every interface but lo with its real counters" "$want" "$got"
	check "ARP requests went out of eth0" test "$(cut -d' ' -f4 <<<"$got")" -ge 2
	check "docker stats adds the traffic up" \
		bash -c "! '$D' stats --no-stream --format '{{.NetIO}}' net | grep -qx '0B / 0B'"
else
	echo "# nsenter or ip missing: interface counters not checked"
fi
"$D" rm -f net >/dev/null

# --- top: ps -ef's columns -------------------------------------------------------

# What ps on the host prints for @pids, in docker top's column order.
ps_rows() {
	ps -o user=,pid=,ppid=,c=,stime=,tty=,time=,args= -p "$1" |
		sed 's/^ *//; s/  */ /g'
}
top_rows() { "$D" top "$1" | tail -n +2 | sed 's/  */ /g'; }
id=$("$D" run -d --name top1 busybox sh -c 'sleep 1000 & sleep 1001 & wait'); track "$id"
sleep 0.3
pids=$("$D" top top1 | awk 'NR > 1 {print $2}' | paste -sd,)
expect_eq "docker top lists the container's three processes" 3 \
	"$(tr ',' '\n' <<<"$pids" | wc -l)"
expect_eq "docker top fills every column as ps -ef does" \
	"$(ps_rows "$pids")" "$(top_rows top1)"
id=$("$D" run -dt --name top2 busybox sh); track "$id"
sleep 0.3
pids=$("$D" top top2 | awk 'NR > 1 {print $2}' | paste -sd,)
expect_eq "a tty container's process shows its tty" pts/0 \
	"$("$D" top top2 | awk 'NR == 2 {print $6}')"
expect_eq "... and every other column as ps -ef prints it" \
	"$(ps_rows "$pids" | cut -d' ' -f1-5,7-)" \
	"$(top_rows top2 | cut -d' ' -f1-5,7-)"
"$D" rm -f top1 top2 >/dev/null

# --- rmi of an image in use -------------------------------------------------------

"$D" import "$work/busybox.tar" rmtest:latest >/dev/null
img=$("$D" inspect -f '{{.Id}}' rmtest | cut -c8-19)
id=$("$D" run -d --name rmc rmtest sleep 1000); track "$id"
c=${id:0:12}
out=$("$D" rmi "$img" 2>&1); rc=$?
expect_eq "rmi by id of an image a running container uses is refused" \
	"1 Error response from daemon: conflict: unable to delete $img (cannot be forced) - image is being used by running container $c" \
	"$rc $out"
out=$("$D" rmi -f "$img" 2>&1); rc=$?
expect_eq "... and -f cannot force it" \
	"1 Error response from daemon: conflict: unable to delete $img (cannot be forced) - image is being used by running container $c" \
	"$rc $out"
out=$("$D" rmi rmtest 2>&1); rc=$?
expect_eq "rmi by name of the last tag of a used image must be forced" \
	"1 Error response from daemon: conflict: unable to remove repository reference \"rmtest\" (must force) - container $c is using its referenced image $img" \
	"$rc $out"
"$D" stop -t 0 rmc >/dev/null
out=$("$D" rmi "$img" 2>&1); rc=$?
expect_eq "rmi by id of an image a stopped container uses must be forced" \
	"1 Error response from daemon: conflict: unable to delete $img (must be forced) - image is being used by stopped container $c" \
	"$rc $out"
out=$("$D" rmi -f "$img" 2>&1); rc=$?
expect_eq "rmi -f of it untags it" "0 Untagged: rmtest:latest" "$rc $out"
check "the stopped container still starts from the untagged image" \
	bash -c "'$D' start rmc >/dev/null && '$D' rm -f rmc >/dev/null"
check "once no container uses it, rmi deletes it" \
	bash -c "'$D' rmi '$img' | grep -q '^Deleted: sha256:' && ! '$D' inspect '$img' >/dev/null 2>&1"

# --- load: a tag that moves -------------------------------------------------------

"$D" import "$work/busybox.tar" ld:latest >/dev/null
a=$("$D" inspect -f '{{.Id}}' ld)
"$D" save -o "$work/ld.tar" ld:latest
out=$("$D" load -i "$work/ld.tar" 2>&1)
expect_eq "loading an image already present adds nothing and says only that" \
	"Loaded image: ld:latest" "$out"
expect_eq "... and leaves no dangling image" "" \
	"$("$D" images -q -f dangling=true)"
"$D" import "$work/busybox.tar" ld:latest >/dev/null
b=$("$D" inspect -f '{{.Id}}' ld)
out=$("$D" load -i "$work/ld.tar" 2>&1)
expect_eq "loading a tag that names another image says it moves, as Docker" \
	"The image ld:latest already exists, renaming the old one with ID $b to empty string
Loaded image: ld:latest" "$out"
expect_eq "the tag is the loaded image's again" "$a" \
	"$("$D" inspect -f '{{.Id}}' ld)"
expect_eq "the other image stays, untagged (Docker's dangling image)" \
	"${b:7:12}" "$("$D" images -q -f dangling=true)"
expect_eq "docker images -f dangling=false lists the tagged ones" \
	"$(printf '%s\n' busybox ld users | sort)" \
	"$("$D" images -f dangling=false --format '{{.Repository}}' | sort)"
expect_eq "docker images NAME lists only that repository" busybox \
	"$("$D" images --format '{{.Repository}}' busybox)"
out=$("$D" images -f bogus=1 2>&1); rc=$?
expect_eq "an unknown image filter is refused as Docker does" \
	"1 Error response from daemon: invalid filter 'bogus'" "$rc $out"
"$D" rmi "$b" ld >/dev/null

# --- volume specs, a volume in use, an unknown image -------------------------------

# run_err SPEC: what docker run -v SPEC prints, with its exit code first.
run_err() {
	local out rc
	out=$("$D" run --rm -v "$1" busybox true 2>&1); rc=$?
	echo "$rc $(head -1 <<<"$out")"
}
expect_eq "-v bad::spec is refused by the docker CLI itself, as with Docker" \
	"125 docker: invalid spec: bad::spec: empty section between colons" \
	"$(run_err bad::spec)"
expect_eq "a relative target gets Docker's sentence" \
	"125 docker: Error response from daemon: invalid volume specification: '/x:relative': invalid mount config for type \"bind\": invalid mount path: 'relative' mount path must be absolute" \
	"$(run_err /x:relative)"
expect_eq "a bad mode gets Docker's sentence" \
	"125 docker: Error response from daemon: invalid mode: bogus" \
	"$(run_err /x:/y:bogus)"
expect_eq "too many parts get Docker's sentence" \
	"125 docker: Error response from daemon: invalid volume specification: 'a:b:c:d'" \
	"$(run_err a:b:c:d)"
expect_eq "a bad volume name gets the local driver's sentence" \
	"125 docker: Error response from daemon: create n@me: \"n@me\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path" \
	"$(run_err n@me:/data)"
check "no container is left by the refused specs" test -z "$(all_ids)"

"$D" volume create busy >/dev/null
id=$("$D" create --name vol1 -v busy:/data busybox true); track "$id"
id2=$("$D" run -d --name vol2 -v busy:/data busybox sleep 1000); track "$id2"
out=$("$D" volume rm busy 2>&1); rc=$?
got=$(sed -n 's/.*volume is in use - \[\(.*\)\]$/\1/p' <<<"$out" |
	tr -d ' ' | tr ',' '\n' | sort | xargs)
expect_eq "removing a volume in use names every container using it" \
	"1 Error response from daemon: remove busy: volume is in use - [" \
	"$rc ${out%%\[*}["
expect_eq "... by full id, running or not" \
	"$(printf '%s\n' "$id" "$id2" | sort | xargs)" "$got"
"$D" rm -f vol1 vol2 >/dev/null
"$D" volume rm busy >/dev/null

out=$("$D" run --rm nosuchimage 2>&1); rc=$?
expect_eq "an unknown image: exit 125" 125 "$rc"
# The test's network namespace has no way out: the pull fails to resolve
# Docker Hub's name, and says so.
expect_eq "... the docker CLI says it is not here, then why it cannot pull it" \
	"Unable to find image 'nosuchimage:latest' locally
docker: Error response from daemon: Get \"https://registry-1.docker.io/v2/\": Couldn't resolve host name" \
	"$(head -2 <<<"$out")"
out=$(curl -s --unix-socket "$sock" -w '\n%{http_code}' \
	-H 'Content-Type: application/json' -d '{"Image":"nosuchimage"}' \
	http://x/v1.45/containers/create)
expect_eq "create answers Docker's 404 for it" \
	'{"message":"No such image: nosuchimage:latest"} 404' "$(tr '\n' ' ' <<<"$out" | sed 's/ *$//; s/  */ /g')"

finish
