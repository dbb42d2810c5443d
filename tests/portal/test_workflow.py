"""portal.workflow: what a move writes is declared on the move (stamps, fixed values), not coded."""

from __future__ import annotations

import pytest

from inventory.models import ApiStatus, Lifecycle
from inventory.services import review
from inventory.services.review import API_WORKFLOW
from portal.access import Cap
from portal.audit import Actor
from portal.models import Role
from portal.workflow import Move, Stamp, Workflow
from tests.factories import ApiFactory

S = ApiStatus


def test_the_api_table_stamps_reviews_and_submissions_where_the_rules_say():
    # Review acts: the moves of reviewers, and reinstating (it approves the record as it is now).
    reviews = {m.action for m in API_WORKFLOW.moves if m.records_review}
    assert reviews == {m.action for m in API_WORKFLOW.moves if m.capability == Cap.INVENTORY_REVIEW} | {
        "reinstate"
    }
    # Hand-ins: every move into a status that waits for a reviewer.
    submissions = {m.action for m in API_WORKFLOW.moves if m.records_submission}
    assert submissions == {
        m.action for m in API_WORKFLOW.moves if m.target in API_WORKFLOW.move("approve").sources
    }
    assert {m.action: dict(m.sets) for m in API_WORKFLOW.moves if m.sets} == {
        "deprecate": {"lifecycle": Lifecycle.DEPRECATED},
        "retire": {"lifecycle": Lifecycle.RETIRED},
    }


def test_a_flag_without_its_stamp_is_a_mistake_in_the_table():
    from inventory.models import Api

    with pytest.raises(ValueError, match="review_stamp"):
        Workflow(
            model=Api,
            audit_prefix="x",
            moves=[Move("a", "A", (S.DRAFT,), S.APPROVED, "c", records_review=True)],
        )
    with pytest.raises(ValueError, match="submission_stamp"):
        Workflow(
            model=Api,
            audit_prefix="x",
            review_stamp=Stamp("reviewed_by", "reviewed_at"),
            moves=[Move("a", "A", (S.DRAFT,), S.SUBMITTED, "c", records_submission=True)],
        )


def test_each_move_writes_its_stamps_and_values_at_the_moves_time(org, make_member):
    owner = make_member(Role.DEVELOPER, org.team, "olga")
    reviewer = make_member(Role.SECURITY_ENGINEER, org.root, "rita")
    api = ApiFactory(org_unit=org.team, slug="stamped", submittable=True, actor=Actor(user=owner))

    api = review.api_submit(actor=Actor(user=owner), api=api)
    assert (api.submitted_by, api.submitted_at) == (owner, api.status_changed_at)
    assert api.updated_at == api.status_changed_at
    assert api.reviewed_by is None

    api = review.api_request_changes(actor=Actor(user=reviewer), api=api, comment="Add the contact")
    assert (api.reviewed_by, api.reviewed_at, api.review_comment) == (
        reviewer,
        api.status_changed_at,
        "Add the contact",
    )
    assert api.submitted_by == owner  # a review leaves the submission stamp alone

    api.refresh_from_db()
    assert api.review_comment == "Add the contact"  # saved, not only set on the instance

    api = review.api_submit(actor=Actor(user=owner), api=api)
    api = review.api_approve(actor=Actor(user=reviewer), api=api)
    assert api.review_comment == ""  # an approval without a note clears the earlier one
    api = review.api_deprecate(actor=Actor(user=owner), api=api)
    api.refresh_from_db()
    assert (api.status, api.lifecycle) == (S.DEPRECATED, Lifecycle.DEPRECATED)
    assert api.reviewed_by == reviewer  # deprecating is not a review act


def test_a_workflow_that_binds_a_move_to_a_revision_must_name_the_revision_field():
    """Otherwise the binding would be silently skipped: a review act checked against nothing."""
    from inventory.models import Api

    move = Move("approve", "Approve", ("submitted",), "approved", "inventory.review", binds_revision=True)
    with pytest.raises(ValueError, match="names no revision_field"):
        Workflow(model=Api, moves=[move], audit_prefix="x")
    assert Workflow(model=Api, moves=[move], audit_prefix="x", revision_field="revision").move("approve")
