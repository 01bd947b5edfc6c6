#!/usr/bin/env bash
# Overlay networks are the swarm's (docs/overlay.md): three managers and a
# worker on four lab hosts, driven by the real docker CLI. A create on a
# follower is forwarded to the leader; every manager lists and inspects
# the network with its VNI and subnet; Docker's refusals (a name taken, an
# overlapping subnet, -o encrypted naming what the kernel lacks, a
# predefined name, a local network's name on that manager
# and the reverse); a worker answers Docker's 503; after kill -9 of the
# leader the networks are still there and a new one gets the next VNI
# and subnet (nothing given twice); rm on any manager removes it
# everywhere; prune on a follower removes the unused overlays.
# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/../lib.sh"

has_shoald || skip "needs shoald in $SHOAL_BIN_DIR"
lab_begin 4
m="$(lab addr h1):2377"

leader_host() { # HOST: the hostname HOST's node ls shows as Leader
	lab exec "$1" shoal node ls 2>/dev/null | awk '/ Leader /{for (i = 1; i <= NF; i++) if ($i ~ /^h[0-9]$/) print $i}'
}
has_leader_other_than() { # HOST OLD
	local l
	l=$(leader_host "$1")
	[ -n "$l" ] && [ "$l" != "$2" ]
}
fmt() { # HOST NET FORMAT
	lab exec "$1" docker network inspect -f "$3" "$2" 2>&1
}
vni='{{index .Options "com.docker.network.driver.overlay.vxlanid_list"}}'
subnet='{{(index .IPAM.Config 0).Subnet}}'
lists() { # HOST NAME
	lab exec "$1" docker network ls --filter driver=overlay \
		--format '{{.Name}} {{.Scope}}' 2>/dev/null | grep -qx "$2 swarm"
}

note "a swarm of three managers and a worker"
assert_ok "h1 initialises the swarm" lab exec h1 shoal swarm init --listen-addr "$m"
mt=$(lab exec h1 shoal swarm join-token -q manager)
wt=$(lab exec h1 shoal swarm join-token -q worker)
assert_ok "h2 joins as a manager" lab exec h2 shoal swarm join --token "$mt" "$m"
assert_ok "h3 joins as a manager" lab exec h3 shoal swarm join --token "$mt" "$m"
assert_ok "h4 joins as a worker" lab exec h4 shoal swarm join --token "$wt" "$m"

note "create on a follower, seen on every manager"
assert_ok "docker network create -d overlay on h2 (a follower)" \
	lab exec h2 docker network create -d overlay --label team=a \
	-o com.docker.network.driver.mtu=1400 front
for h in h1 h2 h3; do
	assert_eventually "$h lists front with scope swarm" 10 lists "$h" front
done
assert_eq "front has VNI 4096" 4096 "$(fmt h3 front "$vni")"
assert_eq "front has the pool's first /24" 10.0.0.0/24 "$(fmt h1 front "$subnet")"
assert_eq "front's gateway" 10.0.0.1 \
	"$(fmt h1 front '{{(index .IPAM.Config 0).Gateway}}')"
assert_eq "front's label and MTU" "a 1400" \
	"$(fmt h3 front '{{.Labels.team}} {{index .Options "com.docker.network.driver.mtu"}}')"
assert_ok "a given subnet and gateway on h3" \
	lab exec h3 docker network create -d overlay --scope swarm \
	--subnet 10.20.0.0/16 --gateway 10.20.0.254 back
assert_eq "back has VNI 4097" 4097 "$(fmt h1 back "$vni")"

note "refusals"
assert_contains "a name taken is 409" "network with name front already exists" \
	"$(lab exec h1 docker network create -d overlay front 2>&1 || true)"
assert_contains "an overlapping subnet is refused" \
	"Pool overlaps with other one on this address space" \
	"$(lab exec h2 docker network create -d overlay --subnet 10.20.5.0/24 x 2>&1 || true)"
assert_contains "-o encrypted names what the kernel lacks" "IPsec ESP" \
	"$(lab exec h1 docker network create -d overlay -o encrypted x 2>&1 || true)"
assert_contains "a worker answers Docker's 503" "not a swarm manager" \
	"$(lab exec h4 docker network create -d overlay x 2>&1 || true)"
# (h1's own predefined host network answers first: "already exists")
assert_fails "a predefined name is refused" \
	lab exec h1 docker network create -d overlay host
nohost() { ! lists "$1" host; }
assert_ok "no overlay named host" nohost h2
assert_fails "no network x was made" lab exec h1 docker network inspect x
assert_ok "a local bridge network on h1" lab exec h1 docker network create localnet
assert_contains "an overlay of a local network's name on that manager is 409" \
	"network with name localnet already exists" \
	"$(lab exec h1 docker network create -d overlay localnet 2>&1 || true)"
assert_contains "a local network of an overlay's name on a manager is 409" \
	"network with name front already exists" \
	"$(lab exec h3 docker network create front 2>&1 || true)"
assert_eq "front is still the overlay" overlay "$(fmt h3 front '{{.Driver}}')"
assert_ok "the local network goes" lab exec h1 docker network rm localnet

note "kill -9 of the leader"
lab kill h1 >/dev/null
assert_eventually "h2 sees a new leader" 15 has_leader_other_than h2 h1
new=$(leader_host h2)
other=h2
[ "$new" = h2 ] && other=h3
assert_eq "front survives on the new leader" 4096 "$(fmt "$new" front "$vni")"
made() { lab exec "$other" docker network create -d overlay third >/dev/null 2>&1; }
assert_eventually "a new network after the failover" 15 made
assert_eq "it gets the next VNI" 4098 "$(fmt "$new" third "$vni")"
assert_eq "and the next subnet" 10.0.1.0/24 "$(fmt "$other" third "$subnet")"

note "remove"
assert_ok "rm on a follower" lab exec "$other" docker network rm front
gone() { ! lab exec "$1" docker network inspect front >/dev/null 2>&1; }
assert_eventually "front is gone on $new" 10 gone "$new"
lab start h1 >/dev/null
assert_eventually "front is gone on h1 once it is back" 20 gone h1
assert_eventually "h1 lists back" 20 lists h1 back

note "prune"
out=$(lab exec "$other" docker network prune -f 2>&1)
assert_contains "docker network prune on a follower removes back" back "$out"
assert_contains "and third" third "$out"
none() { [ -z "$(lab exec "$1" docker network ls -q --filter driver=overlay)" ]; }
assert_eventually "no overlay is left on h1" 10 none h1
