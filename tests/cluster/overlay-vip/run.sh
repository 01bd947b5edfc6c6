#!/usr/bin/env bash
# Services on overlays across three lab hosts, the nodes' side
# (docs/overlay.md, steps 2-4), through the real docker CLI: a client task
# on h1 resolves `web` (its VIP) and `tasks.web` (its two tasks, on h2 and
# h3) through 127.0.0.11, and its connections to the VIP reach both tasks
# across the hosts; a dnsrr service resolves to its tasks; a service on a
# second overlay is neither resolved nor reached from the first; scaling
# web to 3 brings the new task into the VIP's balancing; after service rm
# and network rm no host keeps a shov*/shvx* link.
# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/cluster/service-lib.sh
. "$(dirname "$0")/../service-lib.sh"

svc_lab 3

note "two overlays, web on h2 and h3, a client on h1"
assert_ok "docker network create -d overlay front" \
	lab exec h1 docker network create -d overlay front
assert_ok "docker network create -d overlay back" \
	lab exec h1 docker network create -d overlay back
serve='mkdir -p /w && hostname > /w/index.html && exec httpd -f -p 80 -h /w'
assert_ok "web: 2 replicas on front, not on h1" \
	lab exec h1 docker service create -d --name web --network front \
	--replicas 2 --constraint node.hostname!=h1 busybox sh -c "$serve"
assert_ok "db: dnsrr on front" \
	lab exec h1 docker service create -d --name db --network front \
	--endpoint-mode dnsrr --replicas 2 busybox sleep 1000
assert_ok "other: on back only" \
	lab exec h1 docker service create -d --name other --network back \
	busybox sh -c "$serve"
assert_ok "client: on front, on h1" \
	lab exec h1 docker service create -d --name client --network front \
	--constraint node.hostname==h1 busybox sleep 1000
assert_eventually "web runs 2 tasks" 60 svc_count web 2
assert_eventually "db runs 2 tasks" 60 svc_count db 2
assert_eventually "other runs" 60 svc_count other 1
assert_eventually "client runs on h1" 60 svc_on h1 client 1
assert_eq "web runs on h2 and h3 (spread)" "h2 h3 " "$(svc_running web)"
c=$(svc_containers h1 client | tr -d ' ')
in_client() { lab exec h1 docker exec "$c" "$@"; }
vip=$(lab exec h1 docker service inspect -f \
	'{{range .Endpoint.VirtualIPs}}{{.Addr}}{{end}}' web | cut -d/ -f1)
note "web's VIP: $vip"

note "names through 127.0.0.11"
lookup() { # NAME: the addresses the client's resolver gives, sorted
	in_client nslookup "$1" 127.0.0.11 2>/dev/null |
		awk '/^Address/ && $NF !~ /127.0.0.11/ {print $NF}' |
		grep -v ':53$' | sort | tr '\n' ' '
}
assert_eq "web is its VIP" "$vip " "$(lookup web)"
web_tasks=$(for t in $(lab exec h1 docker service ps -q -f desired-state=running web); do
	lab exec h1 docker inspect -f '{{range .NetworksAttachments}}{{index .Addresses 0}}{{end}}' "$t" | cut -d/ -f1
done | sort | tr '\n' ' ')
assert_eq "tasks.web is its two tasks" "$web_tasks" "$(lookup tasks.web)"
n_db=$(lookup db | wc -w)
assert_eq "db (dnsrr) is its two tasks" 2 "$n_db"
assert_eq "other (on back) is not known on front" "" "$(lookup other)"

note "VIP balancing across the hosts"
get() { # ADDR: the page at ADDR:80 from the client
	in_client sh -c "printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 3 $1 80 | tail -1"
}
pages=$(for i in $(seq 1 16); do get "$vip"; done | sort | uniq -c)
note "$(echo $pages)"
assert_eq "connections to the VIP reach both tasks" 2 "$(echo "$pages" | grep -c .)"
other_addr=$(lab exec h1 docker inspect -f '{{range .NetworksAttachments}}{{index .Addresses 0}}{{end}}' \
	"$(lab exec h1 docker service ps -q -f desired-state=running other)" | cut -d/ -f1)
assert_fails "a task on back is not reached from front" \
	in_client ping -c 1 -W 1 "$other_addr"

note "scale"
assert_ok "web scaled to 3" lab exec h1 docker service scale -d web=3
assert_eventually "web runs 3 tasks" 60 svc_count web 3
three_pages() {
	[ "$(for i in $(seq 1 24); do get "$vip"; done | sort -u | grep -c .)" -eq 3 ]
}
assert_eventually "the VIP balances over the 3 tasks" 20 three_pages
note "$(for i in $(seq 1 12); do get "$vip"; done | sort | uniq -c | tr '\n' ' ')"

note "removal"
assert_ok "service rm" lab exec h1 docker service rm web db other client
rm_net() { lab exec h1 docker network rm "$1" >/dev/null 2>&1; }
assert_eventually "network rm front once its tasks are gone" 60 rm_net front
assert_eventually "network rm back" 60 rm_net back
no_links() {
	local h
	for h in h1 h2 h3; do
		lab exec "$h" ip -o link show | grep -q 'shov\|shvx' && return 1
	done
	return 0
}
assert_eventually "no host keeps a shov/shvx link" 30 no_links
lab_end
