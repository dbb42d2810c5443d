from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django.http import Http404
from rest_framework import mixins
from rest_framework.permissions import BasePermission

from portal.access import has_capability, require

if TYPE_CHECKING:
    from rest_framework.generics import GenericAPIView

# For endpoints about the caller's own account (tokens, "me"): any signed-in user, no unit scope.
OWN_ACCOUNT = "own-account"

_DETAIL_VIEWS = (mixins.RetrieveModelMixin, mixins.UpdateModelMixin, mixins.DestroyModelMixin)


class HasCapability(BasePermission):
    """Deny by default: the view must name ``required_capability`` (or a per-method dict of them).

    Object checks go through ``portal.access.require``, so an object out of scope is a 404 — also
    for a caller who lacks the capability everywhere, when the view lets us find the object it names
    (see ``_named_object``); otherwise such a caller gets a 403 for every object alike.
    """

    def _capability(self, request: Any, view: Any) -> str | None:
        cap = getattr(view, "required_capability", None)
        if isinstance(cap, dict):
            cap = cap.get(request.method, cap.get("*"))
        return cap

    def has_permission(self, request: Any, view: Any) -> bool:
        cap = self._capability(request, view)
        user = request.user
        if cap is None or not (user and user.is_authenticated):
            return False
        if cap == OWN_ACCOUNT:
            return True
        if has_capability(user, cap):
            return True
        # Refused either way; for a URL naming an object, answer as the HTML views do (through
        # ``require``): 404 when the object is outside the user's sight, 403 when they can see it.
        target = self._named_object(view)
        if target is not None:
            require(user, cap, target)
        return False

    def has_object_permission(self, request: Any, view: Any, obj: Any) -> bool:
        cap = self._capability(request, view)
        if cap is None:
            return False
        if cap == OWN_ACCOUNT:
            return getattr(obj, "user_id", None) == request.user.pk
        require(request.user, cap, obj)
        return True

    @staticmethod
    def _named_object(view: Any) -> Any:
        """The object a detail URL names, looked up unscoped: only to pick 403 or 404.

        Works for generic detail views (retrieve/update/destroy) and for plain APIViews that
        name their model as ``scoped_model`` (looked up by the ``pk`` URL kwarg). Never grants
        anything: the caller refuses in every case. A missing object is a 404.
        """
        lookup_field = getattr(view, "lookup_field", None) or "pk"
        lookup_url_kwarg = getattr(view, "lookup_url_kwarg", None) or lookup_field
        kwargs = getattr(view, "kwargs", None) or {}
        if lookup_url_kwarg not in kwargs:
            return None
        model = getattr(view, "scoped_model", None)
        if model is None and isinstance(view, _DETAIL_VIEWS):
            # Only views that look their object up by this kwarg: a nested list's ``pk`` names
            # the parent, not a row of its own queryset.
            model = cast("GenericAPIView[Any]", view).get_queryset().model  # the mixins come with it
        if model is None or not hasattr(model, "scope_path_value"):
            return None
        try:
            obj = model._default_manager.filter(**{lookup_field: kwargs[lookup_url_kwarg]}).first()
        except (TypeError, ValueError) as exc:
            raise Http404 from exc
        if obj is None:
            raise Http404
        return obj
