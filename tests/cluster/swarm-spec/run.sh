#!/usr/bin/env bash
# The swarm's settings (SwarmSpec) through the Engine API on four lab
# hosts: init requests with fields Shoal cannot honour are refused by name
# and leave the host out of any swarm; init with a Spec shows it in
# `swarm inspect` (without the allocator's fields) and applies it: Raft's
# timing from the founder's start, the certificate lifetime of a joining
# worker, the dispatcher's period in how long a silent node stays Ready,
# the snapshot interval and the snapshots kept; an update with Raft fields
# applies at each manager's next start and reaches a manager that joins;
# an unknown field is refused; ForceRotate (shoal swarm ca --rotate) gives
# every node a new certificate and the swarm keeps working.
# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/../lib.sh"

has_shoald || skip "needs shoald in $SHOAL_BIN_DIR"
lab_begin 4
m="$(lab addr h1):2377"
log() { cat "$SHOAL_LAB_DIR/$1/shoald.log"; }

# api HOST METHOD PATH [BODY]: the answer's body, then its status alone on
# the last line.
api() {
	local h=$1 method=$2 path=$3
	shift 3
	if [ $# -gt 0 ]; then
		lab exec "$h" curl -s -w '\n%{http_code}' \
			--unix-socket /run/shoal/shoald.sock -X "$method" \
			-H 'Content-Type: application/json' -d "$1" \
			"http://x/v1.45$path"
	else
		lab exec "$h" curl -s -w '\n%{http_code}' \
			--unix-socket /run/shoal/shoald.sock -X "$method" \
			"http://x/v1.45$path"
	fi
}
status_of() { tail -n 1 <<<"$1"; }
version() { # HOST: the cluster object's version
	api "$1" GET /swarm | sed -n 's/.*"Version":{"Index":\([0-9]*\)}.*/\1/p'
}
count() { # HOST STATE: how many nodes HOST's node ls shows in STATE
	lab exec "$1" shoal node ls 2>/dev/null | grep -c " $2 " || true
}
lists() { [ "$(count "$1" "$2")" -eq "$3" ]; }
crt() { lab exec "$1" md5sum /var/lib/shoal/certs/node.crt | cut -d' ' -f1; }
snaps() { lab exec h1 sh -c 'ls /var/lib/shoal/raft | grep -c "^snap-" || true'; }

note "init requests Shoal cannot honour are refused by name"
refused() { # DESC NAME BODY
	local out
	out=$(api h4 POST /swarm/init "$3")
	assert_eq "$1: 400" 400 "$(status_of "$out")"
	assert_contains "$1: the message names $2" "$2" "$out"
}
a4="$(lab addr h4):2377"
refused "an address pool" DefaultAddrPool \
	"{\"ListenAddr\":\"$a4\",\"DefaultAddrPool\":[\"10.20.0.0/16\"]}"
refused "a subnet size" SubnetSize "{\"ListenAddr\":\"$a4\",\"SubnetSize\":26}"
refused "a VXLAN port" DataPathPort "{\"ListenAddr\":\"$a4\",\"DataPathPort\":5000}"
refused "an external CA" CAConfig.ExternalCAs \
	"{\"ListenAddr\":\"$a4\",\"Spec\":{\"CAConfig\":{\"ExternalCAs\":[{\"Protocol\":\"cfssl\",\"URL\":\"https://ca\"}]}}}"
refused "an unknown Spec field" '\"Bogus\"' \
	"{\"ListenAddr\":\"$a4\",\"Spec\":{\"Bogus\":1}}"
assert_contains "h4 is in no swarm after them" "Swarm: inactive" \
	"$(lab exec h4 shoal info)"

note "init with a Spec through the API"
spec='"Dispatcher":{"HeartbeatPeriod":2000000000},"CAConfig":{"NodeCertExpiry":172800000000000},"Orchestration":{"TaskHistoryRetentionLimit":7},"Labels":{"env":"lab"}'
raft='"Raft":{"ElectionTick":20,"HeartbeatTick":2,"SnapshotInterval":20,"KeepOldSnapshots":1,"LogEntriesForSlowFollowers":10}'
out=$(api h1 POST /swarm/init \
	"{\"ListenAddr\":\"$m\",\"DefaultAddrPool\":[],\"SubnetSize\":24,\"Spec\":{$spec,$raft}}")
assert_eq "init with a spec is accepted" 200 "$(status_of "$out")"
inspect=$(lab exec h1 shoal swarm inspect)
for f in '"HeartbeatPeriod": 2000000000' '"NodeCertExpiry": 172800000000000' \
	'"ElectionTick": 20' '"HeartbeatTick": 2' '"SnapshotInterval": 20' \
	'"KeepOldSnapshots": 1' '"LogEntriesForSlowFollowers": 10' \
	'"TaskHistoryRetentionLimit": 7' '"env": "lab"' '"ForceRotate": 0'; do
	assert_contains "inspect shows $f" "$f" "$inspect"
done
for f in DefaultAddrPool SubnetSize DataPathPort; do
	assert_not_contains "inspect has no $f (no allocator yet)" "$f" "$inspect"
done
assert_contains "the founder's Raft runs with ElectionTick 20 (1 s)" \
	"raft: heartbeat 100 ms, election timeout 1000 ms" "$(log h1)"

note "the spec takes effect"
tok=$(lab exec h1 shoal swarm join-token -q worker)
assert_ok "h2 joins as a worker" lab exec h2 shoal swarm join --token "$tok" "$m"
assert_contains "h2's certificate lives NodeCertExpiry (48 h)" \
	"lifetime 172800 s" "$(log h2)"
assert_eventually "h1 lists two Ready nodes" 15 lists h1 Ready 2
# Cut off, h2 stops heartbeating but its connection stays open: it is
# Down after 3 periods of silence, 6 s with a 2 s period (3 s with the
# default), counted from its last heartbeat.
lab cut h1 h2
sleep 3
assert_eq "h2 is still Ready 3 s after its last possible heartbeat" 2 \
	"$(count h1 Ready)"
assert_eventually "h2 is Down once 3 periods passed" 15 lists h1 Down 1
lab heal
assert_eventually "h2 is Ready again after the heal" 20 lists h1 Ready 2
id2=$(lab exec h1 shoal node ls -q -f role=worker)
for i in $(seq 1 30); do
	lab exec h1 shoal node update --label-add "k$i=v" "$id2" >/dev/null
done
has_snap() { [ "$(snaps)" -ge 1 ]; }
assert_eventually "SnapshotInterval 20: h1 took a snapshot" 10 has_snap
for i in $(seq 31 75); do
	lab exec h1 shoal node update --label-add "k$i=v" "$id2" >/dev/null
done
n=$(snaps)
assert_ok "KeepOldSnapshots 1: at most two snapshots on disk (found $n)" \
	test "$n" -le 2

note "update with Raft fields; a refused unknown field"
v=$(version h1)
out=$(api h1 POST "/swarm/update?version=$v" '{"Raft":{"Bogus":1}}')
assert_eq "an unknown Raft field is refused" 400 "$(status_of "$out")"
assert_contains "the refusal names it" 'Raft.Bogus' "$out"
assert_eq "nothing changed" "$v" "$(version h1)"
raft='"Raft":{"ElectionTick":30,"HeartbeatTick":3,"SnapshotInterval":20,"KeepOldSnapshots":1,"LogEntriesForSlowFollowers":10}'
out=$(api h1 POST "/swarm/update?version=$v" "{$spec,$raft}")
assert_eq "the update is accepted" 200 "$(status_of "$out")"
inspect=$(lab exec h1 shoal swarm inspect)
assert_contains "inspect shows ElectionTick 30" '"ElectionTick": 30' "$inspect"
assert_contains "inspect shows HeartbeatTick 3" '"HeartbeatTick": 3' "$inspect"
assert_contains "h1 says the Raft timing applies at its next start" \
	"they apply at this manager's next start" "$(log h1)"
lab stop h1
lab start h1
leads() { lab exec h1 shoal node ls 2>/dev/null | grep -q ' Leader '; }
assert_eventually "h1 leads again (its election now takes 1.5 s)" 20 leads
assert_eventually "h1 lists two Ready nodes again" 20 lists h1 Ready 2
assert_contains "restarted, h1's Raft runs with the update (150 / 1500 ms)" \
	"raft: heartbeat 150 ms, election timeout 1500 ms" "$(log h1)"
mt=$(lab exec h1 shoal swarm join-token -q manager)
assert_ok "h3 joins as a manager" lab exec h3 shoal swarm join --token "$mt" "$m"
assert_contains "h3's first start already has the swarm's Raft timing" \
	"raft: heartbeat 150 ms, election timeout 1500 ms" "$(log h3)"
assert_eventually "h3 lists three Ready nodes" 20 lists h3 Ready 3

note "ForceRotate: every node gets a new certificate"
c1=$(crt h1) c2=$(crt h2) c3=$(crt h3)
out=$(lab exec h3 shoal swarm ca --rotate 2>&1)
assert_contains "swarm ca --rotate (at a follower) asks for ForceRotate 1" \
	"ForceRotate 1" "$out"
assert_contains "inspect shows ForceRotate 1" '"ForceRotate": 1' \
	"$(lab exec h1 shoal swarm inspect)"
changed() { [ "$(crt "$1")" != "$2" ]; }
assert_eventually "h1 has a new certificate" 20 changed h1 "$c1"
assert_eventually "h2 has a new certificate" 20 changed h2 "$c2"
assert_eventually "h3 has a new certificate" 20 changed h3 "$c3"
for h in h1 h2 h3; do
	assert_contains "$h logged the renewal" "renewed its certificate" "$(log "$h")"
done
lab stop h2
lab start h2
assert_eventually "h2 restarted with its new certificate is Ready" 20 \
	lists h1 Ready 3
assert_ok "the swarm still takes writes" \
	lab exec h3 shoal node update --label-add rotated=yes "$id2"
if command -v docker >/dev/null; then
	assert_ok "docker swarm ca --rotate --detach" \
		lab exec h1 docker swarm ca --rotate --detach
	assert_contains "docker's rotation is ForceRotate 2" '"ForceRotate": 2' \
		"$(lab exec h1 shoal swarm inspect)"
	c2=$(crt h2)
	assert_eventually "h2 renews again" 20 changed h2 "$c2"
fi
