"""Server-side verifier of OCI request signatures (draft-cavage-http-signatures-08 profile).

Written for the fake OCI from the published description ("Request Signatures" in the OCI
documentation), apart from the agent's C signer and from the test client's signer (ociq.py);
it shares no code with either. It rebuilds the signing string from what arrived on the wire
(method, raw request target, the headers the client lists in `headers="..."`), checks
`x-content-sha256` and `content-length` against the body, and verifies the RSASSA-PKCS1-v1_5
SHA-256 signature with python3-cryptography. The intermediate signing string is returned so
the published example can check each step, not only the final verdict.
"""

import base64
import binascii
import hashlib
import re

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

# what OCI requires to be signed (the SDKs sign exactly these)
GENERIC = ("date", "(request-target)", "host")
BODY = ("content-length", "content-type", "x-content-sha256")
BODY_METHODS = ("POST", "PUT", "PATCH")


class SigError(Exception):
    """A request OCI would refuse with 401 NotAuthenticated; `reason` says why (for the
    fake's log only: OCI's message does not say)."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


_PARAM = re.compile(r'\s*([A-Za-z]+)="([^"]*)"\s*(?:,|$)')


def parse_authorization(value):
    """'Signature version="1",headers="a b",keyId="k",algorithm="rsa-sha256",signature="b64"'
    -> dict with keyId, algorithm, headers (list), signature (bytes), version."""
    if value is None:
        raise SigError("no Authorization header")
    scheme, _, rest = value.strip().partition(" ")
    if scheme != "Signature" or not rest:
        raise SigError("Authorization scheme is not 'Signature'")
    fields = {}
    pos = 0
    while pos < len(rest):
        m = _PARAM.match(rest, pos)
        if not m or m.end() == pos:
            raise SigError("malformed Authorization parameters near %r" % rest[pos:pos + 20])
        name = m.group(1)
        if name in fields:
            raise SigError("Authorization parameter %s given twice" % name)
        fields[name] = m.group(2)
        pos = m.end()
    for need in ("keyId", "signature", "headers"):
        if need not in fields:
            raise SigError("Authorization lacks %s" % need)
    if fields.get("algorithm", "rsa-sha256") != "rsa-sha256":
        raise SigError("algorithm %r is not rsa-sha256" % fields["algorithm"])
    if fields.get("version", "1") != "1":
        raise SigError("version %r is not 1" % fields["version"])
    try:
        sig = base64.b64decode(fields["signature"], validate=True)
    except (binascii.Error, ValueError):
        raise SigError("signature is not base64")
    names = fields["headers"].split()
    if not names or len(set(names)) != len(names) or any(n != n.lower() for n in names):
        raise SigError("headers list must be lower-case names, each once")
    return {"keyId": fields["keyId"], "algorithm": "rsa-sha256", "headers": names, "signature": sig,
            "version": fields.get("version", "1")}


def body_sha256(body):
    return base64.b64encode(hashlib.sha256(body).digest()).decode()


def header_map(headers):
    """[(name, value)] as received -> {lower-name: [values]}."""
    out = {}
    for name, value in headers:
        out.setdefault(name.lower(), []).append(value.strip())
    return out


def signing_string(method, target, headers, names):
    """The string the client signed. target: the raw request-target (path?query as sent).
    headers: {lower-name: [values]}. A listed header that is missing is an error."""
    lines = []
    for n in names:
        if n == "(request-target)":
            lines.append("(request-target): %s %s" % (method.lower(), target))
            continue
        vals = headers.get(n)
        if not vals:
            raise SigError("signed header %r is not in the request" % n)
        lines.append("%s: %s" % (n, ", ".join(vals)))
    return "\n".join(lines)


def required_headers(method, federation=False):
    """Headers a request of this method must sign. The federation endpoint does not need
    `host` (the SDKs leave it out there)."""
    need = [h for h in GENERIC if not (federation and h == "host")]
    if method.upper() in BODY_METHODS:
        need += BODY
    return need


def check_policy(method, names, federation=False):
    have = set(names)
    if "date" not in have and "x-date" in have:
        have.add("date")
    missing = [h for h in required_headers(method, federation) if h not in have]
    if missing:
        raise SigError("required headers not signed: %s" % " ".join(missing))


def check_body(headers, body):
    """x-content-sha256 and content-length must describe the body that arrived."""
    claimed = headers.get("x-content-sha256")
    if claimed is not None and claimed[0] != body_sha256(body):
        raise SigError("x-content-sha256 does not match the body")
    cl = headers.get("content-length")
    if cl is not None and cl[0] != str(len(body)):
        raise SigError("content-length does not match the body")


def verify(public_key, text, signature):
    """True when signature is a PKCS#1 v1.5 SHA-256 signature of text by public_key."""
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise SigError("key is not RSA")
    try:
        public_key.verify(signature, text.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
        return True
    except InvalidSignature:
        return False
