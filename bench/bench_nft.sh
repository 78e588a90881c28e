#!/usr/bin/env bash
# bench_nft: meshgate's NAT exclusions (one interval set, one rule) against the seeds'
# iptables way (one `return` rule per excluded subnet before the masquerade), 10,000
# exclusions each, in namespaces of its own:
#   1. load time: meshgate's one-batch libnftnl apply vs `nft -f` of 10,000 rules
#   2. forwarding throughput through the NAT router (iperf3, TCP, 3 s): no rules,
#      meshgate form, rule-per-exclusion form
#   3. new connections per second through the router (NAT rules run on the first
#      packet of each connection, so this is where their cost shows)
# Usage: sudo bench/bench_nft.sh [build-dir]      (needs iperf3, python3)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-$ROOT/build}
T=$B/tests/mg_nfttool
N=10000
[ -x "$T" ] || { echo "bench_nft: build first ($T missing)" >&2; exit 1; }
id=$(printf '%04x' $((RANDOM)))
C=bnc$id R=bnr$id S=bns$id
tmp=$(mktemp -d)
cleanup() {
	for ns in $C $R $S; do
		for p in $(ip netns pids $ns 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
		ip netns del $ns 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
for ns in $C $R $S; do ip netns add $ns; ip -n $ns link set lo up; done
ip link add "bt$id" type veth peer name "bc$id"
ip link set "bt$id" netns $R name tun0
ip link set "bc$id" netns $C name eth0
ip link add "bl$id" type veth peer name "bs$id"
ip link set "bl$id" netns $R name lan0
ip link set "bs$id" netns $S name eth0
ip -n $C addr add 100.96.0.2/24 dev eth0; ip -n $C link set eth0 up
ip -n $C route add default via 100.96.0.1
ip -n $R addr add 100.96.0.1/24 dev tun0; ip -n $R link set tun0 up
ip -n $R addr add 198.51.100.1/24 dev lan0; ip -n $R link set lan0 up
ip -n $S addr add 198.51.100.10/24 dev eth0; ip -n $S link set eth0 up
ip -n $S route add default via 198.51.100.1
ip netns exec $R sysctl -qw net.ipv4.ip_forward=1

# 10,000 exclusions that do not cover the server (every other /24 of 10.20.0.0 up)
ex=$(for i in $(seq 0 $((N - 1))); do printf '"10.%d.%d.0/24",' $((i / 128 + 20)) $((i % 128 * 2)); done)
key=$(wg genkey | wg pubkey)
printf '{"version":1,"tunnel":{"address":"100.96.0.2/11","hub":{"public_key":"%s","endpoint":"203.0.113.1:51820"}},"nat":{"enabled":true,"exclude":[%s]},"access":[{"cidr":"198.51.100.0/24","mode":"full"}]}' \
	"$key" "${ex%,}" >"$tmp/cfg.json"
{
	echo 'table ip seeds {'
	echo ' chain post { type nat hook postrouting priority srcnat; policy accept;'
	for i in $(seq 0 $((N - 1))); do printf '  iifname "tun0" ip daddr 10.%d.%d.0/24 return\n' $((i / 128 + 20)) $((i % 128 * 2)); done
	echo '  iifname "tun0" masquerade'
	echo ' }'
	echo '}'
} >"$tmp/rules.nft"

ms() { echo $(($(date +%s%N) / 1000000)); }
flush() { ip netns exec $R nft flush ruleset; }

echo "bench_nft: $N NAT exclusions, private namespaces"
flush
out=$(ip netns exec $R "$T" apply tun0 "$tmp/cfg.json")
m_load=$(sed -n 's/applied in \([0-9.]*\) ms/\1/p' <<<"$out")
t0=$(ms); ip netns exec $R "$T" apply tun0 "$tmp/cfg.json" >/dev/null; t1=$(ms)
flush
t2=$(ms); ip netns exec $R nft -f "$tmp/rules.nft"; t3=$(ms)
printf '%-52s %8.1f ms (in-process batch), %d ms with process start\n' "load: meshgate (1 set, 1 rule per family)" "$m_load" $((t1 - t0))
printf '%-52s %8d ms\n' "load: nft -f, one rule per exclusion" $((t3 - t2))
awk -v a="$m_load" -v b=$((t3 - t2)) 'BEGIN { if (a > 0) printf "ratio load: nft -f / meshgate = %.1fx\n", b / a }'

thr() { # -> Gbit/s
	ip netns exec $S iperf3 -s -D -1 >/dev/null 2>&1
	sleep 0.3
	ip netns exec $C iperf3 -c 198.51.100.10 -t 3 -J 2>/dev/null |
		jq '.end.sum_received.bits_per_second / 1e9 * 100 | round / 100'
}
conns() { # -> new TCP connections per second (3,000 sequential)
	ip netns exec $S python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("198.51.100.10", 9000)); s.listen(512)
while True:
    c, _ = s.accept(); c.close()' &
	local srv=$!
	sleep 0.5
	ip netns exec $C python3 -c '
import socket, time
n = 3000; t = time.monotonic()
for i in range(n):
    c = socket.create_connection(("198.51.100.10", 9000)); c.close()
print("%.0f" % (n / (time.monotonic() - t)))'
	kill $srv 2>/dev/null || true
	wait $srv 2>/dev/null || true
}

flush
b_thr=$(thr); b_con=$(conns)
ip netns exec $R "$T" apply tun0 "$tmp/cfg.json" >/dev/null
m_thr=$(thr); m_con=$(conns)
flush
ip netns exec $R nft -f "$tmp/rules.nft"
r_thr=$(thr); r_con=$(conns)
printf '%-40s %8s Gbit/s %8s conn/s\n' "no NAT rules" "$b_thr" "$b_con"
printf '%-40s %8s Gbit/s %8s conn/s\n' "meshgate, $N exclusions (set)" "$m_thr" "$m_con"
printf '%-40s %8s Gbit/s %8s conn/s\n' "one rule per exclusion, $N rules" "$r_thr" "$r_con"
awk -v b="$b_thr" -v m="$m_thr" -v r="$r_thr" -v bc="$b_con" -v mc="$m_con" -v rc="$r_con" 'BEGIN {
	printf "ratio throughput: meshgate / none = %.2f, rules / none = %.2f, meshgate / rules = %.2f\n", m / b, r / b, m / r
	printf "ratio connections/s: meshgate / none = %.2f, rules / none = %.2f, meshgate / rules = %.2f\n", mc / bc, rc / bc, mc / rc
}'
