"""exposed_debug: debug paths, unwanted docs and secret fields; a catch-all page is not exposure."""

from __future__ import annotations

import json

import testing.engines.checks.exposed_debug  # noqa: F401 - registers the check
from testing.engines.checks.base import Identity, OperationSpec, Outcome, Target
from testing.engines.checks.exposed_debug import PROBES, documented_secret_fields, secret_fields
from testing.engines.checks.runner import run_checks
from tests.testing.check_api import Api, client_factory, handler, json_answer, text_answer
from tests.testing.servers import RawServer, reset

ALICE = Identity("alice", headers={"Authorization": "Bearer tok-alice"}, secrets=("tok-alice",))
USER_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "password": {"type": "string", "writeOnly": True},
        "settings": {"type": "object", "properties": {"smtpPassword": {"type": "string"}}},
    },
}
OPS = (
    OperationSpec("GET", "/users/me", responses={"200": USER_SCHEMA}),
    OperationSpec("GET", "/health", auth_required=False, responses={"200": None}),
)
OPENAPI = json.dumps({"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {}}).encode()


def _target(server: RawServer, ops=OPS, **kw) -> Target:
    return Target(base_url=server.url("").rstrip("/"), operations=ops, identities=(ALICE,), **kw)


def _introspection(request):
    assert request.method == "POST" and json.loads(request.body) == {"query": "{__schema{types{name}}}"}
    return 200, b'{"data":{"__schema":{"types":[{"name":"Query"}]}}}', [("Content-Type", "application/json")]


def _flawed_api() -> Api:
    return Api(
        {
            "/.git/config": text_answer(b"[core]\n\trepositoryformatversion = 0\n"),
            "/.env": text_answer(b"# local\nDATABASE_URL=postgres://u:p@db/app\nSECRET_KEY=abc\n"),
            "/actuator/env": json_answer({"activeProfiles": ["prod"], "propertySources": []}),
            "/openapi.json": text_answer(OPENAPI, content_type="application/json"),
            "/graphql": handler(_introspection),
            "/users/me": json_answer(
                {"name": "alice", "apiKey": "ak_live_123", "password": "hunter2hunter2", "pin": "****"}
            ),
            "/health": json_answer({"status": "ok", "secret": "", "has_password": True}),
        }
    )


def test_it_finds_debug_paths_docs_and_secrets():
    with RawServer(_flawed_api()) as server:
        report = run_checks(_target(server), ["exposed_debug"], client_factory=client_factory)
    result = report.checks[0]
    found = {(p.detail, p.operation) for p in result.problems}
    assert found == {
        ("secret_field_documented", "GET /users/me"),
        ("exposed_debug", "GET /.git/config"),
        ("exposed_debug", "GET /.env"),
        ("exposed_debug", "GET /actuator/env"),
        ("exposed_docs", "GET /openapi.json"),
        ("exposed_docs", "POST /graphql"),
        ("secret_in_response", "GET /users/me"),
    }
    assert result.severity == "critical"
    leak = next(p for p in result.problems if p.detail == "secret_in_response")
    assert "apiKey" in leak.message and "password" in leak.message
    assert "hunter2" not in repr(leak) and "ak_live" not in repr(leak)
    documented = next(p for p in result.problems if p.detail == "secret_field_documented")
    assert "settings.smtpPassword" in documented.message and "password," not in documented.message


def test_it_allows_public_docs_but_never_debug_paths():
    with RawServer(_flawed_api()) as server:
        report = run_checks(
            _target(server, docs_public=True), ["exposed_debug"], client_factory=client_factory
        )
        sent = {r.path for r in server.requests}
    details = {p.detail for p in report.checks[0].problems}
    assert "exposed_docs" not in details and "exposed_debug" in details
    assert "/openapi.json" not in sent


def test_it_does_not_report_an_spa_that_answers_every_path():
    index = b"<!doctype html><html><head><title>App</title></head><body><div id=root></div>swagger-ui</body></html>"
    api = Api(fallback=text_answer(index, content_type="text/html"))
    with RawServer(api) as server:
        report = run_checks(_target(server, OPS[1:]), ["exposed_debug"], client_factory=client_factory)
    result = report.checks[0]
    assert result.outcome == Outcome.PASSED, result.problems
    assert result.requests_sent == 1 + len(PROBES) + 1 <= result.request_budget


def test_it_copes_with_garbage_and_stays_in_budget():
    ops = tuple(OperationSpec("GET", f"/p{i}") for i in range(20))
    with RawServer(Api(fallback=reset)) as server:
        report = run_checks(_target(server, ops), ["exposed_debug"], client_factory=client_factory)
    assert report.checks[0].outcome == Outcome.PASSED
    assert report.checks[0].requests_sent == report.checks[0].request_budget == 1 + len(PROBES) + 8
    garbage = text_answer(b"{not json" + b"\xff" * 1000, content_type="application/json")
    with RawServer(Api(fallback=garbage)) as server:
        report = run_checks(_target(server, ops), ["exposed_debug"], client_factory=client_factory)
    assert report.checks[0].outcome == Outcome.PASSED


def test_its_walks_are_bounded():
    deep: dict = {}
    node = deep
    for _ in range(10_000):
        node["a"] = {}
        node = node["a"]
    node["password"] = "x"
    assert secret_fields(deep) == []  # beyond the depth bound: not walked, not a crash
    assert secret_fields([{"db_password": "s3cret", "secret_question": "pet?"}]) == ["[].db_password"]
    assert documented_secret_fields(
        {"properties": {"private_key": {}}, "allOf": [{"properties": {"client_secret": {}}}]}
    ) == [
        "client_secret",
        "private_key",
    ]
    assert len(PROBES) <= 25


def test_it_looks_for_web_server_files_at_the_hosts_root_and_app_paths_under_the_prefix():
    api = Api(
        {
            "/.git/config": text_answer(b"[core]\n\trepositoryformatversion = 0\n"),
            "/api/v1/actuator/env": json_answer({"propertySources": []}),
        }
    )
    with RawServer(api) as server:
        target = Target(base_url=server.url("/api/v1"), operations=OPS[1:])
        report = run_checks(target, ["exposed_debug"], client_factory=client_factory)
        sent = {r.path for r in server.requests}
    found = {(p.detail, p.operation) for p in report.checks[0].problems}
    assert found == {("exposed_debug", "GET /.git/config"), ("exposed_debug", "GET /actuator/env")}
    assert "/.env" in sent and "/api/v1/.env" not in sent and "/api/v1/actuator" in sent


def test_it_keeps_the_body_of_a_debug_page_out_of_evidence():
    with RawServer(_flawed_api()) as server:
        report = run_checks(_target(server), ["exposed_debug"], client_factory=client_factory)
    dotenv = next(p for p in report.checks[0].problems if p.operation == "GET /.env")
    assert dotenv.evidence[0]["status"] == 200 and dotenv.evidence[0]["body_bytes"] == 0
    assert "postgres://" not in repr(dotenv)
