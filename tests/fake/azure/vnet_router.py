#!/usr/bin/env python3
"""vnet_router: make a namespace behave like the fake Azure VNet's router (stdlib + ip + nft).

Run it inside the namespace that stands for the VNet (usually the fake's own, where every
subnet is a veth into a host namespace and IP forwarding is on). It follows
<state>/vnet-routes.json, which fake_azure.py rewrites on every committed change, and keeps,
for each subnet given with --subnet, a routing table of its own with that subnet's effective
routes (the VNet's system routes overridden by the associated route table's user routes: a
user route beats a system route of the same prefix, the longest prefix wins):

  ip rule  iif <subnet's interface> lookup <table> pref <2000+n>
  VnetLocal (system route for the address space, or a user route)  ->  throw <dst>
        (falls through to the main table: the connected routes of the subnet interfaces)
  VirtualAppliance nextHopIpAddress X (X inside the VNet)          ->  <dst> via X
  VirtualAppliance with X outside the VNet, None                    ->  blackhole <dst>
  Internet, VirtualNetworkGateway (not modelled)                    ->  unreachable <dst>

It also enforces each NIC's enableIPForwarding in nftables table "ip fakevnet", as Azure does:
while it is false, a forwarded packet whose next hop is that NIC must be addressed to the NIC's
own IP, and a packet coming from the NIC's MAC must carry the NIC's IP as source; others are
dropped. So a VM must have IP forwarding enabled on its NIC (ARM PUT networkInterfaces with
enableIPForwarding true) before it can route, and the test host's interface must carry the NIC's
MAC (from the topology) for the second half.

After applying generation N it writes N to <routes file>.applied, so a test can wait for it.
  vnet_router.py --routes ST/vnet-routes.json --subnet snet-app=sb [--subnet snet-gw=sa] [--once]
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from nsrouter import Router  # noqa: E402

import ipaddress  # noqa: E402

R = Router("vnet_router")


def route_spec(r, vnet):
    dst, typ = r["dst"], r["type"]
    if typ == "VnetLocal":
        return ["throw", dst]
    if typ == "VirtualAppliance":
        via = ipaddress.ip_address(r["via"])
        if any(via in n for n in vnet):
            return [dst, "via", r["via"]]
        return ["blackhole", dst]
    if typ == "None":
        return ["blackhole", dst]
    return ["unreachable", dst]


def apply(state, subnets, base):
    vnet = [ipaddress.ip_network(p) for p in state["vnet_prefixes"]]
    for n, (name, ifname) in enumerate(subnets):
        R.bind(ifname, base + n, 2000 + n)
        R.sync(base + n, {r["dst"]: route_spec(r, vnet)
                          for r in state["subnets"].get(name, {}).get("routes", []) if ":" not in r["dst"]},
               flush=True)
    R.forward_check("fakevnet", "ipfwd", [(name, nic["ips"], nic.get("mac"))
                                          for name, nic in sorted(state.get("nics", {}).items())
                                          if not nic["enable_ip_forwarding"]])


def main():
    a = Router.args(__doc__, "SUBNET_NAME", 200)
    return Router.follow(a.routes, a.interval, a.once, lambda st: apply(st, a.subnets, a.table_base))


if __name__ == "__main__":
    sys.exit(main())
