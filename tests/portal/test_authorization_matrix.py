"""Every URL × every role × {own unit, sibling unit, parent unit, no membership, anonymous}.

Generated from the URL configuration and the registry in ``tests/access_matrix.py`` (apps add their
URLs in ``tests/<app>/matrix.py``); the expected answer of each cell comes from ROLE_CAPABILITIES:

- allowed → 2xx/3xx (a redirect that is not to the login page);
- the role lacks the capability but can see the object (or it is a list/page) → 403;
- the object lies outside the user's subtree, or is someone else's personal object → 404;
- no membership → 403 for pages and lists, 404 for objects;
- anonymous → a redirect to the login page for HTML, 401 under /api/.
The admin answers 403 to anyone without org.manage before looking at any object.

List cells seed one object in every unit of the tree and assert that exactly the in-scope ones show;
a refused request must leave no trace in the audit trail.

Size when written: 35 (URL, method) pairs × 20 cells = 700 cells (``test_matrix_size`` keeps a floor).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse

from portal.models import AuditEvent
from tests.access_matrix import (
    ADMIN_MODELS,
    ADMIN_UNNAMED,
    ANONYMOUS,
    FORBIDDEN,
    LOGIN,
    NO_MEMBERSHIP,
    NOT_FOUND,
    OK,
    PUBLIC,
    REGISTRY,
    ROLES,
    SCOPED,
    Entry,
    World,
    admin_site,
    admin_url_names,
    build_org,
    expected,
    listed,
    load_entries,
    make_user,
    unit_for,
    walk_urls,
)
from tests.factories import grant

ENTRIES = load_entries()


@dataclass(frozen=True)
class Cell:
    entry: Entry
    method: str
    role: str | None
    scope: str

    @property
    def id(self) -> str:
        return f"{self.entry.id}-{self.method}-{self.role or '_'}-{self.scope}"


def _cells() -> list[Cell]:
    cells = []
    for entry in ENTRIES:
        for method in entry.methods:
            cells += [Cell(entry, method, role, scope) for role in ROLES for scope in SCOPED]
            cells += [Cell(entry, method, None, NO_MEMBERSHIP), Cell(entry, method, None, ANONYMOUS)]
    return cells


CELLS = _cells()


# --- Coverage: the registry and the URL configuration agree ------------------------------------------------


def test_every_url_has_a_matrix_entry():
    routes = list(walk_urls())
    unnamed = [r.route for r in routes if r.name is None and not ADMIN_UNNAMED.match(r.route)]
    assert not unnamed, f"Name these URL patterns so the matrix can cover them: {unnamed}"
    names = {r.name for r in routes if r.name}
    admin = {n for n in names if n.startswith("admin:")}
    missing = sorted((names - admin) - {e.name for e in REGISTRY.values()})
    assert not missing, f"URLs with no entry in the authorization matrix (tests/<app>/matrix.py): {missing}"
    uncovered_admin = sorted(admin - admin_url_names())
    assert not uncovered_admin, f"Admin URLs the admin rule does not know: {uncovered_admin}"


def test_every_matrix_entry_names_an_existing_url():
    names = {r.name for r in walk_urls() if r.name}
    stale = sorted({e.name for e in ENTRIES} - names)
    assert not stale, f"Matrix entries for URLs that no longer exist: {stale}"


def test_every_admin_model_is_declared():
    registered = set(admin_site()._registry)
    undeclared = sorted(m._meta.label for m in registered - set(ADMIN_MODELS))
    assert not undeclared, f"Admin models with no register_admin(...) in tests/<app>/matrix.py: {undeclared}"
    stale = sorted(m._meta.label for m in set(ADMIN_MODELS) - registered)
    assert not stale, f"register_admin(...) for models no longer in the admin: {stale}"


def test_matrix_size(record_property):
    record_property("matrix_cells", len(CELLS))
    print(f"authorization matrix: {len(CELLS)} cells")
    assert len(CELLS) >= 700
    assert len({c.id for c in CELLS}) == len(CELLS)


# --- The matrix -----------------------------------------------------------------------------------------------


def _request(client: Client, cell: Cell, url: str, world: World, target: Any) -> HttpResponse:
    entry = cell.entry
    if cell.method == "GET":
        return client.get(url)
    data = entry.data(world, target) if entry.data else {}
    send = getattr(client, cell.method.lower())
    if url.startswith("/api/") and not _has_files(data):
        return send(url, data, content_type="application/json")
    return send(url, data)  # multipart: HTML forms, and REST uploads


def _has_files(data: dict) -> bool:
    values = [v for value in data.values() for v in (value if isinstance(value, list | tuple) else [value])]
    return any(hasattr(v, "read") for v in values)


def _body(response: HttpResponse) -> str:
    """The text of a response, streamed ones (the CSV export) included."""
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def _assert_outcome(response: HttpResponse, outcome: str, url: str, entry: Entry) -> None:
    status = response.status_code
    where = f"{response.request['REQUEST_METHOD']} {url} → {status}"
    login = reverse("login")
    if outcome == OK:
        assert 200 <= status < 400, where
        if 300 <= status < 400 and entry.needs != PUBLIC:
            assert not response["Location"].startswith(login), f"{where}: sent to log in"
    elif outcome == LOGIN:
        if url.startswith("/api/") and entry.name != "api-docs":  # the docs are a page: log in first
            assert status == 401, where
        else:
            assert status == 302, where
            assert response["Location"].startswith(f"{login}?next="), where
    else:
        assert status == {FORBIDDEN: 403, NOT_FOUND: 404}[outcome], where


@pytest.mark.parametrize("cell", CELLS, ids=[c.id for c in CELLS])
def test_access(cell: Cell, db, login):
    entry = cell.entry
    org = build_org()
    world = World(org)
    if cell.scope != ANONYMOUS:
        world.user = make_user(f"actor-{cell.role or 'nobody'}")
        if cell.role:
            grant(world.user, org.team, cell.role)
            world.home = org.team

    target = entry.target(world, unit_for(org, cell.scope)) if entry.target else None
    seeded = {unit.pk: entry.listing(world, unit) for unit in world.units} if entry.listing else {}
    url = reverse(entry.name, kwargs=entry.kwargs_for(target))
    client = login(world.user) if world.user is not None else Client()

    outcome = expected(entry, cell.role, cell.scope, org)
    audit_before = AuditEvent.objects.count()
    response = _request(client, cell, url, world, target)

    _assert_outcome(response, outcome, url, entry)
    if outcome != OK:
        assert AuditEvent.objects.count() == audit_before, "a refused request wrote to the audit trail"
    if outcome == OK and seeded and response.status_code == 200:
        body = _body(response)
        for unit in world.units:
            marker = seeded[unit.pk]
            if listed(entry, cell.role, unit, org):
                assert marker in body, f"{url} should list {marker} (in {unit.slug})"
            else:
                assert marker not in body, f"{url} leaks {marker} (in {unit.slug}) to {cell.role or 'nobody'}"
