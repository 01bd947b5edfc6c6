#!/usr/bin/env bash
# The resolver's latency for overlay names, as a task sees it (issue 13's
# "DNS lookup latency"), on a 2-host lab (scripts/lab; needs root) with
# Shoal's daemons: h1 manager, h2 worker, an overlay `app`, a service `web`
# of 2 tasks (one a host). From inside the network namespace of web's task
# on h1, dns-rtt asks 127.0.0.11 one query at a time for
#   web        (the service's VIP, answered on h1 from the network item)
#   tasks.web  (every Ready task's address; the answer must hold h2's)
# and checks every answer (id, NOERROR, the expected address). One JSON
# line per name:
#   {"test":"overlay-dns","name":"web","queries":N,"median_us":...,
#    "p90_us":...,"p99_us":...}
# and {"test":"build","type":"release"|"debug"} first. A precondition that
# fails prints {"test":"overlay-dns","error":"..."} and exits 1.
# Usage: dns-lab [SHOAL_BIN_DIR [QUERIES]]   (default build/release, 2000)
set -euo pipefail
src=${SHOAL_SOURCE_DIR:-@CMAKE_SOURCE_DIR@}
[ -x "$src/scripts/lab" ] || src=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
export SHOAL_BIN_DIR=${1:-${SHOAL_BIN_DIR:-$src/build/release}}
queries=${2:-2000}
rtt=$SHOAL_BIN_DIR/bench/overlay-bench/dns-rtt
[ -x "$SHOAL_BIN_DIR/daemon/shoald" ] && [ -x "$rtt" ] ||
	{ echo "dns-lab: no shoald or dns-rtt in $SHOAL_BIN_DIR (build it)" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "dns-lab: needs root (the lab)" >&2; exit 2; }
SHOAL_LAB_DIR=$(mktemp -d /run/shoal-dnsbench.XXXXXX)
export SHOAL_LAB_DIR SHOAL_LAB_NAME=shoal-dnsbench
lab() { "$src/scripts/lab" "$@"; }
trap 'lab down >/dev/null 2>&1 || true' EXIT
failed() {
	echo "{\"test\":\"overlay-dns\",\"error\":\"$1\"}"
	exit 1
}

case "$SHOAL_BIN_DIR" in
*release*) echo '{"test":"build","type":"release"}' ;;
*) echo '{"test":"build","type":"debug"}' ;;
esac
lab up 2 >/dev/null
m="$(lab addr h1):2377"
lab exec h1 shoal swarm init --listen-addr "$m" >/dev/null
tok=$(lab exec h1 shoal swarm join-token -q worker)
lab exec h2 shoal swarm join --token "$tok" "$m" >/dev/null
"$src/scripts/mkimage-busybox" "$SHOAL_LAB_DIR/busybox.tar" >/dev/null
for h in h1 h2; do
	lab exec "$h" shoal import "$SHOAL_LAB_DIR/busybox.tar" busybox:latest >/dev/null
done
lab exec h1 shoal network create -d overlay app >/dev/null
lab exec h1 shoal service create -d --name web --replicas 2 \
	--replicas-max-per-node 1 --network app busybox sleep 100000 >/dev/null

# web's task on each host, running.
ctr_on() {
	lab exec "$1" docker ps -q --filter label=com.docker.swarm.service.name=web 2>/dev/null | head -1
}
for _ in $(seq 1 200); do
	c1=$(ctr_on h1)
	c2=$(ctr_on h2)
	[ -n "$c1" ] && [ -n "$c2" ] && break
	sleep 0.1
done
[ -n "$c1" ] && [ -n "$c2" ] || failed "web's tasks are not running on h1 and h2 after 20 s"
vip=$(lab exec h1 docker service inspect -f '{{(index .Endpoint.VirtualIPs 0).Addr}}' web)
vip=${vip%/*}
a2=$(lab exec h2 docker inspect -f '{{(index .NetworkSettings.Networks "app").IPAddress}}' "$c2")
pid=$(lab exec h1 docker inspect -f '{{.State.Pid}}' "$c1")
[ -n "$vip" ] && [ -n "$a2" ] && [ "${pid:-0}" -gt 0 ] ||
	failed "no VIP ($vip), h2 task address ($a2) or h1 task pid ($pid)"
# The names reach h1 with the network item: wait until both answer.
for _ in $(seq 1 100); do
	lab exec h1 nsenter -t "$pid" -n "$rtt" tasks.web "$a2" 1 >/dev/null 2>&1 &&
		lab exec h1 nsenter -t "$pid" -n "$rtt" web "$vip" 1 >/dev/null 2>&1 &&
		break
	sleep 0.1
done
lab exec h1 nsenter -t "$pid" -n "$rtt" web "$vip" "$queries" ||
	failed "web did not answer its VIP $vip"
lab exec h1 nsenter -t "$pid" -n "$rtt" tasks.web "$a2" "$queries" ||
	failed "tasks.web did not answer h2's task $a2"
