#!/usr/bin/env bash
# Images travel inside the swarm (issue 14): a node given a task whose
# image it lacks fetches it from the nodes that hold it (the managers name
# them in the assignment), over the blob service, verified by digest.
#  - busybox imported on h1 only: a service of 6 replicas over 3 hosts
#    runs on every host, and the workers' tasks showed the fetch;
#  - a blob tampered on the first holder is refused and the fetch goes to
#    the other holder; tampered on every holder, the task is rejected with
#    the reason and retried;
#  - a holder killed (-9) during the transfer of a big image: the fetch
#    goes on from the other holder; the task's status message showed the
#    megabytes received;
#  - only the nodes the managers name may fetch: a node whose tasks run
#    already (none needs an image) and a node removed from the swarm
#    (its certificate still valid) are refused by the holders;
#  - an image no node holds, whose name names a registry (Debian's
#    docker-registry on h1): the node pulls it; a name without a registry
#    that no node holds is rejected with Docker's "No such image".
# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/../lib.sh"

has_shoald || skip "needs shoald in $SHOAL_BIN_DIR"
REG=/usr/bin/docker-registry
# The lab's registry (on h1) is plain HTTP on a lab address.
export SHOAL_LAB_DAEMON_ARGS="--insecure-registry 10.0.0.0/8"
lab_begin 3
m="$(lab addr h1):2377"
lab exec h1 shoal swarm init --listen-addr "$m" \
	--dispatcher-heartbeat 300ms >/dev/null
tok=$(lab exec h1 shoal swarm join-token -q worker)
for i in 2 3; do
	lab exec "h$i" shoal swarm join --token "$tok" "$m" >/dev/null
done
ready() { [ "$(lab exec h1 shoal node ls | grep -c ' Ready ')" -eq 3 ]; }
wait_for 20 ready || fail "the swarm has 3 Ready nodes"

img="$SHOAL_LAB_DIR/busybox.tar"
"$SHOAL_SOURCE_DIR/scripts/mkimage-busybox" "$img" >/dev/null
lab exec h1 shoal import "$img" busybox:latest >/dev/null
id=$(lab exec h1 shoal images -q --no-trunc busybox)

# running SERVICE: "HOST HOST ..." of its tasks desired and running.
running() {
	lab exec h1 shoal service ps -f desired-state=running "$1" |
		awk 'NR > 1 && $6 == "Running" {print $4}' | sort | tr '\n' ' '
}
count() { [ "$(running "$1" | wc -w)" -eq "$2" ]; }
on() { [ "$(running "$2" | tr ' ' '\n' | grep -cx "$1")" -ge "$3" ]; }
# node_id HOST: its node id (`node ls` marks the node it runs on with *).
node_id() {
	lab exec h1 shoal node ls |
		awk -v h="$1" '$2 == "*" && $3 == h || $2 == h {print $1}'
}
# blobs HOST IMAGE-ID: HOST's blob files of that image but its config.
blobs() {
	lab exec "$1" sh -c "ls /var/lib/shoal/*/blobs/sha256/* 2>/dev/null ||
		ls /var/lib/shoal/blobs/sha256/*" | grep -v "${2#sha256:}"
}
# tamper HOST IMAGE-ID: flip bytes in the middle of HOST's layer blobs.
tamper() {
	local f
	for f in $(blobs "$1" "$2"); do
		lab exec "$1" sh -c "printf 'XXXXXXXX' | dd of=$f bs=1 \
			seek=\$((\$(stat -c %s $f) / 2)) conv=notrunc 2>/dev/null"
	done
}

note "an image on h1 only, 6 replicas over 3 hosts"
held() { lab exec h1 shoal image ls --cluster busybox | awk 'NR == 2 {print $4}' | grep -qx h1; }
wait_for 20 held || fail "the managers know h1 holds busybox"
lab exec h1 shoal service create --name web --replicas 6 \
	--stop-grace-period 1s busybox sleep 100000 >/dev/null
assert_eventually "6 replicas run" 40 count web 6
assert_ok "h2 runs some" on h2 web 1
assert_ok "h3 runs some" on h3 web 1
for h in h2 h3; do
	assert_eq "$h holds busybox now, the same id" "$id" \
		"$(lab exec $h shoal images -q --no-trunc busybox)"
	assert_contains "$h's tasks were preparing while fetching from h1" \
		"preparing: fetching image ${id:7:12} from node h1" \
		"$(cat "$(lab log $h)")"
	assert_contains "$h's fetch went layer by layer" \
		"preparing: fetching layer 1/1 from h1" "$(cat "$(lab log $h)")"
done

note "only the nodes the managers name may fetch"
bget=${BLOB_GET:-$SHOAL_BIN_DIR/tests/cluster/images-fetch/blob-get}
[ -x "$bget" ] || fail "blob-get is built with the tests ($bget)"
# save_state HOST DIR: a copy of HOST's key, certificate and swarm state.
save_state() {
	mkdir -p "$2"
	lab exec "$1" tar -C /var/lib/shoal -cf - certs swarm | tar -C "$2" -xf -
}
# fetch_as STATE HOLDER DIGEST: blob-get's line in $out, its exit code in
# $got_rc.
fetch_as() {
	got_rc=0
	out=$(lab exec h3 "$bget" "$1" "$(lab addr "$2"):2386" "$3" 2>&1) ||
		got_rc=$?
}
id3=$(node_id h3)
save_state h3 "$SHOAL_LAB_DIR/h3-state"
sleep 1 # past the holder's rate limit of refusal lines (1 a second)
fetch_as "$SHOAL_LAB_DIR/h3-state" h1 "$id"
assert_eq "h3, whose tasks all run, is refused by h1" 3 "$got_rc"
assert_contains "the refusal names the node" "not allowed: node $id3" "$out"
assert_contains "h1 logs it" "node $id3" \
	"$(grep 'blob service: node .* refused' "$(lab log h1)")"
lab exec h1 shoal service rm web >/dev/null

note "a tampered blob is refused; the other holder serves it"
# An image on h1 and h2 (the same id: docker save and shoal load); the
# holder listed first (by node id) gets its layer blob tampered.
lab exec h1 shoal import --change 'CMD ["sleep","100000"]' "$img" \
	tamp:1 >/dev/null
tid=$(lab exec h1 shoal images -q --no-trunc tamp:1)
lab exec h1 docker save -o "$SHOAL_LAB_DIR/tamp.tar" tamp:1
lab exec h2 shoal load -i "$SHOAL_LAB_DIR/tamp.tar" >/dev/null
id1=$(node_id h1) id2=$(node_id h2)
[ -n "$id1" ] && [ -n "$id2" ] || fail "node ids of h1 and h2"
first=h1
[[ "$id2" < "$id1" ]] && first=h2
other=h1; [ $first = h1 ] && other=h2
tamper $first "$tid"
two() { lab exec h1 shoal image ls --cluster tamp | awk 'NR == 2 {print $4}' | grep -qx h1,h2; }
wait_for 20 two || fail "the managers know h1 and h2 hold tamp:1"
lab exec h1 shoal service create --name tamp --constraint node.hostname==h3 \
	--stop-grace-period 1s tamp:1 >/dev/null
assert_eventually "the task runs on h3" 40 count tamp 1
assert_contains "h3 refused the tampered blob from $first" \
	"hash to sha256:" "$(grep "refused" "$(lab log h3)")"
assert_contains "and fetched it from $other" "fetching layer 1/1 from $other" \
	"$(cat "$(lab log h3)")"
lab exec h1 shoal service rm tamp >/dev/null
no_ctr() { [ -z "$(lab exec h3 shoal ps -aq --filter ancestor="$tid")" ]; }
wait_for 20 no_ctr || fail "tamp's container goes from h3"
lab exec h3 shoal rmi -f "$tid" >/dev/null

note "tampered on every holder: rejected with the reason, and retried"
tamper $other "$tid"
lab exec h1 shoal service create -d --name tamp2 --constraint node.hostname==h3 \
	--stop-grace-period 1s tamp:1 >/dev/null
rejected() {
	[ "$(lab exec h1 shoal service ps --no-trunc tamp2 | grep -c Rejected)" -ge 2 ]
}
assert_eventually "tasks are rejected and retried" 40 rejected
assert_contains "the task's error says why" "cannot fetch image $tid" \
	"$(lab exec h1 shoal service ps --no-trunc tamp2)"
assert_fails "h3 kept nothing of it" lab exec h3 shoal image inspect "$tid"
lab exec h1 shoal service rm tamp2 >/dev/null

note "a holder killed during the transfer"
big="$SHOAL_LAB_DIR/big.tar"
mkdir -p "$SHOAL_LAB_DIR/bigroot"
head -c $((160 << 20)) /dev/urandom >"$SHOAL_LAB_DIR/bigroot/data"
tar -C "$SHOAL_LAB_DIR/bigroot" -cf "$big" data
lab exec h2 shoal import --change 'CMD ["/data"]' "$big" big:1 >/dev/null
bid=$(lab exec h2 shoal images -q --no-trunc big:1)
lab exec h2 docker save -o "$SHOAL_LAB_DIR/bigsave.tar" big:1
lab exec h3 shoal load -i "$SHOAL_LAB_DIR/bigsave.tar" >/dev/null
both() { lab exec h1 shoal image ls --cluster big | awk 'NR == 2 {print $4}' | grep -qx h2,h3; }
wait_for 20 both || fail "the managers know h2 and h3 hold big:1"
# The task cannot run (/data is no program): what matters is the fetch.
lab exec h1 shoal service create -d --name big --constraint node.hostname==h1 \
	--restart-condition none big:1 >/dev/null
from=""
in_flight() {
	from=$(grep -o "fetching layer 1/1 from h[23]" "$(lab log h1)" | tail -1 | awk '{print $NF}')
	[ -n "$from" ]
}
wait_for 30 in_flight || fail "h1 starts fetching big:1"
lab kill "$from" >/dev/null
note "killed $from while h1 fetched from it"
fetched() { lab exec h1 shoal image inspect "$bid" >/dev/null; }
assert_eventually "h1 holds big:1 all the same" 60 fetched
log=$(cat "$(lab log h1)")
assert_contains "the fetch moved to the other holder" \
	"fetching layer 1/1 from $( [ "$from" = h2 ] && echo h3 || echo h2)" "$log"
said() { grep -q "image $bid fetched from the swarm" "$(lab log h1)"; }
assert_eventually "h1 says the image was fetched" 10 said
assert_contains "the task's status showed the bytes as they came" \
	" MB, 0/1 layers" "$(grep 'preparing: fetching image from node h' "$(lab log h1)")"

note "no node holds it: pulled from the registry its name names"
if [ -x "$REG" ]; then
	r="$(lab addr h1):5000"
	mkdir -p "$SHOAL_LAB_DIR/reg"
	cat >"$SHOAL_LAB_DIR/reg.yml" <<-YML
	version: 0.1
	log:
	  level: error
	storage:
	  filesystem:
	    rootdirectory: $SHOAL_LAB_DIR/reg
	http:
	  addr: $r
	YML
	# Ended by lab down with every process of the lab's hosts.
	lab exec h1 sh -c "setsid $REG serve $SHOAL_LAB_DIR/reg.yml \
		>$SHOAL_LAB_DIR/reg.log 2>&1 </dev/null &"
	up() { lab exec h1 curl -sf -o /dev/null "http://$r/v2/"; }
	wait_for 10 up || fail "the registry answers on $r"
	lab exec h1 python3 "$SHOAL_SOURCE_DIR/tests/system/image-registry/regpush.py" \
		image "http://$r" app 1 "$img" >/dev/null
	lab exec h1 shoal service create -d --name pulled \
		--constraint node.hostname==h1 "$r/app:1" sleep 100000 >/dev/null
	assert_eventually "the task runs on h1" 40 count pulled 1
	assert_contains "h1 pulled it from its registry" \
		"pulled from its registry" "$(cat "$(lab log h1)")"
else
	note "skipped: $REG missing (scripts/setup)"
fi
lab exec h1 shoal service create -d --name ghost --constraint node.hostname==h1 \
	nosuch:1 >/dev/null
ghost() { lab exec h1 shoal service ps --no-trunc ghost | grep -q '"No such image: nosuch:1"'; }
assert_eventually "an image no node holds and no registry: No such image" 30 ghost

note "a node removed from the swarm fetches nothing"
lab exec h1 shoal node rm --force "$id3" >/dev/null
gone() { ! lab exec h1 shoal node ls | grep -q " h3 "; }
wait_for 20 gone || fail "h3 is removed"
# (h2 was killed above: h1 is the holder left.)
fetch_as "$SHOAL_LAB_DIR/h3-state" h1 "$id"
assert_eq "h1 refuses the removed h3 (its certificate still valid)" 3 "$got_rc"
assert_contains "h1 names it" "not allowed: node $id3" "$out"
