#!/usr/bin/env bash
# docker commit, history and export through the real docker CLI
# (engine/commit.c, image/commit.c, image/layer_tar.c, api/commit.c,
# api/export.c): a commit of a running container keeps its files, its
# deletions (whiteouts) and its config, --change and -m/-a are applied,
# the new image runs and shows the changes, the runtime's own files
# (/etc/hostname, ...) stay out of the layer, a symbolic link planted in
# the container is recorded, not followed; history lists the new layer
# first with its command and comment; export streams the whole root
# filesystem as a tar of relative names that docker import takes back;
# bad input is refused with Docker's words and leaves no image behind;
# docker build (classic): steps, RUN, COPY/ADD (--from, --chown, a local
# tar, .dockerignore, links kept), ARG and --build-arg, --target, -f, the
# cache and --no-cache, Docker's errors, refused flags.
SHOALD=$1 SHOAL=$2 SRC=$3
D=/usr/local/bin/docker
[ -x "$D" ] || { echo "SKIP: no docker CLI at $D"; exit 77; }
command -v curl >/dev/null || { echo "SKIP: curl missing"; exit 77; }
. "$(dirname "$0")/lib.sh"
D=$(timed_wrapper docker "$D")
make_image
daemon_start
"$D" import "$work/busybox.tar" busybox:latest >/dev/null

n_images() { "$D" images -q | wc -l; }

# --- commit -------------------------------------------------------------------

c=$("$D" run -d --name src -e FOO=bar -w /tmp busybox sh -c \
	'echo hello >/data.txt; mkdir -p /d/e; echo x >/d/e/f; rm /bin/true; ln -s /etc/shadow-outside /link; ln /data.txt /hard.txt; rm -rf /sbin; mkdir /sbin; echo n >/sbin/new; sleep 60')
track "$c"
for _ in $(seq 50); do
	"$D" exec src test -e /hard.txt 2>/dev/null && break
	sleep 0.1
done
img=$("$D" commit -m "my message" -a "Ann Author" \
	-c 'CMD ["cat", "/data.txt"]' -c 'LABEL stage=one' src snap:v1)
check "commit prints the new image id" \
	bash -c "echo '$img' | grep -Eq '^sha256:[0-9a-f]{64}$'"
check "the committed container still runs (pause undone)" \
	test "$("$D" inspect -f '{{.State.Status}}' src)" = running
check "the new image is tagged" \
	bash -c "'$D' images --format '{{.Repository}}:{{.Tag}}' | grep -qx snap:v1"
out=$("$D" run --rm snap:v1)
check "the new image runs with the CMD of --change and the file" \
	test "$out" = hello
check "a file deleted in the container is deleted in the image" \
	bash -c "! '$D' run --rm snap:v1 test -e /bin/true"
check "a folder deleted and made again hides what was below (opaque)" \
	test "$("$D" run --rm snap:v1 ls -A /sbin)" = new
check "nested folders are kept" \
	test "$("$D" run --rm snap:v1 cat /d/e/f)" = x
check "a hard link stays a hard link" \
	test "$("$D" run --rm snap:v1 stat -c %h /data.txt)" = 2
check "a symbolic link is recorded as a link, not followed" \
	test "$("$D" run --rm snap:v1 readlink /link)" = /etc/shadow-outside
check "the container's env and working folder are the image's config" \
	bash -c "'$D' inspect -f '{{.Config.Env}} {{.Config.WorkingDir}}' snap:v1 |
		grep -q 'FOO=bar.* /tmp'"
check "LABEL of --change is applied" \
	test "$("$D" inspect -f '{{index .Config.Labels "stage"}}' snap:v1)" = one
check "the comment and the author are recorded" \
	test "$("$D" inspect -f '{{.Comment}}|{{.Author}}' snap:v1)" = \
	"my message|Ann Author"
check "the image has one layer more than busybox" \
	test "$("$D" inspect -f '{{len .RootFS.Layers}}' snap:v1)" = \
	"$(($("$D" inspect -f '{{len .RootFS.Layers}}' busybox) + 1))"
check "the runtime's /etc/hostname is not part of the layer" \
	bash -c "! '$D' run --rm --entrypoint sh snap:v1 -c \
		'grep -q $(echo "$c" | cut -c1-12) /etc/hostname'"

# A stopped container, no tag, no change: an untagged image.
"$D" run --name stopped busybox sh -c 'echo second >/second' >/dev/null
track "$("$D" inspect -f '{{.Id}}' stopped)"
img2=$("$D" commit stopped)
check "a stopped container commits to an untagged image" \
	test "$("$D" run --rm "$img2" cat /second)" = second

# Refusals: nothing is made.
before=$(n_images)
check "commit of an unknown container is 'No such container'" \
	bash -c "'$D' commit nosuch 2>&1 | grep -q 'No such container: nosuch'"
check "a bad --change is refused with Docker's words" \
	bash -c "'$D' commit -c 'FROBNICATE x' src 2>&1 |
		grep -q 'frobnicate is not a valid change command'"
check "a bad reference is refused" \
	bash -c "'$D' commit src 'BAD:REF:x' 2>&1 | grep -qi 'invalid reference'"
check "refused commits leave no image" test "$(n_images)" = "$before"

# --- history ------------------------------------------------------------------

h=$("$D" history --no-trunc --format '{{.ID}}|{{.CreatedBy}}|{{.Comment}}' snap:v1)
first=$(echo "$h" | head -n1)
check "history lists the commit first, with its id, command and comment" \
	bash -c "echo '$first' | grep -q '^$img|sh -c .*|my message$'"
check "history names the parent image below it" \
	bash -c "echo '$h' | sed -n 2p | grep -q \"^\$('$D' inspect -f '{{.Id}}' busybox)|\""
check "history has one row per layer" \
	test "$(echo "$h" | wc -l)" = \
	"$(($("$D" history -q busybox | wc -l) + 1))"
check "history of an unknown image is 'No such image'" \
	bash -c "'$D' history nosuch:1 2>&1 | grep -q 'No such image'"

# --- export -------------------------------------------------------------------

"$D" export src >"$work/export.tar"
check "export is a tar of the root with relative names" \
	bash -c "tar -tf '$work/export.tar' | grep -qx './data.txt'"
check "export holds the image's files too" \
	bash -c "tar -tf '$work/export.tar' | grep -qx './bin/sh'"
check "export has no absolute names" \
	bash -c "! tar -tf '$work/export.tar' | grep -q '^/'"
"$D" export -o "$work/export2.tar" stopped
check "export -o of a stopped container" \
	bash -c "tar -tf '$work/export2.tar' | grep -qx './second'"
"$D" import "$work/export2.tar" reimported:1 >/dev/null
check "an export imports back" \
	test "$("$D" run --rm reimported:1 cat /second)" = second
check "export of an unknown container is 'No such container'" \
	bash -c "'$D' export nosuch 2>&1 >/dev/null | grep -q 'No such container'"

# --- the shoal CLI ------------------------------------------------------------

sid=$("$SHOAL" commit -m via-shoal src shoalsnap 2>&1)
check "shoal commit" bash -c "echo '$sid' | grep -Eq '^sha256:[0-9a-f]{64}$'"
check "shoal history" \
	bash -c "'$SHOAL' history shoalsnap | head -n2 | grep -q via-shoal"
"$SHOAL" export -o "$work/export3.tar" src
check "shoal export -o" \
	bash -c "tar -tf '$work/export3.tar' | grep -qx './data.txt'"

# --- build (classic) ------------------------------------------------------------

B() { DOCKER_BUILDKIT=0 "$D" build "$@" 2>&1; }
ctx="$work/ctx"
mkdir -p "$ctx/sub"
echo hello >"$ctx/hello.txt"
echo inner >"$ctx/sub/inner.txt"
echo secret >"$ctx/ignored.txt"
printf 'ignored.txt\n' >"$ctx/.dockerignore"
mkdir -p "$work/tarsrc/t" && echo from-tar >"$work/tarsrc/t/in-tar.txt"
tar -C "$work/tarsrc" -czf "$ctx/files.tar.gz" t
ln -s /etc/shadow "$ctx/escape"
cat >"$ctx/Dockerfile" <<'DF'
ARG BASE=busybox
FROM $BASE AS first
ARG GREETING=hi
ENV FOO=bar
WORKDIR /app
COPY hello.txt sub/ ./
COPY hello.txt .
COPY --chown=1234:5678 hello.txt /owned.txt
ADD files.tar.gz /unpacked/
RUN echo "$GREETING $FOO" > /app/run.txt && cat /app/run.txt
LABEL a=b
EXPOSE 80
HEALTHCHECK --interval=5s --retries=2 CMD true
CMD ["cat", "/app/run.txt"]
FROM busybox
COPY --from=first /app/run.txt /copied.txt
CMD ["cat", "/copied.txt"]
DF
out=$(B -t built:1 --build-arg GREETING=hello "$ctx")
check "build prints Docker's steps" \
	bash -c "echo '$out' | grep -q '^Step 2/17 : FROM \$BASE AS first'"
check "build prints the RUN output and removes its container" \
	bash -c "echo '$out' | grep -qx 'hello bar' &&
		echo '$out' | grep -q '^Removing intermediate container'"
check "build ends with Successfully built and tagged" \
	bash -c "echo '$out' | grep -Eq '^Successfully built [0-9a-f]{12}$' &&
		echo '$out' | grep -qx 'Successfully tagged built:1'"
check "the built image runs its CMD (COPY --from a stage, a build arg)" \
	test "$("$D" run --rm built:1)" = "hello bar"
id1=$("$D" inspect -f '{{.Id}}' built:1)
out2=$(B -t built:1 --build-arg GREETING=hello "$ctx")
check "a second build is fully cached and gives the same image" \
	bash -c "echo '$out2' | grep -q 'Using cache' &&
		! echo '$out2' | grep -q 'Running in' &&
		test \"\$('$D' inspect -f '{{.Id}}' built:1)\" = '$id1'"
out3=$(B --no-cache -t built:1 --build-arg GREETING=hello "$ctx")
check "--no-cache runs every step again" \
	bash -c "echo '$out3' | grep -q 'Running in' &&
		! echo '$out3' | grep -q 'Using cache'"
B --target first -t first "$ctx" >/dev/null
check "--target stops at the stage; an ARG's default applies" \
	test "$("$D" run --rm first)" = "hi bar"
check "COPY of a folder copies its contents; .dockerignore is applied" \
	test "$("$D" run --rm first ls /app | tr '\n' ' ')" = \
	"hello.txt inner.txt run.txt "
check "COPY --chown sets the owner" \
	test "$("$D" run --rm first stat -c %u:%g /owned.txt)" = 1234:5678
check "ADD of a local tar unpacks it" \
	test "$("$D" run --rm first cat /unpacked/t/in-tar.txt)" = from-tar
check "ENV, WORKDIR, LABEL, EXPOSE and HEALTHCHECK reach the config" \
	test "$("$D" inspect -f '{{.Config.Env}}|{{.Config.WorkingDir}}|{{.Config.Labels.a}}|{{.Config.ExposedPorts}}|{{.Config.Healthcheck.Test}} {{.Config.Healthcheck.Retries}}' first)" = \
	"[FOO=bar]|/app|b|map[80/tcp:{}]|[CMD-SHELL true] 2"
check "history shows the steps" \
	bash -c "'$D' history --no-trunc first | grep -q '|1 GREETING=hi /bin/sh -c echo'"

printf 'FROM busybox\nCOPY escape /x\nCMD ["cat", "/x"]\n' >"$ctx/Dockerfile.link"
B -f "$ctx/Dockerfile.link" -t linked "$ctx" >/dev/null
check "a symbolic link in the context is copied as a link, not followed" \
	test "$("$D" run --rm --entrypoint readlink linked /x)" = /etc/shadow
printf 'FROM busybox\nCOPY ../outside /x\n' >"$ctx/Dockerfile.out"
check "a source outside the context is refused" \
	bash -c "B() { DOCKER_BUILDKIT=0 '$D' build \"\$@\" 2>&1; };
		B -f '$ctx/Dockerfile.out' '$ctx' | grep -q 'forbidden path outside the build context'"
printf 'FROM busybox\nRUN echo failing; exit 3\n' >"$ctx/Dockerfile.fail"
out=$(B -f "$ctx/Dockerfile.fail" "$ctx")
has() { grep -q -- "$2" <<<"$1"; }
check "a failing RUN stops the build with Docker's words" \
	has "$out" "The command '/bin/sh -c echo failing; exit 3' returned a non-zero code: 3"
printf 'FROM busybox\nFROBNICATE x\n' >"$ctx/Dockerfile.bad"
check "an unknown instruction is refused with its line" \
	bash -c "DOCKER_BUILDKIT=0 '$D' build -f '$ctx/Dockerfile.bad' '$ctx' 2>&1 |
		grep -q 'dockerfile parse error on line 2: unknown instruction: FROBNICATE'"
check "a build flag Shoal does not apply is refused by name" \
	bash -c "DOCKER_BUILDKIT=0 '$D' build --memory 64m '$ctx' 2>&1 |
		grep -q 'docker build --memory is not supported'"
check "an image that is not here is named" \
	bash -c "printf 'FROM nosuch:1\n' >'$ctx/Dockerfile.none';
		DOCKER_BUILDKIT=0 '$D' build -f '$ctx/Dockerfile.none' '$ctx' 2>&1 |
		grep -q 'No such image: nosuch:1'"
check "no build container is left behind" \
	test "$("$D" ps -aq --filter status=exited | wc -l)" -le 2

sb=$("$SHOAL" build -t viashoal --build-arg GREETING=shoal --target first "$ctx" 2>&1)
check "shoal build" \
	bash -c "echo '$sb' | grep -q '^Successfully tagged viashoal' &&
		test \"\$('$D' run --rm viashoal)\" = 'shoal bar'"
check "shoal build -q prints the id" \
	bash -c "'$SHOAL' build -q --target first '$ctx' | grep -Eq '^sha256:[0-9a-f]{64}$'"

"$D" rm -f src stopped >/dev/null
finish
