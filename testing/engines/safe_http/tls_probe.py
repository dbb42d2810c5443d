"""TLS handshakes the HTTP client cannot show: certificate, negotiated protocol and cipher.

    probe = TlsProbe(client.backend, trust=client.ssl_context, timeout=5)
    hello = probe.verified("api.example.com", 443)      # chain + host name, as the client verifies
    if not hello.ok and hello.verify_code:
        raw = probe.unverified("api.example.com", 443)  # to read the certificate's dates anyway
    probe.legacy("api.example.com", 443, "TLSv1")       # offers only TLS 1.0
    probe.weak_ciphers("api.example.com", 443)          # offers only NULL / anonymous / export ...

The address rules are the client's: the name is resolved and every answer checked by the client's
own ``GuardedBackend.addresses_for`` (same ``AddressPolicy``, same resolver, metadata names and
addresses always refused), and the socket connects to exactly a checked address; the handshake
sends ``server_hostname`` (SNI, host name verification). Every probe is bounded by one wall-clock
``timeout`` covering lookup, connect and the whole handshake (the handshake runs non-blocking, so a
server dripping its certificate a byte at a time is cut off too). Nothing is sent after the
handshake; the connection is closed at once.

A probe never raises: it returns a ``Handshake`` whose ``outcome`` says what happened. When this
machine's OpenSSL cannot even offer what a probe asks for (TLS 1.0 disabled by the build or the
system crypto policy, no weak cipher compiled in), the outcome is ``LOCAL_UNSUPPORTED`` with the
reason, so a caller can say the sub-test was skipped instead of calling it a pass.
"""

from __future__ import annotations

import contextlib
import datetime
import select
import socket
import ssl
import time
import warnings
from dataclasses import dataclass
from enum import StrEnum

import httpcore
from cryptography import x509

from testing.engines.safe_http.backend import AddressRefused, GuardedBackend

# OpenSSL cipher strings. @SECLEVEL=0 lets OpenSSL 3 offer what it would otherwise refuse to send.
LEGACY_CIPHERS = "ALL:@SECLEVEL=0"
# Broken or unauthenticated suites only: no encryption (eNULL), no authentication (aNULL), export
# grade, RC4, single and triple DES, MD5 MACs. PSK/SRP suites need a shared secret we do not have.
WEAK_CIPHERS = "eNULL:aNULL:EXPORT:RC4:DES:3DES:MD5:!PSK:!SRP:@SECLEVEL=0"
LEGACY_VERSIONS = {
    "TLSv1": "TLSv1",  # names as ssl.TLSVersion members and as SSLSocket.version() reports them
    "TLSv1.1": "TLSv1_1",
}
MAX_CERT_BYTES = 64 * 1024

# OpenSSL X509_V_ERR_* codes a verification failure reports (ssl.SSLCertVerificationError.verify_code)
VERIFY_EXPIRED = 10
VERIFY_NOT_YET_VALID = 9
VERIFY_HOSTNAME_MISMATCH = 62
VERIFY_SELF_SIGNED = 18
VERIFY_SELF_SIGNED_IN_CHAIN = 19
# Raised by OpenSSL before anything is sent: this machine cannot offer what was asked.
LOCAL_REASONS = frozenset({"NO_PROTOCOLS_AVAILABLE", "NO_CIPHERS_AVAILABLE", "NO_CIPHER_MATCH"})


class ProbeOutcome(StrEnum):
    OK = "ok"  # the handshake completed
    TLS_REFUSED = "tls_refused"  # the server refused or failed the handshake (alert, reset, close)
    VERIFY_FAILED = "verify_failed"  # the certificate did not verify (chain, host name, dates)
    REFUSED_ADDRESS = "refused_address"  # the address policy said no: nothing was sent
    DNS = "dns_failure"
    CONNECT_FAILED = "connect_failed"  # nothing listens, unreachable
    TIMEOUT = "timeout"
    LOCAL_UNSUPPORTED = "local_unsupported"  # this machine's OpenSSL cannot offer it


@dataclass(frozen=True)
class Certificate:
    subject: str
    issuer: str
    not_before: datetime.datetime  # aware, UTC
    not_after: datetime.datetime
    names: tuple[str, ...]  # DNS and IP subject alternative names

    def days_left(self, now: datetime.datetime | None = None) -> float:
        now = now or datetime.datetime.now(datetime.UTC)
        return (self.not_after - now).total_seconds() / 86400


@dataclass(frozen=True)
class Handshake:
    outcome: ProbeOutcome
    host: str
    port: int
    address: str | None = None  # the checked address connected to
    protocol: str | None = None  # "TLSv1.3"
    cipher: str | None = None  # OpenSSL name of the negotiated suite
    certificate: Certificate | None = None
    reason: str = ""  # short, safe to store
    verify_code: int | None = None  # X509_V_ERR_* when verification failed

    @property
    def ok(self) -> bool:
        return self.outcome == ProbeOutcome.OK


def parse_certificate(der: bytes) -> Certificate | None:
    """The fields a check reports, from a DER certificate; None when it does not parse."""
    if not der or len(der) > MAX_CERT_BYTES:
        return None
    try:
        cert = x509.load_der_x509_certificate(der)
        names: list[str] = []
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            names = [str(n) for n in san.get_values_for_type(x509.DNSName)][:50]
            names += [str(n) for n in san.get_values_for_type(x509.IPAddress)][:50]
        except x509.ExtensionNotFound:
            pass
        return Certificate(
            subject=cert.subject.rfc4514_string()[:300],
            issuer=cert.issuer.rfc4514_string()[:300],
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            names=tuple(names),
        )
    except (ValueError, TypeError):
        return None


class _Timeout(Exception):
    pass


class TlsProbe:
    """Handshakes to ``host:port`` through the client's address rules; see the module docstring."""

    def __init__(self, backend: GuardedBackend, *, trust: ssl.SSLContext, timeout: float = 5.0) -> None:
        self.backend = backend
        self.trust = trust
        self.timeout = timeout

    # the probes ----------------------------------------------------------------------------------

    def verified(self, host: str, port: int) -> Handshake:
        """Chain and host name verified with the client's own trust roots and settings."""
        return self.handshake(host, port, self.trust)

    def unverified(self, host: str, port: int) -> Handshake:
        """No verification at all: to read a certificate that does not verify (its dates, names)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return self.handshake(host, port, context)

    def legacy(self, host: str, port: int, version: str) -> Handshake:
        """Offers only ``version`` ("TLSv1" or "TLSv1.1"); OK means the server accepted it."""
        member = LEGACY_VERSIONS.get(version)
        if member is None:
            raise ValueError(f"not a legacy TLS version: {version!r}")
        if not getattr(ssl, f"HAS_{member}", False):
            return self._local(host, port, f"this machine's OpenSSL was built without {version}")
        try:
            context = self._unverified_context()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # that is the point of the probe
                tls_version = getattr(ssl.TLSVersion, member)
                context.minimum_version = tls_version
                context.maximum_version = tls_version
            context.set_ciphers(LEGACY_CIPHERS)
        except (ssl.SSLError, ValueError) as exc:
            return self._local(host, port, f"this machine's OpenSSL cannot offer {version}: {exc}"[:200])
        return self.handshake(host, port, context, offering=version)

    def weak_ciphers(self, host: str, port: int) -> Handshake:
        """Offers only broken suites (TLS 1.2 and below: TLS 1.3 has none); OK means one was accepted."""
        try:
            context = self._unverified_context()
            context.maximum_version = ssl.TLSVersion.TLSv1_2
            context.set_ciphers(WEAK_CIPHERS)
        except (ssl.SSLError, ValueError) as exc:
            return self._local(host, port, f"this machine's OpenSSL cannot offer weak ciphers: {exc}"[:200])
        return self.handshake(host, port, context, offering="weak ciphers")

    # the handshake -------------------------------------------------------------------------------

    def handshake(self, host: str, port: int, context: ssl.SSLContext, *, offering: str = "") -> Handshake:
        """One bounded handshake with ``context`` to a checked address of ``host``."""
        end = time.monotonic() + self.timeout
        try:
            addresses = self.backend.addresses_for(host, port, self.timeout)
        except AddressRefused as exc:
            return Handshake(ProbeOutcome.REFUSED_ADDRESS, host, port, reason=str(exc)[:200])
        except httpcore.TimeoutException:
            return Handshake(ProbeOutcome.TIMEOUT, host, port, reason="the name lookup timed out")
        except httpcore.ConnectError as exc:  # NameNotResolved
            return Handshake(ProbeOutcome.DNS, host, port, reason=str(exc)[:200])
        last = Handshake(ProbeOutcome.CONNECT_FAILED, host, port, reason="no address to connect to")
        for address in addresses:
            left = end - time.monotonic()
            if left <= 0:
                return Handshake(ProbeOutcome.TIMEOUT, host, port, reason="the probe timed out")
            try:
                sock = socket.create_connection((str(address), port), timeout=left)
            except TimeoutError:
                last = Handshake(
                    ProbeOutcome.TIMEOUT, host, port, str(address), reason="connecting timed out"
                )
                continue
            except OSError as exc:
                last = Handshake(
                    ProbeOutcome.CONNECT_FAILED, host, port, str(address), reason=_os_reason(exc)
                )
                continue
            return self._tls(sock, context, host, port, str(address), end, offering)
        return last

    def _tls(
        self,
        sock: socket.socket,
        context: ssl.SSLContext,
        host: str,
        port: int,
        address: str,
        end: float,
        offering: str,
    ) -> Handshake:
        def result(outcome: ProbeOutcome, reason: str, **kw: object) -> Handshake:
            return Handshake(outcome, host, port, address, reason=reason[:200], **kw)  # type: ignore[arg-type]

        tls: ssl.SSLSocket | None = None
        try:
            sock.setblocking(False)
            # An address as host: no SNI is sent, and the certificate must name the address.
            tls = context.wrap_socket(sock, server_hostname=host, do_handshake_on_connect=False)
            _handshake(tls, end)
            der = tls.getpeercert(binary_form=True) or b""
            cipher = tls.cipher()
            return result(
                ProbeOutcome.OK,
                "",
                protocol=tls.version(),
                cipher=cipher[0] if cipher else None,
                certificate=parse_certificate(der),
            )
        except _Timeout:
            return result(ProbeOutcome.TIMEOUT, "the handshake timed out")
        except ssl.SSLCertVerificationError as exc:
            return result(
                ProbeOutcome.VERIFY_FAILED,
                str(exc.verify_message or exc.reason or "the certificate did not verify"),
                verify_code=exc.verify_code,
            )
        except ssl.SSLError as exc:
            reason = str(exc.reason or exc)
            if reason in LOCAL_REASONS:
                return result(
                    ProbeOutcome.LOCAL_UNSUPPORTED,
                    f"this machine's OpenSSL cannot offer {offering or 'this'} ({reason})",
                )
            return result(ProbeOutcome.TLS_REFUSED, f"handshake refused: {reason}")
        except (ConnectionError, EOFError) as exc:
            return result(ProbeOutcome.TLS_REFUSED, f"the server closed the connection: {_os_reason(exc)}")
        except OSError as exc:
            return result(ProbeOutcome.TLS_REFUSED, f"the handshake failed: {_os_reason(exc)}")
        finally:
            with contextlib.suppress(OSError):
                (tls or sock).close()

    # helpers -------------------------------------------------------------------------------------

    @staticmethod
    def _unverified_context() -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context

    @staticmethod
    def _local(host: str, port: int, reason: str) -> Handshake:
        return Handshake(ProbeOutcome.LOCAL_UNSUPPORTED, host, port, reason=reason)


def _handshake(tls: ssl.SSLSocket, end: float) -> None:
    """Drive a non-blocking handshake to completion or raise ``_Timeout`` at ``end``."""
    while True:
        try:
            tls.do_handshake()
            return
        except ssl.SSLWantReadError:
            readable, writable = [tls], []
        except ssl.SSLWantWriteError:
            readable, writable = [], [tls]
        left = end - time.monotonic()
        if left <= 0:
            raise _Timeout
        ready = select.select(readable, writable, [], left)
        if not any(ready):
            raise _Timeout


def _os_reason(exc: BaseException) -> str:
    return (getattr(exc, "strerror", None) or type(exc).__name__)[:200]
