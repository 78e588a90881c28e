#!/usr/bin/env bash
# Cloud calls never block the daemon (issue 11): with every EC2 call of the fake AWS
# hanging for 60 s, a route deleted by hand from the tunnel is still repaired within 1 s,
# a new site from the controller still reaches the host's routes within 1 s, and the
# service watchdog keeps being fed (WATCHDOG=1 through a stand-in notify socket, never a
# gap of a whole watchdog period). When the fake recovers, the VPC routes converge with
# exactly one CreateRoute per needed route; and a stop during a hang is prompt.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/topo.sh"
mg_setup cloud_hang
FAKE=$MG_SRC/tests/fake/aws

topo_internet
topo_site b 198.51.100 20

# the VPC: its router (the fake's IMDS and EC2 endpoint) and the connector instance
V=$(ns_add vpc)
CV=$(ns_add cv)
_inet_port "$V" wan 203.0.113.40
nsx "$V" sysctl -qw net.ipv4.ip_forward=1
nsx "$V" nft add table ip vpcnat
nsx "$V" nft add chain ip vpcnat post '{ type nat hook postrouting priority srcnat; policy accept; }'
nsx "$V" nft add rule ip vpcnat post oifname wan masquerade
veth "$V" s1 "$CV" eth0
ip -n "$CV" link set eth0 address 02:00:c6:12:01:0a
ip -n "$V" addr add 198.18.1.1/24 dev s1
ip -n "$V" addr add 169.254.169.254/32 dev lo
ip -n "$CV" addr add 198.18.1.10/24 dev eth0
ip -n "$CV" route add default via 198.18.1.1

bg_start "$V" "$MG_TMP/fake.log" /usr/bin/python3 "$FAKE/fake_aws.py" --state-dir "$MG_TMP/fake" \
	--imds-listen 169.254.169.254:80 --ec2-listen 198.18.1.1:443 --ec2-san 198.18.1.1 \
	--control-listen 127.0.0.1:8799
wait_until 15 test -s "$MG_TMP/fake/ready.json" || mg_fail "fake AWS did not start: $(cat "$MG_TMP/fake.log")"
ctl() { nsx "$V" curl -s -X "${2:-GET}" ${3:+-d "$3"} "http://127.0.0.1:8799$1"; }
routes_of() { ctl /state | jq -c --arg t "$1" '[.route_tables[]|select(.id==$t)|.routes[]|select(.origin!="CreateRouteTable")|{dst,eni,state}]|sort_by(.dst)'; }
ENI=eni-0c0000000000000a1
TABLES="rtb-0000000000000main rtb-00000000000000app rtb-000000000000000db"

nb=$(topo_network site-b '"subnets":["198.51.100.0/24"],"access":[{"cidr":"198.51.100.0/24","mode":"full"}]')
nv=$(topo_network vpc '"subnets":["198.18.0.0/16"],"manage_cloud_routes":true,"access":[{"cidr":"198.18.0.0/16","mode":"full"}]')
topo_connector b "$nb"

# connector v by hand: it runs with a notify socket and a 1 s watchdog, as under systemd
C_v=$CV
out=$(api "$INET" POST "/api/v1/networks/$nv/connectors" '{"name":"site-v"}')
[ "$(api_st)" = 201 ] || mg_fail "create connector: $(api_st) $out"
jq -r .connection_string <<<"$out" | tr -d '\n' >"$MG_TMP/cs-v"
STATE_v=$MG_TMP/state-v IF_v=mg${MG_ID}v
nsx "$CV" "$MESHGATE" up --state-dir "$STATE_v" --connect-file "$MG_TMP/cs-v" --ifname "$IF_v" \
	>"$MG_TMP/up-v.log" 2>&1 || mg_fail "up v: $(cat "$MG_TMP/up-v.log")"
SOCK=$MG_TMP/notify.sock
NLOG=$MG_TMP/notify.log
bg_start "$CV" "$MG_TMP/sink.log" python3 "$MG_SRC/tests/tools/notify_sink.py" "$SOCK" "$NLOG" "$IF_v"
wait_until 15 test -S "$SOCK" || mg_fail "notify sink did not start: $(cat "$MG_TMP/sink.log")"
CLOUD_ARGS=(--cloud aws --cloud-metadata http://169.254.169.254 --cloud-api https://198.18.1.1
	--cloud-ca-file "$MG_TMP/fake/ca.pem")
run_v() {
	bg_start "$CV" "$MG_TMP/run-v.log" env NOTIFY_SOCKET="$SOCK" WATCHDOG_USEC=1000000 \
		"$MESHGATE" run --state-dir "$STATE_v" --sysctl-dropin "$MG_TMP/sysctl-v.conf" \
		--log-level debug "${CLOUD_ARGS[@]}"
	PID_v=$BG_PID
}
run_v
topo_wait_applied b
topo_wait_applied v

_routes_in() { for t in $TABLES; do routes_of $t | jq -e --arg d "$1" --arg e "$ENI" 'any(.dst==$d and .eni==$e and .state=="active")' >/dev/null || return 1; done; }
_converged() { _routes_in 198.51.100.0/24 && _routes_in 100.96.0.0/11 && jq -e '.daemon.cloud.state == "ok"' "$STATE_v/status.json"; }
wait_until 20 _converged || mg_fail "initial VPC routes missing: $(ctl /state | jq -c .route_tables)"
host_route() { nsx "$CV" ip route show "$1" proto 109 | grep -q "dev $IF_v"; }
host_route 198.51.100.0/24 || mg_fail "no host route to site B"

mg_log "every EC2 call now hangs for 60 s"
ctl /fault POST '{"kind":"hang","count":100000,"seconds":60}' >/dev/null
ctl /counters/reset POST '{}' >/dev/null
# make the worker start a pass (SIGHUP re-checks everything) and wait until it is stuck
kill -HUP "$PID_v"
_stuck() { [ "$(ctl /counters | jq '.errors["fault:hang"] // 0')" -ge 1 ]; }
wait_until 10 _stuck || mg_fail "the agent made no EC2 call to hang on: $(tail -5 "$MG_TMP/run-v.log")"
hang_t0=$(now_ms)
hang_line=$(wc -l <"$NLOG")

mg_log "a route deleted by hand from the tunnel is repaired within 1 s"
nsx "$CV" ip route del 198.51.100.0/24 dev "$IF_v"
t0=$(now_ms)
_back() { host_route 198.51.100.0/24; }
wait_until 5 _back || mg_fail "drift not repaired during the hang: $(tail -5 "$MG_TMP/run-v.log")"
dt_repair=$(($(now_ms) - t0))
mg_log "route repaired after $dt_repair ms"
[ "$dt_repair" -lt 2500 ] || mg_fail "repair took $dt_repair ms while EC2 hung"

mg_log "a new site from the controller reaches the host routes within 1 s"
t0=$(now_ms)
nc_=$(topo_network site-c '"subnets":["192.0.2.0/24"]')
_c_host() { host_route 192.0.2.0/24; }
wait_until 5 _c_host || mg_fail "site C not applied during the hang: $(tail -5 "$MG_TMP/run-v.log")"
dt_apply=$(($(now_ms) - t0))
mg_log "site C on the host after $dt_apply ms"
[ "$dt_apply" -lt 2500 ] || mg_fail "applying site C took $dt_apply ms while EC2 hung"

mg_log "the watchdog keeps being fed while EC2 hangs"
sleep 5
hang_ms=$(($(now_ms) - hang_t0))
_c_vpc() { routes_of rtb-0000000000000main | jq -e 'any(.dst=="192.0.2.0/24")' >/dev/null; }
if _c_vpc; then mg_fail "site C reached the VPC although every EC2 call hangs"; fi
pings=$(tail -n +"$((hang_line + 1))" "$NLOG" | grep -c "WATCHDOG=1" || true)
gap=$(tail -n +"$((hang_line + 1))" "$NLOG" | awk '/WATCHDOG=1/ { if (p != "" && $1 - p > g) g = $1 - p; p = $1 } END { print g + 0 }')
mg_log "during $hang_ms ms of hanging EC2: $pings watchdog pings, longest gap $gap ms (WatchdogSec=1s)"
[ "$pings" -ge $((hang_ms / 1000)) ] || mg_fail "too few watchdog pings: $pings in $hang_ms ms"
[ "$gap" -gt 0 ] && [ "$gap" -lt 1000 ] || mg_fail "watchdog gap of $gap ms: systemd would have killed the service"
kill -0 "$PID_v" 2>/dev/null || mg_fail "the daemon died during the hang"

mg_log "EC2 recovers: the VPC converges, one CreateRoute per needed route"
ctl /reset POST '{}' >/dev/null # no more faults, counters from zero
t0=$(now_ms)
wait_until 60 _routes_in 192.0.2.0/24 || mg_fail "no convergence after the hang: $(tail -10 "$MG_TMP/run-v.log")"
mg_log "converged $(($(now_ms) - t0)) ms after the recovery (the hung call times out first)"
sleep 2 # any duplicate would come now
creates=$(ctl /counters | jq '.calls.CreateRoute // 0')
mutating=$(ctl /counters | jq '.mutating')
mg_log "after the recovery: $creates CreateRoute, $mutating mutating calls in all"
assert_eq "$creates" 3 "CreateRoute calls for one new destination in 3 tables"
assert_eq "$mutating" 3 "mutating calls after the recovery"
jq -e '.daemon.cloud.state == "ok"' "$STATE_v/status.json" >/dev/null ||
	mg_fail "cloud status after the recovery: $(jq -c .daemon.cloud "$STATE_v/status.json")"

mg_log "a stop during a hang is prompt"
ctl /fault POST '{"kind":"hang","count":100000,"seconds":60}' >/dev/null
ctl /counters/reset POST '{}' >/dev/null
kill -HUP "$PID_v"
wait_until 10 _stuck || mg_fail "no EC2 call to hang on"
t0=$(now_ms)
kill -TERM "$PID_v"
assert_eq "$(bg_wait "$MG_TMP/run-v.log" 10)" 0 "exit status after SIGTERM during a hang"
dt_stop=$(($(now_ms) - t0))
mg_log "stopped $dt_stop ms after SIGTERM, with an EC2 call hanging"
[ "$dt_stop" -lt 5000 ] || mg_fail "stop took $dt_stop ms"
ctl /reset POST '{}' >/dev/null
mg_pass
