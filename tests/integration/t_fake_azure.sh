#!/usr/bin/env bash
# The fake Azure (tests/fake/azure) itself: IMDS header/api-version/X-Forwarded-For rules, the
# instance document, managed-identity tokens (system and user-assigned, errors, expiry), ARM
# bearer-token checks (missing, forged, wrong audience, expired), api-version checks, every ARM
# call shape of the discovery chain, route PUT/GET/DELETE as long-running operations polled to
# the end, If-Match 412, paging with nextLink, the 400-route limit, every fault kind, denied
# actions, the counters, and the VNet router: a host in subnet B reaches a remote site through a
# user route to a VM in subnet A only once that VM's NIC has enableIPForwarding on.
#
#   vnet   the fake (169.254.169.254 on lo, ARM on 198.18.1.1:443, control on 127.0.0.1:8799)
#          and the VNet router; snet-gw 198.18.1.0/24 (rt-gw), snet-app 198.18.2.0/24 (rt-app)
#   conn   VM vm-gw-1, NIC vm-gw-1-nic = 198.18.1.10 with the NIC's MAC (and 198.18.1.11, vm-gw-2's
#          address, for IMDS questions as vm-gw-2); routes to the remote site 192.0.2.0/24 itself
#   app    a host in snet-app, 198.18.2.20, default via the VNet router only
#   rem    the remote site, 192.0.2.10
. "$(dirname "$0")/lib.sh"
# this test runs no meshgate binary: it needs no build (lib.sh checks for the agent otherwise)
MESHGATE=/usr/bin/true
mg_setup fake_azure

FZ=$MG_SRC/tests/fake/azure
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree
# the system interpreter (a version-manager shim on PATH costs half a second per start)
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3) || mg_fail "python3 missing (scripts/deps)"
command -v jq >/dev/null || mg_fail "jq missing (scripts/deps)"

# --- topology ---------------------------------------------------------------------------------
VN=$(ns_add vnet)
CONN=$(ns_add conn)
APP=$(ns_add app)
REM=$(ns_add rem)
nsx "$VN" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
ip -n "$VN" addr add 169.254.169.254/32 dev lo
veth "$VN" sa "$CONN" eth0
veth "$VN" sb "$APP" eth0
veth "$CONN" site "$REM" eth0
ip -n "$VN" addr add 198.18.1.1/24 dev sa
ip -n "$VN" addr add 198.18.2.1/24 dev sb
ip -n "$CONN" link set eth0 address 00:0d:3a:12:01:0a
ip -n "$CONN" addr add 198.18.1.10/24 dev eth0
ip -n "$CONN" addr add 198.18.1.11/24 dev eth0
ip -n "$CONN" route add default via 198.18.1.1 src 198.18.1.10
ip -n "$CONN" addr add 192.0.2.1/24 dev site
nsx "$CONN" sysctl -qw net.ipv4.ip_forward=1
ip -n "$REM" addr add 192.0.2.10/24 dev eth0
ip -n "$REM" route add default via 192.0.2.1
ip -n "$APP" addr add 198.18.2.20/24 dev eth0
ip -n "$APP" route add default via 198.18.2.1

ST=$MG_TMP/fake
bg_start "$VN" "$MG_TMP/fake.log" "$PY" "$FZ/fake_azure.py" --state-dir "$ST" --arm-listen 198.18.1.1:443 \
	--control-listen 127.0.0.1:8799 --retry-after 0 --lro-polls 2 --lro-max-seconds 0
wait_until 15 test -s "$ST/ready.json" || mg_fail "fake did not start: $(cat "$MG_TMP/fake.log")"
CA=$(jq -r .ca "$ST/ready.json")
SUB=$(jq -r .subscription "$ST/ready.json")
bg_start "$VN" "$MG_TMP/router.log" "$PY" "$FZ/vnet_router.py" --routes "$ST/vnet-routes.json" \
	--subnet snet-app=sb --subnet snet-gw=sa

IMDS=http://169.254.169.254
IV=api-version=2021-02-01
TV=api-version=2018-02-01
NV=api-version=2024-05-01
CV=api-version=2024-07-01
RG=/subscriptions/$SUB/resourceGroups/rg-meshgate
NET=$RG/providers/Microsoft.Network
RTAPP=$NET/routeTables/rt-app
NIC=$NET/networkInterfaces/vm-gw-1-nic
MGMT=https%3A%2F%2Fmanagement.azure.com%2F
TOK=$MG_TMP/token

ctl() { nsx "$VN" curl -sf -X POST -d "${2:-{\}}" "http://127.0.0.1:8799$1"; }
ctlget() { nsx "$VN" curl -sf "http://127.0.0.1:8799$1"; }
# im PATH [curl args]: IMDS through curl; prints {"status", "body"} like azq
im() {
	local p=$1 out
	shift
	out=$(nsx "$CONN" curl -s --max-time 3 -w '\n%{http_code}' "$@" "$IMDS$p") || true
	jq -cn --arg b "${out%$'\n'*}" --arg s "${out##*$'\n'}" '{status: ($s|tonumber), body: ($b | try fromjson catch $b)}'
}
# az [azq options] METHOD PATH [BODY]: ARM through azq with the cached management token
az() { nsx "$CONN" "$PY" "$FZ/azq.py" --arm https://198.18.1.1:443 --ca "$CA" --token-file "$TOK" "$@" || true; }
azraw() { nsx "$CONN" "$PY" "$FZ/azq.py" --arm https://198.18.1.1:443 --ca "$CA" "$@" || true; }
# expect STATUS CODE|- OUTPUT: status and (for errors) error.code; sets LAST
expect() {
	local want=$1 code=$2
	LAST=$3
	local got
	got=$(jq -r '"\(.status // .error) \((.body | objects | .error | objects | .code) // "-")"' <<<"$LAST")
	if [ "$code" = - ]; then
		assert_eq "${got%% *}" "$want" "status: $LAST"
	else
		assert_eq "$got" "$want $code" "status and error code: $LAST"
	fi
}
jqe() { jq -e "$1" <<<"$LAST" >/dev/null || mg_fail "${2:-check} ($1): $LAST"; }
# poll URL N: N InProgress answers, then the terminal one; sets LAST to it
poll_aso() {
	local url=$1 n=$2 i
	for i in $(seq 1 "$n"); do
		LAST=$(az GET "$url")
		jqe '.status == 200 and .body.status == "InProgress" and .headers["retry-after"] == "0"' "poll $i"
	done
	expect 200 - "$(az GET "$url")"
}
applied() {
	wait_until 15 sh -c "[ \"\$(cat '$ST/vnet-routes.json.applied' 2>/dev/null)\" = \"\$(jq .generation '$ST/vnet-routes.json')\" ]" ||
		mg_fail "router did not apply: $(cat "$MG_TMP/router.log")"
}

# --- 1. IMDS ----------------------------------------------------------------------------------
LAST=$(im "/metadata/instance?$IV")
jqe '.status == 400 and .body.error == "Bad request. Required metadata header not specified"' "no Metadata header"
LAST=$(im "/metadata/instance?$IV" -H 'Metadata: True')
jqe '.status == 400' "Metadata: True (not lower case)"
LAST=$(im "/metadata/instance" -H 'Metadata: true')
jqe '.status == 400 and (.body.error | test("api-version was not specified")) and (.body["newest-versions"] | length == 3)' "no api-version"
LAST=$(im "/metadata/instance?api-version=2099-01-01" -H 'Metadata: true')
jqe '.status == 400 and (.body["newest-versions"] | length == 3)' "bad api-version"
LAST=$(im "/metadata/instance?$IV" -H 'Metadata: true' -H 'X-Forwarded-For: 203.0.113.9')
jqe '.status == 400' "X-Forwarded-For"
LAST=$(im "/metadata/instance?$IV" -H 'Metadata: true')
jqe ".status == 200 and .body.compute.subscriptionId == \"$SUB\" and .body.compute.resourceGroupName == \"rg-meshgate\"
	and .body.compute.name == \"vm-gw-1\" and .body.compute.location == \"westeurope\" and .body.compute.vmScaleSetName == \"\"
	and .body.compute.resourceId == \"$RG/providers/Microsoft.Compute/virtualMachines/vm-gw-1\"
	and .body.network.interface[0].macAddress == \"000D3A12010A\"
	and .body.network.interface[0].ipv4.ipAddress[0].privateIpAddress == \"198.18.1.10\"
	and .body.network.interface[0].ipv4.subnet[0] == {address: \"198.18.1.0\", prefix: \"24\"}" "instance document"
assert_eq "$(nsx "$CONN" curl -s -H 'Metadata: true' "$IMDS/metadata/instance/compute/resourceId?$IV&format=text")" \
	"$RG/providers/Microsoft.Compute/virtualMachines/vm-gw-1" "leaf with format=text"
LAST=$(im "/metadata/instance/compute/resourceId?$IV" -H 'Metadata: true')
jqe '.status == 400' "leaf without format=text"
LAST=$(im "/metadata/instance/nope?$IV" -H 'Metadata: true')
jqe '.status == 404' "unknown path"
# managed identity tokens
LAST=$(im "/metadata/identity/oauth2/token?$TV&resource=$MGMT")
jqe '.status == 400 and .body.error == "bad_request_102" and .body.error_description == "Required metadata header not specified"' "token without Metadata"
LAST=$(im "/metadata/identity/oauth2/token?$TV" -H 'Metadata: true')
jqe '.status == 400 and .body.error == "invalid_request"' "token without resource"
LAST=$(im "/metadata/identity/oauth2/token?api-version=2021-02-01&resource=$MGMT" -H 'Metadata: true')
jqe '.status == 400' "token api-version"
LAST=$(im "/metadata/identity/oauth2/token?$TV&resource=$MGMT" -H 'Metadata: true')
jqe '.status == 200 and .body.token_type == "Bearer" and .body.resource == "https://management.azure.com/"
	and (.body.expires_in | type == "string" and (tonumber > 86000)) and (.body.expires_on | type == "string")
	and (.body.not_before | type == "string") and .body.client_id == "7f8e9d0c-1b2a-4394-8576-a1b2c3d4e5f6"
	and (.body.access_token | split(".") | length == 3)' "system-assigned token"
jq -r .body.access_token <<<"$LAST" >"$TOK"
MGMT_TOKEN=$(cat "$TOK")
LAST=$(im "/metadata/identity/oauth2/token?$TV&resource=$MGMT" -H 'Metadata: true')
jqe ".body.access_token == \"$MGMT_TOKEN\"" "IMDS caches the token"
LAST=$(im "/metadata/identity/oauth2/token?$TV&resource=$MGMT&client_id=3c5b7a91-2d4e-4f60-8a1b-9c0d1e2f3a4b" -H 'Metadata: true')
jqe '.status == 200 and .body.client_id == "3c5b7a91-2d4e-4f60-8a1b-9c0d1e2f3a4b"' "user-assigned by client_id"
LAST=$(im "/metadata/identity/oauth2/token?$TV&resource=$MGMT&msi_res_id=$RG/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-meshgate" -H 'Metadata: true')
jqe '.status == 200 and .body.client_id == "3c5b7a91-2d4e-4f60-8a1b-9c0d1e2f3a4b"' "user-assigned by msi_res_id"
LAST=$(im "/metadata/identity/oauth2/token?$TV&resource=$MGMT&client_id=00000000-0000-4000-8000-000000000000" -H 'Metadata: true')
jqe '.status == 400 and .body.error == "invalid_request" and .body.error_description == "Identity not found"' "unknown client_id"
LAST=$(im "/metadata/identity/oauth2/token?$TV&resource=https%3A%2F%2Fnot.a.resource%2F" -H 'Metadata: true')
jqe '.status == 400 and .body.error == "invalid_resource"' "unknown resource"
# as vm-gw-2 (source 198.18.1.11): two user-assigned identities and no system-assigned one
LAST=$(im "/metadata/identity/oauth2/token?$TV&resource=$MGMT" -H 'Metadata: true' --interface 198.18.1.11)
jqe '.status == 400 and (.body.error_description | test("Multiple user assigned identities"))' "several identities"
LAST=$(im "/metadata/instance/compute/name?$IV&format=text" -H 'Metadata: true' --interface 198.18.1.11)
jqe '.body == "vm-gw-2"' "IMDS answers as the VM of the source address"
LAST=$(im "/metadata/identity/oauth2/token?$TV&resource=https%3A%2F%2Fvault.azure.net" -H 'Metadata: true')
VAULT_TOKEN=$(jq -r .body.access_token <<<"$LAST")
mg_log "IMDS ok"

# --- 2. ARM authentication and api-version -------------------------------------------------------
expect 401 AuthenticationFailed "$(azraw --no-token GET "$RTAPP?$NV")"
jqe '.headers["www-authenticate"] | startswith("Bearer authorization_uri=")' "WWW-Authenticate"
expect 401 InvalidAuthenticationToken "$(azraw --token not-a-jwt GET "$RTAPP?$NV")"
expect 401 InvalidAuthenticationToken "$(azraw --token "${MGMT_TOKEN%?}x" GET "$RTAPP?$NV")"
expect 401 InvalidAuthenticationTokenAudience "$(azraw --token "$VAULT_TOKEN" GET "$RTAPP?$NV")"
ctl /config '{"token_lifetime": 600}' >/dev/null
ctl /token/expire >/dev/null
expect 401 ExpiredAuthenticationToken "$(az GET "$RTAPP?$NV")"
assert_contains "$(jq -r .body.error.message <<<"$LAST")" "is earlier than current UTC time" "expiry message"
LAST=$(im "/metadata/identity/oauth2/token?$TV&resource=$MGMT" -H 'Metadata: true')
jqe ".body.access_token != \"$MGMT_TOKEN\" and (.body.expires_in | tonumber <= 600)" "a new shorter token"
SHORT=$(jq -r .body.access_token <<<"$LAST")
expect 200 - "$(azraw --token "$SHORT" GET "$RTAPP?$NV")"
ctl /clock '{"offset": 601}' >/dev/null # ARM's clock passes the token's expiry
expect 401 ExpiredAuthenticationToken "$(azraw --token "$SHORT" GET "$RTAPP?$NV")"
ctl /clock '{"offset": 0}' >/dev/null
ctl /config '{"token_lifetime": 86399}' >/dev/null
rm -f "$TOK"
expect 200 - "$(az GET "$RTAPP?$NV")"
expect 400 MissingApiVersionParameter "$(az GET "$RTAPP")"
expect 400 InvalidApiVersionParameter "$(az GET "$RTAPP?api-version=latest")"
expect 400 NoRegisteredProviderFound "$(az GET "$RTAPP?api-version=2099-01-01")"
expect 400 NoRegisteredProviderFound "$(az GET "$RG/providers/Microsoft.Compute/virtualMachines/vm-gw-1?$NV")"
expect 404 SubscriptionNotFound "$(az GET "/subscriptions/00000000-0000-4000-8000-000000000000/resourceGroups/rg-meshgate/providers/Microsoft.Network/routeTables/rt-app?$NV")"
expect 404 ResourceGroupNotFound "$(az GET "/subscriptions/$SUB/resourceGroups/rg-nope/providers/Microsoft.Network/routeTables/rt-app?$NV")"
mg_log "ARM authentication ok"

# --- 3. the discovery chain -------------------------------------------------------------------------
expect 200 - "$(az GET "$RG/providers/Microsoft.Compute/virtualMachines/vm-gw-1?$CV")"
jqe ".body.properties.networkProfile.networkInterfaces == [{id: \"$NIC\", properties: {primary: true}}]
	and .body.identity.type == \"SystemAssigned, UserAssigned\" and .body.type == \"Microsoft.Compute/virtualMachines\"" "VM"
expect 200 - "$(az GET "$NIC?$NV")"
jqe ".body.properties.enableIPForwarding == false and .body.properties.macAddress == \"00-0D-3A-12-01-0A\"
	and .body.properties.ipConfigurations[0].properties.privateIPAddress == \"198.18.1.10\"
	and .body.properties.ipConfigurations[0].properties.subnet.id == \"$NET/virtualNetworks/vnet-mesh/subnets/snet-gw\"
	and .body.properties.ipConfigurations[0].properties.primary == true
	and (.body.etag | test(\"^W/\\\"[0-9a-f-]{36}\\\"\$\")) and .body.properties.provisioningState == \"Succeeded\"" "NIC"
expect 200 - "$(az GET "$NET/virtualNetworks/vnet-mesh/subnets/snet-app?$NV")"
jqe ".body.properties.routeTable.id == \"$RTAPP\" and .body.properties.addressPrefix == \"198.18.2.0/24\"" "subnet"
expect 200 - "$(az GET "$NET/virtualNetworks/vnet-mesh/subnets/snet-db?$NV")"
jqe '.body.properties | has("routeTable") | not' "subnet without a route table"
expect 200 - "$(az GET "$NET/virtualNetworks/vnet-mesh?$NV")"
jqe '.body.properties.addressSpace.addressPrefixes == ["198.18.0.0/16"] and (.body.properties.subnets | length == 3)' "VNet"
expect 200 - "$(az GET "$NET/routeTables?$NV")"
jqe '[.body.value[].name] == ["rt-gw", "rt-app", "rt-spare"] and (.body | has("nextLink") | not)' "route tables in the group"
expect 200 - "$(az GET "/subscriptions/$SUB/providers/Microsoft.Network/routeTables?$NV")"
jqe '.body.value | length == 3' "route tables in the subscription"
expect 200 - "$(az GET "$RTAPP?$NV")"
jqe ".body.properties.subnets == [{id: \"$NET/virtualNetworks/vnet-mesh/subnets/snet-app\"}]
	and .body.properties.routes[0].name == \"onprem-legacy\"
	and .body.properties.routes[0].properties.nextHopType == \"VirtualNetworkGateway\"" "route table"
expect 200 - "$(az GET "$(tr '[:upper:]' '[:lower:]' <<<"$RTAPP")?$NV")"
expect 404 ResourceNotFound "$(az GET "$RG/providers/Microsoft.Compute/virtualMachines/vm-nope?$CV")"
expect 404 ResourceNotFound "$(az GET "$NET/routeTables/rt-nope?$NV")"
expect 404 NotFound "$(az GET "$NET/virtualNetworks/vnet-mesh/subnets/snet-nope?$NV")"
mg_log "discovery ok"

# --- 4. routes: PUT/GET/DELETE as long-running operations ---------------------------------------
ctl /counters/reset >/dev/null
SITE='{"properties":{"addressPrefix":"192.0.2.0/24","nextHopType":"VirtualAppliance","nextHopIpAddress":"198.18.1.10"}}'
expect 201 - "$(az PUT "$RTAPP/routes/meshgate-site?$NV" "$SITE")"
jqe ".body.properties.provisioningState == \"Updating\" and .body.name == \"meshgate-site\"
	and .body.id == \"$RTAPP/routes/meshgate-site\" and .headers[\"retry-after\"] == \"0\"
	and (.headers[\"azure-asyncoperation\"] | test(\"^https://management.azure.com/subscriptions/$SUB/providers/Microsoft.Network/locations/westeurope/operations/[0-9a-f-]{36}[?]api-version=2024-05-01\$\"))" "route PUT"
ASO=$(jq -r '.headers["azure-asyncoperation"]' <<<"$LAST")
expect 200 - "$(az GET "$RTAPP/routes/meshgate-site?$NV")"
jqe '.body.properties.provisioningState == "Updating"' "route while the LRO runs"
poll_aso "$ASO" 2
jqe '.body == {status: "Succeeded"} and (.headers | has("retry-after") | not)' "LRO end"
expect 200 - "$(az GET "$RTAPP/routes/meshgate-site?$NV")"
jqe '.body.properties.provisioningState == "Succeeded" and .body.properties.nextHopIpAddress == "198.18.1.10"' "route after the LRO"
jq -e '.polls == 3 and .calls["PUT routes"] == 1 and .calls["GET operations"] == 3 and .mutating == 1' \
	<<<"$(ctlget /counters)" >/dev/null || mg_fail "poll counters: $(ctlget /counters)"
RETAG=$(jq -r .body.etag <<<"$LAST")
expect 200 - "$(az PUT "$RTAPP/routes/meshgate-site?$NV" "$SITE")"
poll_aso "$(jq -r '.headers["azure-asyncoperation"]' <<<"$LAST")" 2
expect 412 PreconditionFailed "$(az -H "If-Match: $RETAG" PUT "$RTAPP/routes/meshgate-site?$NV" "$SITE")"
expect 400 InvalidCIDRNotation "$(az PUT "$RTAPP/routes/r-bad?$NV" '{"properties":{"addressPrefix":"192.0.2.1/24","nextHopType":"VirtualAppliance","nextHopIpAddress":"198.18.1.10"}}')"
expect 400 NextHopIpAddressMissing "$(az PUT "$RTAPP/routes/r-bad?$NV" '{"properties":{"addressPrefix":"198.51.100.0/24","nextHopType":"VirtualAppliance"}}')"
expect 400 NextHopIpAddressNotAllowed "$(az PUT "$RTAPP/routes/r-bad?$NV" '{"properties":{"addressPrefix":"198.51.100.0/24","nextHopType":"Internet","nextHopIpAddress":"198.18.1.10"}}')"
expect 400 InvalidRequestFormat "$(az PUT "$RTAPP/routes/r-bad?$NV" '{"properties":{"addressPrefix":"198.51.100.0/24","nextHopType":"Appliance"}}')"
expect 400 InvalidRouteTableDuplicateAddressPrefix "$(az PUT "$RTAPP/routes/r-dup?$NV" "$SITE")"
expect 400 InvalidResourceName "$(az PUT "$RTAPP/routes/bad%20name%21?$NV" "$SITE")"
expect 400 InvalidRequestContent "$(az PUT "$RTAPP/routes/r-bad?$NV" '{"properties":')"
expect 404 NotFound "$(az GET "$RTAPP/routes/r-bad?$NV")"
expect 204 - "$(az DELETE "$RTAPP/routes/r-bad?$NV")"
expect 404 ResourceNotFound "$(az PUT "$NET/routeTables/rt-nope/routes/r1?$NV" "$SITE")"
# DELETE: 202 with Location and Azure-AsyncOperation; the Location URL answers 202, then 204
expect 201 - "$(az PUT "$RTAPP/routes/tmp?$NV" '{"properties":{"addressPrefix":"198.51.100.0/24","nextHopType":"None"}}')"
poll_aso "$(jq -r '.headers["azure-asyncoperation"]' <<<"$LAST")" 2
expect 202 - "$(az DELETE "$RTAPP/routes/tmp?$NV")"
jqe '(.headers.location | test("/operationResults/")) and (.headers["azure-asyncoperation"] | test("/operations/")) and .body == null' "DELETE headers"
LOC=$(jq -r .headers.location <<<"$LAST")
expect 200 - "$(az GET "$RTAPP/routes/tmp?$NV")"
jqe '.body.properties.provisioningState == "Deleting"' "route being deleted"
expect 202 - "$(az GET "$LOC")"
expect 202 - "$(az GET "$LOC")"
expect 204 - "$(az GET "$LOC")"
expect 404 NotFound "$(az GET "$RTAPP/routes/tmp?$NV")"
expect 200 - "$(az GET "$RTAPP/routes?$NV")"
jqe '[.body.value[].name] == ["onprem-legacy", "meshgate-site"]' "routes list"
# a user route beats the system route of the same prefix
expect 201 - "$(az PUT "$RTAPP/routes/db-none?$NV" '{"properties":{"addressPrefix":"198.18.3.0/24","nextHopType":"None"}}')"
poll_aso "$(jq -r '.headers["azure-asyncoperation"]' <<<"$LAST")" 2
mg_log "routes and LROs ok"

# --- 5. the VNet router, IP forwarding and the NIC PUT --------------------------------------------
applied
assert_contains "$(ip -n "$VN" route show table 200)" "192.0.2.0/24 via 198.18.1.10" "router table"
assert_contains "$(ip -n "$VN" route show table 200)" "blackhole 198.18.3.0/24" "user route None"
assert_contains "$(ip -n "$VN" route show table 200)" "throw 198.18.0.0/16" "system route VnetLocal"
nsx "$APP" ping -c1 -W2 198.18.1.10 >/dev/null || mg_fail "app cannot reach the VM itself"
if nsx "$APP" ping -c1 -W1 192.0.2.10 >/dev/null; then mg_fail "forwarded through a NIC without IP forwarding"; fi
expect 200 - "$(az GET "$NIC?$NV")"
NICBODY=$(jq -c '.body | .properties.enableIPForwarding = true' <<<"$LAST")
NETAG=$(jq -r .body.etag <<<"$LAST")
expect 412 PreconditionFailed "$(az -H 'If-Match: W/"00000000-0000-4000-8000-000000000000"' PUT "$NIC?$NV" "$NICBODY")"
expect 400 LocationRequired "$(az PUT "$NIC?$NV" "$(jq -c 'del(.location)' <<<"$NICBODY")")"
ctl /nic/touch '{"nic": "vm-gw-1-nic"}' >/dev/null # someone else changed the NIC meanwhile
expect 412 PreconditionFailed "$(az -H "If-Match: $NETAG" PUT "$NIC?$NV" "$NICBODY")"
expect 200 - "$(az GET "$NIC?$NV")"
NETAG=$(jq -r .body.etag <<<"$LAST")
expect 200 - "$(az -H "If-Match: $NETAG" PUT "$NIC?$NV" "$NICBODY")"
jqe '.body.properties.enableIPForwarding == true and .body.properties.provisioningState == "Updating"
	and (.headers["azure-asyncoperation"] | test("/operations/"))' "NIC PUT"
ASO=$(jq -r '.headers["azure-asyncoperation"]' <<<"$LAST")
applied
if nsx "$APP" ping -c1 -W1 192.0.2.10 >/dev/null; then mg_fail "IP forwarding effective before its LRO ended"; fi
poll_aso "$ASO" 2
jqe '.body.status == "Succeeded"' "NIC LRO"
applied
nsx "$APP" ping -c2 -W2 192.0.2.10 >/dev/null || mg_fail "app cannot reach the site through the VM"
expect 200 - "$(az GET "$NIC?$NV")"
jqe '.body.properties.enableIPForwarding == true and .body.properties.provisioningState == "Succeeded"' "NIC after the LRO"
expect 202 - "$(az DELETE "$RTAPP/routes/meshgate-site?$NV")"
poll_aso "$(jq -r '.headers["azure-asyncoperation"]' <<<"$LAST")" 2
applied
if nsx "$APP" ping -c1 -W1 192.0.2.10 >/dev/null; then mg_fail "reached the site without a user route"; fi
mg_log "VNet router ok"

# --- 6. paging and the route limit --------------------------------------------------------------
RTS=$NET/routeTables/rt-spare
seed=$(jq -cn '{route_table: "rt-spare", routes: [range(0; 5) | {name: "page-\(.)", address_prefix: "198.19.0.\(.)/32", next_hop_type: "None"}]}')
ctl /route "$seed" >/dev/null
ctl /config '{"page_size": 2}' >/dev/null
expect 200 - "$(az GET "$RTS/routes?$NV")"
jqe '(.body.value | length == 2) and (.body.nextLink | startswith("https://management.azure.com/subscriptions/"))' "page 1"
expect 200 - "$(az GET "$(jq -r .body.nextLink <<<"$LAST")")"
jqe '[.body.value[].name] == ["page-2", "page-3"] and (.body.nextLink | test("skiptoken"))' "page 2"
expect 200 - "$(az GET "$(jq -r .body.nextLink <<<"$LAST")")"
jqe '[.body.value[].name] == ["page-4"] and (.body | has("nextLink") | not)' "last page"
expect 200 - "$(az GET "$NET/routeTables?$NV")"
jqe '(.body.value | length == 2) and has("body") and (.body.nextLink | length > 0)' "route tables paged"
expect 400 InvalidSkipToken "$(az GET "$RTS/routes?$NV&%24skiptoken=garbage")"
ctl /config '{"page_size": 0}' >/dev/null
seed=$(jq -cn '{route_table: "rt-spare", routes: [range(5; 399) | {name: "seed-\(.)", address_prefix: "198.19.\(1 + (. / 256 | floor)).\(. % 256)/32", next_hop_type: "None"}]}')
ctl /route "$seed" >/dev/null
expect 201 - "$(az PUT "$RTS/routes/r-400?$NV" '{"properties":{"addressPrefix":"198.51.100.0/24","nextHopType":"None"}}')"
expect 400 RouteTableCannotHaveMoreThan400Routes "$(az PUT "$RTS/routes/r-401?$NV" '{"properties":{"addressPrefix":"198.51.101.0/24","nextHopType":"None"}}')"
assert_contains "$(jq -r .body.error.message <<<"$LAST")" "cannot have more than 400 routes" "limit message"
ctl /operations/finish >/dev/null
expect 200 - "$(az PUT "$RTS/routes/r-400?$NV" '{"properties":{"addressPrefix":"198.51.100.0/24","nextHopType":"VnetLocal"}}')"
expect 202 - "$(az DELETE "$RTS/routes/seed-5?$NV")"
ctl /operations/finish >/dev/null
expect 201 - "$(az PUT "$RTS/routes/r-401?$NV" '{"properties":{"addressPrefix":"198.51.101.0/24","nextHopType":"None"}}')"
ctl /operations/finish >/dev/null
expect 200 - "$(az GET "$RTS?$NV")"
jqe '.body.properties.routes | length == 400' "full table"
mg_log "paging and limit ok"

# --- 7. faults, denied actions, conflicts -------------------------------------------------------
ctl /reset >/dev/null
ctl /fault '{"kind": "throttle", "count": 2, "retry_after": 3}' >/dev/null
expect 429 SubscriptionRequestsThrottled "$(az GET "$RTAPP?$NV")"
jqe '.headers["retry-after"] == "3"' "throttle Retry-After"
expect 429 SubscriptionRequestsThrottled "$(az GET "$RTAPP?$NV")"
expect 200 - "$(az GET "$RTAPP?$NV")"
ctl /fault '{"kind": "conflict", "op": "PUT routes"}' >/dev/null
expect 200 - "$(az GET "$RTAPP?$NV")"
ROUTE='{"properties":{"addressPrefix":"198.51.100.0/24","nextHopType":"VirtualAppliance","nextHopIpAddress":"198.18.1.10"}}'
expect 409 AnotherOperationInProgress "$(az PUT "$RTAPP/routes/r-f?$NV" "$ROUTE")"
ctl /fault '{"kind": "retryable", "op": "routes"}' >/dev/null
expect 429 RetryableErrorDueToAnotherOperation "$(az PUT "$RTAPP/routes/r-f?$NV" "$ROUTE")"
ctl /fault '{"kind": "retryable", "status": 409}' >/dev/null
expect 409 RetryableErrorDueToAnotherOperation "$(az PUT "$RTAPP/routes/r-f?$NV" "$ROUTE")"
for k in 500 502 503 504; do
	ctl /fault "{\"kind\": \"$k\"}" >/dev/null
	expect "$k" - "$(az GET "$RTAPP?$NV")"
done
ctl /fault '{"kind": "expired", "op": "DELETE"}' >/dev/null
expect 200 - "$(az GET "$RTAPP?$NV")"
expect 401 ExpiredAuthenticationToken "$(az DELETE "$RTAPP/routes/r-f?$NV")"
ctl /fault '{"kind": "malformed"}' >/dev/null
expect 200 - "$(az GET "$RTAPP?$NV")"
jqe '.body | type == "string"' "malformed JSON"
ctl /fault '{"kind": "garbage"}' >/dev/null
expect 200 - "$(az GET "$RTAPP?$NV")"
jqe '.headers["content-type"] == "text/html"' "garbage"
ctl /fault '{"kind": "truncated"}' >/dev/null
LAST=$(az GET "$RTAPP?$NV")
jqe '.error | test("IncompleteRead")' "truncated"
ctl /fault '{"kind": "hang", "seconds": 10}' >/dev/null
t0=$(now_ms)
LAST=$(az --timeout 1 GET "$RTAPP?$NV")
jqe '.error | test("timed out")' "hang"
[ $(($(now_ms) - t0)) -lt 9000 ] || mg_fail "hang: the client's timeout did not come first"
# an LRO that fails
ctl /fault '{"kind": "lro_fail", "op": "PUT routes", "code": "InternalServerError"}' >/dev/null
expect 201 - "$(az PUT "$RTAPP/routes/r-f?$NV" "$ROUTE")"
poll_aso "$(jq -r '.headers["azure-asyncoperation"]' <<<"$LAST")" 2
jqe '.body.status == "Failed" and .body.error.code == "InternalServerError"' "failed LRO"
expect 200 - "$(az GET "$RTAPP/routes/r-f?$NV")"
jqe '.body.properties.provisioningState == "Failed"' "route after a failed LRO"
jq -e '.subnets["snet-app"].routes | map(select(.dst == "198.51.100.0/24")) | length == 0' "$ST/vnet-routes.json" >/dev/null ||
	mg_fail "a failed route became effective"
expect 200 - "$(az PUT "$RTAPP/routes/r-f?$NV" "$ROUTE")"
poll_aso "$(jq -r '.headers["azure-asyncoperation"]' <<<"$LAST")" 2
jqe '.body.status == "Succeeded"' "retried PUT"
# denied action: 403 AuthorizationFailed naming the action and the scope
ctl /deny '{"action": "Microsoft.Network/routeTables/routes/write"}' >/dev/null
expect 200 - "$(az GET "$RTAPP/routes/r-f?$NV")"
expect 403 AuthorizationFailed "$(az PUT "$RTAPP/routes/r-f?$NV" "$ROUTE")"
assert_contains "$(jq -r .body.error.message <<<"$LAST")" \
	"does not have authorization to perform action 'Microsoft.Network/routeTables/routes/write' over scope '$RTAPP/routes/r-f'" "403 message"
ctl /allow '{"action": "Microsoft.Network/routeTables/routes/write"}' >/dev/null
# another operation on the same route table still running
ctl /config '{"busy_conflict": true}' >/dev/null
expect 200 - "$(az PUT "$RTAPP/routes/r-f?$NV" "$ROUTE")"
expect 409 AnotherOperationInProgress "$(az PUT "$RTAPP/routes/r-g?$NV" '{"properties":{"addressPrefix":"198.51.102.0/24","nextHopType":"None"}}')"
ctl /operations/finish >/dev/null
expect 201 - "$(az PUT "$RTAPP/routes/r-g?$NV" '{"properties":{"addressPrefix":"198.51.102.0/24","nextHopType":"None"}}')"
ctl /operations/finish >/dev/null
ctl /config '{"busy_conflict": false}' >/dev/null
# IMDS faults
ctl /fault '{"kind": "throttle", "target": "imds", "op": "token"}' >/dev/null
LAST=$(im "/metadata/instance?$IV" -H 'Metadata: true')
jqe '.status == 200' "IMDS instance unaffected by a token fault"
LAST=$(im "/metadata/identity/oauth2/token?$TV&resource=$MGMT" -H 'Metadata: true')
jqe '.status == 429' "IMDS token throttled"
ctl /fault '{"kind": "gone", "target": "imds"}' >/dev/null
LAST=$(im "/metadata/identity/oauth2/token?$TV&resource=$MGMT" -H 'Metadata: true')
jqe '.status == 410' "IMDS 410"
ctl /fault '{"kind": "500", "target": "imds"}' >/dev/null
LAST=$(im "/metadata/identity/oauth2/token?$TV&resource=$MGMT" -H 'Metadata: true')
jqe '.status == 500' "IMDS 500"
LAST=$(im "/metadata/identity/oauth2/token?$TV&resource=$MGMT" -H 'Metadata: true')
jqe '.status == 200' "IMDS after the faults"
mg_log "faults ok"

# --- 8. counters --------------------------------------------------------------------------------
ctl /counters/reset >/dev/null
expect 200 - "$(az GET "$RTAPP?$NV")"
expect 200 - "$(az GET "$NIC?$NV")"
expect 200 - "$(az GET "$RTAPP/routes?$NV")"
c=$(ctlget /counters)
jq -e '.mutating == 0 and .read == 3 and .read_ok == 3 and .calls["GET routeTables"] == 1
	and .calls["GET networkInterfaces"] == 1 and .calls["GET routes"] == 1' <<<"$c" >/dev/null || mg_fail "steady-state counters: $c"
expect 404 NotFound "$(az GET "$RTAPP/routes/nope?$NV")"
expect 200 - "$(az PUT "$RTAPP/routes/r-g?$NV" '{"properties":{"addressPrefix":"198.51.102.0/24","nextHopType":"None"}}')"
expect 204 - "$(az DELETE "$RTAPP/routes/nope?$NV")"
c=$(ctlget /counters)
jq -e '.mutating == 2 and .mutating_ok == 2 and .read == 4 and .read_ok == 3 and .errors.NotFound == 1
	and .status["PUT routes"]["200"] == 1 and .status["DELETE routes"]["204"] == 1' <<<"$c" >/dev/null || mg_fail "counters: $c"
jq -e 'length == 6 and .[-1].op == "DELETE routes"' <<<"$(ctlget /log)" >/dev/null || mg_fail "log: $(ctlget /log)"
mg_log "counters ok"

mg_pass
