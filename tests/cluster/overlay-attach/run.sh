#!/usr/bin/env bash
# A container of `docker run` on an overlay that is not attachable
# (docs/overlay.md, "Attachable overlays"), through the real docker CLI on
# two lab hosts (h1 the manager, h2 a worker with a task on the overlay):
# the refusal a user gets on a manager, in Docker's words, by name and by
# id, for `docker run` and `docker network connect`, with nothing created;
# and that a local network is not mistaken for an overlay. Attachable
# overlays are tests/cluster/overlay-attachable's.
# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/cluster/service-lib.sh
. "$(dirname "$0")/../service-lib.sh"

svc_lab 2

words='Could not attach to network front: rpc error: code = PermissionDenied desc = network front not manually attachable'

assert_ok "docker network create -d overlay front" \
	lab exec h1 docker network create -d overlay front
assert_ok "web: 1 replica on front, on h2" \
	lab exec h1 docker service create -d --name web --network front \
	--constraint node.hostname==h2 busybox sleep 1000
assert_eventually "web runs on h2" 60 svc_on h2 web 1
id=$(lab exec h1 docker network inspect -f '{{.Id}}' front)
before=$(lab exec h1 docker ps -aq | wc -l)

note "docker run --network on an overlay, on the manager"
assert_contains "run --network front: Docker's words" "$words" \
	"$(lab exec h1 docker run --rm --network front busybox true 2>&1 || true)"
assert_contains "run --network <id>: refused too" \
	"desc = network $id not manually attachable" \
	"$(lab exec h1 docker run --rm --network "$id" busybox true 2>&1 || true)"
assert_contains "run --network front --network-alias a: refused too" "$words" \
	"$(lab exec h1 docker run --rm --network front --network-alias a busybox true 2>&1 || true)"
assert_eq "no container was created" "$before" "$(lab exec h1 docker ps -aq | wc -l)"

note "docker network connect of an overlay"
assert_ok "c1 runs on the default bridge" \
	lab exec h1 docker run -d --name c1 busybox sleep 1000
assert_contains "network connect front c1: Docker's words" "$words" \
	"$(lab exec h1 docker network connect front c1 2>&1 || true)"
# shellcheck disable=SC2016 # a Go template, not shell
assert_eq "c1 is still on bridge only" "bridge " \
	"$(lab exec h1 docker inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}' c1)"
assert_eq "front has no container" "0" \
	"$(lab exec h1 docker network inspect -f '{{len .Containers}}' front)"

note "a local network is not taken for an overlay"
assert_ok "docker network create mine (a bridge)" \
	lab exec h1 docker network create mine
assert_ok "run --network mine works" \
	lab exec h1 docker run --rm --network mine busybox true
assert_ok "network connect mine c1 works" \
	lab exec h1 docker network connect mine c1
