"""The default plan against the demo target, and Schemathesis against the same target, side by side.

    .venv/bin/python bench/plan_bench.py                       # default rate (10 req/s per host) and 100/s
    .venv/bin/python bench/plan_bench.py --rates 10 --st-time 60
    .venv/bin/python bench/plan_bench.py --no-schemathesis

Each measured run gets a fresh demo target in a child process (so the scanner does not share a GIL
with the server it measures, and one run's writes, such as mass_assignment's, do not leak into the
next). What runs:

1. **The default plan**: every registered check with intrusive checks allowed (all checks are
   non-intrusive except ``mass_assignment``: what the portal's demo plan runs), on a plain-HTTP demo
   target, through ``run_checks`` with one ``SafeClient`` per check at the given per-host rate.
   The Target is built the way the portal builds it: operations from the demo's own OpenAPI document
   (``targets.operations_from_openapi``), alice and bob logged in through
   ``identities.LoginStep`` (2 requests, counted), their order ids, the registered p95 baseline,
   ``cheap_get="/products"``. Plus the ``tls`` check against a TLS demo (its weak TLS is only
   planted there; cleartext only on plain HTTP). Reported: requests sent, wall time, and for each
   planted flaw (``FLAWS``) whether the check caught it on the operation the table names.
2. **Schemathesis** (the CLI in the venv, v4 syntax) against a fresh plain-HTTP demo for
   ``--st-time`` seconds (``--max-time``; all its checks, alice's bearer token as a header,
   ``--max-response-time`` set to the same baseline × 1.5 the plan uses, a fixed seed). Its NDJSON
   report gives every request and every failed check with the operation; failure kinds are mapped
   to the flaw table where they correspond (``ST_MAPPING``).

Prints both runs' figures, the flaw table side by side and a markdown table for the README.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The engine is pure (no Django): importing it needs only the repo root on sys.path.
from testing.engines.checks import all_checks  # noqa: E402
from testing.engines.checks.base import CheckReport, Outcome, Target  # noqa: E402
from testing.engines.checks.runner import run_checks  # noqa: E402
from testing.engines.checks.targets import operations_from_openapi  # noqa: E402
from testing.engines.demo_target import (  # noqa: E402
    DEMO_USERS,
    FLAWS,
    PERFORMANCE_BASELINE_P95_MS,
    DemoTarget,
    openapi_document,
)
from testing.engines.identities import LoginStep, resolve  # noqa: E402
from testing.engines.safe_http import Limits, SafeClient  # noqa: E402

DEFAULT_RATE = Limits().per_host_rate  # the scanner's default per-host rate
TOLERANCE = 0.5  # Target.latency_tolerance's default: the p95 limit is baseline × 1.5
AIM_REQUESTS, AIM_SECONDS = 400, 10.0

# Schemathesis check → the flaw keys it can correspond to (when its operation is the flaw's), and a
# note when it sees only part of the flaw.
ST_MAPPING: dict[str, tuple[str, ...]] = {
    "ignored_auth": ("auth_enforced", "fail_secure"),
    "missing_required_header": ("auth_enforced",),
    "not_a_server_error": ("input_sanitation", "error_hygiene"),
    "status_code_conformance": ("spec_conformance",),
    "response_schema_conformance": ("spec_conformance",),
    "content_type_conformance": ("spec_conformance",),
    "positive_data_acceptance": ("spec_conformance",),
    "unsupported_method": ("http_methods",),
    "negative_data_rejection": ("mass_assignment",),
    "max_response_time": ("latency_slo",),
    "object_level_authorization": ("bola",),
}
PARTIAL: dict[tuple[str, str], str] = {
    ("error_hygiene", "not_a_server_error"): "the 500 is flagged; the traceback, SQL and paths in it are not",
    ("mass_assignment", "negative_data_rejection"): "an extra property accepted; not that it is stored",
}


# the demo target in a child process -----------------------------------------------------------------


def serve(tls: bool) -> None:
    """Child process: serve the demo on a free loopback port, print its URL, run until stdin closes."""
    with DemoTarget(port=0, tls=tls) as demo:
        print(json.dumps({"url": demo.url, "tls_versions": list(demo.tls_versions)}), flush=True)
        sys.stdin.read()


@contextmanager
def demo_process(*, tls: bool = False) -> Iterator[dict[str, Any]]:
    args = [sys.executable, __file__, "--serve"] + (["--tls"] if tls else [])
    child = subprocess.Popen(  # noqa: S603 - this very script, fixed arguments
        args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert child.stdout is not None
        yield json.loads(child.stdout.readline())
    finally:
        if child.stdin:
            child.stdin.close()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()


# the default plan ------------------------------------------------------------------------------------


@dataclass
class PlanRun:
    rate: float
    requests: int = 0
    seconds: float = 0.0
    reports: dict[str, CheckReport] = field(default_factory=dict)
    caught: dict[str, str] = field(default_factory=dict)  # flaw key → the detail that caught it


def factory_at(rate: float) -> Callable[[int], SafeClient]:
    def factory(budget: int) -> SafeClient:
        return SafeClient(
            allowed_networks=["127.0.0.0/8"],
            limits=Limits(
                connect_timeout=2, read_timeout=5, total_timeout=8, per_host_rate=rate, max_requests=budget
            ),
        )

    return factory


def plan_target(url: str, factory: Any, *, identities: bool) -> tuple[Target, int]:
    """The demo's Target, and the requests its identities cost (one login each)."""
    resolved = []
    if identities:
        for name, username in (("A", "alice"), ("B", "bob")):
            user = DEMO_USERS[username]
            spec = LoginStep(
                name=name,
                path="/auth/login",
                json={"username": user.username, "password": "{{ secrets.password }}"},
                token_path="$.access_token",  # noqa: S106 - a JSON path, not a password
                secrets={"password": user.password},
                object_ids=tuple(str(i) for i in user.order_ids),
            )
            resolved.append(resolve(spec, client=factory(1), base_url=url))
    target = Target(
        base_url=url,
        operations=operations_from_openapi(openapi_document(url)),
        identities=tuple(resolved),
        auth_schemes=("jwt",),
        intrusive_allowed=True,
        latency_p95_ms=PERFORMANCE_BASELINE_P95_MS,
        latency_tolerance=TOLERANCE,
        cheap_get="/products",
        consumers=("checkout-web",),
    )
    return target, len(resolved)


def run_plan(rate: float) -> PlanRun:
    run = PlanRun(rate=rate)
    factory = factory_at(rate)
    keys = [key for key in all_checks() if key != "tls"]
    with demo_process() as demo:
        started = time.monotonic()
        target, logins = plan_target(demo["url"], factory, identities=True)
        report = run_checks(target, keys, client_factory=factory)
        run.seconds += time.monotonic() - started
    run.requests += logins + report.requests_sent
    run.reports.update({r.key: r for r in report.checks})
    with demo_process(tls=True) as demo:
        started = time.monotonic()
        target, _ = plan_target(demo["url"], factory, identities=False)
        tls = run_checks(target, ["tls"], client_factory=factory)
        run.seconds += time.monotonic() - started
    run.requests += tls.requests_sent
    run.reports["tls"] = tls.checks[0]
    for key, flaw in FLAWS.items():
        result = run.reports.get(key)
        if result is None or result.outcome != Outcome.FAILED:
            continue
        hits = [p for p in result.problems if not flaw.operations or p.operation in flaw.operations]
        if hits:
            run.caught[key] = f"{hits[0].detail} on {hits[0].operation}"
    return run


# Schemathesis ----------------------------------------------------------------------------------------


@dataclass
class StRun:
    seconds: float = 0.0
    requests: int = 0
    exit_code: int | None = None
    failures: Counter[tuple[str, str]] = field(default_factory=Counter)  # (check, "METHOD /path") → cases
    caught: dict[str, str] = field(default_factory=dict)
    error: str = ""


def schemathesis_binary() -> str | None:
    for name in ("schemathesis", "st"):
        candidate = ROOT / ".venv" / "bin" / name
        if candidate.exists():
            return str(candidate)
    return shutil.which("schemathesis")


def run_schemathesis(seconds: int, seed: int) -> StRun:
    run = StRun()
    binary = schemathesis_binary()
    if binary is None:
        run.error = "schemathesis is not installed in the venv"
        return run
    with demo_process() as demo, tempfile.TemporaryDirectory(prefix="plan-bench-st-") as reports:
        url = demo["url"]
        login = factory_at(0)(1).request(
            "POST", url + "/auth/login", json={"username": "alice", "password": DEMO_USERS["alice"].password}
        )
        token = json.loads(login.body)["access_token"]
        command = [
            binary,
            "run",
            f"{url}/openapi.json",
            "--max-time",
            str(seconds),
            "--checks",
            "all",
            "--max-response-time",
            f"{PERFORMANCE_BASELINE_P95_MS * (1 + TOLERANCE) / 1000:.3f}",
            "--request-timeout",
            "5",
            "--seed",
            str(seed),
            "--report",
            "ndjson",
            "--report-dir",
            reports,
            "-H",
            f"Authorization: Bearer {token}",
        ]
        started = time.monotonic()
        try:
            done = subprocess.run(  # noqa: S603 - our own venv's binary, fixed arguments
                command,
                capture_output=True,
                text=True,
                timeout=seconds + 120,
                cwd=reports,
                env={**os.environ, "NO_COLOR": "1"},
            )
            run.exit_code = done.returncode
        except subprocess.TimeoutExpired:
            run.error = f"did not finish within {seconds + 120} s"
        run.seconds = time.monotonic() - started
        files = sorted(Path(reports).glob("*.ndjson"))
        if not files:
            run.error = run.error or "no NDJSON report was written"
            return run
        parse_ndjson(files[0], run)
    for (check, operation), _count in run.failures.items():
        for key in ST_MAPPING.get(check, ()):
            if operation in FLAWS[key].operations and key not in run.caught:
                run.caught[key] = f"{check} on {operation}"
    return run


def parse_ndjson(path: Path, run: StRun) -> None:
    with path.open() as lines:
        for line in lines:
            event = json.loads(line)
            finished = event.get("ScenarioFinished")
            if not finished:
                continue
            recorder = finished.get("recorder") or {}
            run.requests += len(recorder.get("interactions") or {})
            cases = recorder.get("cases") or {}
            for case_id, checks in (recorder.get("checks") or {}).items():
                value = (cases.get(case_id) or {}).get("value") or {}
                operation = f"{value.get('method', '?')} {value.get('path', '?')}"
                for check in checks:
                    if check.get("status") == "failure":
                        run.failures[(check["name"], operation)] += 1


# output ------------------------------------------------------------------------------------------------


def ours_other(run: PlanRun) -> list[str]:
    """Distinct problems the plan found beyond the planted flaw of each check."""
    out = []
    for key, report in sorted(run.reports.items()):
        flaw = FLAWS.get(key)
        for p in report.problems:
            if flaw and (not flaw.operations or p.operation in flaw.operations):
                continue
            out.append(f"{key}: {p.detail} on {p.operation or '(the API)'}")
    return out


def st_other(run: StRun) -> list[str]:
    """Schemathesis failures that match no planted flaw, one line per check."""
    grouped: dict[str, list[str]] = {}
    for (check, operation), count in sorted(run.failures.items()):
        if not any(operation in FLAWS[key].operations for key in ST_MAPPING.get(check, ())):
            grouped.setdefault(check, []).append(f"{operation} ({count})")
    return [f"{check}: {', '.join(where)}" for check, where in grouped.items()]


def markdown(plans: list[PlanRun], st: StRun | None, st_time: int) -> str:
    header = "| planted flaw | operation(s) | " + " | ".join(
        f"default plan ({p.rate:g} req/s)" for p in plans[:1]
    )
    header += " | Schemathesis |" if st else " |"
    rows = [header, "|" + "---|" * (header.count("|") - 1)]
    for key, flaw in FLAWS.items():
        where = ", ".join(flaw.operations) or "(TLS of the target)"
        ours = plans[0].caught.get(key, "—")
        cells = [f"`{key}`", where, ours]
        if st:
            theirs = st.caught.get(key, "—")
            check = theirs.split(" on ")[0]
            note = PARTIAL.get((key, check))
            cells.append(f"{theirs} (partial: {note})" if note and theirs != "—" else theirs)
        rows.append("| " + " | ".join(cells) + " |")
    lines = ["\n".join(rows), ""]
    summary = ["| run | requests | wall time | planted flaws caught |", "|---|---|---|---|"]
    for p in plans:
        summary.append(
            f"| default plan, {p.rate:g} req/s per host | {p.requests} | {p.seconds:.1f} s | {len(p.caught)}/{len(FLAWS)} |"
        )
    if st:
        summary.append(
            f"| Schemathesis `--max-time {st_time}` | {st.requests} | {st.seconds:.1f} s | {len(st.caught)}/{len(FLAWS)} |"
        )
    lines.append("\n".join(summary))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tls", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rates", default=f"{DEFAULT_RATE:g},100", help="per-host rates to run the plan at")
    parser.add_argument("--st-time", type=int, default=60, help="Schemathesis --max-time, seconds")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-schemathesis", action="store_true")
    args = parser.parse_args()
    if args.serve:
        serve(args.tls)
        return
    st_time = max(1, min(args.st_time, 600))
    plans = []
    for rate in (float(r) for r in args.rates.split(",") if r.strip()):
        run = run_plan(rate)
        plans.append(run)
        missed = sorted(set(FLAWS) - set(run.caught))
        verdict = (
            "OK" if not missed and run.requests <= AIM_REQUESTS and run.seconds <= AIM_SECONDS else "over aim"
        )
        print(
            f"\n== default plan at {rate:g} req/s per host: {run.requests} requests, {run.seconds:.1f} s, "
            f"{len(run.caught)}/{len(FLAWS)} planted flaws caught ({verdict}; aim ≤ {AIM_REQUESTS} requests, "
            f"≤ {AIM_SECONDS:g} s)"
        )
        for key, report in run.reports.items():
            print(
                f"   {key:18} {report.outcome:7} {report.requests_sent:4}/{report.request_budget:<4} "
                f"{report.duration_ms / 1000:5.2f} s  {report.summary}"
            )
        if missed:
            print("   missed: " + ", ".join(missed))
    st = None
    if not args.no_schemathesis:
        st = run_schemathesis(st_time, args.seed)
        print(
            f"\n== Schemathesis --max-time {st_time}: {st.requests} requests, {st.seconds:.1f} s, exit "
            f"{st.exit_code}, {len(st.caught)}/{len(FLAWS)} planted flaws matched"
            + (f" ({st.error})" if st.error else "")
        )
        for (check, operation), count in sorted(st.failures.items()):
            print(f"   {check:28} {operation:28} {count} case(s)")
    print("\n== planted flaws, side by side\n")
    print(markdown(plans, st, st_time))
    print("\n== other problems found")
    print("default plan:\n" + "\n".join(f"  - {line}" for line in ours_other(plans[0])))
    if st:
        print("Schemathesis (not a planted flaw):\n" + "\n".join(f"  - {line}" for line in st_other(st)))


if __name__ == "__main__":
    main()
