"""testing's URLs in the authorization matrix (see tests/access_matrix.py).

Every object an entry names lives in the unit the matrix hands over: an API of that unit with a plan
on its staging environment, runs of that plan, a finding of it. Listing markers are texts nothing
else on a page contains: the API's slug (``mx-tapi-<unit>``) for plans, the finding's title
(``mx-finding-<unit>``) for findings. Reads need ``testing.view``; run now and functional cases
``testing.run``; plan edit, identities and triage ``testing.manage``. Where one URL answers a read
and a write (GET and PUT of a plan), each has its own entry (labelled).
"""

from __future__ import annotations

from typing import Any

from inventory.models import Api
from portal.access import Cap
from portal.models import OrgUnit
from testing.models import Finding, FunctionalCase, PlanIdentity, TestPlan, TestRun
from tests.access_matrix import Entry, World, register
from tests.factories import ApiFactory, EnvironmentFactory
from tests.testing.factories import FindingFactory, TestPlanFactory, TestRunFactory

# --- Objects living in a unit ----------------------------------------------------------------------


def plan_in(world: World, unit: OrgUnit) -> TestPlan:
    api = ApiFactory(org_unit=unit, slug=f"mx-tapi-{unit.slug}", name="Matrix tested API")
    env = EnvironmentFactory(api=api, name="staging", base_urls=["https://mx-staging.example.com"])
    plan: TestPlan = TestPlanFactory(environment=env, checks=["tls"])
    return plan


def api_in(world: World, unit: OrgUnit) -> Api:
    return plan_in(world, unit).api


def run_in(world: World, unit: OrgUnit) -> TestRun:
    run: TestRun = TestRunFactory(plan=plan_in(world, unit))
    return run


def two_runs_in(world: World, unit: OrgUnit) -> TestRun:
    """The later of two runs of one plan; ``mx_earlier`` names the first (the diff's other side)."""
    earlier = run_in(world, unit)
    later: TestRun = TestRunFactory(plan=earlier.plan)
    later.mx_earlier = earlier.pk  # type: ignore[attr-defined]
    return later


def finding_in(world: World, unit: OrgUnit) -> Finding:
    finding: Finding = FindingFactory(plan=plan_in(world, unit), title=f"mx-finding-{unit.slug}")
    return finding


def finding_title(world: World, unit: OrgUnit) -> str:
    return finding_in(world, unit).title


def plan_api_slug(world: World, unit: OrgUnit) -> str:
    return plan_in(world, unit).api.slug


def identity_in(world: World, unit: OrgUnit) -> PlanIdentity:
    """Identity "A" of a plan in ``unit`` (its secret is never read by the pages)."""
    return PlanIdentity.objects.create(
        plan=plan_in(world, unit), name="A", kind="bearer", secret=b"x", hint=""
    )


CASES = "name: items answer\nsteps:\n  - name: list\n    request: {method: GET, path: /items}\n"


def case_in(world: World, unit: OrgUnit) -> FunctionalCase:
    api = api_in(world, unit)
    return FunctionalCase.objects.create(api=api, name="smoke", source=CASES, case_count=1)


# --- URL kwargs ----------------------------------------------------------------------------------------


def by_slug(api: Api) -> dict[str, Any]:
    return {"slug": api.slug}


def run_and_earlier(run: Any) -> dict[str, Any]:
    return {"pk": run.mx_earlier, "other_pk": run.pk}


def by_plan_and_name(identity: PlanIdentity) -> dict[str, Any]:
    return {"pk": identity.plan_id, "name": identity.name}


def by_api_and_name(case: FunctionalCase) -> dict[str, Any]:
    return {"slug": case.api.slug, "name": case.name}


# --- Request bodies ------------------------------------------------------------------------------------


def run_options(world: World, obj: Any) -> dict[str, Any]:
    return {}


def plan_fields(world: World, plan: TestPlan) -> dict[str, Any]:
    return {
        "checks": ["tls"],
        "schedule_kind": "interval",
        "interval_minutes": 720,
        "timezone": "UTC",
        "latency_tolerance": "0.5",
        "enabled": "on",
    }


def plan_json(world: World, plan: TestPlan) -> dict[str, Any]:
    return {"checks": ["tls"], "schedule_kind": "interval", "interval_minutes": 720, "timezone": "UTC"}


def bearer_identity(world: World, obj: Any) -> dict[str, Any]:
    return {"name": "B", "kind": "bearer", "token": "matrix-token"}


def bearer_identity_json(world: World, obj: Any) -> dict[str, Any]:
    return {"kind": "bearer", "secret": {"token": "matrix-token"}}


def cases_form(world: World, obj: Any) -> dict[str, Any]:
    return {"name": "smoke", "source": CASES}


def cases_json(world: World, obj: Any) -> dict[str, Any]:
    return {"source": CASES}


def false_positive(world: World, obj: Any) -> dict[str, Any]:
    return {"action": "mark_false_positive", "note": "Matrix: a test host"}


register(
    # HTML pages
    Entry("testing:api", Cap.TESTING_VIEW, target=api_in, url_kwargs=by_slug),
    Entry("testing:run_detail", Cap.TESTING_VIEW, target=run_in),
    Entry("testing:run_diff", Cap.TESTING_VIEW, target=two_runs_in, url_kwargs=run_and_earlier),
    Entry("testing:findings", Cap.TESTING_VIEW, listing=finding_title),
    Entry("testing:finding_detail", Cap.TESTING_VIEW, target=finding_in),
    Entry("testing:run_now", Cap.TESTING_RUN, methods=("POST",), target=plan_in, data=run_options),
    Entry("testing:plan_edit", Cap.TESTING_MANAGE, methods=("GET", "POST"), target=plan_in, data=plan_fields),
    Entry(
        "testing:identity_set", Cap.TESTING_MANAGE, methods=("POST",), target=plan_in, data=bearer_identity
    ),
    Entry(
        "testing:identity_delete",
        Cap.TESTING_MANAGE,
        methods=("POST",),
        target=identity_in,
        url_kwargs=by_plan_and_name,
    ),
    Entry(
        "testing:cases_save",
        Cap.TESTING_RUN,
        methods=("POST",),
        target=api_in,
        url_kwargs=by_slug,
        data=cases_form,
    ),
    Entry("testing:case_edit", Cap.TESTING_RUN, target=case_in, url_kwargs=by_api_and_name),
    Entry(
        "testing:case_delete", Cap.TESTING_RUN, methods=("POST",), target=case_in, url_kwargs=by_api_and_name
    ),
    Entry(
        "testing:finding_transition",
        Cap.TESTING_MANAGE,
        methods=("POST",),
        target=finding_in,
        data=false_positive,
    ),
    # REST
    Entry("testing-api:plan-list", Cap.TESTING_VIEW, listing=plan_api_slug),
    Entry("testing-api:plan-detail", Cap.TESTING_VIEW, target=plan_in),
    Entry(
        "testing-api:plan-detail",
        Cap.TESTING_MANAGE,
        methods=("PUT",),
        target=plan_in,
        data=plan_json,
        label="testing-api:plan-detail[PUT]",
    ),
    Entry("testing-api:plan-runs", Cap.TESTING_RUN, methods=("POST",), target=plan_in, data=run_options),
    Entry(
        "testing-api:plan-identity",
        Cap.TESTING_MANAGE,
        methods=("PUT",),
        target=plan_in,
        url_kwargs=lambda plan: {"pk": plan.pk, "name": "B"},
        data=bearer_identity_json,
        label="testing-api:plan-identity[PUT]",
    ),
    Entry(
        "testing-api:plan-identity",
        Cap.TESTING_MANAGE,
        methods=("DELETE",),
        target=identity_in,
        url_kwargs=by_plan_and_name,
        label="testing-api:plan-identity[DELETE]",
    ),
    Entry(
        "testing-api:api-case",
        Cap.TESTING_RUN,
        methods=("PUT", "DELETE"),
        target=case_in,
        url_kwargs=by_api_and_name,
        data=cases_json,
    ),
    Entry(
        "testing-api:finding-transitions",
        Cap.TESTING_MANAGE,
        methods=("POST",),
        target=finding_in,
        data=false_positive,
    ),
    Entry("testing-api:api-runs", Cap.TESTING_VIEW, target=api_in, url_kwargs=by_slug),
    Entry("testing-api:run-detail", Cap.TESTING_VIEW, target=run_in),
    Entry("testing-api:finding-list", Cap.TESTING_VIEW, listing=finding_title),
    Entry("testing-api:finding-detail", Cap.TESTING_VIEW, target=finding_in),
)
