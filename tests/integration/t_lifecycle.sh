#!/usr/bin/env bash
# One connector through its life (issue 3 acceptance): unsafe config refused with the
# last good kept, drift repaired within 1 s (route, tunnel link, forwarding, rp_filter),
# last-known-good with the controller down, kill -9 and restart without duplicates,
# SIGTERM teardown, `down` restoring sysctls (twice), revocation removing everything.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/topo.sh"
mg_setup lifecycle

topo_internet
topo_site a 192.0.2 10
topo_site b 198.51.100 20
topo_route_via_connector a 198.51.100.0/24
topo_route_via_connector b 192.0.2.0/24
# a host that ships strict reverse-path filtering, and forwarding off
nsx "$C_a" sysctl -qw net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.default.rp_filter=1 \
	net.ipv4.conf.eth0.rp_filter=1 net.ipv4.ip_forward=0
na=$(topo_network site-a '"subnets":["192.0.2.0/24"],"access":[{"cidr":"192.0.2.0/24","mode":"full"}]')
nb=$(topo_network site-b '"subnets":["198.51.100.0/24"],"access":[{"cidr":"198.51.100.0/24","mode":"full"}]')
topo_connector a "$na"
topo_connector b "$nb"
topo_wait_applied a
topo_wait_applied b
ping_ok "$S_a" 198.51.100.10 10 || mg_fail "A cannot reach B"

routes_a() { nsx "$C_a" ip -j route show proto 109 | jq -c 'sort_by(.dst)'; }
sysval() { nsx "$C_a" cat "/proc/sys/net/$1"; }
assert_eq "$(sysval ipv4/ip_forward)" 1 "forwarding"
assert_eq "$(sysval ipv4/conf/all/rp_filter)" 2 "all.rp_filter relaxed"
assert_eq "$(sysval ipv4/conf/$IF_a/rp_filter)" 2 "tunnel rp_filter relaxed"
assert_eq "$(sysval ipv4/conf/eth0/rp_filter)" 2 "LAN rp_filter relaxed"
grep -q "^net.ipv4.ip_forward = 1" "$MG_TMP/sysctl-a.conf" || mg_fail "no drop-in: $(cat "$MG_TMP/sysctl-a.conf")"
good=$(routes_a)

mg_log "unsafe config (a route covering the controller) is refused, last good kept"
ne=$(topo_network evil '"subnets":["203.0.113.0/24"]')
_refused() { grep -q "covers the controller" "$STATE_a/status.json"; }
wait_until 3 _refused || mg_fail "unsafe config not reported: $(cat "$STATE_a/status.json")"
grep -q "covers the controller" "$MG_TMP/run-a.log" || mg_fail "unsafe config not logged"
assert_eq "$(routes_a)" "$good" "routes after a refused config"
ping_ok "$S_a" 198.51.100.10 || mg_fail "traffic broken by a refused config"
api "$INET" PATCH "/api/v1/networks/$ne" '{"subnets":[]}' >/dev/null
_cleared() { [ "$(jq -r '.last_error' "$STATE_a/status.json")" = null ]; }
wait_until 3 _cleared || mg_fail "error not cleared by the next good config"

mg_log "drift: a deleted route comes back within 1 s"
t0=$(now_ms)
nsx "$C_a" ip route del 198.51.100.0/24 dev "$IF_a"
_route_back() { nsx "$C_a" ip route show proto 109 | grep -q 198.51.100.0/24; }
wait_until 2 _route_back || mg_fail "route not repaired"
dt=$(($(now_ms) - t0)); mg_log "route repaired in $dt ms"
[ $dt -lt $((1000 * MG_TIME_SCALE)) ] || mg_fail "route repair took $dt ms"

mg_log "drift: forwarding turned off comes back within 1 s"
t0=$(now_ms)
nsx "$C_a" sysctl -qw net.ipv4.ip_forward=0
_fwd_back() { [ "$(sysval ipv4/ip_forward)" = 1 ]; }
wait_until 2 _fwd_back || mg_fail "forwarding not repaired"
dt=$(($(now_ms) - t0)); mg_log "forwarding repaired in $dt ms"
[ $dt -lt $((1000 * MG_TIME_SCALE)) ] || mg_fail "forwarding repair took $dt ms"
nsx "$C_a" sysctl -qw net.ipv4.conf.eth0.rp_filter=1
_rp_back() { [ "$(sysval ipv4/conf/eth0/rp_filter)" = 2 ]; }
wait_until 2 _rp_back || mg_fail "rp_filter not repaired"

mg_log "drift: the tunnel link deleted comes back within 1 s"
t0=$(now_ms)
nsx "$C_a" ip link del "$IF_a"
_link_back() { nsx "$C_a" ip route show proto 109 | grep -q 198.51.100.0/24 && nsx "$C_a" ip link show "$IF_a" | grep -q UP; }
wait_until 3 _link_back || mg_fail "tunnel not repaired: $(tail "$MG_TMP/run-a.log")"
dt=$(($(now_ms) - t0)); mg_log "tunnel and routes repaired in $dt ms"
[ $dt -lt $((1000 * MG_TIME_SCALE)) ] || mg_fail "tunnel repair took $dt ms"
ping_ok "$S_a" 198.51.100.10 10 || mg_fail "traffic not back after tunnel repair"
assert_eq "$(routes_a)" "$good" "routes after repairs"

mg_log "kill -9 then restart: same routes, no duplicates, tunnel adopted"
kill -9 "$PID_a"
sleep 0.3
topo_run a
_running() { grep -q "config version .* applied" "$MG_TMP/run-a.log"; }
wait_until 10 _running || mg_fail "restart did not apply: $(cat "$MG_TMP/run-a.log")"
assert_eq "$(routes_a)" "$good" "routes after kill -9 + restart"
n=$(nsx "$C_a" ip -j route show | jq '[.[]|select(.dst=="198.51.100.0/24")]|length')
assert_eq "$n" 1 "one route per destination"
grep -q "adopted" "$MG_TMP/run-a.log" || mg_fail "tunnel was not adopted after restart"
ping_ok "$S_a" 198.51.100.10 || mg_fail "traffic after restart"

mg_log "last known good: controller down, agent restarted, config still applied"
kill -TERM "$PID_a"
wait_until 5 sh -c "! kill -0 $PID_a 2>/dev/null" || mg_fail "agent did not stop on SIGTERM"
_gone() { ! nsx "$C_a" ip link show "$IF_a" >/dev/null 2>&1 && [ -z "$(nsx "$C_a" ip route show proto 109)" ]; }
wait_until 3 _gone || mg_fail "SIGTERM left the tunnel or routes behind"
assert_eq "$(sysval ipv4/ip_forward)" 1 "SIGTERM keeps the sysctls"
kill -TERM "$CTL_PID"
wait_until 5 sh -c "! kill -0 $CTL_PID 2>/dev/null"
topo_run a
_lkg() { [ "$(routes_a)" = "$good" ]; }
wait_until 5 _lkg || mg_fail "last good config not applied with the controller down: $(tail "$MG_TMP/run-a.log")"
_unreach() { grep -q "cannot reach controller" "$STATE_a/status.json"; }
wait_until 5 _unreach || mg_fail "status does not say the controller is unreachable"
grep -q "retrying in" "$MG_TMP/run-a.log" || mg_fail "no retry with backoff logged"
ctl_start "$INET" "$MG_TMP/ctl" 203.0.113.1 8443 --hub-ifname "$HUB_IF" --hub-endpoint 203.0.113.1:51820
wait_until 70 _cleared || mg_fail "agent did not reconnect after the controller came back"
ping_ok "$S_a" 198.51.100.10 10 || mg_fail "traffic after the controller came back"

mg_log "down restores sysctls, removes tunnel, routes and drop-in; twice is a no-op"
kill -TERM "$PID_a"
wait_until 5 sh -c "! kill -0 $PID_a 2>/dev/null"
nsx "$C_a" sysctl -qw net.ipv4.conf.default.rp_filter=0 # someone else's change since
for i in 1 2; do
	nsx "$C_a" "$MESHGATE" down --state-dir "$STATE_a" --sysctl-dropin "$MG_TMP/sysctl-a.conf" \
		>"$MG_TMP/down$i.log" 2>&1 || mg_fail "down #$i failed: $(cat "$MG_TMP/down$i.log")"
done
assert_eq "$(sysval ipv4/ip_forward)" 0 "ip_forward restored"
assert_eq "$(sysval ipv4/conf/all/rp_filter)" 1 "all.rp_filter restored"
assert_eq "$(sysval ipv4/conf/eth0/rp_filter)" 1 "eth0.rp_filter restored"
assert_eq "$(sysval ipv4/conf/default/rp_filter)" 0 "a value changed by someone else is left alone"
[ ! -e "$MG_TMP/sysctl-a.conf" ] || mg_fail "drop-in still there"
_gone || mg_fail "down left the tunnel or routes"

mg_log "revocation: the agent removes everything and exits 3"
topo_run a
topo_wait_applied a
wait_until 5 sh -c "[ \"\$(ip netns exec $C_a cat /proc/sys/net/ipv4/ip_forward)\" = 1 ]"
cid=$(jq -r .device_id "$STATE_a/device.json")
api "$INET" DELETE "/api/v1/connectors/$cid" >/dev/null
assert_eq "$(api_st)" 204 "delete connector"
rc=$(bg_wait "$MG_TMP/run-a.log" 10) || mg_fail "agent did not exit after revocation"
assert_eq "$rc" 3 "exit code after revocation"
_gone || mg_fail "revocation left the tunnel or routes"
assert_eq "$(sysval ipv4/ip_forward)" 0 "revocation restored ip_forward"
grep -q "revoked" "$MG_TMP/run-a.log" || mg_fail "revocation not logged"
# the hub dropped the peer at once
nsx "$INET" wg show "$HUB_IF" peers | grep -qF "$(jq -r .public_key <<<"$(nsx "$C_a" "$MESHGATE" status --json --state-dir "$STATE_a")")" &&
	mg_fail "hub still has the revoked peer"
rc=0
out=$(nsx "$C_a" "$MESHGATE" up --state-dir "$STATE_a" 2>&1) || rc=$?
assert_eq "$rc" 3 "up after revocation"
assert_contains "$out" "down --forget"
mg_pass
