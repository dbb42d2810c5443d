"""/testing/findings/ and /testing/findings/<id>/: every visible finding, filtered and keyset paged
in a constant number of queries, and one finding with its evidence and history."""

# ruff: noqa: F811 - the fixtures imported from views_fixtures are the tests' parameters

from __future__ import annotations

import re
from datetime import timedelta

from django.utils import timezone

from portal import audit
from portal.audit import Actor
from portal.models import Role
from testing.models import FindingStatus, Severity
from tests.testing.factories import FindingFactory
from tests.testing.views_fixtures import Tested, make_tested_api, tested, view_checks  # noqa: F401 - fixtures

LIST = "/testing/findings/"


def titles(body: str) -> list[str]:
    return re.findall(r'<a href="/testing/findings/\d+/">([^<]+)</a>', body)


def test_it_lists_open_findings_of_every_visible_api(org, tested: Tested, bob, login):
    make_tested_api(org.sibling, slug="disputes")
    make_tested_api(org.root, slug="top")  # above bob's team: not his to see
    FindingFactory(plan=tested.plan, title="Resolved one", status=FindingStatus.RESOLVED)
    body = login(bob).get(LIST).content.decode()
    assert titles(body) == ["Anonymous read of items on payments"]
    # status="" (Any) shows every status.
    assert set(titles(login(bob).get(LIST, {"status": ""}).content.decode())) == {
        "Anonymous read of items on payments",
        "Resolved one",
    }


def test_it_filters_by_severity_check_owasp_and_age(tested: Tested, bob, login):
    old = timezone.now() - timedelta(days=40)
    FindingFactory(
        plan=tested.plan, title="Old medium", severity=Severity.MEDIUM, first_seen=old, last_seen=old
    )
    FindingFactory(plan=tested.plan, title="Rate limit", check_key="view_burst", owasp="API4:2023")
    client = login(bob)
    assert titles(client.get(LIST, {"severity": "medium"}).content.decode()) == ["Old medium"]
    assert titles(client.get(LIST, {"check": "view_burst"}).content.decode()) == ["Rate limit"]
    assert titles(client.get(LIST, {"owasp": "API4:2023"}).content.decode()) == ["Rate limit"]
    assert titles(client.get(LIST, {"older_than_days": "30"}).content.decode()) == ["Old medium"]
    # An invalid filter is ignored, and the page says so; the valid ones still apply.
    body = client.get(LIST, {"older_than_days": "-3", "severity": "medium"}).content.decode()
    assert titles(body) == ["Old medium"] and "were not valid and were ignored" in body


def test_it_filters_by_owner_unit_and_its_subtree(org, tested: Tested, make_member, login):
    make_tested_api(org.sibling, slug="disputes")
    make_tested_api(org.other_team, slug="fleet")
    head = make_member(Role.VIEWER, org.division, "head")
    client = login(head)
    assert sorted(titles(client.get(LIST, {"unit": org.dept.slug}).content.decode())) == [
        "Anonymous read of items on disputes",
        "Anonymous read of items on payments",
    ]
    assert titles(client.get(LIST, {"unit": org.sibling.slug}).content.decode()) == [
        "Anonymous read of items on disputes"
    ]
    # A unit outside their sight is answered like an unknown one: an empty list, not everything.
    assert titles(client.get(LIST, {"unit": org.other_team.slug}).content.decode()) == []
    assert titles(client.get(LIST, {"unit": "no-such-unit"}).content.decode()) == []


def test_it_pages_by_keyset_in_constant_queries(tested: Tested, bob, login, django_assert_max_num_queries):
    client = login(bob)
    client.get(LIST)
    with django_assert_max_num_queries(12) as few:
        client.get(LIST)
    for i in range(60):
        FindingFactory(plan=tested.plan, title=f"Bulk finding {i:02d}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        body = client.get(LIST).content.decode()
    assert len(titles(body)) == 50 and titles(body)[0] == "Bulk finding 59"
    more = re.search(r'href="\?([^"]*before=\d+[^"]*)"', body).group(1).replace("&amp;", "&")
    rest = titles(client.get(f"{LIST}?{more}", HTTP_HX_REQUEST="true").content.decode())
    assert len(rest) == 11 and rest[-1] == "Anonymous read of items on payments"


def test_it_shows_a_finding_with_its_evidence_and_history(tested: Tested, bob, make_member, org, login):
    body = login(bob).get(f"/testing/findings/{tested.finding.pk}/").content.decode()
    assert "Anonymous read of items on payments" in body and "API2:2023 Broken Authentication" in body
    assert "&lt;script&gt;alert(" in body and "<script>alert(" not in body
    rows = re.search(r'id="check-history">(.*?)</table>', body, re.S).group(1)
    assert rows.count("reported") == 2 and "not reported" not in rows  # both runs reported it
    assert 'id="finding-history"' not in body  # a viewer does not read the audit trail
    audit.record(actor=Actor(), action="testing.finding_accept_risk", obj=tested.finding, org_unit=org.team)
    auditor = make_member(Role.AUDITOR, org.team, "audrey")
    body = login(auditor).get(f"/testing/findings/{tested.finding.pk}/").content.decode()
    history = body.split('id="finding-history"')[1].split("</ul>")[0]
    assert "testing.finding_accept_risk" in history


def test_it_hides_another_units_finding(tested: Tested, charlie, login):
    assert login(charlie).get(f"/testing/findings/{tested.finding.pk}/").status_code == 404
