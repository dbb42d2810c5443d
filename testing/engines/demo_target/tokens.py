"""The demo target's JWTs: HS256 signed with a dictionary secret, and one verifier that takes alg=none.

Hand-rolled on the standard library (hmac, base64, json) on purpose: the weakness must be exactly
the one documented, and a library would (rightly) warn about or refuse the short key. Tokens are
bounded before anything is decoded.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from typing import Any

# The planted weakness: the first word of every JWT-cracking wordlist.
JWT_SECRET = "secret"  # noqa: S105 - planted on purpose (see FLAWS["jwt_weaknesses"])
ISSUER = "demo-api"
TOKEN_LIFETIME_S = 3600
MAX_TOKEN = 4096


class TokenError(ValueError):
    """The token is not acceptable (malformed, wrong algorithm, bad signature, expired...)."""


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise TokenError("bad base64") from None


def _json_part(text: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64decode(text))
    except (UnicodeDecodeError, ValueError):
        raise TokenError("bad json") from None
    if not isinstance(value, dict):
        raise TokenError("not an object")
    return value


def _sign(signing_input: str, key: str = JWT_SECRET) -> str:
    return _b64encode(hmac.new(key.encode(), signing_input.encode("ascii"), hashlib.sha256).digest())


def issue_token(
    username: str,
    *,
    role: str = "customer",
    lifetime_s: int = TOKEN_LIFETIME_S,
    now: float | None = None,
) -> str:
    """A token as POST /auth/login issues it (also for seeding the portal's demo identities)."""
    issued = int(time.time() if now is None else now)
    header = _b64encode(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    claims = {"sub": username, "role": role, "iss": ISSUER, "iat": issued, "exp": issued + lifetime_s}
    payload = _b64encode(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}"
    return f"{signing_input}.{_sign(signing_input)}"


def _split(token: str) -> tuple[dict[str, Any], dict[str, Any], str, str]:
    if len(token) > MAX_TOKEN:
        raise TokenError("too long")
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenError("not a JWT")
    header, claims = _json_part(parts[0]), _json_part(parts[1])
    return header, claims, f"{parts[0]}.{parts[1]}", parts[2]


def _check_claims(claims: dict[str, Any], now: float | None) -> dict[str, Any]:
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        raise TokenError("no exp")
    if exp <= (time.time() if now is None else now):
        raise TokenError("expired")
    if not isinstance(claims.get("sub"), str):
        raise TokenError("no sub")
    return claims


def verify_token(token: str, *, now: float | None = None) -> dict[str, Any]:
    """The proper verifier: HS256 only, signature checked in constant time, exp and sub required."""
    header, claims, signing_input, signature = _split(token)
    if header.get("alg") != "HS256":
        raise TokenError("algorithm not allowed")
    if not hmac.compare_digest(signature.encode("ascii", "replace"), _sign(signing_input).encode()):
        raise TokenError("bad signature")
    return _check_claims(claims, now)


def verify_token_trusting_header(token: str, *, now: float | None = None) -> dict[str, Any]:
    """The planted flaw (GET /notifications): the token's own header picks the algorithm, so
    ``alg: none`` with any (or no) signature is accepted. Expiry and subject are still checked, so
    alg=none is the one weakness here."""
    header, claims, _signing_input, _signature = _split(token)
    alg = header.get("alg")
    if isinstance(alg, str) and alg.lower() == "none":
        return _check_claims(claims, now)
    return verify_token(token, now=now)
