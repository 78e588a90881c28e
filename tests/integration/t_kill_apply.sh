#!/usr/bin/env bash
# kill -9 of the agent in the middle of applying large configs, again and again (the fault
# campaign of issue 19): after each restart the host converges on the config in force with
# exactly one route per destination and one nftables table, and `meshgate down` then puts
# every sysctl back and removes everything meshgate made. Bounded: 24 kills.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/topo.sh"
mg_setup kill_apply

topo_internet
topo_site a 192.0.2 10
sysval() { nsx "$C_a" cat "/proc/sys/net/$1"; }
keys="ipv4/ip_forward ipv4/conf/all/rp_filter ipv4/conf/default/rp_filter ipv4/conf/eth0/rp_filter"
nsx "$C_a" sysctl -qw net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.eth0.rp_filter=1 net.ipv4.ip_forward=0
before=$(for k in $keys; do printf '%s=%s ' "$k" "$(sysval "$k")"; done)

# four remote networks of 250 /28s each (198.18.0.0/15): 1,000 routes at site A, and
# 2,000 NAT exclusions in A's table
subnets() { # FIRST COUNT: COUNT /28s from the FIRST-th one on
	local i
	for ((i = $1; i < $1 + $2; i++)); do
		printf '"198.%d.%d.%d/28",' $((18 + i / 4096)) $((i / 16 % 256)) $((i % 16 * 16))
	done | sed 's/,$//'
}
excl=$(for ((i = 0; i < 2000; i++)); do printf '"203.0.%d.%d/32",' $((i / 250)) $((i % 250)); done | sed 's/,$//')
na=$(topo_network site-a "\"subnets\":[\"192.0.2.0/24\"],\"access\":[{\"cidr\":\"192.0.2.0/24\",\"mode\":\"full\"}],\"nat\":{\"enabled\":true,\"exclude\":[$excl]}")
nets=()
for n in 0 1 2 3; do
	nets+=("$(topo_network "remote-$n" "\"subnets\":[$(subnets $((n * 250)) 250)]")")
done
topo_connector a "$na"
topo_wait_applied a 30

routes() { nsx "$C_a" ip -j route show table all proto 109 | jq -r '.[].dst' | sort; }
want_routes() { # the subnets the remote networks have now, plus the mesh ranges
	{
		echo 100.96.0.0/11
		echo "$TOPO_MESH6"
		for id in "${nets[@]}"; do api "$INET" GET "/api/v1/networks/$id" | jq -r '.subnets[]'; done
	} | sort
}
tables() { nsx "$C_a" nft -j list tables | jq '[.nftables[]|select(.table.name=="meshgate")]|length'; }
converged() {
	[ "$(jq -r '.applied_version // 0' "$STATE_a/status.json" 2>/dev/null)" = \
		"$(jq -r '.last_config_version // -1' "$STATE_a/status.json" 2>/dev/null)" ] &&
		[ "$(routes)" = "$(want_routes)" ]
}
wait_until 30 converged || mg_fail "first config never converged"
assert_eq "$(routes | wc -l)" 1002 "routes at the start"

mg_log "24 times: change a network, kill -9 the agent mid-apply, restart it"
kills=0
for round in $(seq 1 24); do
	n=$((round % 4))
	# alternately drop the second half of a network's subnets and bring them back
	if ((round % 8 < 4)); then s=$(subnets $((n * 250)) 125); else s=$(subnets $((n * 250)) 250); fi
	api "$INET" PATCH "/api/v1/networks/${nets[$n]}" "{\"subnets\":[$s]}" >/dev/null
	[ "$(api_st)" = 200 ] || mg_fail "patch: $(api_st)"
	sleep "0.$((RANDOM % 4))$((RANDOM % 10))"
	kill -9 "$PID_a" 2>/dev/null && kills=$((kills + 1))
	for _ in $(seq 1 50); do kill -0 "$PID_a" 2>/dev/null || break; sleep 0.02; done
	topo_run a
done
mg_log "$kills agents killed; waiting for the last one to converge"
wait_until 60 converged || mg_fail "no convergence after the kills: $(diff <(routes) <(want_routes) | head -5)"
dups=$(nsx "$C_a" ip -j route show table all | jq -r '.[]|select(.protocol=="109" or .protocol==109)|.dst' | sort | uniq -d)
assert_eq "$dups" "" "duplicate routes"
assert_eq "$(tables)" 1 "nftables tables named meshgate"
nsx "$C_a" nft -j list set inet meshgate nat_ex4 >/dev/null || mg_fail "NAT exclusion set missing"
assert_eq "$(nsx "$C_a" ip -j link show | jq --arg i "$IF_a" '[.[]|select(.ifname==$i)]|length')" 1 "one tunnel"
grep -qE 'AddressSanitizer|runtime error' "$MG_TMP/run-a.log" && mg_fail "sanitizer report in the agent's log"

mg_log "down restores every sysctl and removes the tunnel, routes, table and drop-in"
kill -TERM "$PID_a"
wait_until 10 sh -c "! kill -0 $PID_a 2>/dev/null" || mg_fail "agent did not stop"
nsx "$C_a" "$MESHGATE" down --state-dir "$STATE_a" --sysctl-dropin "$MG_TMP/sysctl-a.conf" \
	>"$MG_TMP/down.log" 2>&1 || mg_fail "down failed: $(cat "$MG_TMP/down.log")"
after=$(for k in $keys; do printf '%s=%s ' "$k" "$(sysval "$k")"; done)
assert_eq "$after" "$before" "sysctls after down"
assert_eq "$(routes)" "" "routes after down"
assert_eq "$(tables)" 0 "table after down"
[ ! -e "$MG_TMP/sysctl-a.conf" ] || mg_fail "drop-in left behind"
nsx "$C_a" ip link show "$IF_a" >/dev/null 2>&1 && mg_fail "tunnel left behind"
mg_pass
