#!/usr/bin/env bash
# controller-mock at fleet scale (short form of bench/bench_fleet.sh): 2,000 long-polls
# from ONE address over TLS (mg_lpload) are all held (none refused: no per-address
# limit, a connection limit far above 1,000), one admin change wakes every one of them
# with 200 and the new config, and the admin API keeps answering meanwhile. With
# --max-connections below the pollers, the ones past it are turned away with 503 while
# the admin API still answers (its reserved connections).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ctl_common.sh"
mg_setup ctl_fleet
LOAD=$MG_BUILD/tests/mg_lpload
N=${MG_FLEET_POLLERS:-2000}
ctl_ns_start --no-hub
LP=("$LOAD" --addr 192.0.2.1 --port 8443 --ca "$CTL_DIR/cert.pem")

# 20 connectors in one network make it active/standby (docs/HA.md), whose long-polls are
# answered within a third of the lease: the longest lease keeps them held (20 s) until the change
call POST /api/v1/networks '{"name":"A","subnets":["198.51.100.0/24"],"ha":{"lease_ms":60000}}'
A=$(jq -r .id <<<"$BODY")
out=$(nsx "$CNS" "${LP[@]}" enroll --admin-token "$ADMIN_TOKEN" --network "$A" --count 20 \
	--out "$MG_TMP/secrets")
assert_eq "$(jq .enrolled <<<"$out")" 20 "bulk enrolment ($out)"

out=$(nsx "$CNS" "${LP[@]}" hold --secrets "$MG_TMP/secrets" --conns "$N" --wait 55 \
	--timeout 60 --admin-token "$ADMIN_TOKEN" --change-path "/api/v1/networks/$A" \
	--change-body '{"subnets":["198.51.100.0/24","198.18.7.0/24"]}')
mg_log "$N pollers: $out"
assert_eq "$(jq .held <<<"$out")" true "all $N pollers held at once"
assert_eq "$(jq .refused <<<"$out")" 0 "connections refused"
assert_eq "$(jq .errors <<<"$out")" 0 "connection errors"
assert_eq "$(jq .change_status <<<"$out")" 200 "the change"
assert_eq "$(jq .statuses <<<"$out" | jq -c .)" "{\"200\":$N,\"304\":0,\"other\":0}" "answers"
jq -e '.admin_ms.n >= 1' <<<"$out" >/dev/null || mg_fail "no admin call answered during the wake"
# the pollers' connections are gone: the controller counts them down again
kill -0 "$CTL_PID" || mg_fail "controller died"

# a limit below the pollers: the rest get 503 busy, the admin API still answers
ctl_stop
ctl_start "$CNS" "$MG_TMP/state" 192.0.2.1 8443 --no-hub --max-connections 100
nsx "$CNS" "${LP[@]}" hold --secrets "$MG_TMP/secrets" --conns 150 --wait 20 \
	--timeout 5 >"$MG_TMP/limited.json" &
lp=$!
bg_track "$lp"
sleep 2.5
call GET /api/v1/networks
expect 200
wait "$lp" || mg_fail "mg_lpload failed"
out=$(cat "$MG_TMP/limited.json")
mg_log "150 pollers, limit 100: $out"
assert_eq "$(jq .held <<<"$out")" false "150 pollers held past a limit of 100"
jq -e '.refused >= 40 and .refused <= 60' <<<"$out" >/dev/null ||
	mg_fail "expected ~50 turned away ($out)"
mg_pass
