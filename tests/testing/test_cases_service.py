"""cases_save: the owners' YAML validated by the cases engine (line numbers), audited without the
document, and run by the functional check with every plan of the API."""

# ruff: noqa: F811 - pytest fixtures imported from checks_for_tests are redefined as arguments
from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from portal.audit import Actor
from portal.models import AuditEvent, Role
from testing.models import CheckResult, FunctionalCase, RunTrigger
from testing.services.cases import cases_delete, cases_save
from testing.services.execution import run_execute
from testing.services.plans import plan_save
from testing.services.runs import run_create
from tests.factories import ApiFactory
from tests.testing.checks_for_tests import local_api, registered_checks  # noqa: F401 - fixtures
from tests.testing.factories import reviewed_environment

GOOD = """
name: items answer
steps:
  - name: list
    request: {method: GET, path: /items}
    expect:
      status: 200
      jsonpath: {"$.bad": []}
"""


@pytest.fixture
def api(org):
    return ApiFactory(org_unit=org.team, slug="orders", submittable=True, approved=True)


def test_owners_save_and_replace_their_cases(alice, api):
    case = cases_save(actor=Actor(user=alice), api=api, name="smoke", source=GOOD)
    assert (case.case_count, case.updated_by) == (1, alice)
    cases_save(actor=Actor(user=alice), api=api, name="smoke", source=GOOD)  # unchanged: no record
    cases_save(
        actor=Actor(user=alice),
        api=api,
        name="smoke",
        source=GOOD + GOOD.replace("name: items", "---\nname: more"),
    )
    assert FunctionalCase.objects.get().case_count == 2
    events = AuditEvent.objects.filter(action="testing.cases_save").order_by("pk")
    assert [e.after["case_count"] for e in events] == [1, 2]
    assert "jsonpath" not in str([e.after for e in events])  # the document stays out of the trail
    cases_delete(actor=Actor(user=alice), case=FunctionalCase.objects.get())
    assert not FunctionalCase.objects.exists()


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "name: x\nsteps:\n  - name: a\n    request: {method: GET, path: /a}\n    expect: {status: banana}\n",
            "Line 5",
        ),
        ("name: [unclosed\n", "Line"),
        ("", "Paste the cases"),
        ("x" * (256 * 1024 + 1), "At most 256 KB"),
    ],
)
def test_it_refuses_a_bad_document_naming_the_line(alice, api, source, message):
    with pytest.raises(ValidationError) as caught:
        cases_save(actor=Actor(user=alice), api=api, name="smoke", source=source)
    assert message in caught.value.message_dict["source"][0]
    assert not FunctionalCase.objects.exists()


def test_viewers_and_outsiders_cannot_write_cases(bob, charlie, api):
    with pytest.raises(PermissionDenied):
        cases_save(actor=Actor(user=bob), api=api, name="smoke", source=GOOD)
    with pytest.raises(Http404):
        cases_save(actor=Actor(user=charlie), api=api, name="smoke", source=GOOD)


@pytest.mark.usefixtures("registered_checks")
def test_a_run_runs_the_owners_cases(org, make_member, alice, api, local_api):
    engineer = make_member(Role.SECURITY_ENGINEER, org.root, "erin")
    env = reviewed_environment(api, name="staging", base_urls=[local_api.url])
    plan = plan_save(
        actor=Actor(user=engineer),
        api=api,
        environment=env,
        checks=["functional"],
        schedule_kind="interval",
        interval_minutes=60,
        cron="",
        timezone="UTC",
        intrusive_allowed=False,
        production_opt_in=False,
        latency_tolerance="0.5",
        enabled=True,
    )
    cases_save(actor=Actor(user=alice), api=api, name="smoke", source=GOOD)
    run, _ = run_create(actor=Actor.system("t"), plan=plan, trigger=RunTrigger.MANUAL)
    assert run_execute(run_id=run.pk).status == "passed"
    local_api.bad = [{"id": 1}]
    run, _ = run_create(actor=Actor.system("t"), plan=plan, trigger=RunTrigger.MANUAL)
    assert run_execute(run_id=run.pk).status == "failed"
    assert CheckResult.objects.get(run=run).problems[0]["detail"].startswith("case:")
