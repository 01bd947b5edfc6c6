#!/usr/bin/env bash
# image-bench/pull: the time of `POST /images/create?fromImage=` (docker
# pull: ping, manifest, config and a 100 MB uncompressed layer fetched,
# hashed, verified, unpacked, made durable with syncfs and committed) of a
# one-layer image from Debian's docker-registry, against one `curl` process
# fetching the same two blobs (config, then layer) over one connection from
# the same registry in the same run, each into a new file on the same
# disk. Both run in a network namespace of the bench's own (registry,
# shoald and curl on its 127.0.0.1), and both are one curl process (the
# pull's talks to shoald's socket). curl does less than the pull, by
# design: it neither fetches the manifest, nor hashes, unpacks or syncs
# (its files stay in the page cache); that is the raw fetch the goal is
# measured against. Its files are new ones: rewriting one file (as this
# bench did before) made ext4 flush it on close and curl ~55 ms slower.
# The clock starts right before each request and stops when it has
# returned; every pull must end with "Status: Downloaded newer image" and
# the image must then resolve, every curl fetch must write each blob with
# its digest (checked after the clock stops). Between pulls the image is
# removed (its blobs and layer go with it). Goal: pull within 1.2x of the
# raw fetch (ratio of the medians). JSON lines:
#   {"bench":"pull","what":"curl-blobs","runs":N,"median_ms":..,"p90_ms":..,"min_ms":..,"max_ms":..}
#   {"bench":"pull","what":"shoal-pull","runs":N,"median_ms":..,"p90_ms":..,"min_ms":..,"max_ms":..}
#   {"bench":"pull","what":"ratio","median":..,"goal":1.2}
#   {"bench":"pull","what":"shoal-pull-cpu","runs":N,"median_ms":..,...}
# The last is shoald's CPU time (user and system, all threads, from
# /proc/PID/stat in clock ticks) during each pull: steadier than the
# times when other work shares the two cores, since the pull needs more
# CPU than curl and loses more to contention.
# shoald's debug log has a line per pull with where its time went
# (ping, manifest, config, layers, commit: docs/images.md).
set -u
SRC=@SHOAL_SOURCE_DIR@
SHOALD=@SHOALD_PATH@
RUNS=${1:-3}
REG=/usr/bin/docker-registry
. "$SRC/bench/common/stats.sh"
skip() { echo "{\"bench\":\"pull\",\"skipped\":\"$*\"}"; exit 0; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces)"
[ -x "$REG" ] || skip "docker-registry: not installed"
command -v curl >/dev/null || skip "curl: not installed"
work=$(mktemp -d /tmp/ib.XXXXXX)
sock="$work/x/shoald.sock"
rpid="" spid=""
cleanup() {
	[ -n "$spid" ] && kill -TERM "$spid" 2>/dev/null && wait "$spid"
	[ -n "$rpid" ] && kill -TERM "$rpid" 2>/dev/null && wait "$rpid"
	[ -e "$work/netns" ] && umount "$work/netns" 2>/dev/null
	rmdir /sys/fs/cgroup/*/"shoal-bench-$$" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "{\"bench\":\"pull\",\"error\":\"$*\"}"; exit 1; }
ns() { nsenter --net="$work/netns" -- "$@"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
tick_ms=$((1000 / $(getconf CLK_TCK)))
# cpu_ms PID: the process's user and system CPU time so far, in ms
cpu_ms() { awk -v t="$tick_ms" '{ sub(/.*\) /, ""); print ($12 + $13) * t }' "/proc/$1/stat"; }

touch "$work/netns"
unshare --net="$work/netns" ip link set lo up || fail "cannot make a network namespace"
cat >"$work/reg.yml" <<YML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $work/reg
http:
  addr: 127.0.0.1:5000
YML
nsenter --net="$work/netns" -- "$REG" serve "$work/reg.yml" >"$work/reg.log" 2>&1 &
rpid=$!
nsenter --net="$work/netns" -- "$SHOALD" --data-root "$work/data" \
	--exec-root "$work/x" --host "unix://$sock" \
	--cgroup-parent "shoal-bench-$$" --log-level warn 2>"$work/shoald.log" &
spid=$!
for _ in $(seq 200); do
	ns curl -s -o /dev/null http://127.0.0.1:5000/v2/ &&
		curl -sf --unix-socket "$sock" http://x/_ping >/dev/null 2>&1 && break
	sleep 0.05
done
curl -sf --unix-socket "$sock" http://x/_ping >/dev/null || fail "shoald did not start"

# A 100 MB layer of incompressible bytes, stored uncompressed.
mkdir -p "$work/root"
head -c 100000000 /dev/urandom >"$work/root/blob"
tar -C "$work/root" -cf "$work/layer.tar" blob
rm -rf "$work/root"
digest=$(REGPUSH_PLAIN=1 ns python3 "$SRC/tests/system/image-registry/regpush.py" \
	image http://127.0.0.1:5000 bench latest "$work/layer.tar") || fail "cannot push the image"
rm -f "$work/layer.tar"
blobs=$(ns curl -sf -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
	http://127.0.0.1:5000/v2/bench/manifests/latest |
	python3 -c 'import json,sys; m=json.load(sys.stdin); print(m["config"]["digest"], *[l["digest"] for l in m["layers"]])')
[ -n "$blobs" ] || fail "cannot read the manifest"

curl_ms=() pull_ms=() cpu=()
urls=() n=0
for b in $blobs; do
	urls+=(-o "$work/fetched/$n" "http://127.0.0.1:5000/v2/bench/blobs/$b")
	n=$((n + 1))
done
for _ in $(seq "$RUNS"); do
	mkdir -p "$work/fetched"
	t0=$(now_ms)
	ns curl -sf "${urls[@]}" || fail "curl could not fetch the blobs"
	curl_ms+=($(($(now_ms) - t0)))
	n=0
	for b in $blobs; do
		got="sha256:$(sha256sum "$work/fetched/$n" | cut -d' ' -f1)"
		[ "$got" = "$b" ] || fail "curl fetched $got for $b"
		n=$((n + 1))
	done
	rm -rf "$work/fetched"

	c0=$(cpu_ms "$spid")
	t0=$(now_ms)
	out=$(curl -s --unix-socket "$sock" -X POST \
		"http://x/v1.45/images/create?fromImage=127.0.0.1:5000/bench&tag=latest")
	pull_ms+=($(($(now_ms) - t0)))
	cpu+=($(($(cpu_ms "$spid") - c0)))
	grep -q "Status: Downloaded newer image" <<<"$out" || fail "pull failed: $(tail -c 300 <<<"$out")"
	curl -sf --unix-socket "$sock" http://x/v1.45/images/127.0.0.1:5000/bench:latest/json >/dev/null ||
		fail "the pulled image does not resolve"
	curl -sf --unix-socket "$sock" -X DELETE \
		"http://x/v1.45/images/127.0.0.1:5000/bench:latest" >/dev/null || fail "cannot remove the image"
done
# "median_ms":..,"p90_ms":..,"min_ms":..,"max_ms":.. of the samples
summary() {
	echo "\"median_ms\":$(bench_median "$@"),\"p90_ms\":$(bench_percentile 90 "$@"),\"min_ms\":$(bench_percentile 1 "$@"),\"max_ms\":$(bench_percentile 100 "$@")"
}
cm=$(bench_median "${curl_ms[@]}") pm=$(bench_median "${pull_ms[@]}")
echo "{\"bench\":\"pull\",\"what\":\"curl-blobs\",\"runs\":$RUNS,$(summary "${curl_ms[@]}")}"
echo "{\"bench\":\"pull\",\"what\":\"shoal-pull\",\"runs\":$RUNS,$(summary "${pull_ms[@]}")}"
echo "{\"bench\":\"pull\",\"what\":\"ratio\",\"median\":$(awk -v a="$pm" -v b="$cm" 'BEGIN{printf "%.2f", a/(b?b:1)}'),\"goal\":1.2}"
echo "{\"bench\":\"pull\",\"what\":\"shoal-pull-cpu\",\"runs\":$RUNS,$(summary "${cpu[@]}")}"
