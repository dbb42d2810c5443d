"""Small checks for the service tests, registered into the real registry for one test at a time
(``registered_checks`` fixture), so ``all_checks()``, plans and runs see them like real ones."""

from __future__ import annotations

import json
import threading

import pytest

from testing.engines.checks import base
from testing.engines.checks.base import Check, Context, Owasp, Severity, Skip
from tests.testing.servers import RawServer, Router, respond


class _Base(Check):
    title = "test"
    sends = "test"
    owasp = Owasp.API8
    severity = Severity.HIGH
    request_budget = 5


class Items(_Base):
    """GET /items with identity A when there is one; each item in the JSON answer listed under
    "bad" is a problem (so a test server decides what is found)."""

    key = "t_items"

    def run(self, ctx: Context):
        identity = ctx.target.identities[0] if ctx.target.identities else None
        op = ctx.target.operations[0] if ctx.target.operations else None
        response = ctx.send("GET", "/items", identity=identity, operation=op)
        if not response.ok or response.status >= 500:
            raise Skip(f"no usable answer ({response.status or response.error_kind})")
        for bad in (response.json() or {}).get("bad", [])[:20]:
            ctx.problem(
                detail=str(bad.get("detail", "bad")),
                operation="GET /items",
                message=f"item {bad.get('id')} is bad",
                severity=Severity(bad["severity"]) if bad.get("severity") else None,
                responses=[response],
            )
        ctx.metrics["p95_ms"] = 12.5
        return ctx.problems


class Quiet(_Base):
    key = "t_quiet"
    severity = Severity.LOW

    def run(self, ctx: Context):
        return []


class Broken(_Base):
    key = "t_broken"

    def run(self, ctx: Context):
        raise RuntimeError("boom")


class Writes(_Base):
    key = "t_writes"
    intrusive = True

    def run(self, ctx: Context):
        return []


class Holds(_Base):
    """Blocks on /hold until the server answers (the worker-kill test)."""

    key = "t_holds"

    def run(self, ctx: Context):
        ctx.send("GET", "/hold")
        return []


TEST_CHECKS = (Items, Quiet, Broken, Writes, Holds)
_lock = threading.Lock()


@pytest.fixture
def registered_checks(monkeypatch):
    with _lock:
        for cls in TEST_CHECKS:
            monkeypatch.setitem(base.REGISTRY, cls.key, cls)
    return {cls.key: cls for cls in TEST_CHECKS}


class ItemsApi:
    """A local API whose /items lists the problems ``t_items`` should find (``bad``), answering with
    ``status``; /hold answers only once ``release`` is set (a check blocked mid-run)."""

    def __init__(self) -> None:
        self.bad: list[dict] = []
        self.status = 200
        self.calls = 0
        self.held = threading.Event()
        self.release = threading.Event()
        self.url = ""

    def items(self, conn, request) -> None:
        self.calls += 1
        body = json.dumps({"bad": self.bad}).encode()
        respond(conn, self.status, body, [("Content-Type", "application/json")])

    def hold(self, conn, request) -> None:
        self.held.set()
        self.release.wait(30)
        respond(conn, 200, b"{}", [("Content-Type", "application/json")])


@pytest.fixture
def local_api(settings):
    settings.SCANNER_PER_HOST_RATE = 0
    settings.SCANNER_TIMEOUT_SECONDS = 3
    api = ItemsApi()
    with RawServer(Router({"/items": api.items, "/hold": api.hold})) as server:
        api.url = server.url("").rstrip("/")
        yield api
        api.release.set()
