"""security_headers: nosniff on every answer with a body, no-store on authenticated answers."""

from __future__ import annotations

import testing.engines.checks.security_headers  # noqa: F401 - registers the check
from testing.engines.checks.base import Identity, OperationSpec, Outcome, Target
from testing.engines.checks.runner import run_checks
from testing.engines.checks.security_headers import cache_directives
from tests.testing.check_api import Api, client_factory, handler, json_answer
from tests.testing.servers import RawServer, reset

GOOD = [("X-Content-Type-Options", "nosniff"), ("Cache-Control", "no-store")]
ALICE = Identity("alice", headers={"Authorization": "Bearer tok-alice"}, secrets=("tok-alice",))


def _target(server: RawServer, ops, **kw) -> Target:
    return Target(base_url=server.url("").rstrip("/"), operations=ops, identities=(ALICE,), **kw)


def test_it_passes_a_careful_api():
    ops = (OperationSpec("GET", "/me"), OperationSpec("GET", "/status", auth_required=False))
    api = Api(
        {"/me": json_answer({"name": "alice"}, headers=GOOD), "/status": json_answer({}, headers=GOOD[:1])}
    )
    with RawServer(api) as server:
        report = run_checks(_target(server, ops), ["security_headers"], client_factory=client_factory)
    result = report.checks[0]
    assert result.outcome == Outcome.PASSED, result.problems
    assert result.authenticated_requests == 1 == result.authenticated_responses


def test_it_finds_missing_nosniff_and_a_cacheable_authenticated_answer():
    ops = (OperationSpec("GET", "/me"), OperationSpec("GET", "/status", auth_required=False))

    def me(request):
        assert request.headers["authorization"] == "Bearer tok-alice"
        return (
            200,
            b'{"name":"alice"}',
            [("Content-Type", "application/json"), ("Cache-Control", "private, no-cache, max-age=0")],
        )

    api = Api({"/me": handler(me), "/status": json_answer({"ok": True})})
    with RawServer(api) as server:
        report = run_checks(_target(server, ops), ["security_headers"], client_factory=client_factory)
    found = {(p.detail, p.operation) for p in report.checks[0].problems}
    assert found == {
        ("missing_nosniff", "GET /me"),
        ("authenticated_response_cacheable", "GET /me"),
        ("missing_nosniff", "GET /status"),
    }
    # A public answer may be cached: only the authenticated one needs no-store.
    assert report.checks[0].severity == "medium"


def test_it_copes_with_resets_and_stays_in_budget():
    ops = tuple(OperationSpec("GET", f"/r{i}") for i in range(20))
    with RawServer(Api(fallback=reset)) as server:
        report = run_checks(_target(server, ops), ["security_headers"], client_factory=client_factory)
    result = report.checks[0]
    assert result.outcome == Outcome.PASSED and result.metrics == {"answered": 0}
    assert result.requests_sent == 8 <= result.request_budget


def test_it_skips_without_safe_operations():
    with RawServer(Api()) as server:
        report = run_checks(
            _target(server, (OperationSpec("POST", "/orders"),)),
            ["security_headers"],
            client_factory=client_factory,
        )
    assert report.checks[0].outcome == Outcome.SKIPPED


def test_it_reads_cache_directives_case_and_space_insensitively():
    assert "no-store" in cache_directives("Private , NO-STORE,max-age=0")
    assert "no-store" not in cache_directives("no-cache, max-age=0")
