#!/usr/bin/env bash
# The seeds' flows through the real mesh (issue 3 acceptance):
#  - remote user -> app server behind connector A (server sees the user's mesh address)
#  - site A <-> site B both ways
#  - a third site added through the admin API is reachable from A within 1 s, and
#    A's tunnel is not reset (no new handshake).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/topo.sh"
mg_setup flows

topo_internet
topo_site a 192.0.2 10
topo_site b 198.51.100 20
na=$(topo_network site-a '"subnets":["192.0.2.0/24"],"access":[{"cidr":"192.0.2.0/24","mode":"full"}]')
nb=$(topo_network site-b '"subnets":["198.51.100.0/24"],"access":[{"cidr":"198.51.100.0/24","mode":"full"}]')
topo_route_via_connector a 198.51.100.0/24
topo_route_via_connector b 192.0.2.0/24
topo_connector a "$na"
topo_connector b "$nb"
topo_wait_applied a
topo_wait_applied b

mg_log "routes carry meshgate's protocol on the tunnel"
r=$(nsx "$C_a" ip -j route show proto 109)
assert_contains "$r" '"dst":"100.96.0.0/11"'
assert_contains "$r" '"dst":"198.51.100.0/24"'
assert_contains "$r" "\"dev\":\"$IF_a\""
assert_eq "$(nsx "$C_a" cat /proc/sys/net/ipv4/ip_forward)" 1 "forwarding on"

mg_log "remote user -> app server at site A (ICMP and TCP)"
topo_user alice
ping_ok "$U_NS" 192.0.2.10 10 || mg_fail "user cannot ping the server at site A"
# the server sees the user's mesh address (no NAT: static route on the LAN router)
srvlog=$MG_TMP/srv-a.log
bg_start "$S_a" "$srvlog" sh -c 'nc -n -v -l -p 8080 -s 192.0.2.10'
wait_until 5 nsx "$S_a" sh -c 'ss -ltn | grep -q ":8080"'
echo "hello from alice" | nsx "$U_NS" nc -w2 -q1 192.0.2.10 8080 || mg_fail "TCP to the server failed"
wait_until 3 grep -q "hello from alice" "$srvlog" || mg_fail "server got no data: $(cat "$srvlog")"
assert_contains "$(cat "$srvlog")" "${U_ADDR%/*}" "server saw the user's mesh address"

mg_log "site A <-> site B"
ping_ok "$S_a" 198.51.100.10 10 || mg_fail "A cannot reach B"
ping_ok "$S_b" 192.0.2.10 || mg_fail "B cannot reach A"
# and not through the internet: nothing routes LAN ranges there
if nsx "$INET" ip route get 192.0.2.10 2>/dev/null | grep -q via; then
	mg_fail "the internet namespace routes to a LAN"
fi

mg_log "a third site arrives within 1 s, no tunnel reset"
topo_site c 198.18.0 30
topo_route_via_connector a 198.18.0.0/24
topo_route_via_connector c 192.0.2.0/24
hs_before=$(nsx "$C_a" wg show "$IF_a" latest-handshakes | awk '{print $2}')
[ "${hs_before:-0}" -gt 0 ] || mg_fail "no handshake on A yet"
t0=$(now_ms)
nc_=$(topo_network site-c '"subnets":["198.18.0.0/24"],"access":[{"cidr":"198.18.0.0/24","mode":"full"}]')
_has_c() { nsx "$C_a" ip route show proto 109 | grep -q 198.18.0.0/24; }
wait_until 3 _has_c ||
	mg_fail "site C's route never reached A: $(tail "$MG_TMP/run-a.log")"
dt=$(($(now_ms) - t0))
mg_log "route to site C on A after $dt ms"
[ "$dt" -lt $((1000 * MG_TIME_SCALE)) ] || mg_fail "site C reached A after $dt ms (limit $((1000 * MG_TIME_SCALE)))"
topo_connector c "$nc_"
topo_wait_applied c
ping_ok "$S_a" 198.18.0.10 10 || mg_fail "A cannot reach site C"
hs_after=$(nsx "$C_a" wg show "$IF_a" latest-handshakes | awk '{print $2}')
assert_eq "$hs_after" "$hs_before" "A's handshake (tunnel reset?)"

mg_log "status reported to the controller"
_all_reported() {
	api "$INET" GET /api/v1/connectors |
		jq -e '[.connectors[]|select(.status.tunnel.handshake_age>=0)]|length==3'
}
wait_until 15 _all_reported || mg_fail "connectors did not report status: $(api "$INET" GET /api/v1/connectors)"

mg_log "no secret in any log line or process argument"
for site in a b c; do
	eval "sd=\$STATE_$site"
	secret=$(jq -r .device_secret "$sd/device.json")
	priv=$(cat "$sd/private.key")
	[ ${#secret} -ge 16 ] && [ ${#priv} -eq 44 ] || mg_fail "identity files of $site"
	for f in "$MG_TMP"/*.log "$MG_TMP"/ctl/store.db*; do
		if grep -qF -- "$secret" "$f"; then mg_fail "device secret of $site in $f"; fi
		if grep -qF -- "$priv" "$f"; then mg_fail "private key of $site in $f"; fi
	done
	for p in /proc/[0-9]*; do
		if tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -e "$secret" -e "$priv"; then
			mg_fail "a secret of $site in the arguments of $(tr '\0' ' ' <"$p/cmdline")"
		fi
	done
	for f in device.json private.key status.json config.json; do
		assert_eq "$(stat -c %a "$sd/$f")" 600 "mode of $site/$f"
	done
done
mg_pass
