#!/usr/bin/env python3
"""gcpq: a raw Compute Engine API client for the fake GCP's self-test (stdlib only).

It takes its access token from the metadata server (Metadata-Flavor: Google) unless given one,
and sends one request to the HTTPS endpoint, checking the certificate against --ca for the
name compute.googleapis.com while connecting to the fake's address.

  gcpq.py --endpoint https://ADDR:PORT --ca FILE [--metadata URL] [--token T | --no-auth]
          [--scheme Bearer] [--timeout S] METHOD PATH [JSON_BODY]

PATH is relative to /compute/v1/projects/PROJECT/ unless it starts with '/'; PROJECT comes
from the metadata server (or --project). Prints the HTTP status on the first line and the body
after it; exit 0 whatever the status (exit 2 on a transport error or timeout, printed as
"ERROR <type>: ...").
"""

import argparse
import http.client
import json
import socket
import ssl
import sys
import urllib.request


def metadata(base, path, timeout=3):
    req = urllib.request.Request(base + "/computeMetadata/v1/" + path, headers={"Metadata-Flavor": "Google"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        if r.headers.get("Metadata-Flavor") != "Google":
            raise RuntimeError("metadata answer without Metadata-Flavor: Google")
        return r.read().decode()


class Conn(http.client.HTTPSConnection):
    """HTTPS to an address, with SNI and certificate check for the API's host name."""

    def __init__(self, addr, port, name, ctx, timeout):
        super().__init__(name, port, context=ctx, timeout=timeout)
        self._addr, self._ctx = addr, ctx
        self._name = name

    def connect(self):
        sock = socket.create_connection((self._addr, self.port), self.timeout)
        self.sock = self._ctx.wrap_socket(sock, server_hostname=self._name)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--metadata", default="http://169.254.169.254")
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--host", default="compute.googleapis.com")
    ap.add_argument("--ca", required=True)
    ap.add_argument("--project")
    ap.add_argument("--token")
    ap.add_argument("--no-auth", action="store_true")
    ap.add_argument("--scheme", default="Bearer")
    ap.add_argument("--timeout", type=float, default=5)
    ap.add_argument("--print-token", action="store_true")
    ap.add_argument("method", nargs="?")
    ap.add_argument("path", nargs="?")
    ap.add_argument("body", nargs="?")
    a = ap.parse_args()

    token = a.token
    if token is None and not a.no_auth:
        token = json.loads(metadata(a.metadata, "instance/service-accounts/default/token"))["access_token"]
    if a.print_token:
        print(token)
        return 0
    path = a.path
    if not path.startswith("/"):
        proj = a.project or metadata(a.metadata, "project/project-id")
        path = "/compute/v1/projects/%s/%s" % (proj, path)
    ep = a.endpoint.split("://", 1)[-1]
    addr, _, port = ep.rpartition(":")
    hdrs = {"Host": a.host if port == "443" else "%s:%s" % (a.host, port), "Accept": "application/json"}
    if token is not None and not a.no_auth:
        hdrs["Authorization"] = "%s %s" % (a.scheme, token)
    body = None
    if a.body is not None:
        body = a.body.encode()
        hdrs["Content-Type"] = "application/json"
    ctx = ssl.create_default_context(cafile=a.ca)
    conn = Conn(addr.strip("[]"), int(port), a.host, ctx, a.timeout)
    try:
        conn.request(a.method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        data = r.read().decode("utf-8", "replace")
    except (OSError, http.client.HTTPException) as e:
        print("ERROR %s: %s" % (type(e).__name__, e))
        return 2
    print(r.status)
    print(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
