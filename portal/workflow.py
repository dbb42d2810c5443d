"""The one shape of every status workflow: a declarative table of moves and one transition service.

An app declares, per status field, which moves exist: from which statuses, to which status, the
capability each needs, the action name and label people see, and what input it asks for. Everything
else reads that table: the transition service checks it (under a row lock) and writes the audit
event; the UI asks it which moves to offer; the REST schema lists its action names. A rule about
who may move what therefore exists once.

    API_WORKFLOW = Workflow(
        model=Api,
        audit_prefix="api",
        review_stamp=Stamp(by="reviewed_by", at="reviewed_at", note="review_comment"),
        moves=[
            Move("submit", "Submit for review", (DRAFT, CHANGES_REQUESTED), SUBMITTED, Cap.INVENTORY_SUBMIT),
            Move("approve", "Approve", (SUBMITTED,), APPROVED, Cap.INVENTORY_REVIEW, note=Note.OPTIONAL,
                 records_review=True),
            ...
        ],
    )
    transition(workflow=API_WORKFLOW, actor=actor, obj=api, action="approve", note="Looks good")

Incidents and findings use the same shape with their own tables.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from portal import audit
from portal.access import authorize, in_scope
from portal.audit import Actor

if TYPE_CHECKING:
    from portal.models import ScopedModel

M = TypeVar("M", bound="ScopedModel")  # the model a workflow moves


class Note(StrEnum):
    """The free-text input a move asks for (a comment, a reason)."""

    NONE = "none"
    OPTIONAL = "optional"
    REQUIRED = "required"


class StateConflict(ValidationError):
    """A well-formed request the object's current state refuses: a move not allowed from its status,
    a guard that does not pass, a record changed since the reviewer read it, a finding already
    dismissed. Pages show it like any refusal; the REST API answers 409 instead of 400, so a client
    can tell "fix your request" from "the record is not in a state for this"."""


class IllegalTransition(StateConflict):
    """The move does not exist from the object's current status (or not at all)."""


@dataclass(frozen=True)
class Move:
    action: str
    label: str
    sources: tuple[str, ...]
    target: str
    capability: str
    note: Note = Note.NONE
    note_label: str = "Comment"
    # What to say when a required note is missing.
    note_missing: str = "Say why."
    # Extra rules that only the current object can answer (e.g. "every required piece is present").
    # Each returns a problem to show, or "" when the move may go ahead. Checked under the row lock.
    guards: tuple[Callable[[Any, Actor], str], ...] = ()
    # The move is a review act: who made it, when and their note go to the workflow's review stamp.
    records_review: bool = False
    # The move hands the object in for review: who and when go to the workflow's submission stamp.
    records_submission: bool = False
    # Further fields the move sets to fixed values, e.g. (("lifecycle", "retired"),).
    sets: tuple[tuple[str, Any], ...] = ()
    # A review act: a person making it names the revision they reviewed (``Workflow.revision_field``)
    # and the move is refused if the object changed since. Without it, a change made between the
    # reviewer opening the page and pressing the button would be approved unseen.
    binds_revision: bool = False
    # Model fields the move takes from the person making it (e.g. ("accepted_until",)): each is
    # cleaned with the model field's own ``clean``, then with the move's ``input_validators`` for it
    # (name, callable raising ValidationError), set on the object and recorded in the audit event.
    inputs: tuple[str, ...] = ()
    input_validators: tuple[tuple[str, Callable[[Any], None]], ...] = ()
    # Only the system makes it (e.g. a finding resolved by a later run): never offered to people,
    # refused when a person asks for it.
    system_only: bool = False


@dataclass(frozen=True)
class Stamp:
    """Where a move records who made it, when, and (optionally) the note given with it."""

    by: str
    at: str
    note: str | None = None


@dataclass
class Workflow(Generic[M]):
    model: type[M]
    moves: Sequence[Move]
    audit_prefix: str
    status_field: str = "status"
    changed_at_field: str | None = "status_changed_at"
    # The counter of changes a ``binds_revision`` move is checked against.
    revision_field: str | None = None
    # The longest note a move takes (it is stored, audited and mailed).
    note_max_length: int = 5000
    # Fields every move sets to the move's time (e.g. "updated_at").
    touches: tuple[str, ...] = ()
    # Written by the moves marked ``records_review`` / ``records_submission``.
    review_stamp: Stamp | None = None
    submission_stamp: Stamp | None = None
    # Called inside the transaction once the move is saved and audited: for what must commit or roll
    # back with the move, such as recording a notification (``portal.notifications`` sends it only
    # after the commit, so a move that rolls back tells nobody).
    on_moved: Callable[[Any, Move, Actor, str], None] | None = None
    _by_action: dict[str, Move] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.revision_field is None and any(m.binds_revision for m in self.moves):
            raise ValueError(
                f"The {self.audit_prefix} workflow binds moves to a revision but names no revision_field"
            )
        self._by_action = {}
        for move in self.moves:
            for name in move.inputs:
                self.model._meta.get_field(name)  # a typo in the table fails at import, not at use
            unknown = {name for name, _ in move.input_validators} - set(move.inputs)
            if unknown:
                raise ValueError(f"{move.action!r} validates inputs it does not take: {sorted(unknown)}")
            if move.action in self._by_action:
                raise ValueError(f"Duplicate action {move.action!r} in the {self.audit_prefix} workflow")
            if move.records_review and self.review_stamp is None:
                raise ValueError(f"{move.action!r} records a review, but the workflow has no review_stamp")
            if move.records_submission and self.submission_stamp is None:
                raise ValueError(
                    f"{move.action!r} records a submission, but the workflow has no submission_stamp"
                )
            self._by_action[move.action] = move

    @property
    def actions(self) -> list[str]:
        return list(self._by_action)

    def choices(self) -> list[tuple[str, str]]:
        return [(m.action, m.label) for m in self.moves]

    def move(self, action: str) -> Move:
        try:
            return self._by_action[action]
        except KeyError:
            raise IllegalTransition(f"Unknown action {action!r}.") from None

    def moves_from(self, status: str) -> list[Move]:
        return [m for m in self.moves if status in m.sources]

    def allowed(self, user: Any, obj: Any) -> list[Move]:
        """The moves ``user`` may make on ``obj`` now: the ones the UI offers (guards aside, which
        the UI shows as reasons instead; see ``blocked``)."""
        status = getattr(obj, self.status_field)
        path = obj.scope_path_value
        return [
            m for m in self.moves_from(status) if not m.system_only and in_scope(user, m.capability, path)
        ]

    def blocked(self, move: Move, obj: Any, actor: Actor) -> list[str]:
        """What stops ``move`` on ``obj`` now, besides state and capability (empty when nothing)."""
        return [problem for guard in move.guards if (problem := guard(obj, actor))]


def _status_label(model: type[models.Model], field_name: str, value: str) -> str:
    status_field = model._meta.get_field(field_name)
    assert isinstance(status_field, models.Field)  # a concrete column, not a relation
    choices = dict(status_field.choices or ())
    return str(choices.get(value, value)).lower()


def _check_revision(workflow: Workflow[M], move: Move, actor: Actor, obj: M, seen: int | None) -> None:
    """A person's review act is bound to the revision they saw (system actors, such as an import
    that has just written the record, act on what they wrote)."""
    if not (move.binds_revision and workflow.revision_field) or actor.user is None:
        return
    current = getattr(obj, workflow.revision_field)
    if seen is None:
        raise ValidationError({"revision": f"Say which revision you reviewed (it is {current} now)."})
    if seen != current:
        raise StateConflict(
            {
                "revision": f"The record changed since you opened it (revision {seen}, now {current}). "
                "Review it again."
            }
        )


def _clean_inputs(workflow: Workflow[M], move: Move, obj: M, values: Mapping[str, Any]) -> dict[str, Any]:
    """The move's inputs, cleaned by their model fields and the move's validators (every input is
    cleaned, given or not, so a required one that is missing is refused by its own rules)."""
    unknown = sorted(set(values) - set(move.inputs))
    if unknown:
        raise ValidationError({name: f"{move.label} does not take {name}." for name in unknown})
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name in move.inputs:
        field = workflow.model._meta.get_field(name)
        assert isinstance(field, models.Field)
        try:
            value = field.clean(values.get(name), obj)
            for validated, validator in move.input_validators:
                if validated == name:
                    validator(value)
        except ValidationError as exc:
            errors[name] = exc.messages
            continue
        cleaned[name] = value
    if errors:
        raise ValidationError(errors)
    return cleaned


def transition(
    *,
    workflow: Workflow[M],
    actor: Actor,
    obj: M,
    action: str,
    note: str = "",
    seen_revision: int | None = None,
    values: Mapping[str, Any] | None = None,
) -> M:
    """Make one move of ``workflow`` on ``obj``: the only way its status field changes.

    Takes the row lock, re-reads the status, checks that the move exists from it, that the actor
    holds its capability over the object, that a required note is given and that every guard
    passes, and for a review act that the object is still at ``seen_revision``; then sets the
    status, ``changed_at_field``, ``touches``, the move's ``sets`` and the review or submission stamp
    it records, writes one audit event ``<prefix>.<action>`` and calls ``on_moved``, all in one
    transaction.
    ``values`` are the move's typed inputs (``Move.inputs``), cleaned and set with the move; a name the
    move does not take is refused.
    Illegal moves raise ``IllegalTransition``; missing or bad input raises ``ValidationError``; no
    capability raises ``PermissionDenied`` (or ``Http404``).
    """
    move = workflow.move(action)
    if move.system_only and actor.user is not None:
        raise IllegalTransition(f"Only the system can {move.label.lower()}.")
    note = (note or "").strip()
    with transaction.atomic():
        obj = workflow.model._default_manager.select_for_update().get(pk=obj.pk)
        current = getattr(obj, workflow.status_field)
        if current not in move.sources:
            raise IllegalTransition(
                f"Cannot {move.label.lower()} from {_status_label(workflow.model, workflow.status_field, current)}."
            )
        authorize(actor, move.capability, obj)
        if move.note == Note.REQUIRED and not note:
            raise ValidationError({"note": move.note_missing})
        if len(note) > workflow.note_max_length:
            raise ValidationError({"note": f"Say it in at most {workflow.note_max_length} characters."})
        if move.note == Note.NONE:
            note = ""
        inputs = _clean_inputs(workflow, move, obj, values or {})
        problems = workflow.blocked(move, obj, actor)
        if problems:
            raise StateConflict(problems)
        _check_revision(workflow, move, actor, obj, seen_revision)
        before = {workflow.status_field: current}
        now = timezone.now()
        changed: dict[str, Any] = {workflow.status_field: move.target}
        if workflow.changed_at_field:
            changed[workflow.changed_at_field] = now
        changed |= dict.fromkeys(workflow.touches, now)
        changed |= dict(move.sets)
        changed |= inputs
        if move.records_review and workflow.review_stamp is not None:
            changed |= _stamped(workflow.review_stamp, actor, now, note)
        if move.records_submission and workflow.submission_stamp is not None:
            changed |= _stamped(workflow.submission_stamp, actor, now, note)
        for name, value in changed.items():
            setattr(obj, name, value)
        obj.save(update_fields=list(changed))
        after: dict[str, Any] = {workflow.status_field: move.target}
        if note:
            after["note"] = note
        after |= inputs
        audit.record(
            actor=actor,
            action=f"{workflow.audit_prefix}.{move.action}",
            obj=obj,
            org_unit=_unit_of(obj),
            before=before,
            after=after,
        )
        if workflow.on_moved is not None:
            workflow.on_moved(obj, move, actor, note)
    return obj


def _stamped(stamp: Stamp, actor: Actor, at: Any, note: str) -> dict[str, Any]:
    values = {stamp.by: actor.user, stamp.at: at}
    if stamp.note is not None:
        values[stamp.note] = note
    return values


def _unit_of(obj: Any) -> Any:
    """The org unit an audit event is filed under: the object's own, or its parent's."""
    unit = getattr(obj, "org_unit", None)
    if unit is None and hasattr(obj, "api"):
        unit = obj.api.org_unit
    return unit
