"""The ``jwt_weaknesses`` check against a real server on 127.0.0.1 that verifies JWTs well or badly."""

from __future__ import annotations

import json
import time
import warnings

import jwt

from testing.engines.checks import all_checks
from testing.engines.checks.base import Identity, OperationSpec, Outcome, Severity, Target
from testing.engines.checks.jwt_weaknesses import WEAK_SECRETS, crack_hmac, parse_jwt
from testing.engines.checks.runner import run_checks
from testing.engines.safe_http import Limits, SafeClient
from tests.testing.servers import RawServer, Router, reset, respond

all_checks()
STRONG = "k" * 24 + "7fQ2-strong-random-key!"
OPS = (
    OperationSpec("GET", "/health", auth_required=False),
    OperationSpec("GET", "/me"),
    OperationSpec("POST", "/orders"),
)


def _token(key: str, **claims) -> str:
    now = int(time.time())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return jwt.encode(
            {"sub": "alice", "role": "user", "iat": now, "exp": now + 3600, **claims}, key, "HS256"
        )


def _identity(token: str) -> Identity:
    return Identity("alice", headers={"Authorization": f"Bearer {token}"}, secrets=(token,), token=token)


def jwt_api(key: str, *, accept_none=False, verify_signature=True, verify_exp=True):
    def me(conn, request):
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme != "Bearer" or not token:
            return respond(conn, 401, b'{"error": "login"}')
        if accept_none and (parse_jwt(token) or ({},))[0].get("alg", "").lower() == "none":
            return respond(conn, 200, b'{"user": "?"}')
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                claims = jwt.decode(
                    token,
                    key,
                    algorithms=["HS256"],
                    options={"verify_signature": verify_signature, "verify_exp": verify_exp},
                )
        except jwt.PyJWTError:
            return respond(conn, 401, b'{"error": "bad token"}')
        respond(conn, 200, json.dumps({"user": claims.get("sub")}).encode())

    return Router({"/me": me, "/health": lambda c, r: respond(c, 200, b"ok")})


def _run(server, identities=(), schemes=(), operations=OPS):
    def factory(budget: int) -> SafeClient:
        return SafeClient(
            allowed_networks=["127.0.0.0/8"],
            limits=Limits(
                connect_timeout=1, read_timeout=1, total_timeout=2, per_host_rate=0, max_requests=budget
            ),
        )

    target = Target(
        base_url=server.url("").rstrip("/"),
        operations=operations,
        identities=identities,
        auth_schemes=schemes,
    )
    result = run_checks(target, ["jwt_weaknesses"], client_factory=factory).checks[0]
    assert result.requests_sent <= result.request_budget
    return result


def _problems(result):
    return sorted((p.detail, p.operation) for p in result.problems)


def test_it_passes_an_api_that_verifies_tokens_properly():
    token = _token(STRONG)
    with RawServer(jwt_api(STRONG)) as server:
        result = _run(server, identities=(_identity(token),))
    assert result.outcome == Outcome.PASSED, result.problems
    assert result.metrics["baseline_status"] == 200 and result.metrics["judged_on"] == "GET /me"
    assert "offline" in result.metrics["weak_secrets_online"]
    # anonymous, the real token, three alg=none spellings, a tampered signature, an expired token
    assert result.requests_sent == 7
    sent = [r.headers.get("authorization", "") for r in server.requests if r.path == "/me"]
    tampered = parse_jwt(sent[5].split(" ", 1)[1])
    assert tampered is not None and tampered[1]["role"] == "user"  # the forged tokens copy the real claims
    assert token not in repr(result.problems) + repr(result.metrics)


def test_it_cracks_a_weak_key_offline_and_proves_expiry_with_it():
    token = _token("secret")
    assert crack_hmac(token) == "secret" and crack_hmac(_token(STRONG)) is None
    with RawServer(jwt_api("secret", verify_exp=False)) as server:
        result = _run(server, identities=(_identity(token),))
    assert _problems(result) == [
        ("expired_token_accepted", "GET /me"),
        ("weak_signing_key", "JWT HS256 signing key"),
    ]
    assert result.severity == Severity.CRITICAL and result.metrics["expiry_signed_with_real_key"]
    weak = next(p for p in result.problems if p.detail == "weak_signing_key")
    assert "'secret'" not in weak.message
    with RawServer(jwt_api("secret")) as server:  # the key is weak, but expiry is checked
        assert _problems(_run(server, identities=(_identity(token),))) == [
            ("weak_signing_key", "JWT HS256 signing key")
        ]


def test_it_catches_alg_none_and_unverified_signatures():
    token = _token(STRONG)
    with RawServer(jwt_api(STRONG, accept_none=True)) as server:
        assert _problems(_run(server, identities=(_identity(token),))) == [("alg_none_accepted", "GET /me")]
    with RawServer(jwt_api(STRONG, verify_signature=False)) as server:
        result = _run(server, identities=(_identity(token),))
    assert ("bad_signature_accepted", "GET /me") in _problems(result)


def test_it_tries_weak_secrets_online_without_a_real_token():
    with RawServer(jwt_api("changeme")) as server:
        result = _run(server, schemes=("jwt",))
    assert _problems(result) == [("weak_secret_accepted", "GET /me")]
    tried = WEAK_SECRETS.index("changeme") + 1
    # anonymous, three alg=none, a random signature, an expired one, then the weak secrets up to the hit
    assert result.requests_sent == 6 + tried
    with RawServer(jwt_api(STRONG)) as server:
        result = _run(server, schemes=("oauth2",))
    assert result.outcome == Outcome.PASSED and result.requests_sent == 6 + len(WEAK_SECRETS)


def test_it_skips_when_no_jwt_is_in_use_or_nothing_refuses():
    opaque = Identity("alice", headers={"X-API-Key": "k-123"}, secrets=("k-123",), token="k-123")
    with RawServer(jwt_api(STRONG)) as server:
        result = _run(server, identities=(opaque,), schemes=("api_key",))
    assert result.outcome == Outcome.SKIPPED and result.requests_sent == 0
    with RawServer(Router({"/me": reset})) as server:
        result = _run(server, schemes=("jwt",))
    assert result.outcome == Outcome.SKIPPED and "refused an anonymous call" in result.skipped_reason


def test_it_copes_with_garbage_answers_to_forged_tokens():
    def me(conn, request):
        if "authorization" not in request.headers:
            return respond(conn, 401, b"no")
        if request.headers["authorization"].endswith("."):
            return reset(conn, request)
        respond(conn, 500, b"\x00\xff<html>")

    with RawServer(Router({"/me": me})) as server:
        result = _run(server, identities=(_identity(_token(STRONG)),))
    assert result.outcome == Outcome.PASSED
