#!/usr/bin/env bash
# Prometheus metrics and the settings file (issue 17, parts 2 and 3):
#  - the agent reads --config FILE (metrics_listen there), flags override it;
#  - GET /metrics passes `promtool check metrics`; values follow the traffic (peer
#    bytes, NAT and access-policy drop counters) and a config push (applied version);
#    other paths 404, other methods 405, an oversized head 431, the loop unharmed;
#  - SIGHUP re-reads the file: a new metrics address and cloud scope apply at once, a
#    changed wg_mode is logged as needing a restart, the tunnel is not touched;
#    a broken file is refused on SIGHUP (the running settings stay) and by `meshgate check`;
#  - the controller's /metrics (admin token) passes promtool and counts pushes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/topo.sh"
mg_setup metrics

command -v promtool >/dev/null || { mg_log "SKIP: no promtool (scripts/deps installs prometheus)"; exit 77; }

topo_internet
topo_site a 192.0.2 10
na=$(topo_network site-a '"subnets":["192.0.2.0/24"],"nat":{"enabled":true},"access":[{"cidr":"192.0.2.10/32","mode":"full"}]')

conf=$MG_TMP/meshgate.conf
cat >"$conf" <<'CONF'
# test settings
metrics_listen = 127.0.0.1:9586
log_level = warn   # the command line's --log-level debug wins
[cloud]
takeover = no
CONF
topo_connector a "$na" --config "$conf" --cloud none
topo_wait_applied a

scrape() { nsx "$C_a" curl -sf --max-time 5 "http://$1/metrics"; }
# metric NAME_AND_LABELS: the value in the last scrape ($M)
metric() { awk -v k="$1" '$1 == k { print $2 }' <<<"$M"; }
promcheck() {
	local out
	out=$(promtool check metrics <"$1" 2>&1) || mg_fail "promtool check metrics ($2): $out"
}

mg_log "the agent's /metrics, from the settings file's address"
wait_until 5 scrape 127.0.0.1:9586 || mg_fail "no metrics on 127.0.0.1:9586: $(tail "$MG_TMP/run-a.log")"
M=$(scrape 127.0.0.1:9586)
printf '%s\n' "$M" >"$MG_TMP/m1.txt"
promcheck "$MG_TMP/m1.txt" agent
grep -q 'debug:' "$MG_TMP/run-a.log" || mg_fail "--log-level debug did not override the file's warn"
assert_eq "$(metric 'meshgate_tunnel_up{backend="kernel"}')$(metric 'meshgate_tunnel_up{backend="userspace"}')" 1 "tunnel up"
v1=$(metric meshgate_config_applied_version)
[ "${v1:-0}" -ge 1 ] || mg_fail "applied version $v1"
assert_eq "$(metric meshgate_routes_installed)" "$(metric meshgate_routes_desired)" "routes installed = desired"
[ "$(metric meshgate_routes_desired)" -ge 1 ] || mg_fail "no routes desired"
assert_eq "$(metric 'meshgate_ha_role{role="none"}')" 1 "HA role none"
ct=$(metric meshgate_controller_last_contact_timestamp_seconds)
[ "${ct%.*}" -gt $(($(date +%s) - 120)) ] || mg_fail "controller last contact $ct"
hdr=$(nsx "$C_a" curl -s -D - -o /dev/null http://127.0.0.1:9586/metrics)
assert_contains "$hdr" "text/plain; version=0.0.4"

mg_log "values follow traffic: peer bytes, NAT, access-policy drops"
key=$(jq -r .public_key <<<"$(api "$INET" GET /api/v1/hub)")
rx0=$(metric "meshgate_peer_receive_bytes_total{peer=\"$key\",role=\"hub\"}")
[ -n "$rx0" ] || mg_fail "no per-peer sample for the hub $key: $(grep peer_receive <<<"$M")"
nat0=$(metric meshgate_nat_packets_total)
drop0=$(metric 'meshgate_access_dropped_packets_total{chain="forward"}')
topo_user alice
ping_ok "$U_NS" 192.0.2.10 10 || mg_fail "user cannot reach the server"
nsx "$U_NS" ping -c3 -i0.2 -W1 192.0.2.10 >/dev/null || true
# the router is outside the access list: dropped by the policy
nsx "$U_NS" ping -c2 -i0.2 -W1 192.0.2.1 >/dev/null && mg_fail "the access policy let 192.0.2.1 through"
M=$(scrape 127.0.0.1:9586)
rx1=$(metric "meshgate_peer_receive_bytes_total{peer=\"$key\",role=\"hub\"}")
[ "$rx1" -gt "$rx0" ] || mg_fail "rx bytes did not grow ($rx0 -> $rx1)"
[ "$(metric meshgate_nat_packets_total)" -gt "$nat0" ] || mg_fail "NAT counter did not grow ($nat0)"
[ "$(metric 'meshgate_access_dropped_packets_total{chain="forward"}')" -gt "$drop0" ] ||
	mg_fail "drop counter did not grow ($drop0): $(nsx "$C_a" nft list table inet meshgate)"
hs=$(metric "meshgate_peer_handshake_age_seconds{peer=\"$key\",role=\"hub\"}")
if [ "$hs" = NaN ] || [ "${hs%.*}" -ge 300 ]; then mg_fail "handshake age $hs"; fi

mg_log "the controller's /metrics"
api "$INET" GET /metrics >"$MG_TMP/c1.txt"
assert_eq "$(api_st)" 200 "controller /metrics with the admin token"
promcheck "$MG_TMP/c1.txt" controller
C=$(cat "$MG_TMP/c1.txt")
cval() { awk -v k="$1" '$1 == k { print $2 }' <<<"$C"; }
assert_eq "$(cval 'meshgate_controller_connectors{state="enrolled"}')" 1 "connectors enrolled"
[ "$(cval meshgate_controller_longpolls_open)" -ge 1 ] || mg_fail "no long-poll open"
push0=$(cval meshgate_controller_config_pushes_total)
c401=$(cval 'meshgate_controller_http_requests_total{code="401"}')
st=$(nsx "$INET" curl -sk --pinnedpubkey "$CTL_PIN" -o /dev/null -w '%{http_code}' "$CTL_URL/metrics")
assert_eq "$st" 401 "controller /metrics without the token"

mg_log "a config push shows in both"
api "$INET" PATCH "/api/v1/networks/$na" '{"access":[{"cidr":"192.0.2.0/24","mode":"full"}]}' >/dev/null
assert_eq "$(api_st)" 200 "PATCH network"
_newer() { M=$(scrape 127.0.0.1:9586) && [ "$(metric meshgate_config_applied_version)" -gt "$v1" ]; }
wait_until 5 _newer || mg_fail "applied version stayed $v1"
C=$(api "$INET" GET /metrics)
[ "$(cval meshgate_controller_config_pushes_total)" -gt "$push0" ] || mg_fail "pushes stayed $push0"
assert_eq "$(cval 'meshgate_controller_http_requests_total{code="401"}')" $((c401 + 1)) "401 counted"

mg_log "only GET /metrics; bounded requests"
assert_eq "$(nsx "$C_a" curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9586/other)" 404 "other path"
assert_eq "$(nsx "$C_a" curl -s -o /dev/null -w '%{http_code}' -X POST http://127.0.0.1:9586/metrics)" 405 "POST"
big=$(head -c 6000 /dev/zero | tr '\0' a)
assert_eq "$(nsx "$C_a" curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $big" http://127.0.0.1:9586/metrics)" 431 "huge head"
# idle connections that never send a request hold slots, never the loop
bg_start "$C_a" "$MG_TMP/idle.log" python3 -c '
import socket, time
s = [socket.create_connection(("127.0.0.1", 9586)) for _ in range(12)]
time.sleep(30)'
sleep 0.5
M=$(scrape 127.0.0.1:9586) || mg_fail "a scrape failed while 12 idle connections were open"
assert_eq "$(metric 'meshgate_metrics_requests_total{code="404"}')" 1 "404 counted"

mg_log "SIGHUP: new metrics address and cloud scope live, wg_mode needs a restart, tunnel untouched"
ifidx=$(nsx "$C_a" cat "/sys/class/net/$IF_a/ifindex")
hs_before=$(nsx "$C_a" wg show "$IF_a" latest-handshakes | awk '{print $2}')
cat >"$conf" <<'CONF'
metrics_listen = 127.0.0.1:9587
wg_mode = userspace
[cloud]
takeover = yes
CONF
kill -HUP "$PID_a"
wait_until 5 scrape 127.0.0.1:9587 || mg_fail "no metrics on the new address: $(tail "$MG_TMP/run-a.log")"
scrape 127.0.0.1:9586 >/dev/null 2>&1 && mg_fail "the old metrics address still answers"
log=$(cat "$MG_TMP/run-a.log")
assert_contains "$log" "wg_mode changed in $conf: needs a restart"
assert_contains "$log" "metrics_listen changed in $conf: applied"
assert_contains "$log" "cloud_takeover changed in $conf: applied"
assert_eq "$(nsx "$C_a" cat "/sys/class/net/$IF_a/ifindex")" "$ifidx" "tunnel interface (recreated?)"
assert_eq "$(nsx "$C_a" wg show "$IF_a" latest-handshakes | awk '{print $2}')" "$hs_before" "handshake (tunnel reset?)"
ping_ok "$U_NS" 192.0.2.10 || mg_fail "traffic after SIGHUP"

mg_log "a broken file: refused on SIGHUP (running settings stay), and by meshgate check"
printf 'metrics_listen = 127.0.0.1:9587\nmetrics_lisen = x\n' >"$conf"
kill -HUP "$PID_a"
wait_until 5 grep -q 'unknown key "metrics_lisen" (did you mean "metrics_listen"?)' "$MG_TMP/run-a.log" ||
	mg_fail "SIGHUP with a bad file: $(tail -5 "$MG_TMP/run-a.log")"
scrape 127.0.0.1:9587 >/dev/null || mg_fail "metrics gone after a refused reload"
kill -0 "$PID_a" || mg_fail "the daemon died on a bad settings file"
rc=0
out=$("$MESHGATE" check --config "$conf" --only-config 2>&1) || rc=$?
assert_eq "$rc" 1 "check exit code on a bad file"
assert_contains "$out" "$conf:2: unknown key"
"$MESHGATE" check --config "$MG_SRC/dist/meshgate/meshgate.conf" --only-config >/dev/null ||
	mg_fail "the shipped settings file does not pass meshgate check"

mg_log "clean stops (the sanitizer build checks leaks and errors here)"
kill -TERM "$PID_a"
assert_eq "$(bg_wait "$MG_TMP/run-a.log" 15)" 0 "agent exit status"
kill -TERM "$CTL_PID"
bg_wait "$MG_TMP/ctl.log" 15 >/dev/null || mg_fail "the controller did not stop"
for f in "$MG_TMP/run-a.log" "$MG_TMP/ctl.log"; do
	if grep -q -e 'Sanitizer' -e 'runtime error' "$f"; then mg_fail "$f: $(grep -m3 -A5 Sanitizer "$f")"; fi
done
mg_pass
