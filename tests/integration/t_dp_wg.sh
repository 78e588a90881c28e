#!/usr/bin/env bash
# Dataplane library end to end: two namespaces joined by a veth, each brings up a
# WireGuard interface through lib/wg (auto mode: no kernel module here, so the
# userspace fallback), addresses and routes through lib/rtnl; ping crosses the
# tunnel; routes tagged with the meshgate protocol are reconciled (no-op re-apply,
# single delete, wrong-oif replace, foreign routes untouched); stats read back;
# the monitor sees our route; teardown removes link, socket and daemon.
source "$(dirname "$0")/lib.sh"
mg_setup dp_wg

DPT=$MG_TOOLS/mg_dptool
[ -x "$DPT" ] || mg_fail "no $DPT (build first)"
command -v wg >/dev/null || { echo "wg (wireguard-tools) missing" >&2; exit 77; }
command -v wireguard-go >/dev/null || { echo "wireguard-go missing" >&2; exit 77; }
PROTO=109 # RTPROT_MESHGATE in lib/rtnl.h

A=$(ns_add a)
B=$(ns_add b)
IFA="mgd${MG_ID}a"
IFB="mgd${MG_ID}b"
PIDS=()

dp_cleanup() {
	set +e
	nsx "$A" "$DPT" wg-down "$IFA" 2>/dev/null
	nsx "$B" "$DPT" wg-down "$IFB" 2>/dev/null
	rm -f "/var/run/wireguard/$IFA.sock" "/var/run/wireguard/$IFB.sock"
}
trap 'rc=$?; dp_cleanup; (exit $rc); mg_cleanup' EXIT

veth "$A" va "$B" vb
ip -n "$A" addr add 198.51.100.1/24 dev va
ip -n "$B" addr add 198.51.100.2/24 dev vb

(umask 077 && wg genkey >"$MG_TMP/a.key" && wg genkey >"$MG_TMP/b.key")
PUBA=$(wg pubkey <"$MG_TMP/a.key")
PUBB=$(wg pubkey <"$MG_TMP/b.key")

for side in A B; do
	if [ $side = A ]; then ns=$A ifn=$IFA key=a addr=100.96.0.1/11; else ns=$B ifn=$IFB key=b addr=100.96.0.2/11; fi
	# the daemon inherits stderr: keep it in a file, not in ctest's pipe
	out=$(nsx "$ns" "$DPT" wg-up "$ifn" "$MG_TMP/$key.key" 51820 "$addr" 2>>"$MG_TMP/wg-$key.log") ||
		mg_fail "wg-up $ifn: $out $(cat "$MG_TMP/wg-$key.log")"
	assert_contains "$out" "backend=userspace" "auto mode must fall back to userspace"
	pid=$(sed -n 's/.*pid=\([0-9]*\).*/\1/p' <<<"$out")
	[ -n "$pid" ] && [ "$pid" -gt 0 ] || mg_fail "no daemon pid in: $out"
	bg_track "$pid"
	PIDS+=("$pid")
	# the tunnel address is there, without a prefix route
	a=$(ip -n "$ns" -j addr show dev "$ifn" | jq -r '.[0].addr_info[] | select(.family=="inet") | "\(.local)/\(.prefixlen)"')
	assert_eq "$a" "$addr" "address on $ifn"
	assert_eq "$(ip -n "$ns" route show dev "$ifn" | wc -l)" "0" "noprefixroute: no kernel route on $ifn"
done
[ -S "/var/run/wireguard/$IFA.sock" ] || mg_fail "no UAPI socket for $IFA"

nsx "$A" "$DPT" peer "$IFA" "$PUBB" 198.51.100.2:51820 0 100.96.0.2/32 192.0.2.0/24 >/dev/null
nsx "$B" "$DPT" peer "$IFB" "$PUBA" 198.51.100.1:51820 0 100.96.0.1/32 >/dev/null
# read back through wg(8), an independent UAPI reader
assert_contains "$(nsx "$A" wg show "$IFA" allowed-ips)" "100.96.0.2/32 192.0.2.0/24" "allowed IPs on $IFA"
assert_eq "$(nsx "$A" wg show "$IFA" listen-port)" "51820" "listen port"

# a foreign route on the tunnel (another protocol) that we must never touch
ip -n "$A" route add 198.18.0.0/24 dev "$IFA" proto static
# one of ours on the wrong oif: must be moved onto the tunnel
ip -n "$A" route add 203.0.113.0/24 dev lo proto $PROTO

# monitor: watch events while routes are applied
bg_start "$A" "$MG_TMP/mon.log" "$DPT" monitor 4000
MON=$BG_PID
wait_until 5 grep -q ready "$MG_TMP/mon.log" || mg_fail "monitor did not start"

out=$(nsx "$A" "$DPT" routes-apply "$IFA" $PROTO 100.96.0.0/11 192.0.2.0/24 203.0.113.0/24)
assert_eq "$out" "add 3 del 0" "first apply"
out=$(nsx "$B" "$DPT" routes-apply "$IFB" $PROTO 100.96.0.0/11)
assert_eq "$out" "add 1 del 0" "first apply on B"

ours() { ip -n "$A" -j route show proto $PROTO | jq -r '.[] | "\(.dst) \(.dev)"' | sort | tr '\n' ';'; }
assert_eq "$(ours)" "100.96.0.0/11 $IFA;192.0.2.0/24 $IFA;203.0.113.0/24 $IFA;" "routes after apply"

wait_until 5 grep -q "route-new .* prefix 192.0.2.0/24 proto $PROTO" "$MG_TMP/mon.log" ||
	mg_fail "monitor did not report our route: $(cat "$MG_TMP/mon.log")"

# traffic through the tunnel
nsx "$A" ping -c 3 -i 0.2 -W 2 100.96.0.2 >/dev/null || mg_fail "ping across the tunnel failed"

# re-apply the same set: nothing to do, nothing changes
before=$(ours)
out=$(nsx "$A" "$DPT" routes-apply "$IFA" $PROTO 100.96.0.0/11 192.0.2.0/24 203.0.113.0/24)
assert_eq "$out" "add 0 del 0" "re-apply is a no-op"
assert_eq "$(ours)" "$before" "routes unchanged by re-apply"

# drop one from the desired set: exactly that one goes
out=$(nsx "$A" "$DPT" routes-apply "$IFA" $PROTO 100.96.0.0/11 203.0.113.0/24)
assert_eq "$out" "add 0 del 1" "removing one route"
assert_eq "$(ours)" "100.96.0.0/11 $IFA;203.0.113.0/24 $IFA;" "routes after removal"
assert_contains "$(ip -n "$A" route show proto static)" "198.18.0.0/24 dev $IFA" "foreign route kept"
assert_eq "$(nsx "$A" "$DPT" routes-show $PROTO | wc -l)" "2" "routes-show through our dump"

# adoption after a restart: the same command finds the socket and takes the
# interface over (no new daemon), and the tunnel keeps working
out=$(nsx "$A" "$DPT" wg-up "$IFA" "$MG_TMP/a.key" 51820 100.96.0.1/11 2>>"$MG_TMP/wg-a.log")
assert_contains "$out" "backend=userspace pid=0" "existing userspace interface adopted"
# wg-up replaces the peer set: give the peer back, as the agent would from its config
nsx "$A" "$DPT" peer "$IFA" "$PUBB" 198.51.100.2:51820 0 100.96.0.2/32 192.0.2.0/24 >/dev/null
# forced modes do exactly what they say: kernel mode on this kernel is a clear error
IFK="mgd${MG_ID}k"
if out=$(nsx "$A" "$DPT" wg-up "$IFK" "$MG_TMP/a.key" 51821 100.97.0.1/16 kernel 2>&1); then
	mg_fail "forced kernel mode succeeded without a module: $out"
fi
assert_contains "$out" "Operation not supported" "kernel mode error names the cause"
[ ! -e "/var/run/wireguard/$IFK.sock" ] || mg_fail "kernel mode must not start a daemon"
# forced userspace on a link that is not ours: refused, not hijacked
if out=$(nsx "$A" "$DPT" wg-up va "$MG_TMP/a.key" 51821 100.97.0.1/16 userspace 2>&1); then
	mg_fail "userspace mode took over a veth: $out"
fi
assert_contains "$out" "has no WireGuard socket" "userspace mode on a foreign link"

# errors map back to their route; the rest of the batch still applies; deleting
# a route that is already gone is success
out=$(nsx "$A" "$DPT" routes-errors "$IFA" $PROTO)
assert_contains "$out" "ret -1 failed 1" "one failure reported"
assert_contains "$out" "add 198.18.1.0/24 err 0" "good route before the bad one"
assert_contains "$out" "add 198.18.2.0/24 err No such device" "bad route's own errno"
assert_contains "$out" "add 198.18.3.0/24 err 0" "good route after the bad one"
assert_contains "$out" "del 198.18.4.0/24 err 0" "deleting a missing route is fine"
assert_contains "$out" "msg add route 198.18.2.0/24" "error line names the route"
out=$(nsx "$A" "$DPT" routes-apply "$IFA" $PROTO 100.96.0.0/11 203.0.113.0/24)
assert_eq "$out" "add 0 del 2" "reconcile removes the two test routes"

# stats read back through our get_device
nsx "$A" ping -c 1 -W 2 100.96.0.2 >/dev/null || mg_fail "second ping failed"
line=$(nsx "$A" "$DPT" wg-show "$IFA" | grep "^peer $PUBB ")
hs=$(awk '{for(i=1;i<NF;i++) if($i=="handshake") print $(i+1)}' <<<"$line")
rx=$(awk '{for(i=1;i<NF;i++) if($i=="rx") print $(i+1)}' <<<"$line")
tx=$(awk '{for(i=1;i<NF;i++) if($i=="tx") print $(i+1)}' <<<"$line")
[ "${hs:-0}" -gt 0 ] && [ "${rx:-0}" -gt 0 ] && [ "${tx:-0}" -gt 0 ] ||
	mg_fail "stats not read back: $line"
assert_contains "$line" "endpoint 198.51.100.2:51820" "endpoint read back"
assert_contains "$line" "allowed 100.96.0.2/32,192.0.2.0/24" "allowed IPs read back"

# teardown through the library: link, socket and daemon go away
nsx "$A" "$DPT" wg-down "$IFA" || mg_fail "wg-down $IFA"
nsx "$B" "$DPT" wg-down "$IFB" || mg_fail "wg-down $IFB"
for pid in "${PIDS[@]}"; do
	wait_until 5 bash -c "! kill -0 $pid" || mg_fail "daemon $pid still running after wg-down"
done
[ ! -e "/var/run/wireguard/$IFA.sock" ] || mg_fail "socket of $IFA left behind"
ip -n "$A" link show "$IFA" >/dev/null 2>&1 && mg_fail "link $IFA left behind"
assert_eq "$(ip -n "$A" route show proto $PROTO)" "" "routes vanish with the link"
mg_pass
