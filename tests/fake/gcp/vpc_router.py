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

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from nsrouter import Router  # noqa: E402
import ipaddress  # noqa: E402
import json  # noqa: E402

R = Router("vpc_router")
PREF_MAIN, PREF_TAGGED, PREF_ALL = 800, 900, 1000


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
    want = {}
    for dst, vias in chosen.items():
        if len(vias) == 1:
            want[dst] = [dst, "via", vias[0]]
        else:
            want[dst] = [dst] + [w for v in vias for w in ("nexthop", "via", v)]
    R.sync(table, want, flush=True)


def clear_rules():
    out = R.sh("ip", "-j", "rule", "show", check=False).stdout or "[]"
    for rule in json.loads(out):
        if PREF_MAIN <= rule.get("priority", 0) < PREF_ALL + 100:
            R.sh("ip", "rule", "del", "pref", str(rule["priority"]), check=False)


def apply(state, subnets, base, check):
    clear_rules()
    routes = state["routes"]
    for n, (_, ifname) in enumerate(subnets):
        R.sh("ip", "rule", "add", "iif", ifname, "lookup", "main", "suppress_prefixlength", "0",
             "pref", str(PREF_MAIN + n))
        R.sh("ip", "rule", "add", "iif", ifname, "lookup", str(base), "pref", str(PREF_ALL + n))
    fill_table(base, select(routes, []))
    tagged = sorted((name, i) for name, i in state["instances"].items() if i["tags"])
    for k, (name, inst) in enumerate(tagged):
        table = base + 1 + k
        fill_table(table, select(routes, inst["tags"]))
        R.sh("ip", "rule", "add", "from", inst["ip"], "lookup", str(table), "pref", str(PREF_TAGGED + k))
    if check:
        R.forward_check("fakegcp", "forward_check", [(name, [i["ip"]], i["mac"])
                                                     for name, i in sorted(state["instances"].items())
                                                     if not i["can_ip_forward"]])


def main():
    a = Router.args(__doc__, "SUBNET_NAME", 200, "ip-forward-check", "let every instance forward")
    return Router.follow(a.routes, a.interval, a.once, lambda st: apply(st, a.subnets, a.table_base, a.check))


if __name__ == "__main__":
    sys.exit(main())
