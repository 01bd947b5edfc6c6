#!/usr/bin/env bash
# Swarm membership across three lab hosts with the shoal CLI: init on h1,
# tokens (wrong, malformed, rotated) refused with nothing half-joined, two
# workers joined, node ls on the manager, a worker killed shown Down and
# Ready again after restart, versioned updates, removal with revocation,
# and a manager restart that loses nothing.
# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/../lib.sh"

has_shoald || skip "needs shoald in $SHOAL_BIN_DIR"
# A short heartbeat keeps the Down/Ready checks quick.
lab_begin 3
a1=$(lab addr h1)
m="$a1:2377"

nodes_with() { # HOST STATE COUNT: node ls on HOST shows COUNT nodes in STATE
	[ "$(lab exec "$1" shoal node ls | grep -c " $2 ")" -eq "$3" ]
}
node_id() { # HOSTNAME: its id in h1's node ls
	lab exec h1 shoal node ls | awk -v h="$1" '$2 == h || ($2 == "*" && $3 == h) {print $1}'
}

note "init"
out=$(lab exec h1 shoal swarm init --listen-addr "$m" --dispatcher-heartbeat 300ms 2>&1)
assert_contains "init prints docker's first line" \
	"Swarm initialized: current node (" "$out"
assert_contains "init prints the worker join command with h1's address" \
	"    shoal swarm join --token SWMTKN-1-" "$out"
assert_contains "the join command names h1's swarm address" " $m" "$out"
assert_contains "info reports an active swarm" "Swarm: active" \
	"$(lab exec h1 shoal info)"
assert_fails "a second init is refused" lab exec h1 shoal swarm init
tok=$(lab exec h1 shoal swarm join-token -q worker)
assert_contains "join-token -q prints only the token" "SWMTKN-1-" "$tok"

note "bad tokens change nothing"
bad="${tok%?}$([ "${tok: -1}" = a ] && echo b || echo a)"
out=$(lab exec h2 shoal swarm join --token "$bad" "$m" 2>&1 || true)
assert_contains "a wrong secret is refused with a clear message" \
	"valid join token" "$out"
out=$(lab exec h2 shoal swarm join --token SWMTKN-1-nonsense "$m" 2>&1 || true)
assert_contains "a malformed token is refused" "invalid join token" "$out"
assert_contains "h2 is still in no swarm" "Swarm: inactive" \
	"$(lab exec h2 shoal info)"
assert_fails "h2 has no swarm state on disk" \
	lab exec h2 test -e /var/lib/shoal/swarm/state.json
lab exec h1 shoal swarm join-token --rotate worker >/dev/null
out=$(lab exec h2 shoal swarm join --token "$tok" "$m" 2>&1 || true)
assert_contains "the token from before rotation is refused" \
	"valid join token" "$out"
assert_ok "the manager still lists only itself" nodes_with h1 Ready 1

note "two workers join"
tok=$(lab exec h1 shoal swarm join-token -q worker)
out=$(lab exec h2 shoal swarm join --token "$tok" "$m" 2>&1)
assert_eq "h2 joins as a worker" "This node joined a swarm as a worker." "$out"
assert_ok "h3 joins as a worker" lab exec h3 shoal swarm join --token "$tok" "$m"
assert_eventually "h1 lists three nodes, all Ready" 10 nodes_with h1 Ready 3
ls=$(lab exec h1 shoal node ls)
assert_contains "node ls prints docker's header" \
	"ID                            HOSTNAME   STATUS    AVAILABILITY   MANAGER STATUS   ENGINE VERSION" \
	"$ls"
assert_contains "node ls marks the current node and its leadership" \
	" *   h1         Ready     Active         Leader" "$ls"
assert_eq "node ls -f role=manager lists the manager only" "h1" \
	"$(lab exec h1 shoal node ls -q -f role=manager | while read -r id; do lab exec h1 shoal node inspect "$id" | sed -n 's/.*"Hostname": "\(.*\)".*/\1/p'; done)"
assert_eq "node ls -f role=worker lists both workers" 2 \
	"$(lab exec h1 shoal node ls -q --filter role=worker | wc -l)"
out=$(lab exec h1 shoal node ls -f colour=blue 2>&1 || true)
assert_contains "an unknown filter is refused" "invalid filter 'colour'" "$out"
out=$(lab exec h2 shoal node ls 2>&1 || true)
assert_contains "a worker refuses node ls as docker does" \
	"This node is not a swarm manager. Worker nodes can't be used" "$out"

note "a worker killed goes Down, restarted comes back Ready"
lab kill h3
assert_eventually "h3 is Down after missed heartbeats" 15 nodes_with h1 Down 1
lab start h3
assert_eventually "h3 is Ready again after restart" 15 nodes_with h1 Ready 3

note "versioned updates"
id2=$(node_id h2)
v=$(lab exec h1 curl -s --unix-socket /run/shoal/shoald.sock \
	"http://x/v1.45/nodes/$id2" | sed 's/.*"Version":{"Index":\([0-9]*\)}.*/\1/')
body='{"Role":"worker","Availability":"drain","Labels":{"zone":"a"}}'
post() {
	lab exec h1 curl -s --unix-socket /run/shoal/shoald.sock \
		-X POST -d "$body" "http://x/v1.45/nodes/$id2/update?version=$1"
}
assert_eq "an update at the current version is accepted" "" "$(post "$v")"
assert_contains "the same version again is out of sequence" \
	"update out of sequence" "$(post "$v")"
assert_contains "the update is visible" '"zone": "a"' \
	"$(lab exec h1 shoal node inspect "$id2")"
assert_ok "node update --availability active" \
	lab exec h1 shoal node update --availability active --label-rm zone "$id2"

note "removal revokes"
out=$(lab exec h1 shoal node rm "$id2" 2>&1 || true)
assert_contains "a Ready node is not removed without --force" \
	"is not down and can't be removed" "$out"
assert_ok "node rm --force removes it" lab exec h1 shoal node rm --force "$id2"
assert_eventually "h1 lists two nodes" 5 nodes_with h1 Ready 2
lab stop h2
lab start h2
sleep 2
assert_eq "the removed node's certificate is refused after its restart" \
	"" "$(node_id h2)"
assert_contains "the manager logged the refusal" "certificate refused" \
	"$(cat "$SHOAL_LAB_DIR/h1/shoald.log")"

note "the manager restarts with nothing lost"
lab stop h1
lab start h1
assert_eventually "after restart h1 lists h1 and h3 Ready" 15 nodes_with h1 Ready 2
assert_contains "h1 is still the manager" "Swarm: active" "$(lab exec h1 shoal info)"
assert_ok "h3 leaves" lab exec h3 shoal swarm leave
assert_contains "h3 is in no swarm after leave" "Swarm: inactive" \
	"$(lab exec h3 shoal info)"
out=$(lab exec h1 shoal swarm leave 2>&1 || true)
assert_contains "the last manager needs --force to leave" "--force" "$out"
