#!/usr/bin/env python3
"""fake_aws: a fake AWS for meshgate's tests that speaks the real wire format (stdlib only).

One process serves
  * IMDSv2 over plain HTTP (default 169.254.169.254:80): PUT /latest/api/token, token-gated
    GETs under /latest/meta-data/ and /latest/dynamic/, short-lived rotating role credentials,
    the PUT response sent with IP TTL 1 (the default hop limit);
  * the EC2 Query API (Version 2016-11-15) over HTTPS at POST /, every request's SigV4
    signature verified by sigv4_verify.py against the credentials IMDS handed out;
  * a control API (plain HTTP, JSON; default 127.0.0.1:8799) for fault injection, counters,
    state inspection and seeding.
See README.md beside this file for the CLI, the control API and the files it writes.
"""

import argparse
import base64
import copy
import datetime
import http.server
import ipaddress
import json
import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from xml.sax.saxutils import escape as xesc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import fakectl  # noqa: E402
import sigv4_verify as sv  # noqa: E402

EC2_NS = "http://ec2.amazonaws.com/doc/2016-11-15/"
API_VERSION = "2016-11-15"
MUTATING = {"CreateRoute", "ReplaceRoute", "DeleteRoute", "ModifyNetworkInterfaceAttribute",
            "ModifyInstanceAttribute"}
READ = {"DescribeRouteTables", "DescribeNetworkInterfaceAttribute", "DescribeNetworkInterfaces"}

DEFAULT_TOPOLOGY = {
    "account": "111122223333",
    "region": "us-east-1",
    "availability_zone": "us-east-1a",
    "domain": "amazonaws.com",
    "partition": "aws",
    "role": "meshgate-connector",
    "vpc": {"id": "vpc-0a1b2c3d4e5f60001", "cidrs": ["198.18.0.0/16"], "ipv6_cidrs": []},
    "subnets": [
        {"id": "subnet-0a0000000000000a1", "cidr": "198.18.1.0/24"},   # connectors (main table)
        {"id": "subnet-0b0000000000000b2", "cidr": "198.18.2.0/24"},   # apps (explicit table)
        {"id": "subnet-0c0000000000000c3", "cidr": "198.18.3.0/24"},   # db (explicit table)
    ],
    "route_tables": [
        {"id": "rtb-0000000000000main", "main": True, "subnets": []},
        {"id": "rtb-00000000000000app", "subnets": ["subnet-0b0000000000000b2"]},
        {"id": "rtb-000000000000000db", "subnets": ["subnet-0c0000000000000c3"]},
    ],
    "gateways": ["igw-0123456789abcdef0"],
    "instances": [
        {"id": "i-0c0000000000000a1", "enis": [
            {"id": "eni-0c0000000000000a1", "mac": "02:00:c6:12:01:0a",
             "subnet": "subnet-0a0000000000000a1", "ips": ["198.18.1.10"]}]},
        {"id": "i-0c0000000000000a2", "enis": [
            {"id": "eni-0c0000000000000a2", "mac": "02:00:c6:12:01:0b",
             "subnet": "subnet-0a0000000000000a1", "ips": ["198.18.1.11"]}]},
    ],
    # the instance IMDS describes when the client's source address is no ENI's address
    "default_instance": "i-0c0000000000000a1",
}


def iso(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def log(*a):
    print("[fake_aws %s]" % time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


class ApiError(Exception):
    def __init__(self, code, status, message):
        super().__init__(message)
        self.code, self.status, self.message = code, status, message


def missing(name):
    return ApiError("MissingParameter", 400, "The request must contain the parameter %s" % name)


def invalid(name, value, why=""):
    return ApiError("InvalidParameterValue", 400,
                    ("Value (%s) for parameter %s is invalid. %s" % (value, name, why)).rstrip())


# ------------------------------------------------------------------------------------------
# State


class Cloud:
    """The VPC, its route tables and ENIs, the issued credentials and the fault plan."""

    def __init__(self, topo, args):
        self.lock = threading.RLock()
        self.args = args
        self.topo = topo
        self.region = topo["region"]
        self.account = topo["account"]
        self.route_limit = args.route_limit
        self.state_dir = args.state_dir
        self.vpc = topo["vpc"]
        self.subnets = {s["id"]: s for s in topo["subnets"]}
        self.gateways = set(topo.get("gateways", []))
        self.instances = {}
        self.enis = {}
        for inst in topo["instances"]:
            self.instances[inst["id"]] = {"id": inst["id"], "enis": [e["id"] for e in inst["enis"]]}
            for e in inst["enis"]:
                self.enis[e["id"]] = dict(e, instance=inst["id"],
                                          source_dest_check=e.get("source_dest_check", True))
        self.tables = {}
        for rt in topo["route_tables"]:
            t = {"id": rt["id"], "main": bool(rt.get("main")), "subnets": list(rt.get("subnets", [])),
                 "routes": [], "route_limit": rt.get("route_limit")}
            for c in self.vpc["cidrs"]:
                t["routes"].append({"dst": c, "v6": False, "gateway": "local", "origin": "CreateRouteTable"})
            for c in self.vpc.get("ipv6_cidrs", []):
                t["routes"].append({"dst": c, "v6": True, "gateway": "local", "origin": "CreateRouteTable"})
            self.tables[rt["id"]] = t
        self.table_order = [rt["id"] for rt in topo["route_tables"]]
        # credentials: per instance a list of issued keys
        self.creds = {}           # akid -> {secret, token, issued, expires, instance}
        self.current_cred = {}    # instance -> akid
        self.cred_lifetime = args.cred_lifetime
        self.cred_rotate = args.cred_rotate
        self.imds_tokens = {}     # token -> expiry
        self.imds_hop_limit = args.imds_hop_limit
        self.ec2_clock_offset = 0.0
        self.skew = args.max_skew
        self.hang_seconds = args.hang_seconds
        self.force_page_size = args.force_page_size
        self.faults = []          # [{kind, count, action, seconds}]
        self.denied = set()
        self.reset_counters()
        self.generation = 0
        self.write_effective()

    # --- counters -------------------------------------------------------------------------
    def reset_counters(self):
        with self.lock:
            self.counters = {"calls": {}, "ok": {}, "errors": {}, "mutating": 0, "read": 0,
                             "mutating_ok": 0, "read_ok": 0, "total": 0, "imds": {}}
            self.request_log = []

    def count_call(self, action):
        with self.lock:
            c = self.counters
            c["total"] += 1
            c["calls"][action] = c["calls"].get(action, 0) + 1
            if action in MUTATING:
                c["mutating"] += 1
            elif action in READ:
                c["read"] += 1

    def count_result(self, action, params, status, code):
        with self.lock:
            c = self.counters
            if code is None:
                c["ok"][action] = c["ok"].get(action, 0) + 1
                if action in MUTATING:
                    c["mutating_ok"] += 1
                elif action in READ:
                    c["read_ok"] += 1
            else:
                c["errors"][code] = c["errors"].get(code, 0) + 1
            safe = {k: v for k, v in params.items() if k not in ("Action", "Version")}
            self.request_log.append({"t": round(time.time(), 3), "action": action, "params": safe,
                                     "status": status, "code": code})
            del self.request_log[:-500]

    def count_imds(self, what):
        with self.lock:
            self.counters["imds"][what] = self.counters["imds"].get(what, 0) + 1

    # --- faults ---------------------------------------------------------------------------
    def take_fault(self, action):
        with self.lock:
            for f in self.faults:
                if f["count"] > 0 and (not f.get("action") or f["action"] == action):
                    f["count"] -= 1
                    out = dict(f)
                    self.faults = [x for x in self.faults if x["count"] > 0]
                    return out
        return None

    # --- credentials ----------------------------------------------------------------------
    def _issue(self, instance, now):
        akid = "ASIA" + "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))
        cred = {"akid": akid, "secret": base64.b64encode(secrets.token_bytes(30)).decode(),
                "token": base64.b64encode(b"FwoGZXIvYXdzE" + secrets.token_bytes(180)).decode(),
                "issued": now, "expires": now + self.cred_lifetime, "instance": instance}
        self.creds[akid] = cred
        self.current_cred[instance] = akid
        log("issued credentials %s for %s, expiring %s" % (akid, instance, iso(cred["expires"])))
        return cred

    def credentials_for(self, instance):
        """The current credentials, rotated every cred_rotate seconds; old ones stay valid
        until their own expiry, like the real service."""
        now = time.time()
        with self.lock:
            akid = self.current_cred.get(instance)
            cur = self.creds.get(akid) if akid else None
            if cur is None or now >= cur["issued"] + self.cred_rotate or now >= cur["expires"]:
                cur = self._issue(instance, now)
            for k in [k for k, c in self.creds.items() if c["expires"] < now - 3600]:
                del self.creds[k]
            return cur

    def rotate_now(self, instance=None):
        with self.lock:
            for inst in [instance] if instance else list(self.instances):
                self._issue(inst, time.time())

    def expire_all(self):
        with self.lock:
            for c in self.creds.values():
                c["expires"] = min(c["expires"], time.time() - 1)

    # --- topology helpers -----------------------------------------------------------------
    def instance_by_ip(self, ip):
        with self.lock:
            for e in self.enis.values():
                if ip in e["ips"]:
                    return e["instance"]
        return self.topo.get("default_instance") or next(iter(self.instances))

    def route_state(self, r):
        if r.get("gateway"):
            return "active" if r["gateway"] == "local" or r["gateway"] in self.gateways else "blackhole"
        eni = self.enis.get(r.get("eni"))
        return "active" if eni and eni.get("instance") else "blackhole"

    def table_for_subnet(self, subnet_id):
        for tid in self.table_order:
            if subnet_id in self.tables[tid]["subnets"]:
                return tid
        for tid in self.table_order:
            if self.tables[tid]["main"]:
                return tid
        return None

    def snapshot(self):
        with self.lock:
            return {
                "generation": self.generation,
                "vpc": self.vpc, "subnets": list(self.subnets.values()),
                "route_tables": [self._table_json(self.tables[t]) for t in self.table_order],
                "enis": copy.deepcopy(self.enis), "instances": copy.deepcopy(self.instances),
                "gateways": sorted(self.gateways),
                "faults": copy.deepcopy(self.faults), "denied": sorted(self.denied),
                "ec2_clock_offset": self.ec2_clock_offset,
                "credentials": [{"AccessKeyId": c["akid"], "instance": c["instance"],
                                 "Expiration": iso(c["expires"])} for c in self.creds.values()],
            }

    def _table_json(self, t):
        return {"id": t["id"], "main": t["main"], "subnets": t["subnets"],
                "routes": [dict(r, state=self.route_state(r)) for r in t["routes"]]}

    def write_effective(self):
        """Write <state>/vpc-routes.json: the effective route table of every subnet, with each
        route's next-hop address resolved (what the VPC router applies)."""
        with self.lock:
            self.generation += 1
            out = {"generation": self.generation, "vpc_cidrs": self.vpc["cidrs"], "subnets": {},
                   "source_dest_check": {}}
            for sid, s in self.subnets.items():
                tid = self.table_for_subnet(sid)
                routes = []
                for r in self.tables[tid]["routes"] if tid else []:
                    st = self.route_state(r)
                    ent = {"dst": r["dst"], "state": st, "origin": r["origin"]}
                    if r.get("gateway"):
                        ent["target"] = r["gateway"]
                    else:
                        ent["target"] = r["eni"]
                        eni = self.enis.get(r["eni"])
                        if st == "active" and eni:
                            ent["via"] = eni["ips"][0]
                            ent["via_subnet"] = eni["subnet"]
                    routes.append(ent)
                out["subnets"][sid] = {"cidr": s["cidr"], "route_table": tid, "routes": routes}
            for eid, e in self.enis.items():
                out["source_dest_check"][eid] = {"enabled": e["source_dest_check"], "ips": e["ips"],
                                                 "mac": e.get("mac"), "subnet": e["subnet"]}
            path = os.path.join(self.state_dir, "vpc-routes.json")
            with open(path + ".tmp", "w") as f:
                json.dump(out, f, indent=1, sort_keys=True)
            os.replace(path + ".tmp", path)


# ------------------------------------------------------------------------------------------
# EC2 Query API


def xml_response(action, request_id, inner):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<%sResponse xmlns="%s">\n'
            "    <requestId>%s</requestId>\n%s</%sResponse>" % (action, EC2_NS, request_id, inner, action))


def xml_error(code, message, request_id):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>%s</Code>'
            "<Message>%s</Message></Error></Errors><RequestID>%s</RequestID></Response>"
            % (xesc(code), xesc(message), request_id))


def list_param(params, prefix):
    """Name.1, Name.2, ... in numeric order."""
    out = []
    for k, v in params.items():
        if k.startswith(prefix + "."):
            n = k[len(prefix) + 1:]
            if n.isdigit():
                out.append((int(n), v))
    return [v for _, v in sorted(out)]


def parse_filters(params):
    filters = {}
    for k in params:
        parts = k.split(".")
        if len(parts) == 3 and parts[0] == "Filter" and parts[2] == "Name":
            n = parts[1]
            vals = list_param(params, "Filter.%s.Value" % n)
            filters.setdefault(params[k], []).extend(vals)
    return filters


def parse_cidr(value, param, v6):
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise invalid(param, value, "This is not a valid CIDR block.")
    if (net.version == 6) != v6 or "/" not in value:
        raise invalid(param, value, "This is not a valid CIDR block.")
    return str(net)


class Ec2:
    def __init__(self, cloud):
        self.c = cloud

    # --- authentication -----------------------------------------------------------------
    def authenticate(self, method, raw_path, raw_query, headers, body):
        c = self.c
        hmap = {}
        for n, v in headers:
            hmap.setdefault(n.lower(), v)
        authz = hmap.get("authorization")
        if not authz:
            raise ApiError("MissingAuthenticationToken", 401,
                           "The request must contain either a valid (registered) AWS access key ID or X.509 certificate.")
        try:
            auth = sv.parse_authorization(authz)
        except sv.SigError as e:
            raise ApiError(e.code, e.status, e.message)
        amz_date = hmap.get("x-amz-date", "").strip()
        try:
            ts = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(
                tzinfo=datetime.timezone.utc).timestamp()
        except ValueError:
            raise ApiError("IncompleteSignature", 400,
                           "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
        for need in ("host", "x-amz-date"):
            if need not in auth["signed_headers"]:
                raise ApiError("SignatureDoesNotMatch", 403,
                               "'%s' must be a signed header." % need)
        if auth["date"] != amz_date[:8]:
            raise ApiError("SignatureDoesNotMatch", 403,
                           "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s'"
                           % (auth["date"], amz_date[:8]))
        if auth["region"] != c.region:
            raise ApiError("SignatureDoesNotMatch", 403,
                           "Credential should be scoped to a valid region, not '%s'." % auth["region"])
        if auth["service"] != "ec2":
            raise ApiError("SignatureDoesNotMatch", 403,
                           "Credential should be scoped to correct service: 'ec2'.")
        if auth["terminator"] != "aws4_request":
            raise ApiError("SignatureDoesNotMatch", 403,
                           "Credential should be scoped with a valid terminator: 'aws4_request', not '%s'."
                           % auth["terminator"])
        now = time.time() + c.ec2_clock_offset
        if abs(now - ts) > c.skew:
            raise ApiError("RequestExpired", 400,
                           "Request has expired. Timestamp date is %s" % amz_date)
        with c.lock:
            cred = dict(c.creds.get(auth["access_key"]) or {})
        if not cred:
            raise ApiError("AuthFailure", 401, "AWS was not able to validate the provided access credentials")
        token = hmap.get("x-amz-security-token")
        if token is None:
            raise ApiError("AuthFailure", 401, "AWS was not able to validate the provided access credentials")
        if not sv.signatures_equal(token.strip(), cred["token"]):
            raise ApiError("AuthFailure", 401, "AWS was not able to validate the provided access credentials")
        if self.c.args.require_signed_token and "x-amz-security-token" not in auth["signed_headers"]:
            raise ApiError("SignatureDoesNotMatch", 403, "'x-amz-security-token' must be a signed header.")
        try:
            creq, sts = sv.build(method, raw_path, raw_query, headers, body, auth)
        except sv.SigError as e:
            raise ApiError(e.code, e.status, e.message)
        want = sv.compute_signature(cred["secret"], auth, sts)
        if not sv.signatures_equal(want, auth["signature"]):
            raise ApiError("SignatureDoesNotMatch", 403,
                           "The request signature we calculated does not match the signature you provided. "
                           "Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
        if time.time() >= cred["expires"]:
            raise ApiError("RequestExpired", 400, "Request has expired.")
        return cred

    # --- dispatch -----------------------------------------------------------------------
    def handle(self, action, params, request_id):
        fn = getattr(self, "do_" + action, None)
        if fn is None:
            raise ApiError("InvalidAction", 400, "The action %s is not valid for this web service." % action)
        if action in self.c.denied:
            raise ApiError("UnauthorizedOperation", 403,
                           "You are not authorized to perform this operation. User: arn:aws:sts::%s:assumed-role/%s "
                           "is not authorized to perform: ec2:%s because no identity-based policy allows the ec2:%s action"
                           % (self.c.account, self.c.topo["role"], action, action))
        with self.c.lock:
            return fn(params, request_id)

    def _dry_run(self, params):
        if params.get("DryRun", "").lower() == "true":
            raise ApiError("DryRunOperation", 412, "Request would have succeeded, but DryRun flag is set.")

    def _table(self, params):
        tid = params.get("RouteTableId")
        if not tid:
            raise missing("routeTableId")
        t = self.c.tables.get(tid)
        if t is None:
            raise ApiError("InvalidRouteTableID.NotFound", 400, "The routeTable ID '%s' does not exist" % tid)
        return t

    def _destination(self, params):
        d4, d6 = params.get("DestinationCidrBlock"), params.get("DestinationIpv6CidrBlock")
        if params.get("DestinationPrefixListId"):
            raise invalid("destinationPrefixListId", params["DestinationPrefixListId"],
                          "The prefix list ID does not exist.")
        if d4 and d6:
            raise ApiError("InvalidParameterCombination", 400,
                           "The parameter destinationCidrBlock cannot be used with the parameter destinationIpv6CidrBlock")
        if d4:
            return parse_cidr(d4, "destinationCidrBlock", False), False
        if d6:
            return parse_cidr(d6, "destinationIpv6CidrBlock", True), True
        raise ApiError("MissingParameter", 400,
                       "The request must contain exactly one of the parameters destinationCidrBlock, "
                       "destinationIpv6CidrBlock or destinationPrefixListId")

    def _target(self, params):
        kinds = [k for k in ("NetworkInterfaceId", "InstanceId", "GatewayId", "NatGatewayId",
                             "TransitGatewayId", "VpcPeeringConnectionId", "LocalGatewayId",
                             "CarrierGatewayId", "EgressOnlyInternetGatewayId", "VpcEndpointId")
                 if params.get(k)]
        if not kinds:
            raise ApiError("MissingParameter", 400,
                           "The request must contain exactly one of gatewayId, natGatewayId, networkInterfaceId, "
                           "vpcPeeringConnectionId, egressOnlyInternetGatewayId, transitGatewayId, localGatewayId, "
                           "carrierGatewayId, vpcEndpointId or instanceId")
        if len(kinds) > 1:
            raise ApiError("InvalidParameterCombination", 400,
                           "The parameters %s are mutually exclusive." % ", ".join(kinds))
        k, v = kinds[0], params[kinds[0]]
        if k == "NetworkInterfaceId":
            if v not in self.c.enis:
                raise ApiError("InvalidNetworkInterfaceID.NotFound", 400,
                               "The networkInterface ID '%s' does not exist" % v)
            return {"eni": v}
        if k == "InstanceId":
            inst = self.c.instances.get(v)
            if inst is None:
                raise ApiError("InvalidInstanceID.NotFound", 400, "The instance ID '%s' does not exist" % v)
            if len(inst["enis"]) != 1:
                raise ApiError("InvalidInstanceID", 400,
                               "There are multiple interfaces attached to instance '%s'. Please specify an interface ID for the operation instead." % v)
            return {"eni": inst["enis"][0]}
        if k == "GatewayId":
            if v == "local":
                raise invalid("gatewayId", v, "Route target 'local' can only be used with LocalTarget.")
            if v not in self.c.gateways:
                raise ApiError("InvalidGatewayID.NotFound", 400, "The gateway ID '%s' does not exist" % v)
            return {"gateway": v}
        raise ApiError("InvalidParameterValue", 400, "The fake does not model %s targets" % k)

    def _find(self, t, dst):
        for r in t["routes"]:
            if r["dst"] == dst:
                return r
        return None

    def do_CreateRoute(self, params, rid):
        t = self._table(params)
        dst, v6 = self._destination(params)
        target = self._target(params)
        self._dry_run(params)
        if self._find(t, dst):
            raise ApiError("RouteAlreadyExists", 400,
                           "The route identified by %s already exists." % dst)
        limit = t["route_limit"] or self.c.route_limit
        n = sum(1 for r in t["routes"] if r["v6"] == v6 and r.get("gateway") != "local")
        if n >= limit:
            raise ApiError("RouteLimitExceeded", 400,
                           "The maximum number of routes has been reached for route table '%s'." % t["id"])
        r = {"dst": dst, "v6": v6, "origin": "CreateRoute"}
        r.update(target)
        t["routes"].append(r)
        self.c.write_effective()
        return xml_response("CreateRoute", rid, "    <return>true</return>\n")

    def do_ReplaceRoute(self, params, rid):
        t = self._table(params)
        dst, v6 = self._destination(params)
        target = self._target(params)
        self._dry_run(params)
        r = self._find(t, dst)
        if r is None:
            raise ApiError("InvalidRoute.NotFound", 400,
                           "There is no route defined for '%s' in the route table. Use CreateRoute instead." % dst)
        if r.get("gateway") == "local":
            raise invalid("destinationCidrBlock", dst, "Cannot replace the local route without LocalTarget.")
        for k in ("eni", "gateway"):
            r.pop(k, None)
        r.update(target)
        r["origin"] = "CreateRoute"
        self.c.write_effective()
        return xml_response("ReplaceRoute", rid, "    <return>true</return>\n")

    def do_DeleteRoute(self, params, rid):
        t = self._table(params)
        dst, v6 = self._destination(params)
        self._dry_run(params)
        r = self._find(t, dst)
        if r is None:
            raise ApiError("InvalidRoute.NotFound", 400,
                           "The route identified by %s does not exist." % dst)
        if r.get("gateway") == "local":
            raise invalid("destinationCidrBlock", dst,
                          "cannot remove local route %s in route table %s" % (dst, t["id"]))
        t["routes"].remove(r)
        self.c.write_effective()
        return xml_response("DeleteRoute", rid, "    <return>true</return>\n")

    def _eni(self, params):
        eid = params.get("NetworkInterfaceId")
        if not eid:
            raise missing("networkInterfaceId")
        e = self.c.enis.get(eid)
        if e is None:
            raise ApiError("InvalidNetworkInterfaceID.NotFound", 400,
                           "The networkInterface ID '%s' does not exist" % eid)
        return e

    def do_ModifyNetworkInterfaceAttribute(self, params, rid):
        e = self._eni(params)
        v = params.get("SourceDestCheck.Value")
        others = [k for k in ("Description.Value", "SecurityGroupId.1", "Attachment.AttachmentId")
                  if k in params]
        if v is None and not others:
            raise missing("sourceDestCheck")
        if v is not None:
            if v.lower() not in ("true", "false"):
                raise invalid("sourceDestCheck", v)
            self._dry_run(params)
            e["source_dest_check"] = v.lower() == "true"
            self.c.write_effective()
        else:
            raise ApiError("InvalidParameterValue", 400, "The fake only models SourceDestCheck")
        return xml_response("ModifyNetworkInterfaceAttribute", rid, "    <return>true</return>\n")

    def do_ModifyInstanceAttribute(self, params, rid):
        iid = params.get("InstanceId")
        if not iid:
            raise missing("instanceId")
        inst = self.c.instances.get(iid)
        if inst is None:
            raise ApiError("InvalidInstanceID.NotFound", 400, "The instance ID '%s' does not exist" % iid)
        v = params.get("SourceDestCheck.Value")
        if v is None and params.get("Attribute") == "sourceDestCheck":
            v = params.get("Value")
        if v is None:
            raise missing("sourceDestCheck")
        if v.lower() not in ("true", "false"):
            raise invalid("sourceDestCheck", v)
        self._dry_run(params)
        if inst["enis"]:
            self.c.enis[inst["enis"][0]]["source_dest_check"] = v.lower() == "true"
        self.c.write_effective()
        return xml_response("ModifyInstanceAttribute", rid, "    <return>true</return>\n")

    def do_DescribeNetworkInterfaceAttribute(self, params, rid):
        e = self._eni(params)
        attr = params.get("Attribute")
        if not attr:
            raise missing("attribute")
        if attr not in ("sourceDestCheck", "description", "groupSet", "attachment"):
            raise invalid("attribute", attr)
        self._dry_run(params)
        if attr != "sourceDestCheck":
            raise ApiError("InvalidParameterValue", 400, "The fake only models sourceDestCheck")
        inner = ("    <networkInterfaceId>%s</networkInterfaceId>\n"
                 "    <sourceDestCheck>\n        <value>%s</value>\n    </sourceDestCheck>\n"
                 % (e["id"], "true" if e["source_dest_check"] else "false"))
        return xml_response("DescribeNetworkInterfaceAttribute", rid, inner)

    def do_DescribeNetworkInterfaces(self, params, rid):
        ids = list_param(params, "NetworkInterfaceId")
        for i in ids:
            if i not in self.c.enis:
                raise ApiError("InvalidNetworkInterfaceID.NotFound", 400,
                               "The networkInterface ID '%s' does not exist" % i)
        self._dry_run(params)
        items = []
        for eid, e in self.c.enis.items():
            if ids and eid not in ids:
                continue
            s = self.c.subnets[e["subnet"]]
            ips = "".join("<item><privateIpAddress>%s</privateIpAddress><primary>%s</primary></item>"
                          % (ip, "true" if n == 0 else "false") for n, ip in enumerate(e["ips"]))
            att = ("<attachment><instanceId>%s</instanceId><instanceOwnerId>%s</instanceOwnerId>"
                   "<deviceIndex>0</deviceIndex><status>attached</status></attachment>"
                   % (e["instance"], self.c.account)) if e.get("instance") else ""
            items.append("        <item><networkInterfaceId>%s</networkInterfaceId><subnetId>%s</subnetId>"
                         "<vpcId>%s</vpcId><availabilityZone>%s</availabilityZone><ownerId>%s</ownerId>"
                         "<status>in-use</status><macAddress>%s</macAddress><privateIpAddress>%s</privateIpAddress>"
                         "<sourceDestCheck>%s</sourceDestCheck>%s<privateIpAddressesSet>%s</privateIpAddressesSet>"
                         "<subnetCidr>%s</subnetCidr></item>\n"
                         % (eid, e["subnet"], self.c.vpc["id"], self.c.topo["availability_zone"], self.c.account,
                            e.get("mac", ""), e["ips"][0], "true" if e["source_dest_check"] else "false",
                            att, ips, s["cidr"]))
        return xml_response("DescribeNetworkInterfaces", rid,
                            "    <networkInterfaceSet>\n%s    </networkInterfaceSet>\n" % "".join(items))

    FILTERS = ("vpc-id", "route-table-id", "association.subnet-id", "association.main",
               "association.route-table-association-id", "route.destination-cidr-block",
               "route.state", "route.origin", "route.instance-id", "route.gateway-id", "owner-id")

    def _match(self, t, name, vals):
        routes = t["routes"]
        if name == "vpc-id":
            return self.c.vpc["id"] in vals
        if name == "route-table-id":
            return t["id"] in vals
        if name == "owner-id":
            return self.c.account in vals
        if name == "association.subnet-id":
            return any(s in vals for s in t["subnets"])
        if name == "association.main":
            return ("true" if t["main"] else "false") in [v.lower() for v in vals]
        if name == "association.route-table-association-id":
            return any(self._assoc_id(t["id"], x) in vals for x in t["subnets"] + (["main"] if t["main"] else []))
        if name == "route.destination-cidr-block":
            return any(r["dst"] in vals for r in routes)
        if name == "route.state":
            return any(self.c.route_state(r) in vals for r in routes)
        if name == "route.origin":
            return any(r["origin"] in vals for r in routes)
        if name == "route.gateway-id":
            return any(r.get("gateway") in vals for r in routes)
        if name == "route.instance-id":
            return any((self.c.enis.get(r.get("eni")) or {}).get("instance") in vals for r in routes)
        return False

    @staticmethod
    def _assoc_id(tid, sub):
        import hashlib
        return "rtbassoc-" + hashlib.sha256((tid + "/" + sub).encode()).hexdigest()[:17]

    def _route_xml(self, r):
        st = self.c.route_state(r)
        dst = ("<destinationIpv6CidrBlock>%s</destinationIpv6CidrBlock>" if r["v6"]
               else "<destinationCidrBlock>%s</destinationCidrBlock>") % r["dst"]
        if r.get("gateway"):
            tgt = "<gatewayId>%s</gatewayId>" % r["gateway"]
        else:
            e = self.c.enis.get(r["eni"])
            tgt = ""
            if e and e.get("instance"):
                tgt = "<instanceId>%s</instanceId><instanceOwnerId>%s</instanceOwnerId>" % (
                    e["instance"], self.c.account)
            tgt += "<networkInterfaceId>%s</networkInterfaceId>" % r["eni"]
        return ("                    <item>\n                        %s%s<state>%s</state><origin>%s</origin>\n"
                "                    </item>\n" % (dst, tgt, st, r["origin"]))

    def _table_xml(self, t):
        routes = "".join(self._route_xml(r) for r in t["routes"])
        assocs = []
        if t["main"]:
            assocs.append("                    <item>\n                        <main>true</main>"
                          "<routeTableAssociationId>%s</routeTableAssociationId><routeTableId>%s</routeTableId>"
                          "<associationState><state>associated</state></associationState>\n"
                          "                    </item>\n" % (self._assoc_id(t["id"], "main"), t["id"]))
        for s in t["subnets"]:
            assocs.append("                    <item>\n                        <main>false</main>"
                          "<routeTableAssociationId>%s</routeTableAssociationId><routeTableId>%s</routeTableId>"
                          "<subnetId>%s</subnetId><associationState><state>associated</state></associationState>\n"
                          "                    </item>\n" % (self._assoc_id(t["id"], s), t["id"], s))
        return ("        <item>\n            <routeTableId>%s</routeTableId>\n            <vpcId>%s</vpcId>\n"
                "            <ownerId>%s</ownerId>\n            <routeSet>\n%s            </routeSet>\n"
                "            <associationSet>\n%s            </associationSet>\n"
                "            <propagatingVgwSet/>\n            <tagSet/>\n        </item>\n"
                % (t["id"], self.c.vpc["id"], self.c.account, routes, "".join(assocs)))

    def do_DescribeRouteTables(self, params, rid):
        ids = list_param(params, "RouteTableId")
        filters = parse_filters(params)
        for name in filters:
            if name not in self.FILTERS:
                raise ApiError("InvalidParameterValue", 400, "The filter '%s' is invalid" % name)
        max_results = params.get("MaxResults")
        if max_results is not None:
            if ids:
                raise ApiError("InvalidParameterCombination", 400,
                               "The parameter routeTableIdSet cannot be used with the parameter maxResults")
            if not max_results.isdigit() or not 5 <= int(max_results) <= 100:
                raise invalid("maxResults", max_results, "Value must be between 5 and 100.")
        self._dry_run(params)
        for i in ids:
            if i not in self.c.tables:
                raise ApiError("InvalidRouteTableID.NotFound", 400, "The routeTable ID '%s' does not exist" % i)
        sel = []
        for tid in self.c.table_order:
            t = self.c.tables[tid]
            if ids and tid not in ids:
                continue
            if all(self._match(t, n, v) for n, v in filters.items()):
                sel.append(t)
        page = int(max_results) if max_results else (self.c.force_page_size or 0)
        start = 0
        tok = params.get("NextToken")
        qkey = self._query_key(params)
        if tok:
            try:
                d = json.loads(base64.urlsafe_b64decode(tok.encode()).decode())
                start, key = int(d["o"]), d["k"]
            except Exception:
                raise ApiError("InvalidPaginationToken", 400, "Invalid pagination token: %s" % tok)
            if key != qkey:
                raise ApiError("InvalidPaginationToken", 400,
                               "The pagination token does not match the parameters of this request")
        nxt = ""
        if page:
            if start + page < len(sel):
                nxt = base64.urlsafe_b64encode(json.dumps({"o": start + page, "k": qkey}).encode()).decode()
            sel = sel[start:start + page]
        inner = "    <routeTableSet>\n%s    </routeTableSet>\n" % "".join(self._table_xml(t) for t in sel)
        if nxt:
            inner += "    <nextToken>%s</nextToken>\n" % nxt
        return xml_response("DescribeRouteTables", rid, inner)

    @staticmethod
    def _query_key(params):
        import hashlib
        kv = sorted((k, v) for k, v in params.items() if k not in ("NextToken", "MaxResults"))
        return hashlib.sha256(json.dumps(kv).encode()).hexdigest()[:16]


class Ec2Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "AmazonEC2"
    sys_version = ""

    def log_message(self, fmt, *a):
        if self.server.cloud.args.verbose:
            log("ec2 " + fmt % a)

    def _send(self, status, body, ctype="text/xml;charset=UTF-8", length=None):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data) if length is None else length))
        self.send_header("Date", self.date_time_string())
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._serve("GET")

    def do_POST(self):
        self._serve("POST")

    def _serve(self, method):
        cloud = self.server.cloud
        ec2 = self.server.ec2
        rid = str(uuid.uuid4())
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        raw_path, _, raw_query = self.path.partition("?")
        params = {}
        try:
            if method == "POST":
                ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
                if ctype != "application/x-www-form-urlencoded":
                    raise ApiError("InvalidParameterValue", 400,
                                   "Content-Type must be application/x-www-form-urlencoded")
                params = dict(urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True))
            else:
                params = dict(urllib.parse.parse_qsl(raw_query, keep_blank_values=True))
        except (UnicodeDecodeError, ApiError) as e:
            err = e if isinstance(e, ApiError) else ApiError("InvalidParameterValue", 400, "body is not UTF-8")
            cloud.count_call("(none)")
            cloud.count_result("(none)", {}, err.status, err.code)
            return self._send(err.status, xml_error(err.code, err.message, rid))
        action = params.get("Action", "")
        cloud.count_call(action or "(none)")
        fault = cloud.take_fault(action)
        if fault:
            kind = fault["kind"]
            log("fault %s for %s" % (kind, action))
            cloud.count_result(action, params, 0, "fault:" + kind)
            if kind == "throttle":
                return self._send(503, xml_error("RequestLimitExceeded", "Request limit exceeded.", rid))
            if kind in ("500", "internal"):
                return self._send(500, xml_error("InternalError",
                                                 "An internal error has occurred", rid))
            if kind in ("503", "unavailable"):
                return self._send(503, xml_error("Unavailable",
                                                 "The server is overloaded and can't handle the request.", rid))
            if kind == "hang":
                time.sleep(float(fault.get("seconds") or cloud.hang_seconds))
                self.close_connection = True
                return
            if kind == "malformed":
                return self._send(200, '<?xml version="1.0" encoding="UTF-8"?>\n<%sResponse xmlns="%s">'
                                  "<requestId>%s</requestId><routeTableSet><item><routeTab"
                                  % (action or "Unknown", EC2_NS, rid))
            if kind == "garbage":
                return self._send(200, "<html><body>502 Bad Gateway</body></html>", ctype="text/html")
            if kind == "truncated":
                # the status line promises more body than arrives, then the connection closes
                full = xml_response(action or "Unknown", rid, "    <return>true</return>\n").encode()
                self.close_connection = True
                return self._send(200, full[:len(full) // 2], length=len(full))
        status, code = 200, None
        try:
            ec2.authenticate(method, raw_path, raw_query, list(self.headers.items()), body)
            if not action:
                raise ApiError("MissingAction", 400, "The request must contain the parameter Action")
            if params.get("Version") is None:
                raise missing("Version")
            if params["Version"] != API_VERSION:
                raise ApiError("InvalidParameterValue", 400,
                               "The fake only implements Version %s, not %s" % (API_VERSION, params["Version"]))
            out = ec2.handle(action, params, rid)
        except ApiError as e:
            status, code = e.status, e.code
            out = xml_error(e.code, e.message, rid)
        except Exception as e:  # a bug in the fake: answer like AWS would and say so
            log("internal error: %r" % e)
            status, code = 500, "InternalError"
            out = xml_error("InternalError", "An internal error has occurred", rid)
        cloud.count_result(action, params, status, code)
        if code:
            log("%s -> %d %s" % (action, status, code))
        self._send(status, out)


# ------------------------------------------------------------------------------------------
# IMDSv2


class ImdsHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "EC2ws"
    sys_version = ""

    def log_message(self, fmt, *a):
        if self.server.cloud.args.verbose:
            log("imds " + fmt % a)

    def _send(self, status, body, ctype="text/plain", extra=()):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_PUT(self):
        cloud = self.server.cloud
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        if self.path != "/latest/api/token":
            return self._send(405 if self.path.startswith("/latest/") else 404, "")
        if self.headers.get("X-Forwarded-For") is not None:
            cloud.count_imds("token-forwarded")
            return self._send(403, "")
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
        if ttl is None or not ttl.strip().isdigit() or not 1 <= int(ttl) <= 21600:
            cloud.count_imds("token-bad-ttl")
            return self._send(400, "")
        tok = base64.b64encode(secrets.token_bytes(42)).decode()
        with cloud.lock:
            cloud.imds_tokens[tok] = time.time() + int(ttl)
            for k in [k for k, v in cloud.imds_tokens.items() if v < time.time()]:
                del cloud.imds_tokens[k]
        cloud.count_imds("token")
        # the hop limit: this response leaves with IP TTL N (1 by default), so it dies at the
        # first router, as on EC2; the connection then closes so later requests are not affected
        if cloud.imds_hop_limit:
            self.connection.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, cloud.imds_hop_limit)
        self.close_connection = True
        self._send(200, tok, extra=[("X-aws-ec2-metadata-token-ttl-seconds", ttl.strip()),
                                    ("Connection", "close")])

    def do_POST(self):
        self._send(405, "")

    def do_GET(self):
        cloud = self.server.cloud
        tok = self.headers.get("X-aws-ec2-metadata-token")
        with cloud.lock:
            exp = cloud.imds_tokens.get(tok) if tok else None
        if exp is None or exp < time.time():
            cloud.count_imds("unauthorized")
            return self._send(401, "")
        if self.path.startswith("/latest/api/token"):
            return self._send(405, "")
        inst = cloud.instance_by_ip(self.client_address[0])
        tree = self.tree(cloud, inst)
        path = self.path.split("?")[0]
        for base in ("/latest/",):
            if path.startswith(base):
                path = path[len(base):]
        node = tree
        parts = [p for p in path.split("/") if p]
        for p in parts:
            if not isinstance(node, dict) or p not in node:
                cloud.count_imds("notfound")
                return self._send(404, NOT_FOUND_HTML, ctype="text/html")
            node = node[p]
        cloud.count_imds(path or "/")
        if isinstance(node, dict):
            body = "\n".join(k + "/" if isinstance(v, dict) else k for k, v in node.items())
            return self._send(200, body)
        if callable(node):
            node = node()
        ctype = "application/json" if node.startswith("{") else "text/plain"
        self._send(200, node, ctype=ctype)

    @staticmethod
    def tree(cloud, inst_id):
        topo = cloud.topo
        with cloud.lock:
            inst = cloud.instances[inst_id]
            enis = [cloud.enis[e] for e in inst["enis"]]
        prim = enis[0]
        macs = {}
        for n, e in enumerate(enis):
            s = cloud.subnets[e["subnet"]]
            macs[e["mac"]] = {
                "device-number": str(n), "interface-id": e["id"], "local-ipv4s": "\n".join(e["ips"]),
                "mac": e["mac"], "owner-id": topo["account"], "subnet-id": e["subnet"],
                "subnet-ipv4-cidr-block": s["cidr"], "vpc-id": topo["vpc"]["id"],
                "vpc-ipv4-cidr-block": topo["vpc"]["cidrs"][0],
                "vpc-ipv4-cidr-blocks": "\n".join(topo["vpc"]["cidrs"]),
            }
        role = topo["role"]

        def creds():
            c = cloud.credentials_for(inst_id)
            return json.dumps({"Code": "Success", "LastUpdated": iso(c["issued"]), "Type": "AWS-HMAC",
                               "AccessKeyId": c["akid"], "SecretAccessKey": c["secret"], "Token": c["token"],
                               "Expiration": iso(c["expires"])}, indent=2)

        def identity():
            return json.dumps({"accountId": topo["account"], "architecture": "x86_64",
                               "availabilityZone": topo["availability_zone"], "imageId": "ami-0fake0000000000001",
                               "instanceId": inst_id, "instanceType": "t3.micro", "privateIp": prim["ips"][0],
                               "region": topo["region"], "version": "2017-09-30"}, indent=2)

        return {
            "meta-data": {
                "ami-id": "ami-0fake0000000000001",
                "hostname": "ip-%s.ec2.internal" % prim["ips"][0].replace(".", "-"),
                "iam": {
                    "info": json.dumps({"Code": "Success", "LastUpdated": iso(time.time()),
                                        "InstanceProfileArn": "arn:aws:iam::%s:instance-profile/%s" % (topo["account"], role),
                                        "InstanceProfileId": "AIPAFAKE0000000000001"}, indent=2),
                    "security-credentials": {role: creds},
                },
                "instance-id": inst_id,
                "instance-type": "t3.micro",
                "local-hostname": "ip-%s.ec2.internal" % prim["ips"][0].replace(".", "-"),
                "local-ipv4": prim["ips"][0],
                "mac": prim["mac"],
                "network": {"interfaces": {"macs": macs}},
                "placement": {"availability-zone": topo["availability_zone"], "region": topo["region"]},
                "services": {"domain": topo.get("domain", "amazonaws.com"), "partition": topo.get("partition", "aws")},
            },
            "dynamic": {"instance-identity": {"document": identity}},
        }


NOT_FOUND_HTML = ('<?xml version="1.0" encoding="iso-8859-1"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 '
                  'Transitional//EN"\n\t"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
                  '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">\n <head>\n'
                  "  <title>404 - Not Found</title>\n </head>\n <body>\n  <h1>404 - Not Found</h1>\n"
                  " </body>\n</html>\n")


# ------------------------------------------------------------------------------------------
# Control API


class ControlHandler(fakectl.ControlHandler):
    MODEL = "cloud"
    LOG = staticmethod(log)

    @staticmethod
    def dispatch(c, p, req):
        if p == "/fault":
            kind = req["kind"]
            if kind not in ("throttle", "500", "internal", "503", "unavailable", "hang", "malformed",
                            "garbage", "truncated"):
                raise ValueError("unknown fault kind " + kind)
            c.faults.append({"kind": kind, "count": int(req.get("count", 1)), "action": req.get("action"),
                             "seconds": req.get("seconds")})
            return {"faults": c.faults}
        if p == "/deny":
            c.denied.add(req["action"])
            return {"denied": sorted(c.denied)}
        if p == "/allow":
            c.denied.discard(req["action"])
            return {"denied": sorted(c.denied)}
        if p == "/counters/reset":
            c.reset_counters()
            return {"ok": True}
        if p == "/reset":
            c.faults, c.denied, c.ec2_clock_offset = [], set(), 0.0
            c.reset_counters()
            return {"ok": True}
        if p == "/clock":
            c.ec2_clock_offset = float(req["offset"])
            return {"ec2_clock_offset": c.ec2_clock_offset}
        if p == "/config":
            for k in ("cred_lifetime", "cred_rotate", "hang_seconds", "route_limit", "imds_hop_limit",
                      "force_page_size", "skew"):
                if k in req:
                    setattr(c, k, type(getattr(c, k))(req[k]))
            return {k: getattr(c, k) for k in ("cred_lifetime", "cred_rotate", "hang_seconds", "route_limit",
                                                "imds_hop_limit", "force_page_size", "skew")}
        if p == "/creds/rotate":
            c.rotate_now(req.get("instance"))
            return {"ok": True}
        if p == "/creds/expire":
            c.expire_all()
            return {"ok": True}
        if p == "/route":          # seed a route without the API's checks (e.g. a blackhole)
            t = c.tables[req["route_table"]]
            dst = str(ipaddress.ip_network(req["dst"]))
            t["routes"] = [r for r in t["routes"] if r["dst"] != dst]
            r = {"dst": dst, "v6": ":" in dst, "origin": req.get("origin", "CreateRoute")}
            if req.get("gateway"):
                r["gateway"] = req["gateway"]
            else:
                r["eni"] = req["eni"]
            t["routes"].append(r)
            c.write_effective()
            return c._table_json(t)
        if p == "/route/delete":
            t = c.tables[req["route_table"]]
            t["routes"] = [r for r in t["routes"] if r["dst"] != req["dst"] or r.get("gateway") == "local"]
            c.write_effective()
            return c._table_json(t)
        if p == "/eni/delete":     # routes through it turn blackhole
            e = c.enis.pop(req["eni"])
            inst = c.instances.get(e["instance"])
            if inst:
                inst["enis"].remove(e["id"])
            c.write_effective()
            return {"deleted": e["id"]}
        if p == "/eni/source-dest-check":
            c.enis[req["eni"]]["source_dest_check"] = bool(req["enabled"])
            c.write_effective()
            return {"ok": True}
        if p == "/associate":      # move a subnet's explicit association (None: back to main)
            for t in c.tables.values():
                if req["subnet"] in t["subnets"]:
                    t["subnets"].remove(req["subnet"])
            if req.get("route_table"):
                c.tables[req["route_table"]]["subnets"].append(req["subnet"])
            c.write_effective()
            return {"ok": True}
        return None


# ------------------------------------------------------------------------------------------
# Servers


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


def split_addr(s, default_port):
    host, _, port = s.rpartition(":")
    if not host:
        host, port = s, default_port
    return host.strip("[]"), int(port)


def make_cert(state_dir, region, sans):
    """A throw-away CA and a leaf for the EC2 endpoint, made with the openssl CLI."""
    ca_key, ca = os.path.join(state_dir, "ca.key"), os.path.join(state_dir, "ca.pem")
    key, csr, crt = (os.path.join(state_dir, n) for n in ("ec2.key", "ec2.csr", "ec2.pem"))
    ext = os.path.join(state_dir, "ec2.ext")
    names = ["DNS:ec2.%s.amazonaws.com" % region, "DNS:ec2.amazonaws.com", "DNS:localhost", "IP:127.0.0.1"]
    for s in sans:
        try:
            ipaddress.ip_address(s)
            names.append("IP:" + s)
        except ValueError:
            names.append("DNS:" + s)
    with open(ext, "w") as f:
        f.write("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\nsubjectAltName=%s\n" % ",".join(names))
    run = lambda *a: subprocess.run(a, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: E731
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", ca_key, "-out", ca, "-days", "3", "-subj", "/CN=fake-aws test CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", key, "-out", csr, "-subj", "/CN=ec2.%s.amazonaws.com" % region)
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
        "-out", crt, "-days", "3", "-extfile", ext)
    os.chmod(ca_key, 0o600)
    os.chmod(key, 0o600)
    return ca, crt, key


def load_topology(path, args):
    topo = copy.deepcopy(DEFAULT_TOPOLOGY)
    if path:
        with open(path) as f:
            topo.update(json.load(f))
    if args.region:
        topo["region"] = args.region
        topo["availability_zone"] = args.region + "a"
    return topo


def main(argv=None):
    ap = argparse.ArgumentParser(description="fake AWS (IMDSv2 + EC2 Query API) for meshgate tests")
    ap.add_argument("--state-dir", required=True, help="writes ca.pem, ready.json, vpc-routes.json here")
    ap.add_argument("--topology", help="JSON file overriding keys of the default topology")
    ap.add_argument("--region")
    ap.add_argument("--imds-listen", default="169.254.169.254:80", help="ADDR:PORT, or 'off'")
    ap.add_argument("--ec2-listen", default="0.0.0.0:443", help="ADDR:PORT of the HTTPS EC2 endpoint")
    ap.add_argument("--ec2-san", action="append", default=[], help="extra name or IP in the EC2 certificate")
    ap.add_argument("--control-listen", default="127.0.0.1:8799")
    ap.add_argument("--cred-lifetime", type=float, default=21600.0, help="seconds a credential stays valid")
    ap.add_argument("--cred-rotate", type=float, default=None,
                    help="seconds between new credentials (default: lifetime - 300, or lifetime/2 when short)")
    ap.add_argument("--imds-hop-limit", type=int, default=1, help="IP TTL of the token PUT response; 0: system default")
    ap.add_argument("--max-skew", type=float, default=300.0, help="RequestExpired beyond this many seconds")
    ap.add_argument("--route-limit", type=int, default=50, help="non-local routes per table and family")
    ap.add_argument("--hang-seconds", type=float, default=60.0)
    ap.add_argument("--force-page-size", type=int, default=0,
                    help="page DescribeRouteTables even without MaxResults (AWS does not)")
    ap.add_argument("--no-require-signed-token", dest="require_signed_token", action="store_false",
                    help="accept an X-Amz-Security-Token that is sent but not signed (AWS does)")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    if args.cred_rotate is None:
        args.cred_rotate = args.cred_lifetime - 300 if args.cred_lifetime > 900 else args.cred_lifetime / 2
    os.makedirs(args.state_dir, exist_ok=True)
    topo = load_topology(args.topology, args)
    cloud = Cloud(topo, args)

    servers = []
    imds_addr = None
    if args.imds_listen != "off":
        imds_addr = split_addr(args.imds_listen, 80)
        s = Server(imds_addr, ImdsHandler)
        s.cloud = cloud
        servers.append(s)
    ca, crt, key = make_cert(args.state_dir, topo["region"], args.ec2_san)
    ec2_addr = split_addr(args.ec2_listen, 443)
    es = Server(ec2_addr, Ec2Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    es.socket = ctx.wrap_socket(es.socket, server_side=True, do_handshake_on_connect=False)
    es.cloud, es.ec2 = cloud, Ec2(cloud)
    servers.append(es)
    ctl_addr = split_addr(args.control_listen, 8799)
    cs = Server(ctl_addr, ControlHandler)
    cs.cloud = cloud
    servers.append(cs)
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()

    ready = {"pid": os.getpid(), "ca": ca, "state_dir": args.state_dir,
             "imds": "http://%s:%d" % imds_addr if imds_addr else None,
             "ec2": "https://%s:%d" % ec2_addr, "ec2_host": "ec2.%s.amazonaws.com" % topo["region"],
             "control": "http://%s:%d" % ctl_addr, "region": topo["region"],
             "routes": os.path.join(args.state_dir, "vpc-routes.json")}
    with open(os.path.join(args.state_dir, "ready.json.tmp"), "w") as f:
        json.dump(ready, f, indent=1)
    os.replace(os.path.join(args.state_dir, "ready.json.tmp"), os.path.join(args.state_dir, "ready.json"))
    print(json.dumps(ready), flush=True)
    log("ready; CA file %s" % ca)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    while not stop.wait(1):
        pass
    for s in servers:
        s.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
