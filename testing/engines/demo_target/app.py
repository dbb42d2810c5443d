"""The demo target's behaviour: one ``DemoApp`` turns a parsed ``Request`` into a ``Response``.

Transport-free (``server.py`` does the sockets), so every route is a plain method. State is in memory
and made fresh by ``DemoApp()``; nothing here reads files, runs commands or calls out. Where a route
is flawed on purpose, its docstring says "FLAW" and ``flaws.FLAWS`` has the same entry as data.

Every response gets the baseline headers (JSON content type, ``X-Content-Type-Options: nosniff``,
``Cache-Control: no-store``, no ``Server`` banner) unless a route says otherwise.
"""

from __future__ import annotations

import hmac
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from testing.engines.demo_target import flaws, spec, tokens

JSON = "application/json"
BASELINE_HEADERS = (("X-Content-Type-Options", "nosniff"), ("Cache-Control", "no-store"))
HEALTH_HEADERS = (
    *BASELINE_HEADERS,
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
)
BANNER_HEADERS = (("Server", "DemoAPI/1.2.3"), ("X-Powered-By", "Python/3.11 DemoFramework/0.9.1"))
MAX_Q = 100
MAX_TRACKED_CLIENTS = 10_000
SLOW_SECONDS = 1.2


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # without the query string, still percent-encoded
    query: Mapping[str, str]  # first value of each parameter
    headers: Mapping[str, str]  # lower-case names
    body: bytes = b""
    client: str = "127.0.0.1"
    raw_head: str = ""  # request line and headers as received (TRACE echoes it)


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)


def json_response(
    status: int,
    payload: Any,
    *,
    headers: tuple[tuple[str, str], ...] = BASELINE_HEADERS,
) -> Response:
    body = json.dumps(payload).encode()
    return Response(status, body, [("Content-Type", JSON), *headers])


def error(status: int, message: str, *extra: tuple[str, str]) -> Response:
    response = json_response(status, {"error": message})
    response.headers.extend(extra)
    return response


@dataclass
class User:
    id: int
    username: str
    password: str
    display_name: str
    email: str
    role: str
    is_admin: bool

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "username": self.username,
            "display_name": self.display_name,
            "email": self.email,
            "role": self.role,
            "is_admin": self.is_admin,
        }


PRODUCTS = (
    {"id": 1, "name": "Coffee mug", "price": 9.5},
    {"id": 2, "name": "Travel mug", "price": 14.0},
    {"id": 3, "name": "Tea pot", "price": 32.0},
    {"id": 4, "name": "Espresso cups (set of 2)", "price": 18.0},
)

Handler = Callable[["DemoApp", Request, dict[str, str]], Response]


class RateLimiter:
    """A fixed window per client address; memory bounded (expired windows are dropped first)."""

    def __init__(self, *, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window_s = window_s
        self.clock = clock
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def hit(self, client: str) -> tuple[bool, int, int]:
        """Counts one request: (allowed, remaining, seconds until the window resets)."""
        now = self.clock()
        with self._lock:
            start, count = self._windows.get(client, (now, 0))
            if now - start >= self.window_s:
                start, count = now, 0
            if client not in self._windows and len(self._windows) >= MAX_TRACKED_CLIENTS:
                self._windows = {k: v for k, v in self._windows.items() if now - v[0] < self.window_s}
                if len(self._windows) >= MAX_TRACKED_CLIENTS:
                    self._windows.clear()
            count += 1
            self._windows[client] = (start, count)
        reset = max(1, int(start + self.window_s - now + 0.999))
        return count <= self.limit, max(0, self.limit - count), reset


class DemoApp:
    """The API's state and routes. A new instance is a fresh shop (alice, bob and their orders)."""

    def __init__(
        self,
        *,
        base_url: str = "",
        slow_seconds: float = SLOW_SECONDS,
        rate_limit: int = 10,
        rate_window_s: float = 10.0,
        stopping: threading.Event | None = None,
    ) -> None:
        self.base_url = base_url
        self.slow_seconds = slow_seconds
        self.stopping = stopping or threading.Event()
        self.limiter = RateLimiter(limit=rate_limit, window_s=rate_window_s)
        self._lock = threading.Lock()
        self.users: dict[str, User] = {
            u.username: User(
                id=u.user_id,
                username=u.username,
                password=u.password,
                display_name=u.display_name,
                email=u.email,
                role=u.role,
                is_admin=u.role == "admin",
            )
            for u in (flaws.ALICE, flaws.BOB, flaws.OPS_ADMIN)
        }
        self.orders: dict[int, dict[str, Any]] = {}
        self.invoices: list[dict[str, Any]] = []
        items = iter(PRODUCTS * 2)
        for u in (flaws.ALICE, flaws.BOB, flaws.OPS_ADMIN):
            for order_id in u.order_ids:
                product = next(items)
                self.orders[order_id] = {
                    "id": order_id,
                    "owner": u.username,
                    "item": product["name"],
                    "total": product["price"],
                    "status": "shipped",
                }
            for invoice_id in u.invoice_ids:
                self.invoices.append({"id": invoice_id, "owner": u.username, "amount": 42.0 + u.user_id})

    # --- dispatch ------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        segments = request.path.split("/")
        allowed: list[str] = []
        for (route_method, template), handler in ROUTES.items():
            params = _match(template, segments)
            if params is None:
                continue
            if route_method == method:
                try:
                    return handler(self, request, params)
                except Exception:  # a bug must still answer as a short, generic 500 (this one is correct)
                    return error(500, "internal error")
            allowed.append(route_method)
        if allowed:
            allow = ", ".join(sorted({*allowed, *(["HEAD"] if "GET" in allowed else [])}))
            return error(405, "method not allowed", ("Allow", allow))
        return error(404, "not found")

    # --- authentication ------------------------------------------------------------------------------

    @staticmethod
    def bearer(request: Request) -> str | None:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        return value.strip() if scheme.lower() == "bearer" and value.strip() else None

    def authenticate(
        self, request: Request, verify: Callable[[str], dict[str, Any]] = tokens.verify_token
    ) -> User | Response:
        token = self.bearer(request)
        if token is None:
            return error(401, "authentication required", ("WWW-Authenticate", 'Bearer realm="demo"'))
        try:
            claims = verify(token)
        except tokens.TokenError:
            claims = None
        user = self.users.get(claims["sub"]) if claims else None
        if user is None:
            return error(
                401, "invalid token", ("WWW-Authenticate", 'Bearer realm="demo", error="invalid_token"')
            )
        return user

    # --- public routes -------------------------------------------------------------------------------

    def health(self, request: Request, params: dict[str, str]) -> Response:
        """Correct: public by design, with the full set of security headers."""
        return json_response(200, {"status": "ok"}, headers=HEALTH_HEADERS)

    def openapi(self, request: Request, params: dict[str, str]) -> Response:
        return Response(
            200, spec.openapi_bytes(self.base_url or None), [("Content-Type", JSON), *BASELINE_HEADERS]
        )

    def login(self, request: Request, params: dict[str, str]) -> Response:
        """FLAW (jwt_weaknesses; cleartext over plain HTTP): issues HS256 tokens signed with 'secret'."""
        try:
            body = json.loads(request.body)
        except (UnicodeDecodeError, ValueError):
            body = None
        if not isinstance(body, dict) or not all(
            isinstance(body.get(k), str) and len(body[k]) <= 200 for k in ("username", "password")
        ):
            return error(400, "expected a JSON object with a username and a password")
        user = self.users.get(body["username"])
        # Compared even for an unknown user, so both answers take the same time.
        expected = user.password if user else "\0" * 16
        if not _same(body["password"], expected) or user is None:
            return error(401, "wrong username or password")
        token = tokens.issue_token(user.username, role=user.role)
        return json_response(
            200, {"access_token": token, "token_type": "Bearer", "expires_in": tokens.TOKEN_LIFETIME_S}
        )

    def products(self, request: Request, params: dict[str, str]) -> Response:
        """FLAW (error_hygiene, input_sanitation): ?q= goes into an SQL string; a quote breaks it and
        the traceback goes to the client. (No real database: the statement is never run.)"""
        q = request.query.get("q", "")
        if "'" in q or '"' in q:
            return _sql_traceback(q)
        return json_response(200, {"items": _search(q)})

    def product(self, request: Request, params: dict[str, str]) -> Response:
        """Correct: an unknown or malformed id is a plain 404."""
        product = next((p for p in PRODUCTS if str(p["id"]) == params["id"]), None)
        return json_response(200, product) if product else error(404, "not found")

    def trace_products(self, request: Request, params: dict[str, str]) -> Response:
        """FLAW (http_methods): TRACE echoes the request, headers (cookies, tokens) included."""
        return Response(
            200, request.raw_head.encode("latin-1", "replace"), [("Content-Type", "message/http")]
        )

    def promotions(self, request: Request, params: dict[str, str]) -> Response:
        """FLAW (spec_conformance): 204 when there are no promotions; the document lists only 200."""
        return Response(204, b"", list(BASELINE_HEADERS))

    def search(self, request: Request, params: dict[str, str]) -> Response:
        """Correct: rate limited per client address, with RateLimit headers on every answer."""
        allowed, remaining, reset = self.limiter.hit(request.client)
        headers = (
            ("RateLimit-Limit", str(self.limiter.limit)),
            ("RateLimit-Remaining", str(remaining)),
            ("RateLimit-Reset", str(reset)),
            ("RateLimit-Policy", f"{self.limiter.limit};w={int(self.limiter.window_s)}"),
        )
        if not allowed:
            return error(429, "too many requests", ("Retry-After", str(reset)), *headers)
        response = json_response(200, {"items": _search(request.query.get("q", ""))})
        response.headers.extend(headers)
        return response

    def stats(self, request: Request, params: dict[str, str]) -> Response:
        """FLAW (latency_slo): slow on every call. Waits on the stop event, so stop() is not held up."""
        self.stopping.wait(self.slow_seconds)
        with self._lock:
            counts = {"products": len(PRODUCTS), "orders": len(self.orders), "users": len(self.users)}
        return json_response(200, counts)

    def v1_products(self, request: Request, params: dict[str, str]) -> Response:
        """FLAW (spec_conformance): an older version, still live, missing from the document."""
        return json_response(200, {"products": [dict(p) for p in PRODUCTS], "version": 1})

    def debug_config(self, request: Request, params: dict[str, str]) -> Response:
        """FLAW (exposed_debug): undocumented, unauthenticated, leaks secrets and passwords."""
        with self._lock:
            users = [
                {"username": u.username, "password": u.password, "role": u.role} for u in self.users.values()
            ]
        return json_response(
            200,
            {
                "debug": True,
                "environment": "production",
                "jwt_secret": tokens.JWT_SECRET,
                "database_url": "postgresql://shop:Sup3rS3cret@db.internal:5432/shop",
                "users": users,
            },
        )

    # --- authenticated routes ------------------------------------------------------------------------

    def my_orders(self, request: Request, params: dict[str, str]) -> Response:
        """Correct: auth enforced (no token, bad signature, alg=none, expired: 401)."""
        user = self.authenticate(request)
        if isinstance(user, Response):
            return user
        with self._lock:
            mine = [dict(o) for o in self.orders.values() if o["owner"] == user.username]
        return json_response(200, {"items": mine})

    def order(self, request: Request, params: dict[str, str]) -> Response:
        """FLAW (bola): any authenticated user gets any order."""
        user = self.authenticate(request)
        if isinstance(user, Response):
            return user
        with self._lock:
            found = self.orders.get(_int(params["id"]))
            found = dict(found) if found else None
        return json_response(200, found) if found else error(404, "not found")

    def order_v2(self, request: Request, params: dict[str, str]) -> Response:
        """Correct: another user's order is a 404, exactly like a missing one."""
        user = self.authenticate(request)
        if isinstance(user, Response):
            return user
        with self._lock:
            found = self.orders.get(_int(params["id"]))
            found = dict(found) if found and found["owner"] == user.username else None
        return json_response(200, found) if found else error(404, "not found")

    def invoices_route(self, request: Request, params: dict[str, str]) -> Response:
        """FLAW (auth_enforced): documented as protected, never looks at the token."""
        with self._lock:
            everything = [dict(i) for i in self.invoices]
        return json_response(200, {"items": everything})

    def me(self, request: Request, params: dict[str, str]) -> Response:
        """FLAW (security_headers): no nosniff, no Cache-Control, and version banners."""
        user = self.authenticate(request)
        if isinstance(user, Response):
            return user
        with self._lock:
            payload = user.public()
        return json_response(200, payload, headers=BANNER_HEADERS)

    def update_me(self, request: Request, params: dict[str, str]) -> Response:
        """FLAW (mass_assignment): takes 'role' and 'is_admin' too (only this in-memory record changes)."""
        user = self.authenticate(request)
        if isinstance(user, Response):
            return user
        try:
            body = json.loads(request.body)
        except (UnicodeDecodeError, ValueError):
            body = None
        if not isinstance(body, dict):
            return error(400, "expected a JSON object")
        types: dict[str, tuple[type, int]] = {
            "display_name": (str, 100),
            "email": (str, 200),
            "role": (str, 32),  # the flaw: read-only in the document, writable here
            "is_admin": (bool, 0),  # the flaw
        }
        changes: dict[str, Any] = {}
        for name, (kind, limit) in types.items():
            if name not in body:
                continue
            value = body[name]
            if not isinstance(value, kind) or (isinstance(value, str) and len(value) > limit):
                return error(400, f"{name} has the wrong type or is too long")
            changes[name] = value
        with self._lock:
            for name, value in changes.items():
                setattr(user, name, value)
            payload = user.public()
        return json_response(200, payload)

    def notifications(self, request: Request, params: dict[str, str]) -> Response:
        """FLAW (jwt_weaknesses): this verifier lets the token's header choose alg=none."""
        user = self.authenticate(request, tokens.verify_token_trusting_header)
        if isinstance(user, Response):
            return user
        return json_response(200, {"items": [{"id": 1, "message": f"Welcome back, {user.display_name}."}]})

    def wallet(self, request: Request, params: dict[str, str]) -> Response:
        """FLAW (cors): reflects any Origin with credentials allowed, on every answer."""
        user = self.authenticate(request)
        response = (
            user
            if isinstance(user, Response)
            else json_response(200, {"owner": user.username, "balance": 100.0 * user.id, "currency": "EUR"})
        )
        response.headers.extend(_reflect_cors(request))
        return response

    def wallet_preflight(self, request: Request, params: dict[str, str]) -> Response:
        """FLAW (cors): the preflight says yes to any Origin, with credentials."""
        headers = [("Allow", "GET, HEAD, OPTIONS"), *BASELINE_HEADERS, *_reflect_cors(request)]
        if "origin" in request.headers:
            headers.append(("Access-Control-Allow-Methods", "GET, OPTIONS"))
            asked = request.headers.get("access-control-request-headers", "")[:200]
            headers.append(("Access-Control-Allow-Headers", asked or "Authorization"))
            headers.append(("Access-Control-Max-Age", "600"))
        return Response(204, b"", headers)

    def reports(self, request: Request, params: dict[str, str]) -> Response:
        """FLAW (fail_secure): a bearer value that is not a JWT goes to a legacy-session lookup, whose
        failure is caught by a handler that falls back to guest access instead of refusing."""
        token = self.bearer(request)
        if token is None:
            return error(401, "authentication required", ("WWW-Authenticate", 'Bearer realm="demo"'))
        if token.count(".") == 2:
            user = self.authenticate(request)
            if isinstance(user, Response):
                return user
            viewer = user.username
        else:
            try:
                viewer = _LEGACY_SESSIONS[token]
            except Exception:  # the planted bug: fail open
                viewer = "guest"
        return json_response(
            200,
            {
                "viewer": viewer,
                "items": [{"name": "revenue", "value": 125000.0}, {"name": "refunds", "value": 3100.0}],
            },
        )


_LEGACY_SESSIONS: dict[str, str] = {}  # retired long ago; the lookup is all that is left


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _int(text: str) -> int:
    return int(text) if text.isdigit() and len(text) <= 9 else -1


def _search(q: str) -> list[dict[str, Any]]:
    words = q[:MAX_Q].lower()
    return [dict(p) for p in PRODUCTS if words in str(p["name"]).lower()]


def _reflect_cors(request: Request) -> list[tuple[str, str]]:
    origin = request.headers.get("origin", "")
    if not origin or len(origin) > 300:
        return []
    return [
        ("Access-Control-Allow-Origin", origin),
        ("Access-Control-Allow-Credentials", "true"),
        ("Vary", "Origin"),
    ]


def _sql_traceback(q: str) -> Response:
    shown = q[:MAX_Q]
    # Text for the fake traceback; no statement is ever run (there is no database).
    statement = f"SELECT id, name, price FROM products WHERE name LIKE '%{shown}%' ORDER BY id"  # noqa: S608
    text = (
        "Traceback (most recent call last):\n"
        '  File "/srv/demo-api/venv/lib/python3.11/site-packages/demoframework/app.py", line 312, in dispatch\n'
        "    return handler(request)\n"
        '  File "/srv/demo-api/app/views/products.py", line 41, in list_products\n'
        "    rows = db.execute(query).fetchall()\n"
        '  File "/srv/demo-api/app/db.py", line 88, in execute\n'
        "    return self.cursor.execute(sql)\n"
        f'sqlite3.OperationalError: near "{shown[-20:]}": syntax error (unrecognized token)\n'
        f"SQL: {statement}\n"
    )
    return Response(
        500,
        text.encode("utf-8", "replace"),
        [("Content-Type", "text/plain; charset=utf-8"), *BASELINE_HEADERS],
    )


def _match(template: str, segments: list[str]) -> dict[str, str] | None:
    parts = template.split("/")
    if len(parts) != len(segments):
        return None
    params: dict[str, str] = {}
    for part, segment in zip(parts, segments, strict=True):
        if part.startswith("{") and part.endswith("}"):
            if not segment:
                return None
            params[part[1:-1]] = unquote(segment)
        elif part != segment:
            return None
    return params


ROUTES: dict[tuple[str, str], Handler] = {
    ("GET", "/health"): DemoApp.health,
    ("GET", spec.SPEC_PATH): DemoApp.openapi,
    ("POST", "/auth/login"): DemoApp.login,
    ("GET", "/products"): DemoApp.products,
    ("TRACE", "/products"): DemoApp.trace_products,
    ("GET", "/products/{id}"): DemoApp.product,
    ("GET", "/promotions"): DemoApp.promotions,
    ("GET", "/search"): DemoApp.search,
    ("GET", "/stats"): DemoApp.stats,
    ("GET", "/orders"): DemoApp.my_orders,
    ("GET", "/orders/{id}"): DemoApp.order,
    ("GET", "/v2/orders/{id}"): DemoApp.order_v2,
    ("GET", "/invoices"): DemoApp.invoices_route,
    ("GET", "/users/me"): DemoApp.me,
    ("PATCH", "/users/me"): DemoApp.update_me,
    ("GET", "/notifications"): DemoApp.notifications,
    ("GET", "/wallet"): DemoApp.wallet,
    ("OPTIONS", "/wallet"): DemoApp.wallet_preflight,
    ("GET", "/reports"): DemoApp.reports,
    ("GET", "/v1/products"): DemoApp.v1_products,
    ("GET", "/debug/config"): DemoApp.debug_config,
}
