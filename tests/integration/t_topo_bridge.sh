#!/usr/bin/env bash
# The test topology's bridges keep their own MAC address when a port joins (topo.sh).
# A Linux bridge without an address of its own takes the lowest of its ports' addresses
# and changes it when a port with a lower one joins. The internet bridge did when the
# user's port joined right after site B (about 1 setup in 8): B's router, which had
# resolved the hub (203.0.113.1) at B's handshake, kept sending to the old address, which
# the bridge drops, until its ARP entry expired: B's tunnel and B's requests to the
# controller carried nothing for 15 to 45 s.
#  1. a port with the lowest address there is joins the internet bridge and a site's LAN
#     bridge: both keep their addresses;
#  2. the two-site mesh: after B's LAN has reached A's, a host with the lowest address
#     joins the internet; B's LAN still reaches A's within 2 s, and B's router's ARP
#     entry for the hub is the bridge's address.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/topo.sh"
mg_setup topo_bridge

# late_port NS BRIDGE ADDR: a veth whose end in NS has MAC ADDR joins BRIDGE there
late_port() {
	local a="x$MG_ID$RANDOM" b="y$MG_ID$RANDOM"
	ip link add "${a:0:15}" address "$3" type veth peer name "${b:0:15}"
	ip link set "${a:0:15}" netns "$1"
	ip link set "${b:0:15}" netns "$1"
	ip -n "$1" link set "${a:0:15}" master "$2" up
	ip -n "$1" link set "${b:0:15}" up
}
mac() { ip -n "$1" -j link show "$2" | jq -r '.[0].address'; }

topo_internet
topo_site a 192.0.2 10
topo_site b 198.51.100 20
topo_route_via_connector a 198.51.100.0/24
topo_route_via_connector b 192.0.2.0/24

mg_log "1. a port with the lowest address joins: the bridges keep theirs"
inet_mac=$(mac "$INET" br0)
lan_mac=$(mac "$R_b" lan)
# 00:00:5e:00:53:xx: the addresses RFC 7042 sets aside for documentation, below any
# random (locally administered) address a veth gets
late_port "$INET" br0 00:00:5e:00:53:02
late_port "$R_b" lan 00:00:5e:00:53:01
assert_eq "$(mac "$INET" br0)" "$inet_mac" "internet bridge address after a port joined"
assert_eq "$(mac "$R_b" lan)" "$lan_mac" "LAN bridge address after a port joined"

mg_log "2. a host joins the internet after B's handshake: B still reaches A"
na=$(topo_network site-a '"subnets":["192.0.2.0/24"],"access":[{"cidr":"192.0.2.0/24","mode":"full"}]')
nb=$(topo_network site-b '"subnets":["198.51.100.0/24"],"access":[{"cidr":"198.51.100.0/24","mode":"full"}]')
topo_connector a "$na"
topo_connector b "$nb"
topo_wait_applied a
topo_wait_applied b
ping_ok "$S_b" 192.0.2.10 10 || mg_fail "B cannot reach A"
late_port "$INET" br0 00:00:5e:00:53:00
ping_ok "$S_b" 192.0.2.10 2 ||
	mg_fail "B lost A after a port joined the internet: $(ip -n "$R_b" neigh show 203.0.113.1), bridge $(mac "$INET" br0)"
_hub_neigh() { ip -n "$R_b" neigh show 203.0.113.1; }
assert_contains "$(_hub_neigh)" "lladdr $inet_mac" "B's router's ARP entry for the hub"
mg_pass
