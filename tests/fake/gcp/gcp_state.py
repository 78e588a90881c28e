"""gcp_state: the fake Google Cloud project (network, subnets, instances, routes, operations,
tokens, faults, counters) shared by the metadata server, the Compute API and the control API.
"""

import copy
import datetime
import hashlib
import ipaddress
import json
import os
import secrets
import sys
import threading
import time

API = "https://www.googleapis.com/compute/v1/"     # the host Compute puts in selfLinks
SCOPE_COMPUTE = "https://www.googleapis.com/auth/compute"
SCOPE_COMPUTE_RO = "https://www.googleapis.com/auth/compute.readonly"
SCOPE_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
SCOPE_PLATFORM_RO = "https://www.googleapis.com/auth/cloud-platform.read-only"

MUTATING = {"routes.insert", "routes.delete"}
READ = {"routes.list", "routes.get", "operations.get", "operations.wait", "instances.get", "networks.get"}

DEFAULT_TOPOLOGY = {
    "project": "meshgate-test",
    "project_number": "123456789012",
    "region": "us-central1",
    "zone": "us-central1-a",
    "network": {"name": "mg-vpc", "id": "5550000000000000001", "mtu": 1460},
    "subnets": [
        {"name": "subnet-a", "cidr": "198.18.1.0/24"},      # connectors
        {"name": "subnet-b", "cidr": "198.18.2.0/24"},      # apps
        {"name": "subnet-c", "cidr": "198.18.3.0/24"},
    ],
    "default_internet_route": True,
    "instances": [
        {"name": "mg-conn-1", "id": "4380000000000000001", "subnet": "subnet-a", "ip": "198.18.1.10",
         "can_ip_forward": False, "tags": ["meshgate"], "scopes": [SCOPE_PLATFORM]},
        {"name": "mg-conn-2", "id": "4380000000000000002", "subnet": "subnet-a", "ip": "198.18.1.11",
         "can_ip_forward": True, "tags": ["meshgate"], "scopes": [SCOPE_COMPUTE]},
        {"name": "app-1", "id": "4380000000000000003", "subnet": "subnet-b", "ip": "198.18.2.20",
         "can_ip_forward": False, "tags": ["app"],
         "scopes": ["https://www.googleapis.com/auth/devstorage.read_only",
                    "https://www.googleapis.com/auth/logging.write"]},
    ],
    # somebody else's static route, present before the agent starts
    "routes": [
        {"name": "other-team-db", "destRange": "203.0.113.0/24", "priority": 800,
         "nextHopIp": "198.18.3.5", "description": "managed by another team", "tags": ["db"]},
    ],
    "default_instance": "mg-conn-1",
}


def log(*a):
    print("[fake_gcp %s]" % time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


def rfc3339(ts):
    """Compute's timestamp style: local time with milliseconds and the offset (-07:00)."""
    tz = datetime.timezone(datetime.timedelta(hours=-7))
    d = datetime.datetime.fromtimestamp(ts, tz)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03d-07:00" % (d.microsecond // 1000)


def numeric_id(seed):
    """A stable 19-digit uint64 id (as Compute prints ids: a decimal string)."""
    return str(int(hashlib.sha256(seed.encode()).hexdigest()[:15], 16) % 9000000000000000000
               + 1000000000000000000)


def gce_mac(ip):
    """GCE MACs are 42:01 followed by the four bytes of the primary internal address."""
    return "42:01:" + ":".join("%02x" % b for b in ipaddress.ip_address(ip).packed)


ROUTE_ORDER = ("kind", "id", "creationTimestamp", "name", "description", "network", "tags", "destRange",
               "priority", "nextHopInstance", "nextHopIp", "nextHopGateway", "nextHopNetwork", "routeType",
               "selfLink")


def ordered_route(r):
    """A route's keys in the order Compute prints them (unknown keys last)."""
    out = {k: r[k] for k in ROUTE_ORDER if k in r}
    out.update({k: v for k, v in r.items() if k not in out})
    return out


class ApiError(Exception):
    """An error answer: HTTP status, the errors[] entry, optional status/details."""

    def __init__(self, code, message, reason, domain="global", status=None, details=None,
                 extra=None, headers=()):
        super().__init__(message)
        self.code, self.message, self.reason, self.domain = code, message, reason, domain
        self.status, self.details, self.extra, self.headers = status, details, extra or {}, headers

    def body(self):
        item = {"message": self.extra.pop("item_message", self.message), "domain": self.domain,
                "reason": self.reason}
        item.update(self.extra)
        err = {"code": self.code, "message": self.message, "errors": [item]}
        if self.status:
            err["status"] = self.status
        if self.details:
            err["details"] = self.details
        return {"error": err}


class Project:
    def __init__(self, topo, args):
        self.lock = threading.RLock()
        self.args, self.topo = args, topo
        self.state_dir = args.state_dir
        self.project, self.number = topo["project"], str(topo["project_number"])
        self.zone, self.region = topo["zone"], topo["region"]
        self.net = dict(topo["network"])
        self.net.setdefault("id", numeric_id("net/" + self.net["name"]))
        self.net_url = self.url("global/networks/" + self.net["name"])
        self.subnets = []
        for s in topo["subnets"]:
            ipaddress.ip_network(s["cidr"], strict=True)
            self.subnets.append(dict(s, region=s.get("region", self.region),
                                     id=s.get("id") or numeric_id("subnet/" + s["name"])))
        self.instances = {}
        for i in topo["instances"]:
            inst = {"name": i["name"], "id": str(i.get("id") or numeric_id("inst/" + i["name"])),
                    "zone": i.get("zone", self.zone), "subnet": i["subnet"], "ip": i["ip"],
                    "mac": i.get("mac") or gce_mac(i["ip"]), "can_ip_forward": bool(i.get("can_ip_forward")),
                    "tags": list(i.get("tags", [])), "scopes": list(i.get("scopes", [SCOPE_PLATFORM])),
                    "email": i.get("email") or "%s-compute@developer.gserviceaccount.com" % self.number,
                    "status": i.get("status", "RUNNING")}
            self.instances[inst["name"]] = inst
        self.routes = {}           # name -> Route resource (as listed)
        created = time.time() - 86400
        for s in self.subnets:
            name = "default-route-" + hashlib.sha256(("subnet/" + s["name"]).encode()).hexdigest()[:16]
            self.routes[name] = {
                "kind": "compute#route", "id": numeric_id("route/" + name), "name": name,
                "creationTimestamp": rfc3339(created),
                "description": "Default local route to the subnetwork %s." % s["cidr"],
                "network": self.net_url, "destRange": s["cidr"], "priority": 0,
                "nextHopNetwork": self.net_url, "routeType": "SUBNET",
                "selfLink": self.url("global/routes/" + name)}
        if topo.get("default_internet_route", True):
            name = "default-route-" + hashlib.sha256(b"internet").hexdigest()[:16]
            self.routes[name] = {
                "kind": "compute#route", "id": numeric_id("route/" + name), "name": name,
                "creationTimestamp": rfc3339(created), "description": "Default route to the Internet.",
                "network": self.net_url, "destRange": "0.0.0.0/0", "priority": 1000,
                "nextHopGateway": self.url("global/gateways/default-internet-gateway"),
                "routeType": "STATIC", "selfLink": self.url("global/routes/" + name)}
        for r in topo.get("routes", []):
            self.seed_route(r, created)
        self.ops = {}              # name -> operation record
        self.request_ids = {}      # requestId -> (time, op name)
        self.tokens = {}           # token -> {expires, scopes, email, instance}
        self.current_token = {}    # instance -> token
        self.token_lifetime = args.token_lifetime
        self.op_running_polls = args.op_running_polls
        self.op_start_status = args.op_start_status
        self.op_autocomplete_seconds = args.op_autocomplete_seconds
        self.wait_seconds = args.wait_seconds
        self.route_quota = args.route_quota
        self.quota_mode = args.quota_mode
        self.request_id_window = args.request_id_window
        self.hang_seconds = args.hang_seconds
        self.accept_output_only = args.accept_output_only
        self.faults = []
        self.denied = set()
        self.generation = 0
        self.reset_counters()
        self.write_effective()

    CONFIG_KEYS = ("token_lifetime", "op_running_polls", "op_start_status", "op_autocomplete_seconds",
                   "wait_seconds", "route_quota", "quota_mode", "request_id_window", "hang_seconds",
                   "accept_output_only")

    def url(self, rel):
        return API + "projects/%s/%s" % (self.project, rel)

    def seed_route(self, r, created=None):
        """A route past the API's checks (topology or control API)."""
        r = dict(r)
        name = r["name"]
        out = {"kind": "compute#route", "id": r.pop("id", None) or numeric_id("route/" + name + str(time.time())),
               "creationTimestamp": rfc3339(created or time.time()), "name": name,
               "network": self.net_url, "priority": 1000, "routeType": "STATIC",
               "selfLink": self.url("global/routes/" + name)}
        for k in ("nextHopInstance",):
            if k in r and not r[k].startswith("https://"):
                r[k] = self.url("zones/%s/instances/%s" % (self.zone, r[k].rsplit("/", 1)[-1]))
        out.update(r)
        if not out.get("tags"):
            out.pop("tags", None)
        self.routes[name] = ordered_route(out)
        return self.routes[name]

    # --- counters ------------------------------------------------------------------------
    def reset_counters(self):
        with self.lock:
            self.counters = {"calls": {}, "ok": {}, "errors": {}, "mutating": 0, "read": 0,
                             "mutating_ok": 0, "read_ok": 0, "total": 0, "metadata": {}}
            self.request_log = []

    def count_call(self, method):
        with self.lock:
            c = self.counters
            c["total"] += 1
            c["calls"][method] = c["calls"].get(method, 0) + 1
            if method in MUTATING:
                c["mutating"] += 1
            elif method in READ:
                c["read"] += 1

    def count_result(self, method, target, status, reason):
        with self.lock:
            c = self.counters
            if reason is None:
                c["ok"][method] = c["ok"].get(method, 0) + 1
                if method in MUTATING:
                    c["mutating_ok"] += 1
                elif method in READ:
                    c["read_ok"] += 1
            else:
                c["errors"][reason] = c["errors"].get(reason, 0) + 1
            self.request_log.append({"t": round(time.time(), 3), "method": method, "target": target,
                                     "status": status, "reason": reason})
            del self.request_log[:-500]

    def count_metadata(self, what):
        with self.lock:
            self.counters["metadata"][what] = self.counters["metadata"].get(what, 0) + 1

    # --- faults --------------------------------------------------------------------------
    def take_fault(self, method):
        """The next planned fault for this call; faults naming no method hit Compute calls only."""
        with self.lock:
            for f in self.faults:
                m = f.get("method")
                hit = (m == method) if m else not method.startswith("metadata.")
                if f["count"] > 0 and hit and not (f["kind"] == "op_error" and method not in MUTATING):
                    f["count"] -= 1
                    out = dict(f)
                    self.faults = [x for x in self.faults if x["count"] > 0]
                    return out
        return None

    # --- tokens --------------------------------------------------------------------------
    def token_for(self, inst_name):
        """The instance's current access token; a new one when under 5 minutes (or under
        half its lifetime, for short test lifetimes) remain, as the metadata server does."""
        now = time.time()
        with self.lock:
            inst = self.instances[inst_name]
            tok = self.current_token.get(inst_name)
            rec = self.tokens.get(tok) if tok else None
            margin = min(300.0, self.token_lifetime / 2)
            if rec is None or rec["expires"] - now < margin or rec["scopes"] != inst["scopes"]:
                tok = "ya29.c." + secrets.token_urlsafe(96)
                rec = {"expires": now + self.token_lifetime, "scopes": list(inst["scopes"]),
                       "email": inst["email"], "instance": inst_name}
                self.tokens[tok] = rec
                self.current_token[inst_name] = tok
                log("issued a token for %s (%s), expiring in %ds" % (inst_name, rec["email"], self.token_lifetime))
            for k in [k for k, v in self.tokens.items() if v["expires"] < now - 3600]:
                del self.tokens[k]
            return tok, rec

    def expire_tokens(self):
        with self.lock:
            for rec in self.tokens.values():
                rec["expires"] = min(rec["expires"], time.time() - 1)

    # --- lookups -------------------------------------------------------------------------
    def instance_by_ip(self, ip):
        with self.lock:
            for i in self.instances.values():
                if i["ip"] == ip:
                    return i["name"]
        return self.topo.get("default_instance") or next(iter(self.instances))

    def subnet_of(self, ip):
        a = ipaddress.ip_address(ip)
        for s in self.subnets:
            if a in ipaddress.ip_network(s["cidr"]):
                return s
        return None

    def custom_route_count(self):
        return sum(1 for r in self.routes.values() if r.get("routeType") != "SUBNET")

    # --- effective routes for the VPC router ---------------------------------------------
    def write_effective(self):
        """Write <state>/gcp-routes.json: every route with its next hop resolved to an address
        (what vpc_router.py applies), and each instance's address, MAC, tags, canIpForward."""
        with self.lock:
            self.generation += 1
            routes = []
            for r in sorted(self.routes.values(), key=lambda x: x["name"]):
                ent = {"name": r["name"], "dst": r["destRange"], "priority": r["priority"],
                       "tags": r.get("tags", []), "kind": r.get("routeType", "STATIC")}
                if r.get("nextHopInstance"):
                    name = r["nextHopInstance"].rsplit("/", 1)[-1]
                    inst = self.instances.get(name)
                    ent["next_hop"] = "instance:" + name
                    if inst and inst["status"] == "RUNNING":
                        ent["via"] = inst["ip"]
                elif r.get("nextHopIp"):
                    ent["next_hop"] = "ip:" + r["nextHopIp"]
                    ent["via"] = r["nextHopIp"]
                elif r.get("nextHopNetwork"):
                    ent["next_hop"] = "network"
                else:
                    ent["next_hop"] = "gateway"
                routes.append(ent)
            out = {"generation": self.generation, "network": self.net["name"],
                   "subnets": {s["name"]: s["cidr"] for s in self.subnets}, "routes": routes,
                   "instances": {n: {"ip": i["ip"], "mac": i["mac"], "tags": i["tags"], "subnet": i["subnet"],
                                     "can_ip_forward": i["can_ip_forward"], "status": i["status"]}
                                 for n, i in self.instances.items()}}
            path = os.path.join(self.state_dir, "gcp-routes.json")
            with open(path + ".tmp", "w") as f:
                json.dump(out, f, indent=1, sort_keys=True)
            os.replace(path + ".tmp", path)

    def snapshot(self):
        with self.lock:
            return {"generation": self.generation, "project": self.project, "number": self.number,
                    "network": self.net, "subnets": self.subnets,
                    "instances": copy.deepcopy(self.instances),
                    "routes": sorted(self.routes.values(), key=lambda x: x["name"]),
                    "operations": {n: {k: v for k, v in o.items() if k != "apply"} for n, o in self.ops.items()},
                    "faults": copy.deepcopy(self.faults), "denied": sorted(self.denied),
                    "tokens": [{"instance": t["instance"], "expires": rfc3339(t["expires"]), "scopes": t["scopes"]}
                               for t in self.tokens.values()],
                    "config": {k: getattr(self, k) for k in self.CONFIG_KEYS}}
