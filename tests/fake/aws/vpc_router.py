#!/usr/bin/env python3
"""vpc_router: make a namespace behave like the fake VPC's implicit router (stdlib + ip + nft).

Run it inside the namespace that stands for the VPC router (usually the fake's own, where
every subnet is a veth into a host namespace and IP forwarding is on). It follows
<state>/vpc-routes.json, which fake_aws.py rewrites on every change, and keeps, for each
subnet given with --subnet, a routing table of its own that holds that subnet's effective
VPC routes (from its explicitly associated table, else the main one):

  ip rule  iif <subnet's interface> lookup <table> pref <1000+n>
  ip route replace <dst> via <ENI's primary IP> table <table>   (state active, ENI target)
  ip route replace blackhole <dst> table <table>                (state blackhole)

The VPC's local route is the namespace's main table (connected routes of the subnets), which
the rule falls through to. Gateway targets (igw-...) are not modelled and left out.

With --source-dest-check (default on) it also enforces the ENIs' source/destination check in
an nftables table "fakevpc" of this namespace, as EC2 does: a forwarded packet whose next hop
is an ENI with the check on must be addressed to that ENI, and a packet from such an ENI's
MAC must carry one of its addresses as source. So a connector must turn the check off
(ModifyNetworkInterfaceAttribute SourceDestCheck.Value=false) before it can route, and the
test host's interface must carry the ENI's MAC (from the topology) for the second half.

After applying generation N it writes N to <routes file>.applied, so a test can wait for it.
  vpc_router.py --routes ST/vpc-routes.json --subnet subnet-0b0000000000000b2=sb [--once]
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from nsrouter import Router  # noqa: E402

R = Router("vpc_router")


def apply(state, subnets, base, sdc):
    for n, (sid, ifname) in enumerate(subnets):
        R.bind(ifname, base + n, 1000 + n)
        want = {}
        for r in state["subnets"].get(sid, {}).get("routes", []):
            if r["target"] == "local" or ":" in r["dst"]:
                continue
            if r["state"] == "blackhole":
                want[r["dst"]] = ["blackhole", r["dst"]]
            elif r.get("via"):
                want[r["dst"]] = [r["dst"], "via", r["via"]]
        R.sync(base + n, want)
    if sdc:
        R.forward_check("fakevpc", "sdc", [(eid, e["ips"], e.get("mac"))
                                           for eid, e in sorted(state.get("source_dest_check", {}).items())
                                           if e["enabled"]])


def main():
    a = Router.args(__doc__, "SUBNET_ID", 100, "source-dest-check", "let every ENI forward")
    return Router.follow(a.routes, a.interval, a.once, lambda st: apply(st, a.subnets, a.table_base, a.check))


if __name__ == "__main__":
    sys.exit(main())
