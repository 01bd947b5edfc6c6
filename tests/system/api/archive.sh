#!/usr/bin/env bash
# docker cp's routes (GET, HEAD, PUT /containers/{id}/archive) and request
# bodies against the findings of issue 8, with the real docker CLI and
# curl on the unix socket:
#  - high: an upload never runs a program (an image with its own lzop, an
#    archive in lzop's format: 400, no marker); names with "..", absolute
#    names, symlinks and hard links out of the container go nowhere; the
#    helper that unpacks or packs runs in the container's namespaces with
#    its own private mounts (no /proc, /sys, /dev; all nodev), one or five
#    capabilities, no_new_privs and seccomp;
#  - medium: an archive of / has no proc or sys contents and comes at once;
#    256 MiB stream through with shoald's peak RSS (VmHWM) up by less
#    than 64 MiB; a helper killed by SIGTERM midway truncates the answer
#    and leaves shoald answering /_ping, with no helper left behind;
#  - low: an 8 MiB JSON body is a 413 naming the 4 MiB limit; an import
#    and a load bigger than that still work (spooled to disk).
SHOALD=$1 SHOAL=$2 SRC=$3
D=/usr/local/bin/docker
[ -x "$D" ] || { echo "SKIP: no docker CLI at $D"; exit 77; }
command -v curl >/dev/null || { echo "SKIP: curl missing"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 missing"; exit 77; }
. "$(dirname "$0")/lib.sh"
D=$(timed_wrapper docker "$D")
# ASan keeps freed memory resident in its quarantine (256 MiB by default):
# keep it small, so that VmHWM measures shoald's own buffering.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16"
make_image
daemon_start
"$D" import "$work/busybox.tar" busybox >/dev/null

# api METHOD PATH [curl args...] -> status in $st, body in $body
api() {
	local m=$1 p=$2 out
	shift 2
	out=$(curl -s -m "${SHOAL_TEST_CMD_TIMEOUT:-30}" --unix-socket "$sock" \
		-X "$m" -w '\n%{http_code}' "$@" "http://x/v1.45$p")
	st=${out##*$'\n'}
	body=${out%$'\n'*}
}
expect() { # expect "sentence" STATUS [substring of the body]
	if [ "$st" = "$2" ] && { [ -z "${3:-}" ] || grep -qF -- "$3" <<<"$body"; }; then
		ok "$1"
	else
		fail "$1 (got $st: $body)"
	fi
}
put() { # put CONTAINER DEST FILE [query]
	api PUT "/containers/$1/archive?path=$2${4:-}" \
		-H 'Content-Type: application/x-tar' --data-binary "@$3"
}
# The helper shoald runs (its first process) and its worker, once a
# transfer is under way: sets $helper and $worker.
find_helper() {
	helper="" worker=""
	for _ in $(seq 100); do
		helper=$(pgrep -P "$pid" -x shoal-archive | head -1)
		[ -n "$helper" ] && worker=$(pgrep -P "$helper" | head -1)
		[ -n "$worker" ] && return 0
		sleep 0.05
	done
	return 1
}
no_helper_left() { # no helper process, nor zombie, anywhere
	for _ in $(seq 50); do
		ps -eo comm | grep -q '^shoal-archive' || return 0
		sleep 0.1
	done
	ps -eo pid,ppid,stat,comm | grep shoal-archive
	return 1
}
# A GET of @path from @ctr whose reader does not read: curl blocks opening
# the FIFO $work/out until drain() reads it. Sets $cpid.
stalled_get() {
	rm -f "$work/out"
	mkfifo "$work/out"
	curl -s -m 60 --unix-socket "$sock" -o "$work/out" \
		"http://x/v1.45/containers/$1/archive?path=$2" &
	cpid=$!
}
# Read what curl got, then its exit status. A curl that never opened the
# FIFO (no answer) would leave cat waiting: it gets 20 s, a failure then.
drain() {
	timeout 20 cat "$work/out" >/dev/null
	wait "$cpid"
}

# --- high: no program ever runs ------------------------------------------
# An image whose lzop (everywhere on PATH) leaves a marker inside, and one
# outside, where only the host has a $work folder.
lzroot="$work/lzroot"
mkdir -p "$lzroot"
tar -C "$lzroot" -xf "$work/busybox.tar"
for p in usr/local/sbin usr/local/bin usr/sbin usr/bin sbin bin; do
	mkdir -p "$lzroot/$p"
	rm -f "$lzroot/$p/lzop"
	cat >"$lzroot/$p/lzop" <<-EOF
	#!/bin/sh
	echo "\$\$ \$(readlink /proc/self/ns/pid)" >>/lzop-ran
	echo ran >>"$work/lzop-ran-on-host"
	cat >/dev/null
	EOF
	chmod 755 "$lzroot/$p/lzop"
done
tar -C "$lzroot" -cf "$work/lzop-image.tar" .
"$D" import "$work/lzop-image.tar" lzopimg >/dev/null
lz=$("$D" run -d --name lz lzopimg sleep 1000)
track "$lz"
{ printf '\x89LZO\x00\r\n\x1a\n\x10\x30\x20\xa0'; head -c 8192 /dev/urandom; } >"$work/evil.lzo"
put lz /tmp "$work/evil.lzo"
expect "an lzop archive is refused with a 400 that names lzop" 400 "lzop"
check "the container's lzop never ran, inside or on the host" \
	bash -c "! '$D' exec lz test -e /lzop-ran && ! test -e '$work/lzop-ran-on-host'"
"$D" stop -t 1 lz >/dev/null
put lz /tmp "$work/evil.lzo"
expect "an lzop archive into a stopped container is refused too" 400 "lzop"
"$D" start lz >/dev/null
check "and its lzop never ran either" \
	bash -c "! '$D' exec lz test -e /lzop-ran && ! test -e '$work/lzop-ran-on-host'"

# --- high: nothing lands outside the container ---------------------------
python3 - "$work" <<'EOF'
import io, sys, tarfile
w = sys.argv[1]
def mk(name, entries, mode='w'):
    with tarfile.open(w + '/' + name, mode) as t:
        for e in entries:
            ti = tarfile.TarInfo(e['name'])
            if 'sym' in e:
                ti.type, ti.linkname = tarfile.SYMTYPE, e['sym']
                t.addfile(ti)
            elif 'hard' in e:
                ti.type, ti.linkname = tarfile.LNKTYPE, e['hard']
                t.addfile(ti)
            else:
                d = e.get('data', b'x')
                ti.size, ti.mode, ti.uid = len(d), 0o644, e.get('uid', 0)
                t.addfile(ti, io.BytesIO(d))
mk('sym-escape.tar', [{'name': 'esc', 'sym': '/proc/1/root' + w},
                      {'name': 'esc/pwned-sym', 'data': b'bad'}])
mk('sym-root.tar', [{'name': 'r', 'sym': '/'},
                    {'name': 'r/etc/pwned-root', 'data': b'bad'}])
mk('dotdot.tar', [{'name': '../../../../../../../..' + w + '/pwned-dotdot',
                   'data': b'bad'}])
mk('absolute.tar', [{'name': w + '/pwned-abs', 'data': b'abs'}])
mk('hardlink.tar', [{'name': 'hl', 'hard': '/proc/1/root' + w + '/evil.lzo'}])
mk('good.tar.gz', [{'name': 'gdir/f', 'data': b'gz-data', 'uid': 1234}],
   'w:gz')
EOF
put lz /tmp "$work/sym-escape.tar"
expect "a file through a symlink to /proc/1/root is refused" 400 "symlink"
put lz /tmp "$work/sym-root.tar"
expect "a file through a symlink to / is refused" 400 "symlink"
put lz /tmp "$work/dotdot.tar"
expect "a name with .. is refused" 400 ".."
put lz /tmp "$work/hardlink.tar"
expect "a hard link to a host file through /proc is refused" 400 ""
put lz /tmp "$work/absolute.tar"
expect "an absolute name is taken relative to the destination" 200
check "it landed in the container, under the destination" \
	bash -c "test \"\$('$D' exec lz cat /tmp$work/pwned-abs)\" = abs"
check "no escape reached the host" \
	bash -c "! ls '$work' | grep -q pwned && ! test -e /etc/pwned-root"
put lz /tmp "$work/good.tar.gz" "&copyUIDGID=1"
expect "a gzip archive unpacks" 200
check "with its owners under copyUIDGID" \
	bash -c "test \"\$('$D' exec lz stat -c '%u %s' /tmp/gdir/f)\" = '1234 7'"
put lz /tmp "$work/good.tar.gz"
check "and with root's without it (Docker's rule)" \
	bash -c "test \"\$('$D' exec lz stat -c %u /tmp/gdir/f)\" = 0"

# --- high: the helper is confined ----------------------------------------
cpw=$("$D" run -d --name cpw busybox sleep 1000)
track "$cpw"
"$D" exec cpw truncate -s 256M /big
init=$("$D" inspect -f '{{.State.Pid}}' cpw)
stalled_get cpw /big
if find_helper; then
	ns_same=1
	for ns in pid net uts ipc cgroup; do
		[ "$(readlink /proc/$worker/ns/$ns)" = "$(readlink /proc/$init/ns/$ns)" ] || ns_same=0
	done
	check "the worker is in the container's pid, net, uts, ipc and cgroup namespaces" \
		test "$ns_same" = 1
	check "and in a mount namespace of its own, neither the container's nor the host's" \
		bash -c "m=\$(readlink /proc/$worker/ns/mnt); test \"\$m\" != \"\$(readlink /proc/$init/ns/mnt)\" && test \"\$m\" != \"\$(readlink /proc/$$/ns/mnt)\""
	check "where /proc, /sys and /dev are not mounted and every mount is nodev" \
		bash -c "! awk '{print \$5}' /proc/$worker/mountinfo | grep -qE '^/(proc|sys|dev)(/|\$)' && ! grep -qv nodev /proc/$worker/mountinfo && test -z \"\$(ls -A /proc/$worker/root/proc)\""
	check "reading, it holds CAP_DAC_OVERRIDE only, in every set including the bounding set" \
		bash -c "grep -E '^Cap(Prm|Eff|Bnd):' /proc/$worker/status | grep -vq '0000000000000002' && exit 1; grep -q '^CapAmb:.0000000000000000' /proc/$worker/status"
	check "with no_new_privs and two seccomp filters" \
		bash -c "grep -q '^NoNewPrivs:.1' /proc/$worker/status && grep -q '^Seccomp:.2' /proc/$worker/status && grep -q '^Seccomp_filters:.2' /proc/$worker/status"
	nspid=$(awk '/^NSpid/ {print $3}' /proc/$worker/status)
	check "and not dumpable: the container's root cannot read its /proc files, as it can its init's" \
		bash -c "'$D' exec cpw cat /proc/1/environ >/dev/null && ! '$D' exec cpw cat /proc/$nspid/environ >/dev/null 2>&1"
else
	fail "no archive helper found while a GET was under way"
fi
drain

# --- medium: streaming, skipping kernel filesystems, signals --------------
check "an archive of / comes at once, without proc, sys or dev contents" \
	bash -c "'$D' cp cpw:/ - | tar -t 2>/dev/null >'$work/root.list' && grep -qE '^/?etc/passwd\$' '$work/root.list' && ! grep -qE '^/?(proc|sys|dev)/.' '$work/root.list'"
"$D" cp cpw:/etc/hostname - >/dev/null # the read filter is compiled once
before=$(awk '/^VmHWM/ {print $2}' /proc/$pid/status)
n=$("$D" cp cpw:/big - | wc -c)
after=$(awk '/^VmHWM/ {print $2}' /proc/$pid/status)
check "a 256 MiB file streams out whole ($n bytes)" test "$n" -gt 268435456
check "while shoald's peak RSS grows by less than 64 MiB ($before -> $after kB)" \
	test "$n" -gt 268435456 -a $((after - before)) -lt 65536
echo ok >"$work/small"
tar -C "$work" -cf "$work/small.tar" small
put cpw / "$work/small.tar"
expect "a PUT still works after that" 200

for who in helper worker; do
	# The helper of the request before may still be exiting: find_helper
	# must not take it for this one's.
	for _ in $(seq 50); do
		pgrep -P "$pid" -x shoal-archive >/dev/null || break
		sleep 0.1
	done
	stalled_get cpw /big
	if find_helper; then
		kill -TERM "${!who}"
		drain
		crc=$?
		check "SIGTERM to the $who midway truncates the answer (curl $crc)" \
			test "$crc" -ne 0
		check "and shoald lives on, answering /_ping" \
			bash -c "kill -0 $pid && curl -sf -m 5 --unix-socket '$sock' http://x/_ping | grep -q OK"
		check "with no helper left behind, not even a zombie" no_helper_left
	else
		fail "no archive helper found for the $who test"
		drain
	fi
done
stalled_get cpw /big
find_helper
kill "$cpid" 2>/dev/null # curl goes, with its connection
wait "$cpid" 2>/dev/null
check "a client that leaves midway stops its helper" no_helper_left

"$D" stop -t 1 cpw >/dev/null
check "a stopped container's files still copy out" \
	bash -c "test \"\$('$D' cp cpw:/small - | tar -xO)\" = ok"
stalled_get cpw /big
find_helper
api POST /containers/cpw/start
expect "start waits its turn while a copy has the stopped container's files" 409 "copied"
drain
"$D" start cpw >/dev/null
check "and works once the copy is done" \
	bash -c "test \"\$('$D' inspect -f '{{.State.Running}}' cpw)\" = true"

# --- low: body limits ----------------------------------------------------
python3 -c "import json; print(json.dumps({'Image': 'busybox', 'Env': ['A=' + 'x' * (8 << 20)]}))" >"$work/big.json"
api POST /containers/create -H 'Content-Type: application/json' --data-binary "@$work/big.json"
expect "an 8 MiB JSON body is a 413 naming the limit" 413 "the limit is 4 MiB"
check "shoald still answers after it" \
	bash -c "curl -sf -m 5 --unix-socket '$sock' http://x/_ping | grep -q OK"
mkdir -p "$work/bigroot"
tar -C "$work/bigroot" -xf "$work/busybox.tar"
head -c $((6 << 20)) /dev/urandom >"$work/bigroot/blob"
tar -C "$work/bigroot" -cf "$work/bigroot.tar" .
check "an import bigger than the JSON limit works (spooled)" \
	bash -c "'$D' import '$work/bigroot.tar' big:1 >/dev/null && '$D' run --rm big:1 stat -c %s /blob | grep -q '^6291456\$'"
check "and so does a load of it" \
	bash -c "'$D' save -o '$work/big-saved.tar' big:1 && '$D' rmi big:1 >/dev/null && '$D' load -i '$work/big-saved.tar' | grep -q 'Loaded image: big:1'"
check "nothing is left in the spool folder" \
	bash -c "test -z \"\$(ls -A '$work/data/tmp')\""

"$D" rm -f lz cpw >/dev/null
finish
