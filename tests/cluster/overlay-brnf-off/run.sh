#!/usr/bin/env bash
# `shoald --bridge-nf-call=off` (docs/networking.md, "Bridged frames and
# br_netfilter") on three lab hosts: each host's namespace has the three
# net.bridge.bridge-nf-call-* sysctls at 0, and the paths that could have
# relied on br_netfilter still work without it: a client task on h1
# reaches a service's VIP whose tasks are on h2 and h3 and resolves
# tasks.NAME; the routing mesh answers on h1 (no task) with the client's
# own address seen by the task; a port published on h1's default bridge
# answers a container on the same bridge (hairpin: DNAT and masquerade,
# no bridged netfilter).
# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/cluster/service-lib.sh
. "$(dirname "$0")/../service-lib.sh"

[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ] ||
	skip "br_netfilter is not loaded here: --bridge-nf-call=off has nothing to change"
export SHOAL_LAB_DAEMON_ARGS="${SHOAL_LAB_DAEMON_ARGS:-} --bridge-nf-call=off"
svc_lab 3

note "the sysctls in every host's namespace"
for h in h1 h2 h3; do
	for k in iptables ip6tables arptables; do
		assert_eq "$h: bridge-nf-call-$k is 0" 0 \
			"$(lab exec "$h" cat "/proc/sys/net/bridge/bridge-nf-call-$k")"
	done
done
assert_contains "h1's log says what it did" "--bridge-nf-call=off: wrote 0" \
	"$(cat "$(lab log h1)")"

note "an overlay: web (VIP) on h2 and h3, a client on h1"
# shellcheck disable=SC2016 # expanded by the task's shell
cgi='#!/bin/sh
printf "Content-Type: text/plain\r\n\r\n%s %s\n" "$(hostname)" "$REMOTE_ADDR"'
serve="mkdir -p /w/cgi-bin && printf '%s\n' '$cgi' > /w/cgi-bin/who &&
chmod +x /w/cgi-bin/who && exec httpd -f -p 80 -h /w"
assert_ok "docker network create -d overlay front" \
	lab exec h1 docker network create -d overlay front
assert_ok "web: on front, 8080:80 in ingress mode, not on h1" \
	lab exec h1 docker service create -d --name web --network front \
	-p 8080:80 --replicas 2 --constraint node.hostname!=h1 busybox \
	sh -c "$serve"
assert_ok "client: on front, on h1" \
	lab exec h1 docker service create -d --name client --network front \
	--constraint node.hostname==h1 busybox sleep 1000
web0_run() { lab exec h1 docker run -d --name web0 -p 8090:80 busybox \
	sh -c 'echo hi-from-web0 >/www; exec httpd -f -p 80 -h /' >/dev/null; }
assert_ok "web0: 8090:80 on h1's default bridge" web0_run
assert_ok "cli0: on h1's default bridge" \
	lab exec h1 docker run -d --name cli0 busybox sleep 1000
assert_eventually "web runs on h2 and h3" 60 svc_count web 2
assert_eventually "client runs on h1" 60 svc_on h1 client 1
assert_eq "web runs on h2 and h3 (spread)" "h2 h3 " "$(svc_running web)"
c=$(svc_containers h1 client | tr -d ' ')
in_client() { lab exec h1 docker exec "$c" "$@"; }
note "VIP and tasks.NAME from another host"
get() { # ADDR: the page at ADDR:80/cgi-bin/who from the client
	in_client sh -c "printf 'GET /cgi-bin/who HTTP/1.0\r\n\r\n' | nc -w 3 $1 80 | tail -1"
}
lookup() { # NAME: the addresses the client's resolver gives, sorted
	in_client nslookup "$1" 127.0.0.11 2>/dev/null |
		awk '/^Address/ && $NF !~ /127.0.0.11/ {print $NF}' |
		grep -v ':53$' | sort | tr '\n' ' '
}
vip=$(lookup web | tr -d ' ')
note "web's VIP on front: $vip"
reaches_vip() { [ -n "$vip" ] && [ -n "$(get "$vip")" ]; }
assert_eventually "the client on h1 reaches web's VIP" 20 reaches_vip
pages=$(for i in $(seq 1 12); do get "$vip"; done | awk '{print $1}' | sort -u)
assert_eq "connections to the VIP reach both tasks" 2 "$(echo "$pages" | grep -c .)"
web_tasks=$(for t in $(lab exec h1 docker service ps -q -f desired-state=running web); do
	lab exec h1 docker inspect -f '{{range .NetworksAttachments}}{{.Network.Spec.Name}}={{index .Addresses 0}} {{end}}' "$t" |
		tr ' ' '\n' | sed -n 's,^front=\(.*\)/.*,\1,p'
done | sort | tr '\n' ' ')
assert_eq "tasks.web is its two tasks on front" "$web_tasks" "$(lookup tasks.web)"
one_task=${web_tasks%% *}
assert_ok "a task on another host answers the client at its own address" \
	test -n "$(get "$one_task")"

note "the routing mesh: h3 asks h1, which has no task"
h1=$(lab addr h1)
h3=$(lab addr h3)
mesh() { # HOST ADDR: /cgi-bin/who at ADDR:8080 asked from HOST
	lab exec "$1" busybox sh -c \
		"printf 'GET /cgi-bin/who HTTP/1.0\r\n\r\n' | busybox nc -w 3 $2 8080" |
		tail -1 | sed 's/\[::ffff:\(.*\)\]/\1/'
}
answers() { [ -n "$(mesh h3 "$h1")" ]; }
assert_eventually "h1 (no task) answers on 8080" 30 answers
assert_eq "the task sees the client's address (h3's)" "$h3" \
	"$(mesh h3 "$h1" | awk '{print $2}')"

note "a published port on h1's default bridge from a container on it"
assert_contains "cli0 reaches web0 at h1's address:8090 (hairpin)" hi-from-web0 \
	"$(lab exec h1 docker exec cli0 sh -c "printf 'GET /www HTTP/1.0\r\n\r\n' | nc -w 3 $h1 8090")"
assert_contains "h2 reaches it too" hi-from-web0 \
	"$(lab exec h2 curl -s -m 3 "http://$h1:8090/www")"

lab exec h1 docker rm -f web0 cli0 >/dev/null 2>&1 || true
lab exec h1 docker service rm web client >/dev/null 2>&1 || true
lab_end
