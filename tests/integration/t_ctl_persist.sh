#!/usr/bin/env bash
# controller-mock: restart (SIGTERM) and kill -9 during a burst of mutations keep every
# network, connector, token state and address; malformed requests never crash it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ctl_common.sh"
mg_setup ctl_persist
ctl_ns_start

call POST /api/v1/networks '{"name":"A","subnets":["198.51.100.0/24"]}'
A=$(jq -r .id <<<"$BODY")
call POST "/api/v1/networks/$A/connectors" '{"name":"a1"}'
tok1=$(jq -r .token <<<"$BODY")
call POST "/api/v1/networks/$A/connectors" '{"name":"unused"}'
tok2=$(jq -r .token <<<"$BODY")
enroll "$tok1"
s1=$(jq -r .device_secret <<<"$BODY")
c1=$(jq -r .device_id <<<"$BODY")
call DELETE "/api/v1/connectors/$c1"
pin0=$CTL_PIN

snapshot() {
	call GET /api/v1/networks
	jq -S . <<<"$BODY" >"$MG_TMP/$1.nets"
	call GET /api/v1/connectors
	# (last contact and the HA lease are the running controller's, not stored)
	jq -S 'del(.connectors[].last_seen, .connectors[].ha.lease_expires_in_ms, .connectors[].ha.live)' <<<"$BODY" >"$MG_TMP/$1.conns"
}
snapshot before
ctl_stop
ctl_start "$CNS" "$MG_TMP/state" 192.0.2.1 8443
assert_eq "$CTL_PIN" "$pin0" "pin kept across restarts"
snapshot after
diff "$MG_TMP/before.nets" "$MG_TMP/after.nets" || mg_fail "networks changed by restart"
diff "$MG_TMP/before.conns" "$MG_TMP/after.conns" || mg_fail "connectors changed by restart"
dev "$s1" GET /api/v1/device/config
assert_eq "$(jq -r .error.code <<<"$BODY")" device_revoked "revoked after restart"
enroll "$tok1"
assert_eq "$(jq -r .error.code <<<"$BODY")" token_used "used after restart"
enroll "$tok2"
assert_eq "$API_STATUS" 201 "unused token still works after restart"
addr2=$(jq -r .device_id <<<"$BODY")
call GET "/api/v1/connectors/$addr2"
assert_eq "$(jq -r .tunnel_address <<<"$BODY")" 100.96.0.3 "no address reuse after revoke+restart"

# kill -9 in the middle of a burst: every acknowledged network survives
: >"$MG_TMP/acked"
(
	for i in $(seq 1 200); do
		out=$(nsx "$CNS" curl -sk -m 5 -X POST -H "Authorization: Bearer $ADMIN_TOKEN" \
			--data-binary "{\"name\":\"burst$i\",\"subnets\":[\"198.18.$i.0/24\"]}" \
			-w '\n%{http_code}' "$CTL_URL/api/v1/networks" 2>/dev/null) || break
		[ "${out##*$'\n'}" = 201 ] && jq -r .id <<<"${out%$'\n'*}" >>"$MG_TMP/acked"
	done
) &
burst=$!
sleep 1
kill -KILL "$CTL_PID"
wait $burst || true
n_acked=$(wc -l <"$MG_TMP/acked")
mg_log "$n_acked networks acknowledged before kill -9"
[ "$n_acked" -gt 0 ] || mg_fail "nothing acknowledged in 1 s"
ctl_dump | jq . >/dev/null || mg_fail "store left unreadable"
ctl_start "$CNS" "$MG_TMP/state" 192.0.2.1 8443
call GET /api/v1/networks
while read -r id; do
	assert_contains "$BODY" "\"$id\"" "acknowledged network lost"
done <"$MG_TMP/acked"

# a corrupt store stops the start with a clear message
ctl_stop
cp "$MG_TMP/state/store.db" "$MG_TMP/store.good"
printf '{"format":1,' >"$MG_TMP/state/store.db"
if nsx "$CNS" "$CTLMOCK" --state-dir "$MG_TMP/state" --listen 192.0.2.1:8443 \
	--public-url "$CTL_URL" >"$MG_TMP/corrupt.log" 2>&1; then
	mg_fail "started on a corrupt store"
fi
assert_contains "$(cat "$MG_TMP/corrupt.log")" "corrupt" "corrupt store message"
cp "$MG_TMP/store.good" "$MG_TMP/state/store.db"
ctl_start "$CNS" "$MG_TMP/state" 192.0.2.1 8443

# malformed requests (bounded): the server keeps answering
bad=('{' '{"name":' '[]' '"x"' 'null' '{"name":"x","subnets":[1]}' '{"name":"x","access":[{}]}'
	'{"name":"x","nat":[]}' "$(printf '{"a":%.0s' $(seq 1 100))" '{"name":"\u0000"}'
	'{"name":"x","subnets":["::/0"]}' '{"name":1e999}')
for round in 1 2 3; do
	for b in "${bad[@]}"; do
		for path in /api/v1/networks "/api/v1/networks/$A" /api/v1/enroll \
			"/api/v1/networks/$A/connectors" /api/v1/device/status; do
			for m in POST PATCH; do
				nsx "$CNS" curl -sk -m 5 -o /dev/null -X "$m" \
					-H "Authorization: Bearer $ADMIN_TOKEN" --data-binary "$b" \
					"$CTL_URL$path" || true
			done
		done
	done
	nsx "$CNS" curl -sk -m 5 -o /dev/null -H 'Content-Length: -5' "$CTL_URL/api/v1/hub" || true
	nsx "$CNS" curl -sk -m 5 -o /dev/null "$CTL_URL/api/v1/device/config?wait=abc" || true
	nsx "$CNS" curl -sk -m 5 -o /dev/null "$CTL_URL/api/v1/networks/../../etc" || true
	printf 'GET / HTTP/1.1\r\n\r\n' | nsx "$CNS" timeout 3 nc -q1 192.0.2.1 8443 >/dev/null || true
done
kill -0 "$CTL_PID" || mg_fail "controller died: $(tail -5 "$MG_TMP/state.log")"
call GET /api/v1/hub
assert_eq "$API_STATUS" 200 "still answering"

# migration: a state directory of an older version (store.json, no store.db) starts with
# the same content, read once (the file is renamed store.json.migrated)
snapshot premig
ctl_dump >"$MG_TMP/old.json"
ctl_stop
rm -f "$MG_TMP"/state/store.db*
cp "$MG_TMP/old.json" "$MG_TMP/state/store.json"
ctl_start "$CNS" "$MG_TMP/state" 192.0.2.1 8443
snapshot postmig
cmp -s "$MG_TMP/premig.nets" "$MG_TMP/postmig.nets" || mg_fail "networks changed by the migration"
cmp -s "$MG_TMP/premig.conns" "$MG_TMP/postmig.conns" ||
	mg_fail "connectors changed by the migration: $(diff "$MG_TMP/premig.conns" "$MG_TMP/postmig.conns")"
[ ! -e "$MG_TMP/state/store.json" ] && [ -e "$MG_TMP/state/store.json.migrated" ] ||
	mg_fail "store.json not renamed after the migration"
assert_contains "$(cat "$MG_TMP/state.log")" "migrated" "migration logged"
mg_pass
