#!/usr/bin/env bash
# build-bench: the classic builder (engine/build.c) on a 10-step
# Dockerfile (FROM, ARG, ENV, WORKDIR, COPY of a file and of a folder,
# RUN, LABEL, EXPOSE, CMD) over busybox.
#
#   cold     a build with nocache=1: every step runs (the RUN is a
#            container), each makes an image.
#   cached   the same build again, every step from the layer cache: only
#            the context and metadata are read. Goal: under 100 ms.
#
# The clock brackets one POST /build (curl, the context tar made once
# beforehand) from the request to the end of the answer's stream, whose
# last line must name the image ("Successfully built"), else the run is an
# error. A fresh shoald on private roots, in a network namespace of the
# benchmark's own (unshare), is started and stopped here. Needs root.
# JSON lines:
#   {"test":"build","case":"cold|cached","steps":10,"runs":N,
#    "median_ms":X,"p90_ms":Y}
#
#   build/<preset>/bench/image-bench/build-bench [runs]
set -u
N=${1:-10}
SHOALD=@SHOALD@
SRC=@SHOAL_SOURCE_DIR@
[ "$(id -u)" = 0 ] || { echo '{"skipped":"build-bench: needs root"}'; exit 0; }
for t in curl unshare tar; do
	command -v $t >/dev/null || { echo "{\"skipped\":\"build-bench: $t missing\"}"; exit 0; }
done
if [ "${BUILD_BENCH_INNER:-}" != 1 ]; then
	export BUILD_BENCH_INNER=1
	exec unshare --net -- "$0" "$@"
fi
. "$SRC/bench/common/stats.sh" ||
	{ echo '{"error":"bench/common/stats.sh missing"}'; exit 1; }
ip link set lo up
work=$(mktemp -d /tmp/build-bench.XXXXXX)
sock=$work/x/shoald.sock
cg="shoal-bench-$$"
pid=""
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rmdir /sys/fs/cgroup/*/"$cg" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
"$SHOALD" --data-root "$work/data" --exec-root "$work/x" \
	--host "unix://$sock" --cgroup-parent "$cg" --log-level warn \
	2>"$work/shoald.log" &
pid=$!
for _ in $(seq 100); do
	curl -sf --unix-socket "$sock" http://x/_ping >/dev/null 2>&1 && break
	sleep 0.05
done
"$SRC/scripts/mkimage-busybox" "$work/busybox.tar" >/dev/null &&
	curl -sf --unix-socket "$sock" -X POST -H 'Content-Type: application/x-tar' \
		--data-binary "@$work/busybox.tar" \
		"http://x/images/create?fromSrc=-&repo=busybox&tag=latest" >/dev/null ||
	{ echo '{"error":"build-bench: cannot import busybox"}'; exit 1; }

mkdir -p "$work/ctx/src"
echo app >"$work/ctx/app.txt"
for i in 1 2 3; do echo "$i" >"$work/ctx/src/f$i"; done
cat >"$work/ctx/Dockerfile" <<'DF'
FROM busybox
ARG VERSION=1
ENV APP_VERSION=$VERSION
WORKDIR /app
COPY app.txt .
COPY src/ ./src/
RUN cat app.txt src/f1 > all.txt
LABEL bench=build
EXPOSE 8080
CMD ["cat", "/app/all.txt"]
DF
tar -C "$work/ctx" -cf "$work/ctx.tar" .

one() { # one QUERY: prints ms, or fails
	local t0 t1 out
	t0=$(date +%s%N)
	out=$(curl -s --unix-socket "$sock" -X POST \
		-H 'Content-Type: application/x-tar' --data-binary "@$work/ctx.tar" \
		"http://x/build?t=bench:1&rm=1$1")
	t1=$(date +%s%N)
	grep -q 'Successfully built' <<<"$out" || { echo "$out" >&2; return 1; }
	echo $(( (t1 - t0) / 1000 )) | awk '{ printf "%.1f\n", $1 / 1000 }'
}

for c in cold cached; do
	q=""
	[ "$c" = cold ] && q="&nocache=1"
	[ "$c" = cached ] && { one "" >/dev/null || exit 1; }
	samples=()
	for _ in $(seq "$N"); do
		ms=$(one "$q") || { echo "{\"error\":\"build-bench: the $c build failed\"}"; exit 1; }
		samples+=("$ms")
	done
	printf '{"test":"build","case":"%s","steps":10,"runs":%d,"median_ms":%s,"p90_ms":%s}\n' \
		"$c" "$N" "$(bench_median "${samples[@]}")" \
		"$(bench_percentile 90 "${samples[@]}")"
done
