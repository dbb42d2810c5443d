"""A real headless browser (Debian's Chromium driven by Playwright) against pytest-django's live server.

Playwright is never allowed to download its own browsers here: the system ``chromium`` is launched by
path. Without it the browser tests are skipped on a developer machine but fail under CI (``CI`` set),
so a CI image that lost its browser cannot go green by skipping them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NoReturn

import pytest

STEP_TIMEOUT_MS = 10_000
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Reported by a page script when the Content-Security-Policy blocks something (inline script or style,
# a foreign origin). Chromium also logs these as console errors; the event makes it explicit.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"} in ${e.sourceFile || document.location.pathname}:${e.lineNumber}:${e.columnNumber} on ${document.location.pathname}${document.location.search} ${e.sample}`);
});
"""


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: the browser tests must run, not be skipped)", pytrace=False)
    pytest.skip(reason)


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="package", autouse=True)
def _allow_sync_orm_beside_playwright() -> Iterator[None]:
    """Playwright's sync API keeps an asyncio loop running in the test's thread, and Django refuses ORM
    calls from a thread with a running loop. The calls are synchronous in fact, so allow them, but only
    while the browser tests of this package run (the rest of the suite keeps Django's guard)."""
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="package")
def browser(_allow_sync_orm_beside_playwright: None) -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[dev]')")
    executable = chromium_path()
    if executable is None:
        _unavailable("chromium is not installed (apt-get install chromium)")
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, timeout=30_000)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


@dataclass
class Problems:
    """Console errors (CSP violations among them), uncaught page errors, failed requests and server
    errors (5xx) seen by a page. A 4xx is not one: forms answer 400 to invalid input by design."""

    items: list[str] = field(default_factory=list)

    def watch(self, page: Any) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.items.append(f"{page.url}: uncaught {exc}"))
        page.on("requestfailed", self._request_failed)
        page.on("response", self._response)

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.items.append(f"console error: {message.text} ({message.location})")

    def _response(self, response: Any) -> None:
        if response.status >= 500:
            self.items.append(f"server error: {response.status} {response.request.method} {response.url}")

    def _request_failed(self, request: Any) -> None:
        self.items.append(f"request failed: {request.method} {request.url}: {request.failure}")


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[[], Any]]:
    """new_page() → a page in a fresh browser context (its own cookies: one per person).

    Every page's console errors, uncaught exceptions and CSP violations are collected; the test fails
    at teardown if there was any (a test may also call ``new_page.problems`` to assert earlier)."""
    contexts: list[Any] = []
    problems = Problems()

    def _new() -> Any:
        context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-GB")
        context.set_default_timeout(STEP_TIMEOUT_MS)
        context.set_default_navigation_timeout(STEP_TIMEOUT_MS)
        context.add_init_script(CSP_LISTENER)
        contexts.append(context)
        page = context.new_page()
        problems.watch(page)
        return page

    _new.problems = problems  # type: ignore[attr-defined]
    yield _new
    for context in contexts:
        context.close()
    assert not problems.items, "The browser reported problems:\n" + "\n".join(problems.items)
