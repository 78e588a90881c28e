#!/usr/bin/env bash
# bench_scale: how long 10,000 routes and 10,000 NAT exclusions take to apply end to end
# (docs/LIMITS.md), in namespaces of its own (the tests' topology: a controller with its
# hub, sites A and B with a connector each):
#   1. the controller's answer to a network with N subnets, then to N exclusions;
#   2. connector A applying N + 1 routes (kernel routes and the hub peer's allowed IPs)
#      after network B gets N subnets: admin PATCH to A's status naming the new version
#      (the hub's routes and allowed IPs to B are in place when the controller answers);
#   3. connector A applying N NAT exclusions (one nftables interval set).
# Usage: sudo bench/bench_scale.sh [build-dir] [N]      (N defaults to 10,000)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export MG_BUILD=${1:-$ROOT/build}
export MG_SRC=$ROOT
N=${2:-10000}
. "$ROOT/tests/integration/lib.sh"
. "$ROOT/tests/integration/topo.sh"
mg_setup bench_scale

cidrs() { # FIRST COUNT STEP LEN, as in t_scale_limits.sh
	awk -v o="$1" -v n="$2" -v s="$3" -v l="$4" 'BEGIN {
		for (i = 0; i < n; i++) {
			a = i * s; x = o + int(a / 65536); a = a % 65536
			printf "%s\"198.%d.%d.%d/%d\"", (i ? "," : ""), x, int(a / 256), a % 256, l
		}
	}'
}
apif() { # METHOD PATH JSON (the body through a file: far past one argument's limit)
	printf '%s' "$3" >"$MG_TMP/body.json"
	nsx "$INET" curl -sk --pinnedpubkey "$CTL_PIN" -X "$1" -o "$MG_TMP/answer.json" \
		-H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' \
		--data-binary "@$MG_TMP/body.json" -w '%{http_code}' "$CTL_URL$2"
}
ms_since() { echo $(($(now_ms) - $1)); }
applied() { jq -r '.applied_version // 0' "$STATE_a/status.json" 2>/dev/null || echo 0; }
version_of_a() { api "$INET" GET "/api/v1/connectors/$CA" | jq -r .config_version; }

topo_internet
topo_site a 192.0.2 10
topo_site b 198.51.100 20
topo_route_via_connector a 198.18.0.0/15
topo_route_via_connector a 198.51.100.0/24
topo_route_via_connector b 192.0.2.0/24
na=$(topo_network site-a '"subnets":["192.0.2.0/24"],"nat":{"enabled":true},"access":[{"cidr":"192.0.2.0/24","mode":"full"}]')
nb=$(topo_network site-b '"subnets":["198.51.100.0/24"],"access":[{"cidr":"198.51.100.0/24","mode":"full"}]')
topo_connector a "$na"
topo_connector b "$nb"
topo_wait_applied a
topo_wait_applied b
CA=$(api "$INET" GET /api/v1/connectors | jq -r '.connectors[] | select(.name == "site-a") | .id')

echo "bench_scale: N = $N (load $(cut -d' ' -f1 /proc/loadavg))"
body="{\"subnets\":[\"198.51.100.0/24\",$(cidrs 18 $((N - 1)) 4 30)]}"
t0=$(now_ms)
st=$(apif PATCH "/api/v1/networks/$nb" "$body")
[ "$st" = 200 ] || mg_fail "PATCH B: $st $(head -c 300 "$MG_TMP/answer.json")"
printf '  controller: network with %d subnets accepted, stored, rendered:  %6d ms\n' "$N" "$(ms_since "$t0")"
want=$(version_of_a)
wait_until 120 sh -c "[ \"\$(jq -r '.applied_version // 0' '$STATE_a/status.json')\" -ge $want ]" ||
	mg_fail "A never applied version $want"
printf '  agent A: %d routes applied (PATCH to applied):                %6d ms\n' "$((N + 1))" "$(ms_since "$t0")"
# the hub is synced inside the controller's commit, before its answer
hub=$(nsx "$INET" ip route show proto 110 | wc -l)
[ "$hub" -ge $((N + 1)) ] || mg_fail "hub routes: $hub"
printf '  hub: %d routes (and %d allowed IPs of B) in place at the answer\n' "$hub" \
	"$(nsx "$INET" wg show "$HUB_IF" allowed-ips | awk '{ if (NF - 1 > m) m = NF - 1 } END { print m }')"
[ "$(nsx "$C_a" ip route show proto 109 | wc -l)" -ge $((N + 1)) ] || mg_fail "A's routes"

body="{\"nat\":{\"exclude\":[$(cidrs 19 "$N" 4 31)]}}"
t0=$(now_ms)
st=$(apif PATCH "/api/v1/networks/$na" "$body")
[ "$st" = 200 ] || mg_fail "PATCH A: $st $(head -c 300 "$MG_TMP/answer.json")"
printf '  controller: %d exclusions accepted, stored, rendered:          %6d ms\n' "$N" "$(ms_since "$t0")"
want=$(version_of_a)
wait_until 120 sh -c "[ \"\$(jq -r '.applied_version // 0' '$STATE_a/status.json')\" -ge $want ]" ||
	mg_fail "A never applied version $want"
printf '  agent A: %d NAT exclusions applied (PATCH to applied):        %6d ms\n' "$N" "$(ms_since "$t0")"
ping_ok "$S_a" 198.51.100.10 10 || mg_fail "no traffic A -> B after the apply"
mg_pass
