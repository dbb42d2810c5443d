"""/testing/runs/<id>/ and /testing/runs/<id>/diff/<other>/: one run's health and results, and what
changed between two runs of a plan."""

# ruff: noqa: F811 - the fixtures imported from views_fixtures are the tests' parameters

from __future__ import annotations

import re

from testing.models import CheckOutcome
from tests.testing.factories import CheckResultFactory, TestRunFactory
from tests.testing.views_fixtures import (  # noqa: F401 - fixtures
    Tested,
    make_tested_api,
    problem,
    tested,
    view_checks,
)


def test_it_shows_the_runs_health_and_results(tested: Tested, bob, login):
    body = login(bob).get(f"/testing/runs/{tested.first.pk}/").content.decode()
    health = re.search(r'<dl class="row small" id="scan-health">(.*?)</dl>', body, re.S).group(1)
    assert (
        "3 of 4" in health and "6 of 6 authenticated requests" in health and "9 of a budget of 10" in health
    )
    assert "view_burst</code>: intrusive: production needs the owners&#x27; opt-in" in body
    assert "unauthenticated-warning" not in body
    assert (
        "Protected operations refuse anonymous callers" in body and "API2:2023 Broken Authentication" in body
    )
    assert "2 operations answered without credentials" in body
    assert body.count('class="problem ') == 2 and "GET /orders" in body


def test_it_renders_evidence_as_escaped_text(tested: Tested, bob, login):
    body = login(bob).get(f"/testing/runs/{tested.first.pk}/").content.decode()
    assert "<script>alert(" not in body
    assert "&lt;script&gt;alert(&#x27;xss&#x27;)&lt;/script&gt; card 4111" in body
    assert "Authorization: [redacted]" in body


def test_it_warns_loudly_when_no_answer_was_authenticated(tested: Tested, bob, login):
    body = login(bob).get(f"/testing/runs/{tested.second.pk}/").content.decode()
    assert 'id="unauthenticated-warning"' in body and "This scan ran unauthenticated." in body
    assert "0 of 5 authenticated requests" in body


def test_it_warns_when_nothing_carried_credentials(tested: Tested, bob, login):
    run = TestRunFactory(plan=tested.plan, status="passed", requests_sent=4, authenticated_requests=0)
    body = login(bob).get(f"/testing/runs/{run.pk}/").content.decode()
    assert 'id="no-credentials-warning"' in body


def test_it_survives_garbage_in_stored_json(tested: Tested, bob, login):
    run = TestRunFactory(plan=tested.plan, skipped_checks=["not", "a", "dict"])
    CheckResultFactory(
        run=run, check_key="gone_check", problems={"x": 1}, evidence=[1, "two", {"status": {"a": 1}}]
    )
    CheckResultFactory(
        run=run, check_key="view_auth", problems=[None, {"detail": ["x"], "evidence": "no"}] + ["x"] * 500
    )
    body = login(bob).get(f"/testing/runs/{run.pk}/").content.decode()
    assert "gone_check" in body and body.count('class="problem ') == 1


def test_it_hides_another_units_run(tested: Tested, charlie, login):
    assert login(charlie).get(f"/testing/runs/{tested.first.pk}/").status_code == 404


def test_it_diffs_two_runs_by_problem_fingerprint(tested: Tested, bob, login):
    client = login(bob)
    run_page = client.get(f"/testing/runs/{tested.second.pk}/").content.decode()
    diff_url = f"/testing/runs/{tested.first.pk}/diff/{tested.second.pk}/"
    assert f'href="{diff_url}"' in run_page
    body = client.get(diff_url).content.decode()

    def section(key: str) -> str:
        return re.search(rf'id="diff-{key}">.*?(?=<h2|{{% endblock|</main>)', body, re.S).group(0)

    assert "DELETE /items/{id}" in section("new") and "(1)" in section("new")
    assert "GET /orders" in section("fixed") and "(1)" in section("fixed")
    assert "GET /items/{id}" in section("still_failing")
    assert "(0)" in section("not_rechecked")
    # The order of the ids does not matter: older to newer either way.
    assert (
        client.get(f"/testing/runs/{tested.second.pk}/diff/{tested.first.pk}/")
        .content.decode()
        .count("DELETE /items/{id}")
        == 1
    )


def test_it_does_not_call_a_problem_fixed_when_its_check_did_not_complete(tested: Tested, bob, login):
    third = TestRunFactory(plan=tested.plan)
    CheckResultFactory(run=third, check_key="view_auth", outcome=CheckOutcome.ERROR, problems=[])
    body = login(bob).get(f"/testing/runs/{tested.second.pk}/diff/{third.pk}/").content.decode()
    assert "Fixed (0)" in body and "(the check did not complete) (2)" in body


def test_it_refuses_a_diff_across_plans_or_units(org, tested: Tested, bob, login):
    other = make_tested_api(org.team, slug="ledger")
    client = login(bob)
    assert client.get(f"/testing/runs/{tested.first.pk}/diff/{other.first.pk}/").status_code == 404
    sibling = make_tested_api(org.sibling, slug="disputes")
    assert client.get(f"/testing/runs/{sibling.first.pk}/diff/{sibling.second.pk}/").status_code == 404
    assert client.get(f"/testing/runs/{tested.first.pk}/diff/999999/").status_code == 404


def test_the_run_page_runs_the_same_queries_for_few_and_many_results(
    tested: Tested, bob, login, django_assert_max_num_queries
):
    few_run, many_run = TestRunFactory(plan=tested.plan), TestRunFactory(plan=tested.plan)
    CheckResultFactory(run=few_run, check_key="view_auth")
    for i in range(25):
        CheckResultFactory(run=many_run, check_key=f"check_{i:02d}", problems=[problem(f"GET /r/{i}")])
    client = login(bob)
    client.get(f"/testing/runs/{few_run.pk}/")
    with django_assert_max_num_queries(10) as few:
        client.get(f"/testing/runs/{few_run.pk}/")
    with django_assert_max_num_queries(len(few.captured_queries)):
        body = client.get(f"/testing/runs/{many_run.pk}/").content.decode()
    assert body.count('class="problem ') == 25
