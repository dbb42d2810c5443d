"""Benchmark for inventory.engines.discovery: parse + aggregate + match over a generated access log.

    .venv/bin/python bench/discovery_bench.py                 # 1,000,000 nginx lines
    .venv/bin/python bench/discovery_bench.py --format json --lines 200000

The log is written to a temporary file, streaming (never held in memory). Each measurement runs in
a fresh child process so ``ru_maxrss`` (peak RSS) belongs to that run alone; comparing the peak at
100k lines with the peak at the full size shows memory is flat in the number of lines.
Targets: full run ≤ 30 s, peak RSS at 1M ≈ peak RSS at 100k.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from itertools import islice
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from inventory.engines.discovery import (  # noqa: E402 - needs the repo root on sys.path
    KnownApi,
    KnownOperation,
    Matcher,
    aggregate,
    iter_records,
)

TARGET_SECONDS = 30.0
DEFAULT_HOST = "gateway.example.com"

# host → path template generators. The random parts collapse into a bounded set of templates.
ROUTES = {
    "pay.example.com": [
        ("GET", "/v1/charges/{n}"),
        ("POST", "/v1/charges"),
        ("GET", "/v1/customers/{uuid}"),
        ("GET", "/v1/legacy/refunds"),
        ("DELETE", "/v1/charges/{n}"),  # undocumented method
        ("GET", "/v1/internal/debug/{hex}"),  # undocumented path
    ],
    "orders.example.com": [
        ("GET", "/api/orders/{n}/items"),
        ("PUT", "/api/orders/{n}"),
        ("GET", "/api/files/{token}"),
    ],
    "old.example.com": [("GET", "/things/{n}")],  # retired API
    "shadow-1.example.com": [("GET", "/admin/users/{n}"), ("POST", "/graphql")],
    "shadow-2.example.com:8443": [("GET", "/metrics")],
    "": [("GET", "/healthz"), ("GET", "/wp-login.php"), ("GET", "/.env")],  # → DEFAULT_HOST
}
GARBAGE = [
    "\\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\\xfc\\x03\\x03",
    "GARBAGE LINE",
    '1.2.3.4 - - [10/Oct/2024:13:55:36 +0000] "BREW /pot HTTP/1.1" 418 0 "-" "-"',
    '1.2.3.4 - - [10/Oct/2024:13:55:36 +0000] "GET /truncated',
    '{"method": "GET", "path": "/x", "status": 999}',
]

APIS = [
    KnownApi(
        "pay",
        ["https://pay.example.com/v1"],
        False,
        [
            KnownOperation("GET", "/charges/{chargeId}", False, "pay.get_charge"),
            KnownOperation("POST", "/charges", False, "pay.create_charge"),
            KnownOperation("GET", "/customers/{customerId}", False, "pay.get_customer"),
            KnownOperation("GET", "/legacy/refunds", True, "pay.legacy_refunds"),
        ],
    ),
    KnownApi(
        "orders",
        ["https://orders.example.com/api"],
        False,
        [
            KnownOperation("GET", "/orders/{orderId}/items", False, "orders.items"),
            KnownOperation("PUT", "/orders/{orderId}", False, "orders.update"),
        ],
    ),
    KnownApi(
        "old", ["https://old.example.com"], True, [KnownOperation("GET", "/things/{id}", False, "old.thing")]
    ),
]


def _fill(template: str, rnd: random.Random) -> str:
    return (
        template.replace("{n}", str(rnd.randrange(1, 10_000_000)))
        .replace("{uuid}", str(uuid.UUID(int=rnd.getrandbits(128))))
        .replace("{hex}", f"{rnd.getrandbits(128):032x}")
        .replace(
            "{token}",
            f"tk{rnd.randrange(10)}" + "".join(rnd.choices("ABCDEFGHJKabcdefghjk0123456789_-", k=28)),
        )
    )


def generate(path: Path, n: int, fmt: str, seed: int = 7) -> None:
    rnd = random.Random(seed)
    routes = [(host, method, tpl) for host, items in ROUTES.items() for method, tpl in items]
    statuses = [200] * 12 + [201, 204, 301, 304, 400, 401, 403, 404, 404, 429, 500, 502]
    base = 1_728_568_536
    with path.open("w", encoding="utf-8") as fh:
        buf: list[str] = []
        for i in range(n):
            if i % 200 == 199:
                buf.append(GARBAGE[i % len(GARBAGE)])
            else:
                host, method, tpl = routes[rnd.randrange(len(routes))]
                target = _fill(tpl, rnd)
                if rnd.random() < 0.3:
                    target += f"?page={rnd.randrange(50)}"
                status = statuses[rnd.randrange(len(statuses))]
                ts = base + i // 50
                if fmt == "json":
                    buf.append(
                        json.dumps(
                            {
                                "time": ts,
                                "host": host or None,
                                "method": method,
                                "uri": target,
                                "status": status,
                            }
                        )
                    )
                else:
                    tm = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(ts))
                    buf.append(
                        f'10.{i % 250}.{i % 7}.{i % 13} - - [{tm}] "{method} {target} HTTP/1.1" {status} '
                        f'{rnd.randrange(20000)} "-" "bench/1.0" "{host or "-"}"'
                    )
            if len(buf) >= 10_000:
                fh.write("\n".join(buf) + "\n")
                buf.clear()
        if buf:
            fh.write("\n".join(buf) + "\n")


def measure(path: str, limit: int, fmt: str) -> dict:
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    with open(path, encoding="utf-8", errors="replace") as fh:
        agg = aggregate(iter_records(islice(fh, limit), fmt=fmt, default_host=DEFAULT_HOST))
    t1 = time.perf_counter()
    matcher = Matcher(APIS)
    kinds = Counter(matcher.match(*key).kind for key in agg.endpoints)
    t2 = time.perf_counter()
    return {
        "lines": agg.lines,
        "parsed": agg.parsed,
        "skipped": agg.skipped,
        "endpoints": len(agg.endpoints),
        "kinds": dict(sorted(kinds.items())),
        "parse_aggregate_s": t1 - t0,
        "match_s": t2 - t1,
        "wall_s": t2 - t0,
        "cpu_s": time.process_time() - cpu0,
        "rss_start_kb": rss_before,
        "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--format", choices=("nginx", "json"), default="nginx")
    ap.add_argument("--measure", nargs=2, metavar=("FILE", "LIMIT"), help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.measure:  # child mode
        print(json.dumps(measure(args.measure[0], int(args.measure[1]), args.format)))
        return 0

    with tempfile.TemporaryDirectory(prefix="discovery-bench-") as tmp:
        log = Path(tmp) / f"access.{args.format}.log"
        t0 = time.perf_counter()
        generate(log, args.lines, args.format)
        size_mb = log.stat().st_size / 1e6
        print(
            f"generated {args.lines:,} {args.format} lines ({size_mb:,.0f} MB) in {time.perf_counter() - t0:.1f}s"
        )

        results = {}
        for limit in sorted({min(100_000, args.lines), args.lines}):
            out = subprocess.run(  # noqa: S603 - our own script, fixed arguments
                [sys.executable, __file__, "--format", args.format, "--measure", str(log), str(limit)],
                check=True,
                capture_output=True,
                text=True,
                env={**os.environ, "PYTHONHASHSEED": "0"},
            )
            r = results[limit] = json.loads(out.stdout)
            print(
                f"{r['lines']:>9,} lines: wall {r['wall_s']:6.2f}s cpu {r['cpu_s']:6.2f}s "
                f"(parse+aggregate {r['parse_aggregate_s']:.2f}s, match {r['match_s'] * 1000:.1f}ms) "
                f"{r['lines'] / r['wall_s']:>9,.0f} lines/s | peak RSS {r['peak_rss_kb'] / 1024:6.1f} MB "
                f"(start {r['rss_start_kb'] / 1024:.1f} MB) | parsed {r['parsed']:,} skipped {r['skipped']:,} "
                f"endpoints {r['endpoints']} {r['kinds']}"
            )

    full = results[args.lines]
    small = results[min(100_000, args.lines)]
    growth = full["peak_rss_kb"] / small["peak_rss_kb"]
    ok_time = full["wall_s"] <= TARGET_SECONDS
    ok_mem = growth < 1.10
    print(
        f"target ≤ {TARGET_SECONDS:.0f}s: {'OK' if ok_time else 'MISSED'} ({full['wall_s']:.1f}s); "
        f"flat memory: {'OK' if ok_mem else 'MISSED'} (peak RSS ×{growth:.3f} from 100k to {args.lines:,} lines)"
    )
    if full["cpu_s"] < 0.7 * full["wall_s"]:
        print(
            f"note: CPU time {full['cpu_s']:.1f}s is well below wall time: the machine is busy "
            f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs), so wall time is inflated."
        )
    return 0 if ok_time and ok_mem else 1


if __name__ == "__main__":
    sys.exit(main())
