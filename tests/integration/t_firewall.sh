#!/usr/bin/env bash
# NAT, exclusions, access control and self-healing of meshgate's nftables table, through
# the real mesh (issue 4 acceptance, traffic part):
#   site A's server holds 192.0.2.10 (access: ports tcp/8080), 192.0.2.200 (full, and
#   excluded from NAT) and 192.0.2.70 (deny, inside the ports /24: longest prefix wins).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/topo.sh"
mg_setup firewall

topo_internet
topo_site a 192.0.2 10
ip -n "$S_a" addr add 192.0.2.200/24 dev eth0
ip -n "$S_a" addr add 192.0.2.70/24 dev eth0
na=$(topo_network site-a '"subnets":["192.0.2.0/24"],
	"nat":{"enabled":true,"exclude":["192.0.2.128/25"]},
	"access":[{"cidr":"192.0.2.0/24","mode":"ports","ports":["tcp/8080"]},
		{"cidr":"192.0.2.128/25","mode":"full"},{"cidr":"192.0.2.64/27","mode":"deny"}]')
topo_connector a "$na"
topo_wait_applied a
topo_user alice
UA=${U_ADDR%/*}

for port in 8080 8081; do
	bg_start "$S_a" "$MG_TMP/srv$port.log" nc -n -v -k -l -p $port
done
wait_until 5 nsx "$S_a" sh -c 'ss -ltn | grep -q ":8081"'
# tcp_ok DST PORT: a TCP exchange from the user within 3 s
tcp_ok() { echo "hi $1:$2" | nsx "$U_NS" timeout 3 nc -n -w2 -q1 "$1" "$2" >/dev/null 2>&1; }
seen_from() { # PORT DST -> the source address the server saw for "hi DST:PORT"
	wait_until 3 grep -q "hi $2:$1" "$MG_TMP/srv$1.log" || return 1
	grep -B1 "hi $2:$1" "$MG_TMP/srv$1.log" | sed -n 's/.*Connection received on \([^ ]*\) .*/\1/p' | tail -1
}

mg_log "the ruleset is ours, in one table"
nsx "$C_a" nft -j list tables | jq -e '.nftables[]|select(.table.family=="inet" and .table.name=="meshgate")' >/dev/null ||
	mg_fail "no inet meshgate table"

mg_log "NAT: the server sees the connector's LAN address"
ping_ok "$U_NS" 192.0.2.200 10 || mg_fail "user cannot reach the full-access address"
tcp_ok 192.0.2.10 8080 || mg_fail "listed port tcp/8080 blocked"
assert_eq "$(seen_from 8080 192.0.2.10)" 192.0.2.2 "source seen behind NAT"

mg_log "an excluded destination sees the user's mesh address"
tcp_ok 192.0.2.200 8081 || mg_fail "full-access address blocked"
assert_eq "$(seen_from 8081 192.0.2.200)" "$UA" "source seen for an excluded destination"

mg_log "a port not listed is dropped; ICMP to a ports-only address too; deny is unreachable"
if tcp_ok 192.0.2.10 8081; then mg_fail "unlisted port passed"; fi
if nsx "$U_NS" ping -c1 -W1 192.0.2.10 >/dev/null; then mg_fail "ICMP to a ports-only address passed"; fi
if tcp_ok 192.0.2.70 8080; then mg_fail "deny address reachable (longest prefix must win)"; fi
if nsx "$U_NS" ping -c1 -W1 192.0.2.70 >/dev/null; then mg_fail "deny address answers ICMP"; fi

mg_log "status shows the firewall"
st=$(nsx "$C_a" "$MESHGATE" status --json --state-dir "$STATE_a")
assert_eq "$(jq -r .daemon.firewall.nat <<<"$st")" true "status: nat"
assert_eq "$(jq -r .daemon.firewall.exclusions <<<"$st")" 1 "status: exclusions"
assert_contains "$(jq -r .daemon.firewall.access <<<"$st")" "192.0.2.64/27=deny"

mg_log "nft flush ruleset: the table is back within 1 s and traffic flows"
t0=$(now_ms)
nsx "$C_a" nft flush ruleset
_table_back() { nsx "$C_a" nft list table inet meshgate >/dev/null 2>&1; }
wait_until 2 _table_back || mg_fail "table not restored: $(tail "$MG_TMP/run-a.log")"
dt=$(($(now_ms) - t0)); mg_log "table restored in $dt ms"
[ $dt -lt 1000 ] || mg_fail "restore took $dt ms"
tcp_ok 192.0.2.10 8080 || mg_fail "traffic after restore"
if tcp_ok 192.0.2.10 8081; then mg_fail "unlisted port passed after restore"; fi

mg_log "a foreign FORWARD policy drop is reported, never modified; the opt-in opens DOCKER-USER"
nsx "$C_a" nft -f - <<'NFT'
table ip filter {
	chain DOCKER-USER { }
	chain FORWARD { type filter hook forward priority filter; policy drop; jump DOCKER-USER; }
}
NFT
before=$(nsx "$C_a" nft -j list table ip filter | jq -c 'del(.nftables[0])|[.nftables[]|del(.[]?.handle)]')
_warned() { jq -e '.daemon.firewall.warnings|length>0' "$STATE_a/status.json" >/dev/null 2>&1; }
kill -HUP "$PID_a"
wait_until 5 _warned || mg_fail "FORWARD policy drop not reported: $(cat "$STATE_a/status.json")"
jq -r '.daemon.firewall.warnings[]' "$STATE_a/status.json" | grep -q "FORWARD" || mg_fail "warning does not name the chain"
if tcp_ok 192.0.2.10 8080; then mg_fail "traffic passed a foreign policy drop?"; fi
after=$(nsx "$C_a" nft -j list table ip filter | jq -c 'del(.nftables[0])|[.nftables[]|del(.[]?.handle)]')
assert_eq "$after" "$before" "foreign table changed"
kill -TERM "$PID_a"
wait_until 5 sh -c "! kill -0 $PID_a 2>/dev/null"
topo_run a --open-docker-user
topo_wait_applied a
wait_until 5 tcp_ok 192.0.2.10 8080 || mg_fail "opt-in DOCKER-USER accept did not open the path"
nsx "$C_a" nft list chain ip filter DOCKER-USER | grep -q meshgate || mg_fail "no marked rule in DOCKER-USER"

mg_log "down removes our table and our DOCKER-USER rule, nothing else; twice is fine"
kill -TERM "$PID_a"
wait_until 5 sh -c "! kill -0 $PID_a 2>/dev/null"
for i in 1 2; do
	nsx "$C_a" "$MESHGATE" down --state-dir "$STATE_a" --sysctl-dropin "$MG_TMP/sysctl-a.conf" >/dev/null ||
		mg_fail "down #$i"
done
if nsx "$C_a" nft list table inet meshgate >/dev/null 2>&1; then mg_fail "table left after down"; fi
after=$(nsx "$C_a" nft -j list table ip filter | jq -c 'del(.nftables[0])|[.nftables[]|del(.[]?.handle)]')
assert_eq "$after" "$before" "foreign table after down"
mg_pass
