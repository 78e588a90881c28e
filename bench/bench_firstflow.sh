#!/usr/bin/env bash
# bench_firstflow: time to first traffic through site B's first WireGuard session, in
# the two-site topology of tests/integration/t_flows.sh (two connectors, each with a
# LAN, behind the controller-mock's hub; a remote user). Sets the topology up N times
# and measures, from the moment both agents report their config applied:
#   ab   site A's server pinging site B's server (A's LAN -> hub -> B's LAN), and
#   user the user (wg-quick) pinging site B's server, from its tunnel's start,
# each a ping every 100 ms; the first reply's time stamp is the figure. A setup whose
# flow is not answered within 2 s is a failure: its UAPI state (`wg show dump` of the
# hub and of both agents: peers, endpoints, allowed IPs, last handshake, rx/tx) is
# written at 2 s and at the end, with the logs, to the output directory.
# Order "ab" (default) starts A's pings to B as soon as B has applied, then adds the
# user; "ba" the same with B's server pinging A's; "hd" is t_hub_death's: the user
# first, pinging A, then B's server pings A, with nothing else sent towards B ("ab"
# names the site-to-site flow, "user" is the user's to A). Only the first reply counts:
# "ab" and "ba" answer before the user joins, "hd" after.
# BENCH_FF_STALL=wg|ctl (with BENCH_FF_STALL_AT and _FOR, seconds after B's enrolment
# starts; 0.5 and 1.5) stops the hub's wireguard-go or the controller for a while
# around B's first handshake: a hub or controller that falls behind under load.
# Figures (order hd, 30 setups each, 2 cores shared): before topo.sh pinned its bridges'
# addresses, B->A 1/30 (normal build) and 3/30 (ASan) over 2 s, max 24.5 and 24.7 s,
# each with site B's router holding the internet bridge's old address for the hub;
# after, 0/30 and 0/30, p50 24 / max 609 ms and p50 18 / max 227 ms (docs/TESTING.md).
# Usage: sudo bench/bench_firstflow.sh [setups (30)] [order ab|ba|hd] [build-dir] [out-dir]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-30}
ORDER=${2:-ab}
export MG_BUILD=${3:-$ROOT/build}
OUTDIR=${4:-$(mktemp -d /tmp/bench_firstflow.XXXXXX)}
[ -x "$MG_BUILD/agent/meshgate" ] || { echo "bench_firstflow: build first" >&2; exit 1; }
case $ORDER in ab | ba | hd) ;; *) echo "bench_firstflow: order is ab, ba or hd" >&2; exit 2 ;; esac
mkdir -p "$OUTDIR"

if [ -n "${BENCH_FF_ONE:-}" ]; then
	. "$ROOT/tests/integration/lib.sh"
	. "$ROOT/tests/integration/topo.sh"
	mg_setup firstflow
	topo_internet
	topo_site a 192.0.2 10
	topo_site b 198.51.100 20
	topo_route_via_connector a 198.51.100.0/24
	topo_route_via_connector b 192.0.2.0/24
	na=$(topo_network site-a '"subnets":["192.0.2.0/24"],"access":[{"cidr":"192.0.2.0/24","mode":"full"}]')
	nb=$(topo_network site-b '"subnets":["198.51.100.0/24"],"access":[{"cidr":"198.51.100.0/24","mode":"full"}]')
	topo_connector a "$na"
	if [ -n "${BENCH_FF_STALL:-}" ]; then
		stall=""
		if [ "$BENCH_FF_STALL" = ctl ]; then
			stall=$CTL_PID
		else
			for p in $(ip netns pids "$INET"); do
				case $(tr '\0' ' ' <"/proc/$p/cmdline") in *wireguard-go*"$HUB_IF"*) stall=$p ;; esac
			done
		fi
		[ -n "$stall" ] || mg_fail "nothing to stall for $BENCH_FF_STALL"
		(
			sleep "${BENCH_FF_STALL_AT:-0.5}"
			kill -STOP "$stall"
			sleep "${BENCH_FF_STALL_FOR:-1.5}"
			kill -CONT "$stall" 2>/dev/null || true
		) &
	fi
	topo_connector b "$nb"
	topo_wait_applied a
	topo_wait_applied b
	# first FILE: the first reply's time stamp in epoch ms (empty: none yet)
	first() { awk '/bytes from/ { s = substr($1, 2, length($1) - 2); printf "%.0f\n", s * 1000; exit }' "$1"; }
	if [ "$ORDER" = hd ]; then
		# t_hub_death's order, nothing else towards B meanwhile: the user pings A, then
		# B's server pings A ("user" is the user's flow to A here)
		topo_user alice
		t_u=$(now_ms)
		bg_start "$U_NS" "$MG_TMP/ping-u.log" ping -D -n -i 0.1 -W 1 -c 300 192.0.2.10
		wait_until 10 grep -q "bytes from" "$MG_TMP/ping-u.log" || mg_fail "user cannot reach A"
		t_ab=$(now_ms)
		bg_start "$S_b" "$MG_TMP/ping-ab.log" ping -D -n -i 0.1 -W 1 -c 300 192.0.2.10
	else
		t_ab=$(now_ms)
		if [ "$ORDER" = ba ]; then
			bg_start "$S_b" "$MG_TMP/ping-ab.log" ping -D -n -i 0.1 -W 1 -c 300 192.0.2.10
		else
			bg_start "$S_a" "$MG_TMP/ping-ab.log" ping -D -n -i 0.1 -W 1 -c 300 198.51.100.10
		fi
		topo_user alice
		t_u=$(now_ms)
		bg_start "$U_NS" "$MG_TMP/ping-u.log" ping -D -n -i 0.1 -W 1 -c 300 198.51.100.10
	fi
	dump() {
		{
			echo "== $1, $(($(now_ms) - t_ab)) ms after the site-to-site flow started"
			echo "-- internet bridge: $(ip -n "$INET" -j link show br0 | jq -r '.[0].address')"
			echo "-- site routers' neighbour entries for the hub"
			ip -n "$R_a" neigh show 203.0.113.1
			ip -n "$R_b" neigh show 203.0.113.1
			echo "-- hub $HUB_IF"
			nsx "$INET" wg show "$HUB_IF" dump
			echo "-- site A $IF_a"
			nsx "$C_a" wg show "$IF_a" dump
			echo "-- site B $IF_b"
			nsx "$C_b" wg show "$IF_b" dump
		} >>"$OUTDIR/wg-$MG_ID.txt" 2>&1
	}
	ab="" u="" slow=0
	end=$(($(now_ms) + 30000))
	while [ "$(now_ms)" -lt $end ]; do
		[ -n "$ab" ] || ab=$(first "$MG_TMP/ping-ab.log")
		[ -n "$u" ] || u=$(first "$MG_TMP/ping-u.log")
		[ -n "$ab" ] && [ -n "$u" ] && break
		if [ $slow = 0 ] && [ $(($(now_ms) - t_ab)) -gt 2000 ]; then
			slow=1
			dump "not answered within 2 s"
		fi
		sleep 0.1
	done
	if [ $slow = 1 ]; then
		dump "end"
		for f in ctl.log run-a.log run-b.log ping-ab.log ping-u.log; do
			cp "$MG_TMP/$f" "$OUTDIR/$MG_ID-$f" 2>/dev/null || true
		done
	fi
	echo "setup $MG_ID ab_ms=$([ -n "$ab" ] && echo $((ab - t_ab)) || echo none) user_ms=$([ -n "$u" ] && echo $((u - t_u)) || echo none)"
	exit 0
fi

res=$OUTDIR/results.txt
: >"$res"
for i in $(seq 1 "$N"); do
	if ! BENCH_FF_ONE=1 ORDER=$ORDER OUTDIR=$OUTDIR bash "$0" "$N" "$ORDER" "$MG_BUILD" "$OUTDIR" \
		>>"$res" 2>"$OUTDIR/setup.log"; then
		echo "bench_firstflow: setup $i failed: $(tail -3 "$OUTDIR/setup.log")" >&2
		exit 1
	fi
done
# stats NAME: failures (over 2 s or no answer) out of N, p50 and max of one flow
stats() {
	local vals
	vals=$(sed -n "s/.* $1_ms=\([^ ]*\).*/\1/p" "$res" | sed 's/^none$/999999999/' | sort -n)
	awk -v name="$1" '
		{ v[n++] = $1; if ($1 > 2000) fail++ }
		END {
			p50 = v[int((n - 1) / 2)]; mx = v[n - 1]
			printf "%-5s %d/%d over 2 s; p50 %s ms, max %s ms\n", name, fail, n,
				p50 == 999999999 ? "none" : p50, mx == 999999999 ? "none" : mx
		}' <<<"$vals"
}
echo "bench_firstflow: $N setups, order $ORDER (details: $OUTDIR)"
stats ab
stats user
