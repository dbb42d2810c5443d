from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from inventory.engines import availability, discovery, sbom
from inventory.forms import COMPLETENESS_RANGE, SEARCH_MAX_LENGTH
from inventory.models import (
    Api,
    ApiDependency,
    ApiStatus,
    AuthScheme,
    AvailabilityWindow,
    Classification,
    Component,
    ConsumerService,
    DiscoveredEndpoint,
    Environment,
    Exposure,
    Lifecycle,
    Limits,
    Operation,
    PerformanceBaseline,
    Protocol,
    SbomImport,
    Server,
    Spec,
)
from inventory.selectors import SORTS
from inventory.services.discovered import DEFAULT_HOST_MAX_LENGTH
from inventory.services.environments import BASE_URL_MAX_LENGTH, SERVER_ADDRESS_MAX_LENGTH
from inventory.services.review import API_WORKFLOW
from portal.api_fields import WallClockDateTimeField
from portal.field_limits import digits_of, max_length_of, value_range_of
from portal.models import OrgUnit
from portal.serializers import StrictModelSerializer, StrictSerializer
from portal.validators import validate_upload_size

# What the environment service accepts as a base URL, said as a pattern a generated client can
# follow: an absolute URL of one of these schemes, a host, no credentials, query or fragment.
_H = "[0-9a-fA-F]{1,4}"
_IPV6 = (  # the IPv6 forms urlsplit accepts in brackets, IPv4-embedded and zones left out
    f"({_H}:){{7}}{_H}|({_H}:){{1,7}}:|({_H}:){{1,6}}:{_H}|({_H}:){{1,5}}(:{_H}){{1,2}}"
    f"|({_H}:){{1,4}}(:{_H}){{1,3}}|({_H}:){{1,3}}(:{_H}){{1,4}}|({_H}:){{1,2}}(:{_H}){{1,5}}"
    f"|{_H}:(:{_H}){{1,6}}|:((:{_H}){{1,7}}|:)"
)
BASE_URL_PATTERN = (
    rf"^(https?|grpcs?|wss?)://([A-Za-z0-9.-]+|\[({_IPV6})\])(:[0-9]{{1,5}})?"
    r"(/[A-Za-z0-9._~%!$&'()*+,;=:@/-]*)?$"
)


class EnvironmentSerializer(StrictModelSerializer):
    base_urls = serializers.ListField(
        child=serializers.RegexField(
            BASE_URL_PATTERN,
            max_length=BASE_URL_MAX_LENGTH,
            error_messages={
                "invalid": "This is not an absolute URL (https://host/path, without credentials, "
                "query or fragment)."
            },
        ),
        min_length=1,
        max_length=Limits.BASE_URLS,
    )

    class Meta:
        model = Environment
        fields = ["name", "is_production", "base_urls"]


class ApiSerializer(serializers.ModelSerializer):
    org_unit: serializers.SlugRelatedField[OrgUnit] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    environments = EnvironmentSerializer(many=True, read_only=True)
    technical_contact_email = serializers.EmailField(read_only=True, allow_blank=True)

    class Meta:
        model = Api
        fields = [
            "slug",
            "name",
            "description",
            "org_unit",
            "technical_contact_name",
            "technical_contact_email",
            "lifecycle",
            "version",
            "exposure",
            "data_classification",
            "handles_personal_data",
            "auth_schemes",
            "protocols",
            "availability_target",
            "status",
            "revision",
            "review_comment",
            "completeness",
            "missing",
            "has_spec",
            "component_count",
            "confirmed_at",
            "created_at",
            "updated_at",
            "environments",
        ]
        read_only_fields = fields


def api_list_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """What ApiListSerializer makes of each API, from its ``selectors.LIST_ROW_VALUES`` row: the same
    keys and values (tests/inventory/test_api_list.py compares the two), built without a model
    instance and a serializer field per value, which cost ~4 ms of a REST page of 50. The time is
    written as DRF writes it: in the current timezone, ISO 8601, UTC as "Z"."""
    zone = timezone.get_current_timezone()
    out = []
    for row in rows:
        updated_at = row["updated_at"].astimezone(zone).isoformat()
        if updated_at.endswith("+00:00"):
            updated_at = updated_at[:-6] + "Z"
        out.append(
            {
                "slug": row["slug"],
                "name": row["name"],
                "org_unit": row["org_unit__slug"],
                "lifecycle": row["lifecycle"],
                "exposure": row["exposure"],
                "data_classification": row["data_classification"],
                "status": row["status"],
                "completeness": row["completeness"],
                "has_spec": row["has_spec"],
                "component_count": row["component_count"],
                "updated_at": updated_at,
            }
        )
    return out


class ApiListSerializer(serializers.ModelSerializer):
    """The REST list's rows, as documented; the list builds them with ``api_list_rows``."""

    org_unit: serializers.SlugRelatedField[OrgUnit] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )

    class Meta:
        model = Api
        fields = [
            "slug",
            "name",
            "org_unit",
            "lifecycle",
            "exposure",
            "data_classification",
            "status",
            "completeness",
            "has_spec",
            "component_count",
            "updated_at",
        ]
        read_only_fields = fields


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "string", "enum": AuthScheme.values},
        "maxItems": Limits.AUTH_SCHEMES,
        # The service's rule, said in the schema: "none" stands alone.
        "anyOf": [{"items": {"not": {"enum": [AuthScheme.NONE]}}}, {"maxItems": 1}],
    }
)
class AuthSchemesField(serializers.ListField):
    pass


class ApiWriteSerializer(StrictSerializer):
    """What a form or a CI job may set. Status, completeness and ownership moves are not here.

    The PUT-by-slug upsert and PATCH: the slug is in the URL, the unit needed only to create."""

    org_unit = serializers.SlugField(
        required=False,
        max_length=max_length_of(OrgUnit, "slug"),
        help_text="Slug of the owning team (required to create).",
    )
    name = serializers.CharField(max_length=max_length_of(Api, "name"))
    description = serializers.CharField(
        required=False, allow_blank=True, max_length=max_length_of(Api, "description")
    )
    technical_contact_name = serializers.CharField(
        required=False, allow_blank=True, max_length=max_length_of(Api, "technical_contact_name")
    )
    technical_contact_email = serializers.EmailField(required=False, allow_blank=True)
    lifecycle = serializers.ChoiceField(choices=Lifecycle.choices, required=False)
    version = serializers.CharField(
        required=False, allow_blank=True, max_length=max_length_of(Api, "version")
    )
    exposure = serializers.ChoiceField(choices=Exposure.choices, required=False)
    data_classification = serializers.ChoiceField(choices=Classification.choices, required=False)
    handles_personal_data = serializers.BooleanField(required=False)
    auth_schemes = AuthSchemesField(
        child=serializers.ChoiceField(choices=AuthScheme.choices),
        required=False,
        max_length=Limits.AUTH_SCHEMES,
    )
    protocols = serializers.ListField(
        child=serializers.ChoiceField(choices=Protocol.choices), required=False, max_length=Limits.PROTOCOLS
    )
    availability_target = serializers.DecimalField(
        *digits_of(Api, "availability_target"),
        min_value=value_range_of(Api, "availability_target")[0],
        max_value=value_range_of(Api, "availability_target")[1],
        required=False,
        allow_null=True,
        coerce_to_string=False,
    )
    environments = EnvironmentSerializer(many=True, required=False, max_length=Limits.ENVIRONMENTS)  # type: ignore[call-arg]  # ListSerializer takes it

    def validate_environments(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # A PATCH is partial, and DRF makes nested serializers partial too; but the list replaces
        # the API's environments, so each one must be whole (a nameless one was a 500).
        if not self.partial:
            return value
        whole = EnvironmentSerializer(data=self.initial_data.get("environments"), many=True)
        whole.is_valid(raise_exception=True)
        return list(whole.validated_data)


class ApiCreateSerializer(ApiWriteSerializer):
    """POST to the collection: the new record's slug and owning team are required."""

    org_unit = serializers.SlugField(
        max_length=max_length_of(OrgUnit, "slug"), help_text="Slug of the owning team."
    )
    slug = serializers.SlugField(
        max_length=max_length_of(Api, "slug"), help_text="Lowercase identifier used by CI and URLs."
    )


class ApiQuerySerializer(serializers.Serializer):
    """The REST list's filters, read strictly (portal.api_query); ApiFilterForm then applies them,
    so the page, the CSV export and the REST list filter alike. Same names as the form's fields
    (tests/inventory/test_api_query.py keeps them together)."""

    q = serializers.CharField(
        required=False, allow_blank=True, max_length=SEARCH_MAX_LENGTH, help_text="Search"
    )
    unit = serializers.SlugField(
        required=False, max_length=max_length_of(OrgUnit, "slug"), help_text="Owner unit (and below)"
    )
    lifecycle = serializers.ChoiceField(choices=Lifecycle.choices, required=False)
    exposure = serializers.ChoiceField(choices=Exposure.choices, required=False)
    data_classification = serializers.ChoiceField(choices=Classification.choices, required=False)
    status = serializers.ChoiceField(choices=ApiStatus.choices, required=False)
    has_spec = serializers.BooleanField(required=False)
    min_completeness = serializers.IntegerField(
        required=False, min_value=COMPLETENESS_RANGE[0], max_value=COMPLETENESS_RANGE[1]
    )
    max_completeness = serializers.IntegerField(
        required=False, min_value=COMPLETENESS_RANGE[0], max_value=COMPLETENESS_RANGE[1]
    )
    stale = serializers.BooleanField(required=False, help_text="Stale only")
    sort = serializers.ChoiceField(choices=[(k, k) for k in SORTS], required=False)


class DiscoveredQuerySerializer(serializers.Serializer):
    finding = serializers.ChoiceField(choices=DiscoveredEndpoint.Finding.choices, required=False)
    state = serializers.ChoiceField(choices=DiscoveredEndpoint.State.choices, required=False)


class TransitionSerializer(StrictSerializer):
    action = serializers.ChoiceField(choices=API_WORKFLOW.choices())
    comment = serializers.CharField(
        required=False, allow_blank=True, max_length=API_WORKFLOW.note_max_length, default=""
    )
    revision = serializers.IntegerField(
        required=False,
        min_value=1,
        allow_null=True,
        default=None,
        help_text="The revision you reviewed (the API's `revision` when you read it). Required to "
        "approve or reinstate: refused if the record changed since.",
    )


class SpecUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        validators=[validate_upload_size],
        help_text="An OpenAPI 3.0 or 3.1 document, YAML or JSON. Anything else is a 400.",
    )


class UploadSerializer(serializers.Serializer):
    """An SBOM or lock file for the components of an API."""

    file = serializers.FileField(
        validators=[validate_upload_size],
        help_text="One of the formats listed under `format`; anything else is a 400.",
    )
    format = serializers.ChoiceField(
        choices=sbom.FORMATS, required=False, help_text="Detected from the content when left out."
    )


class DeclareComponentSerializer(StrictSerializer):
    kind = serializers.ChoiceField(choices=Component.Kind.choices)
    ecosystem = serializers.SlugField(max_length=max_length_of(Component, "ecosystem"), default="generic")
    name = serializers.CharField(max_length=max_length_of(Component, "name"))
    version = serializers.CharField(
        max_length=max_length_of(Component, "version"), required=False, allow_blank=True, default=""
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # The stored purl percent-encodes the parts, so parts within their limits can still make
        # one too long for its column (a 500 on PostgreSQL before this check).
        from packageurl import PackageURL

        limit = max_length_of(Component, "purl")
        try:
            purl = PackageURL(
                type=attrs["ecosystem"].strip().lower() or "generic",
                name=attrs["name"].strip(),
                version=attrs.get("version", "").strip() or None,
            ).to_string()
        except (ValueError, TypeError) as exc:  # TypeError: a name of only "/" (packageurl)
            raise serializers.ValidationError({"name": [f"Not a valid package: {exc}"]}) from exc
        if len(purl) > limit:
            raise serializers.ValidationError(
                {"name": [f"The package URL would be longer than {limit} characters."]}
            )
        return attrs


class ComponentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Component
        fields = ["ecosystem", "name", "version", "purl", "kind", "direct", "source"]
        read_only_fields = fields


class SbomImportSerializer(serializers.ModelSerializer):
    class Meta:
        model = SbomImport
        fields = [
            "format",
            "filename",
            "sha256",
            "component_count",
            "added",
            "removed",
            "upgraded",
            "uploaded_at",
        ]
        read_only_fields = fields


class OperationSerializer(serializers.ModelSerializer):
    responses = serializers.SerializerMethodField()

    class Meta:
        model = Operation
        fields = [
            "method",
            "path",
            "operation_id",
            "summary",
            "auth_required",
            "deprecated",
            "parameters",
            "responses",
            "last_seen_at",
        ]
        read_only_fields = fields

    def get_responses(self, obj: Operation) -> dict[str, str]:
        return {r.code: r.description for r in obj.responses.all()}


class SpecSerializer(serializers.ModelSerializer):
    class Meta:
        model = Spec
        fields = [
            "number",
            "sha256",
            "format",
            "openapi_version",
            "title",
            "info_version",
            "filename",
            "operation_count",
            "uploaded_at",
        ]
        read_only_fields = fields


class DiscoveredSerializer(serializers.ModelSerializer):
    api: serializers.SlugRelatedField[Api] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True, allow_null=True, help_text="null: matches no registered API."
    )

    class Meta:
        model = DiscoveredEndpoint
        fields = [
            "id",
            "finding",
            "state",
            "host",
            "method",
            "path_template",
            "api",
            "hits",
            "status_codes",
            "first_seen",
            "last_seen",
            "dismissed_reason",
        ]
        read_only_fields = fields


class DismissSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=max_length_of(DiscoveredEndpoint, "dismissed_reason"))


class LogUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        validators=[validate_upload_size],
        help_text="A gateway access log: "
        + "; ".join(f"`{k}` ({v})" for k, v in discovery.FORMAT_LABELS.items())
        + ". A file in which no line reads as the format is a 400.",
    )
    format = serializers.ChoiceField(
        choices=discovery.FORMATS, required=False, help_text="Detected from the first lines when left out."
    )
    host = serializers.CharField(
        required=False, allow_blank=True, max_length=DEFAULT_HOST_MAX_LENGTH, default=""
    )


def _baseline_ms(name: str) -> serializers.IntegerField:
    low, high = value_range_of(PerformanceBaseline, name)
    assert low is not None and high is not None, f"PerformanceBaseline.{name} declares its range"
    return serializers.IntegerField(min_value=low, max_value=high)


def _baseline_decimal(name: str) -> serializers.DecimalField:
    low, high = value_range_of(PerformanceBaseline, name)
    return serializers.DecimalField(
        *digits_of(PerformanceBaseline, name), min_value=low, max_value=high, coerce_to_string=False
    )


class BaselineSerializer(StrictSerializer):
    p50_ms = _baseline_ms("p50_ms")
    p95_ms = _baseline_ms("p95_ms")
    p99_ms = _baseline_ms("p99_ms")
    requests_per_second = _baseline_decimal("requests_per_second")
    error_rate_percent = _baseline_decimal("error_rate_percent")


class WindowSerializer(StrictSerializer):
    id = serializers.IntegerField(read_only=True)
    kind = serializers.ChoiceField(choices=AvailabilityWindow.Kind.choices)
    description = serializers.CharField(
        max_length=max_length_of(AvailabilityWindow, "description"),
        required=False,
        allow_blank=True,
        default="",
    )
    environment = serializers.CharField(
        max_length=max_length_of(Environment, "name"), required=False, allow_blank=True, default=""
    )
    timezone = serializers.CharField(
        max_length=max_length_of(AvailabilityWindow, "timezone"), required=False, default="UTC"
    )
    weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=len(availability.WEEKDAY_NAMES) - 1),
        required=False,
        default=list,
        max_length=len(availability.WEEKDAY_NAMES),
    )
    start_time = serializers.TimeField(required=False, allow_null=True, default=None)
    end_time = serializers.TimeField(required=False, allow_null=True, default=None)
    # Without an offset, a wall-clock time in the window's timezone (the service's rule, as in the form).
    starts_at = WallClockDateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text="ISO 8601; without an offset it is read in the window's timezone",
    )
    ends_at = WallClockDateTimeField(required=False, allow_null=True, default=None)


class ServerSerializer(StrictSerializer):
    hostname = serializers.CharField(max_length=max_length_of(Server, "hostname"))
    addresses = serializers.ListField(
        child=serializers.CharField(max_length=SERVER_ADDRESS_MAX_LENGTH),
        required=False,
        default=list,
        max_length=Limits.SERVER_ADDRESSES,
    )
    location = serializers.CharField(
        max_length=max_length_of(Server, "location"), required=False, allow_blank=True, default=""
    )
    operating_system = serializers.CharField(
        max_length=max_length_of(Server, "operating_system"), required=False, allow_blank=True, default=""
    )


class ConsumerSerializer(StrictSerializer):
    consumer_api = serializers.SlugField(required=False, allow_blank=True, default="")
    consumer_service = serializers.CharField(
        max_length=max_length_of(ConsumerService, "name"), required=False, allow_blank=True, default=""
    )
    note = serializers.CharField(
        max_length=max_length_of(ApiDependency, "note"), required=False, allow_blank=True, default=""
    )


# --- Response bodies that are not one model -------------------------------------------------------


class SpecCurrentSerializer(serializers.Serializer):
    spec = SpecSerializer(allow_null=True, help_text="null: no spec uploaded yet.")
    operations = OperationSerializer(many=True)


class SbomImportResultSerializer(SbomImportSerializer):
    warnings = serializers.ListField(child=serializers.CharField(), help_text="At most 100.")

    class Meta(SbomImportSerializer.Meta):
        fields = [*SbomImportSerializer.Meta.fields, "warnings"]
        read_only_fields = fields


class ConsumerRowSerializer(serializers.Serializer):
    consumer_api = serializers.CharField(allow_null=True, help_text="null: an API outside your scope.")
    consumer_service = serializers.CharField(allow_blank=True)
    note = serializers.CharField(allow_blank=True)


class BlastEntrySerializer(serializers.Serializer):
    kind = serializers.CharField()
    name = serializers.CharField()
    depth = serializers.IntegerField()
    via = serializers.CharField(
        allow_null=True, help_text="null: the API one step closer is outside your scope."
    )


class BlastRadiusSerializer(serializers.Serializer):
    api = serializers.SlugField()
    affected = BlastEntrySerializer(many=True)
    hidden_outside_scope = serializers.IntegerField()


class SkippedLineSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    reason = serializers.CharField()
    excerpt = serializers.CharField(allow_blank=True)


class LogIngestSerializer(serializers.Serializer):
    lines = serializers.IntegerField()
    parsed = serializers.IntegerField()
    skipped = serializers.IntegerField()
    skipped_examples = SkippedLineSerializer(many=True)
    endpoints = serializers.IntegerField()
    findings = serializers.DictField(child=serializers.IntegerField(), help_text="Count per finding.")
