#!/usr/bin/env bash
# The daemon's networking flags: --bip sets the default bridge's subnet and
# gateway, --default-address-pool the subnets user networks get, a bad
# value of either stops the daemon with a sentence naming the flag.
SHOALD=$1 SHOAL=$2 SRC=$3
D=/usr/local/bin/docker
[ -x "$D" ] || { echo "SKIP: no docker CLI at $D"; exit 77; }
. "$(dirname "$0")/lib.sh"
D=$(timed_wrapper docker "$D")

out=$("$SHOALD" --data-root "$work/bad" --exec-root "$work/badx" --bip nonsense 2>&1)
check "a malformed --bip is refused naming the flag" grep -q -- "--bip" <<<"$out"
out=$("$SHOALD" --data-root "$work/bad" --exec-root "$work/badx" \
	--default-address-pool base=10.0.0.0/8 2>&1)
check "a malformed --default-address-pool is refused naming the flag" \
	grep -q -- "--default-address-pool" <<<"$out"

make_image
# daemon_start with the flags (api/lib.sh's, flags through its wrapper)
SHOALD_REAL=$SHOALD
SHOALD=$work/shoald-flags
cat >"$SHOALD" <<EOS
#!/bin/sh
exec "$SHOALD_REAL" --bip 10.123.0.1/24 --default-address-pool base=10.124.0.0/16,size=24 "\$@"
EOS
chmod +x "$SHOALD"
daemon_start
"$D" import "$work/busybox.tar" busybox:latest >/dev/null
ins() { "$D" inspect -f "$1" "$2" 2>/dev/null; }
check "--bip sets the default bridge's subnet" [ "$("$D" network inspect -f '{{(index .IPAM.Config 0).Subnet}}' bridge)" = 10.123.0.0/24 ]
id=$("$D" run -d --name one busybox sleep 1000); track "$id"
check "a container gets an address of --bip's subnet" [ "$(ins '{{.NetworkSettings.IPAddress}}' one)" = 10.123.0.2 ]
check "... and its gateway" [ "$(ins '{{.NetworkSettings.Gateway}}' one)" = 10.123.0.1 ]
"$D" network create p1 >/dev/null
"$D" network create p2 >/dev/null
check "user networks take /24s of the pool" [ "$("$D" network inspect -f '{{(index .IPAM.Config 0).Subnet}}' p1) $("$D" network inspect -f '{{(index .IPAM.Config 0).Subnet}}' p2)" = "10.124.0.0/24 10.124.1.0/24" ]
"$D" rm -f one >/dev/null
"$D" network rm p1 p2 >/dev/null
finish
