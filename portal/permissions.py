from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission

from portal.access import has_capability, require


class HasCapability(BasePermission):
    """Deny by default: the view must name ``required_capability`` (or a per-method dict of them).

    Object checks go through ``portal.access.require``, so an object out of scope is a 404.
    """

    def _capability(self, request: Any, view: Any) -> str | None:
        cap = getattr(view, "required_capability", None)
        if isinstance(cap, dict):
            cap = cap.get(request.method, cap.get("*"))
        return cap

    def has_permission(self, request: Any, view: Any) -> bool:
        cap = self._capability(request, view)
        if cap is None:
            return False
        if cap == OWN_ACCOUNT:
            return bool(request.user and request.user.is_authenticated)
        return has_capability(request.user, cap)

    def has_object_permission(self, request: Any, view: Any, obj: Any) -> bool:
        cap = self._capability(request, view)
        if cap is None:
            return False
        if cap == OWN_ACCOUNT:
            return getattr(obj, "user_id", None) == request.user.pk
        require(request.user, cap, obj)
        return True


# For endpoints about the caller's own account (tokens, "me"): any signed-in user, no unit scope.
OWN_ACCOUNT = "own-account"
