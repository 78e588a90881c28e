#!/usr/bin/env python3
"""ociq: a tiny OCI client for the fake OCI's self-test (stdlib + python3-cryptography).

It has its OWN request signer, written for this test only: it shares no code with the fake's
verifier (httpsig_verify.py) nor with the agent's C signer. It does what an instance principal
does: read the identity certificate, key and intermediate from IMDS v2, make a session key,
federate at auth.<region>.oraclecloud.com/v1/x509 (signed with the certificate's key, keyId
<tenancy>/fed-x509/<SHA-1 fingerprint>, or fed-x509-sha256 with --sha256), keep the token, and
sign Networking API calls with keyId ST$<token> and the session key.

  ociq.py --endpoint https://ADDR:PORT --ca FILE --state FILE [--imds URL] [--region R] federate
  ociq.py --endpoint ... --ca ... --state FILE [tamper options] call METHOD PATH [BODY|@FILE]
  ociq.py --serve IN_FIFO OUT_FIFO   (one JSON argument array a line in, answers out; see serve())

Prints the HTTP status on the first line, then the response headers etag, opc-next-page and
opc-request-id when present ("name: value"), an empty line, and the body. Exit 0 whatever the
status; 2 on a transport error or timeout (printed as "ERROR ...").
Tamper options (each models a broken or hostile client):
  --tamper-header NAME   change header NAME's value after signing (date, host, x-content-sha256,
                         content-type, content-length: the body is then padded to match)
  --tamper-body          change the body after signing (x-content-sha256 then lies)
  --tamper-signature     flip a bit of the signature
  --date-offset SECS     sign with a clock SECS off
  --wrong-key            sign with a fresh RSA key instead of the right one
  --unsigned NAME        leave NAME out of the signed headers (still sent)
  --key-id ID            claim this keyId
  --identity DIR         federate with the identity files kept in DIR (kept there on first use)
  --intermediates ok|none|wrong   intermediateCertificates from IMDS (default), left out, or wrong
  --if-match ETAG, --header 'Name: value', --request-id ID
"""

import argparse
import base64
import datetime
import hashlib
import http.client
import json
import os
import socket
import ssl
import sys
import urllib.request

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def imds(base, name):
    req = urllib.request.Request(base + "/opc/v2/" + name, headers={"Authorization": "Bearer Oracle"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return r.read().decode()


def bare(pem_text):
    """PEM without armour and line breaks, as the federation request carries it."""
    return "".join(ln for ln in pem_text.strip().splitlines() if not ln.startswith("-----"))


def http_date(when):
    return when.strftime("%a, %d %b %Y %H:%M:%S GMT")


def make_headers(method, host, target, body, key, key_id, when, sign_host=True, unsigned=()):
    """Headers (name -> value, in order) for one signed request. Own implementation."""
    hdrs = {"date": http_date(when)}
    order = ["date", "(request-target)"]
    if sign_host:
        hdrs["host"] = host
        order.append("host")
    if method in ("POST", "PUT", "PATCH"):
        hdrs["content-length"] = str(len(body))
        hdrs["content-type"] = "application/json"
        hdrs["x-content-sha256"] = base64.b64encode(hashlib.sha256(body).digest()).decode()
        order += ["content-length", "content-type", "x-content-sha256"]
    order = [h for h in order if h not in unsigned]
    text = []
    for h in order:
        if h == "(request-target)":
            text.append("(request-target): " + method.lower() + " " + target)
        else:
            text.append(h + ": " + hdrs[h])
    sig = key.sign("\n".join(text).encode(), padding.PKCS1v15(), hashes.SHA256())
    hdrs["authorization"] = ('Signature version="1",headers="%s",keyId="%s",algorithm="rsa-sha256",signature="%s"'
                             % (" ".join(order), key_id, base64.b64encode(sig).decode()))
    if not sign_host:
        hdrs["host"] = host
    return hdrs


class Conn(http.client.HTTPSConnection):
    """HTTPS to an address, with SNI and certificate check for a service name."""

    def __init__(self, addr, port, name, ctx, timeout):
        super().__init__(name, port, context=ctx, timeout=timeout)
        self._addr, self._name, self._ctx = addr, name, ctx

    def connect(self):
        sock = socket.create_connection((self._addr, self.port), self.timeout)
        self.sock = self._ctx.wrap_socket(sock, server_hostname=self._name)


def send(a, name, method, target, body, hdrs):
    ep = a.endpoint.split("://", 1)[-1]
    addr, _, port = ep.rpartition(":")
    ctx = ssl.create_default_context(cafile=a.ca)
    conn = Conn(addr.strip("[]"), int(port), name, ctx, a.timeout)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for k, v in hdrs.items():
            conn.putheader(k, v)
        conn.endheaders(body if body else None)
        r = conn.getresponse()
        data = r.read().decode("utf-8", "replace")
    except (OSError, http.client.HTTPException) as e:
        print("ERROR %s: %s" % (type(e).__name__, e))
        return None
    print(r.status)
    for h in ("etag", "opc-next-page", "opc-request-id"):
        if r.getheader(h) is not None:
            print("%s: %s" % (h, r.getheader(h)))
    print()
    print(data)
    return r.status, data


def tamper(a, hdrs, body):
    for name in a.tamper_header:
        if name == "date":
            hdrs["date"] = http_date(datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=7))
        elif name == "host":
            hdrs["host"] = hdrs["host"].replace("oraclecloud", "oraclecl0ud")
        elif name == "x-content-sha256":
            hdrs[name] = base64.b64encode(hashlib.sha256(body + b" ").digest()).decode()
            body = body + b" "
        elif name == "content-length":
            body = body + b" "
            hdrs[name] = str(len(body))
        elif name in hdrs:
            hdrs[name] = hdrs[name] + "x"
        else:
            raise SystemExit("ociq: cannot tamper with %s" % name)
    if a.tamper_body:
        body = body.replace(b"1", b"2", 1) if b"1" in body else body + b" "
        hdrs["content-length"] = str(len(body))
    if a.tamper_signature:
        auth = hdrs["authorization"]
        i = auth.index('signature="') + len('signature="') + 5
        hdrs["authorization"] = auth[:i] + ("A" if auth[i] != "A" else "B") + auth[i + 1:]
    return hdrs, body


def identity(a):
    """cert.pem, key.pem, intermediate.pem: from --identity DIR when it holds them, else from IMDS
    (and then kept in DIR, so a later run can federate with a certificate IMDS no longer serves)."""
    names = ("cert.pem", "key.pem", "intermediate.pem")
    if a.identity and all(os.path.exists(os.path.join(a.identity, n)) for n in names):
        out = []
        for n in names:
            with open(os.path.join(a.identity, n)) as f:
                out.append(f.read())
        return out
    out = [imds(a.imds, "identity/" + n) for n in names]
    if a.identity:
        os.makedirs(a.identity, exist_ok=True)
        for n, text in zip(names, out):
            with open(os.path.join(a.identity, n), "w") as f:
                f.write(text)
    return out


def federate(a, when):
    cert_pem, key_pem, inter_pem = identity(a)
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    leaf_key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    tenancy = [v.value[len("opc-tenant:"):] for v in cert.subject if str(v.value).startswith("opc-tenant:")][0]
    session = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    spki = session.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    der = cert.public_bytes(serialization.Encoding.DER)
    if a.sha256:
        fp, kind = hashlib.sha256(der).hexdigest(), "fed-x509-sha256"
    else:
        fp, kind = hashlib.sha1(der).hexdigest(), "fed-x509"
    fp = ":".join(fp[i:i + 2] for i in range(0, len(fp), 2)).upper()
    req = {"certificate": bare(cert_pem), "publicKey": bare(spki), "purpose": "DEFAULT"}
    if a.intermediates == "ok":
        req["intermediateCertificates"] = [bare(inter_pem)]
    elif a.intermediates == "wrong":  # the leaf in place of its issuer
        req["intermediateCertificates"] = [bare(cert_pem)]
    if a.sha256:
        req["fingerprintAlgorithm"] = "SHA256"
    body = json.dumps(req).encode()
    sign_key = rsa.generate_private_key(public_exponent=65537, key_size=2048) if a.wrong_key else leaf_key
    host = "auth.%s.oraclecloud.com" % a.region
    hdrs = make_headers("POST", host, "/v1/x509", body, sign_key, a.key_id or "%s/%s/%s" % (tenancy, kind, fp), when,
                        sign_host=False, unsigned=a.unsigned)
    hdrs, body = tamper(a, hdrs, body)
    out = send(a, host, "POST", "/v1/x509", body, hdrs)
    if out and out[0] == 200 and a.state:
        with open(a.state, "w") as f:
            json.dump({"token": json.loads(out[1])["token"],
                       "key": session.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()).decode()}, f)
    return out


def call(a, when):
    with open(a.state) as f:
        st = json.load(f)
    key = serialization.load_pem_private_key(st["key"].encode(), password=None)
    if a.wrong_key:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    body = b""
    if a.body is not None:
        if a.body.startswith("@"):
            with open(a.body[1:], "rb") as f:
                body = f.read()
        else:
            body = a.body.encode()
    host = "iaas.%s.oraclecloud.com" % a.region
    hdrs = make_headers(a.method, host, a.path, body, key, a.key_id or "ST$" + st["token"], when,
                        unsigned=a.unsigned)
    if a.if_match:
        hdrs["if-match"] = a.if_match
    if a.request_id:
        hdrs["opc-request-id"] = a.request_id
    for h in a.header:
        k, _, v = h.partition(":")
        hdrs[k.strip()] = v.strip()
    hdrs, body = tamper(a, hdrs, body)
    return send(a, host, a.method, a.path, body, hdrs)


def parser():
    ap = argparse.ArgumentParser()
    ap.add_argument("--imds", default="http://169.254.169.254")
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--region", default="us-phoenix-1")
    ap.add_argument("--state", help="token and session key (written by federate, read by call)")
    ap.add_argument("--identity", help="directory that keeps (or supplies) the IMDS identity files")
    ap.add_argument("--intermediates", choices=("ok", "none", "wrong"), default="ok",
                    help="send the intermediate from IMDS, none, or a wrong one")
    ap.add_argument("--timeout", type=float, default=10)
    ap.add_argument("--sha256", action="store_true", help="federate with fed-x509-sha256 and fingerprintAlgorithm")
    ap.add_argument("--tamper-header", action="append", default=[])
    ap.add_argument("--tamper-body", action="store_true")
    ap.add_argument("--tamper-signature", action="store_true")
    ap.add_argument("--date-offset", type=float, default=0)
    ap.add_argument("--wrong-key", action="store_true")
    ap.add_argument("--unsigned", action="append", default=[])
    ap.add_argument("--key-id")
    ap.add_argument("--if-match")
    ap.add_argument("--request-id")
    ap.add_argument("--header", action="append", default=[])
    ap.add_argument("cmd", choices=("federate", "call"))
    ap.add_argument("method", nargs="?")
    ap.add_argument("path", nargs="?")
    ap.add_argument("body", nargs="?")
    return ap


def run(argv):
    ap = parser()
    a = ap.parse_args(argv)
    when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=a.date_offset)
    if a.cmd == "call" and (not a.method or not a.path or not a.state):
        ap.error("call needs --state, METHOD and PATH")
    out = federate(a, when) if a.cmd == "federate" else call(a, when)
    return 0 if out else 2


def serve(inp, outp):
    """One process for many requests (a test makes a hundred; each start costs a second on a
    loaded machine): each line read from the FIFO inp is a JSON array of arguments; the answer
    goes to the FIFO outp, followed by a line "\x1eEND <exit status>"."""
    src = open(inp)
    sys.stdout = open(outp, "w")
    for line in src:
        try:
            rc = run(json.loads(line))
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else 2
        except Exception as e:  # a broken request must not end the server
            print("ERROR %s: %s" % (type(e).__name__, e))
            rc = 2
        print("\x1eEND %d" % rc, flush=True)
    return 0


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        return serve(sys.argv[2], sys.argv[3])
    return run(sys.argv[1:])

if __name__ == "__main__":
    sys.exit(main())
