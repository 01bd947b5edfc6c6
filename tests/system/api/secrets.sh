#!/usr/bin/env bash
# Secrets and configs (issue 15) through the real docker CLI against one
# shoald in swarm mode: create from a file and from stdin with labels,
# ls with -q and filters, inspect (no Data for a secret, Data for a
# config, --pretty), Docker's errors (name clash 409, bad names, size
# limits, template drivers refused by name, unknown ids), labels-only
# update through the API, rotate (beyond Docker), rm; and the same through
# Shoal's own CLI.
SHOALD=$1 SHOAL=$2 SRC=$3
[ -x /usr/local/bin/docker ] || { echo "SKIP: /usr/local/bin/docker missing"; exit 77; }
command -v curl >/dev/null || { echo "SKIP: curl missing"; exit 77; }
. "$(dirname "$0")/lib.sh"
daemon_start
D=$(timed_wrapper docker /usr/local/bin/docker)
S=$(timed_wrapper shoal "$SHOAL")
api() { curl -s --unix-socket "$sock" -w '\n%{http_code}' "$@"; }

"$D" swarm init --advertise-addr 127.0.0.1 >/dev/null 2>&1 ||
	{ echo "cannot init the swarm"; dump_log; exit 1; }

# --- docker secret --------------------------------------------------------
printf 'hunter2' >"$work/pw"
id=$("$D" secret create -l env=dev -l team=a db_pass "$work/pw" 2>&1)
check "docker secret create FILE prints the new id" \
	bash -c "[[ '$id' =~ ^[a-z0-9]{25}$ ]]"
id2=$(printf 'tok' | "$D" secret create api_token - 2>&1)
check "docker secret create NAME - reads stdin" \
	bash -c "[[ '$id2' =~ ^[a-z0-9]{25}$ ]]"
check "the secret's data is nowhere in clear on the manager's disk (Raft log encrypted)" \
	bash -c "! grep -rqa -e hunter2 -e aHVudGVyMg '$work/data'"
out=$("$D" secret create db_pass "$work/pw" 2>&1)
check "a name taken is Docker's AlreadyExists" \
	grep -q "rpc error: code = AlreadyExists desc = secret db_pass already exists" <<<"$out"
out=$("$D" secret create -- -bad "$work/pw" 2>&1)
check "a bad name is refused with Docker's rule" \
	grep -q "invalid name, only 64 \[a-zA-Z0-9-_.\] characters allowed" <<<"$out"
head -c 512000 /dev/zero >"$work/big"
out=$("$D" secret create big "$work/big" 2>&1)
check "a secret of 500 KiB is refused (swarmkit's limit)" \
	grep -q "secret data must be larger than 0 and less than 512000 bytes" <<<"$out"
r=$(api -X POST -H 'Content-Type: application/json' -d '{"Name":"x","Data":"eA==","Templating":{"Name":"jinja"}}' "http://x/v1.45/secrets/create")
check "a template driver other than golang is refused by name" \
	grep -q 'jinja.* is not supported (Templating): use golang.*400$' <<<"$(tr -d '\n' <<<"$r")"
ls=$("$D" secret ls --format '{{.Name}}' | sort | tr '\n' ' ')
check "docker secret ls lists both" test "$ls" = "api_token db_pass "
check "docker secret ls -q prints ids" \
	bash -c "'$D' secret ls -q | grep -qx '$id'"
check "ls --filter label=env=dev" \
	test "$("$D" secret ls -f label=env=dev --format '{{.Name}}')" = db_pass
check "ls --filter name= is a prefix" \
	test "$("$D" secret ls -f name=api --format '{{.Name}}')" = api_token
check "ls --filter id= is a prefix" \
	test "$("$D" secret ls -f id="${id:0:6}" --format '{{.Name}}')" = db_pass
insp=$("$D" secret inspect db_pass)
check "inspect shows name and labels" \
	bash -c "grep -q '\"Name\": \"db_pass\"' <<<'$insp' && grep -q '\"team\": \"a\"' <<<'$insp'"
check "inspect never shows a secret's data" \
	bash -c "! grep -q Data <<<'$insp' && ! grep -q aHVudGVyMg <<<'$insp'"
check "inspect --pretty" \
	bash -c "'$D' secret inspect --pretty db_pass | grep -q '^Name:.*db_pass'"
out=$("$D" secret inspect nosuch 2>&1)
check "an unknown secret is 'not found'" grep -q "secret nosuch not found" <<<"$out"
ver=$("$D" secret inspect -f '{{.Version.Index}}' db_pass)
r=$(api -X POST -H 'Content-Type: application/json' \
	-d '{"Name":"db_pass","Labels":{"env":"prod"}}' \
	"http://x/v1.45/secrets/$id/update?version=$ver")
check "update with labels only answers 200" test "$(tail -n1 <<<"$r")" = 200
check "and the labels changed" \
	test "$("$D" secret inspect -f '{{index .Spec.Labels "env"}}' db_pass)" = prod
r=$(api -X POST -H 'Content-Type: application/json' \
	-d '{"Name":"db_pass","Data":"eA=="}' \
	"http://x/v1.45/secrets/$id/update?version=$("$D" secret inspect -f '{{.Version.Index}}' db_pass)")
check "update with data is refused (labels only, as Docker)" \
	bash -c "grep -q 'only updates to Labels are allowed' <<<'$r' && [ '$(tail -n1 <<<"$r")' = 400 ]"
# docker stack deploy sends the spec again with the data it holds: the
# same data is accepted (swarmkit compares it), the labels applied.
r=$(api -X POST -H 'Content-Type: application/json' \
	-d "{\"Name\":\"db_pass\",\"Labels\":{\"env\":\"again\"},\"Data\":\"$(base64 -w0 <"$work/pw")\"}" \
	"http://x/v1.45/secrets/$id/update?version=$("$D" secret inspect -f '{{.Version.Index}}' db_pass)")
check "update with the same data is accepted (a stack's redeploy)" \
	bash -c "[ '$(tail -n1 <<<"$r")' = 200 ] && [ \"\$('$D' secret inspect -f '{{index .Spec.Labels \"env\"}}' db_pass)\" = again ]"
r=$(api -X POST -H 'Content-Type: application/json' \
	-d '{"Name":"db_pass","Labels":{}}' \
	"http://x/v1.45/secrets/$id/update?version=1")
check "update at an old version is 'update out of sequence'" \
	grep -q "update out of sequence" <<<"$r"
r=$(api -X POST -H 'Content-Type: application/json' \
	-d '{"Name":"db_pass","Labels":{"env":1}}' \
	"http://x/v1.45/secrets/$id/update?version=$("$D" secret inspect -f '{{.Version.Index}}' db_pass)")
check "update with a label that is not a string is refused" \
	bash -c "grep -q 'label env must be a string' <<<'$r' && [ '$(tail -n1 <<<"$r")' = 400 ]"
r=$(api -X POST -H 'Content-Type: application/json' -d '{"Name":"x","Data":"eA==","Driver":{"Name":"vault"}}' "http://x/v1.45/secrets/create")
check "a secret driver is refused by name" \
	bash -c "grep -q 'secret drivers are not supported (Driver)' <<<'$r' && [ '$(tail -n1 <<<"$r")' = 400 ]"
r=$(api -X POST -H 'Content-Type: application/json' -d '{"Name":"x","Data":"eA==","Bogus":1}' "http://x/v1.45/secrets/create")
check "an unknown field is refused by name" grep -q "unknown field Bogus" <<<"$r"
r=$(api -X POST -H 'Content-Type: application/json' -d '{"Name":"x","Data":"not base64!"}' "http://x/v1.45/secrets/create")
check "bad base64 is refused" grep -q "Data is not valid base64" <<<"$r"
r=$(api -X POST -H 'Content-Type: application/json' -d '{"Data":"bmV3"}' "http://x/v1.45/secrets/db_pass/rotate")
check "POST /secrets/{id}/rotate answers 200 with the id" \
	bash -c "grep -q '\"ID\":\"$id\"' <<<'$r' && [ '$(tail -n1 <<<"$r")' = 200 ]"
check "docker secret rm by name" bash -c "'$D' secret rm db_pass | grep -qx db_pass"
check "and it is gone" bash -c "! '$D' secret inspect db_pass >/dev/null 2>&1"
out=$("$D" secret rm db_pass 2>&1)
check "rm of a missing secret is 'not found'" grep -q "not found" <<<"$out"

# --- docker config --------------------------------------------------------
printf 'listen 80;\n' >"$work/conf"
cid=$("$D" config create -l app=web nginx_conf "$work/conf" 2>&1)
check "docker config create" bash -c "[[ '$cid' =~ ^[a-z0-9]{25}$ ]]"
check "config inspect shows the data, base64 (as Docker)" \
	test "$("$D" config inspect -f '{{printf "%s" .Spec.Data}}' nginx_conf)" = "listen 80;"
check "config inspect --pretty shows the data" \
	bash -c "'$D' config inspect --pretty nginx_conf | grep -q 'listen 80;'"
head -c 1024000 /dev/zero >"$work/bigc"
out=$("$D" config create bigc "$work/bigc" 2>&1)
check "a config of 1000 KiB is refused (swarmkit's limit)" \
	grep -q "config data must be larger than 0 and less than 1024000 bytes" <<<"$out"
head -c 1023999 /dev/urandom >"$work/okc"
check "a config just under 1000 KiB is accepted" \
	bash -c "'$D' config create okc '$work/okc' >/dev/null"
check "and comes back whole" \
	bash -c "curl -s --unix-socket '$sock' http://x/v1.45/configs/okc | python3 -c 'import json,sys,base64; d=base64.b64decode(json.load(sys.stdin)[\"Spec\"][\"Data\"]); sys.exit(d != open(\"$work/okc\",\"rb\").read())'"
check "config ls" test "$("$D" config ls --format '{{.Name}}' | sort | tr '\n' ' ')" = "nginx_conf okc "
check "config rm" bash -c "'$D' config rm okc nginx_conf >/dev/null"
check "configs are gone" test -z "$("$D" config ls -q)"

# --- shoal's own CLI ------------------------------------------------------
sid=$(printf 's3cr3t' | "$S" secret create -l k=v cli_pass - 2>&1)
check "shoal secret create NAME -" bash -c "[[ '$sid' =~ ^[a-z0-9]{25}$ ]]"
check "shoal secret ls shows it" bash -c "'$S' secret ls | grep -q cli_pass"
check "shoal secret ls -q" test "$("$S" secret ls -q | sort | tr '\n' ' ')" = "$(printf '%s\n' "$id2" "$sid" | sort | tr '\n' ' ')"
check "shoal secret ls -f name=cli" test "$("$S" secret ls -q -f name=cli)" = "$sid"
check "shoal secret inspect" bash -c "'$S' secret inspect cli_pass | grep -q '\"k\": \"v\"'"
check "shoal secret inspect --pretty" bash -c "'$S' secret inspect --pretty cli_pass | grep -q '^Name:.*cli_pass'"
check "shoal secret inspect shows no data" bash -c "! '$S' secret inspect cli_pass | grep -q Data"
check "shoal secret rotate NAME -" bash -c "printf new | '$S' secret rotate cli_pass - | grep -qx '$sid'"
out=$("$S" secret create cli_pass "$work/pw" 2>&1)
check "shoal secret create of a taken name fails with Docker's words" \
	grep -q "secret cli_pass already exists" <<<"$out"
check "shoal secret rm" bash -c "'$S' secret rm cli_pass api_token >/dev/null"
check "shoal config create FILE" bash -c "'$S' config create c1 '$work/conf' >/dev/null"
check "shoal config inspect --pretty shows the data" bash -c "'$S' config inspect --pretty c1 | grep -q 'listen 80;'"
check "shoal config ls" bash -c "'$S' config ls | grep -q c1"
check "shoal config rm" bash -c "'$S' config rm c1 >/dev/null && [ -z \"\$('$S' config ls -q)\" ]"
check "the secret's data never reaches the daemon's log" \
	bash -c "! grep -q -e hunter2 -e s3cr3t -e aHVudGVyMg '$work/shoald.log'"

# --- services with secrets and configs ------------------------------------
make_image
"$D" import "$work/busybox.tar" busybox:latest >/dev/null ||
	{ echo "cannot import busybox"; exit 1; }
printf 'p4ss' | "$D" secret create db - >/dev/null
printf 'key=value\n' | "$D" config create app_conf - >/dev/null
out=$("$D" service create --detach --name bad --secret nosuch busybox sleep 1 2>&1)
check "a service naming an unknown secret is refused" \
	grep -q "secret not found: nosuch" <<<"$out"
out=$(curl -s --unix-socket "$sock" -X POST -H 'Content-Type: application/json' \
	-d '{"Name":"bad2","TaskTemplate":{"ContainerSpec":{"Image":"busybox","Secrets":[{"SecretName":"db","File":{"Name":"../x","UID":"0","GID":"0","Mode":292}}]}}}' \
	http://x/v1.45/services/create)
check "a secret target with '..' is refused" grep -q "invalid secret target" <<<"$out"
printf 'svc={{ .Service.Name }} env={{ env "FOO" }} pw={{ secret "pw" }} node={{.Node.Hostname}}' >"$work/tpl"
check "docker secret create --template-driver golang" \
	bash -c "'$D' secret create --template-driver golang tpl '$work/tpl' >/dev/null"
check "inspect shows the template driver" \
	test "$("$D" secret inspect -f '{{.Spec.Templating.Name}}' tpl)" = golang
"$D" service create --detach --name s1 -e FOO=bar \
	--secret source=tpl,target=rendered \
	--secret source=db,target=pw,uid=1000,gid=1001,mode=0400 \
	--config source=app_conf,target=/etc/app.conf \
	busybox sleep 1000 >/dev/null 2>"$work/s1.err" || cat "$work/s1.err"
# The task's container, once it runs.
task_ctr() {
	local c
	for _ in $(seq 150); do
		c=$("$D" ps -q --filter "label=com.docker.swarm.service.name=$1" 2>/dev/null | head -n1)
		[ -n "$c" ] && [ "$("$D" inspect -f '{{.State.Running}}' "$c" 2>/dev/null)" = true ] &&
			{ echo "$c"; return 0; }
		sleep 0.2
	done
	return 1
}
c=$(task_ctr s1)
check "the task with a secret and a config runs" test -n "$c"
[ -n "$c" ] && track "$("$D" inspect -f '{{.Id}}' "$c")"
check "the secret is at /run/secrets/TARGET with its data" \
	test "$("$D" exec "$c" cat /run/secrets/pw 2>&1)" = p4ss
check "a golang template secret is expanded for the task (service, env, another secret, node)" \
	test "$("$D" exec "$c" cat /run/secrets/rendered 2>&1)" = "svc=s1 env=bar pw=p4ss node=$(nsenter --net="$work/netns" hostname)"
check "owned by the reference's uid and gid, mode 0400" \
	test "$("$D" exec "$c" stat -c '%a %u %g' /run/secrets/pw 2>&1)" = "400 1000 1001"
check "the config is at its target path, mode 0444 by default" \
	test "$("$D" exec "$c" stat -c '%a' /etc/app.conf 2>&1)$("$D" exec "$c" cat /etc/app.conf 2>&1)" = "444key=value"
check "/run/secrets in the task is a tmpfs" \
	bash -c "'$D' exec '$c' cat /proc/mounts | grep -q '^tmpfs /run/secrets '"
check "/run/secrets is read-only in the task" \
	bash -c "! '$D' exec '$c' sh -c 'echo x > /run/secrets/new' 2>/dev/null"
check "on the node, the data lives on a tmpfs of the task's own" \
	bash -c "grep -q ' $work/data/worker/secrets/[a-z0-9]* [^ ]* [^-]*- tmpfs ' /proc/self/mountinfo"
out=$("$D" secret rm db 2>&1)
check "a secret in use cannot be removed (Docker's words)" \
	grep -q "secret 'db' is in use by the following service: s1" <<<"$out"
check "a config in use cannot be removed" \
	bash -c "'$D' config rm app_conf 2>&1 | grep -q \"config 'app_conf' is in use by the following service: s1\""
printf 'r0tated' | "$S" secret rotate db - >/dev/null
c2=""
for _ in $(seq 150); do
	c2=$(task_ctr s1)
	[ -n "$c2" ] && [ "$c2" != "$c" ] && break
	sleep 0.2
done
[ -n "$c2" ] && track "$("$D" inspect -f '{{.Id}}' "$c2")"
check "shoal secret rotate rolls the service's task" \
	bash -c "[ -n '$c2' ] && [ '$c2' != '$c' ]"
check "and the new task sees the new data" \
	test "$("$D" exec "$c2" cat /run/secrets/pw 2>&1)" = r0tated
check "and the template sees the new data too" \
	test "$("$D" exec "$c2" cat /run/secrets/rendered 2>&1)" = "svc=s1 env=bar pw=r0tated node=$(nsenter --net="$work/netns" hostname)"
daemon_stop
check "the node's tmpfs copies are unmounted when shoald stops" \
	bash -c "! grep -q '$work/data/worker/secrets/' /proc/self/mountinfo"
daemon_start
for _ in $(seq 100); do "$D" node ls 2>/dev/null | grep -q Ready && break; sleep 0.2; done
check "after a restart the task still reads its secret" \
	test "$("$D" exec "$c2" cat /run/secrets/pw 2>&1)" = r0tated
"$D" service scale --detach s1=2 >/dev/null 2>&1
c3=""
for _ in $(seq 150); do
	c3=$("$D" ps -q --filter label=com.docker.swarm.service.name=s1 | grep -v -e "^${c2:0:12}" -e "^${c:0:12}" | head -n1)
	[ -n "$c3" ] && [ "$("$D" inspect -f '{{.State.Running}}' "$c3" 2>/dev/null)" = true ] && break
	c3=""
	sleep 0.2
done
[ -n "$c3" ] && track "$("$D" inspect -f '{{.Id}}' "$c3")"
check "a task started after the restart gets its secret from the next assignment set" \
	test "$("$D" exec "$c3" cat /run/secrets/pw 2>&1)" = r0tated
check "docker service update --secret-rm drops the secret" \
	bash -c "'$D' service update --detach --secret-rm db --secret-rm tpl s1 >/dev/null 2>&1"
check "then the secret can be removed" bash -c "'$D' secret rm db >/dev/null"
printf 'abc' | "$S" secret create cli_s - >/dev/null
"$S" service create --detach --name s3 --secret source=cli_s,target=k,mode=0440 \
	--config source=app_conf,target=/etc/c3 busybox sleep 1000 >/dev/null 2>"$work/s3.err" || cat "$work/s3.err"
c4=$(task_ctr s3)
[ -n "$c4" ] && track "$("$D" inspect -f '{{.Id}}' "$c4")"
check "shoal service create --secret/--config: files in the task" \
	test "$("$D" exec "$c4" sh -c 'stat -c %a /run/secrets/k; cat /run/secrets/k; echo; cat /etc/c3' 2>&1 | tr '\n' ' ')" = "440 abc key=value "
check "shoal service update --secret-rm" bash -c "'$S' service update --detach --secret-rm cli_s s3 >/dev/null 2>&1"
check "the service spec no longer names it" \
	test "$("$D" service inspect -f '{{len .Spec.TaskTemplate.ContainerSpec.Secrets}}' s3)" = 0
"$D" service rm s3 >/dev/null
for _ in $(seq 50); do "$D" secret rm cli_s >/dev/null 2>&1 && break; sleep 0.2; done
printf '{{ if .Task.Name }}x{{ end }}' | "$D" secret create --template-driver golang badtpl - >/dev/null
"$D" service create --detach --name s2 --secret badtpl busybox sleep 1000 >/dev/null
rejected() { "$D" service ps --no-trunc --format '{{.Error}}' s2 2>/dev/null | grep -q "template: unknown field if .Task.Name"; }
for _ in $(seq 100); do rejected && break; sleep 0.2; done
check "a template beyond Docker's subset rejects the task, naming the action" rejected
"$D" service rm s2 >/dev/null
for _ in $(seq 50); do "$D" secret rm badtpl >/dev/null 2>&1 && break; sleep 0.2; done
"$D" secret rm tpl >/dev/null 2>&1
"$D" service rm s1 >/dev/null
for _ in $(seq 100); do
	grep -q "$work/data/worker/secrets/" /proc/self/mountinfo || break
	sleep 0.2
done
check "when its tasks are gone, the node unmounts their secrets" \
	bash -c "! grep -q '$work/data/worker/secrets/' /proc/self/mountinfo"
"$D" config rm app_conf >/dev/null
check "no secret data in the daemon's log, services included" \
	bash -c "! grep -q -e p4ss -e r0tated -e cDRzcw '$work/shoald.log'"

"$D" swarm leave --force >/dev/null 2>&1
finish
