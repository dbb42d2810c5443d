"""The REST writes of /api/v1/testing/: run now (202, throttled), a plan's PUT, its identities (PUT,
DELETE; the secret never answered back), an API's case documents (PUT ``{"source": …}``, DELETE) and
a finding's triage moves (409 when its status refuses the move). Same services as the pages, the one
error shape, nothing half-saved on a refusal."""

# ruff: noqa: F811 - the fixtures imported from views_fixtures are the tests' parameters

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from inventory.api import ExpensiveThrottle
from portal.audit import Actor
from portal.models import AuditEvent, Role
from testing.models import Finding, FindingStatus, FunctionalCase, PlanIdentity, RunTrigger, TestPlan, TestRun
from testing.services.identities import identity_set
from tests.factories import ApiTokenFactory
from tests.testing.views_fixtures import Tested, tested, view_checks  # noqa: F401 - fixtures

BASE = "/api/v1/testing"
SECRET = "s3cr3t-token-value-xyz"
CASES = """name: items answer
steps:
  - name: list
    request: {method: GET, path: /items}
    expect: {status: 200}
"""


def rest(user) -> Client:  # noqa: ANN001
    token = ApiTokenFactory(user=user, name="ci", second_factor=True, actor=Actor(user=user))
    return Client(headers={"Authorization": f"Bearer {token.secret}"})


@pytest.fixture
def sec(org, make_member):
    return make_member(Role.SECURITY_ENGINEER, org.team, "sec")


def send(client: Client, method: str, path: str, body=None):  # noqa: ANN001, ANN201
    return getattr(client, method)(BASE + path, body or {}, content_type="application/json")


def fields(response) -> dict:  # noqa: ANN001
    error = response.json()["error"]
    return error.get("fields", {})


# --- Run now --------------------------------------------------------------------------------------------


def test_it_runs_a_plan_now_and_answers_202_with_the_runs_url(tested: Tested, alice):
    response = send(rest(alice), "post", f"/plans/{tested.plan.pk}/runs/", {"checks": ["view_auth"]})
    assert response.status_code == 202
    run = TestRun.objects.get(trigger=RunTrigger.API)
    body = response.json()
    assert body["id"] == run.pk and body["status"] == "queued"
    assert body["url"].endswith(f"{BASE}/runs/{run.pk}/") and response["Location"] == body["url"]
    assert run.checks == ["view_auth"] and run.base_url == "https://pay.example.com"
    assert rest(alice).get(body["url"]).json()["id"] == run.pk


def test_the_security_team_may_test_another_deployment(tested: Tested, alice, sec):
    body = {"base_url": "https://pr-7.example.com/"}
    # A developer may run the plan, but not aim the scanner at a server nobody registered.
    before = TestRun.objects.count()
    refused = send(rest(alice), "post", f"/plans/{tested.plan.pk}/runs/", body)
    assert refused.status_code == 403 and TestRun.objects.count() == before
    response = send(rest(sec), "post", f"/plans/{tested.plan.pk}/runs/", body)
    assert response.status_code == 202
    assert TestRun.objects.get(trigger=RunTrigger.API).base_url == "https://pr-7.example.com"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"base_url": "javascript:alert(1)"}, "base_url"),
        ({"base_url": "https://pay.example.com/?token=1"}, "base_url"),
        ({"base_url": 7}, "base_url"),
        ({"checks": ["tls"]}, "checks"),  # registered, but not one of this plan's
        ({"checks": "view_auth"}, "checks"),
        ({"checks": ["Not A Key"]}, "checks"),
    ],
)
def test_a_bad_run_request_is_a_400_and_creates_nothing(tested: Tested, alice, body, field):
    response = send(rest(alice), "post", f"/plans/{tested.plan.pk}/runs/", body)
    assert response.status_code == 400 and field in fields(response)
    assert response.json()["error"]["code"] == "invalid"
    assert not TestRun.objects.filter(trigger=RunTrigger.API).exists()


def test_running_needs_the_run_capability(tested: Tested, bob, charlie):
    assert send(rest(bob), "post", f"/plans/{tested.plan.pk}/runs/").status_code == 403
    assert send(rest(charlie), "post", f"/plans/{tested.plan.pk}/runs/").status_code == 404
    assert send(Client(), "post", f"/plans/{tested.plan.pk}/runs/").status_code == 401
    assert send(rest(charlie), "post", "/plans/999999/runs/").status_code == 404
    assert not TestRun.objects.filter(trigger=RunTrigger.API).exists()


def test_running_is_throttled_as_an_expensive_action(tested: Tested, alice, monkeypatch):
    # DRF's throttles read their rates once, at import: the table itself is patched.
    monkeypatch.setitem(ExpensiveThrottle.THROTTLE_RATES, "expensive", "2/min")
    client = rest(alice)
    codes = [send(client, "post", f"/plans/{tested.plan.pk}/runs/").status_code for _ in range(3)]
    assert codes == [202, 202, 429]
    assert TestRun.objects.filter(trigger=RunTrigger.API).count() == 2


# --- Plans ----------------------------------------------------------------------------------------------

PLAN = {
    "checks": ["view_auth"],
    "schedule_kind": "cron",
    "cron": "30 2 * * *",
    "timezone": "Europe/Berlin",
    "latency_tolerance": 1.5,
    "enabled": False,
}


def test_it_replaces_a_plans_settings(tested: Tested, sec):
    response = send(rest(sec), "put", f"/plans/{tested.plan.pk}/", PLAN)
    assert response.status_code == 200
    body = response.json()
    assert body["checks"] == ["view_auth"] and body["schedule"] == "cron “30 2 * * *” (Europe/Berlin)"
    assert (
        body["enabled"] is False
        and body["intrusive_allowed"] is False
        and body["latency_tolerance"] == "1.50"
        and body["requests_per_second"] is None
    )
    assert AuditEvent.objects.filter(action="testing.plan_save").count() == 1
    response = send(rest(sec), "put", f"/plans/{tested.plan.pk}/", {**PLAN, "requests_per_second": 40})
    assert response.json()["requests_per_second"] == 40


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"cron": "0 25 * * *"}, "cron"),
        ({"timezone": "Nowhere/Else"}, "timezone"),
        ({"checks": ["view_burst"]}, "checks"),  # intrusive, not allowed
        ({"checks": []}, "checks"),
        ({"schedule_kind": "interval", "interval_minutes": "60"}, "interval_minutes"),  # a string
        ({"latency_tolerance": 11}, "latency_tolerance"),
        ({"enabled": "yes"}, "enabled"),
        ({"requests_per_second": 101}, "requests_per_second"),
        ({"requests_per_second": "9"}, "requests_per_second"),
    ],
)
def test_a_bad_plan_is_a_400_on_its_field_and_changes_nothing(tested: Tested, sec, changes, field):
    before = TestPlan.objects.values().get(pk=tested.plan.pk)
    response = send(rest(sec), "put", f"/plans/{tested.plan.pk}/", {**PLAN, **changes})
    assert response.status_code == 400 and field in fields(response), response.json()
    assert TestPlan.objects.values().get(pk=tested.plan.pk) == before


def test_changing_a_plan_needs_the_manage_capability(tested: Tested, alice, charlie, bob):
    assert send(rest(alice), "put", f"/plans/{tested.plan.pk}/", PLAN).status_code == 403
    assert send(rest(bob), "put", f"/plans/{tested.plan.pk}/", PLAN).status_code == 403
    assert send(rest(charlie), "put", f"/plans/{tested.plan.pk}/", PLAN).status_code == 404
    assert send(Client(), "put", f"/plans/{tested.plan.pk}/", PLAN).status_code == 401
    assert not AuditEvent.objects.filter(action="testing.plan_save").exists()


# --- Identities -----------------------------------------------------------------------------------------


def test_it_sets_an_identity_and_never_answers_its_secret(tested: Tested, sec):
    client = rest(sec)
    body = {"kind": "basic", "secret": {"username": "scanner-a", "password": SECRET}, "object_ids": ["42"]}
    response = send(client, "put", f"/plans/{tested.plan.pk}/identities/A/", body)
    assert response.status_code == 200
    assert response.json() == {
        "name": "A",
        "kind": "basic",
        "hint": "HTTP basic · scanner-a",
        "rotated_at": response.json()["rotated_at"],
    }
    plan = client.get(f"{BASE}/plans/{tested.plan.pk}/")
    for answer in (response, plan):
        assert SECRET not in answer.content.decode()
    identity = PlanIdentity.objects.get()
    assert identity.object_ids == ["42"] and SECRET.encode() not in bytes(identity.secret)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"kind": "bearer", "secret": {}}, "secret"),
        ({"kind": "bearer", "secret": {"token": "a\nb"}}, "secret"),
        ({"kind": "bearer", "secret": {"token": "t", "password": "x"}}, "secret"),
        ({"kind": "kerberos", "secret": {"token": "t"}}, "kind"),
        ({"kind": "bearer", "secret": "token"}, "secret"),
        ({"kind": "bearer", "secret": {"token": "t"}, "object_ids": [1]}, "object_ids"),
    ],
)
def test_a_bad_identity_is_a_400_that_saves_nothing(tested: Tested, sec, body, field):
    response = send(rest(sec), "put", f"/plans/{tested.plan.pk}/identities/A/", body)
    assert response.status_code == 400 and field in fields(response), response.json()
    assert "a\nb" not in response.content.decode()
    assert not PlanIdentity.objects.exists()


def test_it_refuses_a_bad_identity_name(tested: Tested, sec):
    long_name = "A" * 31
    response = send(
        rest(sec),
        "put",
        f"/plans/{tested.plan.pk}/identities/{long_name}/",
        {"kind": "bearer", "secret": {"token": "t"}},
    )
    assert response.status_code == 400 and "name" in fields(response)


def test_it_deletes_an_identity(tested: Tested, sec):
    identity_set(actor=Actor(user=sec), plan=tested.plan, name="A", kind="bearer", secret={"token": SECRET})
    client = rest(sec)
    assert send(client, "delete", f"/plans/{tested.plan.pk}/identities/A/").status_code == 204
    assert not PlanIdentity.objects.exists()
    assert send(client, "delete", f"/plans/{tested.plan.pk}/identities/A/").status_code == 404


def test_identities_need_the_manage_capability(tested: Tested, sec, alice, charlie):
    identity_set(actor=Actor(user=sec), plan=tested.plan, name="A", kind="bearer", secret={"token": SECRET})
    body = {"kind": "bearer", "secret": {"token": "other"}}
    assert send(rest(alice), "put", f"/plans/{tested.plan.pk}/identities/A/", body).status_code == 403
    assert send(rest(alice), "delete", f"/plans/{tested.plan.pk}/identities/A/").status_code == 403
    assert send(rest(charlie), "delete", f"/plans/{tested.plan.pk}/identities/A/").status_code == 404
    assert send(Client(), "delete", f"/plans/{tested.plan.pk}/identities/A/").status_code == 401
    assert PlanIdentity.objects.get().hint == "Bearer token"


# --- Functional cases -----------------------------------------------------------------------------------


def test_it_puts_and_deletes_a_cases_document(tested: Tested, alice):
    client = rest(alice)
    response = send(client, "put", f"/apis/{tested.api.slug}/cases/smoke/", {"source": CASES})
    assert response.status_code == 200
    assert response.json() == {
        "api": "payments",
        "name": "smoke",
        "case_count": 1,
        "enabled": True,
        "updated_at": response.json()["updated_at"],
    }
    assert FunctionalCase.objects.get().source == CASES
    assert send(client, "delete", f"/apis/{tested.api.slug}/cases/smoke/").status_code == 204
    assert not FunctionalCase.objects.exists()
    assert send(client, "delete", f"/apis/{tested.api.slug}/cases/smoke/").status_code == 404


def test_a_refused_document_names_its_line(tested: Tested, alice):
    bad = CASES.replace("method: GET", "method: FLY")
    response = send(rest(alice), "put", f"/apis/{tested.api.slug}/cases/smoke/", {"source": bad})
    assert response.status_code == 400
    assert fields(response)["source"][0].startswith("Line 4: method 'FLY'")
    assert send(rest(alice), "put", f"/apis/{tested.api.slug}/cases/smoke/", {"source": 7}).status_code == 400
    assert send(rest(alice), "put", f"/apis/{tested.api.slug}/cases/smoke/", {}).status_code == 400
    assert not FunctionalCase.objects.exists()


def test_cases_need_the_run_capability(tested: Tested, bob, charlie):
    assert (
        send(rest(bob), "put", f"/apis/{tested.api.slug}/cases/smoke/", {"source": CASES}).status_code == 403
    )
    assert (
        send(rest(charlie), "put", f"/apis/{tested.api.slug}/cases/smoke/", {"source": CASES}).status_code
        == 404
    )
    assert (
        send(Client(), "put", f"/apis/{tested.api.slug}/cases/smoke/", {"source": CASES}).status_code == 401
    )
    assert not FunctionalCase.objects.exists()


# --- Triage ---------------------------------------------------------------------------------------------


def moves(tested: Tested) -> str:
    return f"/findings/{tested.finding.pk}/transitions/"


def test_it_accepts_a_risk_and_reopens_it(tested: Tested, sec):
    client = rest(sec)
    until = (timezone.localdate() + timedelta(days=90)).isoformat()
    response = send(
        client,
        "post",
        moves(tested),
        {"action": "accept_risk", "note": "Behind the VPN", "accepted_until": until},
    )
    assert response.status_code == 200
    body = response.json()
    assert (
        body["status"] == "accepted"
        and body["accepted_until"] == until
        and body["triage_note"] == "Behind the VPN"
    )
    response = send(client, "post", moves(tested), {"action": "reopen"})
    assert response.status_code == 200 and response.json()["accepted_until"] is None
    assert Finding.objects.get().status == FindingStatus.OPEN


def test_an_illegal_move_is_a_409_conflict(tested: Tested, sec):
    response = send(rest(sec), "post", moves(tested), {"action": "reopen"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert "Cannot reopen from open." in str(response.json()["error"]["fields"])


@pytest.mark.parametrize(
    "body, field",
    [
        ({"action": "accept_risk", "note": "Behind the VPN"}, "accepted_until"),
        ({"action": "accept_risk", "note": "x", "accepted_until": "2001-01-01"}, "accepted_until"),
        ({"action": "accept_risk", "accepted_until": "2099-01-01"}, "note"),
        ({"action": "mark_false_positive"}, "note"),
        ({"action": "resolve"}, "action"),  # the system's move, not offered to people
        ({"action": "mark_false_positive", "note": 5}, "note"),
    ],
)
def test_missing_or_bad_input_is_a_400(tested: Tested, sec, body, field):
    response = send(rest(sec), "post", moves(tested), body)
    assert response.status_code == 400 and field in fields(response), response.json()
    assert Finding.objects.get().status == FindingStatus.OPEN


def test_triage_needs_the_manage_capability(tested: Tested, alice, bob, charlie):
    body = {"action": "mark_false_positive", "note": "A test host"}
    assert send(rest(alice), "post", moves(tested), body).status_code == 403
    assert send(rest(bob), "post", moves(tested), body).status_code == 403
    assert send(rest(charlie), "post", moves(tested), body).status_code == 404
    assert send(Client(), "post", moves(tested), body).status_code == 401
    assert Finding.objects.get().status == FindingStatus.OPEN
    assert not AuditEvent.objects.filter(action__startswith="finding.").exists()
