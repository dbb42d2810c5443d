"""A per-user rate for expensive HTML actions (uploads, token creation), the pages' twin of DRF's
"expensive" throttle scope, sharing its rate setting (THROTTLE_EXPENSIVE)."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """``"20/min"`` → (20, 60): the same notation as DRF's throttle rates."""
    count, _, period = rate.partition("/")
    return int(count), _PERIODS[period[:1]]


def limit_posts(scope: str) -> Callable:
    """Refuse a user's POSTs beyond the scope's rate with a 429 (fixed window, kept in the cache)."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method == "POST":
                limit, period = parse_rate(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][scope])
                window = int(time.time()) // period
                who = (
                    request.user.pk if request.user.is_authenticated else request.META.get("REMOTE_ADDR", "")
                )
                key = f"portal-rate:{scope}:{who}:{window}"
                cache.add(key, 0, timeout=period + 1)
                if cache.incr(key) > limit:
                    from portal.views import too_many_requests

                    return too_many_requests(request, retry_after=period - int(time.time()) % period)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
