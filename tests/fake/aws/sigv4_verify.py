"""Server-side AWS Signature Version 4 verifier for the fake AWS (Python stdlib only).

Written from the published algorithm, independently of the agent's C signer, and shares no
code with it. It rebuilds the canonical request from what arrived on the wire (method, raw
path, raw query, every header the client claims to have signed, the body), derives the
signing key from the secret that belongs to the access key, and compares signatures in
constant time. It returns the intermediate strings so the published test vectors can check
each step, not only the final hex.
"""

import hashlib
import hmac
import re
import urllib.parse

ALGO = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class SigError(Exception):
    """A request that AWS would refuse: code, HTTP status, message (as EC2 reports them)."""

    def __init__(self, code, status, message):
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message


def _uri_encode(s, keep_slash):
    safe = "-_.~/" if keep_slash else "-_.~"
    return urllib.parse.quote(s, safe=safe)


def canonical_uri(raw_path):
    """Normalised, URI-encoded absolute path (non-S3 rules: '.' and '..' resolved, '//' kept
    as one segment boundary, each segment decoded then re-encoded)."""
    if raw_path == "":
        return "/"
    segs = raw_path.split("/")
    out = []
    for seg in segs[1:] if raw_path.startswith("/") else segs:
        if seg == "" or seg == ".":
            continue
        if seg == "..":
            if out:
                out.pop()
            continue
        out.append(_uri_encode(urllib.parse.unquote(seg), keep_slash=False))
    path = "/" + "/".join(out)
    if raw_path.endswith("/") and path != "/":
        path += "/"
    return path


def canonical_query(raw_query):
    pairs = []
    if raw_query:
        for part in raw_query.split("&"):
            if part == "":
                continue
            name, _, value = part.partition("=")
            pairs.append((_uri_encode(urllib.parse.unquote(name), False),
                          _uri_encode(urllib.parse.unquote(value), False)))
    pairs.sort()
    return "&".join("%s=%s" % p for p in pairs)


_WS = re.compile(r"\s+")


def canonical_header_value(values):
    return ",".join(_WS.sub(" ", v.strip()) for v in values)


def parse_authorization(value):
    """'AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=x;y, Signature=hex' -> dict."""
    if not value.startswith(ALGO + " "):
        raise SigError("IncompleteSignature", 400,
                       "Unsupported authorization type or algorithm (expected %s)" % ALGO)
    fields = {}
    for item in value[len(ALGO) + 1:].split(","):
        k, eq, v = item.strip().partition("=")
        if not eq:
            raise SigError("IncompleteSignature", 400,
                           "Authorization header requires each component in the format key=value: '%s'" % item.strip())
        fields[k] = v
    for need in ("Credential", "SignedHeaders", "Signature"):
        if need not in fields:
            raise SigError("IncompleteSignature", 400,
                           "Authorization header requires '%s' parameter." % need)
    cred = fields["Credential"].split("/")
    if len(cred) != 5:
        raise SigError("IncompleteSignature", 400,
                       "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '%s'"
                       % fields["Credential"])
    if not re.fullmatch(r"[0-9a-f]{64}", fields["Signature"]):
        raise SigError("IncompleteSignature", 400, "Signature must be 64 lowercase hex characters.")
    return {
        "access_key": cred[0], "date": cred[1], "region": cred[2], "service": cred[3],
        "terminator": cred[4], "signed_headers": fields["SignedHeaders"].split(";"),
        "signed_headers_raw": fields["SignedHeaders"], "signature": fields["Signature"],
    }


def signing_key(secret, date, region, service):
    k = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
    k = hmac.new(k, region.encode(), hashlib.sha256).digest()
    k = hmac.new(k, service.encode(), hashlib.sha256).digest()
    return hmac.new(k, b"aws4_request", hashlib.sha256).digest()


def build(method, raw_path, raw_query, headers, body, auth):
    """headers: list of (name, value) as received. Returns (canonical_request, string_to_sign)."""
    by_name = {}
    for name, value in headers:
        by_name.setdefault(name.lower(), []).append(value)
    signed = auth["signed_headers"]
    if signed != sorted(signed) or len(set(signed)) != len(signed) or "" in signed:
        raise SigError("SignatureDoesNotMatch", 403,
                       "SignedHeaders must be lower-case, sorted and unique: '%s'" % auth["signed_headers_raw"])
    lines = []
    for name in signed:
        if name != name.lower():
            raise SigError("SignatureDoesNotMatch", 403, "SignedHeaders must be lower-case")
        if name not in by_name:
            raise SigError("SignatureDoesNotMatch", 403,
                           "The request signature we calculated does not match the signature you provided. "
                           "Signed header '%s' is not present in the request." % name)
        lines.append("%s:%s\n" % (name, canonical_header_value(by_name[name])))
    payload_hash = hashlib.sha256(body).hexdigest()
    claimed = by_name.get("x-amz-content-sha256")
    if claimed and claimed[0] != payload_hash:
        raise SigError("SignatureDoesNotMatch", 403,
                       "The provided 'x-amz-content-sha256' header does not match what was computed.")
    creq = "\n".join([method, canonical_uri(raw_path), canonical_query(raw_query), "".join(lines),
                      auth["signed_headers_raw"], payload_hash])
    amz_date = (by_name.get("x-amz-date") or [""])[0].strip()
    scope = "/".join([auth["date"], auth["region"], auth["service"], auth["terminator"]])
    sts = "\n".join([ALGO, amz_date, scope, hashlib.sha256(creq.encode()).hexdigest()])
    return creq, sts


def compute_signature(secret, auth, sts):
    key = signing_key(secret, auth["date"], auth["region"], auth["service"])
    return hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()


def signatures_equal(a, b):
    return hmac.compare_digest(a.encode(), b.encode())
