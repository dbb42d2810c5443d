"""``jwt_weaknesses``: forged, expired and weakly signed JWTs are refused; the signing key is not weak.

Runs when the API uses JWTs: an identity's token is a JWT, or the target's auth schemes include
``jwt``/``oauth2``; otherwise it skips. It finds a protected operation to judge with (a safe one
that refuses an anonymous call, at most three tried) and sends to it, in the identity's own header:

- the identity's real token (the baseline; a real token already past its ``exp`` that is accepted is
  ``expired_token_accepted``);
- the same claims with ``alg`` ``none`` / ``None`` / ``NONE`` and no signature (``alg_none_accepted``);
- the real header and signature over changed claims, or a random key without a real token
  (``bad_signature_accepted``);
- claims that expired an hour ago (``expired_token_accepted``), signed with the real key when it was
  cracked, else with a random one (``metrics["expiry_signed_with_real_key"]`` says which: only the
  first proves expiry itself is checked);
- claims signed with each of ``WEAK_SECRETS`` (``weak_secret_accepted``), unless the real token is
  HMAC-signed: then its key was already tried offline against the same list, so the requests would
  prove nothing more.

Offline, with no request: a real HS256/384/512 token's key is tried against ``WEAK_SECRETS``;
cracked is ``weak_signing_key`` (critical). The key itself is never stored or reported.
Forged tokens copy the real token's claims when there is one, with fresh ``iat``/``exp``.
Severity: critical, except ``expired_token_accepted`` (high).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
import warnings
from collections.abc import Mapping
from typing import Any

import jwt

from testing.engines.checks._probing import filled_path, refused, success
from testing.engines.checks.base import (
    Check,
    Context,
    Identity,
    OperationSpec,
    Owasp,
    Problem,
    Severity,
    Skip,
    register,
)
from testing.engines.safe_http import ScanResponse

WEAK_SECRETS = (
    "secret",
    "password",
    "changeme",
    "your-256-bit-secret",
    "your-secret-key",
    "secretkey",
    "secret-key",
    "secret_key",
    "mysecret",
    "supersecret",
    "jwt",
    "jwtsecret",
    "jwt-secret",
    "jwt_secret",
    "key",
    "private",
    "default",
    "test",
    "admin",
    "123456",
    "12345678",
    "qwerty",
    "letmein",
    "shhhhh",
    "s3cr3t",
    "token",
    "pass",
    "hello",
    "change-me",
    "",
)
HMAC_DIGESTS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
JWT_SCHEMES = frozenset({"jwt", "oauth2", "openid", "oidc"})
MAX_TOKEN = 16 * 1024
MAX_CANDIDATE_OPERATIONS = 3
NONE_ALGS = ("none", "None", "NONE")


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def parse_jwt(token: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(header, claims) of a compact JWS, unverified; None when ``token`` is not one."""
    if not token or len(token) > MAX_TOKEN or token.count(".") != 2:
        return None
    head, payload, _sig = token.split(".")
    try:
        header = json.loads(_b64decode(head))
        claims = json.loads(_b64decode(payload))
    except (ValueError, binascii.Error, RecursionError):
        return None
    if not isinstance(header, dict) or not isinstance(header.get("alg"), str):
        return None
    return header, claims if isinstance(claims, dict) else {}


def token_of(identity: Identity) -> str:
    """The identity's JWT: its ``token``, else a bearer token in its headers; "" when none."""
    if parse_jwt(identity.token):
        return identity.token
    for value in identity.headers.values():
        scheme, _, rest = value.partition(" ")
        candidate = rest.strip() if scheme.lower() == "bearer" else value.strip()
        if parse_jwt(candidate):
            return candidate
    return ""


def crack_hmac(token: str, candidates: tuple[str, ...] = WEAK_SECRETS) -> str | None:
    """The candidate that signed an HS* ``token``, offline; None when none did (or not HMAC)."""
    parsed = parse_jwt(token)
    if parsed is None:
        return None
    digest = HMAC_DIGESTS.get(str(parsed[0].get("alg")))
    if digest is None:
        return None
    head, payload, signature = token.split(".")
    try:
        expected = _b64decode(signature)
    except (ValueError, binascii.Error):
        return None
    signing_input = f"{head}.{payload}".encode("ascii", errors="replace")
    for candidate in candidates:
        if hmac.compare_digest(hmac.new(candidate.encode(), signing_input, digest).digest(), expected):
            return candidate
    return None


def unsigned(claims: Mapping[str, Any], alg: str = "none") -> str:
    header = _b64encode(json.dumps({"alg": alg, "typ": "JWT"}, separators=(",", ":")).encode())
    body = _b64encode(json.dumps(claims, separators=(",", ":")).encode())
    return f"{header}.{body}."


def signed(claims: Mapping[str, Any], key: str | bytes, alg: str = "HS256") -> str:
    """An HMAC-signed JWT (``alg`` when it is HS256/384/512, else HS256)."""
    alg = alg if alg in HMAC_DIGESTS else "HS256"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PyJWT warns about short HMAC keys: that is the point here
            return jwt.encode(dict(claims), key, algorithm=alg)
    except jwt.InvalidKeyError:  # PyJWT refuses an empty key; servers that use one exist
        header = _b64encode(json.dumps({"alg": alg, "typ": "JWT"}, separators=(",", ":")).encode())
        body = _b64encode(json.dumps(claims, separators=(",", ":")).encode())
        raw = key.encode() if isinstance(key, str) else key
        mac = hmac.new(raw, f"{header}.{body}".encode(), HMAC_DIGESTS[alg]).digest()
        return f"{header}.{body}.{_b64encode(mac)}"


@register
class JwtWeaknesses(Check):
    key = "jwt_weaknesses"
    title = "Forged, expired and weakly signed JWTs are refused"
    sends = (
        "to one protected operation: the identity's token, then tokens with alg=none, a broken "
        "signature, an expired exp and up to 30 well-known weak HMAC secrets (the real key is also "
        "tried offline against the same list)"
    )
    owasp = Owasp.API2
    severity = Severity.CRITICAL
    intrusive = False
    request_budget = 40

    def run(self, ctx: Context) -> list[Problem]:
        target = ctx.target
        holder = next((i for i in target.identities if token_of(i)), None)
        if holder is None and not JWT_SCHEMES & {s.lower() for s in target.auth_schemes}:
            raise Skip("no identity holds a JWT and the API declares no JWT or OAuth2 scheme")
        real = token_of(holder) if holder else ""
        header, claims = parse_jwt(real) or ({}, {})
        alg = str(header.get("alg", ""))
        ctx.metrics["real_token_alg"] = alg or None

        key = None
        offline = alg in HMAC_DIGESTS
        if offline:
            key = crack_hmac(real)
            ctx.metrics["offline_candidates"] = len(WEAK_SECRETS)
            if key is not None:
                ctx.problem(
                    detail="weak_signing_key",
                    operation=f"JWT {alg} signing key",
                    message=(
                        f"The identity's {alg} token is signed with a well-known weak secret (found offline "
                        f"among {len(WEAK_SECRETS)} candidates): anyone can mint tokens for any user."
                    ),
                )

        op, path = self._judge_operation(ctx, holder)
        if op is None:
            if ctx.problems:
                return ctx.problems
            raise Skip("no protected operation refused an anonymous call, so forged tokens cannot be judged")

        def send(token: str) -> ScanResponse:
            # Forged tokens go without the identity: they are not the identity's authenticated calls.
            return ctx.send("GET", path, headers=self._headers(holder, real, token), operation=op)

        now = int(time.time())
        if real:
            baseline = ctx.send("GET", path, identity=holder, operation=op)
            ctx.metrics["baseline_status"] = baseline.status
            exp = claims.get("exp")
            if isinstance(exp, int | float) and exp < now and success(baseline):
                ctx.problem(
                    detail="expired_token_accepted",
                    operation=op.key,
                    severity=Severity.HIGH,
                    message="The identity's own token expired (its exp is in the past) and was still accepted.",
                    responses=[baseline],
                )
        base = {k: v for k, v in claims.items() if k not in ("exp", "iat", "nbf")} or {"sub": "asp-scanner"}
        fresh = {**base, "iat": now, "exp": now + 600}

        for none_alg in NONE_ALGS:
            response = send(unsigned(fresh, none_alg))
            if self._accepted(
                ctx, op, response, "alg_none_accepted", f"a token with alg={none_alg} and no signature"
            ):
                break

        if real:
            real_head, _payload, real_sig = real.split(".")
            body = _b64encode(json.dumps(fresh, separators=(",", ":")).encode())
            tampered = f"{real_head}.{body}.{real_sig}"
        else:
            tampered = signed(fresh, secrets.token_bytes(32))
        self._accepted(
            ctx, op, send(tampered), "bad_signature_accepted", "a token whose signature does not match"
        )

        expired = {**base, "iat": now - 7200, "exp": now - 3600}
        ctx.metrics["expiry_signed_with_real_key"] = key is not None
        self._accepted(
            ctx,
            op,
            send(signed(expired, key if key is not None else secrets.token_bytes(32), alg)),
            "expired_token_accepted",
            "a token that expired an hour ago",
            Severity.HIGH,
        )

        if offline:
            ctx.metrics["weak_secrets_online"] = "not sent: the real key was tried offline"
        else:
            for candidate in WEAK_SECRETS:
                if self._accepted(
                    ctx,
                    op,
                    send(signed(fresh, candidate)),
                    "weak_secret_accepted",
                    "a token signed with a well-known weak HMAC secret",
                ):
                    break
        return ctx.problems

    def _judge_operation(self, ctx: Context, holder: Identity | None) -> tuple[OperationSpec | None, str]:
        """A safe protected operation that refuses an anonymous call (no path parameters first)."""
        candidates = sorted(
            (op for op in ctx.target.protected() if op.method == "GET"),
            key=lambda op: (bool(op.path_parameters()), op.path),
        )
        for op in candidates[:MAX_CANDIDATE_OPERATIONS]:
            path = filled_path(op, holder)  # the holder's own object: the real token can read it
            if refused(ctx.send("GET", path, operation=op)):
                ctx.metrics["judged_on"] = op.key
                return op, path
        return None, ""

    @staticmethod
    def _headers(holder: Identity | None, real: str, token: str) -> dict[str, str]:
        """The identity's headers with its token swapped for ``token`` (a bearer header without one)."""
        if holder is not None and real and any(real in value for value in holder.headers.values()):
            return {name: value.replace(real, token) for name, value in holder.headers.items()}
        return {"Authorization": f"Bearer {token}"}

    @staticmethod
    def _accepted(
        ctx: Context,
        op: OperationSpec,
        response: ScanResponse,
        detail: str,
        what: str,
        severity: Severity | None = None,
    ) -> bool:
        if not success(response):
            return False
        ctx.problem(
            detail=detail,
            operation=op.key,
            severity=severity,
            message=f"Expected {what} to be refused (401/403); it was accepted with {response.status}.",
            responses=[response],
        )
        return True
