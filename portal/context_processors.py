from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from portal.access import capabilities_of


def portal(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    caps = capabilities_of(user) if user is not None and user.is_authenticated else frozenset()
    return {"caps": caps, "request_id": getattr(request, "request_id", "")}
