#!/usr/bin/env bash
# meshgate doctor (issue 17): each fault made in namespaces and seen reported with its
# id, severity and fix; --json is valid JSON with the same findings; exit codes 0/1/2;
# --fix repairs what is ours (forwarding, rp_filter, our table) and, once the others'
# faults are gone, a second run is clean. The cloud check against the fake EC2: the
# source/destination check on, and a missing permission named.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/topo.sh"
mg_setup doctor

topo_internet
topo_site a 192.0.2 10
na=$(topo_network site-a '"subnets":["192.0.2.0/24"],"access":[{"cidr":"192.0.2.0/24","mode":"full"}]')
topo_connector a "$na"
topo_wait_applied a
ping_ok "$C_a" 100.96.0.1 10 || mg_fail "no path to the hub through the tunnel"

mkdir -p "$MG_TMP/sysctl.d"
# doctor in the connector's namespace, with sysctl.d dirs of its own
doc() {
	nsx "$C_a" "$MESHGATE" doctor --state-dir "${DOC_STATE:-$STATE_a}" --sysctl-dirs "$MG_TMP/sysctl.d" \
		--sysctl-conf "$MG_TMP/no-sysctl.conf" --sysctl-dropin "$MG_TMP/sysctl-a.conf" \
		--cloud none --timeout 500 "$@"
}
# finding SEVERITY CHECK/ID [TEXT]: the JSON report in $J has it
J=""
run_json() {
	local rc=0
	J=$(doc --json "$@") || rc=$?
	python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["summary"]["exit_code"]==int(sys.argv[1]), d["summary"]' "$rc" <<<"$J" ||
		mg_fail "--json is not valid JSON or its exit code is not $rc: $J"
	DOC_RC=$rc
}
finding() {
	jq -e --arg s "$1" --arg c "${2%%/*}" --arg i "${2#*/}" --arg t "${3:-}" \
		'any(.findings[]; .severity==$s and .check==$c and .id==$i and ((.what+" "+.fix)|contains($t)))' <<<"$J" >/dev/null ||
		mg_fail "no $1 finding $2 ${3:+with '$3'}: $(jq -c '[.findings[]|select(.severity!="ok")]' <<<"$J")"
}

mg_log "a healthy connector: exit 0, every check ok"
run_json
[ "$DOC_RC" = 0 ] || mg_fail "healthy connector: exit $DOC_RC: $(jq -c '[.findings[]|select(.severity!="ok")]' <<<"$J")"
finding ok path/route-back "option 1"
finding ok path/mtu "1420"
finding ok path/mss-clamp
finding ok controller/handshake
finding ok controller/clock
out=$(doc) || mg_fail "text report: exit $?"
assert_contains "$out" "0 failures, 0 warnings"

mg_log "host faults, with the agent frozen (it would repair them within 500 ms)"
kill -STOP "$PID_a"
nsx "$C_a" sysctl -qw net.ipv4.ip_forward=0 net.ipv4.conf.all.rp_filter=1
printf '# an admin hardening file\nnet.ipv4.ip_forward = 0\n' >"$MG_TMP/sysctl.d/99-harden.conf"
mg_log "firewall faults: docker's and ufw's FORWARD policy DROP (iptables-nft style), firewalld's reject, a foreign drop rule"
nsx "$C_a" nft -f - <<NFT
table ip filter {
	chain DOCKER-USER { }
	chain FORWARD { type filter hook forward priority filter; policy drop; jump DOCKER-USER; }
}
table ip6 filter {
	chain ufw6-user-forward { }
	chain FORWARD { type filter hook forward priority filter; policy drop; jump ufw6-user-forward; }
}
table inet firewalld {
	chain filter_FORWARD { type filter hook forward priority filter + 10; policy accept; ct state established,related accept; reject with icmpx admin-prohibited; }
}
table inet foreign {
	chain fw { type filter hook forward priority 10; policy accept; ct state invalid drop; iifname "$IF_a" counter drop; }
}
NFT
mg_log "path faults: no route back on the LAN router, a hop that drops big packets"
ip -n "$R_a" route del 100.96.0.0/11
nsx "$R_a" nft add table inet mtu
nsx "$R_a" nft add chain inet mtu f '{ type filter hook forward priority 0; policy accept; }'
nsx "$R_a" nft add rule inet mtu f meta length gt 1400 drop
# the handshake is stale for --handshake-max-age 1 once it is 2 s old or more
_hs_old() {
	local t
	t=$(nsx "$C_a" wg show "$IF_a" latest-handshakes | awk '{ print $2 }')
	[ -n "$t" ] && [ "$t" -gt 0 ] && [ $(($(date +%s) - t)) -ge 3 ]
}
wait_until 10 _hs_old || mg_fail "no handshake 3 s old: $(nsx "$C_a" wg show "$IF_a" 2>&1)"
run_json --handshake-max-age 1
[ "$DOC_RC" = 2 ] || mg_fail "faults: exit $DOC_RC, not 2"
finding fail host/ip-forwarding "sysctl -w net.ipv4.ip_forward=1"
finding warn host/sysctl-override "$MG_TMP/sysctl.d/99-harden.conf:2 sets net.ipv4.ip_forward = 0"
finding fail host/rp-filter "net.ipv4.conf.all.rp_filter=2"
finding fail firewall/foreign-policy "DOCKER-USER"
finding fail firewall/foreign-policy "ufw route allow in on $IF_a"
finding fail firewall/foreign-rule "inet foreign fw"
finding fail firewall/foreign-rule "firewall-cmd --permanent --zone=trusted --add-interface=$IF_a"
finding fail path/route-back "ip route add 100.96.0.0/11 via 192.0.2.2"
finding fail path/mtu "mtu 13"
finding fail controller/handshake "s ago"
if jq -e 'any(.findings[]; .id=="foreign-rule" and (.what|contains("some packets")))' <<<"$J" >/dev/null; then
	mg_fail "ct state invalid drop reported as a mesh drop"
fi
out=$(doc --handshake-max-age 1) && mg_fail "text report: exit 0 with failures"
for g in FAIL WARN OK; do assert_contains "$out" "$g ("; done
[ "$(grep -n '^FAIL (' <<<"$out" | cut -d: -f1)" -lt "$(grep -n '^WARN (' <<<"$out" | cut -d: -f1)" ] || mg_fail "FAIL not first"

ip -n "$R_a" route add 100.96.0.0/11 via 192.0.2.2
nsx "$R_a" nft delete table inet mtu

mg_log "a handshake that never completed: the hub peer set anew, UDP to the hub dropped"
hub_port=$(nsx "$C_a" wg show "$IF_a" endpoints | awk '{ sub(/.*:/, "", $2); print $2 }')
[ -n "$hub_port" ] || mg_fail "no hub endpoint: $(nsx "$C_a" wg show "$IF_a" 2>&1)"
nsx "$C_a" nft add table inet hsblk
nsx "$C_a" nft add chain inet hsblk out '{ type filter hook output priority 0; policy accept; }'
nsx "$C_a" nft add rule inet hsblk out udp dport "$hub_port" drop
nsx "$C_a" wg showconf "$IF_a" >"$MG_TMP/wg.conf"
nsx "$C_a" wg setconf "$IF_a" "$MG_TMP/wg.conf" # peers replaced: no handshake yet
run_json --handshake-max-age 1
finding fail controller/handshake "let UDP to"
jq -e 'any(.findings[]; .id=="handshake" and (.what|contains("ever completed")))' <<<"$J" >/dev/null ||
	mg_fail "not a never-completed handshake: $(jq -c '.findings[]|select(.id=="handshake")' <<<"$J")"
nsx "$C_a" nft delete table inet hsblk

mg_log "controller faults: unreachable, wrong pin (a copy of the state with one field changed)"
cp -a "$STATE_a" "$MG_TMP/st2"
jq '.controller_url="https://203.0.113.1:9"' "$STATE_a/device.json" >"$MG_TMP/st2/device.json"
DOC_STATE=$MG_TMP/st2 run_json
finding fail controller/reachable "cannot be reached"
jq '.pin="sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="' "$STATE_a/device.json" >"$MG_TMP/st2/device.json"
DOC_STATE=$MG_TMP/st2 run_json
finding fail controller/pin "not the pinned one"

mg_log "clock skew: a controller whose Date header is 10 minutes ahead"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=skew \
	-keyout "$MG_TMP/skew.key" -out "$MG_TMP/skew.crt" 2>/dev/null || mg_fail "openssl req"
skew_pin="sha256//$(openssl x509 -in "$MG_TMP/skew.crt" -pubkey -noout | openssl pkey -pubin -outform der |
	openssl dgst -sha256 -binary | base64)"
cat >"$MG_TMP/skew.py" <<'PY'
import http.server, ssl, sys, time, email.utils
class H(http.server.BaseHTTPRequestHandler):
    def date_time_string(self, timestamp=None):
        return email.utils.formatdate(time.time() + 600, usegmt=True)
    def do_GET(self):
        self.send_response(404); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
s = http.server.HTTPServer(("203.0.113.1", 9443), H)
c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); c.load_cert_chain(sys.argv[1], sys.argv[2])
s.socket = c.wrap_socket(s.socket, server_side=True)
open(sys.argv[3], "w").write("up")
s.serve_forever()
PY
bg_start "$INET" "$MG_TMP/skew.log" /usr/bin/python3 "$MG_TMP/skew.py" "$MG_TMP/skew.crt" "$MG_TMP/skew.key" "$MG_TMP/skew.up"
wait_until 10 test -s "$MG_TMP/skew.up" || mg_fail "skewed server: $(cat "$MG_TMP/skew.log")"
jq --arg p "$skew_pin" '.controller_url="https://203.0.113.1:9443" | .pin=$p' "$STATE_a/device.json" >"$MG_TMP/st2/device.json"
DOC_STATE=$MG_TMP/st2 run_json
finding fail controller/clock "timedatectl set-ntp true"
jq -e 'any(.findings[]; .id=="clock" and (.what|test("is 59[0-9] s|is 60[0-9] s")))' <<<"$J" >/dev/null ||
	mg_fail "skew not measured: $(jq -c '.findings[]|select(.id=="clock")' <<<"$J")"

mg_log "--fix repairs ours only: forwarding, rp_filter, our table"
nsx "$C_a" nft delete table inet meshgate
run_json
finding fail firewall/table "missing"
J=$(doc --fix --json 2>"$MG_TMP/fix.err") && mg_fail "--fix: exit 0 with the others' faults left"
finding ok host/ip-forwarding
finding ok host/rp-filter
finding ok firewall/table
finding fail firewall/foreign-policy
finding warn host/sysctl-override
grep -q "sysctl values\? set" "$MG_TMP/fix.err" || mg_fail "--fix said nothing: $(cat "$MG_TMP/fix.err")"
[ "$(nsx "$C_a" sysctl -n net.ipv4.ip_forward)" = 1 ] || mg_fail "forwarding not repaired"
nsx "$C_a" nft list table ip filter >/dev/null || mg_fail "--fix touched a foreign table"

mg_log "the others' faults removed: a second run is clean"
rm "$MG_TMP/sysctl.d/99-harden.conf"
nsx "$C_a" nft delete table ip filter
nsx "$C_a" nft delete table inet foreign
nsx "$C_a" nft delete table inet firewalld
nsx "$C_a" nft delete table ip6 filter
kill -CONT "$PID_a"
ping_ok "$C_a" 100.96.0.1 10 || mg_fail "the tunnel did not come back"
run_json
[ "$DOC_RC" = 0 ] || mg_fail "after the repairs: exit $DOC_RC: $(jq -c '[.findings[]|select(.severity!="ok")]' <<<"$J")"

mg_log "cloud: the fake EC2 (an instance that is not enrolled: only the cloud findings matter)"
FAKE=$MG_SRC/tests/fake/aws
V=$(ns_add vpc)
CV=$(ns_add cv)
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
fake() { nsx "$V" curl -s -X POST -d "$2" "http://127.0.0.1:8799$1" >/dev/null; }
cdoc() {
	local rc=0
	J=$(nsx "$CV" "$MESHGATE" doctor --json --state-dir "$MG_TMP/cv-state" --cloud aws \
		--cloud-metadata http://169.254.169.254 --cloud-api https://198.18.1.1 \
		--cloud-ca-file "$MG_TMP/fake/ca.pem" --timeout 2000) || rc=$?
	[ $rc = 2 ] || mg_fail "not enrolled, yet exit $rc"
}
cdoc
finding fail cloud/forwarding "--network-interface-id eni-0c0000000000000a1 --no-source-dest-check"
finding ok cloud/routes-readable
fake /deny '{"action":"DescribeNetworkInterfaceAttribute"}'
fake /deny '{"action":"DescribeRouteTables"}'
cdoc
finding fail cloud/permission "ec2:DescribeNetworkInterfaceAttribute"
finding fail cloud/permission "ec2:DescribeRouteTables"
fake /reset '{}'
fake /eni/source-dest-check '{"eni":"eni-0c0000000000000a1","enabled":false}'
cdoc
finding ok cloud/forwarding
mg_pass
