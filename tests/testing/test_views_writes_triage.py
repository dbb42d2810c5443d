"""Triage on the finding's page: the moves FINDING_WORKFLOW offers this user on this finding now
(accept the risk with a reason and an end date, mark as false positive with a reason, reopen), for
the security team (testing.manage)."""

# ruff: noqa: F811 - the fixtures imported from views_fixtures are the tests' parameters

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.models import AuditEvent, Role
from testing.models import Finding, FindingStatus
from tests.testing.views_fixtures import Tested, tested, view_checks  # noqa: F401 - fixtures


@pytest.fixture
def sec(org, make_member):
    return make_member(Role.SECURITY_ENGINEER, org.team, "sec")


def page(tested: Tested) -> str:
    return f"/testing/findings/{tested.finding.pk}/"


def move_url(tested: Tested) -> str:
    return f"/testing/findings/{tested.finding.pk}/transition/"


def offered(body: str) -> list[str]:
    return re.findall(r'<input type="hidden" name="action" value="([a-z_]+)">', body)


def test_it_offers_the_moves_the_workflow_allows(tested: Tested, sec, alice, bob, login):
    assert offered(login(sec).get(page(tested)).content.decode()) == ["accept_risk", "mark_false_positive"]
    assert offered(login(alice).get(page(tested)).content.decode()) == []
    assert offered(login(bob).get(page(tested)).content.decode()) == []
    Finding.objects.filter(pk=tested.finding.pk).update(status=FindingStatus.FALSE_POSITIVE)
    assert offered(login(sec).get(page(tested)).content.decode()) == ["reopen"]


def test_it_accepts_a_risk_until_a_date(tested: Tested, sec, login):
    until = timezone.localdate() + timedelta(days=30)
    response = login(sec).post(
        move_url(tested),
        {"action": "accept_risk", "note": "Behind the VPN", "accepted_until": until.isoformat()},
    )
    assert response.status_code == 302 and response["Location"] == page(tested)
    finding = Finding.objects.get(pk=tested.finding.pk)
    assert (finding.status, finding.accepted_until, finding.triage_note) == (
        "accepted",
        until,
        "Behind the VPN",
    )
    assert AuditEvent.objects.filter(action="finding.accept_risk").count() == 1


def test_it_marks_a_false_positive_and_reopens_it(tested: Tested, sec, login):
    client = login(sec)
    client.post(move_url(tested), {"action": "mark_false_positive", "note": "A test host"})
    assert Finding.objects.get(pk=tested.finding.pk).status == FindingStatus.FALSE_POSITIVE
    assert client.post(move_url(tested), {"action": "reopen"}).status_code == 302
    assert Finding.objects.get(pk=tested.finding.pk).status == FindingStatus.OPEN


@pytest.mark.parametrize(
    "data, message",
    [
        ({"action": "accept_risk", "note": "Behind the VPN"}, "Say until when the risk is accepted."),
        ({"action": "accept_risk", "accepted_until": "2099-01-01"}, "Say why the risk is acceptable."),
        ({"action": "mark_false_positive"}, "Say why this is a false positive."),
        ({"action": "reopen"}, "Cannot reopen from open."),
        ({"action": "resolve"}, "Select a valid choice"),
        ({"action": "accept_risk", "note": "x", "accepted_until": "yesterday"}, "Enter a valid date"),
    ],
)
def test_a_refused_move_changes_nothing(tested: Tested, sec, login, data, message):
    response = login(sec).post(move_url(tested), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Finding.objects.get(pk=tested.finding.pk).status == FindingStatus.OPEN
    assert not AuditEvent.objects.filter(action__startswith="finding.").exists()


def test_triage_needs_the_manage_capability(tested: Tested, alice, charlie, login, client):
    data = {"action": "mark_false_positive", "note": "A test host"}
    assert login(alice).post(move_url(tested), data).status_code == 403
    assert login(charlie).post(move_url(tested), data).status_code == 404
    assert client.post(move_url(tested), data).status_code == 302  # to the login page
    assert Finding.objects.get(pk=tested.finding.pk).status == FindingStatus.OPEN


def test_the_finding_page_reads_the_same_queries_with_moves_offered(
    tested: Tested, sec, bob, login, django_assert_max_num_queries
):
    viewer, manager = login(bob), login(sec)
    viewer.get(page(tested))
    manager.get(page(tested))
    with django_assert_max_num_queries(12) as without_moves:
        viewer.get(page(tested))
    # The moves come from the workflow table and the user's grants, read once: no query of their own.
    with django_assert_max_num_queries(len(without_moves.captured_queries)):
        assert manager.get(page(tested)).status_code == 200
