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
# docker build (classic) is refused with a 501 that says what to do.
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

# --- build: refused clearly until the builder lands ------------------------------

mkdir -p "$work/ctx"
printf 'FROM busybox\nRUN true\n' >"$work/ctx/Dockerfile"
out=$(DOCKER_BUILDKIT=0 "$D" build -t built "$work/ctx" 2>&1)
check "docker build (classic) is refused with what to do instead" \
	bash -c "echo '$out' | grep -q 'docker build is not supported by Shoal yet'"

"$D" rm -f src stopped >/dev/null
finish
