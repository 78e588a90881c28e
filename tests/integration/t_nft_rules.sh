#!/usr/bin/env bash
# meshgate's nftables table read back by an independent reader (`nft -j list ruleset`)
# for NAT off, NAT on with 0, 3, 10,000 exclusions and exclusions of many lengths (hash
# sets by prefix length, the rest in the interval set), access full/ports/deny, v4 and
# v6; a batch the kernel refuses leaves the table byte-identical; remove twice; a
# foreign FORWARD policy drop is never modified and is reported (issue 4 acceptance).
. "$(dirname "$0")/lib.sh"
mg_setup nft_rules

N=$(ns_add fw)
TUN="mgt$MG_ID"
ip -n "$N" link add "$TUN" type veth peer name "v$MG_ID"
T=$MG_TOOLS/mg_nfttool
KEY=$(wg genkey | wg pubkey)

cfg() { # JSON fragment of the config's other members -> config file path
	local f="$MG_TMP/cfg$RANDOM.json"
	printf '{"version":1,"tunnel":{"address":"100.96.0.2/11","hub":{"public_key":"%s","endpoint":"203.0.113.1:51820"}}%s}' \
		"$KEY" "${1:+,$1}" >"$f"
	echo "$f"
}
apply() { nsx "$N" "$T" apply "$TUN" "$@" >/dev/null || mg_fail "apply $*"; }
ruleset() { nsx "$N" nft -j list ruleset; }
# rules of a chain as compact JSON expression lists
rules() { ruleset | jq -c --arg c "$1" '[.nftables[]|select(.rule.chain==$c)|.rule.expr|map(select(has("counter")|not))]'; }
elems() { ruleset | jq -c --arg s "$1" '[.nftables[]|select(.set.name==$s)|.set.elem // []]|add'; }
nsets() { ruleset | jq '[.nftables[]|select(.set)]|length'; }

mg_log "NAT off: no nat chain, no exclusion sets; forward/input/mssclamp present"
apply "$(cfg)"
assert_eq "$(ruleset | jq '[.nftables[]|select(.chain.name=="postrouting")]|length')" 0 "postrouting without NAT"
assert_eq "$(ruleset | jq -c '[.nftables[]|select(.chain)|.chain|[.name,.hook,.prio,.policy]]')" \
	'[["forward","forward",0,"accept"],["input","input",0,"accept"],["mssclamp","forward",-150,"accept"]]' "chains"
fwd=$(rules forward)
# no access entries: established accepted, everything else from the tunnel dropped
assert_contains "$fwd" '{"match":{"op":"in","left":{"ct":{"key":"state"}},"right":["established","related"]}},{"accept":null}'
assert_contains "$fwd" "{\"match\":{\"op\":\"==\",\"left\":{\"meta\":{\"key\":\"iifname\"}},\"right\":\"$TUN\"}},{\"drop\":null}"
assert_contains "$(rules mssclamp)" '"mangle":{"key":{"tcp option":{"name":"maxseg","field":"size"}},"value":{"rt":{"key":"mtu"}}}'

mg_log "NAT on, 0 exclusions: masquerade everything from the tunnel"
apply "$(cfg '"nat":{"enabled":true}')"
nat=$(rules postrouting)
assert_contains "$nat" "{\"match\":{\"op\":\"!=\",\"left\":{\"meta\":{\"key\":\"oifname\"}},\"right\":\"$TUN\"}}"
assert_contains "$nat" '{"match":{"op":"!=","left":{"payload":{"protocol":"ip","field":"daddr"}},"right":"@nat_ex4"}},{"masquerade":null}'
assert_contains "$nat" '{"match":{"op":"!=","left":{"payload":{"protocol":"ip6","field":"daddr"}},"right":"@nat_ex6"}},{"masquerade":null}'
assert_eq "$(elems nat_ex4)" "[]" "no v4 exclusions"

mg_log "NAT on, 3 exclusions (overlapping and adjacent merged), v4 and v6"
apply "$(cfg '"nat":{"enabled":true,"exclude":["10.10.0.0/16","10.10.4.0/24","10.11.0.0/16","2001:db8::/32"]}')"
assert_eq "$(elems nat_ex4)" '[{"prefix":{"addr":"10.10.0.0","len":15}}]' "merged v4 exclusions"
assert_eq "$(elems nat_ex6)" '[{"prefix":{"addr":"2001:db8::","len":32}}]' "v6 exclusions"

mg_log "NAT on, 10,000 exclusions"
# every other /24 so nothing merges: 10,000 separate prefixes
ex=$(for i in $(seq 0 9999); do printf '"10.%d.%d.0/24",' $((i / 128 + 20)) $((i % 128 * 2)); done)
out=$(nsx "$N" "$T" apply "$TUN" "$(cfg "\"nat\":{\"enabled\":true,\"exclude\":[${ex%,}]}")") || mg_fail "10,000 exclusions"
mg_log "10,000 exclusions: $out"
# 10,000 of one length: a hash set of network addresses, masked to /24 by the rule
assert_eq "$(elems nat_ex4_24 | jq length)" 10000 "elements read back"
assert_eq "$(elems nat_ex4_24 | jq '[index("10.20.0.0"), index("10.98.30.0"), index("10.20.1.0")] | map(. != null)' | jq -c .)" \
	'[true,true,false]' "first and last in, the /24 between them out"
assert_eq "$(elems nat_ex4)" "[]" "nothing left for the interval set"
assert_contains "$(rules postrouting)" '{"match":{"op":"!=","left":{"&":[{"payload":{"protocol":"ip","field":"daddr"}},"255.255.255.0"]},"right":"@nat_ex4_24"}}'

mg_log "NAT on, exclusions of many lengths: hosts and /24s in hash sets, the rest in the interval set"
# 40 hosts (/32, none adjacent), 40 /24s, a /16 holding one of the hosts and one of the
# /24s (both folded into it), 10.1.0.0/24 + 10.1.1.0/24 (adjacent: one /23), v6 hosts
ex=$(for i in $(seq 0 39); do printf '"172.16.%d.%d/32","10.%d.%d.0/24",' $((i / 8)) $((i % 8 * 2 + 1)) $((i / 100 + 30)) $((i * 2)); done)
ex6=$(for i in $(seq 1 33); do printf '"2001:db8::%x/128",' $((i * 2)); done)
apply "$(cfg "\"nat\":{\"enabled\":true,\"exclude\":[${ex}\"172.16.0.0/16\",\"10.30.0.0/16\",\"10.1.0.0/24\",\"10.1.1.0/24\",${ex6%,}]}")"
assert_eq "$(elems nat_ex4)" '[{"prefix":{"addr":"10.1.0.0","len":23}},{"prefix":{"addr":"10.30.0.0","len":16}},{"prefix":{"addr":"172.16.0.0","len":16}}]' "interval set: the /16s and the /23"
assert_eq "$(elems nat_ex4_32)" null "hosts inside the /16: no hash set of hosts"
assert_eq "$(ruleset | jq '[.nftables[]|select(.set.name=="nat_ex4_24")|.set.elem[]]|length')" 0 "the /24s inside 10.30.0.0/16: folded"
assert_eq "$(elems nat_ex6_128 | jq length)" 33 "v6 hosts: a hash set"
assert_contains "$(rules postrouting)" '{"match":{"op":"!=","left":{"payload":{"protocol":"ip6","field":"daddr"}},"right":"@nat_ex6_128"}}'
# the same hosts and /24s outside any shorter prefix: two hash sets, an empty interval set
ex=$(for i in $(seq 0 39); do printf '"172.17.%d.%d/32","10.%d.%d.0/24",' $((i / 8)) $((i % 8 * 2 + 1)) $((i / 100 + 30)) $((i * 2)); done)
apply "$(cfg "\"nat\":{\"enabled\":true,\"exclude\":[${ex%,}]}")"
assert_eq "$(elems nat_ex4_32 | jq length)" 40 "hosts: a hash set"
assert_eq "$(elems nat_ex4_24 | jq length)" 40 "/24s: a hash set"
assert_eq "$(elems nat_ex4)" '[]' "interval set empty"
nat=$(rules postrouting)
assert_contains "$nat" '"right":"@nat_ex4"}}'
assert_contains "$nat" '{"match":{"op":"!=","left":{"payload":{"protocol":"ip","field":"daddr"}},"right":"@nat_ex4_32"}}'
assert_contains "$nat" '"255.255.255.0"]},"right":"@nat_ex4_24"}}'

mg_log "access: full, ports (inside the full one: longest prefix wins), deny; v4 and v6"
apply "$(cfg '"access":[{"cidr":"192.0.2.0/24","mode":"full"},{"cidr":"192.0.2.64/26","mode":"ports","ports":["tcp/22","tcp/8000-8100","udp/53"]},{"cidr":"192.0.2.80/28","mode":"deny"},{"cidr":"2001:db8:1::/48","mode":"full"},{"cidr":"2001:db8:1:5::/64","mode":"deny"}]')"
assert_eq "$(elems full4)" '[{"prefix":{"addr":"192.0.2.0","len":26}},{"prefix":{"addr":"192.0.2.128","len":25}}]' "full4 minus the ports /26"
assert_eq "$(elems p1_a4)" '[{"prefix":{"addr":"192.0.2.64","len":28}},{"prefix":{"addr":"192.0.2.96","len":27}}]' "ports addresses minus the deny /28"
assert_eq "$(elems p1_tcp)" '[22,{"range":[8000,8100]}]' "tcp ports"
assert_eq "$(elems p1_udp)" '[53]' "udp ports"
assert_eq "$(elems full6)" '[{"range":["2001:db8:1::","2001:db8:1:4:ffff:ffff:ffff:ffff"]},{"range":["2001:db8:1:6::","2001:db8:1:ffff:ffff:ffff:ffff:ffff"]}]' "full6 minus the deny /64"
fwd=$(rules forward)
assert_contains "$fwd" '{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"daddr"}},"right":"@p1_a4"}},{"match":{"op":"==","left":{"payload":{"protocol":"tcp","field":"dport"}},"right":"@p1_tcp"}},{"accept":null}'
assert_eq "$(rules input)" "$fwd" "input follows the same access list"
# one rule per protocol of a ports entry, never one per port
assert_eq "$(ruleset | jq '[.nftables[]|select(.rule.chain=="forward")]|length')" 6 "forward rule count: established, full v4+v6, ports tcp+udp, drop"

mg_log "egress: NAT on, and what the list does not name is reachable (more specific entries still win)"
apply "$(cfg '"egress":true,"access":[{"cidr":"192.0.2.0/24","mode":"deny"}]')"
assert_eq "$(elems full4)" '[{"range":["0.0.0.0","192.0.1.255"]},{"range":["192.0.3.0","255.255.255.255"]}]' "egress full4 around the deny"
assert_eq "$(elems full6)" '[{"prefix":{"addr":"::","len":0}}]' "egress full6"
rules postrouting | grep -q masquerade || mg_fail "egress without masquerade"
# egress without NAT: the network's own subnets (advertised) keep the mesh source address
apply "$(cfg '"egress":true,"advertised":["192.0.2.0/24"],"nat":{"enabled":false,"exclude":["198.51.100.0/25"]}')"
assert_eq "$(elems nat_ex4)" '[{"prefix":{"addr":"192.0.2.0","len":24}},{"prefix":{"addr":"198.51.100.0","len":25}}]' "egress: the LAN is not masqueraded"
apply "$(cfg '"egress":true,"advertised":["192.0.2.0/24"],"nat":{"enabled":true,"exclude":["198.51.100.0/25"]}')"
assert_eq "$(elems nat_ex4)" '[{"prefix":{"addr":"198.51.100.0","len":25}}]' "egress with NAT: the exclusions only"

mg_log "a batch the kernel refuses leaves the table byte-identical"
before=$(nsx "$N" nft -j list table inet meshgate)
if nsx "$N" "$T" apply "$TUN" "$(cfg '"nat":{"enabled":true}')" --reject 2>"$MG_TMP/rej"; then mg_fail "refused batch reported success"; fi
assert_contains "$(cat "$MG_TMP/rej")" "previous table is unchanged"
# every refusal names the message of the batch it was, with the kernel's errno
assert_contains "$(cat "$MG_TMP/rej")" "test rule (no_such_set) (message "
assert_eq "$(nsx "$N" nft -j list table inet meshgate)" "$before" "table after a refused batch"

mg_log "a foreign table is never modified, and its policy drop is reported"
nsx "$N" nft -f - <<'NFT'
table ip filter {
	chain FORWARD { type filter hook forward priority filter; policy drop; }
}
NFT
foreign() { nsx "$N" nft -j list table ip filter | jq -c '[.nftables[1:][]|del(.[]?.handle)]'; }
f0=$(foreign)
apply "$(cfg '"nat":{"enabled":true,"exclude":["10.0.0.0/8"]}')"
scan=$(nsx "$N" "$T" scan "$TUN")
assert_contains "$scan" "ip filter FORWARD drops forwarded traffic by policy"
assert_contains "$scan" "$TUN"
nsx "$N" "$T" remove || mg_fail "remove"
nsx "$N" "$T" remove || mg_fail "remove twice"
if nsx "$N" nft list table inet meshgate >/dev/null 2>&1; then mg_fail "table still there"; fi
assert_eq "$(foreign)" "$f0" "foreign table"

mg_log "monitor: another process's change is seen, flush ruleset included"
apply "$(cfg)"
bg_start "$N" "$MG_TMP/mon.log" "$T" monitor 3000
wait_until 3 grep -q ready "$MG_TMP/mon.log" || mg_fail "monitor did not start"
nsx "$N" nft flush ruleset
wait_until 3 grep -q touched "$MG_TMP/mon.log" || mg_fail "flush not reported"
mg_pass
