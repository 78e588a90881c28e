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

import argparse
import ipaddress
import json
import os
import subprocess
import sys
import time


def sh(*args, check=True, inp=None):
    r = subprocess.run(args, input=inp, text=True, capture_output=True)
    if check and r.returncode != 0:
        print("vnet_router: %s: %s" % (" ".join(args), r.stderr.strip()), file=sys.stderr, flush=True)
    return r


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
        table, pref = base + n, 2000 + n
        rules = sh("ip", "-j", "rule", "show", "pref", str(pref), check=False).stdout
        if '"iif":"%s"' % ifname not in rules.replace(" ", ""):
            sh("ip", "rule", "del", "pref", str(pref), check=False)
            sh("ip", "rule", "add", "iif", ifname, "lookup", str(table), "pref", str(pref))
        sh("ip", "route", "flush", "table", str(table), check=False)
        for r in state["subnets"].get(name, {}).get("routes", []):
            if ":" in r["dst"]:
                continue
            sh("ip", "route", "replace", *route_spec(r, vnet), "table", str(table), "proto", "static")
    lines = ["table ip fakevnet {", " chain ipfwd {", "  type filter hook forward priority 0; policy accept;"]
    for name, nic in sorted(state.get("nics", {}).items()):
        if nic["enable_ip_forwarding"] or not nic["ips"]:
            continue
        ips = "{ %s }" % ", ".join(nic["ips"])
        for ip in nic["ips"]:
            lines.append('  rt ip nexthop %s ip daddr != %s counter drop comment "%s in"' % (ip, ips, name))
        if nic.get("mac"):
            lines.append('  ether saddr %s ip saddr != %s counter drop comment "%s out"' % (nic["mac"], ips, name))
    lines += [" }", "}"]
    sh("nft", "-f", "-", check=False, inp="table ip fakevnet\ndelete table ip fakevnet\n")
    sh("nft", "-f", "-", inp="\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--routes", required=True)
    ap.add_argument("--subnet", action="append", default=[], help="SUBNET_NAME=IFNAME (repeat)")
    ap.add_argument("--table-base", type=int, default=200)
    ap.add_argument("--interval", type=float, default=0.1)
    ap.add_argument("--once", action="store_true")
    a = ap.parse_args()
    subnets = [tuple(s.split("=", 1)) for s in a.subnet]
    last = None
    while True:
        try:
            with open(a.routes) as f:
                state = json.load(f)
        except (OSError, ValueError):
            state = None
        if state and state.get("generation") != last:
            apply(state, subnets, a.table_base)
            last = state["generation"]
            with open(a.routes + ".applied.tmp", "w") as f:
                f.write("%d\n" % last)
            os.replace(a.routes + ".applied.tmp", a.routes + ".applied")
        if a.once:
            return 0
        time.sleep(a.interval)


if __name__ == "__main__":
    sys.exit(main())
