"""Findings: their fingerprint, their workflow, and what a run's results do to them.

    finding_transition(actor=actor, finding=f, action="accept_risk", note="Behind the VPN", accepted_until=d)

People triage: ``accept_risk`` (a note and an expiry within a year), ``mark_false_positive`` (a
note), ``reopen``. Runs move findings themselves (system moves, never offered to people): a problem
seen again after it was resolved ``regress``es; a check that passed without it ``resolve``s it; an
accepted risk past its ``accepted_until`` ``expire``s back to open (``findings_expire_acceptances``,
daily). Accepted and false-positive findings stay as people left them while runs keep seeing them
(``last_seen`` moves on). Every move is one ``portal.workflow`` transition: row lock, audit event,
triage stamp.

``fingerprint`` is what makes a problem the same problem from run to run: the API, the environment,
the check, the operation and the check's short ``detail`` code.
"""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from portal.access import Cap
from portal.audit import Actor
from portal.workflow import IllegalTransition, Move, Note, Stamp, Workflow, transition
from testing.models import Finding, FindingStatus

F = FindingStatus

MAX_ACCEPTANCE_DAYS = 366  # a year, leap day included
PEOPLE_ACTIONS = ("accept_risk", "mark_false_positive", "reopen")
RUN_ACTIONS = ("resolve", "regress")


def fingerprint(api_id: int, environment_id: int, check: str, operation: str, detail: str) -> str:
    """sha256 of the fields that make a problem the same problem, joined with the unit separator
    (which none of them can hold ambiguously)."""
    raw = "\x1f".join([str(api_id), str(environment_id), check, operation, detail])
    return hashlib.sha256(raw.encode()).hexdigest()


def _acceptance_expiry(value: Any) -> None:
    if value is None:
        raise ValidationError("Say until when the risk is accepted.")
    today = timezone.localdate()
    if value <= today:
        raise ValidationError("The acceptance must end after today.")
    if value > today + timedelta(days=MAX_ACCEPTANCE_DAYS):
        raise ValidationError("A risk is accepted for at most a year; accept it again then.")


def _after_move(finding: Finding, move: Move, actor: Actor, note: str) -> None:
    # The API's open-findings summary counts what people decide, too. A run's own resolve and
    # regress moves are summarised once, when the run finishes.
    if move.action in RUN_ACTIONS:
        return
    from testing.services.summary import api_summary_refresh

    api_summary_refresh(api_id=finding.api_id)


FINDING_WORKFLOW: Workflow[Finding] = Workflow(
    model=Finding,
    audit_prefix="finding",
    review_stamp=Stamp(by="triaged_by", at="triaged_at", note="triage_note"),
    on_moved=_after_move,
    moves=[
        Move(
            "accept_risk",
            "Accept the risk",
            (F.OPEN,),
            F.ACCEPTED,
            Cap.TESTING_MANAGE,
            note=Note.REQUIRED,
            note_label="Why is the risk acceptable?",
            note_missing="Say why the risk is acceptable.",
            records_review=True,
            inputs=("accepted_until",),
            input_validators=(("accepted_until", _acceptance_expiry),),
        ),
        Move(
            "mark_false_positive",
            "Mark as false positive",
            (F.OPEN,),
            F.FALSE_POSITIVE,
            Cap.TESTING_MANAGE,
            note=Note.REQUIRED,
            note_label="Why is it not a problem?",
            note_missing="Say why this is a false positive.",
            records_review=True,
        ),
        Move(
            "reopen",
            "Reopen",
            (F.ACCEPTED, F.FALSE_POSITIVE),
            F.OPEN,
            Cap.TESTING_MANAGE,
            note=Note.OPTIONAL,
            records_review=True,
            sets=(("accepted_until", None),),
        ),
        # The system's moves, made by runs and the daily expiry.
        Move("resolve", "Resolve", (F.OPEN,), F.RESOLVED, Cap.TESTING_MANAGE, system_only=True),
        Move("regress", "Regress", (F.RESOLVED,), F.OPEN, Cap.TESTING_MANAGE, system_only=True),
        Move(
            "expire",
            "Expire the acceptance",
            (F.ACCEPTED,),
            F.OPEN,
            Cap.TESTING_MANAGE,
            system_only=True,
            sets=(("accepted_until", None),),
        ),
    ],
)


def finding_transition(
    *,
    actor: Actor,
    finding: Finding,
    action: str,
    note: str = "",
    accepted_until: date | None = None,
) -> Finding:
    """A person's triage move on ``finding`` (``PEOPLE_ACTIONS``); the system's moves are refused."""
    if action not in PEOPLE_ACTIONS:
        raise IllegalTransition(f"Unknown action {action!r}.")
    values: dict[str, Any] = {}
    if accepted_until is not None or action == "accept_risk":
        values["accepted_until"] = accepted_until
    return transition(
        workflow=FINDING_WORKFLOW, actor=actor, obj=finding, action=action, note=note, values=values
    )


def findings_expire_acceptances(*, today: date | None = None, limit: int = 5000) -> int:
    """Reopen accepted findings whose ``accepted_until`` has passed (the daily beat task). Each is
    its own small transaction, so one failure does not hold the others back."""
    today = today or timezone.localdate()
    due = list(
        Finding.objects.filter(status=F.ACCEPTED, accepted_until__lt=today)
        .order_by("accepted_until", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    actor = Actor.system("acceptance expiry")
    expired = 0
    for pk in due:
        finding = Finding(pk=pk)
        try:
            with transaction.atomic():
                transition(workflow=FINDING_WORKFLOW, actor=actor, obj=finding, action="expire")
        except IllegalTransition:
            continue  # reopened by someone meanwhile
        expired += 1
    return expired
