"""The scheduler's side of testing: the sweep that starts due plans, and the default plans.

    plans_sweep()                       # beat, every minute: default plans, then each due plan once
    plans_ensure_default(limit=500)     # every environment of an API in use gets a plan

Exactly one beat process sends the sweep (a deployment rule), but nothing breaks when two sweeps
overlap (a second beat by mistake, a slow sweep still running when the next starts): each batch
claims its due plans with ``SELECT … FOR UPDATE SKIP LOCKED``, so a plan another sweep holds is
skipped rather than waited for, and ``next_run_at`` has moved past now by the time the lock is
released; the run itself is unique per (plan, slot), so even a sweep that read a plan just before
another committed creates nothing twice. (SQLite has no row locks; its writers are serialised by
the IMMEDIATE transactions the settings ask for.)

A plan's slot is its due time (``slot_for``). ``next_run_at`` moves from the due time, skipping
the slots that were missed while nothing ran: a plan three hours overdue on an hourly schedule runs
once, for the slot it was due at, and next at the first slot after now. A plan whose API is
inside one of its declared downtime windows gets a ``skipped`` run saying so, as ``run_create``
would record it; a plan of an API that is not in use (draft, retired) is moved on without a run,
since the scanner only calls approved APIs.

10,000 due plans are dispatched in a few seconds (``bench/sweep_bench.py``), so the sweep does
per batch what ``run_create`` does per run: one claim that also reads the plans, one read of the
batch's downtime windows, one insert of the runs (conflicts on (plan, slot) ignored; PostgreSQL
answers with the new ids, elsewhere one read gets them), one update of ``next_run_at``; after the
commit the queued runs go to the broker over one connection, one ``run_plan`` message each, of
which Celery builds the first and the rest are that message with their own task id and argument
(``runs_send``).

Default plans are made here, not in ``inventory``'s approval (``inventory`` does not import
``testing``): each sweep first gives every environment (with a base URL) of an API in use that has
no plan one with the defaults: every registered non-intrusive check, daily, first run now. So an
approved API is tested within a minute. A plan is switched off with ``enabled``, not deleted: a
deleted plan of an API in use comes back at the next sweep.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from celery import current_app, signals
from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from kombu.utils.uuid import uuid

from inventory.engines import availability
from inventory.models import API_IN_USE, AvailabilityWindow, Environment
from inventory.selectors import window_as_engine
from portal import audit
from portal.audit import Actor
from testing.engines.schedule import next_run
from testing.models import RunStatus, RunTrigger, ScheduleKind, TestPlan, TestRun
from testing.services.plans import default_plan
from testing.services.runs import DOWNTIME_REASON, RUN_TASK, slot_for

log = logging.getLogger(__name__)

SCHEDULER = Actor.system("scheduler")
SWEEP_BATCH = 1000  # due plans claimed per transaction
SEND_BATCH = 500  # messages per round trip to the broker, where it batches
DEFAULT_PLANS_PER_SWEEP = 500  # default plans made per sweep (the rest at the next one)
TESTED_STATUSES = API_IN_USE  # the scanner only calls APIs that passed review


# --- Default plans ----------------------------------------------------------------------------------


def _claimable(queryset: QuerySet[Any]) -> QuerySet[Any]:
    """Lock the rows read, skipping those another transaction holds (PostgreSQL); on SQLite
    ``select_for_update`` does nothing and writers are serialised by the database."""
    if connection.features.has_select_for_update_skip_locked:
        return queryset.select_for_update(skip_locked=True, of=("self",))
    return queryset.select_for_update()


def plans_ensure_default(*, limit: int = DEFAULT_PLANS_PER_SWEEP, now: datetime | None = None) -> int:
    """Give up to ``limit`` environments of APIs in use that have no plan a default one (one query
    finds them). Returns how many plans were made. Each is audited as the scheduler's."""
    now = now or timezone.now()
    with transaction.atomic():
        missing = (
            Environment.objects.filter(api__status__in=TESTED_STATUSES, test_plan__isnull=True)
            .exclude(base_urls=[])
            .select_related("api__org_unit")
            .order_by("pk")
        )
        environments = list(_claimable(missing)[:limit])
        if not environments:
            return 0
        plans = [default_plan(environment=environment, now=now) for environment in environments]
        try:
            with transaction.atomic():
                TestPlan.objects.bulk_create(plans)
        except IntegrityError:
            # Someone saved a plan for one of these environments meanwhile: one at a time, then.
            plans = [plan for plan in plans if _create_one(plan)]
        for plan in plans:
            audit.record(
                actor=SCHEDULER,
                action="testing.plan_default",
                obj=plan,
                org_unit=plan.environment.api.org_unit,
                after={"checks": plan.checks, "interval_minutes": plan.interval_minutes},
            )
    log.info("Default test plans made: %d", len(plans))
    return len(plans)


def _create_one(plan: TestPlan) -> bool:
    plan.pk = None
    try:
        with transaction.atomic():
            plan.save(force_insert=True)
    except IntegrityError:
        return False
    return True


# --- The sweep --------------------------------------------------------------------------------------


def next_slot(
    *, kind: str, interval_minutes: int, cron: str, tz: str, due: datetime, now: datetime
) -> datetime:
    """The first slot after ``now`` of a plan that was due at ``due``: an interval keeps counting
    from the due time (every missed slot skipped at once, not one sweep each); a cron expression
    fires next after now. Raises ValueError for a schedule that cannot fire."""
    if kind == ScheduleKind.INTERVAL and interval_minutes > 0:
        step = timedelta(minutes=interval_minutes)
        after = due + max(0, (now - due) // step) * step  # the last slot at or before now
    else:
        after = max(due, now)
    value = next_run(kind=kind, interval_minutes=interval_minutes, cron=cron, timezone=tz, after=after)
    for _ in range(3):  # next_run drops sub-seconds: at most a step or two short of now
        if value > now:
            return value
        value = next_run(kind=kind, interval_minutes=interval_minutes, cron=cron, timezone=tz, after=value)
    raise ValueError("the schedule does not move past now")


@dataclass(frozen=True)
class _DuePlan:
    pk: int
    api_id: int
    environment_id: int
    api_status: str
    checks: list[str]
    base_urls: list[str]
    kind: str
    interval_minutes: int
    cron: str
    tz: str
    due: datetime


_DUE_FIELDS = (
    "pk",
    "api_id",
    "environment_id",
    "api__status",
    "checks",
    "environment__base_urls",
    "schedule_kind",
    "interval_minutes",
    "cron",
    "timezone",
    "next_run_at",
)


def plans_sweep(*, now: datetime | None = None, limit: int = SWEEP_BATCH) -> int:
    """Start every due plan once: default plans first, then batches of ``limit`` due plans, each in
    its own transaction, until none is left that this sweep may claim. Returns the runs created
    (queued or skipped)."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    now = now or timezone.now()
    try:
        plans_ensure_default(now=now)
    except Exception:  # noqa: BLE001 - the schedule must go on without them; they come next minute
        log.exception("Making default test plans failed; the sweep goes on")
    created = 0
    while True:
        claimed, runs = _sweep_batch(now=now, limit=limit)
        created += runs
        # Every claimed plan moved past now (or off the schedule), so the loop ends; fewer than
        # asked for means nothing else is due, or another sweep holds the rest.
        if claimed < limit:
            break
    if created:
        log.info("Sweep: %d runs created", created)
    return created


def _sweep_batch(*, now: datetime, limit: int) -> tuple[int, int]:
    with transaction.atomic():
        # One statement claims the plans and reads what the batch needs of them (their API's status
        # and environment's base URLs by join; only the plans' rows are locked).
        due = _claimable(
            TestPlan.objects.filter(enabled=True, next_run_at__lte=now).order_by("next_run_at", "pk")
        ).values_list(*_DUE_FIELDS)[:limit]
        plans = [_DuePlan(*row) for row in due]
        if not plans:
            return 0, 0

        moves: dict[int, datetime | None] = {}
        to_run: list[_DuePlan] = []
        for plan in plans:
            try:
                following: datetime | None = next_slot(
                    kind=plan.kind,
                    interval_minutes=plan.interval_minutes,
                    cron=plan.cron,
                    tz=plan.tz,
                    due=plan.due,
                    now=now,
                )
            except ValueError:
                # Saved schedules are validated; one that still cannot fire leaves the schedule
                # instead of being claimed every minute.
                log.warning("Test plan %s has a schedule that cannot fire; taken off the schedule", plan.pk)
                following = None
            moves[plan.pk] = following
            if plan.api_status in TESTED_STATUSES:
                to_run.append(plan)
        _move(moves)
        created, queued = _create_runs(to_run, now=now)
        if queued:
            transaction.on_commit(lambda: runs_send(queued))
        return len(plans), created


def _move(moves: dict[int, datetime | None]) -> None:
    """Set each plan's next_run_at: one statement (bulk_update's CASE of 1,000 branches costs more
    than the rest of the batch on PostgreSQL, so there it joins a JSON document's rows instead)."""
    if connection.vendor != "postgresql":
        TestPlan.objects.bulk_update(
            [TestPlan(pk=pk, next_run_at=at) for pk, at in moves.items()], ["next_run_at"]
        )
        return
    table = connection.ops.quote_name(TestPlan._meta.db_table)
    document = json.dumps([{"id": pk, "at": at} for pk, at in moves.items()], default=_json_value)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS plan SET next_run_at = moved.at"  # noqa: S608 - our own table name
            " FROM jsonb_to_recordset(%s::jsonb) AS moved(id bigint, at timestamptz) WHERE plan.id = moved.id",
            [document],
        )


def _create_runs(plans: list[_DuePlan], *, now: datetime) -> tuple[int, list[int]]:
    """Insert the run of each plan for its slot (skipped inside downtime) unless it exists. Returns
    how many were created and the ids of the new queued ones, to send."""
    if not plans:
        return 0, []
    down = _down_plans(plans, now)
    rows = []
    for plan in plans:
        row: dict[str, Any] = {
            "plan_id": plan.pk,
            "api_id": plan.api_id,
            "slot": slot_for(plan.due),
            "base_url": str(plan.base_urls[0]) if plan.base_urls else "",
            "checks": list(plan.checks),
            "status": RunStatus.QUEUED,
            "reason": "",
            "finished_at": None,
        }
        if plan.pk in down:
            row.update(status=RunStatus.SKIPPED, reason=DOWNTIME_REASON, finished_at=now)
        rows.append(row)
    constants = {"trigger": RunTrigger.SCHEDULE, "created_at": now}
    inserted = (_insert_runs_postgresql if connection.vendor == "postgresql" else _insert_runs_orm)(
        rows, constants
    )
    return len(inserted), [pk for pk, status in inserted if status == RunStatus.QUEUED]


def _insert_runs_orm(rows: list[dict[str, Any]], constants: dict[str, Any]) -> list[tuple[int, str]]:
    """Any database: skip the (plan, slot) pairs that exist, insert the rest ignoring conflicts, read
    the new ones back."""
    plan_ids, slots = [r["plan_id"] for r in rows], {r["slot"] for r in rows}
    existing = set(
        TestRun.objects.filter(plan_id__in=plan_ids, slot__in=slots).values_list("plan_id", "slot")
    )
    runs = [TestRun(**row, **constants) for row in rows if (row["plan_id"], row["slot"]) not in existing]
    if not runs:
        return []
    TestRun.objects.bulk_create(runs, ignore_conflicts=True, batch_size=500)
    new = {(run.plan_id, run.slot) for run in runs}
    back = TestRun.objects.filter(plan_id__in=[r.plan_id for r in runs], slot__in={r.slot for r in runs})
    return [
        (pk, status)
        for pk, plan_id, slot, status in back.values_list("pk", "plan_id", "slot", "status")
        if (plan_id, slot) in new
    ]


def _insert_runs_postgresql(rows: list[dict[str, Any]], constants: dict[str, Any]) -> list[tuple[int, str]]:
    """PostgreSQL: one ``INSERT … SELECT FROM jsonb_to_recordset(…) ON CONFLICT (plan_id, slot) DO
    NOTHING RETURNING``, which answers with exactly the runs it created. The columns come from the
    model, so a field added later gets its default as with ``bulk_create``; the values that differ
    per run travel as one JSON document (``bulk_create`` prepares every field of every row in
    Python, and arrays are quoted element by element: seconds for 10,000 runs)."""
    quote = connection.ops.quote_name
    varying = {field.attname: field for field in TestRun._meta.concrete_fields if field.attname in rows[0]}
    columns, selects, constant_params = [], [], []
    for field in TestRun._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(quote(field.column))
        if field.attname in varying:
            selects.append(f"v.{quote(field.attname)}")
        else:
            value = constants[field.attname] if field.attname in constants else field.get_default()
            selects.append(f"%s::{field.db_type(connection)}")
            constant_params.append(field.get_db_prep_save(value, connection))
    record = ", ".join(f"{quote(name)} {field.db_type(connection)}" for name, field in varying.items())
    table = quote(TestRun._meta.db_table)
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(selects)}"  # noqa: S608 - model names only
        f" FROM jsonb_to_recordset(%s::jsonb) AS v({record})"
        f" ON CONFLICT ({quote('plan_id')}, {quote('slot')}) DO NOTHING RETURNING {quote('id')}, {quote('status')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*constant_params, json.dumps(rows, default=_json_value)])
        return [(int(pk), str(status)) for pk, status in cursor.fetchall()]


def _json_value(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _down_plans(plans: Iterable[_DuePlan], now: datetime) -> set[int]:
    """The plans whose API is inside a declared downtime window now (API-wide or for the plan's
    environment): one query for the windows of every API in the batch."""
    plans = list(plans)
    windows: dict[int, list[tuple[int | None, availability.Window]]] = defaultdict(list)
    for window in AvailabilityWindow.objects.filter(api_id__in={p.api_id for p in plans}):
        windows[window.api_id].append((window.environment_id, window_as_engine(window)))
    down = set()
    for plan in plans:
        mine = [w for env, w in windows.get(plan.api_id, ()) if env is None or env == plan.environment_id]
        if mine and not availability.is_expected_up(mine, now):
            down.add(plan.pk)
    return down


def runs_send(run_ids: list[int]) -> None:
    """Send each run to a worker as ``testing.tasks.run_plan(run_id)``: one message per run, over
    one broker connection, in batches where the transport batches (Redis: one pipeline per
    SEND_BATCH commands).

    The first run goes through Celery's ``send_task`` as any task would (routing, the task's
    options, parent and root ids, expiry, serializer, delivery mode, the queue's declaration); the
    rest are that message again with their own task id and argument, handed to the same kombu
    producer (``_RunMessage``): Celery spends ~0.4 ms of CPU building and routing each message,
    and 10,000 of them would take longer than the sweep may. Where Celery's message is not the
    shape this relies on, or someone listens to the publish signals or wants sent events, every
    run goes through ``send_task``."""
    if not run_ids:
        return
    app = current_app
    with app.producer_or_acquire() as producer, producer.batch(max_size=SEND_BATCH):
        direct = _direct_route(app)
        first = _Recording(producer)
        app.send_task(RUN_TASK, args=[run_ids[0]], producer=first, **direct)
        template = _RunMessage.from_sent(app, first, run_ids[0])
        for run_id in run_ids[1:]:
            if template is None:
                app.send_task(RUN_TASK, args=[run_id], producer=producer, **direct)
            else:
                template.publish(producer, run_id)


class _Recording:
    """A kombu producer that remembers the last message published through it (what Celery's
    ``send_task`` handed to ``Producer.publish``) and publishes it as given."""

    def __init__(self, producer: Any) -> None:
        self._producer = producer
        self.sent: list[tuple[Any, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._producer, name)

    def publish(self, body: Any, **kwargs: Any) -> Any:
        # Copied before kombu sees them: it adds to ``declare`` and ``headers`` in place.
        self.sent.append((body, {**kwargs, "headers": dict(kwargs.get("headers") or {})}))
        return self._producer.publish(body, **kwargs)


@dataclass(frozen=True)
class _RunMessage:
    """Celery's ``run_plan`` message for one run, to publish for others: the task id (header
    ``id``, property ``correlation_id``, and ``root_id`` when the run has no parent task), the
    ``argsrepr`` header and the body's arguments are the run's own; every other header, property
    and publish option is the one Celery chose."""

    body_rest: tuple[Any, ...]  # the body after the arguments: keyword arguments, embed
    headers: dict[str, Any]
    options: dict[str, Any]  # Producer.publish's keywords, headers and declarations aside
    own_root: bool

    @classmethod
    def from_sent(cls, app: Any, recording: _Recording, run_id: int) -> _RunMessage | None:
        """The message Celery just sent for ``run_id``, if it is one this can reproduce: protocol 2
        (headers, a body of (args, kwargs, embed)), the id where protocol 2 puts it, and nobody
        listening for publishes or sent events (they would miss the others)."""
        if len(recording.sent) != 1 or _publish_observed(app):
            return None
        body, kwargs = recording.sent[0]
        headers = kwargs.get("headers") or {}
        task_id = headers.get("id")
        if not (
            isinstance(body, tuple | list)
            and len(body) == 3
            and list(body[0]) == [run_id]
            and body[1] == {}
            and isinstance(task_id, str)
            and kwargs.get("correlation_id") == task_id
            and headers.get("task") == RUN_TASK
            and headers.get("argsrepr") == repr([run_id])
        ):
            log.warning("Celery's run message is not protocol 2 as expected; each run sent on its own")
            return None
        options = {name: value for name, value in kwargs.items() if name not in ("headers", "declare")}
        # Declared with the first message (kombu remembers it per connection).
        options["declare"] = None
        return cls(
            body_rest=tuple(body[1:]),
            headers=headers,
            options=options,
            own_root=headers.get("root_id") == task_id,
        )

    def publish(self, producer: Any, run_id: int) -> None:
        task_id = uuid()
        headers = {**self.headers, "id": task_id, "argsrepr": repr([run_id])}
        if self.own_root:
            headers["root_id"] = task_id
        producer.publish(
            ([run_id], *self.body_rest), headers=headers, **{**self.options, "correlation_id": task_id}
        )


def _publish_observed(app: Any) -> bool:
    """Whether sending a task does more than publish it: receivers of Celery's publish signals, or
    task-sent events, which only ``send_task`` gives."""
    return bool(
        app.conf.task_send_sent_event
        or signals.before_task_publish.receivers
        or signals.after_task_publish.receivers
        or signals.task_sent.receivers
    )


def _direct_route(app: Any) -> dict[str, str]:
    """Where the run task goes, as the default exchange's (queue name as routing key) when that is
    the same place. A message to a named exchange makes kombu's Redis transport read the exchange's
    bindings from Redis first, one round trip per message, which a batch cannot save; the default
    exchange delivers to the queue named by the routing key on Redis and on AMQP alike. Routes
    that are not a plain queue (a topic exchange, another routing key) are left to Celery."""
    queue = app.amqp.router.route({}, RUN_TASK).get("queue")
    if queue is None or queue.exchange is None or queue.exchange.type != "direct":
        return {}
    if queue.routing_key != queue.name:
        return {}
    return {"exchange": "", "routing_key": queue.name}
