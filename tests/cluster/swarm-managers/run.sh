#!/usr/bin/env bash
# Three managers and two workers on five lab hosts: the managers' store is
# replicated through Raft, so every manager answers node ls; writes at a
# follower are forwarded to the leader; kill -9 of the leader elects a
# new one, every survivor answers again and the workers' sessions follow;
# a minority cut off refuses writes and catches up after the heal; nodes
# are promoted and demoted (the leader too); and every update a background
# writer saw acknowledged through any manager during all of it is still
# there at the end.
# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/../lib.sh"

has_shoald || skip "needs shoald in $SHOAL_BIN_DIR"
lab_begin 5
m="$(lab addr h1):2377"

count() { # HOST STATE: how many nodes HOST's node ls shows in STATE
	lab exec "$1" shoal node ls 2>/dev/null | grep -c " $2 " || true
}
lists() { [ "$(count "$1" "$2")" -eq "$3" ]; }
leader_host() { # HOST: the hostname HOST's node ls shows as Leader
	lab exec "$1" shoal node ls 2>/dev/null | awk '/ Leader /{for (i = 1; i <= NF; i++) if ($i ~ /^h[0-9]$/) print $i}'
}
has_leader_other_than() { # HOST OLD
	local l
	l=$(leader_host "$1")
	[ -n "$l" ] && [ "$l" != "$2" ]
}
id_of() { lab exec "$1" shoal node ls | awk -v h="$2" '{for (i = 1; i <= NF; i++) if ($i == h) print $1}'; }

note "init and joins"
assert_ok "h1 initialises the swarm" lab exec h1 shoal swarm init --listen-addr "$m"
mt=$(lab exec h1 shoal swarm join-token -q manager)
wt=$(lab exec h1 shoal swarm join-token -q worker)
assert_eq "h2 joins as a manager" "This node joined a swarm as a manager." \
	"$(lab exec h2 shoal swarm join --token "$mt" "$m" 2>&1)"
assert_eq "h3 joins as a manager" "This node joined a swarm as a manager." \
	"$(lab exec h3 shoal swarm join --token "$mt" "$m" 2>&1)"
assert_ok "h4 joins as a worker" lab exec h4 shoal swarm join --token "$wt" "$m"
assert_ok "h5 joins through a follower (redirected to the leader)" \
	lab exec h5 shoal swarm join --token "$wt" "$(lab addr h3):2377"
for h in h1 h2 h3; do
	assert_eventually "$h lists five Ready nodes" 20 lists "$h" Ready 5
done
assert_eq "h1 leads" "h1" "$(leader_host h2)"
assert_eq "node ls shows three managers" 3 \
	"$(lab exec h1 shoal node ls | grep -cE ' (Leader|Reachable) ')"

note "writes: the leader accepts, followers forward them"
id4=$(id_of h1 h4)
assert_ok "an update at the leader is accepted" \
	lab exec h1 shoal node update --label-add zone=one "$id4"
assert_ok "an update at a follower is forwarded and accepted" \
	lab exec h2 shoal node update --label-add via=follower "$id4"
assert_contains "the forwarded update is visible at the leader" \
	'"via": "follower"' "$(lab exec h1 shoal node inspect "$id4")"
v=$(lab exec h3 curl -s --unix-socket /run/shoal/shoald.sock \
	"http://x/v1.45/nodes/$id4" | sed 's/.*"Version":{"Index":\([0-9]*\)}.*/\1/')
stale=$((v - 1))
out=$(lab exec h3 curl -s --unix-socket /run/shoal/shoald.sock -X POST \
	-d '{"Role":"worker","Availability":"active"}' \
	"http://x/v1.45/nodes/$id4/update?version=$stale")
assert_contains "a stale version forwarded from a follower is out of sequence" \
	"update out of sequence" "$out"
assert_eventually "the leader's update is visible on h3" 5 \
	sh -c "$(printf %q "$SHOAL_SOURCE_DIR/scripts/lab") exec h3 shoal node inspect $id4 | grep -q '\"zone\": \"one\"'"

note "a writer keeps updating h5's labels through every manager from here on"
id5=$(id_of h1 h5)
acked=$SHOAL_LAB_DIR/acked
: >"$acked"
writer() {
	local i=0 h
	while :; do
		i=$((i + 1))
		for h in h2 h3 h1 h4; do
			if lab exec "$h" shoal node update --label-add "w$i=$i" \
				"$id5" >/dev/null 2>&1; then
				echo "$i" >>"$acked"
				break
			fi
		done
		sleep 0.05
	done
}
writer &
wpid=$!
trap 'rc=$?; kill "$wpid" 2>/dev/null || true; wait "$wpid" 2>/dev/null || true; (exit "$rc"); lab_end' EXIT

note "kill -9 of the leader"
lab kill h1
assert_eventually "h2 sees a new leader" 15 has_leader_other_than h2 h1
assert_eventually "h3 sees a new leader" 15 has_leader_other_than h3 h1
new=$(leader_host h2)
assert_eventually "h1 is shown Down" 15 lists "$new" Down 1
assert_eventually "both workers are Ready with the new leader" 15 \
	lists "$new" Ready 4
assert_ok "the new leader accepts a write" \
	lab exec "$new" shoal node update --label-add after=kill "$id4"
lab start h1
assert_eventually "h1 is back, Ready, as a follower" 20 lists "$new" Ready 5
assert_eventually "h1 has the write made while it was dead" 15 \
	sh -c "$(printf %q "$SHOAL_SOURCE_DIR/scripts/lab") exec h1 shoal node inspect $id4 | grep -q '\"after\": \"kill\"'"

note "a cut-off minority refuses writes, then catches up"
others() { # HOST...: the managers h1..h3 other than these
	local h x skip
	for h in h1 h2 h3; do
		skip=0
		for x in "$@"; do [ "$h" = "$x" ] && skip=1; done
		[ "$skip" -eq 1 ] || echo "$h"
	done
}
lone=$(others "$new" | sed -n 1p)
lab cut "$lone" "$new"
third=$(others "$new" "$lone")
lab cut "$lone" "$third"
sleep 2
assert_fails "the minority manager cannot get a write accepted" \
	lab exec "$lone" shoal node update --label-add minority=yes "$id4"
assert_ok "the majority accepts a write" \
	lab exec "$new" shoal node update --label-add majority=yes "$id4"
lab heal
assert_eventually "after heal the minority has the majority's write" 20 \
	sh -c "$(printf %q "$SHOAL_SOURCE_DIR/scripts/lab") exec $lone shoal node inspect $id4 | grep -q '\"majority\": \"yes\"'"
assert_not_contains "the refused write never appears" "minority" \
	"$(lab exec "$new" shoal node inspect "$id4")"
labels=$(lab exec "$lone" shoal node inspect "$id4")
for l in '"zone": "one"' '"via": "follower"' '"after": "kill"' '"majority": "yes"'; do
	assert_contains "every acknowledged update is kept: $l" "$l" "$labels"
done

note "promote and demote"
leader=$(leader_host h2)
demotee=$(others "$leader" | sed -n 1p)
assert_ok "h4 is promoted" lab exec "$leader" shoal node promote h4
assert_eventually "h4 answers node ls as a manager" 20 lists h4 Ready 5
knows_h4() { lab exec h5 grep -q "\"$(lab addr h4):2377\"" /var/lib/shoal/swarm/state.json; }
assert_eventually "the worker h5 keeps the new manager's address on disk" 10 knows_h4
assert_ok "$demotee is demoted" lab exec "$leader" shoal node demote "$demotee"
refuses() { ! lab exec "$1" shoal node ls >/dev/null 2>&1; }
assert_eventually "$demotee refuses node ls as a worker" 20 refuses "$demotee"
assert_eventually "$demotee drops its CA key and Raft log" 10 \
	sh -c "! $(printf %q "$SHOAL_SOURCE_DIR/scripts/lab") exec $demotee test -e /var/lib/shoal/certs/root.key"
managers() { [ "$(lab exec "$leader" shoal node ls | grep -cE ' (Leader|Reachable|Unreachable) ')" -eq 3 ]; }
assert_eventually "three managers again" 10 managers
assert_ok "the leader demotes itself (handing leadership over first)" \
	lab exec "$leader" shoal node demote "$leader"
survivor=$(for h in h1 h2 h3 h4; do [ "$h" = "$leader" ] || [ "$h" = "$demotee" ] || echo "$h"; done | sed -n 1p)
assert_eventually "another manager leads" 15 has_leader_other_than "$survivor" "$leader"
assert_eventually "the old leader refuses node ls as a worker" 20 refuses "$leader"
two() { [ "$(lab exec "$survivor" shoal node ls | grep -cE ' (Leader|Reachable|Unreachable) ')" -eq 2 ]; }
assert_eventually "two managers remain" 10 two
assert_ok "the swarm still accepts writes" \
	lab exec "$survivor" shoal node update --label-add end=yes "$id4"

note "every update the writer saw acknowledged is there"
kill "$wpid" 2>/dev/null || true
wait "$wpid" 2>/dev/null || true
final=$(lab exec "$survivor" shoal node inspect "$id5")
n=0 missing=""
while read -r i; do
	n=$((n + 1))
	[[ "$final" == *"\"w$i\": \"$i\""* ]] || missing="$missing w$i"
done <"$acked"
note "$n updates were acknowledged during kills, cuts, promotions and demotions"
assert_ok "the writer got updates acknowledged" test "$n" -gt 10
assert_eq "no acknowledged update is missing" "" "$missing"
