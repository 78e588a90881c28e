#!/usr/bin/env python3
"""fake_azure: a fake Azure for meshgate's tests that speaks the real wire format (stdlib only).

One process serves
  * IMDS over plain HTTP (default 169.254.169.254:80): /metadata/instance (and its leaves with
    format=text), /metadata/versions, and the managed-identity endpoint
    /metadata/identity/oauth2/token; `Metadata: true` and api-version enforced, X-Forwarded-For
    refused;
  * Azure Resource Manager over HTTPS (certificate for management.azure.com): VMs, NICs (PUT as a
    long-running operation with If-Match), VNets, subnets, route tables and routes (PUT/DELETE as
    LROs, paging with nextLink), the Azure-AsyncOperation / Location poll URLs; every request's
    bearer token checked (signature, audience, expiry) and api-version checked;
  * a control API (plain HTTP, JSON; default 127.0.0.1:8799) for fault injection, counters,
    denied actions, state inspection and seeding.
State lives in azure_model.py. See README.md beside this file.
"""

import argparse
import copy
import http.server
import ipaddress
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import fakectl  # noqa: E402
import azure_model as am  # noqa: E402
from azure_model import ApiError  # noqa: E402

IMDS_VERSIONS = ("2017-03-01", "2017-04-02", "2017-08-01", "2017-10-01", "2017-12-01", "2018-02-01",
                 "2018-04-02", "2018-10-01", "2019-02-01", "2019-03-11", "2019-04-30", "2019-06-01",
                 "2019-06-04", "2019-08-01", "2019-08-15", "2019-11-01", "2020-06-01", "2020-07-15",
                 "2020-09-01", "2020-10-01", "2020-12-01", "2021-01-01", "2021-02-01", "2021-03-01",
                 "2021-05-01", "2021-10-01", "2021-11-01", "2021-11-15", "2021-12-13", "2022-02-01",
                 "2022-03-01", "2022-07-01", "2022-08-01", "2022-09-01", "2023-07-01", "2023-11-15",
                 "2024-03-15", "2024-07-17", "2025-04-07")
TOKEN_VERSIONS = ("2018-02-01", "2019-08-01")
JSON = "application/json; charset=utf-8"
FAULT_KINDS = ("throttle", "conflict", "retryable", "500", "502", "503", "504", "hang", "malformed",
               "truncated", "garbage", "expired", "lro_fail", "gone")
# resource kinds: (compute?, RBAC action prefix)
KINDS = {
    "virtualMachines": (True, "Microsoft.Compute/virtualMachines"),
    "vmssVirtualMachines": (True, "Microsoft.Compute/virtualMachineScaleSets/virtualMachines"),
    "vmssNetworkInterfaces": ("vmss", "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/networkInterfaces"),
    "networkInterfaces": (False, "Microsoft.Network/networkInterfaces"),
    "virtualNetworks": (False, "Microsoft.Network/virtualNetworks"),
    "subnets": (False, "Microsoft.Network/virtualNetworks/subnets"),
    "routeTables": (False, "Microsoft.Network/routeTables"),
    "routes": (False, "Microsoft.Network/routeTables/routes"),
    "operations": (False, "Microsoft.Network/locations/operations"),
    "operationResults": (False, "Microsoft.Network/locations/operationResults"),
}
VERB = {"GET": "read", "PUT": "write", "DELETE": "delete", "PATCH": "write", "POST": "action"}


def log(*a):
    print("[fake_azure %s]" % time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


def parse_arm_path(path):
    """(kind, {sub, rg, name, parent}) for the paths the fake serves, else None."""
    s = [urllib.parse.unquote(x) for x in path.strip("/").split("/")]
    low = [x.lower() for x in s]
    n = len(s)
    if n < 2 or low[0] != "subscriptions":
        return None
    p = {"sub": s[1]}
    if n >= 4 and low[2] == "providers" and low[3] == "microsoft.network":
        if n == 5 and low[4] == "routetables":
            return "routeTables", dict(p, list=True, scope="sub")
        if n == 8 and low[4] == "locations" and low[6] in ("operations", "operationresults"):
            return ("operations" if low[6] == "operations" else "operationResults"), dict(p, name=s[7])
        return None
    if n < 6 or low[2] != "resourcegroups" or low[4] != "providers":
        return None
    p["rg"] = s[3]
    ns, rest, lrest = low[5], s[6:], low[6:]
    if ns == "microsoft.compute" and len(rest) == 2 and lrest[0] == "virtualmachines":
        return "virtualMachines", dict(p, name=rest[1])
    if ns == "microsoft.compute" and len(rest) == 4 and lrest[0] == "virtualmachinescalesets" \
            and lrest[2] == "virtualmachines":
        return "vmssVirtualMachines", dict(p, parent=rest[1], name=rest[3])
    if ns == "microsoft.compute" and len(rest) == 6 and lrest[0] == "virtualmachinescalesets" \
            and lrest[2] == "virtualmachines" and lrest[4] == "networkinterfaces":
        return "vmssNetworkInterfaces", dict(p, parent=rest[1], vm=rest[3], name=rest[5])
    if ns != "microsoft.network":
        return None
    if len(rest) == 2 and lrest[0] == "networkinterfaces":
        return "networkInterfaces", dict(p, name=rest[1])
    if len(rest) == 2 and lrest[0] == "virtualnetworks":
        return "virtualNetworks", dict(p, name=rest[1])
    if len(rest) == 4 and lrest[0] == "virtualnetworks" and lrest[2] == "subnets":
        return "subnets", dict(p, parent=rest[1], name=rest[3])
    if len(rest) == 1 and lrest[0] == "routetables":
        return "routeTables", dict(p, list=True, scope="rg")
    if len(rest) == 2 and lrest[0] == "routetables":
        return "routeTables", dict(p, name=rest[1])
    if len(rest) == 3 and lrest[0] == "routetables" and lrest[2] == "routes":
        return "routes", dict(p, parent=rest[1], list=True)
    if len(rest) == 4 and lrest[0] == "routetables" and lrest[2] == "routes":
        return "routes", dict(p, parent=rest[1], name=rest[3])
    return None


def not_found(rtype, name, rg):
    return ApiError(404, "ResourceNotFound",
                    "The Resource '%s/%s' under resource group '%s' was not found. For more details please go to "
                    "https://aka.ms/ARMResourceNotFoundFix" % (rtype, name, rg))


def child_not_found(rid):
    return ApiError(404, "NotFound", "Resource %s not found." % rid)


# ------------------------------------------------------------------------------------------
# ARM


class Arm:
    def __init__(self, cloud):
        self.c = cloud

    def check_version(self, kind, ver):
        compute = KINDS[kind][0]
        if ver is None:
            raise ApiError(400, "MissingApiVersionParameter",
                           "The api-version query parameter (?api-version=) is required for all requests.")
        known = am.VMSS_NIC_VERSIONS if compute == "vmss" else am.COMPUTE_VERSIONS if compute else am.NET_VERSIONS
        if not re.match(r"^\d{4}-\d{2}-\d{2}(-preview)?$", ver):
            raise ApiError(400, "InvalidApiVersionParameter",
                           "The api-version '%s' is invalid. The supported versions are '%s'."
                           % (ver, ",".join(reversed(known))))
        if ver not in known:
            rtype = {"subnets": "virtualNetworks/subnets", "routes": "routeTables/routes",
                     "vmssVirtualMachines": "virtualMachineScaleSets/virtualMachines",
                     "vmssNetworkInterfaces": "virtualMachineScaleSets/virtualMachines/networkInterfaces",
                     "operations": "locations/operations",
                     "operationResults": "locations/operationResults"}.get(kind, kind)
            raise ApiError(400, "NoRegisteredProviderFound",
                           "No registered resource provider found for location '%s' and API version '%s' for type "
                           "'%s'. The supported api-versions are '%s'. The supported locations are '%s'."
                           % (self.c.loc, ver, rtype, ", ".join(reversed(known)), self.c.loc))

    @staticmethod
    def if_match(headers, cur_etag, rid):
        im, inm = headers.get("If-Match"), headers.get("If-None-Match")
        if im is not None and im.strip() != "*" and (cur_etag is None or im.strip() != cur_etag):
            raise ApiError(412, "PreconditionFailed",
                           "Precondition failed for resource %s: If-Match %s does not match the current etag %s."
                           % (rid, im.strip(), cur_etag))
        if im is not None and im.strip() == "*" and cur_etag is None:
            raise ApiError(412, "PreconditionFailed", "Precondition failed: resource %s does not exist." % rid)
        if inm is not None and inm.strip() == "*" and cur_etag is not None:
            raise ApiError(412, "PreconditionFailed", "Precondition failed: resource %s already exists." % rid)

    def page(self, items, path, query, ver):
        size = self.c.page_size
        start = 0
        tok = query.get("$skiptoken")
        if tok is not None:
            try:
                start, ph = am.b64u_dec(tok).decode().split(":", 1)
                start = int(start)
                if ph != path.lower() or start < 0:
                    raise ValueError
            except (ValueError, UnicodeDecodeError):
                raise ApiError(400, "InvalidSkipToken", "The skip token '%s' is invalid." % tok)
        if size <= 0:
            return {"value": items[start:]}
        out = {"value": items[start:start + size]}
        if start + size < len(items):
            nt = am.b64u(("%d:%s" % (start + size, path.lower())).encode())
            out["nextLink"] = "%s%s?api-version=%s&%%24skiptoken=%s" % (self.c.arm_base, path, ver, nt)
        return out

    def lro_headers(self, op, ver, location=False):
        aso, loc = self.c.op_urls(op, ver)
        h = {"Azure-AsyncOperation": aso, "Retry-After": str(self.c.retry_after)}
        if location:
            h["Location"] = loc
        return h

    def conflict_if_busy(self, key, ver):
        if self.c.busy_conflict:
            for o in self.c.ops.values():
                if o["status"] == "InProgress" and o["busy"] == key:
                    raise ApiError(409, "AnotherOperationInProgress",
                                   "Another operation on this or dependent resource is in progress. To retrieve "
                                   "status of the operation use uri: %s." % self.c.op_urls(o, ver)[0])

    def handle(self, method, kind, p, path, query, headers, body):
        """(status, body-or-None, headers)"""
        c, ver = self.c, query.get("api-version")
        if kind in ("operations", "operationResults"):
            op = c.poll_op(p["name"])
            if op is None:
                raise ApiError(404, "NotFound", "Operation %s not found." % p["name"])
            if kind == "operations":
                out = {"status": op["status"]}
                if op["status"] == "Failed":
                    out["error"] = dict(op["fail"])
                h = {"Retry-After": str(c.retry_after)} if op["status"] == "InProgress" else {}
                return 200, out, h
            if op["status"] == "InProgress":
                return 202, None, {"Location": c.op_urls(op, ver)[1], "Retry-After": str(c.retry_after)}
            if op["status"] == "Failed":
                raise ApiError(500, op["fail"]["code"], op["fail"]["message"])
            return 204, None, {}
        if kind == "virtualMachines":
            vm = c.vms.get(p["name"].lower())
            if vm is None or vm.get("scale_set"):
                raise not_found("Microsoft.Compute/virtualMachines", p["name"], p["rg"])
            return 200, c.vm_json(vm), {}
        if kind in ("vmssVirtualMachines", "vmssNetworkInterfaces"):
            vm = c.vmss_vm(p["parent"], p["name"] if kind == "vmssVirtualMachines" else p["vm"])
            if vm is None:
                raise not_found("Microsoft.Compute/virtualMachineScaleSets/virtualMachines",
                                "%s/%s" % (p["parent"], p.get("vm", p["name"])), p["rg"])
            if kind == "vmssVirtualMachines":
                return 200, c.vmss_vm_json(vm), {}
            nic = c.nics.get(p["name"].lower())
            if nic is None or nic["vm"].lower() != vm["name"].lower():
                raise not_found("Microsoft.Network/networkInterfaces", p["name"], p["rg"])
            return 200, c.nic_json(nic), {}
        if kind == "virtualNetworks":
            if p["name"].lower() != c.vnet["name"].lower():
                raise not_found("Microsoft.Network/virtualNetworks", p["name"], p["rg"])
            return 200, c.vnet_json(), {}
        if kind == "subnets":
            if p["parent"].lower() != c.vnet["name"].lower():
                raise not_found("Microsoft.Network/virtualNetworks", p["parent"], p["rg"])
            s = c.subnets.get(p["name"].lower())
            if s is None:
                raise child_not_found(path)
            return 200, c.subnet_json(s), {}
        if kind == "networkInterfaces":
            nic = c.nics.get(p["name"].lower())
            if nic is None or c.vms[nic["vm"].lower()].get("scale_set"):
                # a uniform scale set's NICs live under the scale set's path only
                raise not_found("Microsoft.Network/networkInterfaces", p["name"], p["rg"])
            if method == "GET":
                return 200, c.nic_json(nic), {}
            return self.put_nic(nic, path, headers, body, ver)
        if kind == "routeTables":
            if p.get("list"):
                items = [c.table_json(t) for t in c.tables.values()]
                return 200, self.page(items, path, query, ver), {}
            t = c.tables.get(p["name"].lower())
            if t is None:
                raise not_found("Microsoft.Network/routeTables", p["name"], p["rg"])
            return 200, c.table_json(t), {}
        if kind == "routes":
            t = c.tables.get(p["parent"].lower())
            if t is None:
                raise not_found("Microsoft.Network/routeTables", p["parent"], p["rg"])
            if p.get("list"):
                return 200, self.page([c.route_json(t, r) for r in t["routes"].values()], path, query, ver), {}
            r = t["routes"].get(p["name"].lower())
            if method == "GET":
                if r is None:
                    raise child_not_found(path)
                return 200, c.route_json(t, r), {}
            if method == "PUT":
                return self.put_route(t, r, p["name"], path, headers, body, ver)
            return self.delete_route(t, r, path, headers, ver)
        raise ApiError(404, "NotFound", "No route for %s." % path)

    @staticmethod
    def json_body(body):
        try:
            return json.loads(body.decode("utf-8") or "null")
        except (UnicodeDecodeError, ValueError) as e:
            raise ApiError(400, "InvalidRequestContent",
                           "The request content was invalid and could not be deserialized: '%s'." % e)

    def put_nic(self, nic, path, headers, body, ver):
        c = self.c
        self.if_match(headers, nic["etag"], path)
        req = self.json_body(body)
        if not isinstance(req, dict):
            raise ApiError(400, "InvalidRequestFormat", "Cannot parse the request.")
        if not req.get("location"):
            raise ApiError(400, "LocationRequired", "The location property is required for this definition.")
        props = req.get("properties")
        if not isinstance(props, dict) or not isinstance(props.get("ipConfigurations"), list) \
                or not props["ipConfigurations"]:
            raise ApiError(400, "NetworkInterfaceMustHaveAtLeastOneIpConfiguration",
                           "Network interface %s must have one or more IP configurations." % path)
        fwd = props.get("enableIPForwarding", False)
        if not isinstance(fwd, bool):
            raise ApiError(400, "InvalidRequestFormat",
                           "Cannot parse the request: enableIPForwarding must be a boolean.")
        key = "nic:" + nic["name"].lower()
        self.conflict_if_busy(key, ver)
        nic["fwd"], nic["state"], nic["etag"] = fwd, "Updating", am.etag()

        def ok():
            nic["state"], nic["fwd_committed"] = "Succeeded", nic["fwd"]

        def fail():
            nic["state"] = "Failed"

        op = c.new_op("PUT networkInterfaces", ok, fail, key)
        return 200, c.nic_json(nic), self.lro_headers(op, ver)

    def put_route(self, t, r, name, path, headers, body, ver):
        c = self.c
        self.if_match(headers, r["etag"] if r else None, path)
        req = self.json_body(body)
        prefix, hop, ip = c.validate_route_body(t, name, req)
        key = "rt:" + t["name"].lower()
        self.conflict_if_busy(key, ver)
        limit = t.get("route_limit") or c.route_limit
        if r is None and len(t["routes"]) >= limit:
            raise ApiError(400, c.route_limit_code,
                           "Route table %s has %d routes. A route table cannot have more than %d routes."
                           % (c.table_id(t), len(t["routes"]), limit))
        created = r is None
        if created:
            r = {"name": name, "committed": None}
            t["routes"][name.lower()] = r
        r.update(prefix=prefix, type=hop, ip=ip, state="Updating", etag=am.etag())
        t["etag"] = am.etag()

        def ok():
            r["state"], r["committed"] = "Succeeded", {"prefix": r["prefix"], "type": r["type"], "ip": r["ip"]}

        def fail():
            r["state"] = "Failed"

        op = c.new_op("PUT routes", ok, fail, key)
        return (201 if created else 200), c.route_json(t, r), self.lro_headers(op, ver)

    def delete_route(self, t, r, path, headers, ver):
        c = self.c
        if r is None:
            if headers.get("If-Match") not in (None, "*"):
                self.if_match(headers, None, path)
            return 204, None, {}
        self.if_match(headers, r["etag"], path)
        key = "rt:" + t["name"].lower()
        self.conflict_if_busy(key, ver)
        r["state"] = "Deleting"

        def ok():
            t["routes"].pop(r["name"].lower(), None)
            t["etag"] = am.etag()

        def fail():
            r["state"] = "Failed"

        op = c.new_op("DELETE routes", ok, fail, key)
        return 202, None, self.lro_headers(op, ver, location=True)


class ArmHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""

    def log_message(self, fmt, *a):
        if self.server.cloud.args.verbose:
            log("arm " + fmt % a)

    def _send(self, status, obj, headers=None, raw=None, ctype=JSON, length=None):
        data = raw if raw is not None else (b"" if obj is None else json.dumps(obj).encode())
        self.send_response(status)
        if data or length:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data) if length is None else length))
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Pragma", "no-cache")
        self.send_header("Expires", "-1")
        rid = str(uuid.uuid4())
        self.send_header("x-ms-request-id", rid)
        self.send_header("x-ms-correlation-request-id", self.headers.get("x-ms-correlation-request-id") or rid)
        self.send_header("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if data:
            self.wfile.write(data)

    def do_GET(self):
        self._serve("GET")

    def do_PUT(self):
        self._serve("PUT")

    def do_DELETE(self):
        self._serve("DELETE")

    def do_PATCH(self):
        self._serve("PATCH")

    def do_POST(self):
        self._serve("POST")

    def _error(self, e, op, mutating, poll):
        self.server.cloud.count(op, e.status, e.code, mutating, poll)
        self._send(e.status, {"error": {"code": e.code, "message": e.message}}, e.headers)

    def _serve(self, method):
        c, arm = self.server.cloud, self.server.arm
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        raw_path, _, raw_query = self.path.partition("?")
        query = dict(urllib.parse.parse_qsl(raw_query, keep_blank_values=True))
        parsed = parse_arm_path(raw_path)
        kind, p = parsed if parsed else ("unknown", {})
        op = "%s %s" % (method, kind)
        poll = kind in ("operations", "operationResults")
        mutating = method in ("PUT", "DELETE", "PATCH", "POST") and not poll
        f = c.take_fault(op, "arm")
        if f:
            return self._fault(f, op, mutating, poll)
        try:
            claims = c.check_token(self.headers.get("Authorization"))
            if parsed is None:
                raise ApiError(404, "InvalidResourceType",
                               "The resource type could not be found for path '%s'." % raw_path)
            arm.check_version(kind, query.get("api-version"))
            if p["sub"].lower() != c.sub.lower():
                raise ApiError(404, "SubscriptionNotFound", "The subscription '%s' could not be found." % p["sub"])
            allowed = {"routes": ("GET", "PUT", "DELETE"), "networkInterfaces": ("GET", "PUT")}.get(kind, ("GET",))
            if method not in allowed or (p.get("list") and method != "GET"):
                raise ApiError(405, "HttpMethodNotAllowed",
                               "The requested resource does not support http method '%s'." % method)
            action = "%s/%s" % (KINDS[kind][1], VERB[method])
            c.authorize(claims, action, raw_path)
            if "rg" in p and p["rg"].lower() != c.rg.lower():
                raise ApiError(404, "ResourceGroupNotFound", "Resource group '%s' could not be found." % p["rg"])
            with c.lock:
                status, out, hdrs = arm.handle(method, kind, p, raw_path, query, self.headers, body)
        except ApiError as e:
            return self._error(e, op, mutating, poll)
        except Exception as e:  # a bug in the fake: answer as ARM would, and say so
            log("BUG handling %s %s: %r" % (method, self.path, e))
            return self._error(ApiError(500, "InternalServerError", "fake_azure bug: %r" % e), op, mutating, poll)
        c.count(op, status, None, mutating, poll)
        if mutating:
            c.rl_writes = max(0, c.rl_writes - 1)
            hdrs["x-ms-ratelimit-remaining-subscription-writes"] = str(c.rl_writes)
        else:
            c.rl_reads = max(0, c.rl_reads - 1)
            hdrs["x-ms-ratelimit-remaining-subscription-reads"] = str(c.rl_reads)
        self._send(status, out, hdrs)

    def _fault(self, f, op, mutating, poll):
        c, kind = self.server.cloud, f["kind"]
        log("fault %s for %s" % (kind, op))
        ra = str(f.get("retry_after") if f.get("retry_after") is not None else 1)
        e = None
        if kind == "throttle":
            e = ApiError(f.get("status") or 429, "SubscriptionRequestsThrottled",
                         "Number of '%s' requests for subscription '%s' actor '%s' exceeded. Please try again after "
                         "'%s' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling "
                         "for additional information." % ("write" if mutating else "read", c.sub,
                                                          str(uuid.uuid4()), ra), {"Retry-After": ra})
        elif kind == "conflict":
            e = ApiError(f.get("status") or 409, "AnotherOperationInProgress",
                         "Another operation on this or dependent resource is in progress. To retrieve status of the "
                         "operation use uri: %s/subscriptions/%s/providers/Microsoft.Network/locations/%s/operations/%s"
                         "?api-version=2024-05-01." % (c.arm_base, c.sub, c.loc, uuid.uuid4()))
        elif kind == "retryable":
            e = ApiError(f.get("status") or 429, "RetryableErrorDueToAnotherOperation",
                         "Operation could not be completed because another operation on the same resource is in "
                         "progress. Retry the request later.", {"Retry-After": ra})
        elif kind in ("500", "502", "503", "504"):
            code = {"500": "InternalServerError", "502": "BadGateway", "503": "ServiceUnavailable",
                    "504": "GatewayTimeout"}[kind]
            e = ApiError(int(kind), code, "The server encountered an internal error. Please retry the request.",
                         {"Retry-After": ra} if kind == "503" else {})
        elif kind == "expired":
            e = ApiError(401, "ExpiredAuthenticationToken",
                         "The access token expiry UTC time '%s' is earlier than current UTC time '%s'."
                         % (time.strftime("%m/%d/%Y %H:%M:%S", time.gmtime(time.time() - 60)),
                            time.strftime("%m/%d/%Y %H:%M:%S", time.gmtime())))
        elif kind == "gone":
            e = ApiError(410, "Gone", "The resource is gone.")
        if e is not None:
            if f.get("code"):
                e.code = f["code"]
            return self._error(e, op, mutating, poll)
        c.count(op, 0, "fault:" + kind, mutating, poll)
        if kind == "hang":
            time.sleep(float(f.get("seconds") or c.hang_seconds))
            self.close_connection = True
            return None
        if kind == "malformed":
            return self._send(200, None, raw=b'{"value": [{"name": "route1", "id": "/subscriptions/')
        if kind == "garbage":
            return self._send(200, None, raw=b"<html><body>502 Bad Gateway</body></html>", ctype="text/html")
        if kind == "truncated":
            full = json.dumps({"value": [], "padding": "x" * 64}).encode()
            self.close_connection = True
            return self._send(200, None, raw=full[:len(full) // 2], length=len(full))
        return None


# ------------------------------------------------------------------------------------------
# IMDS


class ImdsHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = ""
    sys_version = ""

    def log_message(self, fmt, *a):
        if self.server.cloud.args.verbose:
            log("imds " + fmt % a)

    def _send(self, status, obj, ctype=JSON, raw=None):
        data = raw if raw is not None else (obj if isinstance(obj, str) else json.dumps(obj)).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _bad(self, what, status, obj):
        self.server.cloud.count_imds(what, status)
        self._send(status, obj)

    def do_POST(self):
        self._serve("POST")

    def do_PUT(self):
        self._serve("PUT")

    def do_GET(self):
        self._serve("GET")

    def _serve(self, method):
        c = self.server.cloud
        raw_path, _, raw_query = self.path.partition("?")
        query = dict(urllib.parse.parse_qsl(raw_query, keep_blank_values=True))
        path = raw_path.rstrip("/")
        if path == "/metadata/identity/oauth2/token":
            what = "token"
        elif path == "/metadata/versions":
            what = "versions"
        elif path == "/metadata/instance" or path.startswith("/metadata/instance/"):
            what = "instance"
        else:
            return self._bad("unknown", 404, {"error": "Not found"})
        token_style = what == "token"

        def err(msg, code="invalid_request"):
            return {"error": code, "error_description": msg} if token_style else {"error": "Bad request. " + msg}

        f = c.take_fault("GET " + what, "imds")
        if f:
            kind = f["kind"]
            log("imds fault %s for %s" % (kind, what))
            c.count_imds(what, 0)
            if kind == "hang":
                time.sleep(float(f.get("seconds") or c.hang_seconds))
                self.close_connection = True
                return None
            if kind == "malformed":
                return self._send(200, None, raw=b'{"access_token":"eyJ0eXAiOiJKV1Qi' if token_style
                                  else b'{"compute":{"location":"')
            if kind == "throttle":
                return self._send(429, {"error": "Too many requests"})
            if kind == "gone":
                return self._send(410, {"error": "Gone"})
            status = int(kind) if kind.isdigit() else 500
            return self._send(status, err("Internal error.", "server_error") if token_style
                              else {"error": "Internal server error"})
        if method != "GET":
            return self._bad(what, 405, {"error": "Method not allowed"})
        if "X-Forwarded-For" in self.headers:
            return self._bad(what, 400, err("Request contains X-Forwarded-For header, which is not allowed."))
        if self.headers.get("Metadata") != "true":
            return self._bad(what, 400, {"error": "bad_request_102", "error_description": "Required metadata header not specified"}
                             if token_style else {"error": "Bad request. Required metadata header not specified"})
        if what == "versions":
            c.count_imds(what, 200)
            return self._send(200, {"apiVersions": list(IMDS_VERSIONS)})
        ver = query.get("api-version")
        known = TOKEN_VERSIONS if token_style else IMDS_VERSIONS
        if ver is None or ver not in known:
            msg = ("api-version was not specified in the request. For more information refer to aka.ms/azureimds"
                   if ver is None else
                   "api-version '%s' is invalid. For more information refer to aka.ms/azureimds" % ver)
            body = err(msg)
            body["newest-versions"] = list(reversed(known))[:3]
            return self._bad(what, 400, body)
        vm = self.vm_for(self.client_address[0])
        if token_style:
            return self.token(vm, query)
        doc = self.instance_doc(vm)
        leaf = [x for x in path[len("/metadata/instance"):].split("/") if x]
        node = doc
        try:
            for part in leaf:
                node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, ValueError):
            return self._bad(what, 404, {"error": "Not found"})
        fmt = query.get("format", "json")
        if isinstance(node, str):
            if fmt != "text":
                return self._bad(what, 400, {"error": "Bad request. Query parameter format=text is required for leaf nodes."})
            c.count_imds(what, 200)
            return self._send(200, None, ctype="text/plain; charset=utf-8", raw=node.encode())
        if fmt != "json":
            return self._bad(what, 400, {"error": "Bad request. Query parameter format=text is only allowed for leaf nodes."})
        c.count_imds(what, 200)
        return self._send(200, node)

    def vm_for(self, ip):
        c = self.server.cloud
        for n in c.nics.values():
            if n["ip"] == ip:
                return c.vms[n["vm"].lower()]
        return c.vms[c.topo["default_vm"].lower()]

    def instance_doc(self, vm):
        c = self.server.cloud
        nic = c.nics[vm["nic"]["name"].lower()]
        sub = c.subnets[nic["subnet"].lower()]
        net = ipaddress.ip_network(sub["prefix"])
        return {
            "compute": {
                "azEnvironment": "AzurePublicCloud", "isHostCompatibilityLayerVm": "false",
                "licenseType": "", "location": c.loc, "name": vm["name"], "offer": "debian-12",
                "osProfile": {"adminUsername": "azureuser", "computerName": vm["name"],
                              "disablePasswordAuthentication": "true"},
                "osType": "Linux", "placementGroupId": "", "platformFaultDomain": "0",
                "platformUpdateDomain": "0", "priority": "", "provider": "Microsoft.Compute",
                "publisher": "Debian", "resourceGroupName": c.rg, "resourceId": c.vm_id(vm),
                "sku": "12-gen2", "subscriptionId": c.sub, "tags": "", "tagsList": [],
                "userData": "", "version": "0.20240901.1", "vmId": vm["vm_id"],
                "vmScaleSetName": vm.get("scale_set", ""), "vmSize": vm.get("size", "Standard_B2s"),
                "zone": vm.get("zone", "")},
            "network": {"interface": [{
                "ipv4": {"ipAddress": [{"privateIpAddress": nic["ip"], "publicIpAddress": ""}],
                         "subnet": [{"address": str(net.network_address), "prefix": str(net.prefixlen)}]},
                "ipv6": {"ipAddress": []},
                "macAddress": am.mac_imds(nic["mac"])}]},
        }

    def token(self, vm, query):
        c = self.server.cloud

        def bad(status, code, msg):
            return self._bad("token", status, {"error": code, "error_description": msg})

        resource = query.get("resource")
        if not resource:
            return bad(400, "invalid_request", "Required audience parameter not specified")
        sel = [(k, query[k]) for k in ("client_id", "object_id", "mi_res_id", "msi_res_id") if query.get(k)]
        if len(sel) > 1:
            return bad(400, "invalid_request", "Only one of client_id, object_id or mi_res_id may be specified")
        cands = []
        if vm.get("system_identity"):
            si = vm["system_identity"]
            cands.append({"client_id": si["client_id"], "principal_id": si["principal_id"], "id": c.vm_id(vm),
                          "system": True})
        for n in vm.get("user_identities", []):
            i = c.identities[n.lower()]
            cands.append({"client_id": i["client_id"], "principal_id": i["principal_id"], "id": c.identity_id(i),
                          "system": False})
        if sel:
            k, v = sel[0]
            field = {"client_id": "client_id", "object_id": "principal_id"}.get(k, "id")
            match = [x for x in cands if x[field].lower() == v.lower()]
            if not match:
                return bad(400, "invalid_request", "Identity not found")
            ident = match[0]
        else:
            sys_ids = [x for x in cands if x["system"]]
            if sys_ids:
                ident = sys_ids[0]
            elif len(cands) == 1:
                ident = cands[0]
            elif not cands:
                return bad(400, "invalid_request", "Identity not found")
            else:
                return bad(400, "invalid_request", "Multiple user assigned identities exist, please specify the "
                           "clientId / resourceId of the identity in the token request")
        if resource not in am.KNOWN_RESOURCES:
            return bad(400, "invalid_resource",
                       "AADSTS500011: The resource principal named %s was not found in the tenant named %s. This "
                       "can happen if the application has not been installed by the administrator of the tenant or "
                       "consented to by any user in the tenant. You might have sent your authentication request to "
                       "the wrong tenant." % (resource, c.tenant))
        tok, claims = c.issue_token(vm, ident, resource)
        now = int(time.time())
        exp = c.tokens.get(claims["uti"], {}).get("exp", claims["exp"])
        c.count_imds("token", 200)
        return self._send(200, {"access_token": tok, "client_id": ident["client_id"], "expires_in": str(max(0, exp - now)),
                                "expires_on": str(exp), "ext_expires_in": str(max(0, exp - now)),
                                "not_before": str(claims["nbf"]), "refresh_token": "", "resource": resource,
                                "token_type": "Bearer"})


# ------------------------------------------------------------------------------------------
# Control API


class ControlHandler(fakectl.ControlHandler):
    MODEL = "cloud"
    LOG = staticmethod(log)
    CONFIG = ("token_lifetime", "lro_polls", "lro_max_seconds", "retry_after", "busy_conflict", "page_size",
              "route_limit", "route_limit_code", "hang_seconds")

    def dispatch(self, c, p, req):
        if p == "/fault":
            if req["kind"] not in FAULT_KINDS:
                raise ValueError("unknown fault kind " + req["kind"])
            f = {k: req.get(k) for k in ("kind", "op", "seconds", "status", "retry_after", "code", "message")}
            f["count"] = int(req.get("count", 1))
            f["target"] = req.get("target", "arm")
            if f["target"] not in ("arm", "imds"):
                raise ValueError("target is arm or imds")
            c.faults.append(f)
            return {"faults": c.faults}
        if p == "/deny":
            c.denied[req["action"].lower()] = req.get("scope", "")
            return {"denied": c.denied}
        if p == "/allow":
            c.denied.pop(req["action"].lower(), None)
            return {"denied": c.denied}
        if p == "/counters/reset":
            c.reset_counters()
            return {"ok": True}
        if p == "/reset":
            c.faults, c.denied, c.clock_offset = [], {}, 0.0
            c.reset_counters()
            return {"ok": True}
        if p == "/clock":
            c.clock_offset = float(req["offset"])
            return {"clock_offset": c.clock_offset}
        if p == "/config":
            for k in self.CONFIG:
                if k in req:
                    setattr(c, k, type(getattr(c, k))(req[k]))
            return {k: getattr(c, k) for k in self.CONFIG}
        if p == "/token/expire":
            c.expire_tokens()
            return {"ok": True}
        if p == "/route":      # seed routes past the API's checks (foreign routes, drift, a full table)
            t = c.tables[req["route_table"].lower()]
            for r in req.get("routes") or [req]:
                c._seed_route(t, r)
            c.write_effective()
            return {"routes": len(t["routes"]), "etag": t["etag"]}
        if p == "/route/delete":
            t = c.tables[req["route_table"].lower()]
            del t["routes"][req["name"].lower()]
            t["etag"] = am.etag()
            c.write_effective()
            return {"routes": len(t["routes"])}
        if p == "/nic/ip-forwarding":
            nic = c.nics[req["nic"].lower()]
            nic["fwd"] = nic["fwd_committed"] = bool(req["enabled"])
            nic["etag"] = am.etag()
            c.write_effective()
            return {"ok": True, "etag": nic["etag"]}
        if p == "/nic/touch":   # someone else updated the NIC: new etag
            nic = c.nics[req["nic"].lower()]
            nic["etag"] = am.etag()
            return {"etag": nic["etag"]}
        if p == "/associate":
            c.subnets[req["subnet"].lower()]["route_table"] = req.get("route_table")
            c.write_effective()
            return {"ok": True}
        if p == "/operations/finish":   # complete every running LRO now (as Azure would, unpolled)
            for op in list(c.ops.values()):
                c.finish_op(op)
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


def make_cert(state_dir, host, sans):
    """A throw-away CA and a leaf for the ARM endpoint, made with the openssl CLI."""
    ca_key, ca = os.path.join(state_dir, "ca.key"), os.path.join(state_dir, "ca.pem")
    key, csr, crt = (os.path.join(state_dir, n) for n in ("arm.key", "arm.csr", "arm.pem"))
    ext = os.path.join(state_dir, "arm.ext")
    names = ["DNS:" + host, "DNS:management.azure.com", "DNS:localhost", "IP:127.0.0.1"]
    for s in sans:
        try:
            ipaddress.ip_address(s)
            names.append("IP:" + s)
        except ValueError:
            names.append("DNS:" + s)
    names = list(dict.fromkeys(names))
    with open(ext, "w") as f:
        f.write("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\nsubjectAltName=%s\n" % ",".join(names))
    run = lambda *a: subprocess.run(a, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: E731
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", ca_key, "-out", ca, "-days", "3", "-subj", "/CN=fake-azure test CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", key, "-out", csr, "-subj", "/CN=" + host)
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
        "-out", crt, "-days", "3", "-extfile", ext)
    os.chmod(ca_key, 0o600)
    os.chmod(key, 0o600)
    return ca, crt, key


def load_topology(path):
    topo = copy.deepcopy(am.DEFAULT_TOPOLOGY)
    if path:
        with open(path) as f:
            topo.update(json.load(f))
    return topo


def main(argv=None):
    ap = argparse.ArgumentParser(description="fake Azure (IMDS + managed identity + ARM) for meshgate tests")
    ap.add_argument("--state-dir", required=True, help="writes ca.pem, ready.json, vnet-routes.json here")
    ap.add_argument("--topology", help="JSON file overriding top-level keys of the default topology")
    ap.add_argument("--imds-listen", default="169.254.169.254:80", help="ADDR:PORT, or 'off'")
    ap.add_argument("--arm-listen", default="0.0.0.0:443", help="ADDR:PORT of the HTTPS ARM endpoint")
    ap.add_argument("--arm-host", default="management.azure.com", help="name in the certificate and in URLs")
    ap.add_argument("--arm-san", action="append", default=[], help="extra name or IP in the ARM certificate")
    ap.add_argument("--control-listen", default="127.0.0.1:8799")
    ap.add_argument("--token-lifetime", type=float, default=86399.0, help="seconds a token stays valid")
    ap.add_argument("--lro-polls", type=int, default=2, help="polls answered InProgress before Succeeded")
    ap.add_argument("--lro-max-seconds", type=float, default=30.0,
                    help="an unpolled LRO completes by itself after this long (0: only by polls)")
    ap.add_argument("--retry-after", type=int, default=10, help="Retry-After seconds on LRO answers")
    ap.add_argument("--busy-conflict", action="store_true",
                    help="a write to a route table or NIC with a running LRO answers 409 AnotherOperationInProgress")
    ap.add_argument("--page-size", type=int, default=0, help="page route and route-table lists (0: one page)")
    ap.add_argument("--route-limit", type=int, default=400, help="routes per route table")
    ap.add_argument("--route-limit-code", default="RouteTableCannotHaveMoreThan400Routes")
    ap.add_argument("--hang-seconds", type=float, default=60.0)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    os.makedirs(args.state_dir, exist_ok=True)
    arm_addr = split_addr(args.arm_listen, 443)
    args.arm_base = "https://%s%s" % (args.arm_host, "" if arm_addr[1] == 443 else ":%d" % arm_addr[1])
    cloud = am.Cloud(load_topology(args.topology), args)

    servers = []
    imds_addr = None
    if args.imds_listen != "off":
        imds_addr = split_addr(args.imds_listen, 80)
        s = Server(imds_addr, ImdsHandler)
        s.cloud = cloud
        servers.append(s)
    ca, crt, key = make_cert(args.state_dir, args.arm_host, args.arm_san)
    arm = Server(arm_addr, ArmHandler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    arm.socket = ctx.wrap_socket(arm.socket, server_side=True, do_handshake_on_connect=False)
    arm.cloud, arm.arm = cloud, Arm(cloud)
    servers.append(arm)
    ctl_addr = split_addr(args.control_listen, 8799)
    cs = Server(ctl_addr, ControlHandler)
    cs.cloud = cloud
    servers.append(cs)
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()

    ready = {"pid": os.getpid(), "ca": ca, "state_dir": args.state_dir,
             "imds": "http://%s:%d" % imds_addr if imds_addr else None,
             "arm": "https://%s:%d" % arm_addr, "arm_host": args.arm_host, "arm_base": args.arm_base,
             "control": "http://%s:%d" % ctl_addr, "subscription": cloud.sub, "resource_group": cloud.rg,
             "location": cloud.loc, "routes": os.path.join(args.state_dir, "vnet-routes.json")}
    with open(os.path.join(args.state_dir, "ready.json.tmp"), "w") as f:
        json.dump(ready, f, indent=1)
    os.replace(os.path.join(args.state_dir, "ready.json.tmp"), os.path.join(args.state_dir, "ready.json"))
    print(json.dumps(ready), flush=True)
    log("ready; CA file %s" % ca)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    while not stop.wait(0.2):
        cloud.tick()
    for s in servers:
        s.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
