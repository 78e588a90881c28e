#!/usr/bin/env bash
# mg-labels: long
# One set of limits, at scale, end to end (issue 16 part 5; docs/LIMITS.md):
#  - network B has N subnets (default 10,000): connector A routes all of them (N + 1
#    routes with the mesh range) and the hub routes them to B; network A has N NAT
#    exclusions (one of them its server's address). The controller accepts it, both
#    agents apply it (kernel routes, the hub peer's allowed IPs, one nftables set);
#  - traffic from A's server reaches the first and the last of B's subnets, and the
#    exclusions work (the servers at an excluded host and in an excluded prefix see B's
#    address, the one at another address sees the connector's: each length in the
#    agent's hash sets);
#  - over the limits: the controller answers limit_reached naming the limit (per list
#    400, all networks together 409), a body over the limit 413; the agent's config
#    parser refuses a document over a limit with the number.
# MG_SCALE_N sets N (t_scale_small.sh runs it with a few hundred for CI).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/topo.sh"
mg_setup "${MG_SCALE_NAME:-scale_limits}"
N=${MG_SCALE_N:-10000}
# the limits, from the one table (lib/mg_limits.h)
limit() { sed -n "s/^#define $1 \([0-9]*\).*/\1/p" "$MG_SRC/lib/mg_limits.h"; }
L_SUBNETS=$(limit MG_LIMIT_SUBNETS)
L_EXCLUDES=$(limit MG_LIMIT_EXCLUDES)
[ -n "$L_SUBNETS" ] && [ -n "$L_EXCLUDES" ] || mg_fail "cannot read lib/mg_limits.h"
L_ROUTES=$((L_SUBNETS + 2))
[ "$L_ROUTES" -ge 10000 ] && [ "$L_EXCLUDES" -ge 10000 ] || mg_fail "limits below 10,000"

# cidrs FIRST COUNT STEP LEN: COUNT CIDRs /LEN in 198.FIRST.0.0/16, STEP addresses apart,
# as JSON strings separated by commas (the benchmarking range 198.18.0.0/15)
cidrs() {
	awk -v o="$1" -v n="$2" -v s="$3" -v l="$4" 'BEGIN {
		for (i = 0; i < n; i++) {
			a = i * s; x = o + int(a / 65536); a = a % 65536
			printf "%s\"198.%d.%d.%d/%d\"", (i ? "," : ""), x, int(a / 256), a % 256, l
		}
	}'
}
# apif METHOD PATH JSON: an admin call with a body of any size (read from a file, not
# an argument: these bodies are far past the kernel's limit for one argument)
apif() {
	printf '%s' "$3" >"$MG_TMP/body.json"
	local out
	out=$(nsx "$INET" curl -sk --pinnedpubkey "$CTL_PIN" -X "$1" \
		-H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' \
		--data-binary "@$MG_TMP/body.json" -w '\n%{http_code}' "$CTL_URL$2")
	printf '%s' "${out##*$'\n'}" >"$MG_TMP/.api_status"
	printf '%s' "${out%$'\n'*}"
}
# the host address .1 of the K-th /30 of cidrs 18 ...
nth30() { awk -v k="$1" 'BEGIN { a = k * 4; printf "198.18.%d.%d", int(a / 256), a % 256 + 1 }'; }

topo_internet
topo_site a 192.0.2 10
topo_site b 198.51.100 20
topo_route_via_connector a 198.18.0.0/15
topo_route_via_connector a 198.51.100.0/24
topo_route_via_connector b 192.0.2.0/24

mg_log "network B: $N subnets; network A: $N NAT exclusions"
nb_subnets="\"198.51.100.0/24\",$(cidrs 18 $((N - 1)) 4 30)"
nb=$(apif POST /api/v1/networks "{\"name\":\"site-b\",\"subnets\":[$nb_subnets],\"access\":[{\"cidr\":\"198.51.100.0/24\",\"mode\":\"full\"},{\"cidr\":\"198.18.0.0/16\",\"mode\":\"full\"}]}" | jq -r .id)
[ "$(api_st)" = 201 ] || mg_fail "network B: $(api_st)"
# exclusions: /31s and hosts (/32) of 198.19.0.0/16 by halves, the host 192.0.2.10/32 and
# the prefix 192.0.2.12/31 (the agent holds each length in a hash set: both must work)
excl="$(awk -v n=$((N / 2 - 1)) 'BEGIN {
	for (i = 0; i < n; i++) {
		a = i * 4
		printf "%s\"198.19.%d.%d/31\",\"198.19.%d.%d/32\"", (i ? "," : ""), int(a / 256), a % 256, int(a / 256), a % 256 + 2
	}
}'),\"192.0.2.10/32\",\"192.0.2.12/31\""
[ $((N % 2)) = 0 ] || excl="$excl,\"198.19.255.0/24\""
t0=$(now_ms)
na=$(apif POST /api/v1/networks "{\"name\":\"site-a\",\"subnets\":[\"192.0.2.0/24\"],\"nat\":{\"enabled\":true,\"exclude\":[$excl]},\"access\":[{\"cidr\":\"192.0.2.0/24\",\"mode\":\"full\"}]}" | jq -r .id)
[ "$(api_st)" = 201 ] || mg_fail "network A: $(api_st)"
mg_log "controller took both networks in $(($(now_ms) - t0)) ms"
assert_eq "$(api "$INET" GET "/api/v1/networks/$nb" | jq '.subnets | length')" "$N" "B's subnets stored"
assert_eq "$(api "$INET" GET "/api/v1/networks/$na" | jq '.nat.exclude | length')" "$N" "A's exclusions stored"

t0=$(now_ms)
topo_connector a "$na"
topo_connector b "$nb"
topo_wait_applied a 120
topo_wait_applied b 120
mg_log "both agents applied in $(($(now_ms) - t0)) ms (enrolment included)"

mg_log "programmed: kernel routes, WireGuard allowed IPs, nftables set, hub"
routes_a=$(nsx "$C_a" ip route show proto 109 dev "$IF_a" | wc -l)
[ "$routes_a" -eq $((N + 1)) ] || mg_fail "connector A has $routes_a tunnel routes, want $((N + 1))"
allowed_a=$(nsx "$C_a" wg show "$IF_a" allowed-ips | awk '{ print NF - 1 }')
# the two mesh ranges and B's subnets
[ "$allowed_a" -eq $((N + 2)) ] || mg_fail "A's hub peer has $allowed_a allowed IPs, want $((N + 2))"
hub_routes=$(nsx "$INET" ip route show proto 110 | wc -l)
[ "$hub_routes" -eq $((N + 1)) ] || mg_fail "the hub has $hub_routes routes, want $((N + 1))"
nft_json=$(nsx "$C_a" nft -j list table inet meshgate)
# the exclusions: a hash set of the /31s, one of the hosts (each holding its own and
# 192.0.2.x's), the interval set the rest
n31=$(jq '[.nftables[] | select(.set.name == "nat_ex4_31") | .set.elem[]] | length' <<<"$nft_json")
n32=$(jq '[.nftables[] | select(.set.name == "nat_ex4_32") | .set.elem[]] | length' <<<"$nft_json")
assert_eq "$n31 $n32" "$((N / 2)) $((N / 2))" "exclusions in the /31 and /32 hash sets"

mg_log "traffic from A's server to the first and the last of B's subnets"
nsx "$C_b" ip addr add "$(nth30 0)/32" dev lo
nsx "$C_b" ip addr add "$(nth30 $((N - 2)))/32" dev lo
ping_ok "$S_a" "$(nth30 0)" 15 || mg_fail "no traffic to the first subnet ($(nth30 0))"
ping_ok "$S_a" "$(nth30 $((N - 2)))" 5 || mg_fail "no traffic to $(nth30 $((N - 2)))"
ping_ok "$S_a" 198.51.100.10 5 || mg_fail "no traffic to the last subnet (198.51.100.0/24)"

mg_log "NAT exclusions among $N: excluded host and prefix see B, the other sees the connector"
for a in 192.0.2.11 192.0.2.13; do ip -n "$S_a" addr add "$a/24" dev eth0; done
for a in 192.0.2.10 192.0.2.11 192.0.2.13; do
	bg_start "$S_a" "$MG_TMP/srv-$a.log" nc -n -v -l -p 8080 -s "$a"
done
wait_until 5 nsx "$S_a" sh -c 'ss -ltn | grep -c ":8080" | grep -q 3' || mg_fail "servers not listening"
for a in 192.0.2.10 192.0.2.11 192.0.2.13; do
	echo "hello $a" | nsx "$S_b" nc -N -w2 "$a" 8080 || mg_fail "TCP to $a failed"
	wait_until 3 grep -q "hello $a" "$MG_TMP/srv-$a.log" || mg_fail "no data at $a"
done
assert_contains "$(cat "$MG_TMP/srv-192.0.2.10.log")" 198.51.100.10 "excluded host (/32) not masqueraded"
assert_contains "$(cat "$MG_TMP/srv-192.0.2.13.log")" 198.51.100.10 "excluded prefix (/31) not masqueraded"
assert_contains "$(cat "$MG_TMP/srv-192.0.2.11.log")" 192.0.2.2 "other destination masqueraded"

mg_log "over the limits"
# one list over its limit: 400 limit_reached naming the limit and the number
out=$(apif PATCH "/api/v1/networks/$na" "{\"nat\":{\"exclude\":[$(cidrs 19 $((L_EXCLUDES + 1)) 2 32)]}}")
assert_eq "$(api_st)" 400 "exclusions over the limit ($out)"
assert_eq "$(jq -r .error.code <<<"$out")" limit_reached "code"
assert_contains "$(jq -r .error.message <<<"$out")" "$((L_EXCLUDES + 1)) entries, more than the limit of $L_EXCLUDES" "message"
# all networks together over the subnet limit: 409 limit_reached
more=$((L_SUBNETS - N + 1))
out=$(apif PATCH "/api/v1/networks/$na" "{\"subnets\":[\"192.0.2.0/24\",$(cidrs 19 $((more - 1)) 2 31)]}")
assert_eq "$(api_st)" 409 "subnets of all networks over the limit ($out)"
assert_eq "$(jq -r .error.code <<<"$out")" limit_reached "code"
assert_contains "$(jq -r .error.message <<<"$out")" "$((L_SUBNETS + 1)) subnets, more than the limit of $L_SUBNETS" "message"
# exactly at the limit is fine, and nothing changed by the refusals
out=$(apif PATCH "/api/v1/networks/$na" "{\"subnets\":[\"192.0.2.0/24\",$(cidrs 19 $((more - 2)) 2 31)]}")
assert_eq "$(api_st)" 200 "subnets of all networks at the limit (${out:0:300})"
assert_eq "$(jq '.nat.exclude | length' <<<"$out")" "$N" "exclusions unchanged by the refused PATCH"
# the agent's parser: a config over a limit is refused, with the number
jq --argjson n $((L_EXCLUDES + 1)) '.nat.exclude = [range(0; $n) | "198.19.\(. / 256 | floor).\(. % 256)/32"]' \
	"$STATE_a/config.json" >"$MG_TMP/over.json"
if nsx "$C_a" "$MG_TOOLS/mg_nfttool" apply "$IF_a" "$MG_TMP/over.json" >"$MG_TMP/over.log" 2>&1; then
	mg_fail "the agent's parser took $((L_EXCLUDES + 1)) exclusions"
fi
assert_contains "$(cat "$MG_TMP/over.log")" "has $((L_EXCLUDES + 1)) entries, more than the limit of $L_EXCLUDES" "agent refusal"
mg_pass
