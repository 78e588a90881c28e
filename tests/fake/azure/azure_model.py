"""azure_model: the fake Azure's state (stdlib only).

The subscription, resource group, VNet, subnets, route tables with their routes, NICs, VMs and
managed identities seeded from a topology; the bearer tokens IMDS issued; long-running
operations (LROs); counters, injected faults and denied actions; and the effective routes per
subnet that the fake writes to <state>/vnet-routes.json for vnet_router.py.

JSON shapes follow the Azure REST API reference (Microsoft.Network 2024-05-01 examples,
Microsoft.Compute 2024-07-01). fake_azure.py does the HTTP side.
"""

import base64
import copy
import hashlib
import hmac
import ipaddress
import json
import os
import re
import secrets
import threading
import time
import uuid

NET_VERSIONS = ("2022-07-01", "2022-09-01", "2022-11-01", "2023-02-01", "2023-04-01", "2023-05-01",
                "2023-06-01", "2023-09-01", "2023-11-01", "2024-01-01", "2024-03-01", "2024-05-01",
                "2024-07-01", "2024-10-01", "2025-01-01", "2025-05-01")
COMPUTE_VERSIONS = ("2022-03-01", "2022-08-01", "2022-11-01", "2023-03-01", "2023-07-01", "2023-09-01",
                    "2024-03-01", "2024-07-01", "2024-11-01")
# the scale-set NIC paths (Microsoft.Compute/virtualMachineScaleSets/.../networkInterfaces) are
# served by the network provider with their own api-version (NetworkInterfaces_
# GetVirtualMachineScaleSetNetworkInterface: 2018-10-01 in every network spec since)
VMSS_NIC_VERSIONS = ("2017-03-30", "2018-10-01")
NEXT_HOP_TYPES = ("VirtualNetworkGateway", "VnetLocal", "Internet", "VirtualAppliance", "None")
MGMT_AUDIENCES = ("https://management.azure.com/", "https://management.azure.com",
                  "https://management.core.windows.net/", "https://management.core.windows.net")
# resources the fake's token service knows (others: invalid_resource, as for an unknown app)
KNOWN_RESOURCES = MGMT_AUDIENCES + ("https://vault.azure.net", "https://storage.azure.com/",
                                    "https://graph.microsoft.com/")
NAME_RE = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,78}[A-Za-z0-9_])?$")

DEFAULT_TOPOLOGY = {
    "tenant": "8d1f0c2a-5b6e-4c7d-9e0f-1a2b3c4d5e6f",
    "subscription": "6f1b4a2e-0c3d-4e5f-8a9b-0123456789ab",
    "resource_group": "rg-meshgate",
    "location": "westeurope",
    "vnet": {"name": "vnet-mesh", "address_prefixes": ["198.18.0.0/16"]},
    "subnets": [
        {"name": "snet-gw", "prefix": "198.18.1.0/24", "route_table": "rt-gw"},
        {"name": "snet-app", "prefix": "198.18.2.0/24", "route_table": "rt-app"},
        {"name": "snet-db", "prefix": "198.18.3.0/24"},
    ],
    "route_tables": [
        {"name": "rt-gw", "routes": []},
        {"name": "rt-app", "routes": [
            {"name": "onprem-legacy", "address_prefix": "203.0.113.0/24",
             "next_hop_type": "VirtualNetworkGateway"}]},
        {"name": "rt-spare", "routes": []},
    ],
    "identities": [
        {"name": "id-meshgate", "client_id": "3c5b7a91-2d4e-4f60-8a1b-9c0d1e2f3a4b",
         "principal_id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"},
        {"name": "id-other", "client_id": "4d6c8b02-3e5f-4071-9b2c-0d1e2f3a4b5c",
         "principal_id": "0b1c2d3e-4f5a-4b6c-9d7e-8f9a0b1c2d3e"},
    ],
    "vms": [
        {"name": "vm-gw-1", "nic": {"name": "vm-gw-1-nic", "mac": "00-0D-3A-12-01-0A",
                                    "ip": "198.18.1.10", "subnet": "snet-gw"},
         "system_identity": {"principal_id": "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b",
                             "client_id": "7f8e9d0c-1b2a-4394-8576-a1b2c3d4e5f6"},
         "user_identities": ["id-meshgate"]},
        {"name": "vm-gw-2", "nic": {"name": "vm-gw-2-nic", "mac": "00-0D-3A-12-01-0B",
                                    "ip": "198.18.1.11", "subnet": "snet-gw"},
         "system_identity": None, "user_identities": ["id-meshgate", "id-other"]},
    ],
    "default_vm": "vm-gw-1",
}


class ApiError(Exception):
    """An ARM error: HTTP status, code, message (CloudError body)."""

    def __init__(self, status, code, message, headers=None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_dec(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def etag():
    return 'W/"%s"' % uuid.uuid4()


def mac_imds(mac):
    return mac.replace("-", "").replace(":", "").upper()


class Cloud:
    def __init__(self, topo, args):
        self.lock = threading.RLock()
        self.args = args
        self.topo = topo
        self.state_dir = args.state_dir
        self.sub = topo["subscription"]
        self.rg = topo["resource_group"]
        self.loc = topo["location"]
        self.tenant = topo["tenant"]
        self.arm_base = args.arm_base  # https://management.azure.com[:port]
        self.rg_id = "/subscriptions/%s/resourceGroups/%s" % (self.sub, self.rg)
        self.net_prefix = self.rg_id + "/providers/Microsoft.Network"
        v = topo["vnet"]
        self.vnet = {"name": v["name"], "prefixes": list(v["address_prefixes"]), "etag": etag(),
                     "guid": str(uuid.uuid4())}
        self.subnets = {}
        for s in topo["subnets"]:
            self.subnets[s["name"].lower()] = {"name": s["name"], "prefix": s["prefix"],
                                               "route_table": s.get("route_table"), "etag": etag()}
        self.tables = {}
        for t in topo["route_tables"]:
            tab = {"name": t["name"], "etag": etag(), "guid": str(uuid.uuid4()), "routes": {},
                   "tags": t.get("tags", {}), "route_limit": t.get("route_limit")}
            for r in t.get("routes", []):
                self._seed_route(tab, r)
            self.tables[t["name"].lower()] = tab
        self.identities = {i["name"].lower(): i for i in topo.get("identities", [])}
        self.vms, self.nics = {}, {}
        for vm in topo["vms"]:
            n = vm["nic"]
            self.nics[n["name"].lower()] = {
                "name": n["name"], "mac": n["mac"], "ip": n["ip"], "subnet": n["subnet"], "vm": vm["name"],
                "fwd": bool(n.get("enable_ip_forwarding", False)), "etag": etag(), "guid": str(uuid.uuid4()),
                "state": "Succeeded"}
            self.nics[n["name"].lower()]["fwd_committed"] = self.nics[n["name"].lower()]["fwd"]
            self.vms[vm["name"].lower()] = dict(vm, vm_id=str(uuid.uuid4()))
        # tokens
        self.token_key = secrets.token_bytes(32)
        self.token_lifetime = args.token_lifetime
        self.tokens = {}          # uti -> {"exp", "aud", "oid"}
        self.token_cache = {}     # (vm, identity key, resource) -> (token, claims)
        self.clock_offset = 0.0
        # LROs
        self.ops = {}
        self.lro_polls = args.lro_polls
        self.lro_max_seconds = args.lro_max_seconds
        self.retry_after = args.retry_after
        self.busy_conflict = args.busy_conflict
        self.page_size = args.page_size
        self.route_limit = args.route_limit
        self.route_limit_code = args.route_limit_code
        self.hang_seconds = args.hang_seconds
        self.faults = []
        self.denied = {}          # action -> scope prefix ("" = everywhere)
        self.rl_reads, self.rl_writes = 11999, 1199
        self.reset_counters()
        self.generation = 0
        self.write_effective()

    # --- ids --------------------------------------------------------------------------------
    def vm_id(self, vm):
        if vm.get("scale_set"):  # a uniform scale set's instance
            return "%s/providers/Microsoft.Compute/virtualMachineScaleSets/%s/virtualMachines/%s" % (
                self.rg_id, vm["scale_set"], vm.get("instance_id", "0"))
        return "%s/providers/Microsoft.Compute/virtualMachines/%s" % (self.rg_id, vm["name"])

    def nic_id(self, nic):
        vm = self.vms.get(nic["vm"].lower())
        if vm is not None and vm.get("scale_set"):
            return "%s/networkInterfaces/%s" % (self.vm_id(vm), nic["name"])
        return "%s/networkInterfaces/%s" % (self.net_prefix, nic["name"])

    def vmss_vm(self, scale_set, instance_id):
        for vm in self.vms.values():
            if (vm.get("scale_set") or "").lower() == scale_set.lower() and \
                    str(vm.get("instance_id", "0")) == instance_id:
                return vm
        return None

    def vnet_id(self):
        return "%s/virtualNetworks/%s" % (self.net_prefix, self.vnet["name"])

    def subnet_id(self, s):
        return "%s/subnets/%s" % (self.vnet_id(), s["name"])

    def table_id(self, t):
        return "%s/routeTables/%s" % (self.net_prefix, t["name"])

    def route_id(self, t, r):
        return "%s/routes/%s" % (self.table_id(t), r["name"])

    def identity_id(self, ident):
        return "%s/providers/Microsoft.ManagedIdentity/userAssignedIdentities/%s" % (self.rg_id, ident["name"])

    # --- counters and faults ------------------------------------------------------------------
    def reset_counters(self):
        with self.lock:
            self.counters = {"calls": {}, "status": {}, "errors": {}, "mutating": 0, "mutating_ok": 0,
                             "read": 0, "read_ok": 0, "polls": 0, "total": 0, "imds": {}}
            self.request_log = []

    def count(self, op, status, code, mutating, poll):
        with self.lock:
            c = self.counters
            c["total"] += 1
            c["calls"][op] = c["calls"].get(op, 0) + 1
            st = c["status"].setdefault(op, {})
            st[str(status)] = st.get(str(status), 0) + 1
            if code:
                c["errors"][code] = c["errors"].get(code, 0) + 1
            ok = 200 <= status < 300
            if poll:
                c["polls"] += 1
            elif mutating:
                c["mutating"] += 1
                c["mutating_ok"] += ok
            elif op.startswith("GET "):
                c["read"] += 1
                c["read_ok"] += ok
            self.request_log.append({"t": round(time.time(), 3), "op": op, "status": status, "code": code})
            del self.request_log[:-500]

    def count_imds(self, what, status):
        with self.lock:
            k = "%s %d" % (what, status)
            self.counters["imds"][k] = self.counters["imds"].get(k, 0) + 1

    def take_fault(self, op, target="arm", kinds=None):
        """The first armed fault of target ("arm" or "imds") matching op (exact "METHOD kind",
        the method, or the kind)."""
        method, _, kind = op.partition(" ")
        with self.lock:
            for f in self.faults:
                if f.get("target", "arm") != target:
                    continue
                if kinds is not None and f["kind"] not in kinds:
                    continue
                if kinds is None and f["kind"] == "lro_fail":
                    continue
                want = f.get("op")
                if f["count"] > 0 and (not want or want in (op, method, kind)):
                    f["count"] -= 1
                    out = dict(f)
                    self.faults = [x for x in self.faults if x["count"] > 0]
                    return out
        return None

    # --- tokens -----------------------------------------------------------------------------
    def now(self):
        return time.time() + self.clock_offset

    def issue_token(self, vm, ident, resource):
        """(token, claims) for VM vm acting as identity ident ({"client_id","principal_id","id"})."""
        with self.lock:
            key = (vm["name"], ident["client_id"], resource)
            cached = self.token_cache.get(key)
            now = int(time.time())
            if cached:
                exp = self.tokens.get(cached[1]["uti"], {}).get("exp", 0)
                if exp - now > min(300, self.token_lifetime / 2):
                    return cached
            claims = {"aud": resource, "iss": "https://sts.windows.net/%s/" % self.tenant, "iat": now,
                      "nbf": now, "exp": now + int(self.token_lifetime), "aio": b64u(secrets.token_bytes(12)),
                      "appid": ident["client_id"], "appidacr": "2",
                      "idp": "https://sts.windows.net/%s/" % self.tenant, "idtyp": "app",
                      "oid": ident["principal_id"], "rh": "0.fake.", "sub": ident["principal_id"],
                      "tid": self.tenant, "uti": b64u(secrets.token_bytes(16)), "ver": "1.0",
                      "xms_mirid": ident["id"]}
            head = b64u(json.dumps({"typ": "JWT", "alg": "HS256", "kid": "fake-azure"},
                                   separators=(",", ":")).encode())
            body = b64u(json.dumps(claims, separators=(",", ":")).encode())
            sig = b64u(hmac.new(self.token_key, (head + "." + body).encode(), hashlib.sha256).digest())
            tok = "%s.%s.%s" % (head, body, sig)
            self.tokens[claims["uti"]] = {"exp": claims["exp"], "aud": resource, "oid": ident["principal_id"]}
            self.token_cache[key] = (tok, claims)
            return tok, claims

    def expire_tokens(self):
        with self.lock:
            for t in self.tokens.values():
                t["exp"] = min(t["exp"], int(time.time()) - 1)

    def check_token(self, header):
        """The claims of a valid management token, else ApiError 401 as ARM answers."""
        www = ('Bearer authorization_uri="https://login.windows.net/%s", error="invalid_token", '
               'error_description="%s"')
        if not header:
            raise ApiError(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.",
                           {"WWW-Authenticate": www % (self.tenant, "The authentication failed because of missing 'Authorization' header.")})
        scheme, _, tok = header.partition(" ")
        bad = ApiError(401, "InvalidAuthenticationToken", "The access token is invalid.",
                       {"WWW-Authenticate": www % (self.tenant, "The access token is invalid.")})
        if scheme.lower() != "bearer" or not tok.strip():
            raise ApiError(401, "AuthenticationFailed",
                           "Authentication failed. The 'Authorization' header is provided in an invalid format.",
                           {"WWW-Authenticate": www % (self.tenant, "The authentication failed because of invalid format of 'Authorization' header.")})
        parts = tok.strip().split(".")
        if len(parts) != 3:
            raise bad
        want = b64u(hmac.new(self.token_key, (parts[0] + "." + parts[1]).encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(want, parts[2]):
            raise bad
        try:
            claims = json.loads(b64u_dec(parts[1]))
        except ValueError:
            raise bad
        if claims.get("aud") not in MGMT_AUDIENCES:
            raise ApiError(401, "InvalidAuthenticationTokenAudience",
                           "The access token has been obtained for wrong audience or resource '%s'. It should exactly "
                           "match with one of the allowed audiences '%s'." % (claims.get("aud"), "','".join(MGMT_AUDIENCES)),
                           {"WWW-Authenticate": www % (self.tenant, "The access token has been obtained for wrong audience or resource.")})
        with self.lock:
            exp = self.tokens.get(claims.get("uti"), {}).get("exp", claims.get("exp", 0))
        now = self.now()
        if now >= exp:
            fmt = lambda t: time.strftime("%m/%d/%Y %H:%M:%S", time.gmtime(t))  # noqa: E731
            raise ApiError(401, "ExpiredAuthenticationToken",
                           "The access token expiry UTC time '%s' is earlier than current UTC time '%s'."
                           % (fmt(exp), fmt(now)),
                           {"WWW-Authenticate": www % (self.tenant, "The access token expiry UTC time is earlier than current UTC time.")})
        if now < claims.get("nbf", 0) - 300:
            raise bad
        return claims

    def authorize(self, claims, action, scope):
        with self.lock:
            pref = self.denied.get(action.lower())
        if pref is not None and scope.lower().startswith(pref.lower()):
            oid = claims.get("oid")
            raise ApiError(403, "AuthorizationFailed",
                           "The client '%s' with object id '%s' does not have authorization to perform action '%s' "
                           "over scope '%s' or the scope is invalid. If access was recently granted, please refresh "
                           "your credentials." % (oid, oid, action, scope))

    # --- resource JSON --------------------------------------------------------------------------
    def vm_json(self, vm):
        nic = self.nics[vm["nic"]["name"].lower()]
        out = {"name": vm["name"], "id": self.vm_id(vm), "type": "Microsoft.Compute/virtualMachines",
               "location": self.loc,
               "properties": {
                   "vmId": vm["vm_id"], "hardwareProfile": {"vmSize": vm.get("size", "Standard_B2s")},
                   "storageProfile": {"osDisk": {"osType": "Linux", "name": vm["name"] + "_OsDisk_1",
                                                 "createOption": "FromImage", "caching": "ReadWrite"}},
                   "osProfile": {"computerName": vm["name"], "adminUsername": "azureuser",
                                 "linuxConfiguration": {"disablePasswordAuthentication": True}},
                   "networkProfile": {"networkInterfaces": [{"id": self.nic_id(nic), "properties": {"primary": True}}]},
                   "provisioningState": "Succeeded", "timeCreated": "2024-09-01T10:00:00.0000000+00:00"}}
        ident = {}
        if vm.get("system_identity"):
            ident = {"type": "SystemAssigned", "principalId": vm["system_identity"]["principal_id"],
                     "tenantId": self.tenant}
        if vm.get("user_identities"):
            ident["type"] = "SystemAssigned, UserAssigned" if ident else "UserAssigned"
            ident["userAssignedIdentities"] = {
                self.identity_id(self.identities[n.lower()]): {
                    "principalId": self.identities[n.lower()]["principal_id"],
                    "clientId": self.identities[n.lower()]["client_id"]} for n in vm["user_identities"]}
        if ident:
            out["identity"] = ident
        return out

    def vmss_vm_json(self, vm):
        """A uniform scale set's instance (VirtualMachineScaleSetVMs_Get)."""
        nic = self.nics[vm["nic"]["name"].lower()]
        out = self.vm_json(vm)
        out.update({"name": "%s_%s" % (vm["scale_set"], vm.get("instance_id", "0")),
                    "type": "Microsoft.Compute/virtualMachineScaleSets/virtualMachines",
                    "instanceId": str(vm.get("instance_id", "0")),
                    "sku": {"name": vm.get("size", "Standard_B2s"), "tier": "Standard"}})
        props = out["properties"]
        props["latestModelApplied"] = True
        # the instance lists its NICs without "properties"; the model's configuration says
        # which one is primary and whether it forwards
        props["networkProfile"] = {"networkInterfaces": [{"id": self.nic_id(nic)}]}
        props["networkProfileConfiguration"] = {"networkInterfaceConfigurations": [{
            "name": nic["name"], "properties": {
                "primary": True, "enableAcceleratedNetworking": False,
                "enableIPForwarding": nic["fwd"],
                "ipConfigurations": [{"name": "ipconfig1", "properties": {
                    "subnet": {"id": self.subnet_id(self.subnets[nic["subnet"].lower()])},
                    "privateIPAddressVersion": "IPv4"}}]}}]}
        return out

    def nic_json(self, nic):
        sub = self.subnets[nic["subnet"].lower()]
        nid = self.nic_id(nic)
        return {"name": nic["name"], "id": nid, "etag": nic["etag"], "type": "Microsoft.Network/networkInterfaces",
                "location": self.loc,
                "properties": {
                    "provisioningState": nic["state"], "resourceGuid": nic["guid"],
                    "ipConfigurations": [{
                        "name": "ipconfig1", "id": nid + "/ipConfigurations/ipconfig1", "etag": nic["etag"],
                        "type": "Microsoft.Network/networkInterfaces/ipConfigurations",
                        "properties": {"provisioningState": nic["state"], "privateIPAddress": nic["ip"],
                                       "privateIPAllocationMethod": "Dynamic",
                                       "subnet": {"id": self.subnet_id(sub)}, "primary": True,
                                       "privateIPAddressVersion": "IPv4"}}],
                    "dnsSettings": {"dnsServers": [], "appliedDnsServers": [],
                                    "internalDomainNameSuffix": "fake0000.ax.internal.cloudapp.net"},
                    "macAddress": nic["mac"], "enableAcceleratedNetworking": False, "vnetEncryptionSupported": False,
                    "enableIPForwarding": nic["fwd"], "disableTcpStateTracking": False, "hostedWorkloads": [],
                    "tapConfigurations": [], "primary": True,
                    "virtualMachine": {"id": self.vm_id(self.vms[nic["vm"].lower()])},
                    "nicType": "Standard", "allowPort25Out": False, "auxiliaryMode": "None",
                    "auxiliarySku": "None"}}

    def subnet_json(self, s):
        props = {"provisioningState": "Succeeded", "addressPrefix": s["prefix"],
                 "ipConfigurations": [{"id": self.nic_id(n) + "/ipConfigurations/ipconfig1"}
                                      for n in self.nics.values() if n["subnet"].lower() == s["name"].lower()],
                 "delegations": [], "privateEndpointNetworkPolicies": "Disabled",
                 "privateLinkServiceNetworkPolicies": "Enabled"}
        if s.get("route_table") and s["route_table"].lower() in self.tables:
            props["routeTable"] = {"id": self.table_id(self.tables[s["route_table"].lower()])}
        return {"name": s["name"], "id": self.subnet_id(s), "etag": s["etag"], "properties": props,
                "type": "Microsoft.Network/virtualNetworks/subnets"}

    def vnet_json(self):
        return {"name": self.vnet["name"], "id": self.vnet_id(), "etag": self.vnet["etag"],
                "type": "Microsoft.Network/virtualNetworks", "location": self.loc,
                "properties": {"provisioningState": "Succeeded", "resourceGuid": self.vnet["guid"],
                               "addressSpace": {"addressPrefixes": self.vnet["prefixes"]},
                               "subnets": [self.subnet_json(s) for s in self.subnets.values()],
                               "virtualNetworkPeerings": [], "enableDdosProtection": False}}

    def route_json(self, t, r):
        props = {"provisioningState": r["state"], "addressPrefix": r["prefix"], "nextHopType": r["type"]}
        if r.get("ip"):
            props["nextHopIpAddress"] = r["ip"]
        props["hasBgpOverride"] = False
        return {"name": r["name"], "id": self.route_id(t, r), "etag": r["etag"], "properties": props,
                "type": "Microsoft.Network/routeTables/routes"}

    def table_json(self, t):
        subs = [{"id": self.subnet_id(s)} for s in self.subnets.values()
                if (s.get("route_table") or "").lower() == t["name"].lower()]
        out = {"name": t["name"], "id": self.table_id(t), "etag": t["etag"], "type": "Microsoft.Network/routeTables",
               "location": self.loc,
               "properties": {"provisioningState": "Succeeded", "resourceGuid": t["guid"],
                              "disableBgpRoutePropagation": False,
                              "routes": [self.route_json(t, r) for r in t["routes"].values()],
                              "subnets": subs}}
        if t.get("tags"):
            out["tags"] = t["tags"]
        return out

    # --- routes ---------------------------------------------------------------------------------
    def _seed_route(self, tab, r):
        route = {"name": r["name"], "prefix": r["address_prefix"], "type": r["next_hop_type"],
                 "ip": r.get("next_hop_ip"), "etag": etag(), "state": "Succeeded"}
        route["committed"] = {k: route[k] for k in ("prefix", "type", "ip")}
        tab["routes"][r["name"].lower()] = route
        tab["etag"] = etag()
        return route

    def validate_route_body(self, t, name, body):
        if not NAME_RE.match(name):
            raise ApiError(400, "InvalidResourceName",
                           "Resource name %s is invalid. The name can be up to 80 characters long. It must begin with "
                           "a word character, and it must end with a word character or with '_'. The name may contain "
                           "word characters or '.', '-', '_'." % name)
        if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
            raise ApiError(400, "InvalidRequestFormat",
                           "Cannot parse the request: the route has no 'properties' object.")
        p = body["properties"]
        rid = "%s/routes/%s" % (self.table_id(t), name)
        prefix, hop, ip = p.get("addressPrefix"), p.get("nextHopType"), p.get("nextHopIpAddress")
        if not isinstance(prefix, str) or not prefix:
            raise ApiError(400, "InvalidRequestFormat", "Route %s must have the property addressPrefix." % rid)
        if hop not in NEXT_HOP_TYPES:
            raise ApiError(400, "InvalidRequestFormat",
                           "Cannot parse the request: value '%s' of nextHopType is not one of %s." % (hop, ", ".join(NEXT_HOP_TYPES)))
        try:
            net = ipaddress.ip_network(prefix, strict=False)
        except ValueError:
            raise ApiError(400, "InvalidRouteAddressPrefix",
                           "Route %s has an invalid addressPrefix %s." % (rid, prefix))
        if "/" not in prefix:
            raise ApiError(400, "InvalidRouteAddressPrefix", "Route %s has an invalid addressPrefix %s." % (rid, prefix))
        if str(net) != prefix:
            raise ApiError(400, "InvalidCIDRNotation",
                           "The address prefix %s in resource %s has an invalid CIDR notation. For the given prefix "
                           "length, the address prefix should be %s." % (prefix, rid, net))
        if hop == "VirtualAppliance":
            try:
                ipaddress.ip_address(ip or "")
            except ValueError:
                raise ApiError(400, "InvalidNextHopIpAddress" if ip else "NextHopIpAddressMissing",
                               "Route %s with next hop type VirtualAppliance must have a valid nextHopIpAddress (got %r)."
                               % (rid, ip))
        elif ip:
            raise ApiError(400, "NextHopIpAddressNotAllowed",
                           "Route %s has nextHopIpAddress %s, which is only allowed for next hop type VirtualAppliance."
                           % (rid, ip))
        for r in t["routes"].values():
            if r["name"].lower() != name.lower() and r["prefix"] == prefix:
                raise ApiError(400, "InvalidRouteTableDuplicateAddressPrefix",
                               "Route table %s has two routes with the same address prefix %s: %s and %s."
                               % (self.table_id(t), prefix, r["name"], name))
        return prefix, hop, ip if hop == "VirtualAppliance" else None

    # --- long-running operations ----------------------------------------------------------------
    def new_op(self, kind, on_success, on_fail, busy_key):
        fail = self.take_fault(kind, "arm", kinds=("lro_fail",))
        op = {"id": str(uuid.uuid4()), "kind": kind, "status": "InProgress", "polls_left": self.lro_polls,
              "deadline": (time.time() + self.lro_max_seconds) if self.lro_max_seconds > 0 else None,
              "on_success": on_success, "on_fail": on_fail, "busy": busy_key, "started": time.time(),
              "fail": ({"code": fail.get("code") or "InternalServerError",
                        "message": fail.get("message") or "An error occurred."} if fail else None),
              "polls": 0}
        self.ops[op["id"]] = op
        return op

    def busy(self, key):
        return any(o["status"] == "InProgress" and o["busy"] == key for o in self.ops.values())

    def finish_op(self, op):
        if op["status"] != "InProgress":
            return
        if op["fail"]:
            op["status"] = "Failed"
            op["on_fail"]()
        else:
            op["status"] = "Succeeded"
            op["on_success"]()
        op["ended"] = time.time()
        self.write_effective()

    def poll_op(self, op_id):
        """One poll: counts down, then completes. None if unknown."""
        with self.lock:
            op = self.ops.get(op_id)
            if op is None:
                return None
            op["polls"] += 1
            if op["status"] == "InProgress":
                if op["polls_left"] > 0:
                    op["polls_left"] -= 1
                else:
                    self.finish_op(op)
            return op

    def tick(self):
        with self.lock:
            now = time.time()
            for op in list(self.ops.values()):
                if op["status"] == "InProgress" and op["deadline"] and now >= op["deadline"]:
                    self.finish_op(op)
                if op["status"] != "InProgress" and now - op.get("ended", now) > 3600:
                    del self.ops[op["id"]]

    def op_urls(self, op, api_version):
        base = "%s/subscriptions/%s/providers/Microsoft.Network/locations/%s" % (self.arm_base, self.sub, self.loc)
        return ("%s/operations/%s?api-version=%s" % (base, op["id"], api_version),
                "%s/operationResults/%s?api-version=%s" % (base, op["id"], api_version))

    # --- effective routes -------------------------------------------------------------------------
    def effective(self, sname):
        """Azure's effective routes of a subnet: the VNet's system routes (address space: VnetLocal,
        0.0.0.0/0: Internet) overridden by the associated table's committed user routes (a user route
        beats a system route of the same prefix; longest prefix wins when forwarding)."""
        s = self.subnets[sname]
        out = {}
        for p in self.vnet["prefixes"]:
            out[p] = {"dst": p, "type": "VnetLocal", "source": "Default"}
        out.setdefault("0.0.0.0/0", {"dst": "0.0.0.0/0", "type": "Internet", "source": "Default"})
        t = self.tables.get((s.get("route_table") or "").lower())
        for r in (t["routes"].values() if t else []):
            c = r.get("committed")
            if not c or ":" in c["prefix"]:
                continue
            ent = {"dst": c["prefix"], "type": c["type"], "source": "User", "route": r["name"]}
            if c["type"] == "VirtualAppliance":
                ent["via"] = c["ip"]
            out[c["prefix"]] = ent
        return sorted(out.values(), key=lambda e: (-ipaddress.ip_network(e["dst"]).prefixlen, e["dst"]))

    def write_effective(self):
        with self.lock:
            self.generation += 1
            out = {"generation": self.generation, "vnet_prefixes": self.vnet["prefixes"], "subnets": {}, "nics": {}}
            for key, s in self.subnets.items():
                out["subnets"][s["name"]] = {"prefix": s["prefix"], "route_table": s.get("route_table"),
                                             "routes": self.effective(key)}
            for n in self.nics.values():
                out["nics"][n["name"]] = {"ips": [n["ip"]], "mac": n["mac"].replace("-", ":").lower(),
                                          "subnet": n["subnet"], "enable_ip_forwarding": n["fwd_committed"]}
            path = os.path.join(self.state_dir, "vnet-routes.json")
            with open(path + ".tmp", "w") as f:
                json.dump(out, f, indent=1, sort_keys=True)
            os.replace(path + ".tmp", path)

    def snapshot(self):
        with self.lock:
            return {"generation": self.generation, "vnet": self.vnet_json(),
                    "route_tables": [self.table_json(t) for t in self.tables.values()],
                    "nics": [self.nic_json(n) for n in self.nics.values()],
                    "operations": [{k: o[k] for k in ("id", "kind", "status", "polls", "polls_left")}
                                   for o in self.ops.values()],
                    "faults": copy.deepcopy(self.faults), "denied": dict(self.denied),
                    "clock_offset": self.clock_offset, "tokens": len(self.tokens)}
