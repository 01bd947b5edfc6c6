#!/usr/bin/env bash
# The routing mesh across three lab hosts (docs/overlay.md, step 5),
# through the real docker CLI: `web` publishes 8080:80 in ingress mode
# with its two tasks on h2 and h3; a request from h3 to h1 (which has no
# task) reaches a task, and the task (a busybox httpd CGI printing
# REMOTE_ADDR) sees h3's own address, not a node's; connections to h1
# are balanced over both tasks; h1 answers its own requests too; a task
# whose first network is an overlay of its own sees the client too; so
# do they through h2 after its shoald is killed and started again; a UDP
# port is DNATed on h1 to its task (busybox has no UDP server: the rule
# is read, and datagrams sent to h1 are counted on the task's eth0); `service update --publish-rm 80` (the docker CLI removes by
# target port) stops the answer while the other service's port stays;
# a node leaving the swarm drops the mesh's table; after service rm no
# host keeps it.
# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/cluster/service-lib.sh
. "$(dirname "$0")/../service-lib.sh"

svc_lab 3

# shellcheck disable=SC2016 # expanded by the task's shell
cgi='#!/bin/sh
printf "Content-Type: text/plain\r\n\r\n%s %s\n" "$(hostname)" "$REMOTE_ADDR"'
serve="mkdir -p /w/cgi-bin && printf '%s\n' '$cgi' > /w/cgi-bin/who &&
chmod +x /w/cgi-bin/who && exec httpd -f -p 80 -h /w"
note "web: 8080:80 in ingress mode, tasks on h2 and h3"
assert_ok "service create -p 8080:80" \
	lab exec h1 docker service create -d --name web -p 8080:80 \
	--replicas 2 --constraint node.hostname!=h1 busybox sh -c "$serve"
assert_eventually "web runs on h2 and h3" 60 svc_count web 2
assert_eq "web runs on h2 and h3 (spread)" "h2 h3 " "$(svc_running web)"

h1=$(lab addr h1)
h3=$(lab addr h3)
get() { # HOST ADDR [PORT]: ADDR:PORT/cgi-bin/who (8080) asked from HOST
	lab exec "$1" busybox sh -c \
		"printf 'GET /cgi-bin/who HTTP/1.0\r\n\r\n' | busybox nc -w 3 $2 ${3:-8080}" |
		tail -1 | sed 's/\[::ffff:\(.*\)\]/\1/'
}
answers() { [ -n "$(get h3 "$h1")" ]; }
assert_eventually "h1 (no task) answers on 8080" 30 answers
page=$(get h3 "$h1")
note "from h3 through h1: $page"
assert_eq "the task sees the client's address (h3's)" "$h3" \
	"$(echo "$page" | awk '{print $2}')"
pages=$(for i in $(seq 1 16); do get h3 "$h1"; done | awk '{print $1}' | sort | uniq -c)
note "$(echo "$pages" | tr '\n' ' ')"
assert_eq "connections through h1 reach both tasks" 2 "$(echo "$pages" | grep -c .)"
assert_eq "h2 answers too (its own task or h3's)" "$h3" \
	"$(get h3 "$(lab addr h2)" | awk '{print $2}')"
assert_eq "h1 answers its own request (client h1)" "$h1" \
	"$(get h1 "$h1" | awk '{print $2}')"

note "h2's shoald killed and started again (its task adopted)"
h2=$(lab addr h2)
lab kill h2 >/dev/null
lab start h2 >/dev/null
h2_clients() { # the client address of 8 requests through h2, each once
	for i in $(seq 1 8); do get h3 "$h2"; done | awk '{print $2}' | sort -u
}
h2_ok() { [ "$(h2_clients)" = "$h3" ]; }
assert_eventually "after the restart h2 answers, the tasks see h3" 60 h2_ok

note "a task on an overlay of its own as well"
assert_ok "docker network create -d overlay front" \
	lab exec h1 docker network create -d overlay front
assert_ok "both: on front, 8081:80 in ingress mode, on h2" \
	lab exec h1 docker service create -d --name both --network front \
	-p 8081:80 --constraint node.hostname==h2 busybox sh -c "$serve"
assert_eventually "both runs" 60 svc_count both 1
get81() { get "$1" "$2" 8081; }
answers81() { [ -n "$(get81 h3 "$h1")" ]; }
assert_eventually "h1 answers on 8081" 30 answers81
assert_eq "a task on two networks sees the client's address" "$h3" \
	"$(get81 h3 "$h1" | awk '{print $2}')"
assert_ok "service rm both" lab exec h1 docker service rm both

note "UDP"
assert_ok "echo: 9053:53/udp in ingress mode, on h2" \
	lab exec h1 docker service create -d --name echo \
	-p 9053:53/udp --constraint node.hostname==h2 busybox sleep 100000
assert_eventually "echo runs" 60 svc_count echo 1
echo_addr=$(lab exec h1 docker inspect -f \
	'{{range .NetworksAttachments}}{{index .Addresses 0}}{{end}}' \
	"$(lab exec h1 docker service ps -q -f desired-state=running echo)" |
	cut -d/ -f1)
# The table read whole before grep: grep -q leaving at its match would
# end nft with SIGPIPE, which pipefail reports as a failure.
udp_rule() {
	local t
	t=$(lab exec h1 nft list table inet shoal-ingress) &&
		grep -q "udp dport 9053 dnat ip to .*$echo_addr . 53" <<<"$t"
}
assert_eventually "h1 DNATs 9053/udp to echo's task ($echo_addr:53)" 30 udp_rule
echo_c=$(svc_containers h2 echo | tr -d ' ')
rx() { lab exec h2 docker exec "$echo_c" cat /sys/class/net/eth0/statistics/rx_packets; }
before=$(rx)
lab exec h3 python3 -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(40):
    s.sendto(b'x' * 300, ('$h1', 9053))
"
sleep 1
after=$(rx)
note "echo's eth0 received $((after - before)) packets"
assert_ok "40 datagrams sent from h3 to h1:9053 reach echo's task on h2" \
	test $((after - before)) -ge 40

note "--publish-rm"
assert_ok "service update --publish-rm 80" \
	lab exec h1 docker service update -d --publish-rm 80 web
gone() { [ -z "$(get h3 "$h1")" ]; }
assert_eventually "8080 no longer answers on h1" 60 gone
assert_ok "9053/udp is still DNATed on h1" udp_rule

note "removal"
has_table() { lab exec "$1" nft list tables | grep -q shoal-ingress; }
assert_ok "h3 serves 9053/udp before leaving" has_table h3
assert_ok "h3 leaves the swarm" lab exec h3 shoal swarm leave
assert_fails "h3 keeps no mesh table after leaving" has_table h3
assert_ok "service rm" lab exec h1 docker service rm web echo
no_table() {
	local h
	for h in h1 h2; do
		lab exec "$h" nft list tables | grep -q shoal-ingress && return 1
	done
	return 0
}
assert_eventually "no host keeps the mesh's table" 30 no_table
lab_end
