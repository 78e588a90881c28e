"""Certificates for the fake OCI.

* TLS: a throw-away CA and one server leaf for auth.<region>.oraclecloud.com and
  iaas.<region>.oraclecloud.com, made with the openssl CLI (as the fake AWS does).
* Instance identity: a root ("identity CA") and an intermediate, and per instance a leaf whose
  subject carries the instance principal's attributes the way OCI's do
  (CN=<instance OCID>, OU=opc-certtype:instance, OU=opc-compartment:<OCID>,
  OU=opc-instance:<OCID>, OU=opc-tenant:<tenancy OCID>). These are made with python3-cryptography,
  not the openssl CLI: OCIDs are longer than the 64 characters the CLI allows in CN and OU.
"""

import datetime
import hashlib
import ipaddress
import os
import subprocess

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID


def make_tls(state_dir, region, sans):
    """ca.pem/ca.key and api.pem/api.key; returns (ca, crt, key) paths."""
    ca_key, ca = os.path.join(state_dir, "ca.key"), os.path.join(state_dir, "ca.pem")
    key, csr, crt = (os.path.join(state_dir, n) for n in ("api.key", "api.csr", "api.pem"))
    ext = os.path.join(state_dir, "api.ext")
    names = ["DNS:auth.%s.oraclecloud.com" % region, "DNS:iaas.%s.oraclecloud.com" % region,
             "DNS:localhost", "IP:127.0.0.1"]
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
        "-keyout", ca_key, "-out", ca, "-days", "3", "-subj", "/CN=fake-oci test CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", key, "-out", csr, "-subj", "/CN=iaas.%s.oraclecloud.com" % region)
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
        "-out", crt, "-days", "3", "-extfile", ext)
    os.chmod(ca_key, 0o600)
    os.chmod(key, 0o600)
    return ca, crt, key


def _now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def _rsa():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def fingerprint(cert, algo):
    """Colon-separated upper-case hex of the DER's SHA-1 or SHA-256 (what the SDKs put in keyId)."""
    der = cert.public_bytes(serialization.Encoding.DER)
    h = hashlib.sha1(der) if algo == "sha1" else hashlib.sha256(der)
    return ":".join("%02X" % b for b in h.digest())


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def subject_value(cert, prefix):
    """The value after `prefix` of the first subject attribute that starts with it."""
    for attr in cert.subject:
        v = attr.value if isinstance(attr.value, str) else ""
        if v.startswith(prefix):
            return v[len(prefix):]
    return None


class IdentityPki:
    """The identity root and intermediate, and the instance leaves issued under them."""

    def __init__(self, state_dir, cert_lifetime):
        self.lifetime = cert_lifetime
        self.root_key = _rsa()
        now = _now()
        rname = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-oci identity root")])
        self.root = (x509.CertificateBuilder().subject_name(rname).issuer_name(rname)
                     .public_key(self.root_key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(minutes=5))
                     .not_valid_after(now + datetime.timedelta(days=3))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
                     .sign(self.root_key, hashes.SHA256()))
        self.int_key = _rsa()
        iname = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-oci identity intermediate"),
                           x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fake-oci")])
        self.intermediate = (x509.CertificateBuilder().subject_name(iname).issuer_name(rname)
                             .public_key(self.int_key.public_key()).serial_number(x509.random_serial_number())
                             .not_valid_before(now - datetime.timedelta(minutes=5))
                             .not_valid_after(now + datetime.timedelta(days=3))
                             .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                             .sign(self.root_key, hashes.SHA256()))
        for name, c in (("identity-root.pem", self.root), ("identity-intermediate.pem", self.intermediate)):
            with open(os.path.join(state_dir, name), "w") as f:
                f.write(pem(c))

    def issue_leaf(self, instance, compartment, tenancy):
        """A new key and leaf for an instance: {cert, cert_pem, key_pem, sha1, sha256}."""
        key = _rsa()
        now = _now()
        name = x509.Name([
            x509.NameAttribute(NameOID.COMMON_NAME, instance),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "opc-certtype:instance"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "opc-compartment:" + compartment),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "opc-instance:" + instance),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "opc-tenant:" + tenancy),
        ])
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(self.intermediate.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(seconds=self.lifetime))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True,
                                             data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                             crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
                .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                .sign(self.int_key, hashes.SHA256()))
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                    serialization.NoEncryption()).decode()
        return {"cert": cert, "cert_pem": pem(cert), "key_pem": key_pem,
                "sha1": fingerprint(cert, "sha1"), "sha256": fingerprint(cert, "sha256"),
                "not_after": cert.not_valid_after.replace(tzinfo=datetime.timezone.utc).timestamp()}

    def issued_by_intermediate(self, cert):
        """True when cert carries a valid signature of the identity intermediate."""
        try:
            self.int_key.public_key().verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(),
                                             cert.signature_hash_algorithm)
            return cert.issuer == self.intermediate.subject
        except (InvalidSignature, TypeError, ValueError):
            return False
