"""No page may carry what the Content-Security-Policy blocks: inline scripts, <style> blocks,
style attributes or event-handler attributes. A browser would silently drop them."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.contrib.auth.models import User

from portal.audit import Actor
from tests.conftest import Org
from tests.factories import ApiFactory, EnvironmentFactory

TABS = ("overview", "spec", "packages", "servers", "consumers", "metrics", "history")


class _InlineFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "script" and "src" not in names:
            self.problems.append("inline <script>")
        if tag == "style":
            self.problems.append("<style> block")
        if "style" in names:
            self.problems.append(f"style attribute on <{tag}>")
        self.problems += [f"{n} handler on <{tag}>" for n in names if n.startswith("on")]
        if any(v and v.strip().lower().startswith("javascript:") for _, v in attrs):
            self.problems.append(f"javascript: URL on <{tag}>")


def inline_problems(html: str) -> list[str]:
    finder = _InlineFinder()
    finder.feed(html)
    return finder.problems


@pytest.fixture
def pages(org: Org, ciso: User) -> list[str]:
    api = ApiFactory(org_unit=org.team, slug="csp-api", name="CSP", actor=Actor(user=ciso))
    EnvironmentFactory(api=api, name="prod", base_urls=["https://a.example"], actor=Actor(user=ciso))
    return [
        "/",
        "/org/",
        "/audit/",
        "/accounts/tokens/",
        "/api/docs/",
        "/inventory/",
        "/inventory/new/",
        "/inventory/catalog/",
        "/inventory/discovery/",
        "/inventory/apis/csp-api/edit/basics/",
        "/does-not-exist/",
        *[f"/inventory/apis/csp-api/?tab={t}" for t in TABS],
    ]


def test_signed_in_pages_have_nothing_inline(pages, ciso, login):
    client = login(ciso)
    for path in pages:
        response = client.get(path)
        assert response.status_code in (200, 404), path
        assert inline_problems(response.content.decode()) == [], path
        assert "script-src 'self'" in response["Content-Security-Policy"]


def test_public_pages_have_nothing_inline(client, db):
    for path in ("/accounts/login/", "/nope/"):
        assert inline_problems(client.get(path).content.decode()) == [], path


def test_the_finder_finds_what_it_should():
    assert len(inline_problems('<script>x()</script><p style="a" onclick="b"></p><style>p{}</style>')) == 4
