#!/usr/bin/env bash
# Swarm autolock on one lab host with the shoal CLI: init --autolock prints
# docker's unlock-key paragraph; the data at rest (Raft log, key files,
# state) holds no plaintext of what was written; a restarted manager comes
# back locked and serves nothing of the swarm; a wrong key is refused with
# "invalid key" and changes nothing; the right key unlocks it with its data
# intact; after unlock-key --rotate only the new key unlocks; autolock off
# restarts unlocked. A second manager shares the swarm's key: it gets it
# when it joins and after a rotation, and unlocks with it after a restart.
# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/../lib.sh"

has_shoald || skip "needs shoald in $SHOAL_BIN_DIR"
lab_begin 2
a1=$(lab addr h1)
m="$a1:2377"
marker="autolock-plaintext-marker-$$"

state_is() { # STATE [HOST]: the host's info reports it
	lab exec "${2:-h1}" shoal info | grep -q "Swarm: $1"
}
restart() { # [HOST]
	lab stop "${1:-h1}"
	lab start "${1:-h1}"
}
unlock_with() { # KEY [HOST]: shoal swarm unlock reading KEY from stdin
	echo "$1" | lab exec "${2:-h1}" shoal swarm unlock 2>&1
}
key_on() { # HOST KEY: the host's unlock-key -q prints KEY
	[ "$(lab exec "$1" shoal swarm unlock-key -q 2>/dev/null)" = "$2" ]
}
self_id() { lab exec h1 shoal node ls -q | head -n1; }
has_label() {
	lab exec h1 shoal node inspect "$(self_id)" | grep -q "$marker"
}

note "init --autolock"
out=$(lab exec h1 shoal swarm init --autolock --listen-addr "$m" 2>&1)
assert_contains "init prints docker's unlock paragraph" \
	"To unlock a swarm manager after it restarts, run the \`shoal swarm unlock\`" "$out"
assert_contains "init prints the key" "    SWMKEY-1-" "$out"
key=$(lab exec h1 shoal swarm unlock-key -q)
assert_contains "unlock-key -q prints only the key" "SWMKEY-1-" "$key"
assert_contains "init printed the key unlock-key shows" "    $key" "$out"
assert_contains "inspect reports autolock" '"AutoLockManagers": true' \
	"$(lab exec h1 shoal swarm inspect)"
assert_ok "a label is written through Raft" \
	lab exec h1 shoal node update --label-add "secret=$marker" "$(self_id)"
assert_ok "the label is there" has_label

note "nothing in the clear at rest"
restart # every byte flushed and the log reopened
assert_fails "the Raft log and snapshots hold no plaintext of the label" \
	lab exec h1 grep -rqa "$marker" /var/lib/shoal/raft
assert_fails "the swarm state is not readable JSON" \
	lab exec h1 grep -qa ClusterID /var/lib/shoal/swarm/state.json

note "a restarted manager is locked"
assert_eventually "h1 reports locked after restart" 10 state_is locked
out=$(lab exec h1 shoal node ls 2>&1 || true)
assert_contains "a locked node serves no swarm command" \
	"This node is not a swarm manager" "$out"
out=$(lab exec h1 shoal swarm init 2>&1 || true)
assert_contains "a locked node refuses init" "already part of a swarm" "$out"

note "a wrong key changes nothing"
wrong="SWMKEY-1-$(head -c 32 /dev/urandom | base64 -w0 | tr -d =)"
out=$(unlock_with "$wrong" || true)
assert_contains "a wrong key is refused" "invalid key" "$out"
out=$(unlock_with "SWMKEY-1-nonsense" || true)
assert_contains "a malformed key is refused" "invalid key" "$out"
assert_ok "h1 is still locked" state_is locked

note "the right key unlocks with the data intact"
out=$(unlock_with "$key")
assert_eq "unlock prints nothing" "" "$out"
assert_eventually "h1 is active after unlock" 10 state_is active
assert_eventually "the label written before the restart is there" 10 has_label
out=$(unlock_with "$key" || true)
assert_contains "unlocking an unlocked node is refused" "not locked" "$out"

note "a second manager shares the key"
mt=$(lab exec h1 shoal swarm join-token -q manager)
assert_ok "h2 joins as a manager" \
	lab exec h2 shoal swarm join --token "$mt" "$m"
assert_eventually "h2 shows the swarm's unlock key" 20 key_on h2 "$key"

note "rotation"
out=$(lab exec h1 shoal swarm unlock-key --rotate 2>&1)
assert_contains "rotation reports success" \
	"Successfully rotated manager unlock key." "$out"
new=$(lab exec h1 shoal swarm unlock-key -q)
assert_contains "the new key is an unlock key" "SWMKEY-1-" "$new"
[ "$new" != "$key" ] && pass "the key changed" || fail "the key changed" "$new"
restart
assert_eventually "h1 is locked again after restart" 10 state_is locked
out=$(unlock_with "$key" || true)
assert_contains "the key from before rotation is refused" "invalid key" "$out"
assert_ok "h1 is still locked" state_is locked
assert_ok "the new key unlocks" unlock_with "$new"
assert_eventually "h1 is active" 10 state_is active
assert_eventually "the label is still there" 10 has_label
assert_eventually "h2 got the rotated key" 10 key_on h2 "$new"
restart h2
assert_eventually "h2 is locked after restart" 10 state_is locked h2
out=$(unlock_with "$key" h2 || true)
assert_contains "h2 refuses the old key" "invalid key" "$out"
assert_ok "h2 unlocks with the rotated key" unlock_with "$new" h2
assert_eventually "h2 is active" 10 state_is active h2
assert_fails "h2's Raft log holds no plaintext of the label" \
	lab exec h2 grep -rqa "$marker" /var/lib/shoal/raft

note "autolock off"
# Right after both restarts the managers may still be electing a leader.
assert_eventually "update --autolock=false" 30 \
	lab exec h1 shoal swarm update --autolock=false
out=$(lab exec h1 shoal swarm unlock-key 2>&1 || true)
assert_contains "no unlock key is set any more" "no unlock key is set" "$out"
no_key_on() { # HOST
	local out
	out=$(lab exec "$1" shoal swarm unlock-key 2>&1 || true)
	echo "$out"
	grep -q "no unlock key is set" <<<"$out"
}
assert_eventually "h2 has no unlock key either" 10 no_key_on h2
restart
assert_eventually "h1 restarts active without a key" 15 state_is active
assert_eventually "the label is still there" 10 has_label
assert_fails "the log is still encrypted at rest" \
	lab exec h1 grep -rqa "$marker" /var/lib/shoal/raft

if command -v docker >/dev/null; then
	note "the docker CLI"
	# h1 just restarted: wait until updates are accepted again.
	assert_eventually "a no-op update is accepted" 30 \
		lab exec h1 shoal swarm update
	out=$(lab exec h1 docker swarm update --autolock=true 2>&1 || true)
	assert_contains "docker swarm update --autolock=true prints the key" \
		"SWMKEY-1-" "$out"
	dkey=$(lab exec h1 docker swarm unlock-key -q)
	assert_contains "docker swarm unlock-key -q prints a key" "SWMKEY-1-" \
		"$dkey"
	assert_contains "docker printed the key unlock-key shows" "$dkey" "$out"
	restart
	dinfo() { lab exec h1 docker info 2>/dev/null | grep -q "Swarm: locked"; }
	assert_eventually "docker info reports the node locked" 10 dinfo
	out=$(echo "$key" | lab exec h1 docker swarm unlock 2>&1 || true)
	assert_contains "docker swarm unlock refuses a stale key" "invalid key" "$out"
	assert_ok "docker swarm unlock with the key" \
		sh -c "echo '$dkey' | $(printf %q "$LAB_SCRIPT") exec h1 docker swarm unlock"
	assert_eventually "h1 is active after docker's unlock" 10 state_is active
else
	note "the docker CLI is not installed: its part is skipped"
fi
