#!/usr/bin/env bash
# Runs in the kernel-WireGuard VM (t_kernel_wg_full.sh; MG_WG_MODE=kernel): the agent
# adopts its kernel interface after kill -9.
#  1. site B pings site A's server every 100 ms; kill -9 A's agent: the kernel link stays
#     and carries the traffic while no agent runs (nothing of the data path lives in the
#     agent); a config change made meanwhile (a third network) waits for the agent;
#  2. the agent started again adopts the link ("adopted (kernel WireGuard)"): the same
#     ifindex, the hub peer not reset (its byte counters only grow), the routes once
#     each, the change applied;
#  3. over the whole window (kill, 3 s dead, restart, apply) at most 3 of the pings go
#     unanswered.
. "$MG_SRC/tests/integration/lib.sh"
. "$MG_SRC/tests/integration/topo.sh"
mg_setup kvm_adopt
[ "${MG_WG_MODE:-}" = kernel ] || mg_fail "run with MG_WG_MODE=kernel (in the VM of t_kernel_wg_full.sh)"

topo_internet
topo_site a 192.0.2 10
topo_site b 198.51.100 20
topo_route_via_connector a 198.51.100.0/24
topo_route_via_connector a 198.18.0.0/24
topo_route_via_connector b 192.0.2.0/24
na=$(topo_network site-a '"subnets":["192.0.2.0/24"],"access":[{"cidr":"192.0.2.0/24","mode":"full"}]')
nb=$(topo_network site-b '"subnets":["198.51.100.0/24"],"access":[{"cidr":"198.51.100.0/24","mode":"full"}]')
topo_connector a "$na"
topo_connector b "$nb"
topo_wait_applied a
topo_wait_applied b
ping_ok "$S_b" 192.0.2.10 10 || mg_fail "B cannot reach A"

ifindex() { nsx "$C_a" cat "/sys/class/net/$IF_a/ifindex"; }
handshake() { nsx "$C_a" wg show "$IF_a" latest-handshakes | awk '{ print $2 }'; }
# bytes through A's hub peer: a peer removed and added again starts from 0 (a handshake
# may change by itself: WireGuard rekeys every 2 minutes)
transfer() { nsx "$C_a" wg show "$IF_a" transfer | awk '{ s += $2 + $3 } END { print s + 0 }'; }
routes() { nsx "$C_a" ip route show proto 109 | sort; }
idx=$(ifindex)
[ "$(handshake)" -gt 0 ] || mg_fail "no handshake on A"
bytes=$(transfer)
routes >"$MG_TMP/routes-before"

mg_log "1. kill -9 A's agent under traffic"
plog=$MG_TMP/ping.log
n=150
bg_start "$S_b" "$plog" ping -D -n -i 0.1 -W 1 -c $n 192.0.2.10
wait_until 5 grep -q "bytes from" "$plog" || mg_fail "no traffic before the kill"
kill -9 "$PID_a"
wait_until 5 sh -c "! kill -0 $PID_a 2>/dev/null" || mg_fail "the agent did not die"
nsx "$C_a" ip link show "$IF_a" >/dev/null 2>&1 || mg_fail "the kernel link went with the agent"
# meanwhile: a third network, for A to learn once it is back
nc_=$(topo_network site-c '"subnets":["198.18.0.0/24"],"access":[{"cidr":"198.18.0.0/24","mode":"full"}]')
sleep 3
got=$(grep -c "bytes from" "$plog")
sleep 1
[ "$(grep -c "bytes from" "$plog")" -gt "$got" ] || mg_fail "no traffic while the agent is dead"

mg_log "2. the agent again: adopts the link"
topo_run a
_adopted() { grep -q "tunnel $IF_a adopted (kernel WireGuard)" "$MG_TMP/run-a.log"; }
wait_until 10 _adopted || mg_fail "the agent did not adopt $IF_a: $(tail "$MG_TMP/run-a.log")"
_has_c() { nsx "$C_a" ip route show proto 109 | grep -q 198.18.0.0/24; }
wait_until 15 _has_c || mg_fail "the change made while the agent was dead never arrived: $(tail "$MG_TMP/run-a.log")"
# (run-a.log is the restarted agent's alone)
if grep -q "tunnel $IF_a created" "$MG_TMP/run-a.log"; then mg_fail "the agent created $IF_a again"; fi
assert_eq "$(ifindex)" "$idx" "ifindex of $IF_a after the restart"
now=$(transfer)
[ "$now" -ge "$bytes" ] || mg_fail "A's hub peer counts $now bytes after the restart, had $bytes (tunnel reset?)"
routes >"$MG_TMP/routes-after"
grep -v 198.18.0.0/24 "$MG_TMP/routes-after" >"$MG_TMP/routes-after-old"
diff "$MG_TMP/routes-before" "$MG_TMP/routes-after-old" >"$MG_TMP/routes.diff" ||
	mg_fail "routes changed over the restart: $(cat "$MG_TMP/routes.diff")"
assert_eq "$(grep -c 198.18.0.0/24 "$MG_TMP/routes-after")" 1 "the new route, once"

mg_log "3. the pings of the whole window"
wait_until 30 test -s "$plog.rc" || mg_fail "ping did not end"
rx=$(grep -c "bytes from" "$plog")
lost=$((n - rx))
mg_log "kill -9, 3 s without an agent, restart: $lost of $n pings lost (bound 3)"
[ "$lost" -le 3 ] || mg_fail "$lost pings lost: $(tail -3 "$plog")"
mg_pass
