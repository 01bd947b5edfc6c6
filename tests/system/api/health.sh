#!/usr/bin/env bash
# Health checks through the real docker CLI (engine/health.c): a probe
# that passes makes the container healthy ("Up ... (healthy)" in ps,
# State.Health in inspect), one that fails Retries times makes it
# unhealthy with FailingStreak and the last 5 probes in Log, a probe past
# its timeout counts as a failure with Docker's sentence, failures during
# the start period are not counted, the image's HEALTHCHECK is inherited
# and --no-healthcheck disables it, and bad values are refused as dockerd
# refuses them.
SHOALD=$1 SHOAL=$2 SRC=$3
D=/usr/local/bin/docker
[ -x "$D" ] || { echo "SKIP: no docker CLI at $D"; exit 77; }
command -v curl >/dev/null || { echo "SKIP: curl missing"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 missing"; exit 77; }
. "$(dirname "$0")/lib.sh"
D=$(timed_wrapper docker "$D")
make_image
daemon_start
"$D" import "$work/busybox.tar" busybox:latest >/dev/null

ins() { "$D" inspect -f "$1" "$2" 2>/dev/null; }
until_true() { # until_true SECONDS command...
	local end=$((SECONDS + $1)); shift
	while [ "$SECONDS" -le "$end" ]; do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}
run_d() { # run_d NAME ARGS...
	local name=$1; shift
	track "$("$D" run -d --name "$name" "$@")"
}
health_is() { [ "$(ins '{{.State.Health.Status}}' "$1")" = "$2" ]; }

# --- a passing probe ----------------------------------------------------------

run_d good --health-cmd 'echo probe-out' --health-interval 200ms \
	busybox sleep 60
check "a new container with a health check is 'starting'" \
	health_is good starting
check "ps shows '(health: starting)' before the first probe" \
	bash -c "'$D' ps --filter name=good --format '{{.Status}}' | grep -q '(health: starting)'"
check "a probe that exits 0 makes it healthy" until_true 10 health_is good healthy
check "ps shows 'Up ... (healthy)'" \
	bash -c "'$D' ps --filter name=good --format '{{.Status}}' | grep -Eq '^Up .* \\(healthy\\)$'"
check "FailingStreak is 0 when healthy" \
	test "$(ins '{{.State.Health.FailingStreak}}' good)" = 0
check "the Log keeps the probe's output and exit code" \
	bash -c "'$D' inspect -f '{{range .State.Health.Log}}{{.ExitCode}}:{{.Output}}{{end}}' good | grep -q '0:probe-out'"

# --- the shoal CLI's flags ------------------------------------------------------

track "$("$SHOAL" run -d --name viashoal --health-cmd 'exit 0' \
	--health-interval 200ms --health-retries 2 busybox sleep 60)"
check "shoal run --health-* applies the check" \
	until_true 10 health_is viashoal healthy
check "shoal run sends the interval and retries" \
	test "$(ins '{{.Config.Healthcheck.Interval}} {{.Config.Healthcheck.Retries}}' viashoal)" = "200ms 2"
out=$("$SHOAL" run -d --health-interval soon busybox true 2>&1)
check "shoal run refuses a bad --health-interval" \
	grep -q 'invalid argument "soon" for "--health-interval"' <<<"$out"

# --- a failing probe ----------------------------------------------------------

run_d bad --health-cmd 'echo nope >&2; exit 3' --health-interval 100ms \
	--health-retries 2 busybox sleep 60
check "Retries failures in a row make it unhealthy" \
	until_true 10 health_is bad unhealthy
check "ps shows '(unhealthy)'" \
	bash -c "'$D' ps --filter name=bad --format '{{.Status}}' | grep -q '(unhealthy)'"
log_full() { [ "$(ins '{{len .State.Health.Log}}' bad)" = 5 ]; }
check "the Log keeps the last 5 probes and no more" until_true 10 log_full
sleep 0.5
check "the Log stays at 5 probes" log_full
check "FailingStreak counts the failures (more than Retries by now)" \
	test "$(ins '{{.State.Health.FailingStreak}}' bad)" -ge 5
check "a failing probe's stderr and exit code are in the Log" \
	bash -c "'$D' inspect -f '{{range .State.Health.Log}}{{.ExitCode}}:{{.Output}}|{{end}}' bad | grep -q '3:nope'"

# --- a probe past its timeout -------------------------------------------------

run_d slow --health-cmd 'sleep 10' --health-interval 100ms \
	--health-timeout 300ms --health-retries 1 busybox sleep 60
check "a probe past its timeout makes it unhealthy" \
	until_true 10 health_is slow unhealthy
check "the Log says Docker's timeout sentence with ExitCode -1" \
	bash -c "'$D' inspect -f '{{range .State.Health.Log}}{{.ExitCode}}:{{.Output}}|{{end}}' slow | grep -q -- '-1:Health check exceeded timeout'"

# --- the start period ---------------------------------------------------------

run_d early --health-cmd 'exit 1' --health-interval 100ms \
	--health-retries 1 --health-start-period 60s busybox sleep 60
sleep 1.5
check "failures during the start period are not counted" \
	health_is early starting
check "... though they are logged" \
	test "$(ins '{{len .State.Health.Log}}' early)" -ge 3

# --- the image's HEALTHCHECK --------------------------------------------------

# A copy of busybox whose config has a HEALTHCHECK: saved, the config
# edited and renamed after its new digest, loaded back as busybox:hc.
"$D" save -o "$work/bb.tar" busybox:latest
python3 - "$work/bb.tar" "$work/bbhc.tar" <<'EOF'
import hashlib, io, json, sys, tarfile
src = tarfile.open(sys.argv[1])
files = {m.name: (m, src.extractfile(m).read() if m.isfile() else None)
         for m in src.getmembers()}
manifest = json.loads(files["manifest.json"][1])
old = manifest[0]["Config"]
cfg = json.loads(files[old][1])
cfg.setdefault("config", {})["Healthcheck"] = {
    "Test": ["CMD-SHELL", "echo from-image"],
    "Interval": 100000000, "Retries": 2}
data = json.dumps(cfg).encode()
new = hashlib.sha256(data).hexdigest() + ".json"
manifest[0]["Config"] = new
manifest[0]["RepoTags"] = ["busybox:hc"]
out = tarfile.open(sys.argv[2], "w")
def add(name, data, like=None):
    ti = like if like is not None else tarfile.TarInfo(name)
    ti.name, ti.size = name, len(data)
    out.addfile(ti, io.BytesIO(data))
for name, (m, d) in files.items():
    if name in (old, "manifest.json", "repositories"):
        continue
    if m.isfile():
        add(name, d, m)
    else:
        out.addfile(m)
add(new, data)
add("manifest.json", json.dumps(manifest).encode())
out.close()
EOF
"$D" load -i "$work/bbhc.tar" >/dev/null
run_d inherit busybox:hc sleep 60
check "the image's HEALTHCHECK runs without --health-cmd" \
	until_true 10 health_is inherit healthy
check "... with the image's command" \
	bash -c "'$D' inspect -f '{{range .State.Health.Log}}{{.Output}}{{end}}' inherit | grep -q from-image"
run_d nohc --no-healthcheck busybox:hc sleep 60
sleep 0.5
check "--no-healthcheck disables the image's check (no State.Health)" \
	test "$(ins '{{if .State.Health}}has{{else}}none{{end}}' nohc)" = none
check "ps shows no health for it" \
	bash -c "'$D' ps --filter name=nohc --format '{{.Status}}' | grep -vq '('"
run_d override --health-cmd 'exit 7' --health-retries 1 busybox:hc sleep 60
check "--health-cmd overrides the image's test, the image's interval kept" \
	until_true 10 health_is override unhealthy

# --- after a restart and a stop -------------------------------------------

"$D" restart -t 1 good >/dev/null
check "a restarted container is checked again" \
	until_true 10 health_is good healthy

# --- refusals -----------------------------------------------------------------

out=$(curl -s --unix-socket "$sock" -H 'Content-Type: application/json' \
	--data '{"Image":"busybox","Healthcheck":{"Test":["CMD","true"],"Interval":10}}' \
	http://x/v1.44/containers/create)
check "an Interval under 1ms is refused with dockerd's sentence" \
	grep -q "Interval in Healthcheck cannot be less than 1ms" <<<"$out"
out=$(curl -s --unix-socket "$sock" -H 'Content-Type: application/json' \
	--data '{"Image":"busybox","Healthcheck":{"Test":["BOGUS","true"]}}' \
	http://x/v1.44/containers/create)
check "an unknown test type is refused" \
	grep -q "Unknown healthcheck type 'BOGUS'" <<<"$out"
out=$(curl -s --unix-socket "$sock" -H 'Content-Type: application/json' \
	--data '{"Image":"busybox","Healthcheck":{"Test":["CMD","true"],"StartInterval":1000000000}}' \
	http://x/v1.44/containers/create)
check "StartInterval, not applied, is refused naming it" \
	grep -q "StartInterval" <<<"$out"

"$D" rm -f $(all_ids) >/dev/null
check "removing containers under probe leaves nothing running" \
	test -z "$(all_ids)"
finish
