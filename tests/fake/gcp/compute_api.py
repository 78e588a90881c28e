"""compute_api: the fake Compute Engine API v1 (JSON over HTTPS) for routes, global operations,
instances.get and networks.get. Bearer tokens are the ones the fake metadata server issued.
"""

import http.server
import ipaddress
import json
import re
import secrets
import time
import urllib.parse
import uuid

import list_filter
from gcp_state import (MUTATING, SCOPE_COMPUTE, SCOPE_COMPUTE_RO, SCOPE_PLATFORM, SCOPE_PLATFORM_RO,
                       ApiError, log, numeric_id, ordered_route, rfc3339)

NAME_RE = re.compile(r"[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?")
NAME_RE_TEXT = "(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)"
URL_PREFIX = r"(?:https://(?:www|compute)\.googleapis\.com/compute/v1/)?"
ROUTE_FIELDS = {"name", "description", "network", "tags", "destRange", "priority", "nextHopInstance",
                "nextHopIp", "nextHopGateway", "nextHopIlb", "nextHopVpnTunnel", "nextHopHub",
                "kind", "id", "creationTimestamp", "selfLink", "nextHopNetwork", "nextHopPeering",
                "warnings", "routeType", "routeStatus", "asPaths", "selfLinkWithId", "nextHopOrigin",
                "nextHopMed", "nextHopInterRegionCost", "params", "ilbRouteBehaviorOnUnhealthy"}
OUTPUT_ONLY = ("kind", "id", "creationTimestamp", "selfLink", "nextHopNetwork", "nextHopPeering", "warnings",
               "routeType", "routeStatus", "asPaths", "selfLinkWithId", "nextHopOrigin", "nextHopMed",
               "nextHopInterRegionCost")
WRITE_SCOPES = {SCOPE_COMPUTE, SCOPE_PLATFORM}
READ_SCOPES = WRITE_SCOPES | {SCOPE_COMPUTE_RO, SCOPE_PLATFORM_RO}
# the IAM permissions each method needs (the deny switches of the control API)
PERMISSIONS = {
    "routes.insert": ("compute.routes.create", "compute.networks.updatePolicy"),
    "routes.delete": ("compute.routes.delete", "compute.networks.updatePolicy"),
    "routes.list": ("compute.routes.list",),
    "routes.get": ("compute.routes.get",),
    "operations.get": ("compute.globalOperations.get",),
    "operations.wait": ("compute.globalOperations.get",),
    "instances.get": ("compute.instances.get",),
    "networks.get": ("compute.networks.get",),
}
RPC = {"routes.insert": "RoutesService.Insert", "routes.delete": "RoutesService.Delete",
       "routes.list": "RoutesService.List", "routes.get": "RoutesService.Get",
       "operations.get": "GlobalOperationsService.Get", "operations.wait": "GlobalOperationsService.Wait",
       "instances.get": "InstancesService.Get", "networks.get": "NetworksService.Get"}
HTTP_MESSAGES = {400: "BAD REQUEST", 403: "FORBIDDEN", 404: "NOT FOUND", 409: "CONFLICT",
                 429: "TOO MANY REQUESTS", 500: "INTERNAL SERVER ERROR", 503: "SERVICE UNAVAILABLE"}
AUTH_HINT = ("Expected OAuth 2 access token, login cookie or other valid authentication credential. "
             "See https://developers.google.com/identity/sign-in/web/devconsole-project.")


def invalid(field, value, why):
    return ApiError(400, "Invalid value for field '%s': '%s'. %s" % (field, value, why), "invalid")


def required(field):
    return ApiError(400, "Required field '%s' not specified" % field, "required")


def not_found(rel):
    return ApiError(404, "The resource '%s' was not found" % rel, "notFound")


def error_info(reason, method, domain="googleapis.com", **meta):
    md = {"service": "compute.googleapis.com", "method": "compute.v1." + RPC.get(method, "Unknown")}
    md.update(meta)
    return [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "domain": domain,
             "metadata": md}]


def auth_error(method, reason_info, missing=False):
    if missing:
        msg = "Request is missing required authentication credential. " + AUTH_HINT
        item = {"item_message": "Login Required.", "location": "Authorization", "locationType": "header"}
        return ApiError(401, msg, "required", status="UNAUTHENTICATED", extra=item,
                        details=error_info("CREDENTIALS_MISSING", method),
                        headers=[("WWW-Authenticate", 'Bearer realm="https://accounts.google.com/"')])
    msg = "Request had invalid authentication credentials. " + AUTH_HINT
    item = {"item_message": "Invalid Credentials", "location": "Authorization", "locationType": "header"}
    return ApiError(401, msg, "authError", status="UNAUTHENTICATED", extra=item,
                    details=error_info(reason_info, method),
                    headers=[("WWW-Authenticate", 'Bearer realm="https://accounts.google.com/", error="invalid_token"')])


def fault_error(kind, method, project_number):
    if kind == "429":
        msg = ("Quota exceeded for quota metric 'Queries' and limit 'Queries per minute' of service "
               "'compute.googleapis.com' for consumer 'project_number:%s'." % project_number)
        return ApiError(429, msg, "rateLimitExceeded", domain="usageLimits", status="RESOURCE_EXHAUSTED",
                        details=error_info("RATE_LIMIT_EXCEEDED", method, consumer="projects/" + project_number,
                                           quota_metric="compute.googleapis.com/default_requests",
                                           quota_limit="defaultPerMinutePerProject"))
    if kind in ("rate", "rateLimitExceeded"):
        return ApiError(403, "Rate Limit Exceeded", "rateLimitExceeded", domain="usageLimits",
                        details=error_info("CONCURRENT_OPERATIONS_QUOTA_EXCEEDED", method,
                                           domain="compute.googleapis.com"))
    if kind in ("user_rate", "userRateLimitExceeded"):
        return ApiError(403, "User Rate Limit Exceeded", "userRateLimitExceeded", domain="usageLimits")
    if kind in ("500", "internal"):
        return ApiError(500, "Internal error. Please try again or contact Google Support. (Code: '%s')"
                        % secrets.token_hex(8), "backendError")
    if kind in ("503", "unavailable"):
        return ApiError(503, "The service is currently unavailable.", "backendError", status="UNAVAILABLE")
    if kind == "expired_token":
        return auth_error(method, "ACCESS_TOKEN_EXPIRED")
    return None


class Compute:
    """The API's semantics; every method runs with the project lock held."""

    def __init__(self, p):
        self.p = p

    # --- helpers ---------------------------------------------------------------------------
    def _project(self, proj):
        if proj not in (self.p.project, self.p.number):
            raise not_found("projects/" + proj)

    def _rel(self, url):
        return url.split("/compute/v1/", 1)[-1]

    def _network(self, ref):
        if not isinstance(ref, str) or not ref:
            raise required("resource.network")
        m = re.fullmatch(URL_PREFIX + r"(?:projects/([^/]+)/)?global/networks/([^/]+)", ref)
        if not m:
            raise invalid("resource.network", ref, "The URL is malformed.")
        proj = m.group(1) or self.p.project
        if proj not in (self.p.project, self.p.number) or m.group(2) != self.p.net["name"]:
            raise not_found("projects/%s/global/networks/%s" % (proj, m.group(2)))
        return self.p.net_url

    def _instance_ref(self, ref):
        m = re.fullmatch(URL_PREFIX + r"(?:projects/([^/]+)/)?zones/([^/]+)/instances/([^/]+)", ref or "")
        if not m:
            raise invalid("resource.nextHopInstance", ref, "The URL is malformed.")
        proj, zone, name = m.group(1) or self.p.project, m.group(2), m.group(3)
        inst = self.p.instances.get(name)
        if proj not in (self.p.project, self.p.number) or inst is None or inst["zone"] != zone:
            raise not_found("projects/%s/zones/%s/instances/%s" % (proj, zone, name))
        return self.p.url("zones/%s/instances/%s" % (zone, name))

    def tick(self):
        """Operations older than op_autocomplete_seconds finish without being polled."""
        lim = self.p.op_autocomplete_seconds
        if lim and lim > 0:
            now = time.time()
            for op in self.p.ops.values():
                if op["status"] != "DONE" and now - op["t0"] >= lim:
                    self._finish(op)
        window = self.p.request_id_window
        for k in [k for k, (t, _) in self.p.request_ids.items() if time.time() - t > window]:
            del self.p.request_ids[k]

    def _check_request_id(self, query):
        rid = query.get("requestId")
        if rid is None:
            return None, None
        try:
            u = uuid.UUID(rid)
        except ValueError:
            u = None
        if u is None or u.int == 0 or len(rid) not in (32, 36):
            raise invalid("requestId", rid, "The request id must be a valid UUID with the exception that "
                          "zero UUID is not supported (00000000-0000-0000-0000-000000000000).")
        key = str(u)
        seen = self.p.request_ids.get(key)
        if seen and seen[1] in self.p.ops:
            return key, self.p.ops[seen[1]]
        return key, None

    # --- operations ------------------------------------------------------------------------
    def _new_op(self, kind, target_url, target_id, user, apply, fault=None):
        now = time.time()
        ms = int(now * 1000)
        name = "operation-%d-%s-%s-%s" % (ms, secrets.token_hex(7)[:13], secrets.token_hex(4), secrets.token_hex(4))
        op = {"name": name, "id": numeric_id(name), "type": kind, "target": target_url,
              "target_id": target_id, "user": user, "t0": now, "insert": rfc3339(now), "start": None,
              "end": None, "status": self.p.op_start_status, "remaining": self.p.op_running_polls,
              "apply": apply, "error": None}
        if fault:
            op["error"] = {"errors": [{"code": fault.get("code") or "INTERNAL_ERROR",
                                       "message": fault.get("message") or "Internal error. Please try again "
                                       "or contact Google Support. (Code: '%s')" % secrets.token_hex(8)}]}
            op["http_status"] = int(fault.get("http_status") or 500)
        if op["status"] == "RUNNING":
            op["start"] = op["insert"]
        self.p.ops[name] = op
        if op["remaining"] <= 0:
            self._finish(op)
        return op

    def _finish(self, op):
        if op["status"] == "DONE":
            return
        now = time.time()
        op["start"] = op["start"] or rfc3339(now)
        op["end"], op["status"] = rfc3339(now), "DONE"
        if op["error"] is None:
            op["apply"]()
            self.p.write_effective()
        else:
            log("operation %s (%s %s) DONE with error %s" % (op["name"], op["type"], self._rel(op["target"]),
                                                          op["error"]["errors"][0]["code"]))

    def _poll(self, op):
        if op["status"] == "DONE":
            return
        if op["remaining"] > 0:
            op["remaining"] -= 1
            if op["status"] == "PENDING":
                op["status"], op["start"] = "RUNNING", rfc3339(time.time())
            return
        self._finish(op)

    def op_json(self, op):
        out = {"kind": "compute#operation", "id": op["id"], "name": op["name"], "operationType": op["type"],
               "targetLink": op["target"], "targetId": op["target_id"], "status": op["status"],
               "user": op["user"], "progress": 100 if op["status"] == "DONE" else 0,
               "insertTime": op["insert"]}
        if op["start"]:
            out["startTime"] = op["start"]
        if op["status"] == "DONE":
            out["endTime"] = op["end"]
            if op["error"]:
                out["error"] = op["error"]
                out["httpErrorStatusCode"] = op["http_status"]
                out["httpErrorMessage"] = HTTP_MESSAGES.get(op["http_status"], "ERROR")
        out["selfLink"] = self.p.url("global/operations/" + op["name"])
        return out

    # --- routes ----------------------------------------------------------------------------
    def _validate_route(self, body):
        if not isinstance(body, dict):
            raise ApiError(400, "Invalid JSON payload received. Expected an object.", "invalid",
                           status="INVALID_ARGUMENT")
        for k in body:
            if k not in ROUTE_FIELDS:
                raise ApiError(400, "Invalid JSON payload received. Unknown name \"%s\": Cannot find field." % k,
                               "invalid", status="INVALID_ARGUMENT")
        if not self.p.accept_output_only:
            for k in OUTPUT_ONLY:
                if k in body:
                    raise invalid("resource." + k, body[k] if not isinstance(body[k], (dict, list)) else
                                  json.dumps(body[k]), "Output-only field cannot be set.")
        name = body.get("name")
        if not name:
            raise required("resource.name")
        if not isinstance(name, str) or not NAME_RE.fullmatch(name):
            raise invalid("resource.name", name, "Must be a match of regex '%s'" % NAME_RE_TEXT)
        network = self._network(body.get("network"))
        dst = body.get("destRange")
        if not dst:
            raise required("resource.destRange")
        try:
            net = ipaddress.ip_network(dst, strict=True)
            if "/" not in dst:
                raise ValueError
        except (ValueError, TypeError):
            raise invalid("resource.destRange", dst, "Must be a valid CIDR range with no host bits set.")
        for s in self.p.subnets:
            sn = ipaddress.ip_network(s["cidr"])
            if net.version == sn.version and net.subnet_of(sn):
                raise invalid("resource.destRange", dst, "Cannot be equal to or more specific than the subnetwork "
                              "range %s of 'projects/%s/regions/%s/subnetworks/%s'."
                              % (s["cidr"], self.p.project, s["region"], s["name"]))
        prio = body.get("priority", 1000)
        if isinstance(prio, str) and prio.isdigit():
            prio = int(prio)
        if isinstance(prio, bool) or not isinstance(prio, int):
            raise invalid("resource.priority", prio, "Must be an integer.")
        if prio < 0 or prio > 65535:
            raise invalid("resource.priority", prio, "Must be between 0 and 65535 (inclusive).")
        hops = [k for k in ("nextHopInstance", "nextHopIp", "nextHopGateway", "nextHopIlb", "nextHopVpnTunnel",
                            "nextHopHub") if body.get(k)]
        if len(hops) != 1:
            raise ApiError(400, "Invalid value for field 'resource': '%s'. Exactly one of nextHopInstance, "
                           "nextHopIp, nextHopGateway, nextHopIlb, nextHopVpnTunnel or nextHopHub must be "
                           "specified." % name, "invalid")
        route = {"kind": "compute#route", "name": name, "network": network, "destRange": str(net),
                 "priority": prio, "routeType": "STATIC", "selfLink": self.p.url("global/routes/" + name)}
        hop = hops[0]
        if hop == "nextHopInstance":
            route["nextHopInstance"] = self._instance_ref(body[hop])
        elif hop == "nextHopIp":
            ip = body[hop]
            try:
                a = ipaddress.ip_address(ip)
            except ValueError:
                raise invalid("resource.nextHopIp", ip, "Must be a valid IP address.")
            if self.p.subnet_of(str(a)) is None:
                raise invalid("resource.nextHopIp", ip, "The next hop IP must be within a subnetwork of "
                              "network '%s'." % self._rel(network))
            route["nextHopIp"] = str(a)
        elif hop == "nextHopGateway":
            m = re.fullmatch(URL_PREFIX + r"(?:projects/[^/]+/)?global/gateways/default-internet-gateway", body[hop])
            if not m:
                raise not_found("projects/%s/global/gateways/%s" % (self.p.project, body[hop].rsplit("/", 1)[-1]))
            route["nextHopGateway"] = self.p.url("global/gateways/default-internet-gateway")
        else:
            raise invalid("resource." + hop, body[hop], "The fake does not model this next hop type.")
        tags = body.get("tags", [])
        if not isinstance(tags, list) or any(not isinstance(t, str) or not NAME_RE.fullmatch(t) for t in tags):
            raise invalid("resource.tags", json.dumps(tags), "Must be a list of names matching '%s'" % NAME_RE_TEXT)
        if tags:
            route["tags"] = list(tags)
        desc = body.get("description")
        if desc is not None:
            if not isinstance(desc, str) or len(desc) > 2048:
                raise invalid("resource.description", desc, "Must be a string of at most 2048 characters.")
            route["description"] = desc
        return route

    def _busy(self, name):
        return any(o["status"] != "DONE" and o["target"].endswith("/global/routes/" + name)
                   for o in self.p.ops.values())

    def routes_insert(self, proj, query, body, user, fault):
        self._project(proj)
        key, again = self._check_request_id(query)
        if again:
            return again
        route = self._validate_route(body)
        name = route["name"]
        if name in self.p.routes or any(o["status"] != "DONE" and o["type"] == "insert" and o["error"] is None
                                        and o["target"] == route["selfLink"] for o in self.p.ops.values()):
            raise ApiError(409, "The resource 'projects/%s/global/routes/%s' already exists" % (self.p.project, name),
                           "alreadyExists")
        pending = sum(1 for o in self.p.ops.values() if o["status"] != "DONE" and o["type"] == "insert"
                      and o["error"] is None)
        quota_hit = self.p.custom_route_count() + pending >= self.p.route_quota
        msg = "Quota 'ROUTES' exceeded.  Limit: %.1f globally." % self.p.route_quota
        if quota_hit and self.p.quota_mode != "operation":
            raise ApiError(403, msg, "quotaExceeded", domain="usageLimits",
                           details=error_info("QUOTA_EXCEEDED", "routes.insert", domain="compute.googleapis.com",
                                              quota_metric="compute.googleapis.com/routes",
                                              quota_limit="ROUTES-per-project", limit=str(self.p.route_quota)))
        if quota_hit:
            fault = {"code": "QUOTA_EXCEEDED", "message": msg, "http_status": 403}
        route["id"] = numeric_id("route/%s/%f" % (name, time.time()))
        route["creationTimestamp"] = rfc3339(time.time())
        ordered = ordered_route(route)

        def apply():
            self.p.routes[name] = ordered
        op = self._new_op("insert", route["selfLink"], route["id"], user, apply, fault)
        if key:
            self.p.request_ids[key] = (time.time(), op["name"])
        return op

    def routes_delete(self, proj, name, query, user, fault):
        self._project(proj)
        key, again = self._check_request_id(query)
        if again:
            return again
        r = self.p.routes.get(name)
        if r is None:
            raise not_found("projects/%s/global/routes/%s" % (self.p.project, name))
        if r.get("routeType") == "SUBNET":
            raise ApiError(400, "Invalid resource usage: 'Subnetwork routes cannot be deleted.'.",
                           "invalidResourceUsage")
        if self._busy(name):
            raise ApiError(400, "The resource 'projects/%s/global/routes/%s' is not ready" % (self.p.project, name),
                           "resourceNotReady")

        def apply():
            self.p.routes.pop(name, None)
        op = self._new_op("delete", r["selfLink"], r["id"], user, apply, fault)
        if key:
            self.p.request_ids[key] = (time.time(), op["name"])
        return op

    def routes_get(self, proj, name):
        self._project(proj)
        r = self.p.routes.get(name)
        if r is None:
            raise not_found("projects/%s/global/routes/%s" % (self.p.project, name))
        return r

    FILTER_FIELDS = {k: (lambda k: lambda r: r.get(k))(k) for k in (
        "name", "description", "network", "destRange", "nextHopInstance", "nextHopIp", "nextHopNetwork",
        "nextHopGateway", "routeType", "id", "creationTimestamp", "kind", "selfLink")}
    FILTER_FIELDS["priority"] = lambda r: r.get("priority")
    FILTER_FIELDS["tags"] = lambda r: r.get("tags", [])

    def routes_list(self, proj, query):
        self._project(proj)
        flt = query.get("filter")
        try:
            pred = list_filter.parse(flt, self.FILTER_FIELDS)
        except list_filter.FilterError as e:
            raise invalid("filter", flt, "Invalid list filter expression: %s." % e)
        mr = query.get("maxResults", "500")
        if not re.fullmatch(r"-?[0-9]+", mr):
            raise invalid("maxResults", mr, "Must be an integer.")
        if int(mr) < 0:
            raise invalid("maxResults", mr, "Must be greater than or equal to 0.")
        if int(mr) > 500:
            raise invalid("maxResults", mr, "Must be less than or equal to 500.")
        page = int(mr) or 500
        if query.get("orderBy") not in (None, "", "name", "creationTimestamp desc"):
            raise invalid("orderBy", query["orderBy"], "Sorting by the requested field is not supported.")
        sel = [r for r in sorted(self.p.routes.values(), key=lambda x: x["name"]) if pred(r)]
        if query.get("orderBy") == "creationTimestamp desc":
            sel.sort(key=lambda x: x["creationTimestamp"], reverse=True)
        start = 0
        tok = query.get("pageToken")
        qkey = "%s|%s" % (flt or "", query.get("orderBy") or "")
        if tok:
            try:
                d = json.loads(urllib.parse.unquote(bytes.fromhex(tok).decode()))
                start, k = int(d["o"]), d["k"]
            except (ValueError, KeyError, TypeError, UnicodeDecodeError):
                raise invalid("pageToken", tok, "Invalid page token.")
            if k != qkey:
                raise invalid("pageToken", tok, "The page token does not match the filter of this request.")
        out = {"kind": "compute#routeList", "id": "projects/%s/global/routes" % self.p.project}
        chunk = sel[start:start + page]
        if chunk:
            out["items"] = chunk
        if start + page < len(sel):
            out["nextPageToken"] = json.dumps({"o": start + page, "k": qkey}).encode().hex()
        out["selfLink"] = self.p.url("global/routes")
        return out

    # --- instances, networks ---------------------------------------------------------------
    def instances_get(self, proj, zone, name):
        self._project(proj)
        inst = self.p.instances.get(name)
        if inst is None or inst["zone"] != zone:
            raise not_found("projects/%s/zones/%s/instances/%s" % (self.p.project, zone, name))
        sub = next(s for s in self.p.subnets if s["name"] == inst["subnet"])
        tags = {"fingerprint": "fp" + numeric_id("tags/" + ",".join(inst["tags"]))[:10] + "="}
        if inst["tags"]:
            tags = {"items": list(inst["tags"]), "fingerprint": tags["fingerprint"]}
        zurl = self.p.url("zones/" + inst["zone"])
        return {
            "kind": "compute#instance", "id": inst["id"], "creationTimestamp": rfc3339(time.time() - 86400),
            "name": inst["name"], "tags": tags, "machineType": zurl + "/machineTypes/e2-small",
            "status": inst["status"], "zone": zurl, "canIpForward": inst["can_ip_forward"],
            "networkInterfaces": [{
                "kind": "compute#networkInterface", "network": self.p.net_url,
                "subnetwork": self.p.url("regions/%s/subnetworks/%s" % (sub["region"], sub["name"])),
                "networkIP": inst["ip"], "name": "nic0", "fingerprint": "nf" + inst["id"][:10] + "=",
                "stackType": "IPV4_ONLY"}],
            "disks": [], "metadata": {"kind": "compute#metadata", "fingerprint": "md" + inst["id"][:10] + "="},
            "serviceAccounts": [{"email": inst["email"], "scopes": list(inst["scopes"])}],
            "selfLink": self.p.url("zones/%s/instances/%s" % (inst["zone"], inst["name"])),
            "scheduling": {"onHostMaintenance": "MIGRATE", "automaticRestart": True, "preemptible": False},
            "cpuPlatform": "Intel Broadwell", "labelFingerprint": "42WmSpB8rSM=", "startRestricted": False,
            "deletionProtection": False, "fingerprint": "if" + inst["id"][:10] + "=",
            "lastStartTimestamp": rfc3339(time.time() - 3600)}

    def networks_get(self, proj, name):
        self._project(proj)
        if name != self.p.net["name"]:
            raise not_found("projects/%s/global/networks/%s" % (self.p.project, name))
        return {"kind": "compute#network", "id": self.p.net["id"], "creationTimestamp": rfc3339(time.time() - 86400 * 30),
                "name": name, "selfLink": self.p.net_url,
                "selfLinkWithId": self.p.url("global/networks/" + self.p.net["id"]),
                "autoCreateSubnetworks": False,
                "subnetworks": [self.p.url("regions/%s/subnetworks/%s" % (s["region"], s["name"])) for s in self.p.subnets],
                "routingConfig": {"routingMode": "REGIONAL"}, "mtu": self.p.net.get("mtu", 1460),
                "networkFirewallPolicyEnforcementOrder": "AFTER_CLASSIC_FIREWALL"}


# ------------------------------------------------------------------------------------------
# HTTP


ROUTES = [
    ("GET", r"/compute/v1/projects/([^/]+)/global/routes", "routes.list"),
    ("POST", r"/compute/v1/projects/([^/]+)/global/routes", "routes.insert"),
    ("GET", r"/compute/v1/projects/([^/]+)/global/routes/([^/]+)", "routes.get"),
    ("DELETE", r"/compute/v1/projects/([^/]+)/global/routes/([^/]+)", "routes.delete"),
    ("GET", r"/compute/v1/projects/([^/]+)/global/operations/([^/]+)", "operations.get"),
    ("POST", r"/compute/v1/projects/([^/]+)/global/operations/([^/]+)/wait", "operations.wait"),
    ("GET", r"/compute/v1/projects/([^/]+)/zones/([^/]+)/instances/([^/]+)", "instances.get"),
    ("GET", r"/compute/v1/projects/([^/]+)/global/networks/([^/]+)", "networks.get"),
]
NOT_FOUND_HTML = ("<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n  <title>Error 404 (Not Found)!!1</title>\n"
                  "  <p><b>404.</b> <ins>That\u2019s an error.</ins>\n  <p>The requested URL <code>%s</code> was not "
                  "found on this server.  <ins>That\u2019s all we know.</ins>\n")


def route_of(method, path):
    """(method name, path groups) or (None, allowed) when the path exists with another verb."""
    allowed = []
    for verb, rx, name in ROUTES:
        m = re.fullmatch(rx, path)
        if m:
            if verb == method:
                return name, [urllib.parse.unquote(g) for g in m.groups()]
            allowed.append(verb)
    return None, allowed


class ComputeHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ESF"
    sys_version = ""

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *a):
        if self.server.project.args.verbose:
            log("compute " + fmt % a)

    def _send(self, status, body, ctype="application/json; charset=UTF-8", length=None, headers=()):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Vary", "Origin, X-Origin, Referer")
        self.send_header("Date", self.date_time_string())
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data) if length is None else length))
        self.end_headers()
        self.wfile.write(data)

    def _json(self, status, obj, headers=()):
        self._send(status, json.dumps(obj, indent=2) + "\n", headers=headers)

    def do_GET(self):
        self._serve("GET")

    def do_POST(self):
        self._serve("POST")

    def do_DELETE(self):
        self._serve("DELETE")

    def do_PATCH(self):
        self._serve("PATCH")

    def do_PUT(self):
        self._serve("PUT")

    def _serve(self, verb):
        p, api = self.server.project, self.server.compute
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        path, _, qs = self.path.partition("?")
        query = dict(urllib.parse.parse_qsl(qs, keep_blank_values=True))
        method, groups = route_of(verb, path)
        if method is None:
            if groups:        # the resource exists, the verb does not (routes are immutable)
                p.count_call("(method-not-allowed)")
                p.count_result("(method-not-allowed)", path, 405, "httpMethodNotAllowed")
                return self._json(405, ApiError(405, "Method Not Allowed", "httpMethodNotAllowed").body(),
                                  headers=[("Allow", ", ".join(groups))])
            p.count_call("(unknown)")
            p.count_result("(unknown)", path, 404, "notFound")
            return self._send(404, NOT_FOUND_HTML % path, ctype="text/html; charset=UTF-8")
        target = "/".join(groups[1:]) or groups[0]
        p.count_call(method)
        fault = p.take_fault(method)
        op_fault = None
        if fault:
            kind = fault["kind"]
            log("fault %s for %s" % (kind, method))
            if kind == "op_error":
                op_fault = fault
            else:
                p.count_result(method, target, 0, "fault:" + kind)
                err = fault_error(kind, method, p.number)
                if err:
                    return self._json(err.code, err.body(), headers=err.headers)
                if kind == "hang":
                    time.sleep(float(fault.get("seconds") or p.hang_seconds))
                    self.close_connection = True
                    return
                if kind == "malformed":
                    return self._send(200, '{\n  "kind": "compute#routeList",\n  "items": [\n    {\n      "name": "x')
                if kind == "garbage":
                    return self._send(200, "<html><body>502 Bad Gateway</body></html>", ctype="text/html")
                if kind == "truncated":
                    full = json.dumps({"kind": "compute#routeList", "id": "x", "items": []}, indent=2).encode()
                    self.close_connection = True
                    return self._send(200, full[:len(full) // 2], length=len(full))
        status, reason = 200, None
        try:
            user = self._authenticate(method)
            out = self._dispatch(api, method, groups, query, raw, user, op_fault)
        except ApiError as e:
            status, reason = e.code, e.reason
            if e.code >= 400:
                log("%s %s -> %d %s" % (method, target, e.code, e.reason))
            p.count_result(method, target, status, reason)
            return self._json(e.code, e.body(), headers=e.headers)
        except Exception as e:  # a bug in the fake: answer as Google would, and say so
            log("internal error: %r" % e)
            p.count_result(method, target, 500, "backendError")
            err = fault_error("500", method, p.number)
            return self._json(500, err.body())
        p.count_result(method, target, status, reason)
        self._json(status, out)

    def _authenticate(self, method):
        p = self.server.project
        authz = self.headers.get("Authorization")
        if not authz:
            raise auth_error(method, None, missing=True)
        scheme, _, tok = authz.partition(" ")
        if scheme.lower() != "bearer" or not tok.strip():
            raise auth_error(method, "ACCESS_TOKEN_TYPE_UNSUPPORTED")
        with p.lock:
            rec = p.tokens.get(tok.strip())
            rec = dict(rec) if rec else None
        if rec is None:
            raise auth_error(method, "ACCESS_TOKEN_TYPE_UNSUPPORTED")
        if rec["expires"] <= time.time():
            raise auth_error(method, "ACCESS_TOKEN_EXPIRED")
        need = WRITE_SCOPES if method in MUTATING else READ_SCOPES
        if not need & set(rec["scopes"]):
            raise ApiError(403, "Request had insufficient authentication scopes.", "insufficientPermissions",
                           status="PERMISSION_DENIED", extra={"item_message": "Insufficient Permission"},
                           details=error_info("ACCESS_TOKEN_SCOPE_INSUFFICIENT", method),
                           headers=[("WWW-Authenticate", 'Bearer realm="https://accounts.google.com/", '
                                     'error="insufficient_scope", scope="%s"' % " ".join(sorted(need)))])
        return rec["email"]

    def _deny(self, method, resource):
        p = self.server.project
        for perm in PERMISSIONS.get(method, ()):
            if perm in p.denied:
                res = resource
                if perm == "compute.networks.updatePolicy":
                    res = "projects/%s/global/networks/%s" % (p.project, p.net["name"])
                raise ApiError(403, "Required '%s' permission for '%s'" % (perm, res), "forbidden")

    def _dispatch(self, api, method, g, query, raw, user, op_fault):
        p = self.server.project
        body = None
        if method == "routes.insert":
            try:
                body = json.loads(raw.decode("utf-8")) if raw else None
            except (ValueError, UnicodeDecodeError) as e:
                raise ApiError(400, "Invalid JSON payload received. %s" % e, "parseError", status="INVALID_ARGUMENT")
            if body is None:
                raise required("resource")
        with p.lock:
            api.tick()
            proj = g[0]
            if method == "routes.list":
                self._deny(method, "projects/" + proj)
                return api.routes_list(proj, query)
            if method == "routes.insert":
                name = body.get("name", "") if isinstance(body, dict) else ""
                self._deny(method, "projects/%s/global/routes/%s" % (proj, name))
                return api.op_json(api.routes_insert(proj, query, body, user, op_fault))
            if method == "routes.get":
                self._deny(method, "projects/%s/global/routes/%s" % (proj, g[1]))
                return api.routes_get(proj, g[1])
            if method == "routes.delete":
                self._deny(method, "projects/%s/global/routes/%s" % (proj, g[1]))
                return api.op_json(api.routes_delete(proj, g[1], query, user, op_fault))
            if method == "instances.get":
                self._deny(method, "projects/%s/zones/%s/instances/%s" % tuple(g))
                return api.instances_get(*g)
            if method == "networks.get":
                self._deny(method, "projects/%s/global/networks/%s" % tuple(g))
                return api.networks_get(*g)
            # operations
            self._deny(method, "projects/%s/global/operations/%s" % tuple(g))
            api._project(proj)
            op = p.ops.get(g[1])
            if op is None:
                raise not_found("projects/%s/global/operations/%s" % (p.project, g[1]))
            api._poll(op)
            if method == "operations.get" or op["status"] == "DONE":
                return api.op_json(op)
            wait = p.wait_seconds
        time.sleep(wait)          # operations.wait: the op is still running; answer after the bound
        with p.lock:
            api.tick()
            return api.op_json(op)
