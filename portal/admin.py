"""The admin, scoped like every other view: only org.manage holders get in, and they see their subtree.

The admin writes through the same services as the rest of the portal, so every change is audited.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from portal import services
from portal.access import Cap, has_capability, in_scope
from portal.audit import Actor
from portal.models import AuditEvent, Membership, OrgUnit


class PortalAdminSite(admin.AdminSite):
    site_header = "API Security Portal administration"
    site_title = "API Security Portal"

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(user.is_active and (user.is_superuser or has_capability(user, Cap.ORG_MANAGE)))


portal_admin_site = PortalAdminSite(name="admin")


class ScopedAdmin(admin.ModelAdmin):
    view_capability = Cap.ORG_VIEW
    manage_capability = Cap.ORG_MANAGE

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).visible_to(request.user, self.view_capability)

    def _may_manage(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is None:
            return has_capability(request.user, self.manage_capability)
        return in_scope(request.user, self.manage_capability, obj.scope_path_value)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return has_capability(request.user, self.manage_capability)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may_manage(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._may_manage(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may_manage(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may_manage(request, obj)


@admin.register(OrgUnit, site=portal_admin_site)
class OrgUnitAdmin(ScopedAdmin):
    list_display = ["name", "slug", "kind", "parent", "depth"]
    list_filter = ["kind", "depth"]
    search_fields = ["name", "slug"]
    list_select_related = ["parent"]
    fields = ["name", "slug", "kind", "parent"]
    actions = None

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["slug"] if obj is not None else []

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "parent":
            kwargs["queryset"] = OrgUnit.objects.visible_to(request.user, Cap.ORG_MANAGE)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: OrgUnit, form: Any, change: bool) -> None:
        actor = Actor.from_request(request)
        if obj.parent is not None and not in_scope(request.user, Cap.ORG_MANAGE, obj.parent.path):
            raise ValidationError("Parent out of scope.")
        if not change:
            created = services.org_unit_create(
                actor=actor, name=obj.name, slug=obj.slug, parent=obj.parent, kind=obj.kind
            )
            obj.pk, obj.path, obj.depth = created.pk, created.path, created.depth
            return
        if "parent" in form.changed_data:
            services.org_unit_move(actor=actor, unit=obj, new_parent=obj.parent)
        services.org_unit_update(actor=actor, unit=obj, name=obj.name, kind=obj.kind)

    def delete_model(self, request: HttpRequest, obj: OrgUnit) -> None:
        services.org_unit_delete(actor=Actor.from_request(request), unit=obj)


@admin.register(Membership, site=portal_admin_site)
class MembershipAdmin(ScopedAdmin):
    list_display = ["user", "role", "org_unit", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__email", "org_unit__name"]
    list_select_related = ["user", "org_unit"]
    autocomplete_fields = []
    fields = ["user", "org_unit", "role"]
    actions = None

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # A membership is granted or revoked, never edited in place (that would hide the change).
        return ["user", "org_unit", "role"] if obj is not None else []

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "org_unit":
            kwargs["queryset"] = OrgUnit.objects.visible_to(request.user, Cap.ORG_MANAGE)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Membership, form: Any, change: bool) -> None:
        if change:
            return
        if not in_scope(request.user, Cap.ORG_MANAGE, obj.org_unit.path):
            raise ValidationError("Unit out of scope.")
        created = services.membership_grant(
            actor=Actor.from_request(request), user=obj.user, org_unit=obj.org_unit, role=obj.role
        )
        obj.pk = created.pk

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        services.membership_revoke(actor=Actor.from_request(request), membership=obj)


@admin.register(AuditEvent, site=portal_admin_site)
class AuditEventAdmin(ScopedAdmin):
    view_capability = Cap.AUDIT_VIEW
    list_display = ["id", "at", "actor_label", "action", "object_type", "object_id"]
    list_filter = ["action"]
    search_fields = ["actor_label", "object_id", "action"]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return has_capability(request.user, Cap.AUDIT_VIEW)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return has_capability(request.user, Cap.AUDIT_VIEW)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
