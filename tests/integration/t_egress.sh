#!/usr/bin/env bash
# Internet egress through a site (issue 16 part 1):
#  - network A is the egress; user "full" opted in (full_tunnel): its config routes
#    0.0.0.0/0 and ::/0 into the tunnel, and a server on the internet sees site A's
#    public address as the source (hub: default route of the egress table, only for
#    packets that came in on the hub interface; connector: masquerade);
#  - the same user still reaches site B directly (the server there sees its mesh address);
#  - user "split" did not opt in: its internet traffic never enters the tunnel;
#  - the hub's host talks to the internet directly, its API answers, and connector A's
#    long-poll keeps working during a download through it;
#  - egress off: the hub's rule and table are gone, the user's config is split again;
#    a controller stopped with --hub-down-on-exit removes them too;
#  - a kill -9 of the hub's wireguard-go: the restarted hub has its egress table again;
#  - the checks can fail: without the hub's rule the server sees the mesh address.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/topo.sh"
mg_setup egress

topo_internet --hub-down-on-exit
topo_site a 192.0.2 10
topo_site b 198.51.100 20
na=$(topo_network site-a '"subnets":["192.0.2.0/24"],"access":[{"cidr":"192.0.2.0/24","mode":"full"}],"egress":true')
nb=$(topo_network site-b '"subnets":["198.51.100.0/24"],"access":[{"cidr":"198.51.100.0/24","mode":"full"}]')
api "$INET" POST /api/v1/networks '{"name":"second","egress":true}' >/dev/null
assert_eq "$(api_st)" 409 "a second egress network"
# site A's router masquerades its own LAN only (as a home router does): mesh sources that
# reach it unmasqueraded would go out as they are, so the server would see them
nsx "$R_a" nft flush chain ip sitenat post
nsx "$R_a" nft add rule ip sitenat post oifname wan ip saddr 192.0.2.0/24 masquerade
topo_connector a "$na"
topo_connector b "$nb"

# a server on the internet that answers with the address it sees (and N bytes with ?n=N),
# on a network of its own behind the internet namespace (wg-quick leaves a laptop's own
# LAN outside the tunnel, so it must not share 203.0.113.0/24 with the users)
WWW=$(ns_add www)
veth "$WWW" eth0 "$INET" "w$MG_ID"
ip -n "$INET" addr add 198.18.50.1/24 dev "w$MG_ID"
ip -n "$WWW" addr add 198.18.50.80/24 dev eth0
ip -n "$WWW" route add default via 198.18.50.1
SRV='import http.server as h, sys
class H(h.BaseHTTPRequestHandler):
    def do_GET(s):
        n = int(s.path.split("n=")[1]) if "n=" in s.path else 0
        b = s.client_address[0].encode() if n == 0 else b"x" * n
        s.send_response(200); s.send_header("Content-Length", str(len(b))); s.end_headers()
        s.wfile.write(b)
    def log_message(s, *a): pass
h.ThreadingHTTPServer((sys.argv[1], 8080), H).serve_forever()'
bg_start "$WWW" "$MG_TMP/www.log" python3 -c "$SRV" 198.18.50.80
bg_start "$S_b" "$MG_TMP/srvb.log" python3 -c "$SRV" 198.51.100.10

# user_up NAME ADDR FULL(true|false): a laptop on the internet with its wg-quick config
user_up() {
	local ns out ifn="mgu$MG_ID${1:0:1}"
	ns=$(ns_add "u$1")
	_inet_port "$ns" eth0 "$2"
	out=$(api "$INET" POST /api/v1/users "{\"name\":\"$1\",\"full_tunnel\":$3}")
	[ "$(api_st)" = 201 ] || mg_fail "create user $1: $(api_st) $out"
	mkdir -p "$MG_TMP/wgq"
	jq -r .config <<<"$out" >"$MG_TMP/wgq/$ifn.conf"
	chmod 600 "$MG_TMP/wgq/$ifn.conf"
	nsx "$ns" wg-quick up "$MG_TMP/wgq/$ifn.conf" >"$MG_TMP/wgq-$1.log" 2>&1 ||
		mg_fail "wg-quick up $1: $(cat "$MG_TMP/wgq-$1.log")"
	eval "NS_$1=$ns IF_$1=$ifn ADDR_$1=$(jq -r .address <<<"$out") ID_$1=$(jq -r .id <<<"$out")"
}
user_up full 203.0.113.50 true
user_up split 203.0.113.51 false
assert_contains "$(cat "$MG_TMP/wgq/$IF_full.conf")" "AllowedIPs = 0.0.0.0/0, ::/0" "full-tunnel config"
assert_not_contains "$(cat "$MG_TMP/wgq/$IF_full.conf")" "DNS" "DNS untouched"
assert_contains "$(cat "$MG_TMP/wgq/$IF_split.conf")" "AllowedIPs = 100.96.0.0/11, fd6d:6773::/64, 192.0.2.0/24, 198.51.100.0/24" "split config"
topo_wait_applied a
topo_wait_applied b

# seen NS URL: what the server saw (empty on failure)
seen() { nsx "$1" curl -s --max-time 3 "$2" || true; }
_seen_is() { [ "$(seen "$1" "$2")" = "$3" ]; }

mg_log "the hub: the egress connector's peer has the default routes, the rule only for its interface"
CA_PUB=$(api "$INET" GET /api/v1/connectors | jq -r --arg n "$na" '.connectors[] | select(.network_id == $n) | .public_key')
allowed=$(nsx "$INET" wg show "$HUB_IF" allowed-ips | awk -v k="$CA_PUB" '$1 == k')
assert_contains "$allowed" "0.0.0.0/0" "egress peer's allowed IPs"
assert_contains "$allowed" "::/0" "egress peer's allowed IPs (v6)"
assert_contains "$(nsx "$INET" ip rule show)" "iif $HUB_IF lookup 1109" "hub policy rule"
assert_contains "$(nsx "$INET" ip -6 rule show)" "iif $HUB_IF lookup 1109" "hub policy rule (v6)"
assert_contains "$(nsx "$INET" ip route get 198.18.50.80)" "dev w$MG_ID" "the hub's host goes out directly"
assert_contains "$(nsx "$INET" ip route get 198.18.50.80 from "${ADDR_full%/*}" iif "$HUB_IF")" "dev $HUB_IF" "user traffic into the tunnel"

mg_log "full-tunnel user -> internet server: the server sees site A's public address"
wait_until 10 _seen_is "$NS_full" http://198.18.50.80:8080/ 203.0.113.10 ||
	mg_fail "full-tunnel user: server saw '$(seen "$NS_full" http://198.18.50.80:8080/)', want 203.0.113.10 (site A's router)"
ping_ok "$NS_full" 198.18.50.80 || mg_fail "full-tunnel user cannot ping the internet server"

mg_log "full-tunnel user -> site B: direct, the server there sees the user's mesh address"
wait_until 10 _seen_is "$NS_full" http://198.51.100.10:8080/ "${ADDR_full%/*}" ||
	mg_fail "site B saw '$(seen "$NS_full" http://198.51.100.10:8080/)', want ${ADDR_full%/*}"
mg_log "full-tunnel user -> site A's LAN: not masqueraded (network A has NAT off)"
bg_start "$S_a" "$MG_TMP/srva.log" python3 -c "$SRV" 192.0.2.10
wait_until 10 _seen_is "$NS_full" http://192.0.2.10:8080/ "${ADDR_full%/*}" ||
	mg_fail "site A's server saw '$(seen "$NS_full" http://192.0.2.10:8080/)', want ${ADDR_full%/*}"

mg_log "split-tunnel user: the internet is reached directly, the sites through the mesh"
assert_not_contains "$(nsx "$NS_split" ip route get 198.18.50.80)" "$IF_split" "split user's internet route"
assert_eq "$(seen "$NS_split" http://198.18.50.80:8080/)" 203.0.113.51 "split user seen with its own address"
wait_until 10 _seen_is "$NS_split" http://198.51.100.10:8080/ "${ADDR_split%/*}" || mg_fail "split user cannot reach site B"

mg_log "the hub's host reaches the internet itself; its API answers; connector A's control stays outside"
assert_eq "$(seen "$INET" http://198.18.50.80:8080/)" 198.18.50.1 "the controller's own traffic"
assert_contains "$(nsx "$C_a" ip route get 203.0.113.1)" "dev eth0" "connector A reaches the controller by its uplink"
assert_not_contains "$(nsx "$C_a" ip route show)" "default dev $IF_a" "no default route into A's tunnel"
# a download through the egress while the controller changes A's config: the long-poll answers
bytes_file=$MG_TMP/big
nsx "$NS_full" curl -s --max-time 20 -o "$bytes_file" "http://198.18.50.80:8080/?n=8000000" &
dl=$!
v0=$(jq -r .applied_version "$STATE_a/status.json")
api "$INET" PATCH "/api/v1/networks/$na" '{"access":[{"cidr":"192.0.2.0/24","mode":"full"},{"cidr":"192.0.2.128/25","mode":"deny"}]}' >/dev/null
assert_eq "$(api_st)" 200 "PATCH during the download"
_newer() { [ "$(jq -r .applied_version "$STATE_a/status.json")" -gt "$v0" ]; }
wait_until 15 _newer || mg_fail "connector A never applied its new config during egress traffic: $(tail -5 "$MG_TMP/run-a.log")"
wait "$dl" || mg_fail "download through the egress failed"
assert_eq "$(stat -c %s "$bytes_file")" 8000000 "bytes through the egress"
api "$INET" GET /api/v1/hub >/dev/null
assert_eq "$(api_st)" 200 "the hub's API"
_seen_is "$NS_full" http://198.18.50.80:8080/ 203.0.113.10 || mg_fail "egress lost after the config change"

mg_log "the hub's wireguard-go killed: the restarted hub has the egress table again"
wgpid=$(grep -o "wireguard-go serving $HUB_IF (pid [0-9]*" "$CTL_DIR.log" | tail -1 | grep -o '[0-9]*$')
[ -n "$wgpid" ] || mg_fail "no wireguard-go pid in the controller's log"
kill -9 "$wgpid"
_restored() { grep -q "back in .* (restart 1)" "$CTL_DIR.log"; }
wait_until 10 _restored || mg_fail "the hub did not come back: $(tail -5 "$CTL_DIR.log")"
assert_contains "$(nsx "$INET" ip route show table 1109)" "default dev $HUB_IF" "egress table after the restart"
wait_until 10 _seen_is "$NS_full" http://198.18.50.80:8080/ 203.0.113.10 ||
	mg_fail "egress after the hub's restart: server saw '$(seen "$NS_full" http://198.18.50.80:8080/)'"

mg_log "the checks can fail: without the hub's rule the server sees the user's mesh address"
nsx "$INET" ip rule del iif "$HUB_IF" lookup 1109
got=$(seen "$NS_full" http://198.18.50.80:8080/)
[ "$got" != 203.0.113.10 ] || mg_fail "traffic still left by site A without the hub's rule"
nsx "$INET" ip rule add iif "$HUB_IF" lookup 1109 priority 1109 protocol 110

mg_log "full_tunnel without an egress network: refused; egress off removes the hub's rule"
api "$INET" PATCH "/api/v1/networks/$na" '{"egress":false}' >/dev/null
assert_eq "$(api_st)" 200 "egress off"
wait_until 5 sh -c "! ip netns exec $INET ip rule show | grep -q 'lookup 1109'" || mg_fail "hub rule left after egress off"
assert_eq "$(nsx "$INET" ip route show table 1109 2>/dev/null)" "" "egress table empty"
assert_not_contains "$(nsx "$INET" wg show "$HUB_IF" allowed-ips | awk -v k="$CA_PUB" '$1 == k')" "0.0.0.0/0" "no default at A after egress off"
conf=$(api "$INET" GET "/api/v1/users/$ID_full/config" | jq -r .config)
assert_contains "$conf" "AllowedIPs = 100.96.0.0/11, fd6d:6773::/64, 192.0.2.0/24, 198.51.100.0/24" "full user's config without egress"
api "$INET" PATCH "/api/v1/users/$ID_split" '{"full_tunnel":true}' >/dev/null
assert_eq "$(api_st)" 409 "full_tunnel without an egress network"
api "$INET" PATCH "/api/v1/networks/$nb" '{"egress":true}' >/dev/null
assert_eq "$(api_st)" 200 "B becomes the egress"
api "$INET" PATCH "/api/v1/users/$ID_split" '{"full_tunnel":true}' >/dev/null
assert_eq "$(api_st)" 200 "full_tunnel with an egress network"
assert_eq "$(api "$INET" GET "/api/v1/users/$ID_split" | jq -r .full_tunnel)" true "full_tunnel shown"
assert_contains "$(nsx "$INET" ip rule show)" "iif $HUB_IF lookup 1109" "hub policy rule back with B"

mg_log "the controller stopped with --hub-down-on-exit removes its rule"
kill -TERM "$CTL_PID"
[ "$(bg_wait "$CTL_DIR.log" 10)" = 0 ] || mg_fail "controller did not stop cleanly: $(tail -5 "$CTL_DIR.log")"
assert_not_contains "$(nsx "$INET" ip rule show; nsx "$INET" ip -6 rule show)" "lookup 1109" "rules after the stop"
mg_pass
