"""Password guessing without letting a stranger lock anyone out.

django-axes locks per (account, address) and per address: one attacker's address is shut off, and
a victim's account is never locked from an address that is not theirs. Across addresses, an account
is *slowed down* instead: after ``AXES_FAILURE_LIMIT`` failures within the cool-off period, each
further attempt on it must wait ``LOGIN_ACCOUNT_DELAY_SECONDS`` after the previous failure. A
distributed guesser gets a few attempts a minute; the real owner waits seconds, not a lockout.
The counters live in the shared cache (one budget for every process).
"""

from __future__ import annotations

import hashlib
import math
import time
import unicodedata
from typing import Any

from django.conf import settings
from django.core.cache import cache


def _key(kind: str, username: str) -> str:
    # Hashed: usernames are user input and cache keys have a restricted alphabet and length.
    # The same value the login form authenticates with (UsernameField applies NFKC), folded: every
    # spelling of one account shares one budget.
    canonical = unicodedata.normalize("NFKC", username).strip().casefold()
    digest = hashlib.sha256(canonical.encode("utf-8", "replace")).hexdigest()[:32]
    return f"login-guard:{kind}:{digest}"


def wait_seconds(username: str) -> int:
    """How long the next attempt on ``username`` must wait (0: go ahead)."""
    if not username:
        return 0
    failures = cache.get(_key("failures", username), 0)
    if failures < settings.AXES_FAILURE_LIMIT:
        return 0
    last = cache.get(_key("last", username), 0.0)
    remaining = last + settings.LOGIN_ACCOUNT_DELAY_SECONDS - time.time()
    return max(0, math.ceil(remaining))


def record_failure(username: str) -> int:
    """Count a failed attempt on ``username``; returns the failures counted so far."""
    if not username:
        return 0
    window = int(settings.AXES_COOLOFF_TIME.total_seconds())
    key = _key("failures", username)
    cache.add(key, 0, window)
    try:
        failures = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, window)
        failures = 1
    cache.set(_key("last", username), time.time(), window)
    return int(failures)


def record_success(username: str) -> None:
    cache.delete_many([_key("failures", username), _key("last", username)])


def lockout_audit_receiver(sender: Any, request: Any = None, username: str = "", **kwargs: Any) -> None:
    """django-axes ``user_locked_out``: a lockout is an authentication event like any other."""
    from portal import audit
    from portal.audit import Actor

    actor = Actor.from_request(request) if request is not None else Actor.system("axes")
    # axes signals again on every attempt during a lockout: record the lockout once per cool-off, so
    # an anonymous client cannot grow the audit trail (and hold its lock) at will.
    window = int(settings.AXES_COOLOFF_TIME.total_seconds())
    if not cache.add(_key("locked", f"{username}|{actor.ip}"), 1, window):
        return
    audit.record(
        actor=actor,
        action="user.locked_out",
        object_type="auth.user",
        # Client-supplied: kept short, and labelled as what was typed, not who it is.
        after={"username_typed": str(username)[:64], "ip": getattr(actor, "ip", None)},
    )
