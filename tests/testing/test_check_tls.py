"""The ``tls`` check against real TLS servers on 127.0.0.1 with certificates from a test CA."""

from __future__ import annotations

import socket
import threading

import pytest

from testing.engines.checks import all_checks
from testing.engines.checks.base import Outcome, Severity, Target
from testing.engines.checks.runner import run_checks
from testing.engines.safe_http import Limits, SafeClient, tls_probe
from tests.testing.pki_extra import server_context
from tests.testing.servers import FakeResolver, RawServer, Router, make_pki, respond

all_checks()
HSTS = [("Strict-Transport-Security", "max-age=31536000; includeSubDomains")]


@pytest.fixture
def pki(tmp_path):
    return make_pki(tmp_path)


def _run(pki, base_url: str, **target):
    def factory(budget: int) -> SafeClient:
        return SafeClient(
            allowed_networks=["127.0.0.0/8"],
            resolver=FakeResolver({"api.test": ["127.0.0.1"], "evil.test": ["169.254.169.254"]}),
            ssl_context=pki.client_context(),
            limits=Limits(
                connect_timeout=1, read_timeout=1, total_timeout=2, per_host_rate=0, max_requests=budget
            ),
        )

    report = run_checks(Target(base_url=base_url, **target), ["tls"], client_factory=factory)
    result = report.checks[0]
    assert result.requests_sent <= result.request_budget
    return result


def _api(headers=HSTS):
    return Router({"/": lambda c, r: respond(c, 200, b"{}", headers)})


def _details(result) -> dict[str, Severity]:
    return {p.detail: p.severity or Severity.HIGH for p in result.problems}


def test_it_passes_a_valid_certificate_with_modern_tls_and_hsts(pki):
    with RawServer(_api(), tls=server_context(pki, "api.test", valid_until_days=200)) as server:
        result = _run(pki, f"https://api.test:{server.port}")
    assert result.outcome == Outcome.PASSED, result.problems
    assert result.metrics["certificate"] == "valid" and result.metrics["protocol"] in ("TLSv1.2", "TLSv1.3")
    assert result.metrics["hsts_max_age"] == 31536000
    offers = result.metrics["offers"]
    for offered in ("TLSv1", "TLSv1.1", "weak ciphers"):
        assert offers[offered] in ("refused", "skipped")  # never "accepted"
    assert result.requests_sent == 5  # verified, TLS 1.0, TLS 1.1, weak ciphers, the HSTS GET


def test_it_calls_an_expired_certificate_critical(pki):
    context = server_context(pki, "api.test", valid_from_days=-90, valid_until_days=-1)
    with RawServer(_api(), tls=context) as server:
        result = _run(pki, f"https://api.test:{server.port}")
    assert result.outcome == Outcome.FAILED and result.severity == Severity.CRITICAL
    expired = next(p for p in result.problems if p.detail == "certificate_expired")
    assert expired.operation == f"TLS api.test:{server.port}" and "expired on" in expired.message
    assert "hsts_missing" not in _details(result)  # no HSTS verdict over a connection that fails


def test_it_warns_about_a_certificate_expiring_within_30_days(pki):
    with RawServer(_api(), tls=server_context(pki, "api.test", valid_until_days=10)) as server:
        result = _run(pki, f"https://api.test:{server.port}")
    assert _details(result) == {"certificate_expiring": Severity.MEDIUM}
    assert result.severity == Severity.MEDIUM
    assert 9 < result.metrics["certificate_days_left"] < 11


@pytest.mark.parametrize(
    ("names", "self_signed", "detail"),
    [
        (("other.test",), False, "certificate_hostname_mismatch"),
        (("api.test",), True, "certificate_untrusted"),
    ],
)
def test_it_reports_a_certificate_that_does_not_verify(pki, names, self_signed, detail):
    with RawServer(_api(), tls=server_context(pki, *names, self_signed=self_signed)) as server:
        result = _run(pki, f"https://api.test:{server.port}")
    assert detail in _details(result) and result.severity == Severity.HIGH
    assert "certificate_expired" not in _details(result)


def test_it_catches_legacy_protocols_and_weak_ciphers(pki):
    context = server_context(pki, "api.test", legacy=True, weak_ciphers=True)
    with RawServer(_api(), tls=context) as server:
        result = _run(pki, f"https://api.test:{server.port}")
    details = _details(result)
    skipped = result.metrics.get("skipped_subtests", {})
    for offered, detail in (("TLSv1", "tls1_0_accepted"), ("TLSv1.1", "tls1_1_accepted")):
        assert (details.get(detail) == Severity.MEDIUM) or offered in skipped
    assert details.get("weak_cipher_accepted") == Severity.HIGH or "weak ciphers" in skipped
    assert result.outcome == Outcome.FAILED


def test_it_never_calls_a_sub_test_it_cannot_run_a_pass(pki, monkeypatch):
    monkeypatch.setattr(tls_probe, "LEGACY_CIPHERS", "NO-SUCH-CIPHER")
    with RawServer(_api(), tls=server_context(pki, "api.test")) as server:
        result = _run(pki, f"https://api.test:{server.port}")
    assert result.metrics["offers"]["TLSv1"] == "skipped"
    assert "cannot offer TLSv1" in result.metrics["skipped_subtests"]["TLSv1"]
    assert "cannot offer TLSv1.1" in result.metrics["skipped_subtests"]["TLSv1.1"]


def test_it_reports_missing_hsts(pki):
    with RawServer(
        _api(headers=[("Strict-Transport-Security", "max-age=0")]), tls=server_context(pki, "api.test")
    ) as server:
        result = _run(pki, f"https://api.test:{server.port}/v1")
    problem = next(p for p in result.problems if p.detail == "hsts_missing")
    assert (
        problem.evidence and problem.evidence[0]["status"] == 404
    )  # /v1/ is not routed: headers still count
    with RawServer(_api(headers=[]), tls=server_context(pki, "api.test")) as server:
        assert "hsts_missing" in _details(_run(pki, f"https://api.test:{server.port}"))


def test_it_reports_a_server_that_does_not_speak_tls(pki):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def garbage() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            conn.close()

    threading.Thread(target=garbage, daemon=True).start()
    try:
        result = _run(pki, f"https://api.test:{listener.getsockname()[1]}")
    finally:
        listener.close()
    assert "tls_handshake_failed" in _details(result)
    assert result.outcome == Outcome.FAILED


def test_it_reports_an_http_api_with_no_https(pki):
    result = _run(pki, "http://api.test:8080")  # nothing listens on 127.0.0.1:443
    assert [(p.detail, p.operation) for p in result.problems] == [("https_not_offered", "TLS api.test:443")]


def test_it_skips_an_address_the_scanner_may_not_reach(pki):
    result = _run(pki, "https://evil.test")
    assert result.outcome == Outcome.SKIPPED and "metadata" in result.skipped_reason
    # The one probe counted was refused before any connection (skipped results keep their count).
    assert result.requests_sent == 1 and result.metrics == {"address": None}
