#!/usr/bin/env bash
# `service logs -f` follows the tasks a service gets after it began, as
# Docker's does: a scale-up's new tasks and a task restarted after its
# container was removed by hand show up in the running follow, with all
# their lines; removing the service ends the follow.
# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/cluster/service-lib.sh
. "$(dirname "$0")/../service-lib.sh"

svc_lab 2
# shellcheck disable=SC2016 # $SLOT is the task's, expanded in it
lab exec h1 shoal service create --name web --replicas 1 \
	--stop-grace-period 1s -e 'SLOT={{.Task.Slot}}' busybox \
	sh -c 'echo "first-$SLOT"; while :; do echo "line-$SLOT"; sleep 0.3; done' \
	>/dev/null
assert_ok "1 replica runs" svc_count web 1

flog="$SHOAL_LAB_DIR/follow.txt"
"$LAB_SCRIPT" exec h1 shoal service logs -f web >"$flog" 2>&1 &
fpid=$!
follows() { grep -q 'line-1' "$flog"; }
assert_eventually "the follow shows the first task" 15 follows

note "scale-up"
lab exec h1 shoal service scale -d web=3 >/dev/null
third() { grep -q 'line-3' "$flog" && grep -q 'line-2' "$flog"; }
assert_eventually "the new tasks' lines come in the running follow" 20 third
assert_contains "from their first line" "first-3" "$(cat "$flog")"

note "a task restarted"
h=$(lab exec h1 shoal service ps -f desired-state=running web |
	awk 'NR > 1 && $2 == "web.1" {print $4}')
c=$(lab exec "$h" docker ps -q --no-trunc --filter name=web.1. | head -1)
old=$(lab exec "$h" docker inspect -f '{{index .Config.Labels "com.docker.swarm.task.id"}}' "$c")
lab exec "$h" shoal rm -f "$c" >/dev/null
newtask() {
	local id
	id=$(lab exec h1 docker service ps -q --no-trunc -f desired-state=running web |
		while read -r t; do
			lab exec h1 docker inspect --type task -f "{{.Slot}} {{.ID}}" "$t" 2>/dev/null
		done | awk '$1 == 1 {print $2}')
	[ -n "$id" ] && [ "$id" != "$old" ] && grep -q "web\.1\.${id:0:12}" "$flog"
}
assert_eventually "the replacement task's lines come in the running follow" 30 newtask

note "the service removed"
lab exec h1 shoal service rm web >/dev/null
ended() { ! kill -0 "$fpid" 2>/dev/null; }
assert_eventually "the follow ends with the service" 15 ended
kill "$fpid" 2>/dev/null || true
wait "$fpid" 2>/dev/null || true
