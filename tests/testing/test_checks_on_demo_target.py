"""Every check against the deliberately flawed demo API, on real sockets on 127.0.0.1.

The demo target says in ``FLAWS`` which check must catch what, where, and in ``CORRECT_OPERATIONS``
which operations are done right. The Target is built the way the portal builds it: the operations
from the API's own OpenAPI document (``targets.operations_from_openapi``), alice and bob resolved
through ``testing.engines.identities`` (a login step against POST /auth/login), their order ids as
the objects they own. Each check runs once per module against one plain-HTTP demo (the ``tls`` check
against a TLS one); the tests below judge the shared reports, parametrized by check key so a failure
names the check.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from testing.engines.checks import all_checks
from testing.engines.checks.base import CheckReport, Identity, Outcome, Severity, Target
from testing.engines.checks.runner import run_checks
from testing.engines.checks.targets import operations_from_openapi
from testing.engines.demo_target import (
    CORRECT_OPERATIONS,
    DEMO_USERS,
    FLAWS,
    PERFORMANCE_BASELINE_P95_MS,
    DemoTarget,
    openapi_document,
)
from testing.engines.identities import LoginStep, resolve
from testing.engines.safe_http import Limits, SafeClient

CHECKS = all_checks()
CONSUMERS = ("checkout-web", "mobile-app")


def client_factory(budget: int) -> SafeClient:
    # No per-host rate: the demo is loopback, and the rate is the bench's subject, not this test's.
    return SafeClient(
        allowed_networks=["127.0.0.0/8"],
        limits=Limits(
            connect_timeout=2, read_timeout=4, total_timeout=5, per_host_rate=0, max_requests=budget
        ),
    )


def logged_in(name: str, username: str, base_url: str) -> Identity:
    user = DEMO_USERS[username]
    spec = LoginStep(
        name=name,
        path="/auth/login",
        json={"username": user.username, "password": "{{ secrets.password }}"},
        token_path="$.access_token",
        secrets={"password": user.password},
        object_ids=tuple(str(i) for i in user.order_ids),
    )
    return resolve(spec, client=client_factory(1), base_url=base_url)


def demo_target(demo: DemoTarget, *, identities: bool = True) -> Target:
    return Target(
        base_url=demo.url,
        operations=operations_from_openapi(openapi_document(demo.url)),
        identities=(logged_in("A", "alice", demo.url), logged_in("B", "bob", demo.url)) if identities else (),
        auth_schemes=("jwt",),
        intrusive_allowed=True,
        latency_p95_ms=PERFORMANCE_BASELINE_P95_MS,
        cheap_get="/products",
        consumers=CONSUMERS,
    )


@pytest.fixture(scope="module")
def reports() -> Iterator[dict[str, CheckReport]]:
    """Every check's report: ``tls`` from a TLS demo, every other one from a plain-HTTP demo."""
    out: dict[str, CheckReport] = {}
    with DemoTarget(port=0) as demo:
        target = demo_target(demo)
        for key in CHECKS:
            if key != "tls":
                out[key] = run_checks(target, [key], client_factory=client_factory).checks[0]
    with DemoTarget(port=0, tls=True) as demo:
        out["tls"] = run_checks(
            demo_target(demo, identities=False), ["tls"], client_factory=client_factory
        ).checks[0]
        out["tls"].metrics["accepted_versions"] = demo.tls_versions
    yield out


def test_it_builds_the_target_from_the_demos_own_document():
    operations = operations_from_openapi(openapi_document("http://127.0.0.1:1"))
    by_key = {op.key: op for op in operations}
    assert not by_key["GET /health"].auth_required and by_key["GET /orders/{id}"].auth_required
    assert by_key["PATCH /users/me"].request_schema["additionalProperties"] is False  # $ref resolved
    assert by_key["GET /orders/{id}"].responses["200"]["required"][0] == "id"
    assert by_key["GET /v2/orders/{id}"].path_parameters()[0]["schema"]["example"] == 101
    assert set(CORRECT_OPERATIONS) <= set(by_key)


@pytest.mark.parametrize("key", sorted(FLAWS))
def test_it_catches_the_planted_flaw(reports, key):
    flaw, report = FLAWS[key], reports[key]
    assert report.outcome == Outcome.FAILED, (report.summary, report.skipped_reason)
    where = [p.operation for p in report.problems]
    if flaw.operations:
        assert set(where) & set(flaw.operations), f"{key} reported {where}, expected one of {flaw.operations}"
    assert report.requests_sent <= report.request_budget


@pytest.mark.parametrize("key", sorted(CHECKS))
def test_it_reports_no_problem_on_a_correct_operation(reports, key):
    wrong = [(p.detail, p.operation) for p in reports[key].problems if p.operation in CORRECT_OPERATIONS]
    assert not wrong, f"{key} reported operations done right: {wrong}"
    assert reports[key].outcome != Outcome.ERROR, reports[key].summary


def test_it_names_the_weaknesses_of_the_demos_tls(reports):
    details = {p.detail for p in reports["tls"].problems}
    assert "certificate_untrusted" in details  # self-signed at start
    accepted = reports["tls"].metrics["accepted_versions"]
    assert ("TLSv1" in accepted) == ("tls1_0_accepted" in details)
    assert ("TLSv1.1" in accepted) == ("tls1_1_accepted" in details)


def test_it_sees_the_demo_up_while_it_runs_and_down_with_its_consumers_once_stopped(reports):
    assert reports["availability"].outcome == Outcome.PASSED and reports["availability"].metrics["up"]
    demo = DemoTarget(port=0).start()
    try:
        target = demo_target(demo, identities=False)
    finally:
        demo.stop()
    result = run_checks(target, ["availability"], client_factory=client_factory).checks[0]
    assert result.outcome == Outcome.FAILED and result.severity == Severity.CRITICAL
    assert [p.detail for p in result.problems] == ["unreachable"]
    assert all(name in result.problems[0].message for name in CONSUMERS)


def test_it_stays_within_every_checks_budget_and_answers_as_the_identities(reports):
    for key, report in reports.items():
        assert report.requests_sent <= report.request_budget, key
    bola = reports["bola"]
    assert bola.authenticated_requests > 0 and bola.authenticated_responses > 0
