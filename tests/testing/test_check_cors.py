"""cors: foreign and null origins are never allowed with credentials."""

from __future__ import annotations

import testing.engines.checks.cors  # noqa: F401 - registers the check
from testing.engines.checks.base import Identity, OperationSpec, Outcome, Target
from testing.engines.checks.runner import run_checks
from tests.testing.check_api import Api, client_factory, handler
from tests.testing.servers import RawServer, reset

ALICE = Identity("alice", headers={"Authorization": "Bearer tok-alice"}, secrets=("tok-alice",))
OPS = (OperationSpec("GET", "/me"), OperationSpec("GET", "/public", auth_required=False))


def _target(server: RawServer, ops=OPS) -> Target:
    return Target(base_url=server.url("").rstrip("/"), operations=ops, identities=(ALICE,))


def _cors(allow_for):
    def answer(request):
        origin = request.headers.get("origin", "")
        headers = [("Content-Type", "application/json")]
        allowed = allow_for(origin, request.method)
        if allowed:
            headers += [
                ("Access-Control-Allow-Origin", allowed),
                ("Access-Control-Allow-Credentials", "true"),
            ]
        return 200, b"{}", headers

    return handler(answer)


def test_it_finds_a_reflected_origin_and_the_null_origin():
    with RawServer(Api(fallback=_cors(lambda origin, method: origin))) as server:
        report = run_checks(_target(server), ["cors"], client_factory=client_factory)
    result = report.checks[0]
    found = {(p.detail, p.operation) for p in result.problems}
    assert ("origin_reflected_with_credentials", "GET /me") in found
    assert ("null_origin_with_credentials", "GET /me") in found
    assert ("origin_reflected_with_credentials", "GET /public") in found
    assert result.outcome == Outcome.FAILED and result.severity == "high"


def test_it_finds_a_reflection_only_in_the_preflight():
    allow = lambda origin, method: origin if method == "OPTIONS" and origin.startswith("https") else ""  # noqa: E731
    with RawServer(Api(fallback=_cors(allow))) as server:
        report = run_checks(_target(server, OPS[:1]), ["cors"], client_factory=client_factory)
    assert [(p.detail, p.operation) for p in report.checks[0].problems] == [
        ("origin_reflected_with_credentials", "GET /me")
    ]
    assert "OPTIONS" in report.checks[0].problems[0].message


def test_it_finds_a_wildcard_with_credentials():
    with RawServer(Api(fallback=_cors(lambda origin, method: "*"))) as server:
        report = run_checks(_target(server, OPS[:1]), ["cors"], client_factory=client_factory)
    result = report.checks[0]
    assert [p.detail for p in result.problems] == ["wildcard_with_credentials"]
    assert result.severity == "medium"


def test_it_passes_an_allowlist_and_a_wildcard_without_credentials():
    def answer(request):
        origin = request.headers.get("origin", "")
        headers = [("Content-Type", "application/json"), ("Access-Control-Allow-Origin", "*")]
        if origin == "https://app.example.com":
            headers = [("Access-Control-Allow-Origin", origin), ("Access-Control-Allow-Credentials", "true")]
        return 200, b"{}", headers

    with RawServer(Api(fallback=handler(answer))) as server:
        report = run_checks(_target(server), ["cors"], client_factory=client_factory)
    result = report.checks[0]
    assert result.outcome == Outcome.PASSED
    assert result.requests_sent == 6 <= result.request_budget


def test_it_copes_with_resets_and_skips_without_operations():
    ops = tuple(OperationSpec("GET", f"/r{i}") for i in range(10))
    with RawServer(Api(fallback=reset)) as server:
        report = run_checks(_target(server, ops), ["cors"], client_factory=client_factory)
        skipped = run_checks(_target(server, ()), ["cors"], client_factory=client_factory)
    assert report.checks[0].outcome == Outcome.PASSED and report.checks[0].requests_sent == 9
    assert skipped.checks[0].outcome == Outcome.SKIPPED
