#!/usr/bin/env bash
# Active/standby connectors (issue 15, docs/HA.md) against the fake AWS: two connectors of
# one VPC network, an app host in another subnet pinging a remote site every 100 ms
# through the VPC route alone.
#  - steady state: one active (the oldest), zero role changes; the standby has its tunnel
#    address only at the hub and writes no cloud route;
#  - the controller killed (-9) and restarted mid-way: roles and epoch unchanged;
#  - kill -9 of the active: the standby takes the hub side and the VPC routes, traffic
#    comes back (asserted within 10 s, the gap logged); the old one restarted stays standby
#    (no flip-back) and writes nothing;
#  - SIGSTOP of the active (HA_STOP_S seconds, 30 in t_ha_long.sh), then SIGCONT: the other
#    one took over; the resumed one demotes, writes no route, and nothing flips back;
#  - (t_ha_long.sh) drain: a planned switchover; the active's uplink down and up.
# HA_STOP_S (default 5) and HA_LONG=1 (drain and steady phases of 60 s) are set by
# t_ha_long.sh.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/topo.sh"
mg_setup ha
FAKE=$MG_SRC/tests/fake/aws
STOP_S=${HA_STOP_S:-5}
STEADY_S=2
[ -n "${HA_LONG:-}" ] && STEADY_S=60

topo_internet
topo_site b 198.51.100 20
topo_route_via_connector b 198.18.0.0/16

# the VPC: its router (fake IMDS + EC2), subnet A (a bridge) with both connector instances,
# subnet B with the app host
V=$(ns_add vpc)
C_v1=$(ns_add cv1)
C_v2=$(ns_add cv2)
AP=$(ns_add app)
_inet_port "$V" wan 203.0.113.40
nsx "$V" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.default.send_redirects=0
nsx "$V" nft add table ip vpcnat
nsx "$V" nft add chain ip vpcnat post '{ type nat hook postrouting priority srcnat; policy accept; }'
nsx "$V" nft add rule ip vpcnat post oifname wan masquerade
ip -n "$V" link add s1 type bridge
ip -n "$V" link set s1 up
veth "$V" a1 "$C_v1" eth0
veth "$V" a2 "$C_v2" eth0
ip -n "$V" link set a1 master s1
ip -n "$V" link set a2 master s1
veth "$V" s2 "$AP" eth0
ip -n "$C_v1" link set eth0 address 02:00:c6:12:01:0a
ip -n "$C_v2" link set eth0 address 02:00:c6:12:01:0b
ip -n "$V" addr add 198.18.1.1/24 dev s1
ip -n "$V" addr add 198.18.2.1/24 dev s2
ip -n "$V" addr add 169.254.169.254/32 dev lo
ip -n "$C_v1" addr add 198.18.1.10/24 dev eth0
ip -n "$C_v1" route add default via 198.18.1.1
ip -n "$C_v2" addr add 198.18.1.11/24 dev eth0
ip -n "$C_v2" route add default via 198.18.1.1
ip -n "$AP" addr add 198.18.2.10/24 dev eth0
ip -n "$AP" route add default via 198.18.2.1

bg_start "$V" "$MG_TMP/fake.log" /usr/bin/python3 "$FAKE/fake_aws.py" --state-dir "$MG_TMP/fake" \
	--imds-listen 169.254.169.254:80 --ec2-listen 198.18.1.1:443 --ec2-san 198.18.1.1 \
	--control-listen 127.0.0.1:8799
wait_until 15 test -s "$MG_TMP/fake/ready.json" || mg_fail "fake AWS did not start: $(cat "$MG_TMP/fake.log")"
bg_start "$V" "$MG_TMP/vpcr.log" /usr/bin/python3 "$FAKE/vpc_router.py" --routes "$MG_TMP/fake/vpc-routes.json" \
	--subnet subnet-0b0000000000000b2=s2 --subnet subnet-0a0000000000000a1=s1
ctl() { nsx "$V" curl -s -X "${2:-GET}" ${3:+-d "$3"} "http://127.0.0.1:8799$1"; }
ENI1=eni-0c0000000000000a1
ENI2=eni-0c0000000000000a2
CLOUD=(--cloud aws --cloud-metadata http://169.254.169.254 --cloud-api https://198.18.1.1
	--cloud-ca-file "$MG_TMP/fake/ca.pem" --cloud-route-tables rtb-00000000000000app
	--cloud-interval 5) # frequent passes: a resumed or returning agent that would write, does
site_route_eni() {
	ctl /state | jq -r '.route_tables[]|select(.id=="rtb-00000000000000app")|.routes[]|select(.dst=="198.51.100.0/24" and .state=="active")|.eni'
}
# route writes (Create/Replace) that named ENI $1 since the last counters reset
route_writes() {
	ctl /log | jq --arg e "$1" '[.[]|select((.action=="CreateRoute" or .action=="ReplaceRoute") and .params.NetworkInterfaceId==$e)]|length'
}

nb=$(topo_network site-b '"subnets":["198.51.100.0/24"],"access":[{"cidr":"198.51.100.0/24","mode":"full"}]')
nv=$(topo_network vpc '"subnets":["198.18.0.0/16"],"manage_cloud_routes":true,"access":[{"cidr":"198.18.0.0/16","mode":"full"}],"ha":{"lease_ms":3000,"hold_down_ms":5000}')
topo_connector b "$nb"
topo_connector v1 "$nv" "${CLOUD[@]}"
topo_connector v2 "$nv" "${CLOUD[@]}" --metrics-listen 127.0.0.1:9586
topo_wait_applied b
topo_wait_applied v1
topo_wait_applied v2
conns=$(api "$INET" GET /api/v1/connectors)
CID1=$(jq -r '.connectors[]|select(.name=="site-v1")|.id' <<<"$conns")
CID2=$(jq -r '.connectors[]|select(.name=="site-v2")|.id' <<<"$conns")
net_ha() { api "$INET" GET "/api/v1/networks/$nv" | jq -r ".ha.$1"; }
role_of() { api "$INET" GET "/api/v1/connectors/$1" | jq -r .ha.role; }
agent_role() { jq -r '.daemon.ha.role // empty' "$1/status.json" 2>/dev/null; }
# the hub's peer with public key $1 has $2 among its allowed IPs (awk reads it all: no
# reader that exits early under pipefail)
hub_allows() {
	nsx "$INET" wg show "$HUB_IF" allowed-ips |
		awk -v k="$1" -v c="$2" '$1 == k { for (i = 2; i <= NF; i++) if ($i == c) f = 1 } END { exit !f }'
}
pub_of() { api "$INET" GET "/api/v1/connectors/$1" | jq -r .public_key; }

mg_log "steady state: the oldest connector is active, the other a standby"
_v1_active() { [ "$(net_ha active)" = "$CID1" ] && [ "$(site_route_eni)" = $ENI1 ]; }
wait_until 20 _v1_active || mg_fail "v1 never became the active one: $(api "$INET" GET "/api/v1/networks/$nv") $(ctl /state | jq -c .route_tables)"
assert_eq "$(role_of "$CID2")" standby "v2's role"
_agents_roles() { [ "$(agent_role "$STATE_v1")" = active ] && [ "$(agent_role "$STATE_v2")" = standby ]; }
wait_until 15 _agents_roles || mg_fail "agents' roles: $(jq -c .daemon.ha "$STATE_v1/status.json" "$STATE_v2/status.json")"
nsx "$C_v2" "$MESHGATE" status --state-dir "$STATE_v2" >"$MG_TMP/st2.txt"
assert_contains "$(cat "$MG_TMP/st2.txt")" "HA role:           standby, epoch" "meshgate status"
# the metrics endpoint says the same (meshgate_ha_role{role="standby"} 1, an epoch)
v2_metrics() { nsx "$C_v2" curl -sf --max-time 5 http://127.0.0.1:9586/metrics; }
assert_contains "$(v2_metrics)" 'meshgate_ha_role{role="standby"} 1' "v2's metrics"
P1=$(pub_of "$CID1")
P2=$(pub_of "$CID2")
hub_allows "$P1" 198.18.0.0/16 || mg_fail "the hub does not route the VPC to v1"
if hub_allows "$P2" 198.18.0.0/16; then mg_fail "the hub routes the VPC to the standby too"; fi
EPOCH=$(net_ha epoch)

# the prober: the app host pings site B every 100 ms through the VPC route alone
bg_start "$AP" "$MG_TMP/ping.log" ping -D -n -i 0.1 -W 1 198.51.100.10
PING_PID=$BG_PID
wait_until 20 grep -q "bytes from" "$MG_TMP/ping.log" || mg_fail "the app host cannot reach site B: $(tail -3 "$MG_TMP/vpcr.log")"
ctl /counters/reset POST '{}' >/dev/null
sleep "$STEADY_S"
assert_eq "$(net_ha epoch)" "$EPOCH" "epoch in steady state"
assert_eq "$(route_writes $ENI1)/$(route_writes $ENI2)" 0/0 "route writes in steady state"

# longest gap between two answers after $1 (epoch ms), and whether answers came back
gap_after() {
	awk -v t0="$1" -F'[][]' '/bytes from/ { t = $2 * 1000; if (t >= t0 - 200) { if (p) { g = t - p; if (g > m) m = g } p = t } }
		END { printf "%d\n", m }' "$MG_TMP/ping.log"
}
answers_after() { awk -v t0="$1" -F'[][]' '/bytes from/ && $2 * 1000 > t0 { n++ } END { print n + 0 }' "$MG_TMP/ping.log"; }
# answers are coming (3 in the last second)
_back() { [ "$(answers_after $(($(now_ms) - 1000)))" -ge 3 ]; }

# bench/bench_failover.sh: HA_BENCH=N runs each failure N times, prints the gaps, stops here
if [ -n "${HA_BENCH:-}" ]; then
	site_of() { [ "$1" = "$CID1" ] && echo v1 || echo v2; }
	eni_of() { [ "$1" = "$CID1" ] && echo $ENI1 || echo $ENI2; }
	_live_standby() { [ "$(agent_role "$1")" = standby ] &&
		[ "$(api "$INET" GET "/api/v1/connectors/$2" | jq -r .ha.live)" = true ]; }
	_moved() { [ "$(net_ha active)" = "$1" ] && [ "$(site_route_eni)" = "$(eni_of "$1")" ]; }
	for kind in kill9 stop linkdown; do
		gaps=()
		for i in $(seq 1 "$HA_BENCH"); do
			act=$(net_ha active)
			[ "$act" = "$CID1" ] && other=$CID2 || other=$CID1
			s=$(site_of "$act")
			eval "pid=\$PID_$s ns=\$C_$s st=\$STATE_$s"
			t0=$(now_ms)
			case $kind in
			kill9) kill -KILL "$pid" ;;
			stop) kill -STOP "$pid" ;;
			linkdown) ip -n "$ns" link set eth0 down ;;
			esac
			wait_until 20 _moved "$other" || mg_fail "$kind run $i: no takeover"
			wait_until 20 _back || mg_fail "$kind run $i: traffic did not come back"
			gaps+=("$(gap_after "$t0")")
			case $kind in
			kill9) topo_run "$s" "${CLOUD[@]}" ;;
			stop) kill -CONT "$pid" ;;
			linkdown) ip -n "$ns" link set eth0 up && ip -n "$ns" route replace default via 198.18.1.1 ;;
			esac
			wait_until 30 _live_standby "$st" "$act" || mg_fail "$kind run $i: $s did not come back as a standby"
			sleep 1
		done
		sorted=$(printf '%s\n' "${gaps[@]}" | sort -n)
		p50=$(sed -n "$(((${#gaps[@]} + 1) / 2))p" <<<"$sorted")
		max=$(tail -1 <<<"$sorted")
		printf 'failover %-8s runs %3d  gap p50 %6d ms  max %6d ms  (all: %s)\n' "$kind" \
			"${#gaps[@]}" "$p50" "$max" "$(tr '\n' ' ' <<<"$sorted")" | tee -a "${HA_BENCH_OUT:-/dev/null}"
	done
	mg_pass
fi

mg_log "the controller killed and restarted: the active connector does not change"
kill -KILL "$CTL_PID"
sleep 1
ctl_start "$INET" "$MG_TMP/ctl" 203.0.113.1 8443 --hub-ifname "$HUB_IF" --hub-endpoint 203.0.113.1:51820
_reconnected() { [ "$(api "$INET" GET "/api/v1/connectors/$CID1" | jq -r .ha.live)" = true ] &&
	[ "$(api "$INET" GET "/api/v1/connectors/$CID2" | jq -r .ha.live)" = true ]; }
t0=$(now_ms)
wait_until 10 _reconnected || mg_fail "the agents did not come back to the controller"
mg_log "both agents back at the controller $(($(now_ms) - t0)) ms after its restart"
sleep 3.5 # longer than a lease
assert_eq "$(net_ha active)/$(net_ha epoch)" "$CID1/$EPOCH" "active and epoch after the restart"

mg_log "kill -9 of the active connector: the standby takes the hub side and the VPC route"
t0=$(now_ms)
kill -KILL "$PID_v1"
_v2_took() { [ "$(net_ha active)" = "$CID2" ] && [ "$(site_route_eni)" = $ENI2 ] && hub_allows "$P2" 198.18.0.0/16; }
wait_until 15 _v2_took || mg_fail "no takeover: $(api "$INET" GET "/api/v1/networks/$nv"); $(ctl /state | jq -c .route_tables); $(tail -5 "$MG_TMP/run-v2.log")"
wait_until 15 _back || mg_fail "traffic did not come back through v2: $(tail -3 "$MG_TMP/ping.log")"
GAP=$(gap_after "$t0")
mg_log "kill -9: traffic gap $GAP ms (epoch $(net_ha epoch))"
[ "$GAP" -le 10000 ] || mg_fail "the kill -9 failover took $GAP ms"
_v2_metrics_active() { v2_metrics | grep -q '^meshgate_ha_role{role="active"} 1$'; }
wait_until 10 _v2_metrics_active || mg_fail "v2's metrics do not show it active: $(v2_metrics | grep meshgate_ha)"
EPOCH=$(net_ha epoch)
# noticed at once (the dead agent's long-poll connection closed), not at the lease's end
grep -q "taking over from $CID1: the long-poll connection of $CID1 closed" "$MG_TMP/ctl.log" ||
	mg_fail "the controller's log does not say who took over and why: $(grep -h "is active now" "$MG_TMP/ctl.log")"

mg_log "the old active comes back: standby, writes nothing, no flip-back"
ctl /counters/reset POST '{}' >/dev/null
topo_run v1 "${CLOUD[@]}"
_v1_standby() { [ "$(agent_role "$STATE_v1")" = standby ]; }
wait_until 15 _v1_standby || mg_fail "v1 did not come back as a standby: $(tail -5 "$MG_TMP/run-v1.log")"
sleep "$STEADY_S"
assert_eq "$(net_ha active)/$(net_ha epoch)" "$CID2/$EPOCH" "active and epoch after v1's return"
assert_eq "$(route_writes $ENI1)" 0 "route writes by the returning v1"
assert_eq "$(site_route_eni)" $ENI2 "the VPC route"

mg_log "SIGSTOP of the active for $STOP_S s: the standby takes over; SIGCONT: it demotes, writes nothing"
t0=$(now_ms)
kill -STOP "$PID_v2"
_v1_took() { [ "$(net_ha active)" = "$CID1" ] && [ "$(site_route_eni)" = $ENI1 ]; }
wait_until 15 _v1_took || mg_fail "no takeover from a stopped active: $(api "$INET" GET "/api/v1/networks/$nv"); $(tail -5 "$MG_TMP/run-v1.log")"
wait_until 15 _back || mg_fail "traffic did not come back through v1 (v2 stopped)"
GAP=$(gap_after "$t0")
mg_log "SIGSTOP: traffic gap $GAP ms"
[ "$GAP" -le 10000 ] || mg_fail "the SIGSTOP failover took $GAP ms"
EPOCH=$(net_ha epoch)
rest=$((STOP_S * 1000 - ($(now_ms) - t0)))
[ $rest -gt 0 ] && sleep "$(awk -v r=$rest 'BEGIN { printf "%.1f", r / 1000 }')"
ctl /counters/reset POST '{}' >/dev/null
kill -CONT "$PID_v2"
_v2_standby() { [ "$(agent_role "$STATE_v2")" = standby ]; }
wait_until 15 _v2_standby || mg_fail "v2 did not demote after SIGCONT: $(tail -5 "$MG_TMP/run-v2.log")"
sleep "$STEADY_S"
assert_eq "$(route_writes $ENI2)" 0 "route writes by the resumed v2"
assert_eq "$(net_ha active)/$(net_ha epoch)" "$CID1/$EPOCH" "no flip-back after SIGCONT"
assert_eq "$(site_route_eni)" $ENI1 "the VPC route after SIGCONT"
grep -q "HA: standby" "$MG_TMP/run-v2.log" || mg_fail "v2 does not log its demotion"

if [ -n "${HA_LONG:-}" ]; then
	mg_log "drain: a planned switchover"
	t0=$(now_ms)
	out=$(api "$INET" POST "/api/v1/networks/$nv/connectors/$CID1/drain")
	assert_eq "$(api_st)" 200 "drain: $out"
	wait_until 15 _v2_took || mg_fail "drain did not move the role"
	wait_until 15 _back || mg_fail "traffic did not come back after the drain"
	GAP=$(gap_after "$t0")
	mg_log "drain: traffic gap $GAP ms"
	[ "$GAP" -le 3000 ] || mg_fail "the drain cost $GAP ms"

	mg_log "the active's uplink down, then up: the other takes over; the old one demotes, writes nothing"
	t0=$(now_ms)
	ip -n "$C_v2" link set eth0 down
	wait_until 15 _v1_took || mg_fail "no takeover from an active cut off"
	wait_until 15 _back || mg_fail "traffic did not come back through v1 (v2 cut off)"
	GAP=$(gap_after "$t0")
	mg_log "uplink down: traffic gap $GAP ms"
	[ "$GAP" -le 10000 ] || mg_fail "the uplink-down failover took $GAP ms"
	EPOCH=$(net_ha epoch)
	ctl /counters/reset POST '{}' >/dev/null
	ip -n "$C_v2" link set eth0 up
	ip -n "$C_v2" route replace default via 198.18.1.1
	wait_until 30 _v2_standby || mg_fail "v2 did not demote after its uplink came back"
	sleep "$STEADY_S"
	assert_eq "$(route_writes $ENI2)" 0 "route writes by v2 after its uplink came back"
	assert_eq "$(net_ha active)/$(net_ha epoch)" "$CID1/$EPOCH" "no flip-back after the uplink came back"
fi
kill -TERM "$PING_PID" 2>/dev/null || true
mg_pass
