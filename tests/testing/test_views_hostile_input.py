"""Query strings and ids nobody's browser sends: each page answers, never with a server error."""

from __future__ import annotations

# ruff: noqa: F811 - the fixtures imported from views_fixtures are the tests' parameters
import pytest

from tests.testing.views_fixtures import Tested, tested, view_checks  # noqa: F401 - fixtures

HUGE = "9" * 30


@pytest.mark.parametrize(
    "query",
    [
        {"before": HUGE},
        {"before": "-1"},
        {"before": "١٢"},
        {"before": "1e9"},
        {"older_than_days": HUGE},
        {"check": "x" * 5000},
        {"unit": "\x00"},
        {"severity": ["high", "low"]},
        {"owasp": "<script>"},
    ],
)
def test_the_findings_page_ignores_a_malformed_filter(tested: Tested, bob, login, query):
    response = login(bob).get("/testing/findings/", query)
    assert response.status_code == 200
    assert "<script>" not in response.content.decode().split("</nav>", 1)[1]


@pytest.mark.parametrize("before", [HUGE, "-5", "abc", "0"])
def test_the_runs_page_reads_a_bad_cursor_as_the_first_page(tested: Tested, bob, login, before):
    response = login(bob).get(f"/testing/apis/{tested.api.slug}/", {"before": before})
    assert response.status_code == 200 and f"#{tested.second.pk}<" in response.content.decode()


@pytest.mark.parametrize(
    "path",
    [
        f"/testing/runs/{HUGE}/",
        f"/testing/runs/{HUGE}/diff/1/",
        f"/testing/findings/{HUGE}/",
        f"/api/v1/testing/runs/{HUGE}/",
        f"/api/v1/testing/findings/{HUGE}/",
        f"/api/v1/testing/plans/{HUGE}/",
    ],
)
def test_an_id_out_of_range_is_not_found(tested: Tested, bob, login, path):
    assert login(bob).get(path).status_code == 404
