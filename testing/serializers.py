"""REST shapes of testing: plans, runs with their results, findings, and the findings list's filters.

Read-only for now. Explicit fields everywhere; an identity is its name, kind and hint, never its
secret. Problems and evidence are read through ``testing.selectors.problems_of``/``evidence_of``
(only the expected keys, as text, capped), so a malformed stored row cannot shape an answer.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from inventory.models import Api
from portal.field_limits import max_length_of
from portal.models import OrgUnit
from testing import selectors
from testing.forms import AGE_DAYS_RANGE, CHECK_KEY_PATTERN
from testing.models import CheckResult, Finding, FindingStatus, PlanIdentity, Severity, TestPlan, TestRun

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
            "next_run_at", "last_run", "last_status", "last_run_at", "identities",
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
