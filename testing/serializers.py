"""REST shapes of testing: plans, runs with their results, findings, and the findings list's filters.

The write bodies (run now, plan, identity, cases document, triage move) give shape only: the
services check the rules. Explicit fields everywhere; an identity is its name, kind and hint, never its
secret. Problems and evidence are read through ``testing.selectors.problems_of``/``evidence_of``
(only the expected keys, as text, capped), so a malformed stored row cannot shape an answer.
"""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from inventory.models import Api
from portal.field_limits import max_length_of
from portal.models import OrgUnit
from portal.serializers import StrictSerializer
from testing import selectors
from testing.engines.schedule import MAX_INTERVAL_MINUTES, MIN_INTERVAL_MINUTES
from testing.forms import AGE_DAYS_RANGE, BASE_URL_MAX, CHECK_KEY_PATTERN, checks_of_plan
from testing.forms import validate_base_url as base_url_validator
from testing.models import (
    MAX_CHECKS,
    CheckResult,
    Finding,
    FindingStatus,
    FunctionalCase,
    IdentityKind,
    PlanIdentity,
    RunStatus,
    ScheduleKind,
    Severity,
    TestPlan,
    TestRun,
)
from testing.services.cases import MAX_SOURCE_CHARS
from testing.services.findings import FINDING_WORKFLOW, PEOPLE_ACTIONS
from testing.services.identities import MAX_OBJECT_ID, MAX_OBJECT_IDS
from testing.services.plans import DEFAULT_INTERVAL_MINUTES, MAX_RATE, MIN_RATE

_TEXT = {"type": "string"}
_HEADERS = {"type": "array", "items": {"type": "array", "items": _TEXT, "minItems": 2, "maxItems": 2}}
EVIDENCE_SCHEMA: dict[str, Any] = {
    "type": "array",
    "maxItems": selectors.MAX_EVIDENCE_SHOWN,
    "items": {
        "type": "object",
        "properties": {
            "method": _TEXT,
            "url": _TEXT,
            "status": {**_TEXT, "description": "The response status; empty when there was no response."},
            "error": _TEXT,
            "request_headers": _HEADERS,
            "request_body": {**_TEXT, "description": "A redacted excerpt."},
            "response_headers": _HEADERS,
            "response_body": {**_TEXT, "description": "A redacted excerpt."},
            "body_bytes": _TEXT,
            "elapsed_ms": _TEXT,
        },
        "required": [
            "method",
            "url",
            "status",
            "error",
            "request_headers",
            "request_body",
            "response_headers",
            "response_body",
            "body_bytes",
            "elapsed_ms",
        ],  # fmt: skip
    },
}
PROBLEMS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "maxItems": selectors.MAX_PROBLEMS_SHOWN,
    "items": {
        "type": "object",
        "properties": {
            "detail": _TEXT,
            "operation": _TEXT,
            "message": _TEXT,
            "severity": {**_TEXT, "description": "Empty: the check's own severity."},
            "evidence": EVIDENCE_SCHEMA,
        },
        "required": ["detail", "operation", "message", "severity", "evidence"],
    },
}
SKIPPED_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": _TEXT,
    "description": "check → why",
}


@extend_schema_field(EVIDENCE_SCHEMA)
class EvidenceField(serializers.Field):
    def to_representation(self, value: Any) -> list[dict[str, Any]]:
        return [asdict(e) for e in selectors.evidence_of(value)]


@extend_schema_field(PROBLEMS_SCHEMA)
class ProblemsField(serializers.Field):
    def to_representation(self, value: Any) -> list[dict[str, Any]]:
        return [asdict(p) for p in selectors.problems_of(value)]


@extend_schema_field(SKIPPED_SCHEMA)
class SkippedField(serializers.Field):
    def to_representation(self, value: Any) -> dict[str, str]:
        return dict(selectors.skipped_of(value))


class IdentitySerializer(serializers.ModelSerializer):
    class Meta:
        model = PlanIdentity
        fields = ["name", "kind", "hint", "rotated_at"]
        read_only_fields = fields


class PlanSerializer(serializers.ModelSerializer):
    api = serializers.SlugRelatedField(slug_field="slug", read_only=True)  # type: ignore[var-annotated]
    environment = serializers.CharField(source="environment.name", read_only=True)
    checks = serializers.ListField(child=serializers.CharField(), read_only=True)
    schedule = serializers.SerializerMethodField(help_text="The schedule in words.")
    identities = IdentitySerializer(many=True, read_only=True)

    class Meta:
        model = TestPlan
        fields = [
            "id", "api", "environment", "enabled", "checks", "schedule_kind", "interval_minutes", "cron",
            "timezone", "schedule", "intrusive_allowed", "production_opt_in", "latency_tolerance",
            "requests_per_second", "next_run_at", "last_run", "last_status", "last_run_at", "identities",
        ]  # fmt: skip
        read_only_fields = fields

    def get_schedule(self, plan: TestPlan) -> str:
        return selectors.schedule_in_words(plan)


RUN_FIELDS = [
    "id", "api", "plan", "environment", "slot", "trigger", "status", "reason", "base_url", "checks",
    "created_at", "started_at", "finished_at", "operations_total", "operations_reached",
    "authenticated_requests", "authenticated_responses", "unauthenticated", "requests_sent",
    "request_budget", "skipped_checks", "checks_passed", "checks_failed", "checks_errored", "worst_severity",
]  # fmt: skip


class RunSerializer(serializers.ModelSerializer):
    api = serializers.SlugRelatedField(slug_field="slug", read_only=True)  # type: ignore[var-annotated]
    environment = serializers.CharField(source="plan.environment.name", read_only=True)
    checks = serializers.ListField(child=serializers.CharField(), read_only=True)
    unauthenticated = serializers.BooleanField(
        read_only=True, help_text="Credentials were sent and not one answer was authenticated."
    )
    skipped_checks = SkippedField(read_only=True)

    class Meta:
        model = TestRun
        fields = RUN_FIELDS
        read_only_fields = fields


class CheckResultSerializer(serializers.ModelSerializer):
    problems = ProblemsField(read_only=True)
    evidence = EvidenceField(read_only=True)

    class Meta:
        model = CheckResult
        fields = [
            "check_key", "outcome", "severity", "owasp", "summary", "problems", "evidence",
            "requests_sent", "request_budget", "duration_ms",
        ]  # fmt: skip
        read_only_fields = fields


class RunDetailSerializer(RunSerializer):
    results = CheckResultSerializer(many=True, read_only=True)

    class Meta(RunSerializer.Meta):
        fields = [*RUN_FIELDS, "results"]
        read_only_fields = fields


FINDING_FIELDS = [
    "id", "api", "environment", "plan", "fingerprint", "check_key", "operation", "detail", "title",
    "severity", "owasp", "status", "status_changed_at", "first_seen", "last_seen", "times_seen",
    "first_run", "last_run", "resolved_at", "accepted_until",
]  # fmt: skip


class FindingSerializer(serializers.ModelSerializer):
    api = serializers.SlugRelatedField(slug_field="slug", read_only=True)  # type: ignore[var-annotated]
    environment = serializers.CharField(source="environment.name", read_only=True)

    class Meta:
        model = Finding
        fields = FINDING_FIELDS
        read_only_fields = fields


class FindingDetailSerializer(FindingSerializer):
    evidence = EvidenceField(read_only=True, help_text="The latest run's redacted evidence.")

    class Meta(FindingSerializer.Meta):
        fields = [*FINDING_FIELDS, "message", "triaged_at", "triage_note", "evidence"]
        read_only_fields = fields


class PlanQuerySerializer(serializers.Serializer):
    api = serializers.SlugField(
        required=False, max_length=max_length_of(Api, "slug"), help_text="An API's slug"
    )


class FindingQuerySerializer(serializers.Serializer):
    """The REST list's filters, read strictly (portal.api_query); the same names and bounds as the
    page's FindingFilterForm."""

    severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    check = serializers.RegexField(
        CHECK_KEY_PATTERN, required=False, max_length=max_length_of(Finding, "check_key")
    )
    owasp = serializers.ChoiceField(choices=selectors.OWASP_CHOICES, required=False)
    unit = serializers.SlugField(
        required=False, max_length=max_length_of(OrgUnit, "slug"), help_text="Owner unit (and below)"
    )
    older_than_days = serializers.IntegerField(
        required=False,
        min_value=AGE_DAYS_RANGE[0],
        max_value=AGE_DAYS_RANGE[1],
        help_text="Only findings first seen more than this many days ago.",
    )
    status = serializers.ChoiceField(choices=FindingStatus.choices, required=False)


# --- Writes -------------------------------------------------------------------------------------------------


class RunRequestSerializer(StrictSerializer):
    """``POST /plans/<id>/runs/``: both optional; the plan's environment and checks by default."""

    base_url = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=BASE_URL_MAX,
        validators=[base_url_validator],
        help_text="Another deployment to test (e.g. a preview of a pull request): an absolute http(s) URL "
        "without credentials, query or fragment. The scanner's network policy still applies.",
    )
    checks = serializers.ListField(
        child=serializers.RegexField(CHECK_KEY_PATTERN, max_length=max_length_of(Finding, "check_key")),
        required=False,
        max_length=MAX_CHECKS,
        help_text="Some of the plan's checks; all of them when absent.",
    )

    def validate_base_url(self, value: str) -> str:
        return value.strip().rstrip("/")

    def validate_checks(self, value: list[str]) -> list[str]:
        try:
            return checks_of_plan(self.context["plan"], value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict["checks"]) from None


class RunAcceptedSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    status = serializers.ChoiceField(choices=RunStatus.choices, read_only=True)
    reason = serializers.CharField(read_only=True, help_text="Why a run was skipped (a downtime window).")
    url = serializers.CharField(read_only=True, help_text="The run's REST URL: poll it for the outcome.")


class PlanWriteSerializer(StrictSerializer):
    """``PUT /plans/<id>/``: the whole plan (an absent optional field takes its default, not the
    stored value). ``plan_save`` checks the checks, the cron expression and the timezone."""

    checks = serializers.ListField(
        child=serializers.RegexField(CHECK_KEY_PATTERN, max_length=max_length_of(Finding, "check_key")),
        min_length=1,
        max_length=MAX_CHECKS,
        help_text="Keys of registered checks; intrusive ones need intrusive_allowed.",
    )
    enabled = serializers.BooleanField(required=False, default=True)
    schedule_kind = serializers.ChoiceField(choices=ScheduleKind.choices)
    interval_minutes = serializers.IntegerField(
        required=False,
        default=DEFAULT_INTERVAL_MINUTES,
        min_value=MIN_INTERVAL_MINUTES,
        max_value=MAX_INTERVAL_MINUTES,
        help_text="For schedule_kind interval.",
    )
    cron = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=max_length_of(TestPlan, "cron"),
        help_text="For schedule_kind cron: five fields, read in the timezone.",
    )
    timezone = serializers.CharField(
        required=False, default="UTC", max_length=max_length_of(TestPlan, "timezone"), help_text="IANA name"
    )
    intrusive_allowed = serializers.BooleanField(required=False, default=False)
    production_opt_in = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Production environments: the owners' opt-in to intrusive checks.",
    )
    latency_tolerance = serializers.DecimalField(
        required=False,
        default=Decimal("0.5"),
        max_digits=4,
        decimal_places=2,
        min_value=Decimal(0),
        max_value=Decimal(10),
        help_text="A p95 up to baseline × (1 + tolerance) passes.",
    )
    requests_per_second = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=MIN_RATE,
        max_value=MAX_RATE,
        help_text="Requests per second to one host; null: the deployment's default.",
    )


@extend_schema_field({"type": "object", "additionalProperties": {}})
class SecretField(serializers.DictField):
    """The identity's fields by kind; never answered back."""


class IdentityWriteSerializer(StrictSerializer):
    """``PUT /plans/<id>/identities/<name>/``: create or replace. ``secret`` holds the kind's fields:
    bearer ``token``; basic ``username``, ``password``; api_key ``header``, ``value``;
    oauth2_client_credentials ``token_url``, ``client_id``, ``client_secret``, ``scope``, ``auth``;
    login ``path``, ``json``, ``token_path``, ``header``, ``method``, ``secrets``."""

    kind = serializers.ChoiceField(choices=IdentityKind.choices)
    secret = SecretField(write_only=True, child=serializers.JSONField())
    object_ids = serializers.ListField(
        child=serializers.CharField(max_length=MAX_OBJECT_ID),
        required=False,
        default=list,
        max_length=MAX_OBJECT_IDS,
        help_text="Ids of objects this identity owns (the BOLA check tries them as the other one).",
    )


class CaseWriteSerializer(StrictSerializer):
    """``PUT /apis/<slug>/cases/<name>/``: the YAML document as a JSON string."""

    # The body's key is "source"; DRF's Field types its own ``source`` attribute, which this shadows.
    source = serializers.CharField(  # type: ignore[assignment]
        max_length=MAX_SOURCE_CHARS,
        trim_whitespace=False,
        help_text="The functional cases, YAML. A refusal names the line: 'Line 12: …'.",
    )


class CaseSerializer(serializers.ModelSerializer):
    api = serializers.SlugRelatedField(slug_field="slug", read_only=True)  # type: ignore[var-annotated]

    class Meta:
        model = FunctionalCase
        fields = ["api", "name", "case_count", "enabled", "updated_at"]
        read_only_fields = fields


class FindingTransitionSerializer(StrictSerializer):
    """A person's triage move. A move the finding's status does not allow is a 409."""

    action = serializers.ChoiceField(choices=[(a, FINDING_WORKFLOW.move(a).label) for a in PEOPLE_ACTIONS])
    note = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=FINDING_WORKFLOW.note_max_length,
        help_text="Why: required to accept a risk or mark a false positive.",
    )
    accepted_until = serializers.DateField(
        required=False,
        allow_null=True,
        default=None,
        help_text="accept_risk only: the last day of the acceptance (within a year).",
    )
