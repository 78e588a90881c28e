#!/usr/bin/env bash
# The agent survives the death of its own wireguard-go (issue 19 item 7):
#  1. kill -9 the wireguard-go the agent started, under traffic (a ping every 100 ms
#     from site B): traffic is back within 5 s;
#  2. the same for a wireguard-go the agent adopted after a restart (not its child: the
#     tunnel link vanishing is what tells it);
#  3. kill -9 both the agent and its wireguard-go, start the agent again: the dead
#     socket is removed, not adopted, and traffic flows;
#  4. `meshgate cleanup` after both died leaves no socket and no link.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/topo.sh"
mg_setup wg_death

topo_internet
topo_site a 192.0.2 10
topo_site b 198.51.100 20
topo_route_via_connector a 198.51.100.0/24
topo_route_via_connector b 192.0.2.0/24
na=$(topo_network site-a '"subnets":["192.0.2.0/24"],"access":[{"cidr":"192.0.2.0/24","mode":"full"}]')
nb=$(topo_network site-b '"subnets":["198.51.100.0/24"],"access":[{"cidr":"198.51.100.0/24","mode":"full"}]')
topo_connector a "$na"
topo_connector b "$nb"
topo_wait_applied a
topo_wait_applied b
ping_ok "$S_b" 192.0.2.10 10 || mg_fail "B cannot reach A"
SOCK=/var/run/wireguard/$IF_a.sock

# wg_pid: the PID of the wireguard-go serving $IF_a in site A's connector (empty: none)
wg_pid() {
	local p cmd
	for p in $(ip netns pids "$C_a" 2>/dev/null); do
		cmd=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) || continue
		case $cmd in
		*wireguard-go*" $IF_a "*) echo "$p" && return 0 ;;
		esac
	done
}

# under_traffic LABEL: kill -9 the wireguard-go while site B pings site A's server every
# 100 ms; a reply must come back within 5 s of the kill, from a new wireguard-go.
under_traffic() {
	local label=$1 old new plog t0 t0s
	old=$(wg_pid)
	[ -n "$old" ] || mg_fail "$label: no wireguard-go for $IF_a in $C_a"
	plog=$MG_TMP/ping-$label.log
	bg_start "$S_b" "$plog" ping -D -n -i 0.1 -W 1 -c 200 192.0.2.10
	local pping=$BG_PID
	wait_until 5 grep -q "bytes from" "$plog" || mg_fail "$label: no traffic before the kill"
	t0=$(now_ms)
	t0s=$(printf '%d.%03d' $((t0 / 1000)) $((t0 % 1000)))
	kill -9 "$old"
	# a reply stamped after the kill (plus a margin for one in flight) proves the new tunnel
	_back() {
		awk -v t="$t0s" '/bytes from/ { s = substr($1, 2, length($1) - 2); if (s + 0 > t + 0.3) f = 1 } END { exit !f }' "$plog"
	}
	wait_until 5 _back || mg_fail "$label: traffic not back within 5 s: $(tail -5 "$MG_TMP/run-a.log")"
	mg_log "$label: traffic back $(($(now_ms) - t0)) ms after kill -9 (bound 5000)"
	kill "$pping" 2>/dev/null || true
	new=$(wg_pid)
	[ -n "$new" ] && [ "$new" != "$old" ] || mg_fail "$label: no new wireguard-go (old $old, now '$new')"
	[ -S "$SOCK" ] || mg_fail "$label: no socket $SOCK after the rebuild"
	! grep -q "vanished after creation" "$MG_TMP/run-a.log" || mg_fail "$label: the agent adopted a dead socket"
}

mg_log "1. kill -9 the agent's own wireguard-go under traffic"
under_traffic child
grep -q "recreating the tunnel\|was deleted" "$MG_TMP/run-a.log" || mg_fail "death not noticed in the log"

mg_log "2. agent restarted (wireguard-go adopted), then kill -9 that wireguard-go"
kill -9 "$PID_a"
wait_until 5 sh -c "! kill -0 $PID_a 2>/dev/null" || mg_fail "agent did not die"
topo_run a
_adopted() { grep -q "adopted" "$MG_TMP/run-a.log" && grep -q "config version .* applied" "$MG_TMP/run-a.log"; }
wait_until 10 _adopted || mg_fail "restart did not adopt the tunnel: $(tail "$MG_TMP/run-a.log")"
under_traffic adopted
grep -q "was deleted" "$MG_TMP/run-a.log" || mg_fail "the vanished link was not noticed: $(tail "$MG_TMP/run-a.log")"

mg_log "3. kill -9 both the agent and its wireguard-go, start the agent again"
wpid=$(wg_pid)
kill -9 "$PID_a" "$wpid"
wait_until 5 sh -c "! kill -0 $PID_a 2>/dev/null && ! kill -0 $wpid 2>/dev/null" || mg_fail "not dead"
[ -S "$SOCK" ] || mg_fail "the test needs a socket left behind by the kill"
topo_run a
_up() { grep -q "config version .* applied" "$MG_TMP/run-a.log" && nsx "$C_a" ip link show "$IF_a" | grep -q UP; }
wait_until 15 _up || mg_fail "tunnel not up after the restart: $(tail "$MG_TMP/run-a.log")"
grep -q "nobody answers" "$MG_TMP/run-a.log" || mg_fail "dead socket not reported as removed"
! grep -q "vanished after creation" "$MG_TMP/run-a.log" || mg_fail "the dead socket was adopted"
ping_ok "$S_b" 192.0.2.10 10 || mg_fail "no traffic after restarting over a dead socket"
ping_ok "$S_a" 198.51.100.10 10 || mg_fail "no traffic A -> B after the restart"
[ -n "$(wg_pid)" ] || mg_fail "no wireguard-go after the restart"

mg_log "4. meshgate cleanup after both died leaves no socket"
wpid=$(wg_pid)
kill -9 "$PID_a" "$wpid"
wait_until 5 sh -c "! kill -0 $PID_a 2>/dev/null && ! kill -0 $wpid 2>/dev/null" || mg_fail "not dead"
[ -S "$SOCK" ] || mg_fail "the test needs a socket left behind by the kill"
nsx "$C_a" "$MESHGATE" cleanup --state-dir "$STATE_a" >"$MG_TMP/cleanup.log" 2>&1 ||
	mg_fail "cleanup failed: $(cat "$MG_TMP/cleanup.log")"
[ ! -e "$SOCK" ] || mg_fail "cleanup left $SOCK: $(cat "$MG_TMP/cleanup.log")"
! grep -q "still there" "$MG_TMP/cleanup.log" || mg_fail "cleanup warned: $(cat "$MG_TMP/cleanup.log")"
! nsx "$C_a" ip link show "$IF_a" >/dev/null 2>&1 || mg_fail "cleanup left the link $IF_a"
[ -z "$(wg_pid)" ] || mg_fail "cleanup started a wireguard-go"
[ -z "$(nsx "$C_a" ip route show proto 109)" ] || mg_fail "cleanup left routes"

mg_pass
