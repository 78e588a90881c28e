#!/usr/bin/env bash
# bench_mem: the agent's memory (`meshgate run`), read from /proc/PID/smaps_rollup once
# its config is applied: USS (private: Private_Clean + Private_Dirty, what this process
# alone costs), PSS (shared pages divided among their users) and RSS; plus the mapped
# libraries' share of RSS. Two configs, in namespaces of its own (tests/integration's
# topology: controller-mock with its hub, one site):
#   small: one network, one subnet, no exclusions
#   large: ROUTES routes (other networks' subnets) and EXCL NAT exclusions
#          (defaults: 1000 routes, under the agent's cap of 1024 "cloud.destinations"
#          (the mock copies every route there), and 3000 exclusions, what fits in one
#          PATCH under the mock's 64 KiB body limit; ROUTES=10000 EXCL=10000 once the
#          limits allow)
# Usage: sudo bench/bench_mem.sh [build-dir]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export MG_BUILD=${1:-$ROOT/build}
ROUTES=${ROUTES:-1000}
EXCL=${EXCL:-3000}
# shellcheck source=../tests/integration/lib.sh
source "$ROOT/tests/integration/lib.sh"
# shellcheck source=../tests/integration/topo.sh
source "$ROOT/tests/integration/topo.sh"
mg_setup bench_mem

# kB figures of one process: "uss pss rss anon libs" (libs: RSS of mapped .so files)
mem_of() {
	local pid=$1
	awk '/^Rss:/ {rss=$2} /^Pss:/ {pss=$2} /^Private_Clean:/ {pc=$2} /^Private_Dirty:/ {pd=$2}
	     /^Anonymous:/ {an=$2} END {print pc+pd, pss, rss, an}' "/proc/$pid/smaps_rollup"
}
libs_of() {
	awk '/^[0-9a-f]+-[0-9a-f]+ / {lib = ($6 ~ /\.so/) ? $6 : ""} /^Rss:/ && lib != "" {s += $2} END {print s+0}' \
		"/proc/$1/smaps"
}
report() {
	local label=$1 pid=$2 m
	m=$(mem_of "$pid")
	read -r uss pss rss anon <<<"$m"
	printf '%-7s USS %6.2f MiB  PSS %6.2f MiB  RSS %6.2f MiB  (anonymous %.2f MiB, libraries %.2f MiB of RSS, %d libraries mapped)\n' \
		"$label" "$(bc -l <<<"$uss/1024")" "$(bc -l <<<"$pss/1024")" "$(bc -l <<<"$rss/1024")" \
		"$(bc -l <<<"$anon/1024")" "$(bc -l <<<"$(libs_of "$pid")/1024")" \
		"$(awk '$6 ~ /\.so/ {print $6}' "/proc/$pid/maps" | sort -u | wc -l)"
}

# CIDR number i (0-based) in 10.0.0.0/8 as /24s, and in 172.16.0.0/12 as /28s
route_cidr() { echo "10.$(($1 / 256 % 256)).$(($1 % 256)).0/24"; }
excl_cidr() { local i=$1; echo "172.$((16 + i / 4096)).$((i / 16 % 256)).$((i % 16 * 16))/28"; }

topo_internet
topo_site a 192.168.10 10
A=$(topo_network A '"subnets":["192.168.10.0/24"]')
topo_connector a "$A"
topo_wait_applied a 60
sleep 2
report small "$PID_a"

# the large config: exclusions on A, ROUTES subnets in other networks (250 each)
# (the body goes through a file: 10,000 exclusions are more than one argument may hold)
for i in $(seq 0 $((EXCL - 1))); do excl_cidr "$i"; done | jq -R . |
	jq -sc '{nat: {enabled: true, exclude: .}}' >"$MG_TMP/excl.json"
st=$(nsx "$INET" curl -sk --pinnedpubkey "$CTL_PIN" -X PATCH -o /dev/null -w '%{http_code}' \
	-H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' \
	--data-binary "@$MG_TMP/excl.json" "$CTL_URL/api/v1/networks/$A")
[ "$st" = 200 ] || mg_fail "exclusions: $st"
i=0
k=0
while [ $i -lt "$ROUTES" ]; do
	n=$((ROUTES - i < 250 ? ROUTES - i : 250))
	subs=$(for j in $(seq $i $((i + n - 1))); do route_cidr "$j"; done | jq -R . | jq -sc .)
	topo_network "R$k" "\"subnets\":$subs" >/dev/null
	i=$((i + n))
	k=$((k + 1))
done
v=$(api "$INET" GET /api/v1/connectors | jq '.connectors[0].config_version')
wait_until 120 sh -c "[ \"\$(jq -r '.applied_version // 0' '$STATE_a/status.json')\" -ge $v ]" ||
	mg_fail "large config not applied: $(tail -5 "$MG_TMP/run-a.log")"
sleep 2
got_routes=$(ip -n "$C_a" route show proto 109 | wc -l)
report large "$PID_a"
echo "        ($got_routes routes of protocol 109, $EXCL exclusions applied)"
