#!/usr/bin/env bash
# Attachable overlays (docs/overlay.md, "Attachable overlays") through the
# real docker CLI on three lab hosts (h1 the manager, h2 and h3 workers):
# `docker network create --attachable`; a service web with tasks on h2
# and h3; `docker run --network` on the manager and on a worker gives a
# container an address of the managers' on the overlay, which reaches web
# by its VIP and tasks.web through 127.0.0.11; a task reaches the attached
# container by its name and alias, and attached containers reach each
# other across hosts; a restart of shoald on a worker keeps the
# attachment of its container; `network connect --alias` and `network disconnect`
# of a running container; a non-attachable overlay is refused on a worker with
# Docker's words, an unknown one is Docker's 404; network rm is refused
# while a container is attached; network inspect on a node (manager or
# worker) shows its containers on the network, and the manager the
# nodes on it (Peers); removing the containers
# deletes their attachments and gives their addresses back (a new
# container gets the first one again) and lets the network go.
# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/cluster/service-lib.sh
. "$(dirname "$0")/../service-lib.sh"

svc_lab 3

note "an attachable overlay, web on h2 and h3"
assert_ok "docker network create -d overlay --attachable front" \
	lab exec h1 docker network create -d overlay --attachable front
assert_ok "docker network create -d overlay back (not attachable)" \
	lab exec h1 docker network create -d overlay back
assert_eq "inspect shows Attachable" "true" \
	"$(lab exec h1 docker network inspect -f '{{.Attachable}}' front)"
serve='mkdir -p /w && hostname > /w/index.html && exec httpd -f -p 80 -h /w'
assert_ok "web: 2 replicas on front, not on h1" \
	lab exec h1 docker service create -d --name web --network front \
	--replicas 2 --constraint node.hostname!=h1 busybox sh -c "$serve"
assert_eventually "web runs 2 tasks" 60 svc_count web 2
assert_eq "web runs on h2 and h3 (spread)" "h2 h3 " "$(svc_running web)"
vip=$(lab exec h1 docker service inspect -f \
	'{{range .Endpoint.VirtualIPs}}{{.Addr}}{{end}}' web | cut -d/ -f1)
note "web's VIP: $vip"

ip_of() { # HOST CTR: its address on its network
	lab exec "$1" docker inspect -f \
		'{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$2"
}
lookup() { # HOST CTR NAME: the addresses its resolver gives, sorted
	lab exec "$1" docker exec "$2" nslookup "$3" 127.0.0.11 2>/dev/null |
		awk '/^Address/ && $NF !~ /127.0.0.11/ {print $NF}' |
		grep -v ':53$' | sort | tr '\n' ' '
}
get() { # HOST CTR ADDR: the page at ADDR:80
	lab exec "$1" docker exec "$2" sh -c \
		"printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 3 $3 80 | tail -1"
}
web_tasks=$(for t in $(lab exec h1 docker service ps -q -f desired-state=running web); do
	lab exec h1 docker inspect -f '{{range .NetworksAttachments}}{{index .Addresses 0}}{{end}}' "$t" | cut -d/ -f1
done | sort | tr '\n' ' ')

note "docker run --network front on the manager"
t0=$(date +%s%N)
assert_ok "run -d --name c1 --network front --network-alias cli1" \
	lab exec h1 docker run -d --name c1 --network front \
	--network-alias cli1 busybox sleep 1000
note "docker run answered in $((($(date +%s%N) - t0) / 1000000)) ms"
a1=$(ip_of h1 c1)
case "$a1" in 10.0.0.*) pass "c1 has an address of front: $a1" ;;
*) fail "c1 has an address of front (got '$a1')" ;; esac
assert_eq "c1: web is its VIP" "$vip " "$(lookup h1 c1 web)"
assert_eq "c1: tasks.web is its two tasks" "$web_tasks" "$(lookup h1 c1 tasks.web)"
pages=$(for i in $(seq 1 12); do get h1 c1 "$vip"; done | sort -u | grep -c .)
assert_eq "c1's connections to the VIP reach both tasks" 2 "$pages"

note "docker run --network front on a worker (h3)"
assert_ok "run -d --name c3 --network front on h3" \
	lab exec h3 docker run -d --name c3 --network front busybox sleep 1000
a3=$(ip_of h3 c3)
case "$a3" in 10.0.0.*) pass "c3 has an address of front: $a3" ;;
*) fail "c3 has an address of front (got '$a3')" ;; esac
assert_eq "c3: web is its VIP" "$vip " "$(lookup h3 c3 web)"
web_pages=$(for i in $(seq 1 12); do get h1 c1 "$vip"; done | sort -u | tr '\n' ' ')
assert_contains "c3 reaches web through its VIP" "$(get h3 c3 "$vip")" "$web_pages"

note "network inspect on a node shows its containers on the network"
ctrs() { # HOST: the names of its containers on front, sorted
	# shellcheck disable=SC2016 # a Go template, not shell
	lab exec "$1" docker network inspect -f \
		'{{range $k, $v := .Containers}}{{$v.Name}} {{end}}' front |
		tr ' ' '\n' | grep -v '^web\.' | grep . | sort | tr '\n' ' '
}
assert_eq "h1 (manager) shows c1" "c1 " "$(ctrs h1)"
assert_eq "h3 (worker) shows c3, by the network's name" "c3 " "$(ctrs h3)"
peers() { # the Peers of front on h1 (the manager), by name, sorted
	lab exec h1 docker network inspect -f \
		'{{range .Peers}}{{.Name}}={{.IP}} {{end}}' front |
		tr ' ' '\n' | grep . | sort | tr '\n' ' '
}
assert_eq "Peers: the nodes with a task or a container on front" \
	"h1=$(lab addr h1) h2=$(lab addr h2) h3=$(lab addr h3) " "$(peers)"
assert_contains "with its address" "$a3/" \
	"$(lab exec h3 docker network inspect -f '{{range .Containers}}{{.IPv4Address}} {{end}}' front)"
assert_contains "network ls on the worker h3 lists the overlay it joined" \
	"front overlay swarm" \
	"$(lab exec h3 docker network ls --format '{{.Name}} {{.Driver}} {{.Scope}}')"

note "names across the hosts"
w2=$(svc_containers h2 web | tr -d ' ')
named() { [ "$(lookup h2 "$w2" "$1")" = "$2 " ]; }
assert_eventually "a task on h2 resolves c1" 10 named c1 "$a1"
assert_eventually "and its alias cli1" 10 named cli1 "$a1"
assert_ok "the task on h2 reaches c1 by name" \
	lab exec h2 docker exec "$w2" ping -c 1 -W 2 c1
assert_ok "c1 (h1) reaches c3 (h3) by name" \
	lab exec h1 docker exec c1 ping -c 1 -W 2 c3
anon=$(lab exec h2 docker run -d --network front busybox sleep 1000)
anon_name=$(lab exec h2 docker inspect -f '{{.Name}}' "$anon" | tr -d /)
note "a container run without --name on h2: $anon_name"
assert_ok "c1 reaches it by its generated name" \
	lab exec h1 docker exec c1 ping -c 1 -W 2 "$anon_name"
assert_ok "docker rm -f it" lab exec h2 docker rm -f "$anon"

note "h3's shoald killed and started again: c3's attachment is kept"
attachments() { # the network attachment tasks in the store
	lab exec h1 curl -s --unix-socket /run/shoal/shoald.sock \
		http://shoal/tasks | grep -o '"NetworkAttachmentSpec"' | wc -l
}
two_left() { [ "$(attachments)" -eq 2 ]; }
assert_eventually "c1 and c3 hold an attachment each (the unnamed one's given back)" \
	10 two_left
lab kill h3 >/dev/null
lab start h3 >/dev/null
h3_ready() { lab exec h3 docker info 2>/dev/null | grep -q 'Swarm: active'; }
assert_eventually "h3's shoald is back in the swarm" 30 h3_ready
sleep 2 # its first set is checked against its endpoints
assert_eq "both attachments are still there" 2 "$(attachments)"
assert_ok "c1 (h1) still reaches c3 (h3) by name" \
	lab exec h1 docker exec c1 ping -c 1 -W 2 c3

note "network connect and disconnect of a running container (h2)"
assert_ok "c5 runs on h2's default bridge" \
	lab exec h2 docker run -d --name c5 busybox sleep 1000
assert_ok "network connect --alias five front c5" \
	lab exec h2 docker network connect --alias five front c5
# shellcheck disable=SC2016 # a Go template, not shell
nets5() { lab exec h2 docker inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}' c5; }
assert_contains "c5 is on front" "front" "$(nets5)"
a5=$(lab exec h2 docker inspect -f '{{(index .NetworkSettings.Networks "front").IPAddress}}' c5)
note "c5 on front: $a5"
assert_ok "c1 (h1) reaches c5 by its alias" \
	lab exec h1 docker exec c1 ping -c 1 -W 2 five
assert_ok "network disconnect front c5" \
	lab exec h2 docker network disconnect front c5
assert_not_contains "c5 is no longer on front" "front" "$(nets5)"
gone5() { ! lab exec h1 docker exec c1 ping -c 1 -W 1 "$a5" >/dev/null 2>&1; }
assert_eventually "c5's old address no longer answers" 10 gone5

note "refusals"
words='Could not attach to network back: rpc error: code = PermissionDenied desc = network back not manually attachable'
assert_contains "a worker: run --network back is Docker's PermissionDenied" "$words" \
	"$(lab exec h2 docker run --rm --network back busybox true 2>&1 || true)"
# (the docker CLI takes any 404 of a create for a missing image and pulls:
# the daemon's own answer is read through the API)
create_on() { # HOST NETWORK: the status line and body of a create
	lab exec "$1" curl -s -w ' %{http_code}' --unix-socket \
		/run/shoal/shoald.sock -H 'Content-Type: application/json' \
		-d "{\"Image\":\"busybox\",\"HostConfig\":{\"NetworkMode\":\"$2\"}}" \
		http://shoal/containers/create
}
out=$(create_on h2 nosuch)
assert_contains "a worker: an unknown overlay is Docker's words" \
	'"message":"network nosuch not found"' "$out"
assert_contains "with a 404" " 404" "$out"
assert_contains "network rm front is refused while c1 is attached" \
	"is in use by" \
	"$(lab exec h1 docker network rm front 2>&1 || true)"

note "removal gives the addresses back"
assert_eventually "c1 and c3 hold an attachment each (c5's was given back)" \
	10 two_left
assert_ok "docker rm -f c3 on h3" lab exec h3 docker rm -f c3
assert_ok "docker rm -f c1 on h1" lab exec h1 docker rm -f c1
none_left() { [ "$(attachments)" -eq 0 ]; }
assert_eventually "no attachment task is left" 10 none_left
assert_eq "h1 shows no container on front" "" "$(ctrs h1)"
assert_ok "run c4 --network front on h2" \
	lab exec h2 docker run -d --name c4 --network front busybox sleep 1000
assert_eq "c4 gets c1's address again (the lowest free)" "$a1" "$(ip_of h2 c4)"
assert_ok "service rm web" lab exec h1 docker service rm web
rm_c4() { lab exec h2 docker rm -f c4 >/dev/null 2>&1; }
assert_ok "docker rm -f c4" rm_c4
rm_net() { lab exec h1 docker network rm "$1" >/dev/null 2>&1; }
assert_eventually "network rm front once nothing is attached" 30 rm_net front
assert_ok "network rm back" rm_net back
no_links() {
	local h
	for h in h1 h2 h3; do
		lab exec "$h" ip -o link show | grep -q 'shov\|shvx' && return 1
	done
	return 0
}
assert_eventually "no host keeps a shov/shvx link" 30 no_links
lab_end
