#!/usr/bin/env bash
# The dual-stack mesh (issue 16 part 2) over an IPv4 underlay: the controller's IPv6 mesh
# range (default fd6d:6773::/64) gives every connector and user an IPv6 address beside
# its IPv4 one, and the v4 data-path scenarios work again over IPv6:
#  - the hub holds fd6d:6773::1, its peers have their /32 and /128; connectors carry
#    the IPv6 address and the route of the IPv6 mesh range; the user's wg-quick config
#    has both addresses and both mesh ranges;
#  - user -> site A's server over IPv6 (the server sees the user's IPv6 mesh address);
#  - access control: A allows tcp/8080 on its IPv6 subnet, tcp/8081 and ICMP are dropped
#    (and the ruleset read back holds the IPv6 set);
#  - NAT with an exclusion at site B: the server's NATed address sees B's connector, the
#    excluded one the user's mesh address;
#  - site A <-> site B over IPv6, addresses kept;
#  - a restart with --mesh-range6 none: the hub and connector A drop their IPv6 mesh
#    addresses and route, IPv4 keeps flowing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/topo.sh"
mg_setup mesh6

TOPO_V6=1
topo_internet
topo_site a 192.0.2 10
topo_site b 198.51.100 20
A6=$LAN6_a B6=$LAN6_b
# a second address of B's server: B masquerades what goes to it, not what goes to ::10
ip -n "$S_b" addr add "$B6::11/64" dev eth0 nodad preferred_lft 0 # never a source
na=$(topo_network site-a "\"subnets\":[\"192.0.2.0/24\",\"$A6::/64\"],\"access\":[{\"cidr\":\"192.0.2.0/24\",\"mode\":\"full\"},{\"cidr\":\"$A6::/64\",\"mode\":\"ports\",\"ports\":[\"tcp/8080\"]}]")
nb=$(topo_network site-b "\"subnets\":[\"198.51.100.0/24\",\"$B6::/64\"],\"access\":[{\"cidr\":\"198.51.100.0/24\",\"mode\":\"full\"},{\"cidr\":\"$B6::/64\",\"mode\":\"full\"}],\"nat\":{\"enabled\":true,\"exclude\":[\"$B6::10/128\"]}")
topo_route_via_connector a "$B6::/64"
topo_route_via_connector b "$A6::/64"
topo_connector a "$na"
topo_connector b "$nb"
topo_whoami "$S_a" 8080 8081
topo_whoami "$S_b" 8080
topo_user alice
topo_wait_applied a
topo_wait_applied b

mg_log "controller: hub, connectors and the user hold IPv6 mesh addresses"
hub=$(api "$INET" GET /api/v1/hub)
assert_eq "$(jq -r .mesh_range6 <<<"$hub")" "$TOPO_MESH6" "hub's mesh_range6"
assert_eq "$(jq -r .address6 <<<"$hub")" "fd6d:6773::1/64" "hub's address6"
assert_contains "$(nsx "$INET" ip -6 -br addr show dev "$HUB_IF")" "fd6d:6773::1/64" "hub interface"
conns=$(api "$INET" GET /api/v1/connectors)
A_ADDR6=$(jq -r --arg n "$na" '.connectors[] | select(.network_id == $n) | .tunnel_address6' <<<"$conns")
A_PUB=$(jq -r --arg n "$na" '.connectors[] | select(.network_id == $n) | .public_key' <<<"$conns")
case $A_ADDR6 in fd6d:6773::*) ;; *) mg_fail "connector A's tunnel_address6: $A_ADDR6" ;; esac
assert_contains "$(nsx "$C_a" ip -6 -br addr show dev "$IF_a")" "$A_ADDR6/64" "A's tunnel address"
assert_contains "$(nsx "$C_a" ip -6 route show proto 109)" "$TOPO_MESH6 dev $IF_a" "A's IPv6 mesh route"
allowed=$(nsx "$INET" wg show "$HUB_IF" allowed-ips)
assert_contains "$allowed" "$A_PUB	" "A is a hub peer"
grep -F "$A_PUB" <<<"$allowed" >"$MG_TMP/a-allowed"
assert_contains "$(cat "$MG_TMP/a-allowed")" "$A_ADDR6/128" "A's /128 at the hub"
assert_contains "$(cat "$MG_TMP/a-allowed")" "$A6::/64" "A's IPv6 subnet at the hub"
case $U_ADDR6 in fd6d:6773::*/128) ;; *) mg_fail "user's address6: $U_ADDR6" ;; esac
conf=$(cat "$MG_TMP/wgq/$U_IF.conf")
assert_contains "$conf" "Address = $U_ADDR, $U_ADDR6" "user's Address line"
assert_contains "$conf" "AllowedIPs = 100.96.0.0/11, $TOPO_MESH6, 192.0.2.0/24, 198.51.100.0/24, $A6::/64, $B6::/64" "user's AllowedIPs"
U6=${U_ADDR6%/*}
_seen_is() { [ "$(topo_seen "$1" "$2")" = "$3" ]; }
# set_has FILE SET ADDR: the nft -j ruleset in FILE has ADDR (an element or a prefix's
# address) in SET
set_has() {
	jq -e --arg s "$2" --arg a "$3" '[.nftables[] | select(.set.name? == $s) | .set.elem[]? |
		if type == "object" then (.prefix.addr? // .range[0]?) else . end] | index($a) != null' "$1" >/dev/null
}

mg_log "user -> site A over IPv6: the server sees the user's IPv6 mesh address"
ping_ok "$U_NS" fd6d:6773::1 10 || mg_fail "user cannot ping the hub's IPv6 mesh address"
wait_until 10 _seen_is "$U_NS" "http://[$A6::10]:8080/" "$U6" ||
	mg_fail "user -> [$A6::10]:8080 saw '$(topo_seen "$U_NS" "http://[$A6::10]:8080/")', want $U6"

mg_log "access control over IPv6: tcp/8081 and ICMP to A's IPv6 subnet are dropped"
assert_eq "$(topo_seen "$U_NS" "http://[$A6::10]:8081/" 1)" "" "denied port answered"
assert_eq "$(topo_seen "$U_NS" "http://192.0.2.10:8081/")" "${U_ADDR%/*}" "the IPv4 subnet (full) still reaches 8081"
if nsx "$U_NS" ping -c1 -W0.5 "$A6::10" >/dev/null 2>&1; then mg_fail "ICMP to A's ports-only IPv6 subnet passed"; fi
nsx "$C_a" nft -j list ruleset >"$MG_TMP/rules-a.json"
set_has "$MG_TMP/rules-a.json" p1_a6 "$A6::" || mg_fail "A's IPv6 ports set: $(jq -c '.nftables[] | select(.set?)' "$MG_TMP/rules-a.json")"

mg_log "NAT with an exclusion at site B over IPv6"
wait_until 10 _seen_is "$U_NS" "http://[$B6::11]:8080/" "$B6::2" ||
	mg_fail "user -> [$B6::11] (masqueraded) saw '$(topo_seen "$U_NS" "http://[$B6::11]:8080/")', want $B6::2"
assert_eq "$(topo_seen "$U_NS" "http://[$B6::10]:8080/")" "$U6" "user -> excluded [$B6::10]"
nsx "$C_b" nft -j list ruleset >"$MG_TMP/rules-b.json"
set_has "$MG_TMP/rules-b.json" nat_ex6 "$B6::10" || mg_fail "B's IPv6 NAT exclusions: $(jq -c '.nftables[] | select(.set.name? == "nat_ex6")' "$MG_TMP/rules-b.json")"

mg_log "site A <-> site B over IPv6"
ping_ok "$S_a" "$B6::10" 10 || mg_fail "A cannot ping B over IPv6"
assert_eq "$(topo_seen "$S_a" "http://[$B6::10]:8080/")" "$A6::10" "A -> B (excluded from B's NAT)"
assert_eq "$(topo_seen "$S_a" "http://[$B6::11]:8080/")" "$B6::2" "A -> B (masqueraded by B)"
assert_eq "$(topo_seen "$S_b" "http://[$A6::10]:8080/")" "$B6::10" "B -> A"
if nsx "$S_b" ping -c1 -W0.5 "$A6::10" >/dev/null 2>&1; then mg_fail "ICMP from B to A's ports-only IPv6 subnet passed"; fi

mg_log "--mesh-range6 none: the hub and the connectors drop their IPv6 mesh addresses"
kill -TERM "$CTL_PID"
wait_until 5 sh -c "! kill -0 $CTL_PID" || mg_fail "controller did not stop"
ctl_start "$INET" "$MG_TMP/ctl" 203.0.113.1 8443 --hub-ifname "$HUB_IF" \
	--hub-endpoint 203.0.113.1:51820 --mesh-range6 none
_no_v6() { [ -z "$(nsx "$1" ip -6 -br addr show dev "$2" scope global)" ]; }
wait_until 10 _no_v6 "$C_a" "$IF_a" || mg_fail "A kept its IPv6 tunnel address: $(nsx "$C_a" ip -6 -br addr show dev "$IF_a")"
_no_v6 "$INET" "$HUB_IF" || mg_fail "the hub kept its IPv6 address: $(nsx "$INET" ip -6 -br addr show dev "$HUB_IF")"
assert_not_contains "$(nsx "$C_a" ip -6 route show proto 109)" "$TOPO_MESH6" "A's IPv6 mesh route"
ping_ok "$U_NS" 192.0.2.10 10 || mg_fail "IPv4 through the mesh after turning IPv6 off"
mg_pass
