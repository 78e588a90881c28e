#!/usr/bin/env bash
# Cloud route management against the fake GCP (issue 13 acceptance): a connector VM
# (mg-conn-2, canIpForward true) writes VPC-global routes for the mesh range and the remote
# site, next hop itself; an app host in another subnet reaches the site through the VPC
# router alone; a new site appears within seconds and a removed one goes; a restart makes
# zero inserts/deletes; a foreign route is left alone and reported; throttling x5 and an
# expired token converge; a next-hop change inserts before it deletes (no gap); canIpForward
# false is diagnosed in `meshgate status` and `meshgate check` with nothing written; `down`
# deletes exactly ours.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/topo.sh"
mg_setup cloud_gcp
FAKE=$MG_SRC/tests/fake/gcp
export PYTHONDONTWRITEBYTECODE=1

topo_internet
topo_site b 198.51.100 20
topo_route_via_connector b 198.18.0.0/16

V=$(ns_add vpc)
CV=$(ns_add cv)
AP=$(ns_add app)
_inet_port "$V" wan 203.0.113.40
nsx "$V" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
	net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.default.send_redirects=0
nsx "$V" nft add table ip vpcnat
nsx "$V" nft add chain ip vpcnat post '{ type nat hook postrouting priority srcnat; policy accept; }'
nsx "$V" nft add rule ip vpcnat post oifname wan masquerade
veth "$V" s1 "$CV" eth0
veth "$V" s2 "$AP" eth0
ip -n "$CV" link set eth0 address 42:01:c6:12:01:0b
ip -n "$AP" link set eth0 address 42:01:c6:12:02:14
ip -n "$V" addr add 198.18.1.1/24 dev s1
ip -n "$V" addr add 198.18.2.1/24 dev s2
ip -n "$V" addr add 169.254.169.254/32 dev lo
ip -n "$CV" addr add 198.18.1.11/24 dev eth0
ip -n "$CV" route add default via 198.18.1.1
ip -n "$AP" addr add 198.18.2.20/24 dev eth0
ip -n "$AP" route add default via 198.18.2.1

# no foreign routes of the default topology (its 203.0.113.0/24 is our "internet")
echo '{"routes": []}' >"$MG_TMP/topo.json"
bg_start "$V" "$MG_TMP/fake.log" /usr/bin/python3 "$FAKE/fake_gcp.py" --state-dir "$MG_TMP/fake" \
	--topology "$MG_TMP/topo.json" --compute-listen 198.18.1.1:443 --compute-san 198.18.1.1 \
	--control-listen 127.0.0.1:8797
wait_until 15 test -s "$MG_TMP/fake/ready.json" || mg_fail "fake GCP did not start: $(cat "$MG_TMP/fake.log")"
bg_start "$V" "$MG_TMP/vpcr.log" /usr/bin/python3 "$FAKE/vpc_router.py" --routes "$MG_TMP/fake/gcp-routes.json" \
	--subnet subnet-a=s1 --subnet subnet-b=s2
ctl() { nsx "$V" curl -s -X "${2:-GET}" ${3:+-d "$3"} "http://127.0.0.1:8797$1"; }
# our routes (name prefix mg-): [{dst, hop (instance name), name}]
ours() { ctl /state | jq -c '[.routes|(if type=="object" then [.[]] else . end)[]|select(.name|startswith("mg-"))|{dst:.destRange,hop:((.nextHopInstance//"")|split("/")|last),name}]|sort_by(.dst)'; }
route_to() { ours | jq -e --arg d "$1" --arg h "${2:-mg-conn-2}" 'any(.dst==$d and .hop==$h)' >/dev/null; }
CLOUD=(--cloud gcp --cloud-metadata http://169.254.169.254 --cloud-api https://198.18.1.1
	--cloud-ca-file "$MG_TMP/fake/ca.pem")

nb=$(topo_network site-b '"subnets":["198.51.100.0/24"],"access":[{"cidr":"198.51.100.0/24","mode":"full"}]')
nd=$(topo_network site-d '"subnets":["198.19.4.0/24"]')
# someone else's route for site D's range, preferred over ours (priority 800 < 1000)
ctl /route POST '{"name":"other-team-d","destRange":"198.19.4.0/24","priority":800,"nextHopIp":"198.18.2.99"}' >/dev/null
nv=$(topo_network vpc '"subnets":["198.18.0.0/16"],"manage_cloud_routes":true,"access":[{"cidr":"198.18.0.0/16","mode":"full"}]')
topo_connector b "$nb"
C_v=$CV
topo_connector v "$nv" "${CLOUD[@]}"
topo_wait_applied b
topo_wait_applied v

mg_log "routes to this VM for the mesh range and site B; the foreign route left alone and reported"
wait_until 15 route_to 100.96.0.0/11 || mg_fail "mesh route missing: $(ours) $(tail "$MG_TMP/run-v.log")"
wait_until 5 route_to 198.51.100.0/24 || mg_fail "site B route missing: $(ours)"
assert_eq "$(ctl /state | jq -r '[.routes|(if type=="object" then [.[]] else . end)[]|select(.destRange=="198.19.4.0/24")|.name]|join(",")')" \
	other-team-d "routes for site D"
_conflict() { jq -e '.daemon.cloud.tables[0].conflicts==1' "$STATE_v/status.json" >/dev/null 2>&1; }
wait_until 10 _conflict || mg_fail "conflict not reported: $(jq -c .daemon.cloud "$STATE_v/status.json")"
desc=$(ctl /state | jq -r '[.routes|(if type=="object" then [.[]] else . end)[]|select(.name|startswith("mg-"))][0].description')
case $desc in meshgate:*:*) ;; *) mg_fail "our route's description: $desc" ;; esac

mg_log "the app host, with no route of its own, reaches site B through the VPC route"
ping_ok "$AP" 198.51.100.10 15 || mg_fail "app host cannot reach site B: $(tail -5 "$MG_TMP/vpcr.log")"
if nsx "$AP" ip route | grep -q 198.51.100; then mg_fail "the app host has a route of its own"; fi

mg_log "a new site appears within seconds, a removed one disappears"
t0=$(now_ms)
nc_=$(topo_network site-c '"subnets":["192.0.2.0/24"]')
_c_in() { route_to 192.0.2.0/24; }
wait_until 8 _c_in || mg_fail "site C never reached the VPC routes"
dt=$(($(now_ms) - t0)); mg_log "site C in the VPC routes after $dt ms (insert + operation wait)"
[ $dt -le 5000 ] || mg_fail "site C took $dt ms"
api "$INET" PATCH "/api/v1/networks/$nc_" '{"subnets":[]}' >/dev/null
_c_out() { ! ours | jq -e 'any(.dst=="192.0.2.0/24")' >/dev/null; }
wait_until 8 _c_out || mg_fail "site C's route was not removed: $(ours)"

mg_log "restart: zero inserts and deletes"
kill -TERM "$PID_v"
wait_until 5 sh -c "! kill -0 $PID_v 2>/dev/null"
ctl /counters/reset POST '{}' >/dev/null
topo_run v "${CLOUD[@]}" --metrics-listen 127.0.0.1:9586
_synced() { [ "$(ctl /counters | jq '.ok["routes.list"] // 0')" -ge 1 ] && grep -q "config version" "$MG_TMP/run-v.log"; }
wait_until 15 _synced || mg_fail "no cloud sync after restart: $(ctl /counters)"
sleep 1
assert_eq "$(ctl /counters | jq .mutating)" 0 "inserts/deletes after a restart"

mg_log "throttled x5 (429), then converges"
ctl /counters/reset POST '{}' >/dev/null
ctl /fault POST '{"kind":"429","count":5,"method":"routes.insert"}' >/dev/null
t0=$(now_ms)
api "$INET" PATCH "/api/v1/networks/$nc_" '{"subnets":["192.0.2.0/24"]}' >/dev/null
wait_until 40 _c_in || mg_fail "no convergence after throttling: $(tail "$MG_TMP/run-v.log")"
ins=$(ctl /counters | jq '.calls["routes.insert"] // 0')
mg_log "converged after 5 throttles in $(($(now_ms) - t0)) ms with $ins routes.insert calls"
[ "$ins" -le 7 ] || mg_fail "$ins routes.insert calls for 1 route and 5 throttles"
# the same requests in the metrics (the fake's counters were reset at the agent's start)
M=$(nsx "$CV" curl -sf http://127.0.0.1:9586/metrics) || mg_fail "no metrics"
call() { awk -v k="meshgate_cloud_api_calls_total{provider=\"gcp\",action=\"$1\",result=\"$2\"}" '$1 == k { print $2 }' <<<"$M"; }
assert_eq "$(call routes.insert throttled)" 5 "throttled routes.insert (metric)"
assert_eq "$(call routes.insert ok)" "$(ctl /counters | jq '.ok["routes.insert"] // 0')" "routes.insert (metric and fake)"
[ "$(call routes.list ok)" -ge 1 ] || mg_fail "routes.list not counted: $(grep api_calls_total <<<"$M")"
if grep -q 'api_calls_total{provider="gcp",action="other"' <<<"$M"; then mg_fail "a Compute request outside the action table: $(grep api_calls_total <<<"$M")"; fi

mg_log "an expired token is refreshed"
ctl /tokens/expire POST '{}' >/dev/null
api "$INET" PATCH "/api/v1/networks/$nc_" '{"subnets":[]}' >/dev/null
wait_until 20 _c_out || mg_fail "no change after the token expired: $(tail "$MG_TMP/run-v.log")"

mg_log "next-hop change (one of ours pointing at another instance): insert first, then delete"
ctl /route POST "{\"name\":\"mg-seeded-other-vm\",\"destRange\":\"192.0.2.0/24\",\"priority\":1000,\"nextHopInstance\":\"mg-conn-1\",\"description\":\"$desc\"}" >/dev/null
ctl /counters/reset POST '{}' >/dev/null
api "$INET" PATCH "/api/v1/networks/$nc_" '{"subnets":["192.0.2.0/24"]}' >/dev/null
_moved() { route_to 192.0.2.0/24 && ! ours | jq -e 'any(.name=="mg-seeded-other-vm")' >/dev/null; }
wait_until 15 _moved || mg_fail "next hop not moved to this VM: $(ours)"
order=$(ctl /log | jq -r '[(if type=="object" then .log else . end)[]|select(.method=="routes.insert" or .method=="routes.delete")|select(.status<300)|.method]|join(",")')
assert_eq "$order" "routes.insert,routes.delete" "mutating calls of the next-hop change"

mg_log "a missing permission is named"
ctl /deny POST '{"permission":"compute.routes.create"}' >/dev/null
nsx "$V" true
api "$INET" PATCH "/api/v1/networks/$nd" '{"subnets":["198.19.4.0/24","198.19.6.0/24"]}' >/dev/null
_denied() { grep -q "compute.routes.create" "$STATE_v/status.json"; }
wait_until 15 _denied || mg_fail "missing permission not named: $(jq -c .daemon.cloud "$STATE_v/status.json")"
ctl /allow POST '{"permission":"compute.routes.create"}' >/dev/null

mg_log "canIpForward false: diagnosed in status, nothing written"
kill -TERM "$PID_v"
wait_until 5 sh -c "! kill -0 $PID_v 2>/dev/null"
ctl /instance POST '{"name":"mg-conn-2","can_ip_forward":false}' >/dev/null
ctl /counters/reset POST '{}' >/dev/null
topo_run v "${CLOUD[@]}"
_diag() { jq -e '.daemon.cloud.state|test("canIpForward")' "$STATE_v/status.json" >/dev/null 2>&1; }
wait_until 15 _diag || mg_fail "canIpForward=false not diagnosed: $(jq -c .daemon.cloud "$STATE_v/status.json" 2>&1)"
st=$(nsx "$CV" "$MESHGATE" status --state-dir "$STATE_v" 2>&1) || true
grep -q "canIpForward=false" <<<"$st" || mg_fail "meshgate status does not say it: $st"
grep -q "can-ip-forward" <<<"$st" || mg_fail "meshgate status does not say how to fix it: $st"
mg_log "status says: $(grep -m1 canIpForward <<<"$st")"
# meshgate check says it too (one line, read only), and says so once it is true
ck=$(nsx "$CV" "$MESHGATE" check --state-dir "$STATE_v" "${CLOUD[@]}" 2>&1) || true
grep -Eq "^FAIL +cloud +gcp: instance mg-conn-2.*canIpForward=false.*can-ip-forward" <<<"$ck" ||
	mg_fail "meshgate check does not report canIpForward=false: $ck"
mg_log "check says: $(grep -m1 cloud <<<"$ck")"
assert_eq "$(ctl /counters | jq .mutating)" 0 "writes while canIpForward is false"
ctl /instance POST '{"name":"mg-conn-2","can_ip_forward":true}' >/dev/null
ck=$(nsx "$CV" "$MESHGATE" check --state-dir "$STATE_v" "${CLOUD[@]}" --json 2>&1) || true
assert_eq "$(jq -r '.checks[]|select(.name=="cloud")|.result' <<<"$ck")" ok "check's cloud result with canIpForward true"
jq -e '.checks[]|select(.name=="cloud")|.detail|test("mg-conn-2.*canIpForward true")' <<<"$ck" >/dev/null ||
	mg_fail "meshgate check does not show canIpForward true: $ck"

mg_log "down deletes exactly our routes"
kill -TERM "$PID_v"
wait_until 5 sh -c "! kill -0 $PID_v 2>/dev/null"
route_to 100.96.0.0/11 || mg_fail "a plain stop removed cloud routes"
nsx "$CV" "$MESHGATE" down --state-dir "$STATE_v" --sysctl-dropin "$MG_TMP/sysctl-v.conf" "${CLOUD[@]}" \
	>"$MG_TMP/down-v.log" 2>&1 || mg_fail "down: $(cat "$MG_TMP/down-v.log")"
assert_eq "$(ours)" "[]" "our routes after down"
assert_eq "$(ctl /state | jq -r '[.routes|(if type=="object" then [.[]] else . end)[]|select(.destRange=="198.19.4.0/24")|.name]|join(",")')" \
	other-team-d "foreign route after down"
mg_pass
