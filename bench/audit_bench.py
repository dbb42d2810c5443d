"""The audit log page (``/audit/``) and its filters at 1,000,000 events, on PostgreSQL, before and
after the filter indexes of portal migration 0008, in one run on the same data.

    .venv/bin/python bench/audit_bench.py                  # 1,000,000 events
    .venv/bin/python bench/audit_bench.py --events 200000 --requests 10

What it does:

1. Creates ``portal_audit_bench`` (``--database``) if missing, migrates it, and fills the audit table
   with one ``INSERT … SELECT generate_series`` (about a minute): actions from the registered
   vocabulary with a skewed distribution (a few families hold most events, some actions are rare),
   ~300 actors (a few busy ones, many occasional, plus system actors), object types, and unit paths
   under a root and four divisions (15 % company-wide, no unit). The rows are not a valid hash chain
   (nothing here verifies it). The TRUNCATE trigger of migration 0006 is switched off only around
   the TRUNCATE that empties the table before seeding (as ``tests/conftest.py`` does), then on again.
   A second run finds the events there and skips seeding.
2. Migrates ``portal`` back to 0007 (the indexes before this change), ANALYZEs, and times each filter
   of the page in-process (django.test.Client with an auditor's session on the root unit: the
   median of ``--requests`` sequential requests after a warm-up one), then migrates forward (0008)
   and does the same. For each filter it prints both medians and, with ``--explain``, the plan of
   the page's query after the change (EXPLAIN ANALYZE, BUFFERS).

"Cold" figures (the first read after PostgreSQL's and the OS's caches are emptied) need a restart of
the server and root access to drop the page cache, so they are not measured here; the BUFFERS line
of each plan shows how many pages a request touches, which is what a cold read pays for.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import inventory_bench as ib  # noqa: E402 - after the path is set

BEFORE, AFTER = "0007_notification", "0008_audit_filter_indexes"
ROOT_SLUG = "audit-bench-root"
_EVENTS = 'FROM "portal_auditevent"'


def _unit(slug: str, name: str, parent: Any) -> Any:
    """An org unit with its materialized path, as ``org_unit_create`` makes it (without its audit
    event: this table is about to be filled by hand)."""
    from portal.models import OrgUnit

    unit = OrgUnit.objects.filter(slug=slug).first()
    if unit is None:
        unit = OrgUnit.objects.create(slug=slug, name=name, parent=parent, path=f"/pending-{slug}/")
        unit.path = (parent.path if parent else "/") + f"{unit.pk}/"
        unit.depth = unit.path.count("/") - 2
        unit.save(update_fields=["path", "depth"])
    return unit


def seed(n_events: int) -> list[str]:
    """Fill the audit table with ``n_events`` rows unless it already holds that many. Returns the
    actions, most frequent first (as seeded)."""
    from django.db import connection, transaction

    from portal import audit_vocabulary
    from portal.models import AuditEvent

    actions = sorted(audit_vocabulary.known_actions())
    object_types = sorted(code for code, _label in audit_vocabulary.object_type_choices() if code)
    root = _unit(ROOT_SLUG, "Audit bench", None)
    divisions = [_unit(f"{ROOT_SLUG}-{i}", f"Division {i}", root) for i in range(4)]
    paths = [root.path] + [d.path for d in divisions]
    if AuditEvent.objects.count() == n_events:
        print(f"seed: already there ({n_events:,} events), skipped")
        return actions
    t0 = time.perf_counter()
    table = AuditEvent._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER portal_auditevent_no_truncate")
        cursor.execute(f"TRUNCATE {table}")
        cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER portal_auditevent_no_truncate")
        cursor.execute("SELECT setseed(0.42)")
        # pow(random(), k) skews towards the first elements of each array: a few actions, actors and
        # object types hold most events, the tail is rare (as in a real trail).
        cursor.execute(
            """
            INSERT INTO portal_auditevent (at, actor_id, actor_label, action, object_type, object_id,
                object_label, org_unit_id, org_path, before, after, ip, request_id, prev_hash, hash,
                scheme)
            SELECT now() - ((%(n)s - i) * interval '30 seconds'),
                   a.n, CASE WHEN a.n IS NULL THEN 'system:' || (ARRAY['ci','beat','import'])[1 + i %% 3]
                             ELSE 'user-' || lpad(a.n::text, 3, '0') END,
                   (%(actions)s::text[])[1 + floor(pow(random(), 4) * %(n_actions)s)::int],
                   (%(types)s::text[])[1 + floor(pow(random(), 2) * %(n_types)s)::int],
                   (i %% 50000)::text, 'object ' || (i %% 50000), NULL,
                   CASE WHEN random() < 0.15 THEN '' ELSE
                        (%(paths)s::text[])[1 + floor(random() * %(n_paths)s)::int] END,
                   NULL, NULL, '10.0.0.1', md5(i::text),
                   lpad(to_hex(i - 1), 64, '0'), lpad(to_hex(i), 64, '0'), 'sha256'
            FROM generate_series(1, %(n)s) AS i,
                 LATERAL (SELECT CASE WHEN r < 0.1 THEN NULL
                                      ELSE 1 + floor(pow(r, 3) * 300)::int END AS n
                          FROM (SELECT random() + i * 0 AS r) AS rr) AS a
            """,
            {
                "n": n_events,
                "actions": actions,
                "n_actions": len(actions),
                "types": object_types,
                "n_types": len(object_types),
                "paths": paths,
                "n_paths": len(paths),
            },
        )
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {table}")
    print(f"seed: {n_events:,} events in {time.perf_counter() - t0:.1f} s")
    return actions


def auditor_session() -> str:
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import get_user_model

    from portal.models import Membership, OrgUnit, Role

    user, _ = get_user_model().objects.get_or_create(username="audit-bench-auditor")
    Membership.objects.get_or_create(
        user=user, org_unit=OrgUnit.objects.get(slug=ROOT_SLUG), role=Role.AUDITOR
    )
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    now = int(time.time())
    store.update(
        {
            "_auth_user_id": str(user.pk),
            "_auth_user_backend": ib.MODEL_BACKEND,
            "_auth_user_hash": user.get_session_auth_hash(),
            "_started_at": now,
            "_seen_at": now,
        }
    )
    store.create()
    return store.session_key


def filters(actions: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """(label, query) for each filter: common and rare values of each, combined, and a deep page."""
    from django.db.models import Count

    from portal.models import AuditEvent

    by_action = dict(AuditEvent.objects.order_by().values_list("action").annotate(n=Count("id")))
    common = max(by_action, key=by_action.__getitem__)
    rare = min(by_action, key=by_action.__getitem__)
    families: dict[str, int] = {}
    for action, n in by_action.items():
        families[action.split(".")[0] + "."] = families.get(action.split(".")[0] + ".", 0) + n
    common_family = max(families, key=families.__getitem__)
    rare_family = min(families, key=families.__getitem__)
    by_actor = dict(AuditEvent.objects.order_by().values_list("actor_label").annotate(n=Count("id")))
    busy = max(by_actor, key=by_actor.__getitem__)
    quiet = min(by_actor, key=by_actor.__getitem__)
    by_type = dict(AuditEvent.objects.order_by().values_list("object_type").annotate(n=Count("id")))
    rare_type = min(by_type, key=by_type.__getitem__)
    middle = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() // 2
    return [
        ("no filter", {}),
        ("no filter, deep page (?before=middle)", {"before": middle}),
        (f"actor, busy ({by_actor[busy]:,} events)", {"actor": busy}),
        (f"actor, occasional ({by_actor[quiet]:,})", {"actor": quiet}),
        ("actor, unknown (0)", {"actor": "nobody-at-all"}),
        (f"action family, common ({families[common_family]:,})", {"action": common_family}),
        (f"action family, rare ({families[rare_family]:,})", {"action": rare_family}),
        (f"action, common ({by_action[common]:,})", {"action": common}),
        (f"action, rare ({by_action[rare]:,})", {"action": rare}),
        ("action family, none (0)", {"action": "nothing."}),
        (f"object type, rare ({by_type[rare_type]:,})", {"object_type": rare_type}),
        ("actor occasional + action family common", {"actor": quiet, "action": common_family}),
        ("actor occasional, deep page", {"actor": quiet, "before": middle}),
    ]


def measure(
    session_key: str, cases: list[tuple[str, dict[str, Any]]], n: int
) -> dict[str, tuple[float, float]]:
    """{label: (median ms of the page, median ms of its query on portal_auditevent)}."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.cookies["sessionid"] = session_key
    out = {}
    for label, query in cases:
        response = client.get("/audit/", query)
        if response.status_code != 200:
            raise SystemExit(f"{label}: HTTP {response.status_code}")
        pages, sqls = [], []
        for _ in range(n):
            with CaptureQueriesContext(connection) as ctx:
                t0 = time.perf_counter()
                client.get("/audit/", query)
                pages.append((time.perf_counter() - t0) * 1000)
            sqls.append(1000 * sum(float(q["time"]) for q in ctx.captured_queries if _EVENTS in q["sql"]))
        out[label] = (statistics.median(pages), statistics.median(sqls))
        print(f"  {label:48} page {out[label][0]:8.1f} ms   query {out[label][1]:8.1f} ms")
    return out


def explain(session_key: str, cases: list[tuple[str, dict[str, Any]]]) -> None:
    """The plan of the page's own query (the one reading portal_auditevent) for each filter."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.cookies["sessionid"] = session_key
    for label, query in cases:
        with CaptureQueriesContext(connection) as ctx:
            client.get("/audit/", query)
        sql = next(q["sql"] for q in ctx.captured_queries if _EVENTS in q["sql"])
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql)
            plan = [r[0] for r in cursor.fetchall()]
        print(f"\n-- {label}: {query}\n" + "\n".join(plan))


def migrate_to(target: str) -> None:
    from django.core.management import call_command
    from django.db import connection

    t0 = time.perf_counter()
    call_command("migrate", "portal", target, verbosity=0, interactive=False)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE portal_auditevent")
    print(f"\nportal migrated to {target} in {time.perf_counter() - t0:.1f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=15, help="timed requests per filter and phase")
    parser.add_argument("--database", default="portal_audit_bench")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE each filter after the change")
    args = parser.parse_args()

    load_at_start = os.getloadavg()
    ib.ensure_database(args.database)
    ib.setup_django(f"{ib.PG_SERVER}/{args.database}")
    actions = seed(args.events)
    session_key = auditor_session()
    cases = filters(actions)

    migrate_to(BEFORE)
    before = measure(session_key, cases, args.requests)
    migrate_to(AFTER)
    after = measure(session_key, cases, args.requests)
    if args.explain:
        explain(session_key, cases)

    print(
        f"\n{args.events:,} audit events, PostgreSQL; median of {args.requests} in-process requests of"
        f' /audit/ as an auditor on the root unit (warm cache); "query" is the page\'s read of the'
        f" audit table alone. Load average (1 min) before:"
        f" {load_at_start[0]:.2f}, after: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores).\n"
    )
    print("| filter | page ms before | page ms after | query ms before | query ms after |")
    print("|---|---:|---:|---:|---:|")
    for label, _query in cases:
        (page0, sql0), (page1, sql1) = before[label], after[label]
        print(f"| {label} | {page0:.1f} | {page1:.1f} | {sql0:.2f} | {sql1:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
