"""/testing/apis/<slug>/: an API's plans, its pass-rate trend and its runs, keyset paged."""

# ruff: noqa: F811 - the fixtures imported from views_fixtures are the tests' parameters

from __future__ import annotations

import json
import re
from datetime import timedelta

from django.utils import timezone

from testing.models import PlanIdentity, RunStatus
from tests.testing.factories import TestRunFactory
from tests.testing.views_fixtures import Tested, tested, view_checks  # noqa: F401 - fixtures


def url(slug: str) -> str:
    return f"/testing/apis/{slug}/"


def test_it_shows_each_plan_in_words(tested: Tested, bob, login):
    PlanIdentity.objects.create(
        plan=tested.plan, name="A", kind="bearer", secret=b"s3cr3t-identity", hint="svc-a"
    )
    body = login(bob).get(url(tested.api.slug)).content.decode()
    assert "production" in body and "every day" in body
    assert (
        "Protected operations refuse anonymous callers" in body and "API2:2023 Broken Authentication" in body
    )
    # Production without the owners' opt-in: the intrusive check is listed as not running.
    assert "have not opted in" in body
    assert re.search(r"A burst is throttled.*?no: intrusive: skipped", body, re.S)
    # The identity by name, kind and hint; never its secret.
    assert "A — Bearer token (svc-a)" in body and "s3cr3t" not in body


def test_it_aggregates_the_pass_rate_per_day_for_the_chart(tested: Tested, bob, login):
    TestRunFactory(plan=tested.plan, status=RunStatus.PASSED, created_at=tested.second.created_at)
    TestRunFactory(plan=tested.plan, status=RunStatus.SKIPPED, created_at=tested.second.created_at)
    body = login(bob).get(url(tested.api.slug)).content.decode()
    data = json.loads(
        re.search(r'<script id="pass-rate-data" type="application/json">(.*?)</script>', body).group(1)
    )
    assert len(data["labels"]) == 30
    today = timezone.now().date().isoformat()
    i = data["labels"].index(today)
    # Today: one failed, one passed (the skipped run tested nothing). Two days ago: one failed.
    assert (data["runs"][i], data["passed"][i], data["rate"][i]) == (2, 1, 50.0)
    j = data["labels"].index((timezone.now() - timedelta(days=2)).date().isoformat())
    assert (data["runs"][j], data["rate"][j]) == (1, 0.0)
    assert data["rate"][0] is None  # no run that day: a gap, not a zero
    assert re.search(r'<script src="[^"]*vendor/chart\.umd\.min\.js" defer>', body)
    assert re.search(r'<script src="[^"]*testing/pass_rate\.js" defer>', body)


def test_it_pages_the_runs_by_keyset(tested: Tested, bob, login, django_assert_max_num_queries):
    for _ in range(30):
        TestRunFactory(plan=tested.plan)
    client = login(bob)
    first = client.get(url(tested.api.slug)).content.decode()
    shown = re.findall(r'href="/testing/runs/(\d+)/">#', first)
    assert len(shown) == 25
    older = re.search(r'href="\?(before=\d+)"', first).group(1)
    assert older == f"before={shown[-1]}"
    swap = client.get(f"{url(tested.api.slug)}?{older}", HTTP_HX_REQUEST="true").content.decode()
    rest = re.findall(r'href="/testing/runs/(\d+)/">#', swap)
    assert len(rest) == 7 and "Older runs" not in swap and "<html" not in swap
    assert str(tested.first.pk) in rest and not set(rest) & set(shown)


def test_it_runs_the_same_queries_for_few_and_many_runs(
    tested: Tested, bob, login, django_assert_max_num_queries
):
    client = login(bob)
    client.get(url(tested.api.slug))
    with django_assert_max_num_queries(12) as few:
        client.get(url(tested.api.slug))
    for _ in range(40):
        TestRunFactory(plan=tested.plan)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(url(tested.api.slug)).status_code == 200


def test_it_hides_another_units_api(tested: Tested, charlie, login):
    assert login(charlie).get(url(tested.api.slug)).status_code == 404


def test_it_links_from_the_api_page(tested: Tested, bob, login):
    body = login(bob).get(f"/inventory/apis/{tested.api.slug}/").content.decode()
    assert f'href="/testing/apis/{tested.api.slug}/" id="testing-link"' in body
