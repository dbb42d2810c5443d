"""What is planted where in the demo target, as data: the lead's tests and the portal's demo read this.

``FLAWS`` is keyed by the key of the check that should catch the flaw; each entry names the
operation(s) (``"GET /orders/{id}"``) a finding should point at, and says how to trigger it.
``CORRECT_OPERATIONS`` are the ones done right (a check must *not* report them for the reason named).
``DEMO_USERS`` are the two identities for BOLA and the authenticated checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# The p95 a baseline should record for this API: every operation but the slow one answers in a few
# milliseconds on loopback, GET /stats takes SLOW_SECONDS (1.2 s by default), so it breaks this.
PERFORMANCE_BASELINE_P95_MS = 250.0

Mode = Literal["any", "http", "tls"]


@dataclass(frozen=True)
class Flaw:
    check: str  # the check key that should catch it
    operations: tuple[str, ...]  # "METHOD /path/template"; empty: the target as a whole (TLS)
    description: str  # one line
    trigger: str = ""  # what a request must do to see it, when a plain call does not
    mode: Mode = "any"  # "http": only when served without TLS; "tls": only with --tls


@dataclass(frozen=True)
class DemoUser:
    """A demo identity: log in with POST /auth/login {"username": ..., "password": ...}."""

    username: str
    password: str
    user_id: int
    order_ids: tuple[int, ...]
    invoice_ids: tuple[int, ...]
    role: str = "customer"
    display_name: str = ""
    email: str = ""


ALICE = DemoUser(
    username="alice",
    password="alice-demo-password",  # noqa: S106 - a documented demo credential of a loopback toy
    user_id=1,
    order_ids=(101, 102),
    invoice_ids=(501,),
    display_name="Alice Example",
    email="alice@demo.invalid",
)
BOB = DemoUser(
    username="bob",
    password="bob-demo-password",  # noqa: S106 - a documented demo credential of a loopback toy
    user_id=2,
    order_ids=(201, 202),
    invoice_ids=(502,),
    display_name="Bob Example",
    email="bob@demo.invalid",
)
# Not for scanning: exists so that GET /debug/config has an administrator's password to leak.
OPS_ADMIN = DemoUser(
    username="ops-admin",
    password="Adm1n-demo-only!",  # noqa: S106 - the password the debug endpoint leaks, by design
    user_id=3,
    order_ids=(),
    invoice_ids=(),
    role="admin",
    display_name="Operations",
    email="ops@demo.invalid",
)
DEMO_USERS: dict[str, DemoUser] = {u.username: u for u in (ALICE, BOB)}

FLAWS: dict[str, Flaw] = {
    flaw.check: flaw
    for flaw in (
        Flaw(
            "tls",
            (),
            "Self-signed certificate generated at start, TLS 1.0 and 1.1 accepted with @SECLEVEL=0 ciphers "
            "(DemoTarget.tls_versions says what this machine's OpenSSL actually accepted), no "
            "Strict-Transport-Security on any response.",
            mode="tls",
        ),
        Flaw(
            "cleartext",
            ("POST /auth/login",),
            "Served over plain HTTP with no redirect to HTTPS: passwords and bearer tokens travel in "
            "clear text (POST /auth/login is where the passwords go).",
            mode="http",
        ),
        Flaw(
            "auth_enforced",
            ("GET /invoices",),
            "Documented as requiring a bearer token; answers 200 with every user's invoices without one.",
        ),
        Flaw(
            "jwt_weaknesses",
            ("POST /auth/login", "GET /notifications"),
            "Every token is HS256 signed with the dictionary secret 'secret' (forged tokens are accepted "
            "everywhere); GET /notifications also accepts alg=none tokens. Expiry is enforced everywhere.",
            trigger="crack the login token's key from a wordlist; send an alg=none token to GET /notifications",
        ),
        Flaw(
            "bola",
            ("GET /orders/{id}",),
            "Returns any user's order to any authenticated user (GET /v2/orders/{id} is the correct twin).",
            trigger="alice's token with one of bob's order ids",
        ),
        Flaw(
            "mass_assignment",
            ("PATCH /users/me",),
            "Accepts the read-only 'role' and 'is_admin' properties (not in the request schema) and "
            "stores and reflects them.",
            trigger='{"role": "admin", "is_admin": true}',
        ),
        Flaw(
            "rate_limit",
            ("GET /products",),
            "No rate limit on any operation except GET /search; a burst at GET /products is answered "
            "200 throughout.",
            trigger="Target.cheap_get='/products' (GET /search answers 429 with RateLimit headers instead)",
        ),
        Flaw(
            "error_hygiene",
            ("GET /products",),
            "A quote in ?q= gives a 500 with a Python traceback, the SQL error and internal file paths.",
            trigger="q=' (or \")",
        ),
        Flaw(
            "input_sanitation",
            ("GET /products",),
            "?q= is pasted into an SQL string: a quote breaks the statement (500 with the SQL syntax error).",
            trigger="q=' (or \")",
        ),
        Flaw(
            "fail_secure",
            ("GET /reports",),
            "Fails open: a bearer value that is not a JWT makes the legacy-session lookup fail and the "
            "error path grants guest access (200). No token, or a JWT with a bad signature, gets 401.",
            trigger="Authorization: Bearer not-a-jwt",
        ),
        Flaw(
            "spec_conformance",
            ("GET /promotions", "GET /v1/products"),
            "GET /promotions answers 204, which is not documented (only 200); GET /v1/products is an "
            "undocumented older version of GET /products, still live.",
        ),
        Flaw(
            "security_headers",
            ("GET /users/me",),
            "Authenticated response without X-Content-Type-Options: nosniff or Cache-Control, with "
            "'Server: DemoAPI/1.2.3' and 'X-Powered-By: Python/3.11 DemoFramework/0.9.1' banners.",
        ),
        Flaw(
            "cors",
            ("GET /wallet",),
            "Reflects any Origin in Access-Control-Allow-Origin with Access-Control-Allow-Credentials: "
            "true (also on its OPTIONS preflight).",
            trigger="Origin: https://evil.example",
        ),
        Flaw(
            "http_methods",
            ("TRACE /products",),
            "TRACE is answered 200 with the request echoed back (message/http), headers included.",
        ),
        Flaw(
            "exposed_debug",
            ("GET /debug/config",),
            "Undocumented, unauthenticated: dumps the configuration with the JWT secret, a database "
            "password and every user's plain-text password.",
        ),
        Flaw(
            "latency_slo",
            ("GET /stats",),
            f"Takes about 1.2 s on every call (baseline p95 {PERFORMANCE_BASELINE_P95_MS:.0f} ms); other "
            "requests are served meanwhile.",
        ),
    )
}

# Done right, and what is right about each (a check must not report these for that reason).
CORRECT_OPERATIONS: dict[str, str] = {
    "GET /health": "public by design (documented security: []); full security headers (nosniff, "
    "no-store, CSP, X-Frame-Options, Referrer-Policy)",
    "GET /openapi.json": "public by design: the API's own OpenAPI document",
    "GET /products/{id}": "public by design; a quote or unknown id is a plain 404",
    "GET /search": "rate limited per client address: 429 with Retry-After and RateLimit headers after "
    "a small burst; a quote in ?q= is handled",
    "GET /orders": "enforces auth: 401 without a token, with a bad signature, with alg=none or expired",
    "GET /v2/orders/{id}": "checks ownership: another user's order is a 404",
}

# Served but not in the OpenAPI document (TRACE and the CORS preflight are methods, not operations).
UNDOCUMENTED_OPERATIONS = ("GET /v1/products", "GET /debug/config", "TRACE /products", "OPTIONS /wallet")
