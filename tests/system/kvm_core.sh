#!/usr/bin/env bash
# Runs in the kernel-WireGuard VM (t_kernel_wg.sh, t_kernel_wg_full.sh): one topology
# (controller with its hub, sites A and B, a remote user), all on kernel WireGuard:
#  1. A's agent runs with --wg-mode auto, B's with --wg-mode kernel: with the module
#     loaded, auto picks the kernel (A's log, the link kinds: A, B and the hub);
#  2. the flows: A's connector to the hub's mesh address, site A <-> site B both ways,
#     the user (wg-quick, kernel) to A's server;
#  3. a 4,096-route update of A's hub peer, split across generic netlink messages:
#     network B grows to 4,096 subnets (198.51.100.0/24 and 4,095 /30s of
#     198.18.0.0/15), A's hub peer gets 4,097 allowed IPs (with the mesh range) in one
#     update, which the agent sends in several messages (its debug log counts them: a
#     message is MNL_SOCKET_BUFFER_SIZE, one 4 KiB page here, ~140 IPv4 allowed IPs);
#     wg(8) reads the peer back (its own netlink dump): exactly the controller's list;
#     traffic to the first and the last subnet; the peer was updated in place, not
#     reset (its byte counters only grow);
#  4. a different 4,096 set (WGPEER_F_REPLACE_ALLOWEDIPS travels in the first message
#     only: a flag on a later part would keep only that part), then back to one subnet:
#     each time wg(8) shows exactly the new list.
# The argument picks how much: "small" (the CI core under TCG) site A alone (network B
# exists, without a connector: its subnets are A's routes all the same), steps 1 to 3
# without B, the user and the traffic to the new subnets; "short" (the CI core under
# KVM) steps 1 to 3; none: everything.
. "$MG_SRC/tests/integration/lib.sh"
. "$MG_SRC/tests/integration/topo.sh"
mg_setup kvm_core
level=${1:-full}
case $level in small | short | full) ;; *) mg_fail "unknown level $level" ;; esac
unset MG_WG_MODE
N=4096

# cidrs OFF COUNT: COUNT /30s of 198.18.0.0/15 starting at the OFF-th, as JSON strings
cidrs() {
	awk -v o="$1" -v n="$2" 'BEGIN {
		for (i = 0; i < n; i++) {
			a = (o + i) * 4; x = 18 + int(a / 65536); a = a % 65536
			printf "%s\"198.%d.%d.%d/30\"", (i ? "," : ""), x, int(a / 256), a % 256
		}
	}'
}
# the K-th /30, and its host address .1
nth30net() { awk -v k="$1" 'BEGIN { a = k * 4; x = 18 + int(a / 65536); a = a % 65536; printf "198.%d.%d.%d/30", x, int(a / 256), a % 256 }'; }
nth30() { awk -v k="$1" 'BEGIN { a = k * 4; x = 18 + int(a / 65536); a = a % 65536; printf "198.%d.%d.%d", x, int(a / 256), a % 256 + 1 }'; }
apif() {
	printf '%s' "$3" >"$MG_TMP/body.json"
	local out
	out=$(nsx "$INET" curl -sk --pinnedpubkey "$CTL_PIN" -X "$1" \
		-H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' \
		--data-binary "@$MG_TMP/body.json" -w '\n%{http_code}' "$CTL_URL$2")
	printf '%s' "${out##*$'\n'}" >"$MG_TMP/.api_status"
	printf '%s' "${out%$'\n'*}"
}
# allowed IPs of A's hub peer as wg(8) shows them, one a line, sorted
wg_allowed() {
	nsx "$C_a" wg show "$IF_a" allowed-ips >"$MG_TMP/wg-aips"
	awk '{ for (i = 2; i <= NF; i++) print $i }' "$MG_TMP/wg-aips" | sort
}
# the list the controller gives A: its routes (config.json), sorted
want_allowed() { jq -r '.routes[]' "$STATE_a/config.json" | sort; }
# wait_routes COUNT: A applied a config with COUNT routes, and wg(8) shows exactly them
_routes_are() {
	[ "$(jq '.routes | length' "$STATE_a/config.json" 2>/dev/null)" = "$1" ] &&
		[ "$(nsx "$C_a" ip route show proto 109 dev "$IF_a" | wc -l)" = "$1" ]
}
wait_routes() {
	wait_until 60 _routes_are "$1" ||
		mg_fail "A never applied $1 routes: $(jq '.routes | length' "$STATE_a/config.json"), $(tail -5 "$MG_TMP/run-a.log")"
	wg_allowed >"$MG_TMP/got"
	want_allowed >"$MG_TMP/want"
	assert_eq "$(wc -l <"$MG_TMP/want")" "$1" "routes in A's config"
	diff "$MG_TMP/want" "$MG_TMP/got" >"$MG_TMP/diff" ||
		mg_fail "wg(8) allowed IPs differ from the controller's routes ($(wc -l <"$MG_TMP/got") shown): $(head -5 "$MG_TMP/diff")"
}
# the agent's last "N allowed IP(s) set in M netlink message(s)" for $IF_a: prints M
last_parts() {
	sed -n "s/.*WireGuard $IF_a: [0-9]* peer(s), $1 allowed IP(s) set in \([0-9]*\) netlink.*/\1/p" \
		"$MG_TMP/run-a.log" >"$MG_TMP/parts"
	tail -n 1 "$MG_TMP/parts"
}
handshake() { nsx "$C_a" wg show "$IF_a" latest-handshakes | awk '{ print $2 }'; }
# bytes through A's hub peer (received + sent): a peer removed and added again (a reset)
# starts from 0; a handshake alone proves nothing over minutes (WireGuard rekeys every
# 2 minutes, and under TCG this test runs longer)
transfer() { nsx "$C_a" wg show "$IF_a" transfer | awk '{ s += $2 + $3 } END { print s + 0 }'; }
# not_reset LABEL: the peer's byte count did not go back since the last call
not_reset() {
	local now
	now=$(transfer)
	[ "$now" -ge "$bytes" ] || mg_fail "$1: A's hub peer counts $now bytes, had $bytes (tunnel reset?)"
	bytes=$now
}

topo_internet
topo_site a 192.0.2 10
[ "$level" = small ] || topo_site b 198.51.100 20
topo_route_via_connector a 198.18.0.0/15
topo_route_via_connector a 198.51.100.0/24
[ "$level" = small ] || topo_route_via_connector b 192.0.2.0/24
na=$(topo_network site-a '"subnets":["192.0.2.0/24"],"access":[{"cidr":"192.0.2.0/24","mode":"full"}]')
nb=$(topo_network site-b '"subnets":["198.51.100.0/24"],"access":[{"cidr":"198.51.100.0/24","mode":"full"},{"cidr":"198.18.0.0/15","mode":"full"}]')
topo_connector a "$na" --wg-mode auto
[ "$level" = small ] || topo_connector b "$nb" --wg-mode kernel
topo_wait_applied a
[ "$level" = small ] || topo_wait_applied b

mg_log "1. auto picks the kernel"
topo_check_wg_mode a kernel
[ "$level" = small ] || topo_check_wg_mode b kernel
assert_contains "$(cat "$MG_TMP/run-a.log")" "tunnel $IF_a created (kernel WireGuard)" "A's choice (auto)"
assert_eq "$(ip -n "$INET" -d -j link show dev "$HUB_IF" | jq -r '.[0].linkinfo.info_kind')" wireguard "the hub's link"

mg_log "2. A's connector to the hub$([ "$level" = small ] || echo ", site A <-> site B, the user to site A")"
hub_addr=$(api "$INET" GET /api/v1/hub | jq -r '.address // empty')
[ -n "$hub_addr" ] || mg_fail "no hub address"
ping_ok "$C_a" "${hub_addr%/*}" 10 || mg_fail "A's connector cannot reach the hub (${hub_addr%/*})"
if [ "$level" != small ]; then
	ping_ok "$S_a" 198.51.100.10 10 || mg_fail "A cannot reach B"
	ping_ok "$S_b" 192.0.2.10 10 || mg_fail "B cannot reach A"
	topo_user alice
	assert_eq "$(ip -n "$U_NS" -d -j link show dev "$U_IF" | jq -r '.[0].linkinfo.info_kind')" wireguard "the user's wg-quick link"
	ping_ok "$U_NS" 192.0.2.10 10 || mg_fail "the user cannot reach A's server"
fi
wait_routes 2
[ "$(handshake)" -gt 0 ] || mg_fail "no handshake on A"
bytes=$(transfer)

mg_log "3. network B grows to $N subnets"
t0=$(now_ms)
apif PATCH "/api/v1/networks/$nb" "{\"subnets\":[\"198.51.100.0/24\",$(cidrs 0 $((N - 1)))]}" >/dev/null
[ "$(api_st)" = 200 ] || mg_fail "PATCH network B: $(api_st)"
wait_routes $((N + 1))
mg_log "A applied $((N + 1)) routes in $(($(now_ms) - t0)) ms"
parts=$(last_parts $((N + 1)))
mg_log "the agent sent them in ${parts:-?} netlink messages"
[ -n "$parts" ] && [ "$parts" -ge 10 ] || mg_fail "$((N + 1)) allowed IPs in '${parts}' messages (want >= 10: 4 KiB each)"

not_reset "after the update"
[ "$level" = small ] && mg_pass
mg_log "traffic to the first and the last of them"
nsx "$C_b" ip addr add "$(nth30 0)/32" dev lo
nsx "$C_b" ip addr add "$(nth30 $((N - 2)))/32" dev lo
ping_ok "$S_a" "$(nth30 0)" 10 || mg_fail "no traffic to the first subnet"
ping_ok "$S_a" "$(nth30 $((N - 2)))" 5 || mg_fail "no traffic to the last /30 ($(nth30 $((N - 2))))"
not_reset "after the update"

[ "$level" = short ] && mg_pass
mg_log "4. another $N (half of them new), then one subnet again"
apif PATCH "/api/v1/networks/$nb" "{\"subnets\":[\"198.51.100.0/24\",$(cidrs $((N / 2)) $((N - 1)))]}" >/dev/null
[ "$(api_st)" = 200 ] || mg_fail "PATCH network B: $(api_st)"
last=$((N / 2 + N - 2))
_moved() { want_allowed >"$MG_TMP/moved" && grep -qxF "$(nth30net $last)" "$MG_TMP/moved"; }
wait_until 60 _moved || mg_fail "A never got the second set"
wait_routes $((N + 1))
nsx "$C_b" ip addr add "$(nth30 $last)/32" dev lo
ping_ok "$S_a" "$(nth30 $last)" 5 || mg_fail "no traffic to the last of the second set"
if ping_ok "$S_a" "$(nth30 0)" 2; then mg_fail "traffic to a subnet the second set dropped"; fi
apif PATCH "/api/v1/networks/$nb" '{"subnets":["198.51.100.0/24"]}' >/dev/null
[ "$(api_st)" = 200 ] || mg_fail "PATCH network B: $(api_st)"
wait_routes 2
ping_ok "$S_a" 198.51.100.10 5 || mg_fail "A cannot reach B after the updates"
not_reset "after three updates"
mg_pass
