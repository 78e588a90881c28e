#!/usr/bin/env bash
# The controller supervises its hub's wireguard-go (issue 16 part 4):
#  1. kill -9 the wireguard-go the controller started, under traffic (a user and site B
#     both pinging site A every 100 ms): the controller sees the death through a pidfd
#     (at once, within 1 s), restarts it, restores every peer with its endpoint, and both
#     flows are back within 5 s without anything done on the connectors or the laptop;
#  2. the same for a wireguard-go adopted by a restarted controller (found through
#     SO_PEERCRED on its UAPI socket).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/topo.sh"
mg_setup hub_death

topo_internet --log-level debug
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
topo_user alice
ping_ok "$U_NS" 192.0.2.10 10 || mg_fail "user cannot reach A"
ping_ok "$S_b" 192.0.2.10 10 || mg_fail "B cannot reach A"
CTL_LOG=$MG_TMP/ctl.log

# hub_wg_pid: the wireguard-go serving the hub interface in the internet namespace
hub_wg_pid() {
	local p cmd
	for p in $(ip netns pids "$INET" 2>/dev/null); do
		cmd=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) || continue
		case $cmd in
		*wireguard-go*" $HUB_IF "*) echo "$p" && return 0 ;;
		esac
	done
}
# log_ms LINE: the controller log line's time stamp in epoch milliseconds
log_ms() {
	local ts=${1%%Z *}
	echo $(($(date -u -d "${ts/T/ }" +%s%N) / 1000000))
}

# under_traffic LABEL: kill -9 the hub's wireguard-go while the user and site B ping
# site A's server every 100 ms; replies after the kill must come within 5 s.
under_traffic() {
	local label=$1 old new t0 t0s lines line det
	old=$(hub_wg_pid)
	[ -n "$old" ] || mg_fail "$label: no wireguard-go for $HUB_IF"
	local pu=$MG_TMP/ping-u-$label.log pb=$MG_TMP/ping-b-$label.log
	bg_start "$U_NS" "$pu" ping -D -n -i 0.1 -W 1 -c 300 192.0.2.10
	local ppu=$BG_PID
	bg_start "$S_b" "$pb" ping -D -n -i 0.1 -W 1 -c 300 192.0.2.10
	local ppb=$BG_PID
	wait_until 5 grep -q "bytes from" "$pu" || mg_fail "$label: no user traffic before the kill"
	wait_until 5 grep -q "bytes from" "$pb" || mg_fail "$label: no site B traffic before the kill"
	# the controller reads the peers' endpoints once a second: let it see all three
	wait_until 5 grep -q "endpoints known for 3 peer(s)" "$CTL_LOG" ||
		mg_fail "$label: the controller never saw the three endpoints"
	lines=$(wc -l <"$CTL_LOG")
	t0=$(now_ms)
	t0s=$(printf '%d.%03d' $((t0 / 1000)) $((t0 % 1000)))
	kill -9 "$old"
	# a reply stamped after the kill (plus a margin for one in flight)
	_back() {
		awk -v t="$t0s" '/bytes from/ { s = substr($1, 2, length($1) - 2); if (s + 0 > t + 0.3) f = 1 } END { exit !f }' "$1"
	}
	wait_until 5 _back "$pu" || mg_fail "$label: user traffic not back within 5 s: $(tail -5 "$CTL_LOG")"
	mg_log "$label: user traffic back $(($(now_ms) - t0)) ms after kill -9 (bound 5000)"
	wait_until 5 _back "$pb" || mg_fail "$label: site B traffic not back within 5 s: $(tail -5 "$CTL_LOG")"
	mg_log "$label: site B traffic back $(($(now_ms) - t0)) ms after kill -9 (bound 5000)"
	kill "$ppu" "$ppb" 2>/dev/null || true
	line=$(tail -n +"$((lines + 1))" "$CTL_LOG" | grep -m1 "restarting it") ||
		mg_fail "$label: no restart logged: $(tail -n +"$((lines + 1))" "$CTL_LOG")"
	assert_contains "$line" "its wireguard-go died (wireguard-go pid $old" "$label: death seen by its pidfd"
	det=$(($(log_ms "$line") - t0))
	mg_log "$label: death seen $det ms after the kill (bound 1000)"
	[ "$det" -le 1000 ] || mg_fail "$label: death seen only $det ms after the kill"
	grep -q "every peer restored, 3 with its endpoint" <<<"$(tail -n +"$((lines + 1))" "$CTL_LOG")" ||
		mg_fail "$label: peers not restored with their endpoints: $(tail -n +"$((lines + 1))" "$CTL_LOG")"
	new=$(hub_wg_pid)
	[ -n "$new" ] && [ "$new" != "$old" ] || mg_fail "$label: no new wireguard-go (old $old, now '$new')"
	assert_eq "$(nsx "$INET" wg show "$HUB_IF" peers | wc -l)" 3 "$label: hub peers after the restart"
	assert_contains "$(nsx "$INET" ip route show proto 110)" 192.0.2.0/24 "$label: hub route to A"
	ping_ok "$S_a" 198.51.100.10 5 || mg_fail "$label: A cannot reach B after the restart"
}

mg_log "1. kill -9 the hub's wireguard-go (a child of the controller)"
assert_contains "$(cat "$CTL_LOG")" "watching its wireguard-go (pid $(hub_wg_pid), started here)" "watch logged"
under_traffic child

mg_log "2. restart the controller (it adopts the hub), then kill -9 that wireguard-go"
ctl_stop_() {
	kill -TERM "$CTL_PID"
	wait_until 10 sh -c "! kill -0 $CTL_PID 2>/dev/null" || mg_fail "controller did not stop"
}
ctl_stop_
mv "$CTL_LOG" "$MG_TMP/ctl-1.log"
ctl_start "$INET" "$MG_TMP/ctl" 203.0.113.1 8443 --hub-ifname "$HUB_IF" \
	--hub-endpoint 203.0.113.1:51820 --log-level debug
wait_until 5 grep -q "watching its wireguard-go (pid $(hub_wg_pid), adopted)" "$CTL_LOG" ||
	mg_fail "adopted wireguard-go not watched: $(cat "$CTL_LOG")"
ping_ok "$U_NS" 192.0.2.10 5 || mg_fail "user cannot reach A after the controller restart"
under_traffic adopted
mg_pass
