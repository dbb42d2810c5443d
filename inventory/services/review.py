"""The review workflow of an API record, declared once as a table (see ``portal.workflow``).

draft → submitted → approved (or changes requested → submitted …), approved → deprecated → retired;
suspend and reinstate belong to ``threats.suspend`` holders. The UI, the REST schema and the catalog
import all ask ``API_WORKFLOW`` what is allowed; ``api_transition`` is the one way the status changes.
Submitting mails the reviewers and a review mails the submitter (``review_notifications``), recorded
in the move's own transaction.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

from inventory import selectors
from inventory.models import Api, ApiStatus, Lifecycle
from inventory.services.review_notifications import review_notify
from portal.access import Cap
from portal.audit import Actor
from portal.workflow import Move, Note, Stamp, Workflow, transition

S = ApiStatus


def _complete_enough(api: Api, _actor: Actor) -> str:
    missing = selectors.missing_required(api)
    return f"Add {', '.join(missing)} before submitting." if missing else ""


def _four_eyes(api: Api, actor: Actor) -> str:
    """Nobody approves their own work: not the one who registered the API, nor who submitted it.
    (A system actor, such as an operator's catalog import, is audited as such and not a person.)"""
    if actor.user is None:
        return ""
    if actor.user_id in (api.created_by_id, api.submitted_by_id):
        return "You registered or submitted this API: another reviewer must approve it."
    return ""


API_WORKFLOW = Workflow(
    model=Api,
    audit_prefix="api",
    touches=("updated_at",),
    review_stamp=Stamp(by="reviewed_by", at="reviewed_at", note="review_comment"),
    submission_stamp=Stamp(by="submitted_by", at="submitted_at"),
    on_moved=review_notify,
    revision_field="revision",
    moves=[
        Move(
            "submit",
            "Submit for review",
            (S.DRAFT, S.CHANGES_REQUESTED),
            S.SUBMITTED,
            Cap.INVENTORY_SUBMIT,
            guards=(_complete_enough,),
            records_submission=True,
        ),
        Move(
            "approve",
            "Approve",
            (S.SUBMITTED, S.REREVIEW),
            S.APPROVED,
            Cap.INVENTORY_REVIEW,
            note=Note.OPTIONAL,
            guards=(_four_eyes,),
            records_review=True,
            binds_revision=True,
        ),
        Move(
            "request_changes",
            "Request changes",
            (S.SUBMITTED, S.REREVIEW),
            S.CHANGES_REQUESTED,
            Cap.INVENTORY_REVIEW,
            note=Note.REQUIRED,
            note_label="What must change",
            note_missing="Say what must change.",
            records_review=True,
        ),
        # A material change (registration.MATERIAL_FIELDS, a spec that widens the API) makes this move
        # by itself; owners may also ask for a new review.
        Move(
            "rereview",
            "Ask for a new review",
            (S.APPROVED,),
            S.REREVIEW,
            Cap.INVENTORY_SUBMIT,
            note=Note.OPTIONAL,
            note_label="What changed",
            records_submission=True,
        ),
        Move(
            "deprecate",
            "Deprecate",
            (S.APPROVED, S.REREVIEW),
            S.DEPRECATED,
            Cap.INVENTORY_SUBMIT,
            sets=(("lifecycle", Lifecycle.DEPRECATED),),
        ),
        Move(
            "retire",
            "Retire",
            (S.DEPRECATED,),
            S.RETIRED,
            Cap.INVENTORY_SUBMIT,
            sets=(("lifecycle", Lifecycle.RETIRED),),
        ),
        Move(
            "suspend",
            "Suspend",
            (S.APPROVED, S.REREVIEW, S.DEPRECATED),
            S.SUSPENDED,
            Cap.THREATS_SUSPEND,
            note=Note.REQUIRED,
            note_label="Reason",
            note_missing="Give the reason for the suspension.",
        ),
        # Reinstating approves the record as it is now: a review act, under the same four-eyes rule.
        Move(
            "reinstate",
            "Reinstate",
            (S.SUSPENDED,),
            S.APPROVED,
            Cap.THREATS_SUSPEND,
            note=Note.OPTIONAL,
            guards=(_four_eyes,),
            records_review=True,
            binds_revision=True,
        ),
    ],
)


def api_transition(
    *, actor: Actor, api: Api, action: str, note: str = "", seen_revision: int | None = None
) -> Api:
    """Make one move of ``API_WORKFLOW``: what the UI, REST and catalog import call. Approving and
    reinstating name the ``seen_revision`` the reviewer looked at (the page or GET shows it)."""
    return transition(
        workflow=API_WORKFLOW, actor=actor, obj=api, action=action, note=note, seen_revision=seen_revision
    )


def api_send_back(*, actor: Actor, api: Api, what: str) -> Api:
    """After a material change (call it inside the change's transaction):

    - approved: back to review (the ``rereview`` move), in use meanwhile;
    - waiting for review: the changer becomes its submitter, so they cannot approve what they
      changed (four eyes), whoever submitted it first;
    - deprecated or suspended: refused (the whole change rolls back). Its profile is frozen while
      it is examined or wound down; reinstate it first.
    Drafts and records sent back for changes are not reviewed yet: nothing to do.
    """
    status = Api.objects.filter(pk=api.pk).values_list("status", flat=True).get()
    if status in API_WORKFLOW.move("rereview").sources:
        return api_transition(actor=actor, api=api, action="rereview", note=what)
    if status in API_WORKFLOW.move("approve").sources:
        if actor.user is not None:
            Api.objects.filter(pk=api.pk).update(submitted_by=actor.user)
        return api
    if status in (S.DEPRECATED, S.SUSPENDED):
        raise ValidationError(
            f"A {S(status).label.lower()} API's security profile cannot change ({what}); reinstate it first."
        )
    return api


# Named verbs for callers that know which move they make (commands, other apps, tests).


def _current_revision(api: Api) -> int:
    revision: int = Api.objects.filter(pk=api.pk).values_list("revision", flat=True).get()
    return revision


def api_submit(*, actor: Actor, api: Api) -> Api:
    return api_transition(actor=actor, api=api, action="submit")


def api_approve(*, actor: Actor, api: Api, comment: str = "", revision: int | None = None) -> Api:
    """Approve ``api`` at ``revision``, or as it is now when the caller showed it to nobody (a
    seed, a test). A caller that showed the record to a person passes the revision it showed."""
    seen = _current_revision(api) if revision is None else revision
    return api_transition(actor=actor, api=api, action="approve", note=comment, seen_revision=seen)


def api_request_changes(*, actor: Actor, api: Api, comment: str) -> Api:
    return api_transition(actor=actor, api=api, action="request_changes", note=comment)


def api_deprecate(*, actor: Actor, api: Api) -> Api:
    return api_transition(actor=actor, api=api, action="deprecate")


def api_retire(*, actor: Actor, api: Api) -> Api:
    return api_transition(actor=actor, api=api, action="retire")


def api_suspend(*, actor: Actor, api: Api, reason: str) -> Api:
    """Shut an API off until it is examined (the gateway denies while suspended): fail closed."""
    return api_transition(actor=actor, api=api, action="suspend", note=reason)


def api_reinstate(*, actor: Actor, api: Api, comment: str = "", revision: int | None = None) -> Api:
    seen = _current_revision(api) if revision is None else revision
    return api_transition(actor=actor, api=api, action="reinstate", note=comment, seen_revision=seen)
