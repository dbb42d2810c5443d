"""How long the beat sweep takes to dispatch 10,000 due plans (budget: ≤ 5 s), on PostgreSQL + Redis.

    .venv/bin/python bench/sweep_bench.py                    # 10,000 due plans, 3 rounds
    .venv/bin/python bench/sweep_bench.py --plans 20000 --rounds 5
    .venv/bin/python bench/sweep_bench.py --broker redis://127.0.0.1:6379/9
    .venv/bin/python bench/sweep_bench.py --profile          # cProfile one sweep instead

1. Creates the database ``portal_sweep_bench`` if missing (``--database``), migrates it and seeds it
   with ``bulk_create`` (a few seconds): one team, ``--plans`` approved APIs, each with a production
   environment, a downtime window on 10 % of them (half of those open at the measured instant, so
   some runs are recorded as skipped) and one plan each: 90 % hourly, 10 % cron, their due times
   spread over the past hour to the second (so each batch updates ``next_run_at`` to many values,
   as in life). A second run finds the data and skips seeding.
2. Each round puts every plan back to its seeded due time, deletes the runs, empties the broker's
   queue, then times one ``plans_sweep()`` call as beat's task would make it: claiming in batches
   of 1,000 with ``FOR UPDATE SKIP LOCKED``, advancing ``next_run_at``, the downtime check, the bulk
   insert and read-back of the runs, the commits, and sending every queued run to the real broker
   (Redis, ``--broker``; one message per run, as the worker would receive it). It then checks that
   every plan has exactly one run and the queue holds one message per queued run.
   Each round also reports the CPU it cost, where the bench can read it: this process, the
   PostgreSQL backend serving it (``/proc``, when the server runs on this machine and the bench may
   read its processes) and the Redis server (``INFO``, the whole server: another client's commands
   count too). On a busy machine the seconds measure the neighbours as much as the sweep; the CPU
   says what the sweep itself costs.
3. Prints the median and worst round; exits 1 when the median is over the budget.

``--profile`` runs one sweep under cProfile instead (after the same reset) and prints the functions
by cumulative and by own time; the time it reports is inflated by the profiler.

The broker is a Redis database of the benchmark's own (``--broker``, db 9 by default), emptied
before each round and at the end; no worker reads it. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_SERVER = "postgres://postgres@127.0.0.1:5432"
BUDGET_S = 5.0
SEED = 20261203
UNIT_SLUG = "sweep-bench"


def ensure_database(name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"created database {name}")


def setup_django(database_url: str, broker: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["CELERY_BROKER_URL"] = broker
    os.environ["PORTAL_ENV"] = "development"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def seed(n_plans: int, now: datetime) -> dict[int, datetime]:
    """The plans' due times by id (seeded once; read back on later runs)."""
    from django.db import connection, transaction

    from inventory.models import Api, ApiStatus, AvailabilityWindow, Environment
    from portal.models import OrgUnit
    from testing.models import ScheduleKind, TestPlan

    unit = OrgUnit.objects.filter(slug=UNIT_SLUG).first()
    if unit is not None and TestPlan.objects.filter(api__org_unit=unit).count() == n_plans:
        print(f"seed: already there ({n_plans:,} plans), skipped")
        return dict(TestPlan.objects.values_list("pk", "created_at"))  # created_at holds the due time
    rng = random.Random(SEED)
    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {OrgUnit._meta.db_table} CASCADE")
    with transaction.atomic():
        unit = OrgUnit.objects.create(name="Sweep bench", slug=UNIT_SLUG, kind=OrgUnit.Kind.TEAM, path="/x/")
        unit.path = f"/{unit.pk}/"
        unit.save(update_fields=["path"])
        apis = Api.objects.bulk_create(
            [
                Api(name=f"Bench {i:05d}", slug=f"sweep-{i:05d}", org_unit=unit, status=ApiStatus.APPROVED)
                for i in range(n_plans)
            ],
            batch_size=2000,
        )
        envs = Environment.objects.bulk_create(
            [
                Environment(
                    api=api, name="production", is_production=True, base_urls=[f"https://{api.slug}.example"]
                )
                for api in apis
            ],
            batch_size=2000,
        )
        weekday = now.weekday()
        windows = []
        for i, api in enumerate(apis):
            if i % 10 == 0:  # half open now, half later today
                start = (now - timedelta(minutes=30)) if i % 20 == 0 else (now + timedelta(hours=2))
                windows.append(
                    AvailabilityWindow(
                        api=api,
                        kind=AvailabilityWindow.Kind.RECURRING,
                        timezone="UTC",
                        weekdays=[weekday],
                        start_time=start.time().replace(second=0, microsecond=0),
                        end_time=min(start + timedelta(hours=1), start.replace(hour=23, minute=59)).time(),
                    )
                )
        AvailabilityWindow.objects.bulk_create(windows, batch_size=2000)
        plans = []
        for i, (api, env) in enumerate(zip(apis, envs, strict=True)):
            due = now - timedelta(seconds=rng.randrange(1, 3600))
            cron = i % 10 == 5
            plans.append(
                TestPlan(
                    api=api,
                    environment=env,
                    checks=["tls", "auth_enforced", "error_hygiene", "http_methods"],
                    schedule_kind=ScheduleKind.CRON if cron else ScheduleKind.INTERVAL,
                    cron="*/30 * * * *" if cron else "",
                    interval_minutes=60,
                    next_run_at=due,
                    created_at=due,  # the seeded due time, to put back before each round
                )
            )
        TestPlan.objects.bulk_create(plans, batch_size=2000)
    print(
        f"seed: {n_plans:,} APIs, environments and plans, {len(windows):,} windows in {time.perf_counter() - t0:.1f} s"
    )
    return {p.pk: p.created_at for p in plans}  # created_at holds the due time


def reset(due: dict[int, datetime], redis_client) -> None:  # noqa: ANN001
    from django.db import connection

    from testing.models import TestPlan, TestRun

    with connection.cursor() as cursor:
        # Not TRUNCATE … CASCADE: the plans point at their last run, so that would empty them too.
        cursor.execute(
            f"UPDATE {TestPlan._meta.db_table} SET next_run_at = created_at, last_run_id = NULL"  # noqa: S608
        )
        cursor.execute(f"DELETE FROM {TestRun._meta.db_table}")  # noqa: S608
        cursor.execute(f"VACUUM ANALYZE {TestPlan._meta.db_table}")
    redis_client.flushdb()


def backend_cpu() -> float | None:
    """CPU seconds the PostgreSQL backend of Django's connection has used, when it can be read."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def redis_cpu(redis_client) -> float:  # noqa: ANN001
    info = redis_client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


class Cpu:
    """CPU used between start() and stop(): this process, its PostgreSQL backend, the Redis server."""

    def __init__(self, redis_client) -> None:  # noqa: ANN001
        self.redis_client = redis_client

    def start(self) -> None:
        self.here, self.pg, self.redis = time.process_time(), backend_cpu(), redis_cpu(self.redis_client)

    def stop(self) -> str:
        here = time.process_time() - self.here
        pg_now = backend_cpu()
        pg = "?" if self.pg is None or pg_now is None else f"{pg_now - self.pg:.2f}"
        redis_used = redis_cpu(self.redis_client) - self.redis
        return f"CPU {here:.2f} s here, {pg} s PostgreSQL, {redis_used:.2f} s Redis"


def profile(sweep_at: datetime, due: dict[int, datetime], redis_client) -> None:  # noqa: ANN001
    import cProfile
    import pstats

    from testing.services.schedule import plans_sweep

    reset(due, redis_client)
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    created = plans_sweep(now=sweep_at)
    profiler.disable()
    print(f"one sweep under cProfile: {time.perf_counter() - started:.2f} s, {created:,} runs")
    stats = pstats.Stats(profiler).strip_dirs()
    stats.sort_stats("cumulative").print_stats(40)
    stats.sort_stats("tottime").print_stats(30)
    redis_client.flushdb()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plans", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database", default="portal_sweep_bench")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--profile", action="store_true", help="cProfile one sweep, no timed rounds")
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    ensure_database(args.database)
    setup_django(f"{PG_SERVER}/{args.database}", args.broker)
    import redis
    from celery import current_app
    from django.db import connection

    from testing.models import RunStatus, TestRun
    from testing.services import schedule
    from testing.services.schedule import plans_sweep

    now = datetime.now(UTC).replace(microsecond=0)
    due = seed(args.plans, now)
    # The seeded due times are in the past of the first run; sweep "now" is the seeding instant's
    # hour later at most, so every plan is due in every round.
    sweep_at = max(due.values()) + timedelta(seconds=1)
    queue = current_app.conf.task_default_queue
    client = redis.Redis.from_url(args.broker)
    connection.connect()
    if args.profile:
        profile(sweep_at, due, client)
        return 0
    cpu = Cpu(client)
    timings = []
    try:
        for round_no in range(1, args.rounds + 1):
            reset(due, client)
            cpu.start()
            started = time.perf_counter()
            created = plans_sweep(now=sweep_at)
            elapsed = time.perf_counter() - started
            used = cpu.stop()
            queued = TestRun.objects.filter(status=RunStatus.QUEUED).count()
            skipped = TestRun.objects.filter(status=RunStatus.SKIPPED).count()
            per_plan = TestRun.objects.values("plan_id").distinct().count()
            messages = client.llen(queue)
            ok = created == args.plans == per_plan and messages == queued
            print(
                f"round {round_no}: {elapsed:.2f} s ({used}), {created:,} runs"
                f" ({queued:,} queued, {skipped:,} skipped inside downtime), {messages:,} messages on"
                f" the broker{'' if ok else '  ← MISMATCH'}"
            )
            if not ok:
                return 1
            timings.append(elapsed)
        # The same sweep once more, its two halves timed apart: the database work (claim, runs,
        # next_run_at, commits) with the sending held back, then the sending.
        reset(due, client)
        held: list[int] = []
        real_send = schedule.runs_send
        schedule.runs_send = held.extend  # type: ignore[assignment]
        try:
            cpu.start()
            started = time.perf_counter()
            plans_sweep(now=sweep_at)
            database_part = time.perf_counter() - started
            database_cpu = cpu.stop()
        finally:
            schedule.runs_send = real_send
        cpu.start()
        started = time.perf_counter()
        real_send(held)
        send_part = time.perf_counter() - started
        send_cpu = cpu.stop()
        assert client.llen(queue) == len(held)
        print(
            f"apart: database {database_part:.2f} s ({database_cpu}); sending {len(held):,} messages"
            f" {send_part:.2f} s ({send_cpu}; {send_part / max(1, len(held)) * 1e6:.0f} µs each)"
        )
    finally:
        client.flushdb()
    load = os.getloadavg()
    print(f"load average after: {load[0]:.1f} (cores: {os.cpu_count()})")
    median = statistics.median(timings)
    print()
    print("| due plans | rounds | median | worst | budget |")
    print("|---:|---:|---:|---:|---:|")
    print(f"| {args.plans:,} | {len(timings)} | {median:.2f} s | {max(timings):.2f} s | {BUDGET_S:.0f} s |")
    print(f"load average before: {load_before:.1f}")
    return 0 if median <= BUDGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
