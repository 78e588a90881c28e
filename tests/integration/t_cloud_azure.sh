#!/usr/bin/env bash
# Cloud route management against the fake Azure (issue 12 acceptance): a connector on a
# "VNet" enrols, turns on the NIC's IP forwarding (read-modify-write PUT under If-Match,
# followed to the end of its operation), writes routes (next hop VirtualAppliance = its
# private IP) for the mesh range and the remote site into every route table associated
# with a subnet of its VNet; a new site appears within 2 s and a removed one disappears; a
# restart and a steady state make zero PUT/DELETE calls; a foreign route for our prefix is
# reported and left alone; throttling converges without extra writes; an expired token is
# refreshed; a missing permission is named; `down` removes exactly our routes; an app
# host in another subnet, with no route of its own, reaches the remote site through the
# VNet route alone; and on an instance of a uniform VM scale set the connector finds its NIC
# under the scale set's path and diagnoses forwarding off there (never writing the NIC).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/topo.sh"
mg_setup cloud_azure
FAKE=$MG_SRC/tests/fake/azure
export PYTHONDONTWRITEBYTECODE=1
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3) || mg_fail "python3 missing (scripts/deps)"

topo_internet
topo_site b 198.51.100 20
topo_route_via_connector b 198.18.0.0/16

# the VNet: its router (with the fake's IMDS and ARM endpoint), the connector VM, an app host
V=$(ns_add vnet)
CV=$(ns_add cv)
AP=$(ns_add app)
_inet_port "$V" wan 203.0.113.40
nsx "$V" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
	net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.default.send_redirects=0
nsx "$V" nft add table ip vnetnat
nsx "$V" nft add chain ip vnetnat post '{ type nat hook postrouting priority srcnat; policy accept; }'
nsx "$V" nft add rule ip vnetnat post oifname wan masquerade
veth "$V" s1 "$CV" eth0
veth "$V" s2 "$AP" eth0
ip -n "$CV" link set eth0 address 00:0d:3a:12:01:0a
ip -n "$V" addr add 198.18.1.1/24 dev s1
ip -n "$V" addr add 198.18.2.1/24 dev s2
ip -n "$V" addr add 169.254.169.254/32 dev lo
ip -n "$CV" addr add 198.18.1.10/24 dev eth0
ip -n "$CV" route add default via 198.18.1.1
ip -n "$AP" addr add 198.18.2.10/24 dev eth0
ip -n "$AP" route add default via 198.18.2.1
# Azure's Internet egress (the router answers "Internet" routes with unreachable): the
# connector reaches the controller in the documentation range outside the VNet rules
ip -n "$V" rule add iif s1 to 203.0.113.0/24 lookup main pref 100

# ARM on the router's address under that name (certificate SAN and the URLs it hands out)
bg_start "$V" "$MG_TMP/fake.log" "$PY" "$FAKE/fake_azure.py" --state-dir "$MG_TMP/fake" \
	--imds-listen 169.254.169.254:80 --arm-listen 198.18.1.1:443 --arm-host 198.18.1.1 \
	--arm-san 198.18.1.1 --control-listen 127.0.0.1:8799 --retry-after 0 --lro-polls 1
wait_until 15 test -s "$MG_TMP/fake/ready.json" || mg_fail "fake Azure did not start: $(cat "$MG_TMP/fake.log")"
FAKE_PID=$BG_PID
bg_start "$V" "$MG_TMP/vnetr.log" "$PY" "$FAKE/vnet_router.py" --routes "$MG_TMP/fake/vnet-routes.json" \
	--subnet snet-app=s2 --subnet snet-gw=s1
ctl() { nsx "$V" curl -s -X "${2:-GET}" ${3:+-d "$3"} "http://127.0.0.1:8799$1"; }
# routes_of TABLE: [{name, dst, ip, state}] sorted by dst
routes_of() {
	ctl /state | jq -c --arg t "$1" '[.route_tables[]|select(.name==$t)|.properties.routes[]|
		{name, dst: .properties.addressPrefix, ip: .properties.nextHopIpAddress,
		 state: .properties.provisioningState}]|sort_by(.dst)'
}
mutating() { ctl /counters | jq '.mutating'; }
IP=198.18.1.10
# snet-db gets the spare table: three tables in scope (rt-gw, rt-app, rt-spare)
ctl /associate POST '{"subnet":"snet-db","route_table":"rt-spare"}' >/dev/null
# least privilege: the driver reads routes only through their table's GET (the custom role
# leaves routes/read out), so the whole run goes without it
ctl /deny POST '{"action":"Microsoft.Network/routeTables/routes/read"}' >/dev/null
TABLES="rt-gw rt-app rt-spare"
CLOUD_ARGS=(--cloud azure --cloud-metadata http://169.254.169.254 --cloud-api https://198.18.1.1
	--cloud-ca-file "$MG_TMP/fake/ca.pem" --cloud-interval 5)

nb=$(topo_network site-b '"subnets":["198.51.100.0/24"],"access":[{"cidr":"198.51.100.0/24","mode":"full"}]')
# someone else's route for the site's CIDR in the spare table
ctl /route POST '{"route_table":"rt-spare","name":"legacy-fw","address_prefix":"198.51.100.0/24","next_hop_type":"VirtualAppliance","next_hop_ip":"198.18.3.50"}' >/dev/null
nv=$(topo_network vnet '"subnets":["198.18.0.0/16"],"manage_cloud_routes":true,"access":[{"cidr":"198.18.0.0/16","mode":"full"}]')
topo_connector b "$nb"
C_v=$CV
topo_connector v "$nv" "${CLOUD_ARGS[@]}"
topo_wait_applied b
topo_wait_applied v

mg_log "IP forwarding on, routes in every table, the foreign route left alone"
_fwd_on() { [ "$(ctl /state | jq -r '.nics[]|select(.name=="vm-gw-1-nic")|.properties.enableIPForwarding')" = true ]; }
wait_until 15 _fwd_on || mg_fail "IP forwarding still off: $(ctl /state | jq -c .nics) $(tail "$MG_TMP/run-v.log")"
_routes_in() {
	for t in $TABLES; do
		routes_of $t | jq -e --arg d "$1" --arg ip $IP 'any(.dst==$d and .ip==$ip and .state=="Succeeded")' >/dev/null || return 1
	done
}
wait_until 15 _routes_in 100.96.0.0/11 || mg_fail "mesh route missing: $(for t in $TABLES; do routes_of $t; done) $(tail "$MG_TMP/run-v.log")"
for t in rt-gw rt-app; do
	routes_of $t | jq -e --arg ip $IP 'any(.dst=="198.51.100.0/24" and .ip==$ip and .name=="meshgate-'"$nv"'-198.51.100.0_24")' >/dev/null ||
		mg_fail "site route missing in $t: $(routes_of $t)"
done
assert_eq "$(routes_of rt-spare | jq -c '[.[]|select(.dst=="198.51.100.0/24")|{name,ip}]')" \
	'[{"name":"legacy-fw","ip":"198.18.3.50"}]' "foreign route untouched"
assert_eq "$(routes_of rt-app | jq -r '.[]|select(.name=="onprem-legacy")|.dst')" 203.0.113.0/24 "unrelated route untouched"
_conflict() { jq -e '.daemon.cloud.tables[]|select(.id=="rt-spare")|.conflicts==1' "$STATE_v/status.json" >/dev/null 2>&1; }
wait_until 10 _conflict || mg_fail "conflict not reported: $(jq -c .daemon.cloud "$STATE_v/status.json")"
mg_log "status: $(jq -c '.daemon.cloud|{provider,instance,nic,network}' "$STATE_v/status.json")"
assert_eq "$(jq -r '.daemon.cloud|[.provider,.instance,.nic,.network]|join(" ")' "$STATE_v/status.json")" \
	"azure vm-gw-1 vm-gw-1-nic vnet-mesh" "status identity"
st=$(nsx "$CV" "$MESHGATE" status --state-dir "$STATE_v" 2>&1) || mg_fail "meshgate status: $st"
mg_log "meshgate status, cloud part:"$'\n'"$(sed -n '/^Cloud:/,/^NAT:/p' <<<"$st")"
[[ $st == *"vm-gw-1, NIC vm-gw-1-nic, network vnet-mesh, westeurope, forwarding on"* ]] ||
	mg_fail "meshgate status does not show the Azure identity: $st"
[[ $st == *"rt-spare: 1 ours, 1 conflict - 198.51.100.0/24 already routes to 198.18.3.50"* ]] ||
	mg_fail "meshgate status does not show the conflict: $st"
# the managed identity in use and its token's expiry, in the future
[[ $st == *"credential: system-assigned managed identity, token expires 20"*Z* ]] ||
	mg_fail "meshgate status does not show the managed identity: $st"
exp=$(jq -r '.daemon.cloud.credential_expires' "$STATE_v/status.json")
[ "$(date -u -d "$exp" +%s 2>/dev/null || echo 0)" -gt "$(date +%s)" ] ||
	mg_fail "token expiry '$exp' in status.json is not a time to come"

mg_log "the app host, with no route of its own, reaches site B through the VNet route"
ping_ok "$AP" 198.51.100.10 15 || mg_fail "app host cannot reach site B: $(tail -5 "$MG_TMP/vnetr.log")"
if nsx "$AP" ip route | grep -q 198.51.100; then mg_fail "the app host has a route of its own"; fi

mg_log "steady state: zero writes (periodic passes read only)"
ctl /counters/reset POST '{}' >/dev/null
_two_passes() { [ "$(ctl /counters | jq '.calls["GET routeTables"] // 0')" -ge 6 ]; }
wait_until 30 _two_passes || mg_fail "no periodic cloud pass: $(ctl /counters | jq -c .calls)"
assert_eq "$(mutating)" 0 "mutating calls in a steady state"

mg_log "a new site appears within 2 s, a removed one disappears"
t0=$(now_ms)
nc_=$(topo_network site-c '"subnets":["192.0.2.0/24"]')
_c_in_gw() { routes_of rt-gw | jq -e 'any(.dst=="192.0.2.0/24")' >/dev/null; }
_c_in() { for t in $TABLES; do routes_of $t | jq -e 'any(.dst=="192.0.2.0/24" and .state=="Succeeded")' >/dev/null || return 1; done; }
wait_until 5 _c_in_gw || mg_fail "site C never reached the VNet tables"
dt=$(($(now_ms) - t0))
wait_until 10 _c_in || mg_fail "site C not in every table"
dt_all=$(($(now_ms) - t0))
mg_log "site C in the first route table after $dt ms, in all three (operations done) after $dt_all ms"
[ $dt -le 5000 ] || mg_fail "site C took $dt ms"
api "$INET" PATCH "/api/v1/networks/$nc_" '{"subnets":[]}' >/dev/null
_c_out() { for t in $TABLES; do routes_of $t | jq -e 'any(.dst=="192.0.2.0/24")|not' >/dev/null || return 1; done; }
wait_until 10 _c_out || mg_fail "site C's route was not removed"

mg_log "a user-assigned identity that is not the VM's is refused with a hint"
kill -TERM "$PID_v"
wait_until 5 sh -c "! kill -0 $PID_v 2>/dev/null"
topo_run v "${CLOUD_ARGS[@]}" --cloud-azure-client-id 4d6c8b02-3e5f-4071-9b2c-0d1e2f3a4b5c
_hint() { grep -q "Identity not found.*--cloud-azure-client-id\|--cloud-azure-client-id.*Identity not found" "$MG_TMP/run-v.log" "$STATE_v/status.json" 2>/dev/null; }
wait_until 20 _hint || mg_fail "no hint for a wrong client id: $(tail -5 "$MG_TMP/run-v.log")"

mg_log "restart with the VM's user-assigned identity: zero mutating calls"
kill -TERM "$PID_v"
wait_until 5 sh -c "! kill -0 $PID_v 2>/dev/null"
ctl /counters/reset POST '{}' >/dev/null
topo_run v "${CLOUD_ARGS[@]}" --cloud-azure-client-id 3c5b7a91-2d4e-4f60-8a1b-9c0d1e2f3a4b \
	--metrics-listen 127.0.0.1:9586
_synced() { [ "$(ctl /counters | jq '.calls["GET routeTables"] // 0')" -ge 3 ] && grep -q "config version" "$MG_TMP/run-v.log"; }
wait_until 15 _synced || mg_fail "no cloud sync after restart: $(ctl /counters | jq -c .calls)"
sleep 1
assert_eq "$(jq -r .daemon.cloud.credential "$STATE_v/status.json")" \
	"user-assigned managed identity, client id 3c5b7a91-2d4e-4f60-8a1b-9c0d1e2f3a4b" "status: the identity"
assert_eq "$(mutating)" 0 "mutating calls after a restart"

mg_log "throttled x5, then converges without extra calls"
ctl /counters/reset POST '{}' >/dev/null
ctl /fault POST '{"kind":"throttle","count":5,"op":"PUT routes","retry_after":1}' >/dev/null
t0=$(now_ms)
api "$INET" PATCH "/api/v1/networks/$nc_" '{"subnets":["192.0.2.0/24"]}' >/dev/null
wait_until 40 _c_in || mg_fail "no convergence after throttling: $(tail "$MG_TMP/run-v.log")"
puts=$(ctl /counters | jq '.calls["PUT routes"] // 0')
ok_puts=$(ctl /counters | jq '.status["PUT routes"]|to_entries|map(select(.key|startswith("2")))|map(.value)|add // 0')
mg_log "PUT routes calls with 5 throttles: $puts ($ok_puts accepted) after $(($(now_ms) - t0)) ms"
# 3 tables: the throttled attempts are retries of the same 3 writes, nothing more
assert_eq "$ok_puts" 3 "accepted route writes"
[ "$puts" -le 8 ] || mg_fail "$puts PUT routes calls for 3 routes and 5 throttles"
# the same requests in the metrics (the fake's counters were reset at the agent's start)
M=$(nsx "$CV" curl -sf http://127.0.0.1:9586/metrics) || mg_fail "no metrics"
call() { awk -v k="meshgate_cloud_api_calls_total{provider=\"azure\",action=\"$1\",result=\"$2\"}" 'index($0, k " ") == 1 { print $NF }' <<<"$M"; }
assert_eq "$(call 'PUT routes' throttled)" 5 "throttled PUT routes (metric)"
assert_eq "$(call 'PUT routes' ok)" "$ok_puts" "accepted PUT routes (metric)"
[ "$(call 'GET operations' ok)" -ge 3 ] || mg_fail "LRO polls not counted: $(grep api_calls_total <<<"$M")"
if grep -q 'api_calls_total{provider="azure",action="other"' <<<"$M"; then mg_fail "an ARM request outside the action table: $(grep api_calls_total <<<"$M")"; fi

mg_log "an expired token is refreshed"
tok0=$(ctl /counters | jq '.imds["token 200"] // 0')
ctl /counters/reset POST '{}' >/dev/null
ctl /token/expire POST '{}' >/dev/null
api "$INET" PATCH "/api/v1/networks/$nc_" '{"subnets":[]}' >/dev/null
wait_until 15 _c_out || mg_fail "no change after the token expired: $(tail "$MG_TMP/run-v.log")"
expired=$(ctl /counters | jq '.errors.ExpiredAuthenticationToken // 0')
newtok=$(ctl /counters | jq '.imds["token 200"] // 0')
mg_log "ExpiredAuthenticationToken answers: $expired, new tokens: $newtok (before: $tok0)"
[ "$expired" -ge 1 ] && [ "$newtok" -ge 1 ] || mg_fail "the token was not refreshed after it expired"

mg_log "a missing permission is named"
ctl /deny POST '{"action":"Microsoft.Network/routeTables/routes/write"}' >/dev/null
api "$INET" PATCH "/api/v1/networks/$nc_" '{"subnets":["192.0.2.0/24"]}' >/dev/null
_denied() { grep -q "Microsoft.Network/routeTables/routes/write" "$STATE_v/status.json" && grep -q "Network Contributor" "$STATE_v/status.json"; }
wait_until 15 _denied || mg_fail "missing permission not named: $(jq -c .daemon.cloud "$STATE_v/status.json")"
st=$(nsx "$CV" "$MESHGATE" status --state-dir "$STATE_v" 2>&1) || mg_fail "meshgate status: $st"
[[ $st == *"; last error: "*"Microsoft.Network/routeTables/routes/write"* ]] ||
	mg_fail "meshgate status does not show the table's last error: $st"
ctl /allow POST '{"action":"Microsoft.Network/routeTables/routes/write"}' >/dev/null
t0=$(now_ms)
wait_until 90 _c_in || mg_fail "no convergence after the permission came back"
mg_log "converged $(($(now_ms) - t0)) ms after the permission came back (the next periodic pass)"

mg_log "a full route table is a limit, not a loop"
ctl /config POST '{"route_limit":3}' >/dev/null
ctl /counters/reset POST '{}' >/dev/null
nd=$(topo_network site-d '"subnets":["198.19.5.0/24"]')
_limit() { jq -e '.daemon.cloud.tables[]|select(.error_kind=="limit reached")' "$STATE_v/status.json" >/dev/null 2>&1; }
wait_until 15 _limit || mg_fail "route limit not reported: $(jq -c .daemon.cloud "$STATE_v/status.json")"
sleep 2
puts=$(ctl /counters | jq '.calls["PUT routes"] // 0')
mg_log "PUT routes calls against full tables: $puts; status: $(jq -c '[.daemon.cloud.tables[]|select(.last_error)|.last_error][0]' "$STATE_v/status.json")"
[ "$puts" -le 6 ] || mg_fail "$puts route writes against full tables (a loop?)"
ctl /config POST '{"route_limit":400}' >/dev/null
api "$INET" PATCH "/api/v1/networks/$nd" '{"subnets":[]}' >/dev/null
# (the table's error, not the cumulative counters.totals.errors_by_kind that name every kind)
_no_limit() { jq -e '[.daemon.cloud.tables[]|select(.error_kind=="limit reached")]|length == 0' "$STATE_v/status.json" >/dev/null 2>&1; }
wait_until 30 _no_limit || mg_fail "limit error stays after the site left: $(jq -c .daemon.cloud.tables "$STATE_v/status.json")"

mg_log "down removes exactly our routes"
kill -TERM "$PID_v"
wait_until 5 sh -c "! kill -0 $PID_v 2>/dev/null"
# a plain stop leaves the VNet routes (restarts must not churn the API)
_routes_in 100.96.0.0/11 || mg_fail "a plain stop removed cloud routes"
nsx "$CV" "$MESHGATE" down --state-dir "$STATE_v" --sysctl-dropin "$MG_TMP/sysctl-v.conf" \
	"${CLOUD_ARGS[@]}" >"$MG_TMP/down-v.log" 2>&1 || mg_fail "down: $(cat "$MG_TMP/down-v.log")"
for t in $TABLES; do
	left=$(routes_of $t | jq -c --arg ip $IP '[.[]|select(.ip==$ip or (.name|startswith("meshgate-")))]')
	assert_eq "$left" "[]" "our routes left in $t"
done
assert_eq "$(routes_of rt-spare | jq -c '[.[]|{name,dst,ip}]')" '[{"name":"legacy-fw","dst":"198.51.100.0/24","ip":"198.18.3.50"}]' "foreign route after down"
assert_eq "$(routes_of rt-app | jq -r '[.[]|.name]|join(",")')" onprem-legacy "rt-app after down"

mg_log "a uniform scale set's instance: VM and NIC read under the scale set's path"
# the same VNet, with the connector's VM now instance 3 of the scale set vmss-gw: Azure
# serves its VM and NIC only under .../virtualMachineScaleSets/vmss-gw/virtualMachines/3
# (the plain paths answer 404), the NIC at api-version 2018-10-01 and read only. While the
# scale set's model leaves IP forwarding off the connector says so and how to fix it and
# writes nothing; once it is on, the routes appear with this instance's address.
kill -TERM "$FAKE_PID"
wait_until 10 sh -c "! kill -0 $FAKE_PID 2>/dev/null" || mg_fail "fake Azure did not stop"
jq -n '{vms: [{name: "vmss-gw_3", scale_set: "vmss-gw", instance_id: "3",
	nic: {name: "vmss-gw-nic", mac: "00-0D-3A-12-01-0A", ip: "198.18.1.10", subnet: "snet-gw"},
	system_identity: {principal_id: "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8c",
		client_id: "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5e"},
	user_identities: []}], default_vm: "vmss-gw_3"}' >"$MG_TMP/vmss.json"
bg_start "$V" "$MG_TMP/fake2.log" "$PY" "$FAKE/fake_azure.py" --state-dir "$MG_TMP/fake2" \
	--topology "$MG_TMP/vmss.json" --imds-listen 169.254.169.254:80 --arm-listen 198.18.1.1:443 \
	--arm-host 198.18.1.1 --arm-san 198.18.1.1 --control-listen 127.0.0.1:8799 --retry-after 0 --lro-polls 1
wait_until 15 test -s "$MG_TMP/fake2/ready.json" || mg_fail "fake Azure (scale set) did not start: $(cat "$MG_TMP/fake2.log")"
ctl /deny POST '{"action":"Microsoft.Network/routeTables/routes/read"}' >/dev/null
calls() { ctl /counters | jq -r --arg k "$1" '.calls[$k] // 0'; }
topo_run v --cloud azure --cloud-metadata http://169.254.169.254 --cloud-api https://198.18.1.1 \
	--cloud-ca-file "$MG_TMP/fake2/ca.pem" --cloud-interval 5
_vmss_diag() { jq -e '.daemon.cloud.state|test("scale set vmss-gw.*enableIPForwarding")' "$STATE_v/status.json" >/dev/null 2>&1; }
wait_until 20 _vmss_diag || mg_fail "no scale-set forwarding diagnosis: $(jq -c .daemon.cloud "$STATE_v/status.json" 2>&1) $(tail -5 "$MG_TMP/run-v.log")"
mg_log "status: $(jq -r .daemon.cloud.state "$STATE_v/status.json")"
assert_eq "$(jq -r '.daemon.cloud|[.instance,.nic,.network]|join(" ")' "$STATE_v/status.json")" \
	"vmss-gw_3 vmss-gw-nic vnet-mesh" "status identity of the scale-set instance"
[ "$(calls "GET vmssVirtualMachines")" -ge 1 ] && [ "$(calls "GET vmssNetworkInterfaces")" -ge 1 ] ||
	mg_fail "the scale-set paths were not used: $(ctl /counters | jq -c .calls)"
assert_eq "$(ctl /counters | jq '.mutating')" 0 "writes while the scale set's forwarding is off"
ctl /nic/ip-forwarding POST '{"nic":"vmss-gw-nic","enabled":true}' >/dev/null
# a config change starts the next pass now rather than at the next interval
api "$INET" PATCH "/api/v1/networks/$nd" '{"subnets":["198.19.7.0/24"]}' >/dev/null
_vmss_routes() {
	for t in rt-gw rt-app; do
		routes_of $t | jq -e --arg ip $IP 'any(.dst=="100.96.0.0/11" and .ip==$ip)' >/dev/null || return 1
	done
}
wait_until 20 _vmss_routes || mg_fail "no routes after forwarding came on: $(routes_of rt-gw) $(routes_of rt-app) $(tail -5 "$MG_TMP/run-v.log")"
assert_eq "$(ctl /counters | jq '[.calls|to_entries[]|select(.key|test("^(PUT|DELETE|PATCH) (networkInterfaces|vmss)"))|.value]|add // 0')" \
	0 "NIC writes for a scale-set instance"
assert_eq "$(ctl /counters | jq '[.calls|to_entries[]|select(.key|test("^GET (virtualMachines|networkInterfaces)$"))|.value]|add // 0')" \
	0 "reads under the plain VM/NIC paths"
mg_pass
