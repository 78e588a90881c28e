#!/usr/bin/env bash
# Runs in the kernel-WireGuard VM (t_kernel_wg.sh): `meshgate run --wg-mode auto` picks
# the backend by what the kernel has. STATE (the argument):
#   loaded    the wireguard module is loaded: kernel WireGuard
#   autoload  it is not loaded, the kernel may load it (creating the link does, through
#             modprobe): kernel WireGuard, and the module is loaded afterwards
#   absent    it is not loaded and cannot be (rmmod, and the kernel's modprobe helper
#             /proc/sys/kernel/modprobe set to /bin/false until this test ends): the
#             userspace fallback, wireguard-go
# Each: a controller (whose hub picks the same way) and one site whose agent must
# report the backend it uses (log line, link kind, the controller's view of its status)
# and reach the hub through it (a handshake, a ping of the hub's mesh address).
. "$MG_SRC/tests/integration/lib.sh"
. "$MG_SRC/tests/integration/topo.sh"
state=${1:?usage: kvm_auto.sh loaded|autoload|absent}
mg_setup "kvm_auto_$state"
unset MG_WG_MODE

# unload: every link of the module must be gone (deleted namespaces' links go a moment
# after `ip netns del`)
unload() { wait_until 20 modprobe -r wireguard || mg_fail "cannot unload wireguard: $(lsmod | grep wireguard)"; }
loaded() { [ -d /sys/module/wireguard ]; }
case $state in
loaded)
	modprobe wireguard || mg_fail "modprobe wireguard"
	want=kernel
	;;
autoload)
	unload
	want=kernel
	;;
absent)
	unload
	helper=$(cat /proc/sys/kernel/modprobe)
	trap 'echo "$helper" >/proc/sys/kernel/modprobe; modprobe wireguard; mg_cleanup' EXIT
	echo /bin/false >/proc/sys/kernel/modprobe
	want=userspace
	;;
*) mg_fail "unknown state $state" ;;
esac

topo_internet
topo_site a 192.0.2 10
na=$(topo_network site-a '"subnets":["192.0.2.0/24"],"access":[{"cidr":"192.0.2.0/24","mode":"full"}]')
topo_connector a "$na" --wg-mode auto
topo_wait_applied a
topo_check_wg_mode a "$want"
assert_contains "$(cat "$MG_TMP/run-a.log")" "tunnel $IF_a created ($want WireGuard)" "the agent's choice"
hub_kind=$(ip -n "$INET" -d -j link show dev "$HUB_IF" | jq -r '.[0].linkinfo.info_kind // empty')
if [ $want = kernel ]; then
	assert_eq "$hub_kind" wireguard "the hub's link"
	loaded || mg_fail "the wireguard module is not loaded after the agent made a kernel link"
else
	assert_eq "$hub_kind" tun "the hub's link"
	loaded && mg_fail "the wireguard module got loaded"
fi

mg_log "traffic to the hub's mesh address through the $want tunnel"
hub_addr=$(api "$INET" GET /api/v1/hub | jq -r '.address // empty')
hub_addr=${hub_addr%/*}
[ -n "$hub_addr" ] || mg_fail "no hub address: $(api "$INET" GET /api/v1/hub)"
ping_ok "$C_a" "$hub_addr" 10 || mg_fail "the connector cannot ping the hub ($hub_addr)"
_reported() {
	api "$INET" GET /api/v1/connectors >"$MG_TMP/conns"
	jq -e --arg b "$want" '[.connectors[] | select(.status.tunnel.backend == $b)] | length == 1' "$MG_TMP/conns"
}
wait_until 15 _reported || mg_fail "the controller does not see backend $want: $(cat "$MG_TMP/conns")"
mg_log "auto with the module $state: $want WireGuard"
mg_pass
