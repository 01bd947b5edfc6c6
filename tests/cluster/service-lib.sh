# shellcheck shell=bash
# Shared set-up of the service scenarios (tests/cluster/service-*): a lab of
# N hosts in one swarm (h1 the manager, the others workers, a short
# dispatcher heartbeat so Down is seen quickly), the busybox image of
# scripts/mkimage-busybox imported on every host (the tests load the image
# on each host: there is no registry), and helpers over `service ps`.
# Sourced after ../lib.sh.

# svc_lab N [HEARTBEAT]: the lab, the swarm (dispatcher heartbeat 300ms
# unless given), the image.
svc_lab() {
	local n=$1 hb=${2:-300ms} i tok
	has_shoald || skip "needs shoald in $SHOAL_BIN_DIR"
	lab_begin "$n"
	m="$(lab addr h1):2377"
	lab exec h1 shoal swarm init --listen-addr "$m" \
		--dispatcher-heartbeat "$hb" >/dev/null
	tok=$(lab exec h1 shoal swarm join-token -q worker)
	for i in $(seq 2 "$n"); do
		lab exec "h$i" shoal swarm join --token "$tok" "$m" >/dev/null
	done
	svc_image="$SHOAL_LAB_DIR/busybox.tar"
	"$SHOAL_SOURCE_DIR/scripts/mkimage-busybox" "$svc_image" >/dev/null
	for i in $(seq 1 "$n"); do
		lab exec "h$i" shoal import "$svc_image" busybox:latest >/dev/null
	done
	svc_ready_nodes() { [ "$(lab exec h1 shoal node ls | grep -c ' Ready ')" -eq "$n" ]; }
	wait_for 20 svc_ready_nodes || fail "the swarm has $n Ready nodes"
}

# svc_running SERVICE: "HOST HOST ..." of its tasks desired and running.
svc_running() {
	lab exec h1 shoal service ps -f desired-state=running "$1" |
		awk 'NR > 1 && $6 == "Running" {print $4}' | sort | tr '\n' ' '
}

# svc_count SERVICE N: N of its tasks run.
svc_count() {
	[ "$(svc_running "$1" | wc -w)" -eq "$2" ]
}

# svc_on HOST SERVICE N: N of its tasks run on HOST.
svc_on() {
	[ "$(svc_running "$2" | tr ' ' '\n' | grep -cx "$1")" -eq "$3" ]
}

# svc_containers HOST SERVICE: the ids of HOST's running containers of it.
svc_containers() {
	lab exec "$1" shoal ps -q --no-trunc \
		--filter "label=com.docker.swarm.service.name=$2" | sort | tr '\n' ' '
}
