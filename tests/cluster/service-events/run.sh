#!/usr/bin/env bash
# `docker events` on a manager shows the swarm's events (scope "swarm"),
# as Docker's does: a service's create, its updates with the changes
# Docker names (replicas.old/new, image.old/new, updatestate.new), its
# remove; a node's update (availability.old/new), remove (a node that
# left, removed) and create (it joins again) — on the leader and on
# the other manager alike; and the filters type and scope apply.
# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/cluster/service-lib.sh
. "$(dirname "$0")/../service-lib.sh"

svc_lab 3
lab exec h1 shoal node promote h2 >/dev/null
mgr2() { lab exec h2 shoal node ls >/dev/null 2>&1; }
assert_eventually "h2 is a manager" 20 mgr2
for h in h1 h2 h3; do lab exec "$h" shoal tag busybox:latest busybox:v2; done
t0=$(date +%s)
sleep 1

lab exec h1 shoal service create --name web --replicas 1 \
	--stop-grace-period 1s busybox sleep 100000 >/dev/null
lab exec h1 shoal service scale web=2 >/dev/null
lab exec h1 shoal service update --image busybox:v2 web >/dev/null
lab exec h1 shoal node update --availability drain h2 >/dev/null
lab exec h1 shoal node update --availability active h2 >/dev/null
lab exec h1 shoal service rm web >/dev/null
h3id=$(lab exec h3 docker info -f '{{.Swarm.NodeID}}')
lab exec h3 shoal swarm leave >/dev/null
down() { lab exec h1 shoal node ls | grep -q " h3 .* Down "; }
wait_for 20 down || fail "h3 is Down after it left"
lab exec h1 shoal node rm h3 >/dev/null
lab exec h3 shoal swarm join --token "$(lab exec h1 shoal swarm join-token -q worker)" \
	"$(lab addr h1):2377" >/dev/null
sleep 1

# evs HOST FILTER...: the events since t0, one JSON object a line.
evs() {
	local h=$1
	shift
	lab exec "$h" docker events --since "$t0" --until "$(date +%s)" \
		--format '{{json .}}' "$@"
}
svc=$(evs h1 --filter type=service)
# pick ACTION KEY...: for each service event of ACTION that has the last
# KEY (an attribute, or ID, or scope), its KEY values on one line.
pick() {
	python3 -c '
import json, sys
act, keys = sys.argv[1], sys.argv[2:]
for line in sys.stdin:
    e = json.loads(line)
    a = dict(e["Actor"]["Attributes"], ID=e["Actor"]["ID"], scope=e["scope"])
    if e["Action"] == act and keys[-1] in a:
        print(" ".join(a[k] for k in keys))
' "$@" <<<"$svc"
}
assert_eq "a create event of the service, scope swarm" "web swarm" \
	"$(pick create name scope | head -1)"
assert_eq "the scale reports replicas.old and replicas.new" "1 2" \
	"$(pick update replicas.old replicas.new | head -1)"
assert_eq "the update reports image.old and image.new" "busybox busybox:v2" \
	"$(pick update image.old image.new | head -1)"
assert_contains "the update's state is reported" "updating" \
	"$(pick update updatestate.new)"
assert_contains "... and its end" "completed" "$(pick update updatestate.new)"
assert_eq "a remove event" "web" "$(pick remove name)"
id=$(pick create ID | head -1)
assert_eq "Actor.ID is the service's id" 25 "${#id}"

nodes=$(evs h1 --filter type=node)
assert_contains "a node update reports availability.old/new" \
	'"availability.new":"drain","availability.old":"active"' "$nodes"
assert_contains "a node event is named by the node's hostname" \
	'"name":"h2"' "$nodes"
assert_contains "a node that left and was removed: remove" \
	"\"Action\":\"remove\",\"Actor\":{\"ID\":\"$h3id\"" "$nodes"
assert_contains "a node that joins: create, named by its hostname" \
	'"Action":"create","Actor":{"ID":"' "$nodes"
assert_eq "... named h3" 1 "$(grep '"Action":"create"' <<<"$nodes" | grep -c '"name":"h3"')"
assert_not_contains "the type filter applies" '"Type":"service"' "$nodes"
assert_not_contains "scope=local leaves the swarm's events out" \
	'"scope":"swarm"' "$(evs h1 --filter scope=local)"
assert_contains "scope=swarm keeps them" '"Type":"service"' \
	"$(evs h1 --filter scope=swarm)"

other=$(evs h2 --filter type=service)
actions() { grep -o '"Action":"[a-z]*"' | sort | uniq -c; }
assert_eq "the other manager shows the same service events" \
	"$(actions <<<"$svc")" "$(actions <<<"$other")"
assert_contains "... with the create" '"Action":"create"' "$other"
