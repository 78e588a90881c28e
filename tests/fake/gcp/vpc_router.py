#!/usr/bin/env python3
"""vpc_router: make a namespace behave like the fake GCP network's routing (stdlib + ip + nft).

Run it inside the namespace that stands for the VPC (usually the fake's own, where every subnet
is a veth into host namespaces and IP forwarding is on). It follows <state>/gcp-routes.json,
which fake_gcp.py rewrites on every change, and applies GCP's route selection:

  1. subnet routes win (a static route cannot be as or more specific than a subnet range):
     ip rule iif <subnet if> lookup main suppress_prefixlength 0        pref 800+n
  2. most specific destRange, then the lowest priority number; equal priority gives ECMP
     (multipath). Routes with network tags apply only to instances carrying one of them: each
     tagged instance gets its own table and `ip rule from <its IP> lookup <table>` (pref 900+k);
     everyone else (including hosts that are no instance) uses the table of untagged routes
     (`ip rule iif <subnet if> lookup <base>`, pref 1000+n).
  A nextHopInstance route uses the instance's internal IP as gateway; a route to a missing or
  stopped instance is left out (GCP ignores it and the next best route applies). Gateway
  (internet) routes are not modelled.

With --ip-forward-check (default on) it enforces canIpForward in nftables table "ip fakegcp":
an instance without it receives only packets addressed to its own IP, and may send only packets
from its own IP (its MAC identifies it: give the test host's NIC the instance's MAC, 42:01 + the
IP's bytes, as in the topology).

After applying generation N it writes N to <routes file>.applied, so a test can wait for it.
  vpc_router.py --routes ST/gcp-routes.json --subnet subnet-b=sb [--subnet subnet-a=sa] [--once]
"""

import argparse
import ipaddress
import json
import os
import subprocess
import sys
import time

PREF_MAIN, PREF_TAGGED, PREF_ALL = 800, 900, 1000


def sh(*args, check=True, inp=None):
    r = subprocess.run(args, input=inp, text=True, capture_output=True)
    if check and r.returncode != 0:
        print("vpc_router: %s: %s" % (" ".join(args), r.stderr.strip()), file=sys.stderr, flush=True)
    return r


def select(routes, tags):
    """GCP's choice per destination for an instance with these tags: {dst: [next hop IPs]}."""
    best = {}
    for r in routes:
        if r["next_hop"] in ("network", "gateway") or not r.get("via") or ":" in r["dst"]:
            continue
        if r["tags"] and not set(r["tags"]) & set(tags):
            continue
        dst = str(ipaddress.ip_network(r["dst"]))
        cur = best.get(dst)
        if cur is None or r["priority"] < cur[0]:
            best[dst] = (r["priority"], [r["via"]])
        elif r["priority"] == cur[0] and r["via"] not in cur[1]:
            cur[1].append(r["via"])
    return {d: sorted(v[1]) for d, v in best.items()}


def fill_table(table, chosen):
    sh("ip", "route", "flush", "table", str(table), check=False)
    for dst, vias in sorted(chosen.items()):
        if len(vias) == 1:
            sh("ip", "route", "replace", dst, "via", vias[0], "table", str(table), "proto", "static")
        else:
            hops = []
            for v in vias:
                hops += ["nexthop", "via", v]
            sh("ip", "route", "replace", dst, "table", str(table), "proto", "static", *hops)


def clear_rules():
    out = sh("ip", "-j", "rule", "show", check=False).stdout or "[]"
    for rule in json.loads(out):
        if PREF_MAIN <= rule.get("priority", 0) < PREF_ALL + 100:
            sh("ip", "rule", "del", "pref", str(rule["priority"]), check=False)


def apply(state, subnets, base, check):
    clear_rules()
    routes = state["routes"]
    for n, (_, ifname) in enumerate(subnets):
        sh("ip", "rule", "add", "iif", ifname, "lookup", "main", "suppress_prefixlength", "0",
           "pref", str(PREF_MAIN + n))
        sh("ip", "rule", "add", "iif", ifname, "lookup", str(base), "pref", str(PREF_ALL + n))
    fill_table(base, select(routes, []))
    tagged = sorted((name, i) for name, i in state["instances"].items() if i["tags"])
    for k, (name, inst) in enumerate(tagged):
        table = base + 1 + k
        fill_table(table, select(routes, inst["tags"]))
        sh("ip", "rule", "add", "from", inst["ip"], "lookup", str(table), "pref", str(PREF_TAGGED + k))
    if check:
        lines = ["table ip fakegcp {", " chain forward_check {", "  type filter hook forward priority 0; policy accept;"]
        for name, i in sorted(state["instances"].items()):
            if i["can_ip_forward"]:
                continue
            lines.append("  rt ip nexthop %s ip daddr != %s counter drop comment \"%s in\"" % (i["ip"], i["ip"], name))
            lines.append("  ether saddr %s ip saddr != %s counter drop comment \"%s out\"" % (i["mac"], i["ip"], name))
        lines += [" }", "}"]
        sh("nft", "-f", "-", check=False, inp="table ip fakegcp\ndelete table ip fakegcp\n")
        sh("nft", "-f", "-", inp="\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--routes", required=True)
    ap.add_argument("--subnet", action="append", default=[], help="SUBNET_NAME=IFNAME (repeat)")
    ap.add_argument("--table-base", type=int, default=200)
    ap.add_argument("--interval", type=float, default=0.1)
    ap.add_argument("--no-ip-forward-check", dest="check", action="store_false")
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
            apply(state, subnets, a.table_base, a.check)
            last = state["generation"]
            with open(a.routes + ".applied.tmp", "w") as f:
                f.write("%d\n" % last)
            os.replace(a.routes + ".applied.tmp", a.routes + ".applied")
        if a.once:
            return 0
        time.sleep(a.interval)


if __name__ == "__main__":
    sys.exit(main())
