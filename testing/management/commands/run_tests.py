"""The CI gate: run an API's test plan now and fail the build on what it finds.

    manage.py run_tests orders --env staging --base-url https://orders-pr-42.internal --wait --fail-on high

Creates a run (trigger "ci") of the plan of the API's environment (``--env``; may be left out when the
API has one plan), optionally against another deployment of it (``--base-url``: http or https, still
called through the scanner's safe client and its allowed networks). Without ``--wait`` the run is
queued for a worker and the command prints its id. With ``--wait`` it runs the checks in this process
(no worker needed, which is what makes it a dependable CI step); if a worker claimed the run first,
it waits for that worker's result instead, up to ``--timeout`` seconds.

Exit status: 0 the gate passed; 1 a check failed at or above ``--fail-on`` (default high);
2 usage errors (unknown API or environment, a bad URL or option); 3 the scan cannot be trusted: it
errored, ran unauthenticated (identities were sent and none was accepted), was skipped, or did not
finish in time.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from inventory.models import Api
from portal.audit import Actor
from testing import selectors
from testing.models import (
    SEVERITY_RANK,
    CheckOutcome,
    CheckResult,
    RunStatus,
    RunTrigger,
    Severity,
    TestPlan,
    TestRun,
)
from testing.services.execution import UNAUTHENTICATED, run_execute
from testing.services.runs import run_create

GATE_FAILED = 1
USAGE = 2
UNTRUSTED = 3
MAX_BASE_URL = 2048
MAX_TIMEOUT = 3600
POLL_SECONDS = 1.0
MAX_PRINTED = 50


def _usage(message: str) -> CommandError:
    return CommandError(message, returncode=USAGE)


def clean_base_url(value: str) -> str:
    value = (value or "").strip()
    if len(value) > MAX_BASE_URL:
        raise _usage(f"--base-url: at most {MAX_BASE_URL} characters.")
    parts = urlsplit("")
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:  # e.g. an unclosed IPv6 bracket
        host = None
    if not host or parts.scheme not in ("http", "https"):
        raise _usage("--base-url: an absolute http(s) URL, e.g. https://orders-pr-42.internal")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise _usage("--base-url: no credentials, query or fragment (identities come from the plan).")
    if any(c.isspace() or ord(c) < 32 for c in value):
        raise _usage("--base-url: no spaces or control characters.")
    return value.rstrip("/")


class Command(BaseCommand):
    help = "Run an API's test plan now (the CI gate); exit 1 when a check fails at or above --fail-on."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("api", metavar="API_SLUG")
        parser.add_argument("--env", default="", help="The environment whose plan runs.")
        parser.add_argument("--base-url", default="", help="Test this deployment instead of the plan's.")
        parser.add_argument("--wait", action="store_true", help="Run now in this process and report.")
        parser.add_argument(
            "--fail-on", default=Severity.HIGH, help="Lowest severity of a failed check that fails the gate."
        )
        parser.add_argument("--timeout", type=float, default=None, help="Seconds the run may take.")

    def handle(self, *args: Any, **options: Any) -> None:
        fail_on = str(options["fail_on"]).lower()
        if fail_on not in SEVERITY_RANK:
            raise _usage(f"--fail-on: one of {', '.join(Severity.values)}.")
        timeout = options["timeout"]
        default_timeout = settings.CELERY_TASK_SOFT_TIME_LIMIT
        if timeout is None:
            timeout = default_timeout
        if not 0 < timeout <= MAX_TIMEOUT:
            raise _usage(f"--timeout: more than 0 and at most {MAX_TIMEOUT} seconds.")
        base_url = clean_base_url(options["base_url"]) if options["base_url"] else None
        plan = self._plan(str(options["api"]), str(options["env"]))

        run, _ = run_create(
            actor=Actor.system("run_tests"), plan=plan, trigger=RunTrigger.CI, base_url=base_url
        )
        self.stdout.write(f"Run {run.pk} of {plan.api.slug} / {plan.environment.name} against {run.base_url}")
        if not options["wait"]:
            self.stdout.write(f"Queued ({run.status}); a worker runs it. Use --wait to gate on the result.")
            return
        finished = self._wait(run, timeout)
        self._report(finished)
        self._gate(finished, fail_on)

    def _plan(self, slug: str, env: str) -> TestPlan:
        api = Api.objects.filter(slug=slug).first()
        if api is None:
            raise _usage(f"No API with the slug {slug[:63]!r}.")
        plans = TestPlan.objects.filter(api=api).select_related("environment", "api")
        if env:
            plan = plans.filter(environment__name=env).first()
            if plan is None:
                names = ", ".join(api.environments.values_list("name", flat=True)) or "none"
                raise _usage(
                    f"{slug} has no test plan for an environment {env[:50]!r} (environments: {names})."
                )
            return plan
        found = list(plans[:2])
        if len(found) != 1:
            names = ", ".join(plans.values_list("environment__name", flat=True)) or "none"
            raise _usage(
                f"{slug} has {'no' if not found else 'several'} test plans; say which with --env ({names})."
            )
        return found[0]

    def _wait(self, run: TestRun, timeout: float) -> TestRun:
        deadline = time.monotonic() + timeout
        current = run_execute(run_id=run.pk, time_limit=timeout) if run.status == RunStatus.QUEUED else run
        # A worker took it first: its result is the run's result.
        while current is not None and current.status in (RunStatus.QUEUED, RunStatus.RUNNING):
            if time.monotonic() >= deadline:
                raise CommandError(
                    f"Run {run.pk} did not finish within {timeout:g} seconds.", returncode=UNTRUSTED
                )
            time.sleep(POLL_SECONDS)
            current.refresh_from_db()
        assert current is not None
        return current

    def _report(self, run: TestRun) -> None:
        write = self.stdout.write
        write(f"Status: {run.status}" + (f" ({run.reason})" if run.reason else ""))
        write(
            f"Health: {run.operations_reached}/{run.operations_total} operations reached, "
            f"{run.requests_sent}/{run.request_budget} requests, "
            f"{run.authenticated_responses}/{run.authenticated_requests} authenticated requests accepted"
        )
        write("Checks:")
        for result in CheckResult.objects.filter(run=run).order_by("check_key"):
            write(f"  {result.check_key:<28} {result.outcome:<8} {result.severity:<9} {result.summary}")
        # The problems of this run's own results: a preview (--base-url) opens no findings, and the
        # gate reads the results, so this is what it judged.
        problems = [
            (str(problem.get("severity", result.severity)), result.check_key, problem)
            for result in CheckResult.objects.filter(run=run, outcome=CheckOutcome.FAILED).order_by(
                "check_key"
            )
            for problem in result.problems
            if isinstance(problem, dict)
        ]
        problems.sort(key=lambda item: -SEVERITY_RANK.get(item[0], 0))
        write(f"Problems found in this run: {len(problems)}")
        for severity, key, problem in problems[:MAX_PRINTED]:
            where = f" {problem.get('operation')}" if problem.get("operation") else ""
            write(f"  {severity:<9} {key}:{where} {problem.get('detail', '')}")
        if len(problems) > MAX_PRINTED:
            write(f"  ... and {len(problems) - MAX_PRINTED} more (see the run's page)")

    def _gate(self, run: TestRun, fail_on: str) -> None:
        failing = selectors.gate_blockers(run, fail_on)
        if failing:
            raise CommandError(
                f"Gate failed: {', '.join(failing)} failed at or above {fail_on} "
                "(accepted risks and false positives excepted).",
                returncode=GATE_FAILED,
            )
        if run.unauthenticated or run.reason == UNAUTHENTICATED:
            raise CommandError(
                f"Gate failed: {UNAUTHENTICATED}; the scan saw only the outside.", returncode=UNTRUSTED
            )
        if run.status != RunStatus.PASSED and run.status != RunStatus.FAILED:
            raise CommandError(
                f"Gate failed: the run {run.status} ({run.reason or 'no reason given'}).",
                returncode=UNTRUSTED,
            )
        self.stdout.write(f"Gate passed (nothing failed at or above {fail_on}).")
