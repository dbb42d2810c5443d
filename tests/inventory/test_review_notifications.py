"""Who is mailed when an API moves through review, and that a move that does not commit mails nobody.

Mail goes out after the move's transaction commits: each test wraps the move in
``django_capture_on_commit_callbacks(execute=True)``, which plays the commit (the send task runs inline).
"""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import transaction

from inventory.models import Api, ApiStatus
from inventory.services import registration, review
from inventory.services.review_notifications import APPROVED, CHANGES_REQUESTED, SUBMITTED
from portal.access import Cap, holders_over, roles_with
from portal.audit import Actor
from portal.models import Notification, Role
from tests.factories import SYSTEM, register_api


def actor(user) -> Actor:  # noqa: ANN001
    return Actor(user=user)


@pytest.fixture
def api(org, alice) -> Api:  # noqa: ANN001
    return register_api(org.team, "payments", "Payments API", actor=actor(alice))


@pytest.fixture
def reviewers(org, ciso, make_member):  # noqa: ANN001, ANN201
    """Reviewers over team: on the team itself, on its department, and the CISO on the root."""
    return [
        make_member(Role.SECURITY_ENGINEER, org.team, "tom"),
        make_member(Role.SECURITY_ENGINEER, org.dept, "rita"),
        ciso,
    ]


@pytest.fixture
def outsiders(org, make_member):  # noqa: ANN001, ANN201
    """Reviewers of other units, and people over team who may not review."""
    return [
        make_member(Role.SECURITY_ENGINEER, org.sibling, "sam"),
        make_member(Role.CISO, org.other_division, "otto"),
        make_member(Role.VIEWER, org.root, "vera"),
        make_member(Role.AUDITOR, org.dept, "audrey"),
    ]


@pytest.fixture
def submitted(api, alice) -> Api:  # noqa: ANN001
    """Submitted by alice, outside any captured commit (so no mail from the submission itself)."""
    return review.api_submit(actor=actor(alice), api=api)


def test_submitting_mails_the_reviewers_of_the_unit_and_above(
    api, alice, reviewers, outsiders, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        review.api_submit(actor=actor(alice), api=api)

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert sorted(message.to) == sorted(user.email for user in reviewers)
    assert not {user.email for user in outsiders} & set(message.to)
    assert alice.email not in message.to
    assert "Payments API" in message.subject
    assert "alice submitted Payments API (payments) of Team" in message.body
    assert "/inventory/apis/payments/" in message.body
    assert Notification.objects.get().kind == SUBMITTED


def test_a_reviewer_who_submits_is_not_mailed_about_it(api, reviewers, django_capture_on_commit_callbacks):
    tom = reviewers[0]
    with django_capture_on_commit_callbacks(execute=True):
        review.api_submit(actor=actor(tom), api=api)
    assert sorted(mail.outbox[0].to) == sorted(user.email for user in reviewers[1:])


def test_a_unit_without_reviewers_records_the_submission_mail_as_skipped(
    org, charlie, django_capture_on_commit_callbacks
):
    lonely = register_api(org.sibling, "lonely", actor=actor(charlie))
    with django_capture_on_commit_callbacks(execute=True):
        review.api_submit(actor=actor(charlie), api=lonely)
    assert mail.outbox == []
    notification = Notification.objects.get()
    assert (notification.kind, notification.state) == (SUBMITTED, Notification.State.SKIPPED)


def test_reviewers_are_found_in_one_query(org, reviewers, outsiders, django_assert_num_queries):
    with django_assert_num_queries(1):
        found = holders_over([org.team, org.sibling], roles_with(Cap.INVENTORY_REVIEW))
    assert [u.username for u in found[org.team.pk]] == sorted(u.username for u in reviewers)
    # rita holds her role on the department, over both teams.
    assert [u.username for u in found[org.sibling.pk]] == ["carla", "rita", "sam"]


def test_approval_mails_the_submitter_with_the_comment(
    submitted, alice, reviewers, django_capture_on_commit_callbacks
):
    rita = reviewers[1]
    with django_capture_on_commit_callbacks(execute=True):
        review.api_approve(actor=actor(rita), api=submitted, comment="Looks good; rotate the keys yearly.")

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [alice.email]
    assert message.subject == "[API Security Portal] Payments API is approved"
    assert "rita approved Payments API" in message.body
    assert "Looks good; rotate the keys yearly." in message.body
    assert Notification.objects.get(kind=APPROVED).state == Notification.State.SENT


def test_a_request_for_changes_mails_the_submitter_with_what_must_change(
    submitted, alice, ciso, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        review.api_request_changes(actor=actor(ciso), api=submitted, comment="Add the rate limits.")

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [alice.email]
    assert "changes requested" in message.subject
    assert "Add the rate limits." in message.body
    assert Notification.objects.get(kind=CHANGES_REQUESTED).state == Notification.State.SENT


def test_the_review_goes_to_who_submitted_not_who_registered(
    org, api, alice, ciso, make_member, django_capture_on_commit_callbacks
):
    dora = make_member(Role.DEVELOPER, org.team, "dora")
    review.api_submit(actor=actor(dora), api=api)
    with django_capture_on_commit_callbacks(execute=True):
        review.api_approve(actor=actor(ciso), api=api)
    assert [m.to for m in mail.outbox] == [[dora.email]]


def test_a_submission_by_the_system_reports_back_to_who_registered_it(
    api, alice, ciso, django_capture_on_commit_callbacks
):
    review.api_submit(actor=SYSTEM, api=api)
    api.refresh_from_db()
    assert api.submitted_by is None
    with django_capture_on_commit_callbacks(execute=True):
        review.api_request_changes(actor=actor(ciso), api=api, comment="Name an owner.")
    assert [m.to for m in mail.outbox] == [[alice.email]]


def test_every_submission_and_review_is_mailed_again(
    api, alice, ciso, reviewers, django_capture_on_commit_callbacks
):
    moves = [
        lambda: review.api_submit(actor=actor(alice), api=api),
        lambda: review.api_request_changes(actor=actor(ciso), api=api, comment="Add the rate limits."),
        lambda: review.api_submit(actor=actor(alice), api=api),
        lambda: review.api_approve(actor=actor(ciso), api=api),
    ]
    for move in moves:  # each in its own transaction, as people make them
        with django_capture_on_commit_callbacks(execute=True):
            move()
    subjects = [m.subject.removeprefix("[API Security Portal] ") for m in mail.outbox]
    assert subjects == [
        "Payments API is waiting for your review",
        "Payments API: changes requested",
        "Payments API is waiting for your review",
        "Payments API is approved",
    ]


def test_nothing_is_sent_when_the_move_rolls_back(api, alice, reviewers, django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        review.api_submit(actor=actor(alice), api=api)
        raise RuntimeError("something later in the same request failed")
    assert callbacks == []
    assert mail.outbox == []
    assert not Notification.objects.exists()
    api.refresh_from_db()
    assert api.status == ApiStatus.DRAFT


def test_a_refused_move_mails_nobody(org, alice, reviewers, django_capture_on_commit_callbacks):
    bare = registration.api_create(actor=actor(alice), org_unit=org.team, slug="bare", name="Bare")
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ValidationError):
        review.api_submit(actor=actor(alice), api=bare)
    assert mail.outbox == []
    assert not Notification.objects.exists()


def test_a_review_request_still_unsent_when_the_review_is_done_is_withdrawn(
    api, ciso, reviewers, django_capture_on_commit_callbacks
):
    # As the catalog import does (as the operator): submit and approve in one transaction. The
    # reviewers get no request for a review that is already done.
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        review.api_submit(actor=SYSTEM, api=api)
        review.api_approve(actor=SYSTEM, api=api)
    assert not [m for m in mail.outbox if "waiting for your review" in m.subject]
    request = Notification.objects.get(kind=SUBMITTED)
    assert request.state == Notification.State.SKIPPED
    assert request.last_error == "Reviewed before the review request went out."
