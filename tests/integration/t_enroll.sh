#!/usr/bin/env bash
# Enrolment end to end: controller-mock and agent in namespaces (issue 2 acceptance).
. "$(dirname "$0")/lib.sh"
mg_setup enroll

C=$(ns_add ctl)
A=$(ns_add agt)
veth "$C" eth0 "$A" eth0
ip -n "$C" addr add 192.0.2.1/24 dev eth0
ip -n "$A" addr add 192.0.2.2/24 dev eth0

ctl_start "$C" "$MG_TMP/ctl" 192.0.2.1 8443 --no-hub

net=$(api "$C" POST /api/v1/networks '{"name":"HQ","subnets":["198.51.100.0/24"]}')
assert_eq "$(api_st)" 201 "create network"
net_id=$(jq -r .id <<<"$net")
new_connector() { # [ttl]
	local body='{"name":"hq-1"}'
	[ -n "${1:-}" ] && body="{\"name\":\"hq-x\",\"token_ttl\":$1}"
	api "$C" POST "/api/v1/networks/$net_id/connectors" "$body"
}
conn=$(new_connector)
assert_eq "$(api_st)" 201 "create connector"
cstr=$(jq -r .connection_string <<<"$conn")
token=$(jq -r .token <<<"$conn")
printf '%s' "$cstr" >"$MG_TMP/cs"

# b64url helpers to forge strings (a wrong pin, a bad URL)
b64url_dec() { local s=${1#mg1:}; s=$(tr '_-' '/+' <<<"$s"); while [ $((${#s} % 4)) -ne 0 ]; do s="$s="; done; base64 -d <<<"$s"; }
b64url_enc() { printf 'mg1:%s' "$(base64 -w0 | tr '/+' '_-' | tr -d '=')"; }

up() { # state_dir args...
	local sd=$1
	shift
	nsx "$A" "$MESHGATE" up --state-dir "$sd" "$@"
}

mg_log "malformed strings are refused with a reason"
out=$(up "$MG_TMP/s0" --connect "hello" 2>&1) && mg_fail "garbage accepted"
assert_contains "$out" 'must start with "mg1:"'
out=$(up "$MG_TMP/s0" --connect "mg1:!!!notbase64" 2>&1) && mg_fail "bad base64 accepted"
assert_contains "$out" "damaged"

mg_log "wrong pin: refused before any secret is sent"
bad=$(b64url_dec "$cstr" | jq -c '.pin="sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="' | b64url_enc)
out=$(up "$MG_TMP/s1" --connect "$bad" 2>&1) && mg_fail "wrong pin accepted"
assert_contains "$out" "does not match the pin"
c=$(api "$C" GET /api/v1/connectors)
assert_eq "$(jq -r '.connectors[0].state' <<<"$c")" pending "token untouched after pin failure"
[ ! -e "$MG_TMP/s1" ] || mg_fail "a refused enrolment left $(ls -A "$MG_TMP/s1" | tr '\n' ' ')in its new state directory"
mkdir -m 0700 "$MG_TMP/s1b"
out=$(up "$MG_TMP/s1b" --connect "$bad" 2>&1) && mg_fail "wrong pin accepted"
assert_eq "$(ls -A "$MG_TMP/s1b")" "" "a refused enrolment leaves an existing state directory empty"
rmdir "$MG_TMP/s1b"

mg_log "unreachable controller: address and reason"
unreach=$(b64url_dec "$cstr" | jq -c '.url="https://192.0.2.1:9"' | b64url_enc)
out=$(up "$MG_TMP/s1" --connect "$unreach" 2>&1) && mg_fail "unreachable accepted"
assert_contains "$out" "cannot reach controller https://192.0.2.1:9"
assert_contains "$out" "Connection refused"
[ ! -e "$MG_TMP/s1" ] || mg_fail "an unreachable controller left a state directory behind"

mg_log "state directory not writable"
: >"$MG_TMP/afile"
out=$(up "$MG_TMP/afile/state" --connect-file "$MG_TMP/cs" 2>&1) && mg_fail "unwritable state accepted"
assert_contains "$out" "$MG_TMP/afile"

mg_log "enrol from a connection string file"
SD=$MG_TMP/state
out=$(up "$SD" --connect-file "$MG_TMP/cs" --ifname "mg$MG_ID") || mg_fail "enrol failed: $out"
assert_contains "$out" "Enrolled as"
assert_contains "$out" "198.51.100.0/24" "summary shows routes/advertised"
assert_contains "$out" "100.96.0.0/11" "summary shows the mesh route"
for f in device.json private.key status.json; do
	assert_eq "$(stat -c %a "$SD/$f")" 600 "mode of $f"
done
assert_eq "$(stat -c %a "$SD")" 700 "mode of the state directory"
assert_eq "$(find "$SD" -perm /077 -printf '%P ')" "" "files in the state directory others may read"
st=$(nsx "$A" "$MESHGATE" status --json --state-dir "$SD")
assert_eq "$(jq -r .enrolled <<<"$st")" true
dev_id=$(jq -r .device_id <<<"$st")
assert_eq "$(jq -r .last_config_version <<<"$st")" 1 "fetched version"
c=$(api "$C" GET /api/v1/connectors)
assert_eq "$(jq -r --arg id "$dev_id" '.connectors[]|select(.id==$id)|.state' <<<"$c")" enrolled
ctl_pub=$(jq -r --arg id "$dev_id" '.connectors[]|select(.id==$id)|.public_key' <<<"$c")
assert_eq "$ctl_pub" "$(jq -r .public_key <<<"$st")" "controller holds our public key"
# the public key really is the private key's
priv=$(cat "$SD/private.key")
assert_eq "$(wg pubkey <<<"$priv")" "$ctl_pub" "key pair"

mg_log "second up re-uses the identity and never enrols again"
out=$(up "$SD" --connect-file "$MG_TMP/cs") || mg_fail "second up failed: $out"
assert_contains "$out" "Already enrolled as $dev_id"
n=$(api "$C" GET /api/v1/connectors | jq '[.connectors[]|select(.state=="enrolled")]|length')
assert_eq "$n" 1 "still one enrolled connector"

mg_log "token reuse: token_used"
out=$(up "$MG_TMP/s2" --connect-file "$MG_TMP/cs" 2>&1) && mg_fail "reused token accepted"
assert_contains "$out" "token_used"

mg_log "expired token: token_expired"
exp=$(new_connector 1 | jq -r .connection_string)
sleep 2.2
out=$(up "$MG_TMP/s3" --connect "$exp" 2>&1) && mg_fail "expired token accepted"
assert_contains "$out" "token_expired"

mg_log "unknown token: invalid_token"
inv=$(b64url_dec "$cstr" | jq -c '.token="AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"' | b64url_enc)
out=$(up "$MG_TMP/s4" --connect "$inv" 2>&1) && mg_fail "unknown token accepted"
assert_contains "$out" "invalid_token"

mg_log "--connect is scrubbed from argv while up runs"
conn2=$(new_connector | jq -r .connection_string)
tok2=$(b64url_dec "$conn2" | jq -r .token)
# a TCP listener that never speaks TLS keeps `up` waiting long enough to look at it
hang=$(b64url_dec "$conn2" | jq -c '.url="https://192.0.2.1:9443"' | b64url_enc)
bg_start "$C" "$MG_TMP/nc.log" nc -l 192.0.2.1 9443
lpid=$BG_PID
wait_until 5 nsx "$C" sh -c 'ss -ltn | grep -q 9443'
ip netns exec "$A" "$MESHGATE" up --state-dir "$MG_TMP/s5" --connect "$hang" >/dev/null 2>&1 &
upid=$!
bg_track $upid
sleep 0.5
cmdline=$(tr '\0' ' ' </proc/$upid/cmdline)
assert_contains "$cmdline" "meshgate up"
assert_not_contains "$cmdline" "$tok2" "token visible in argv"
assert_not_contains "$cmdline" "${hang:4:20}" "connection string visible in argv"
kill $upid $lpid 2>/dev/null || true

mg_log "no secret in any log line"
secret=$(jq -r .device_secret "$SD/device.json")
[ ${#secret} -ge 16 ] || mg_fail "no device secret stored"
for f in "$MG_TMP/ctl.log"; do
	if grep -qF "$secret" "$f"; then mg_fail "device secret in $f"; fi
	if grep -qF "$priv" "$f"; then mg_fail "private key in $f"; fi
	if grep -qF "$token" "$f"; then mg_fail "enrolment token in $f"; fi
done
st=$(nsx "$A" "$MESHGATE" status --state-dir "$SD")
assert_not_contains "$st" "$secret" "secret in status"
assert_not_contains "$st" "$priv" "private key in status"
st=$(nsx "$A" "$MESHGATE" status --json --state-dir "$SD")
assert_not_contains "$st" "$secret" "secret in status --json"
assert_not_contains "$st" "$priv" "private key in status --json"

mg_pass
