"""Triage of findings: accept a risk (note, expiry within a year), false positive, reopen; the
system's own moves are not for people; acceptances expire; the API's summary follows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils import timezone

from portal.audit import Actor
from portal.models import AuditEvent, Role
from portal.workflow import IllegalTransition
from testing.models import Finding, FindingStatus, Severity
from testing.services.findings import (
    FINDING_WORKFLOW,
    finding_transition,
    findings_expire_acceptances,
    fingerprint,
)
from testing.services.summary import api_summary_refresh
from tests.factories import ApiFactory, EnvironmentFactory
from tests.testing.factories import FindingFactory, TestPlanFactory

S = FindingStatus


@pytest.fixture
def engineer(org, make_member):
    return make_member(Role.SECURITY_ENGINEER, org.root, "erin")


@pytest.fixture
def plan(org):
    return TestPlanFactory(environment=EnvironmentFactory(api=ApiFactory(org_unit=org.team)))


@pytest.fixture
def finding(plan):
    return FindingFactory(plan=plan, severity=Severity.HIGH)


def _in(days: int):
    return timezone.localdate() + timedelta(days=days)


def test_it_accepts_a_risk_with_a_reason_and_an_expiry(engineer, finding):
    api_summary_refresh(api_id=finding.api_id)
    finding.api.refresh_from_db()
    assert (finding.api.open_findings, finding.api.worst_open_severity) == (1, "high")

    moved = finding_transition(
        actor=Actor(user=engineer),
        finding=finding,
        action="accept_risk",
        note="Behind the VPN",
        accepted_until=_in(30),
    )

    assert (moved.status, moved.accepted_until) == (S.ACCEPTED, _in(30))
    assert (moved.triaged_by, moved.triage_note) == (engineer, "Behind the VPN")
    assert moved.triaged_at == moved.status_changed_at
    event = AuditEvent.objects.get(action="finding.accept_risk")
    assert event.after["accepted_until"] == _in(30).isoformat() and event.after["note"] == "Behind the VPN"
    finding.api.refresh_from_db()
    assert (finding.api.open_findings, finding.api.worst_open_severity) == (0, "")


@pytest.mark.parametrize(
    ("note", "until", "field"),
    [
        ("", 30, "note"),
        ("ok", None, "accepted_until"),
        ("ok", 0, "accepted_until"),
        ("ok", -3, "accepted_until"),
        ("ok", 367, "accepted_until"),
    ],
    ids=["no-note", "no-expiry", "today", "past", "over-a-year"],
)
def test_it_refuses_an_acceptance_without_reason_or_a_sound_expiry(engineer, finding, note, until, field):
    with pytest.raises(ValidationError) as caught:
        finding_transition(
            actor=Actor(user=engineer),
            finding=finding,
            action="accept_risk",
            note=note,
            accepted_until=None if until is None else _in(until),
        )
    assert field in caught.value.message_dict
    finding.refresh_from_db()
    assert finding.status == S.OPEN


def test_a_false_positive_needs_a_reason_and_reopening_clears_the_acceptance(engineer, finding):
    actor = Actor(user=engineer)
    with pytest.raises(ValidationError):
        finding_transition(actor=actor, finding=finding, action="mark_false_positive")
    finding_transition(actor=actor, finding=finding, action="mark_false_positive", note="Test data only")
    finding_transition(actor=actor, finding=finding, action="reopen")
    finding_transition(
        actor=actor, finding=finding, action="accept_risk", note="Later", accepted_until=_in(5)
    )
    moved = finding_transition(actor=actor, finding=finding, action="reopen", note="Fixed? No.")
    assert (moved.status, moved.accepted_until, moved.triage_note) == (S.OPEN, None, "Fixed? No.")


def test_illegal_moves_and_the_systems_moves_are_refused(engineer, finding):
    actor = Actor(user=engineer)
    with pytest.raises(IllegalTransition):
        finding_transition(actor=actor, finding=finding, action="reopen")  # it is open
    for action in ("resolve", "regress", "expire", "delete"):
        with pytest.raises(IllegalTransition):
            finding_transition(actor=actor, finding=finding, action=action)
    with pytest.raises(ValidationError, match="does not take"):
        finding_transition(
            actor=actor, finding=finding, action="mark_false_positive", note="x", accepted_until=_in(3)
        )
    assert [m.action for m in FINDING_WORKFLOW.allowed(engineer, finding)] == [
        "accept_risk",
        "mark_false_positive",
    ]


def test_owners_may_look_but_not_triage_and_outsiders_do_not_see_it(alice, charlie, finding):
    # Triage is the security team's call (testing.manage); the API's developers only run tests.
    with pytest.raises(PermissionDenied):
        finding_transition(actor=Actor(user=alice), finding=finding, action="mark_false_positive", note="x")
    # charlie develops on the sibling team: he sees nothing of team's API.
    with pytest.raises(Http404):
        finding_transition(actor=Actor(user=charlie), finding=finding, action="mark_false_positive", note="x")
    finding.refresh_from_db()
    assert finding.status == S.OPEN and not AuditEvent.objects.filter(action__startswith="finding.").exists()


def test_expired_acceptances_reopen_once(engineer, finding, plan):
    finding_transition(
        actor=Actor(user=engineer), finding=finding, action="accept_risk", note="x", accepted_until=_in(2)
    )
    later = FindingFactory(plan=plan)
    finding_transition(
        actor=Actor(user=engineer), finding=later, action="accept_risk", note="x", accepted_until=_in(9)
    )

    assert findings_expire_acceptances(today=_in(2)) == 0  # valid through its last day
    assert findings_expire_acceptances(today=_in(3)) == 1
    assert findings_expire_acceptances(today=_in(3)) == 0

    finding.refresh_from_db()
    later.refresh_from_db()
    assert (finding.status, finding.accepted_until) == (S.OPEN, None)
    assert later.status == S.ACCEPTED
    event = AuditEvent.objects.get(action="finding.expire")
    assert event.actor_label == "system:acceptance expiry"
    finding.api.refresh_from_db()
    assert finding.api.open_findings == 1


def test_the_fingerprint_is_stable_and_separates_its_parts():
    assert fingerprint(1, 2, "tls", "GET /a", "x") == fingerprint(1, 2, "tls", "GET /a", "x")
    assert fingerprint(1, 2, "tls", "GET /a", "x") != fingerprint(1, 2, "tls", "GET /", "ax")
    assert fingerprint(1, 23, "tls", "", "x") != fingerprint(12, 3, "tls", "", "x")
    assert len(fingerprint(1, 2, "c", "", "d")) == 64
    assert Finding._meta.get_field("fingerprint").max_length == 64
