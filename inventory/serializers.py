from __future__ import annotations

from rest_framework import serializers

from inventory.engines import discovery, sbom
from inventory.models import (
    Api,
    AuthScheme,
    AvailabilityWindow,
    Classification,
    Component,
    DiscoveredEndpoint,
    Environment,
    Exposure,
    Lifecycle,
    Limits,
    Operation,
    Protocol,
    SbomImport,
    Spec,
)
from inventory.services.review import API_WORKFLOW
from portal.models import OrgUnit
from portal.validators import validate_upload_size


class EnvironmentSerializer(serializers.ModelSerializer):
    base_urls = serializers.ListField(
        child=serializers.CharField(max_length=500), min_length=1, max_length=Limits.BASE_URLS
    )

    class Meta:
        model = Environment
        fields = ["name", "is_production", "base_urls"]


class ApiSerializer(serializers.ModelSerializer):
    org_unit: serializers.SlugRelatedField[OrgUnit] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    environments = EnvironmentSerializer(many=True, read_only=True)

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


class ApiListSerializer(serializers.ModelSerializer):
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


class ApiWriteSerializer(serializers.Serializer):
    """What a form or a CI job may set. Status, completeness and ownership moves are not here."""

    org_unit = serializers.SlugField(
        required=False, help_text="Slug of the owning team (required to create)."
    )
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=10_000)
    technical_contact_name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    technical_contact_email = serializers.EmailField(required=False, allow_blank=True)
    lifecycle = serializers.ChoiceField(choices=Lifecycle.choices, required=False)
    version = serializers.CharField(required=False, allow_blank=True, max_length=50)
    exposure = serializers.ChoiceField(choices=Exposure.choices, required=False)
    data_classification = serializers.ChoiceField(choices=Classification.choices, required=False)
    handles_personal_data = serializers.BooleanField(required=False)
    auth_schemes = serializers.ListField(
        child=serializers.ChoiceField(choices=AuthScheme.choices), required=False, max_length=10
    )
    protocols = serializers.ListField(
        child=serializers.ChoiceField(choices=Protocol.choices), required=False, max_length=10
    )
    availability_target = serializers.DecimalField(
        max_digits=6, decimal_places=3, min_value=0, max_value=100, required=False, allow_null=True
    )
    environments = EnvironmentSerializer(many=True, required=False, max_length=Limits.ENVIRONMENTS)  # type: ignore[call-arg]  # ListSerializer takes it


class TransitionSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=API_WORKFLOW.choices())
    comment = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")
    revision = serializers.IntegerField(
        required=False,
        min_value=1,
        allow_null=True,
        default=None,
        help_text="The revision you reviewed (the API's `revision` when you read it). Required to "
        "approve or reinstate: refused if the record changed since.",
    )


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField(validators=[validate_upload_size])
    format = serializers.ChoiceField(
        choices=sbom.FORMATS, required=False, help_text="Detected from the content when left out."
    )


class DeclareComponentSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Component.Kind.choices)
    ecosystem = serializers.SlugField(max_length=50, default="generic")
    name = serializers.CharField(max_length=300)
    version = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


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
    api: serializers.SlugRelatedField[Api] = serializers.SlugRelatedField(slug_field="slug", read_only=True)

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


class DismissSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class LogUploadSerializer(serializers.Serializer):
    file = serializers.FileField(validators=[validate_upload_size])
    format = serializers.ChoiceField(
        choices=discovery.FORMATS, required=False, help_text="Detected from the first lines when left out."
    )
    host = serializers.CharField(required=False, allow_blank=True, max_length=253, default="")


class BaselineSerializer(serializers.Serializer):
    p50_ms = serializers.IntegerField(min_value=0, max_value=3_600_000)
    p95_ms = serializers.IntegerField(min_value=0, max_value=3_600_000)
    p99_ms = serializers.IntegerField(min_value=0, max_value=3_600_000)
    requests_per_second = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    error_rate_percent = serializers.DecimalField(max_digits=6, decimal_places=3, min_value=0, max_value=100)


class WindowSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    kind = serializers.ChoiceField(choices=AvailabilityWindow.Kind.choices)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    environment = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
    timezone = serializers.CharField(max_length=64, required=False, default="UTC")
    weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6), required=False, default=list, max_length=7
    )
    start_time = serializers.TimeField(required=False, allow_null=True, default=None)
    end_time = serializers.TimeField(required=False, allow_null=True, default=None)
    starts_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="ISO 8601 with an offset"
    )
    ends_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class ServerSerializer(serializers.Serializer):
    hostname = serializers.CharField(max_length=253)
    addresses = serializers.ListField(
        child=serializers.CharField(max_length=45),
        required=False,
        default=list,
        max_length=Limits.SERVER_ADDRESSES,
    )
    location = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    operating_system = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


class ConsumerSerializer(serializers.Serializer):
    consumer_api = serializers.SlugField(required=False, allow_blank=True, default="")
    consumer_service = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
