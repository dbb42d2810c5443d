"""/audit/ and /api/v1/audit-events/: who sees which events, filters, keyset paging, query budget.

Every event carries a marker in its object id naming where it was recorded, so a leak across
units shows up as a marker on a page that should not have it.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.shortcuts import resolve_url
from django.test import Client
from django.test.utils import CaptureQueriesContext

from portal.audit import Actor
from portal.models import AuditEvent, OrgUnit, Role
from tests.conftest import MakeMember, Org
from tests.factories import SYSTEM, ApiTokenFactory, AuditEventFactory

AUDIT_URL = "/audit/"
API_URL = "/api/v1/audit-events/"


def event(
    marker: str,
    unit: OrgUnit | None = None,
    *,
    action: str = "test.event",
    actor: Actor | None = None,
    object_type: str = "test",
) -> AuditEvent:
    return AuditEventFactory(
        actor=actor or SYSTEM, action=action, object_type=object_type, object_id=marker, org_unit=unit
    )


def markers(html: str) -> set[str]:
    return set(re.findall(r"\bmark-[a-z-]+\b", html))


@pytest.fixture
def scoped_events(org: Org) -> dict[str, AuditEvent]:
    """One event per unit of the tree, and one with no unit (a login)."""
    return {
        "mark-root": event("mark-root", org.root),
        "mark-division": event("mark-division", org.division),
        "mark-dept": event("mark-dept", org.dept),
        "mark-team": event("mark-team", org.team),
        "mark-sibling": event("mark-sibling", org.sibling),
        "mark-other-division": event("mark-other-division", org.other_division),
        "mark-other-team": event("mark-other-team", org.other_team),
        "mark-no-unit": event("mark-no-unit", None, action="user.login"),
    }


ALL_MARKERS = {
    "mark-root",
    "mark-division",
    "mark-dept",
    "mark-team",
    "mark-sibling",
    "mark-other-division",
    "mark-other-team",
    "mark-no-unit",
}
DIVISION_MARKERS = {"mark-division", "mark-dept", "mark-team", "mark-sibling"}


@pytest.fixture
def auditor(org: Org, make_member: MakeMember) -> User:
    return make_member(Role.AUDITOR, org.root, "audrey")


@pytest.fixture
def division_auditor(org: Org, make_member: MakeMember) -> User:
    return make_member(Role.AUDITOR, org.division, "dora")


# --- Access ---------------------------------------------------------------------------------------


def test_it_requires_login(client, org) -> None:
    response = client.get(AUDIT_URL)
    assert response.status_code == 302
    assert response["Location"].startswith(resolve_url(settings.LOGIN_URL))


@pytest.mark.parametrize(
    "role", [Role.DEVELOPER, Role.VIEWER, Role.SECURITY_ENGINEER, Role.INCIDENT_RESPONDER]
)
def test_it_requires_audit_view(org, make_member, login, scoped_events, role: str) -> None:
    user = make_member(role, org.root)
    response = login(user).get(AUDIT_URL)
    assert response.status_code == 403
    assert not markers(response.content.decode())


@pytest.mark.parametrize("persona", ["ciso", "auditor"])
def test_it_shows_root_scope_holders_everything(request, login, scoped_events, persona: str) -> None:
    user = request.getfixturevalue(persona)
    response = login(user).get(AUDIT_URL)
    assert response.status_code == 200
    assert markers(response.content.decode()) == ALL_MARKERS


def test_it_shows_a_division_auditor_only_that_subtree(login, division_auditor, scoped_events) -> None:
    response = login(division_auditor).get(AUDIT_URL)
    assert response.status_code == 200
    # No parent unit, no other division, and no unit-less events such as logins.
    assert markers(response.content.decode()) == DIVISION_MARKERS


def test_it_escapes_what_events_carry(login, auditor, org) -> None:
    event("<script>alert(1)</script>", org.team)
    body = login(auditor).get(AUDIT_URL).content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


# --- Filters --------------------------------------------------------------------------------------


@pytest.fixture
def filter_events(org: Org) -> list[AuditEvent]:
    return [
        event("mark-alpha", org.team, action="inventory.api_submit", actor=Actor.system("ci")),
        event("mark-beta", org.team, action="inventory.api_approve", object_type="inventory.api"),
        event("mark-gamma", org.team, action="testing.run_start", actor=Actor.system("ci")),
        event("mark-delta", org.team, action="incidents.open", object_type="incidents.incident"),
    ]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"action": "inventory."}, {"mark-alpha", "mark-beta"}),
        ({"action": "inventory.api_approve"}, {"mark-beta"}),
        ({"action": "nothing."}, set()),
        ({"actor": "system:ci"}, {"mark-alpha", "mark-gamma"}),
        ({"actor": "system:c"}, set()),  # the actor is matched exactly
        ({"object_type": "inventory.api"}, {"mark-beta"}),
        ({"action": "inventory.", "actor": "system:ci"}, {"mark-alpha"}),
    ],
)
def test_it_filters(login, auditor, filter_events, params: dict, expected: set) -> None:
    response = login(auditor).get(AUDIT_URL, params)
    assert response.status_code == 200
    assert markers(response.content.decode()) == expected


def test_it_filters_by_time(login, auditor, filter_events) -> None:
    _alpha, beta, gamma, _delta = filter_events
    client = login(auditor)
    since = client.get(AUDIT_URL, {"since": beta.at.isoformat(), "action": "i"})
    assert markers(since.content.decode()) == {"mark-beta", "mark-delta"}
    window = client.get(AUDIT_URL, {"since": beta.at.isoformat(), "until": gamma.at.isoformat()})
    assert markers(window.content.decode()) == {"mark-beta"}


@pytest.mark.parametrize(
    "params",
    [
        {"since": "yesterday"},
        {"until": "2024-13-45"},
        {"since": "9999-12-31T23:59:59", "until": "0001-01-01T00:00:00"},
        {"before": "abc"},
        {"before": "-5"},
        {"before": str(10**30)},
        {"action": "x" * 500},
        {"actor": "nul\x00byte"},
        {"action": ["inventory.", "testing."]},
    ],
)
def test_it_survives_invalid_filters(login, auditor, filter_events, params: dict) -> None:
    response = login(auditor).get(AUDIT_URL, params)
    assert response.status_code == 200


def test_it_still_applies_the_valid_filters_next_to_an_invalid_one(login, auditor, filter_events) -> None:
    response = login(auditor).get(AUDIT_URL, {"action": "testing.", "since": "yesterday"})
    body = response.content.decode()
    assert markers(body) == {"mark-gamma"}
    assert "Filters not valid, ignored: since." in body


def select(html: str, name: str) -> str:
    match = re.search(rf'<select name="{name}".*?</select>', html, re.S)
    assert match is not None, name
    return match.group()


def test_it_offers_menus_in_words(login, auditor, scoped_events) -> None:  # noqa: ANN001
    body = login(auditor).get(AUDIT_URL).content.decode()
    actions, objects = select(body, "action"), select(body, "object_type")
    assert 'class="form-select form-select-sm"' in actions and 'class="form-select form-select-sm"' in objects
    # Families (matched by prefix) with their actions, and object types, by what people call them.
    assert '<optgroup label="API records">' in actions
    assert '<option value="api.">API records (all)</option>' in actions
    assert '<option value="api.submit">Submitted for review</option>' in actions
    assert '<option value="user.login">Logged in</option>' in actions
    assert '<option value="inventory.api">API</option>' in objects
    assert '<option value="portal.orgunit">Org unit</option>' in objects


def test_it_filters_by_a_family_from_the_menu(login, auditor, org) -> None:  # noqa: ANN001
    event("mark-api", org.team, action="api.submit", object_type="inventory.api")
    event("mark-token", org.team, action="api_token.create", object_type="portal.apitoken")
    assert markers(login(auditor).get(AUDIT_URL, {"action": "api."}).content.decode()) == {"mark-api"}


def test_it_keeps_a_filter_value_the_menu_does_not_list(login, auditor, filter_events) -> None:  # noqa: ANN001
    body = login(auditor).get(AUDIT_URL, {"action": "inventory.", "object_type": "test"}).content.decode()
    assert '<option value="inventory." selected>inventory.</option>' in select(body, "action")
    assert '<option value="test" selected>test</option>' in select(body, "object_type")


def test_it_shows_events_in_words(login, auditor, org) -> None:  # noqa: ANN001
    event("mark-words", org.team, action="api.submit", object_type="inventory.api")
    body = login(auditor).get(AUDIT_URL).content.decode()
    row = next(r for r in re.findall(r"<tr>.*?</tr>", body, re.S) if "mark-words" in r)
    text = " ".join(re.sub(r"<[^>]+>", " ", row).split())
    assert "Submitted for review" in text and "API mark-words" in text
    assert "api.submit" not in text and "inventory.api" not in text  # the codes stay in tooltips only
    assert re.search(r'<td class="text-nowrap"><time [^>]*>\d{4}-\d\d-\d\d \d\d:\d\d</time></td>', row)


# --- Keyset pagination ----------------------------------------------------------------------------


def _next_before(body: str) -> int | None:
    match = re.search(r'hx-get="\?([^"]*)"', body)
    if match is None:
        return None
    return int(parse_qs(match.group(1).replace("&amp;", "&"))["before"][0])


def test_it_pages_backwards_by_id(login, auditor, org) -> None:
    from portal.views import AUDIT_PAGE_SIZE

    ids = [
        event(f"mark-page-{'x' * (i % 3)}", org.team, action="test.paged").pk
        for i in range(AUDIT_PAGE_SIZE + 7)
    ]
    client = login(auditor)

    first = client.get(AUDIT_URL, {"action": "test.paged"})
    first_ids = [int(i) for i in re.findall(r"<tr>\s*<td>(\d+)</td>", first.content.decode())]
    assert first_ids == sorted(ids, reverse=True)[:AUDIT_PAGE_SIZE]
    before = _next_before(first.content.decode())
    assert before == first_ids[-1]

    older = client.get(AUDIT_URL, {"action": "test.paged", "before": before}, HTTP_HX_REQUEST="true")
    body = older.content.decode()
    assert older.status_code == 200
    assert "<html" not in body and "<form" not in body  # only the rows partial
    older_ids = [int(i) for i in re.findall(r"<tr>\s*<td>(\d+)</td>", body)]
    assert older_ids == sorted(ids, reverse=True)[AUDIT_PAGE_SIZE:]
    assert _next_before(body) is None
    assert "HX-Request" in older["Vary"]


def test_it_keeps_filters_in_the_next_page_link(login, auditor, org) -> None:
    from portal.views import AUDIT_PAGE_SIZE

    for _ in range(AUDIT_PAGE_SIZE + 1):
        event("mark-kept", org.team, action="test.kept")
    body = login(auditor).get(AUDIT_URL, {"action": "test.kept"}).content.decode()
    link = re.search(r'href="\?([^"]*)"', body)
    assert link is not None
    query = parse_qs(link.group(1).replace("&amp;", "&"))
    assert query["action"] == ["test.kept"]


def test_it_renders_the_whole_page_without_htmx(login, auditor, scoped_events) -> None:
    response = login(auditor).get(AUDIT_URL)
    body = response.content.decode()
    assert "<html" in body and 'id="audit-rows"' in body


def test_it_renders_the_whole_page_for_an_htmx_history_restore(login, auditor, scoped_events) -> None:
    response = login(auditor).get(AUDIT_URL, HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true")
    assert "<html" in response.content.decode()


def test_it_does_not_page_past_a_division_auditors_scope(login, division_auditor, org, scoped_events) -> None:
    newest = event("mark-newest", org.team)
    body = login(division_auditor).get(AUDIT_URL, {"before": newest.pk + 1000}).content.decode()
    assert markers(body) == DIVISION_MARKERS | {"mark-newest"}


# --- Query budget ---------------------------------------------------------------------------------


def _queries(client: Client, url: str, params: dict | None = None) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("url", [AUDIT_URL, API_URL])
def test_it_runs_a_constant_number_of_queries(
    login,
    auditor,
    division_auditor,
    org,
    django_assert_max_num_queries,
    url: str,
) -> None:
    for i in range(10):
        event(f"mark-q-{i}", org.team)
    client = login(division_auditor)
    baseline = _queries(client, url)
    assert baseline <= 10

    units = [org.team, org.other_team, org.sibling, None]
    for i in range(200):
        event("mark-more", units[i % 4], actor=Actor.system(f"actor-{i}"))
    with django_assert_max_num_queries(baseline):
        client.get(url)
    with django_assert_max_num_queries(baseline):
        client.get(url, {"action": "test.", "since": "2000-01-01T00:00:00"})
    root_client = login(auditor)
    with django_assert_max_num_queries(baseline):
        root_client.get(url)


# --- API ------------------------------------------------------------------------------------------


def _api_markers(data: dict) -> set[str]:
    return {row["object_id"] for row in data["results"] if row["object_id"].startswith("mark-")}


def test_api_requires_authentication(client, scoped_events) -> None:
    response = client.get(API_URL)
    assert response.status_code in (401, 403)
    assert "mark-" not in response.content.decode()


@pytest.mark.parametrize("role", [Role.DEVELOPER, Role.VIEWER])
def test_api_requires_audit_view(org, make_member, login, scoped_events, role: str) -> None:
    response = login(make_member(role, org.root)).get(API_URL)
    assert response.status_code == 403
    assert "mark-" not in response.content.decode()


def test_api_scopes_like_the_page(login, auditor, division_auditor, scoped_events) -> None:
    assert _api_markers(login(auditor).get(API_URL).json()) == ALL_MARKERS
    assert _api_markers(login(division_auditor).get(API_URL).json()) == DIVISION_MARKERS


def test_api_accepts_a_personal_token(org, division_auditor, scoped_events) -> None:
    from django.test import Client

    token = ApiTokenFactory(user=division_auditor, name="ci")
    response = Client().get(API_URL, HTTP_AUTHORIZATION=f"Bearer {token.secret}")
    assert response.status_code == 200
    assert _api_markers(response.json()) == DIVISION_MARKERS


def test_api_pages_with_a_cursor(login, auditor, org) -> None:
    for i in range(25):
        event(f"mark-c-{'x' * (i % 2)}", org.team, action="test.cursor")
    expected = list(AuditEvent.objects.order_by("-id").values_list("id", flat=True))
    client = login(auditor)

    seen: list[int] = []
    url: str | None = f"{API_URL}?page_size=10"
    pages = 0
    while url:
        data = client.get(url).json()
        assert len(data["results"]) <= 10
        seen += [row["id"] for row in data["results"]]
        url = data["next"]
        if url:
            assert "cursor=" in url
            url = urlsplit(url)._replace(scheme="", netloc="").geturl()
        pages += 1
        assert pages < 20
    assert seen == expected  # newest first, nothing skipped or repeated
    assert "page" not in data and "count" not in data  # a cursor, not page numbers


def test_api_caps_the_page_size(login, auditor, org) -> None:
    for _ in range(settings.API_MAX_PAGE_SIZE + 20):
        event("mark-cap", org.team)
    client = login(auditor)
    data = client.get(API_URL, {"page_size": settings.API_MAX_PAGE_SIZE}).json()
    assert len(data["results"]) == settings.API_MAX_PAGE_SIZE
    assert data["next"]
    # Above the cap is a request the schema does not allow: a 400, not a silently smaller page.
    assert client.get(API_URL, {"page_size": 100000}).status_code == 400


def test_api_ignores_a_forged_cursor(login, auditor, scoped_events) -> None:
    response = login(auditor).get(API_URL, {"cursor": "not-a-cursor"})
    assert response.status_code == 404
