"""The scanner's identities at rest: JSON encrypted with a rotatable key ring (MultiFernet).

    token = encrypt({"kind": "bearer", "token": "…"})      # bytes for PlanIdentity.secret
    secret = decrypt(token)                                  # the dict again, or IdentityKeyError

Keys come from ``settings.TESTING_IDENTITY_KEYS`` (newest first; see portal/settings.py): the newest
encrypts, every key decrypts, so a new key is added in front, ``manage.py rotate_identity_keys``
re-encrypts every stored identity with it (``rotate``), and the old key can then be removed. A token
that no configured key opens (a key removed too early, a row copied from another installation) is an
``IdentityKeyError`` that names no secret, never a crash with the token in the traceback.
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

MAX_SECRET_BYTES = 16 * 1024  # the JSON of one identity


class IdentityKeyError(Exception):
    """The stored identity cannot be opened with the configured keys (or is not an identity)."""


_cache: tuple[tuple[str, ...], MultiFernet] | None = None


def key_ring() -> MultiFernet:
    """The configured keys as one ring (rebuilt when the setting changes, e.g. in tests)."""
    global _cache
    keys = tuple(settings.TESTING_IDENTITY_KEYS)
    if not keys:
        raise IdentityKeyError("No identity key is configured (TESTING_IDENTITY_KEYS).")
    if _cache is None or _cache[0] != keys:
        _cache = (keys, MultiFernet([Fernet(key) for key in keys]))
    return _cache[1]


def encrypt(data: dict[str, Any]) -> bytes:
    if not isinstance(data, dict):
        raise TypeError("an identity is a dict")
    raw = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    if len(raw) > MAX_SECRET_BYTES:
        raise ValueError(f"An identity holds at most {MAX_SECRET_BYTES} bytes of JSON.")
    return key_ring().encrypt(raw)


def _bytes(token: bytes | memoryview | str) -> bytes:
    if isinstance(token, memoryview):  # a BinaryField read from PostgreSQL
        return token.tobytes()
    if isinstance(token, str):
        return token.encode()
    return bytes(token)


def decrypt(token: bytes | memoryview | str) -> dict[str, Any]:
    try:
        raw = key_ring().decrypt(_bytes(token))
    except InvalidToken:
        raise IdentityKeyError("The identity cannot be decrypted with the configured keys.") from None
    try:
        data = json.loads(raw)
    except ValueError:
        raise IdentityKeyError("The stored identity is not valid JSON.") from None
    if not isinstance(data, dict):
        raise IdentityKeyError("The stored identity is not a JSON object.")
    return data


def rotate(token: bytes | memoryview | str) -> bytes:
    """The same identity encrypted with the newest key (``IdentityKeyError`` if no key opens it)."""
    try:
        return key_ring().rotate(_bytes(token))
    except InvalidToken:
        raise IdentityKeyError("The identity cannot be decrypted with the configured keys.") from None
