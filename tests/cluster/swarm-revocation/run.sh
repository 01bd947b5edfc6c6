#!/usr/bin/env bash
# The Raft port trusts a node only while the store says so, and only in its
# own name. Replays the security review's attacks on four lab hosts:
#  - h4 is promoted, a copy of its manager key and certificate is taken,
#    then it is demoted and removed: with the copy, handshakes to the
#    managers' Raft ports are refused (after the demotion already), and
#    the leader stops dialling h4's Raft address;
#  - a live manager (h3) sends messages in another manager's name (a
#    HeartbeatResp with a huge term in h2's name to the leader, an
#    AppendEntries in the leader's name that deletes a node): each
#    connection is dropped with one logged reason;
# and after all of it every manager lists the same nodes and h1 still leads.
# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/../lib.sh"

has_shoald || skip "needs shoald in $SHOAL_BIN_DIR"
forge=${RAFT_FORGE:-$SHOAL_BIN_DIR/tests/cluster/swarm-revocation/raft-forge}
[ -x "$forge" ] || skip "needs raft-forge (built with the tests)"
lab_begin 4
m="$(lab addr h1):2377"
raft() { echo "$(lab addr "$1"):2378"; }

count() { lab exec "$1" shoal node ls 2>/dev/null | grep -c " $2 " || true; }
lists() { [ "$(count "$1" "$2")" -eq "$3" ]; }
leader_host() {
	lab exec "$1" shoal node ls 2>/dev/null | awk '/ Leader /{for (i = 1; i <= NF; i++) if ($i ~ /^h[0-9]$/) print $i}'
}
id_of() { lab exec "$1" shoal node ls | awk -v h="$2" '{for (i = 1; i <= NF; i++) if ($i == h) print $1}'; }
is_manager() { lab exec "$1" shoal node ls >/dev/null 2>&1; }
not_manager() { ! is_manager "$1"; }
# forge SAVED_STATE_DIR HOST KIND FROM_NODE TO_NODE [VICTIM]: prints the outcome
forge() {
	local dir=$1 host=$2
	shift 2
	lab exec h4 "$forge" "$dir" "$(raft "$host")" "$@" 2>&1 || true
}
version_of() { # NODE_ID: its store version, as h1 reports it
	lab exec h1 curl -s --unix-socket /run/shoal/shoald.sock \
		"http://x/v1.45/nodes/$1" | sed 's/.*"Version":{"Index":\([0-9]*\)}.*/\1/'
}
save_state() { # HOST DIR: a copy of HOST's key, certificate and state
	mkdir -p "$2"
	lab exec "$1" tar -C /var/lib/shoal -cf - certs swarm | tar -C "$2" -xf -
}

note "a swarm of three managers and a worker"
assert_ok "h1 initialises the swarm" lab exec h1 shoal swarm init --listen-addr "$m"
mt=$(lab exec h1 shoal swarm join-token -q manager)
wt=$(lab exec h1 shoal swarm join-token -q worker)
assert_ok "h2 joins as a manager" lab exec h2 shoal swarm join --token "$mt" "$m"
assert_ok "h3 joins as a manager" lab exec h3 shoal swarm join --token "$mt" "$m"
assert_ok "h4 joins as a worker" lab exec h4 shoal swarm join --token "$wt" "$m"
assert_eventually "h1 lists four Ready nodes" 20 lists h1 Ready 4
id1=$(id_of h1 h1)
id2=$(id_of h1 h2)
id3=$(id_of h1 h3)
id4=$(id_of h1 h4)

note "h4 becomes a manager for a while; a copy of its manager identity is kept"
assert_ok "h4 is promoted" lab exec h1 shoal node promote "$id4"
assert_eventually "h4 serves as a manager" 20 is_manager h4
assert_eventually "h4 lists four Ready nodes" 20 lists h4 Ready 4
saved4=$SHOAL_LAB_DIR/h4-manager-copy
save_state h4 "$saved4"
saved3=$SHOAL_LAB_DIR/h3-copy
save_state h3 "$saved3"
# h4's own daemon would replace the probe's connection (one per peer).
lab stop h4
assert_eq "with h4's manager certificate, before the demotion: accepted" \
	"accepted" "$(forge "$saved4" h2 probe "$id4" "$id2")"
lab start h4
assert_eventually "h4 serves as a manager again" 20 is_manager h4

note "demoted: the copy of its manager certificate is worthless at once"
assert_ok "h4 is demoted" lab exec h1 shoal node demote "$id4"
assert_eventually "h4 no longer serves as a manager" 20 not_manager h4
for h in h1 h2 h3; do
	assert_eq "$h refuses the demoted node's manager certificate" \
		"refused at handshake" "$(forge "$saved4" "$h" heartbeat-resp "$id4" "$id1")"
done

note "removed"
lab stop h4
assert_ok "h4 is removed" lab exec h1 shoal node rm --force "$id4"
assert_eventually "h1 lists three nodes" 10 lists h1 Ready 3
v3=$(version_of "$id3")
for h in h1 h2 h3; do
	assert_eq "$h refuses the removed node's certificate" "refused at handshake" \
		"$(forge "$saved4" "$h" append "$id1" "$id2" "$id3" "$v3")"
done
log1=$(lab log h1)
before=$(grep -c "$(lab addr h4):2378" "$log1" || true)
sleep 3
after=$(grep -c "$(lab addr h4):2378" "$log1" || true)
assert_eq "the leader no longer dials the removed node's Raft address" \
	"$before" "$after"
assert_contains "the refusal is logged with its reason" \
	"handshake from $(lab addr h4) failed" "$(cat "$log1")"

note "a live manager speaking in another's name"
assert_eq "h3's certificate, a HeartbeatResp in h2's name to the leader: dropped" \
	"dropped after the message" "$(forge "$saved3" h1 heartbeat-resp "$id2" "$id1")"
assert_eq "h3's certificate, an AppendEntries in the leader's name to h2: dropped" \
	"dropped after the message" \
	"$(forge "$saved3" h2 append "$id1" "$id2" "$id3" "$(version_of "$id3")")"
assert_contains "h1 logs why" "claims to come from" "$(cat "$log1")"
assert_contains "h2 logs why" "claims to come from" "$(cat "$(lab log h2)")"

note "nothing changed"
for h in h1 h2 h3; do
	assert_eq "$h still lists three Ready nodes" 3 "$(count "$h" Ready)"
	assert_contains "$h still lists h3" "$id3" "$(lab exec "$h" shoal node ls)"
	assert_eq "$h still sees h1 lead" h1 "$(leader_host "$h")"
done
assert_ok "the swarm still accepts writes" \
	lab exec h2 shoal node update --label-add after=attack "$id3"
