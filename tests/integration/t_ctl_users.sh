#!/usr/bin/env bash
# controller-mock remote users: create (with and without a public key) answers an exact
# wg-quick config; list, delete (tombstone), 409 for a key in use, bad inputs; users
# survive a restart; a generated private key appears in no log and not in store.json.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ctl_common.sh"
mg_setup ctl_users
ctl_ns_start --no-hub --log-level debug

call GET /api/v1/hub
HUB_PUB=$(jq -r .public_key <<<"$BODY")
call POST /api/v1/networks '{"name":"B","subnets":["203.0.113.0/24","198.51.100.128/25"]}'
expect 201
call POST /api/v1/networks '{"name":"A","subnets":["198.51.100.0/25"]}'
expect 201
A=$(jq -r .id <<<"$BODY")
ALLOWED="100.96.0.0/11, fd6d:6773::/64, 198.51.100.0/25, 198.51.100.128/25, 203.0.113.0/24"

# expected_config PRIVATE ADDRESS ADDRESS6: the exact text of a user's config
expected_config() {
	printf '[Interface]\nPrivateKey = %s\nAddress = %s, %s\nMTU = 1420\n\n' "$1" "$2" "$3"
	printf '[Peer]\nPublicKey = %s\nEndpoint = 192.0.2.1:51820\n' "$HUB_PUB"
	printf 'AllowedIPs = %s\nPersistentKeepalive = 25\n' "$ALLOWED"
}

# --- without a public key: the controller makes the key pair -----------------------------
call POST /api/v1/users '{"name":"alice laptop"}'
expect 201
U1=$(jq -r .id <<<"$BODY")
[[ $U1 =~ ^u-[0-9a-f]{8}$ ]] || mg_fail "user id $U1"
assert_eq "$(jq -r .name <<<"$BODY")" "alice laptop" "name"
assert_eq "$(jq -r .address <<<"$BODY")" 100.96.0.2/32 "first user address"
assert_eq "$(jq -r .address6 <<<"$BODY")" fd6d:6773::2/128 "first user's IPv6 address"
PUB1=$(jq -r .public_key <<<"$BODY")
jq -j .config <<<"$BODY" >"$MG_TMP/u1.conf"
PRIV1=$(sed -n 's/^PrivateKey = //p' "$MG_TMP/u1.conf")
[ "${#PRIV1}" -eq 44 ] || mg_fail "generated private key '$PRIV1'"
assert_eq "$(wg pubkey <<<"$PRIV1")" "$PUB1" "generated private key matches the public key"
expected_config "$PRIV1" 100.96.0.2/32 fd6d:6773::2/128 >"$MG_TMP/u1.want"
diff "$MG_TMP/u1.want" "$MG_TMP/u1.conf" || mg_fail "config text of a generated key"
# wg-quick's own parser takes it (strip drops the wg-quick-only keys, wg checks the rest)
cp "$MG_TMP/u1.conf" "$MG_TMP/mgu$MG_ID.conf"
wg-quick strip "$MG_TMP/mgu$MG_ID.conf" >"$MG_TMP/u1.wg" || mg_fail "wg-quick strip refused the config"
assert_contains "$(cat "$MG_TMP/u1.wg")" "PersistentKeepalive = 25" "stripped config"
assert_not_contains "$(cat "$MG_TMP/u1.wg")" "Address" "wg-quick keys stripped"

# --- with a public key: placeholder, the controller never has the private key -------------
PRIV2=$(wg genkey)
PUB2=$(wg pubkey <<<"$PRIV2")
call POST /api/v1/users "{\"name\":\"bob\",\"public_key\":\"$PUB2\"}"
expect 201
U2=$(jq -r .id <<<"$BODY")
assert_eq "$(jq -r .public_key <<<"$BODY")" "$PUB2" "given public key"
assert_eq "$(jq -r .address <<<"$BODY")" 100.96.0.3/32 "second user address"
jq -j .config <<<"$BODY" >"$MG_TMP/u2.conf"
expected_config '<your private key>' 100.96.0.3/32 fd6d:6773::3/128 >"$MG_TMP/u2.want"
diff "$MG_TMP/u2.want" "$MG_TMP/u2.conf" || mg_fail "config text with a given key"

# --- 409: the key of a user, then of a connector ---------------------------------------
call POST /api/v1/users "{\"name\":\"bob again\",\"public_key\":\"$PUB2\"}"
expect 409 public_key_in_use
call POST /api/v1/users "{\"name\":\"alice again\",\"public_key\":\"$PUB1\"}"
expect 409 public_key_in_use
call POST "/api/v1/networks/$A/connectors" '{"name":"a1"}'
tok=$(jq -r .token <<<"$BODY")
CPRIV=$(wg genkey)
CPUB=$(wg pubkey <<<"$CPRIV")
enroll "$tok" "$CPUB"
assert_eq "$API_STATUS" 201 "enroll"
C1=$(jq -r .device_id <<<"$BODY")
call POST /api/v1/users "{\"name\":\"thief\",\"public_key\":\"$CPUB\"}"
expect 409 public_key_in_use
assert_contains "$BODY" "$C1" "conflict names the connector"
# and a connector cannot enroll with a user's key
call POST "/api/v1/networks/$A/connectors" '{"name":"a2"}'
enroll "$(jq -r .token <<<"$BODY")" "$PUB2"
assert_eq "$API_STATUS" 409 "enroll with a user's key"
assert_contains "$BODY" public_key_in_use "enroll conflict code"

# --- bad inputs ------------------------------------------------------------------------
bad_req() {
	call POST /api/v1/users "$1"
	expect 400 "$2"
	[ -z "${3:-}" ] || assert_contains "$(jq -r .error.message <<<"$BODY")" "$3" "message for $1"
}
bad_req '{"name":' invalid_json
bad_req '[]' invalid_json
bad_req '{}' invalid_request name
bad_req '{"name":""}' invalid_request name
bad_req '{"name":7}' invalid_request name
bad_req "{\"name\":\"$(printf 'x%.0s' $(seq 1 128))\"}" invalid_request name
bad_req '{"name":"a\u0001"}' invalid_request name
bad_req '{"name":"a","public_key":"AAAA"}' invalid_request public_key
bad_req '{"name":"a","public_key":42}' invalid_request public_key
bad_req '{"name":"a","private_key":"x"}' invalid_request private_key
bad_req '{"name":"a","address":"100.96.0.9"}' invalid_request address
call POST /api/v1/users "{\"name\":\"$(printf 'y%.0s' $(seq 1 127))\"}"
expect 201
U3=$(jq -r .id <<<"$BODY")
assert_eq "$(jq -r .address <<<"$BODY")" 100.96.0.5/32 "after the connector took .4 (refused requests take none)"

# --- list, delete ------------------------------------------------------------------------
call GET /api/v1/users
expect 200
assert_eq "$(jq '.users|length' <<<"$BODY")" 3 "user count"
assert_eq "$(jq -c ".users[] | select(.id==\"$U2\") | [.name,.address,.public_key,.state]" <<<"$BODY")" \
	"[\"bob\",\"100.96.0.3/32\",\"$PUB2\",\"active\"]" "listed user"
assert_eq "$(jq '[.users[] | .created_at > 0] | all' <<<"$BODY")" true "created_at"
assert_eq "$(jq '[.users[] | has("config")] | any' <<<"$BODY")" false "no config in the list"
call DELETE "/api/v1/users/$U2"
expect 204
call DELETE "/api/v1/users/$U2"
expect 204
call DELETE /api/v1/users/u-00000000
expect 404 not_found
call GET "/api/v1/users/$U2"
expect 200
assert_eq "$(jq -r '[.state, .disabled] | @tsv' <<<"$BODY")" "$(printf 'revoked\tfalse')" "GET of a deleted user"
call GET /api/v1/users/u-00000000
expect 404 not_found
call PUT "/api/v1/users/$U2"
expect 405 method_not_allowed

# --- disable / enable: state, errors, the config fetch -----------------------------------
call POST "/api/v1/users/$U2/disable"
expect 409 user_revoked
call GET "/api/v1/users/$U2/config"
expect 409 user_revoked
call POST /api/v1/users/u-00000000/enable
expect 404 not_found
call GET "/api/v1/users/$U1/disable"
expect 405 method_not_allowed
call GET "/api/v1/users/$U3/config"
expect 200
conf3=$(jq -r .config <<<"$BODY")
assert_contains "$conf3" "PrivateKey = <your private key>" "re-fetched config has the placeholder"
assert_eq "$(jq -r .address <<<"$BODY")" 100.96.0.5/32 "address in the config answer"
call POST "/api/v1/users/$U3/disable"
expect 200
assert_eq "$(jq -r '[.state, .disabled] | @tsv' <<<"$BODY")" "$(printf 'disabled\ttrue')" "disable answer"
call POST "/api/v1/users/$U3/disable"
expect 200
call GET "/api/v1/users/$U3/config"
expect 403 user_disabled
call POST "/api/v1/users/$U3/enable"
expect 200
assert_eq "$(jq -r .state <<<"$BODY")" active "enable answer"
call GET "/api/v1/users/$U3/config"
expect 200
assert_eq "$(jq -r .config <<<"$BODY")" "$conf3" "config unchanged by disable and enable"
# kept disabled across the restart below
call POST "/api/v1/users/$U3/disable"
expect 200
call GET /api/v1/users
assert_eq "$(jq -r ".users[] | select(.id==\"$U2\") | .state" <<<"$BODY")" revoked "tombstone"
# a revoked user's key is free again, its address is not
call POST /api/v1/users "{\"name\":\"bob new laptop\",\"public_key\":\"$PUB2\"}"
expect 201
U4=$(jq -r .id <<<"$BODY")
assert_eq "$(jq -r .address <<<"$BODY")" 100.96.0.6/32 "no address reuse after a delete"

# --- restart keeps users ----------------------------------------------------------------
call GET /api/v1/users
jq -S . <<<"$BODY" >"$MG_TMP/users.before"
ctl_stop
ctl_start "$CNS" "$MG_TMP/state" 192.0.2.1 8443 --no-hub --log-level debug
call GET /api/v1/users
jq -S . <<<"$BODY" >"$MG_TMP/users.after"
diff "$MG_TMP/users.before" "$MG_TMP/users.after" || mg_fail "users changed by restart"
assert_eq "$(jq -r ".users[] | select(.id==\"$U3\") | .state" <<<"$BODY")" disabled "disabled kept across restart"
call POST /api/v1/users '{"name":"after restart"}'
expect 201
assert_eq "$(jq -r .address <<<"$BODY")" 100.96.0.7/32 "high-water mark kept across restart"
assert_eq "$(jq -r .address6 <<<"$BODY")" fd6d:6773::7/128 "its IPv6 address at the same index"
PRIV5=$(jq -j .config <<<"$BODY" | sed -n 's/^PrivateKey = //p')
call POST /api/v1/users "{\"name\":\"dup after restart\",\"public_key\":\"$PUB1\"}"
expect 409 public_key_in_use

# --- the generated private keys are nowhere on the controller ----------------------------
for k in "$PRIV1" "$PRIV5"; do
	! grep -rqF -- "$k" "$MG_TMP/state" "$MG_TMP/state.log" ||
		mg_fail "a generated private key is in the state directory or the log"
done
ctl_dump >"$MG_TMP/store.dump"
assert_contains "$(cat "$MG_TMP/store.dump")" "$PUB1" "public key stored"
assert_eq "$(jq '.users|length' "$MG_TMP/store.dump")" 5 "users in the store"
assert_eq "$(jq '[.users[] | keys[]] | unique | sort' -c "$MG_TMP/store.dump")" \
	'["address_index","created_at","disabled","full_tunnel","id","name","public_key","revoked"]' "stored user fields"
assert_eq "$(jq -r .mesh_range6 "$MG_TMP/store.dump")" fd6d:6773::/64 "stored IPv6 mesh range"

# --- the IPv6 mesh range: another one is refused, none turns it off ----------------------
ctl_stop
bg_start "$CNS" "$MG_TMP/other6.log" "$CTLMOCK" --state-dir "$MG_TMP/state" \
	--listen 192.0.2.1:8443 --no-hub --mesh-range6 fd00:1::/64
[ "$(bg_wait "$MG_TMP/other6.log" 10)" = 1 ] || mg_fail "started with another IPv6 mesh range"
assert_contains "$(cat "$MG_TMP/other6.log")" "start with --mesh-range6 fd6d:6773::/64" "refusal names the store's range"
ctl_start "$CNS" "$MG_TMP/state" 192.0.2.1 8443 --no-hub --mesh-range6 none
call GET /api/v1/users
assert_eq "$(jq -r ".users[] | select(.id==\"$U1\") | .address6" <<<"$BODY")" null "no IPv6 address with none"
call GET "/api/v1/users/$U4/config"
expect 200
assert_contains "$(jq -r .config <<<"$BODY")" "Address = 100.96.0.6/32
MTU" "IPv4 only config"
call GET /api/v1/hub
assert_eq "$(jq -r .mesh_range6 <<<"$BODY")" null "the hub's IPv6 range with none"
mg_log "users $U1 $U2 $U3 $U4"
mg_pass
