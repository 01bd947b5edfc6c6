#!/usr/bin/env bash
# A three-service stack on three lab hosts (a web front with a published
# port, an API, a key-value store with a volume, a secret and a config)
# through `shoal stack deploy`: the stack's objects are named STACK_NAME
# and labelled, the services reach each other by name across hosts, the
# published port answers on every host, a redeploy with one image changed
# updates only that service, --prune removes a service the file dropped,
# stack ls/services/ps list it, stack rm leaves nothing; then the same
# file through `docker stack deploy`, listed by both CLIs and removed.
# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/cluster/service-lib.sh
. "$(dirname "$0")/../service-lib.sh"

svc_lab 3
for h in h1 h2 h3; do
	lab exec "$h" shoal tag busybox:latest busybox:v2 >/dev/null
done
app="$SHOAL_LAB_DIR/app"
mkdir -p "$app"
echo "kv-secret-value" >"$app/kv_pass.txt"
echo "maxmemory 1mb" >"$app/kv.conf"
cat >"$app/stack.yml" <<'YML'
version: "3.8"
services:
  web:
    image: busybox:latest
    command: sh -c 'echo web-page >/tmp/index.html; httpd -f -p 80 -h /tmp'
    ports: ["8080:80"]
    networks: [front, back]
    deploy: {replicas: 2}
  api:
    image: ${API_IMAGE:-busybox:latest}
    command: sh -c 'while true; do echo api-answer | nc -l -p 8000; done'
    networks: [back]
  kv:
    image: busybox:latest
    command: sh -c 'mkdir -p /data && echo stored >/data/value && sleep 100000'
    networks:
      back: {aliases: [store]}
    volumes: ["kvdata:/data"]
    secrets: [kv_pass]
    configs: [{source: kv_conf, target: /etc/kv.conf}]
    deploy:
      placement: {constraints: [node.hostname == h3]}
networks:
  front:
  back:
volumes:
  kvdata:
secrets:
  kv_pass: {file: ./kv_pass.txt}
configs:
  kv_conf: {file: ./kv.conf}
YML

# deploy STACK [ENV...]: shoal stack deploy of the file, its output in
# $out.
deploy() {
	local st=$1 rc=0
	shift
	out=$(lab exec h1 env "$@" shoal stack deploy -c "$app/stack.yml" "$st" 2>&1) || rc=$?
	[ "$rc" -eq 0 ] || fail "shoal stack deploy $st" "$out"
}

note "deploy"
deploy st
assert_contains "the networks are created as STACK_NAME" "Creating network st_back" "$out"
assert_contains "the secret is created" "Creating secret st_kv_pass" "$out"
assert_contains "the config is created" "Creating config st_kv_conf" "$out"
assert_contains "the services are created" "Creating service st_web" "$out"
assert_eq "the stack's services carry the namespace label" 3 \
	"$(lab exec h1 shoal service ls -q --filter label=com.docker.stack.namespace=st | wc -l)"
assert_eventually "web runs 2 tasks" 40 svc_count st_web 2
assert_eventually "api runs" 40 svc_count st_api 1
assert_eventually "kv runs on h3" 40 svc_on h3 st_kv 1

note "by name across hosts"
kvc() { lab exec h3 shoal ps -q --filter label=com.docker.swarm.service.name=st_kv | head -1; }
webh=$(svc_running st_web | awk '{print $1}')
webc=$(lab exec "$webh" shoal ps -q --filter label=com.docker.swarm.service.name=st_web | head -1)
assert_contains "web reaches api by its service name" "api-answer" \
	"$(lab exec "$webh" shoal exec "$webc" nc api 8000 </dev/null 2>&1)"
assert_ok "web resolves kv's alias store" lab exec "$webh" shoal exec "$webc" nslookup store
assert_contains "the secret is in kv at /run/secrets/kv_pass" "kv-secret-value" \
	"$(lab exec h3 shoal exec "$(kvc)" cat /run/secrets/kv_pass)"
assert_contains "the config is at its target" "maxmemory" \
	"$(lab exec h3 shoal exec "$(kvc)" cat /etc/kv.conf)"
assert_contains "kv's volume is the stack's" "st_kvdata" \
	"$(lab exec h3 shoal volume ls)"
for h in h1 h2 h3; do
	page() { lab exec "$h" busybox wget -qO- "http://$(lab addr "$h"):8080/"; }
	assert_eventually "the published port answers on $h" 20 page
done

note "ls, services, ps"
assert_contains "stack ls lists it with 3 services" "st        3" "$(lab exec h1 shoal stack ls)"
assert_contains "stack services lists st_api" "st_api" "$(lab exec h1 shoal stack services st)"
assert_contains "stack ps lists web's tasks" "st_web.2" "$(lab exec h1 shoal stack ps st)"

note "redeploy with one image changed"
v_web=$(lab exec h1 docker service inspect -f '{{.Version.Index}}' st_web)
deploy st API_IMAGE=busybox:v2
assert_contains "only api is updated" "Updating service st_api" "$out"
assert_contains "web is left alone" "Service st_web is up to date" "$out"
assert_contains "kv is left alone" "Service st_kv is up to date" "$out"
assert_eq "web's version did not move" "$v_web" \
	"$(lab exec h1 docker service inspect -f '{{.Version.Index}}' st_web)"
assert_eventually "api runs busybox:v2" 40 sh -c \
	"'$LAB_SCRIPT' exec h1 shoal service ps st_api | grep -q 'busybox:v2 .* Running'"

note "--prune"
sed -i '/^  api:/,/networks: \[back\]/d' "$app/stack.yml"
out=$(lab exec h1 shoal stack deploy --prune -c "$app/stack.yml" st 2>&1)
assert_contains "--prune removes the service the file dropped" "Removing service st_api" "$out"

note "rm"
assert_ok "stack rm" lab exec h1 shoal stack rm st
left() {
	[ -z "$(lab exec h1 shoal service ls -q --filter label=com.docker.stack.namespace=st)" ] &&
		[ -z "$(lab exec h1 shoal network ls -q --filter label=com.docker.stack.namespace=st)" ] &&
		! lab exec h1 shoal secret ls 2>/dev/null | grep -q st_ &&
		! lab exec h1 shoal config ls 2>/dev/null | grep -q st_
}
assert_eventually "stack rm leaves no service, network, secret or config" 20 left
gone() { [ -z "$(lab exec h2 shoal ps -aq)" ] && [ -z "$(lab exec h3 shoal ps -aq)" ]; }
assert_eventually "the workers remove the task containers" 40 gone

note "the same file through docker stack deploy"
if command -v docker >/dev/null; then
	sed -i 's/^services:$/services:\n  api:\n    image: busybox:latest\n    command: sleep 100000\n    networks: [back]/' "$app/stack.yml"
	out=$(lab exec h1 docker stack deploy -c "$app/stack.yml" dk 2>&1) ||
		fail "docker stack deploy" "$out"
	assert_contains "docker stack deploy creates the services" "Creating service dk_web" "$out"
	assert_contains "shoal stack ls sees docker's stack" "dk        3" "$(lab exec h1 shoal stack ls)"
	assert_contains "docker stack services lists them" "dk_kv" "$(lab exec h1 docker stack services dk)"
	assert_eventually "docker's stack runs web" 40 svc_count dk_web 2
	assert_contains "docker stack ps lists the tasks" "dk_web.1" "$(lab exec h1 docker stack ps dk)"
	assert_ok "docker stack rm" lab exec h1 docker stack rm dk
	dk_left() { [ -z "$(lab exec h1 shoal service ls -q --filter label=com.docker.stack.namespace=dk)" ]; }
	assert_eventually "docker stack rm leaves no service" 20 dk_left
fi
