"""/api/v1/testing/: plans, an API's runs, a run with its results, findings with the page's filters.
Read-only; scoped like the pages (404 outside the caller's sight), strict query, one error shape."""

# ruff: noqa: F811 - the fixtures imported from views_fixtures are the tests' parameters

from __future__ import annotations

import pytest
from django.test import Client

from portal.audit import Actor
from testing.models import PlanIdentity
from tests.factories import ApiTokenFactory, UserFactory
from tests.testing.factories import FindingFactory, TestRunFactory
from tests.testing.views_fixtures import Tested, make_tested_api, tested, view_checks  # noqa: F401 - fixtures

BASE = "/api/v1/testing"


def rest(user) -> Client:  # noqa: ANN001
    token = ApiTokenFactory(user=user, name="ci", second_factor=True, actor=Actor(user=user))
    return Client(headers={"Authorization": f"Bearer {token.secret}"})


@pytest.fixture
def nobody_rest(org) -> Client:  # noqa: ANN001
    """A signed-in caller with no role anywhere."""
    return rest(UserFactory(username="nobody"))


def test_it_lists_plans_without_secrets(org, tested: Tested, bob):
    PlanIdentity.objects.create(
        plan=tested.plan, name="A", kind="bearer", secret=b"s3cr3t-identity", hint="svc-a"
    )
    make_tested_api(org.sibling, slug="disputes")
    response = rest(bob).get(f"{BASE}/plans/")
    assert response.status_code == 200
    plans = response.json()["results"]
    assert [p["api"] for p in plans] == ["payments"]
    plan = plans[0]
    assert plan["environment"] == "production" and plan["schedule"] == "every day"
    assert plan["checks"] == ["view_auth", "view_burst"]
    assert plan["identities"] == [
        {"name": "A", "kind": "bearer", "hint": "svc-a", "rotated_at": plan["identities"][0]["rotated_at"]}
    ]
    assert "s3cr3t" not in response.content.decode() and "secret" not in response.content.decode()
    assert rest(bob).get(f"{BASE}/plans/", {"api": "disputes"}).json()["results"] == []
    assert rest(bob).get(f"{BASE}/plans/{tested.plan.pk}/").json()["id"] == tested.plan.pk


def test_it_pages_an_apis_runs_by_cursor(tested: Tested, bob, django_assert_max_num_queries):
    client = rest(bob)
    client.get(f"{BASE}/apis/payments/runs/")
    for _ in range(5):
        TestRunFactory(plan=tested.plan)
    with django_assert_max_num_queries(6):
        page = client.get(f"{BASE}/apis/payments/runs/", {"page_size": 3}).json()
    assert len(page["results"]) == 3 and page["next"]
    ids = [r["id"] for r in page["results"]]
    assert ids == sorted(ids, reverse=True)
    rest_page = client.get(page["next"]).json()
    assert len(rest_page["results"]) == 3 and not set(ids) & {r["id"] for r in rest_page["results"]}
    run = page["results"][0]
    assert run["api"] == "payments" and run["environment"] == "production" and "results" not in run


def test_it_shows_a_run_with_its_results(tested: Tested, bob):
    body = rest(bob).get(f"{BASE}/runs/{tested.second.pk}/").json()
    assert body["unauthenticated"] is True and body["authenticated_requests"] == 5
    (result,) = body["results"]
    assert result["check_key"] == "view_auth" and result["outcome"] == "fail"
    assert [p["operation"] for p in result["problems"]] == ["GET /items/{id}", "DELETE /items/{id}"]
    evidence = result["problems"][0]["evidence"][0]
    assert evidence["status"] == "200" and evidence["request_headers"] == [["Authorization", "[redacted]"]]
    first = rest(bob).get(f"{BASE}/runs/{tested.first.pk}/").json()
    assert first["skipped_checks"] == {"view_burst": "intrusive: production needs the owners' opt-in"}


def test_it_lists_findings_with_the_pages_filters(org, tested: Tested, bob, make_member):
    FindingFactory(plan=tested.plan, title="Medium one", severity="medium", status="resolved")
    make_tested_api(org.sibling, slug="disputes")
    client = rest(bob)
    # No default status in REST: every visible finding.
    assert {f["title"] for f in client.get(f"{BASE}/findings/").json()["results"]} == {
        "Anonymous read of items on payments",
        "Medium one",
    }
    assert [
        f["title"] for f in client.get(f"{BASE}/findings/", {"severity": "medium"}).json()["results"]
    ] == ["Medium one"]
    assert (
        client.get(f"{BASE}/findings/", {"status": "open", "check": "view_auth"}).json()["results"][0]["api"]
        == "payments"
    )
    assert client.get(f"{BASE}/findings/", {"unit": org.sibling.slug}).json()["results"] == []
    detail = client.get(f"{BASE}/findings/{tested.finding.pk}/").json()
    assert detail["evidence"][0]["response_body"].startswith("<script>") and detail["times_seen"] == 2


def test_it_reads_the_query_strictly(tested: Tested, bob):
    client = rest(bob)
    for query in (
        {"severity": "huge"},
        {"older_than_days": "0"},
        {"check": "Bad Key"},
        {"owasp": "API11:2023"},
    ):
        response = client.get(f"{BASE}/findings/", query)
        assert response.status_code == 400, query
        assert set(response.json()["error"]) >= {"code", "message", "request_id", "fields"}
    assert client.get(f"{BASE}/findings/?severity=high&severity=low").status_code == 400
    assert client.get(f"{BASE}/findings/", {"page_size": "201"}).status_code == 400


def test_it_answers_404_outside_the_callers_sight(org, tested: Tested, charlie, nobody_rest):
    client = rest(charlie)
    for path in (
        f"/plans/{tested.plan.pk}/",
        "/apis/payments/runs/",
        f"/runs/{tested.first.pk}/",
        f"/findings/{tested.finding.pk}/",
    ):
        response = client.get(BASE + path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"
        assert nobody_rest.get(BASE + path).status_code == 404, path
    assert nobody_rest.get(f"{BASE}/findings/").status_code == 403
    assert Client().get(f"{BASE}/findings/").status_code == 401


def test_it_answers_405_to_methods_it_does_not_take(tested: Tested, ciso):
    client = rest(ciso)
    assert client.post(f"{BASE}/findings/", {}, content_type="application/json").status_code == 405
    assert (
        client.patch(f"{BASE}/plans/{tested.plan.pk}/", {}, content_type="application/json").status_code
        == 405
    )
