"""/testing/plans/<id>/edit/ and the plan's identities: a plan's settings and who it calls the API as,
for the security team (testing.manage). Cron and timezone are checked by the service and refused on
their own fields; secrets are write-only (never rendered back, not even a posted one)."""

# ruff: noqa: F811 - the fixtures imported from views_fixtures are the tests' parameters

from __future__ import annotations

from decimal import Decimal

import pytest

from portal.audit import Actor
from portal.models import AuditEvent, Role
from testing.models import PlanIdentity, TestPlan
from testing.services.identities import identity_set
from tests.factories import ApiFactory, EnvironmentFactory
from tests.testing.factories import TestPlanFactory
from tests.testing.views_fixtures import Tested, tested, view_checks  # noqa: F401 - fixtures

SECRET = "s3cr3t-token-value-xyz"


@pytest.fixture
def sec(org, make_member):
    """A security engineer of the team: may manage its testing."""
    return make_member(Role.SECURITY_ENGINEER, org.team, "sec")


def edit_url(plan: TestPlan) -> str:
    return f"/testing/plans/{plan.pk}/edit/"


def plan_post(**changes) -> dict:
    data = {
        "checks": ["view_auth", "view_burst"],
        "enabled": "on",
        "schedule_kind": "cron",
        "cron": "0 3 * * 1-5",
        "timezone": "Europe/Berlin",
        "intrusive_allowed": "on",
        "production_opt_in": "on",
        "latency_tolerance": "0.25",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_it_shows_each_check_with_what_it_sends(tested: Tested, sec, login):
    body = login(sec).get(edit_url(tested.plan)).content.decode()
    assert "Protected operations refuse anonymous callers" in body and "API2:2023" in body
    assert "A burst is throttled" in body and "intrusive" in body and "one GET" in body
    assert 'name="production_opt_in"' in body  # a production environment asks for the owners' opt-in
    assert 'value="view_auth" id="check-view_auth" checked' in body


def test_it_asks_for_the_production_opt_in_only_on_production(org, sec, login):
    env = EnvironmentFactory(api=ApiFactory(org_unit=org.team, slug="staging-only"), name="staging")
    plan = TestPlanFactory(environment=env, checks=["view_auth"])
    body = login(sec).get(edit_url(plan)).content.decode()
    assert 'name="intrusive_allowed"' in body and 'name="production_opt_in"' not in body


def test_it_saves_the_plan(tested: Tested, sec, login):
    response = login(sec).post(edit_url(tested.plan), plan_post())
    assert response.status_code == 302 and response["Location"].endswith(f"#plan-{tested.plan.pk}")
    plan = TestPlan.objects.get(pk=tested.plan.pk)
    assert (plan.schedule_kind, plan.cron, plan.timezone) == ("cron", "0 3 * * 1-5", "Europe/Berlin")
    assert plan.production_opt_in and plan.latency_tolerance == Decimal("0.25")
    assert AuditEvent.objects.filter(action="testing.plan_save").count() == 1


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"cron": "61 * * * *"}, "cron"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"checks": ["no_such_check"]}, "checks"),
        ({"intrusive_allowed": None}, "checks"),  # view_burst is intrusive
        ({"schedule_kind": "interval", "interval_minutes": "2"}, "interval_minutes"),
    ],
)
def test_it_refuses_a_bad_plan_on_the_field_and_changes_nothing(tested: Tested, sec, login, changes, field):
    before = TestPlan.objects.values().get(pk=tested.plan.pk)
    response = login(sec).post(edit_url(tested.plan), plan_post(**changes))
    assert response.status_code == 400
    assert 'class="text-danger small field-error"' in response.content.decode()
    assert response.context["form"].errors[field]
    assert TestPlan.objects.values().get(pk=tested.plan.pk) == before
    assert not AuditEvent.objects.filter(action="testing.plan_save").exists()


def test_editing_a_plan_needs_the_manage_capability(tested: Tested, alice, charlie, login, client):
    assert login(alice).get(edit_url(tested.plan)).status_code == 403  # a developer runs, does not manage
    assert login(alice).post(edit_url(tested.plan), plan_post()).status_code == 403
    assert login(charlie).post(edit_url(tested.plan), plan_post()).status_code == 404
    assert client.post(edit_url(tested.plan), plan_post()).status_code == 302  # to the login page
    assert TestPlan.objects.get(pk=tested.plan.pk).schedule_kind == "interval"


# --- Identities ------------------------------------------------------------------------------------------


def identity_url(plan: TestPlan) -> str:
    return f"/testing/plans/{plan.pk}/identities/"


def test_it_adds_an_identity_and_never_shows_its_secret(tested: Tested, sec, login):
    client = login(sec)
    response = client.post(identity_url(tested.plan), {"name": "A", "kind": "bearer", "token": SECRET})
    assert response.status_code == 302
    identity = PlanIdentity.objects.get(plan=tested.plan, name="A")
    assert identity.kind == "bearer" and SECRET.encode() not in bytes(identity.secret)
    for page in (edit_url(tested.plan), f"/testing/apis/{tested.api.slug}/"):
        body = client.get(page).content.decode()
        assert "A — Bearer token" in body
        assert SECRET not in body and f'maxlength="{len(SECRET)}"' not in body


def test_it_replaces_an_identity_of_the_same_name(tested: Tested, sec, login):
    client = login(sec)
    client.post(identity_url(tested.plan), {"name": "A", "kind": "bearer", "token": SECRET})
    data = {"name": "A", "kind": "basic", "username": "scanner-a", "password": "pw-1", "object_ids": "42\n43"}
    assert client.post(identity_url(tested.plan), data).status_code == 302
    identity = PlanIdentity.objects.get(plan=tested.plan)
    assert (identity.kind, identity.hint, identity.object_ids) == (
        "basic",
        "HTTP basic · scanner-a",
        ["42", "43"],
    )


def test_a_refused_identity_saves_nothing_and_echoes_no_secret(tested: Tested, sec, login):
    body = {
        "name": "B",
        "kind": "login",
        "path": "/login",
        "login_method": "POST",
        "login_body": '{"password": "' + SECRET + '"}',
        "token_path": "",  # missing
        "password": SECRET,
    }
    response = login(sec).post(identity_url(tested.plan), body)
    assert response.status_code == 400
    page = response.content.decode()
    assert "Required for this kind of identity." in page
    assert SECRET not in page
    assert not PlanIdentity.objects.exists()


def test_the_engine_refusal_is_shown_without_the_secret(tested: Tested, sec, login):
    response = login(sec).post(
        identity_url(tested.plan), {"name": "A", "kind": "api_key", "header": "Bad Header", "value": SECRET}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "not a valid HTTP header name" in page and SECRET not in page
    assert not PlanIdentity.objects.exists()


def test_it_deletes_an_identity(tested: Tested, sec, login):
    identity_set(actor=Actor(user=sec), plan=tested.plan, name="A", kind="bearer", secret={"token": SECRET})
    client = login(sec)
    response = client.post(f"/testing/plans/{tested.plan.pk}/identities/A/delete/")
    assert response.status_code == 302 and not PlanIdentity.objects.exists()
    assert AuditEvent.objects.filter(action="testing.identity_delete").count() == 1
    assert client.post(f"/testing/plans/{tested.plan.pk}/identities/A/delete/").status_code == 404


def test_identities_need_the_manage_capability(tested: Tested, sec, alice, charlie, login):
    identity_set(actor=Actor(user=sec), plan=tested.plan, name="A", kind="bearer", secret={"token": SECRET})
    data = {"name": "B", "kind": "bearer", "token": SECRET}
    assert login(alice).post(identity_url(tested.plan), data).status_code == 403
    assert login(charlie).post(identity_url(tested.plan), data).status_code == 404
    assert login(alice).post(f"/testing/plans/{tested.plan.pk}/identities/A/delete/").status_code == 403
    assert list(PlanIdentity.objects.values_list("name", flat=True)) == ["A"]


def test_the_plan_page_reads_the_same_queries_for_few_and_many_identities(
    tested: Tested, sec, login, django_assert_max_num_queries
):
    client = login(sec)
    client.get(edit_url(tested.plan))
    with django_assert_max_num_queries(12) as few:
        client.get(edit_url(tested.plan))
    for i in range(8):
        identity_set(
            actor=Actor(user=sec), plan=tested.plan, name=f"id{i}", kind="bearer", secret={"token": "t"}
        )
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(edit_url(tested.plan)).status_code == 200


def test_the_write_pages_have_nothing_the_csp_blocks(tested: Tested, ciso, login):
    from testing.services.cases import cases_save
    from tests.portal.test_csp import inline_problems

    cases_save(
        actor=Actor(user=ciso),
        api=tested.api,
        name="smoke",
        source="name: a\nsteps:\n  - name: b\n    request: {method: GET, path: /}\n",
    )
    client = login(ciso)
    for page in (edit_url(tested.plan), f"/testing/apis/{tested.api.slug}/cases/smoke/"):
        response = client.get(page)
        assert response.status_code == 200 and inline_problems(response.content.decode()) == [], page
