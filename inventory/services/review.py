"""The review workflow of an API record, declared once as a table (see ``portal.workflow``).

draft → submitted → approved (or changes requested → submitted …), approved → deprecated → retired;
suspend and reinstate belong to ``threats.suspend`` holders. The UI, the REST schema and the catalog
import all ask ``API_WORKFLOW`` what is allowed; ``api_transition`` is the one way the status changes.
"""

from __future__ import annotations

from inventory import selectors
from inventory.models import Api, ApiStatus, Lifecycle
from portal.access import Cap
from portal.audit import Actor
from portal.workflow import Move, Note, Workflow, transition

S = ApiStatus


def _complete_enough(api: Api, _actor: Actor) -> str:
    missing = selectors.missing_required(api)
    return f"Add {', '.join(missing)} before submitting." if missing else ""


_LIFECYCLE_FOR: dict[str, Lifecycle] = {S.DEPRECATED: Lifecycle.DEPRECATED, S.RETIRED: Lifecycle.RETIRED}


def _apply(api: Api, move: Move, actor: Actor, note: str) -> list[str]:
    """What a move sets besides the status: the lifecycle it implies, and who reviewed it."""
    api.updated_at = api.status_changed_at
    fields = ["updated_at"]
    if move.target in _LIFECYCLE_FOR:
        api.lifecycle = _LIFECYCLE_FOR[move.target]
        fields.append("lifecycle")
    if move.capability == Cap.INVENTORY_REVIEW:
        api.review_comment, api.reviewed_by, api.reviewed_at = note, actor.user, api.status_changed_at
        fields += ["review_comment", "reviewed_by", "reviewed_at"]
    return fields


API_WORKFLOW = Workflow(
    model=Api,
    audit_prefix="api",
    on_apply=_apply,
    moves=[
        Move(
            "submit",
            "Submit for review",
            (S.DRAFT, S.CHANGES_REQUESTED),
            S.SUBMITTED,
            Cap.INVENTORY_SUBMIT,
            guards=(_complete_enough,),
        ),
        Move("approve", "Approve", (S.SUBMITTED,), S.APPROVED, Cap.INVENTORY_REVIEW, note=Note.OPTIONAL),
        Move(
            "request_changes",
            "Request changes",
            (S.SUBMITTED,),
            S.CHANGES_REQUESTED,
            Cap.INVENTORY_REVIEW,
            note=Note.REQUIRED,
            note_label="What must change",
            note_missing="Say what must change.",
        ),
        Move("deprecate", "Deprecate", (S.APPROVED,), S.DEPRECATED, Cap.INVENTORY_SUBMIT),
        Move("retire", "Retire", (S.DEPRECATED,), S.RETIRED, Cap.INVENTORY_SUBMIT),
        Move(
            "suspend",
            "Suspend",
            (S.APPROVED, S.DEPRECATED),
            S.SUSPENDED,
            Cap.THREATS_SUSPEND,
            note=Note.REQUIRED,
            note_label="Reason",
            note_missing="Give the reason for the suspension.",
        ),
        Move("reinstate", "Reinstate", (S.SUSPENDED,), S.APPROVED, Cap.THREATS_SUSPEND, note=Note.OPTIONAL),
    ],
)


def api_transition(*, actor: Actor, api: Api, action: str, note: str = "") -> Api:
    """Make one move of ``API_WORKFLOW``: what the UI, REST and catalog import call."""
    return transition(workflow=API_WORKFLOW, actor=actor, obj=api, action=action, note=note)


# Named verbs for callers that know which move they make (commands, other apps, tests).


def api_submit(*, actor: Actor, api: Api) -> Api:
    return api_transition(actor=actor, api=api, action="submit")


def api_approve(*, actor: Actor, api: Api, comment: str = "") -> Api:
    return api_transition(actor=actor, api=api, action="approve", note=comment)


def api_request_changes(*, actor: Actor, api: Api, comment: str) -> Api:
    return api_transition(actor=actor, api=api, action="request_changes", note=comment)


def api_deprecate(*, actor: Actor, api: Api) -> Api:
    return api_transition(actor=actor, api=api, action="deprecate")


def api_retire(*, actor: Actor, api: Api) -> Api:
    return api_transition(actor=actor, api=api, action="retire")


def api_suspend(*, actor: Actor, api: Api, reason: str) -> Api:
    """Shut an API off until it is examined (the gateway denies while suspended): fail closed."""
    return api_transition(actor=actor, api=api, action="suspend", note=reason)


def api_reinstate(*, actor: Actor, api: Api, comment: str = "") -> Api:
    return api_transition(actor=actor, api=api, action="reinstate", note=comment)
