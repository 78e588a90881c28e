#!/usr/bin/env python3
"""The fake's OCI signature verifier against Oracle's published "Request Signatures" example.

For the GET and the POST of tests/data/vectors/oci-signature: rebuild the request as it would
arrive (Date, Host from the URL, and for the POST the body with Content-Type, Content-Length and
an x-content-sha256 the verifier must agree with), parse the published Authorization header,
check the signing string byte for byte and the signature against the example key; then check
that each alteration is refused: another date, host or query, a changed body, a header left out
of the signed list, a flipped signature byte, and another key.

  test_signature_vectors.py [VECTOR_DIR]   (default: $MG_OCI_VECTORS or tests/data/vectors/oci-signature)
"""

import base64
import os
import sys
import urllib.parse

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import httpsig_verify as hv  # noqa: E402


def read(d, name, mode="r"):
    with open(os.path.join(d, name), mode) as f:
        return f.read()


def load_request(d, kind):
    """(method, target, [(name, value)], body) as the fake would receive it."""
    lines = read(d, kind + "-request.txt").split("\n")
    method, url = lines[0].split(" ", 1)
    u = urllib.parse.urlsplit(url)
    headers = [("Host", u.netloc)]
    for ln in lines[1:]:
        if ln.strip():
            name, _, value = ln.partition(":")
            headers.append((name, value.strip()))
    body = b""
    if method == "POST":
        body = read(d, "post-body.json", "rb")
        headers.append(("x-content-sha256", hv.body_sha256(body)))
    target = u.path + ("?" + u.query if u.query else "")
    return method, target, headers, body


def verdict(pub, method, target, headers, body, auth):
    """None when accepted, else the reason."""
    try:
        hv.check_policy(method, auth["headers"])
        h = hv.header_map(headers)
        hv.check_body(h, body)
        text = hv.signing_string(method, target, h, auth["headers"])
    except hv.SigError as e:
        return e.reason
    return None if hv.verify(pub, text, auth["signature"]) else "signature does not verify"


def check(d, kind, pub, other_pub):
    errs = []
    method, target, headers, body = load_request(d, kind)
    auth = hv.parse_authorization(read(d, kind + "-authorization.txt"))
    if auth["keyId"] != read(d, "key-id.txt"):
        errs.append("keyId %r differs from key-id.txt" % auth["keyId"])
    want = read(d, kind + "-signing-string.txt")
    got = hv.signing_string(method, target, hv.header_map(headers), auth["headers"])
    if got != want:
        errs.append("signing string differs:\n--- got\n%s\n--- want\n%s" % (got, want))
    if auth["signature"] != base64.b64decode(read(d, kind + "-signature.txt").strip()):
        errs.append("signature in the Authorization header differs from %s-signature.txt" % kind)
    why = verdict(pub, method, target, headers, body, auth)
    if why:
        errs.append("published request refused: %s" % why)

    def must_refuse(label, m=method, t=target, h=headers, b=body, a=auth, key=pub):
        if verdict(key, m, t, h, b, a) is None:
            errs.append("accepted with %s" % label)

    def swap(name, value):
        return [(n, value if n.lower() == name else v) for n, v in headers]

    must_refuse("another date", h=swap("date", "Thu, 05 Jan 2014 21:31:41 GMT"))
    must_refuse("another host", h=swap("host", "iaas.us-ashburn-1.oraclecloud.com"))
    must_refuse("another method", m="PUT" if method == "GET" else "GET")
    must_refuse("another target", t=target + "&x=1" if "?" in target else target + "x")
    must_refuse("another key", key=other_pub)
    flipped = bytearray(auth["signature"])
    flipped[len(flipped) // 2] ^= 1
    must_refuse("a flipped signature bit", a=dict(auth, signature=bytes(flipped)))
    must_refuse("host left out of the signed headers",
                a=dict(auth, headers=[n for n in auth["headers"] if n != "host"]))
    if body:
        must_refuse("a changed body", b=body.replace(b"instanceId", b"instanceid"))
        must_refuse("a changed content-length", h=swap("content-length", str(len(body) + 1)))
        must_refuse("a changed x-content-sha256 (and body)", b=body + b" ",
                    h=swap("x-content-sha256", hv.body_sha256(body + b" ")))
        must_refuse("x-content-sha256 left out of the signed headers",
                    a=dict(auth, headers=[n for n in auth["headers"] if n != "x-content-sha256"]))
    return errs


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    vdir = (sys.argv[1] if len(sys.argv) > 1 else os.environ.get("MG_OCI_VECTORS")
            or os.path.normpath(os.path.join(here, "../../data/vectors/oci-signature")))
    if not os.path.isdir(vdir):
        print("test_signature_vectors: no vector directory at %s" % vdir)
        return 1
    key = serialization.load_pem_private_key(read(vdir, "key.pem", "rb"), password=None)
    other = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    failed = 0
    for kind in ("get", "post"):
        errs = check(vdir, kind, key.public_key(), other.public_key())
        print("%-6s %s" % (kind, "ok" if not errs else "FAIL"))
        for e in errs:
            print("    " + e.replace("\n", "\n    "))
        failed += bool(errs)
    print("2 cases, %d failed" % failed)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
