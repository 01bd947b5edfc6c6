#!/usr/bin/env bash
# Services on an overlay across three lab hosts, the managers' side
# (docs/overlay.md, step 1), through the real docker CLI: `docker service
# create --network front -p 8080:80` shows the Endpoint (the VIP on front
# and on the ingress network, the published port) in `docker service
# inspect`; every task has its own address on both networks in `docker
# inspect TASK` (NetworksAttachments), none the gateway or a VIP; a
# published port without a number gets 30000; a second service asking for
# 8080 gets Docker's refusal, an unknown network Docker's 404 text; the
# network cannot be removed while the service uses it, and can once the
# service and its tasks are gone. The data plane (reaching the tasks) is
# the agent's (tests of worker/net.c).
# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/cluster/service-lib.sh
. "$(dirname "$0")/../service-lib.sh"

svc_lab 3

note "an overlay and a service on it"
assert_ok "docker network create -d overlay front" \
	lab exec h1 docker network create -d overlay front
assert_ok "docker service create --network front -p 8080:80" \
	lab exec h1 docker service create -d --name web --network front \
	--replicas 3 -p 8080:80 busybox sleep 1000
front=$(lab exec h1 docker network inspect -f '{{.Id}}' front)
vips() {
	lab exec h1 docker service inspect -f \
		'{{range .Endpoint.VirtualIPs}}{{.NetworkID}}={{.Addr}} {{end}}' web
}
has_two_vips() { [ "$(vips | wc -w)" -eq 2 ]; }
assert_eventually "web gets a VIP on front and on ingress" 20 has_two_vips
assert_contains "web's VIP on front is the subnet's first free address" \
	"$front=10.0.0.2/24" "$(vips)"
assert_contains "the other VIP is on the ingress network" "=10.255.0.2/16" \
	"$(vips)"
assert_eq "the published port" "tcp 80 8080 ingress" \
	"$(lab exec h1 docker service inspect -f \
	'{{range .Endpoint.Ports}}{{.Protocol}} {{.TargetPort}} {{.PublishedPort}} {{.PublishMode}}{{end}}' web)"
assert_eq "the spec names front by id" "$front" \
	"$(lab exec h1 docker service inspect -f \
	'{{range .Spec.TaskTemplate.Networks}}{{.Target}}{{end}}' web)"

note "each task's addresses"
# Whether the tasks run is the agent's (worker/net.c): here the tasks
# desired running, whatever their state, each with its addresses.
live() { lab exec h1 docker service ps -q -f desired-state=running web; }
three() { [ "$(live | wc -l)" -eq 3 ]; }
assert_eventually "3 tasks desired running" 30 three
addrs=""
for t in $(live); do
	a=$(lab exec h1 docker inspect -f \
		'{{range .NetworksAttachments}}{{.Network.Spec.Name}}={{index .Addresses 0}} {{end}}' "$t")
	assert_contains "task $t has an address on front" "front=10.0.0." "$a"
	assert_contains "task $t has an address on ingress" "ingress=10.255.0." "$a"
	addrs="$addrs $a"
done
n=$(echo "$addrs" | tr ' ' '\n' | grep -c .)
u=$(echo "$addrs" | tr ' ' '\n' | grep . | sort -u | wc -l)
assert_eq "six addresses, all different" "6 6" "$n $u"
assert_not_contains "no task has the gateway" "front=10.0.0.1/" "$addrs"
assert_not_contains "no task has the VIP" "front=10.0.0.2/" "$addrs"

note "ports and refusals"
out=$(lab exec h1 docker service create -d --name api --publish target=81 \
	busybox sleep 1000 2>&1) || true
note "$out"
assert_ok "a port without a number" lab exec h1 docker service inspect api
api_port() {
	lab exec h1 docker service inspect -f \
		'{{range .Endpoint.Ports}}{{.PublishedPort}}{{end}}' api
}
is_30000() { [ "$(api_port)" = 30000 ]; }
assert_eventually "it gets 30000" 20 is_30000
out=$(lab exec h1 docker service create -d --name dup -p 8080:80 busybox \
	sleep 1000 2>&1) || true
assert_contains "8080 again: Docker's refusal" \
	"port '8080' is already in use by service 'web'" "$out"
out=$(lab exec h1 docker service create -d --name x --network nope busybox \
	sleep 1 2>&1) || true
assert_contains "an unknown network: Docker's words" "network nope not found" "$out"
out=$(lab exec h1 docker network rm front 2>&1) || true
assert_contains "front cannot go while web uses it" "is in use by service" "$out"

note "updates through the docker CLI and shoal"
assert_ok "docker service update --publish-add 9090:90 web" \
	lab exec h1 docker service update -d --publish-add 9090:90 web
ports() {
	lab exec h1 docker service inspect -f \
		'{{range .Endpoint.Ports}}{{.PublishedPort}} {{end}}' "$1"
}
has_9090() { [ "$(ports web)" = "8080 9090 " ]; }
assert_eventually "web publishes 8080 and 9090" 20 has_9090
assert_ok "docker network create -d overlay back" \
	lab exec h1 docker network create -d overlay back
assert_ok "shoal service create --network back --publish published=9100,target=91" \
	lab exec h1 shoal service create -d --name cli --network name=back,alias=c \
	--publish published=9100,target=91 busybox sleep 1000
on_back() {
	lab exec h1 docker service inspect -f \
		'{{range .Spec.TaskTemplate.Networks}}{{.Target}} {{.Aliases}}{{end}}' cli
}
back=$(lab exec h1 docker network inspect -f '{{.Id}}' back)
assert_eq "cli is on back with its alias" "$back [c]" "$(on_back)"
assert_ok "shoal service update --network-rm back (by name)" \
	lab exec h1 shoal service update -d --network-rm back cli
assert_eq "cli left back" "" "$(on_back)"
assert_ok "service rm cli" lab exec h1 docker service rm cli
rm_back() { lab exec h1 docker network rm back >/dev/null 2>&1; }
assert_eventually "back can go once cli is gone" 30 rm_back

note "removal"
assert_ok "service rm web api" lab exec h1 docker service rm web api
rm_front() { lab exec h1 docker network rm front >/dev/null 2>&1; }
assert_eventually "front can go once web and its tasks are gone" 30 rm_front
