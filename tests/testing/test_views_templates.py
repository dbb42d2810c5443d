"""What testing's pages carry besides their data: nothing the CSP blocks (the chart's data is a JSON
data block, never a script), the home card, the navigation entry."""

from __future__ import annotations

# ruff: noqa: F811 - the fixtures imported from views_fixtures are the tests' parameters
import re

from testing.models import FindingStatus, RunStatus
from tests.portal.test_csp import inline_problems
from tests.testing.factories import FindingFactory, TestRunFactory
from tests.testing.views_fixtures import Tested, tested, view_checks  # noqa: F401 - fixtures

JSON_DATA = re.compile(r'<script id="[a-z-]+" type="application/json">[^<]*</script>')


def test_pages_have_nothing_the_csp_blocks(tested: Tested, ciso, login):
    client = login(ciso)
    pages = [
        f"/testing/apis/{tested.api.slug}/",
        f"/testing/runs/{tested.first.pk}/",
        f"/testing/runs/{tested.second.pk}/",
        f"/testing/runs/{tested.first.pk}/diff/{tested.second.pk}/",
        "/testing/findings/",
        f"/testing/findings/{tested.finding.pk}/",
        "/",
    ]
    for page in pages:
        body = client.get(page).content.decode()
        assert inline_problems(JSON_DATA.sub("", body)) == [], page
    chart_page = client.get(pages[0]).content.decode()
    assert len(JSON_DATA.findall(chart_page)) == 1  # the chart's data, inert


def test_the_chart_data_cannot_close_its_script_tag(tested: Tested, bob, login):
    # Labels are dates and numbers, but json_script escapes what would end the tag all the same.
    body = login(bob).get(f"/testing/apis/{tested.api.slug}/").content.decode()
    block = JSON_DATA.search(body).group(0)
    assert block.count("</script>") == 1


def test_the_home_page_has_a_testing_card(tested: Tested, bob, login):
    FindingFactory(plan=tested.plan, severity="critical", title="Critical one")
    FindingFactory(plan=tested.plan, severity="low", status=FindingStatus.RESOLVED)
    tested.api.test_status = RunStatus.FAILED
    tested.api.save(update_fields=["test_status"])
    body = login(bob).get("/").content.decode()
    card = body.split('id="testing-summary"')[1]
    assert re.search(r'href="/testing/findings/">2</a>', card)  # open only: high and critical
    assert "?severity=critical" in card and "?severity=low" not in card
    assert "APIs whose last test failed: 1" in card
    assert 'href="/testing/findings/">Findings</a>' in body  # the navigation entry


def test_a_queued_run_says_it_has_no_results_yet(tested: Tested, bob, login):
    run = TestRunFactory(plan=tested.plan, status=RunStatus.QUEUED, started_at=None, finished_at=None)
    body = login(bob).get(f"/testing/runs/{run.pk}/").content.decode()
    assert "No results yet." in body and "unauthenticated-warning" not in body
