#!/usr/bin/env bash
# A worker lost under a service on an overlay (issue 13): web runs on h2
# and h3, a client on h1 reaches it through its VIP; h3's shoald is
# killed and h3 cut from the others (a host lost, its containers
# unreachable). Once the managers see h3 down, connections to the VIP
# keep reaching healthy tasks only (h3's task left the balancing, its
# replacement joined it), and no host keeps a forwarding (FDB) entry
# towards h3's VTEP.
# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/cluster/service-lib.sh
. "$(dirname "$0")/../service-lib.sh"

svc_lab 3

assert_ok "docker network create -d overlay front" \
	lab exec h1 docker network create -d overlay front
serve='mkdir -p /w && hostname > /w/index.html && exec httpd -f -p 80 -h /w'
assert_ok "web: 2 replicas on front, not on h1" \
	lab exec h1 docker service create -d --name web --network front \
	--replicas 2 --constraint node.hostname!=h1 busybox sh -c "$serve"
assert_ok "client: on front, on h1" \
	lab exec h1 docker service create -d --name client --network front \
	--constraint node.hostname==h1 busybox sleep 1000
assert_eventually "web runs 2 tasks" 60 svc_count web 2
assert_eventually "client runs on h1" 60 svc_on h1 client 1
assert_eq "web runs on h2 and h3 (spread)" "h2 h3 " "$(svc_running web)"
c=$(svc_containers h1 client | tr -d ' ')
in_client() { lab exec h1 docker exec "$c" "$@"; }
vip=$(lab exec h1 docker service inspect -f \
	'{{range .Endpoint.VirtualIPs}}{{.Addr}}{{end}}' web | cut -d/ -f1)
get() { # the page at the VIP, "" when nothing answers in 2 s
	in_client sh -c "printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 2 $vip 80 | tail -1"
}
h3_page=$(lab exec h3 docker inspect -f '{{.Config.Hostname}}' \
	"$(svc_containers h3 web | tr -d ' ')")
h3_vtep=$(lab addr h3)
note "web's VIP $vip, h3's task answers $h3_page, h3's VTEP $h3_vtep"
both() { [ "$(for i in $(seq 1 12); do get; done | sort -u | grep -c .)" -eq 2 ]; }
assert_eventually "connections to the VIP reach both tasks" 20 both
fdb_to_h3() { # HOST: its FDB entries towards h3's VTEP
	lab exec "$1" bridge fdb show | grep -c "dst $h3_vtep " || true
}
assert_eq "h1 forwards to h3's task over VXLAN" 1 "$(fdb_to_h3 h1)"

note "h3 lost: its shoald killed, cut from h1 and h2"
lab kill h3 >/dev/null
lab_partition "h3" "h1 h2"
down() { lab exec h1 shoal node ls | grep -q ' h3 .* Down '; }
assert_eventually "the managers see h3 down" 20 down
replaced() { svc_count web 2 && svc_on h3 web 0; }
assert_eventually "h3's task is replaced on h2" 30 replaced
healthy() { # 8 connections in a row answered, none by h3's task
	local i p
	for i in $(seq 1 8); do
		p=$(get)
		[ -n "$p" ] && [ "$p" != "$h3_page" ] || return 1
	done
}
assert_eventually "connections to the VIP reach only healthy tasks" 30 healthy
pages=$(for i in $(seq 1 12); do get; done | sort | uniq -c)
note "$(echo $pages)"
assert_eq "and both healthy tasks" 2 "$(echo "$pages" | grep -c .)"
no_stale() { [ "$(fdb_to_h3 h1)" -eq 0 ] && [ "$(fdb_to_h3 h2)" -eq 0 ]; }
assert_eventually "no host keeps an FDB entry towards h3" 10 no_stale

lab heal >/dev/null
assert_ok "service rm" lab exec h1 docker service rm web client
lab_end
