#!/usr/bin/env bash
# The shared netlink loop (lib/nl.c) reports every refusal of a batch with the kernel's
# own words (extended ACK) and how many failed; the batch's good messages still apply.
. "$(dirname "$0")/lib.sh"
mg_setup nl_errors
DPT=$MG_TOOLS/mg_dptool

N=$(ns_add n)
ip -n "$N" link add a0 type veth peer name a1

mg_log "a route batch on a link that is down: both refused, with the kernel's text"
if nsx "$N" "$DPT" routes-apply a0 109 192.0.2.0/24 198.51.100.0/24 >"$MG_TMP/out" 2>"$MG_TMP/err"; then
	mg_fail "routes on a down link reported success"
fi
err=$(cat "$MG_TMP/err")
assert_contains "$err" "(2 of 2 failed)" "count of refused messages"
# "Network is down (<the kernel's sentence>) (2 of 2 failed)"
grep -qE 'Network is down \([A-Za-z][^)]+\) \(2 of 2 failed\)' <<<"$err" ||
	mg_fail "no extended-ACK text in: $err"
[ -z "$(nsx "$N" ip route show proto 109)" ] || mg_fail "a refused route was installed"

mg_log "the same batch on the link up: applied, one route each"
ip -n "$N" link set a0 up
ip -n "$N" link set a1 up
nsx "$N" "$DPT" routes-apply a0 109 192.0.2.0/24 198.51.100.0/24 >"$MG_TMP/out" 2>"$MG_TMP/err" ||
	mg_fail "routes-apply: $(cat "$MG_TMP/err")"
n=$(nsx "$N" ip -j route show proto 109 | jq length)
assert_eq "$n" 2 "routes installed"

mg_pass
