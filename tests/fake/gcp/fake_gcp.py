#!/usr/bin/env python3
"""fake_gcp: a fake Google Cloud for meshgate's tests that speaks the real wire format (stdlib only).

One process serves
  * the GCE metadata server over plain HTTP (default 169.254.169.254:80; any Host, so also
    metadata.google.internal): project/instance keys, the service account's scopes and
    short-lived OAuth access tokens (metadata_server.py);
  * the Compute Engine API v1 over HTTPS (certificate for compute.googleapis.com and
    www.googleapis.com): routes insert/list/get/delete, global operations get/wait,
    instances.get, networks.get, every call checked against the tokens the metadata server
    issued and their scopes (compute_api.py);
  * a control API (plain HTTP, JSON; default 127.0.0.1:8798) for fault injection, permission
    denies, counters, state inspection and seeding.
See README.md beside this file for the CLI, the control API and the files it writes.
"""

import argparse
import copy
import ipaddress
import json
import os
import http.server
import signal
import ssl
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import fakectl  # noqa: E402
import compute_api  # noqa: E402
import metadata_server  # noqa: E402
from gcp_state import DEFAULT_TOPOLOGY, Project, log  # noqa: E402

FAULT_KINDS = ("429", "rate", "rateLimitExceeded", "user_rate", "userRateLimitExceeded", "500", "internal",
               "503", "unavailable", "hang", "malformed", "garbage", "truncated", "expired_token", "op_error")


class ControlHandler(fakectl.ControlHandler):
    MODEL = "project"
    LOG = staticmethod(log)

    def dispatch(self, p, path, req):
        return dispatch(p, path, req)


def dispatch(p, path, req):
    if path == "/fault":
        kind = str(req["kind"])
        if kind not in FAULT_KINDS:
            raise ValueError("unknown fault kind " + kind)
        f = {"kind": kind, "count": int(req.get("count", 1)), "method": req.get("method")}
        for k in ("seconds", "code", "message", "http_status"):
            if req.get(k) is not None:
                f[k] = req[k]
        p.faults.append(f)
        return {"faults": p.faults}
    if path == "/deny":
        p.denied.add(req["permission"])
        return {"denied": sorted(p.denied)}
    if path == "/allow":
        p.denied.discard(req["permission"])
        return {"denied": sorted(p.denied)}
    if path == "/counters/reset":
        p.reset_counters()
        return {"ok": True}
    if path == "/reset":
        p.faults, p.denied = [], set()
        p.reset_counters()
        return {"ok": True}
    if path == "/config":
        for k in Project.CONFIG_KEYS:
            if k in req:
                cur = getattr(p, k)
                setattr(p, k, req[k] if cur is None else type(cur)(req[k]))
        if p.op_start_status not in ("PENDING", "RUNNING"):
            p.op_start_status = "RUNNING"
            raise ValueError("op_start_status must be PENDING or RUNNING")
        if p.quota_mode not in ("sync", "operation"):
            p.quota_mode = "sync"
            raise ValueError("quota_mode must be sync or operation")
        return {k: getattr(p, k) for k in Project.CONFIG_KEYS}
    if path == "/tokens/expire":
        p.expire_tokens()
        return {"ok": True}
    if path == "/instance":      # change an instance behind the API (canIpForward, tags, scopes, status)
        inst = p.instances[req["name"]]
        for k in ("can_ip_forward", "tags", "scopes", "status"):
            if k in req:
                inst[k] = type(inst[k])(req[k])
        p.write_effective()
        return inst
    if path == "/route":         # seed a route past the API's checks (a leftover, a foreign route)
        ipaddress.ip_network(req["destRange"])
        r = p.seed_route(req)
        p.write_effective()
        return r
    if path == "/route/delete":  # remove a route behind the agent's back (drift)
        r = p.routes.pop(req["name"])
        p.write_effective()
        return {"deleted": r["name"]}
    if path == "/operations/finish":   # every unfinished operation completes now
        api = compute_api.Compute(p)
        for op in p.ops.values():
            api._finish(op)
        return {"ok": True}
    return None


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


def split_addr(s, default_port):
    host, _, port = s.rpartition(":")
    if not host:
        host, port = s, default_port
    return host.strip("[]"), int(port)


def make_cert(state_dir, sans):
    """A throw-away CA and a leaf for the Compute endpoint, made with the openssl CLI."""
    ca_key, ca = os.path.join(state_dir, "ca.key"), os.path.join(state_dir, "ca.pem")
    key, csr, crt = (os.path.join(state_dir, n) for n in ("compute.key", "compute.csr", "compute.pem"))
    ext = os.path.join(state_dir, "compute.ext")
    names = ["DNS:compute.googleapis.com", "DNS:www.googleapis.com", "DNS:localhost", "IP:127.0.0.1"]
    for s in sans:
        try:
            ipaddress.ip_address(s)
            names.append("IP:" + s)
        except ValueError:
            names.append("DNS:" + s)
    with open(ext, "w") as f:
        f.write("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\nsubjectAltName=%s\n" % ",".join(names))

    def run(*a):
        subprocess.run(a, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", ca_key, "-out", ca, "-days", "3", "-subj", "/CN=fake-gcp test CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", key, "-out", csr, "-subj", "/CN=compute.googleapis.com")
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
        "-out", crt, "-days", "3", "-extfile", ext)
    os.chmod(ca_key, 0o600)
    os.chmod(key, 0o600)
    return ca, crt, key


def load_topology(path):
    topo = copy.deepcopy(DEFAULT_TOPOLOGY)
    if path:
        with open(path) as f:
            topo.update(json.load(f))
    return topo


def main(argv=None):
    ap = argparse.ArgumentParser(description="fake GCP (metadata server + Compute API v1) for meshgate tests")
    ap.add_argument("--state-dir", required=True, help="writes ca.pem, ready.json, gcp-routes.json here")
    ap.add_argument("--topology", help="JSON file overriding keys of the default topology")
    ap.add_argument("--metadata-listen", default="169.254.169.254:80", help="ADDR:PORT, or 'off'")
    ap.add_argument("--compute-listen", default="0.0.0.0:443", help="ADDR:PORT of the HTTPS Compute endpoint")
    ap.add_argument("--compute-san", action="append", default=[], help="extra name or IP in the certificate")
    ap.add_argument("--control-listen", default="127.0.0.1:8798")
    ap.add_argument("--token-lifetime", type=float, default=3599.0, help="seconds an access token stays valid")
    ap.add_argument("--op-running-polls", type=int, default=1,
                    help="polls (operations get/wait) that still see an operation unfinished; 0: DONE at once")
    ap.add_argument("--op-start-status", default="RUNNING", choices=("PENDING", "RUNNING"),
                    help="status in the insert/delete answer")
    ap.add_argument("--op-autocomplete-seconds", type=float, default=30.0,
                    help="an operation nobody polls finishes after this long (0: never)")
    ap.add_argument("--wait-seconds", type=float, default=0.5,
                    help="how long operations.wait blocks on an unfinished operation (GCP: up to 2 min)")
    ap.add_argument("--route-quota", type=int, default=250, help="project ROUTES quota (static routes)")
    ap.add_argument("--quota-mode", default="sync", choices=("sync", "operation"),
                    help="quota error as a 403 answer (sync) or as a DONE operation with QUOTA_EXCEEDED")
    ap.add_argument("--request-id-window", type=float, default=3600.0, help="seconds a requestId is remembered")
    ap.add_argument("--hang-seconds", type=float, default=60.0)
    ap.add_argument("--accept-output-only", action="store_true",
                    help="ignore output-only fields in an insert body instead of answering 400")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    os.makedirs(args.state_dir, exist_ok=True)
    project = Project(load_topology(args.topology), args)

    servers = []
    md_addr = None
    if args.metadata_listen != "off":
        md_addr = split_addr(args.metadata_listen, 80)
        s = Server(md_addr, metadata_server.MetadataHandler)
        s.project = project
        servers.append(s)
    ca, crt, key = make_cert(args.state_dir, args.compute_san)
    c_addr = split_addr(args.compute_listen, 443)
    cs = Server(c_addr, compute_api.ComputeHandler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    cs.socket = ctx.wrap_socket(cs.socket, server_side=True, do_handshake_on_connect=False)
    cs.project, cs.compute = project, compute_api.Compute(project)
    servers.append(cs)
    ctl_addr = split_addr(args.control_listen, 8798)
    ctl = Server(ctl_addr, ControlHandler)
    ctl.project = project
    servers.append(ctl)
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()

    ready = {"pid": os.getpid(), "ca": ca, "state_dir": args.state_dir,
             "metadata": "http://%s:%d" % md_addr if md_addr else None,
             "compute": "https://%s:%d" % c_addr, "compute_host": "compute.googleapis.com",
             "control": "http://%s:%d" % ctl_addr, "project": project.project, "zone": project.zone,
             "network": project.net["name"], "routes": os.path.join(args.state_dir, "gcp-routes.json")}
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
