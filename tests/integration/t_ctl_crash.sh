#!/usr/bin/env bash
# controller-mock: kill -9 during a stream of creates, again and again, loses nothing it
# acknowledged: every id answered 2xx is there after each restart, the store always
# parses. A start removes the temporaries a killed writer left (store.json.tmp.<pid> of a
# dead pid; issue 19) and keeps those of a live pid.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ctl_common.sh"
mg_setup ctl_crash
ctl_ns_start --no-hub
KILLS=${MG_CTL_KILLS:-20}

call POST /api/v1/networks '{"name":"A","subnets":["198.51.100.0/24"]}'
A=$(jq -r .id <<<"$BODY")
: >"$MG_TMP/acked"
bg_start "$CNS" "$MG_TMP/burst.log" python3 "$MG_SRC/tests/tools/ctl_burst.py" \
	--url "$CTL_URL" --cafile "$CTL_DIR/cert.pem" --token "$ADMIN_TOKEN" \
	--path "/api/v1/networks/$A/connectors" --acked "$MG_TMP/acked" --stop "$MG_TMP/stop" \
	--max 20000 --seconds 150

acked() { wc -l <"$MG_TMP/acked"; }
more_than() { [ "$(acked)" -gt "$1" ]; }
# temporaries of the store whose writer is dead (the running controller makes its own)
temps() {
	local f
	for f in "$MG_TMP"/state/store.json.tmp.*; do
		[ -e "$f" ] || continue
		if [ "${f##*.}" = "$$" ] || ! kill -0 "${f##*.}" 2>/dev/null; then
			echo "${f##*/}"
		fi
	done
}
left=0
for k in $(seq 1 "$KILLS"); do
	n0=$(acked)
	# kill while creates are flowing: after 3 more acknowledgements, at a random moment
	wait_until 30 more_than $((n0 + 2)) || mg_fail "cycle $k: no creates acknowledged"
	sleep "0.$(printf '%03d' $((RANDOM % 200)))"
	kill -KILL "$CTL_PID"
	wait_until 10 sh -c '! kill -0 "$0"' "$CTL_PID" || mg_fail "controller survived kill -9"
	ctl_dump | jq -e .format >/dev/null || mg_fail "cycle $k: store unreadable"
	[ -z "$(temps)" ] || left=$((left + 1))
	if [ "$k" -eq $((KILLS / 2)) ]; then
		# leftovers of a dead writer go, a live writer's stay
		dead=$(sh -c 'echo $$')
		echo x >"$MG_TMP/state/store.json.tmp.$dead"
		echo x >"$MG_TMP/state/store.json.tmp.$$"
		echo x >"$MG_TMP/state/admin.token.tmp.$dead"
	fi
	ctl_start "$CNS" "$MG_TMP/state" 192.0.2.1 8443 --no-hub
	if [ "$k" -eq $((KILLS / 2)) ]; then
		assert_eq "$(temps)" "store.json.tmp.$$" "after a start: a live pid's temporary only"
		[ -e "$MG_TMP/state/store.json.tmp.$$" ] || mg_fail "a live pid's temporary removed"
		[ ! -e "$MG_TMP/state/admin.token.tmp.$dead" ] || mg_fail "admin.token temporary kept"
		assert_contains "$(cat "$MG_TMP/state.log")" "stale temporary" "start log"
		rm "$MG_TMP/state/store.json.tmp.$$"
	else
		assert_eq "$(temps)" "" "cycle $k: temporaries after the start"
	fi
done
touch "$MG_TMP/stop"
[ "$(bg_wait "$MG_TMP/burst.log" 30)" = 0 ] || mg_fail "burst tool: $(cat "$MG_TMP/burst.log")"

call GET /api/v1/connectors
jq -r '.connectors[].id' <<<"$BODY" | sort >"$MG_TMP/have"
sort -u "$MG_TMP/acked" >"$MG_TMP/want"
lost=$(comm -23 "$MG_TMP/want" "$MG_TMP/have")
[ -z "$lost" ] || mg_fail "acknowledged creates lost: $lost"
mg_log "$KILLS kills -9, $(acked) creates acknowledged, none lost; $left kill(s) left a temporary behind ($(cat "$MG_TMP/burst.log"))"
mg_pass
