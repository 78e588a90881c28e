#!/usr/bin/env python3
"""Send raw HTTP requests over TLS to meshgate-controller-mock (tests only).

ctl_raw.py --url https://ADDR:PORT --cafile cert.pem REQUEST...

Each REQUEST is the request's bytes written with Python escapes (\\r\\n, \\x00, \\xff; the
escapes are decoded, other characters are taken as Latin-1), sent on its own
connection, after which the answer is read to the end (the server closes: send
"Connection: close" or HTTP/1.0) or for at most 10 s. A REQUEST "@FILE" is read from
FILE (same escapes; for requests past the limit of one argument). Prints one JSON line per
request:
  {"status": 404, "json": true, "code": "not_found", "body": "...", "error": null, "ms": 12}
"json" is true when the body decodes as strict UTF-8 and parses as a JSON object
("code" is then its error.code, if any); "status" is null when no answer came.
"""
import argparse
import codecs
import json
import socket
import ssl
import sys
import time
from urllib.parse import urlsplit


def send(host, port, ctx, data):
    out = b""
    err = None
    try:
        with socket.create_connection((host, port), timeout=10) as s:
            with ctx.wrap_socket(s, server_hostname=host) as t:
                try:
                    t.sendall(data)
                except (ssl.SSLError, OSError) as ex:  # closed while sending: read what came
                    err = repr(ex)
                while True:
                    b = t.recv(65536)
                    if not b:
                        break
                    out += b
    except (ssl.SSLError, OSError) as ex:
        err = err or repr(ex)
    return out, err


def parse(out):
    res = {"status": None, "json": False, "code": None, "body": None}
    if b"\r\n\r\n" not in out:
        return res
    while True:  # skip interim answers (100 Continue)
        head, _, rest = out.partition(b"\r\n\r\n")
        res["status"] = int(head.split(b" ", 2)[1])
        if res["status"] >= 200 or b"\r\n\r\n" not in rest:
            break
        out = rest
    n = None
    for ln in head.split(b"\r\n")[1:]:
        k, _, v = ln.partition(b":")
        if k.strip().lower() == b"content-length":
            n = int(v.strip())
    body = rest[:n] if n is not None else rest
    res["body"] = body.decode("latin-1")
    try:
        doc = json.loads(body.decode("utf-8", errors="strict"))
        res["json"] = isinstance(doc, dict)
        if res["json"] and isinstance(doc.get("error"), dict):
            res["code"] = doc["error"].get("code")
    except (UnicodeDecodeError, ValueError):
        pass
    return res


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--cafile", required=True)
    p.add_argument("requests", nargs="+")
    args = p.parse_args()
    u = urlsplit(args.url)
    ctx = ssl.create_default_context(cafile=args.cafile)
    for r in args.requests:
        if r.startswith("@"):
            with open(r[1:], "r", encoding="latin-1") as f:
                r = f.read()
        data = codecs.escape_decode(r.encode("latin-1"))[0]
        t = time.monotonic()
        out, err = send(u.hostname, u.port, ctx, data)
        res = parse(out)
        res["error"] = err
        res["ms"] = round((time.monotonic() - t) * 1000)
        print(json.dumps(res))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
