#!/usr/bin/env bash
# Connections to a VIP while its tasks change, three lab hosts, the real
# docker CLI (docs/overlay.md, "Health, stopping and rolling updates"):
#
# - a client task on h1 keeps making short connections to the VIP of
#   `web` (4 replicas on h2 and h3, a health check, --update-parallelism 1)
#   while `service update --env-add` replaces every task: no connection
#   fails, and at the end every new task (and no old one) answers;
# - a task of `sick` whose health check starts failing (its file removed
#   through docker exec) is failed at once and receives no new connection
#   within a second or two, while its container, which ignores SIGTERM
#   under a long --stop-grace-period, is still stopping; its own node
#   dropped it from its VIP maps before stopping it.
# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/cluster/service-lib.sh
. "$(dirname "$0")/../service-lib.sh"

svc_lab 3

note "web: 4 replicas on h2 and h3 behind its VIP, a client on h1"
assert_ok "docker network create -d overlay front" \
	lab exec h1 docker network create -d overlay front
# The page names the task (its hostname) and the version it runs.
serve='mkdir -p /w && echo "$(hostname) $V" > /w/index.html && exec httpd -f -p 80 -h /w'
assert_ok "web created" \
	lab exec h1 docker service create -d --name web --network front \
	--replicas 4 --constraint node.hostname!=h1 -e V=1 \
	--health-cmd 'wget -q -O /dev/null http://127.0.0.1/' \
	--health-interval 200ms --health-retries 2 \
	--update-parallelism 1 --update-delay 300ms --stop-grace-period 2s \
	busybox sh -c "$serve"
assert_ok "client created" \
	lab exec h1 docker service create -d --name client --network front \
	--constraint node.hostname==h1 busybox sleep 100000
assert_eventually "web runs 4 tasks" 60 svc_count web 4
assert_eventually "the client runs on h1" 60 svc_on h1 client 1
c=$(svc_containers h1 client | tr -d ' ')
in_client() { lab exec h1 docker exec "$c" "$@"; }
vip=$(lab exec h1 docker service inspect -f \
	'{{range .Endpoint.VirtualIPs}}{{.Addr}}{{end}}' web | cut -d/ -f1)
note "web's VIP: $vip"
get='printf "GET / HTTP/1.0\r\n\r\n" | nc -w 2 '"$vip"' 80 | tail -1'
pages() { # N: the pages of N connections, one a line (FAIL: none)
	in_client sh -c "for i in \$(seq 1 $1); do r=\$($get); echo \"\${r:-FAIL}\"; done"
}
all_four() { [ "$(pages 24 | grep -v FAIL | sort -u | wc -l)" -eq 4 ]; }
assert_eventually "the VIP reaches the 4 tasks" 20 all_four

note "rolling update under load"
log=$SHOAL_LAB_DIR/client.log
in_client sh -c "rm -f /tmp/stop; while [ ! -e /tmp/stop ]; do r=\$($get); echo \"\${r:-FAIL}\"; done" \
	>"$log" 2>&1 &
loader=$!
sleep 1
t0=$(date +%s)
assert_ok "service update --env-add V=2" \
	lab exec h1 docker service update -d --env-add V=2 web
updated() {
	[ "$(lab exec h1 docker service inspect -f '{{.UpdateStatus.State}}' web)" = completed ]
}
assert_eventually "the update completes" 60 updated
note "update took $(($(date +%s) - t0)) s"
sleep 1
in_client touch /tmp/stop
wait "$loader" || true
total=$(grep -c . "$log" || true)
fails=$(grep -c FAIL "$log" || true)
note "$total connections during the update, $fails failed; per page:"
note "$(sort "$log" | uniq -c | tr '\n' ';')"
assert_ok "connections were made during the update" [ "$total" -ge 50 ]
assert_eq "no connection to the VIP failed during the update" 0 "$fails"
end=$(pages 40)
assert_eq "at the end no old task answers" "" "$(echo "$end" | grep -v ' 2$' || true)"
assert_eq "at the end all 4 new tasks answer" 4 "$(echo "$end" | sort -u | wc -l)"

note "a task turning unhealthy leaves the VIP while it still stops"
# The check reads /ok; SIGTERM is ignored, so a stop takes the whole
# grace period (60 s) and only SIGKILL ends it.
sick='touch /ok && mkdir -p /w && hostname > /w/index.html && trap "" TERM && exec httpd -f -p 80 -h /w'
assert_ok "sick created: 2 replicas on h2 and h3" \
	lab exec h1 docker service create -d --name sick --network front \
	--replicas 2 --constraint node.hostname!=h1 \
	--health-cmd 'test -e /ok' --health-interval 200ms --health-retries 1 \
	--stop-grace-period 60s busybox sh -c "$sick"
assert_eventually "sick runs 2 tasks" 60 svc_count sick 2
svip=$(lab exec h1 docker service inspect -f \
	'{{range .Endpoint.VirtualIPs}}{{.Addr}}{{end}}' sick | cut -d/ -f1)
sget='printf "GET / HTTP/1.0\r\n\r\n" | nc -w 2 '"$svip"' 80 | tail -1'
spages() {
	in_client sh -c "for i in \$(seq 1 $1); do r=\$($sget); echo \"\${r:-FAIL}\"; done"
}
both() { [ "$(spages 16 | grep -v FAIL | sort -u | wc -l)" -eq 2 ]; }
assert_eventually "sick's VIP reaches both tasks" 20 both
victim=$(svc_containers h2 sick | tr -d ' ')
vhost=$(lab exec h2 docker exec "$victim" hostname)
note "making $vhost (on h2) unhealthy"
assert_ok "its check's file removed" lab exec h2 docker exec "$victim" rm /ok
reported() { lab exec h1 docker service ps sick | grep -q 'unhealthy container'; }
assert_eventually "it is reported failed (\"unhealthy container\")" 10 reported
t_rep=$(date +%s%N)
sleep 1.5
after=$(spages 20)
note "20 connections 1.5 s after the report: $(echo "$after" | sort | uniq -c | tr '\n' ';')"
assert_eq "none reaches the unhealthy task" "" "$(echo "$after" | grep -x "$vhost" || true)"
assert_eq "none fails" "" "$(echo "$after" | grep FAIL || true)"
tid=$(lab exec h2 docker inspect -f '{{index .Config.Labels "com.docker.swarm.task.id"}}' "$victim")
# Its own node dropped it from its maps before stopping it, without
# waiting for the managers (wnet_task_leave()).
left_here() { grep -q "task=$tid leaves the VIPs of network=front" "$(lab log h2)"; }
assert_ok "h2 dropped it from its own VIP maps before the stop" left_here
running=$(lab exec h2 docker inspect -f '{{.State.Running}}' "$victim" 2>&1)
assert_eq "its container is still stopping (SIGTERM ignored)" true "$running"
note "checked $(( ($(date +%s%N) - t_rep) / 1000000 )) ms after the report"
lab_end
