#!/usr/bin/env python3
"""vcn_router: make a namespace behave like the fake VCN's virtual router (stdlib + ip + nft).

Run it inside the namespace that stands for the VCN (usually the fake's own, where every subnet
is a veth into a host namespace, the router side holding the subnet's virtual router IP, and IP
forwarding is on). It follows <state>/vcn-routes.json, which fake_oci.py rewrites on every
change, and keeps, for each subnet given with --subnet, a routing table of its own holding the
rules of that subnet's route table whose target is a private IP:

  ip rule  iif <subnet's interface> lookup <table> pref <1000+n>
  ip route replace <destination> via <private IP's address> table <table>

The kernel picks the longest prefix, as OCI does. Traffic within the VCN falls through to the
namespace's main table (the connected subnet routes). Rules to gateways (DRG, service or
internet gateway) and SERVICE_CIDR_BLOCK rules are not modelled and left out.

With --source-dest-check (default on) it also drops, in nftables table "ip fakevcn", what OCI
drops for a VNIC whose skipSourceDestCheck is false: a forwarded packet whose next hop is that
VNIC's address but that is not addressed to one of its addresses, and a packet from the VNIC's
MAC whose source is not one of its addresses. So a connector must set skipSourceDestCheck=true
(PUT /vnics/{id}) before traffic routes through it, and its interface must carry the VNIC's MAC.

After applying generation N it writes N to <routes file>.applied, so a test can wait for it.
  vcn_router.py --routes ST/vcn-routes.json --subnet <subnet OCID>=sb [--once]
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from nsrouter import Router  # noqa: E402

R = Router("vcn_router")


def apply(state, subnets, base, sdc):
    for n, (sid, ifname) in enumerate(subnets):
        R.bind(ifname, base + n, 1000 + n)
        want = {}
        for r in state["subnets"].get(sid, {}).get("rules", []):
            if r["destinationType"] != "CIDR_BLOCK" or ":" in r["destination"] or not r.get("via"):
                continue
            want[r["destination"]] = [r["destination"], "via", r["via"]]
        R.sync(base + n, want)
    if sdc:
        R.forward_check("fakevcn", "sdc", [(vid[-16:], v["ips"], v.get("mac"))
                                           for vid, v in sorted(state.get("vnics", {}).items())
                                           if not v["skip_source_dest_check"]])


def main():
    a = Router.args(__doc__, "SUBNET_OCID", 100, "source-dest-check", "let every VNIC forward")
    return Router.follow(a.routes, a.interval, a.once, lambda st: apply(st, a.subnets, a.table_base, a.check))


if __name__ == "__main__":
    sys.exit(main())
