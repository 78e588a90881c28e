#!/usr/bin/env bash
# The fake AWS (tests/fake/aws) itself: IMDSv2 token flow and hop limit, role credentials and
# their rotation, SigV4 verification (published vectors; a test-only signer; tampered, expired,
# wrong-key requests), EC2 route-table semantics and errors, the 50-route limit, pagination,
# every fault injection, the counters, and the VPC router helper carrying a host's traffic to a
# remote site through a "connector" once a route names its ENI and its source/dest check is off.
#
#   vpc    the fake (169.254.169.254 on lo, EC2 on 198.18.1.1:443, control on 127.0.0.1:8799)
#          and the VPC router; subnet A 198.18.1.0/24 (main table), B 198.18.2.0/24 (rtb-app)
#   conn   "connector" instance i-...a1, ENI eni-...a1 = 198.18.1.10 with the ENI's MAC;
#          routes to the remote site 192.0.2.0/24 (ns remote) itself
#   app    a host in subnet B, 198.18.2.20, default via the VPC router only
#   hop -> far   a host two routed hops from IMDS (198.18.5.2): the token PUT must not reach it
. "$(dirname "$0")/lib.sh"
mg_setup fake_aws

FA=$MG_SRC/tests/fake/aws
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree
# the system interpreter (a version-manager shim on PATH costs half a second per start)
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3) || mg_fail "python3 missing (scripts/deps)"

# --- 1. the verifier against the published SigV4 vectors (no namespaces needed) ---------------
VEC=${MG_SIGV4_VECTORS:-$MG_SRC/tests/data/vectors/aws-sigv4}
out=$("$PY" "$FA/test_sigv4_vectors.py" "$VEC") || mg_fail "SigV4 vectors: $out"
mg_log "vectors: $(tail -1 <<<"$out")"

# --- topology ---------------------------------------------------------------------------------
VPC=$(ns_add vpc)
CONN=$(ns_add conn)
APP=$(ns_add app)
REM=$(ns_add rem)
HOP=$(ns_add hop)
FAR=$(ns_add far)
nsx "$VPC" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
ip -n "$VPC" addr add 169.254.169.254/32 dev lo
veth "$VPC" sa "$CONN" eth0
veth "$VPC" sb "$APP" eth0
veth "$VPC" sh "$HOP" eth0
veth "$HOP" lan "$FAR" eth0
veth "$CONN" site "$REM" eth0
ip -n "$VPC" addr add 198.18.1.1/24 dev sa
ip -n "$VPC" addr add 198.18.2.1/24 dev sb
ip -n "$VPC" addr add 198.18.4.1/24 dev sh
ip -n "$VPC" route add 198.18.5.0/24 via 198.18.4.2
ip -n "$CONN" link set eth0 address 02:00:c6:12:01:0a
ip -n "$CONN" addr add 198.18.1.10/24 dev eth0
ip -n "$CONN" route add default via 198.18.1.1
ip -n "$CONN" addr add 192.0.2.1/24 dev site
nsx "$CONN" sysctl -qw net.ipv4.ip_forward=1
ip -n "$REM" addr add 192.0.2.10/24 dev eth0
ip -n "$REM" route add default via 192.0.2.1
ip -n "$APP" addr add 198.18.2.20/24 dev eth0
ip -n "$APP" route add default via 198.18.2.1
ip -n "$HOP" addr add 198.18.4.2/24 dev eth0
ip -n "$HOP" addr add 198.18.5.1/24 dev lan
ip -n "$HOP" route add default via 198.18.4.1
nsx "$HOP" sysctl -qw net.ipv4.ip_forward=1
ip -n "$FAR" addr add 198.18.5.2/24 dev eth0
ip -n "$FAR" route add default via 198.18.5.1

# seven route tables so that MaxResults=5 pages
cat >"$MG_TMP/topo.json" <<'EOF'
{"route_tables": [
 {"id": "rtb-0000000000000main", "main": true, "subnets": []},
 {"id": "rtb-00000000000000app", "subnets": ["subnet-0b0000000000000b2"]},
 {"id": "rtb-000000000000000db", "subnets": ["subnet-0c0000000000000c3"]},
 {"id": "rtb-00000000000000ex4", "subnets": []},
 {"id": "rtb-00000000000000ex5", "subnets": []},
 {"id": "rtb-00000000000000ex6", "subnets": []},
 {"id": "rtb-00000000000000ex7", "subnets": []}]}
EOF
ST=$MG_TMP/fake
bg_start "$VPC" "$MG_TMP/fake.log" "$PY" "$FA/fake_aws.py" --state-dir "$ST" --topology "$MG_TMP/topo.json" \
	--ec2-listen 198.18.1.1:443 --ec2-san 198.18.1.1 --control-listen 127.0.0.1:8799
wait_until 15 test -s "$ST/ready.json" || mg_fail "fake did not start: $(cat "$MG_TMP/fake.log")"
CA=$(jq -r .ca "$ST/ready.json")
bg_start "$VPC" "$MG_TMP/router.log" "$PY" "$FA/vpc_router.py" --routes "$ST/vpc-routes.json" \
	--subnet subnet-0b0000000000000b2=sb

IMDS=http://169.254.169.254
ctl() { nsx "$VPC" curl -sf -X POST -d "${2:-{\}}" "http://127.0.0.1:8799$1"; }
ctlget() { nsx "$VPC" curl -sf "http://127.0.0.1:8799$1"; }
st() { nsx "$CONN" curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$@"; }
tok() { nsx "$CONN" curl -sf -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: ${1:-60}" "$IMDS/latest/api/token"; }
md() { nsx "$CONN" curl -sf -H "X-aws-ec2-metadata-token: $TOKEN" "$IMDS/latest/meta-data/$1"; }
# q [awsq options] Action Name=Value...: status on line 1, body after (awsq, its own signer)
q() { nsx "$CONN" "$PY" "$FA/awsq.py" --imds "$IMDS" --endpoint https://198.18.1.1:443 --ca "$CA" "$@"; }
# expect STATUS CODE_OR_ELEMENT awsq-args...
expect() {
	local want=$1 what=$2 out
	shift 2
	out=$(q "$@") || true # exit 2: transport error, printed as ERROR ...
	assert_eq "$(head -1 <<<"$out" | cut -d" " -f1)" "$want" "status of $*"
	assert_contains "$out" "$what" "$*"
	LAST=$out
}

# --- 2. IMDSv2 ------------------------------------------------------------------------------
assert_eq "$(st "$IMDS/latest/meta-data/instance-id")" 401 "GET without token"
assert_eq "$(st -H 'X-aws-ec2-metadata-token: bogus' "$IMDS/latest/meta-data/instance-id")" 401 "GET with a bad token"
assert_eq "$(st -X PUT "$IMDS/latest/api/token")" 400 "PUT without TTL"
assert_eq "$(st -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 0' "$IMDS/latest/api/token")" 400 "TTL 0"
assert_eq "$(st -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 21601' "$IMDS/latest/api/token")" 400 "TTL 21601"
assert_eq "$(st -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 21600' "$IMDS/latest/api/token")" 200 "TTL 21600"
assert_eq "$(st -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' -H 'X-Forwarded-For: 1.2.3.4' \
	"$IMDS/latest/api/token")" 403 "PUT with X-Forwarded-For"
short=$(tok 1)
sleep 1.5
assert_eq "$(st -H "X-aws-ec2-metadata-token: $short" "$IMDS/latest/meta-data/instance-id")" 401 "expired token"
TOKEN=$(tok 60)
assert_eq "$(md instance-id)" i-0c0000000000000a1 instance-id
assert_eq "$(md placement/region)" us-east-1 region
assert_eq "$(md placement/availability-zone)" us-east-1a az
assert_eq "$(md local-ipv4)" 198.18.1.10 local-ipv4
MAC=$(md mac)
assert_eq "$MAC" 02:00:c6:12:01:0a mac
assert_eq "$(md "network/interfaces/macs/$MAC/interface-id")" eni-0c0000000000000a1 interface-id
assert_eq "$(md "network/interfaces/macs/$MAC/vpc-id")" vpc-0a1b2c3d4e5f60001 vpc-id
assert_eq "$(md "network/interfaces/macs/$MAC/subnet-id")" subnet-0a0000000000000a1 subnet-id
assert_eq "$(md "network/interfaces/macs/$MAC/vpc-ipv4-cidr-blocks")" 198.18.0.0/16 vpc cidrs
assert_eq "$(md "network/interfaces/macs/$MAC/local-ipv4s")" 198.18.1.10 local-ipv4s
assert_eq "$(st -H "X-aws-ec2-metadata-token: $TOKEN" "$IMDS/latest/meta-data/nope")" 404 "unknown path"
ROLE=$(md iam/security-credentials/)
assert_eq "$ROLE" meshgate-connector role
C1=$(md "iam/security-credentials/$ROLE")
jq -e '.Code == "Success" and .Type == "AWS-HMAC" and (.AccessKeyId | test("^ASIA[A-Z2-7]{16}$"))
	and (.SecretAccessKey | length == 40) and (.Token | length > 100)
	and (.Expiration | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"))
	and (.LastUpdated | test("Z$"))' <<<"$C1" >/dev/null || mg_fail "credential JSON: $C1"
# the hop limit: two routed hops away the token PUT times out, a GET with a token still works
assert_eq "$(nsx "$FAR" curl -s -o /dev/null -w '%{http_code}' --max-time 2 -X PUT \
	-H 'X-aws-ec2-metadata-token-ttl-seconds: 60' "$IMDS/latest/api/token")" 000 "PUT from two hops away"
assert_eq "$(nsx "$FAR" curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
	-H "X-aws-ec2-metadata-token: $TOKEN" "$IMDS/latest/meta-data/instance-id")" 200 "GET from two hops away"
ctl /config '{"imds_hop_limit": 3}' >/dev/null
assert_eq "$(nsx "$FAR" curl -s -o /dev/null -w '%{http_code}' --max-time 2 -X PUT \
	-H 'X-aws-ec2-metadata-token-ttl-seconds: 60' "$IMDS/latest/api/token")" 200 "PUT with hop limit 3"
ctl /config '{"imds_hop_limit": 1}' >/dev/null
mg_log "IMDSv2 ok"

# --- 3. signatures and credentials ------------------------------------------------------------
expect 200 '<DescribeRouteTablesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">' DescribeRouteTables
assert_contains "$LAST" "<requestId>" requestId
expect 403 '<Code>SignatureDoesNotMatch</Code>' --tamper-signature DescribeRouteTables
expect 403 '<Code>SignatureDoesNotMatch</Code>' --wrong-secret DescribeRouteTables
expect 403 '<Code>SignatureDoesNotMatch</Code>' --scope-region us-west-2 DescribeRouteTables
expect 401 '<Code>AuthFailure</Code>' --access-key ASIAAAAAAAAAAAAAAAAA DescribeRouteTables
expect 401 '<Code>AuthFailure</Code>' --no-token DescribeRouteTables
expect 401 '<Code>AuthFailure</Code>' --token not-the-token DescribeRouteTables
expect 400 '<Code>RequestExpired</Code>' --date-offset -400 DescribeRouteTables
expect 400 '<Code>RequestExpired</Code>' --date-offset 400 DescribeRouteTables
expect 200 '<routeTableSet>' --date-offset -200 DescribeRouteTables
out=$(nsx "$CONN" curl -s --cacert "$CA" --resolve ec2.us-east-1.amazonaws.com:443:198.18.1.1 \
	-d 'Action=DescribeRouteTables&Version=2016-11-15' https://ec2.us-east-1.amazonaws.com/)
assert_contains "$out" '<Code>MissingAuthenticationToken</Code>' "unsigned request"
assert_contains "$out" '<RequestID>' "error RequestID"
# rotation: new keys appear, the old ones stay valid until they expire
CF=$MG_TMP/creds-old.json
q --creds-file "$CF" --print-creds >/dev/null
ctl /creds/rotate >/dev/null
C2=$(md "iam/security-credentials/$ROLE")
[ "$(jq -r .AccessKeyId <<<"$C2")" != "$(jq -r .AccessKeyId "$CF")" ] || mg_fail "credentials did not rotate"
expect 200 '<routeTableSet>' --creds-file "$CF" DescribeRouteTables
expect 200 '<routeTableSet>' DescribeRouteTables
ctl /creds/expire >/dev/null
expect 400 '<Code>RequestExpired</Code>' --creds-file "$CF" DescribeRouteTables
expect 200 '<routeTableSet>' DescribeRouteTables
ctl /config '{"cred_lifetime": 4, "cred_rotate": 1}' >/dev/null
k1=$(md "iam/security-credentials/$ROLE" | jq -r .AccessKeyId)
sleep 1.3
k2=$(md "iam/security-credentials/$ROLE" | jq -r .AccessKeyId)
[ "$k1" != "$k2" ] || mg_fail "credentials did not rotate by time"
ctl /config '{"cred_lifetime": 21600, "cred_rotate": 21300}' >/dev/null
ctl /creds/rotate >/dev/null
mg_log "signatures and credentials ok"

# --- 4. route tables --------------------------------------------------------------------------
expect 200 '<routeTableId>rtb-00000000000000app</routeTableId>' DescribeRouteTables \
	Filter.1.Name=association.subnet-id Filter.1.Value.1=subnet-0b0000000000000b2
assert_contains "$LAST" '<subnetId>subnet-0b0000000000000b2</subnetId>' "explicit association"
assert_not_contains "$LAST" 'rtb-0000000000000main' "filter by subnet"
expect 200 '<main>true</main>' DescribeRouteTables Filter.1.Name=vpc-id Filter.1.Value.1=vpc-0a1b2c3d4e5f60001 \
	Filter.2.Name=association.main Filter.2.Value.1=true
assert_contains "$LAST" '<routeTableId>rtb-0000000000000main</routeTableId>' "main table"
assert_contains "$LAST" '<gatewayId>local</gatewayId><state>active</state><origin>CreateRouteTable</origin>' "local route"
assert_eq "$(grep -c '<vpcId>' <<<"$LAST")" 1 "one main table"
RT=RouteTableId=rtb-00000000000000app
expect 200 '<return>true</return>' CreateRoute $RT DestinationCidrBlock=192.0.2.0/24 NetworkInterfaceId=eni-0c0000000000000a1
expect 400 '<Code>RouteAlreadyExists</Code>' CreateRoute $RT DestinationCidrBlock=192.0.2.0/24 NetworkInterfaceId=eni-0c0000000000000a2
expect 200 '<return>true</return>' ReplaceRoute $RT DestinationCidrBlock=192.0.2.0/24 InstanceId=i-0c0000000000000a2
expect 200 '<networkInterfaceId>eni-0c0000000000000a2</networkInterfaceId>' DescribeRouteTables RouteTableId.1=rtb-00000000000000app
assert_contains "$LAST" '<destinationCidrBlock>192.0.2.0/24</destinationCidrBlock><instanceId>i-0c0000000000000a2</instanceId>' "replaced route"
expect 200 '<return>true</return>' ReplaceRoute $RT DestinationCidrBlock=192.0.2.0/24 NetworkInterfaceId=eni-0c0000000000000a1
expect 400 '<Code>InvalidRoute.NotFound</Code>' DeleteRoute $RT DestinationCidrBlock=198.51.100.0/24
expect 400 '<Code>InvalidRoute.NotFound</Code>' ReplaceRoute $RT DestinationCidrBlock=198.51.100.0/24 NetworkInterfaceId=eni-0c0000000000000a1
expect 400 '<Code>InvalidRouteTableID.NotFound</Code>' CreateRoute RouteTableId=rtb-0nope DestinationCidrBlock=198.51.100.0/24 NetworkInterfaceId=eni-0c0000000000000a1
expect 400 '<Code>InvalidRouteTableID.NotFound</Code>' DescribeRouteTables RouteTableId.1=rtb-0nope
expect 400 '<Code>InvalidNetworkInterfaceID.NotFound</Code>' CreateRoute $RT DestinationCidrBlock=198.51.100.0/24 NetworkInterfaceId=eni-0nope
expect 400 '<Code>InvalidParameterValue</Code>' CreateRoute $RT DestinationCidrBlock=198.51.100.1/24 NetworkInterfaceId=eni-0c0000000000000a1
expect 400 '<Code>MissingParameter</Code>' CreateRoute DestinationCidrBlock=198.51.100.0/24 NetworkInterfaceId=eni-0c0000000000000a1
expect 400 '<Code>MissingParameter</Code>' CreateRoute $RT NetworkInterfaceId=eni-0c0000000000000a1
expect 400 '<Code>InvalidParameterValue</Code>' DeleteRoute $RT DestinationCidrBlock=198.18.0.0/16
expect 400 '<Code>InvalidAction</Code>' RunInstances
expect 200 '<return>true</return>' CreateRoute $RT DestinationIpv6CidrBlock=2001:db8::/48 NetworkInterfaceId=eni-0c0000000000000a1
expect 200 '<destinationIpv6CidrBlock>2001:db8::/48</destinationIpv6CidrBlock>' DescribeRouteTables RouteTableId.1=rtb-00000000000000app
expect 200 '<return>true</return>' DeleteRoute $RT DestinationIpv6CidrBlock=2001:db8::/48
# source/destination check
expect 200 '<value>true</value>' DescribeNetworkInterfaceAttribute NetworkInterfaceId=eni-0c0000000000000a1 Attribute=sourceDestCheck
expect 412 '<Code>DryRunOperation</Code>' ModifyNetworkInterfaceAttribute NetworkInterfaceId=eni-0c0000000000000a1 SourceDestCheck.Value=false DryRun=true
# blackhole: a route whose ENI does not exist (seeded past the API's checks)
ctl /route '{"route_table": "rtb-000000000000000db", "dst": "198.51.100.0/24", "eni": "eni-0deadbeef00000000"}' >/dev/null
expect 200 '<networkInterfaceId>eni-0deadbeef00000000</networkInterfaceId><state>blackhole</state><origin>CreateRoute</origin>' \
	DescribeRouteTables RouteTableId.1=rtb-000000000000000db
expect 200 '<routeTableId>rtb-000000000000000db</routeTableId>' DescribeRouteTables Filter.1.Name=route.state Filter.1.Value.1=blackhole
ctl /route/delete '{"route_table": "rtb-000000000000000db", "dst": "198.51.100.0/24"}' >/dev/null
# the 50-route limit (non-local routes, per table)
for i in $(seq 0 49); do
	out=$(q --creds-file "$MG_TMP/creds-loop.json" CreateRoute RouteTableId=rtb-000000000000000db "DestinationCidrBlock=198.19.$i.0/24" NetworkInterfaceId=eni-0c0000000000000a1)
	assert_eq "$(head -1 <<<"$out")" 200 "route $i: $out"
done
expect 400 '<Code>RouteLimitExceeded</Code>' CreateRoute RouteTableId=rtb-000000000000000db DestinationCidrBlock=198.19.50.0/24 NetworkInterfaceId=eni-0c0000000000000a1
expect 200 '<return>true</return>' DeleteRoute RouteTableId=rtb-000000000000000db DestinationCidrBlock=198.19.0.0/24
expect 200 '<return>true</return>' CreateRoute RouteTableId=rtb-000000000000000db DestinationCidrBlock=198.19.50.0/24 NetworkInterfaceId=eni-0c0000000000000a1
# pagination: 7 tables, 5 per page
expect 200 '<nextToken>' DescribeRouteTables MaxResults=5
assert_eq "$(grep -c '<vpcId>' <<<"$LAST")" 5 "page 1"
NT=$(sed -n 's:.*<nextToken>\(.*\)</nextToken>.*:\1:p' <<<"$LAST")
expect 200 '<routeTableId>rtb-00000000000000ex7</routeTableId>' DescribeRouteTables MaxResults=5 "NextToken=$NT"
assert_eq "$(grep -c '<vpcId>' <<<"$LAST")" 2 "page 2"
assert_not_contains "$LAST" '<nextToken>' "last page"
expect 400 '<Code>InvalidPaginationToken</Code>' DescribeRouteTables MaxResults=5 NextToken=garbage
expect 400 '<Code>InvalidParameterValue</Code>' DescribeRouteTables MaxResults=4
expect 400 '<Code>InvalidParameterValue</Code>' DescribeRouteTables Filter.1.Name=no-such-filter Filter.1.Value.1=x
mg_log "route tables ok"

# --- 5. faults and counters -------------------------------------------------------------------
ctl /reset >/dev/null
ctl /fault '{"kind": "throttle", "count": 2}' >/dev/null
expect 503 '<Code>RequestLimitExceeded</Code>' DescribeRouteTables
expect 503 '<Code>RequestLimitExceeded</Code>' DescribeRouteTables
expect 200 '<routeTableSet>' DescribeRouteTables
ctl /fault '{"kind": "500"}' >/dev/null
expect 500 '<Code>InternalError</Code>' DescribeRouteTables
ctl /fault '{"kind": "503", "action": "CreateRoute"}' >/dev/null
expect 200 '<routeTableSet>' DescribeRouteTables
expect 503 '<Code>Unavailable</Code>' CreateRoute $RT DestinationCidrBlock=198.51.100.0/24 NetworkInterfaceId=eni-0c0000000000000a1
ctl /fault '{"kind": "malformed"}' >/dev/null
expect 200 '<DescribeRouteTablesResponse' DescribeRouteTables
if "$PY" -c 'import sys, xml.dom.minidom as m; m.parseString(sys.stdin.read().split("\n", 1)[1])' <<<"$LAST" 2>/dev/null; then
	mg_fail "malformed fault gave well-formed XML"
fi
ctl /fault '{"kind": "truncated"}' >/dev/null
expect ERROR 'IncompleteRead' DescribeRouteTables
ctl /fault '{"kind": "hang", "seconds": 4}' >/dev/null
t0=$(now_ms)
expect ERROR 'timed out' --timeout 1 DescribeRouteTables
[ $(($(now_ms) - t0)) -lt 3500 ] || mg_fail "hang: client timeout not reached first"
ctl /deny '{"action": "CreateRoute"}' >/dev/null
expect 403 '<Code>UnauthorizedOperation</Code>' CreateRoute $RT DestinationCidrBlock=198.51.100.0/24 NetworkInterfaceId=eni-0c0000000000000a1
ctl /allow '{"action": "CreateRoute"}' >/dev/null
ctl /clock '{"offset": 600}' >/dev/null
expect 400 '<Code>RequestExpired</Code>' DescribeRouteTables
ctl /clock '{"offset": 0}' >/dev/null
ctl /counters/reset >/dev/null
expect 200 '<routeTableSet>' DescribeRouteTables
expect 400 '<Code>RouteAlreadyExists</Code>' CreateRoute $RT DestinationCidrBlock=192.0.2.0/24 NetworkInterfaceId=eni-0c0000000000000a1
expect 200 '<return>true</return>' ModifyNetworkInterfaceAttribute NetworkInterfaceId=eni-0c0000000000000a1 SourceDestCheck.Value=false
expect 200 '<value>false</value>' DescribeNetworkInterfaceAttribute NetworkInterfaceId=eni-0c0000000000000a1 Attribute=sourceDestCheck
c=$(ctlget /counters)
jq -e '.mutating == 2 and .mutating_ok == 1 and .read == 2 and .read_ok == 2 and .calls.CreateRoute == 1
	and .calls.DescribeRouteTables == 1 and .errors.RouteAlreadyExists == 1' <<<"$c" >/dev/null || mg_fail "counters: $c"
ctl /eni/source-dest-check '{"eni": "eni-0c0000000000000a1", "enabled": true}' >/dev/null
mg_log "faults and counters ok"

# --- 6. the VPC router: app (subnet B) reaches the remote site through conn's ENI ------------
# rtb-app has 192.0.2.0/24 -> eni-...a1 (created above); the source/dest check is on
wait_until 5 sh -c "[ \"\$(cat '$ST/vpc-routes.json.applied' 2>/dev/null)\" = \"\$(jq .generation '$ST/vpc-routes.json')\" ]" ||
	mg_fail "router did not apply: $(cat "$MG_TMP/router.log")"
assert_contains "$(ip -n "$VPC" route show table 100)" "192.0.2.0/24 via 198.18.1.10" "router table"
if nsx "$APP" ping -c1 -W1 192.0.2.10 >/dev/null; then mg_fail "reached the site with the source/dest check on"; fi
expect 200 '<return>true</return>' ModifyNetworkInterfaceAttribute NetworkInterfaceId=eni-0c0000000000000a1 SourceDestCheck.Value=false
wait_until 5 sh -c "[ \"\$(cat '$ST/vpc-routes.json.applied')\" = \"\$(jq .generation '$ST/vpc-routes.json')\" ]" || mg_fail "router lag"
nsx "$APP" ping -c2 -W2 192.0.2.10 >/dev/null || mg_fail "app cannot reach the site through the connector"
expect 200 '<return>true</return>' DeleteRoute $RT DestinationCidrBlock=192.0.2.0/24
wait_until 5 sh -c "! ip -n '$VPC' route show table 100 | grep -q 192.0.2.0/24" || mg_fail "router kept a deleted route"
if nsx "$APP" ping -c1 -W1 192.0.2.10 >/dev/null; then mg_fail "reached the site without a VPC route"; fi
ctl /route '{"route_table": "rtb-00000000000000app", "dst": "192.0.2.0/24", "eni": "eni-0deadbeef00000000"}' >/dev/null
wait_until 5 sh -c "ip -n '$VPC' route show table 100 | grep -q 'blackhole 192.0.2.0/24'" || mg_fail "blackhole not applied"
mg_log "VPC router ok"

mg_pass
