#!/usr/bin/env bash
# Cloud route management against the fake AWS (issue 5 acceptance): a connector on a
# "VPC" enrols, turns the ENI's source/dest check off, writes routes for the mesh range
# and the remote site into every table of the VPC; a new site appears within 2 s and a
# removed one disappears; a restart makes zero mutating calls; a foreign route is a
# conflict left alone; a blackhole is replaced; throttling converges; down removes
# exactly our routes; and an app host in another subnet, with no route of its own,
# reaches the remote site through the VPC route alone.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/topo.sh"
mg_setup cloud_aws
FAKE=$MG_SRC/tests/fake/aws

topo_internet
topo_site b 198.51.100 20
topo_route_via_connector b 198.18.0.0/16

# the VPC: its router (with the fake's IMDS and EC2 endpoint), the connector instance, an app
V=$(ns_add vpc)
CV=$(ns_add cv)
AP=$(ns_add app)
_inet_port "$V" wan 203.0.113.40
nsx "$V" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.default.send_redirects=0
nsx "$V" nft add table ip vpcnat
nsx "$V" nft add chain ip vpcnat post '{ type nat hook postrouting priority srcnat; policy accept; }'
nsx "$V" nft add rule ip vpcnat post oifname wan masquerade
veth "$V" s1 "$CV" eth0
veth "$V" s2 "$AP" eth0
ip -n "$CV" link set eth0 address 02:00:c6:12:01:0a
ip -n "$V" addr add 198.18.1.1/24 dev s1
ip -n "$V" addr add 198.18.2.1/24 dev s2
ip -n "$V" addr add 169.254.169.254/32 dev lo
ip -n "$CV" addr add 198.18.1.10/24 dev eth0
ip -n "$CV" route add default via 198.18.1.1
ip -n "$AP" addr add 198.18.2.10/24 dev eth0
ip -n "$AP" route add default via 198.18.2.1

bg_start "$V" "$MG_TMP/fake.log" /usr/bin/python3 "$FAKE/fake_aws.py" --state-dir "$MG_TMP/fake" \
	--imds-listen 169.254.169.254:80 --ec2-listen 198.18.1.1:443 --ec2-san 198.18.1.1 \
	--control-listen 127.0.0.1:8799 --cred-lifetime 900
wait_until 15 test -s "$MG_TMP/fake/ready.json" || mg_fail "fake AWS did not start: $(cat "$MG_TMP/fake.log")"
bg_start "$V" "$MG_TMP/vpcr.log" /usr/bin/python3 "$FAKE/vpc_router.py" --routes "$MG_TMP/fake/vpc-routes.json" \
	--subnet subnet-0b0000000000000b2=s2 --subnet subnet-0a0000000000000a1=s1
ctl() { nsx "$V" curl -s -X "${2:-GET}" ${3:+-d "$3"} "http://127.0.0.1:8799$1"; }
routes_of() { ctl /state | jq -c --arg t "$1" '[.route_tables[]|select(.id==$t)|.routes[]|select(.origin!="CreateRouteTable")|{dst,eni,state}]|sort_by(.dst)'; }
ENI=eni-0c0000000000000a1
TABLES="rtb-0000000000000main rtb-00000000000000app rtb-000000000000000db"

nb=$(topo_network site-b '"subnets":["198.51.100.0/24"],"access":[{"cidr":"198.51.100.0/24","mode":"full"}]')
# someone else's route for the site's CIDR in the db table, and a blackhole in the app table
ctl /route POST '{"route_table":"rtb-000000000000000db","dst":"198.51.100.0/24","eni":"eni-0c0000000000000a2"}' >/dev/null
ctl /route POST '{"route_table":"rtb-00000000000000app","dst":"100.96.0.0/11","eni":"eni-0000000000deleted"}' >/dev/null
nv=$(topo_network vpc '"subnets":["198.18.0.0/16"],"manage_cloud_routes":true,"access":[{"cidr":"198.18.0.0/16","mode":"full"}]')
topo_connector b "$nb"
C_v=$CV
topo_connector v "$nv" --cloud aws --cloud-metadata http://169.254.169.254 \
	--cloud-api https://198.18.1.1 --cloud-ca-file "$MG_TMP/fake/ca.pem" \
	--metrics-listen 127.0.0.1:9586
topo_wait_applied b
topo_wait_applied v

mg_log "source/dest check off, routes in every table, conflict left alone, blackhole replaced"
_sdc_off() { [ "$(ctl /state | jq -r --arg e $ENI '.enis[$e].source_dest_check')" = false ]; }
wait_until 10 _sdc_off || mg_fail "source/dest check still on: $(tail "$MG_TMP/run-v.log")"
_routes_in() { for t in $TABLES; do routes_of $t | jq -e --arg d "$1" --arg e "$2" 'any(.dst==$d and .eni==$e and .state=="active")' >/dev/null || return 1; done; }
wait_until 10 _routes_in 100.96.0.0/11 $ENI || mg_fail "mesh route missing: $(ctl /state | jq -c .route_tables)"
for t in rtb-0000000000000main rtb-00000000000000app; do
	routes_of $t | jq -e 'any(.dst=="198.51.100.0/24" and .eni=="'$ENI'")' >/dev/null || mg_fail "site route missing in $t"
done
assert_eq "$(routes_of rtb-000000000000000db | jq -r '.[]|select(.dst=="198.51.100.0/24")|.eni')" eni-0c0000000000000a2 "foreign route untouched"
_conflict() { jq -e '.daemon.cloud.tables[]|select(.id=="rtb-000000000000000db")|.conflicts==1' "$STATE_v/status.json" >/dev/null 2>&1; }
wait_until 10 _conflict || mg_fail "conflict not reported: $(jq -c .daemon.cloud "$STATE_v/status.json")"
# the credential in use: the instance's role and when its credentials expire
[[ $(jq -r .daemon.cloud.credential "$STATE_v/status.json") == "instance role "?* ]] ||
	mg_fail "no instance role in status: $(jq -c .daemon.cloud "$STATE_v/status.json")"
[ "$(jq -r '.daemon.cloud.credential_expires // ""' "$STATE_v/status.json")" != "" ] || mg_fail "no credential expiry in status"
# the same in the metrics (issue 17): owned/conflicting routes per table, writes by action
M=$(nsx "$CV" curl -sf http://127.0.0.1:9586/metrics) || mg_fail "no metrics"
mv() { awk -v k="$1" '$1 == k { print $2 }' <<<"$M"; }
assert_eq "$(mv 'meshgate_cloud_routes_conflicting{provider="aws",table="rtb-000000000000000db"}')" 1 "conflict metric"
[ "$(mv 'meshgate_cloud_routes_owned{provider="aws",table="rtb-0000000000000main"}')" -ge 2 ] || mg_fail "owned metric: $(grep routes_owned <<<"$M")"
[ "$(mv 'meshgate_cloud_route_writes_total{provider="aws",action="create",result="ok"}')" -ge 4 ] || mg_fail "create metric: $(grep writes <<<"$M")"
assert_eq "$(mv 'meshgate_cloud_route_writes_total{provider="aws",action="replace",result="ok"}')" 1 "blackhole replaced (metric)"
# every API request by action and result, as many as the fake answered
call() { mv "meshgate_cloud_api_calls_total{provider=\"aws\",action=\"$1\",result=\"$2\"}"; }
[ "$(call DescribeRouteTables ok)" -ge 1 ] || mg_fail "DescribeRouteTables metric: $(grep api_calls <<<"$M")"
[ "$(call DescribeRouteTables ok)" -le "$(ctl /counters | jq '.ok.DescribeRouteTables')" ] ||
	mg_fail "more DescribeRouteTables counted than the fake answered: $(grep api_calls <<<"$M")"
assert_eq "$(call CreateRoute ok)" "$(ctl /counters | jq '.ok.CreateRoute')" "CreateRoute requests (metric and fake)"
assert_eq "$(call ModifyNetworkInterfaceAttribute ok)" 1 "source/dest check turned off once (metric)"
if command -v promtool >/dev/null; then
	promtool check metrics <<<"$M" >/dev/null 2>&1 || mg_fail "promtool: $(promtool check metrics <<<"$M" 2>&1)"
fi

mg_log "the app host, with no route of its own, reaches site B through the VPC route"
ping_ok "$AP" 198.51.100.10 15 || mg_fail "app host cannot reach site B: $(cat "$MG_TMP/vpcr.log" | tail -5)"
if nsx "$AP" ip route | grep -q 198.51.100; then mg_fail "the app host has a route of its own"; fi

mg_log "a new site appears within 2 s, a removed one disappears"
t0=$(now_ms)
nc_=$(topo_network site-c '"subnets":["192.0.2.0/24"]')
_c_in() { routes_of rtb-0000000000000main | jq -e 'any(.dst=="192.0.2.0/24")' >/dev/null; }
wait_until 4 _c_in || mg_fail "site C never reached the VPC tables"
dt=$(($(now_ms) - t0)); mg_log "site C in the VPC route table after $dt ms"
[ $dt -lt 2000 ] || mg_fail "site C took $dt ms"
api "$INET" PATCH "/api/v1/networks/$nc_" '{"subnets":[]}' >/dev/null
_c_out() { ! _c_in; }
wait_until 4 _c_out || mg_fail "site C's route was not removed"

mg_log "restart: zero mutating calls"
# site C's route gone from every table first: a stop in the middle of the pass would leave
# a delete to the next start
_c_gone() { for t in $TABLES; do routes_of $t | jq -e 'all(.dst!="192.0.2.0/24")' >/dev/null || return 1; done; }
wait_until 4 _c_gone || mg_fail "site C's route left in a table: $(ctl /state | jq -c .route_tables)"
kill -TERM "$PID_v"
wait_until 5 sh -c "! kill -0 $PID_v 2>/dev/null"
ctl /counters/reset POST '{}' >/dev/null
topo_run v --cloud aws --cloud-metadata http://169.254.169.254 --cloud-api https://198.18.1.1 \
	--cloud-ca-file "$MG_TMP/fake/ca.pem" --metrics-listen 127.0.0.1:9586
_synced() { [ "$(ctl /counters | jq '.read_ok')" -ge 1 ] && grep -q "config version" "$MG_TMP/run-v.log"; }
wait_until 10 _synced || mg_fail "no cloud sync after restart"
sleep 1
mut=$(ctl /counters | jq .mutating)
[ "$mut" = 0 ] || mg_fail "mutating calls after a restart: $mut: $(ctl /log | jq -c '[.[]|select(.action|test("^(Create|Replace|Delete|Modify)"))]') $(grep -i 'cloud' "$MG_TMP/run-v.log" | tail -8)"

mg_log "throttled x5, then converges without extra calls"
ctl /counters/reset POST '{}' >/dev/null
ctl /fault POST '{"kind":"throttle","count":5,"action":"CreateRoute"}' >/dev/null
api "$INET" PATCH "/api/v1/networks/$nc_" '{"subnets":["192.0.2.0/24"]}' >/dev/null
wait_until 30 _c_in || mg_fail "no convergence after throttling: $(tail "$MG_TMP/run-v.log")"
creates=$(ctl /counters | jq '.calls.CreateRoute // 0')
# 3 tables; the throttled attempts are retries of the same calls, nothing more
[ "$creates" -le 8 ] || mg_fail "$creates CreateRoute calls for 3 routes and 5 throttles"
mg_log "CreateRoute calls with 5 throttles: $creates"
# the restarted agent counted them (the fake's counters were reset at its start)
# (the worker counts a call when its answer is read, the fake when it sends it: wait for both)
_counted() {
	M=$(nsx "$CV" curl -sf http://127.0.0.1:9586/metrics) || return 1
	[ "$(call CreateRoute ok)" = "$(ctl /counters | jq '.ok.CreateRoute')" ]
}
wait_until 5 _counted || mg_fail "CreateRoute after throttling: metric $(call CreateRoute ok), fake $(ctl /counters | jq '.ok.CreateRoute')"
assert_eq "$(call CreateRoute throttled)" 5 "throttled CreateRoute requests (metric)"
if command -v promtool >/dev/null; then
	promtool check metrics <<<"$M" >/dev/null 2>&1 || mg_fail "promtool: $(promtool check metrics <<<"$M" 2>&1)"
fi

mg_log "expired credentials are refreshed"
ctl /creds/expire POST '{}' >/dev/null
api "$INET" PATCH "/api/v1/networks/$nc_" '{"subnets":[]}' >/dev/null
wait_until 15 _c_out || mg_fail "no change after the credentials expired: $(tail "$MG_TMP/run-v.log")"

mg_log "a missing permission is named"
ctl /deny POST '{"action":"CreateRoute"}' >/dev/null
api "$INET" PATCH "/api/v1/networks/$nc_" '{"subnets":["192.0.2.0/24"]}' >/dev/null
_denied() { grep -q "ec2:CreateRoute" "$STATE_v/status.json"; }
wait_until 10 _denied || mg_fail "missing permission not named: $(jq -c .daemon.cloud "$STATE_v/status.json")"
ctl /allow POST '{"action":"CreateRoute"}' >/dev/null

mg_log "down removes exactly our routes"
kill -TERM "$PID_v"
wait_until 5 sh -c "! kill -0 $PID_v 2>/dev/null"
# a plain stop leaves the VPC routes (restarts must not churn the API)
_routes_in 100.96.0.0/11 $ENI || mg_fail "a plain stop removed cloud routes"
nsx "$CV" "$MESHGATE" down --state-dir "$STATE_v" --sysctl-dropin "$MG_TMP/sysctl-v.conf" --cloud aws \
	--cloud-metadata http://169.254.169.254 --cloud-api https://198.18.1.1 \
	--cloud-ca-file "$MG_TMP/fake/ca.pem" >"$MG_TMP/down-v.log" 2>&1 || mg_fail "down: $(cat "$MG_TMP/down-v.log")"
for t in $TABLES; do
	left=$(routes_of $t | jq -c --arg e $ENI '[.[]|select(.eni==$e)]')
	assert_eq "$left" "[]" "our routes left in $t"
done
assert_eq "$(routes_of rtb-000000000000000db | jq -r '.[]|select(.dst=="198.51.100.0/24")|.eni')" eni-0c0000000000000a2 "foreign route after down"
mg_pass
