"""Benchmark for testing.engines.safe_http: outbound requests per second per process, 50 targets.

    .venv/bin/python bench/scanner_bench.py                       # 3,000 requests, keep-alive and fresh
    .venv/bin/python bench/scanner_bench.py --requests 10000 --targets 50

A child process serves 50 local targets (one asyncio server per address, 127.0.0.2 … 127.0.0.51, each
a distinct host:port), answering a small JSON body. The measuring process sends requests round-robin
through one ``SafeClient`` with the production limits (per-host rate 10 req/s, timeouts, size cap,
budget), loopback allowed, and a static resolver mapping ``t<N>.bench.test`` to each address, so
every new connection goes through resolve → check → connect. Two modes:

- ``keep-alive``: connections are reused (what a scan of many operations on one API does);
- ``fresh``: ``Connection: close`` on every request, so each one resolves, checks, connects anew.

Target (DESIGN.md, "Budgets"): ≥ 100 outbound requests/s per worker process across many targets.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from testing.engines.safe_http import Limits, SafeClient  # noqa: E402 - needs the repo root on sys.path

TARGET_RPS = 100.0
BODY = b'{"status": "ok", "items": [1, 2, 3]}'


# the targets (child process) --------------------------------------------------------------------------


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            close = b"connection: close" in head.lower()
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                + str(len(BODY)).encode()
                + (b"\r\nConnection: close" if close else b"")
                + b"\r\n\r\n"
                + BODY
            )
            await writer.drain()
            if close:
                break
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def _serve(count: int) -> None:
    servers = []
    targets = []
    for n in range(count):
        address = f"127.0.0.{n + 2}"
        server = await asyncio.start_server(_answer, address, 0, backlog=512)
        servers.append(server)
        targets.append([address, server.sockets[0].getsockname()[1]])
    print(json.dumps(targets), flush=True)
    await asyncio.Event().wait()


# the measurement --------------------------------------------------------------------------------------


class StaticResolver:
    def __init__(self, table: dict[str, str]) -> None:
        self.table = {name: ipaddress.ip_address(address) for name, address in table.items()}

    def resolve(self, host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        return [self.table[host]]


def measure(targets: list[tuple[str, int]], requests: int, *, fresh: bool) -> dict[str, object]:
    names = {f"t{n}.bench.test": address for n, (address, _port) in enumerate(targets)}
    urls = [f"http://t{n}.bench.test:{port}/health" for n, (_address, port) in enumerate(targets)]
    limits = Limits(max_requests=requests + len(urls))  # production defaults otherwise
    headers = {"Connection": "close"} if fresh else {}
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    with SafeClient(
        allowed_networks=["127.0.0.0/8"], limits=limits, resolver=StaticResolver(names)
    ) as client:
        for url in urls:  # warm-up: one request per target
            client.get(url, headers=headers)
        started = time.perf_counter()
        for i in range(requests):
            one = time.perf_counter()
            response = client.get(urls[i % len(urls)], headers=headers)
            latencies.append(time.perf_counter() - one)
            if not response.ok or response.status != 200:
                errors[response.error_kind.value if response.error_kind else str(response.status)] += 1
        took = time.perf_counter() - started
    latencies.sort()
    return {
        "mode": "fresh" if fresh else "keep-alive",
        "requests": requests,
        "seconds": round(took, 2),
        "rps": round(requests / took, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p95_ms": round(latencies[int(len(latencies) * 0.95) - 1] * 1000, 2),
        "errors": dict(errors),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--targets", type=int, default=50)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(args.serve))
        return 0
    if not 1 <= args.targets <= 250:
        parser.error("--targets must be between 1 and 250")

    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    child = subprocess.Popen(  # noqa: S603 - this same script, as the target server
        [sys.executable, __file__, "--serve", str(args.targets)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        targets = [(address, int(port)) for address, port in json.loads(child.stdout.readline())]
        results = [measure(targets, args.requests, fresh=fresh) for fresh in (False, True)]
    finally:
        child.terminate()
        child.wait(timeout=10)
    worst = min(float(str(r["rps"])) for r in results)
    for result in results:
        print(json.dumps(result))
    verdict = "OK" if worst >= TARGET_RPS and not any(r["errors"] for r in results) else "MISSED"
    print(f"{verdict}: {worst:.0f} req/s at worst across {len(targets)} targets (target ≥ {TARGET_RPS:.0f})")
    return 0 if verdict == "OK" else 1


if __name__ == "__main__":
    raise SystemExit(main())
