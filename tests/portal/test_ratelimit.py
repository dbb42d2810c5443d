"""The API's throttles (portal.ratelimit) keep DRF's rates, keys and sliding window on every cache, and
on Redis count atomically in one round trip: a burst of concurrent requests gets exactly the rate."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.test import RequestFactory, override_settings
from rest_framework.test import APIClient

from portal.audit import Actor
from portal.ratelimit import AnonRateThrottle, UserRateThrottle
from tests.factories import ApiTokenFactory
from tests.portal.error_shape import assert_error

ME = "/api/v1/me/"
# A Redis for the Redis path when the suite runs on another cache (CI runs on Redis anyway).
REDIS_URL = os.environ.get("RATELIMIT_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")
T0 = 1_800_000_000.0


def _redis_reachable() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


@pytest.fixture(params=["configured", "redis"])
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """The cache the suite runs with (a folder in development, Redis in CI), and Redis."""
    if request.param == "configured" or isinstance(caches["default"], RedisCache):
        cache.clear()
        yield "redis" if isinstance(caches["default"], RedisCache) else "other"
        return
    if not _redis_reachable():
        pytest.skip(f"no Redis at {REDIS_URL}")
    redis_cache = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    with override_settings(CACHES={"default": {**redis_cache, "KEY_PREFIX": "ratelimit-test"}}):
        cache.clear()
        yield "redis"
        cache.clear()


def caller(pk: int | None, address: str = "10.0.0.1") -> Any:
    """A request as the throttles see it: a user (or, anonymous, an address)."""
    request = RequestFactory().get(ME, REMOTE_ADDR=address)
    request.user = AnonymousUser() if pk is None else SimpleNamespace(pk=pk, is_authenticated=True)
    return request


def _allow(throttle_class: type, request: Any, now: float, rate: str) -> tuple[bool, Any]:
    throttle = throttle_class()
    throttle.rate, throttle.timer = rate, lambda: now
    throttle.num_requests, throttle.duration = throttle.parse_rate(rate)
    allowed = throttle.allow_request(request, None)
    return allowed, None if allowed else throttle.wait()


def test_it_allows_the_rate_in_any_period_and_says_when_to_come_back(backend):
    alice, bob = caller(1), caller(2)
    answers = [_allow(UserRateThrottle, alice, T0 + i, "3/min")[0] for i in (0, 10, 20, 30)]
    assert answers == [True, True, True, False]
    allowed, wait = _allow(UserRateThrottle, alice, T0 + 30, "3/min")
    assert not allowed and wait == pytest.approx(30)  # when the request at T0 leaves the minute
    assert _allow(UserRateThrottle, bob, T0 + 30, "3/min")[0]  # each user their own budget
    # Refused requests are not counted (as in DRF): one slot is free once T0's request is a minute old.
    assert _allow(UserRateThrottle, alice, T0 + 60.5, "3/min")[0]
    assert not _allow(UserRateThrottle, alice, T0 + 61, "3/min")[0]
    assert _allow(UserRateThrottle, alice, T0 + 71, "3/min")[0]


def test_anonymous_callers_are_counted_by_address(backend):
    for _ in range(2):
        assert _allow(AnonRateThrottle, caller(None, "10.9.0.1"), T0, "2/min")[0]
    assert not _allow(AnonRateThrottle, caller(None, "10.9.0.1"), T0, "2/min")[0]
    assert _allow(AnonRateThrottle, caller(None, "10.9.0.2"), T0, "2/min")[0]
    assert _allow(AnonRateThrottle, caller(7), T0, "2/min")[0]  # a user is not anonymous


def test_a_concurrent_burst_gets_exactly_the_rate(backend):
    if backend != "redis":
        pytest.skip("DRF's own throttle (the development caches) reads and writes back a list: not atomic")
    answers: list[bool] = []
    lock = threading.Lock()

    def one() -> None:
        allowed, _ = _allow(UserRateThrottle, caller(3), T0, "5/min")
        with lock:
            answers.append(allowed)

    threads = [threading.Thread(target=one) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers.count(True) == 5


def test_the_counts_expire_with_their_period(backend):
    if backend != "redis":
        pytest.skip("expiry is read through Redis's TTL")
    _allow(UserRateThrottle, caller(4), T0, "3/min")
    redis_cache = caches["default"]
    key = redis_cache.make_and_validate_key("throttle_user_4:z")
    assert 0 < redis_cache._cache.get_client(key).ttl(key) <= 60  # type: ignore[attr-defined]


def test_the_api_refuses_a_user_over_the_rate_and_lets_them_back(backend, alice, monkeypatch):
    from rest_framework.throttling import UserRateThrottle as DrfUserRateThrottle

    clock = [T0]
    monkeypatch.setattr(
        DrfUserRateThrottle, "THROTTLE_RATES", {**DrfUserRateThrottle.THROTTLE_RATES, "user": "3/min"}
    )
    monkeypatch.setattr(UserRateThrottle, "timer", lambda self: clock[0])
    token = ApiTokenFactory(user=alice, name="ci", second_factor=True, actor=Actor(user=alice))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token.secret}")
    assert [api.get(ME).status_code for _ in range(3)] == [200] * 3

    refused = api.get(ME)
    assert_error(refused, 429, "throttled")
    assert refused["Retry-After"] == "60"

    clock[0] += 61
    assert api.get(ME).status_code == 200
