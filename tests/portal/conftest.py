"""Fixtures of the REST contract and fuzz tests (many requests in little time, through a live server)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture
def tasks_inline() -> Iterator[None]:
    """``slow`` tests keep the real broker (tests/conftest.py); this one starts no worker, so the
    tasks its requests enqueue (review notifications) run in the server thread instead."""
    from portal.celery import app

    previous, app.conf.task_always_eager = app.conf.task_always_eager, True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def unthrottled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Thousands of requests in a minute, bad tokens among them (the ignored_auth check): the rates
    would answer 429 long before the end. Throttling has its own tests."""
    from rest_framework.settings import api_settings

    for scope in ("anon", "user", "expensive"):
        monkeypatch.setitem(api_settings.DEFAULT_THROTTLE_RATES, scope, "1000000/min")
