"""portal.workflow: typed inputs on a move (cleaned by the model field and the move's validators,
refused when unknown, recorded in the audit event) and moves only the system makes."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.exceptions import FieldDoesNotExist, ValidationError

from portal.access import Cap
from portal.audit import Actor
from portal.models import AuditEvent, Role
from portal.workflow import IllegalTransition, Move, Workflow, transition
from testing.models import Finding, FindingStatus
from tests.testing.factories import FindingFactory

S = FindingStatus


def _no_2031(value: date | None) -> None:
    if value is not None and value.year == 2031:
        raise ValidationError("Not in 2031.")


WORKFLOW = Workflow(
    model=Finding,
    audit_prefix="probe",
    moves=[
        Move(
            "park",
            "Park",
            (S.OPEN,),
            S.ACCEPTED,
            Cap.TESTING_MANAGE,
            inputs=("accepted_until", "detail"),
            input_validators=(("accepted_until", _no_2031),),
        ),
        Move("close", "Close", (S.OPEN,), S.RESOLVED, Cap.TESTING_MANAGE, system_only=True),
    ],
)


@pytest.fixture
def engineer(org, make_member):
    return make_member(Role.SECURITY_ENGINEER, org.root, "erin")


@pytest.fixture
def finding(org):
    from tests.factories import ApiFactory, EnvironmentFactory
    from tests.testing.factories import TestPlanFactory

    env = EnvironmentFactory(api=ApiFactory(org_unit=org.team))
    return FindingFactory(plan=TestPlanFactory(environment=env))


def test_it_cleans_sets_and_audits_the_inputs(engineer, finding):
    moved = transition(
        workflow=WORKFLOW,
        actor=Actor(user=engineer),
        obj=finding,
        action="park",
        values={"accepted_until": "2030-05-01", "detail": "parked"},
    )
    assert moved.accepted_until == date(2030, 5, 1)  # the field's clean turned text into a date
    finding.refresh_from_db()
    assert (finding.status, finding.accepted_until, finding.detail) == (
        S.ACCEPTED,
        date(2030, 5, 1),
        "parked",
    )
    event = AuditEvent.objects.get(action="probe.park")
    assert event.after == {"status": "accepted", "accepted_until": "2030-05-01", "detail": "parked"}


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"accepted_until": "not a date", "detail": "x"}, "accepted_until", "invalid date"),
        ({"accepted_until": "2031-01-01", "detail": "x"}, "accepted_until", "Not in 2031."),
        ({"accepted_until": "2030-01-01", "detail": ""}, "detail", "cannot be blank"),
        ({"accepted_until": "2030-01-01", "detail": "x" * 121}, "detail", "at most 120"),
        ({"accepted_until": "2030-01-01", "detail": "x", "status": "open"}, "status", "does not take"),
    ],
    ids=["field-clean", "move-validator", "missing-required", "too-long", "unknown-name"],
)
def test_it_refuses_bad_inputs_and_changes_nothing(engineer, finding, values, field, message):
    with pytest.raises(ValidationError) as caught:
        transition(workflow=WORKFLOW, actor=Actor(user=engineer), obj=finding, action="park", values=values)
    assert field in caught.value.message_dict
    assert any(message in m for m in caught.value.message_dict[field])
    finding.refresh_from_db()
    assert finding.status == S.OPEN and not AuditEvent.objects.filter(action="probe.park").exists()


def test_a_system_move_is_never_offered_to_people_nor_taken_from_them(engineer, finding):
    assert [m.action for m in WORKFLOW.allowed(engineer, finding)] == ["park"]
    with pytest.raises(IllegalTransition, match="Only the system"):
        transition(workflow=WORKFLOW, actor=Actor(user=engineer), obj=finding, action="close")
    moved = transition(workflow=WORKFLOW, actor=Actor.system("run"), obj=finding, action="close")
    assert moved.status == S.RESOLVED


def test_the_table_refuses_inputs_that_are_not_fields_or_not_taken():
    with pytest.raises(FieldDoesNotExist):
        Workflow(
            model=Finding,
            audit_prefix="x",
            moves=[Move("a", "A", (S.OPEN,), S.RESOLVED, "c", inputs=("nope",))],
        )
    with pytest.raises(ValueError, match="does not take"):
        Workflow(
            model=Finding,
            audit_prefix="x",
            moves=[Move("a", "A", (S.OPEN,), S.RESOLVED, "c", input_validators=(("detail", _no_2031),))],
        )
