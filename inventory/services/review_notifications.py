"""Who hears about a review move, and what they read.

Recorded in the move's own transaction (``Workflow.on_moved``) through ``portal.notifications``, which
sends only once it has committed: a move that rolls back tells nobody, and one that commits cannot
lose its mail.

- Submitted: every ``inventory.review`` holder over the API's unit (a role held on the unit or on a
  unit above it), except the submitter.
- Approved, changes requested: the submitter, with the reviewer's comment. The submitter is the one
  recorded at submission (``Api.submitted_by``), or the one who registered the API when a system
  actor submitted it. A review request still unsent by then is withdrawn: the review is done.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.urls import reverse

from inventory.models import Api
from portal.access import Cap, holders_over, roles_with
from portal.audit import Actor
from portal.notifications import notification_create, notification_withdraw, portal_link
from portal.workflow import Move

SUBMITTED = "inventory.api.submitted"
APPROVED = "inventory.api.approved"
CHANGES_REQUESTED = "inventory.api.changes_requested"

_PREFIX = "[API Security Portal]"


def review_notify(api: Api, move: Move, actor: Actor, note: str) -> None:
    """The ``on_moved`` hook of ``API_WORKFLOW``: the notifications a move of the review causes."""
    if move.action in ("submit", "rereview"):
        _submitted(api, actor, note if move.action == "rereview" else "")
    elif move.action in ("approve", "request_changes"):
        _reviewed(api, move, actor, note)


def _key(kind: str, api: Api, at: datetime | None) -> str:
    # One notification per move: the move's time names it (moves of one API are serialized by its row lock).
    return f"{kind}:{api.pk}:{at.isoformat() if at else ''}"


def _who(actor: Actor) -> str:
    user = actor.user
    if user is None:
        return "The portal"
    return str(user.get_full_name() or user.get_username())


def _link(api: Api) -> str:
    return portal_link(reverse("inventory:detail", args=[api.slug]))


def _submitted(api: Api, actor: Actor, changed: str = "") -> None:
    unit = api.org_unit
    reviewers = holders_over([unit], roles_with(Cap.INVENTORY_REVIEW))[unit.pk]
    if changed:  # an approved API changed in a way that matters: it stays in use meanwhile
        what = f"changed {api.name} ({api.slug}) of {unit.name} after its approval ({changed})"
        subject = f"{_PREFIX} {api.name} changed: please review it again"
    else:
        what = f"submitted {api.name} ({api.slug}) of {unit.name} for security review"
        subject = f"{_PREFIX} {api.name} is waiting for your review"
    notification_create(
        kind=SUBMITTED,
        subject=subject,
        body=f"{_who(actor)} {what}.\n\nReview it in the portal: {_link(api)}\n",
        recipients=[user.email for user in reviewers if user.pk != actor.user_id],
        dedupe_key=_key(SUBMITTED, api, api.submitted_at),
    )


def _submitter(api: Api) -> Any:
    user = api.submitted_by or api.created_by
    return user if user is not None and user.is_active else None


def _reviewed(api: Api, move: Move, actor: Actor, note: str) -> None:
    if api.submitted_at is not None:
        notification_withdraw(
            dedupe_key=_key(SUBMITTED, api, api.submitted_at),
            reason="Reviewed before the review request went out.",
        )
    submitter = _submitter(api)
    recipients = [submitter.email] if submitter is not None and submitter.pk != actor.user_id else []
    if move.action == "approve":
        kind, subject = APPROVED, f"{_PREFIX} {api.name} is approved"
        body = f"{_who(actor)} approved {api.name} ({api.slug}).\n\n"
        if note:
            body += f"Comment:\n{note}\n\n"
        body += f"{_link(api)}\n"
    else:
        kind, subject = CHANGES_REQUESTED, f"{_PREFIX} {api.name}: changes requested"
        body = (
            f"{_who(actor)} asked for changes to {api.name} ({api.slug}) before it can be approved:\n\n"
            f"{note}\n\n"
            f"Make them and submit it again: {_link(api)}\n"
        )
    notification_create(
        kind=kind,
        subject=subject,
        body=body,
        recipients=recipients,
        dedupe_key=_key(kind, api, api.reviewed_at),
    )
