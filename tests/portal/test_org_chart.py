"""/org/: the units the user may see, with their people and APIs, each linked to its inventory.

alice is a developer on team, bob a viewer on team, charlie a developer on the sibling team, carla
(ciso) the CISO on the root.
"""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.db import connection
from django.shortcuts import resolve_url
from django.test.utils import CaptureQueriesContext

from portal.models import Role
from tests.access_matrix import make_user
from tests.factories import grant, make_unit, register_api

ORG_URL = "/org/"


def counts(html: str) -> dict[str, tuple[int, ...]]:
    """unit slug → the numbers in its row (people, then APIs when shown)."""
    rows = re.findall(r'<tr data-unit="([^"]+)">(.*?)</tr>', html, re.S)
    return {
        slug: tuple(
            int(n) for n in re.findall(r'<td class="text-end"[^>]*>(?:<a [^>]*>)?(\d+)(?:</a>)?</td>', row)
        )
        for slug, row in rows
    }


@pytest.fixture
def apis(org) -> None:  # noqa: ANN001
    register_api(org.team, "pay")
    register_api(org.team, "cards")
    register_api(org.sibling, "sib")
    register_api(org.other_team, "far")


def test_it_requires_login(client, org) -> None:  # noqa: ANN001
    response = client.get(ORG_URL)
    assert response.status_code == 302
    assert response["Location"].startswith(resolve_url(settings.LOGIN_URL))


def test_it_counts_people_on_the_unit_and_apis_of_the_subtree(
    org, alice, bob, charlie, ciso, apis, login
) -> None:  # noqa: ANN001
    body = login(ciso).get(ORG_URL).content.decode()
    assert counts(body) == {
        "root": (1, 4),  # carla; every API
        "division": (0, 3),
        "dept": (0, 3),
        "team": (2, 2),  # alice and bob
        "sibling": (1, 1),  # charlie
        "other-division": (0, 1),
        "other-team": (0, 1),
    }


def test_it_counts_a_person_with_two_roles_on_a_unit_once(org, alice, login) -> None:  # noqa: ANN001
    grant(alice, org.team, Role.VIEWER)
    assert counts(login(alice).get(ORG_URL).content.decode())["team"] == (1, 0)


def test_it_counts_only_what_the_viewer_may_see(org, alice, charlie, make_member, apis, login) -> None:  # noqa: ANN001
    # alice sees her team only: no sibling, no parent, nothing of the other division.
    assert counts(login(alice).get(ORG_URL).content.decode()) == {"team": (1, 2)}
    dept_viewer = make_member(Role.VIEWER, org.dept, "dave")
    assert counts(login(dept_viewer).get(ORG_URL).content.decode()) == {
        "dept": (1, 3),
        "team": (1, 2),
        "sibling": (1, 1),
    }


def test_it_links_each_unit_to_its_apis(org, ciso, apis, login) -> None:  # noqa: ANN001
    client = login(ciso)
    body = client.get(ORG_URL).content.decode()
    assert 'href="/inventory/?unit=dept"' in body and 'href="/inventory/?unit=other-team"' in body
    listed = client.get("/inventory/?unit=dept").content.decode()
    assert all(f">{slug}<" in listed for slug in ("pay", "cards", "sib")) and ">far<" not in listed


def test_it_counts_in_a_fixed_number_of_queries(org, ciso, login) -> None:  # noqa: ANN001
    client = login(ciso)
    client.get(ORG_URL)  # the session's first request writes its idle stamp

    def seed(start: int, stop: int) -> None:
        for i in range(start, stop):
            unit = make_unit(f"unit-{i}", org.dept)
            register_api(unit, f"api-{i}")
            grant(make_user(f"member-{i}"), unit, Role.DEVELOPER)

    seed(0, 3)
    with CaptureQueriesContext(connection) as few:
        assert counts(client.get(ORG_URL).content.decode())["unit-2"] == (1, 1)
    seed(3, 30)
    with CaptureQueriesContext(connection) as many:
        assert counts(client.get(ORG_URL).content.decode())["dept"] == (0, 30)
    assert len(many) == len(few)


def test_each_count_links_to_the_list_of_what_it_counts(org, ciso, apis, login) -> None:  # noqa: ANN001
    body = login(ciso).get(ORG_URL).content.decode()

    assert "<th" in body and ">APIs</th>" in body
    assert re.search(
        r'<td class="text-end" data-count="APIs"><a href="/inventory/\?unit=dept" [^>]*>3</a></td>', body
    )
    assert re.search(r'<a href="/inventory/\?unit=other-team" title="APIs of [^"]*">1</a>', body)


def test_an_app_registers_a_count_with_its_label_and_link(org, alice, ciso, login, monkeypatch) -> None:  # noqa: ANN001
    from portal import extensions
    from portal.access import Cap

    monkeypatch.setattr(extensions, "_UNIT_COUNTS", dict(extensions._UNIT_COUNTS))
    extensions.register_unit_count(
        extensions.UnitCount(
            "widgets",
            Cap.AUDIT_VIEW,  # a capability alice (a developer) does not hold
            lambda user: {org.team.path: 5, org.sibling.path: 2},
            label="Widgets",
            url=lambda unit: f"/widgets/?unit={unit.slug}",
            order=200,
        )
    )

    body = login(ciso).get(ORG_URL).content.decode()
    assert body.index(">APIs</th>") < body.index(">Widgets</th>")  # in their order
    assert re.search(r'data-count="Widgets"><a href="/widgets/\?unit=dept" [^>]*>7</a>', body)
    assert counts(body)["team"] == (1, 0, 5)  # alice; no API; five widgets
    # Without the capability, the column is not there at all.
    assert "Widgets" not in login(alice).get(ORG_URL).content.decode()
