#!/usr/bin/env bash
# Published ports between lab hosts, each shoald networking only its own
# host: a TCP and a UDP port published on h1 answer h2 at h1's address; a
# container on h2 reaches them too (outbound masquerade on h2, DNAT on h1);
# each host has its own shoal0 and table, and the machine's namespace gets
# neither. Skipped when there is no shoald or no docker CLI.
# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/../lib.sh"

has_shoald || skip "needs shoald in $SHOAL_BIN_DIR"
command -v docker >/dev/null || skip "the docker CLI is not installed"
command -v python3 >/dev/null || skip "python3 is not installed"
udp=$SHOAL_SOURCE_DIR/tests/system/net/udp.py
lab_begin 2
a1=$(lab addr h1)
lab_busybox h1
lab_busybox h2

lab exec h1 docker run -d --name web -p 8080:80 -p 5353:53/udp busybox \
	sh -c 'echo hi-from-h1 >/www; httpd -f -p 80 -h /' >/dev/null
lab exec h2 docker run -d --name cli busybox sleep 1000 >/dev/null
key=$(lab exec h1 docker inspect -f '{{.NetworkSettings.SandboxKey}}' web)
lab exec h1 nsenter --net="$key" python3 "$udp" serve 53 &
udp_pid=$!
sleep 0.5

assert_contains "a published TCP port on h1 answers h2" hi-from-h1 \
	"$(lab exec h2 curl -s -m 3 "http://$a1:8080/www")"
assert_contains "a published UDP port on h1 answers h2" udp-ok \
	"$(lab exec h2 python3 "$udp" ask "$a1" 5353)"
assert_contains "a container on h2 reaches h1's published port" hi-from-h1 \
	"$(lab exec h2 docker exec cli sh -c "printf 'GET /www HTTP/1.0\r\n\r\n' | nc -w 3 $a1 8080")"
assert_contains "h1's own address answers on h1 too" hi-from-h1 \
	"$(lab exec h1 curl -s -m 3 "http://$a1:8080/www")"
assert_fails "the port is not published on h2" \
	lab exec h1 curl -s -m 2 "http://$(lab addr h2):8080/www"
assert_ok "h1 has its shoal0" lab exec h1 ip link show shoal0
assert_ok "h2 has its own shoal0" lab exec h2 ip link show shoal0
assert_fails "the machine's namespace has no shoal0" ip link show shoal0

kill "$udp_pid" 2>/dev/null || true
lab exec h1 docker rm -f web >/dev/null
lab exec h2 docker rm -f cli >/dev/null
assert_not_contains "removing the container drops its port from h1's table" \
	"dnat ip to" "$(lab exec h1 nft list table inet shoal)"
