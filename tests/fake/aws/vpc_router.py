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

import argparse
import json
import os
import subprocess
import sys
import time


def sh(*args, check=True, inp=None):
    r = subprocess.run(args, input=inp, text=True, capture_output=True)
    if check and r.returncode != 0:
        print("vpc_router: %s: %s" % (" ".join(args), r.stderr.strip()), file=sys.stderr, flush=True)
    return r


def current_routes(table):
    r = sh("ip", "-j", "route", "show", "table", str(table), check=False)
    try:
        return json.loads(r.stdout or "[]")
    except ValueError:
        return []


def apply(state, subnets, base, sdc):
    for n, (sid, ifname) in enumerate(subnets):
        table, pref = base + n, 1000 + n
        rules = sh("ip", "-j", "rule", "show", "pref", str(pref), check=False).stdout
        if '"iif":"%s"' % ifname not in rules.replace(" ", ""):
            sh("ip", "rule", "del", "pref", str(pref), check=False)
            sh("ip", "rule", "add", "iif", ifname, "lookup", str(table), "pref", str(pref))
        want = {}
        for r in state["subnets"].get(sid, {}).get("routes", []):
            if r["target"] == "local" or ":" in r["dst"]:
                continue
            if r["state"] == "blackhole":
                want[r["dst"]] = ["blackhole", r["dst"]]
            elif r.get("via"):
                want[r["dst"]] = [r["dst"], "via", r["via"]]
        for have in current_routes(table):
            dst = have.get("dst")
            dst = "0.0.0.0/0" if dst == "default" else (dst if "/" in dst else dst + "/32")
            if dst not in want:
                sh("ip", "route", "del", dst, "table", str(table), check=False)
        for dst, spec in want.items():
            sh("ip", "route", "replace", *spec, "table", str(table), "proto", "static")
    if sdc:
        lines = ["table ip fakevpc {", " chain sdc {", "  type filter hook forward priority 0; policy accept;"]
        for eid, e in sorted(state.get("source_dest_check", {}).items()):
            if not e["enabled"] or not e["ips"]:
                continue
            ips = "{ %s }" % ", ".join(e["ips"])
            for ip in e["ips"]:
                lines.append("  rt ip nexthop %s ip daddr != %s counter drop comment \"%s in\"" % (ip, ips, eid))
            if e.get("mac"):
                lines.append("  ether saddr %s ip saddr != %s counter drop comment \"%s out\"" % (e["mac"], ips, eid))
        lines += [" }", "}"]
        sh("nft", "-f", "-", check=False, inp="table ip fakevpc\ndelete table ip fakevpc\n")
        sh("nft", "-f", "-", inp="\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--routes", required=True)
    ap.add_argument("--subnet", action="append", default=[], help="SUBNET_ID=IFNAME (repeat)")
    ap.add_argument("--table-base", type=int, default=100)
    ap.add_argument("--interval", type=float, default=0.1)
    ap.add_argument("--no-source-dest-check", dest="sdc", action="store_false")
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
            apply(state, subnets, a.table_base, a.sdc)
            last = state["generation"]
            with open(a.routes + ".applied.tmp", "w") as f:
                f.write("%d\n" % last)
            os.replace(a.routes + ".applied.tmp", a.routes + ".applied")
        if a.once:
            return 0
        time.sleep(a.interval)


if __name__ == "__main__":
    sys.exit(main())
