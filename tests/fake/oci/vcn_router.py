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

import argparse
import json
import os
import subprocess
import sys
import time


def sh(*args, check=True, inp=None):
    r = subprocess.run(args, input=inp, text=True, capture_output=True)
    if check and r.returncode != 0:
        print("vcn_router: %s: %s" % (" ".join(args), r.stderr.strip()), file=sys.stderr, flush=True)
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
        for r in state["subnets"].get(sid, {}).get("rules", []):
            if r["destinationType"] != "CIDR_BLOCK" or ":" in r["destination"] or not r.get("via"):
                continue
            want[r["destination"]] = [r["destination"], "via", r["via"]]
        for have in current_routes(table):
            dst = have.get("dst")
            dst = "0.0.0.0/0" if dst == "default" else (dst if "/" in dst else dst + "/32")
            if dst not in want:
                sh("ip", "route", "del", dst, "table", str(table), check=False)
        for dst, spec in want.items():
            sh("ip", "route", "replace", *spec, "table", str(table), "proto", "static")
    if sdc:
        lines = ["table ip fakevcn {", " chain sdc {", "  type filter hook forward priority 0; policy accept;"]
        for vid, v in sorted(state.get("vnics", {}).items()):
            if v["skip_source_dest_check"] or not v["ips"]:
                continue
            ips = "{ %s }" % ", ".join(v["ips"])
            tag = vid[-16:]
            for ip in v["ips"]:
                lines.append("  rt ip nexthop %s ip daddr != %s counter drop comment \"%s in\"" % (ip, ips, tag))
            if v.get("mac"):
                lines.append("  ether saddr %s ip saddr != %s counter drop comment \"%s out\"" % (v["mac"], ips, tag))
        lines += [" }", "}"]
        sh("nft", "-f", "-", check=False, inp="table ip fakevcn\ndelete table ip fakevcn\n")
        sh("nft", "-f", "-", inp="\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--routes", required=True)
    ap.add_argument("--subnet", action="append", default=[], help="SUBNET_OCID=IFNAME (repeat)")
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
