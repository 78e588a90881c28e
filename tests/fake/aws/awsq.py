#!/usr/bin/env python3
"""awsq: a tiny EC2 Query API client for the fake AWS's self-test (stdlib only).

It has its OWN SigV4 signer, written for this test only: it shares no code with the fake's
verifier (sigv4_verify.py) nor with the agent's C signer, so a bug in one is not mirrored
in the other. Credentials come from IMDSv2 (token, role name, role credentials) unless given.

  awsq.py [--imds URL] [--endpoint https://ADDR:PORT] [--host ec2.us-east-1.amazonaws.com]
          [--ca FILE] [--region R] [tamper options] Action [Name=Value ...]

Prints the HTTP status on the first line and the body after it; exit 0 whatever the status
(exit 2 on a transport error or timeout). Tamper options model broken clients:
  --tamper-signature   flip the last hex digit of the signature
  --date-offset SECS   sign with a clock that is SECS off
  --wrong-secret       sign with a different secret
  --access-key AKID    claim another access key id
  --no-token           leave out X-Amz-Security-Token
  --token TOKEN        send this session token instead
  --scope-region R     put region R in the credential scope (and sign with it)
  --creds-file F       use/keep credentials in F (JSON as IMDS returns them) instead of IMDS
"""

import argparse
import datetime
import hashlib
import hmac
import http.client
import json
import socket
import ssl
import sys
import urllib.request
from urllib.parse import quote


def imds_get(base, path, token, timeout=3):
    req = urllib.request.Request(base + path, headers={"X-aws-ec2-metadata-token": token})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.read().decode()


def imds_credentials(base):
    req = urllib.request.Request(base + "/latest/api/token", method="PUT",
                                 headers={"X-aws-ec2-metadata-token-ttl-seconds": "300"})
    with urllib.request.urlopen(req, timeout=3) as r:
        token = r.read().decode()
    role = imds_get(base, "/latest/meta-data/iam/security-credentials/", token).strip().splitlines()[0]
    return json.loads(imds_get(base, "/latest/meta-data/iam/security-credentials/" + role, token))


def form_encode(pairs):
    # the EC2 protocol's serializer: RFC 3986 percent-encoding, keys in the order given
    return "&".join(quote(k, safe="-_.~") + "=" + quote(v, safe="-_.~") for k, v in pairs)


def hmac256(key, msg):
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def sign(method, host, body, when, akid, secret, token, region, service="ec2"):
    """Headers for one signed request (header-based SigV4, POST / with a form body)."""
    amz_date = when.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    hdrs = {"content-type": "application/x-www-form-urlencoded; charset=utf-8", "host": host,
            "x-amz-date": amz_date}
    if token is not None:
        hdrs["x-amz-security-token"] = token
    names = sorted(hdrs)
    canon = (method + "\n/\n\n" + "".join("%s:%s\n" % (n, " ".join(hdrs[n].split())) for n in names)
             + "\n" + ";".join(names) + "\n" + hashlib.sha256(body.encode()).hexdigest())
    scope = "%s/%s/%s/aws4_request" % (day, region, service)
    to_sign = "AWS4-HMAC-SHA256\n%s\n%s\n%s" % (amz_date, scope, hashlib.sha256(canon.encode()).hexdigest())
    k = hmac256(("AWS4" + secret).encode(), day)
    for part in (region, service, "aws4_request"):
        k = hmac256(k, part)
    sig = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
    out = {"Host": host, "Content-Type": hdrs["content-type"], "X-Amz-Date": amz_date}
    if token is not None:
        out["X-Amz-Security-Token"] = token
    out["Authorization"] = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        akid, scope, ";".join(names), sig)
    return out


class Conn(http.client.HTTPSConnection):
    """HTTPS to an address, with SNI and certificate check for the EC2 host name."""

    def __init__(self, addr, port, name, ctx, timeout):
        super().__init__(name, port, context=ctx, timeout=timeout)
        self._addr, self._name, self._ctx = addr, name, ctx

    def connect(self):
        sock = socket.create_connection((self._addr, self.port), self.timeout)
        self.sock = self._ctx.wrap_socket(sock, server_hostname=self._name)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--imds", default="http://169.254.169.254")
    ap.add_argument("--endpoint", required=True, help="https://ADDR:PORT where the fake listens")
    ap.add_argument("--host", default=None, help="Host header and TLS name (default ec2.REGION.amazonaws.com)")
    ap.add_argument("--ca", required=True)
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--timeout", type=float, default=5)
    ap.add_argument("--tamper-signature", action="store_true")
    ap.add_argument("--date-offset", type=float, default=0)
    ap.add_argument("--wrong-secret", action="store_true")
    ap.add_argument("--access-key")
    ap.add_argument("--no-token", action="store_true")
    ap.add_argument("--token")
    ap.add_argument("--scope-region")
    ap.add_argument("--creds-file")
    ap.add_argument("--print-creds", action="store_true", help="print the IMDS credentials and exit")
    ap.add_argument("action", nargs="?")
    ap.add_argument("params", nargs="*")
    a = ap.parse_args()

    creds = None
    if a.creds_file:
        try:
            with open(a.creds_file) as f:
                creds = json.load(f)
        except FileNotFoundError:
            pass
    if creds is None:
        creds = imds_credentials(a.imds)
        if a.creds_file:
            with open(a.creds_file, "w") as f:
                json.dump(creds, f)
    if a.print_creds:
        print(json.dumps(creds))
        return 0

    pairs = [("Action", a.action), ("Version", "2016-11-15")]
    for p in a.params:
        k, _, v = p.partition("=")
        pairs.append((k, v))
    body = form_encode(pairs)
    name = a.host or "ec2.%s.amazonaws.com" % a.region
    ep = a.endpoint.split("://", 1)[-1]
    addr, _, port = ep.rpartition(":")
    host = name if port == "443" else "%s:%s" % (name, port)  # the Host header as sent
    when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=a.date_offset)
    secret = creds["SecretAccessKey"] + ("x" if a.wrong_secret else "")
    token = None if a.no_token else (a.token or creds["Token"])
    hdrs = sign("POST", host, body, when, a.access_key or creds["AccessKeyId"], secret, token,
                a.scope_region or a.region)
    if a.tamper_signature:
        auth = hdrs["Authorization"]
        hdrs["Authorization"] = auth[:-1] + ("0" if auth[-1] != "0" else "1")

    ctx = ssl.create_default_context(cafile=a.ca)
    conn = Conn(addr.strip("[]"), int(port), name, ctx, a.timeout)
    try:
        conn.request("POST", "/", body=body.encode(), headers=hdrs)
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
