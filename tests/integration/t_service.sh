#!/usr/bin/env bash
# What the systemd service relies on (issue 6): the notify protocol (no READY=1 while
# there is no config; READY=1 once, and only when the tunnel, its routes and the
# firewall table exist; STATUS= lines; watchdog pings from the loop; STOPPING=1),
# `meshgate cleanup` after an unclean stop (ExecStopPost), and the `meshgate check`
# preflight against a live controller, a wrong pin, a dead address and a revocation.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/topo.sh"
mg_setup service

topo_internet
topo_site a 192.0.2 10
na=$(topo_network site-a '"subnets":["192.0.2.0/24"],"access":[{"cidr":"192.0.2.0/24","mode":"full"}]')
out=$(api "$INET" POST "/api/v1/networks/$na/connectors" '{"name":"site-a"}')
[ "$(api_st)" = 201 ] || mg_fail "create connector: $out"
cid=$(jq -r .id <<<"$out")
jq -r .connection_string <<<"$out" >"$MG_TMP/cs"
chmod 600 "$MG_TMP/cs"
STATE_a=$MG_TMP/state-a
IF_a="mg${MG_ID}a"

mg_log "check: a fresh host with a connection string"
chk=$(nsx "$C_a" "$MESHGATE" check --connect-file "$MG_TMP/cs" --state-dir "$STATE_a") ||
	mg_fail "check failed on a good host: $chk"
assert_contains "$chk" "ok    controller  $CTL_URL reachable, pin verified"
assert_contains "$chk" "ok    nftables"
assert_contains "$chk" "ok    wireguard"
# the token was not spent: enrolment still works afterwards
nsx "$C_a" "$MESHGATE" up --state-dir "$STATE_a" --connect-file "$MG_TMP/cs" --ifname "$IF_a" \
	>"$MG_TMP/up.log" 2>&1 || mg_fail "up after check: $(cat "$MG_TMP/up.log")"

mg_log "check: wrong pin, nothing listening, and the enrolled identity"
python3 - "$MG_TMP/cs" "$MG_TMP/cs-badpin" "$MG_TMP/cs-dead" <<'PY'
import base64, json, sys
s = open(sys.argv[1]).read().strip()
body = s[4:] + "=" * (-len(s[4:]) % 4)
d = json.loads(base64.urlsafe_b64decode(body))
def enc(x):
    return "mg1:" + base64.urlsafe_b64encode(json.dumps(x).encode()).decode().rstrip("=")
bad = dict(d, pin="sha256//" + base64.b64encode(b"\x01" * 32).decode())
dead = dict(d, url="https://203.0.113.1:9")
open(sys.argv[2], "w").write(enc(bad))
open(sys.argv[3], "w").write(enc(dead))
PY
set +e
chk=$(nsx "$C_a" "$MESHGATE" check --connect-file "$MG_TMP/cs-badpin" --timeout 3); rc=$?
set -e
assert_eq "$rc" 1 "check exit status with a wrong pin"
assert_contains "$chk" "FAIL  controller"
assert_contains "$(grep controller <<<"$chk")" "pin"
set +e
chk=$(nsx "$C_a" "$MESHGATE" check --connect-file "$MG_TMP/cs-dead" --timeout 3 --json); rc=$?
set -e
assert_eq "$rc" 1 "check exit status with nothing listening"
assert_eq "$(jq -r '.checks[] | select(.name=="controller") | .result' <<<"$chk")" fail "controller check"
assert_contains "$(jq -r '.checks[] | select(.name=="controller") | .detail' <<<"$chk")" "203.0.113.1:9"
assert_eq "$(jq -r .ok <<<"$chk")" false "json ok"
chk=$(nsx "$C_a" "$MESHGATE" check --state-dir "$STATE_a") || mg_fail "check with the identity: $chk"
assert_contains "$chk" "credentials accepted"

mg_log "notify: no READY=1 while there is no config (controller down)"
kill -TERM "$CTL_PID"
wait_until 10 test -s "$MG_TMP/ctl.log.rc" || mg_fail "controller did not stop"
SOCK=$MG_TMP/notify.sock
NLOG=$MG_TMP/notify.log
bg_start "$C_a" "$MG_TMP/sink.log" python3 "$MG_SRC/tests/tools/notify_sink.py" "$SOCK" "$NLOG" "$IF_a"
wait_until 15 test -S "$SOCK" || mg_fail "notify sink did not start: $(cat "$MG_TMP/sink.log")"
bg_start "$C_a" "$MG_TMP/run-a.log" env NOTIFY_SOCKET="$SOCK" WATCHDOG_USEC=1000000 \
	"$MESHGATE" run --state-dir "$STATE_a" --sysctl-dropin "$MG_TMP/sysctl-a.conf" \
	--cloud none --log-level debug
PID_a=$BG_PID
sleep 3
grep -q "STATUS=waiting for the first config from $CTL_URL" "$NLOG" ||
	mg_fail "no 'waiting' status: $(cat "$NLOG")"
if grep -q "READY=1" "$NLOG"; then mg_fail "READY=1 without a config: $(cat "$NLOG")"; fi
wd=$(grep -c "WATCHDOG=1" "$NLOG" || true)
mg_log "watchdog pings in 3 s with WatchdogSec=1s: $wd"
[ "$wd" -ge 4 ] || mg_fail "too few watchdog pings ($wd): $(cat "$NLOG")"

mg_log "notify: READY=1 once the tunnel, routes and firewall exist"
ctl_start "$INET" "$MG_TMP/ctl" 203.0.113.1 8443 --hub-ifname "$HUB_IF" --hub-endpoint 203.0.113.1:51820
_ready() { grep -q "READY=1" "$NLOG"; }
wait_until 40 _ready || mg_fail "no READY=1 after the controller came back: $(cat "$NLOG"; tail -5 "$MG_TMP/run-a.log")"
line=$(grep "READY=1" "$NLOG")
mg_log "at READY: $line"
assert_contains "$line" "fw=1" "firewall table at READY"
assert_contains "$line" "link=1" "tunnel at READY"
routes=$(sed -n 's/.*routes=\([0-9]*\).*/\1/p' <<<"$line")
[ "$routes" -ge 1 ] || mg_fail "no routes at READY: $line"
assert_contains "$line" "STATUS=config v"
assert_eq "$(grep -c "READY=1" "$NLOG")" 1 "READY=1 sent once"
# the order: waiting ... READY
wline=$(grep -n "STATUS=waiting" "$NLOG" | head -1 | cut -d: -f1)
rline=$(grep -n "READY=1" "$NLOG" | cut -d: -f1)
[ "$wline" -lt "$rline" ] || mg_fail "READY before the waiting status: $(cat "$NLOG")"

mg_log "notify: STATUS follows a config change"
v0=$(jq -r .applied_version "$STATE_a/status.json")
api "$INET" PATCH "/api/v1/networks/$na" '{"subnets":["192.0.2.0/24","198.18.0.0/24"]}' >/dev/null
_newv() { grep "STATUS=config v" "$NLOG" | tail -1 | grep -vq "config v$v0 "; }
wait_until 5 _newv || mg_fail "STATUS did not follow the new config: $(tail -5 "$NLOG")"
mg_log "status now: $(grep "STATUS=config v" "$NLOG" | tail -1)"

mg_log "notify: STOPPING=1 on SIGTERM, clean exit"
kill -TERM "$PID_a"
assert_eq "$(bg_wait "$MG_TMP/run-a.log" 10)" 0 "exit status after SIGTERM"
grep -q "STOPPING=1" "$NLOG" || mg_fail "no STOPPING=1: $(tail -5 "$NLOG")"
out=$(nsx "$C_a" "$MESHGATE" cleanup --state-dir "$STATE_a")
assert_contains "$out" "Nothing to clean up: the daemon stopped cleanly"

mg_log "cleanup after kill -9: tunnel, routes and table removed; refused while running"
topo_run a --cloud none
topo_wait_applied a
wait_until 10 nsx "$C_a" nft list table inet meshgate || mg_fail "no table"
set +e
out=$(nsx "$C_a" "$MESHGATE" cleanup --state-dir "$STATE_a" 2>&1); rc=$?
set -e
assert_eq "$rc" 1 "cleanup while the daemon runs"
assert_contains "$out" "another meshgate process holds"
nsx "$C_a" ip link show "$IF_a" >/dev/null || mg_fail "cleanup touched a running daemon's tunnel"
kill -9 "$PID_a"
wait_until 5 test -s "$MG_TMP/run-a.log.rc"
[ -n "$(nsx "$C_a" ip route show proto 109)" ] || mg_fail "routes gone before cleanup (test premise)"
out=$(nsx "$C_a" "$MESHGATE" cleanup --state-dir "$STATE_a" 2>&1) || mg_fail "cleanup: $out"
assert_contains "$out" "Cleaned up after an unclean stop"
_gone() { ! nsx "$C_a" ip link show "$IF_a"; }
wait_until 5 _gone || mg_fail "tunnel left after cleanup"
assert_eq "$(nsx "$C_a" ip route show proto 109)" "" "routes after cleanup"
if nsx "$C_a" nft list table inet meshgate >/dev/null 2>&1; then mg_fail "table left after cleanup"; fi
assert_eq "$(nsx "$C_a" cat /proc/sys/net/ipv4/ip_forward)" 1 "sysctls stay after cleanup"
out=$(nsx "$C_a" "$MESHGATE" cleanup --state-dir "$STATE_a")
assert_contains "$out" "Nothing to clean up"

mg_log "check: a revoked connector is named as such"
api "$INET" DELETE "/api/v1/connectors/$cid" >/dev/null
set +e
chk=$(nsx "$C_a" "$MESHGATE" check --state-dir "$STATE_a"); rc=$?
set -e
assert_eq "$rc" 1 "check after revocation"
assert_contains "$chk" "revoked this connector"
mg_pass
