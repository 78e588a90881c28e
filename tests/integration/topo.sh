# shellcheck shell=bash
# Mesh topology in namespaces, shared by the data-path tests and scripts/demo.
#
#   inet (203.0.113.1/24 on bridge "br0"): the internet; the controller and its hub
#   per site X: rX router  (wan 203.0.113.<n>, LAN bridge <lan>.1/24, masquerades to inet)
#               cX connector (<lan>.2, default via <lan>.1, runs `meshgate run`)
#               sX server    (<lan>.10, default via <lan>.1, the private app)
#   user: a laptop on the internet (203.0.113.50) running wg-quick with the config
#         POST /api/v1/users hands out.
# The internet has no route to any LAN: sites reach each other only through the mesh.
#
# IPv6 (the dual-stack mesh): TOPO_V6=1, set before topo_internet, gives every link an
# IPv6 address as well, in the documentation prefix (duplicate address detection off):
# the internet 2001:db8:ff::/64 (the controller ::1, a port given 203.0.113.N gets ::N),
# site X's LAN 2001:db8:<wan octet>::/64 (router ::1, connector ::2, server ::10). Routers
# route the IPv6 mesh range (TOPO_MESH6) to their connector and masquerade IPv6 to the
# internet as they do IPv4. TOPO_V4=0 on top leaves IPv4 out of the underlay (internet,
# WAN and LAN links): the controller's API and the hub are reached over IPv6 only.
# MG_WG_MODE=kernel|userspace|auto runs every agent with --wg-mode MODE (unset: the
# agent's default, auto), and topo_wait_applied checks the tunnel is of that kind
# (tests/system/t_kernel_wg.sh runs these tests in a VM with kernel WireGuard).
# Requires lib.sh to be sourced first.
TOPO_V4=${TOPO_V4:-1}
TOPO_V6=${TOPO_V6:-0}
TOPO_NET6=2001:db8:ff
TOPO_MESH6=fd6d:6773::/64

# _bridge NS NAME: a bridge (up) that keeps the MAC address it was made with. Without an
# address of its own a Linux bridge takes the lowest of its ports' and changes it when a
# port with a lower one joins: hosts that resolved the bridge's IP address before (a
# site's router, the hub's 203.0.113.1, when the user joined right after site B) keep
# sending to the old one, which the bridge drops, until their ARP entry expires (15 to
# 45 s: B's tunnel and its controller requests carried nothing). t_topo_bridge.sh
_bridge() {
	local mac
	ip -n "$1" link add "$2" type bridge
	mac=$(ip -n "$1" -j link show "$2" | jq -r '.[0].address')
	ip -n "$1" link set "$2" address "$mac"
	ip -n "$1" link set "$2" up
}

topo_internet() {
	local ctl=203.0.113.1
	INET=$(ns_add inet)
	_bridge "$INET" br0
	[ "$TOPO_V4" = 0 ] || ip -n "$INET" addr add 203.0.113.1/24 dev br0
	if [ "$TOPO_V6" = 1 ]; then
		nsx "$INET" sysctl -qw net.ipv6.conf.all.forwarding=1
		ip -n "$INET" addr add "$TOPO_NET6::1/64" dev br0 nodad
		[ "$TOPO_V4" = 1 ] || ctl="[$TOPO_NET6::1]"
	fi
	HUB_IF="mgh$MG_ID"
	ctl_start "$INET" "$MG_TMP/ctl" "$ctl" 8443 --hub-ifname "$HUB_IF" \
		--hub-endpoint "$ctl:51820" "$@"
}

# _inet_port NS IFNAME ADDR: a veth from NS into the internet bridge (203.0.113.N, and
# 2001:db8:ff::N with TOPO_V6=1)
_inet_port() {
	local ns=$1 ifn=$2 addr=$3 peer="p$MG_ID${RANDOM:0:4}"
	veth "$ns" "$ifn" "$INET" "${peer:0:15}"
	ip -n "$INET" link set "${peer:0:15}" master br0
	if [ "$TOPO_V4" = 1 ]; then
		ip -n "$ns" addr add "$addr/24" dev "$ifn"
		ip -n "$ns" route add default via 203.0.113.1
	fi
	if [ "$TOPO_V6" = 1 ]; then
		ip -n "$ns" addr add "$TOPO_NET6::${addr##*.}/64" dev "$ifn" nodad
		ip -n "$ns" -6 route add default via "$TOPO_NET6::1"
	fi
}

# topo_site NAME LAN_PREFIX WAN_LAST_OCTET   e.g. topo_site a 192.0.2 10
# Sets R_<name> C_<name> S_<name> namespaces.
topo_site() {
	local n=$1 lan=$2 wan=$3 lan6="2001:db8:$3"
	local r c s
	r=$(ns_add "r$n")
	c=$(ns_add "c$n")
	s=$(ns_add "s$n")
	# a LAN router that hands mesh traffic to a host on the same LAN: no redirects
	# (set before its interfaces exist: the per-interface value is OR-ed with "all")
	nsx "$r" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.send_redirects=0 \
		net.ipv4.conf.default.send_redirects=0
	[ "$TOPO_V6" = 0 ] || nsx "$r" sysctl -qw net.ipv6.conf.all.forwarding=1
	_inet_port "$r" wan "203.0.113.$wan"
	_bridge "$r" lan
	[ "$TOPO_V4" = 0 ] || ip -n "$r" addr add "$lan.1/24" dev lan
	[ "$TOPO_V6" = 0 ] || ip -n "$r" addr add "$lan6::1/64" dev lan nodad
	local fam
	for fam in ip ip6; do
		[ $fam = ip ] && [ "$TOPO_V4" = 0 ] && continue
		[ $fam = ip6 ] && [ "$TOPO_V6" = 0 ] && continue
		nsx "$r" nft add table $fam sitenat
		nsx "$r" nft add chain $fam sitenat post '{ type nat hook postrouting priority srcnat; policy accept; }'
		nsx "$r" nft add rule $fam sitenat post oifname wan masquerade
	done
	local ns ifn
	for pair in "$c:2" "$s:10"; do
		ns=${pair%%:*}
		ifn="l$MG_ID${RANDOM:0:4}"
		veth "$ns" eth0 "$r" "${ifn:0:15}"
		ip -n "$r" link set "${ifn:0:15}" master lan
		if [ "$TOPO_V4" = 1 ]; then
			ip -n "$ns" addr add "$lan.${pair##*:}/24" dev eth0
			ip -n "$ns" route add default via "$lan.1"
		fi
		if [ "$TOPO_V6" = 1 ]; then
			ip -n "$ns" addr add "$lan6::${pair##*:}/64" dev eth0 nodad
			ip -n "$ns" -6 route add default via "$lan6::1"
		fi
	done
	# the seed's option 1: the LAN router sends mesh traffic to the connector
	[ "$TOPO_V4" = 0 ] || ip -n "$r" route add 100.96.0.0/11 via "$lan.2"
	[ "$TOPO_V6" = 0 ] || ip -n "$r" -6 route add "$TOPO_MESH6" via "$lan6::2"
	eval "R_$n=$r C_$n=$c S_$n=$s LAN_$n=$lan LAN6_$n=$lan6"
}

# topo_route_via_connector SITE CIDR: the site router sends CIDR (IPv4 or IPv6) to its
# connector
topo_route_via_connector() {
	local r lan lan6
	eval "r=\$R_$1 lan=\$LAN_$1 lan6=\$LAN6_$1"
	case $2 in
	*:*) ip -n "$r" -6 route replace "$2" via "$lan6::2" ;;
	*) ip -n "$r" route replace "$2" via "$lan.2" ;;
	esac
}

# topo_network NAME JSON-FIELDS -> prints network id
topo_network() {
	local out
	out=$(api "$INET" POST /api/v1/networks "{\"name\":\"$1\"${2:+,$2}}")
	[ "$(api_st)" = 201 ] || mg_fail "create network $1: $(api_st) $out"
	jq -r .id <<<"$out"
}

# topo_connector SITE NETWORK_ID [extra run args]: enrol and run meshgate in cSITE.
# Sets STATE_<site>, IF_<site>, PID_<site>.
topo_connector() {
	local site=$1 net=$2
	shift 2
	local c out cs sd ifn
	eval "c=\$C_$site"
	out=$(api "$INET" POST "/api/v1/networks/$net/connectors" "{\"name\":\"site-$site\"}")
	[ "$(api_st)" = 201 ] || mg_fail "create connector: $(api_st) $out"
	cs=$(jq -r .connection_string <<<"$out")
	sd="$MG_TMP/state-$site"
	ifn="mg$MG_ID$site"
	printf '%s' "$cs" >"$MG_TMP/cs-$site"
	nsx "$c" "$MESHGATE" up --state-dir "$sd" --connect-file "$MG_TMP/cs-$site" \
		--ifname "$ifn" >"$MG_TMP/up-$site.log" 2>&1 || mg_fail "up $site: $(cat "$MG_TMP/up-$site.log")"
	eval "STATE_$site=$sd IF_$site=$ifn"
	topo_run "$site" "$@"
}

# topo_run SITE [args]: (re)start the agent of a site
topo_run() {
	local site=$1 c sd
	shift
	eval "c=\$C_$site sd=\$STATE_$site"
	bg_start "$c" "$MG_TMP/run-$site.log" "$MESHGATE" run --state-dir "$sd" \
		--sysctl-dropin "$MG_TMP/sysctl-$site.conf" --log-level debug \
		${MG_WG_MODE:+--wg-mode "$MG_WG_MODE"} "$@"
	eval "PID_$site=$BG_PID"
}

# topo_wait_applied SITE [SECONDS]: wait until the agent's tunnel is up with routes
topo_wait_applied() {
	local site=$1 secs=${2:-15} c sd
	eval "c=\$C_$site sd=\$STATE_$site"
	wait_until "$secs" _applied "$sd" || mg_fail "site $site never applied its config: $(tail -20 "$MG_TMP/run-$site.log")"
	topo_check_wg_mode "$site"
}
# topo_check_wg_mode SITE [MODE]: with MODE (default $MG_WG_MODE) kernel or userspace,
# the site's tunnel is a kernel WireGuard link (kind "wireguard"), or a TUN device
# served by a UAPI socket
topo_check_wg_mode() {
	local site=$1 mode=${2:-${MG_WG_MODE:-}} c ifn kind
	eval "c=\$C_$site ifn=\$IF_$site"
	case $mode in
	kernel | userspace) ;;
	*) return 0 ;;
	esac
	kind=$(ip -n "$c" -d -j link show dev "$ifn" | jq -r '.[0].linkinfo.info_kind // empty')
	if [ "$mode" = kernel ]; then
		assert_eq "$kind" wireguard "site $site: kind of $ifn (kernel WireGuard)"
		[ ! -e "/var/run/wireguard/$ifn.sock" ] || mg_fail "site $site: a UAPI socket for $ifn in kernel mode"
	else
		assert_eq "$kind" tun "site $site: kind of $ifn (userspace WireGuard)"
		[ -S "/var/run/wireguard/$ifn.sock" ] || mg_fail "site $site: no UAPI socket for $ifn"
	fi
}
_applied() { [ "$(jq -r '.applied_version // empty' "$1/status.json" 2>/dev/null)" != "" ]; }

# topo_user NAME: a remote user with the controller's wg-quick config. Sets U_NS, U_ADDR,
# U_ADDR6 (its IPv6 mesh address, "null" without an IPv6 mesh range).
topo_user() {
	local out
	U_NS=$(ns_add "u$1")
	_inet_port "$U_NS" eth0 203.0.113.50
	out=$(api "$INET" POST /api/v1/users "{\"name\":\"$1\"}")
	[ "$(api_st)" = 201 ] || mg_fail "create user: $(api_st) $out"
	U_ADDR=$(jq -r .address <<<"$out")
	U_ADDR6=$(jq -r .address6 <<<"$out")
	U_IF="mgu$MG_ID"
	mkdir -p "$MG_TMP/wgq"
	jq -r .config <<<"$out" >"$MG_TMP/wgq/$U_IF.conf"
	chmod 600 "$MG_TMP/wgq/$U_IF.conf"
	nsx "$U_NS" wg-quick up "$MG_TMP/wgq/$U_IF.conf" >"$MG_TMP/wgq.log" 2>&1 ||
		mg_fail "wg-quick up: $(cat "$MG_TMP/wgq.log")"
}

# ping_ok NS ADDR: one ICMP exchange within 2 s (retrying up to 5 s for handshakes)
ping_ok() {
	wait_until "${3:-5}" nsx "$1" ping -c1 -W1 "$2"
}

# topo_whoami NS PORT...: an HTTP server on every address of NS (IPv4 and IPv6) and each
# PORT that answers GET with the client address it sees; topo_seen NS URL [SECONDS] prints
# the answer (empty on failure, within SECONDS, default 3).
topo_whoami() {
	local ns=$1 p srv='import http.server as h, socket, sys, threading
class S(h.ThreadingHTTPServer):
    address_family = socket.AF_INET6
class H(h.BaseHTTPRequestHandler):
    def do_GET(s):
        b = s.client_address[0].removeprefix("::ffff:").encode()
        s.send_response(200); s.send_header("Content-Length", str(len(b))); s.end_headers()
        s.wfile.write(b)
    def log_message(s, *a): pass
for p in sys.argv[1:]:
    threading.Thread(target=S(("::", int(p)), H).serve_forever).start()'
	shift
	bg_start "$ns" "$MG_TMP/whoami-$ns.log" python3 -c "$srv" "$@"
	for p in "$@"; do
		wait_until 5 _listening "$ns" "$p" || mg_fail "whoami server on $ns:$p did not start"
	done
}
_listening() { [ -n "$(nsx "$1" ss -ltnH "sport = :$2")" ]; }
topo_seen() { nsx "$1" curl -gs --max-time "${3:-3}" "$2" || true; }
