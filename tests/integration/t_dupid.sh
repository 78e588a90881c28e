#!/usr/bin/env bash
# One identity, one host (issue 15, "Duplicate identity"): a connector's state directory
# copied to a second host (a cloned VM image started at another site) is refused by the
# controller with a message naming the first host, the admin API flags the conflict, the
# copy never brings its tunnel up, and the original keeps its traffic (a remote user
# pinging the site every 100 ms loses nothing). A controller restart keeps the holder
# (the copy is still refused); once the original is gone for good, the copy is admitted.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/topo.sh"
mg_setup dupid

LIVE=2 # --identity-live-s: the holder counts as present this long after a request
topo_internet --identity-live-s "$LIVE"
topo_site a 192.0.2 10
topo_site k 198.51.100 20 # where the clone runs: another site, another public address
na=$(topo_network site-a '"subnets":["192.0.2.0/24"],"access":[{"cidr":"192.0.2.0/24","mode":"full"}]')

# run_host SITE HOSTNAME: the agent of SITE on a host named HOSTNAME: its own UTS
# namespace and its own /var/run/wireguard (userspace WireGuard's control sockets are
# not per network namespace; two hosts never share them)
run_host() {
	local site=$1 name=$2 c sd
	eval "c=\$C_$site sd=\$STATE_$site"
	bg_start "$c" "$MG_TMP/run-$site.log" unshare --uts --mount sh -c \
		'hostname "$0" && mkdir -p /var/run/wireguard && mount -t tmpfs -o mode=0700 none /var/run/wireguard && exec "$@"' \
		"$name" "$MESHGATE" run --state-dir "$sd" --sysctl-dropin "$MG_TMP/sysctl-$site.conf" \
		--log-level debug
	eval "PID_$site=$BG_PID"
}
stop_pid() {
	kill -TERM "$1" 2>/dev/null || true
	wait_until 10 sh -c "! kill -0 $1 2>/dev/null" || mg_fail "pid $1 did not stop"
}

out=$(api "$INET" POST "/api/v1/networks/$na/connectors" '{"name":"site-a"}')
[ "$(api_st)" = 201 ] || mg_fail "create connector: $out"
cid=$(jq -r .id <<<"$out")
jq -r .connection_string <<<"$out" >"$MG_TMP/cs-a"
STATE_a=$MG_TMP/state-a IF_a=mg${MG_ID}a
nsx "$C_a" unshare --uts sh -c 'hostname site-a-host && exec "$@"' sh "$MESHGATE" up \
	--state-dir "$STATE_a" --connect-file "$MG_TMP/cs-a" --ifname "$IF_a" >"$MG_TMP/up-a.log" 2>&1 ||
	mg_fail "up: $(cat "$MG_TMP/up-a.log")"
run_host a site-a-host
topo_wait_applied a
topo_user alice
ping_ok "$U_NS" 192.0.2.10 10 || mg_fail "user cannot reach the site"
conn() { api "$INET" GET "/api/v1/connectors/$cid"; }
assert_eq "$(conn | jq -r .host.name)" site-a-host "the holder in the admin API"
assert_eq "$(conn | jq -r .identity_conflict)" null "no conflict yet"
sec=$(jq -r .device_secret "$STATE_a/device.json")
code=$(nsx "$INET" curl -sk --pinnedpubkey "$CTL_PIN" -o /dev/null -w '%{http_code}' \
	-H "Authorization: Bearer $sec" -H "Meshgate-Host-Id: 0123456789ABCDEF0123456789ABCDEF" \
	"$CTL_URL/api/v1/device/config?wait=0")
assert_eq "$code" 400 "a malformed host id"

mg_log "a copy of the identity on a second host is refused; the original keeps its traffic"
# probes every 100 ms from before the clone starts until 12 answers after its refusal
bg_start "$U_NS" "$MG_TMP/probe.log" ping -n -i 0.1 -W 2 192.0.2.10
PROBE=$BG_PID
answers() { grep -c 'bytes from' "$MG_TMP/probe.log" || true; }
wait_until 10 sh -c "[ \$(grep -c 'bytes from' $MG_TMP/probe.log) -ge 3 ]" || mg_fail "probes: $(cat "$MG_TMP/probe.log")"
STATE_k=$MG_TMP/state-k
cp -a "$STATE_a" "$STATE_k"
run_host k clone-host
_refused() { grep -q "identity refused" "$MG_TMP/run-k.log"; }
wait_until 15 _refused || mg_fail "the clone was not refused: $(tail "$MG_TMP/run-k.log")"
n0=$(answers)
wait_until 10 sh -c "[ \$(grep -c 'bytes from' $MG_TMP/probe.log) -ge $((n0 + 12)) ]" ||
	mg_fail "probes stopped after the clone's refusal: $(tail "$MG_TMP/probe.log")"
kill -INT "$PROBE"
wait_until 5 sh -c "! kill -0 $PROBE 2>/dev/null"
# lost = sequence numbers below the last answered one that got no answer
seqs=$(sed -n 's/.*icmp_seq=\([0-9]*\) .*/\1/p' "$MG_TMP/probe.log" | grep -v DUP | sort -un)
max=$(tail -n1 <<<"$seqs")
got=$(wc -l <<<"$seqs")
mg_log "probes during the clone's life: $max sent, $((max - got)) lost"
[ "$max" -ge 12 ] || mg_fail "too few probes ($max)"
assert_eq "$((max - got))" 0 "probes lost while the clone ran (log: $(grep -v 'bytes from' "$MG_TMP/probe.log"))"

line=$(grep "identity refused" "$MG_TMP/run-k.log" | tail -n1)
assert_contains "$line" 'host "site-a-host"' "the clone's log names the first host"
assert_contains "$line" "203.0.113.10" "the clone's log names the first host's address"
assert_contains "$line" "meshgate down" "the clone's log says what to do"
nsx "$C_k" ip link show "$IF_a" >/dev/null 2>&1 && mg_fail "the clone brought its tunnel up"
[ -z "$(nsx "$C_k" ip route show proto 109)" ] || mg_fail "the clone installed routes"
assert_contains "$(jq -r .last_error "$STATE_k/status.json")" "site-a-host" "the clone's status.json"
assert_eq "$(jq -r .applied_version "$STATE_k/status.json")" null "the clone's applied version"
st=$(nsx "$C_k" "$MESHGATE" status --state-dir "$STATE_k" 2>&1 || true)
assert_contains "$st" "in use by host" "meshgate status on the clone"
kill -0 "$PID_k" || mg_fail "the clone stopped instead of retrying"
c=$(conn)
assert_eq "$(jq -r .host.name <<<"$c")" site-a-host "the holder after the clone's attempt"
assert_eq "$(jq -r .identity_conflict.name <<<"$c")" clone-host "the conflict in the admin API ($c)"
assert_eq "$(jq -r .identity_conflict.address <<<"$c")" 203.0.113.20 "the clone's address"
[ "$(jq -r .identity_conflict.count <<<"$c")" -ge 1 ] || mg_fail "conflict count: $c"
grep -q 'presents the identity held by host "site-a-host"' "$CTL_DIR.log" ||
	mg_fail "the controller did not log the conflict"
# meshgate doctor on the clone (its host: same network namespace, same host name) says why
dj=$(nsx "$C_k" unshare --uts sh -c 'hostname clone-host && exec "$@"' sh "$MESHGATE" doctor \
	--json --state-dir "$STATE_k" --cloud none --timeout 500 || true)
jq -e 'any(.findings[]; .severity=="fail" and .check=="controller" and .id=="identity" and
	(.what|contains("site-a-host")) and (.fix|contains("meshgate down --forget")))' <<<"$dj" >/dev/null ||
	mg_fail "doctor on the clone has no controller/identity finding: $(jq -c '[.findings[]?|select(.severity!="ok")]' <<<"$dj" 2>&1)"

mg_log "a copy started out of the controller's reach takes the hub peer until refused; the controller puts it back"
# what the startup rule cannot prevent: no controller answer, so the copy applies its last
# good config and its handshake moves the hub's endpoint for the connector to itself
stop_pid "$PID_k"
key=$(conn | jq -r .public_key)
hub_ep() { nsx "$INET" wg show "$HUB_IF" endpoints | awk -v k="$key" '$1 == k {print $2}'; }
nsx "$R_k" nft add table ip blk
nsx "$R_k" nft add chain ip blk gate '{ type filter hook forward priority 0; policy accept; }'
nsx "$R_k" nft add rule ip blk gate ip daddr 203.0.113.1 tcp dport 8443 reject with tcp reset
: >"$MG_TMP/run-k.log"
bg_start "$U_NS" "$MG_TMP/probe2.log" ping -n -i 0.1 -W 1 192.0.2.10
PROBE=$BG_PID
run_host k clone-host
_stolen() { case "$(hub_ep)" in 203.0.113.20:*) ;; *) return 1 ;; esac; }
wait_until 15 _stolen || mg_fail "the copy never took the hub's endpoint: $(hub_ep) $(tail "$MG_TMP/run-k.log")"
nsx "$R_k" nft delete table ip blk
wait_until 20 _refused || mg_fail "the copy was not refused: $(tail "$MG_TMP/run-k.log")"
t_ref=$(now_ms)
n0=$(grep -c 'bytes from' "$MG_TMP/probe2.log" || true)
_back() { case "$(hub_ep)" in 203.0.113.10:*) ;; *) return 1 ;; esac; }
wait_until 10 _back || mg_fail "the hub's endpoint was not put back: $(hub_ep) $(tail -3 "$CTL_DIR.log")"
wait_until 10 sh -c "[ \$(grep -c 'bytes from' $MG_TMP/probe2.log) -gt $n0 ]" ||
	mg_fail "the original's traffic did not come back: $(hub_ep)"
mg_log "traffic back $(($(now_ms) - t_ref)) ms after the refusal"
kill -INT "$PROBE"
wait_until 5 sh -c "! kill -0 $PROBE 2>/dev/null"
seqs=$(sed -n 's/.*icmp_seq=\([0-9]*\) .*/\1/p' "$MG_TMP/probe2.log" | grep -v DUP | sort -un)
mg_log "probes lost while the copy held the hub peer: $(($(tail -n1 <<<"$seqs") - $(wc -l <<<"$seqs"))) of $(tail -n1 <<<"$seqs")"
grep -q "had taken the hub's endpoint" "$CTL_DIR.log" || mg_fail "the controller did not log the endpoint repair"
nsx "$C_k" ip link show "$IF_a" >/dev/null 2>&1 && mg_fail "the refused copy kept its tunnel"

mg_log "a controller restart keeps the holder: the clone is refused in the grace period"
kill -STOP "$PID_a" # the original cannot come back first
stop_pid "$PID_k"
stop_pid "$CTL_PID"
ctl_start "$INET" "$MG_TMP/ctl" 203.0.113.1 8443 --hub-ifname "$HUB_IF" \
	--hub-endpoint 203.0.113.1:51820 --identity-live-s "$LIVE"
: >"$MG_TMP/run-k.log"
run_host k clone-host
wait_until 15 _refused || { kill -CONT "$PID_a"; mg_fail "the clone was admitted after a controller restart: $(tail "$MG_TMP/run-k.log")"; }
assert_contains "$(grep "identity refused" "$MG_TMP/run-k.log")" "grace period" "refused for the grace period"
kill -CONT "$PID_a"
_holder_back() { [ "$(conn | jq -r '.host.seen_ago_ms // 99999')" -lt 1500 ]; }
wait_until 15 _holder_back || mg_fail "the original did not come back: $(tail "$MG_TMP/run-a.log")"
ping_ok "$U_NS" 192.0.2.10 10 || mg_fail "the original lost its traffic after the restart"
nsx "$C_k" ip link show "$IF_a" >/dev/null 2>&1 && mg_fail "the clone brought its tunnel up"

mg_log "the original gone for good: the copy is admitted (a host legitimately replaced)"
stop_pid "$PID_k"
stop_pid "$PID_a"
_gone() { [ "$(conn | jq -r '.host.seen_ago_ms // 0')" -gt $((LIVE * 1000)) ]; }
wait_until $((LIVE + 10)) _gone || mg_fail "holder still seen: $(conn)"
: >"$MG_TMP/run-k.log"
run_host k clone-host
wait_until 15 grep -q "config version [0-9]* applied" "$MG_TMP/run-k.log" ||
	mg_fail "the replacement did not apply its config: $(tail "$MG_TMP/run-k.log")"
grep -q "identity refused" "$MG_TMP/run-k.log" && mg_fail "the replacement was refused"
c=$(conn)
assert_eq "$(jq -r .host.name <<<"$c")" clone-host "the new holder"
assert_eq "$(jq -r .identity_conflict <<<"$c")" null "no conflict once the clone took over"
grep -q 'host "clone-host" (203.0.113.20) takes over from host "site-a-host"' "$CTL_DIR.log" ||
	mg_fail "the controller did not log the takeover"
_hs() { [ "$(jq -r ".daemon.tunnel.last_handshake // 0" "$STATE_k/status.json")" -gt 0 ]; }
wait_until 10 _hs || mg_fail "the replacement has no handshake with the hub"
stop_pid "$PID_k"
mg_pass
