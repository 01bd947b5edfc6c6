#!/usr/bin/env bash
# Services on three lab hosts through `shoal` and the docker CLI: create
# with converge progress, 6 replicas spread 2/2/2, Docker's labels and
# names on the nodes' containers, service ls/ps/inspect, scale up and
# down, a task rejected for a missing image with Docker's sentence,
# service logs from every host (shoal and docker), node ps, rm.
# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/cluster/service-lib.sh
. "$(dirname "$0")/../service-lib.sh"

svc_lab 3

note "create: converge progress, spread"
out=$(lab exec h1 shoal service create --name web --replicas 6 busybox \
	sh -c 'while true; do echo "hello from $(hostname)"; sleep 1; done' 2>&1)
assert_contains "create prints the overall progress" \
	"overall progress: 6 out of 6 tasks" "$out"
assert_contains "create draws one line per slot" "6/6: running" "$out"
assert_contains "create waits for the tasks to be stable" \
	"verify: Waiting 5 seconds to verify that tasks are stable..." "$out"
assert_contains "create ends with docker's converged line" "converged" "$out"
assert_ok "6 replicas run" svc_count web 6
for h in h1 h2 h3; do
	assert_ok "$h runs 2 of them (spread 2/2/2)" svc_on "$h" web 2
done

note "the nodes' containers"
names=$(lab exec h2 shoal ps --format json | grep -o '"Names":"[^"]*"')
assert_contains "a task container is named service.slot.taskid" '"Names":"web.' "$names"
lbl=$(lab exec h2 shoal inspect "$(lab exec h2 shoal ps -q | head -1)")
for k in com.docker.swarm.service.id com.docker.swarm.service.name \
	com.docker.swarm.task.id com.docker.swarm.task.name \
	com.docker.swarm.node.id; do
	assert_contains "the container carries $k" "\"$k\"" "$lbl"
done
assert_eq "docker ps on a worker filters task containers by service label" 2 \
	"$(lab exec h3 docker ps -q --filter label=com.docker.swarm.service.name=web | wc -l)"

note "ls, ps, inspect"
ls=$(lab exec h1 shoal service ls)
assert_contains "service ls prints docker's header" \
	"ID             NAME      MODE         REPLICAS   IMAGE     PORTS" "$ls"
assert_contains "service ls shows 6/6 replicated" "web       replicated   6/6        busybox" "$ls"
ps=$(lab exec h1 shoal service ps web)
assert_contains "service ps prints docker's header" \
	"ID             NAME      IMAGE     NODE      DESIRED STATE   CURRENT STATE" "$ps"
assert_contains "service ps names tasks service.slot" "web.6 " "$ps"
assert_contains "service ps shows the current state with its age" "Running " "$ps"
assert_eq "service ps -q prints the task ids" 6 "$(lab exec h1 shoal service ps -q web | wc -l)"
assert_eq "service ps --no-trunc prints whole ids" 25 \
	"$(lab exec h1 shoal service ps --no-trunc web | awk 'NR==2 {print length($1)}')"
pretty=$(lab exec h1 shoal service inspect --pretty web)
assert_contains "inspect --pretty shows the mode" "Service Mode:	Replicated" "$pretty"
assert_contains "inspect --pretty shows the replicas" " Replicas:	6" "$pretty"
assert_contains "inspect prints the spec as JSON" '"Replicas": 6' \
	"$(lab exec h1 shoal service inspect web)"
dls=$(lab exec h1 docker service ls)
assert_contains "docker service ls through shoald shows 6/6" "6/6" "$dls"
dps=$(lab exec h1 docker service ps web)
assert_contains "docker service ps through shoald names the nodes" " h3 " "$dps"

note "logs from every host"
lab exec h1 shoal service logs web >"$SHOAL_LAB_DIR/logs.txt" 2>&1 || true
logs=$(cat "$SHOAL_LAB_DIR/logs.txt")
for h in h1 h2 h3; do
	assert_contains "service logs has lines from $h's tasks" "@$h    | hello from" "$logs"
done
assert_contains "service logs prefixes name.slot.taskid" "web.1." "$logs"
tl=$(lab exec h1 shoal service logs --tail 1 --no-task-ids web)
assert_eq "service logs --tail 1 gives one line per task" 6 "$(grep -c 'hello' <<<"$tl")"
assert_contains "--no-task-ids prints name.slot@node" "web.1@" "$tl"
assert_contains "--raw prints the message alone" "hello from" \
	"$(lab exec h1 shoal service logs --raw --tail 1 web | head -1)"
assert_not_contains "--raw has no prefix" "|" \
	"$(lab exec h1 shoal service logs --raw --tail 1 web | head -1)"
dl=$(lab exec h1 docker service logs --tail 1 web 2>&1)
assert_contains "docker service logs through shoald prints the prefix" "@h2    | hello" "$dl"
fl=$(timeout 3 "$LAB_SCRIPT" exec h1 shoal service logs -f --tail 0 web || true)
assert_contains "service logs -f streams new lines" "hello from" "$fl"
sleep 2
assert_eq "service logs --since 1s leaves the older lines out" 0 \
	"$(lab exec h1 shoal service logs --since 1s web | grep -c 'hello' | awk '{print ($1 > 18)}')"
tid=$(lab exec h1 shoal service ps -q web | head -1)
assert_contains "service logs of one task" "hello from" \
	"$(lab exec h1 shoal service logs --tail 1 "$tid")"

note "scale"
out=$(lab exec h1 shoal service scale web=9 2>&1)
assert_contains "scale prints docker's sentence" "web scaled to 9" "$out"
assert_ok "9 replicas run" svc_count web 9
lab exec h1 shoal service scale -d web=3 >/dev/null
assert_eventually "scaled down to 3" 20 svc_count web 3

note "a missing image"
lab exec h1 shoal service create -d --name ghost nosuchimage:7 sleep 9 >/dev/null
rejected() { lab exec h1 shoal service ps ghost | grep -q '"No such image: nosuchimage:7"'; }
assert_eventually "a task without its image is rejected with Docker's sentence" 20 rejected
assert_contains "service ps shows it Rejected" "Rejected" "$(lab exec h1 shoal service ps ghost)"

note "run flags reach the task's container"
lab exec h1 shoal service create -d --name flags --replicas 1 \
	--constraint node.hostname==h2 --init \
	--sysctl net.ipv4.ip_local_port_range="40000 50000" \
	--dns-search example.org --dns-option ndots:3 busybox sleep 300 >/dev/null
assert_eventually "the flags service runs" 20 svc_count flags 1
fc=$(lab exec h2 shoal ps -q --filter label=com.docker.swarm.service.name=flags)
assert_contains "--init: pid 1 is the init" "docker-init" \
	"$(lab exec h2 shoal exec "$fc" cat /proc/1/cmdline | tr '\0' ' ')"
assert_contains "--sysctl is set in the container" "40000" \
	"$(lab exec h2 shoal exec "$fc" cat /proc/sys/net/ipv4/ip_local_port_range)"
rc=$(lab exec h2 shoal exec "$fc" cat /etc/resolv.conf)
assert_contains "--dns-search is in resolv.conf" "example.org" "$rc"
assert_contains "--dns-option is in resolv.conf" "ndots:3" "$rc"
lab exec h1 shoal service rm flags >/dev/null

note "node ps"
np=$(lab exec h1 shoal node ps h2)
assert_contains "node ps h2 lists h2's tasks" " h2 " "$np"
assert_not_contains "node ps h2 lists no other node's" " h3 " "$np"

note "rm"
assert_ok "service rm" lab exec h1 shoal service rm web ghost
gone() { [ -z "$(lab exec h2 shoal ps -aq)" ] && [ -z "$(lab exec h3 shoal ps -aq)" ]; }
assert_eventually "the workers remove the task containers" 30 gone
assert_eq "service ls is empty" 1 "$(lab exec h1 shoal service ls | wc -l)"
