#!/usr/bin/env bash
# bench_failover: the traffic gap of an active/standby failover (docs/HA.md), in
# namespaces against the fake AWS (the topology of tests/integration/t_ha.sh: two
# connectors of one VPC network, an app host pinging a remote site every 100 ms through
# the VPC route). Each failure of the active connector is repeated N times (the role
# alternates between the two): kill -9 of the agent, SIGSTOP of the agent (resumed after
# the takeover), and its uplink taken down (up again after the takeover). Prints the gap
# (longest interval between two answers around the failure) per kind: p50 and max.
# Usage: sudo bench/bench_failover.sh [runs (20)] [build-dir]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-20}
export MG_BUILD=${2:-$ROOT/build}
[ -x "$MG_BUILD/agent/meshgate" ] || { echo "bench_failover: build first" >&2; exit 1; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
HA_BENCH=$N HA_BENCH_OUT=$out bash "$ROOT/tests/integration/t_ha.sh" >/dev/null 2>"$out.log" || {
	cat "$out.log" >&2
	rm -f "$out.log"
	exit 1
}
rm -f "$out.log"
cat "$out"
