#!/usr/bin/env bash
# The managers know which nodes hold which images (issue 14): each node
# reports its images in its heartbeats and `shoal image ls --cluster` on a
# manager lists them with the nodes that hold them. An image imported on
# h1 only shows h1 only; loaded on h3 too, both (h3 marked while down);
# removed from h1, h3 alone; the layers are the image's own; a worker (no
# manager), a route parameter and flags the listing cannot honour are
# refused with a message.
# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/../lib.sh"

has_shoald || skip "needs shoald in $SHOAL_BIN_DIR"
lab_begin 3
m="$(lab addr h1):2377"
lab exec h1 shoal swarm init --listen-addr "$m" \
	--dispatcher-heartbeat 300ms >/dev/null
tok=$(lab exec h1 shoal swarm join-token -q worker)
for i in 2 3; do
	lab exec "h$i" shoal swarm join --token "$tok" "$m" >/dev/null
done
img="$SHOAL_LAB_DIR/busybox.tar"
"$SHOAL_SOURCE_DIR/scripts/mkimage-busybox" "$img" >/dev/null
lab exec h1 shoal import "$img" busybox:latest >/dev/null
id=$(lab exec h1 shoal images -q --no-trunc busybox)

# holders: the NODES column of busybox's row, as h1's manager lists it.
holders() {
	lab exec h1 shoal image ls --cluster busybox | awk 'NR == 2 {print $4}'
}
holders_are() { [ "$(holders)" = "$1" ]; }

note "an image on h1 only"
wait_for 20 holders_are h1 || true
assert_eq "image ls --cluster names h1 alone" "h1" "$(holders)"
ls=$(lab exec h1 shoal image ls --cluster)
assert_contains "the listing has its header" \
	"IMAGE ID       TAGS             LAYERS    NODES" "$ls"
assert_contains "the row shows the short id and the tag" \
	"${id:7:12}   busybox:latest" "$ls"
assert_eq "-q prints the whole id" "$id" \
	"$(lab exec h1 shoal image ls --cluster -q)"
layers=$(lab exec h1 shoal image inspect busybox | python3 -c \
	'import json, sys; print(len(json.load(sys.stdin)[0]["RootFS"]["Layers"]))')
assert_eq "LAYERS counts the image's layers" "$layers" \
	"$(lab exec h1 shoal image ls --cluster busybox | awk 'NR == 2 {print $3}')"
assert_eq "a name no node holds lists nothing" 1 \
	"$(lab exec h1 shoal image ls --cluster nosuch | wc -l)"

note "the same image loaded on h3 too"
# A second import would make another image (its own Created): move the
# very image with docker save on h1 and shoal load on h3.
lab exec h1 docker save -o "$SHOAL_LAB_DIR/saved.tar" busybox
lab exec h3 shoal load -i "$SHOAL_LAB_DIR/saved.tar" >/dev/null
assert_eq "h3 holds the same image id" "$id" \
	"$(lab exec h3 shoal images -q --no-trunc busybox)"
wait_for 20 holders_are h1,h3 || true
assert_eq "image ls --cluster names h1 and h3" "h1,h3" "$(holders)"

note "a holder goes down, and comes back"
lab stop h3
wait_for 20 holders_are "h1,h3(down)" || true
assert_eq "a down holder is marked" "h1,h3(down)" "$(holders)"
lab start h3
wait_for 20 holders_are h1,h3 || true
assert_eq "it is plain again once ready" "h1,h3" "$(holders)"

note "removed from h1"
lab exec h1 shoal rmi busybox >/dev/null
wait_for 20 holders_are h3 || true
assert_eq "image ls --cluster names h3 alone" "h3" "$(holders)"

note "refusals"
out=$(lab exec h1 curl -s -w ' %{http_code}' --unix-socket \
	/run/shoal/shoald.sock 'http://shoal/swarm/images?all=1')
assert_contains "GET /swarm/images refuses a parameter with 400" " 400" "$out"
assert_contains "the refusal names the parameter" "unknown parameter 'all'" "$out"
out=$(lab exec h2 shoal image ls --cluster 2>&1) && rc=0 || rc=$?
assert_eq "a worker refuses --cluster" 1 "$rc"
assert_contains "the worker says it is no manager" "not a swarm manager" "$out"
out=$(lab exec h1 shoal image ls --cluster --digests 2>&1) && rc=0 || rc=$?
assert_eq "--cluster --digests is refused" 1 "$rc"
assert_contains "the refusal names the flag" "--digests" "$out"
