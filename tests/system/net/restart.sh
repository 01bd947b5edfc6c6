#!/usr/bin/env bash
# Networking across restarts of shoald: running containers keep their
# addresses and published ports through a clean stop and through a crash
# (SIGKILL); a namespace a crash left without its container is cleaned at
# the next start; a stopped container whose namespace is gone (a reboot
# empties the exec-root) gets it back, with the same address, at its next
# start; and rm -f leaves nothing.
SHOALD=$1 SHOAL=$2 SRC=$3
D=/usr/local/bin/docker
[ -x "$D" ] || { echo "SKIP: no docker CLI at $D"; exit 77; }
. "$(dirname "$0")/lib.sh"
D=$(timed_wrapper docker "$D")
make_image
daemon_start
outside_up
"$D" import "$work/busybox.tar" busybox:latest >/dev/null

not() { ! "$@"; }
ins() { "$D" inspect -f "$1" "$2" 2>/dev/null; }
run() { local id; id=$("$D" run -d "$@") || return 1; track "$id"; echo "$id"; }
links() { inhost ip -o link | awk -F': ' '{print $2}'; }
web() { inout curl -s -m 3 http://10.99.0.1:8080/www; }

"$D" network create n1 >/dev/null
run --name web --network n1 -p 8080:80 busybox sh -c \
	'echo hi-from-web >/www; httpd -f -p 80 -h /' >/dev/null
run --name keep busybox sleep 1000 >/dev/null
run --name peer --network n1 busybox sleep 1000 >/dev/null
run --name later busybox sleep 1000 >/dev/null
# A container with servers of its own (--dns) keeps them across a restart
# (the endpoint record): a fake nameserver outside alone knows the name.
run --name dnsp --network n1 --dns 10.99.0.2 busybox sleep 1000 >/dev/null
ip netns exec "$outside" python3 "$(dirname "$0")/dns_upstream.py" 10.99.0.2 own.example.com=192.0.2.99 >"$work/dns-up" 2>&1 &
dns_up_pid=$!
ip_web=$(ins '{{.NetworkSettings.Networks.n1.IPAddress}}' web)
ip_keep=$(ins '{{.NetworkSettings.IPAddress}}' keep)
ip_later=$(ins '{{.NetworkSettings.IPAddress}}' later)
sleep 0.3
check "the published port answers before any restart" grep -q hi-from-web <<<"$(web)"

# --- a clean restart --------------------------------------------------------
daemon_stop
daemon_start
check "after a restart the address is the same" [ "$(ins '{{.NetworkSettings.Networks.n1.IPAddress}}' web)" = "$ip_web" ]
check "after a restart the published port still answers" grep -q hi-from-web <<<"$(web)"
check "after a restart containers still reach each other" "$D" exec keep ping -c1 -W2 "$ip_later"
check "after a restart names still resolve" "$D" exec peer ping -c1 -W2 web
check "after a restart --dns still forwards to the container's server" grep -q 192.0.2.99 <<<"$("$D" exec dnsp nslookup own.example.com 2>&1)"
kill "$dns_up_pid"; wait "$dns_up_pid" 2>/dev/null; dns_up_pid=

# --- a crash ------------------------------------------------------------------
"$D" stop -t 1 later >/dev/null
later_id=$(ins '{{.Id}}' later)
kill -KILL "$pid"; wait "$pid" 2>/dev/null; pid=""
# What a crash in the middle of a create leaves: a namespace bound under
# the exec-root that no container owns.
stale="$work/x/netns/$(printf '%064d' 7)"
touch "$stale" && unshare --net="$stale" true
# What a reboot does to the stopped container: its namespace is gone.
later_sb=$(python3 - "$work/data/network" "$later_id" <<'PY'
import json, os, sys
d, cid = sys.argv[1], sys.argv[2]
for f in os.listdir(d):
    if f.endswith(".json"):
        for ep in json.load(open(os.path.join(d, f))).get("Endpoints", []):
            if ep["Container"] == cid:
                print(ep["Sandbox"])
PY
)
daemon_start
check "the stale namespace is unbound at start-up" not grep -q " $stale " /proc/self/mountinfo
check "... and its file removed" [ ! -e "$stale" ]
check "after a crash the address is the same" [ "$(ins '{{.NetworkSettings.IPAddress}}' keep)" = "$ip_keep" ]
check "after a crash the published port still answers" grep -q hi-from-web <<<"$(web)"
check "after a crash names still resolve" "$D" exec peer ping -c1 -W2 web
check "the stopped container's namespace is recorded" [ -n "$later_sb" ]
umount "$work/x/netns/$later_sb" && rm -f "$work/x/netns/$later_sb"
"$D" start later >/dev/null
check "a container whose namespace was lost gets it back on start" grep -q "inet $ip_later/" <<<"$("$D" exec later ip addr show eth0)"
check "... its namespace is the one recorded" [ -n "$later_sb" ] && grep -q " $work/x/netns/$later_sb " /proc/self/mountinfo
check "... and reaches the others again" "$D" exec later ping -c1 -W2 "$ip_keep"
run --name new busybox sleep 1000 >/dev/null
ip_new=$(ins '{{.NetworkSettings.IPAddress}}' new)
check "a new container gets an address nobody holds" [ -n "$ip_new" ] && [ "$ip_new" != "$ip_keep" ] && [ "$ip_new" != "$ip_later" ]

# --- nothing left ---------------------------------------------------------------
for c in $("$D" ps -aq); do "$D" rm -f "$c" >/dev/null; done
"$D" network rm n1 >/dev/null
check "no namespace stays mounted" [ "$(netns_left)" = 0 ]
# The host ends are deleted off the daemon's loop: give them a moment.
no_veth() { for _ in $(seq 40); do grep -q "^vs" <<<"$(links)" || return 0; sleep 0.05; done; return 1; }
check "no veth stays on the host" no_veth
check "no endpoint stays in the records" not grep -q '"Container"' <<<"$(cat "$work/data/network/"*.json)"
finish
