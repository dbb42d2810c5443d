"""Rate limits kept in the shared cache.

* The DRF throttles the API uses (``UserRateThrottle``, ``AnonRateThrottle``, ``ScopedRateThrottle``;
  ``AtomicRedisMixin`` for others): DRF's, with DRF's rates, keys and sliding window, but on Redis
  (production) one atomic round trip per request: a Lua script drops the timestamps older than the
  period from a sorted set, counts the rest and adds this request's only if it is allowed. DRF's
  own reads the whole list of timestamps, pickled, and writes it back (two round trips, 600 floats
  at 600/min), and two concurrent requests read the same list, so both can pass on its last slot.
  On the development caches (a folder, the database) DRF's own code runs.
* ``limit_posts(scope)``: a per-user rate for expensive HTML actions (uploads, token creation), the
  pages' twin of DRF's "expensive" throttle scope, sharing its rate setting (THROTTLE_EXPENSIVE).
"""

from __future__ import annotations

import time
import uuid
import weakref
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.http import HttpRequest, HttpResponse
from rest_framework import throttling

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """``"20/min"`` → (20, 60): the same notation as DRF's throttle rates."""
    count, _, period = rate.partition("/")
    return int(count), _PERIODS[period[:1]]


# KEYS[1]: the caller's sorted set of request times. ARGV: now, period, limit, a unique member.
# Returns {1 if allowed, the requests counted in the period (this one included if allowed), the
# oldest of them}: what DRF's wait() reads from its list.
_SLIDING_WINDOW = """
local now, period, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - period)
local count = redis.call('ZCARD', KEYS[1])
local allowed = 0
if count < limit then
    redis.call('ZADD', KEYS[1], now, ARGV[4])
    redis.call('EXPIRE', KEYS[1], math.ceil(period))
    count, allowed = count + 1, 1
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2] or ARGV[1]
return {allowed, count, oldest}
"""


_scripts: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def _sliding_window_script(backend: RedisCache) -> Any:
    """``_SLIDING_WINDOW`` bound to a client of the cache's own connection pool (``_cache``: Django's
    Redis backend has no public way to run a script), made once per backend: Django makes a new
    client for every command, which costs as much as the round trip. Run by its SHA1 once Redis
    knows it."""
    pool_owner = backend._cache  # type: ignore[attr-defined]
    script = _scripts.get(pool_owner)
    if script is None:
        script = _scripts[pool_owner] = pool_owner.get_client(write=True).register_script(_SLIDING_WINDOW)
    return script


class AtomicRedisMixin:
    """For a DRF ``SimpleRateThrottle``: on Redis, ``_SLIDING_WINDOW`` in one round trip; elsewhere
    DRF's own ``allow_request``. The same rate, key and answers (``wait``) either way."""

    rate: str | None
    num_requests: int | None
    duration: int | None
    key: str | None
    now: float
    history: list[float]
    timer: Callable[[], float]

    if TYPE_CHECKING:  # provided by the DRF throttle this is mixed into

        def get_cache_key(self, request: Any, view: Any) -> str | None: ...

    def allow_request(self, request: Any, view: Any) -> bool:
        backend = caches["default"]
        if not isinstance(backend, RedisCache):
            return bool(super().allow_request(request, view))  # type: ignore[misc]
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        # A key of its own: DRF's (a pickled list) at the same name would be the wrong Redis type.
        key = backend.make_and_validate_key(f"{self.key}:z")
        args = [repr(self.now), self.duration, self.num_requests, uuid.uuid4().hex]
        allowed, count, oldest = _sliding_window_script(backend)(keys=[key], args=args)
        # DRF's wait() reads its list: only its length and its oldest entry matter.
        self.history = [float(oldest)] * int(count)
        return bool(allowed)


class UserRateThrottle(AtomicRedisMixin, throttling.UserRateThrottle):
    pass


class AnonRateThrottle(AtomicRedisMixin, throttling.AnonRateThrottle):
    pass


class ScopedRateThrottle(AtomicRedisMixin, throttling.ScopedRateThrottle):
    def allow_request(self, request: Any, view: Any) -> bool:
        # As DRF's: the rate is the view's scope's, known only now.
        self.scope = getattr(view, self.scope_attr, None)
        if not self.scope:
            return True
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)


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
