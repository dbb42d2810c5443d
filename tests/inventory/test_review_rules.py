"""Review rules: nobody approves their own work, and a material change to an approved API sends it
back to review (it stays in use meanwhile) while cosmetic edits do not."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from inventory.models import API_IN_USE, Api, ApiStatus
from inventory.services import registration, review, specs
from portal.audit import Actor
from portal.models import AuditEvent, Notification, Role
from tests.data import data_file
from tests.factories import SYSTEM, register_api


def actor(user) -> Actor:  # noqa: ANN001
    return Actor(user=user)


@pytest.fixture
def engineer(org, make_member):  # noqa: ANN001, ANN201
    return make_member(Role.SECURITY_ENGINEER, org.root, "sam")


def test_a_reviewer_cannot_approve_an_api_they_created_and_submitted(org, engineer, ciso):
    api = register_api(org.team, "own-work", actor=actor(engineer))
    review.api_submit(actor=actor(engineer), api=api)
    with pytest.raises(ValidationError, match="another reviewer must approve"):
        review.api_approve(actor=actor(engineer), api=api)
    assert Api.objects.get(pk=api.pk).status == ApiStatus.SUBMITTED
    review.api_approve(actor=actor(ciso), api=api)  # four eyes
    assert Api.objects.get(pk=api.pk).status == ApiStatus.APPROVED


def test_a_reviewer_cannot_approve_what_they_submitted_for_someone_else(org, alice, engineer, ciso):
    api = register_api(org.team, "theirs", actor=actor(alice))
    review.api_submit(actor=actor(engineer), api=api)
    with pytest.raises(ValidationError, match="another reviewer"):
        review.api_approve(actor=actor(engineer), api=api)


def test_the_page_says_why_approve_is_not_offered_to_the_submitter(org, engineer, login):
    api = register_api(org.team, "page", actor=actor(engineer))
    review.api_submit(actor=actor(engineer), api=api)
    body = login(engineer).get(f"/inventory/apis/{api.slug}/").content.decode()
    assert "another reviewer must approve it" in body
    response = login(engineer).post(f"/inventory/apis/{api.slug}/transition/", {"action": "approve"})
    assert response.status_code == 400


SPEC = data_file("openapi/payments.yaml")


@pytest.fixture
def approved(org, alice, ciso) -> Api:  # noqa: ANN001
    """Approved with its OpenAPI document: what the reviewer saw."""
    api = register_api(org.team, "payments", actor=actor(alice))
    specs.spec_upload(actor=actor(alice), api=api, data=SPEC)
    review.api_submit(actor=actor(alice), api=api)
    return review.api_approve(actor=actor(ciso), api=api)


@pytest.mark.parametrize(
    "change",
    [
        {"exposure": "public"},
        {"auth_schemes": ["none"]},
        {"data_classification": "restricted"},
        {"handles_personal_data": True},
    ],
)
def test_a_material_change_sends_an_approved_api_back_to_review(approved, alice, ciso, change):
    api = registration.api_update(actor=actor(alice), api=approved, **change)
    assert api.status == ApiStatus.REREVIEW
    assert api.status in API_IN_USE  # still served while it waits
    event = AuditEvent.objects.get(action="api.rereview")
    assert event.actor_id == alice.pk and list(change)[0] in event.after["note"]
    # The reviewers are told (the mail is recorded with the move, and sent once it commits).
    told = Notification.objects.filter(subject__contains="review it again")
    assert any(ciso.email in n.recipients for n in told)
    # The one who changed it cannot approve the change; another reviewer can.
    review.api_approve(actor=actor(ciso), api=api)
    assert Api.objects.get(pk=api.pk).status == ApiStatus.APPROVED


@pytest.mark.parametrize(
    "change", [{"description": "Better words"}, {"technical_contact_name": "Ann"}, {"version": "2.1"}]
)
def test_a_cosmetic_edit_keeps_the_approval(approved, alice, change):
    api = registration.api_update(actor=actor(alice), api=approved, **change)
    assert api.status == ApiStatus.APPROVED
    assert not AuditEvent.objects.filter(action="api.rereview").exists()


def test_resending_the_same_values_in_another_order_is_not_a_change(approved, alice):
    api = registration.api_update(actor=actor(alice), api=approved, auth_schemes=["oauth2"])
    assert api.status == ApiStatus.APPROVED


def test_a_spec_that_adds_operations_sends_it_back_to_review(approved, alice):
    wider = SPEC.replace(
        b"paths:\n",
        b"paths:\n  /refunds:\n    post:\n      responses:\n        '201': {description: Created}\n",
        1,
    )
    specs.spec_upload(actor=actor(alice), api=approved, data=wider)
    api = Api.objects.get(pk=approved.pk)
    assert api.status == ApiStatus.REREVIEW
    assert "1 operation added" in AuditEvent.objects.get(action="api.rereview").after["note"]


def test_a_spec_that_only_rewords_keeps_the_approval(approved, alice):
    reworded = SPEC.replace(b'version: "1.0"', b'version: "1.1"', 1)
    assert reworded != SPEC
    specs.spec_upload(actor=actor(alice), api=approved, data=reworded)
    assert Api.objects.get(pk=approved.pk).status == ApiStatus.APPROVED


def test_the_catalog_operator_may_approve_on_import(org):
    # A system actor is audited as such; four eyes is about people.
    api = register_api(org.team, "imported", actor=SYSTEM)
    review.api_submit(actor=SYSTEM, api=api)
    assert review.api_approve(actor=SYSTEM, api=api).status == ApiStatus.APPROVED


def test_the_first_spec_of_an_api_approved_without_one_sends_it_back(org, alice, ciso):
    api = register_api(org.team, "undocumented", actor=actor(alice))
    review.api_submit(actor=actor(alice), api=api)
    review.api_approve(actor=actor(ciso), api=api)
    specs.spec_upload(actor=actor(alice), api=api, data=SPEC)
    assert Api.objects.get(pk=api.pk).status == ApiStatus.REREVIEW


def test_a_new_or_changed_environment_sends_it_back(approved, alice):
    from inventory.services import environments

    environments.environment_save(actor=actor(alice), api=approved, name="dr", base_urls=["https://10.0.0.5"])
    assert Api.objects.get(pk=approved.pk).status == ApiStatus.REREVIEW


def test_a_deprecated_apis_profile_is_frozen(approved, alice):
    review.api_deprecate(actor=actor(alice), api=approved)
    with pytest.raises(ValidationError, match="cannot change"):
        registration.api_update(actor=actor(alice), api=approved, exposure="public", auth_schemes=["none"])
    api = Api.objects.get(pk=approved.pk)
    assert (api.exposure, api.auth_schemes) == ("internal", ["oauth2"])


def test_suspend_then_reinstate_does_not_approve_your_own_change(org, approved, make_member, ciso):
    engineer = make_member(Role.SECURITY_ENGINEER, org.root, "eve")
    registration.api_update(actor=actor(engineer), api=approved, exposure="public")
    review.api_suspend(actor=actor(engineer), api=approved, reason="x")
    with pytest.raises(ValidationError, match="another reviewer"):
        review.api_reinstate(actor=actor(engineer), api=approved)
    reinstated = review.api_reinstate(actor=actor(ciso), api=approved)
    assert reinstated.status == ApiStatus.APPROVED and reinstated.reviewed_by == ciso


def test_a_reviewer_who_edits_a_record_under_review_cannot_approve_it(org, alice, make_member, ciso):
    engineer = make_member(Role.SECURITY_ENGINEER, org.root, "eve")
    api = register_api(org.team, "waiting", actor=actor(alice))
    review.api_submit(actor=actor(alice), api=api)
    registration.api_update(actor=actor(engineer), api=api, auth_schemes=["none"])
    with pytest.raises(ValidationError, match="another reviewer"):
        review.api_approve(actor=actor(engineer), api=api)
    assert review.api_approve(actor=actor(ciso), api=api).status == ApiStatus.APPROVED


def test_a_change_to_a_shared_server_moves_the_revision_of_every_api_on_it(org, alice, ciso):
    """The server record is the team's, shown by every API that runs on it: changing it through
    another API changes what this API's reviewer sees, so the approval bound to before is refused."""
    from inventory.services import environments

    first = register_api(org.team, "first", actor=actor(alice))
    other = register_api(org.team, "other", actor=actor(alice))
    env_first = environments.environment_save(
        actor=actor(alice), api=first, name="production", base_urls=["https://a.example"]
    )
    env_other = environments.environment_save(
        actor=actor(alice), api=other, name="production", base_urls=["https://b.example"]
    )
    environments.environment_attach_server(
        actor=actor(alice), environment=env_first, hostname="db1", addresses=["10.0.0.5"]
    )
    review.api_submit(actor=actor(alice), api=first)
    seen = Api.objects.get(pk=first.pk).revision
    environments.environment_attach_server(
        actor=actor(alice), environment=env_other, hostname="db1", addresses=["203.0.113.9"]
    )
    assert Api.objects.get(pk=first.pk).revision > seen
    with pytest.raises(ValidationError, match="changed since you opened it"):
        review.api_approve(actor=actor(ciso), api=first, revision=seen)
    # Saving the host unchanged moves nothing.
    now = Api.objects.get(pk=first.pk).revision
    environments.environment_attach_server(
        actor=actor(alice), environment=env_other, hostname="db1", addresses=["203.0.113.9"]
    )
    assert Api.objects.get(pk=first.pk).revision == now
