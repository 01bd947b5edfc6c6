#!/usr/bin/env bash
# docker pull and push against Debian's docker-registry (Distribution 2.8),
# run in the test's own network namespace beside shoald, with the real
# docker CLI: push (a blob mounted from another repository, blobs uploaded,
# then already there, the digest line, a pull by the pushed digest),
# /distribution and a swarm service pinned to a pushed image's digest,
# docker login and shoal login/logout (config.json as the docker CLI's),
# a plain-HTTP registry refused, then allowed by --insecure-registry,
# docker search in a registry's catalog,
# pull by tag and by digest, up to date on a second pull, docker run of a
# missing image pulls it, a manifest list (the host's platform chosen), an
# unknown tag, a tampered blob refused with the store unchanged, a registry
# with htpasswd (Basic) auth with and without credentials in the docker
# CLI's config.json, a blob download cut halfway resumed (through a
# proxy that cuts it), a six-layer image's five new layers fetched three layers at a time
# (through a proxy that holds each blob and counts them), and a TLS registry trusted through
# <data-root>/certs.d/HOST:PORT/ca.crt (refused without it).
SHOALD=$1 SHOAL=$2 SRC=$3
D=/usr/local/bin/docker
REG=/usr/bin/docker-registry
[ -x "$D" ] || { echo "SKIP: no docker CLI at $D"; exit 77; }
[ -x "$REG" ] || { echo "SKIP: docker-registry missing (scripts/setup)"; exit 77; }
for c in curl python3 htpasswd openssl; do
	command -v $c >/dev/null || { echo "SKIP: $c missing"; exit 77; }
done
HERE=$(cd "$(dirname "$0")" && pwd)
. "$SRC/tests/system/api/lib.sh"
D=$(timed_wrapper docker "$D")
regpids=()

reg_cleanup() {
	local rc=$?
	for p in "${regpids[@]}"; do
		kill -TERM "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rmdir /sys/fs/cgroup/"$cgparent-2" /sys/fs/cgroup/*/"$cgparent-2" 2>/dev/null
	(exit $rc)
	cleanup
}
trap reg_cleanup EXIT

in_ns() { nsenter --net="$work/netns" -- "$@"; }

# start_registry NAME ADDR [extra yaml]
start_registry() {
	local name=$1 addr=$2 extra=${3:-}
	mkdir -p "$work/$name"
	cat >"$work/$name.yml" <<-YML
	version: 0.1
	log:
	  level: error
	storage:
	  filesystem:
	    rootdirectory: $work/$name
	http:
	  addr: $addr
	$extra
	YML
	# nsenter execs the registry: $! is the registry's own pid.
	nsenter --net="$work/netns" -- "$REG" serve "$work/$name.yml" \
		>>"$work/$name.log" 2>&1 &
	regpids+=($!)
	local scheme=http
	case "$extra" in *tls:*) scheme=https ;; esac
	for _ in $(seq 100); do
		in_ns curl -sk -o /dev/null "$scheme://$addr/v2/" && return 0
		sleep 0.05
	done
	echo "registry $name did not start:"; cat "$work/$name.log"; exit 1
}

push() { in_ns python3 "$HERE/regpush.py" "$@"; }

touch "$work/netns"
unshare --net="$work/netns" ip link set lo up ||
	{ echo "cannot make a network namespace"; exit 1; }
make_image
daemon_start
start_registry reg 127.0.0.1:5000
R=127.0.0.1:5000

digest=$(push image http://$R busybox latest "$work/busybox.tar") ||
	{ echo "cannot push the test image"; exit 1; }

# --- pull by tag, up to date, by digest -----------------------------------
out=$("$D" pull $R/busybox:latest 2>&1)
check "docker pull of a tag reports Docker's lines" \
	grep -q "Pull complete" <<<"$out"
check "docker pull prints the manifest digest" \
	grep -qx "Digest: $digest" <<<"$out"
check "docker pull says the image is new" \
	grep -q "Status: Downloaded newer image for $R/busybox:latest" <<<"$out"
check "the pulled image is listed under its tag" \
	bash -c "'$D' image ls --format '{{.Repository}}:{{.Tag}}' | grep -qx '$R/busybox:latest'"
check "the pulled image runs" \
	bash -c "'$D' run --rm $R/busybox echo pulled-and-ran | grep -qx pulled-and-ran"
check "the pull records the manifest digest in RepoDigests" \
	bash -c "'$D' image inspect -f '{{json .RepoDigests}}' $R/busybox:latest |
		grep -qF '\"$R/busybox@$digest\"'"
check "docker images --digests shows it" \
	bash -c "'$D' images --digests | grep '^$R/busybox ' | grep -qF '$digest'"
check "the image runs by that digest, resolved locally" \
	bash -c "'$D' run --rm --pull never $R/busybox@$digest echo by-digest | grep -qx by-digest"
out=$("$D" pull $R/busybox 2>&1)
check "a second pull is up to date" \
	grep -q "Status: Image is up to date for $R/busybox:latest" <<<"$out"
out=$("$D" pull $R/busybox@"$digest" 2>&1)
check "a pull by digest works" grep -qx "Digest: $digest" <<<"$out"

# --- /distribution/{name}/json (service create's digest pinning) --------------
dist() { curl -s --unix-socket "$sock" "http://x/v1.45/distribution/$1/json"; }
out=$(dist $R/busybox:latest)
check "/distribution describes the tag's manifest" test \
	"$(python3 -c 'import json,sys; d=json.load(sys.stdin)["Descriptor"]; print(d["digest"], d["mediaType"])' <<<"$out")" = \
	"$digest application/vnd.docker.distribution.manifest.v2+json"
check "with the image's platform" \
	python3 -c 'import json,sys,platform; p=json.load(sys.stdin)["Platforms"]; assert [x["os"] for x in p] == ["linux"] and len(p) == 1' <<<"$out"
"$D" import "$work/busybox.tar" $R/localonly:1 >/dev/null
out=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$sock" \
	"http://x/v1.45/distribution/$R/localonly:1/json")
check "an image made here is not looked up in a registry (404)" test "$out" = 404

# --- docker run of a missing image pulls it -------------------------------
"$D" rmi -f $R/busybox:latest >/dev/null
out=$("$D" run --rm $R/busybox:latest echo auto 2>&1)
check "docker run of a missing image pulls it as Docker does" \
	grep -q "Unable to find image '$R/busybox:latest' locally" <<<"$out"
check "and then runs it" grep -qx auto <<<"$out"

# --- a manifest list --------------------------------------------------------
echo decoy >"$work/decoy"
tar -C "$work" -cf "$work/decoy.tar" decoy
decoy=$(push image http://$R busybox decoy "$work/decoy.tar")
push list http://$R busybox multi "$digest,$decoy" >/dev/null ||
	{ echo "cannot push the manifest list"; exit 1; }
check "/distribution describes a manifest list and its two platforms" \
	python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["Descriptor"]["mediaType"].endswith("manifest.list.v2+json") and len(d["Platforms"]) == 2' \
	<<<"$(dist $R/busybox:multi)"
out=$("$D" pull $R/busybox:multi 2>&1)
check "a manifest list pulls" \
	grep -q "Status: .* for $R/busybox:multi" <<<"$out"
check "and resolves to the host's platform" test \
	"$("$D" image inspect -f '{{.Id}}' $R/busybox:multi)" = \
	"$("$D" image inspect -f '{{.Id}}' $R/busybox:latest)"

out=$("$SHOAL" pull $R/busybox:decoy 2>&1)
check "shoal pull prints the layers and the reference" \
	bash -c "grep -q ': Pull complete' <<<'$out' && grep -qx '$R/busybox:decoy' <<<'$out'"
"$D" rmi $R/busybox:decoy >/dev/null 2>&1
out=$("$D" pull -a $R/busybox 2>&1)
check "docker pull --all-tags pulls every tag of the repository" bash -c \
	"grep -q 'Status: Downloaded newer image for $R/busybox$' <<<'$out' &&
	 test \$(grep -c '^Digest: sha256:' <<<'$out') = 3 &&
	 '$D' image inspect $R/busybox:decoy >/dev/null"
out=$("$SHOAL" pull -a $R/busybox:latest 2>&1)
check "a tag with --all-tags is refused" grep -q "tag can't be used with --all-tags" <<<"$out"
out=$("$D" pull --platform linux/s390x $R/busybox:latest 2>&1)
[ "$(uname -m)" = s390x ] ||
	check "--platform refuses a single image of another platform" \
		grep -q "does not match the specified platform: wanted linux/s390x" <<<"$out"
out=$("$D" pull --platform linux/s390x $R/busybox:multi 2>&1)
[ "$(uname -m)" = s390x ] ||
	check "--platform picks that platform's entry of a manifest list" \
		grep -qx "Digest: $(in_ns curl -s -H 'Accept: application/vnd.docker.distribution.manifest.list.v2+json' \
			http://$R/v2/busybox/manifests/multi | tr -d '\n' |
			sha256sum | sed 's/^\([0-9a-f]*\).*/sha256:\1/')" <<<"$out"
[ "$(uname -m)" = s390x ] ||
	check "and stores the image it names" test \
		"$("$D" image inspect -f '{{.Id}}' $R/busybox:multi)" = \
		"$(in_ns curl -s -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
			http://$R/v2/busybox/manifests/$decoy |
			python3 -c 'import json,sys; print(json.load(sys.stdin)["config"]["digest"])')"

# --- errors -------------------------------------------------------------------
out=$("$D" pull $R/busybox:nosuch 2>&1)
check "an unknown tag fails with not found" grep -q "not found" <<<"$out"
out=$("$D" pull $R/nosuch/repo:latest 2>&1)
check "an unknown repository fails with not found" grep -q "not found" <<<"$out"

# A tampered layer: push another image, then flip its layer blob's bytes.
echo tampered >"$work/extra"
tar -C "$work" -cf "$work/t.tar" extra
tdigest=$(push image http://$R tampered latest "$work/t.tar")
layer=$(in_ns curl -s -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
	http://$R/v2/tampered/manifests/latest |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["layers"][0]["digest"][7:])')
data="$work/reg/docker/registry/v2/blobs/sha256/${layer:0:2}/$layer/data"
python3 - "$data" <<-'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0xff
open(p, "wb").write(bytes(b))
PY
before=$(ls "$work/data/images/blobs/sha256" | sort)
out=$("$D" pull $R/tampered:latest 2>&1)
check "a tampered blob is refused" grep -q "verification failed" <<<"$out"
check "and leaves the store unchanged" \
	test "$before" = "$(ls "$work/data/images/blobs/sha256" | sort)"
check "and leaves no image" \
	bash -c "! '$D' image inspect $R/tampered:latest >/dev/null 2>&1"
# The same with an uncompressed layer, whose sha256 the early unpacker's
# thread computes from the bytes it reads back (registry.c).
head -c 3000000 /dev/urandom >"$work/extra"
tar -C "$work" -cf "$work/t.tar" extra
REGPUSH_PLAIN=1 push image http://$R tamperedplain latest "$work/t.tar" >/dev/null
layer=$(in_ns curl -s -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
	http://$R/v2/tamperedplain/manifests/latest |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["layers"][0]["digest"][7:])')
data="$work/reg/docker/registry/v2/blobs/sha256/${layer:0:2}/$layer/data"
python3 -c 'import sys; p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[len(b) * 2 // 3] ^= 1; open(p, "wb").write(bytes(b))' "$data"
lbefore=$(ls "$work/data/images/layers" | sort)
out=$("$D" pull $R/tamperedplain:latest 2>&1)
check "a tampered uncompressed blob is refused" grep -q "verification failed" <<<"$out"
check "and leaves the store unchanged" \
	test "$before" = "$(ls "$work/data/images/blobs/sha256" | sort)"
check "and adds no layer" \
	test "$lbefore" = "$(ls "$work/data/images/layers" | sort)"

# --- docker push ----------------------------------------------------------------
# A second repository of the same registry: its blobs mount from busybox.
"$D" tag $R/busybox:latest $R/pushed:v1
out=$("$D" push $R/pushed:v1 2>&1)
check "docker push prints Docker's first line" \
	grep -qx "The push refers to repository \[$R/pushed\]" <<<"$out"
check "a layer the registry holds in another repository is mounted" \
	grep -q ": Mounted from busybox$" <<<"$out"
pdigest=$(sed -n 's/^v1: digest: \(sha256:[0-9a-f]*\) size: [0-9]*$/\1/p' <<<"$out")
check "docker push prints the tag's digest line" test -n "$pdigest"
check "the registry serves that manifest under the tag" \
	test "$(in_ns curl -sI -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
		http://$R/v2/pushed/manifests/v1 | tr -d '\r' |
		sed -n 's/^Docker-Content-Digest: //Ip')" = "$pdigest"
check "the push records the pushed digest in RepoDigests" \
	bash -c "'$D' image inspect -f '{{json .RepoDigests}}' $R/pushed:v1 |
		grep -qF '\"$R/pushed@$pdigest\"'"
id_before=$("$D" image inspect -f '{{.Id}}' $R/pushed:v1)
"$D" rmi $R/pushed:v1 >/dev/null
out=$("$D" pull $R/pushed@"$pdigest" 2>&1)
check "the pushed image pulls by its digest" grep -qx "Digest: $pdigest" <<<"$out"
check "whose config is the local image's (same id, nothing rewritten)" test \
	"$(in_ns curl -s http://$R/v2/pushed/manifests/"$pdigest" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["config"]["digest"])')" = "$id_before"
# An image made here: every blob uploaded, then already there.
echo made-here >"$work/own"
tar -C "$work" -cf "$work/own.tar" own
"$D" import "$work/own.tar" $R/own:1 >/dev/null
out=$("$D" push $R/own:1 2>&1)
check "a new layer is uploaded (Pushed)" grep -q ": Pushed$" <<<"$out"
odigest=$(sed -n 's/^1: digest: \(sha256:[0-9a-f]*\) size: [0-9]*$/\1/p' <<<"$out")
check "and the upload's manifest digest is printed" test -n "$odigest"
out=$("$SHOAL" push $R/own:1 2>&1)
check "a second push finds the layer there (shoal push)" \
	grep -q ": Layer already exists$" <<<"$out"
check "and names the same digest" grep -q "^1: digest: $odigest size:" <<<"$out"
out=$("$D" push $R/nosuch:1 2>&1)
check "pushing an image that is not local fails as Docker's" \
	grep -q "An image does not exist locally with the tag: $R/nosuch" <<<"$out"

# --- docker search in the registry's catalog -------------------------------------
out=$("$D" search $R/bus 2>&1)
check "docker search finds a repository of the catalog by part of its name" \
	grep -q "^$R/busybox " <<<"$out"
check "and only those that match" bash -c "! grep -q '^$R/own ' <<<'$out'"
out=$("$D" search --limit 1 $R/ 2>&1)
check "--limit bounds the results" test "$(grep -c "^$R/" <<<"$out")" = 1
out=$("$D" search --filter is-official=true $R/bus 2>&1)
check "a catalog has no official images" bash -c "! grep -q '^$R/' <<<'$out'"
out=$("$D" search --filter is-official=maybe $R/bus 2>&1)
check "a bad filter value is refused" grep -q "invalid filter 'is-official=maybe'" <<<"$out"
out=$("$D" search busybox 2>&1)
check "Docker Hub's search is refused with a message" \
	grep -q "searching Docker Hub is not supported" <<<"$out"

# --- docker service create pins the registry digest ------------------------------
"$D" swarm init --advertise-addr 127.0.0.1 >/dev/null 2>&1
"$D" service create --name pinned --detach $R/busybox:latest sleep 300 >/dev/null 2>&1
check "docker service create pins the image to its registry digest" test \
	"$("$D" service inspect -f '{{.Spec.TaskTemplate.ContainerSpec.Image}}' pinned 2>&1)" = \
	"$R/busybox:latest@$digest"
check "with the image's platform as placement" \
	bash -c "'$D' service inspect -f '{{json .Spec.TaskTemplate.Placement.Platforms}}' pinned |
		grep -q '\"OS\":\"linux\"'"
running=""
for _ in $(seq 100); do
	"$D" service ps -q -f desired-state=running --format '{{.CurrentState}}' pinned 2>/dev/null |
		grep -q '^Running' && { running=1; break; }
	sleep 0.1
done
check "and its task runs from the image resolved by that digest" test -n "$running"
"$D" service rm pinned >/dev/null 2>&1
"$D" swarm leave --force >/dev/null 2>&1

# --- an interrupted download resumes -----------------------------------------
head -c 3000000 /dev/urandom >"$work/big"
tar -C "$work" -cf "$work/big.tar" big
push image http://$R resume latest "$work/big.tar" >/dev/null
: >"$work/ranges"
nsenter --net="$work/netns" -- python3 "$HERE/cutproxy.py" 5002 $R \
	"$work/ranges" >>"$work/proxy.log" 2>&1 &
regpids+=($!)
for _ in $(seq 100); do
	in_ns curl -s -o /dev/null http://127.0.0.1:5002/v2/ && break
	sleep 0.05
done
out=$("$D" pull 127.0.0.1:5002/resume:latest 2>&1)
check "a download cut halfway is resumed and the pull succeeds" \
	grep -q "Status: Downloaded newer image for 127.0.0.1:5002/resume:latest" <<<"$out"
check "by a Range request from where it stopped" \
	grep -q "/blobs/sha256:.* bytes=[1-9][0-9]*-" "$work/ranges"
# An uncompressed layer (hashed by its early unpacker) resumed, then one
# whose server answers the Range with the whole blob: it starts over from
# zero and the blob is hashed from its file.
head -c 3000000 /dev/urandom >"$work/big"
tar -C "$work" -cf "$work/big2.tar" big
REGPUSH_PLAIN=1 push image http://$R resumeplain latest "$work/big2.tar" >/dev/null
: >"$work/ranges"
out=$("$D" pull 127.0.0.1:5002/resumeplain:latest 2>&1)
check "an uncompressed layer cut halfway is resumed" \
	grep -q "Status: Downloaded newer image for 127.0.0.1:5002/resumeplain:latest" <<<"$out"
check "by a Range request" grep -q "/blobs/sha256:.* bytes=[1-9][0-9]*-" "$work/ranges"
"$D" rmi 127.0.0.1:5002/resumeplain:latest >/dev/null
nsenter --net="$work/netns" -- python3 "$HERE/cutproxy.py" 5004 $R \
	"$work/ranges4" whole >>"$work/proxy.log" 2>&1 &
regpids+=($!)
for _ in $(seq 100); do
	in_ns curl -s -o /dev/null http://127.0.0.1:5004/v2/ && break
	sleep 0.05
done
out=$("$D" pull 127.0.0.1:5004/resumeplain:latest 2>&1)
check "one whose resume is answered whole starts over and pulls" \
	grep -q "Status: Downloaded newer image for 127.0.0.1:5004/resumeplain:latest" <<<"$out"
check "(the resume was asked)" grep -q "/blobs/sha256:.* bytes=[1-9][0-9]*-" "$work/ranges4"

# --- parallel layer downloads: three at a time, as Docker ---------------------
# busybox's layer (the store has it: Already exists) under five new ones.
tars="$work/busybox.tar"
for i in 1 2 3 4 5; do
	echo "layer $i" >"$work/l$i"
	tar -C "$work" -cf "$work/l$i.tar" "l$i"
	tars="$tars${tars:+,}$work/l$i.tar"
done
push image http://$R layered latest "$tars" >/dev/null
nsenter --net="$work/netns" -- python3 "$HERE/slowproxy.py" 5003 $R \
	"$work/inflight" 0.4 >>"$work/proxy.log" 2>&1 &
regpids+=($!)
for _ in $(seq 100); do
	in_ns curl -s -o /dev/null http://127.0.0.1:5003/v2/ && break
	sleep 0.05
done
out=$("$D" pull 127.0.0.1:5003/layered:latest 2>&1)
check "a six-layer image pulls" \
	grep -q "Status: Downloaded newer image for 127.0.0.1:5003/layered:latest" <<<"$out"
check "its layers download three at a time" \
	grep -qx "get 3" "$work/inflight"
check "the two past the three slots say Waiting first" \
	test "$(grep -c ': Waiting$' <<<"$out")" = 2
check "every new layer says Download complete and Pull complete" \
	bash -c "test \$(grep -c ': Download complete$' <<<'$out') = 5 &&
		test \$(grep -c ': Pull complete$' <<<'$out') = 5 &&
		test \$(grep -c ': Already exists$' <<<'$out') = 1"
"$D" tag 127.0.0.1:5003/layered:latest 127.0.0.1:5003/layers2:1
out=$("$D" push 127.0.0.1:5003/layers2:1 2>&1)
check "a push of six layers mounts each from the repository they came from" \
	test "$(grep -c ': Mounted from layered$' <<<"$out")" = 6
check "five at a time, as Docker" grep -qx "post 5" "$work/inflight"
check "the one past the five slots says Waiting first" \
	test "$(grep -c ': Waiting$' <<<"$out")" = 1
check "and the image has its six layers" \
	bash -c "'$D' run --rm 127.0.0.1:5003/layered cat /l1 /l5 | tr '\n' ' ' |
		grep -qx 'layer 1 layer 5 '"

# --- Basic auth (htpasswd) --------------------------------------------------
htpasswd -Bbc "$work/htpasswd" alice s3cret >/dev/null 2>&1
start_registry authreg 127.0.0.1:5001 "auth:
  htpasswd:
    realm: shoal-test
    path: $work/htpasswd"
A=127.0.0.1:5001
push image http://$A busybox latest "$work/busybox.tar" alice:s3cret >/dev/null ||
	{ echo "cannot push to the auth registry"; exit 1; }
out=$("$D" pull $A/busybox:latest 2>&1 </dev/null)
check "a registry with auth refuses a pull without credentials" \
	grep -q "pull access denied for $A/busybox.*unauthorized" <<<"$out"
"$D" tag $R/busybox:latest $A/mine:1
out=$("$D" push $A/mine:1 2>&1 </dev/null)
check "and a push without credentials" grep -q "unauthorized" <<<"$out"
mkdir -p "$DOCKER_CONFIG"
printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$A" \
	"$(printf alice:wrong | base64)" >"$DOCKER_CONFIG/config.json"
out=$("$D" pull $A/busybox:latest 2>&1 </dev/null)
check "wrong credentials are refused" \
	grep -q "pull access denied for $A/busybox.*unauthorized" <<<"$out"
printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$A" \
	"$(printf alice:s3cret | base64)" >"$DOCKER_CONFIG/config.json"
out=$("$D" pull $A/busybox:latest 2>&1 </dev/null)
check "the credentials of the docker CLI's config.json pull" \
	grep -q "Status: .* for $A/busybox:latest" <<<"$out"
out=$("$D" push $A/mine:1 2>&1 </dev/null)
check "and push" grep -q "^1: digest: sha256:" <<<"$out"

# --- login / logout (POST /auth) ----------------------------------------------
rm -f "$DOCKER_CONFIG/config.json"
out=$("$D" login -u alice -p wrong $A 2>&1 </dev/null)
check "docker login with a wrong password is refused with Docker's words" \
	grep -q "login attempt to http.*$A/v2/ failed with status: 401 Unauthorized" <<<"$out"
out=$("$D" login -u alice -p s3cret $A 2>&1 </dev/null)
check "docker login with the right one succeeds" grep -q "Login Succeeded" <<<"$out"
rm -f "$DOCKER_CONFIG/config.json"
out=$("$SHOAL" login -u alice -p wrong $A 2>&1 </dev/null)
check "shoal login with a wrong password fails and stores nothing" \
	bash -c "grep -q '401 Unauthorized' <<<'$out' && ! test -e '$DOCKER_CONFIG/config.json'"
out=$("$SHOAL" login -u alice --password-stdin $A 2>&1 <<<s3cret)
check "shoal login succeeds" grep -qx "Login Succeeded" <<<"$out"
check "and stores the credentials as the docker CLI does" test \
	"$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["auths"][sys.argv[2]]["auth"])' \
		"$DOCKER_CONFIG/config.json" $A)" = "$(printf alice:s3cret | base64)"
out=$("$SHOAL" pull $A/busybox:latest 2>&1)
check "shoal pull sends them" grep -qx "$A/busybox:latest" <<<"$out"
out=$("$SHOAL" push $A/mine:1 2>&1)
check "shoal push sends them" grep -q "^1: digest: sha256:" <<<"$out"
out=$("$D" pull $A/busybox:latest 2>&1 </dev/null)
check "the docker CLI reads what shoal login stored" \
	grep -q "Status: .* for $A/busybox:latest" <<<"$out"
out=$("$SHOAL" logout $A 2>&1)
check "shoal logout removes them" \
	bash -c "grep -qx 'Removing login credentials for $A' <<<'$out' &&
		! grep -q '$A' '$DOCKER_CONFIG/config.json'"
out=$("$SHOAL" pull $A/busybox:latest 2>&1)
check "and a pull is then refused" grep -q "unauthorized" <<<"$out"

# --- TLS with a CA in certs.d (an address that is not loopback) ---------------
in_ns ip addr add 10.213.0.1/32 dev lo
T=10.213.0.1:5443
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=shoal-test-ca \
	-addext "subjectAltName=IP:10.213.0.1" \
	-keyout "$work/tls.key" -out "$work/tls.crt" >/dev/null 2>&1
start_registry tlsreg $T "  tls:
    certificate: $work/tls.crt
    key: $work/tls.key"
push image https://$T busybox latest "$work/busybox.tar" >/dev/null ||
	{ echo "cannot push to the TLS registry"; exit 1; }
out=$("$D" pull $T/busybox:latest 2>&1)
check "a TLS registry with an unknown CA is refused" \
	grep -qi "certificate\|SSL" <<<"$out"
mkdir -p "$work/data/certs.d/$T"
cp "$work/tls.crt" "$work/data/certs.d/$T/ca.crt"
out=$("$D" pull $T/busybox:latest 2>&1)
check "a TLS registry trusted through certs.d pulls" \
	grep -q "Status: .* for $T/busybox:latest" <<<"$out"

# --- --insecure-registry: plain HTTP away from loopback ---------------------------
start_registry plainreg 10.213.0.1:5010
P=10.213.0.1:5010
push image http://$P busybox latest "$work/busybox.tar" >/dev/null ||
	{ echo "cannot push to the plain-HTTP registry"; exit 1; }
out=$("$D" pull $P/busybox:latest 2>&1)
check "a plain-HTTP registry is refused without --insecure-registry" \
	grep -q "start shoald with --insecure-registry $P" <<<"$out"
out=$("$SHOALD" --insecure-registry http://$P --help 2>&1)
check "a scheme in --insecure-registry is refused" \
	grep -q 'invalid value "http://.*for --insecure-registry' <<<"$out"
sock2="$work/x2/shoald.sock"
nsenter --net="$work/netns" -- "$SHOALD" --data-root "$work/data2" \
	--exec-root "$work/x2" --host "unix://$sock2" \
	--cgroup-parent "$cgparent-2" --insecure-registry $P \
	--insecure-registry 10.99.0.0/16 2>>"$work/shoald2.log" &
regpids+=($!)
for _ in $(seq 100); do
	curl -sf --unix-socket "$sock2" http://x/_ping >/dev/null 2>&1 && break
	sleep 0.05
done
out=$(DOCKER_HOST="unix://$sock2" "$D" pull $P/busybox:latest 2>&1)
check "with --insecure-registry it pulls over plain HTTP" \
	grep -q "Status: Downloaded newer image for $P/busybox:latest" <<<"$out"
check "and /info shows it in RegistryConfig" \
	bash -c "DOCKER_HOST=unix://$sock2 '$D' info -f '{{json .RegistryConfig}}' |
		python3 -c 'import json,sys; r=json.load(sys.stdin); assert r[\"IndexConfigs\"][\"$P\"][\"Secure\"] is False and \"10.99.0.0/16\" in r[\"InsecureRegistryCIDRs\"]'"

finish
