#!/usr/bin/env bash
# Secrets and configs on three lab hosts (docs/secrets.md): a service with
# a secret and a config placed on h2 through the docker CLI; in its task
# the files carry their data, owner and mode, /run/secrets is a tmpfs, and
# h2 keeps the data on a tmpfs of the task's own; h1 and h3, which run no
# such task, have no file; `shoal secret rotate` rolls the task, which then
# sees the new data; removing the service unmounts h2's copy; a config of
# almost 1000 KiB created on a follower manager reaches the leader whole.
# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/cluster/service-lib.sh
. "$(dirname "$0")/../service-lib.sh"

svc_lab 3
sroot=/var/lib/shoal/worker/secrets

note "create the secret and the config, then the service on h2"
printf 'p4ss' >"$SHOAL_LAB_DIR/pw"
lab exec h1 docker secret create db "$SHOAL_LAB_DIR/pw" >/dev/null
printf 'port=80\n' | lab exec h1 shoal config create app_conf - >/dev/null
assert_eq "the secret is listed on the manager" db \
	"$(lab exec h1 docker secret ls --format '{{.Name}}')"
lab exec h1 docker service create --detach --name app \
	--constraint node.hostname==h2 \
	--secret source=db,target=pw,uid=100,mode=0400 \
	--config source=app_conf,target=/etc/app.conf \
	busybox sleep 1000 >/dev/null
assert_eventually "the task runs on h2" 20 svc_on h2 app 1
c=$(svc_containers h2 app | awk '{print $1}')
assert_eq "the secret's data is in the task" p4ss \
	"$(lab exec h2 docker exec "$c" cat /run/secrets/pw)"
assert_eq "with the reference's owner and mode" "400 100" \
	"$(lab exec h2 docker exec "$c" stat -c '%a %u' /run/secrets/pw)"
assert_eq "the config is at its target, mode 0444" "444 port=80" \
	"$(lab exec h2 docker exec "$c" sh -c 'stat -c %a /etc/app.conf; cat /etc/app.conf' | tr '\n' ' ' | sed 's/ $//')"
assert_ok "/run/secrets in the task is a tmpfs" \
	bash -c "'$LAB_SCRIPT' exec h2 docker exec '$c' cat /proc/mounts | grep -q '^tmpfs /run/secrets '"
assert_ok "h2 holds the data on a tmpfs of the task's own" \
	bash -c "'$LAB_SCRIPT' exec h2 cat /proc/self/mountinfo | grep -q ' $sroot/[a-z0-9]* .* - tmpfs '"
for h in h1 h3; do
	assert_ok "$h runs no such task and has no secret file" \
		bash -c "[ -z \"\$('$LAB_SCRIPT' exec $h sh -c 'ls -A $sroot 2>/dev/null')\" ] && ! '$LAB_SCRIPT' exec $h grep -q '$sroot/' /proc/self/mountinfo"
done

note "rotate"
printf 'n3w' | lab exec h1 shoal secret rotate db - >/dev/null
other() { c2=$(svc_containers h2 app | awk '{print $1}'); [ -n "$c2" ] && [ "$c2" != "$c" ]; }
assert_eventually "the rotation rolls the task" 30 other
c2=$(svc_containers h2 app | awk '{print $1}')
assert_eq "the new task sees the new data" n3w \
	"$(lab exec h2 docker exec "$c2" cat /run/secrets/pw)"
assert_contains "the secret in use cannot be removed" \
	"secret 'db' is in use by the following service: app" \
	"$(lab exec h1 docker secret rm db 2>&1)"

note "remove"
lab exec h1 docker service rm app >/dev/null
unmounted() { ! lab exec h2 grep -q "$sroot/" /proc/self/mountinfo; }
assert_eventually "h2 unmounts the task's secrets once its tasks are gone" 30 unmounted
assert_ok "then the secret and the config go" \
	bash -c "'$LAB_SCRIPT' exec h1 docker secret rm db >/dev/null && '$LAB_SCRIPT' exec h1 docker config rm app_conf >/dev/null"
note "through a follower"
lab exec h1 shoal node promote h3 >/dev/null
# A read that goes through the leader (read index): h3 follows it.
mgr3() { lab exec h3 docker config ls >/dev/null 2>&1; }
assert_eventually "h3 is a manager that reaches the leader" 20 mgr3
head -c 1023000 /dev/urandom >"$SHOAL_LAB_DIR/big"
# A new manager answers "no leader is elected yet" until it hears the
# leader's first heartbeat: the create is retried until then.
create_big() {
	out=$(lab exec h3 docker config create big "$SHOAL_LAB_DIR/big" 2>&1)
	grep -Eq '^[a-z0-9]{25}$' <<<"$out" ||
		{ echo "$out"; grep -q "no leader is elected yet" <<<"$out" && return 1; return 2; }
}
assert_eventually "a config of almost 1000 KiB created on a follower is forwarded" 20 create_big
same() {
	lab exec h1 curl -s --unix-socket /run/shoal/shoald.sock http://x/v1.45/configs/big |
		python3 -c 'import json,sys,base64; d=base64.b64decode(json.load(sys.stdin)["Spec"]["Data"]); sys.exit(d != open(sys.argv[1],"rb").read())' "$SHOAL_LAB_DIR/big"
}
assert_eventually "and the leader holds it whole" 10 same
assert_contains "a name clash on a follower is Docker's 409 words" \
	"config big already exists" "$(lab exec h3 docker config create big "$SHOAL_LAB_DIR/big" 2>&1)"
assert_ok "rm on the follower" lab exec h3 docker config rm big
lab_summary
