"""metadata_server: the fake GCE metadata server (plain HTTP, /computeMetadata/v1/).

Rules modelled: `Metadata-Flavor: Google` required (403 without), every answer carries
`Metadata-Flavor: Google`; a request with X-Forwarded-For is refused (403); a directory without
its trailing slash redirects (301); `?recursive=true` gives JSON (camelCase keys, the numeric id
as a JSON number, the token left out), `&alt=text` the flattened "path value" form; `?alt=json`
JSON-encodes a leaf; plain leaves are text (`Content-Type: application/text`). The client's
source address picks the instance described (else the topology's default_instance).
"""

import hashlib
import http.server
import ipaddress
import json
import time
import urllib.parse

from gcp_state import log

FORBIDDEN_HTML = ("<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n  <title>Error 403 (Forbidden)!!1</title>\n"
                  "  <p><b>403.</b> <ins>That\u2019s an error.</ins>\n  <p>Your client does not have permission to get "
                  "URL <code>%s</code> from this server. %s <ins>That\u2019s all we know.</ins>\n")
NOT_FOUND_HTML = ("<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n  <title>Error 404 (Not Found)!!1</title>\n"
                  "  <p><b>404.</b> <ins>That\u2019s an error.</ins>\n  <p>The requested URL <code>%s</code> was not "
                  "found on this server.  <ins>That\u2019s all we know.</ins>\n")


class Lines(list):
    """A leaf shown as one item per line in text, a JSON array in JSON."""


class JsonList(list):
    """A leaf whose text form is itself a JSON array (instance/tags)."""


class Num(str):
    """A leaf that is a number in recursive JSON (instance/id) and digits in text."""


class Token:
    """The token leaf: always JSON, never part of a recursive answer."""

    def __init__(self, fn):
        self.fn = fn


def camel(key):
    parts = key.split("-")
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


def to_json(node, raw_keys=False):
    if isinstance(node, dict):
        return {(k if raw_keys else camel(k)): to_json(v, k in ("attributes", "service-accounts"))
                for k, v in node.items() if not isinstance(v, Token)}
    if isinstance(node, Num):
        return int(node)
    if isinstance(node, (Lines, JsonList)):
        return list(node)
    if isinstance(node, list):
        return [to_json(v) for v in node]
    return node


def to_text(node, prefix=""):
    """recursive=true&alt=text: one 'path value' line per leaf."""
    lines = []
    if isinstance(node, dict):
        items = node.items()
    elif isinstance(node, list) and not isinstance(node, (Lines, JsonList)):
        items = ((str(i), v) for i, v in enumerate(node))
    else:
        val = json.dumps(list(node)) if isinstance(node, JsonList) else (
            " ".join(node) if isinstance(node, Lines) else str(node))
        return ["%s %s" % (prefix, val) if prefix else val]
    for k, v in items:
        if isinstance(v, Token):
            continue
        lines.extend(to_text(v, (prefix + "/" if prefix else "") + k))
    return lines


def leaf_text(node):
    if isinstance(node, Lines):
        return "".join(x + "\n" for x in node)
    if isinstance(node, JsonList):
        return json.dumps(list(node))
    return str(node)


def tree(project, inst_name):
    p = project
    with p.lock:
        inst = dict(p.instances[inst_name])
        sub = next(s for s in p.subnets if s["name"] == inst["subnet"])
    net = ipaddress.ip_network(sub["cidr"])
    sa = {"aliases": Lines(["default"]), "email": inst["email"], "scopes": Lines(inst["scopes"]),
          "token": Token(lambda: p.token_for(inst_name))}
    zone = "projects/%s/zones/%s" % (p.number, inst["zone"])
    return {
        "instance": {
            "attributes": {}, "cpu-platform": "Intel Broadwell", "description": "",
            "disks": [{"device-name": "persistent-disk-0", "index": "0", "interface": "SCSI",
                       "mode": "READ_WRITE", "type": "PERSISTENT-BALANCED"}],
            "hostname": "%s.%s.c.%s.internal" % (inst["name"], inst["zone"], p.project),
            "id": Num(inst["id"]), "image": "projects/debian-cloud/global/images/debian-12-bookworm-v20240110",
            "machine-type": "projects/%s/machineTypes/e2-small" % p.number,
            "maintenance-event": "NONE", "name": inst["name"],
            "network-interfaces": [{
                "access-configs": [], "dns-servers": Lines(["169.254.169.254"]), "forwarded-ips": [],
                "gateway": str(next(net.hosts())), "ip": inst["ip"], "ip-aliases": [], "mac": inst["mac"],
                "mtu": str(p.net.get("mtu", 1460)), "network": "projects/%s/networks/%s" % (p.number, p.net["name"]),
                "subnetmask": str(net.netmask), "target-instance-ips": []}],
            "preempted": "FALSE",
            "scheduling": {"automatic-restart": "TRUE", "on-host-maintenance": "MIGRATE", "preemptible": "FALSE"},
            "service-accounts": {"default": sa, inst["email"]: dict(sa)},
            "tags": JsonList(inst["tags"]), "zone": zone,
        },
        "project": {"attributes": {}, "numeric-project-id": Num(p.number), "project-id": p.project},
    }


class MetadataHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Metadata Server for VM"
    sys_version = ""

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *a):
        if self.server.project.args.verbose:
            log("metadata " + fmt % a)

    def _send(self, status, body, ctype="application/text", extra=()):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Metadata-Flavor", "Google")
        self.send_header("Content-Type", ctype)
        self.send_header("ETag", hashlib.sha256(data).hexdigest()[:16])
        self.send_header("X-XSS-Protection", "0")
        self.send_header("X-Frame-Options", "SAMEORIGIN")
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_POST(self):
        self._send(405, "")

    do_PUT = do_POST
    do_DELETE = do_POST

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        p = self.server.project
        path, _, qs = self.path.partition("?")
        q = dict(urllib.parse.parse_qsl(qs, keep_blank_values=True))
        if self.headers.get("X-Forwarded-For") is not None:
            p.count_metadata("forwarded")
            return self._send(403, FORBIDDEN_HTML % (path, "Request contains an X-Forwarded-For header."),
                              ctype="text/html; charset=UTF-8")
        if self.headers.get("Metadata-Flavor") != "Google":
            p.count_metadata("no-flavor")
            return self._send(403, FORBIDDEN_HTML % (path, "Missing Metadata-Flavor:Google header."),
                              ctype="text/html; charset=UTF-8")
        is_token = path.endswith("/token") and "/service-accounts/" in path
        method = "metadata.token" if is_token else "metadata.get"
        fault = p.take_fault(method)
        if fault:
            kind = fault["kind"]
            log("fault %s for %s" % (kind, method))
            p.count_metadata("fault:" + kind)
            if kind == "hang":
                time.sleep(float(fault.get("seconds") or p.hang_seconds))
                self.close_connection = True
                return
            if kind in ("500", "internal"):
                return self._send(500, "Internal Server Error\n", ctype="text/plain")
            if kind in ("503", "unavailable"):
                return self._send(503, "Service Unavailable\n", ctype="text/plain")
            if kind == "malformed":
                return self._send(200, '{"access_token":"ya29.c.trunc', ctype="application/json")
            return self._send(200, "<html><body>502 Bad Gateway</body></html>", ctype="text/html")
        root = "/computeMetadata/v1"
        if path in ("/", ""):
            return self._send(200, "computeMetadata/\n")
        if path in ("/computeMetadata", "/computeMetadata/"):
            return self._send(200, "v1/\n") if path.endswith("/") else self._redirect(path)
        if not (path == root or path.startswith(root + "/")):
            p.count_metadata("notfound")
            return self._send(404, NOT_FOUND_HTML % path, ctype="text/html; charset=UTF-8")
        inst = p.instance_by_ip(self.client_address[0])
        node = tree(p, inst)
        parts = [x for x in path[len(root):].split("/") if x]
        for part in parts:
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and not isinstance(node, (Lines, JsonList)) and part.isdigit() \
                    and int(part) < len(node):
                node = node[int(part)]
            else:
                p.count_metadata("notfound")
                return self._send(404, NOT_FOUND_HTML % path, ctype="text/html; charset=UTF-8")
        p.count_metadata("/".join(parts) or "/")
        is_dir = isinstance(node, dict) or (isinstance(node, list) and not isinstance(node, (Lines, JsonList)))
        recursive = q.get("recursive", "").lower() == "true"
        alt = q.get("alt")
        if isinstance(node, Token):
            tok, rec = node.fn()
            body = json.dumps({"access_token": tok, "expires_in": max(0, int(rec["expires"] - time.time())),
                               "token_type": "Bearer"})
            return self._send(200, body, ctype="application/json")
        if is_dir:
            if not path.endswith("/") and not recursive:
                return self._redirect(path)
            if recursive:
                if alt == "text":
                    return self._send(200, "\n".join(to_text(node)) + "\n")
                return self._send(200, json.dumps(to_json(node)), ctype="application/json")
            names = [k + "/" if isinstance(v, (dict, list)) and not isinstance(v, (Lines, JsonList)) else k
                     for k, v in (node.items() if isinstance(node, dict) else
                                  ((str(i), v) for i, v in enumerate(node)))]
            if alt == "json":
                return self._send(200, json.dumps(names), ctype="application/json")
            return self._send(200, "".join(n + "\n" for n in names))
        if path.endswith("/"):
            p.count_metadata("notfound")
            return self._send(404, NOT_FOUND_HTML % path, ctype="text/html; charset=UTF-8")
        if alt == "json":
            return self._send(200, json.dumps(to_json(node)), ctype="application/json")
        return self._send(200, leaf_text(node))

    def _redirect(self, path):
        loc = path + "/"
        return self._send(301, "<HTML><HEAD>301 Moved</HEAD><BODY>%s</BODY></HTML>" % loc,
                          ctype="text/html; charset=UTF-8", extra=[("Location", loc)])
