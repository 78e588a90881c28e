#!/usr/bin/env bash
# The fake OCI (tests/fake/oci) itself: the signature verifier against Oracle's published
# example; IMDS v2 header rules, documents and identity certificates; x509 federation (good,
# tampered, wrong key, wrong tenancy, SHA-256 keyId); signed API calls and every refusal (401);
# every Networking call shape; etag/if-match and 412; a concurrent edit between GET and PUT;
# paging; the rule limit and rule validation; each fault kind; permission denial; the counters;
# token expiry and certificate rotation with re-federation; and the VCN router carrying a host's
# traffic through a "connector" VNIC only once its skipSourceDestCheck is true.
#
#   vcn    the fake (169.254.169.254 on lo; auth + iaas HTTPS on 198.18.1.1:443; control on
#          127.0.0.1:8798) and the VCN router; subnet A 198.18.1.0/24 (rt-a), B 198.18.2.0/24 (rt-b)
#   conn   instance connector-a, VNIC 198.18.1.10 with the VNIC's MAC; routes to the remote
#          site 192.0.2.0/24 (ns rem) itself
#   app    a host in subnet B, 198.18.2.20, default via the virtual router only
. "$(dirname "$0")/lib.sh"
mg_setup fake_oci

FO=$MG_SRC/tests/fake/oci
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3) || mg_fail "python3 missing (scripts/deps)"
"$PY" -c 'import cryptography' 2>/dev/null || mg_fail "python3-cryptography missing (scripts/deps)"

# --- 1. the verifier against the published example (no namespaces needed) --------------------
VEC=${MG_OCI_VECTORS:-$MG_SRC/tests/data/vectors/oci-signature}
out=$("$PY" "$FO/test_signature_vectors.py" "$VEC") || mg_fail "OCI signature vectors: $out"
mg_log "vectors: $(tail -1 <<<"$out")"

# --- topology ---------------------------------------------------------------------------------
VCN=$(ns_add vcn)
CONN=$(ns_add conn)
APP=$(ns_add app)
REM=$(ns_add rem)
nsx "$VCN" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
ip -n "$VCN" addr add 169.254.169.254/32 dev lo
veth "$VCN" sa "$CONN" eth0
veth "$VCN" sb "$APP" eth0
veth "$CONN" site "$REM" eth0
ip -n "$VCN" addr add 198.18.1.1/24 dev sa
ip -n "$VCN" addr add 198.18.2.1/24 dev sb
ip -n "$CONN" link set eth0 address 02:00:17:12:01:0a
ip -n "$CONN" addr add 198.18.1.10/24 dev eth0
ip -n "$CONN" route add default via 198.18.1.1
ip -n "$CONN" addr add 192.0.2.1/24 dev site
nsx "$CONN" sysctl -qw net.ipv4.ip_forward=1
ip -n "$REM" addr add 192.0.2.10/24 dev eth0
ip -n "$REM" route add default via 192.0.2.1
ip -n "$APP" addr add 198.18.2.20/24 dev eth0
ip -n "$APP" route add default via 198.18.2.1

# five route tables (the default two plus three) so that limit=2 pages three times
P=ocid1.routetable.oc1.phx.aaaaaaaa
Z=0000000000000000000000000000000000000000000000000
cat >"$MG_TMP/topo.json" <<EOF
{"route_tables": [
 {"id": "${P}rta$Z", "display_name": "rt-a", "rules": []},
 {"id": "${P}rtb$Z", "display_name": "rt-b", "rules": [
  {"destination": "203.0.113.0/24", "destinationType": "CIDR_BLOCK",
   "networkEntityId": "ocid1.drg.oc1.phx.aaaaaaaaondrg00000000000000000000000000000000000000000000000",
   "description": "on-prem via DRG \u2014 owned by \"netops\"; do not touch", "routeType": "STATIC"},
  {"destination": "all-phx-services-in-oracle-services-network", "destinationType": "SERVICE_CIDR_BLOCK",
   "networkEntityId": "ocid1.servicegateway.oc1.phx.aaaaaaaasgw0000000000000000000000000000000000000000000000000",
   "routeType": "STATIC"}]},
 {"id": "${P}rtx3$Z", "display_name": "x3"},
 {"id": "${P}rtx4$Z", "display_name": "x4"},
 {"id": "${P}rtx5$Z", "display_name": "x5"}]}
EOF
ST=$MG_TMP/fake
bg_start "$VCN" "$MG_TMP/fake.log" "$PY" "$FO/fake_oci.py" --state-dir "$ST" --topology "$MG_TMP/topo.json" \
	--api-listen 198.18.1.1:443 --api-san 198.18.1.1 --control-listen 127.0.0.1:8798
wait_until 30 test -s "$ST/ready.json" || mg_fail "fake did not start: $(cat "$MG_TMP/fake.log")"
CA=$(jq -r .ca "$ST/ready.json")
TEN=$(jq -r .tenancy "$ST/ready.json")
COMP=$(jq -r .compartment "$ST/ready.json")
VCNID=$(jq -r .vcn "$ST/ready.json")

ctl() { nsx "$VCN" curl -sf -X POST -d "${2:-{\}}" "http://127.0.0.1:8798$1"; }
ctlget() { nsx "$VCN" curl -sf "http://127.0.0.1:8798$1"; }
STATE=$(ctlget /state)
RTA=$(jq -r '.subnets[0].route_table' <<<"$STATE")
RTB=$(jq -r '.subnets[1].route_table' <<<"$STATE")
SUBA=$(jq -r '.subnets[0].id' <<<"$STATE")
SUBB=$(jq -r '.subnets[1].id' <<<"$STATE")
VNA=$(jq -r '.vnics | to_entries[] | select(.value.mac == "02:00:17:12:01:0a") | .key' <<<"$STATE")
PIPA=$(jq -r --arg v "$VNA" '.private_ips | to_entries[] | select(.value.vnic == $v) | .key' <<<"$STATE")
INSTA=$(jq -r --arg v "$VNA" '.vnics[$v].instance' <<<"$STATE")
DRG=ocid1.drg.oc1.phx.aaaaaaaaondrg00000000000000000000000000000000000000000000000
[ -n "$VNA" ] && [ -n "$PIPA" ] || mg_fail "state: $STATE"
bg_start "$VCN" "$MG_TMP/router.log" "$PY" "$FO/vcn_router.py" --routes "$ST/vcn-routes.json" --subnet "$SUBB=sb"

IMDS=http://169.254.169.254
S=$MG_TMP/session.json
st() { nsx "$CONN" curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$@"; }
md() { nsx "$CONN" curl -sf -H 'Authorization: Bearer Oracle' "$IMDS/opc/v2/$1"; }
# q [ociq options] federate | call METHOD PATH [BODY]: status, headers, empty line, body.
# One ociq process in conn answers every request (through two FIFOs): a python start with
# python3-cryptography costs about a second on a loaded machine, and this test makes 150.
mkfifo "$MG_TMP/q.in" "$MG_TMP/q.out"
bg_start "$CONN" "$MG_TMP/ociq.log" "$PY" "$FO/ociq.py" --serve "$MG_TMP/q.in" "$MG_TMP/q.out"
exec 7>"$MG_TMP/q.in" 8<"$MG_TMP/q.out"
q() {
	local line
	jq -cn '$ARGS.positional' --args -- --imds "$IMDS" --endpoint https://198.18.1.1:443 --ca "$CA" \
		--state "$S" "$@" >&7
	while IFS= read -r line <&8; do
		case $line in $'\x1e'END*) return "${line#*END }" ;; esac
		printf '%s\n' "$line"
	done
	mg_fail "ociq ended: $(cat "$MG_TMP/ociq.log")"
}
# expect STATUS TEXT ociq-args...: sets LAST (whole answer) and BODY
expect() {
	local want=$1 what=$2 out
	shift 2
	out=$(q "$@") || true # exit 2: transport error, printed as ERROR ...
	local status=${out%%$'\n'*}
	assert_eq "${status%% *}" "$want" "status of $*: $out"
	assert_contains "$out" "$what" "$*"
	LAST=$out
	BODY=${out#*$'\n\n'} # (builtins only: this runs 150 times)
}
hdr() { sed -n "s/^$1: //p" <<<"$LAST" | head -n1; }
lastreason() { ctlget /log | jq -r '.[-1].reason'; }
A=/20160918

# --- 2. IMDS v2 -------------------------------------------------------------------------------
assert_eq "$(st "$IMDS/opc/v2/instance/")" 401 "no Authorization"
assert_eq "$(st -H 'Authorization: Bearer Other' "$IMDS/opc/v2/instance/")" 401 "wrong bearer"
assert_eq "$(st -H 'Authorization: Bearer Oracle' -H 'X-Forwarded-For: 198.18.9.9' "$IMDS/opc/v2/instance/")" 403 "X-Forwarded-For"
assert_eq "$(st -H 'Authorization: Bearer Oracle' -H 'Forwarded: for=198.18.9.9' "$IMDS/opc/v2/instance/")" 403 "Forwarded"
assert_eq "$(st -H 'Authorization: Bearer Oracle' -H 'X-Forwarded-Host: x' "$IMDS/opc/v2/instance/")" 403 "X-Forwarded-Host"
assert_eq "$(st -H 'Authorization: Bearer Oracle' "$IMDS/opc/v1/instance/")" 404 "v1 is off"
assert_eq "$(st -H 'Authorization: Bearer Oracle' "$IMDS/opc/v2/nope")" 404 "unknown path"
I=$(md instance/)
jq -e --arg i "$INSTA" --arg c "$COMP" --arg t "$TEN" '.id == $i and .compartmentId == $c and .tenantId == $t
	and .canonicalRegionName == "us-phoenix-1" and .region == "phx" and .availabilityDomain == "Uocm:PHX-AD-1"
	and .regionInfo.realmKey == "oc1"' <<<"$I" >/dev/null || mg_fail "instance document: $I"
assert_eq "$(md instance/id)" "$INSTA" "instance/id"
assert_eq "$(md instance/canonicalRegionName)" us-phoenix-1 "instance/canonicalRegionName"
assert_eq "$(md instance/regionInfo/regionKey)" PHX "instance/regionInfo/regionKey"
V=$(md vnics/)
jq -e --arg v "$VNA" '.[0].vnicId == $v and .[0].privateIp == "198.18.1.10" and .[0].macAddr == "02:00:17:12:01:0a"
	and .[0].subnetCidrBlock == "198.18.1.0/24" and .[0].virtualRouterIp == "198.18.1.1" and .[0].vlanTag == 1001
	and .[0].nicIndex == 0' <<<"$V" >/dev/null || mg_fail "vnics document: $V"
md identity/cert.pem >"$MG_TMP/cert.pem"
md identity/key.pem >"$MG_TMP/key.pem"
md identity/intermediate.pem >"$MG_TMP/int.pem"
subj=$(openssl x509 -in "$MG_TMP/cert.pem" -noout -subject -nameopt RFC2253)
assert_contains "$subj" "OU=opc-tenant:$TEN" "leaf subject"
assert_contains "$subj" "OU=opc-instance:$INSTA" "leaf subject"
assert_contains "$subj" "CN=$INSTA" "leaf subject"
openssl verify -CAfile "$ST/identity-root.pem" -untrusted "$MG_TMP/int.pem" "$MG_TMP/cert.pem" >/dev/null ||
	mg_fail "leaf does not chain to the identity root"
[ "$(openssl x509 -in "$MG_TMP/cert.pem" -noout -pubkey)" = "$(openssl pkey -in "$MG_TMP/key.pem" -pubout)" ] ||
	mg_fail "key.pem is not the certificate's key"
head -1 "$MG_TMP/key.pem" | grep -q 'BEGIN RSA PRIVATE KEY' || mg_fail "key.pem is not an RSA key"
mg_log "IMDS ok"

# --- 3. federation ----------------------------------------------------------------------------
expect 401 '"code": "NotAuthenticated"' --wrong-key federate
assert_contains "$(lastreason)" "signature does not verify" "wrong key reason"
expect 401 NotAuthenticated --tamper-header date federate
expect 401 NotAuthenticated --tamper-body federate
assert_contains "$(lastreason)" "x-content-sha256" "tampered body reason"
expect 401 NotAuthenticated --date-offset -400 federate
expect 401 NotAuthenticated --unsigned x-content-sha256 federate
expect 401 NotAuthenticated --key-id "ocid1.tenancy.oc1..aaaaaaaaother/fed-x509/00:11" federate
assert_contains "$(lastreason)" "opc-tenant" "foreign keyId reason"
expect 401 NotAuthenticated --intermediates wrong federate
assert_contains "$(lastreason)" "issuer" "wrong intermediate reason"
[ ! -e "$S" ] || mg_fail "a refused federation left a token"
expect 200 '"token": "' --intermediates none federate
rm -f "$S"
expect 200 '"token": "' --sha256 federate
expect 200 '"token": "' --identity "$MG_TMP/id-old" federate
assert_eq "$(hdr opc-request-id | wc -c)" 33 "opc-request-id (32 hex)"
TOKEN=$(jq -r .token <<<"$BODY")
PAYLOAD=$(cut -d. -f2 <<<"$TOKEN" | tr '_-' '/+')
while [ $((${#PAYLOAD} % 4)) -ne 0 ]; do PAYLOAD="$PAYLOAD="; done
PAYLOAD=$(base64 -d <<<"$PAYLOAD")
now=$(date +%s)
jq -e --arg t "$TEN" --arg i "$INSTA" --argjson now "$now" '.exp > $now + 1100 and .exp < $now + 1300
	and .tenant == $t and .["opc-instance"] == $i and (.jwk | fromjson | .kty == "RSA" and (.n | length) > 300)' \
	<<<"$PAYLOAD" >/dev/null || mg_fail "token payload: $PAYLOAD"
mg_log "federation ok"

# --- 4. signed API calls ----------------------------------------------------------------------
expect 200 '"cidrBlocks": ["198.18.0.0/16"]' call GET "$A/vcns/$VCNID"
expect 401 '{"code": "NotAuthenticated", "message": "The required information to complete authentication was not provided or was incorrect."}' \
	--tamper-header date call GET "$A/vcns/$VCNID"
expect 401 NotAuthenticated --date-offset -400 call GET "$A/vcns/$VCNID"
assert_contains "$(lastreason)" "off the fake's clock" "stale date reason"
expect 401 NotAuthenticated --date-offset 400 call GET "$A/vcns/$VCNID"
expect 200 '"cidrBlock": "198.18.0.0/16"' --date-offset -200 call GET "$A/vcns/$VCNID"
expect 401 NotAuthenticated --wrong-key call GET "$A/vcns/$VCNID"
expect 401 NotAuthenticated --tamper-signature call GET "$A/vcns/$VCNID"
expect 401 NotAuthenticated --unsigned host call GET "$A/vcns/$VCNID"
assert_contains "$(lastreason)" "required headers not signed: host" "unsigned host reason"
expect 401 NotAuthenticated --key-id 'ST$not.a.token' call GET "$A/vcns/$VCNID"
assert_contains "$(lastreason)" "unknown security token" "bogus token reason"
expect 401 NotAuthenticated --key-id "$TEN/fed-x509/00" call GET "$A/vcns/$VCNID"
PUTB='{"displayName": "rt-a"}'
expect 200 '"displayName": "rt-a"' call PUT "$A/routeTables/$RTA" "$PUTB"
expect 401 NotAuthenticated --tamper-body call PUT "$A/routeTables/$RTA" '{"displayName": "rt-1"}'
expect 401 NotAuthenticated --tamper-header x-content-sha256 call PUT "$A/routeTables/$RTA" "$PUTB"
expect 401 NotAuthenticated --tamper-header content-type call PUT "$A/routeTables/$RTA" "$PUTB"
expect 401 NotAuthenticated --tamper-header content-length call PUT "$A/routeTables/$RTA" "$PUTB"
expect 401 NotAuthenticated --unsigned content-length call PUT "$A/routeTables/$RTA" "$PUTB"
expect 404 '"code": "NotAuthorizedOrNotFound"' --request-id 0123ABCD call GET "$A/vcns/ocid1.vcn.oc1.phx.nope"
assert_eq "$(hdr opc-request-id)" 0123ABCD "opc-request-id echoed"
mg_log "signed calls ok"

# --- 5. call shapes ---------------------------------------------------------------------------
expect 200 '"vcnId": "'"$VCNID"'"' call GET "$A/subnets/$SUBB"
jq -e --arg rt "$RTB" '.routeTableId == $rt and .cidrBlock == "198.18.2.0/24" and .virtualRouterIp == "198.18.2.1"' \
	<<<"$BODY" >/dev/null || mg_fail "subnet: $BODY"
expect 200 '"id": "'"$SUBA"'"' call GET "$A/subnets?compartmentId=$COMP&vcnId=$VCNID"
assert_eq "$(jq length <<<"$BODY")" 2 "two subnets"
expect 400 '"code": "MissingParameter"' call GET "$A/subnets?vcnId=$VCNID"
expect 404 NotAuthorizedOrNotFound call GET "$A/subnets?compartmentId=ocid1.compartment.oc1..other"
expect 200 '"skipSourceDestCheck": false' call GET "$A/vnics/$VNA"
jq -e --arg s "$SUBA" '.privateIp == "198.18.1.10" and .subnetId == $s and .isPrimary == true
	and .macAddress == "02:00:17:12:01:0A" and .lifecycleState == "AVAILABLE"' <<<"$BODY" >/dev/null || mg_fail "vnic: $BODY"
[ -n "$(hdr etag)" ] || mg_fail "GET vnic without etag"
expect 200 '"ipAddress": "198.18.1.10"' call GET "$A/privateIps?vnicId=$VNA"
jq -e --arg p "$PIPA" --arg v "$VNA" 'length == 1 and .[0].id == $p and .[0].vnicId == $v and .[0].isPrimary' \
	<<<"$BODY" >/dev/null || mg_fail "privateIps: $BODY"
expect 200 '"id": "'"$PIPA"'"' call GET "$A/privateIps?subnetId=$SUBA&ipAddress=198.18.1.10"
assert_eq "$(jq length <<<"$BODY")" 1 "privateIps by subnet and address"
expect 400 MissingParameter call GET "$A/privateIps"
expect 200 '"ipAddress": "198.18.1.10"' call GET "$A/privateIps/$PIPA"
expect 200 '"vnicId": "'"$VNA"'"' call GET "$A/vnicAttachments?compartmentId=$COMP&instanceId=$INSTA"
expect 200 '"routeRules": ' call GET "$A/routeTables?compartmentId=$COMP&vcnId=$VCNID"
assert_eq "$(jq length <<<"$BODY")" 5 "five route tables"
expect 404 NotAuthorizedOrNotFound call GET "$A/routeTables/${P}nope"
expect 404 '"code": "NotFound"' call GET "$A/instances"
expect 405 MethodNotAllowed call DELETE "$A/routeTables/$RTA"
expect 400 CannotParseRequest call PUT "$A/vnics/$VNA" '{"skipSourceDestCheck": '
expect 400 InvalidParameter call PUT "$A/vnics/$VNA" '{"skipSourceDestCheck": "yes"}'
mg_log "call shapes ok"

# --- 6. route tables: etag, if-match, 412, foreign rules byte for byte ------------------------
expect 200 '"routeRules": ' call GET "$A/routeTables/$RTB"
E1=$(hdr etag)
FOREIGN=$(jq -c .routeRules <<<"$BODY")
assert_contains "$BODY" '"description": "on-prem via DRG — owned by \"netops\"; do not touch"' "foreign description"
MINE='{"destination": "192.0.2.0/24", "destinationType": "CIDR_BLOCK", "networkEntityId": "'"$PIPA"'", "description": "meshgate:conn-a", "routeType": "STATIC"}'
NEWB=$(jq -c --argjson m "$MINE" '{routeRules: (.routeRules + [$m])}' <<<"$BODY")
expect 200 '"description": "meshgate:conn-a"' --if-match "$E1" call PUT "$A/routeTables/$RTB" "$NEWB"
E2=$(hdr etag)
[ -n "$E2" ] && [ "$E2" != "$E1" ] || mg_fail "etag did not change: $E1 -> $E2"
assert_eq "$(jq -c '.routeRules[:2]' <<<"$BODY")" "$FOREIGN" "foreign rules survive byte for byte"
expect 412 '"code": "NoEtagMatch"' --if-match "$E1" call PUT "$A/routeTables/$RTB" "$NEWB"
expect 200 '"meshgate:conn-a"' call GET "$A/routeTables/$RTB"
assert_eq "$(hdr etag)" "$E2" "a refused PUT changes nothing"
# a concurrent edit lands between this GET and the PUT: 412, then GET again shows it
ctl /concurrent-edit '{"route_table": "'"$RTB"'", "add": {"destination": "198.51.100.0/24", "networkEntityId": "'"$DRG"'", "description": "added by someone else"}}' >/dev/null
expect 412 NoEtagMatch --if-match "$E2" call PUT "$A/routeTables/$RTB" "$NEWB"
expect 200 '"added by someone else"' call GET "$A/routeTables/$RTB"
E3=$(hdr etag)
[ "$E3" != "$E2" ] || mg_fail "concurrent edit did not change the etag"
expect 200 '"added by someone else"' --if-match "$E3" call PUT "$A/routeTables/$RTB" "$(jq -c '{routeRules}' <<<"$BODY")"
assert_eq "$(jq '.routeRules | length' <<<"$BODY")" 4 "four rules after the merge"
# rule validation
bad() { expect 400 "$1" call PUT "$A/routeTables/$RTA" "{\"routeRules\": [$2]}"; }
bad InvalidParameter '{"destination": "198.51.100.1/24", "networkEntityId": "'"$PIPA"'"}'
bad InvalidParameter '{"destination": "198.51.100.0/24"}'
bad InvalidParameter '{"destination": "198.51.100.0/24", "cidrBlock": "198.51.100.0/24", "networkEntityId": "'"$PIPA"'"}'
bad InvalidParameter '{"destination": "198.51.100.0/24", "destinationType": "BOGUS", "networkEntityId": "'"$PIPA"'"}'
bad InvalidParameter '{"destination": "198.51.100.0/24", "networkEntityId": "'"$PIPA"'"}, {"destination": "198.51.100.0/24", "networkEntityId": "'"$DRG"'"}'
bad InvalidParameter '{"destination": "198.51.100.0/24", "networkEntityId": "'"$PIPA"'", "routeType": "LOCAL"}'
bad RelatedResourceNotAuthorizedOrNotFound '{"destination": "198.51.100.0/24", "networkEntityId": "ocid1.privateip.oc1.phx.nope"}'
expect 200 '"destination": "198.51.100.0/24"' call PUT "$A/routeTables/$RTA" '{"routeRules": [{"cidrBlock": "198.51.100.0/24", "networkEntityId": "'"$PIPA"'"}]}'
jq -e '.routeRules == [{"destination": "198.51.100.0/24", "destinationType": "CIDR_BLOCK", "networkEntityId": "'"$PIPA"'", "routeType": "STATIC"}]' \
	<<<"$BODY" >/dev/null || mg_fail "deprecated cidrBlock not normalised: $BODY"
# the rule limit (per table; OCI's LimitExceeded)
ctl /route-table/limit '{"route_table": "'"$RTA"'", "limit": 2}' >/dev/null
three='{"destination": "198.51.100.0/26", "networkEntityId": "'"$PIPA"'"}, {"destination": "198.51.100.64/26", "networkEntityId": "'"$PIPA"'"}'
expect 200 '198.51.100.64/26' call PUT "$A/routeTables/$RTA" "{\"routeRules\": [$three]}"
bad LimitExceeded "$three, {\"destination\": \"198.51.100.128/26\", \"networkEntityId\": \"$PIPA\"}"
ctl /route-table/limit '{"route_table": "'"$RTA"'", "limit": null}' >/dev/null
expect 200 '"routeRules": []' call PUT "$A/routeTables/$RTA" '{"routeRules": []}'
mg_log "route tables ok"

# --- 7. paging --------------------------------------------------------------------------------
LQ="$A/routeTables?compartmentId=$COMP&vcnId=$VCNID&limit=2"
expect 200 '"id": "'"$RTA"'"' call GET "$LQ"
assert_eq "$(jq length <<<"$BODY")" 2 "page 1"
N1=$(hdr opc-next-page)
[ -n "$N1" ] || mg_fail "no opc-next-page on page 1"
expect 200 "rtx3" call GET "$LQ&page=$N1"
N2=$(hdr opc-next-page)
expect 200 "rtx5" call GET "$LQ&page=$N2"
assert_eq "$(jq length <<<"$BODY")" 1 "page 3"
assert_eq "$(hdr opc-next-page)" "" "last page has no opc-next-page"
expect 400 InvalidParameter call GET "$LQ&page=garbage"
expect 400 InvalidParameter call GET "$A/routeTables?compartmentId=$COMP&limit=2&page=$N1" # token of another query
expect 400 InvalidParameter call GET "$A/routeTables?compartmentId=$COMP&limit=0"
expect 200 "opc-next-page" call GET "$A/subnets?compartmentId=$COMP&limit=1"
mg_log "paging ok"

# --- 8. faults, denial, counters --------------------------------------------------------------
ctl /reset >/dev/null
ctl /fault '{"kind": "throttle", "count": 2}' >/dev/null
expect 429 '"code": "TooManyRequests"' call GET "$A/vnics/$VNA"
expect 429 TooManyRequests call GET "$A/vnics/$VNA"
expect 200 skipSourceDestCheck call GET "$A/vnics/$VNA"
for f in "incorrect_state 409 IncorrectState" "lock_conflict 409 LockConflict" "500 500 InternalServerError" \
	"503 503 ServiceUnavailable" "501 501 MethodNotImplemented"; do
	set -- $f
	ctl /fault "{\"kind\": \"$1\", \"operation\": \"UpdateRouteTable\"}" >/dev/null
	expect 200 routeRules call GET "$A/routeTables/$RTA"
	expect "$2" "\"code\": \"$3\"" call PUT "$A/routeTables/$RTA" '{"routeRules": []}'
done
ctl /fault '{"kind": "malformed"}' >/dev/null
expect 200 '"routeRules": [{"desti' call GET "$A/routeTables/$RTA"
if jq . <<<"$BODY" >/dev/null 2>&1; then mg_fail "malformed fault gave valid JSON"; fi
ctl /fault '{"kind": "garbage"}' >/dev/null
expect 200 '<html>' call GET "$A/routeTables/$RTA"
ctl /fault '{"kind": "hang", "seconds": 4}' >/dev/null
t0=$(now_ms)
expect ERROR 'timed out' --timeout 1 call GET "$A/routeTables/$RTA"
[ $(($(now_ms) - t0)) -lt 3500 ] || mg_fail "hang: client timeout not reached first"
ctl /fault '{"kind": "503", "operation": "X509Federation"}' >/dev/null
expect 503 ServiceUnavailable --state "$MG_TMP/s2.json" federate
ctl /deny '{"operation": "UpdateVnic"}' >/dev/null
expect 404 '"code": "NotAuthorizedOrNotFound"' call PUT "$A/vnics/$VNA" '{"skipSourceDestCheck": true}'
expect 200 skipSourceDestCheck call GET "$A/vnics/$VNA"
ctl /allow '{"operation": "UpdateVnic"}' >/dev/null
ctl /clock '{"offset": 600}' >/dev/null
expect 401 NotAuthenticated call GET "$A/vnics/$VNA"
ctl /clock '{"offset": 0}' >/dev/null
ctl /counters/reset >/dev/null
expect 200 routeRules call GET "$A/routeTables/$RTA"
expect 412 NoEtagMatch --if-match nope call PUT "$A/routeTables/$RTA" '{"routeRules": []}'
expect 200 '"skipSourceDestCheck": false' call PUT "$A/vnics/$VNA" '{"skipSourceDestCheck": false}'
expect 401 NotAuthenticated --wrong-key call GET "$A/vnics/$VNA"
c=$(ctlget /counters)
jq -e '.total == 4 and .mutating == 2 and .mutating_ok == 1 and .read == 2 and .read_ok == 1
	and .calls.GetRouteTable == 1 and .calls.UpdateRouteTable == 1 and .calls.UpdateVnic == 1 and .calls.GetVnic == 1
	and .by_path["PUT /20160918/routeTables/{id}"] == 1 and .by_path["GET /20160918/vnics/{id}"] == 1
	and .errors.NoEtagMatch == 1 and .errors.NotAuthenticated == 1' <<<"$c" >/dev/null || mg_fail "counters: $c"
mg_log "faults and counters ok"

# --- 9. token expiry, certificate rotation, re-federation -------------------------------------
ctl /token/expire >/dev/null
expect 401 NotAuthenticated call GET "$A/vnics/$VNA"
assert_contains "$(lastreason)" "expired" "expired token reason"
expect 200 token federate
expect 200 skipSourceDestCheck call GET "$A/vnics/$VNA"
old=$(md identity/cert.pem)
ctl /identity/rotate "{\"instance\": \"$INSTA\"}" >/dev/null
new=$(md identity/cert.pem)
[ "$old" != "$new" ] || mg_fail "cert did not rotate"
[ "$(md identity/key.pem)" != "$(cat "$MG_TMP/key.pem")" ] || mg_fail "key did not rotate"
expect 200 token --identity "$MG_TMP/id-old" federate # the old certificate is still valid
expect 200 token federate
expect 200 skipSourceDestCheck call GET "$A/vnics/$VNA"
ctl /identity/rotate "{\"instance\": \"$INSTA\", \"revoke_old\": true}" >/dev/null
expect 401 NotAuthenticated --identity "$MG_TMP/id-old" federate
assert_contains "$(lastreason)" "revoked" "revoked certificate reason"
expect 200 token --sha256 federate
expect 200 skipSourceDestCheck call GET "$A/vnics/$VNA"
mg_log "token expiry and rotation ok"

# --- 10. the VCN router: app (subnet B) reaches the remote site through conn's VNIC ----------
expect 200 '"meshgate:conn-a"' call GET "$A/routeTables/$RTB"
applied() { [ "$(cat "$ST/vcn-routes.json.applied" 2>/dev/null)" = "$(jq .generation "$ST/vcn-routes.json")" ]; }
wait_until 5 applied || mg_fail "router did not apply: $(cat "$MG_TMP/router.log")"
assert_contains "$(ip -n "$VCN" route show table 100)" "192.0.2.0/24 via 198.18.1.10" "router table"
if nsx "$APP" ping -c1 -W1 192.0.2.10 >/dev/null; then mg_fail "reached the site with skipSourceDestCheck false"; fi
expect 200 '"skipSourceDestCheck": true' call PUT "$A/vnics/$VNA" '{"skipSourceDestCheck": true}'
wait_until 5 applied || mg_fail "router lag"
nsx "$APP" ping -c2 -W2 192.0.2.10 >/dev/null || mg_fail "app cannot reach the site through the connector"
expect 200 '"skipSourceDestCheck": false' call PUT "$A/vnics/$VNA" '{"skipSourceDestCheck": false}'
wait_until 5 applied || mg_fail "router lag"
if nsx "$APP" ping -c1 -W1 192.0.2.10 >/dev/null; then mg_fail "reached the site after the check came back"; fi
ctl /vnic/skip-source-dest-check "{\"vnic\": \"$VNA\", \"value\": true}" >/dev/null
wait_until 5 applied || mg_fail "router lag"
nsx "$APP" ping -c1 -W2 192.0.2.10 >/dev/null || mg_fail "no route after the control API set the flag"
# the rule goes: the router forgets it
expect 200 routeRules call GET "$A/routeTables/$RTB"
expect 200 routeRules --if-match "$(hdr etag)" call PUT "$A/routeTables/$RTB" \
	"$(jq -c '{routeRules: [.routeRules[] | select(.destination != "192.0.2.0/24")]}' <<<"$BODY")"
wait_until 5 sh -c "! ip -n '$VCN' route show table 100 | grep -q 192.0.2.0/24" || mg_fail "router kept a deleted rule"
if nsx "$APP" ping -c1 -W1 192.0.2.10 >/dev/null; then mg_fail "reached the site without a rule"; fi
mg_log "VCN router ok"

mg_pass
