#!/usr/bin/env bash
# Cloud route management against the fake OCI (issue 14 acceptance): a connector on a VCN
# federates as an instance principal, sets skipSourceDestCheck on its VNIC and writes rules
# for the mesh range and the remote site into the route tables of the VCN's subnets, marked
# "meshgate:<network>:<connector>" and targeting its private IP OCID. Others' rules go back
# byte for byte through every PUT; a site appears within 2 s and a removed one goes; a restart
# makes zero PUTs; a concurrent edit (412) is redone keeping both changes; throttling x5
# converges; token expiry and certificate rotation are survived; a missing policy is named; a
# request the API refuses (a tampered header once, a wrong key, a stale date) is recovered from
# or reported with its likely cause;
# `meshgate down` removes exactly our rules; and an app host in another subnet reaches the
# remote site only through the VCN router's rule to the connector.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/topo.sh"
mg_setup cloud_oci
FAKE=$MG_SRC/tests/fake/oci
export PYTHONDONTWRITEBYTECODE=1

topo_internet
topo_site b 198.51.100 20
topo_route_via_connector b 198.18.0.0/16

# the VCN: its router (with the fake's IMDS, auth and iaas endpoint), the connector, an app
V=$(ns_add vcn)
CV=$(ns_add cv)
AP=$(ns_add app)
_inet_port "$V" wan 203.0.113.40
nsx "$V" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
	net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.default.send_redirects=0
nsx "$V" nft add table ip vcnnat
nsx "$V" nft add chain ip vcnnat post '{ type nat hook postrouting priority srcnat; policy accept; }'
nsx "$V" nft add rule ip vcnnat post oifname wan masquerade
veth "$V" s1 "$CV" eth0
veth "$V" s2 "$AP" eth0
ip -n "$CV" link set eth0 address 02:00:17:12:01:0a
ip -n "$V" addr add 198.18.1.1/24 dev s1
ip -n "$V" addr add 198.18.2.1/24 dev s2
ip -n "$V" addr add 169.254.169.254/32 dev lo
ip -n "$CV" addr add 198.18.1.10/24 dev eth0
ip -n "$CV" route add default via 198.18.1.1
ip -n "$AP" addr add 198.18.2.20/24 dev eth0
ip -n "$AP" route add default via 198.18.2.1

ST=$MG_TMP/fake
bg_start "$V" "$MG_TMP/fake.log" /usr/bin/python3 "$FAKE/fake_oci.py" --state-dir "$ST" \
	--imds-listen 169.254.169.254:80 --api-listen 198.18.1.1:443 --api-san 198.18.1.1 \
	--control-listen 127.0.0.1:8798
wait_until 30 test -s "$ST/ready.json" || mg_fail "fake OCI did not start: $(cat "$MG_TMP/fake.log")"
ctl() { nsx "$V" curl -s -X "${2:-GET}" ${3:+-d "$3"} "http://127.0.0.1:8798$1"; }
STATE=$(ctl /state)
RTA=$(jq -r '.subnets[0].route_table' <<<"$STATE")
RTB=$(jq -r '.subnets[1].route_table' <<<"$STATE")
SUBA=$(jq -r '.subnets[0].id' <<<"$STATE")
SUBB=$(jq -r '.subnets[1].id' <<<"$STATE")
VNA=$(jq -r '.vnics | to_entries[] | select(.value.mac == "02:00:17:12:01:0a") | .key' <<<"$STATE")
PIPA=$(jq -r --arg v "$VNA" '.private_ips | to_entries[] | select(.value.vnic == $v) | .key' <<<"$STATE")
[ -n "$VNA" ] && [ -n "$PIPA" ] && [ -n "$RTB" ] || mg_fail "fake state: $STATE"
bg_start "$V" "$MG_TMP/router.log" /usr/bin/python3 "$FAKE/vcn_router.py" --routes "$ST/vcn-routes.json" \
	--subnet "$SUBA=s1" --subnet "$SUBB=s2"

rules_of() { ctl /state | jq -c --arg t "$1" '.route_tables[]|select(.id==$t)|.rules'; }
ours_of() { rules_of "$1" | jq -c --arg p "$PIPA" '[.[]|select(.networkEntityId==$p)|{destination,description}]|sort_by(.destination)'; }
foreign_of() { rules_of "$1" | jq -c --arg p "$PIPA" '[.[]|select(.networkEntityId!=$p)]'; }
FOREIGN_B=$(foreign_of "$RTB")
[ "$(jq length <<<"$FOREIGN_B")" = 2 ] || mg_fail "rt-b should start with two foreign rules: $FOREIGN_B"
CLOUD_ARGS=(--cloud oci --cloud-metadata http://169.254.169.254 --cloud-api https://198.18.1.1
	--cloud-ca-file "$ST/ca.pem")

nb=$(topo_network site-b '"subnets":["198.51.100.0/24"],"access":[{"cidr":"198.51.100.0/24","mode":"full"}]')
nv=$(topo_network vcn '"subnets":["198.18.0.0/16"],"manage_cloud_routes":true,"access":[{"cidr":"198.18.0.0/16","mode":"full"}]')
topo_connector b "$nb"
C_v=$CV
topo_connector v "$nv" "${CLOUD_ARGS[@]}"
topo_wait_applied b
topo_wait_applied v

mg_log "skipSourceDestCheck set, marked rules in both tables, others' rules byte for byte"
_skip_on() { [ "$(ctl /state | jq -r --arg v "$VNA" '.vnics[$v].skip')" = true ]; }
wait_until 15 _skip_on || mg_fail "skipSourceDestCheck still false: $(tail "$MG_TMP/run-v.log")"
_rule_in() { for t in $RTA $RTB; do ours_of "$t" | jq -e --arg d "$1" 'any(.destination==$d)' >/dev/null || return 1; done; }
wait_until 15 _rule_in 198.51.100.0/24 || mg_fail "site rule missing: $(ctl /state | jq -c .route_tables) $(tail "$MG_TMP/run-v.log")"
_rule_in 100.96.0.0/11 || mg_fail "mesh rule missing: $(ours_of "$RTA")"
ours_of "$RTB" | jq -e --arg n "$nv" 'all(.description|startswith("meshgate:"+$n+":"))' >/dev/null ||
	mg_fail "our rules are not marked with the network: $(ours_of "$RTB")"
assert_eq "$(foreign_of "$RTB")" "$FOREIGN_B" "others' rules in rt-b"

mg_log "the app host (subnet B, no route of its own) reaches site B through the VCN router"
applied() { [ "$(cat "$ST/vcn-routes.json.applied" 2>/dev/null)" = "$(jq .generation "$ST/vcn-routes.json")" ]; }
wait_until 10 applied || mg_fail "router did not apply: $(cat "$MG_TMP/router.log")"
assert_contains "$(ip -n "$V" route show table 101)" "198.51.100.0/24 via 198.18.1.10" "VCN router rule for subnet B"
ping_ok "$AP" 198.51.100.10 15 || mg_fail "app host cannot reach site B: $(tail -5 "$MG_TMP/router.log")"
if nsx "$AP" ip route | grep -q 198.51.100; then mg_fail "the app host has a route of its own"; fi

mg_log "a new site appears within 2 s (asserted <= 5 s), a removed one goes"
t0=$(now_ms)
nc_=$(topo_network site-c '"subnets":["192.0.2.0/24"]')
_c_in() { ours_of "$RTB" | jq -e 'any(.destination=="192.0.2.0/24")' >/dev/null; }
_c_out() { ! _c_in; }
wait_until 8 _c_in || mg_fail "site C never reached the route tables"
dt=$(($(now_ms) - t0))
mg_log "site C in rt-b after $dt ms"
[ $dt -le 5000 ] || mg_fail "site C took $dt ms"
assert_eq "$(foreign_of "$RTB")" "$FOREIGN_B" "others' rules after an add"
api "$INET" PATCH "/api/v1/networks/$nc_" '{"subnets":[]}' >/dev/null
t0=$(now_ms)
wait_until 8 _c_out || mg_fail "site C's rule was not removed"
mg_log "site C gone from rt-b after $(($(now_ms) - t0)) ms"
assert_eq "$(foreign_of "$RTB")" "$FOREIGN_B" "others' rules after a removal"

mg_log "restart: zero PUTs"
kill -TERM "$PID_v"
wait_until 5 sh -c "! kill -0 $PID_v 2>/dev/null"
ctl /counters/reset POST '{}' >/dev/null
topo_run v "${CLOUD_ARGS[@]}" --metrics-listen 127.0.0.1:9586
_synced() { [ "$(ctl /counters | jq '.calls.GetRouteTable // 0')" -ge 2 ]; }
wait_until 15 _synced || mg_fail "no cloud sync after restart: $(tail "$MG_TMP/run-v.log")"
sleep 2
assert_eq "$(ctl /counters | jq .mutating)" 0 "mutating calls after a restart (and in steady state)"

mg_log "a concurrent edit (412) is redone without losing either change"
ctl /counters/reset POST '{}' >/dev/null
ctl /concurrent-edit POST "{\"route_table\":\"$RTB\",\"add\":{\"destination\":\"233.252.0.0/24\",\"destinationType\":\"CIDR_BLOCK\",\"networkEntityId\":\"ocid1.drg.oc1.phx.aaaaaaaaondrg00000000000000000000000000000000000000000000000\",\"description\":\"theirs, landed between GET and PUT\",\"routeType\":\"STATIC\"}}" >/dev/null
api "$INET" PATCH "/api/v1/networks/$nc_" '{"subnets":["192.0.2.0/24"]}' >/dev/null
wait_until 15 _c_in || mg_fail "no convergence after a 412: $(tail "$MG_TMP/run-v.log")"
rules_of "$RTB" | jq -e 'any(.destination=="233.252.0.0/24" and .description=="theirs, landed between GET and PUT")' >/dev/null ||
	mg_fail "the concurrent edit was lost: $(rules_of "$RTB")"
[ "$(ctl /counters | jq '.errors.NoEtagMatch // 0')" -ge 1 ] || mg_fail "no 412 was provoked: $(ctl /counters)"
FOREIGN_B=$(foreign_of "$RTB")

mg_log "throttled x5 on UpdateRouteTable, then converges"
ctl /counters/reset POST '{}' >/dev/null
ctl /fault POST '{"kind":"throttle","count":5,"operation":"UpdateRouteTable"}' >/dev/null
api "$INET" PATCH "/api/v1/networks/$nc_" '{"subnets":[]}' >/dev/null
t0=$(now_ms)
wait_until 40 _c_out || mg_fail "no convergence after throttling: $(tail "$MG_TMP/run-v.log")"
puts=$(ctl /counters | jq '.calls.UpdateRouteTable // 0')
mg_log "converged after 5 throttles in $(($(now_ms) - t0)) ms with $puts UpdateRouteTable calls"
[ "$puts" -le 9 ] || mg_fail "$puts UpdateRouteTable calls for 2 tables and 5 throttles"
assert_eq "$(foreign_of "$RTB")" "$FOREIGN_B" "others' rules after throttling"
# the metrics: these 5 throttles (the only ones since the agent's start), no unknown operation
M=$(nsx "$CV" curl -sf http://127.0.0.1:9586/metrics) || mg_fail "no metrics"
call() { awk -v k="meshgate_cloud_api_calls_total{provider=\"oci\",action=\"$1\",result=\"$2\"}" 'index($0, k " ") == 1 { print $NF }' <<<"$M"; }
assert_eq "$(call UpdateRouteTable throttled)" 5 "throttled UpdateRouteTable (metric)"
[ "$(call UpdateRouteTable ok)" -ge "$(ctl /counters | jq '.ok.UpdateRouteTable // 0')" ] ||
	mg_fail "fewer UpdateRouteTable counted than the fake accepted: $(grep api_calls_total <<<"$M")"
if grep -q 'api_calls_total{provider="oci",action="other"' <<<"$M"; then mg_fail "an OCI request outside the action table: $(grep api_calls_total <<<"$M")"; fi

mg_log "token expiry and certificate rotation (old leaf revoked) are survived"
fed0=$(ctl /counters | jq '.federation_ok // 0')
ctl /identity/rotate POST '{"revoke_old":true}' >/dev/null
ctl /token/expire POST '{}' >/dev/null
api "$INET" PATCH "/api/v1/networks/$nc_" '{"subnets":["192.0.2.0/24"]}' >/dev/null
wait_until 20 _c_in || mg_fail "no change after token expiry + rotation: $(tail "$MG_TMP/run-v.log")"
[ "$(ctl /counters | jq '.federation_ok // 0')" -gt "$fed0" ] || mg_fail "no new federation"

mg_log "a missing policy is named"
ctl /deny POST '{"operation":"UpdateRouteTable"}' >/dev/null
api "$INET" PATCH "/api/v1/networks/$nc_" '{"subnets":[]}' >/dev/null
_denied() { grep -q "manage route-tables" "$STATE_v/status.json"; }
wait_until 15 _denied || mg_fail "missing policy not named: $(jq -c .daemon.cloud "$STATE_v/status.json")"
ctl /allow POST '{"operation":"UpdateRouteTable"}' >/dev/null
wait_until 90 _c_out || mg_fail "no convergence after the policy came back"

mg_log "refused signatures: one is recovered from, a lasting one is reported with its likely cause"
# a signed header changed once on the way: 401, the agent federates again, retries, goes on
ctl /counters/reset POST '{}' >/dev/null
ctl /signature/refuse POST '{"kind":"tampered","count":1,"service":"api"}' >/dev/null
api "$INET" PATCH "/api/v1/networks/$nc_" '{"subnets":["192.0.2.0/24"]}' >/dev/null
wait_until 15 _c_in || mg_fail "no convergence after one tampered request: $(tail -5 "$MG_TMP/run-v.log")"
ctl /log | jq -e 'any(.[]; .status==401 and (.reason // "" | test("does not verify.*tampered")))' >/dev/null ||
	mg_fail "the fake did not refuse the tampered request: $(ctl /log | jq -c '[.[]|select(.status==401)]')"
# every API request signed with a key that is not its keyId's: refused even after a new
# federation, and the report says the clock is fine, so the signature itself was refused
ctl /signature/refuse POST '{"kind":"wrong_key","count":1000,"service":"api"}' >/dev/null
api "$INET" PATCH "/api/v1/networks/$nc_" '{"subnets":[]}' >/dev/null
_wrong_key() { grep -q "401 NotAuthenticated with a fresh token.*the signature itself was refused" "$STATE_v/status.json"; }
wait_until 20 _wrong_key || mg_fail "a refused signature is not reported: $(jq -c .daemon.cloud "$STATE_v/status.json")"
mg_log "reported: $(jq -r '[.daemon.cloud.state, (.daemon.cloud.tables[]?.last_error // empty)]|map(select(test("401")))|.[0]' "$STATE_v/status.json")"
ctl /signature/refuse POST '{}' >/dev/null
# a stale date: the service's clock runs 10 minutes ahead; federation is refused too, and the
# report names the clock and by how much (from the answer's Date)
ctl /clock POST '{"offset":600}' >/dev/null
api "$INET" PATCH "/api/v1/networks/$nc_" '{"subnets":["192.0.2.0/24"]}' >/dev/null
_stale() { grep -Eq "clock is (59[0-9]|60[0-9]) s behind OCI's" "$STATE_v/status.json"; }
wait_until 20 _stale || mg_fail "a stale date is not reported as the clock: $(jq -c .daemon.cloud "$STATE_v/status.json")"
mg_log "reported: $(jq -r '[.daemon.cloud.state, (.daemon.cloud.tables[]?.last_error // empty)]|map(select(test("clock")))|.[0]' "$STATE_v/status.json")"
ctl /clock POST '{"offset":0}' >/dev/null
api "$INET" PATCH "/api/v1/networks/$nc_" '{"subnets":[]}' >/dev/null
wait_until 20 _c_out || mg_fail "no convergence once signatures were accepted again: $(tail -5 "$MG_TMP/run-v.log")"
[ "$(ctl /counters | jq '.errors.NotAuthenticated // 0')" -ge 3 ] || mg_fail "the fake refused too little: $(ctl /counters | jq -c .errors)"

mg_log "down removes exactly our rules"
kill -TERM "$PID_v"
wait_until 5 sh -c "! kill -0 $PID_v 2>/dev/null"
_rule_in 100.96.0.0/11 || mg_fail "a plain stop removed cloud rules"
nsx "$CV" "$MESHGATE" down --state-dir "$STATE_v" --sysctl-dropin "$MG_TMP/sysctl-v.conf" \
	"${CLOUD_ARGS[@]}" >"$MG_TMP/down-v.log" 2>&1 || mg_fail "down: $(cat "$MG_TMP/down-v.log")"
for t in $RTA $RTB; do
	assert_eq "$(ours_of "$t")" "[]" "our rules left in $t"
done
assert_eq "$(foreign_of "$RTB")" "$FOREIGN_B" "others' rules after down"
mg_pass
