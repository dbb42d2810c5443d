"""Reads of testing, scoped to the user asking and with their joins already applied.

Every selector takes the user and answers for its own scope (``testing.view``): a plan, run or
finding outside it is an Http404, as if it did not exist. Lists are keyset-paged by id (``before``),
so page 10,000 costs what page 1 costs, and read a fixed number of queries whatever their length.
The trend chart is aggregated per day in SQL; nothing here loops over result rows in Python except
to shape a bounded handful (one run's results, the last runs of one check).

Stored JSON (a result's problems and evidence, a run's skipped checks) was written by the engine
from hostile responses: it is read through ``problems_of``/``evidence_of``, which keep only the
expected keys, as text, capped in count and length, so a malformed row renders as less, never crashes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet
from django.db.models.functions import TruncDate
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from inventory.models import Api
from portal.access import Cap, in_scope, require
from portal.models import AuditEvent, OrgUnit
from testing.engines.checks import all_checks
from testing.engines.checks.base import OWASP_TITLES, Owasp
from testing.models import (
    SEVERITY_RANK,
    CheckOutcome,
    CheckResult,
    Finding,
    FindingStatus,
    FunctionalCase,
    PlanIdentity,
    RunStatus,
    ScheduleKind,
    Severity,
    TestPlan,
    TestRun,
)

TREND_DAYS = 30
MAX_ID = 2**63 - 1  # the largest id a (big) auto field holds
# A run that was skipped (downtime) tested nothing: it is not part of the pass rate.
TREND_STATUSES = (RunStatus.PASSED, RunStatus.FAILED, RunStatus.ERROR)
CHECK_RUNS_SHOWN = 20  # the last runs of a finding's check on its plan (the finding's history)
FINDING_EVENTS_SHOWN = 50

# Bounds on what stored JSON may put on a page (each list, each text).
MAX_PROBLEMS_SHOWN = 50
MAX_EVIDENCE_SHOWN = 5
MAX_HEADERS_SHOWN = 30
MAX_SKIPPED_SHOWN = 60
TEXT_MAX = 1000
EXCERPT_MAX = 2000

# --- Checks as the UI names them ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckInfo:
    key: str
    title: str
    owasp: str
    owasp_label: str
    severity: str
    intrusive: bool
    sends: str
    known: bool = True  # False: a key stored on a plan or result that no registered check has now


def check_catalog() -> dict[str, CheckInfo]:
    """Every registered check as the pages describe it, by key."""
    return {
        key: CheckInfo(
            key=key,
            title=cls.title,
            owasp=str(cls.owasp),
            owasp_label=owasp_label(str(cls.owasp)),
            severity=str(cls.severity),
            intrusive=cls.intrusive,
            sends=cls.sends,
        )
        for key, cls in all_checks().items()
    }


def check_info(key: str, catalog: dict[str, CheckInfo] | None = None) -> CheckInfo:
    catalog = check_catalog() if catalog is None else catalog
    return catalog.get(key) or CheckInfo(
        key=key, title=key, owasp="", owasp_label="", severity="", intrusive=False, sends="", known=False
    )


def owasp_label(code: str) -> str:
    """The category with its title ("API2:2023 Broken Authentication"); an unknown code as it is."""
    try:
        return f"{code} {OWASP_TITLES[Owasp(code)]}"
    except ValueError:
        return code


OWASP_CHOICES = [(o.value, o.label) for o in Owasp]


# --- The API's testing page ---------------------------------------------------------------------------------


def api_for_testing(user: Any, slug: str) -> Api:
    """The API by slug if the user may see its testing (Http404 otherwise: existence does not leak)."""
    api: Api = get_object_or_404(
        Api.objects.visible_to(user, Cap.TESTING_VIEW).select_related("org_unit"), slug=slug
    )
    return api


def schedule_in_words(plan: TestPlan) -> str:
    if plan.schedule_kind == ScheduleKind.CRON:
        return f"cron “{plan.cron}” ({plan.timezone})"
    minutes = plan.interval_minutes
    for unit, size in (("day", 24 * 60), ("hour", 60)):
        if minutes % size == 0:
            n = minutes // size
            return f"every {unit}" if n == 1 else f"every {n} {unit}s"
    return "every minute" if minutes == 1 else f"every {minutes} minutes"


@dataclass(frozen=True)
class PlannedCheck:
    info: CheckInfo
    runs: bool
    why_not: str = ""


@dataclass(frozen=True)
class PlanView:
    plan: TestPlan
    schedule: str
    intrusive: str  # the intrusive setting, in words
    intrusive_runs: bool
    checks: list[PlannedCheck]
    identities: list[PlanIdentity]


def _intrusive_state(plan: TestPlan) -> tuple[bool, str]:
    if not plan.intrusive_allowed:
        return False, "Intrusive checks off: only non-intrusive checks run."
    if plan.environment.is_production and not plan.production_opt_in:
        return False, (
            "Intrusive checks allowed, but this is a production environment and its owners have not "
            "opted in: they are skipped."
        )
    if plan.environment.is_production:
        return True, "Intrusive checks on, production opt-in given by the owners."
    return True, "Intrusive checks on."


def plans_of(user: Any, api: Api) -> list[PlanView]:
    """Each environment's plan of ``api``: checks (with which will run), schedule in words, intrusive
    settings and identities (name, kind, hint; the secret column is never read). Two queries."""
    require(user, Cap.TESTING_VIEW, api)
    identities = PlanIdentity.objects.defer("secret").order_by("name")
    plans = (
        TestPlan.objects.filter(api=api)
        .select_related("environment", "last_run")
        .prefetch_related(Prefetch("identities", queryset=identities))
        .order_by("environment__name", "id")
    )
    catalog = check_catalog()
    out = []
    for plan in plans:
        intrusive_runs, words = _intrusive_state(plan)
        checks = []
        for key in plan.checks if isinstance(plan.checks, list) else []:
            info = check_info(str(key), catalog)
            if not info.known:
                checks.append(PlannedCheck(info, False, "no such check any more"))
            elif info.intrusive and not intrusive_runs:
                checks.append(PlannedCheck(info, False, "intrusive: skipped by this plan's settings"))
            else:
                checks.append(PlannedCheck(info, True))
        out.append(
            PlanView(
                plan=plan,
                schedule=schedule_in_words(plan),
                intrusive=words,
                intrusive_runs=intrusive_runs,
                checks=checks,
                identities=list(plan.identities.all()),
            )
        )
    return out


RUN_LIST_COLUMNS = (
    "id", "api__slug", "plan_id", "plan__environment__name", "slot", "trigger", "status", "reason",
    "created_at", "started_at", "finished_at", "checks_passed", "checks_failed", "checks_errored",
    "worst_severity", "authenticated_requests", "authenticated_responses",
)  # fmt: skip


def runs_of(
    user: Any, api: Api, *, before: int | None = None, columns: tuple[str, ...] = ()
) -> QuerySet[TestRun]:
    """The runs of ``api``, newest first, older than run ``before`` when given (keyset paging).
    ``columns`` limits what is read (``RUN_LIST_COLUMNS`` for the page's rows); all by default."""
    require(user, Cap.TESTING_VIEW, api)
    qs = TestRun.objects.filter(api=api).select_related("api", "plan__environment")
    if columns:
        qs = qs.only(*columns)
    if before is not None:
        qs = qs.filter(id__lt=before)
    return qs.order_by("-id")


@dataclass(frozen=True)
class TrendDay:
    day: date
    runs: int
    passed: int

    @property
    def rate(self) -> float | None:
        return round(100 * self.passed / self.runs, 1) if self.runs else None


def pass_rate_by_day(
    user: Any, api: Api, *, days: int = TREND_DAYS, today: date | None = None
) -> list[TrendDay]:
    """For each of the last ``days`` days (UTC), how many finished runs of ``api`` tested and how
    many passed: one aggregate query; days without a run are included with zero runs."""
    require(user, Cap.TESTING_VIEW, api)
    today = today or timezone.now().astimezone(UTC).date()
    first = today - timedelta(days=days - 1)
    since = datetime(first.year, first.month, first.day, tzinfo=UTC)
    rows = (
        TestRun.objects.filter(api=api, created_at__gte=since, status__in=TREND_STATUSES)
        .annotate(day=TruncDate("created_at", tzinfo=UTC))
        .order_by()
        .values("day")
        .annotate(runs=Count("id"), passed=Count("id", filter=Q(status=RunStatus.PASSED)))
    )
    by_day = {row["day"]: (row["runs"], row["passed"]) for row in rows}
    out = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        runs, passed = by_day.get(day, (0, 0))
        out.append(TrendDay(day, runs, passed))
    return out


def trend_chart_data(trend: Iterable[TrendDay]) -> dict[str, list[Any]]:
    """What the chart script reads (from a json_script tag): labels, pass rate (null: no run), counts."""
    trend = list(trend)
    return {
        "labels": [d.day.isoformat() for d in trend],
        "rate": [d.rate for d in trend],
        "runs": [d.runs for d in trend],
        "passed": [d.passed for d in trend],
    }


# --- One run ------------------------------------------------------------------------------------------------


def runs_visible(user: Any) -> QuerySet[TestRun]:
    return TestRun.objects.visible_to(user, Cap.TESTING_VIEW).select_related(
        "api__org_unit", "plan__environment", "requested_by"
    )


def run_detail(user: Any, pk: int) -> TestRun:
    """The run if the user may see it; Http404 otherwise."""
    run: TestRun = get_object_or_404(runs_visible(user), pk=pk)
    return run


def previous_run(user: Any, run: TestRun) -> TestRun | None:
    """The run of the same plan before ``run`` (what the page offers to diff against)."""
    require(user, Cap.TESTING_VIEW, run)
    return (
        TestRun.objects.filter(plan_id=run.plan_id, id__lt=run.pk)
        .only("id", "created_at")
        .order_by("-id")
        .first()
    )


@dataclass(frozen=True)
class EvidenceView:
    method: str
    url: str
    status: str
    error: str
    request_headers: list[tuple[str, str]]
    request_body: str
    response_headers: list[tuple[str, str]]
    response_body: str
    body_bytes: str
    elapsed_ms: str


@dataclass(frozen=True)
class ProblemView:
    detail: str
    operation: str
    message: str
    severity: str
    evidence: list[EvidenceView] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str]:
        return (self.operation, self.detail)


def _text(value: Any, limit: int = TEXT_MAX) -> str:
    if value is None or isinstance(value, dict | list):
        return ""
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _headers(raw: Any) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    items = raw.items() if isinstance(raw, dict) else raw if isinstance(raw, list) else []
    for item in items:
        if len(pairs) >= MAX_HEADERS_SHOWN:
            break
        if isinstance(item, list | tuple) and len(item) == 2:
            pairs.append((_text(item[0], 200), _text(item[1], 500)))
    return pairs


def evidence_of(raw: Any) -> list[EvidenceView]:
    """Stored evidence (``ScanResponse.evidence`` records) as text to show, capped."""
    out = []
    for item in raw[:MAX_EVIDENCE_SHOWN] if isinstance(raw, list) else []:
        if not isinstance(item, dict):
            continue
        raw_request = item.get("request")
        request: dict[str, Any] = raw_request if isinstance(raw_request, dict) else {}
        error = item.get("error")
        error_text = (
            f"{_text(error.get('kind'), 100)}: {_text(error.get('message'))}"
            if isinstance(error, dict)
            else _text(error)
        )
        out.append(
            EvidenceView(
                method=_text(item.get("method") or request.get("method"), 20),
                url=_text(item.get("url") or request.get("url"), 2048),
                status=_text(item.get("status"), 10),
                error=error_text,
                request_headers=_headers(request.get("headers")),
                request_body=_text(request.get("body_excerpt"), EXCERPT_MAX),
                response_headers=_headers(item.get("headers")),
                response_body=_text(item.get("body_excerpt"), EXCERPT_MAX),
                body_bytes=_text(item.get("body_bytes"), 20),
                elapsed_ms=_text(item.get("elapsed_ms"), 20),
            )
        )
    return out


def problems_of(raw: Any) -> list[ProblemView]:
    """A result's stored problems (detail, operation, message, severity, evidence), capped."""
    out = []
    for item in raw[:MAX_PROBLEMS_SHOWN] if isinstance(raw, list) else []:
        if not isinstance(item, dict):
            continue
        out.append(
            ProblemView(
                detail=_text(item.get("detail"), 120),
                operation=_text(item.get("operation"), 600),
                message=_text(item.get("message")),
                severity=_text(item.get("severity"), 10),
                evidence=evidence_of(item.get("evidence")),
            )
        )
    return out


@dataclass(frozen=True)
class ResultView:
    result: CheckResult
    check: CheckInfo
    problems: list[ProblemView]
    evidence: list[EvidenceView]  # evidence stored on the result itself (not per problem)


def results_of(user: Any, run: TestRun) -> list[ResultView]:
    """Each check's result in ``run``, in check order, with its problems and evidence: one query."""
    require(user, Cap.TESTING_VIEW, run)
    catalog = check_catalog()
    return [
        ResultView(
            result=r,
            check=check_info(r.check_key, catalog),
            problems=problems_of(r.problems),
            evidence=evidence_of(r.evidence),
        )
        for r in CheckResult.objects.filter(run=run).order_by("check_key", "id")
    ]


@dataclass(frozen=True)
class Health:
    """A run's scan health, with what the page must warn about."""

    operations_reached: int
    operations_total: int
    authenticated_responses: int
    authenticated_requests: int
    requests_sent: int
    request_budget: int
    skipped: list[tuple[str, str]]
    unauthenticated: bool  # credentials were sent and not one answer was authenticated
    no_credentials: bool  # nothing was sent with credentials at all
    over_budget: bool


def skipped_of(raw: Any) -> list[tuple[str, str]]:
    """A run's stored skipped checks (check key → reason) as text, capped."""
    items = list(raw.items())[:MAX_SKIPPED_SHOWN] if isinstance(raw, dict) else []
    return [(_text(k, 50), _text(v, 300)) for k, v in items]


def health_of(run: TestRun) -> Health:
    skipped = skipped_of(run.skipped_checks)
    tested = run.status in (RunStatus.PASSED, RunStatus.FAILED, RunStatus.ERROR) and run.requests_sent > 0
    return Health(
        operations_reached=run.operations_reached,
        operations_total=run.operations_total,
        authenticated_responses=run.authenticated_responses,
        authenticated_requests=run.authenticated_requests,
        requests_sent=run.requests_sent,
        request_budget=run.request_budget,
        skipped=skipped,
        unauthenticated=run.unauthenticated,
        no_credentials=tested and run.authenticated_requests == 0,
        over_budget=run.request_budget > 0 and run.requests_sent > run.request_budget,
    )


# --- Diff of two runs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DiffEntry:
    check: CheckInfo
    operation: str
    detail: str
    message: str
    severity: str


@dataclass(frozen=True)
class RunDiff:
    before: TestRun
    after: TestRun
    new: list[DiffEntry]
    fixed: list[DiffEntry]
    still_failing: list[DiffEntry]
    not_rechecked: list[DiffEntry]  # failing before, and the check did not run to completion after


def run_pair(user: Any, pk: int, other_pk: int) -> tuple[TestRun, TestRun]:
    """Two runs of the same plan the user may see, older first; Http404 if either is hidden or
    missing, or they belong to different plans (there is no diff between them)."""
    if max(pk, other_pk) > MAX_ID:  # no such row; and the database refuses to compare with it
        raise Http404
    runs = {r.pk: r for r in runs_visible(user).filter(pk__in=[pk, other_pk])}
    if pk not in runs or other_pk not in runs or runs[pk].plan_id != runs[other_pk].plan_id:
        raise Http404
    first, second = runs[pk], runs[other_pk]
    return (
        (first, second) if (first.created_at, first.pk) <= (second.created_at, second.pk) else (second, first)
    )


def run_diff(user: Any, before: TestRun, after: TestRun) -> RunDiff:
    """What changed from ``before`` to ``after`` (runs of one plan), by problem fingerprint: the plan
    fixes the API and environment, so (check, operation, detail) tells problems apart. One query."""
    require(user, Cap.TESTING_VIEW, before)
    require(user, Cap.TESTING_VIEW, after)
    catalog = check_catalog()
    found: dict[int, dict[tuple[str, str, str], DiffEntry]] = {before.pk: {}, after.pk: {}}
    completed: dict[int, set[str]] = {before.pk: set(), after.pk: set()}
    results = CheckResult.objects.filter(run_id__in=[before.pk, after.pk]).only(
        "run_id", "check_key", "outcome", "problems", "severity"
    )
    for result in results:
        if result.outcome in (CheckOutcome.PASSED, CheckOutcome.FAILED):
            completed[result.run_id].add(result.check_key)
        info = check_info(result.check_key, catalog)
        for problem in problems_of(result.problems):
            key = (result.check_key, problem.operation, problem.detail)
            found[result.run_id][key] = DiffEntry(
                info, problem.operation, problem.detail, problem.message, problem.severity or result.severity
            )
    old, new = found[before.pk], found[after.pk]

    def ordered(
        keys: Iterable[tuple[str, str, str]], source: dict[tuple[str, str, str], DiffEntry]
    ) -> list[DiffEntry]:
        return [source[k] for k in sorted(keys)]

    gone = old.keys() - new.keys()
    return RunDiff(
        before=before,
        after=after,
        new=ordered(new.keys() - old.keys(), new),
        fixed=ordered([k for k in gone if k[0] in completed[after.pk]], old),
        still_failing=ordered(old.keys() & new.keys(), new),
        not_rechecked=ordered([k for k in gone if k[0] not in completed[after.pk]], old),
    )


# --- Findings -----------------------------------------------------------------------------------------------


def unit_visible(user: Any, slug: str) -> OrgUnit | None:
    """The unit named ``slug`` if the user may see testing in it; a hidden unit is answered like a
    missing one (as the inventory's unit filter does), so a slug cannot be probed."""
    return OrgUnit.objects.visible_to(user, Cap.TESTING_VIEW).filter(slug=slug).first()


def units_menu(user: Any) -> list[tuple[str, str]]:
    units = OrgUnit.objects.visible_to(user, Cap.TESTING_VIEW).order_by("path").only("slug", "name", "depth")
    return [(u.slug, "\u2003" * u.depth + u.name) for u in units]


def findings_visible(user: Any) -> QuerySet[Finding]:
    return Finding.objects.visible_to(user, Cap.TESTING_VIEW).select_related("api__org_unit", "environment")


FINDING_LIST_DEFERRED = ("evidence", "message", "triage_note")


def findings_list(user: Any, filters: dict[str, Any]) -> QuerySet[Finding]:
    """The findings the user may see, newest first, narrowed by ``filters``: severity, check, owasp,
    status, unit (that unit and below; unknown or hidden: nothing), older_than_days (first seen
    more than N days ago), before (keyset: ids below it). The page and the REST list alike."""
    qs = findings_visible(user).defer(*FINDING_LIST_DEFERRED)
    if unit_slug := filters.get("unit"):
        unit = unit_visible(user, unit_slug)
        if unit is None:
            return qs.none()
        qs = qs.filter(api__org_unit__path__startswith=unit.path)
    if severity := filters.get("severity"):
        qs = qs.filter(severity=severity)
    if check := filters.get("check"):
        qs = qs.filter(check_key=check)
    if owasp := filters.get("owasp"):
        qs = qs.filter(owasp=owasp)
    if status := filters.get("status"):
        qs = qs.filter(status=status)
    if (days := filters.get("older_than_days")) is not None:
        qs = qs.filter(first_seen__lt=timezone.now() - timedelta(days=days))
    if (before := filters.get("before")) is not None:
        qs = qs.filter(id__lt=before)
    return qs.order_by("-id")


def finding_detail(user: Any, pk: int) -> Finding:
    finding: Finding = get_object_or_404(
        findings_visible(user).select_related("plan", "first_run", "last_run", "triaged_by"), pk=pk
    )
    return finding


@dataclass(frozen=True)
class CheckRunRow:
    """One of the last runs of a finding's check on its plan: did it report the finding?"""

    run_id: int
    created_at: datetime
    outcome: str
    present: bool


def finding_check_history(user: Any, finding: Finding, *, limit: int = CHECK_RUNS_SHOWN) -> list[CheckRunRow]:
    """The finding's check in the last ``limit`` runs of its plan, newest first: two queries (the
    runs by the plan's time index, then their results of that check by the unique key)."""
    require(user, Cap.TESTING_VIEW, finding)
    runs = list(
        TestRun.objects.filter(plan_id=finding.plan_id)
        .order_by("-created_at", "-id")
        .values_list("id", "created_at")[:limit]
    )
    results = {
        r.run_id: r
        for r in CheckResult.objects.filter(
            run_id__in=[pk for pk, _ in runs], check_key=finding.check_key
        ).only("run_id", "outcome", "problems")
    }
    rows = []
    for run_id, created_at in runs:
        result = results.get(run_id)
        if result is None:
            continue
        present = any(p.key == (finding.operation, finding.detail) for p in problems_of(result.problems))
        rows.append(CheckRunRow(run_id, created_at, result.outcome, present))
    return rows


def finding_events(
    user: Any, finding: Finding, *, limit: int = FINDING_EVENTS_SHOWN
) -> list[AuditEvent] | None:
    """The finding's audit events (its triage and status changes), newest first; None when the user
    may not read the audit trail of its unit (who decided what is audit reading, as on an API)."""
    require(user, Cap.TESTING_VIEW, finding)
    if not in_scope(user, Cap.AUDIT_VIEW, finding.scope_path_value):
        return None
    return list(
        AuditEvent.objects.filter(object_type="testing.finding", object_id=str(finding.pk)).order_by("-id")[
            :limit
        ]
    )


# --- Plans (REST) and the home card -------------------------------------------------------------------------


def plans_visible(user: Any, *, api_slug: str | None = None) -> QuerySet[TestPlan]:
    qs = (
        TestPlan.objects.visible_to(user, Cap.TESTING_VIEW)
        .select_related("api", "environment")
        .prefetch_related(
            Prefetch("identities", queryset=PlanIdentity.objects.defer("secret").order_by("name"))
        )
    )
    if api_slug:
        qs = qs.filter(api__slug=api_slug)
    return qs.order_by("id")


def run_with_results(user: Any, pk: int) -> TestRun:
    """A run with its results prefetched (the REST detail)."""
    run: TestRun = get_object_or_404(
        runs_visible(user).prefetch_related(
            Prefetch("results", queryset=CheckResult.objects.order_by("check_key"))
        ),
        pk=pk,
    )
    return run


def testing_summary(user: Any) -> dict[str, Any]:
    """The home page's testing card: open findings by severity, APIs whose last test failed or
    errored. Two aggregate queries."""
    open_by_severity = dict(
        Finding.objects.visible_to(user, Cap.TESTING_VIEW)
        .filter(status=FindingStatus.OPEN)
        .order_by()
        .values_list("severity")
        .annotate(n=Count("id"))
    )
    failing = dict(
        Api.objects.visible_to(user, Cap.TESTING_VIEW)
        .filter(test_status__in=[RunStatus.FAILED, RunStatus.ERROR])
        .order_by()
        .values_list("test_status")
        .annotate(n=Count("id"))
    )
    severities = list(reversed(Severity.values))
    return {
        "open_findings": sum(open_by_severity.values()),
        "by_severity": [(s, Severity(s).label, open_by_severity.get(s, 0)) for s in severities],
        "failing": failing.get(RunStatus.FAILED, 0),
        "erroring": failing.get(RunStatus.ERROR, 0),
    }


# --- What the write pages read ------------------------------------------------------------------------------


def plan_detail(user: Any, pk: int) -> TestPlan:
    """One plan the user may see (Http404 otherwise), with its API, unit and environment."""
    plan: TestPlan = get_object_or_404(
        TestPlan.objects.visible_to(user, Cap.TESTING_VIEW).select_related("api__org_unit", "environment"),
        pk=pk,
    )
    return plan


def plan_identities(user: Any, plan: TestPlan) -> list[PlanIdentity]:
    """The plan's identities by name: name, kind, hint, object ids; the secret column is not read."""
    require(user, Cap.TESTING_VIEW, plan)
    return list(PlanIdentity.objects.filter(plan=plan).defer("secret").order_by("name"))


def identity_of(user: Any, plan: TestPlan, name: str) -> PlanIdentity:
    """The plan's identity ``name`` (the secret column is not read); Http404 when there is none."""
    require(user, Cap.TESTING_VIEW, plan)
    identity: PlanIdentity = get_object_or_404(
        PlanIdentity.objects.defer("secret").select_related("plan__api__org_unit"), plan=plan, name=name
    )
    return identity


def cases_of(user: Any, api: Api) -> list[FunctionalCase]:
    """The API's functional case documents, by name, without their source. One query."""
    require(user, Cap.TESTING_VIEW, api)
    return list(
        FunctionalCase.objects.filter(api=api).select_related("updated_by").defer("source").order_by("name")
    )


def case_of(user: Any, api: Api, name: str) -> FunctionalCase:
    """One case document of ``api`` with its source; Http404 when there is none."""
    require(user, Cap.TESTING_VIEW, api)
    case: FunctionalCase = get_object_or_404(
        FunctionalCase.objects.select_related("api__org_unit"), api=api, name=name
    )
    return case


def gate_blockers(run: TestRun, fail_on: str) -> list[str]:
    """The checks whose problems in ``run`` fail a CI gate at ``fail_on``: problems at or above it,
    except those the security team has accepted as a risk or marked a false positive (same
    fingerprint in the plan's environment). Sorted check keys."""
    from testing.services.findings import fingerprint

    threshold = SEVERITY_RANK[fail_on]
    environment_id = run.plan.environment_id
    blocking: dict[str, str] = {}
    results = CheckResult.objects.filter(run=run, outcome=CheckOutcome.FAILED).values_list(
        "check_key", "problems"
    )
    for key, problems in results:
        for problem in problems if isinstance(problems, list) else []:
            if (
                not isinstance(problem, dict)
                or SEVERITY_RANK.get(str(problem.get("severity")), 0) < threshold
            ):
                continue
            fp = fingerprint(
                run.api_id,
                environment_id,
                key,
                str(problem.get("operation", "")),
                str(problem.get("detail", "")),
            )
            blocking[fp] = key
    waived = set(
        Finding.objects.filter(
            fingerprint__in=list(blocking), status__in=(FindingStatus.ACCEPTED, FindingStatus.FALSE_POSITIVE)
        ).values_list("fingerprint", flat=True)
    )
    return sorted({key for fp, key in blocking.items() if fp not in waived})
