"""Test plans: which checks run on one environment of an API, when, and how intrusively.

    plan = plan_save(actor=actor, api=api, environment=env, checks=["tls", "auth_enforced"],
                     schedule_kind="cron", interval_minutes=0, cron="0 3 * * 1-5",
                     timezone="Europe/Berlin", intrusive_allowed=False, production_opt_in=False,
                     latency_tolerance=Decimal("0.5"), enabled=True)   # optional: requests_per_second=50
    plan = plan_default_for(actor=actor, environment=env)   # the existing plan, or a default one

Checks are keys of registered checks (``testing.engines.checks.all_checks``). Intrusive checks
(writes, bursts) can be chosen only with ``intrusive_allowed``; on a production environment that
also needs the owner's ``production_opt_in``. Cron expressions and timezones are checked by the
schedule engine, which also gives ``next_run_at``. ``requests_per_second`` (1 to 100, None for the
deployment's ``SCANNER_PER_HOST_RATE``) is the plan's own rate per host; left out, a new plan gets
the deployment's and an existing one keeps its own. Refusals are ``ValidationError``s naming the
field, so forms and the REST API show them where they belong.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone as dj_timezone

from inventory.models import Api, Environment
from portal import audit
from portal.access import Cap, authorize
from portal.audit import Actor
from testing.engines import schedule
from testing.engines.checks import all_checks
from testing.models import MAX_CHECKS, ScheduleKind, TestPlan

DEFAULT_INTERVAL_MINUTES = 24 * 60
MIN_RATE, MAX_RATE = 1, 100  # TestPlan.requests_per_second
AUDITED_FIELDS = [
    "enabled",
    "checks",
    "schedule_kind",
    "interval_minutes",
    "cron",
    "timezone",
    "intrusive_allowed",
    "production_opt_in",
    "latency_tolerance",
    "requests_per_second",
]
_SCHEDULE_FIELDS = ("schedule_kind", "interval_minutes", "cron", "timezone", "enabled")


def _clean_checks(checks: Any, *, intrusive_allowed: bool) -> list[str]:
    if not isinstance(checks, list | tuple) or not all(isinstance(c, str) for c in checks):
        raise ValidationError({"checks": "Give a list of check keys."})
    keys = list(dict.fromkeys(checks))
    if not keys:
        raise ValidationError({"checks": "Choose at least one check."})
    if len(keys) > MAX_CHECKS:
        raise ValidationError({"checks": f"A plan runs at most {MAX_CHECKS} checks."})
    registry = all_checks()
    unknown = [k for k in keys if k not in registry]
    if unknown:
        shown = ", ".join(k[:50] for k in unknown[:5])
        raise ValidationError({"checks": f"Unknown check(s): {shown}."})
    intrusive = [k for k in keys if registry[k].intrusive]
    if intrusive and not intrusive_allowed:
        raise ValidationError(
            {"checks": f"{', '.join(intrusive)}: intrusive; allow intrusive checks to choose them."}
        )
    # The registry's order, so every page lists them alike.
    return [k for k in registry if k in keys]


def _clean_schedule(kind: str, interval_minutes: Any, cron: str, tz: str) -> tuple[int, str, str]:
    errors: dict[str, str] = {}
    try:
        tz = schedule.validate_timezone(tz)
    except ValueError as exc:
        errors["timezone"] = str(exc)
    if kind not in ScheduleKind.values:
        errors["schedule_kind"] = "Choose every N minutes or a cron expression."
    interval = 0
    if kind == ScheduleKind.INTERVAL:
        try:
            interval = int(interval_minutes)
        except (TypeError, ValueError):
            interval = -1
        if not schedule.MIN_INTERVAL_MINUTES <= interval <= schedule.MAX_INTERVAL_MINUTES:
            errors["interval_minutes"] = (
                f"Every {schedule.MIN_INTERVAL_MINUTES} to {schedule.MAX_INTERVAL_MINUTES} minutes."
            )
        cron = ""
    elif kind == ScheduleKind.CRON and "timezone" not in errors:
        try:
            cron = schedule.validate_cron(cron, tz)
        except ValueError as exc:
            errors["cron"] = str(exc)
    if errors:
        raise ValidationError(errors)
    return interval, cron, tz


class Unchanged(Enum):
    """``plan_save(requests_per_second=...)`` left out: a new plan gets the deployment's rate, an
    existing one keeps its own (callers that do not know the field cannot reset it)."""

    KEEP = "keep"


def _clean_rate(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValidationError({"requests_per_second": "Give a whole number of requests per second."})
    try:
        rate = int(value)
    except ValueError:
        raise ValidationError(
            {"requests_per_second": "Give a whole number of requests per second."}
        ) from None
    if not MIN_RATE <= rate <= MAX_RATE:
        raise ValidationError(
            {"requests_per_second": f"{MIN_RATE} to {MAX_RATE} requests per second (empty: the default)."}
        )
    return rate


def _clean_tolerance(value: Any) -> Decimal:
    try:
        tolerance = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationError({"latency_tolerance": "Give a number, e.g. 0.5 for 50 %."}) from None
    if not tolerance.is_finite() or not Decimal(0) <= tolerance <= Decimal(10):
        raise ValidationError({"latency_tolerance": "Between 0 and 10 (0.5 means 50 % above the baseline)."})
    return tolerance.quantize(Decimal("0.01"))


def plan_save(
    *,
    actor: Actor,
    api: Api,
    environment: Environment,
    checks: list[str],
    schedule_kind: str,
    interval_minutes: int,
    cron: str,
    timezone: str,
    intrusive_allowed: bool,
    production_opt_in: bool,
    latency_tolerance: Decimal | float | str,
    enabled: bool,
    requests_per_second: int | None | Unchanged = Unchanged.KEEP,
) -> TestPlan:
    """Create or change the plan of ``environment``; audited, one transaction."""
    authorize(actor, Cap.TESTING_MANAGE, api)
    if environment.api_id != api.pk:
        raise ValidationError({"environment": "This environment belongs to another API."})
    if intrusive_allowed and environment.is_production and not production_opt_in:
        raise ValidationError(
            {
                "production_opt_in": "This is a production environment: intrusive checks need the "
                "owner's explicit opt-in as well."
            }
        )
    interval, cron, tz = _clean_schedule(schedule_kind, interval_minutes, cron, timezone)
    values: dict[str, Any] = {
        "enabled": bool(enabled),
        "checks": _clean_checks(checks, intrusive_allowed=bool(intrusive_allowed)),
        "schedule_kind": schedule_kind,
        "interval_minutes": interval or DEFAULT_INTERVAL_MINUTES,
        "cron": cron,
        "timezone": tz,
        "intrusive_allowed": bool(intrusive_allowed),
        "production_opt_in": bool(production_opt_in) and bool(intrusive_allowed),
        "latency_tolerance": _clean_tolerance(latency_tolerance),
    }
    if requests_per_second is not Unchanged.KEEP:
        values["requests_per_second"] = _clean_rate(requests_per_second)
    now = dj_timezone.now()
    with transaction.atomic():
        plan = TestPlan.objects.select_for_update().filter(environment=environment).first()
        created = plan is None
        if plan is None:
            plan = TestPlan(api=api, environment=environment, created_by=actor.user, created_at=now)
            before = None
        else:
            before = audit.snapshot(plan, AUDITED_FIELDS)
        reschedule = created or any(getattr(plan, f) != values[f] for f in _SCHEDULE_FIELDS)
        for name, value in values.items():
            setattr(plan, name, value)
        if not created and before == audit.snapshot(plan, AUDITED_FIELDS):
            return plan  # nothing changed: no record, the schedule stays as it was
        if reschedule:
            plan.next_run_at = schedule.next_run(
                kind=plan.schedule_kind,
                interval_minutes=plan.interval_minutes,
                cron=plan.cron,
                timezone=plan.timezone,
                after=now,
            )
        plan.updated_at = now
        plan.full_clean()
        plan.save()
        audit.record(
            actor=actor,
            action="testing.plan_save",
            obj=plan,
            org_unit=api.org_unit,
            before=before,
            after=audit.snapshot(plan, AUDITED_FIELDS),
        )
    return plan


def default_checks() -> list[str]:
    """Every registered check that sends nothing intrusive."""
    return [key for key, cls in all_checks().items() if not cls.intrusive]


def default_plan(*, environment: Environment, now: datetime, created_by: Any = None) -> TestPlan:
    """An unsaved default plan for ``environment``: every non-intrusive check, daily (UTC), first
    run at once. The one definition of "default", for people and for the scheduler's sweep."""
    return TestPlan(
        api_id=environment.api_id,
        environment=environment,
        checks=default_checks(),
        schedule_kind=ScheduleKind.INTERVAL,
        interval_minutes=DEFAULT_INTERVAL_MINUTES,
        timezone="UTC",
        created_by=created_by,
        created_at=now,
        updated_at=now,
        next_run_at=now,
    )


def plan_default_for(*, actor: Actor, environment: Environment) -> TestPlan:
    """The environment's plan: the existing one untouched, or a new default (``default_plan``).
    Safe to call twice, also concurrently."""
    existing = TestPlan.objects.filter(environment=environment).first()
    if existing is not None:
        return existing
    api = environment.api
    authorize(actor, Cap.TESTING_MANAGE, api)
    plan = default_plan(environment=environment, now=dj_timezone.now(), created_by=actor.user)
    try:
        with transaction.atomic():
            plan.save(force_insert=True)
            audit.record(
                actor=actor,
                action="testing.plan_create",
                obj=plan,
                org_unit=api.org_unit,
                after=audit.snapshot(plan, AUDITED_FIELDS),
            )
    except IntegrityError:
        return TestPlan.objects.get(environment=environment)
    return plan
