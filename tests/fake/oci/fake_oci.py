#!/usr/bin/env python3
"""fake_oci: a fake Oracle Cloud for meshgate's tests that speaks the real wire format.

One process serves
  * IMDS v2 over plain HTTP (default 169.254.169.254:80) under /opc/v2/, `Authorization: Bearer
    Oracle` required: instance/, vnics/, identity/{cert,key,intermediate}.pem (a leaf per
    instance with opc-tenant/opc-instance in its subject, rotatable);
  * over HTTPS (one listener, told apart by Host): the instance-principal federation endpoint
    auth.<region>.oraclecloud.com POST /v1/x509, and the Networking API
    iaas.<region>.oraclecloud.com /20160918/ (vcns, subnets, routeTables with etag/if-match,
    vnics, privateIps, vnicAttachments); every request's signature verified by
    httpsig_verify.py (federation: the leaf cert's key; API: the session key, keyId ST$<token>);
  * a control API (plain HTTP, JSON; default 127.0.0.1:8798) for fault injection, counters,
    state inspection and changes behind the client's back.
Python 3 standard library plus python3-cryptography. See README.md beside this file.
"""

import argparse
import base64
import binascii
import copy
import datetime
import email.utils
import http.server
import ipaddress
import json
import os
import re
import secrets
import signal
import ssl
import sys
import threading
import time
import urllib.parse
import uuid

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import fakectl  # noqa: E402
import httpsig_verify as hv  # noqa: E402
import oci_pki  # noqa: E402

API = "/20160918"
MUTATING = {"UpdateRouteTable", "UpdateVnic"}
MAX_BODY = 1 << 20


def _o(kind, tag, region="phx"):
    """A well-formed fake OCID: ocid1.<kind>.oc1.<region>.<unique>, tag padded to 60 chars."""
    return "ocid1.%s.oc1.%s.aaaaaaaa%s" % (kind, region, (tag + "0" * 52)[:52])


TENANCY = "ocid1.tenancy.oc1..aaaaaaaafaketenancy" + "0" * 33
COMPARTMENT = "ocid1.compartment.oc1..aaaaaaaafakecompartment" + "0" * 26

DEFAULT_TOPOLOGY = {
    "tenancy": TENANCY,
    "compartment": COMPARTMENT,
    "region": "us-phoenix-1",
    "region_key": "PHX",
    "availability_domain": "Uocm:PHX-AD-1",
    "vcn": {"id": _o("vcn", "meshvcn"), "display_name": "meshgate-vcn", "cidr_blocks": ["198.18.0.0/16"]},
    "subnets": [
        {"id": _o("subnet", "suba"), "display_name": "subnet-a", "cidr": "198.18.1.0/24",
         "route_table": _o("routetable", "rta")},
        {"id": _o("subnet", "subb"), "display_name": "subnet-b", "cidr": "198.18.2.0/24",
         "route_table": _o("routetable", "rtb")},
    ],
    "route_tables": [
        {"id": _o("routetable", "rta"), "display_name": "rt-a", "rules": []},
        {"id": _o("routetable", "rtb"), "display_name": "rt-b", "rules": [
            {"destination": "203.0.113.0/24", "destinationType": "CIDR_BLOCK",
             "networkEntityId": _o("drg", "ondrg"),
             "description": "on-prem via DRG \u2014 owned by \"netops\"; do not touch", "routeType": "STATIC"},
            {"destination": "all-phx-services-in-oracle-services-network", "destinationType": "SERVICE_CIDR_BLOCK",
             "networkEntityId": _o("servicegateway", "sgw"), "routeType": "STATIC"},
        ]},
    ],
    # route targets other than private IPs (DRG, service gateway, internet gateway ...)
    "gateways": [_o("drg", "ondrg"), _o("servicegateway", "sgw"), _o("internetgateway", "igw")],
    "services": ["all-phx-services-in-oracle-services-network", "oci-phx-objectstorage"],
    "instances": [
        {"id": _o("instance", "conna"), "display_name": "connector-a", "vnics": [
            {"id": _o("vnic", "conna"), "mac": "02:00:17:12:01:0a", "subnet": _o("subnet", "suba"),
             "vlan_tag": 1001, "private_ips": [{"id": _o("privateip", "conna"), "ip": "198.18.1.10"}]}]},
        {"id": _o("instance", "connb"), "display_name": "connector-b", "vnics": [
            {"id": _o("vnic", "connb"), "mac": "02:00:17:12:01:0b", "subnet": _o("subnet", "suba"),
             "vlan_tag": 1002, "private_ips": [{"id": _o("privateip", "connb"), "ip": "198.18.1.11"}]}]},
    ],
    "default_instance": _o("instance", "conna"),
}

RULE_KEYS = ("cidrBlock", "destination", "destinationType", "networkEntityId", "description", "routeType")


def iso(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def log(*a):
    print("[fake_oci %s]" % time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


class ApiError(Exception):
    def __init__(self, status, code, message, reason=None):
        super().__init__(message)
        self.status, self.code, self.message, self.reason = status, code, message, reason


NOT_AUTHENTICATED = "The required information to complete authentication was not provided or was incorrect."


def not_authenticated(reason):
    return ApiError(401, "NotAuthenticated", NOT_AUTHENTICATED, reason)


def not_found():
    return ApiError(404, "NotAuthorizedOrNotFound", "Authorization failed or requested resource not found.")


def invalid(msg):
    return ApiError(400, "InvalidParameter", msg)


# ------------------------------------------------------------------------------------------
# State


class Cloud:
    """The VCN, subnets, route tables, VNICs, private IPs; identities, tokens; the fault plan."""

    def __init__(self, topo, args):
        self.lock = threading.RLock()
        self.args = args
        self.topo = topo
        self.region = topo["region"]
        self.state_dir = args.state_dir
        self.tenancy, self.compartment = topo["tenancy"], topo["compartment"]
        self.vcn = topo["vcn"]
        self.created = time.time() - 86400
        self.subnets = {s["id"]: dict(s) for s in topo["subnets"]}
        self.subnet_order = [s["id"] for s in topo["subnets"]]
        self.gateways = set(topo.get("gateways", []))
        self.services = set(topo.get("services", []))
        self.tables, self.table_order = {}, []
        for rt in topo["route_tables"]:
            self.tables[rt["id"]] = {"id": rt["id"], "display_name": rt.get("display_name", rt["id"][-8:]),
                                     "rules": [self.normal_rule(r) for r in rt.get("rules", [])],
                                     "rule_limit": rt.get("rule_limit"), "etag": secrets.token_hex(16),
                                     "freeformTags": rt.get("freeformTags", {}), "definedTags": {}}
            self.table_order.append(rt["id"])
        self.instances, self.vnics, self.private_ips = {}, {}, {}
        for inst in topo["instances"]:
            self.instances[inst["id"]] = {"id": inst["id"], "display_name": inst.get("display_name", "instance"),
                                          "vnics": [v["id"] for v in inst["vnics"]]}
            for n, v in enumerate(inst["vnics"]):
                pids = []
                for m, p in enumerate(v["private_ips"]):
                    self.private_ips[p["id"]] = {"id": p["id"], "ip": p["ip"], "vnic": v["id"], "subnet": v["subnet"],
                                                 "primary": m == 0}
                    pids.append(p["id"])
                self.vnics[v["id"]] = {"id": v["id"], "instance": inst["id"], "subnet": v["subnet"], "mac": v["mac"],
                                       "vlan_tag": v.get("vlan_tag", 0), "nic_index": n, "primary": n == 0,
                                       "private_ips": pids, "display_name": v.get("display_name", "vnic%d" % n),
                                       "skip": bool(v.get("skip_source_dest_check", False)),
                                       "etag": secrets.token_hex(16), "freeformTags": {}, "definedTags": {},
                                       "nsgIds": []}
        self.rule_limit = args.rule_limit
        self.max_skew = args.max_skew
        self.token_lifetime = args.token_lifetime
        self.hang_seconds = args.hang_seconds
        self.force_page_size = args.force_page_size
        self.clock_offset = 0.0
        self.faults, self.denied, self.pending_edits = [], set(), {}
        self.refusals = []  # signature refusals on request: {"kind", "count", "service"}
        # identity: the current leaf per instance; every leaf ever issued by its SHA-256 fingerprint
        self.pki = oci_pki.IdentityPki(args.state_dir, args.cert_lifetime)
        self.leaf, self.leaves = {}, {}
        for iid in self.instances:
            self.rotate_identity(iid)
        self.jwt_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.tokens = {}          # token -> {exp, session_key, instance, revoked}
        self.reset_counters()
        self.generation = 0
        self.write_effective()

    # --- counters -------------------------------------------------------------------------
    def reset_counters(self):
        with self.lock:
            self.counters = {"calls": {}, "ok": {}, "errors": {}, "by_path": {}, "mutating": 0, "read": 0,
                             "mutating_ok": 0, "read_ok": 0, "federation": 0, "federation_ok": 0, "total": 0,
                             "imds": {}}
            self.request_log = []

    def count_call(self, op, route):
        with self.lock:
            c = self.counters
            c["total"] += 1
            c["calls"][op] = c["calls"].get(op, 0) + 1
            c["by_path"][route] = c["by_path"].get(route, 0) + 1
            if op in MUTATING:
                c["mutating"] += 1
            elif op == "X509Federation":
                c["federation"] += 1
            elif op != "(unknown)":
                c["read"] += 1

    def count_result(self, op, method, path, status, code, reason=None):
        with self.lock:
            c = self.counters
            if code is None:
                c["ok"][op] = c["ok"].get(op, 0) + 1
                key = ("mutating_ok" if op in MUTATING else "federation_ok" if op == "X509Federation"
                       else "read_ok")
                c[key] += 1
            else:
                c["errors"][code] = c["errors"].get(code, 0) + 1
            self.request_log.append({"t": round(time.time(), 3), "op": op, "method": method, "path": path,
                                     "status": status, "code": code, "reason": reason})
            del self.request_log[:-500]

    def count_imds(self, what):
        with self.lock:
            self.counters["imds"][what] = self.counters["imds"].get(what, 0) + 1

    # --- faults ---------------------------------------------------------------------------
    def take_fault(self, op):
        with self.lock:
            for f in self.faults:
                if f["count"] > 0 and (not f.get("operation") or f["operation"] == op):
                    f["count"] -= 1
                    out = dict(f)
                    self.faults = [x for x in self.faults if x["count"] > 0]
                    return out
        return None

    # --- identity and tokens --------------------------------------------------------------
    def rotate_identity(self, instance):
        with self.lock:
            leaf = self.pki.issue_leaf(instance, self.compartment, self.tenancy)
            leaf["instance"], leaf["revoked"] = instance, False
            self.leaf[instance] = leaf
            self.leaves[leaf["sha256"]] = leaf
            log("issued identity certificate %s for %s" % (leaf["sha256"][:23], instance))
            return leaf

    def revoke_old_leaves(self, instance):
        with self.lock:
            for lf in self.leaves.values():
                if lf["instance"] == instance and lf is not self.leaf[instance]:
                    lf["revoked"] = True

    def issue_token(self, leaf, session_key):
        now = int(time.time())
        n = session_key.public_numbers()
        jwk = {"kid": leaf["sha1"].replace(":", ""), "n": b64url(n.n.to_bytes((n.n.bit_length() + 7) // 8, "big")),
               "e": b64url(n.e.to_bytes((n.e.bit_length() + 7) // 8, "big")), "kty": "RSA", "alg": "RS256",
               "use": "sig"}
        payload = {"sub": leaf["instance"], "opc-certtype": "instance", "iss": "authService.oracle.com",
                   "fprint": leaf["sha1"], "ptype": "instance", "aud": "oci", "ttype": "x509",
                   "opc-instance": leaf["instance"], "exp": now + int(self.token_lifetime),
                   "opc-compartment": self.compartment, "iat": now, "jti": str(uuid.uuid4()),
                   "tenant": self.tenancy, "jwk": json.dumps(jwk, separators=(",", ":")),
                   "opc-tenant": self.tenancy}
        head = b64url(json.dumps({"kid": "asw", "alg": "RS256", "typ": "JWT"}, separators=(",", ":")).encode())
        body = b64url(json.dumps(payload, separators=(",", ":")).encode())
        sig = self.jwt_key.sign((head + "." + body).encode(), padding.PKCS1v15(), hashes.SHA256())
        token = head + "." + body + "." + b64url(sig)
        with self.lock:
            self.tokens[token] = {"exp": payload["exp"], "session_key": session_key, "instance": leaf["instance"],
                                  "issued": now}
            for k in [k for k, t in self.tokens.items() if t["exp"] < now - 3600]:
                del self.tokens[k]
        return token

    def take_refusal(self, service):
        """The signature refusal to apply to this request of `service` ("api" or
        "federation"), if one is pending: "tampered", "stale" or "wrong_key"."""
        with self.lock:
            for r in self.refusals:
                if r["count"] > 0 and r.get("service") in (None, service):
                    r["count"] -= 1
                    kind = r["kind"]
                    self.refusals = [x for x in self.refusals if x["count"] > 0]
                    return kind
        return None

    def expire_tokens(self):
        with self.lock:
            for t in self.tokens.values():
                t["exp"] = min(t["exp"], int(time.time()) - 1)

    # --- helpers --------------------------------------------------------------------------
    @staticmethod
    def normal_rule(r):
        """A stored rule: destination, destinationType, networkEntityId, description?, routeType."""
        out = {"destination": r.get("destination") or r.get("cidrBlock"),
               "destinationType": r.get("destinationType") or "CIDR_BLOCK",
               "networkEntityId": r["networkEntityId"]}
        if r.get("description") is not None:
            out["description"] = r["description"]
        out["routeType"] = r.get("routeType") or "STATIC"
        return out

    def instance_by_ip(self, ip):
        with self.lock:
            for p in self.private_ips.values():
                if p["ip"] == ip:
                    return self.vnics[p["vnic"]]["instance"]
        return self.topo.get("default_instance") or next(iter(self.instances))

    def new_etag(self, obj):
        obj["etag"] = secrets.token_hex(16)

    def apply_edit(self, t, edit):
        """A foreign change: {"add": rule} and/or {"remove": destination}, or {"rules": [...]}."""
        if "rules" in edit:
            t["rules"] = [self.normal_rule(r) for r in edit["rules"]]
        if edit.get("remove"):
            t["rules"] = [r for r in t["rules"] if r["destination"] != edit["remove"]]
        if edit.get("add"):
            rule = self.normal_rule(edit["add"])
            t["rules"] = [r for r in t["rules"] if r["destination"] != rule["destination"]] + [rule]
        self.new_etag(t)
        self.write_effective()

    def snapshot(self):
        with self.lock:
            return {
                "generation": self.generation, "tenancy": self.tenancy, "compartment": self.compartment,
                "region": self.region, "vcn": self.vcn,
                "subnets": [self.subnets[s] for s in self.subnet_order],
                "route_tables": [{"id": t["id"], "etag": t["etag"], "rules": t["rules"],
                                  "rule_limit": t["rule_limit"] or self.rule_limit}
                                 for t in (self.tables[i] for i in self.table_order)],
                "vnics": {k: {kk: vv for kk, vv in v.items() if kk not in ("freeformTags", "definedTags")}
                          for k, v in self.vnics.items()},
                "private_ips": copy.deepcopy(self.private_ips), "instances": copy.deepcopy(self.instances),
                "faults": copy.deepcopy(self.faults), "denied": sorted(self.denied),
                "pending_edits": copy.deepcopy(self.pending_edits), "clock_offset": self.clock_offset,
                "identities": {i: {"sha1": lf["sha1"], "sha256": lf["sha256"]} for i, lf in self.leaf.items()},
                "tokens": [{"instance": t["instance"], "exp": t["exp"]} for t in self.tokens.values()],
            }

    def write_effective(self):
        """<state>/vcn-routes.json: per subnet its route table's rules with each private-IP
        target resolved to its address (what vcn_router.py applies), and each VNIC's check."""
        with self.lock:
            self.generation += 1
            out = {"generation": self.generation, "vcn_cidrs": self.vcn["cidr_blocks"], "subnets": {}, "vnics": {}}
            for sid in self.subnet_order:
                s = self.subnets[sid]
                t = self.tables.get(s["route_table"])
                rules = []
                for r in t["rules"] if t else []:
                    ent = {"destination": r["destination"], "destinationType": r["destinationType"],
                           "target": r["networkEntityId"]}
                    p = self.private_ips.get(r["networkEntityId"])
                    if p:
                        ent["via"], ent["via_vnic"] = p["ip"], p["vnic"]
                    rules.append(ent)
                out["subnets"][sid] = {"cidr": s["cidr"], "route_table": s["route_table"], "rules": rules,
                                       "virtual_router_ip": str(ipaddress.ip_network(s["cidr"])[1])}
            for vid, v in self.vnics.items():
                out["vnics"][vid] = {"skip_source_dest_check": v["skip"], "mac": v["mac"], "subnet": v["subnet"],
                                     "ips": [self.private_ips[p]["ip"] for p in v["private_ips"]]}
            path = os.path.join(self.state_dir, "vcn-routes.json")
            with open(path + ".tmp", "w") as f:
                json.dump(out, f, indent=1, sort_keys=True)
            os.replace(path + ".tmp", path)


# ------------------------------------------------------------------------------------------
# Networking API 20160918 and the federation endpoint


ROUTES = [
    ("GET", r"/vcns/([^/]+)", "GetVcn"),
    ("GET", r"/subnets", "ListSubnets"),
    ("GET", r"/subnets/([^/]+)", "GetSubnet"),
    ("GET", r"/routeTables", "ListRouteTables"),
    ("GET", r"/routeTables/([^/]+)", "GetRouteTable"),
    ("PUT", r"/routeTables/([^/]+)", "UpdateRouteTable"),
    ("GET", r"/vnics/([^/]+)", "GetVnic"),
    ("PUT", r"/vnics/([^/]+)", "UpdateVnic"),
    ("GET", r"/privateIps", "ListPrivateIps"),
    ("GET", r"/privateIps/([^/]+)", "GetPrivateIp"),
    ("GET", r"/vnicAttachments", "ListVnicAttachments"),
]
ROUTES = [(m, re.compile(API + p + "/?$"), op, API + re.sub(r"\(\[\^/\]\+\)", "{id}", p)) for m, p, op in ROUTES]


class Api:
    def __init__(self, cloud):
        self.c = cloud

    # --- authentication -----------------------------------------------------------------
    def _date_ok(self, h, stale=False):
        raw = (h.get("x-date") or h.get("date") or [None])[0]
        if raw is None:
            raise not_authenticated("no date header")
        try:
            ts = email.utils.parsedate_to_datetime(raw).timestamp()
        except (TypeError, ValueError, IndexError):
            raise not_authenticated("date header is not an HTTP date: %r" % raw)
        skew = time.time() + self.c.clock_offset - ts
        if stale:  # as if the request had been signed 10 minutes earlier
            skew += self.c.max_skew + 300
        if abs(skew) > self.c.max_skew:
            raise not_authenticated("date is %.0f s off the fake's clock (max %.0f)" % (skew, self.c.max_skew))

    def _verify(self, method, target, headers, body, key, federation):
        auth = hv.parse_authorization((headers.get("authorization") or [None])[0])
        hv.check_policy(method, auth["headers"], federation)
        hv.check_body(headers, body)
        refuse = self.c.take_refusal("federation" if federation else "api")
        if refuse == "tampered":
            # a signed header changed on the way (the first one after the date): the
            # service sees other bytes than the client signed
            name = next((n for n in auth["headers"] if n not in ("(request-target)", "date", "x-date")),
                        auth["headers"][-1])
            headers = dict(headers)
            headers[name] = [v + "x" for v in headers.get(name) or [""]]
        self._date_ok(headers, stale=refuse == "stale")
        text = hv.signing_string(method, target, headers, auth["headers"])
        pub = key(auth)
        if refuse == "wrong_key":
            # signed with a key that is not the keyId's: verify with another one
            pub = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
        if not hv.verify(pub, text, auth["signature"]):
            raise hv.SigError("signature does not verify (keyId %.40s...)%s"
                              % (auth["keyId"], " [refused on request: %s]" % refuse if refuse else ""))

    def authenticate_api(self, method, target, headers, body):
        def key(auth):
            kid = auth["keyId"]
            if not kid.startswith("ST$"):
                raise hv.SigError("keyId is not ST$<security token>")
            with self.c.lock:
                tok = self.c.tokens.get(kid[3:])
            if tok is None:
                raise hv.SigError("unknown security token")
            if time.time() >= tok["exp"]:
                raise hv.SigError("security token expired")
            return tok["session_key"]
        try:
            self._verify(method, target, headers, body, key, False)
        except hv.SigError as e:
            raise not_authenticated(e.reason)

    def federate(self, method, target, headers, body):
        try:
            req = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ApiError(400, "CannotParseRequest", "The request body is not valid JSON.")
        if not isinstance(req, dict):
            raise ApiError(400, "CannotParseRequest", "The request body is not a JSON object.")
        for k in req:
            if k not in ("certificate", "publicKey", "intermediateCertificates", "purpose", "fingerprintAlgorithm"):
                raise invalid("Unknown field %s" % k)
        for need in ("certificate", "publicKey"):
            if not isinstance(req.get(need), str) or not req[need]:
                raise ApiError(400, "MissingParameter", "Missing %s" % need)
        if req.get("purpose", "DEFAULT") != "DEFAULT":
            raise invalid("Unsupported purpose %r" % req["purpose"])
        algo = req.get("fingerprintAlgorithm", "SHA1")
        if algo not in ("SHA1", "SHA256"):
            raise invalid("Unsupported fingerprintAlgorithm %r" % algo)
        try:
            cert = x509.load_der_x509_certificate(base64.b64decode(req["certificate"], validate=True))
        except (binascii.Error, ValueError):
            raise invalid("certificate is not a base64 DER X.509 certificate")
        try:
            session = serialization.load_der_public_key(base64.b64decode(req["publicKey"], validate=True))
        except (binascii.Error, ValueError):
            raise invalid("publicKey is not a base64 SubjectPublicKeyInfo")
        if not isinstance(session, rsa.RSAPublicKey) or session.key_size < 2048:
            raise invalid("publicKey must be an RSA key of at least 2048 bits")
        inters = req.get("intermediateCertificates") or []
        if not isinstance(inters, list):
            raise invalid("intermediateCertificates must be a list")
        inter_ders = []
        for ic in inters:
            try:
                inter_ders.append(x509.load_der_x509_certificate(base64.b64decode(ic, validate=True)))
            except (binascii.Error, ValueError, TypeError):
                raise invalid("intermediateCertificates holds something that is not a certificate")
        leaf = self.c.leaves.get(oci_pki.fingerprint(cert, "sha256"))

        def key(auth):
            m = re.fullmatch(r"(ocid1\.tenancy\.[^/]+)/(fed-x509|fed-x509-sha256)/([0-9A-Fa-f:]+)", auth["keyId"])
            if not m:
                raise hv.SigError("keyId is not <tenancy>/fed-x509[-sha256]/<fingerprint>")
            if not self.c.pki.issued_by_intermediate(cert):
                raise hv.SigError("certificate not issued by the identity intermediate")
            if inter_ders and self.c.pki.intermediate not in inter_ders:
                raise hv.SigError("intermediateCertificates do not hold the leaf's issuer")
            if leaf is None or leaf["revoked"]:
                raise hv.SigError("certificate unknown or revoked")
            if time.time() > leaf["not_after"]:
                raise hv.SigError("certificate expired")
            if m.group(1) != oci_pki.subject_value(cert, "opc-tenant:"):
                raise hv.SigError("keyId tenancy is not the certificate's opc-tenant")
            want = leaf["sha256"] if (m.group(2) == "fed-x509-sha256" or algo == "SHA256") else leaf["sha1"]
            if m.group(3).upper() != want:
                raise hv.SigError("keyId fingerprint is not the certificate's %s fingerprint"
                                  % ("SHA-256" if len(want) > 60 else "SHA-1"))
            return cert.public_key()
        try:
            self._verify(method, target, headers, body, key, True)
        except hv.SigError as e:
            raise not_authenticated(e.reason)
        return {"token": self.c.issue_token(leaf, session)}

    # --- JSON views -----------------------------------------------------------------------
    def vcn_json(self):
        v = self.c.vcn
        return {"cidrBlock": v["cidr_blocks"][0], "cidrBlocks": list(v["cidr_blocks"]),
                "compartmentId": self.c.compartment, "defaultRouteTableId": self.c.table_order[0],
                "definedTags": {}, "displayName": v.get("display_name", "vcn"), "dnsLabel": "meshvcn",
                "freeformTags": {}, "id": v["id"], "lifecycleState": "AVAILABLE",
                "timeCreated": iso(self.c.created), "vcnDomainName": "meshvcn.oraclevcn.com"}

    def subnet_json(self, s):
        net = ipaddress.ip_network(s["cidr"])
        return {"availabilityDomain": None, "cidrBlock": s["cidr"], "compartmentId": self.c.compartment,
                "definedTags": {}, "displayName": s.get("display_name", "subnet"), "dnsLabel": None,
                "freeformTags": {}, "id": s["id"], "lifecycleState": "AVAILABLE",
                "prohibitInternetIngress": True, "prohibitPublicIpOnVnic": True,
                "routeTableId": s["route_table"], "securityListIds": [], "timeCreated": iso(self.c.created),
                "vcnId": self.c.vcn["id"], "virtualRouterIp": str(net[1]), "virtualRouterMac": "00:00:17:b6:4d:dd"}

    def table_json(self, t):
        return {"compartmentId": self.c.compartment, "definedTags": t["definedTags"],
                "displayName": t["display_name"], "freeformTags": t["freeformTags"], "id": t["id"],
                "lifecycleState": "AVAILABLE", "routeRules": copy.deepcopy(t["rules"]),
                "timeCreated": iso(self.c.created), "vcnId": self.c.vcn["id"]}

    def vnic_json(self, v):
        p = self.c.private_ips[v["private_ips"][0]]
        return {"availabilityDomain": self.c.topo["availability_domain"], "compartmentId": self.c.compartment,
                "definedTags": v["definedTags"], "displayName": v["display_name"], "freeformTags": v["freeformTags"],
                "hostnameLabel": None, "id": v["id"], "isPrimary": v["primary"], "lifecycleState": "AVAILABLE",
                "macAddress": v["mac"].upper(), "nsgIds": v["nsgIds"], "privateIp": p["ip"], "publicIp": None,
                "skipSourceDestCheck": v["skip"], "subnetId": v["subnet"], "timeCreated": iso(self.c.created),
                "vlanId": None}

    def pip_json(self, p):
        return {"availabilityDomain": self.c.topo["availability_domain"], "compartmentId": self.c.compartment,
                "definedTags": {}, "displayName": "privateip%s" % p["ip"].replace(".", ""), "freeformTags": {},
                "hostnameLabel": None, "id": p["id"], "ipAddress": p["ip"], "isPrimary": p["primary"],
                "lifecycleState": "AVAILABLE", "subnetId": p["subnet"], "timeCreated": iso(self.c.created),
                "vlanId": None, "vnicId": p["vnic"]}

    # --- paging ---------------------------------------------------------------------------
    @staticmethod
    def _qkey(q):
        import hashlib
        kv = sorted((k, v) for k, v in q.items() if k not in ("page", "limit"))
        return hashlib.sha256(json.dumps(kv).encode()).hexdigest()[:12]

    def page(self, items, q):
        limit = q.get("limit")
        if limit is not None:
            if not limit.isdigit() or not 1 <= int(limit) <= 1000:
                raise invalid("limit must be between 1 and 1000")
            size = int(limit)
        else:
            size = self.c.force_page_size or len(items) or 1
        start = 0
        if q.get("page") is not None:
            try:
                key, off = base64.urlsafe_b64decode(q["page"].encode()).decode().split(":")
                start = int(off)
            except (ValueError, binascii.Error, UnicodeDecodeError):
                raise invalid("Invalid page token")
            if key != self._qkey(q) or not 0 <= start <= len(items):
                raise invalid("Invalid page token")
        sel = items[start:start + size]
        nxt = None
        if start + size < len(items):
            nxt = base64.urlsafe_b64encode(("%s:%d" % (self._qkey(q), start + size)).encode()).decode()
        return sel, nxt

    def _compartment(self, q):
        comp = q.get("compartmentId")
        if not comp:
            raise ApiError(400, "MissingParameter", "Missing required parameter compartmentId")
        if comp != self.c.compartment:
            raise not_found()

    # --- operations -----------------------------------------------------------------------
    def GetVcn(self, ident, q, body, h):
        if ident != self.c.vcn["id"]:
            raise not_found()
        return 200, self.vcn_json(), {}

    def ListSubnets(self, ident, q, body, h):
        self._compartment(q)
        vcn = q.get("vcnId")
        items = [self.subnet_json(self.c.subnets[s]) for s in self.c.subnet_order
                 if not vcn or vcn == self.c.vcn["id"]]
        sel, nxt = self.page(items, q)
        return 200, sel, {"opc-next-page": nxt} if nxt else {}

    def GetSubnet(self, ident, q, body, h):
        s = self.c.subnets.get(ident)
        if s is None:
            raise not_found()
        return 200, self.subnet_json(s), {"etag": "sn-" + ident[-12:]}

    def ListRouteTables(self, ident, q, body, h):
        self._compartment(q)
        vcn = q.get("vcnId")
        items = [self.table_json(self.c.tables[t]) for t in self.c.table_order
                 if not vcn or vcn == self.c.vcn["id"]]
        sel, nxt = self.page(items, q)
        return 200, sel, {"opc-next-page": nxt} if nxt else {}

    def _table(self, ident):
        t = self.c.tables.get(ident)
        if t is None:
            raise not_found()
        return t

    def GetRouteTable(self, ident, q, body, h):
        t = self._table(ident)
        return 200, self.table_json(t), {"etag": t["etag"]}

    def _json_body(self, body):
        try:
            req = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ApiError(400, "CannotParseRequest", "The request body is not valid JSON.")
        if not isinstance(req, dict):
            raise ApiError(400, "CannotParseRequest", "The request body must be a JSON object.")
        return req

    def _if_match(self, obj, h):
        want = (h.get("if-match") or [None])[0]
        if want is not None and want != obj["etag"]:
            raise ApiError(412, "NoEtagMatch",
                           "The resource's etag does not match the value of the if-match header.")

    def _check_rule(self, r, t):
        if not isinstance(r, dict):
            raise invalid("routeRules entries must be objects")
        for k in r:
            if k not in RULE_KEYS:
                raise invalid("Unknown field routeRules.%s" % k)
        if r.get("cidrBlock") is not None and r.get("destination") is not None:
            raise invalid("Only one of cidrBlock and destination may be given")
        dest = r.get("destination") if r.get("destination") is not None else r.get("cidrBlock")
        if not isinstance(dest, str) or not dest:
            raise invalid("routeRules.destination may not be null")
        dtype = r.get("destinationType") or "CIDR_BLOCK"
        if dtype not in ("CIDR_BLOCK", "SERVICE_CIDR_BLOCK"):
            raise invalid("Invalid destinationType %r" % dtype)
        if dtype == "CIDR_BLOCK":
            try:
                ipaddress.ip_network(dest, strict=True)
            except ValueError:
                raise invalid("Invalid CIDR block %s" % dest)
            if "/" not in dest:
                raise invalid("Invalid CIDR block %s" % dest)
        elif dest not in self.c.services:
            raise invalid("Invalid service CIDR label %s" % dest)
        rtype = r.get("routeType") or "STATIC"
        if rtype not in ("STATIC", "LOCAL"):
            raise invalid("Invalid routeType %r" % rtype)
        desc = r.get("description")
        if desc is not None and (not isinstance(desc, str) or len(desc) > 255):
            raise invalid("description must be a string of at most 255 characters")
        ent = r.get("networkEntityId")
        if not isinstance(ent, str) or not ent:
            raise invalid("routeRules.networkEntityId may not be null")
        if ent not in self.c.private_ips and ent not in self.c.gateways:
            raise ApiError(400, "RelatedResourceNotAuthorizedOrNotFound",
                           "The networkEntityId %s was not found or you are not authorized to use it." % ent)
        rule = self.c.normal_rule(r)
        if rtype == "LOCAL" and rule not in t["rules"]:
            raise invalid("Rules of routeType LOCAL are managed by the service")
        return rule

    def UpdateRouteTable(self, ident, q, body, h):
        t = self._table(ident)
        req = self._json_body(body)
        for k in req:
            if k not in ("routeRules", "displayName", "freeformTags", "definedTags"):
                raise invalid("Unknown field %s" % k)
        # a foreign change planned for this moment lands first (between the client's GET and PUT)
        for edit in self.c.pending_edits.pop(ident, []):
            log("concurrent edit of %s before this PUT: %s" % (ident[-12:], edit))
            self.c.apply_edit(t, edit)
        self._if_match(t, h)
        new_rules = None
        if "routeRules" in req:
            if not isinstance(req["routeRules"], list):
                raise invalid("routeRules must be a list")
            new_rules = [self._check_rule(r, t) for r in req["routeRules"]]
            seen = set()
            for r in new_rules:
                if r["destination"] in seen:
                    raise invalid("Duplicate route rule destination %s" % r["destination"])
                seen.add(r["destination"])
            # LOCAL rules are the service's: the ones left out are kept
            for r in t["rules"]:
                if r["routeType"] == "LOCAL" and r not in new_rules:
                    new_rules.append(r)
            limit = t["rule_limit"] or self.c.rule_limit
            if sum(1 for r in new_rules if r["routeType"] == "STATIC") > limit:
                raise ApiError(400, "LimitExceeded",
                               "The number of route rules exceeds the limit of %d per route table." % limit)
        if "displayName" in req:
            if not isinstance(req["displayName"], str):
                raise invalid("displayName must be a string")
            t["display_name"] = req["displayName"]
        for k in ("freeformTags", "definedTags"):
            if k in req:
                if not isinstance(req[k], dict):
                    raise invalid("%s must be an object" % k)
                t[k] = req[k]
        if new_rules is not None:
            t["rules"] = new_rules
        self.c.new_etag(t)
        self.c.write_effective()
        return 200, self.table_json(t), {"etag": t["etag"]}

    def _vnic(self, ident):
        v = self.c.vnics.get(ident)
        if v is None:
            raise not_found()
        return v

    def GetVnic(self, ident, q, body, h):
        v = self._vnic(ident)
        return 200, self.vnic_json(v), {"etag": v["etag"]}

    def UpdateVnic(self, ident, q, body, h):
        v = self._vnic(ident)
        req = self._json_body(body)
        for k in req:
            if k not in ("skipSourceDestCheck", "displayName", "hostnameLabel", "nsgIds", "freeformTags",
                         "definedTags", "routeTableId"):
                raise invalid("Unknown field %s" % k)
        self._if_match(v, h)
        if "skipSourceDestCheck" in req:
            if not isinstance(req["skipSourceDestCheck"], bool):
                raise invalid("skipSourceDestCheck must be a boolean")
            v["skip"] = req["skipSourceDestCheck"]
        if "displayName" in req:
            if not isinstance(req["displayName"], str):
                raise invalid("displayName must be a string")
            v["display_name"] = req["displayName"]
        for k in ("freeformTags", "definedTags"):
            if k in req:
                if not isinstance(req[k], dict):
                    raise invalid("%s must be an object" % k)
                v[k] = req[k]
        if "routeTableId" in req and req["routeTableId"] is not None and req["routeTableId"] not in self.c.tables:
            raise ApiError(400, "RelatedResourceNotAuthorizedOrNotFound", "routeTableId not found")
        self.c.new_etag(v)
        self.c.write_effective()
        return 200, self.vnic_json(v), {"etag": v["etag"]}

    def ListPrivateIps(self, ident, q, body, h):
        vnic, subnet, ip = q.get("vnicId"), q.get("subnetId"), q.get("ipAddress")
        if not vnic and not subnet:
            raise ApiError(400, "MissingParameter", "One of vnicId, subnetId or vlanId is required")
        if vnic and vnic not in self.c.vnics:
            raise not_found()
        if subnet and subnet not in self.c.subnets:
            raise not_found()
        items = [self.pip_json(p) for p in self.c.private_ips.values()
                 if (not vnic or p["vnic"] == vnic) and (not subnet or p["subnet"] == subnet)
                 and (not ip or p["ip"] == ip)]
        sel, nxt = self.page(items, q)
        return 200, sel, {"opc-next-page": nxt} if nxt else {}

    def GetPrivateIp(self, ident, q, body, h):
        p = self.c.private_ips.get(ident)
        if p is None:
            raise not_found()
        return 200, self.pip_json(p), {"etag": "pip-" + ident[-12:]}

    def ListVnicAttachments(self, ident, q, body, h):
        self._compartment(q)
        inst = q.get("instanceId")
        items = []
        for v in self.c.vnics.values():
            if inst and v["instance"] != inst:
                continue
            items.append({"availabilityDomain": self.c.topo["availability_domain"],
                          "compartmentId": self.c.compartment, "displayName": v["display_name"],
                          "id": "ocid1.vnicattachment.oc1.phx." + v["id"].rsplit(".", 1)[-1],
                          "instanceId": v["instance"], "lifecycleState": "ATTACHED", "nicIndex": v["nic_index"],
                          "subnetId": v["subnet"], "timeCreated": iso(self.c.created), "vlanTag": v["vlan_tag"],
                          "vnicId": v["id"]})
        sel, nxt = self.page(items, q)
        return 200, sel, {"opc-next-page": nxt} if nxt else {}


class ApiHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-oci"
    sys_version = ""

    def date_time_string(self, timestamp=None):
        # the Date header is the service's clock, /clock offset included
        return email.utils.formatdate((timestamp or time.time()) + self.server.cloud.clock_offset, usegmt=True)

    def log_message(self, fmt, *a):
        if self.server.cloud.args.verbose:
            log("api " + fmt % a)

    def _send(self, status, obj, rid, extra=None, raw=None, ctype="application/json"):
        data = raw if raw is not None else json.dumps(obj, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("opc-request-id", rid)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._serve("GET")

    def do_PUT(self):
        self._serve("PUT")

    def do_POST(self):
        self._serve("POST")

    def do_DELETE(self):
        self._serve("DELETE")

    def _route(self, method, path, host):
        """(op, ident, route template) or raise."""
        region = self.server.cloud.region
        name = host.rsplit(":", 1)[0] if host and not host.endswith("]") else host
        if path.rstrip("/") == "/v1/x509":
            if name != "auth.%s.oraclecloud.com" % region:
                raise ApiError(404, "NotFound", "No such host/path: %s%s" % (host, path))
            if method != "POST":
                raise ApiError(405, "MethodNotAllowed", "Only POST is allowed on /v1/x509")
            return "X509Federation", None, "POST /v1/x509"
        if name != "iaas.%s.oraclecloud.com" % region:
            raise ApiError(404, "NotFound", "No such host/path: %s%s" % (host, path))
        known = False
        for m, rx, op, tmpl in ROUTES:
            mm = rx.match(path)
            if mm:
                known = True
                if m == method:
                    return op, (urllib.parse.unquote(mm.group(1)) if mm.groups() else None), "%s %s" % (m, tmpl)
        if known:
            raise ApiError(405, "MethodNotAllowed", "%s is not allowed on %s" % (method, path))
        raise ApiError(404, "NotFound", "There is no operation at %s %s" % (method, path))

    def _serve(self, method):
        cloud, api = self.server.cloud, self.server.api
        rid = self.headers.get("opc-request-id") or uuid.uuid4().hex.upper()
        target = self.path
        path, _, raw_query = target.partition("?")
        op, route = "(unknown)", "%s %s" % (method, path)
        n = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            cloud.count_call(op, route)
            cloud.count_result(op, method, path, 411, "LengthRequired")
            return self._send(411, {"code": "LengthRequired", "message": "Content-Length is required"}, rid)
        if n is not None and (not n.isdigit() or int(n) > MAX_BODY):
            self.close_connection = True
            cloud.count_call(op, route)
            cloud.count_result(op, method, path, 400, "CannotParseRequest")
            return self._send(400, {"code": "CannotParseRequest", "message": "Bad or too large Content-Length"}, rid)
        body = self.rfile.read(int(n)) if n else b""
        try:
            op, ident, route = self._route(method, path, self.headers.get("Host", ""))
        except ApiError as e:
            cloud.count_call(op, route)
            cloud.count_result(op, method, path, e.status, e.code)
            return self._send(e.status, {"code": e.code, "message": e.message}, rid)
        cloud.count_call(op, route)
        fault = cloud.take_fault(op)
        if fault:
            return self._fault(fault, op, method, path, rid)
        headers = hv.header_map(self.headers.items())
        status, code, reason, extra = 200, None, None, {}
        try:
            if op == "X509Federation":
                out = api.federate(method, target, headers, body)
            else:
                api.authenticate_api(method, target, headers, body)
                if op in cloud.denied:
                    raise not_found()
                q = dict(urllib.parse.parse_qsl(raw_query, keep_blank_values=True))
                with cloud.lock:
                    status, out, extra = getattr(api, op)(ident, q, body, headers)
        except ApiError as e:
            status, code, reason = e.status, e.code, e.reason
            out = {"code": e.code, "message": e.message}
        except Exception as e:  # a bug in the fake: answer like OCI would and say so
            log("internal error in %s: %r" % (op, e))
            status, code, reason = 500, "InternalServerError", repr(e)
            out = {"code": "InternalServerError", "message": "Internal server error"}
        cloud.count_result(op, method, path, status, code, reason)
        if code:
            log("%s %s -> %d %s%s" % (method, path[:60], status, code, " (%s)" % reason if reason else ""))
        self._send(status, out, rid, extra)

    FAULTS = {
        "throttle": (429, "TooManyRequests", "Too many requests for the tenancy."),
        "incorrect_state": (409, "IncorrectState", "The resource is in a state that does not allow this operation."),
        "lock_conflict": (409, "LockConflict", "The resource is locked by another operation."),
        "500": (500, "InternalServerError", "Internal server error"),
        "503": (503, "ServiceUnavailable", "The service is temporarily unavailable."),
        "501": (501, "MethodNotImplemented", "The operation is not implemented."),
    }

    def _fault(self, fault, op, method, path, rid):
        cloud = self.server.cloud
        kind = fault["kind"]
        log("fault %s for %s" % (kind, op))
        cloud.count_result(op, method, path, 0, "fault:" + kind)
        if kind in self.FAULTS:
            st, code, msg = self.FAULTS[kind]
            return self._send(st, {"code": code, "message": msg}, rid)
        if kind == "hang":
            time.sleep(float(fault.get("seconds") or cloud.hang_seconds))
            self.close_connection = True
            return
        if kind == "malformed":
            return self._send(200, None, rid, raw=b'{"id": "ocid1.routetable.oc1.phx.aaaa", "routeRules": [{"desti')
        if kind == "garbage":
            return self._send(200, None, rid, raw=b"<html><body>502 Bad Gateway</body></html>", ctype="text/html")


# ------------------------------------------------------------------------------------------
# IMDS v2


class ImdsHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-oci-imds"
    sys_version = ""

    def log_message(self, fmt, *a):
        if self.server.cloud.args.verbose:
            log("imds " + fmt % a)

    def _send(self, status, body, ctype="text/plain"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _err(self, status, code, message):
        self._send(status, json.dumps({"code": code, "message": message}), "application/json")

    def do_PUT(self):
        self._err(405, "MethodNotAllowed", "Method not allowed")

    do_POST = do_PUT
    do_DELETE = do_PUT

    def do_GET(self):
        cloud = self.server.cloud
        path = self.path.split("?")[0]
        for h in ("Forwarded", "X-Forwarded-For", "X-Forwarded-Host"):
            if self.headers.get(h) is not None:
                cloud.count_imds("forwarded")
                return self._err(403, "Forbidden", "Requests with %s are not allowed" % h)
        if not path.startswith("/opc/v2/"):
            cloud.count_imds("not-v2")
            return self._err(404, "NotFound", "Not found")
        if self.headers.get("Authorization") != "Bearer Oracle":
            cloud.count_imds("unauthorized")
            return self._err(401, "NotAuthenticated", "Authorization header 'Bearer Oracle' is required")
        inst = cloud.instance_by_ip(self.client_address[0])
        parts = [p for p in path[len("/opc/v2/"):].split("/") if p]
        node = self.tree(cloud, inst)
        for p in parts:
            if isinstance(node, list) and p.isdigit() and int(p) < len(node):
                node = node[int(p)]
            elif isinstance(node, dict) and p in node:
                node = node[p]
            else:
                cloud.count_imds("notfound")
                return self._err(404, "NotFound", "Not found")
        cloud.count_imds("/".join(parts) or "/")
        if isinstance(node, (dict, list)):
            return self._send(200, json.dumps(node, indent=2), "application/json")
        if isinstance(node, (int, bool)) or node is None:
            return self._send(200, json.dumps(node))
        ctype = "application/x-pem-file" if parts and parts[-1].endswith(".pem") else "text/plain"
        self._send(200, node, ctype)

    @staticmethod
    def tree(cloud, inst_id):
        topo = cloud.topo
        with cloud.lock:
            inst = cloud.instances[inst_id]
            vnics = [cloud.vnics[v] for v in inst["vnics"]]
            leaf = cloud.leaf[inst_id]
            vlist = []
            for v in vnics:
                s = cloud.subnets[v["subnet"]]
                vlist.append({"vnicId": v["id"], "privateIp": cloud.private_ips[v["private_ips"][0]]["ip"],
                              "vlanTag": v["vlan_tag"], "macAddr": v["mac"],
                              "virtualRouterIp": str(ipaddress.ip_network(s["cidr"])[1]),
                              "subnetCidrBlock": s["cidr"], "nicIndex": v["nic_index"]})
        key = topo.get("region_key", "PHX")
        ad = topo["availability_domain"]
        instance = {
            "availabilityDomain": ad, "canonicalRegionName": topo["region"], "compartmentId": cloud.compartment,
            "displayName": inst["display_name"], "faultDomain": "FAULT-DOMAIN-1", "hostname": inst["display_name"],
            "id": inst_id, "image": "ocid1.image.oc1.phx.aaaaaaaafakeimage" + "0" * 34, "metadata": {},
            "ociAdName": ad.split(":")[-1].lower(), "region": key.lower(),
            "regionInfo": {"realmDomainComponent": "oraclecloud.com", "realmKey": "oc1",
                           "regionIdentifier": topo["region"], "regionKey": key},
            "shape": "VM.Standard.E4.Flex", "state": "Running", "tenantId": cloud.tenancy,
            "timeCreated": int(cloud.created * 1000),
        }
        return {"instance": instance, "vnics": vlist,
                "identity": {"cert.pem": leaf["cert_pem"], "key.pem": leaf["key_pem"],
                             "intermediate.pem": oci_pki.pem(cloud.pki.intermediate)}}


# ------------------------------------------------------------------------------------------
# Control API


class ControlHandler(fakectl.ControlHandler):
    MODEL = "cloud"
    LOG = staticmethod(log)

    CONFIG = ("rule_limit", "max_skew", "token_lifetime", "hang_seconds", "force_page_size")

    @staticmethod
    def dispatch(c, p, req):
        if p == "/fault":
            kind = req["kind"]
            if kind not in list(ApiHandler.FAULTS) + ["hang", "malformed", "garbage"]:
                raise ValueError("unknown fault kind " + kind)
            c.faults.append({"kind": kind, "count": int(req.get("count", 1)), "operation": req.get("operation"),
                             "seconds": req.get("seconds")})
            return {"faults": c.faults}
        if p == "/signature/refuse":
            kind = req.get("kind")
            if kind is None:
                c.refusals = []
                return {"refusals": []}
            if kind not in ("tampered", "stale", "wrong_key"):
                raise ValueError("unknown refusal kind %r" % kind)
            if req.get("service") not in (None, "api", "federation"):
                raise ValueError("service is api or federation")
            with c.lock:
                c.refusals.append({"kind": kind, "count": int(req.get("count", 1)), "service": req.get("service")})
            return {"refusals": c.refusals}
        if p == "/deny":
            c.denied.add(req["operation"])
            return {"denied": sorted(c.denied)}
        if p == "/allow":
            c.denied.discard(req["operation"])
            return {"denied": sorted(c.denied)}
        if p == "/counters/reset":
            c.reset_counters()
            return {"ok": True}
        if p == "/reset":
            c.faults, c.denied, c.pending_edits, c.clock_offset = [], set(), {}, 0.0
            c.refusals = []
            c.reset_counters()
            return {"ok": True}
        if p == "/clock":
            c.clock_offset = float(req["offset"])
            return {"clock_offset": c.clock_offset}
        if p == "/config":
            for k in ControlHandler.CONFIG:
                if k in req:
                    setattr(c, k, type(getattr(c, k))(req[k]))
            return {k: getattr(c, k) for k in ControlHandler.CONFIG}
        if p == "/token/expire":
            c.expire_tokens()
            return {"ok": True}
        if p == "/identity/rotate":
            out = {}
            for inst in [req["instance"]] if req.get("instance") else list(c.instances):
                lf = c.rotate_identity(inst)
                if req.get("revoke_old"):
                    c.revoke_old_leaves(inst)
                out[inst] = {"sha1": lf["sha1"], "sha256": lf["sha256"]}
            return out
        if p == "/concurrent-edit":   # lands at the next PUT of that table, before its if-match check
            t = c.tables[req["route_table"]]
            edit = {k: req[k] for k in ("add", "remove", "rules") if k in req}
            if not edit:
                raise ValueError("give add, remove or rules")
            c.pending_edits.setdefault(t["id"], []).append(edit)
            return {"pending": c.pending_edits[t["id"]]}
        if p == "/route-table/edit":  # a foreign change now
            t = c.tables[req["route_table"]]
            c.apply_edit(t, {k: req[k] for k in ("add", "remove", "rules") if k in req})
            return {"etag": t["etag"], "rules": t["rules"]}
        if p == "/route-table/limit":
            c.tables[req["route_table"]]["rule_limit"] = req.get("limit")
            return {"ok": True}
        if p == "/vnic/skip-source-dest-check":
            v = c.vnics[req["vnic"]]
            v["skip"] = bool(req["value"])
            c.new_etag(v)
            c.write_effective()
            return {"ok": True}
        if p == "/subnet/route-table":
            c.subnets[req["subnet"]]["route_table"] = c.tables[req["route_table"]]["id"]
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


def load_topology(path):
    topo = copy.deepcopy(DEFAULT_TOPOLOGY)
    if path:
        with open(path) as f:
            topo.update(json.load(f))
    return topo


def main(argv=None):
    ap = argparse.ArgumentParser(description="fake OCI (IMDS v2, x509 federation, Networking API) for meshgate tests")
    ap.add_argument("--state-dir", required=True, help="writes ca.pem, ready.json, vcn-routes.json here")
    ap.add_argument("--topology", help="JSON file overriding top-level keys of the default topology")
    ap.add_argument("--imds-listen", default="169.254.169.254:80", help="ADDR:PORT, or 'off'")
    ap.add_argument("--api-listen", default="0.0.0.0:443", help="ADDR:PORT of the HTTPS auth + iaas endpoint")
    ap.add_argument("--api-san", action="append", default=[], help="extra name or IP in the TLS certificate")
    ap.add_argument("--control-listen", default="127.0.0.1:8798")
    ap.add_argument("--token-lifetime", type=float, default=1200.0, help="seconds until a security token's exp")
    ap.add_argument("--cert-lifetime", type=float, default=86400.0, help="seconds an identity leaf is valid")
    ap.add_argument("--max-skew", type=float, default=300.0, help="NotAuthenticated beyond this date skew")
    ap.add_argument("--rule-limit", type=int, default=200, help="STATIC route rules per route table")
    ap.add_argument("--hang-seconds", type=float, default=60.0)
    ap.add_argument("--force-page-size", type=int, default=0, help="page lists even without limit=")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    os.makedirs(args.state_dir, exist_ok=True)
    topo = load_topology(args.topology)
    cloud = Cloud(topo, args)

    servers = []
    imds_addr = None
    if args.imds_listen != "off":
        imds_addr = split_addr(args.imds_listen, 80)
        s = Server(imds_addr, ImdsHandler)
        s.cloud = cloud
        servers.append(s)
    ca, crt, key = oci_pki.make_tls(args.state_dir, topo["region"], args.api_san)
    api_addr = split_addr(args.api_listen, 443)
    asrv = Server(api_addr, ApiHandler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    asrv.socket = ctx.wrap_socket(asrv.socket, server_side=True, do_handshake_on_connect=False)
    asrv.cloud, asrv.api = cloud, Api(cloud)
    servers.append(asrv)
    ctl_addr = split_addr(args.control_listen, 8798)
    cs = Server(ctl_addr, ControlHandler)
    cs.cloud = cloud
    servers.append(cs)
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()

    jwt_pub = os.path.join(args.state_dir, "jwt-key.pem")
    with open(jwt_pub, "wb") as f:
        f.write(cloud.jwt_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                        serialization.PublicFormat.SubjectPublicKeyInfo))
    region = topo["region"]
    ready = {"pid": os.getpid(), "ca": ca, "state_dir": args.state_dir,
             "imds": "http://%s:%d" % imds_addr if imds_addr else None,
             "api": "https://%s:%d" % api_addr, "auth_host": "auth.%s.oraclecloud.com" % region,
             "iaas_host": "iaas.%s.oraclecloud.com" % region, "control": "http://%s:%d" % ctl_addr,
             "region": region, "tenancy": cloud.tenancy, "compartment": cloud.compartment,
             "vcn": cloud.vcn["id"], "jwt_key": jwt_pub, "routes": os.path.join(args.state_dir, "vcn-routes.json")}
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
