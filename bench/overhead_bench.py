"""Per-request overhead and search at scale: the inventory list (HTML and REST) against bare views
of the same 50 rows, and a search that matches nothing, under gunicorn + PostgreSQL.

    .venv/bin/python bench/overhead_bench.py                 # 50,000 APIs, 100,000 components
    .venv/bin/python bench/overhead_bench.py --explain       # also EXPLAIN ANALYZE the search SQL
    .venv/bin/python bench/overhead_bench.py --profile 200   # cProfile 200 in-process requests per page

What it does:

1. Creates and seeds ``portal_overhead_bench`` (``--database``) exactly as ``inventory_bench.py``
   does (same seed script, same personas, session cookie and token), at 50,000 APIs by default.
2. Serves the portal with ``bench.overhead_settings``: the portal's settings and URLs plus two bare
   views (``bench/bare_views.py``) that read the list's first 50 rows with the same query and either
   render them with the same template engine and the same row template as ``/inventory/``, or return
   them as plain JSON with the REST list's fields. No authentication, no form, no layout, no DRF:
   the floor of the stack. They run in the same gunicorn workers, in the same run, so the ratio
   "page req/s ÷ bare req/s" does not depend on how busy the machine is as much as the raw figures.
3. Counts queries and times 15 sequential in-process requests per row, then sends ``--requests``
   GETs per row at ``--concurrency`` and prints a Markdown table with p50/p95, req/s and the ratio
   to the matching bare view (HTML page → bare HTML, REST list → bare JSON). The requests go out in
   ``--rounds`` rounds, each row's share in turn, so a page and its bare view are measured side by
   side through the whole run: other work on the machine (a test suite) slows both alike instead of
   whichever row it happened to coincide with.

Rows: the two bare views (anonymous), ``/inventory/`` and ``/api/v1/inventory/apis/`` as the CISO
(sees every API) and the developer (one team), the REST list's deprecated numbered page (``?page=1``,
which counts every visible row), and both lists with ``?q=`` a term that matches nothing (the worst
case of a substring search) and a term that matches ~5 % of the APIs.

``--without-trigram`` migrates inventory back to 0005 first (no trigram indexes: the search as it was);
the next run without it migrates forward again.

``--profile N`` skips the load test: it runs N in-process requests of each list page under
cProfile and prints where the time goes, by function (the 25 highest cumulative and own times).

In-process requests run with the gunicorn workers' settings (the user throttle raised so that
hundreds of requests are not answered 429, its check still made on each), and any answer other
than 200 stops the run: a profile of refused requests would look cheap.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import inventory_bench as ib  # noqa: E402 - after the path is set

NO_MATCH = "zqxj-no-such-api"
SOME = "pay"
BEFORE_TRIGRAM = "0007_field_limits_on_models"
# What ib.Gunicorn sets for its workers, for the in-process requests too.
IN_PROCESS_ENV = {"DEBUG": "false", "LOG_LEVEL": "WARNING", "THROTTLE_USER": "1000000/min"}


@dataclass(frozen=True)
class Row:
    label: str
    path: str
    persona: str | None  # None: anonymous (the bare views)
    rest: bool
    bare: str  # label of the bare row this one is compared with ("" for the bare rows)


def rows() -> list[Row]:
    html, rest = "/inventory/", "/api/v1/inventory/apis/"
    out = [Row("bare HTML rows", "/bench/bare/html/", None, False, "")]
    out += [Row(f"{who} list", html, who, False, "bare HTML rows") for who in ("ciso", "developer")]
    out += [Row("bare JSON rows", "/bench/bare/json/", None, True, "")]
    out += [Row(f"{who} REST list", rest, who, True, "bare JSON rows") for who in ("ciso", "developer")]
    # The numbered page with its total, deprecated, still answered: what the count costs.
    out.append(Row("ciso REST ?page=1", f"{rest}?page=1", "ciso", True, "bare JSON rows"))
    for term in (NO_MATCH, SOME):
        out.append(Row(f"ciso list ?q={term}", f"{html}?q={term}", "ciso", False, "bare HTML rows"))
        out.append(Row(f"ciso REST ?q={term}", f"{rest}?q={term}", "ciso", True, "bare JSON rows"))
    return out


def headers_for(row: Row, people: dict[str, ib.Persona]) -> dict[str, str]:
    if row.persona is None:
        return {}
    persona = people[row.persona]
    if row.rest:
        return {"Authorization": f"Bearer {persona.token}", "Accept": "application/json"}
    return {"Cookie": f"sessionid={persona.session_key}"}


def in_process(table: list[Row], people: dict[str, ib.Persona], timed: int) -> dict[str, tuple[int, float]]:
    """{label: (queries, median ms)}: one counted request after a warm-up, then ``timed`` timed ones."""
    from django.db import connection
    from django.test import Client

    out = {}
    for row in table:
        client = Client(headers=headers_for(row, people))
        client.get(row.path)
        queries: list[str] = []  # counted by an execute wrapper: independent of DEBUG and of the query log

        def count(execute: Any, sql: str, params: Any, many: bool, context: Any, seen: list = queries) -> Any:
            seen.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            response = client.get(row.path)
        if response.status_code != 200:
            raise SystemExit(f"{row.label} {row.path}: HTTP {response.status_code} in-process")
        samples = []
        for _ in range(timed):
            t0 = time.perf_counter()
            client.get(row.path)
            samples.append((time.perf_counter() - t0) * 1000)
        out[row.label] = (len(queries), statistics.median(samples))
    return out


def profile(table: list[Row], people: dict[str, ib.Persona], n: int) -> None:
    from django.test import Client

    for row in table:
        if row.persona != "ciso" or "?" in row.path:
            continue
        client = Client(headers=headers_for(row, people))
        for _ in range(5):
            client.get(row.path)
        profiler = cProfile.Profile()
        statuses = []
        t0 = time.perf_counter()
        profiler.enable()
        for _ in range(n):
            statuses.append(client.get(row.path).status_code)
        profiler.disable()
        if set(statuses) != {200}:
            raise SystemExit(f"{row.label} {row.path}: HTTP {sorted(set(statuses))} under the profiler")
        ms = (time.perf_counter() - t0) * 1000 / n
        print(f"\n===== {row.label} ({row.path}): {ms:.1f} ms per request in-process under cProfile =====")
        stats = pstats.Stats(profiler).strip_dirs()
        stats.sort_stats("cumulative").print_stats(25)
        stats.sort_stats("tottime").print_stats(25)


def explain(people: dict[str, ib.Persona]) -> None:
    """EXPLAIN ANALYZE of the searches: the page (51 rows in list order) and the REST count."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from inventory import selectors

    for term in (NO_MATCH, SOME):
        qs = selectors.api_list(people["ciso"].user, {"q": term})
        with CaptureQueriesContext(connection) as ctx:
            list(qs[:51])
            qs.count()
        for label, query in zip(("page", "count"), ctx.captured_queries[-2:], strict=True):
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, COSTS OFF) " + query["sql"])
                plan = [r[0] for r in cursor.fetchall()]
            print(f"\n-- ciso ?q={term} {label}\n" + "\n".join(plan))


def merge(total: ib.Result, part: ib.Result) -> None:
    total.latencies_ms += part.latencies_ms
    total.seconds += part.seconds
    for status, count in part.errors.items():
        total.errors[status] = total.errors.get(status, 0) + count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--apis", type=int, default=50_000)
    parser.add_argument("--components", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300, help="measured requests per row")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--rounds", type=int, default=10, help="rounds the requests are spread over")
    parser.add_argument("--database", default="portal_overhead_bench")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of the search SQL")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="cProfile N requests, no load")
    parser.add_argument(
        "--without-trigram",
        action="store_true",
        help="migrate inventory back before its trigram indexes (0005) for a before/after comparison;"
        " the next run without this flag migrates forward again",
    )
    args = parser.parse_args()

    load_at_start = os.getloadavg()
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.overhead_settings"
    os.environ.update(IN_PROCESS_ENV)
    database_url = f"{ib.PG_SERVER}/{args.database}"
    ib.ensure_database(args.database)
    ib.setup_django(database_url)
    ib.seed(args.apis, args.components)
    if args.without_trigram:
        from django.core.management import call_command

        call_command("migrate", "inventory", BEFORE_TRIGRAM, verbosity=0, interactive=False)
        print(f"inventory migrated back to {BEFORE_TRIGRAM}: no trigram indexes")
    people = {p.key: p for p in ib.personas()}
    for persona in people.values():
        ib.issue_credentials(persona)
    table = rows()

    if args.profile:
        profile(table, people, args.profile)
        return 0
    measured = in_process(table, people, timed=15)
    if args.explain:
        explain(people)

    server = ib.Gunicorn(database_url, args.workers)
    results = {}
    try:
        server.wait_ready()
        for row in table:
            ib.hammer(server.port, row.path, headers_for(row, people), args.warmup, args.concurrency)
        results = {row.label: ib.Result() for row in table}
        loads: list[float] = []
        for r in range(args.rounds):
            share = args.requests // args.rounds + (r < args.requests % args.rounds)
            for row in table:
                part = ib.hammer(server.port, row.path, headers_for(row, people), share, args.concurrency)
                merge(results[row.label], part)
                loads.append(part.load)
        for row in table:
            result = results[row.label]
            rate = len(result.latencies_ms) / result.seconds
            print(
                f"{row.label:32} p50 {result.pct(50):6.1f}  p95 {result.pct(95):6.1f} ms  {rate:6.1f} req/s"
                + (f"  ERRORS {result.errors}" if result.errors else "")
            )
    finally:
        server.stop()
        os.unlink(server.log.name)

    failed = any(r.errors for r in results.values())
    print(
        f"\n{args.apis:,} APIs; {args.requests} requests per row in {args.rounds} interleaved rounds at"
        f" concurrency {args.concurrency} after {args.warmup} warm-up, gunicorn -w {args.workers},"
        f" PostgreSQL. Load average (1 min) before: {load_at_start[0]:.2f}; during:"
        f" {min(loads):.2f}–{max(loads):.2f} ({os.cpu_count()} cores).\n"
    )
    print("| row | path | queries | in-process ms | p50 ms | p95 ms | req/s | ÷ bare |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    rps = {label: len(r.latencies_ms) / r.seconds for label, r in results.items()}
    for row in table:
        result = results[row.label]
        queries, ms = measured[row.label]
        ratio = f"{rps[row.label] / rps[row.bare]:.2f}×" if row.bare else "1"
        print(
            f"| {row.label} | `{row.path}` | {queries} | {ms:.1f} | {result.pct(50):.1f} |"
            f" {result.pct(95):.1f} | {rps[row.label]:.0f} | {ratio} |"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
