"""Certificates ``servers.make_pki`` does not issue: chosen validity dates, and servers that still
speak TLS 1.0/1.1 or accept broken cipher suites (for the TLS probe and the ``tls`` check)."""

from __future__ import annotations

import datetime
import ssl
import warnings

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.testing.servers import Pki


def server_context(
    pki: Pki,
    *names: str,
    valid_from_days: float = -1,
    valid_until_days: float = 90,
    self_signed: bool = False,
    legacy: bool = False,
    weak_ciphers: bool = False,
) -> ssl.SSLContext:
    """A server context with a certificate for ``names`` (DNS names or IP addresses), valid from
    ``valid_from_days`` to ``valid_until_days`` relative to now, signed by the test CA (or by
    itself). ``legacy``: also accept TLS 1.0 and 1.1. ``weak_ciphers``: also accept NULL and
    anonymous suites."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(datetime.UTC)
    alt: list[x509.GeneralName] = []
    for name in names:
        try:
            import ipaddress

            alt.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt.append(x509.DNSName(name))
    # The CA's key and name are the test PKI's own (servers.Pki keeps them for issuing).
    ca_key, ca_name = pki._ca_key, pki._ca_name
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject if self_signed else ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + datetime.timedelta(days=valid_from_days))
        .not_valid_after(now + datetime.timedelta(days=valid_until_days))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .sign(key if self_signed else ca_key, hashes.SHA256())
    )
    stem = pki.folder / f"{names[0]}-{x509.random_serial_number()}"
    cert_path, key_path = stem.with_suffix(".crt"), stem.with_suffix(".key")
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    if legacy or weak_ciphers:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = ssl.TLSVersion.TLSv1
        context.set_ciphers("ALL:eNULL:aNULL:@SECLEVEL=0" if weak_ciphers else "ALL:@SECLEVEL=0")
        if not legacy:
            context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context
