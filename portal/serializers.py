from __future__ import annotations

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
