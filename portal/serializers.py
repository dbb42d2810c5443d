from __future__ import annotations

from typing import Any

from django.http import QueryDict
from rest_framework import serializers

from portal.models import ApiToken, AuditEvent, Membership, OrgUnit


class OrgUnitSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrgUnit
        fields = ["id", "name", "slug", "kind", "parent", "path", "depth"]
        read_only_fields = fields


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    org_unit_slug = serializers.CharField(source="org_unit.slug", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "username", "org_unit", "org_unit_slug", "role", "created_at"]
        read_only_fields = fields


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "at",
            "actor_label",
            "action",
            "object_type",
            "object_id",
            "object_label",
            "org_unit_id",
            "before",
            "after",
            "ip",
            "request_id",
            "prev_hash",
            "hash",
        ]
        read_only_fields = fields


class ApiTokenSerializer(serializers.ModelSerializer):
    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "name",
            "prefix",
            "created_at",
            "expires_at",
            "revoked_at",
            "last_used_at",
            "is_active",
        ]
        read_only_fields = fields


class MeSerializer(serializers.Serializer):
    username = serializers.CharField()
    roles = serializers.ListField(child=serializers.DictField())
    capabilities = serializers.ListField(child=serializers.CharField())


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable: not_found, throttled, invalid, …")
    message = serializers.CharField(help_text="Short and generic; details go to the server log.")
    request_id = serializers.CharField(help_text="Quote it when reporting a problem.")
    # DRF's metaclass takes declared fields off the class, so this does not shadow Serializer.fields.
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.JSONField(),
        required=False,
        help_text="For a 400: the messages for each field (or non_field_errors) that failed.",
    )


class ErrorSerializer(serializers.Serializer):
    """The one error body of the REST API (portal.api_errors), whatever the status."""

    error = ErrorDetailSerializer()


def _json_type_error(field: serializers.Field, value: Any) -> str | None:
    """What is wrong with the JSON type of ``value`` for ``field``, or None. Nested serializers check
    their own fields (they are StrictSerializers too); a list field checks each item."""
    if value is None:
        return None  # DRF's own "may not be null" answers
    if isinstance(field, serializers.ListField):
        if not isinstance(value, list):
            return "Expected a list."
        for item in value:
            problem = _json_type_error(field.child, item)
            if problem:
                return problem
        return None
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else "Expected true or false."
    if isinstance(field, serializers.IntegerField):
        return None if isinstance(value, int) and not isinstance(value, bool) else "Expected a whole number."
    if isinstance(field, serializers.DecimalField | serializers.FloatField):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else "Expected a number."
    if isinstance(field, serializers.CharField | serializers.ChoiceField):
        return None if isinstance(value, str) else "Expected a string."
    return None


class StrictSerializer(serializers.Serializer):
    """A JSON body's values must have the type the schema gives them: DRF would turn ``7`` into
    ``"7"``, ``"7"`` into 7, ``"yes"`` into true. A form-encoded body (a QueryDict, strings only)
    is left to DRF."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict) and not isinstance(data, QueryDict):
            errors = {}
            for name, field in self.fields.items():
                if field.read_only or name not in data:
                    continue
                problem = _json_type_error(field, data[name])
                if problem:
                    errors[name] = [problem]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


class StrictModelSerializer(StrictSerializer, serializers.ModelSerializer):
    pass
