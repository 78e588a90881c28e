#!/usr/bin/env bash
# controller-mock admin API: create/patch/list networks and connectors, and the
# status + error code of every kind of bad input.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ctl_common.sh"
mg_setup ctl_admin
ctl_ns_start

# files made at first start, with their modes
assert_eq "$(stat -c %a "$MG_TMP/state")" 700 "state dir mode"
assert_eq "$(stat -c %a "$MG_TMP/state/admin.token")" 600 "admin.token mode"
assert_eq "$(stat -c %a "$MG_TMP/state/key.pem")" 600 "key.pem mode"
assert_eq "$(stat -c %a "$MG_TMP/state/hub.key")" 600 "hub.key mode"
assert_eq "$(stat -c %a "$MG_TMP/state/pin")" 644 "pin mode"
assert_eq "$(wc -l <"$MG_TMP/state/admin.token")" 0 "admin.token has no newline"
assert_not_contains "$(cat "$MG_TMP/state.log")" "$ADMIN_TOKEN" "token printed"
# the pin is what curl checks: a wrong pin must fail
if nsx "$CNS" curl -sk --pinnedpubkey "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" \
	"$CTL_URL/api/v1/hub" >/dev/null 2>&1; then mg_fail "a wrong pin was accepted"; fi

call GET /api/v1/hub
expect 200
assert_eq "$(jq -r .address <<<"$BODY")" 100.96.0.1/11 "hub address"
assert_eq "$(jq -r .endpoint <<<"$BODY")" 192.0.2.1:51820 "hub endpoint"

call POST /api/v1/networks '{"name":"HQ","subnets":["198.51.100.0/25"],"nat":{"enabled":true,"exclude":["198.51.100.64/26"]},"access":[{"cidr":"198.51.100.0/25","mode":"ports","ports":["tcp/443","udp/53","tcp/8000-8100"]}],"egress":false,"manage_cloud_routes":true}'
expect 201
A=$(jq -r .id <<<"$BODY")
[[ $A =~ ^n-[0-9a-f]{8}$ ]] || mg_fail "network id $A"
call POST /api/v1/networks '{"name":"Branch","subnets":["203.0.113.0/24"]}'
expect 201
B=$(jq -r .id <<<"$BODY")
call PATCH "/api/v1/networks/$B" '{"name":"Branch 2","egress":true}'
expect 200
assert_eq "$(jq -r .name <<<"$BODY")" "Branch 2" "patched name"
assert_eq "$(jq -r .egress <<<"$BODY")" true "patched egress"
assert_eq "$(jq -c .subnets <<<"$BODY")" '["203.0.113.0/24"]' "subnets kept"
call GET /api/v1/networks
expect 200
assert_eq "$(jq '.networks|length' <<<"$BODY")" 2 "network count"
call GET "/api/v1/networks/$A"
expect 200
assert_eq "$(jq -c .access <<<"$BODY")" '[{"cidr":"198.51.100.0/25","mode":"ports","ports":["tcp/443","udp/53","tcp/8000-8100"]}]' "access"

call POST "/api/v1/networks/$A/connectors" '{"name":"hq-1"}'
expect 201
C=$(jq -r .id <<<"$BODY")
cs=$(jq -r .connection_string <<<"$BODY")
tok=$(jq -r .token <<<"$BODY")
# the connection string carries url, token and pin
js=$(cut -c5- <<<"$cs" | tr '_-' '/+')
while [ $((${#js} % 4)) -ne 0 ]; do js="$js="; done
dec=$(base64 -d <<<"$js")
assert_eq "$(jq -r .url <<<"$dec")" "$CTL_URL" "connection string url"
assert_eq "$(jq -r .token <<<"$dec")" "$tok" "connection string token"
assert_eq "$(jq -r .pin <<<"$dec")" "$CTL_PIN" "connection string pin"
call GET /api/v1/connectors
expect 200
assert_eq "$(jq -r '.connectors[0].state' <<<"$BODY")" pending "state"
assert_eq "$(jq -r '.connectors[0].status' <<<"$BODY")" null "status"
assert_not_contains "$BODY" "$tok" "token listed"
assert_not_contains "$(ctl_dump)" "$tok" "token stored in clear"
if grep -qF -- "$tok" "$MG_TMP"/state/store.db*; then mg_fail "token in the database files"; fi
call POST "/api/v1/connectors/$C/disable"
expect 200
assert_eq "$(jq -r .state <<<"$BODY")" disabled "disabled"
call POST "/api/v1/connectors/$C/enable"
expect 200
assert_eq "$(jq -r .state <<<"$BODY")" pending "enabled again"
call DELETE "/api/v1/connectors/$C"
expect 204
call GET "/api/v1/connectors/$C"
expect 200
assert_eq "$(jq -r .state <<<"$BODY")" revoked "tombstone"

# --- bad input ---
call POST /api/v1/networks '{"name":"x",'
expect 400 invalid_json
call POST /api/v1/networks '[1,2]'
expect 400 invalid_json
call POST /api/v1/networks '{"name":7}'
expect 400 invalid_request
assert_contains "$BODY" name "field named"
call POST /api/v1/networks '{"name":"x","subnets":"192.0.2.0/24"}'
expect 400 invalid_request
call POST /api/v1/networks '{"name":"x","egress":"yes"}'
expect 400 invalid_request
call POST /api/v1/networks '{"name":"x","colour":"red"}'
expect 400 invalid_request
assert_contains "$BODY" colour "unknown field named"
call POST /api/v1/networks '{"name":"x","nat":{"enabled":true,"excl":[]}}'
expect 400 invalid_request
call POST /api/v1/networks '{"name":"x","access":[{"cidr":"10.0.0.0/8","mode":"ports"}]}'
expect 400 invalid_request
call POST /api/v1/networks '{"name":"x","access":[{"cidr":"10.0.0.0/8","mode":"ports","ports":["sctp/1"]}]}'
expect 400 invalid_request
call POST /api/v1/networks '{"name":"x","subnets":["10.0.0.1/8"]}'
expect 400 invalid_cidr
call POST /api/v1/networks '{"name":"x","subnets":["10.0.0.0/33"]}'
expect 400 invalid_cidr
call POST /api/v1/networks '{"name":"x","nat":{"exclude":["bogus"]}}'
expect 400 invalid_cidr
call POST /api/v1/networks '{"name":"x","subnets":["203.0.113.128/25"]}'
expect 409 subnet_conflict
call POST /api/v1/networks '{"name":"x","subnets":["100.100.0.0/16"]}'
expect 409 subnet_conflict
call PATCH "/api/v1/networks/$A" '{"subnets":["203.0.113.0/24"]}'
expect 409 subnet_conflict
call PATCH "/api/v1/networks/$A" '{"subnets":["nope"]}'
expect 400 invalid_cidr
call GET "/api/v1/networks/$A"
assert_eq "$(jq -c .subnets <<<"$BODY")" '["198.51.100.0/25"]' "failed patch changed nothing"
call GET /api/v1/networks/n-00000000
expect 404 not_found
call GET /api/v1/nothing
expect 404 not_found
call DELETE /api/v1/networks
expect 405 method_not_allowed
call POST "/api/v1/connectors/c-00000000/disable"
expect 404 not_found
# oversized bodies: by Content-Length and streamed (chunked, no length)
big=$(head -c 2200000 /dev/zero | tr '\0' 'a')
printf '{"name":"%s"}' "$big" >"$MG_TMP/big.json"
out=$(nsx "$CNS" curl -sk -X POST -H "Authorization: Bearer $ADMIN_TOKEN" \
	--data-binary @"$MG_TMP/big.json" -w '\n%{http_code}' "$CTL_URL/api/v1/networks")
assert_eq "${out##*$'\n'}" 413 "oversized body"
assert_contains "$out" body_too_large "oversized code"
out=$(nsx "$CNS" curl -sk -X POST -H "Authorization: Bearer $ADMIN_TOKEN" \
	-H 'Transfer-Encoding: chunked' --data-binary @"$MG_TMP/big.json" \
	-w '\n%{http_code}' "$CTL_URL/api/v1/networks")
assert_eq "${out##*$'\n'}" 413 "chunked oversized body"
assert_contains "$out" body_too_large "chunked oversized code"
# admin token: missing, wrong, and a device-style call with it
out=$(nsx "$CNS" curl -sk -w '\n%{http_code}' "$CTL_URL/api/v1/networks")
assert_eq "${out##*$'\n'}" 401 "no token"
assert_contains "$out" '"unauthorized"' "no token code"
out=$(nsx "$CNS" curl -sk -H "Authorization: Bearer ${ADMIN_TOKEN}x" -w '\n%{http_code}' \
	"$CTL_URL/api/v1/networks")
assert_eq "${out##*$'\n'}" 401 "wrong token"
out=$(nsx "$CNS" curl -sk -H "Authorization: Bearer $ADMIN_TOKEN" -w '\n%{http_code}' \
	"$CTL_URL/api/v1/device/config")
assert_eq "${out##*$'\n'}" 401 "admin token is no device secret"
assert_contains "$out" invalid_credentials "device code"
# plain HTTP is not served
if nsx "$CNS" curl -s -m 3 -o /dev/null "http://192.0.2.1:8443/api/v1/hub"; then
	mg_fail "plain HTTP answered"
fi
kill -0 "$CTL_PID" || mg_fail "controller died"
mg_pass
