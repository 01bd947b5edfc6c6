#!/usr/bin/env bash
# Single-host Compose against one shoald: Debian's docker-compose 1.29 (a
# client of the Engine API) runs up -d, ps, exec, logs, up --scale and
# down -v of a two-service file with a named volume, the services finding
# each other by name on the project network; then `shoal compose` runs
# the same file (containers PROJECT_SERVICE_N with Compose's labels that
# docker-compose lists as its own; restart and depends_on applied),
# leaves unchanged containers alone,
# recreates a changed one, scales to deploy.replicas, and down -v leaves
# nothing; a foreground up follows the logs until the containers end. A
# refusal names the key.
SHOALD=$1 SHOAL=$2 SRC=$3
DC=$(command -v docker-compose)
[ -n "$DC" ] || { echo "SKIP: docker-compose missing (scripts/setup installs it)"; exit 77; }
D=/usr/local/bin/docker
[ -x "$D" ] || { echo "SKIP: no docker CLI at $D"; exit 77; }
. "$(dirname "$0")/lib.sh"
DC=$(timed_wrapper docker-compose "$DC")
D=$(timed_wrapper docker "$D")
S=$(timed_wrapper shoal "$SHOAL")
make_image
daemon_start
"$S" import "$work/busybox.tar" busybox:latest >/dev/null

until_true() { # until_true SECONDS command...
	local end=$((SECONDS + $1)); shift
	while [ "$SECONDS" -le "$end" ]; do
		"$@" && return 0
		sleep 0.2
	done
	return 1
}
proj_ids() { "$D" ps -aq --filter "label=com.docker.compose.project=$1"; }
none_left() { # none_left PROJECT: no container, network or volume of it
	[ -z "$(proj_ids "$1")" ] &&
		! "$D" network ls --format '{{.Name}}' | grep -q "^$1_" &&
		! "$D" volume ls -q | grep -q "^$1_"
}

mkdir -p "$work/app"
cd "$work/app" || exit 1
cat >docker-compose.yml <<'YML'
version: "3.8"
services:
  client:
    image: busybox
    command: sh -c 'trap "exit 0" TERM; while true; do wget -qO- http://web/ 2>&1; sleep 0.3; done'
    stop_grace_period: 1s
    depends_on: [web]
  web:
    image: busybox
    command: httpd -f -p 80 -h /data
    volumes: ["data:/data"]
    ports: ["127.0.0.1:8089:80"]
    stop_grace_period: 1s
    restart: unless-stopped
volumes:
  data:
YML

# --- docker-compose 1.29 --------------------------------------------------

out=$("$DC" -p dc up -d 2>&1)
check "docker-compose up -d creates the project's network" \
	grep -q 'Creating network "dc_default"' <<<"$out"
check "docker-compose up -d creates the named volume" \
	grep -q 'Creating volume "dc_data"' <<<"$out"
check "docker-compose up -d creates both containers" \
	test "$(grep -c 'done' <<<"$out")" -ge 2
for c in $(proj_ids dc); do track "$c"; done
ps=$("$DC" -p dc ps)
check "docker-compose ps shows dc_web_1 up" grep -q 'dc_web_1 .* Up' <<<"$ps"
check "docker-compose ps shows dc_client_1 up" grep -q 'dc_client_1 .* Up' <<<"$ps"
check "docker-compose exec runs in the service's container" \
	"$DC" -p dc exec -T web sh -c 'echo from-the-volume >/data/index.html'
client_reads() { "$DC" -p dc logs --tail=3 client 2>&1 | grep -q from-the-volume; }
check "the client reaches web by its service name (logs)" until_true 15 client_reads
"$DC" -p dc up -d --scale client=2 >/dev/null 2>&1
for c in $(proj_ids dc); do track "$c"; done
check "up -d --scale client=2 runs a second client" \
	test "$("$D" ps -q --filter label=com.docker.compose.service=client | wc -l)" = 2
check "docker-compose down -v" "$DC" -p dc down -v -t 1
check "down -v leaves no container, network or volume" none_left dc

# --- shoal compose --------------------------------------------------------

out=$("$S" compose -p sc up -d 2>&1)
check "shoal compose up -d creates the network" \
	grep -q 'Creating network "sc_default"' <<<"$out"
check "shoal compose up -d creates sc_web_1 and sc_client_1" \
	grep -q 'Creating sc_client_1' <<<"$out"
for c in $(proj_ids sc); do track "$c"; done
check "depends_on: web is created before the client that needs it" \
	test "$(grep -n 'Creating sc_web_1' <<<"$out" | cut -d: -f1)" -lt \
	"$(grep -n 'Creating sc_client_1' <<<"$out" | cut -d: -f1)"
check "a port published on one address (IP:PUBLISHED:TARGET)" \
	grep -q '127.0.0.1:8089' <<<"$("$D" port sc_web_1)"
check "restart: becomes the container's restart policy" \
	test "$("$D" inspect -f '{{.HostConfig.RestartPolicy.Name}}' sc_web_1)" = unless-stopped
lbl=$("$D" inspect -f '{{index .Config.Labels "com.docker.compose.service"}} {{index .Config.Labels "com.docker.compose.container-number"}}' sc_web_1)
check "the container carries Compose's service and number labels" \
	test "$lbl" = "web 1"
"$S" exec sc_web_1 sh -c 'echo shoal-volume >/data/index.html'
shoal_reads() { "$S" compose -p sc logs client 2>&1 | grep -q 'sc_client_1 | shoal-volume'; }
check "shoal compose logs: the client reached web by name" until_true 15 shoal_reads
check "shoal compose ps lists both" \
	test "$("$S" compose -p sc ps | grep -c ' Up ')" = 2
check "docker-compose lists shoal compose's containers as its own" \
	grep -q 'sc_web_1' <<<"$("$DC" -p sc ps)"
out=$("$S" compose -p sc up -d 2>&1)
check "up -d again leaves unchanged containers running" \
	grep -q 'sc_web_1 is up-to-date' <<<"$out"
before=$("$D" inspect -f '{{.Id}}' sc_client_1)
sed -i 's/sleep 0.3/sleep 0.4/' docker-compose.yml
cat >>docker-compose.yml <<'YML'
x-note: a changed client
YML
sed -i 's/^  client:$/  client:\n    deploy: {replicas: 2}/' docker-compose.yml
out=$("$S" compose -p sc up -d 2>&1)
for c in $(proj_ids sc); do track "$c"; done
check "a changed service is recreated" \
	test "$("$D" inspect -f '{{.Id}}' sc_client_1)" != "$before"
check "web, unchanged, is left alone" grep -q 'sc_web_1 is up-to-date' <<<"$out"
exists() { "$D" inspect "$1" >/dev/null 2>&1; }
check "deploy.replicas: 2 makes sc_client_2" exists sc_client_2
check "shoal compose down -v" "$S" compose -p sc down -v
check "down -v leaves no container, network or volume" none_left sc

# --- refusals --------------------------------------------------------------

printf 'services:\n  a:\n    image: busybox\n    links: [b]\n' >bad.yml
err=$("$S" compose -f bad.yml up -d 2>&1)
check "an unsupported key is refused by its path" \
	grep -q 'services.a.links: unsupported key' <<<"$err"
printf 'services:\n  a: {image: busybox, depends_on: [b]}\n  b: {image: busybox, depends_on: [a]}\n' >cycle.yml
err=$("$S" compose -f cycle.yml -p sc up -d 2>&1)
check "a depends_on cycle is refused, naming the services" \
	grep -q 'Circular dependency between services: a b' <<<"$err"
check "nothing was made by the refusals" none_left sc

# --- foreground up ----------------------------------------------------------

printf 'services:\n  a:\n    image: busybox\n    command: echo hello-fg\n' >fg.yml
out=$("$S" compose -f fg.yml -p fg up 2>&1)
for c in $(proj_ids fg); do track "$c"; done
check "up without -d follows the logs, prefixed by container" \
	grep -q 'fg_a_1 | hello-fg' <<<"$out"
check "up without -d returns when the containers end" \
	grep -q 'fg_a_1 exited' <<<"$out"
"$S" compose -f fg.yml -p fg down >/dev/null
check "down after a foreground up leaves nothing" none_left fg

finish
