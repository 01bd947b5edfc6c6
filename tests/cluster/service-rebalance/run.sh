#!/usr/bin/env bash
# `shoal service update --rebalance` (beyond Docker; the API's
# ?rebalance=true): 3 hosts, 6 replicas spread 2/2/2; h3 drained (its
# tasks move to h1 and h2); h3 active again (nothing moves by itself, as
# on Docker); --rebalance spreads them back to 2/2/2. A rebalance of a
# global service is refused; --rebalance with --rollback is refused.
# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/cluster/service-lib.sh
. "$(dirname "$0")/../service-lib.sh"

svc_lab 3
lab exec h1 shoal service create --name web --replicas 6 \
	--stop-grace-period 1s busybox sleep 100000 >/dev/null
spread() { svc_count web 6 && svc_on h1 web 2 && svc_on h2 web 2 && svc_on h3 web 2; }
assert_eventually "6 replicas run 2/2/2" 30 spread

note "drain h3: its tasks move"
lab exec h1 shoal node update --availability drain h3 >/dev/null
moved() { svc_count web 6 && svc_on h3 web 0; }
assert_eventually "h3 runs none, 6 run on h1 and h2" 30 moved
lab exec h1 shoal node update --availability active h3 >/dev/null
sleep 2
assert_ok "activating h3 moves nothing by itself" moved

note "--rebalance"
out=$(lab exec h1 shoal service update --rebalance web 2>&1)
assert_contains "the update converges" "converged" "$out"
assert_eventually "the tasks are spread 2/2/2 again" 30 spread

assert_fails "--rebalance with --rollback is refused" \
	lab exec h1 shoal service update -d --rebalance --rollback web
lab exec h1 shoal service create -d --name everywhere --mode global \
	busybox sleep 100000 >/dev/null
out=$(lab exec h1 shoal service update -d --rebalance everywhere 2>&1 || true)
assert_contains "a global service cannot be rebalanced" \
	"rebalance applies to replicated services only" "$out"
