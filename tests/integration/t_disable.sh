#!/usr/bin/env bash
# Disable and enable, with traffic (issue 16 part 6):
#  - a connector: POST /connectors/{id}/disable cuts the user's traffic to its site within
#    1 s; POST .../enable brings it back within 2 s, in both directions, on the same
#    WireGuard session (the hub kept the peer with its endpoint and no allowed IPs);
#  - a user: the same through POST /users/{id}/disable and /enable; GET shows `disabled`,
#    the config fetch answers 403 user_disabled meanwhile and the same text afterwards.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/topo.sh"
mg_setup disable

topo_internet
topo_site a 192.0.2 10
na=$(topo_network site-a '"subnets":["192.0.2.0/24"],"access":[{"cidr":"192.0.2.0/24","mode":"full"}]')
topo_connector a "$na"
topo_wait_applied a
topo_user alice
UID_=$(api "$INET" GET /api/v1/users | jq -r '.users[0].id')
CID=$(api "$INET" GET /api/v1/connectors | jq -r '.connectors[0].id')
CPUB=$(api "$INET" GET "/api/v1/connectors/$CID" | jq -r .public_key)
UPUB=$(api "$INET" GET "/api/v1/users/$UID_" | jq -r .public_key)
ping_ok "$U_NS" 192.0.2.10 10 || mg_fail "user cannot reach site A before the test"

stamp() { # now as seconds.millis, the format of ping -D
	local t
	t=$(now_ms)
	printf '%d.%03d' $((t / 1000)) $((t % 1000))
}
# replies_after LOG T: replies ping -D stamped after T (seconds)
replies_after() {
	awk -v t="$2" '/bytes from/ { s = substr($1, 2, length($1) - 2); if (s + 0 > t + 0) n++ } END { print n + 0 }' "$1"
}
# first_after_ms LOG T: milliseconds from T to the first reply stamped after it (fails if none)
first_after_ms() {
	awk -v t="$2" '/bytes from/ { s = substr($1, 2, length($1) - 2); if (s + 0 > t + 0) { printf "%d\n", (s - t) * 1000; f = 1; exit } } END { exit !f }' "$1"
}
# hub_allowed KEY: the hub's allowed IPs of the peer KEY ("(none)" when cut)
hub_allowed() { nsx "$INET" wg show "$HUB_IF" allowed-ips | awk -v k="$1" '$1 == k { $1 = ""; print substr($0, 2) }'; }
hub_endpoint() { nsx "$INET" wg show "$HUB_IF" endpoints | awk -v k="$1" '$1 == k { print $2 }'; }
handshake() { nsx "$1" wg show "$2" latest-handshakes | awk '{ print $2 }'; }

# cut_and_restore LABEL KIND ID KEY: pings every 100 ms from the user to site A's server;
# disabling ID must stop the replies within 1 s (and keep the peer at the hub with its
# endpoint and no allowed IPs), enabling it must bring them back within 2 s.
cut_and_restore() {
	local label=$1 kind=$2 id=$3 key=$4 plog t_d t_e dt
	plog=$MG_TMP/ping-$label.log
	bg_start "$U_NS" "$plog" ping -D -n -i 0.1 -W 1 -c 400 192.0.2.10
	local pping=$BG_PID
	wait_until 5 grep -q "bytes from" "$plog" || mg_fail "$label: no traffic before disable"
	out=$(api "$INET" POST "/api/v1/$kind/$id/disable")
	t_d=$(stamp)
	assert_eq "$(api_st)" 200 "$label: disable ($out)"
	assert_eq "$(jq -r .state <<<"$out")" disabled "$label: state after disable"
	# cut within 1 s of the answer: nothing after t_d + 1 s, watched for 0.5 s more
	# (5 pings)
	sleep 1.5
	assert_eq "$(replies_after "$plog" "$(awk -v t="$t_d" 'BEGIN { printf "%.3f", t + 1 }')")" 0 \
		"$label: replies more than 1 s after disable"
	assert_eq "$(hub_allowed "$key")" "(none)" "$label: hub allowed IPs while disabled"
	[ -n "$(hub_endpoint "$key")" ] && [ "$(hub_endpoint "$key")" != "(none)" ] ||
		mg_fail "$label: the hub forgot the endpoint: $(nsx "$INET" wg show "$HUB_IF")"
	local hs_before
	hs_before=$(handshake "$C_a" "$IF_a")
	out=$(api "$INET" POST "/api/v1/$kind/$id/enable")
	t_e=$(stamp)
	assert_eq "$(api_st)" 200 "$label: enable ($out)"
	assert_eq "$(jq -r .state <<<"$out")" "$([ "$kind" = users ] && echo active || echo enrolled)" \
		"$label: state after enable"
	wait_until 10 first_after_ms "$plog" "$t_e" || mg_fail "$label: traffic not back within 10 s of enable"
	dt=$(first_after_ms "$plog" "$t_e")
	mg_log "$label: cut after disable; traffic back $dt ms after enable (bound 2000)"
	[ "$dt" -le 2000 ] || mg_fail "$label: traffic back only $dt ms after enable (bound 2000)"
	kill "$pping" 2>/dev/null || true
	# the other direction too: the site's server reaches the user
	ping_ok "$S_a" "${U_ADDR%/*}" 2 || mg_fail "$label: site A cannot reach the user after enable"
	# no new handshake was needed (same session as before the enable)
	assert_eq "$(handshake "$C_a" "$IF_a")" "$hs_before" "$label: connector handshake changed"
}

mg_log "connector: disable, enable"
cut_and_restore connector connectors "$CID" "$CPUB"
assert_contains "$(cat "$MG_TMP/run-a.log")" "disabled" "the agent was told it is disabled"
assert_contains "$(hub_allowed "$CPUB")" "192.0.2.0/24" "connector's subnets back at the hub"
assert_contains "$(nsx "$INET" ip route show proto 110)" 192.0.2.0/24 "hub route to site A back"

mg_log "user: disable, enable (config unchanged; fetch refused while disabled)"
conf_before=$(api "$INET" GET "/api/v1/users/$UID_/config" | jq -r .config)
assert_eq "$(api_st)" 200 "config fetch"
assert_contains "$conf_before" "PrivateKey = <your private key>" "fetched config"
cut_and_restore user users "$UID_" "$UPUB"
out=$(api "$INET" POST "/api/v1/users/$UID_/disable")
assert_eq "$(jq -r '[.state, .disabled] | @tsv' <<<"$(api "$INET" GET "/api/v1/users/$UID_")")" \
	"$(printf 'disabled\ttrue')" "GET of a disabled user"
out=$(api "$INET" GET "/api/v1/users/$UID_/config")
assert_eq "$(api_st)" 403 "config fetch of a disabled user"
assert_eq "$(jq -r .error.code <<<"$out")" user_disabled "error code"
api "$INET" POST "/api/v1/users/$UID_/enable" >/dev/null
assert_eq "$(api_st)" 200 "enable again"
assert_eq "$(api "$INET" GET "/api/v1/users/$UID_/config" | jq -r .config)" "$conf_before" \
	"the user's config after disable and enable"
assert_eq "$(api "$INET" GET "/api/v1/users/$UID_" | jq -r '[.state, .disabled] | @tsv')" \
	"$(printf 'active\tfalse')" "GET of an enabled user"
ping_ok "$U_NS" 192.0.2.10 2 || mg_fail "user cut after the second enable"
mg_pass
