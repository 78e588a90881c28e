#!/usr/bin/env python3
"""azq: a tiny raw-HTTP client for the fake Azure's self-test (stdlib only; shares no code with
the fake nor with the agent).

  azq.py [--arm https://ADDR:PORT] [--host management.azure.com] [--ca FILE]
         [--token T | --token-file F | --no-token] [--imds http://169.254.169.254]
         [--resource R] [--client-id ID] [-H 'Name: value']... [--timeout S]
         METHOD PATH_OR_URL [JSON_BODY]
  azq.py --imds URL imds PATH_WITH_QUERY [-H ...]        (plain HTTP to IMDS, no headers added)

For ARM, PATH_OR_URL is a path (/subscriptions/...?api-version=...) or a full https URL such as a
nextLink or an Azure-AsyncOperation URL; it connects to --arm whatever host the URL names, with
SNI and certificate check for --host. Without --token/--no-token it gets a token from IMDS
(`Metadata: true`, resource --resource), cached in --token-file when given.

Prints ONE JSON line: {"status": N, "headers": {lower-case name: value}, "body": parsed JSON or
text or null}; exit 0 whatever the status, 2 on a transport error or timeout (then
{"error": "..."}).
"""

import argparse
import http.client
import json
import socket
import ssl
import sys
import urllib.parse


class Conn(http.client.HTTPSConnection):
    """HTTPS to an address, with SNI and certificate check for another host name."""

    def __init__(self, addr, port, name, ctx, timeout):
        super().__init__(name, port, context=ctx, timeout=timeout)
        self._addr, self._name, self._ctx = addr, name, ctx

    def connect(self):
        sock = socket.create_connection((self._addr, self.port), self.timeout)
        self.sock = self._ctx.wrap_socket(sock, server_hostname=self._name)


def result(r):
    data = r.read()
    text = data.decode("utf-8", "replace")
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = text
    return {"status": r.status, "headers": {k.lower(): v for k, v in r.getheaders()}, "body": body}


def imds_get(base, path, headers, timeout):
    u = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
    conn.request("GET", path, headers=headers)
    return result(conn.getresponse())


def get_token(a):
    if a.token_file:
        try:
            with open(a.token_file) as f:
                return f.read().strip()
        except FileNotFoundError:
            pass
    q = {"api-version": "2018-02-01", "resource": a.resource}
    if a.client_id:
        q["client_id"] = a.client_id
    out = imds_get(a.imds, "/metadata/identity/oauth2/token?" + urllib.parse.urlencode(q),
                   {"Metadata": "true"}, a.timeout)
    if out["status"] != 200:
        raise OSError("IMDS token: %s" % json.dumps(out))
    tok = out["body"]["access_token"]
    if a.token_file:
        with open(a.token_file, "w") as f:
            f.write(tok)
    return tok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arm", help="https://ADDR:PORT where the fake's ARM listens")
    ap.add_argument("--host", default="management.azure.com")
    ap.add_argument("--ca")
    ap.add_argument("--imds", default="http://169.254.169.254")
    ap.add_argument("--token")
    ap.add_argument("--token-file")
    ap.add_argument("--no-token", action="store_true")
    ap.add_argument("--resource", default="https://management.azure.com/")
    ap.add_argument("--client-id")
    ap.add_argument("-H", dest="headers", action="append", default=[])
    ap.add_argument("--timeout", type=float, default=5)
    ap.add_argument("method")
    ap.add_argument("target")
    ap.add_argument("body", nargs="?")
    a = ap.parse_args()
    hdrs = {}
    for h in a.headers:
        k, _, v = h.partition(":")
        hdrs[k.strip()] = v.strip()
    try:
        if a.method == "imds":
            print(json.dumps(imds_get(a.imds, a.target, hdrs, a.timeout)))
            return 0
        if not a.no_token:
            hdrs["Authorization"] = "Bearer " + (a.token or get_token(a))
        u = urllib.parse.urlsplit(a.target)
        path = (u.path + ("?" + u.query if u.query else "")) if u.scheme else a.target
        addr, _, port = a.arm.split("://", 1)[-1].rpartition(":")
        data = None
        if a.body is not None:
            data = a.body.encode()
            hdrs.setdefault("Content-Type", "application/json")
        ctx = ssl.create_default_context(cafile=a.ca)
        conn = Conn(addr.strip("[]"), int(port), a.host, ctx, a.timeout)
        conn.request(a.method, path, body=data, headers=hdrs)
        print(json.dumps(result(conn.getresponse())))
    except (OSError, http.client.HTTPException) as e:
        print(json.dumps({"error": "%s: %s" % (type(e).__name__, e)}))
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
