#!/usr/bin/env bash
# The dual-stack mesh over an IPv6-only underlay, and IPv6 internet egress (issue 16
# part 2). The internet, the sites' WAN and LAN links have no IPv4 address: the controller
# listens on [2001:db8:ff::1]:8443, the hub endpoint is [2001:db8:ff::1]:51820.
#  - connectors enrol, fetch their config and hold their handshake over IPv6;
#  - a user reaches site B's server over the IPv6 mesh (the server sees its address), and
#    the hub's IPv4 mesh address too (IPv4 inside the tunnel, IPv6 outside);
#  - site A <-> site B over IPv6;
#  - IPv6 egress: network A is the egress, the full-tunnel user's IPv6 internet traffic
#    leaves through connector A (hub: ::/0 in the egress table for its interface;
#    connector: masquerade out of its uplink): the server on the internet sees site A's
#    public address. Site A's router masquerades its own LAN only, so without the
#    connector's masquerade the server would see the user's mesh address.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/topo.sh"
mg_setup mesh6ul

TOPO_V6=1 TOPO_V4=0
topo_internet
topo_site a 192.0.2 10
topo_site b 198.51.100 20
A6=$LAN6_a B6=$LAN6_b
na=$(topo_network site-a "\"subnets\":[\"$A6::/64\"],\"access\":[{\"cidr\":\"$A6::/64\",\"mode\":\"full\"}],\"egress\":true")
nb=$(topo_network site-b "\"subnets\":[\"$B6::/64\"],\"access\":[{\"cidr\":\"$B6::/64\",\"mode\":\"full\"}]")
# site A's router masquerades its own LAN only (as a home router does)
nsx "$R_a" nft flush chain ip6 sitenat post
nsx "$R_a" nft add rule ip6 sitenat post oifname wan ip6 saddr "$A6::/64" masquerade
topo_route_via_connector a "$B6::/64"
topo_route_via_connector b "$A6::/64"
topo_connector a "$na"
topo_connector b "$nb"

# a server on the internet, on a network of its own behind the internet namespace
WWW=$(ns_add www)
veth "$WWW" eth0 "$INET" "w$MG_ID"
ip -n "$INET" addr add 2001:db8:50::1/64 dev "w$MG_ID" nodad
ip -n "$WWW" addr add 2001:db8:50::80/64 dev eth0 nodad
ip -n "$WWW" -6 route add default via 2001:db8:50::1
topo_whoami "$WWW" 8080
topo_whoami "$S_b" 8080

# a full-tunnel user (its config: 0.0.0.0/0, ::/0)
U_NS=$(ns_add ufull)
_inet_port "$U_NS" eth0 203.0.113.50
out=$(api "$INET" POST /api/v1/users '{"name":"full","full_tunnel":true}')
[ "$(api_st)" = 201 ] || mg_fail "create user: $(api_st) $out"
U_IF="mgu$MG_ID"
mkdir -p "$MG_TMP/wgq"
jq -r .config <<<"$out" >"$MG_TMP/wgq/$U_IF.conf"
chmod 600 "$MG_TMP/wgq/$U_IF.conf"
conf=$(cat "$MG_TMP/wgq/$U_IF.conf")
assert_contains "$conf" "Endpoint = [$TOPO_NET6::1]:51820" "user's endpoint"
assert_contains "$conf" "AllowedIPs = 0.0.0.0/0, ::/0" "full-tunnel config"
U6=$(jq -r .address6 <<<"$out")
U6=${U6%/*}
nsx "$U_NS" wg-quick up "$MG_TMP/wgq/$U_IF.conf" >"$MG_TMP/wgq.log" 2>&1 ||
	mg_fail "wg-quick up: $(cat "$MG_TMP/wgq.log")"
topo_wait_applied a
topo_wait_applied b

mg_log "the underlay is IPv6 only"
for ns in "$C_a" "$C_b" "$R_a" "$R_b" "$S_a" "$U_NS"; do
	nsx "$ns" ip -4 -br addr show scope global >"$MG_TMP/v4addrs"
	grep -v "^mg" "$MG_TMP/v4addrs" >"$MG_TMP/v4under" || true
	assert_eq "$(cat "$MG_TMP/v4under")" "" "IPv4 addresses in $ns outside the tunnel"
done
assert_eq "$(nsx "$INET" ip -4 -br addr show dev br0)" "" "IPv4 on the internet bridge"
_handshake() { [ "$(nsx "$C_a" wg show "$IF_a" latest-handshakes | awk '{print $2}')" -gt 0 ]; }
wait_until 10 _handshake || mg_fail "connector A never shook hands with the hub"
assert_contains "$(nsx "$C_a" wg show "$IF_a" endpoints)" "[$TOPO_NET6::1]:51820" "A's hub endpoint"

_seen_is() { [ "$(topo_seen "$1" "$2")" = "$3" ]; }
mg_log "user -> site B over the IPv6 mesh; IPv4 inside the tunnel too"
wait_until 10 _seen_is "$U_NS" "http://[$B6::10]:8080/" "$U6" ||
	mg_fail "user -> [$B6::10]:8080 saw '$(topo_seen "$U_NS" "http://[$B6::10]:8080/")', want $U6"
ping_ok "$U_NS" 100.96.0.1 || mg_fail "user cannot ping the hub's IPv4 mesh address"

# diag NS...: their IPv6 routes, neighbours and addresses, and the WireGuard state of
# the hub and both connectors (for a failure's message)
diag() {
	local ns
	for ns in "$@"; do
		printf '== %s\n%s\n%s\n%s\n' "$ns" "$(nsx "$ns" ip -6 route)" "$(nsx "$ns" ip -6 neigh)" \
			"$(nsx "$ns" ip -6 -br addr)"
	done
	nsx "$INET" wg show "$HUB_IF"
	nsx "$C_a" wg show "$IF_a"
	nsx "$C_b" wg show "$IF_b"
}
mg_log "site A <-> site B over IPv6"
ping_ok "$S_a" "$B6::10" 10 || mg_fail "A cannot reach B: $(diag "$S_a" "$R_a" "$C_a" "$C_b" "$R_b" "$S_b")"
ping_ok "$S_b" "$A6::10" || mg_fail "B cannot reach A: $(diag "$S_b" "$R_b" "$C_b" "$C_a" "$R_a" "$S_a")"

mg_log "IPv6 egress: the full-tunnel user's internet traffic leaves by site A"
wait_until 10 _seen_is "$U_NS" "http://[2001:db8:50::80]:8080/" "$TOPO_NET6::10" ||
	mg_fail "the internet server saw '$(topo_seen "$U_NS" "http://[2001:db8:50::80]:8080/")', want site A's $TOPO_NET6::10"
nsx "$INET" ip -6 rule show >"$MG_TMP/rules6"
assert_contains "$(cat "$MG_TMP/rules6")" "iif $HUB_IF lookup 1109" "the hub's IPv6 egress rule"
assert_contains "$(nsx "$INET" ip -6 route show table 1109)" "default dev $HUB_IF" "the hub's IPv6 egress table"
# the hub's own traffic stays out of the tunnel: it reaches the server directly
assert_eq "$(topo_seen "$INET" "http://[2001:db8:50::80]:8080/")" "2001:db8:50::1" "the hub's host, directly"
mg_pass
