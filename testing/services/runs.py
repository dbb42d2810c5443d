"""Creating runs: one per (plan, slot), skipped inside declared downtime, enqueued after commit.

    run, created = run_create(actor=actor, plan=plan, trigger=RunTrigger.MANUAL)

A scheduled run's slot is its due time (``slot_for(at)``, minute precision, UTC); any other run gets
a fresh ``manual:<uuid>`` slot. Asking twice for the same (plan, slot), as a redelivered sweep does,
returns the existing run and enqueues nothing. A run that would start inside one of the API's
declared downtime windows is created as ``skipped`` with the reason, so the history says why there
was no test. People's runs are audited; the scheduler's are not (they are the history itself).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from urllib.parse import urlsplit

from celery import current_app
from django.db import IntegrityError, transaction
from django.utils import timezone

from inventory.selectors import is_expected_up
from portal import audit
from portal.access import Cap, authorize
from portal.audit import Actor
from testing.models import RunStatus, RunTrigger, TestPlan, TestRun

RUN_TASK = "testing.tasks.run_plan"
DOWNTIME_REASON = "inside a declared downtime window"


def slot_for(at: datetime) -> str:
    """The slot name of a scheduled run due at ``at``: UTC, to the minute."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def plan_base_url(plan: TestPlan) -> str:
    """The base URL the plan tests unless told otherwise: the environment's first https URL, else its
    first (URLs are stored sorted, and "http:" sorts before "https:": an added plain-HTTP URL must
    not become the one tested)."""
    urls = [str(u) for u in plan.environment.base_urls or []]
    return next((u for u in urls if u.lower().startswith("https://")), urls[0] if urls else "")


def origin_of(url: str) -> str:
    """scheme://host:port of ``url`` (the port made explicit), lower-cased; "" when it has none."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    except ValueError:
        return ""
    if not parts.hostname or port is None:
        return ""
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme.lower()}://{host.lower()}:{port}"


def run_enqueue(run: TestRun) -> None:
    """Send the run to a worker once the current transaction commits (by task name: the task
    module imports the services, not the other way round)."""
    run_id = run.pk
    transaction.on_commit(lambda: current_app.send_task(RUN_TASK, args=[run_id]))


def run_create(
    *,
    actor: Actor,
    plan: TestPlan,
    trigger: str,
    slot: str | None = None,
    base_url: str | None = None,
    checks: list[str] | None = None,
    at: datetime | None = None,
) -> tuple[TestRun, bool]:
    """The run of ``plan`` for ``slot`` (a fresh manual slot when None), created if new and enqueued
    unless skipped. Returns (run, created)."""
    authorize(actor, Cap.TESTING_RUN, plan)
    registered = {str(u).rstrip("/") for u in plan.environment.base_urls or []}
    if base_url and base_url.rstrip("/") not in registered:
        # Aiming the scanner at a deployment nobody registered (a preview) is the security team's
        # call: whoever may run tests must not be able to point it at any server they like.
        authorize(actor, Cap.TESTING_MANAGE, plan)
    at = at or timezone.now()
    slot = slot or f"manual:{uuid.uuid4().hex}"
    existing = TestRun.objects.filter(plan=plan, slot=slot).first()
    if existing is not None:
        return existing, False
    up = is_expected_up(plan.api, at, plan.environment)
    run = TestRun(
        plan=plan,
        api_id=plan.api_id,
        slot=slot,
        trigger=trigger,
        base_url=base_url or plan_base_url(plan),
        checks=list(checks if checks is not None else plan.checks),
        requested_by=actor.user,
        created_at=at,
    )
    if not up:
        run.status, run.reason, run.finished_at = RunStatus.SKIPPED, DOWNTIME_REASON, at
    try:
        with transaction.atomic():
            run.save()
            if trigger != RunTrigger.SCHEDULE:
                audit.record(
                    actor=actor,
                    action="testing.run_requested",
                    obj=run,
                    org_unit=plan.api.org_unit,
                    after={"plan": plan.pk, "trigger": trigger, "base_url": run.base_url},
                )
    except IntegrityError:
        # Another worker created this (plan, slot) between our read and our insert.
        return TestRun.objects.get(plan=plan, slot=slot), False
    if run.status == RunStatus.QUEUED:
        run_enqueue(run)
    return run, True
