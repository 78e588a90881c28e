#!/usr/bin/env bash
# Internet egress follows the ACTIVE connector (issue 16 part 1, docs/EGRESS.md, docs/HA.md):
# network A (the egress) has two connectors on one LAN; site A's router gives each its
# own public address (192.0.2.2 -> 203.0.113.10, 192.0.2.3 -> 203.0.113.11).
#  - the active one's hub peer has 0.0.0.0/0, the standby's its tunnel address only; a
#    full-tunnel user's server sees the active connector's public address;
#  - a drain moves the default routes to the other connector in the same hub update, and
#    the server then sees that one's address.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/topo.sh"
mg_setup egress_ha

topo_internet
topo_site a 192.0.2 10
ip -n "$R_a" addr add 203.0.113.11/24 dev wan
nsx "$R_a" nft flush chain ip sitenat post
nsx "$R_a" nft add rule ip sitenat post oifname wan ip saddr 192.0.2.3 snat to 203.0.113.11
nsx "$R_a" nft add rule ip sitenat post oifname wan ip saddr 192.0.2.0/24 masquerade
# the second connector on site A's LAN
C_a2=$(ns_add ca2)
veth "$C_a2" eth0 "$R_a" "l$MG_ID"
ip -n "$R_a" link set "l$MG_ID" master lan
ip -n "$C_a2" addr add 192.0.2.3/24 dev eth0
ip -n "$C_a2" route add default via 192.0.2.1

na=$(topo_network site-a '"subnets":["192.0.2.0/24"],"access":[{"cidr":"192.0.2.0/24","mode":"full"}],"egress":true')
topo_connector a "$na"
topo_wait_applied a
topo_connector a2 "$na"
topo_wait_applied a2

WWW=$(ns_add www)
veth "$WWW" eth0 "$INET" "w$MG_ID"
ip -n "$INET" addr add 198.18.50.1/24 dev "w$MG_ID"
ip -n "$WWW" addr add 198.18.50.80/24 dev eth0
ip -n "$WWW" route add default via 198.18.50.1
bg_start "$WWW" "$MG_TMP/www.log" python3 -c 'import http.server as h
class H(h.BaseHTTPRequestHandler):
    def do_GET(s):
        b = s.client_address[0].encode()
        s.send_response(200); s.send_header("Content-Length", str(len(b))); s.end_headers()
        s.wfile.write(b)
    def log_message(s, *a): pass
h.HTTPServer(("198.18.50.80", 8080), H).serve_forever()'

U=$(ns_add ufull)
_inet_port "$U" eth0 203.0.113.50
out=$(api "$INET" POST /api/v1/users '{"name":"full","full_tunnel":true}')
[ "$(api_st)" = 201 ] || mg_fail "create user: $(api_st) $out"
mkdir -p "$MG_TMP/wgq"
jq -r .config <<<"$out" >"$MG_TMP/wgq/mgu$MG_ID.conf"
chmod 600 "$MG_TMP/wgq/mgu$MG_ID.conf"
nsx "$U" wg-quick up "$MG_TMP/wgq/mgu$MG_ID.conf" >"$MG_TMP/wgq.log" 2>&1 || mg_fail "wg-quick up: $(cat "$MG_TMP/wgq.log")"

seen() { nsx "$U" curl -s --max-time 3 http://198.18.50.80:8080/ || true; }
_seen_is() { [ "$(seen)" = "$1" ]; }
# key ID: a connector's public key; has_default KEY: its hub peer allows 0.0.0.0/0
key() { api "$INET" GET "/api/v1/connectors/$1" | jq -r .public_key; }
has_default() { nsx "$INET" wg show "$HUB_IF" allowed-ips | awk -v k="$1" '$1 == k' | grep -q '0\.0\.0\.0/0'; }

active=$(api "$INET" GET "/api/v1/networks/$na" | jq -r .ha.active)
ids=$(api "$INET" GET /api/v1/connectors | jq -r '.connectors[].id')
[ -n "$active" ] || mg_fail "network A has no active connector"
for id in $ids; do [ "$id" != "$active" ] && standby=$id; done
# want_addr ID: the public address of connector ID (site-a at 192.0.2.2, site-a2 at .3)
want_addr() { if [ "$1" = "$CID_a" ]; then echo 203.0.113.10; else echo 203.0.113.11; fi; }
CID_a=$(api "$INET" GET /api/v1/connectors | jq -r '.connectors[] | select(.name == "site-a") | .id')

mg_log "active $active has the default routes, standby $standby does not"
has_default "$(key "$active")" || mg_fail "the active connector's hub peer lacks 0.0.0.0/0"
if has_default "$(key "$standby")"; then mg_fail "the standby's hub peer has 0.0.0.0/0"; fi
wait_until 10 _seen_is "$(want_addr "$active")" || mg_fail "server saw '$(seen)', want $(want_addr "$active") (the active connector)"

mg_log "drain: the default routes move to $standby, and the internet sees its address"
api "$INET" POST "/api/v1/networks/$na/connectors/$active/drain" >/dev/null
assert_eq "$(api_st)" 200 "drain"
has_default "$(key "$standby")" || mg_fail "the new active's hub peer lacks 0.0.0.0/0"
if has_default "$(key "$active")"; then mg_fail "the drained connector's hub peer kept 0.0.0.0/0"; fi
wait_until 10 _seen_is "$(want_addr "$standby")" || mg_fail "after the drain the server saw '$(seen)', want $(want_addr "$standby")"
mg_pass
