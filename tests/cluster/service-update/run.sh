#!/usr/bin/env bash
# Updates of a running service: a rolling update in start-first order at
# parallelism 2 (never fewer tasks running than asked), a manual rollback,
# an update through the docker CLI, an update to an image no node has,
# which fails and rolls back by itself (--update-failure-action
# rollback), and health checks: a task whose check fails is failed
# ("unhealthy container") and replaced, a healthy one is "Running".
# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/cluster/service-lib.sh
. "$(dirname "$0")/../service-lib.sh"

svc_lab 3
for h in h1 h2 h3; do lab exec "$h" shoal tag busybox:latest busybox:v2; done
lab exec h1 shoal service create --name web --replicas 4 \
	--stop-grace-period 1s busybox sleep 100000 >/dev/null
assert_ok "4 replicas run" svc_count web 4

note "rolling update, start-first, parallelism 2"
min=99
watch_min() {
	while [ ! -e "$SHOAL_LAB_DIR/stop-watch" ]; do
		c=$(svc_running web | wc -w)
		echo "$c"
		sleep 0.1
	done >"$SHOAL_LAB_DIR/counts"
}
watch_min &
wpid=$!
out=$(lab exec h1 shoal service update --update-order start-first \
	--update-parallelism 2 --image busybox:v2 web 2>&1)
touch "$SHOAL_LAB_DIR/stop-watch"
wait "$wpid"
min=$(sort -n "$SHOAL_LAB_DIR/counts" | head -1)
assert_contains "update waits until it converged" "verify: Service web converged" "$out"
assert_eq "start-first: never fewer than 4 running during the update" 4 "$min"
imgs=$(lab exec h1 shoal service ps -f desired-state=running web | awk 'NR>1 {print $3}' | sort -u)
assert_eq "every running task has the new image" "busybox:v2" "$imgs"
assert_eq "the old tasks are shut down, kept as history" 4 \
	"$(lab exec h1 shoal service ps web | grep -c ' \\_ web')"

note "manual rollback"
out=$(lab exec h1 shoal service rollback web 2>&1 || true)
assert_contains "rollback converges" "converged" "$out"
prev() { [ "$(lab exec h1 shoal service ps -f desired-state=running web | awk 'NR>1 {print $3}' | sort -u)" = "busybox" ] && svc_count web 4; }
assert_eventually "the previous image runs again" 30 prev
rb_done() { lab exec h1 shoal service inspect web | grep -q '"State": *"rollback_completed"'; }
assert_eventually "a manual rollback ends rollback_completed" 15 rb_done

out=$(lab exec h1 shoal service update --rollback web 2>&1 || true)
assert_contains "update --rollback converges" "converged" "$out"
v2again() { [ "$(lab exec h1 shoal service ps -f desired-state=running web | awk 'NR>1 {print $3}' | sort -u)" = "busybox:v2" ] && svc_count web 4; }
assert_eventually "update --rollback goes back to the spec before (v2)" 30 v2again
assert_eventually "update --rollback ends rollback_completed" 15 rb_done
out=$(lab exec h1 docker service rollback web 2>&1 || true)
assert_contains "docker service rollback converges" "converged" "$out"
assert_eventually "docker service rollback ends rollback_completed" 15 rb_done
assert_eq "docker service inspect shows it" "rollback_completed" \
	"$(lab exec h1 docker service inspect -f '{{.UpdateStatus.State}}' web)"

note "update through the docker CLI"
assert_ok "docker service update -d --env-add" \
	lab exec h1 docker service update -d --env-add COLOR=blue web
has_env() { lab exec h2 shoal inspect "$(svc_containers h2 web | cut -d' ' -f1)" | grep -q 'COLOR=blue'; }
assert_eventually "the new tasks carry the variable" 30 has_env

note "an image no node has: the update fails and rolls back"
imgs() { lab exec h1 shoal service ps -f desired-state=running web | awk 'NR>1 {print $3}' | sort -u; }
before=$(imgs)
out=$(lab exec h1 shoal service update --update-failure-action rollback \
	--image nosuch:1 web 2>&1 || true)
assert_contains "the progress reports the rollback" "rollback" "$out"
st=$(lab exec h1 shoal service inspect web)
assert_contains "UpdateStatus says the rollback completed" '"rollback_completed"' "$st"
back() { [ "$(imgs)" = "$before" ] && svc_count web 4; }
assert_eventually "the service runs the image of before again" 30 back
assert_contains "the failed tasks say why" '"No such image: nosuch:1"' \
	"$(lab exec h1 shoal service ps web)"

note "health checks"
lab exec h1 shoal service create -d --name sick --stop-grace-period 1s \
	--health-cmd 'test -e /nonexistent' --health-interval 200ms \
	--health-retries 2 busybox sleep 100000 >/dev/null
failed() { lab exec h1 shoal service ps sick | grep -q '"unhealthy container"'; }
assert_eventually "an unhealthy task fails with Docker's words" 20 failed
replaced() { [ "$(lab exec h1 shoal service ps -q sick | wc -l)" -ge 2 ]; }
assert_eventually "the orchestrator replaces it" 20 replaced
out=$(lab exec h1 shoal service create --name fine --health-cmd true \
	--health-interval 200ms busybox sleep 100000 2>&1)
assert_contains "a healthy service converges" "converged" "$out"
assert_ok "its task is Running" svc_count fine 1
h=$(svc_running fine | tr -d ' ')
assert_contains "docker ps on its node shows (healthy)" "(healthy)" \
	"$(lab exec "$h" docker ps --filter label=com.docker.swarm.service.name=fine)"
