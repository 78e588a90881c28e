#!/usr/bin/env bash
# controller-mock, lazy rendering: a network change only marks the connectors it may
# affect; each document is rendered when it is next looked at. Checked: a connector that
# was not polling gets the new document (and version) when it asks; a version shown (to
# the agent or the admin API) is on disk before it is shown (kill -9 right after, and the
# restarted controller answers the same version for the same document); a change never
# shown is still picked up after kill -9; a change and its undoing, or a rename, bump
# nobody; a held long-poll is answered with the latest document; --eager-render (the
# comparison mode) keeps the same versions.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ctl_common.sh"
mg_setup ctl_lazy
ctl_ns_start --no-hub

call POST /api/v1/networks '{"name":"A","subnets":["198.51.100.0/24"]}'
A=$(jq -r .id <<<"$BODY")
call POST /api/v1/networks '{"name":"B","subnets":["203.0.113.0/24"]}'
B=$(jq -r .id <<<"$BODY")
call POST "/api/v1/networks/$A/connectors" '{"name":"a1"}'
enroll "$(jq -r .token <<<"$BODY")"
sa=$(jq -r .device_secret <<<"$BODY")
ca=$(jq -r .device_id <<<"$BODY")
call POST "/api/v1/networks/$B/connectors" '{"name":"b1"}'
enroll "$(jq -r .token <<<"$BODY")"
sb=$(jq -r .device_secret <<<"$BODY")
cb=$(jq -r .device_id <<<"$BODY")
dev "$sa" GET /api/v1/device/config
va=$ETAG
dev "$sb" GET /api/v1/device/config
vb=$ETAG
assert_eq "$va" 1 "a1 starts at version 1"

# stored_version ID: the version in the store on disk (read beside the running controller)
stored_version() { ctl_dump | jq -r --arg id "$1" '.connectors[] | select(.id == $id) | .version'; }
kill9_restart() {
	kill -9 "$CTL_PID"
	wait "$CTL_PID" 2>/dev/null || true
	ctl_start "$CNS" "$MG_TMP/state" 192.0.2.1 8443 --no-hub "$@"
}

# 1. A gets a subnet: a1 (advertised) and b1 (routes) change; neither is polling
call PATCH "/api/v1/networks/$A" '{"subnets":["198.51.100.0/24","198.18.1.0/24"]}'
expect 200
# the admin API shows a1's new version, which is on disk by then
call GET "/api/v1/connectors/$ca"
assert_eq "$(jq -r .config_version <<<"$BODY")" $((va + 1)) "a1's version as the admin sees it"
assert_eq "$(stored_version "$ca")" $((va + 1)) "a1's shown version is stored"
# b1 asks with its old ETag: the new document at once
dev "$sb" GET /api/v1/device/config -H "If-None-Match: \"$vb\""
assert_eq "$API_STATUS" 200 "b1 asks after the change"
assert_eq "$ETAG" $((vb + 1)) "b1's new version"
assert_eq "$(jq -c .routes <<<"$BODY")" '["100.96.0.0/11","198.18.1.0/24","198.51.100.0/24","fd6d:6773::/64"]' "b1's routes"
assert_eq "$(stored_version "$cb")" $((vb + 1)) "b1's answered version is stored"
va=$((va + 1)) vb=$((vb + 1))

# 2. kill -9: the versions shown stay, with the same documents
kill9_restart
dev "$sa" GET /api/v1/device/config -H "If-None-Match: \"$va\""
assert_eq "$API_STATUS" 304 "a1's version kept across kill -9"
dev "$sb" GET /api/v1/device/config -H "If-None-Match: \"$vb\""
assert_eq "$API_STATUS" 304 "b1's version kept across kill -9"

# 3. a change nobody has seen yet, then kill -9: still picked up after the restart
call PATCH "/api/v1/networks/$A" '{"subnets":["198.51.100.0/24","198.18.2.0/24"]}'
expect 200
kill9_restart
dev "$sb" GET /api/v1/device/config -H "If-None-Match: \"$vb\""
assert_eq "$API_STATUS" 200 "b1 after an unseen change and kill -9"
assert_eq "$ETAG" $((vb + 1)) "b1's version after the restart"
assert_contains "$(jq -c .routes <<<"$BODY")" '"198.18.2.0/24"' "b1's routes after the restart"
vb=$((vb + 1))
dev "$sa" GET /api/v1/device/config -H "If-None-Match: \"$va\""
assert_eq "$API_STATUS" 200 "a1 after an unseen change and kill -9"
va=$ETAG

# 4. a change and its undoing before anyone looks, and a rename: no version moves
call PATCH "/api/v1/networks/$A" '{"subnets":["198.51.100.0/24","198.18.3.0/24"]}'
call PATCH "/api/v1/networks/$A" '{"subnets":["198.51.100.0/24","198.18.2.0/24"]}'
call PATCH "/api/v1/networks/$A" '{"name":"A2"}'
dev "$sa" GET /api/v1/device/config -H "If-None-Match: \"$va\""
assert_eq "$API_STATUS" 304 "a1: change undone, rename"
dev "$sb" GET /api/v1/device/config -H "If-None-Match: \"$vb\""
assert_eq "$API_STATUS" 304 "b1: change undone, rename"

# 5. a held long-poll of b1 gets the last of two quick changes (or the first, and the
# second when it asks again): never a document older than the change acknowledged
nsx "$CNS" curl -sk --pinnedpubkey "$CTL_PIN" -H "Authorization: Bearer $sb" \
	-H "If-None-Match: \"$vb\"" -D "$MG_TMP/lp.hdr" -o "$MG_TMP/lp.body" \
	"$CTL_URL/api/v1/device/config?wait=20" &
lp=$!
sleep 0.5
call PATCH "/api/v1/networks/$A" '{"subnets":["198.51.100.0/24","198.18.4.0/24"]}'
wait "$lp" || mg_fail "long-poll failed"
assert_contains "$(head -1 "$MG_TMP/lp.hdr")" 200 "held long-poll answered"
assert_contains "$(jq -c .routes "$MG_TMP/lp.body")" '"198.18.4.0/24"' "held long-poll: the new routes"
vb=$(sed -n 's/^[Ee][Tt][Aa][Gg]: *"\([0-9]*\)".*/\1/p' "$MG_TMP/lp.hdr" | tr -d '\r')
assert_eq "$(stored_version "$cb")" "$vb" "the long-poll's version is stored"
# a change that does not concern a1's waiter (B's NAT: only B's connectors) leaves it
# waiting: answered 304 when its 2 s run out
dev "$sa" GET /api/v1/device/config
va=$ETAG
nsx "$CNS" curl -sk --pinnedpubkey "$CTL_PIN" -H "Authorization: Bearer $sa" \
	-H "If-None-Match: \"$va\"" -o /dev/null -w '%{http_code}' \
	"$CTL_URL/api/v1/device/config?wait=2" >"$MG_TMP/lpa.code" &
lpa=$!
sleep 0.3
call PATCH "/api/v1/networks/$B" '{"nat":{"enabled":true}}'
expect 200
wait "$lpa" || mg_fail "long-poll of a1 failed"
assert_eq "$(cat "$MG_TMP/lpa.code")" 304 "a1's waiter untouched by B's NAT change"
dev "$sb" GET /api/v1/device/config -H "If-None-Match: \"$vb\""
assert_eq "$ETAG" $((vb + 1)) "b1 bumped by its network's NAT change"
vb=$ETAG

# 6. the comparison mode renders eagerly and reaches the same versions
ctl_stop
ctl_start "$CNS" "$MG_TMP/state" 192.0.2.1 8443 --no-hub --eager-render
call PATCH "/api/v1/networks/$A" '{"subnets":["198.51.100.0/24","198.18.5.0/24"]}'
assert_eq "$(stored_version "$cb")" $((vb + 1)) "eager: b1's version stored with the change"
dev "$sb" GET /api/v1/device/config -H "If-None-Match: \"$vb\""
assert_eq "$ETAG" $((vb + 1)) "eager: b1's new version"
assert_contains "$(jq -c .routes <<<"$BODY")" '"198.18.5.0/24"' "eager: b1's routes"

kill -0 "$CTL_PID" || mg_fail "controller died"
mg_pass
