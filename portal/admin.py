"""The admin, scoped like every other view: only org.manage holders get in, and they see their subtree.

The admin writes through the same services as the rest of the portal, so every change is audited.
"""

from __future__ import annotations

from functools import update_wrapper
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.contrib import admin
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import Case, F, Model, Q, Value, When
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from portal import selectors
from portal.access import Cap, has_capability, in_scope, scope_q
from portal.audit import Actor
from portal.models import AuditEvent, Membership, OrgUnit, ScopedQuerySet
from portal.services import sessions
from portal.services.org_chart import (
    membership_grant,
    membership_revoke,
    org_unit_create,
    org_unit_delete,
    org_unit_move,
    org_unit_update,
)

if TYPE_CHECKING:
    from typing import TypedDict

    from django_stubs_ext import WithAnnotations

    class _ParentLabel(TypedDict):
        parent_label: str


class PortalAdminSite(admin.AdminSite):
    site_header = "API Security Portal administration"
    site_title = "API Security Portal"

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(user.is_active and (user.is_superuser or has_capability(user, Cap.ORG_MANAGE)))

    def admin_view(self, view: Any, cacheable: bool = False) -> Any:
        inner = super().admin_view(view, cacheable)

        def gate(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            # A signed-in user without org.manage gets a plain 403 (not the admin's own login form),
            # and an anonymous one goes to the portal's login page, with its lockout, audit and 2FA.
            if not self.has_permission(request):
                if request.user.is_authenticated:
                    raise PermissionDenied
                return redirect_to_login(request.get_full_path())
            return inner(request, *args, **kwargs)

        return update_wrapper(gate, inner)

    def password_change(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> TemplateResponse:
        # A password change is an authentication event: audited like logins and 2FA changes.
        response = super().password_change(request, extra_context)
        if request.method == "POST" and response.status_code == 302:
            user = request.user
            assert isinstance(user, Model)  # the admin only serves signed-in users here
            sessions.password_changed(actor=Actor.from_request(request), user=user)
        return response

    def get_urls(self) -> list[Any]:
        # Django points LoginRequiredMiddleware at the admin's own login form for admin URLs; send
        # anonymous visitors straight to the portal's login page instead (see ``login``).
        urls = super().get_urls()
        _use_portal_login(urls)
        return urls

    @login_not_required
    def login(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        # One login page for the whole site: the admin's own form would bypass its audit record.
        index = reverse("admin:index", current_app=self.name)
        if self.has_permission(request):
            return HttpResponseRedirect(index)
        if request.user.is_authenticated:
            raise PermissionDenied
        return redirect_to_login(request.GET.get(REDIRECT_FIELD_NAME) or index)


def _use_portal_login(patterns: list[Any]) -> None:
    for pattern in patterns:
        if hasattr(pattern, "url_patterns"):
            _use_portal_login(pattern.url_patterns)
        elif getattr(pattern.callback, "login_url", None) is not None:
            pattern.callback.login_url = None  # LoginRequiredMiddleware falls back to settings.LOGIN_URL


portal_admin_site = PortalAdminSite(name="admin")


class ScopedAdmin(admin.ModelAdmin):
    view_capability = Cap.ORG_VIEW
    manage_capability = Cap.ORG_MANAGE

    def get_queryset(self, request: HttpRequest) -> Any:
        # Every model registered with a ScopedAdmin is a ScopedModel: its manager makes ScopedQuerySets.
        queryset = cast(ScopedQuerySet, super().get_queryset(request))
        return queryset.visible_to(request.user, self.view_capability)

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

    def _get_obj_does_not_exist_redirect(self, request: HttpRequest, opts: Any, object_id: str) -> Any:
        # Django redirects to the index with "doesn't exist"; outside the scope is a 404 everywhere.
        raise Http404


@admin.register(OrgUnit, site=portal_admin_site)
class OrgUnitAdmin(ScopedAdmin):
    list_display = ["name", "slug", "kind", "parent_in_scope", "depth"]
    list_filter = ["kind", "depth"]
    search_fields = ["name", "slug"]
    list_select_related = ["parent"]
    fields = ["name", "slug", "kind", "parent"]
    actions = None

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return []
        # The unit at the top of the user's reach stays put: moving it would take it out of (or
        # above) the subtree they manage, and its current parent is not among their choices.
        if obj.parent is None or not in_scope(request.user, Cap.ORG_MANAGE, obj.parent.path):
            return ["slug", "parent"]
        return ["slug"]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        parent = form.base_fields.get("parent")
        if parent is not None and obj is not None:
            # Not under itself or its own descendants (the service refuses it too, as an error page).
            parent_field = cast(forms.ModelChoiceField, parent)
            assert parent_field.queryset is not None  # a foreign key's field always has one
            parent_field.queryset = parent_field.queryset.exclude(path__startswith=obj.path)
        return form

    def get_queryset(self, request: HttpRequest) -> Any:
        # The parent of a manager's top unit lies outside their scope: name it only when visible.
        visible_parent = scope_q(request.user, self.view_capability, "parent__path") & Q(parent__isnull=False)
        return (
            super()
            .get_queryset(request)
            .annotate(parent_label=Case(When(visible_parent, then=F("parent__name")), default=Value("—")))
        )

    @admin.display(description="parent")
    def parent_in_scope(self, obj: WithAnnotations[OrgUnit, _ParentLabel]) -> str:
        return obj.parent_label

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "parent":
            kwargs["queryset"] = selectors.units_visible(request.user, Cap.ORG_MANAGE)
            # A new top-level unit would sit outside everyone's scope but the superuser's.
            kwargs["required"] = not request.user.is_superuser
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: OrgUnit, form: Any, change: bool) -> None:
        actor = Actor.from_request(request)
        if not change or "parent" in form.changed_data:
            # The form only offers parents in scope; this guards against a form that forgot to.
            if obj.parent is None and not request.user.is_superuser:
                raise PermissionDenied
            if obj.parent is not None and not in_scope(request.user, Cap.ORG_MANAGE, obj.parent.path):
                raise PermissionDenied
        if not change:
            created = org_unit_create(
                actor=actor, name=obj.name, slug=obj.slug, parent=obj.parent, kind=obj.kind
            )
            obj.pk, obj.path, obj.depth = created.pk, created.path, created.depth
            return
        if "parent" in form.changed_data:
            org_unit_move(actor=actor, unit=obj, new_parent=obj.parent)
        if {"name", "kind"} & set(form.changed_data):
            # The form already wrote the new values onto obj: give the service the stored row so
            # the audit record's "before" is the real one.
            stored = selectors.unit_as_stored(obj)
            updated = org_unit_update(actor=actor, unit=stored, name=obj.name, kind=obj.kind)
            obj.path, obj.depth = updated.path, updated.depth

    def delete_model(self, request: HttpRequest, obj: OrgUnit) -> None:
        org_unit_delete(actor=Actor.from_request(request), unit=obj)


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
            kwargs["queryset"] = selectors.units_visible(request.user, Cap.ORG_MANAGE)
        if db_field.name == "user" and not request.user.is_superuser:
            kwargs["queryset"] = selectors.people_assignable(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Membership, form: Any, change: bool) -> None:
        if change:
            return
        if not in_scope(request.user, Cap.ORG_MANAGE, obj.org_unit.path):
            raise PermissionDenied
        created = membership_grant(
            actor=Actor.from_request(request), user=obj.user, org_unit=obj.org_unit, role=obj.role
        )
        obj.pk = created.pk

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        membership_revoke(actor=Actor.from_request(request), membership=obj)


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
