#!/usr/bin/env bash
# The containers of finished tasks are kept while the managers keep the
# tasks (the task history), as Docker does: `docker ps -a` on the nodes
# shows them and `service logs` still reads a failed task's lines; a task
# pruned by the history limit loses its container, and so do all of a
# removed service's.
# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/cluster/service-lib.sh
. "$(dirname "$0")/../service-lib.sh"

svc_lab 2
# ctrs SERVICE: how many containers of SERVICE the hosts hold (any state).
ctrs() {
	local h n=0
	for h in h1 h2; do
		n=$((n + $(lab exec "$h" docker ps -aq \
			--filter "label=com.docker.swarm.service.name=$1" | wc -l)))
	done
	echo "$n"
}

lab exec h1 shoal service create -d --name crash --restart-condition on-failure \
	--restart-delay 100ms --restart-max-attempts 2 busybox \
	sh -c 'echo boom; exit 3' >/dev/null
three() { [ "$(lab exec h1 shoal service ps crash | grep -c ' Failed ')" -eq 3 ]; }
assert_eventually "the task fails three times (two restarts)" 30 three
assert_eq "the three failed tasks' containers are kept" 3 "$(ctrs crash)"
assert_contains "docker ps -a on a node shows a finished task's container" \
	"Exited (3)" "$(lab exec h1 docker ps -a; lab exec h2 docker ps -a)"
assert_eq "service logs reads every failed task's lines" 3 \
	"$(lab exec h1 shoal service logs crash 2>&1 | grep -c boom)"
tid=$(lab exec h1 shoal service ps -q crash | head -1)
assert_contains "the logs of one failed task" "boom" \
	"$(lab exec h1 docker service logs "$tid" 2>&1)"

note "the history limit prunes tasks, and their containers go"
lab exec h1 shoal swarm update --task-history-limit 2 >/dev/null
lab exec h1 shoal service create -d --name loop --restart-delay 300ms \
	busybox sh -c 'echo again; exit 1' >/dev/null
first=""
first_task() { first=$(lab exec h1 shoal service ps -q --no-trunc loop | tail -1); [ -n "$first" ]; }
wait_for 20 first_task || fail "loop has a task"
pruned() {
	! lab exec h1 shoal service ps -q --no-trunc loop | grep -qx "$first"
}
assert_eventually "its first task is pruned" 30 pruned
gone() {
	local h
	for h in h1 h2; do
		lab exec "$h" docker ps -aq --no-trunc \
			--filter "label=com.docker.swarm.task.id=$first" | grep -q . && return 1
	done
	return 0
}
assert_eventually "the pruned task's container is removed" 10 gone
few() { [ "$(ctrs loop)" -le 3 ]; }
assert_eventually "no more containers than the history keeps" 10 few

note "service rm"
lab exec h1 shoal service rm crash loop >/dev/null
none() { [ "$(ctrs crash)" -eq 0 ] && [ "$(ctrs loop)" -eq 0 ]; }
assert_eventually "a removed service's containers are all removed" 20 none
