#!/usr/bin/env bash
# Service modes and what the agent fills in: a global service follows a
# node that joins later, a replicated job and a global job run to
# completion, the agent expands Docker's templates (--hostname, --env) and
# applies mounts, limits and the stop signal on the nodes.
# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/cluster/service-lib.sh
. "$(dirname "$0")/../service-lib.sh"

svc_lab 4
# h4 leaves, to join again later under the global service's eyes.
lab exec h4 shoal swarm leave >/dev/null
# Removed for sure before it joins again (else two nodes are named h4).
h4_removed() {
	lab exec h1 shoal node rm --force h4 >/dev/null 2>&1 || true
	! lab exec h1 shoal node ls | grep -qw h4
}
wait_for 20 h4_removed || fail "h4 is removed from the swarm"

note "global"
out=$(lab exec h1 shoal service create --name agent --mode global \
	--stop-grace-period 1s busybox sleep 100000 2>&1)
assert_contains "a global service converges on the three nodes" \
	"overall progress: 3 out of 3 tasks" "$out"
assert_ok "one task on each of h1..h3" svc_count agent 3
assert_contains "service ls shows it global" "global" "$(lab exec h1 shoal service ls)"
tok=$(lab exec h1 shoal swarm join-token -q worker)
lab exec h4 shoal swarm join --token "$tok" "$m" >/dev/null
assert_eventually "a node that joins gets its task" 20 svc_on h4 agent 1
assert_ok "4 tasks now" svc_count agent 4
h4id=$(lab exec h1 shoal node ls | awk '$2 == "h4" {print $1}')
assert_contains "a global task is named service.node-id" "agent.$h4id " \
	"$(lab exec h1 shoal service ps agent)"

note "jobs"
out=$(lab exec h1 shoal service create --name batch --mode replicated-job \
	--replicas 5 --max-concurrent 2 busybox sh -c 'sleep 0.3' 2>&1)
assert_contains "a replicated job reports its progress" "job progress: 5 out of 5 complete" "$out"
assert_contains "... and ends" "job complete" "$out"
assert_eq "5 tasks completed" 5 \
	"$(lab exec h1 shoal service ps batch | grep -c 'Complete ')"
assert_contains "service ls shows the job's completions" "(5/5 completed)" \
	"$(lab exec h1 shoal service ls)"
out=$(lab exec h1 shoal service create --name everywhere --mode global-job \
	busybox true 2>&1)
assert_contains "a global job completes on every node" "job complete" "$out"
assert_eq "4 tasks completed" 4 \
	"$(lab exec h1 shoal service ps everywhere | grep -c 'Complete ')"

note "templates, mounts, limits"
lab exec h1 shoal service create --name tpl --replicas 2 \
	--hostname '{{.Service.Name}}-{{.Task.Slot}}' \
	--env 'WHERE={{.Node.Hostname}}' \
	--mount type=tmpfs,target=/scratch,tmpfs-size=1m \
	--mount type=volume,source=data-{{.Task.Slot}},target=/data \
	--limit-memory 64m --limit-pids 50 --stop-signal SIGINT \
	--container-label team=blue busybox sleep 100000 >/dev/null
assert_ok "2 replicas run" svc_count tpl 2
h=$(svc_running tpl | cut -d' ' -f1)
c=$(svc_containers "$h" tpl | cut -d' ' -f1)
slot=$(lab exec "$h" docker inspect -f '{{index .Config.Labels "com.docker.swarm.task.name"}}' "$c" | cut -d. -f2)
assert_eq "the hostname template is expanded" "tpl-$slot" \
	"$(lab exec "$h" docker exec "$c" hostname)"
assert_eq "the env template names the node" "$h" \
	"$(lab exec "$h" docker exec "$c" sh -c 'echo $WHERE')"
assert_contains "the tmpfs mount is there" "/scratch" \
	"$(lab exec "$h" docker exec "$c" grep scratch /proc/mounts)"
assert_ok "the named volume of the slot exists on the node" \
	lab exec "$h" docker volume inspect "data-$slot"
assert_eq "the memory limit applies" 67108864 \
	"$(lab exec "$h" docker inspect -f '{{.HostConfig.Memory}}' "$c")"
assert_eq "docker inspect shows the pids limit" 50 \
	"$(lab exec "$h" docker inspect -f '{{.HostConfig.PidsLimit}}' "$c")"
assert_eq "the container label is set" blue \
	"$(lab exec "$h" docker inspect -f '{{index .Config.Labels "team"}}' "$c")"
