"""The TLS probe: the client's address rules, verification, legacy protocols, weak ciphers, time bounds."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from testing.engines.safe_http import AddressPolicy, GuardedBackend, tls_probe
from testing.engines.safe_http.tls_probe import ProbeOutcome, TlsProbe
from tests.testing.pki_extra import server_context
from tests.testing.servers import FakeResolver, RawServer, make_pki, respond


@pytest.fixture
def pki(tmp_path):
    return make_pki(tmp_path)


def _probe(pki, resolver=None, networks=("127.0.0.0/8",), timeout=3.0) -> TlsProbe:
    backend = GuardedBackend(AddressPolicy.from_cidrs(networks), resolver)
    return TlsProbe(backend, trust=pki.client_context(), timeout=timeout)


def _hello(conn, request):
    respond(conn, 200, b"hi")


def test_it_reads_the_certificate_protocol_and_cipher_of_a_valid_server(pki):
    resolver = FakeResolver({"api.test": ["127.0.0.1"]})
    with RawServer(_hello, tls=server_context(pki, "api.test", valid_until_days=90)) as server:
        hello = _probe(pki, resolver).verified("api.test", server.port)
    assert hello.ok, hello.reason
    assert hello.address == "127.0.0.1" and resolver.lookups == ["api.test"]
    assert hello.protocol in ("TLSv1.2", "TLSv1.3") and hello.cipher
    assert hello.certificate is not None and "api.test" in hello.certificate.names
    assert 89 < hello.certificate.days_left() < 91


def test_it_reports_a_wrong_host_name_and_still_reads_the_dates_unverified(pki):
    resolver = FakeResolver({"api.test": ["127.0.0.1"]})
    with RawServer(_hello, tls=server_context(pki, "other.test")) as server:
        probe = _probe(pki, resolver)
        hello = probe.verified("api.test", server.port)
        raw = probe.unverified("api.test", server.port)
    assert hello.outcome == ProbeOutcome.VERIFY_FAILED
    assert hello.verify_code == tls_probe.VERIFY_HOSTNAME_MISMATCH
    assert raw.ok and raw.certificate is not None and raw.certificate.names == ("other.test",)


def test_it_reports_an_expired_certificate(pki):
    resolver = FakeResolver({"api.test": ["127.0.0.1"]})
    context = server_context(pki, "api.test", valid_from_days=-60, valid_until_days=-2)
    with RawServer(_hello, tls=context) as server:
        probe = _probe(pki, resolver)
        hello = probe.verified("api.test", server.port)
        raw = probe.unverified("api.test", server.port)
    assert hello.outcome == ProbeOutcome.VERIFY_FAILED and hello.verify_code == tls_probe.VERIFY_EXPIRED
    assert raw.certificate is not None and raw.certificate.days_left() < 0


def test_it_refuses_a_metadata_address_without_connecting(pki):
    resolver = FakeResolver(
        {"evil.test": ["169.254.169.254"], "mixed.test": ["127.0.0.1", "169.254.169.254"]}
    )
    # Even an allowlist that names the metadata range does not let the probe through.
    probe = _probe(pki, resolver, networks=("127.0.0.0/8", "169.254.0.0/16"))
    for host in ("evil.test", "mixed.test", "169.254.169.254", "metadata.google.internal", "0xa9fea9fe"):
        hello = probe.verified(host, 443)
        assert hello.outcome == ProbeOutcome.REFUSED_ADDRESS, host
        assert hello.address is None
    assert hello.reason


def test_it_refuses_a_private_address_outside_the_allowlist(pki):
    probe = _probe(pki, networks=())
    assert probe.verified("127.0.0.1", 443).outcome == ProbeOutcome.REFUSED_ADDRESS


def test_it_tells_accepted_legacy_protocols_from_refused_ones(pki):
    with (
        RawServer(_hello, tls=server_context(pki, "127.0.0.1", legacy=True)) as legacy,
        RawServer(_hello, tls=server_context(pki, "127.0.0.1")) as modern,
    ):
        probe = _probe(pki)
        old = [probe.legacy("127.0.0.1", legacy.port, v) for v in ("TLSv1", "TLSv1.1")]
        new = [probe.legacy("127.0.0.1", modern.port, v) for v in ("TLSv1", "TLSv1.1")]
    if any(h.outcome == ProbeOutcome.LOCAL_UNSUPPORTED for h in old + new):
        pytest.skip("this machine's OpenSSL cannot offer TLS 1.0/1.1")
    assert [h.protocol for h in old] == ["TLSv1", "TLSv1.1"]
    assert all(h.outcome == ProbeOutcome.TLS_REFUSED for h in new)


def test_it_says_when_this_machine_cannot_offer_what_is_asked(pki, monkeypatch):
    monkeypatch.setattr(tls_probe, "LEGACY_CIPHERS", "NO-SUCH-CIPHER")
    monkeypatch.setattr(tls_probe, "WEAK_CIPHERS", "NO-SUCH-CIPHER")
    probe = _probe(pki)
    for hello in (probe.legacy("127.0.0.1", 1, "TLSv1"), probe.weak_ciphers("127.0.0.1", 1)):
        assert hello.outcome == ProbeOutcome.LOCAL_UNSUPPORTED
        assert "cannot offer" in hello.reason
    with pytest.raises(ValueError):
        probe.legacy("127.0.0.1", 1, "SSLv3")


def test_it_tells_weak_cipher_servers_from_strong_ones(pki):
    with (
        RawServer(_hello, tls=server_context(pki, "127.0.0.1", weak_ciphers=True)) as weak,
        RawServer(_hello, tls=server_context(pki, "127.0.0.1")) as strong,
    ):
        probe = _probe(pki)
        accepted = probe.weak_ciphers("127.0.0.1", weak.port)
        refused = probe.weak_ciphers("127.0.0.1", strong.port)
    assert accepted.ok and accepted.cipher
    assert "NULL" in accepted.cipher or accepted.cipher.startswith(("ADH", "AECDH"))
    assert refused.outcome == ProbeOutcome.TLS_REFUSED


def test_it_bounds_a_server_that_never_finishes_the_handshake(pki):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []

    def drip() -> None:
        conn, _ = listener.accept()
        accepted.append(conn)
        for _ in range(40):  # a byte of a TLS record header every 0.1 s, never a whole record
            try:
                conn.sendall(b"\x16")
            except OSError:
                return
            time.sleep(0.1)

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    started = time.monotonic()
    hello = _probe(pki, timeout=0.5).verified("127.0.0.1", listener.getsockname()[1])
    assert time.monotonic() - started < 1.5
    assert hello.outcome in (ProbeOutcome.TIMEOUT, ProbeOutcome.TLS_REFUSED)
    listener.close()
    for conn in accepted:
        conn.close()


def test_it_reports_nothing_listening_and_plain_http(pki):
    with RawServer(_hello) as plain:
        probe = _probe(pki, timeout=0.5)
        # This server waits for an HTTP request head that a ClientHello never completes.
        assert probe.verified("127.0.0.1", plain.port).outcome in (
            ProbeOutcome.TLS_REFUSED,
            ProbeOutcome.TIMEOUT,
        )
        port = plain.port
    assert probe.verified("127.0.0.1", port).outcome == ProbeOutcome.CONNECT_FAILED
