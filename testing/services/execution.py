"""Running a test run exactly once, whatever the broker does.

    run = run_execute(run_id=run_id)        # what the run_plan task calls; safe to call twice

1. Claim, by conditional UPDATE: queued → running (``attempts`` + 1). Only one caller changes the
   row, so two workers given the same task never both run it. A run still ``running`` whose claim is
   older than the hard time limit (``CELERY_TASK_TIME_LIMIT``) lost its worker: it is claimed again,
   up to ``MAX_ATTEMPTS`` claims; after that it is failed with ``LOST_TWICE``. A finished run is
   returned untouched, and so is a run another worker holds now (the task looks again later).
2. Scan, holding no transaction: the ``Target`` from the inventory (``testing.services.targets``),
   the checks through ``run_checks`` with the deployment's safe client, stopping between checks
   when the soft time limit is near.
3. Finish, in ONE transaction, only while the claim is still ours: every ``CheckResult`` (one
   bulk INSERT), the run's status, counts and health, the findings reconciled, the plan's and the
   API's summaries, notifications recorded. A crash before the commit leaves the run claimed
   (claimed again after the lease) and nothing half-written; after it, the run is finished.

Status: ``failed`` when a check found problems; otherwise ``error`` when a check could not run,
when the run stopped at its time limit, or when identities were sent and not one request was
answered as authenticated (``UNAUTHENTICATED``: such a scan saw only the outside of the API and must
never look green); ``skipped`` when every check was skipped; ``passed`` otherwise.

Findings (``reconcile``): a problem is a finding by its fingerprint. New → open. Seen again →
``last_seen``, ``times_seen``, evidence and ``last_run`` move on, whatever its status; a resolved one
``regress``es to open. What resolves an open finding that this run did not see is a check that
tested it again: a check that passed resolves its open findings, unless it stopped at its request
budget; a check that failed, or stopped at its budget, resolves only those on operations it reached.
A check that errored or was skipped resolves nothing, and an untrustworthy run (an identity could
not be used, or none was answered as authenticated) resolves nothing at all. A run of another
deployment (``--base-url``, a preview) records its results only: it neither opens nor resolves the
registered environment's findings, nor moves its summaries. A new or reopened high or critical
finding tells the API's owners once (``notified_at``; the dedupe key names the finding and the
episode, so a redelivered finish cannot mail twice).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from inventory.models import API_IN_USE, ApiStatus
from portal.access import holders_over
from portal.audit import Actor
from portal.models import Role
from portal.notifications import notification_create, portal_link
from portal.workflow import IllegalTransition, transition
from testing.engines.checks import all_checks
from testing.engines.checks.base import SEVERITY_ORDER, Check, CheckReport, Outcome
from testing.engines.checks.runner import RunReport, run_checks
from testing.models import (
    SEVERITY_RANK,
    CheckResult,
    Finding,
    FindingStatus,
    RunStatus,
    Severity,
    TestPlan,
    TestRun,
)
from testing.services.findings import FINDING_WORKFLOW, fingerprint
from testing.services.summary import api_summary_refresh
from testing.services.targets import ClientFactory, scanner_client_factory, target_for

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 2
LOST_TWICE = "the worker running it stopped twice"
UNAUTHENTICATED = "no request was answered as authenticated"
TIMED_OUT = "stopped at its time limit before every check ran"
NO_SUCH_CHECK = "this check no longer exists"
NO_BASE_URL = "the environment has no base URL to test"
NOT_REACHED = "not run: the run reached its time limit"
IDENTITY_FAILED = "an identity could not be used"
# Stop starting checks this long before the soft limit (at most a tenth of it), so the finish has
# time to commit.
STOP_MARGIN_SECONDS = 15
NOTIFY_SEVERITIES = frozenset({Severity.HIGH, Severity.CRITICAL})
OWNER_ROLES = (Role.DEVELOPER,)
SYSTEM = Actor.system("testing.run")
_CHUNK = 500


def lease() -> timedelta:
    """How long a claim holds: a task cannot outlive its hard time limit, so a claim older than that
    belongs to a worker that is gone."""
    return timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)


def _claim(run_id: int) -> tuple[TestRun | None, bool]:
    now = timezone.now()
    stale = now - lease()
    claimed = TestRun.objects.filter(pk=run_id, status=RunStatus.QUEUED).update(
        status=RunStatus.RUNNING, started_at=now, claimed_at=now, attempts=F("attempts") + 1
    )
    if not claimed:
        claimed = TestRun.objects.filter(
            pk=run_id, status=RunStatus.RUNNING, claimed_at__lt=stale, attempts__lt=MAX_ATTEMPTS
        ).update(claimed_at=now, attempts=F("attempts") + 1)
    run = TestRun.objects.select_related("plan__environment", "api__org_unit").filter(pk=run_id).first()
    if run is None or claimed:
        return run, bool(claimed)
    if run.status == RunStatus.RUNNING and run.claimed_at is not None and run.claimed_at < stale:
        _give_up(run, now)
        run.refresh_from_db()
    return run, False


def _give_up(run: TestRun, now: datetime) -> None:
    with transaction.atomic():
        if TestRun.objects.filter(
            pk=run.pk, status=RunStatus.RUNNING, claimed_at=run.claimed_at, attempts__gte=MAX_ATTEMPTS
        ).update(status=RunStatus.ERROR, reason=LOST_TWICE, finished_at=now):
            _summarise(run.plan_id, run.pk, RunStatus.ERROR, now, run.api_id)


def run_execute(
    *, run_id: int, time_limit: float | None = None, client_factory: ClientFactory | None = None
) -> TestRun | None:
    """Run the run once (see the module docstring). Returns it as it is afterwards (finished by us or
    before, or held by another worker), or None when it does not exist. ``time_limit``: seconds
    before the run stops starting checks (default: the soft time limit less a margin)."""
    run, claimed = _claim(run_id)
    if run is None or not claimed:
        return run
    claimed_at = run.claimed_at
    if run.api.status not in API_IN_USE:
        # What the scanner may call: approved APIs, also while a change awaits re-review (at the
        # reviewed URL), deprecated or suspended (testing shows whether the fix holds); the sweep
        # uses the same set. The scanner calls only the hosts of APIs the security team approved.
        why = f"the API is {run.api.get_status_display().lower()}, not approved"
        return _finish(run, claimed_at, RunReport(), reason=why, status=RunStatus.SKIPPED)
    if not run.base_url:
        return _finish(run, claimed_at, RunReport(), reason=NO_BASE_URL, status=RunStatus.ERROR)
    unreviewed = _test_the_reviewed_url(run)
    if unreviewed:
        return _finish(run, claimed_at, RunReport(), reason=unreviewed, status=RunStatus.SKIPPED)
    if time_limit is None:
        soft = settings.CELERY_TASK_SOFT_TIME_LIMIT
        time_limit = soft - min(STOP_MARGIN_SECONDS, soft / 10)
    deadline = time.monotonic() + max(time_limit, 0)
    factory = client_factory or scanner_client_factory(requests_per_second=run.plan.requests_per_second)
    registry = all_checks()
    keys = [k for k in run.checks if k in registry]
    try:
        target = target_for(run, client_factory=factory)
        report = run_checks(
            target, keys, client_factory=factory, should_stop=lambda: time.monotonic() >= deadline
        )
    except Exception as exc:  # what the inventory held could not be turned into a scan
        log.exception("run %s could not be executed", run.pk)
        return _finish(run, claimed_at, RunReport(), reason=f"the run failed: {type(exc).__name__}")
    distrust = f"{IDENTITY_FAILED} ({'; '.join(target.identity_errors)})" if target.identity_errors else ""
    return _finish(run, claimed_at, report, distrust=distrust[:300])


# --- finishing ------------------------------------------------------------------------------------------


def _result(run: TestRun, check: CheckReport, registry: dict[str, type[Check]], now: datetime) -> CheckResult:
    cls = registry.get(check.key)
    # A problem without its own severity has its check's (the report's is the worst of them).
    default = str(cls.severity if cls is not None else check.severity)
    return CheckResult(
        run=run,
        check_key=check.key,
        outcome=str(check.outcome),
        severity=str(check.severity),
        owasp=str(cls.owasp) if cls is not None else "",
        summary=check.summary[:500],
        problems=[
            {
                "detail": p.detail,
                "operation": p.operation,
                "message": p.message,
                "severity": str(p.severity or default),
            }
            for p in check.problems
        ],
        evidence=[p.evidence for p in check.problems],
        metrics=check.metrics,
        requests_sent=check.requests_sent,
        request_budget=check.request_budget,
        duration_ms=check.duration_ms,
        created_at=now,
    )


def _status(report: RunReport, checks: list[CheckReport], reason: str, distrust: str = "") -> tuple[str, str]:
    outcomes = [c.outcome for c in checks]
    distrust = distrust or (UNAUTHENTICATED if report.unauthenticated else "")
    if reason:
        return RunStatus.ERROR, reason
    if Outcome.FAILED in outcomes:
        return RunStatus.FAILED, distrust
    if distrust:
        return RunStatus.ERROR, distrust
    if report.cancelled:
        return RunStatus.ERROR, TIMED_OUT
    errored = outcomes.count(Outcome.ERROR)
    if errored:
        return RunStatus.ERROR, f"{errored} check(s) could not run"
    if Outcome.PASSED not in outcomes:
        return RunStatus.SKIPPED, "every check was skipped"
    return RunStatus.PASSED, ""


def _finish(
    run: TestRun,
    claimed_at: datetime | None,
    report: RunReport,
    *,
    reason: str = "",
    status: str = "",
    distrust: str = "",
) -> TestRun:
    registry = all_checks()
    now = timezone.now()
    ran = {c.key for c in report.checks}
    checks = list(report.checks)
    for key in run.checks:
        if key in ran:
            continue
        cls = registry.get(key)
        why = NO_SUCH_CHECK if cls is None else (NOT_REACHED if report.cancelled else reason or NOT_REACHED)
        severity = cls.severity if cls is not None else SEVERITY_ORDER[0]
        checks.append(
            CheckReport(
                key=key[:50], outcome=Outcome.SKIPPED, severity=severity, summary=why, skipped_reason=why
            )
        )
    if status:
        why = reason
    else:
        status, why = _status(report, checks, reason, distrust)
    trusted = not (distrust or report.unauthenticated)
    worst = max(
        (c.severity for c in checks if c.outcome == Outcome.FAILED), key=lambda s: s.rank, default=None
    )
    with transaction.atomic():
        # Finishes of one plan's runs (a scheduled run and a run now finding the same new problem)
        # take turns, so the second sees the first's findings instead of colliding on them.
        TestPlan.objects.select_for_update().filter(pk=run.plan_id).values_list("pk", flat=True).first()
        mine = (
            TestRun.objects.select_for_update()
            .filter(pk=run.pk, status=RunStatus.RUNNING, claimed_at=claimed_at)
            .values_list("pk", flat=True)
            .first()
        )
        if mine is None:
            # Our claim lapsed and another worker holds (or finished) the run: theirs is the result.
            return TestRun.objects.get(pk=run.pk)
        CheckResult.objects.bulk_create([_result(run, c, registry, now) for c in checks])
        values: dict[str, Any] = {
            "status": status,
            "reason": why[:300],
            "finished_at": now,
            "operations_total": report.operations_total,
            "operations_reached": len(report.operations_reached),
            "authenticated_requests": report.authenticated_requests,
            "authenticated_responses": report.authenticated_responses,
            "requests_sent": report.requests_sent,
            "request_budget": report.request_budget,
            "skipped_checks": {c.key: c.skipped_reason[:300] for c in checks if c.outcome == Outcome.SKIPPED},
            "checks_passed": sum(c.outcome == Outcome.PASSED for c in checks),
            "checks_failed": sum(c.outcome == Outcome.FAILED for c in checks),
            "checks_errored": sum(c.outcome == Outcome.ERROR for c in checks),
            "worst_severity": str(worst) if worst is not None else "",
        }
        for name, value in values.items():
            setattr(run, name, value)
        run.save(update_fields=list(values))
        if _registered_deployment(run):
            reconcile(run, checks, now, resolve=trusted)
            _summarise(run.plan_id, run.pk, status, now, run.api_id)
    return run


def _registered_deployment(run: TestRun) -> bool:
    """Whether the run tested the environment's registered base URL, or the reviewed one it stands
    for while a change waits for review (not a preview, ``--base-url``)."""
    from testing.services.runs import plan_base_url

    tested = run.base_url.rstrip("/")
    return tested in {plan_base_url(run.plan).rstrip("/"), run.plan.reviewed_base_url.rstrip("/")} - {""}


def _test_the_reviewed_url(run: TestRun) -> str:
    """Keep a scheduled or run-now run on a base URL the security team reviewed: while the API is
    approved, its current URL is the reviewed one (remembered on the plan); while a change waits for
    review, a run of the registered environment tests the remembered URL instead of one typed since,
    so editing an environment cannot point the scanner at someone else's server. Returns why the run
    cannot go ahead ("" when it can)."""
    from testing.services.runs import plan_base_url

    plan, current = run.plan, plan_base_url(run.plan)
    if run.api.status == ApiStatus.APPROVED:
        if plan.reviewed_base_url != current:
            TestPlan.objects.filter(pk=plan.pk).update(reviewed_base_url=current)
            plan.reviewed_base_url = current
        return ""
    if run.base_url != current or current == plan.reviewed_base_url:
        return ""  # a preview (--base-url), or nothing changed since the review
    if not plan.reviewed_base_url:
        return "the environment's base URL has not been reviewed yet"
    TestRun.objects.filter(pk=run.pk).update(base_url=plan.reviewed_base_url)
    run.base_url = plan.reviewed_base_url
    return ""


def _summarise(plan_id: int, run_id: int, status: str, at: datetime, api_id: int) -> None:
    TestPlan.objects.filter(pk=plan_id).update(last_run_id=run_id, last_status=status, last_run_at=at)
    api_summary_refresh(api_id=api_id)


# --- findings --------------------------------------------------------------------------------------------


def _chunks(values: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def reconcile(
    run: TestRun, checks: list[CheckReport], now: datetime, *, resolve: bool = True
) -> dict[str, int]:
    """Findings from this run's results (inside the finish transaction); see the module docstring.
    Returns counts by what happened, for logs and tests."""
    plan = run.plan
    api_id, environment_id = run.api_id, plan.environment_id
    registry = all_checks()
    seen: dict[str, tuple[CheckReport, Any]] = {}
    for check in checks:
        if check.outcome != Outcome.FAILED:
            continue
        for problem in check.problems:
            fp = fingerprint(api_id, environment_id, check.key, problem.operation, problem.detail)
            seen.setdefault(fp, (check, problem))
    existing: dict[str, Finding] = {}
    for chunk in _chunks(list(seen)):
        existing |= {
            f.fingerprint: f for f in Finding.objects.select_for_update().filter(fingerprint__in=chunk)
        }
    new: list[Finding] = []
    again: list[Finding] = []
    regressed: list[Finding] = []
    for fp, (check, problem) in seen.items():
        cls = registry.get(check.key)
        severity = str(problem.severity or (cls.severity if cls is not None else check.severity))
        title = f"{cls.title if cls else check.key}: {problem.detail}"[:300]
        finding = existing.get(fp)
        if finding is None:
            new.append(
                Finding(
                    api_id=api_id,
                    environment_id=environment_id,
                    plan_id=plan.pk,
                    fingerprint=fp,
                    check_key=check.key,
                    operation=problem.operation[:600],
                    detail=problem.detail[:120],
                    title=title,
                    message=problem.message[:2000],
                    severity=severity,
                    owasp=str(cls.owasp) if cls else "",
                    status=FindingStatus.OPEN,
                    status_changed_at=now,
                    first_seen=now,
                    last_seen=now,
                    times_seen=1,
                    first_run_id=run.pk,
                    last_run_id=run.pk,
                    evidence=problem.evidence,
                )
            )
            continue
        finding.last_seen, finding.last_run_id = now, run.pk
        finding.times_seen += 1
        finding.evidence, finding.message, finding.severity = (
            problem.evidence,
            problem.message[:2000],
            severity,
        )
        again.append(finding)
        if finding.status == FindingStatus.RESOLVED:
            regressed.append(finding)
    Finding.objects.bulk_create(new)
    Finding.objects.bulk_update(
        again, ["last_seen", "last_run", "times_seen", "evidence", "message", "severity"]
    )
    for finding in regressed:
        _move(finding, "regress")
    resolved = 0
    if resolve:
        for pk in _retested_and_clean(plan, checks, seen):
            resolved += _move(Finding(pk=pk), "resolve")
    notified = _notify(
        run,
        [f for f in new if f.severity in NOTIFY_SEVERITIES]
        + [f for f in regressed if f.severity in NOTIFY_SEVERITIES],
    )
    return {
        "new": len(new),
        "seen": len(again),
        "regressed": len(regressed),
        "resolved": resolved,
        "notified": notified,
    }


def _retested_and_clean(plan: TestPlan, checks: list[CheckReport], seen: dict[str, Any]) -> list[int]:
    """The plan's open findings that this run tested again and did not see (see the docstring)."""
    whole = [c.key for c in checks if c.outcome == Outcome.PASSED and not c.budget_exhausted]
    partial = [
        c
        for c in checks
        if c.outcome in (Outcome.PASSED, Outcome.FAILED) and c.key not in whole and c.operations_reached
    ]
    scope = Q(check_key__in=whole)
    for check in partial:
        scope |= Q(check_key=check.key, operation__in=sorted(check.operations_reached))
    if not whole and not partial:
        return []
    stale = Finding.objects.filter(scope, plan=plan, status=FindingStatus.OPEN).exclude(
        fingerprint__in=list(seen)
    )
    return list(stale.values_list("pk", flat=True))


def _move(finding: Finding, action: str) -> int:
    try:
        moved = transition(workflow=FINDING_WORKFLOW, actor=SYSTEM, obj=finding, action=action)
    except IllegalTransition:
        return 0
    # When it was last resolved: set by "resolve", cleared when it comes back.
    resolved_at = moved.status_changed_at if action == "resolve" else None
    Finding.objects.filter(pk=moved.pk).update(resolved_at=resolved_at)
    return 1


def _notify(run: TestRun, findings: list[Finding]) -> int:
    """Tell the API's owners about each new or reopened serious finding, once per episode."""
    if not findings:
        return 0
    api = run.api
    owners = holders_over([api.org_unit], OWNER_ROLES)[api.org_unit_id]
    recipients = [user.email for user in owners]
    pks = [f.pk for f in findings]
    episodes = dict(Finding.objects.filter(pk__in=pks).values_list("pk", "status_changed_at"))
    for finding in sorted(findings, key=lambda f: -SEVERITY_RANK.get(f.severity, 0)):
        episode = episodes.get(finding.pk)
        notification_create(
            kind="testing.finding.opened",
            subject=f"[API Security Portal] {finding.severity.upper()} finding on {api.name}: {finding.title}",
            body=(
                f"A test run of {api.name} ({api.slug}), environment {run.plan.environment.name}, "
                f"{'found' if finding.times_seen == 1 else 'found again'} a {finding.severity} problem:\n\n"
                f"{finding.title}\n{finding.operation}\n\n{finding.message}\n\n"
                f"See it in the portal: {portal_link(reverse('testing:finding_detail', args=[finding.pk]))}\n"
            ),
            recipients=recipients,
            dedupe_key=f"testing.finding:{finding.pk}:{episode.isoformat() if episode else ''}",
        )
    Finding.objects.filter(pk__in=pks).update(notified_at=timezone.now())
    return len(findings)


RECOVER_QUEUED_AFTER = timedelta(minutes=30)
RECOVER_LIMIT = 500


def runs_recover(*, now: datetime | None = None, limit: int = RECOVER_LIMIT) -> int:
    """Send again the runs nothing will finish otherwise: queued for long (their message was lost,
    the broker down when they were created) or running past the lease (the task failed, or its
    worker died and the broker did not deliver it again). ``run_execute`` then claims them once or
    gives them up, so sending one that is in fact still waiting in a queue is harmless."""
    from testing.services.runs import RUN_TASK

    now = now or timezone.now()
    stuck = list(
        TestRun.objects.filter(
            Q(status=RunStatus.QUEUED, created_at__lt=now - RECOVER_QUEUED_AFTER)
            | Q(status=RunStatus.RUNNING, claimed_at__lt=now - lease())
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    for run_id in stuck:
        current_app.send_task(RUN_TASK, args=[run_id])
    if stuck:
        log.warning("Sent %d stuck test runs again", len(stuck))
    return len(stuck)


def claim_lapses_in(run: TestRun) -> int:
    """Seconds until ``run``'s current claim lapses (a little after, so the next look finds it lapsed)."""
    if run.claimed_at is None:
        return 1
    left = (run.claimed_at + lease() - timezone.now()).total_seconds()
    return max(1, int(left) + 2)
