#!/usr/bin/env bash
# controller-mock: enrolment (single use, expiry, garbage) and the config long-poll
# (wake on change for every waiter of a connector, 304 on expiry, disable wakes).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ctl_common.sh"
mg_setup ctl_enroll
ctl_ns_start

call POST /api/v1/networks '{"name":"A","subnets":["198.51.100.0/24"]}'
A=$(jq -r .id <<<"$BODY")
call POST /api/v1/networks '{"name":"B","subnets":["203.0.113.0/24"]}'
B=$(jq -r .id <<<"$BODY")
call POST "/api/v1/networks/$A/connectors" '{"name":"a1"}'
tok1=$(jq -r .token <<<"$BODY")
call POST "/api/v1/networks/$A/connectors" '{"name":"a2"}'
tok2=$(jq -r .token <<<"$BODY")
call POST "/api/v1/networks/$A/connectors" '{"name":"short","token_ttl":1}'
tok3=$(jq -r .token <<<"$BODY")

pub1=$(wg genkey | wg pubkey)
enroll "$tok1" "$pub1"
assert_eq "$API_STATUS" 201 "enroll ($BODY)"
s1=$(jq -r .device_secret <<<"$BODY")
assert_eq "$(jq -r .network_id <<<"$BODY")" "$A" "network id"
enroll "$tok1"
assert_eq "$API_STATUS" 409 "reuse"
assert_eq "$(jq -r .error.code <<<"$BODY")" token_used "reuse code"
enroll "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
assert_eq "$API_STATUS" 401 "garbage"
assert_eq "$(jq -r .error.code <<<"$BODY")" invalid_token "garbage code"
sleep 2
enroll "$tok3"
assert_eq "$API_STATUS" 410 "expired"
assert_eq "$(jq -r .error.code <<<"$BODY")" token_expired "expired code"
enroll "$tok2" "$pub1"
assert_eq "$(jq -r .error.code <<<"$BODY")" public_key_in_use "same key twice"
enroll "$tok2"
assert_eq "$API_STATUS" 201 "second enroll"
s2=$(jq -r .device_secret <<<"$BODY")
# A has two connectors now: an HA network, whose long-polls are answered within a third
# of the lease; a long lease lets the long-polls below wait their full time
call PATCH "/api/v1/networks/$A" '{"ha":{"lease_ms":60000}}'
assert_eq "$API_STATUS" 200 "lease of A"

# the config: valid for the agent's parser, routes of the other network only
dev "$s1" GET /api/v1/device/config
assert_eq "$API_STATUS" 200 "config"
v=$ETAG
assert_eq "$(jq -r .version <<<"$BODY")" "$v" "ETag = version"
assert_eq "$(jq -c .routes <<<"$BODY")" '["100.96.0.0/11","203.0.113.0/24","fd6d:6773::/64"]' "routes"
assert_eq "$(jq -c .advertised <<<"$BODY")" '["198.51.100.0/24"]' "advertised"
assert_eq "$(jq -r .tunnel.address <<<"$BODY")" 100.96.0.2/11 "tunnel address"
assert_eq "$(jq -r .tunnel.address6 <<<"$BODY")" fd6d:6773::2/64 "IPv6 tunnel address"
assert_eq "$(jq -r .tunnel.hub.endpoint <<<"$BODY")" 192.0.2.1:51820 "hub endpoint"
dev "$s1" GET "/api/v1/device/config" -H "If-None-Match: \"$v\""
assert_eq "$API_STATUS" 304 "unchanged, no wait"
dev "$s1" GET "/api/v1/device/config?wait=61"
assert_eq "$API_STATUS" 400 "wait out of range"
dev "$s1" POST /api/v1/device/status --data-binary '{"applied_version":1,"tunnel":{"up":true}}'
assert_eq "$API_STATUS" 204 "status"
call GET /api/v1/connectors
assert_eq "$(jq -c '[.connectors[]|select(.status!=null)|.status.applied_version]' <<<"$BODY")" '[1]' "status stored"

# a PATCH that changes nothing rendered bumps nobody
call PATCH "/api/v1/networks/$B" '{"name":"B renamed"}'
dev "$s1" GET /api/v1/device/config
assert_eq "$ETAG" "$v" "no bump without a change"

# long-poll: two waiters of network A; a change of network B wakes both within 1 s
w() {
	nsx "$CNS" curl -sk --pinnedpubkey "$CTL_PIN" -H "Authorization: Bearer $1" \
		-H "If-None-Match: \"${3:-$v}\"" -o "$MG_TMP/w$2.body" -w '%{http_code}' \
		"$CTL_URL/api/v1/device/config?wait=20" >"$MG_TMP/w$2.code"
	now_ms >"$MG_TMP/w$2.t"
}
dev "$s2" GET /api/v1/device/config
v2=$ETAG # the second connector's own version (HA: its document differs)
w "$s1" 1 &
p1=$!
w "$s2" 2 "$v2" &
p2=$!
sleep 1
kill -0 $p1 && kill -0 $p2 || mg_fail "a waiter returned before the change"
t0=$(now_ms)
call PATCH "/api/v1/networks/$B" '{"subnets":["203.0.113.0/25"]}'
assert_eq "$API_STATUS" 200 "patch"
wait $p1 $p2
for i in 1 2; do
	assert_eq "$(cat "$MG_TMP/w$i.code")" 200 "waiter $i"
	dt=$(($(cat "$MG_TMP/w$i.t") - t0))
	mg_log "waiter $i woke ${dt} ms after the PATCH was sent"
	[ "$dt" -lt 1000 ] || mg_fail "waiter $i took $dt ms"
	[ $i = 1 ] && vi=$v || vi=$v2
	assert_eq "$(jq -r .version "$MG_TMP/w$i.body")" $((vi + 1)) "new version $i"
	assert_eq "$(jq -c .routes "$MG_TMP/w$i.body")" '["100.96.0.0/11","203.0.113.0/25","fd6d:6773::/64"]' "new routes"
done
v=$((v + 1))
v2=$((v2 + 1))

# expiry: 304 after the wait
t0=$(now_ms)
dev "$s1" GET "/api/v1/device/config?wait=1" -H "If-None-Match: \"$v\""
dt=$(($(now_ms) - t0))
assert_eq "$API_STATUS" 304 "expired wait"
[ "$dt" -ge 900 ] || mg_fail "304 after only $dt ms"

# disable wakes a waiter with 403; revoke answers 401
w "$s2" 3 "$v2" &
p3=$!
sleep 0.5
call POST "/api/v1/connectors/$(jq -r '.connectors[1].id' <<<"$(api "$CNS" GET /api/v1/connectors)")/disable"
wait $p3
assert_eq "$(cat "$MG_TMP/w3.code")" 403 "disabled waiter"
assert_eq "$(jq -r .error.code "$MG_TMP/w3.body")" device_disabled "disabled code"
call GET /api/v1/connectors
c1=$(jq -r '.connectors[0].id' <<<"$BODY")
call DELETE "/api/v1/connectors/$c1"
assert_eq "$API_STATUS" 204 "revoke"
dev "$s1" GET /api/v1/device/config
assert_eq "$API_STATUS" 401 "revoked"
assert_eq "$(jq -r .error.code <<<"$BODY")" device_revoked "revoked code"
dev "garbage-secret" GET /api/v1/device/config
assert_eq "$(jq -r .error.code <<<"$BODY")" invalid_credentials "unknown secret"
mg_pass
