#!/usr/bin/env bash
# The fake GCP (tests/fake/gcp) itself: the metadata server's header rules, leaves, recursive
# JSON and tokens; bearer-token expiry and scopes at the Compute API; every Compute call's shape
# (routes insert/get/list/delete, operations get/wait, instances.get, networks.get); requestId
# de-duplication, output-only and name/priority/next-hop validation, immutability, 409/404;
# operations RUNNING -> DONE; paging with filters; the ROUTES quota; permission denies; every
# fault kind; the counters; and the VPC router: GCP's route selection (subnet routes first, most
# specific, lowest priority number, network tags) and the canIpForward drop.
#
#   vpc    the fake (169.254.169.254 on lo, Compute on 198.18.1.1:443, control 127.0.0.1:8798)
#          and the VPC router; subnet-a 198.18.1.0/24, subnet-b 198.18.2.0/24
#   conn1  instance mg-conn-1 198.18.1.10 (canIpForward false, scope cloud-platform), MAC 42:01:c6:12:01:0a;
#          routes to a remote site 192.0.2.0/24 (ns rem1) itself
#   conn2  instance mg-conn-2 198.18.1.11 (canIpForward true, scope compute), remote site copy in rem2
#   app    instance app-1 198.18.2.20 in subnet-b (tag "app", no compute scope), default via the VPC only
. "$(dirname "$0")/lib.sh"
mg_setup fake_gcp

FG=$MG_SRC/tests/fake/gcp
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3) || mg_fail "python3 missing (scripts/deps)"

# --- 0. the list filter on its own (no namespaces needed) ------------------------------------
out=$("$PY" "$FG/test_list_filter.py") || mg_fail "list filter: $out"
mg_log "$out"

# --- topology ---------------------------------------------------------------------------------
VPC=$(ns_add vpc)
C1=$(ns_add conn1)
C2=$(ns_add conn2)
APP=$(ns_add app)
R1=$(ns_add rem1)
R2=$(ns_add rem2)
nsx "$VPC" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
ip -n "$VPC" addr add 169.254.169.254/32 dev lo
veth "$VPC" sa1 "$C1" eth0
veth "$VPC" sa2 "$C2" eth0
veth "$VPC" sb "$APP" eth0
veth "$C1" site "$R1" eth0
veth "$C2" site "$R2" eth0
# subnet-a spans two router ports: a bridge holds them (198.18.1.1 on the bridge)
ip -n "$VPC" link add sa type bridge
ip -n "$VPC" link set sa1 master sa
ip -n "$VPC" link set sa2 master sa
ip -n "$VPC" link set sa up
ip -n "$VPC" addr add 198.18.1.1/24 dev sa
ip -n "$VPC" addr add 198.18.2.1/24 dev sb
for spec in "$C1 198.18.1.10 42:01:c6:12:01:0a $R1" "$C2 198.18.1.11 42:01:c6:12:01:0b $R2"; do
	read -r ns ip mac rem <<<"$spec"
	ip -n "$ns" link set eth0 address "$mac"
	ip -n "$ns" addr add "$ip/24" dev eth0
	ip -n "$ns" route add default via 198.18.1.1
	ip -n "$ns" addr add 192.0.2.1/24 dev site
	nsx "$ns" sysctl -qw net.ipv4.ip_forward=1
	ip -n "$rem" addr add 192.0.2.10/24 dev eth0
	ip -n "$rem" route add default via 192.0.2.1
	nsx "$ns" nft -f - <<-'EOF'
		table ip mgcount {
			chain forward {
				type filter hook forward priority 0; policy accept;
				ip daddr 192.0.2.10 counter
			}
		}
	EOF
done
ip -n "$APP" link set eth0 address 42:01:c6:12:02:14
ip -n "$APP" addr add 198.18.2.20/24 dev eth0
ip -n "$APP" route add default via 198.18.2.1

ST=$MG_TMP/fake
bg_start "$VPC" "$MG_TMP/fake.log" "$PY" "$FG/fake_gcp.py" --state-dir "$ST" \
	--compute-listen 198.18.1.1:443 --compute-san 198.18.1.1 --control-listen 127.0.0.1:8798
wait_until 15 test -s "$ST/ready.json" || mg_fail "fake did not start: $(cat "$MG_TMP/fake.log")"
CA=$(jq -r .ca "$ST/ready.json")
bg_start "$VPC" "$MG_TMP/router.log" "$PY" "$FG/vpc_router.py" --routes "$ST/gcp-routes.json" \
	--subnet subnet-a=sa --subnet subnet-b=sb

MD=http://169.254.169.254/computeMetadata/v1
P=meshgate-test
NET=https://www.googleapis.com/compute/v1/projects/$P/global/networks/mg-vpc
ctl() {
	case $1 in /tokens/expire | /instance | /config) rm -f "$MG_TMP"/token.* ;; esac # tokens change
	nsx "$VPC" curl -sf -X POST -d "${2:-{\}}" "http://127.0.0.1:8798$1"
}
ctlget() { nsx "$VPC" curl -sf "http://127.0.0.1:8798$1"; }
# md NS PATH [curl args]: metadata GET with the header, body only
md() {
	local ns=$1 path=$2
	shift 2
	nsx "$ns" curl -sf --max-time 3 -H 'Metadata-Flavor: Google' "$@" "$MD/$path"
}
mdst() { nsx "$C1" curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$@"; }
# qpy NS [gcpq options] METHOD PATH [BODY]: the raw Python client (token from the metadata
# server, one HTTPS call): status on line 1, body after; "ERROR <type>: ..." on a transport error
qpy() {
	local ns=$1
	shift
	nsx "$ns" "$PY" "$FG/gcpq.py" --metadata http://169.254.169.254 --endpoint https://198.18.1.1:443 --ca "$CA" "$@"
}
# q NS [--no-auth|--token T|--scheme S|--project P] METHOD PATH [BODY]: the same with curl (a
# Python start per call is too slow for ~200 calls on a loaded machine); a fresh token each call
q() {
	local ns=$1 auth=1 token="" scheme=Bearer proj=$P out
	shift
	while [ $# -gt 0 ]; do
		case $1 in
		--no-auth) auth="" && shift ;;
		--token) token=$2 && shift 2 ;;
		--scheme) scheme=$2 && shift 2 ;;
		--project) proj=$2 && shift 2 ;;
		--*) qpy "$ns" "$@" && return 0 ;;
		*) break ;;
		esac
	done
	local verb=$1 path=$2 body=${3-}
	[ "${path:0:1}" = / ] || path=/compute/v1/projects/$proj/$path
	local args=(-s -X "$verb" --max-time 10 --cacert "$CA" --resolve compute.googleapis.com:443:198.18.1.1 -w '\n%{http_code}')
	if [ -n "$auth" ]; then
		# the metadata server's token, cached per namespace until ctl changes tokens
		if [ -z "$token" ]; then
			[ -s "$MG_TMP/token.$ns" ] || md "$ns" instance/service-accounts/default/token | jq -r .access_token >"$MG_TMP/token.$ns"
			token=$(<"$MG_TMP/token.$ns")
		fi
		args+=(-H "Authorization: $scheme $token")
	fi
	[ -z "$body" ] || args+=(-H 'Content-Type: application/json' --data-binary "$body")
	out=$(nsx "$ns" curl "${args[@]}" "https://compute.googleapis.com$path") || {
		echo "ERROR curl"
		return 0
	}
	printf '%s\n%s\n' "${out##*$'\n'}" "${out%$'\n'*}"
}
# expect STATUS JQ_FILTER NS gcpq-args...: the status, and the body must satisfy the jq filter
expect() {
	local want=$1 filter=$2 out
	shift 2
	out=$(q "$@") || true
	LAST=${out#*$'\n'}
	local first=${out%%$'\n'*}
	assert_eq "${first%% *}" "$want" "status of ${*:2}: $out"
	[ "$filter" = "-" ] && return 0
	jq -e "$filter" <<<"$LAST" >/dev/null 2>&1 || mg_fail "${*:2}: body fails '$filter': $LAST"
}
# an error body of Compute's shape with this code and reason
err() { echo ".error.code == $1 and .error.errors[0].reason == \"$2\" and (.error.message | type == \"string\")
	and .error.errors[0].message != null and .error.errors[0].domain != null"; }
route() { # route NAME DST PRIORITY HOP_FIELD HOP [extra JSON fields]
	printf '{"name":"%s","network":"%s","destRange":"%s","priority":%s,"%s":"%s"%s}' "$1" "$NET" "$2" "$3" "$4" "$5" "${6:-}"
}
# shape FILE_OR_-: the set of key paths of a JSON document (array indices folded)
shape() { jq -c '[paths | map(if type == "number" then "[]" else . end) | join(".")] | unique' "$1"; }
# same_shape NAME BODY: the fake's answer has exactly the keys of tests/data/gcp/NAME
same_shape() { assert_eq "$(shape - <<<"$2")" "$(shape "$MG_SRC/tests/data/gcp/$1")" "keys of $1 (tests/data/gcp)"; }
applied() { [ "$(cat "$ST/gcp-routes.json.applied" 2>/dev/null)" = "$(jq .generation "$ST/gcp-routes.json")" ]; }
# packets a connector forwarded toward the remote site (an nft counter in its namespace)
tx() { nsx "$1" nft -j list table ip mgcount | jq '[.nftables[] | .rule? | select(. != null) | .expr[] | .counter? | select(. != null) | .packets] | add'; }

# --- 1. metadata server -----------------------------------------------------------------------
assert_eq "$(mdst "$MD/instance/id")" 403 "no Metadata-Flavor"
out=$(nsx "$C1" curl -s -i "$MD/instance/id")
assert_contains "$out" "Missing Metadata-Flavor:Google header" "403 body"
assert_contains "$out" "Metadata-Flavor: Google" "header on the refusal"
assert_eq "$(mdst -H 'Metadata-Flavor: Google' -H 'X-Forwarded-For: 198.51.100.7' "$MD/instance/id")" 403 "X-Forwarded-For"
assert_eq "$(mdst -H 'Metadata-Flavor: google-ish' "$MD/instance/id")" 403 "wrong flavor"
out=$(nsx "$C1" curl -s -i -H 'Metadata-Flavor: Google' "$MD/instance/id")
assert_contains "$out" "Metadata-Flavor: Google" "header on answers"
assert_contains "$out" "Content-Type: application/text" "text leaf"
assert_eq "$(md "$C1" project/project-id)" $P project-id
assert_eq "$(md "$C1" project/numeric-project-id)" 123456789012 numeric-project-id
assert_eq "$(md "$C1" instance/id)" 4380000000000000001 instance id
assert_eq "$(md "$C1" instance/name)" mg-conn-1 name
assert_eq "$(md "$C1" instance/zone)" projects/123456789012/zones/us-central1-a zone
assert_eq "$(md "$C1" instance/network-interfaces/0/network)" projects/123456789012/networks/mg-vpc network
assert_eq "$(md "$C1" instance/network-interfaces/0/ip)" 198.18.1.10 ip
assert_eq "$(md "$C1" instance/network-interfaces/0/mac)" 42:01:c6:12:01:0a mac
assert_eq "$(md "$C1" instance/service-accounts/default/email)" 123456789012-compute@developer.gserviceaccount.com email
assert_eq "$(md "$C1" instance/service-accounts/default/scopes)" https://www.googleapis.com/auth/cloud-platform scopes
assert_eq "$(md "$C1" instance/tags)" '["meshgate"]' tags
assert_eq "$(md "$C2" instance/name)" mg-conn-2 "identity by source address"
assert_eq "$(md "$C1" instance/name --resolve metadata.google.internal:80:169.254.169.254 \
	-H 'Host: metadata.google.internal')" mg-conn-1 "Host metadata.google.internal"
tokj=$(md "$C1" instance/service-accounts/default/token)
jq -e '(.access_token | test("^ya29\\.")) and .token_type == "Bearer" and (.expires_in | type == "number")
	and .expires_in > 3000 and (keys | length == 3)' <<<"$tokj" >/dev/null || mg_fail "token JSON: $tokj"
rec=$(md "$C1" "instance/?recursive=true")
jq -e '(.id | type == "number") and .name == "mg-conn-1" and .networkInterfaces[0].ip == "198.18.1.10"
	and .networkInterfaces[0].network == "projects/123456789012/networks/mg-vpc" and .tags == ["meshgate"]
	and .serviceAccounts.default.scopes == ["https://www.googleapis.com/auth/cloud-platform"]
	and (.serviceAccounts.default | has("token") | not) and .zone == "projects/123456789012/zones/us-central1-a"' \
	<<<"$rec" >/dev/null || mg_fail "recursive JSON: $rec"
assert_contains "$(md "$C1" "instance/network-interfaces/?recursive=true&alt=text")" "0/ip 198.18.1.10" "recursive alt=text"
assert_eq "$(md "$C1" "instance/name?alt=json")" '"mg-conn-1"' "leaf alt=json"
assert_contains "$(md "$C1" instance/)" "network-interfaces/" "directory listing"
assert_eq "$(mdst -H 'Metadata-Flavor: Google' "$MD/instance")" 301 "directory without slash"
assert_eq "$(mdst -H 'Metadata-Flavor: Google' "$MD/instance/nope")" 404 "unknown key"
mg_log "metadata ok"

# --- 2. tokens and scopes at the Compute API ---------------------------------------------------
out=$(qpy "$C1" GET global/routes)
assert_eq "$(head -1 <<<"$out")" 200 "the Python client: $out"
jq -e '.kind == "compute#routeList"' <<<"$(tail -n +2 <<<"$out")" >/dev/null || mg_fail "the Python client's list: $out"
out=$(qpy "$APP" GET global/routes)
assert_eq "$(head -1 <<<"$out")" 403 "the Python client without compute scope: $out"
expect 200 '.kind == "compute#routeList"' "$C1" GET global/routes
expect 401 "$(err 401 required) and .error.status == \"UNAUTHENTICATED\"" "$C1" --no-auth GET global/routes
expect 401 "$(err 401 authError) and .error.details[0].reason == \"ACCESS_TOKEN_TYPE_UNSUPPORTED\"" "$C1" --token ya29.bogus GET global/routes
expect 401 "$(err 401 authError)" "$C1" --scheme Basic GET global/routes
OLD=$(qpy "$C1" --print-token)
ctl /tokens/expire >/dev/null
expect 401 "$(err 401 authError) and .error.details[0].reason == \"ACCESS_TOKEN_EXPIRED\"" "$C1" --token "$OLD" GET global/routes
NEW=$(qpy "$C1" --print-token)
[ "$NEW" != "$OLD" ] || mg_fail "metadata kept handing out an expired token"
expect 200 '.items | length > 0' "$C1" GET global/routes
ctl /config '{"token_lifetime": 2}' >/dev/null
ctl /tokens/expire >/dev/null
SHORT=$(qpy "$C1" --print-token)
expect 200 - "$C1" --token "$SHORT" GET global/routes
sleep 2.2
expect 401 '.error.details[0].reason == "ACCESS_TOKEN_EXPIRED"' "$C1" --token "$SHORT" GET global/routes
ctl /config '{"token_lifetime": 3599}' >/dev/null
ctl /tokens/expire >/dev/null
expect 403 "$(err 403 insufficientPermissions) and .error.status == \"PERMISSION_DENIED\"
	and .error.details[0].reason == \"ACCESS_TOKEN_SCOPE_INSUFFICIENT\"" "$APP" GET global/routes
expect 200 - "$C2" GET global/routes # scope compute is enough
mg_log "tokens and scopes ok"

# --- 3. Compute call shapes -------------------------------------------------------------------
ctl /config '{"op_running_polls": 2}' >/dev/null
expect 200 '.kind == "compute#routeList" and (.items | map(select(.routeType == "SUBNET" and .priority == 0
	and .nextHopNetwork != null)) | length == 3) and (.items | map(.name) | index("other-team-db") != null)
	and (.selfLink | endswith("/global/routes"))' "$C1" GET global/routes
expect 200 '.kind == "compute#route" and .nextHopIp == "198.18.3.5" and .tags == ["db"] and .priority == 800' \
	"$C1" GET global/routes/other-team-db
expect 200 '.kind == "compute#instance" and .canIpForward == false and .networkInterfaces[0].networkIP == "198.18.1.10"
	and (.networkInterfaces[0].network | endswith("/global/networks/mg-vpc")) and .tags.items == ["meshgate"]
	and .serviceAccounts[0].scopes == ["https://www.googleapis.com/auth/cloud-platform"]' \
	"$C1" GET zones/us-central1-a/instances/mg-conn-1
expect 200 '.canIpForward == true' "$C1" GET zones/us-central1-a/instances/mg-conn-2
expect 404 "$(err 404 notFound)" "$C1" GET zones/us-central1-a/instances/nope
expect 404 "$(err 404 notFound)" "$C1" GET zones/us-central1-b/instances/mg-conn-1
expect 200 '.kind == "compute#network" and .name == "mg-vpc" and (.subnetworks | length == 3)' "$C1" GET global/networks/mg-vpc
expect 404 "$(err 404 notFound)" "$C1" --project other-project GET global/routes
# insert: an operation that stays RUNNING for two polls, the route appears at DONE
expect 200 '.kind == "compute#operation" and .operationType == "insert" and .status == "RUNNING" and .progress == 0
	and (.targetLink | endswith("/global/routes/mg-a")) and (.name | startswith("operation-"))
	and (.selfLink | contains("/global/operations/"))' \
	"$C1" POST global/routes "$(route mg-a 198.51.100.0/24 1000 nextHopInstance zones/us-central1-a/instances/mg-conn-1 ',"description":"meshgate:t"')"
OP=$(jq -r .name <<<"$LAST")
expect 404 - "$C1" GET global/routes/mg-a
expect 409 "$(err 409 alreadyExists)" "$C1" POST global/routes "$(route mg-a 198.51.100.0/24 1000 nextHopIp 198.18.1.11)"
expect 200 '.status == "RUNNING"' "$C1" GET "global/operations/$OP"
expect 200 '.status == "RUNNING"' "$C1" POST "global/operations/$OP/wait"
expect 200 '.status == "DONE" and .progress == 100 and (has("error") | not) and .endTime != null' "$C1" POST "global/operations/$OP/wait"
expect 200 '.status == "DONE"' "$C1" GET "global/operations/$OP"
expect 200 '.name == "mg-a" and .destRange == "198.51.100.0/24" and .priority == 1000 and .description == "meshgate:t"
	and .nextHopInstance == "https://www.googleapis.com/compute/v1/projects/meshgate-test/zones/us-central1-a/instances/mg-conn-1"
	and (.id | test("^[0-9]+$")) and (.creationTimestamp | test("^[0-9-]{10}T")) and .kind == "compute#route"' \
	"$C1" GET global/routes/mg-a
same_shape route.json "$LAST"
expect 200 - "$C1" GET "global/operations/$OP"
same_shape operation_done.json "$LAST"
expect 200 - "$C1" GET zones/us-central1-a/instances/mg-conn-1
same_shape instance.json "$LAST"
expect 200 - "$C1" GET global/networks/mg-vpc
same_shape network.json "$LAST"
same_shape metadata_token.json "$(md "$C1" instance/service-accounts/default/token)"
same_shape metadata_instance_recursive.json "$(md "$C1" "instance/?recursive=true")"
expect 404 "$(err 404 notFound)" "$C1" GET global/operations/operation-0-nope
expect 409 "$(err 409 alreadyExists)" "$C1" POST global/routes "$(route mg-a 198.51.100.0/24 1000 nextHopIp 198.18.1.11)"
# requestId: the same id returns the same operation and inserts once
ctl /config '{"op_running_polls": 0}' >/dev/null
RID=4c1e3a4e-5b8f-4c0e-9d3a-2f6b7c8d9e01
expect 200 '.status == "DONE"' "$C1" POST "global/routes?requestId=$RID" "$(route mg-b 198.51.101.0/24 1000 nextHopIp 198.18.1.11)"
OPB=$(jq -r .name <<<"$LAST")
expect 200 ".name == \"$OPB\"" "$C1" POST "global/routes?requestId=$RID" "$(route mg-b 198.51.101.0/24 1000 nextHopIp 198.18.1.11)"
expect 400 "$(err 400 invalid)" "$C1" POST "global/routes?requestId=not-a-uuid" "$(route mg-c 198.51.102.0/24 1000 nextHopIp 198.18.1.11)"
expect 400 "$(err 400 invalid)" "$C1" POST "global/routes?requestId=00000000-0000-0000-0000-000000000000" "$(route mg-c 198.51.102.0/24 1000 nextHopIp 198.18.1.11)"
c=$(ctlget /counters)
jq -e '.calls["routes.insert"] >= 5' <<<"$c" >/dev/null || mg_fail "counters: $c"
assert_eq "$(jq '[.routes[] | select(.name == "mg-b")] | length' <(ctlget /state))" 1 "one mg-b"
# validation
for f in '"id":"123"' '"kind":"compute#route"' '"creationTimestamp":"2024-01-01T00:00:00.000-07:00"' '"selfLink":"x"'; do
	expect 400 "$(err 400 invalid)" "$C1" POST global/routes "$(route mg-c 198.51.102.0/24 1000 nextHopIp 198.18.1.11 ",$f")"
done
expect 400 "$(err 400 invalid) and .error.status == \"INVALID_ARGUMENT\"" "$C1" POST global/routes "$(route mg-c 198.51.102.0/24 1000 nextHopIp 198.18.1.11 ',"bogus":1')"
expect 400 "$(err 400 parseError)" "$C1" POST global/routes '{"name": '
expect 400 "$(err 400 invalid)" "$C1" POST global/routes "$(route Mg-C 198.51.102.0/24 1000 nextHopIp 198.18.1.11)"
expect 400 "$(err 400 invalid)" "$C1" POST global/routes "$(route "m$(printf 'x%.0s' $(seq 63))" 198.51.102.0/24 1000 nextHopIp 198.18.1.11)"
expect 400 "$(err 400 invalid)" "$C1" POST global/routes "$(route mg-c- 198.51.102.0/24 1000 nextHopIp 198.18.1.11)"
expect 200 - "$C1" POST global/routes "$(route "m$(printf 'x%.0s' $(seq 62))" 198.51.102.0/24 1000 nextHopIp 198.18.1.11)"
expect 400 "$(err 400 invalid)" "$C1" POST global/routes "$(route mg-c 198.51.103.0/24 65536 nextHopIp 198.18.1.11)"
expect 400 "$(err 400 invalid)" "$C1" POST global/routes "$(route mg-c 198.51.103.0/24 -1 nextHopIp 198.18.1.11)"
expect 400 "$(err 400 invalid)" "$C1" POST global/routes "$(route mg-c 198.51.103.1/24 100 nextHopIp 198.18.1.11)"
expect 400 "$(err 400 invalid)" "$C1" POST global/routes "$(route mg-c 198.18.2.128/25 100 nextHopIp 198.18.1.11)"
expect 400 "$(err 400 invalid)" "$C1" POST global/routes "$(route mg-c 198.51.103.0/24 100 nextHopIp 198.18.1.11 ',"nextHopInstance":"zones/us-central1-a/instances/mg-conn-1"')"
expect 400 "$(err 400 invalid)" "$C1" POST global/routes '{"name":"mg-c","network":"global/networks/mg-vpc","destRange":"198.51.103.0/24"}'
expect 400 "$(err 400 required)" "$C1" POST global/routes '{"name":"mg-c","destRange":"198.51.103.0/24","nextHopIp":"198.18.1.11"}'
expect 400 "$(err 400 required)" "$C1" POST global/routes '{"name":"mg-c","network":"global/networks/mg-vpc","nextHopIp":"198.18.1.11"}'
expect 404 "$(err 404 notFound)" "$C1" POST global/routes "$(route mg-c 198.51.103.0/24 100 nextHopInstance zones/us-central1-a/instances/nope)"
expect 404 "$(err 404 notFound)" "$C1" POST global/routes '{"name":"mg-c","network":"global/networks/other","destRange":"198.51.103.0/24","nextHopIp":"198.18.1.11"}'
expect 400 "$(err 400 invalid)" "$C1" POST global/routes "$(route mg-c 198.51.103.0/24 100 nextHopIp 203.0.113.9)"
# partial URLs are accepted and stored as full ones
expect 200 '.status == "DONE"' "$C1" POST global/routes \
	'{"name":"mg-c","network":"projects/meshgate-test/global/networks/mg-vpc","destRange":"198.51.103.0/24","nextHopInstance":"projects/meshgate-test/zones/us-central1-a/instances/mg-conn-2","tags":["app"]}'
expect 200 ".network == \"$NET\" and (.nextHopInstance | startswith(\"https://www.googleapis.com/compute/v1/projects/\")) and .tags == [\"app\"] and .priority == 1000" \
	"$C1" GET global/routes/mg-c
# immutability, delete
expect 405 "$(err 405 httpMethodNotAllowed)" "$C1" PATCH global/routes/mg-c '{"priority": 5}'
expect 405 - "$C1" PUT global/routes/mg-c "$(route mg-c 198.51.103.0/24 5 nextHopIp 198.18.1.11)"
expect 404 "$(err 404 notFound)" "$C1" DELETE global/routes/nope
SUBR=$(ctlget /state | jq -r 'first(.routes[] | select(.routeType == "SUBNET") | .name)')
expect 400 "$(err 400 invalidResourceUsage)" "$C1" DELETE "global/routes/$SUBR"
ctl /config '{"op_running_polls": 1}' >/dev/null
expect 200 '.operationType == "delete" and .status == "RUNNING"' "$C1" DELETE global/routes/mg-c
OPD=$(jq -r .name <<<"$LAST")
expect 400 "$(err 400 resourceNotReady)" "$C1" DELETE global/routes/mg-c
expect 200 - "$C1" GET global/routes/mg-c
expect 200 '.status == "RUNNING"' "$C1" GET "global/operations/$OPD"
expect 200 '.status == "DONE"' "$C1" GET "global/operations/$OPD"
expect 404 - "$C1" GET global/routes/mg-c
ctl /config '{"op_start_status": "PENDING"}' >/dev/null
expect 200 '.status == "PENDING" and (has("startTime") | not)' "$C1" DELETE global/routes/mg-b
expect 200 '.status == "RUNNING" and .startTime != null' "$C1" GET "global/operations/$(jq -r .name <<<"$LAST")"
ctl /operations/finish >/dev/null
ctl /config '{"op_start_status": "RUNNING", "op_running_polls": 0}' >/dev/null
mg_log "compute calls ok"

# --- 4. paging with filters -------------------------------------------------------------------
for i in 0 1 2 3 4; do
	expect 200 '.status == "DONE"' "$C1" POST global/routes "$(route "mg-p-$i" "198.51.110.$((i * 16))/28" $((100 + i)) nextHopIp 198.18.1.11)"
done
F='name%20eq%20%22mg-p-.*%22'
expect 200 '(.items | map(.name)) == ["mg-p-0", "mg-p-1"] and .nextPageToken != null' "$C1" GET "global/routes?filter=$F&maxResults=2"
T1=$(jq -r .nextPageToken <<<"$LAST")
expect 200 '(.items | map(.name)) == ["mg-p-2", "mg-p-3"] and .nextPageToken != null' "$C1" GET "global/routes?filter=$F&maxResults=2&pageToken=$T1"
T2=$(jq -r .nextPageToken <<<"$LAST")
expect 200 '(.items | map(.name)) == ["mg-p-4"] and (has("nextPageToken") | not)' "$C1" GET "global/routes?filter=$F&maxResults=2&pageToken=$T2"
expect 400 "$(err 400 invalid)" "$C1" GET "global/routes?filter=name%20eq%20x&maxResults=2&pageToken=$T1"
expect 400 "$(err 400 invalid)" "$C1" GET "global/routes?pageToken=garbage"
expect 200 '(.items | map(.name)) == ["mg-p-1"]' "$C1" GET "global/routes?filter=name%20%3D%20%22mg-p-1%22"
expect 200 '.items | length == 5' "$C1" GET "global/routes?filter=name%20%3D%20%22mg-p-*%22"
expect 200 '.items | length == 4' "$C1" GET "global/routes?filter=name%3Amg-p-*%20AND%20priority%20%3E%20100"
expect 200 '(.items | map(.name)) == ["mg-p-0", "mg-p-4"]' "$C1" GET "global/routes?filter=(name%20%3D%20mg-p-0)%20OR%20(name%20%3D%20mg-p-4)"
expect 200 '(.items | map(.name)) == ["other-team-db"]' "$C1" GET "global/routes?filter=tags%3Adb"
expect 200 '(.items | map(.name)) == ["mg-p-3"]' "$C1" GET "global/routes?filter=name%3Ap-3" # substring
expect 200 '(.items | map(.name)) == ["mg-p-2"]' "$C1" GET "global/routes?filter=priority%3A102"
expect 200 '.items | length == 4' "$C1" GET "global/routes?filter=(name%20eq%20mg-p-.*)%20(priority%20ne%20100)"
expect 200 '(has("items") | not) and (has("nextPageToken") | not)' "$C1" GET "global/routes?filter=name%20eq%20nothing-.*"
expect 400 "$(err 400 invalid)" "$C1" GET "global/routes?filter=(name%20eq%20x)%20AND%20(priority%20%3D%201)"
expect 400 "$(err 400 invalid)" "$C1" GET "global/routes?filter=color%20%3D%20red"
expect 400 "$(err 400 invalid)" "$C1" GET "global/routes?maxResults=501"
expect 400 "$(err 400 invalid)" "$C1" GET "global/routes?maxResults=-1"
mg_log "paging ok"

# --- 5. quota ---------------------------------------------------------------------------------
n=$(ctlget /state | jq '[.routes[] | select(.routeType != "SUBNET")] | length')
ctl /config "{\"route_quota\": $((n + 1))}" >/dev/null
expect 200 '.status == "DONE"' "$C1" POST global/routes "$(route mg-q-1 198.51.120.0/24 100 nextHopIp 198.18.1.11)"
expect 403 "$(err 403 quotaExceeded) and (.error.message | startswith(\"Quota 'ROUTES' exceeded.\"))
	and .error.errors[0].domain == \"usageLimits\" and .error.details[0].reason == \"QUOTA_EXCEEDED\"" \
	"$C1" POST global/routes "$(route mg-q-2 198.51.121.0/24 100 nextHopIp 198.18.1.11)"
ctl /config '{"quota_mode": "operation"}' >/dev/null
expect 200 '.status == "DONE" and .error.errors[0].code == "QUOTA_EXCEEDED" and .httpErrorStatusCode == 403
	and .httpErrorMessage == "FORBIDDEN"' "$C1" POST global/routes "$(route mg-q-2 198.51.121.0/24 100 nextHopIp 198.18.1.11)"
expect 404 - "$C1" GET global/routes/mg-q-2
ctl /config '{"quota_mode": "sync", "route_quota": 250}' >/dev/null
expect 200 - "$C1" POST global/routes "$(route mg-q-2 198.51.121.0/24 100 nextHopIp 198.18.1.11)"
mg_log "quota ok"

# --- 6. permissions ---------------------------------------------------------------------------
ctl /deny '{"permission": "compute.routes.create"}' >/dev/null
expect 403 "$(err 403 forbidden) and .error.message == \"Required 'compute.routes.create' permission for 'projects/$P/global/routes/mg-d'\"" \
	"$C1" POST global/routes "$(route mg-d 198.51.122.0/24 100 nextHopIp 198.18.1.11)"
ctl /allow '{"permission": "compute.routes.create"}' >/dev/null
ctl /deny '{"permission": "compute.networks.updatePolicy"}' >/dev/null
expect 403 "$(err 403 forbidden) and (.error.message | contains(\"compute.networks.updatePolicy\")) and (.error.message | contains(\"/global/networks/mg-vpc\"))" \
	"$C1" DELETE global/routes/mg-q-2
ctl /allow '{"permission": "compute.networks.updatePolicy"}' >/dev/null
for pm in "compute.routes.delete DELETE global/routes/mg-q-2" "compute.routes.list GET global/routes" \
	"compute.instances.get GET zones/us-central1-a/instances/mg-conn-1"; do
	read -r perm verb path <<<"$pm"
	ctl /deny "{\"permission\": \"$perm\"}" >/dev/null
	expect 403 "$(err 403 forbidden) and (.error.message | startswith(\"Required '$perm' permission for 'projects/$P\"))" "$C1" "$verb" "$path"
	ctl /allow "{\"permission\": \"$perm\"}" >/dev/null
done
mg_log "permissions ok"

# --- 7. faults --------------------------------------------------------------------------------
ctl /reset >/dev/null
ctl /fault '{"kind": "429", "count": 2}' >/dev/null
expect 429 "$(err 429 rateLimitExceeded) and .error.status == \"RESOURCE_EXHAUSTED\"" "$C1" GET global/routes
expect 429 - "$C1" GET global/routes
expect 200 - "$C1" GET global/routes
ctl /fault '{"kind": "rate"}' >/dev/null
expect 403 "$(err 403 rateLimitExceeded) and .error.errors[0].domain == \"usageLimits\"" "$C1" GET global/routes
ctl /fault '{"kind": "user_rate"}' >/dev/null
expect 403 "$(err 403 userRateLimitExceeded)" "$C1" GET global/routes
ctl /fault '{"kind": "500"}' >/dev/null
expect 500 "$(err 500 backendError)" "$C1" GET global/routes
ctl /fault '{"kind": "503", "method": "routes.insert"}' >/dev/null
expect 200 - "$C1" GET global/routes
expect 503 "$(err 503 backendError) and .error.status == \"UNAVAILABLE\"" "$C1" POST global/routes "$(route mg-f 198.51.123.0/24 100 nextHopIp 198.18.1.11)"
ctl /fault '{"kind": "malformed"}' >/dev/null
expect 200 - "$C1" GET global/routes
if jq -e . <<<"$LAST" >/dev/null 2>&1; then mg_fail "malformed fault gave valid JSON: $LAST"; fi
ctl /fault '{"kind": "garbage"}' >/dev/null
expect 200 - "$C1" GET global/routes
assert_contains "$LAST" "<html>" "garbage"
ctl /fault '{"kind": "truncated"}' >/dev/null
out=$(qpy "$C1" GET global/routes) || true
assert_contains "$out" "ERROR IncompleteRead" "truncated"
ctl /fault '{"kind": "hang", "seconds": 4}' >/dev/null
t0=$(now_ms)
out=$(qpy "$C1" --timeout 1 GET global/routes) || true
assert_contains "$out" "timed out" "hang"
[ $(($(now_ms) - t0)) -lt 3500 ] || mg_fail "hang: client timeout not reached first"
ctl /fault '{"kind": "expired_token"}' >/dev/null
expect 401 '.error.details[0].reason == "ACCESS_TOKEN_EXPIRED"' "$C1" GET global/routes
expect 200 - "$C1" GET global/routes
ctl /fault '{"kind": "op_error", "code": "RESOURCE_NOT_READY", "message": "The resource is not ready", "http_status": 400}' >/dev/null
expect 200 '.status == "DONE" and .error.errors[0].code == "RESOURCE_NOT_READY" and .httpErrorStatusCode == 400' \
	"$C1" POST global/routes "$(route mg-f 198.51.123.0/24 100 nextHopIp 198.18.1.11)"
expect 404 - "$C1" GET global/routes/mg-f
ctl /fault '{"kind": "op_error"}' >/dev/null
expect 200 '.error.errors[0].code == "INTERNAL_ERROR" and .httpErrorStatusCode == 500' "$C1" DELETE global/routes/mg-q-2
expect 200 - "$C1" GET global/routes/mg-q-2
ctl /fault '{"kind": "503", "method": "metadata.token"}' >/dev/null
assert_eq "$(mdst -H 'Metadata-Flavor: Google' "$MD/instance/service-accounts/default/token")" 503 "metadata token fault"
assert_eq "$(mdst -H 'Metadata-Flavor: Google' "$MD/instance/service-accounts/default/token")" 200 "metadata token after the fault"
c=$(ctlget /counters)
jq -e '.errors["fault:429"] == 2 and .errors["fault:hang"] == 1 and .metadata["fault:503"] == 1' <<<"$c" >/dev/null || mg_fail "fault counters: $c"
mg_log "faults ok"

# --- 8. counters ------------------------------------------------------------------------------
ctl /counters/reset >/dev/null
expect 200 - "$C1" GET global/routes
expect 200 - "$C1" POST global/routes "$(route mg-g 198.51.124.0/24 100 nextHopIp 198.18.1.11)"
expect 409 - "$C1" POST global/routes "$(route mg-g 198.51.124.0/24 100 nextHopIp 198.18.1.11)"
expect 200 - "$C1" DELETE global/routes/mg-g
c=$(ctlget /counters)
jq -e '.calls["routes.list"] == 1 and .calls["routes.insert"] == 2 and .ok["routes.insert"] == 1
	and .calls["routes.delete"] == 1 and .mutating == 3 and .mutating_ok == 2 and .read == 1
	and .errors.alreadyExists == 1' <<<"$c" >/dev/null || mg_fail "counters: $c"
lg=$(ctlget /log)
assert_eq "$(jq -c '[.[] | select(.reason == null) | .method]' <<<"$lg")" '["routes.list","routes.insert","routes.delete"]' "call order"
mg_log "counters ok"

# --- 9. the VPC router: selection and canIpForward --------------------------------------------
# drop the routes of the earlier sections that point at the connectors
for r in $(ctlget /state | jq -r '.routes[] | select(.name | startswith("m")) | .name'); do
	ctl /route/delete "{\"name\": \"$r\"}" >/dev/null
done
expect 200 '.status == "DONE"' "$C1" POST global/routes "$(route mg-site-1 192.0.2.0/24 1000 nextHopInstance zones/us-central1-a/instances/mg-conn-1)"
wait_until 5 applied || mg_fail "router did not apply: $(cat "$MG_TMP/router.log")"
assert_contains "$(ip -n "$VPC" route show table 200)" "192.0.2.0/24 via 198.18.1.10" "router table"
assert_contains "$(nsx "$VPC" nft list table ip fakegcp)" "mg-conn-1 in" "canIpForward rules"
if nsx "$APP" ping -c1 -W1 192.0.2.10 >/dev/null; then mg_fail "forwarded through mg-conn-1 while canIpForward=false"; fi
ctl /instance '{"name": "mg-conn-1", "can_ip_forward": true}' >/dev/null
wait_until 5 applied || mg_fail "router lag"
a1=$(tx "$C1")
nsx "$APP" ping -c2 -W2 192.0.2.10 >/dev/null || mg_fail "app cannot reach the site through mg-conn-1 (canIpForward=true)"
[ "$(tx "$C1")" -gt "$a1" ] || mg_fail "traffic did not pass mg-conn-1"
# a second route for the same destination with a lower priority number wins
expect 200 '.status == "DONE"' "$C1" POST global/routes "$(route mg-site-2 192.0.2.0/24 100 nextHopInstance zones/us-central1-a/instances/mg-conn-2)"
wait_until 5 applied || mg_fail "router lag"
a1=$(tx "$C1")
a2=$(tx "$C2")
nsx "$APP" ping -c2 -W2 192.0.2.10 >/dev/null || mg_fail "app cannot reach the site through mg-conn-2"
[ "$(tx "$C2")" -gt "$a2" ] || mg_fail "priority 100 route (mg-conn-2) not used"
[ "$(tx "$C1")" -eq "$a1" ] || mg_fail "priority 1000 route (mg-conn-1) still used"
# equal priorities: ECMP over both next hops
expect 200 - "$C1" POST global/routes "$(route mg-site-e 192.0.2.0/24 100 nextHopInstance zones/us-central1-a/instances/mg-conn-1)"
wait_until 5 applied || mg_fail "router lag"
t=$(ip -n "$VPC" route show table 200)
assert_contains "$t" "nexthop via 198.18.1.10" "ECMP leg 1"
assert_contains "$t" "nexthop via 198.18.1.11" "ECMP leg 2"
expect 200 - "$C1" DELETE global/routes/mg-site-e
wait_until 5 applied || mg_fail "router lag"
assert_not_contains "$(ip -n "$VPC" route show table 200)" "nexthop" "ECMP after the delete"
# a more specific route wins over a lower priority number
expect 200 - "$C1" POST global/routes "$(route mg-site-3 192.0.2.0/25 2000 nextHopInstance zones/us-central1-a/instances/mg-conn-1)"
wait_until 5 applied || mg_fail "router lag"
a1=$(tx "$C1")
nsx "$APP" ping -c1 -W2 192.0.2.10 >/dev/null || mg_fail "more specific route"
[ "$(tx "$C1")" -gt "$a1" ] || mg_fail "the /25 route (mg-conn-1) not used"
expect 200 - "$C1" DELETE global/routes/mg-site-3
# network tags: a route for tag "db" does not apply to app-1 (tag "app"), one for "app" does
expect 200 - "$C1" DELETE global/routes/mg-site-1
expect 200 - "$C1" DELETE global/routes/mg-site-2
expect 200 - "$C1" POST global/routes "$(route mg-site-t 192.0.2.0/24 100 nextHopInstance zones/us-central1-a/instances/mg-conn-2 ',"tags":["db"]')"
wait_until 5 applied || mg_fail "router lag"
if nsx "$APP" ping -c1 -W1 192.0.2.10 >/dev/null; then mg_fail "a route tagged db carried app-1's traffic"; fi
expect 200 - "$C1" POST global/routes "$(route mg-site-u 192.0.2.0/24 100 nextHopInstance zones/us-central1-a/instances/mg-conn-2 ',"tags":["app"]')"
wait_until 5 applied || mg_fail "router lag"
nsx "$APP" ping -c2 -W2 192.0.2.10 >/dev/null || mg_fail "a route tagged app did not carry app-1's traffic"
# canIpForward off again on the next hop: dropped
ctl /instance '{"name": "mg-conn-2", "can_ip_forward": false}' >/dev/null
wait_until 5 applied || mg_fail "router lag"
if nsx "$APP" ping -c1 -W1 192.0.2.10 >/dev/null; then mg_fail "forwarded through mg-conn-2 while canIpForward=false"; fi
mg_log "VPC router ok"

mg_pass
