"""Registration, review workflow, completeness, windows and consumers, through the services."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from inventory import selectors
from inventory.models import Api, ApiDependency, ApiStatus, AvailabilityWindow, Lifecycle
from inventory.selectors import blast_radius
from inventory.services import consumers, environments, registration, review, windows
from inventory.services.staleness import STALE, stale_apis_notify
from portal.audit import Actor
from portal.models import AuditEvent, Notification, Role
from portal.workflow import IllegalTransition
from tests.conftest import Org
from tests.factories import (
    SYSTEM,
    ApiDependencyFactory,
    ApiFactory,
    ConsumerServiceFactory,
    EnvironmentFactory,
    register_api,
)


def actor(user: User) -> Actor:
    return Actor(user=user)


@pytest.fixture
def api(org: Org, alice: User) -> Api:
    """A draft with everything submission requires."""
    return ApiFactory(
        org_unit=org.team, slug="payments", name="Payments API", submittable=True, actor=actor(alice)
    )


@pytest.fixture
def bare(org: Org, alice: User) -> Api:
    """A draft with only a name."""
    return ApiFactory(org_unit=org.team, slug="bare", name="Bare API", actor=actor(alice))


def test_submitting_needs_the_required_pieces(bare, alice):
    with pytest.raises(ValidationError) as excinfo:
        review.api_submit(actor=actor(alice), api=bare)
    message = " ".join(excinfo.value.messages)
    for label in ("a description", "a technical contact", "an environment with a base URL"):
        assert label in message
    assert "an OpenAPI document" not in message  # recommended, not required
    bare.refresh_from_db()
    assert bare.status == ApiStatus.DRAFT
    assert not AuditEvent.objects.filter(action="api.submit").exists()


def test_a_draft_has_nothing_to_confirm(bare, alice):
    with pytest.raises(ValidationError):
        registration.api_confirm(actor=actor(alice), api=bare)


def test_it_creates_a_draft_with_an_audit_record(api, alice):
    assert api.status == ApiStatus.DRAFT
    event = AuditEvent.objects.filter(action="api.create").get()
    assert event.actor_label == alice.username
    assert event.org_path == api.org_unit.path


def test_it_refuses_a_duplicate_slug(api, org, alice):
    with pytest.raises(ValidationError) as exc:
        registration.api_create(actor=actor(alice), org_unit=org.team, slug="payments", name="Again")
    assert "slug" in exc.value.message_dict


def test_it_refuses_registering_for_another_team(org, alice):
    with pytest.raises(PermissionDenied):
        registration.api_create(actor=actor(alice), org_unit=org.sibling, slug="x", name="X")


def test_a_viewer_cannot_register(org, bob):
    with pytest.raises(PermissionDenied):
        registration.api_create(actor=actor(bob), org_unit=org.team, slug="x", name="X")


def test_it_validates_choice_lists(api, alice):
    with pytest.raises(ValidationError):
        registration.api_update(actor=actor(alice), api=api, auth_schemes=["telepathy"])
    with pytest.raises(ValidationError):
        registration.api_update(actor=actor(alice), api=api, auth_schemes=["none", "oauth2"])


def test_the_review_workflow(api, alice, ciso):
    review.api_submit(actor=actor(alice), api=api)
    # A developer cannot approve their own API.
    with pytest.raises(PermissionDenied):
        review.api_approve(actor=actor(alice), api=api)
    review.api_request_changes(actor=actor(ciso), api=api, comment="Add the spec")
    api.refresh_from_db()
    assert api.status == ApiStatus.CHANGES_REQUESTED
    assert api.review_comment == "Add the spec"
    review.api_submit(actor=actor(alice), api=api)
    review.api_approve(actor=actor(ciso), api=api, comment="ok")
    api.refresh_from_db()
    assert api.status == ApiStatus.APPROVED and api.reviewed_by == ciso
    actions = list(
        AuditEvent.objects.filter(object_type="inventory.api").order_by("id").values_list("action", flat=True)
    )
    assert actions == ["api.create", "api.submit", "api.request_changes", "api.submit", "api.approve"]


def test_illegal_transitions_are_refused(api, ciso):
    with pytest.raises(IllegalTransition):
        review.api_approve(actor=actor(ciso), api=api)  # still a draft
    with pytest.raises(IllegalTransition):
        review.api_retire(actor=actor(ciso), api=api)


def test_request_changes_needs_a_comment(api, alice, ciso):
    review.api_submit(actor=actor(alice), api=api)
    with pytest.raises(ValidationError):
        review.api_request_changes(actor=actor(ciso), api=api, comment="  ")


def test_only_the_security_team_suspends(api, alice, ciso, make_member, org):
    review.api_submit(actor=actor(alice), api=api)
    review.api_approve(actor=actor(ciso), api=api)
    with pytest.raises(PermissionDenied):
        review.api_suspend(actor=actor(alice), api=api, reason="x")
    review.api_suspend(actor=actor(ciso), api=api, reason="CVE in its framework")
    api.refresh_from_db()
    assert api.status == ApiStatus.SUSPENDED
    review.api_reinstate(actor=actor(ciso), api=api)
    api.refresh_from_db()
    assert api.status == ApiStatus.APPROVED


def test_deprecate_and_retire_follow_lifecycle(api, alice, ciso):
    review.api_submit(actor=actor(alice), api=api)
    review.api_approve(actor=actor(ciso), api=api)
    review.api_deprecate(actor=actor(alice), api=api)
    review.api_retire(actor=actor(alice), api=api)
    api.refresh_from_db()
    assert (api.status, api.lifecycle) == (ApiStatus.RETIRED, Lifecycle.RETIRED)
    with pytest.raises(ValidationError):
        registration.api_update(actor=actor(alice), api=api, name="Renamed")


def test_outsiders_get_404_not_403(api, charlie):
    with pytest.raises(Http404):
        review.api_submit(actor=actor(charlie), api=api)


def test_completeness_names_what_is_missing(bare, alice):
    api = bare
    assert api.completeness == 0
    assert "an OpenAPI document" in api.missing
    registration.api_update(
        actor=actor(alice),
        api=api,
        description="Moves money",
        technical_contact_email="pay@example.com",
        auth_schemes=["oauth2"],
        protocols=["rest_https"],
        availability_target="99.9",
    )
    env = environments.environment_save(
        actor=actor(alice), api=api, name="production", base_urls=["https://pay.example.com/v1"]
    )
    environments.baseline_save(
        actor=actor(alice),
        environment=env,
        p50_ms=20,
        p95_ms=80,
        p99_ms=200,
        requests_per_second="150",
        error_rate_percent="0.5",
    )
    server = environments.server_save(
        actor=actor(alice), org_unit=api.org_unit, hostname="pay-1.dc1.example.com", addresses=["10.0.0.5"]
    )
    environments.environment_set_servers(actor=actor(alice), environment=env, servers=[server])
    api.refresh_from_db()
    assert api.completeness == 80
    assert sorted(api.missing) == sorted(
        ["the packages it is built with (SBOM or lockfile)", "an OpenAPI document"]
    )


@pytest.mark.parametrize(
    "urls",
    [
        [],
        ["not a url"],
        ["ftp://x.example"],
        ["https://user:pw@x.example"],
        ["https://x.example/?q=1"],
        "https://x",
    ],
)
def test_it_rejects_bad_base_urls(api, alice, urls):
    with pytest.raises(ValidationError):
        environments.environment_save(actor=actor(alice), api=api, name="prod", base_urls=urls)


def test_it_rejects_unordered_percentiles(api, alice):
    env = EnvironmentFactory(api=api, name="prod", base_urls=["https://a.example"], actor=actor(alice))
    with pytest.raises(ValidationError):
        environments.baseline_save(
            actor=actor(alice),
            environment=env,
            p50_ms=100,
            p95_ms=50,
            p99_ms=200,
            requests_per_second=1,
            error_rate_percent=0,
        )


# --- Windows ---------------------------------------------------------------------------------------


def test_recurring_window_in_local_time_follows_dst(api, alice):
    windows.window_add(
        actor=actor(alice),
        api=api,
        kind="recurring",
        tz="Europe/Berlin",
        weekdays=[6],
        start_time=time(2),
        end_time=time(4),
        description="Sunday maintenance",
    )
    # 2026-07-05 is a Sunday; 02:30 CEST is 00:30 UTC. 2026-01-04 is a Sunday; 02:30 CET is 01:30 UTC.
    assert not selectors.is_expected_up(api, datetime(2026, 7, 5, 0, 30, tzinfo=UTC))
    assert selectors.is_expected_up(api, datetime(2026, 7, 5, 2, 30, tzinfo=UTC))
    assert not selectors.is_expected_up(api, datetime(2026, 1, 4, 1, 30, tzinfo=UTC))
    assert selectors.is_expected_up(api, datetime(2026, 1, 5, 1, 30, tzinfo=UTC))  # a Monday


def test_one_off_window_and_environment_scope(api, alice):
    prod = EnvironmentFactory(api=api, name="production", base_urls=["https://a.example"], actor=actor(alice))
    start = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)
    windows.window_add(
        actor=actor(alice),
        api=api,
        environment=prod,
        kind="one_off",
        starts_at=start,
        ends_at=start + timedelta(hours=2),
    )
    assert not selectors.is_expected_up(api, start + timedelta(minutes=30), environment=prod)
    assert selectors.is_expected_up(api, start + timedelta(minutes=30))  # API-wide: no window
    assert selectors.is_expected_up(api, start + timedelta(hours=2), environment=prod)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {
                "kind": "recurring",
                "tz": "Mars/Olympus",
                "weekdays": [1],
                "start_time": time(1),
                "end_time": time(2),
            },
            "timezone",
        ),
        (
            {"kind": "recurring", "tz": "UTC", "weekdays": [1], "start_time": time(4), "end_time": time(2)},
            "ends before",
        ),
        (
            {"kind": "recurring", "tz": "UTC", "weekdays": [], "start_time": time(1), "end_time": time(2)},
            "weekday",
        ),
        (
            {
                "kind": "one_off",
                "starts_at": datetime(2026, 1, 2, tzinfo=UTC),
                "ends_at": datetime(2026, 1, 1, tzinfo=UTC),
            },
            "ends before",
        ),
        ({"kind": "weekly"}, "Kind"),
    ],
)
def test_bad_windows_are_refused(api, alice, kwargs, message):
    with pytest.raises(ValidationError) as exc:
        windows.window_add(actor=actor(alice), api=api, **kwargs)
    assert message in str(exc.value)
    assert not AvailabilityWindow.objects.exists()


def test_overlapping_windows_are_refused(api, alice):
    windows.window_add(
        actor=actor(alice),
        api=api,
        kind="recurring",
        tz="UTC",
        weekdays=[6],
        start_time=time(2),
        end_time=time(4),
    )
    # 03:00 Europe/Berlin is 01:00 or 02:00 UTC: overlaps 02:00–04:00 UTC in summer.
    with pytest.raises(ValidationError) as exc:
        windows.window_add(
            actor=actor(alice),
            api=api,
            kind="recurring",
            tz="Europe/Berlin",
            weekdays=[6],
            start_time=time(3),
            end_time=time(5),
        )
    assert "Overlaps" in str(exc.value)
    # A one-off on a Sunday at 03:00 UTC overlaps too.
    with pytest.raises(ValidationError):
        windows.window_add(
            actor=actor(alice),
            api=api,
            kind="one_off",
            starts_at=datetime(2026, 12, 6, 3, tzinfo=UTC),
            ends_at=datetime(2026, 12, 6, 5, tzinfo=UTC),
        )
    # Back to back is fine.
    windows.window_add(
        actor=actor(alice),
        api=api,
        kind="recurring",
        tz="UTC",
        weekdays=[6],
        start_time=time(4),
        end_time=time(5),
    )


# --- Consumers and blast radius ----------------------------------------------------------------------


def test_blast_radius_is_transitive_and_survives_cycles(org, ciso):
    a = ApiFactory(org_unit=org.team, slug="a", name="A", actor=actor(ciso))
    b = ApiFactory(org_unit=org.team, slug="b", name="B", actor=actor(ciso))
    c = ApiFactory(org_unit=org.sibling, slug="c", name="C", actor=actor(ciso))
    ApiDependencyFactory(api=a, consumer_api=b, actor=actor(ciso))  # B relies on A
    ApiDependencyFactory(api=b, consumer_api=c, actor=actor(ciso))  # C relies on B
    ApiDependencyFactory(api=c, consumer_api=a, actor=actor(ciso))  # A relies on C: a cycle
    app = ConsumerServiceFactory(owner=org.team, name="Mobile app", actor=actor(ciso))
    ApiDependencyFactory(api=c, consumer_service=app, actor=actor(ciso))
    radius = blast_radius(a)
    assert [(e.name, e.depth) for e in radius] == [("B", 1), ("C", 2), ("Mobile app", 3)]


def test_an_api_cannot_consume_itself(org, ciso):
    a = ApiFactory(org_unit=org.team, slug="a", name="A", actor=actor(ciso))
    with pytest.raises(ValidationError):
        consumers.dependency_add(actor=actor(ciso), api=a, consumer_api=a)
    with pytest.raises(ValidationError):
        consumers.dependency_add(actor=actor(ciso), api=a)
    assert not ApiDependency.objects.exists()


# --- Staleness -------------------------------------------------------------------------------------------


def make_stale(api: Api, settings) -> None:  # noqa: ANN001
    Api.objects.filter(pk=api.pk).update(
        confirmed_at=timezone.now() - timedelta(days=settings.INVENTORY_STALE_DAYS + 1)
    )


@pytest.fixture
def approved(api, alice, ciso) -> Api:  # noqa: ANN001
    review.api_submit(actor=actor(alice), api=api)
    return review.api_approve(actor=actor(ciso), api=api)


def test_stale_apis_notify_owners_once(
    approved, alice, charlie, settings, django_capture_on_commit_callbacks
):
    from inventory.tasks import notify_stale_apis

    make_stale(approved, settings)
    with django_capture_on_commit_callbacks(execute=True):
        assert notify_stale_apis() == 1
        assert notify_stale_apis() == 0
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    # The developers of the unit; not a developer of another team, nor the typed contact
    # (team@example.com is no portal user's address).
    assert message.to == [alice.email]
    assert charlie.email not in message.to
    assert "Payments API" in message.subject
    assert f"/inventory/apis/{approved.slug}/" in message.body
    event = AuditEvent.objects.get(action="api.stale_notify")
    assert event.object_id == str(approved.pk)
    assert event.after == {
        "notification": Notification.objects.get(kind=STALE).pk,
        "state": "pending",
        "recipients": 1,
    }

    registration.api_confirm(actor=actor(alice), api=approved)
    approved.refresh_from_db()
    assert approved.stale_notified_at is None
    with django_capture_on_commit_callbacks(execute=True):
        assert notify_stale_apis() == 0  # confirmed: not stale
    make_stale(approved, settings)  # stale again, later: a new staleness, a new mail
    with django_capture_on_commit_callbacks(execute=True):
        assert notify_stale_apis() == 1
    assert len(mail.outbox) == 2


def test_stale_mail_reaches_owners_holding_the_role_above_the_unit(
    org, approved, make_member, settings, django_capture_on_commit_callbacks
):
    lead = make_member(Role.DEVELOPER, org.dept, "lead")
    viewer = make_member(Role.VIEWER, org.team, "viewer")
    make_stale(approved, settings)
    with django_capture_on_commit_callbacks(execute=True):
        stale_apis_notify()
    assert lead.email in mail.outbox[0].to
    assert viewer.email not in mail.outbox[0].to


def test_stale_owners_of_many_apis_are_found_in_one_query(org, alice, charlie, ciso, settings):
    apis = [
        register_api(org.team, "one", actor=actor(alice)),
        register_api(org.team, "two", actor=actor(alice)),
        register_api(org.sibling, "three", actor=actor(charlie)),
    ]
    for item in apis:
        review.api_submit(actor=SYSTEM, api=item)
        review.api_approve(actor=actor(ciso), api=item)
        make_stale(item, settings)
    with CaptureQueriesContext(connection) as queries:
        assert stale_apis_notify() == 3
    # Owners and members (for the contact check): two reads for all the APIs, not two per API.
    membership_reads = [q["sql"] for q in queries if "portal_membership" in q["sql"]]
    assert len(membership_reads) == 2
    recipients = dict(Notification.objects.filter(kind=STALE).values_list("dedupe_key", "recipients"))
    assert {key.split(":")[1]: sorted(to) for key, to in recipients.items()} == {
        str(apis[0].pk): [alice.email],
        str(apis[1].pk): [alice.email],
        str(apis[2].pk): [charlie.email],
    }


def test_stale_mail_reaches_the_typed_contact_only_when_it_is_a_member_over_the_unit(
    org, approved, make_member, settings, django_capture_on_commit_callbacks
):
    """The contact is free text: the portal mails it only when it is the address of a portal user
    placed over the API's unit (any role), never an address typed by whoever edits the record."""
    outsider = make_member(Role.VIEWER, org.sibling, "outsider")
    make_stale(approved, settings)
    Api.objects.filter(pk=approved.pk).update(technical_contact_email=outsider.email.upper())
    with django_capture_on_commit_callbacks(execute=True):
        stale_apis_notify()
    assert outsider.email not in [a.lower() for a in mail.outbox[0].to]

    ops = make_member(Role.VIEWER, org.team, "ops")
    Api.objects.filter(pk=approved.pk).update(
        technical_contact_email=ops.email.upper(), stale_notified_at=None
    )
    make_stale(approved, settings)
    Api.objects.filter(pk=approved.pk).update(confirmed_at=timezone.now() - timedelta(days=999))
    with django_capture_on_commit_callbacks(execute=True):
        assert stale_apis_notify() == 1
    assert ops.email.upper() in mail.outbox[-1].to


@pytest.mark.parametrize("meanwhile", ["claimed by another worker", "confirmed by its owners"])
def test_a_stale_api_taken_care_of_meanwhile_is_not_claimed_again(
    approved, alice, settings, monkeypatch, meanwhile
):
    """Between reading the candidates and claiming one, another process may act on it: the claim is
    a conditional UPDATE that re-checks, so nothing is sent twice or for a record no longer stale."""
    from inventory.services import staleness

    real = staleness.holders_over

    def concurrently(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        if meanwhile == "claimed by another worker":
            Api.objects.filter(pk=approved.pk).update(stale_notified_at=timezone.now())
        else:
            registration.api_confirm(actor=actor(alice), api=approved)
        return real(*args, **kwargs)

    make_stale(approved, settings)
    monkeypatch.setattr(staleness, "holders_over", concurrently)
    assert stale_apis_notify() == 0
    assert not Notification.objects.filter(kind=STALE).exists()
    assert not AuditEvent.objects.filter(action="api.stale_notify").exists()


def test_a_stale_api_with_nobody_to_tell_is_claimed_and_recorded_as_skipped(org, settings):
    lonely = register_api(org.other_team, "lonely", actor=SYSTEM)
    review.api_submit(actor=SYSTEM, api=lonely)
    review.api_approve(actor=SYSTEM, api=lonely)
    Api.objects.filter(pk=lonely.pk).update(technical_contact_email="")
    make_stale(lonely, settings)
    assert stale_apis_notify() == 1
    assert stale_apis_notify() == 0
    assert Notification.objects.get(kind=STALE).state == Notification.State.SKIPPED
    assert AuditEvent.objects.get(action="api.stale_notify").after["state"] == "skipped"
    lonely.refresh_from_db()
    assert lonely.stale_notified_at is not None


def test_system_actor_skips_user_checks(org):
    api = registration.api_create(actor=SYSTEM, org_unit=org.other_team, slug="sys", name="Sys")
    assert api.created_by is None


def test_membership_roles_used(org, make_member):
    # A developer on the department may register for its teams (role applies to the subtree).
    dev = make_member(Role.DEVELOPER, org.dept)
    registration.api_create(actor=actor(dev), org_unit=org.sibling, slug="s", name="S")
