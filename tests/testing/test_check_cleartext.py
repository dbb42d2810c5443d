"""The ``cleartext`` check against real plain and TLS servers on 127.0.0.1."""

from __future__ import annotations

import socket
import threading

import pytest

from testing.engines.checks import all_checks
from testing.engines.checks.base import OperationSpec, Outcome, Severity, Target
from testing.engines.checks.runner import run_checks
from testing.engines.safe_http import Limits, SafeClient
from tests.testing.pki_extra import server_context
from tests.testing.servers import (
    FakeResolver,
    RawServer,
    Router,
    make_pki,
    redirect,
    reset,
    respond,
)

all_checks()
OPS = (
    OperationSpec("GET", "/health", auth_required=False),
    OperationSpec("GET", "/items", auth_required=True),
)


@pytest.fixture
def pki(tmp_path):
    return make_pki(tmp_path)


def _run(pki, base_url: str):
    def factory(budget: int) -> SafeClient:
        return SafeClient(
            allowed_networks=["127.0.0.0/8"],
            resolver=FakeResolver({"api.test": ["127.0.0.1"]}),
            ssl_context=pki.client_context(),
            limits=Limits(
                connect_timeout=1, read_timeout=0.5, total_timeout=1, per_host_rate=0, max_requests=budget
            ),
        )

    result = run_checks(
        Target(base_url=base_url, operations=OPS), ["cleartext"], client_factory=factory
    ).checks[0]
    assert result.requests_sent <= result.request_budget
    return result


def _json(conn, request):
    respond(conn, 200, b'{"items": []}', [("Content-Type", "application/json")])


def test_it_catches_api_content_over_plain_http(pki):
    with RawServer(Router({"/": _json, "/health": _json})) as server:
        result = _run(pki, f"https://api.test:{server.port}")
    assert result.outcome == Outcome.FAILED and result.severity == Severity.HIGH
    assert sorted((p.detail, p.operation) for p in result.problems) == [
        ("cleartext_served", "GET /"),
        ("cleartext_served", "GET /health"),
    ]
    assert result.metrics["plain_ports"] == [80, server.port]
    # Never an identity over plain HTTP, and no protected operation probed.
    assert all("authorization" not in r.headers for r in server.requests)
    assert all(r.path != "/items" for r in server.requests)


def test_it_passes_a_tls_only_port_and_a_redirect_to_https(pki):
    with RawServer(Router({}), tls=server_context(pki, "api.test")) as server:
        result = _run(pki, f"https://api.test:{server.port}")
    assert result.outcome == Outcome.PASSED, result.problems
    to_https = redirect("https://api.test/health", 301)
    with RawServer(Router({"/": to_https, "/health": to_https})) as server:
        assert _run(pki, f"https://api.test:{server.port}").outcome == Outcome.PASSED


def test_it_catches_a_redirect_that_stays_on_plain_http(pki):
    with RawServer(Router({"/": redirect("/login"), "/health": redirect("http://api.test/x")})) as server:
        result = _run(pki, f"https://api.test:{server.port}")
    assert {(p.detail, p.operation) for p in result.problems} == {
        ("redirect_not_https", "GET /"),
        ("redirect_not_https", "GET /health"),
    }


def test_it_catches_the_api_itself_answering_on_plain_http(pki):
    """One port that speaks both TLS and plain HTTP, answering 401 the same way on each."""
    tls = server_context(pki, "api.test")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            try:
                conn.settimeout(2)
                if conn.recv(1, socket.MSG_PEEK) == b"\x16":
                    conn = tls.wrap_socket(conn, server_side=True)
                head = b""
                while b"\r\n\r\n" not in head and len(head) < 65536:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    head += chunk
                if b"\r\n\r\n" in head:
                    respond(conn, 401, b'{"error": "unauthorized"}', [("Connection", "close")])
            except OSError:
                pass
            finally:
                conn.close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        result = _run(pki, f"https://api.test:{listener.getsockname()[1]}")
    finally:
        listener.close()
    assert {(p.detail, p.operation) for p in result.problems} == {
        ("cleartext_reachable", "GET /"),
        ("cleartext_reachable", "GET /health"),
    }
    assert result.severity == Severity.MEDIUM


def test_it_reports_an_http_base_url_high_unless_loopback(pki):
    with RawServer(Router({"/": _json})) as server:
        remote = _run(pki, f"http://api.test:{server.port}")
        local = _run(pki, f"http://127.0.0.1:{server.port}")
    assert [(p.detail, p.operation, p.severity) for p in remote.problems] == [
        ("cleartext_base_url", "GET /", Severity.HIGH)
    ]
    assert remote.problems[0].evidence[0]["status"] == 200
    assert [(p.detail, p.severity) for p in local.problems] == [("cleartext_base_url", None)]
    assert local.severity == Severity.MEDIUM


def test_it_copes_with_resets_and_server_errors(pki):
    with RawServer(reset) as server:
        assert _run(pki, f"https://api.test:{server.port}").outcome == Outcome.PASSED
    with RawServer(lambda c, r: respond(c, 500, b"<html>boom</html>")) as server:
        result = _run(pki, f"https://api.test:{server.port}")
    assert result.outcome == Outcome.PASSED
    assert result.metrics["plain_answers"][f"http://…:{server.port}/"] == 500
