#!/usr/bin/env bash
# The real docker CLI drives swarm membership through shoald on three lab
# hosts: docker swarm init, join-token, join as a worker and as a manager,
# node ls (also at the second manager), node update through a follower,
# info. Skipped when docker is not installed.
# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/../lib.sh"

has_shoald || skip "needs shoald in $SHOAL_BIN_DIR"
command -v docker >/dev/null || skip "the docker CLI is not installed"
lab_begin 3
m="$(lab addr h1):2377"

out=$(lab exec h1 docker swarm init --listen-addr "$m" 2>&1)
assert_contains "docker swarm init succeeds" \
	"Swarm initialized: current node (" "$out"
assert_contains "docker prints the join command" \
	"docker swarm join --token SWMTKN-1-" "$out"
tok=$(lab exec h1 docker swarm join-token -q worker)
assert_contains "docker swarm join-token -q prints the token" "SWMTKN-1-" "$tok"
out=$(lab exec h2 docker swarm join --token "$tok" "$m" 2>&1)
assert_contains "docker swarm join succeeds" "This node joined a swarm as a worker." "$out"
ready() { [ "$(lab exec h1 docker node ls | grep -c ' Ready ')" -eq 2 ]; }
assert_eventually "docker node ls lists both nodes Ready" 10 ready
assert_eq "docker node ls -f role=worker lists the worker" 1 \
	"$(lab exec h1 docker node ls -q -f role=worker | wc -l)"
assert_contains "docker node ls marks the leader" "Leader" \
	"$(lab exec h1 docker node ls)"
assert_contains "docker info reports the manager" "Is Manager: true" \
	"$(lab exec h1 docker info 2>/dev/null)"
out=$(lab exec h2 docker node ls 2>&1 || true)
assert_contains "docker node ls on the worker is refused" \
	"This node is not a swarm manager" "$out"
mt=$(lab exec h1 docker swarm join-token -q manager)
out=$(lab exec h3 docker swarm join --token "$mt" "$m" 2>&1)
assert_contains "docker swarm join with the manager token makes a manager" \
	"This node joined a swarm as a manager." "$out"
three() { [ "$(lab exec h3 docker node ls | grep -c ' Ready ')" -eq 3 ]; }
assert_eventually "docker node ls at the second manager lists three nodes" 10 three
assert_ok "docker node update at the second manager (forwarded)" \
	lab exec h3 docker node update --label-add via=docker h2
assert_contains "the label is visible at the leader" "via=docker" \
	"$(lab exec h1 docker node inspect --format '{{range $k, $v := .Spec.Labels}}{{$k}}={{$v}}{{end}}' h2)"
