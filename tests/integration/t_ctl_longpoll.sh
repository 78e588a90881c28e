#!/usr/bin/env bash
# controller-mock: a config change wakes every long-poll whatever the connection mode of
# the admin request that made it (keep-alive, Connection: close, HTTP/1.0: issue 19, a
# change sent with Connection: close left the waiters hanging), 200 waiters at once in
# mixed modes; and every waiter is answered 304 when its wait ends, also while other
# connectors' waiters are being woken by close-mode changes.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ctl_common.sh"
mg_setup ctl_longpoll
ctl_ns_start --no-hub
# waiters come from four addresses: 50 each, under the per-address connection limit
for i in 2 3 4 5; do ip -n "$CNS" addr add "192.0.2.$i/32" dev lo; done
SRC=192.0.2.2,192.0.2.3,192.0.2.4,192.0.2.5
LP=(python3 "$MG_SRC/tests/tools/ctl_longpoll.py" --url "$CTL_URL" --cafile "$CTL_DIR/cert.pem"
	--sources "$SRC" --waiter-modes "keepalive,close,http10" --admin-token "$ADMIN_TOKEN")
N=200
BOUND_MS=5000 # generous for loaded and sanitizer runs; typically ~100 ms for 200 waiters

call POST /api/v1/networks '{"name":"A","subnets":["198.51.100.0/24"]}'
A=$(jq -r .id <<<"$BODY")
call POST /api/v1/networks '{"name":"B","subnets":["203.0.113.0/24"]}'
B=$(jq -r .id <<<"$BODY")
call POST "/api/v1/networks/$A/connectors" '{"name":"a1"}'
enroll "$(jq -r .token <<<"$BODY")"
sa=$(jq -r .device_secret <<<"$BODY")
call POST "/api/v1/networks/$B/connectors" '{"name":"b1"}'
enroll "$(jq -r .token <<<"$BODY")"
sb=$(jq -r .device_secret <<<"$BODY")

# check_woken JSON NEWVERSION LABEL: all N answered 200 with the new ETag, none before
# the change, the last within BOUND_MS of it.
check_woken() {
	local out=$1 v=$2 label=$3 n=${4:-$N}
	assert_eq "$(jq -c .statuses <<<"$out")" "{\"200\":$n}" "$label: statuses ($out)"
	assert_eq "$(jq -c .etags <<<"$out")" "[\"\\\"$v\\\"\"]" "$label: ETag"
	assert_eq "$(jq .change_status <<<"$out")" 200 "$label: the change itself"
	jq -e '.first_ms >= .change_ms' <<<"$out" >/dev/null ||
		mg_fail "$label: a waiter was answered before the change ($out)"
	jq -e ".last_ms - .change_ms < $BOUND_MS" <<<"$out" >/dev/null ||
		mg_fail "$label: waiters answered too late ($out)"
	mg_log "$label: $n waiters answered $(jq '.last_ms - .change_ms | floor' <<<"$out") ms after the change was sent"
}

dev "$sa" GET /api/v1/device/config
v=$ETAG
k=0
for mode in keepalive close http10; do
	k=$((k + 1))
	out=$(nsx "$CNS" "${LP[@]}" --secret "$sa" --version "$v" --waiters $N --wait 30 \
		--change-after 1 --patch "/api/v1/networks/$A" --change-mode "$mode" \
		--body "{\"subnets\":[\"198.51.100.0/24\",\"198.18.$k.0/24\"]}")
	v=$((v + 1))
	check_woken "$out" "$v" "change sent $mode"
done

# expiry: N waiters of a1 get 304 when their 3 s run out, while b1's waiters are woken
# by a close-mode change that does not concern a1 (nat of B bumps only B's connectors)
dev "$sb" GET /api/v1/device/config
vb=$ETAG
nsx "$CNS" "${LP[@]}" --secret "$sa" --version "$v" --waiters $N --wait 3 >"$MG_TMP/exp.json" &
exp_pid=$!
out=$(nsx "$CNS" "${LP[@]}" --secret "$sb" --version "$vb" --waiters 20 --wait 30 \
	--change-after 0.5 --patch "/api/v1/networks/$B" --change-mode close \
	--body '{"nat":{"enabled":true}}')
check_woken "$out" $((vb + 1)) "b1 woken beside a1's waiters" 20
wait $exp_pid || mg_fail "load tool failed"
out=$(cat "$MG_TMP/exp.json")
assert_eq "$(jq -c .statuses <<<"$out")" "{\"304\":$N}" "expiry: statuses ($out)"
assert_eq "$(jq -c .etags <<<"$out")" "[\"\\\"$v\\\"\"]" "expiry: ETag"
jq -e '.min_held_ms >= 3000' <<<"$out" >/dev/null || mg_fail "expiry: answered before the wait ended ($out)"
jq -e ".max_held_ms < 3000 + $BOUND_MS" <<<"$out" >/dev/null || mg_fail "expiry: answered late ($out)"
mg_log "expiry: $N waiters answered 304 after $(jq '.min_held_ms | floor' <<<"$out") to $(jq '.max_held_ms | floor' <<<"$out") ms (wait 3000 ms)"

# expiry alone (no other traffic at all), every waiter speaking Connection: close
out=$(nsx "$CNS" "${LP[@]}" --waiter-modes close --secret "$sa" --version "$v" --waiters 20 --wait 2)
assert_eq "$(jq -c .statuses <<<"$out")" '{"304":20}' "quiet expiry: statuses ($out)"
jq -e ".min_held_ms >= 2000 and .max_held_ms < 2000 + $BOUND_MS" <<<"$out" >/dev/null ||
	mg_fail "quiet expiry: timing ($out)"

kill -0 "$CTL_PID" || mg_fail "controller died"
mg_pass
