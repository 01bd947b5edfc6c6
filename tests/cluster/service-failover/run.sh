#!/usr/bin/env bash
# A service survives its nodes: shoald restarted on a worker while its
# tasks run (they keep running, the same containers, adopted without a
# restart), a worker's shoald killed with -9 (its tasks are recreated on
# the others; once it is back its old containers are stopped, and kept
# as the task history), and a node drained (its tasks move, none is left
# on it).
# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/cluster/service-lib.sh
. "$(dirname "$0")/../service-lib.sh"

# A heartbeat long enough for a restart of shoald to go unnoticed (as
# Docker's 5 s default does); shortened before the kill.
svc_lab 3 2s
lab exec h1 shoal service create --name web --replicas 6 \
	--stop-grace-period 1s busybox sleep 100000 >/dev/null
assert_ok "6 replicas run" svc_count web 6

note "restart of shoald on a worker while its tasks run"
before=$(svc_containers h2 web)
tasks_before=$(lab exec h1 shoal service ps -q -f desired-state=running web | sort)
assert_eq "h2 runs two containers of web" 2 "$(wc -w <<<"$before")"
pids=$(for c in $before; do lab exec h2 docker inspect -f '{{.State.Pid}}' "$c"; done)
lab stop h2 >/dev/null
lab start h2 >/dev/null
adopted() { grep -q "adopted 2 tasks" "$(lab log h2)"; }
assert_eventually "h2's shoald adopts its two tasks" 10 adopted
assert_eq "the same containers run on h2" "$before" "$(svc_containers h2 web)"
assert_eq "their processes were not restarted" "$pids" \
	"$(for c in $before; do lab exec h2 docker inspect -f '{{.State.Pid}}' "$c"; done)"
sleep 2
assert_eq "the managers keep the same tasks" "$tasks_before" \
	"$(lab exec h1 shoal service ps -q -f desired-state=running web | sort)"
assert_ok "still 6 running" svc_count web 6

note "kill -9 of a worker's shoald"
lab exec h1 shoal swarm update --dispatcher-heartbeat 300ms >/dev/null
sleep 1
old=$(svc_containers h3 web)
lab kill h3 >/dev/null
moved() { svc_count web 6 && svc_on h3 web 0; }
assert_eventually "h3's tasks are recreated on h1 and h2" 15 moved
both() { [ $(($(svc_running web | tr ' ' '\n' | grep -cx h1) + $(svc_running web | tr ' ' '\n' | grep -cx h2))) -eq 6 ]; }
# A loaded machine can make h2 miss 3 heartbeats of 300 ms too: its
# tasks may then move to h1; what matters is where they settle.
assert_eventually "all 6 run on h1 and h2" 15 both
lab start h3 >/dev/null
stale_gone() { [ -z "$(svc_containers h3 web)" ]; }
assert_eventually "back, h3 stops its old containers" 30 stale_gone
for c in $old; do
	# Kept, exited, while the managers keep their tasks (the task
	# history, as Docker keeps them; docs/agent.md).
	assert_eq "old container ${c:0:12} is stopped on h3, kept as history" \
		false "$(lab exec h3 docker inspect -f '{{.State.Running}}' "$c")"
done
assert_ok "still 6 running" svc_count web 6

note "drain"
lab exec h1 shoal node update --availability drain h2 >/dev/null
drained() { svc_on h2 web 0 && svc_count web 6 && [ -z "$(svc_containers h2 web)" ]; }
assert_eventually "a drained node runs none of the tasks" 30 drained
lab exec h1 shoal node update --availability active h2 >/dev/null
assert_ok "still 6 running" svc_count web 6
