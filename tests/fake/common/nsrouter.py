"""nsrouter: the plumbing the four fakes' router namespaces share (stdlib + ip + nft).

Each provider's router (aws/vpc_router.py, azure/vnet_router.py, gcp/vpc_router.py,
oci/vcn_router.py) decides, from the state file its fake rewrites on every change, which
routes each subnet gets and which NICs may forward. This module does the rest, the same way
for all four:
  - follow the state file: apply a generation once, then write N to <file>.applied so a
    test can wait for it (Router.follow);
  - bind a subnet's interface to a routing table of its own with `ip rule iif` (bind);
  - bring a table to a wanted set of routes, by difference or flush and refill (sync);
  - the forwarding switch (AWS source/dest check, Azure IP forwarding, GCP canIpForward,
    OCI skipSourceDestCheck) as an nftables table that drops what the cloud drops: a
    forwarded packet whose next hop is the NIC but that is not addressed to it, and a packet
    from the NIC's MAC whose source is not one of its addresses (forward_check).
"""

import argparse
import json
import os
import subprocess
import sys
import time


class Router:
    def __init__(self, prog):
        self.prog = prog

    def sh(self, *args, check=True, inp=None):
        r = subprocess.run(args, input=inp, text=True, capture_output=True)
        if check and r.returncode != 0:
            print("%s: %s: %s" % (self.prog, " ".join(args), r.stderr.strip()), file=sys.stderr, flush=True)
        return r

    def bind(self, ifname, table, pref):
        """`ip rule iif IFNAME lookup TABLE pref PREF`, replacing another rule at that pref."""
        rules = self.sh("ip", "-j", "rule", "show", "pref", str(pref), check=False).stdout or ""
        if '"iif":"%s"' % ifname not in rules.replace(" ", ""):
            self.sh("ip", "rule", "del", "pref", str(pref), check=False)
            self.sh("ip", "rule", "add", "iif", ifname, "lookup", str(table), "pref", str(pref))

    def routes(self, table):
        r = self.sh("ip", "-j", "route", "show", "table", str(table), check=False)
        try:
            return json.loads(r.stdout or "[]")
        except ValueError:
            return []

    def sync(self, table, want, flush=False):
        """Make TABLE hold `want`, {dst: the arguments of `ip route replace` before "table"}:
        by difference (routes not wanted deleted), or flushed and refilled."""
        if flush:
            self.sh("ip", "route", "flush", "table", str(table), check=False)
        else:
            for have in self.routes(table):
                dst = have.get("dst", "")
                dst = "0.0.0.0/0" if dst == "default" else (dst if "/" in dst else dst + "/32")
                if dst not in want:
                    self.sh("ip", "route", "del", dst, "table", str(table), check=False)
        for dst in sorted(want):
            self.sh("ip", "route", "replace", "table", str(table), "proto", "static", *want[dst])

    def forward_check(self, table, chain, nics):
        """nics: (comment tag, [IPv4 addresses], MAC or None) of each NIC whose switch is off."""
        lines = ["table ip %s {" % table, " chain %s {" % chain,
                 "  type filter hook forward priority 0; policy accept;"]
        for tag, ips, mac in nics:
            if not ips:
                continue
            own = "{ %s }" % ", ".join(ips)
            for ip in ips:
                lines.append('  rt ip nexthop %s ip daddr != %s counter drop comment "%s in"' % (ip, own, tag))
            if mac:
                lines.append('  ether saddr %s ip saddr != %s counter drop comment "%s out"' % (mac, own, tag))
        lines += [" }", "}"]
        self.sh("nft", "-f", "-", check=False, inp="table ip %s\ndelete table ip %s\n" % (table, table))
        self.sh("nft", "-f", "-", inp="\n".join(lines) + "\n")

    @staticmethod
    def args(doc, subnet_help, table_base, check_flag=None, check_help=None):
        """The command line every router takes; check_flag adds --no-<flag> (a.check)."""
        ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
        ap.add_argument("--routes", required=True, help="the state file the fake rewrites")
        ap.add_argument("--subnet", action="append", default=[], help=subnet_help + "=IFNAME (repeat)")
        ap.add_argument("--table-base", type=int, default=table_base)
        ap.add_argument("--interval", type=float, default=0.1)
        if check_flag:
            ap.add_argument("--no-" + check_flag, dest="check", action="store_false", help=check_help)
        ap.add_argument("--once", action="store_true", help="apply the current state and exit")
        a = ap.parse_args()
        a.subnets = [tuple(s.split("=", 1)) for s in a.subnet]
        return a

    @staticmethod
    def follow(path, interval, once, apply):
        """Call apply(state) for each new generation of the state file at PATH."""
        last = None
        while True:
            try:
                with open(path) as f:
                    state = json.load(f)
            except (OSError, ValueError):
                state = None
            if state and state.get("generation") != last:
                apply(state)
                last = state["generation"]
                with open(path + ".applied.tmp", "w") as f:
                    f.write("%d\n" % last)
                os.replace(path + ".applied.tmp", path + ".applied")
            if once:
                return 0
            time.sleep(interval)
