"""POST /testing/plans/<id>/run/: "Run now" on the API's testing page, for whoever may run its tests
(testing.run). Throttled like uploads; a bad base URL or a check outside the plan is a 400 that
creates nothing."""

# ruff: noqa: F811 - the fixtures imported from views_fixtures are the tests' parameters

from __future__ import annotations

import pytest

from portal.models import AuditEvent
from testing.models import RunTrigger, TestRun
from tests.testing.views_fixtures import Tested, tested, view_checks  # noqa: F401 - fixtures

pytest_plugins = ["tests.testing.sent_tasks"]  # the sent_tasks fixture


def run_url(tested: Tested) -> str:
    return f"/testing/plans/{tested.plan.pk}/run/"


def field(tested: Tested, name: str) -> str:
    return f"run-{tested.plan.pk}-{name}"


def test_it_offers_run_now_to_those_who_may_run(tested: Tested, alice, bob, login):
    page = login(alice).get(f"/testing/apis/{tested.api.slug}/").content.decode()
    assert f'action="{run_url(tested)}"' in page and "Run now" in page
    assert 'value="view_burst"' in page  # a subset of the plan's checks can be chosen
    page = login(bob).get(f"/testing/apis/{tested.api.slug}/").content.decode()
    assert "Run now" not in page and run_url(tested) not in page


def test_it_creates_and_enqueues_a_manual_run(
    tested: Tested, alice, login, sent_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = login(alice).post(run_url(tested))
    run = TestRun.objects.get(trigger=RunTrigger.MANUAL)
    assert response.status_code == 302 and response["Location"] == f"/testing/runs/{run.pk}/"
    assert run.checks == ["view_auth", "view_burst"] and run.base_url == "https://pay.example.com"
    assert run.requested_by == alice
    assert sent_tasks.run_ids() == [run.pk]
    assert AuditEvent.objects.filter(action="testing.run_requested", object_id=str(run.pk)).exists()


def test_it_runs_some_checks_and_only_the_security_team_picks_another_deployment(
    tested: Tested, alice, login
):
    response = login(alice).post(run_url(tested), {field(tested, "checks"): ["view_auth"]})
    assert response.status_code == 302
    run = TestRun.objects.get(trigger=RunTrigger.MANUAL)
    assert run.checks == ["view_auth"] and run.base_url == "https://pay.example.com"
    # A developer may not aim the scanner at a server nobody registered (REST: the same service).
    before = TestRun.objects.count()
    response = login(alice).post(
        run_url(tested), {field(tested, "base_url"): "https://pay-pr-42.example.com/"}
    )
    assert response.status_code == 403 and TestRun.objects.count() == before


@pytest.mark.parametrize(
    "data, message",
    [
        ({"base_url": "ftp://pay.example.com"}, "An absolute http(s) URL"),
        ({"base_url": "https://user:pw@pay.example.com"}, "No credentials, query or fragment"),
        ({"base_url": "https://[::1"}, "An absolute http(s) URL"),
        ({"checks": ["tls"]}, "Select a valid choice"),
    ],
)
def test_it_refuses_bad_options_and_creates_nothing(tested: Tested, alice, login, data, message):
    response = login(alice).post(run_url(tested), {field(tested, k): v for k, v in data.items()})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not TestRun.objects.filter(trigger=RunTrigger.MANUAL).exists()
    assert not AuditEvent.objects.filter(action="testing.run_requested").exists()


def test_it_requires_the_run_capability(tested: Tested, bob, charlie, login, client):
    assert login(bob).post(run_url(tested)).status_code == 403  # sees the API, may not run it
    assert login(charlie).post(run_url(tested)).status_code == 404  # another team's API
    anonymous = client.post(run_url(tested))
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
    assert not TestRun.objects.filter(trigger=RunTrigger.MANUAL).exists()


def test_it_is_throttled_as_an_expensive_action(tested: Tested, alice, login, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "expensive": "2/min"},
    }
    client = login(alice)
    assert [client.post(run_url(tested)).status_code for _ in range(3)] == [302, 302, 429]
    assert TestRun.objects.filter(trigger=RunTrigger.MANUAL).count() == 2
