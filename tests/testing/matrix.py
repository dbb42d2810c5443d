"""testing's URLs in the authorization matrix (see tests/access_matrix.py).

Every object an entry names lives in the unit the matrix hands over: an API of that unit with a plan
on its staging environment, runs of that plan, a finding of it. Listing markers are texts nothing
else on a page contains: the API's slug (``mx-tapi-<unit>``) for plans, the finding's title
(``mx-finding-<unit>``) for findings. Everything is read-only for now, so every entry needs
``testing.view``; the writes (run now, plan edit, triage) add their entries with their services.
"""

from __future__ import annotations

from typing import Any

from inventory.models import Api
from portal.access import Cap
from portal.models import OrgUnit
from testing.models import Finding, TestPlan, TestRun
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


# --- URL kwargs ----------------------------------------------------------------------------------------


def by_slug(api: Api) -> dict[str, Any]:
    return {"slug": api.slug}


def run_and_earlier(run: Any) -> dict[str, Any]:
    return {"pk": run.mx_earlier, "other_pk": run.pk}


register(
    # HTML pages
    Entry("testing:api", Cap.TESTING_VIEW, target=api_in, url_kwargs=by_slug),
    Entry("testing:run_detail", Cap.TESTING_VIEW, target=run_in),
    Entry("testing:run_diff", Cap.TESTING_VIEW, target=two_runs_in, url_kwargs=run_and_earlier),
    Entry("testing:findings", Cap.TESTING_VIEW, listing=finding_title),
    Entry("testing:finding_detail", Cap.TESTING_VIEW, target=finding_in),
    # REST
    Entry("testing-api:plan-list", Cap.TESTING_VIEW, listing=plan_api_slug),
    Entry("testing-api:plan-detail", Cap.TESTING_VIEW, target=plan_in),
    Entry("testing-api:api-runs", Cap.TESTING_VIEW, target=api_in, url_kwargs=by_slug),
    Entry("testing-api:run-detail", Cap.TESTING_VIEW, target=run_in),
    Entry("testing-api:finding-list", Cap.TESTING_VIEW, listing=finding_title),
    Entry("testing-api:finding-detail", Cap.TESTING_VIEW, target=finding_in),
)
