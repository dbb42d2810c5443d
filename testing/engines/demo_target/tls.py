"""The demo target's deliberately weak TLS: a self-signed certificate made at start, old protocols on.

``weak_server_context()`` returns the server context and the certificate (PEM) a client may pin.
It asks OpenSSL for TLS 1.0 as the minimum and ``@SECLEVEL=0`` ciphers; whether the old versions
really work depends on how this machine's OpenSSL was built and configured, so ``DemoTarget``
measures it after start with ``accepted_versions()`` (real handshakes) instead of assuming.
On the development machine (OpenSSL 3.0, Python 3.11) TLS 1.0, 1.1, 1.2 and 1.3 are all accepted.

``load_cert_chain`` takes only file names, so the key and certificate are written to a private
temporary directory for the call and removed straight after.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import socket
import ssl
import tempfile
import warnings
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

VERSIONS: tuple[tuple[str, ssl.TLSVersion], ...] = (
    ("TLSv1", ssl.TLSVersion.TLSv1),
    ("TLSv1.1", ssl.TLSVersion.TLSv1_1),
    ("TLSv1.2", ssl.TLSVersion.TLSv1_2),
    ("TLSv1.3", ssl.TLSVersion.TLSv1_3),
)
WEAK_CIPHERS = "ALL:@SECLEVEL=0"


def self_signed_certificate(host: str = "127.0.0.1") -> tuple[bytes, bytes]:
    """(certificate PEM, private key PEM): RSA 2048, SHA-256, valid for a day, for localhost and host."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "demo-api.localhost")])
    now = datetime.datetime.now(datetime.UTC)
    alt_names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    with contextlib.suppress(ValueError):
        alt_names.append(x509.IPAddress(ipaddress.ip_address(host)))
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _allow_old(context: ssl.SSLContext) -> None:
    """Asks for TLS 1.0 and every cipher; each step may be refused by the local OpenSSL (then skipped)."""
    with contextlib.suppress(ssl.SSLError):
        context.set_ciphers(WEAK_CIPHERS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # ssl.TLSVersion.TLSv1 is deprecated: the point
        for _name, version in VERSIONS[:2]:
            try:
                context.minimum_version = version
                return
            except (ValueError, ssl.SSLError):
                continue


def weak_server_context(host: str = "127.0.0.1") -> tuple[ssl.SSLContext, bytes]:
    cert_pem, key_pem = self_signed_certificate(host)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory(prefix="demo-target-") as folder:
        cert_file, key_file = Path(folder) / "cert.pem", Path(folder) / "key.pem"
        key_file.touch(mode=0o600)
        key_file.write_bytes(key_pem)
        cert_file.write_bytes(cert_pem)
        context.load_cert_chain(cert_file, key_file)
    _allow_old(context)
    return context, cert_pem


def accepted_versions(host: str, port: int, *, timeout: float = 3.0) -> tuple[str, ...]:
    """The protocol versions a server at host:port completes a handshake with (one connection each)."""
    accepted = []
    for name, version in VERSIONS:
        client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        client.check_hostname = False
        client.verify_mode = ssl.CERT_NONE  # noqa: S501 - probing our own self-signed server
        try:
            client.set_ciphers(WEAK_CIPHERS)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                client.minimum_version = version
                client.maximum_version = version
            with (
                socket.create_connection((host, port), timeout=timeout) as raw,
                client.wrap_socket(raw, server_hostname=None) as tls,
            ):
                if tls.version() == name:
                    accepted.append(name)
        except (OSError, ValueError, ssl.SSLError):
            continue
    return tuple(accepted)
