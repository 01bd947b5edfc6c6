#!/usr/bin/env bash
# Single-host networking through the real docker CLI, shoald in a network
# namespace of the test's own: the default bridge (addresses, reach by
# address only), user networks and their isolation, --internal, published
# TCP and UDP ports from another host, from the host itself and from a
# container, outbound masquerade, host/none/container: modes, connect and
# disconnect on a running container, Docker's refusals, and nothing left
# behind after rm -f.
SHOALD=$1 SHOAL=$2 SRC=$3
D=/usr/local/bin/docker
[ -x "$D" ] || { echo "SKIP: no docker CLI at $D"; exit 77; }
. "$(dirname "$0")/lib.sh"
D=$(timed_wrapper docker "$D")
make_image
daemon_start
outside_up
"$D" import "$work/busybox.tar" busybox:latest >/dev/null

not() { ! "$@"; }
ins() { "$D" inspect -f "$1" "$2" 2>/dev/null; }
ex() { "$D" exec "$@" 2>&1; }
# get CTR IP PORT: /www over HTTP from inside CTR (busybox nc; its wget
# crashes in this image).
get() { "$D" exec "$1" sh -c "printf 'GET /www HTTP/1.0\r\n\r\n' | nc -w 3 $2 $3" 2>&1; }
run() { local id; id=$("$D" run -d "$@") || return 1; track "$id"; echo "$id"; }
# err_has "sentence" "substring" command...: fails with a message holding
# the substring.
err_has() {
	local what=$1 want=$2 out; shift 2
	if out=$("$@" 2>&1); then fail "$what (succeeded: $out)"; return; fi
	if grep -qF -- "$want" <<<"$out"; then ok "$what"; else fail "$what (got: $out)"; fi
}

# --- the default bridge -------------------------------------------------
run --name ctra busybox sleep 1000 >/dev/null
run --name ctrb busybox sleep 1000 >/dev/null
ipa=$(ins '{{.NetworkSettings.IPAddress}}' ctra)
ipb=$(ins '{{.NetworkSettings.IPAddress}}' ctrb)
check "the first container gets 172.17.0.2 on the default bridge" [ "$ipa" = 172.17.0.2 ]
check "the second one the next address" [ "$ipb" = 172.17.0.3 ]
check "inspect shows the gateway" [ "$(ins '{{.NetworkSettings.Gateway}}' ctra)" = 172.17.0.1 ]
check "inspect shows Docker's MAC for the address" [ "$(ins '{{.NetworkSettings.MacAddress}}' ctra)" = 02:42:ac:11:00:02 ]
check "the host end of the veth is on shoal0" grep -q "master shoal0" <<<"$(inhost ip -o link show | grep "^[0-9]*: vs")"
check "eth0 inside holds the address" grep -q "inet 172.17.0.2/16" <<<"$(ex ctra ip addr show eth0)"
check "the default route goes through the bridge" grep -q "default via 172.17.0.1" <<<"$(ex ctra ip route)"
check "/etc/hosts names the container's own address" grep -q "^172.17.0.2" <<<"$(ex ctra cat /etc/hosts)"
check "containers on the default bridge reach each other by address" "$D" exec ctrb ping -c1 -W2 "$ipa"
check "the default bridge has no name resolution" not "$D" exec ctrb ping -c1 -W1 a
stats=$(curl -s -m 10 --unix-socket "$sock" "http://x/v1.45/containers/ctra/stats?stream=0&one-shot=1")
eth0_rx() { python3 -c 'import json,sys; n=json.load(sys.stdin)["networks"]; print(n["eth0"]["rx_packets"] if "lo" not in n else -1)' <<<"$stats"; }
check "stats report eth0's real counters (and not lo)" [ "$(eth0_rx)" -ge 1 ]
check "docker stats shows traffic on it" not grep -qx "0B / 0B" <<<"$("$D" stats --no-stream --format '{{.NetIO}}' ctra)"

# --- outbound ------------------------------------------------------------
inout python3 "$(dirname "$0")/udp.py" tcp-once 7000 >"$work/seen" 2>&1 &
seen_pid=$!
sleep 0.5
ex ctra sh -c 'echo hello | nc -w 2 10.99.0.2 7000' >/dev/null
wait "$seen_pid"
check "a container reaches the outside, masqueraded to the host's address" grep -q "^10.99.0.1 hello" "$work/seen"

# --- user networks ----------------------------------------------------------
"$D" network create n1 >/dev/null
check "network ls lists n1 with the bridge driver" grep -q "n1 *bridge *local" <<<"$("$D" network ls)"
check "n1 gets the next pool subnet" [ "$(ins '{{(index .IPAM.Config 0).Subnet}}' n1 2>/dev/null || "$D" network inspect -f '{{(index .IPAM.Config 0).Subnet}}' n1)" = 172.18.0.0/16 ]
run --name ctrc --network n1 --network-alias cee busybox sleep 1000 >/dev/null
run --name ctrd --network n1 --ip 172.18.0.50 busybox sleep 1000 >/dev/null
ipc=$(ins '{{.NetworkSettings.Networks.n1.IPAddress}}' ctrc)
check "a container on n1 gets an address of n1" [ "$ipc" = 172.18.0.2 ]
check "--ip is applied" [ "$(ins '{{.NetworkSettings.Networks.n1.IPAddress}}' ctrd)" = 172.18.0.50 ]
check "--network-alias is recorded" grep -q cee <<<"$(ins '{{.NetworkSettings.Networks.n1.Aliases}}' ctrc)"
check "containers on n1 reach each other" "$D" exec ctrd ping -c1 -W2 "$ipc"
check "the default bridge cannot reach n1" not "$D" exec ctra ping -c1 -W1 "$ipc"
check "n1 cannot reach the default bridge" not "$D" exec ctrc ping -c1 -W1 "$ipa"
# --- names on user networks (the resolver at 127.0.0.11) -----------------------
check "a user network's container uses the resolver" grep -q "^nameserver 127.0.0.11" <<<"$(ex ctrc cat /etc/resolv.conf)"
check "the default bridge's container does not" not grep -q "127.0.0.11" <<<"$(ex ctra cat /etc/resolv.conf)"
check "containers on n1 reach each other by name" "$D" exec ctrd ping -c1 -W2 ctrc
check "... by network alias" grep -q "$ipc" <<<"$(ex ctrd nslookup cee)"
check "... by short id" grep -q "$ipc" <<<"$(ex ctrd nslookup "$(ins '{{.Id}}' ctrc | cut -c1-12)")"
check "... as name.network" grep -q "$ipc" <<<"$(ex ctrd nslookup ctrc.n1)"
check "a container of another network is not found by name" not "$D" exec ctrd ping -c1 -W1 ctra
check "the address answers PTR with name.network" grep -q "ctrc.n1" <<<"$(ex ctrd nslookup "$ipc")"
check "network inspect lists the containers" grep -q '"ctrc"' <<<"$("$D" network inspect -f '{{json .Containers}}' n1)"
# --dns on a user network: 127.0.0.11 stays in resolv.conf and forwards
# what it does not know to the container's servers (a fake one outside,
# which alone knows own.example.com), not to the daemon's.
ip netns exec "$outside" python3 "$(dirname "$0")/dns_upstream.py" 10.99.0.2 own.example.com=192.0.2.99 >"$work/dns-up" 2>&1 &
dns_up_pid=$!
for _ in $(seq 50); do grep -qs ready "$work/dns-up" && break; sleep 0.1; done
out=$("$D" run --rm --network n1 --dns 10.99.0.2 --dns-search example.org busybox sh -c 'cat /etc/resolv.conf; nslookup own.example.com; nslookup ctrc.example.org' 2>&1)
check "--dns on a user network keeps 127.0.0.11 in resolv.conf" grep -qx "nameserver 127.0.0.11" <<<"$out"
check "... and no other nameserver" [ "$(grep -c '^nameserver' <<<"$out")" = 1 ]
check "... the resolver forwards to the container's --dns server" grep -q "192.0.2.99" <<<"$out"
check "--dns-search reaches the resolver (ctrc.example.org is ctrc)" grep -q "$ipc" <<<"$out"
check "a container without --dns does not reach that server" not grep -q "192.0.2.99" <<<"$(ex ctrd nslookup own.example.com)"
err_has "more than 3 --dns servers on a user network are refused" "at most 3" "$D" run --rm --network n1 --dns 10.0.0.1 --dns 10.0.0.2 --dns 10.0.0.3 --dns 10.0.0.4 busybox true
kill "$dns_up_pid"; wait "$dns_up_pid" 2>/dev/null; dns_up_pid=

# --- internal -------------------------------------------------------------
"$D" network create --internal in1 >/dev/null
run --name ctre --network in1 busybox sleep 1000 >/dev/null
check "an internal network has no default route" not grep -q default <<<"$(ex ctre ip route)"
check "an internal network does not reach the outside" not "$D" exec ctre sh -c 'echo x | nc -w 1 10.99.0.2 7001'

# --- connect and disconnect -------------------------------------------------
"$D" network connect --alias bee n1 ctrb
check "connect gives a running container eth1 on n1" grep -q "inet 172.18" <<<"$(ex ctrb ip addr show eth1)"
check "after connect it reaches n1" "$D" exec ctrb ping -c1 -W2 "$ipc"
check "after connect it finds n1's containers by name" grep -q "$ipc" <<<"$(ex ctrb nslookup ctrc 127.0.0.11)"
check "n1's containers find it by its connect alias" grep -q "172.18" <<<"$(ex ctrc nslookup bee)"
"$D" network disconnect n1 ctrb
check "disconnect removes eth1" not "$D" exec ctrb ip addr show eth1
check "after disconnect it no longer reaches n1" not "$D" exec ctrb ping -c1 -W1 "$ipc"

# --- published ports ---------------------------------------------------------
run --name web -p 8080:80 -p 5353:53/udp busybox sh -c \
	'echo hi-from-web >/www; httpd -f -p 80 -h /' >/dev/null
# The UDP server runs in the container's namespace (busybox has no UDP
# server): the same network path.
nsenter --net="$(ins '{{.NetworkSettings.SandboxKey}}' web)" \
	python3 "$(dirname "$0")/udp.py" serve 53 &
udp_pid=$!
sleep 0.5
check "docker port shows the binding" grep -q "0.0.0.0:8080" <<<"$("$D" port web 80/tcp)"
check "a published TCP port answers another host" grep -q hi-from-web <<<"$(inout curl -s -m 3 http://10.99.0.1:8080/www)"
check "a published TCP port answers the host itself on its address" grep -q hi-from-web <<<"$(inhost curl -s -m 3 http://10.99.0.1:8080/www)"
check "a published TCP port answers the host on localhost" grep -q hi-from-web <<<"$(inhost curl -s -m 3 http://127.0.0.1:8080/www)"
check "a published TCP port answers another container (hairpin)" grep -q hi-from-web <<<"$(get ctra 10.99.0.1 8080)"
check "a published TCP port answers a container through the gateway" grep -q hi-from-web <<<"$(get ctra 172.17.0.1 8080)"
check "a published TCP port answers the container itself" grep -q hi-from-web <<<"$(get web 10.99.0.1 8080)"
check "a published UDP port answers another host" grep -q udp-ok <<<"$(inout python3 "$(dirname "$0")/udp.py" ask 10.99.0.1 5353)"
check "a published UDP port answers the host on localhost" grep -q udp-ok <<<"$(inhost python3 "$(dirname "$0")/udp.py" ask 127.0.0.1 5353)"
kill "$udp_pid" 2>/dev/null; wait "$udp_pid" 2>/dev/null
err_has "a taken port is refused with Docker's words" "Bind for 0.0.0.0:8080 failed: port is already allocated" "$D" run -d -p 8080:80 busybox true
run --name eph -p 80 busybox sleep 1000 >/dev/null
hp=$("$D" port eph 80 | head -1 | sed 's/.*://')
check "-p CTR gets an ephemeral host port" [ "${hp:-0}" -ge 32768 ]

"$D" import --change 'EXPOSE 7000' "$work/busybox.tar" bbexp >/dev/null
run --name pall -P --expose 7001 bbexp sleep 1000 >/dev/null
check "-P publishes the image's EXPOSE ports" grep -q "^0.0.0.0:3" <<<"$("$D" port pall 7000)"
check "-P publishes --expose ports" grep -q "^0.0.0.0:3" <<<"$("$D" port pall 7001)"

# --- modes ------------------------------------------------------------------
check "--network none has only lo" [ "$("$D" run --rm --network none busybox sh -c 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "')" = lo ]
check "--network host shares the host's interfaces" grep -q "sn-in-$$" <<<"$("$D" run --rm --network host busybox cat /proc/net/dev)"
check "--network container: shares its address" grep -q "inet $ipa/" <<<"$("$D" run --rm --network container:ctra busybox ip addr show eth0)"

# --- legacy links ---------------------------------------------------------------
run --name ldb -e DB_USER=me --expose 5432 busybox sleep 1000 >/dev/null
ipdb=$(ins '{{.NetworkSettings.IPAddress}}' ldb)
out=$("$D" run --rm --link ldb:db busybox sh -c 'env; cat /etc/hosts')
check "--link names the linked container in /etc/hosts" grep -q "^$ipdb	db ldb " <<<"$out"
check "--link sets DB_NAME" grep -qx "DB_NAME=/[a-z_0-9]*/db" <<<"$out"
check "--link sets the port variables" grep -qx "DB_PORT_5432_TCP=tcp://$ipdb:5432" <<<"$out"
check "--link sets DB_PORT to the lowest port" grep -qx "DB_PORT=tcp://$ipdb:5432" <<<"$out"
check "--link passes the linked container's environment" grep -qx "DB_ENV_DB_USER=me" <<<"$out"
check "a linked container is reached by its alias" "$D" run --rm --link ldb:db busybox ping -c1 -W2 db
err_has "--link to a missing container is refused" "could not get container for nope" "$D" run -d --link nope:x busybox true
err_has "--link on a user network is refused (the CLI sends it as the endpoint's Links)" "EndpointsConfig.n1.Links is not supported yet" "$D" run -d --network n1 --link ldb:db busybox true
run --name lweb --link ldb:db --link ldb:db2 busybox sleep 1000 >/dev/null
check "inspect lists the links in Docker's form" grep -qx '\["/ldb:/lweb/db","/ldb:/lweb/db2"\]' <<<"$(ins '{{json .HostConfig.Links}}' lweb)"
check "the parent's /etc/hosts has the link" grep -q "	db ldb " <<<"$(ex lweb cat /etc/hosts)"
err_has "rm --link of a container's own name is Docker's conflict" "Conflict, cannot remove the default link name of the container" "$D" rm --link ldb
err_has "rm --link with an unknown parent is Docker's error" "Cannot get parent /nope for link name /nope/db" "$D" rm --link /nope/db
err_has "rm --link of an unknown alias is refused" "No such container: /lweb/zz" "$D" rm --link /lweb/zz
check "docker rm --link /PARENT/ALIAS succeeds" "$D" rm --link /lweb/db
check "... the link is gone from HostConfig.Links" not grep -q "db " <<<"$(ins '{{range .HostConfig.Links}}{{.}} {{end}}' lweb)"
check "... the other link stays" grep -qx '\["/ldb:/lweb/db2"\]' <<<"$(ins '{{json .HostConfig.Links}}' lweb)"
hosts=$(ex lweb cat /etc/hosts)
check "... its line left the parent's /etc/hosts" not grep -q "	db ldb " <<<"$hosts"
check "... the other link's line stays" grep -q "	db2 ldb " <<<"$hosts"
check "... and no container was removed" "$D" inspect ldb lweb
err_has "rm --link of a removed link is refused" "No such container: /lweb/db" "$D" rm --link lweb/db
"$D" rm -f lweb ldb >/dev/null

# --- per-container settings -------------------------------------------------------
out=$("$D" run --rm --mac-address 02:00:00:00:00:aa --hostname hh --add-host foo:10.1.2.3 busybox sh -c 'cat /sys/class/net/eth0/address; cat /etc/hosts')
check "--mac-address is eth0's address" grep -qx "02:00:00:00:00:aa" <<<"$out"
check "--hostname is in /etc/hosts with the container's address" grep -q "^172\.17\.[0-9.]*	hh$" <<<"$out"
check "--add-host is in /etc/hosts" grep -q "^10.1.2.3	foo" <<<"$out"
"$D" network connect --ip 172.18.0.77 n1 ctra
check "connect --ip is applied" grep -q "inet 172.18.0.77/" <<<"$(ex ctra ip addr show eth1)"
"$D" network disconnect n1 ctra

# --- resolv.conf ----------------------------------------------------------------
out=$("$D" run --rm --dns-search example.org --dns-option ndots:2 busybox cat /etc/resolv.conf)
check "--dns-search writes the search line" grep -qx "search example.org" <<<"$out"
check "--dns-option writes the options line" grep -qx "options ndots:2" <<<"$out"
st=$(curl -s -o "$work/body" -w '%{http_code}' --unix-socket "$sock" -H 'Content-Type: application/json' \
	-d '{"Image":"busybox","Cmd":["true"],"HostConfig":{"DnsSearch":["x\nnameserver 10.0.0.1"]}}' http://x/v1.44/containers/create)
check "a search domain that would add a line is refused" [ "$st" = 400 ]

# --- refusals -------------------------------------------------------------------
err_has "an overlapping subnet is refused" "Pool overlaps with other one on this address space" "$D" network create --subnet 172.18.5.0/24 ov
err_has "a malformed subnet is refused" "invalid CIDR address" "$D" network create --subnet 10.0.0.0/33 bad1
err_has "a taken name is refused" "network with name n1 already exists" "$D" network create n1
"$D" network create --subnet 10.50.0.0/30 tiny >/dev/null
run --network tiny busybox sleep 1000 >/dev/null
err_has "an exhausted subnet is refused" "no available IPv4 addresses" "$D" run -d --network tiny busybox true
err_has "a network in use is not removed" "has active endpoints" "$D" network rm n1
err_has "the default bridge is not removed" "pre-defined network" "$D" network rm bridge
st=$(curl -s -o "$work/body" -w '%{http_code}' --unix-socket "$sock" -H 'Content-Type: application/json' \
	-d '{"Image":"busybox","Cmd":["true"],"HostConfig":{"NetworkMode":"nope"}}' http://x/v1.44/containers/create)
check "an unknown network is refused with 404" [ "$st" = 404 ]
check "... and Docker's words" grep -q "network nope not found" "$work/body"
err_has "--ip on the default bridge is refused" "user specified IP address is supported on user defined networks only" "$D" run -d --ip 172.17.0.99 busybox true

# --- the shoal CLI ----------------------------------------------------------------
S=$(timed_wrapper shoal "$SHOAL")
"$S" network create --subnet 10.60.0.0/24 --label team=a sn1 >/dev/null
check "shoal network ls prints docker's table" grep -q "^NETWORK ID  *NAME  *DRIVER  *SCOPE" <<<"$("$S" network ls)"
check "shoal network ls --filter label= finds it" [ "$("$S" network ls -q --filter label=team=a | wc -l)" = 1 ]
id=$("$S" run -d --name sweb --network sn1 --network-alias sw --ip 10.60.0.9 -p 9090:80 busybox httpd -f -p 80 -h /); track "$id"
check "shoal run --ip applies" [ "$(ins '{{.NetworkSettings.Networks.sn1.IPAddress}}' sweb)" = 10.60.0.9 ]
check "shoal port prints the binding" [ "$("$S" port sweb 80)" = "0.0.0.0:9090" ]
check "shoal port without a port lists all" [ "$("$S" port sweb)" = "80/tcp -> 0.0.0.0:9090" ]
check "shoal run -p publishes" grep -q "^HTTP/1" <<<"$(inout curl -sI -m 3 http://10.99.0.1:9090/)"
err_has "shoal run -p refuses a bad spec" "invalid port format" "$S" run -d -p 80:x busybox true
err_has "shoal run --link to a user network's container is refused" "does not belong to the default network" "$S" run -d --link sweb:w busybox true
"$S" rm -f sweb >/dev/null
check "shoal network rm removes it" [ "$("$S" network rm sn1)" = sn1 ]

# --- nothing left --------------------------------------------------------------
for c in $("$D" ps -aq); do "$D" rm -f "$c" >/dev/null; done
"$D" network rm n1 in1 tiny >/dev/null
check "no namespace of a removed container stays mounted" [ "$(netns_left)" = 0 ]
links() { inhost ip -o link | awk -F': ' '{print $2}'; }
# The host ends are deleted off the daemon's loop: give them a moment.
no_veth() { for _ in $(seq 40); do grep -q "^vs" <<<"$(links)" || return 0; sleep 0.05; done; return 1; }
check "no veth stays on the host" no_veth
check "the user bridges are gone" not grep -q "^br-" <<<"$(links)"
check "the default bridge stays" grep -q "^shoal0" <<<"$(links)"
check "no published port stays in the ruleset" not grep -q "dnat ip to" <<<"$(inhost nft list table inet shoal)"
check "no other nftables table was made" [ "$(inhost nft list tables)" = "table inet shoal" ]
finish
