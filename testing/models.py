"""Scheduled testing: plans, the identities they call with, owners' cases, runs, results and findings.

    TestPlan (one per API environment: which checks, when, with whom)
      ├─ PlanIdentity (encrypted at rest, never shown back)
      └─ TestRun (unique per plan + slot, so a redelivered task does nothing twice)
           └─ CheckResult (one per check and run)  →  Finding (deduplicated by fingerprint)
    FunctionalCase (the owners' YAML, per API; runs with every plan of the API)

Statuses are ``TextChoices`` and move only through services (``testing/services``); findings move
through the one workflow shape (``portal.workflow``). The latest outcome is summarised on the plan
(and on the API, ``inventory.Api.test_*``) at the end of each run, so lists never aggregate results.
Result tables are append-mostly and keyed by (plan or api, time) for keyset pages and retention.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.timezone import now

from inventory.models import Api, Environment
from portal.models import ScopedModel

MAX_CHECKS = 40


class Severity(models.TextChoices):
    INFO = "info", "Info"
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


SEVERITY_RANK = {value: rank for rank, value in enumerate(Severity.values)}


class ScheduleKind(models.TextChoices):
    INTERVAL = "interval", "Every N minutes"
    CRON = "cron", "Cron expression"


class TestPlan(ScopedModel):
    """What to test on one environment of one API, when, and how intrusively."""

    __test__ = False  # a model, not a pytest test class

    api = models.ForeignKey(Api, on_delete=models.CASCADE, related_name="test_plans")
    environment = models.OneToOneField(Environment, on_delete=models.CASCADE, related_name="test_plan")
    enabled = models.BooleanField(default=True)
    checks = models.JSONField(default=list, help_text="Keys of the enabled checks.")
    schedule_kind = models.CharField(
        max_length=10, choices=ScheduleKind.choices, default=ScheduleKind.INTERVAL
    )
    interval_minutes = models.PositiveIntegerField(
        default=24 * 60, validators=[MinValueValidator(5), MaxValueValidator(31 * 24 * 60)]
    )
    cron = models.CharField(max_length=100, blank=True)
    timezone = models.CharField(max_length=64, default="UTC")
    # Intrusive checks (writes, bursts) run only on opt-in; on a production environment they also
    # need the owner's explicit opt-in.
    intrusive_allowed = models.BooleanField(default=False)
    production_opt_in = models.BooleanField(default=False)
    # A p95 up to baseline × (1 + tolerance) passes the latency SLO check.
    latency_tolerance = models.DecimalField(
        max_digits=4, decimal_places=2, default=0.5, validators=[MinValueValidator(0), MaxValueValidator(10)]
    )
    # Requests per second to one host while this plan runs; empty: the deployment's default
    # (SCANNER_PER_HOST_RATE). A loopback demo can go faster than a real service should be hit.
    requests_per_second = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    # The base URL as it was when the API was last approved: while a change waits for review
    # (re-review), runs test this one, not a URL typed since (which nobody has reviewed).
    reviewed_base_url = models.CharField(max_length=2048, blank=True)
    # The sweep claims plans with next_run_at <= now and moves it to the next slot.
    next_run_at = models.DateTimeField(null=True, blank=True)
    # Latest outcome, written at the end of each run (lists read these, never the results).
    last_run = models.ForeignKey(
        "TestRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_status = models.CharField(max_length=20, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=now, editable=False)
    updated_at = models.DateTimeField(default=now)

    scope_path = "api__org_unit__path"

    class Meta:
        ordering = ["api", "environment"]
        indexes = [
            # The sweep's claim: due plans only, oldest first.
            models.Index(fields=["next_run_at"], name="testplan_due_idx", condition=models.Q(enabled=True)),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(schedule_kind__in=ScheduleKind.values), name="testplan_schedule_kind_valid"
            ),
            models.CheckConstraint(
                condition=~models.Q(schedule_kind="cron", cron=""), name="testplan_cron_needs_expression"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.environment} plan"


class IdentityKind(models.TextChoices):
    BEARER = "bearer", "Bearer token"
    BASIC = "basic", "HTTP basic"
    API_KEY = "api_key", "API key header"
    OAUTH2 = "oauth2_client_credentials", "OAuth2 client credentials"
    LOGIN = "login", "Login step"


class PlanIdentity(ScopedModel):
    """Someone the plan calls the API as. ``secret`` is the identity's JSON (kind, credentials),
    encrypted with the rotatable key ring (``testing.crypto``); it is never rendered, logged or put
    into evidence. ``hint`` is what the UI shows (kind and a non-secret label)."""

    plan = models.ForeignKey(TestPlan, on_delete=models.CASCADE, related_name="identities")
    name = models.CharField(max_length=30, help_text='"A", "B", or a label; bola uses the first two.')
    kind = models.CharField(max_length=30, choices=IdentityKind.choices)
    secret = models.BinaryField(editable=False)
    hint = models.CharField(max_length=100, blank=True)
    # The origin (scheme://host:port) the identity was set for: it is sent there and nowhere else, so
    # a changed base URL or a preview run cannot carry it to someone else's server.
    origin = models.CharField(max_length=300, blank=True)
    object_ids = models.JSONField(default=list, blank=True, help_text="Ids of objects this identity owns.")
    created_at = models.DateTimeField(default=now, editable=False)
    rotated_at = models.DateTimeField(default=now)

    scope_path = "plan__api__org_unit__path"

    class Meta:
        ordering = ["plan", "name"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "name"], name="planidentity_unique_name"),
            models.CheckConstraint(
                condition=models.Q(kind__in=IdentityKind.values), name="planidentity_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"


class FunctionalCase(ScopedModel):
    """An owners' YAML document of functional cases for one API (validated on save by the service)."""

    api = models.ForeignKey(Api, on_delete=models.CASCADE, related_name="functional_cases")
    name = models.CharField(max_length=100)
    source = models.TextField(validators=[MaxLengthValidator(256 * 1024)])
    case_count = models.PositiveIntegerField(default=0)
    enabled = models.BooleanField(default=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(default=now)

    scope_path = "api__org_unit__path"

    class Meta:
        ordering = ["api", "name"]
        constraints = [models.UniqueConstraint(fields=["api", "name"], name="functionalcase_unique_name")]

    def __str__(self) -> str:
        return self.name


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"
    ERROR = "error", "Error"
    SKIPPED = "skipped", "Skipped"


FINISHED_RUN_STATUSES = (RunStatus.PASSED, RunStatus.FAILED, RunStatus.ERROR, RunStatus.SKIPPED)


class RunTrigger(models.TextChoices):
    SCHEDULE = "schedule", "Schedule"
    MANUAL = "manual", "Run now"
    API = "api", "REST"
    CI = "ci", "CI gate"


class TestRun(ScopedModel):
    """One execution of a plan. ``slot`` names the occasion ("2026-12-03T17:00Z" for a scheduled
    slot, "manual:<uuid>" for a run now): (plan, slot) is unique, so a duplicated task is harmless."""

    __test__ = False  # a model, not a pytest test class

    plan = models.ForeignKey(TestPlan, on_delete=models.CASCADE, related_name="runs")
    api = models.ForeignKey(Api, on_delete=models.CASCADE, related_name="test_runs")
    slot = models.CharField(max_length=64)
    trigger = models.CharField(max_length=20, choices=RunTrigger.choices)
    status = models.CharField(max_length=20, choices=RunStatus.choices, default=RunStatus.QUEUED)
    reason = models.CharField(max_length=300, blank=True, help_text="Why it was skipped or errored.")
    base_url = models.CharField(max_length=2048, help_text="The deployment tested.")
    checks = models.JSONField(default=list, help_text="The check keys this run was asked to run.")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The worker that holds it (conditional UPDATE claim) and how many times it was claimed: a run
    # whose worker died is claimed again by the redelivered task, up to a limit, then failed.
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Scan health: a scan that silently ran unauthenticated must never look green.
    operations_total = models.PositiveIntegerField(default=0)
    operations_reached = models.PositiveIntegerField(default=0)
    authenticated_requests = models.PositiveIntegerField(default=0)
    authenticated_responses = models.PositiveIntegerField(default=0)
    requests_sent = models.PositiveIntegerField(default=0)
    request_budget = models.PositiveIntegerField(default=0)
    skipped_checks = models.JSONField(default=dict, blank=True, help_text="check key → reason")
    checks_passed = models.PositiveSmallIntegerField(default=0)
    checks_failed = models.PositiveSmallIntegerField(default=0)
    checks_errored = models.PositiveSmallIntegerField(default=0)
    worst_severity = models.CharField(max_length=10, blank=True)

    scope_path = "api__org_unit__path"

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["plan", "-created_at", "-id"], name="testrun_plan_time_idx"),
            models.Index(fields=["api", "-created_at", "-id"], name="testrun_api_time_idx"),
            # runs_recover's look at unfinished runs (queued too long, running past the lease).
            models.Index(
                fields=["status", "claimed_at"],
                name="testrun_unfinished_idx",
                condition=models.Q(status__in=["queued", "running"]),
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["plan", "slot"], name="testrun_unique_slot"),
            models.CheckConstraint(
                condition=models.Q(status__in=RunStatus.values), name="testrun_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(trigger__in=RunTrigger.values), name="testrun_trigger_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.api} run {self.pk}"

    @property
    def unauthenticated(self) -> bool:
        return self.authenticated_requests > 0 and self.authenticated_responses == 0


class CheckOutcome(models.TextChoices):
    PASSED = "pass", "Pass"
    FAILED = "fail", "Fail"
    ERROR = "error", "Error"
    SKIPPED = "skipped", "Skipped"


class CheckResult(ScopedModel):
    """One check's result in one run. ``problems`` are the check's problems (detail, operation,
    message, severity); ``evidence`` their redacted, bounded request/response excerpts."""

    run = models.ForeignKey(TestRun, on_delete=models.CASCADE, related_name="results")
    check_key = models.CharField(max_length=50)
    outcome = models.CharField(max_length=10, choices=CheckOutcome.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    owasp = models.CharField(max_length=20, blank=True)
    summary = models.CharField(max_length=500, blank=True)
    problems = models.JSONField(default=list, blank=True)
    evidence = models.JSONField(default=list, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    requests_sent = models.PositiveIntegerField(default=0)
    request_budget = models.PositiveIntegerField(default=0)
    duration_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=now)

    scope_path = "run__api__org_unit__path"

    class Meta:
        ordering = ["run", "check_key"]
        constraints = [
            models.UniqueConstraint(fields=["run", "check_key"], name="checkresult_unique_check"),
            models.CheckConstraint(
                condition=models.Q(outcome__in=CheckOutcome.values), name="checkresult_outcome_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.check_key}: {self.outcome}"


class FindingStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"
    ACCEPTED = "accepted", "Risk accepted"
    FALSE_POSITIVE = "false_positive", "False positive"


class Finding(ScopedModel):
    """A problem, deduplicated across runs by ``fingerprint`` = sha256(api, environment, check,
    operation, detail). Resolved when a later run of its plan passes that check without it,
    reopened when it fails again; accepted risks expire at ``accepted_until``."""

    api = models.ForeignKey(Api, on_delete=models.CASCADE, related_name="findings")
    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="findings")
    plan = models.ForeignKey(TestPlan, on_delete=models.CASCADE, related_name="findings")
    fingerprint = models.CharField(max_length=64, unique=True)
    check_key = models.CharField(max_length=50)
    operation = models.CharField(max_length=600, blank=True)
    detail = models.CharField(max_length=120)
    title = models.CharField(max_length=300)
    message = models.TextField(blank=True, validators=[MaxLengthValidator(2000)])
    severity = models.CharField(max_length=10, choices=Severity.choices)
    owasp = models.CharField(max_length=20, blank=True)
    status = models.CharField(max_length=20, choices=FindingStatus.choices, default=FindingStatus.OPEN)
    status_changed_at = models.DateTimeField(default=now)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    times_seen = models.PositiveIntegerField(default=1)
    first_run = models.ForeignKey(TestRun, null=True, on_delete=models.SET_NULL, related_name="+")
    last_run = models.ForeignKey(TestRun, null=True, on_delete=models.SET_NULL, related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    evidence = models.JSONField(default=list, blank=True, help_text="The latest run's redacted evidence.")
    # Triage: who decided, when, why; an accepted risk also has an expiry.
    triaged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    triaged_at = models.DateTimeField(null=True, blank=True)
    triage_note = models.TextField(blank=True, validators=[MaxLengthValidator(5000)])
    accepted_until = models.DateField(null=True, blank=True)
    # Set when people were told about it (once per finding, not once per run).
    notified_at = models.DateTimeField(null=True, blank=True)

    scope_path = "api__org_unit__path"

    class Meta:
        ordering = ["-last_seen", "-id"]
        indexes = [
            models.Index(fields=["status", "-last_seen", "-id"], name="finding_status_seen_idx"),
            models.Index(fields=["api", "status"], name="finding_api_status_idx"),
            models.Index(fields=["plan", "check_key", "status"], name="finding_plan_check_idx"),
            models.Index(
                fields=["accepted_until"],
                name="finding_acceptance_idx",
                condition=models.Q(status="accepted"),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=FindingStatus.values), name="finding_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(severity__in=Severity.values), name="finding_severity_valid"
            ),
            models.CheckConstraint(
                condition=~models.Q(status="accepted") | models.Q(accepted_until__isnull=False),
                name="finding_accepted_has_expiry",
            ),
        ]

    def __str__(self) -> str:
        return self.title
