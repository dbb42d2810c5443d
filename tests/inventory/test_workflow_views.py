"""The review workflow's buttons: submit, confirm, approve, request changes."""

from __future__ import annotations

import re

from inventory.models import ApiStatus
from inventory.services import review
from portal.audit import Actor
from tests.factories import SYSTEM
from tests.inventory.pages import url


def test_submit_says_what_is_missing_and_is_refused(api, alice, login):
    client = login(alice)
    body = client.get(url("detail", api.slug)).content.decode()
    assert 'type="submit" disabled' in body and "before submitting" in body
    response = client.post(url("transition", api.slug), {"action": "submit"})
    assert response.status_code == 400
    assert "a technical contact" in response.content.decode()
    api.refresh_from_db()
    assert api.status == ApiStatus.DRAFT


def test_confirm_is_offered_only_on_a_record_in_use(ready, alice, ciso, login):
    client = login(alice)
    assert "Confirm still accurate" not in client.get(url("detail", ready.slug)).content.decode()
    assert client.post(url("confirm", ready.slug)).status_code == 400
    review.api_submit(actor=SYSTEM, api=ready)
    review.api_approve(actor=Actor(user=ciso), api=ready)
    assert "Confirm still accurate" in client.get(url("detail", ready.slug)).content.decode()
    assert client.post(url("confirm", ready.slug)).status_code == 302


def test_each_move_shows_its_own_input(ready, ciso, login):
    review.api_submit(actor=SYSTEM, api=ready)
    body = login(ciso).get(url("detail", ready.slug)).content.decode()
    approve = body[body.index('value="approve"') : body.index(">Approve<")]
    request_changes = body[body.index('value="request_changes"') : body.index(">Request changes<")]
    assert "Comment" in approve and "required" not in approve
    assert "What must change" in request_changes and "required" in request_changes
    assert "Reason" not in body  # suspend is not possible from submitted


def test_it_refuses_approval_by_the_owner(ready, alice, login):
    review.api_submit(actor=SYSTEM, api=ready)
    response = login(alice).post(url("transition", ready.slug), {"action": "approve"})
    assert response.status_code == 403
    ready.refresh_from_db()
    assert ready.status == ApiStatus.SUBMITTED


def test_it_reports_an_illegal_transition(ready, alice, login):
    response = login(alice).post(url("transition", ready.slug), {"action": "retire"})
    assert response.status_code == 400
    assert "Cannot retire from draft." in response.content.decode()


def test_it_needs_a_comment_to_request_changes(ready, ciso, login):
    review.api_submit(actor=SYSTEM, api=ready)
    client = login(ciso)
    response = client.post(url("transition", ready.slug), {"action": "request_changes", "comment": ""})
    assert response.status_code == 400
    assert "Say what must change" in response.content.decode()
    response = client.post(
        url("transition", ready.slug), {"action": "request_changes", "comment": "Add a spec"}
    )
    assert response.status_code == 302
    ready.refresh_from_db()
    assert ready.status == ApiStatus.CHANGES_REQUESTED
    assert "Add a spec" in client.get(url("detail", ready.slug)).content.decode()


def test_it_rejects_an_unknown_action(api, alice, login):
    assert login(alice).post(url("transition", api.slug), {"action": "explode"}).status_code == 400


def test_approval_is_bound_to_the_revision_the_reviewer_saw(ready, alice, ciso, login):
    """The approve button carries the page's revision. A change made after the reviewer opened
    the page (here, by the developer) makes that approval fail: the reviewer must look again."""
    from inventory.services import registration

    review.api_submit(actor=Actor(user=alice), api=ready)
    reviewer = login(ciso)
    page = reviewer.get(url("detail", ready.slug)).content.decode()
    shown = re.search(r'name="revision" value="(\d+)"', page)
    assert shown
    registration.api_update(actor=Actor(user=alice), api=ready, description="Changed meanwhile")
    response = reviewer.post(url("transition", ready.slug), {"action": "approve", "revision": shown.group(1)})
    assert response.status_code == 400
    assert "changed since you opened it" in response.content.decode()
    ready.refresh_from_db()
    assert ready.status == ApiStatus.SUBMITTED
    # Without any revision (a hand-made form), the move is refused as well.
    response = reviewer.post(url("transition", ready.slug), {"action": "approve"})
    assert response.status_code == 400 and "which revision you reviewed" in response.content.decode()
    fresh = reviewer.get(url("detail", ready.slug)).content.decode()
    again = re.search(r'name="revision" value="(\d+)"', fresh)
    assert again and again.group(1) != shown.group(1)
    response = reviewer.post(url("transition", ready.slug), {"action": "approve", "revision": again.group(1)})
    assert response.status_code == 302
    ready.refresh_from_db()
    assert ready.status == ApiStatus.APPROVED
