"""The demo target: each planted flaw and each correct endpoint, seen through real requests on loopback.

Every test talks to a real ``DemoTarget`` (port 0) with httpx or raw sockets; the TLS tests make real
handshakes. The management command is started as a real process once.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import jsonschema
import jwt
import pytest
from cryptography import x509
from django.core.management import call_command
from django.core.management.base import CommandError

from inventory.engines.openapi import parse_spec
from testing.engines.demo_target import (
    CORRECT_OPERATIONS,
    DEMO_USERS,
    FLAWS,
    JWT_SECRET,
    PERFORMANCE_BASELINE_P95_MS,
    SPEC_PATH,
    UNDOCUMENTED_OPERATIONS,
    DemoTarget,
    NotLoopback,
    documented_operations,
    issue_token,
    openapi_bytes,
)

ROOT = Path(__file__).resolve().parents[2]
CHECK_KEYS = {
    "tls",
    "cleartext",
    "auth_enforced",
    "jwt_weaknesses",
    "bola",
    "mass_assignment",
    "rate_limit",
    "error_hygiene",
    "input_sanitation",
    "fail_secure",
    "spec_conformance",
    "security_headers",
    "cors",
    "http_methods",
    "exposed_debug",
    "latency_slo",
    "availability",
}
ALICE, BOB = DEMO_USERS["alice"], DEMO_USERS["bob"]


@pytest.fixture
def target() -> Iterator[DemoTarget]:
    with DemoTarget(port=0) as running:
        yield running


@pytest.fixture
def client(target: DemoTarget) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=target.url, timeout=5) as c:
        yield c


@pytest.fixture(scope="module")
def tls_target() -> Iterator[DemoTarget]:
    with DemoTarget(port=0, tls=True) as running:
        yield running


def login(client: httpx.Client, username: str) -> str:
    user = DEMO_USERS[username]
    response = client.post("/auth/login", json={"username": username, "password": user.password})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def alg_none_token(username: str) -> str:
    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64({'sub': username, 'exp': int(time.time()) + 600})}."


def forge_hs256(claims: dict[str, object], key: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyJWT warns about the short key: that is the flaw
        return jwt.encode(claims, key, algorithm="HS256")


# --- the document -----------------------------------------------------------------------------------


def test_it_parses_with_the_portals_spec_parser_and_lists_only_documented_operations():
    parsed = parse_spec(openapi_bytes("http://127.0.0.1:8765"))

    operations = {f"{op.method} {op.path}" for op in parsed.operations}
    assert operations == set(documented_operations())
    assert {"GET /orders/{id}", "GET /v2/orders/{id}", "PATCH /users/me", "GET /invoices"} <= operations
    assert not operations & set(UNDOCUMENTED_OPERATIONS)
    by_key = {f"{op.method} {op.path}": op for op in parsed.operations}
    assert by_key["GET /invoices"].auth_required  # documented as protected: the auth_enforced flaw
    assert not by_key["GET /health"].auth_required
    assert set(by_key["GET /promotions"].responses) == {"200"}  # the 204 it answers is not listed


def test_it_serves_the_same_document_at_the_documented_path(client, target):
    response = client.get(SPEC_PATH)

    assert response.status_code == 200
    assert response.content == openapi_bytes(target.url)
    assert response.json()["servers"] == [{"url": target.url}]
    assert parse_spec(response.content).title.startswith("Demo Shop API")


def test_it_describes_every_flaw_at_an_operation_it_serves():
    known = set(documented_operations()) | set(UNDOCUMENTED_OPERATIONS)
    assert set(FLAWS) <= CHECK_KEYS
    assert set(FLAWS) == CHECK_KEYS - {"availability"}
    for key, flaw in FLAWS.items():
        assert flaw.check == key
        assert set(flaw.operations) <= known, key
        assert flaw.description
        assert flaw.operations or key == "tls"
    assert set(CORRECT_OPERATIONS) <= set(documented_operations())
    assert not set(CORRECT_OPERATIONS) & {op for f in FLAWS.values() for op in f.operations}


def test_it_answers_every_documented_operation_as_documented_except_the_planted_ones(client):
    document = json.loads(openapi_bytes())
    alice = login(client, "alice")
    bodies = {"POST": {"username": "alice", "password": ALICE.password}, "PATCH": {"display_name": "Alice"}}
    planted = set(FLAWS["spec_conformance"].operations)
    checked = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if f"{method.upper()} {path}" in planted or path == "/stats":  # /stats: slow, tested below
                continue
            url = path.replace(
                "{id}", str(operation.get("parameters", [{}])[0].get("schema", {}).get("example"))
            )
            response = client.request(
                method.upper(), url, headers=auth(alice), json=bodies.get(method.upper())
            )
            documented = operation["responses"].get(str(response.status_code))
            assert documented is not None, (method, path, response.status_code)
            schema = documented["content"]["application/json"]["schema"]
            validator = jsonschema.Draft202012Validator(
                {"components": document["components"], "allOf": [schema]}
            )
            assert not list(validator.iter_errors(response.json())), (method, path)
            checked += 1
    assert checked == len(documented_operations()) - len(planted & set(documented_operations())) - 1


# --- correct endpoints -------------------------------------------------------------------------------


def test_it_answers_health_publicly_with_full_security_headers(client):
    response = client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert "server" not in response.headers  # no stdlib "BaseHTTP/0.6 Python/3.x" banner either
    assert "strict-transport-security" not in response.headers


def test_it_answers_head_without_a_body(client):
    response = client.head("/health")

    assert response.status_code == 200
    assert response.content == b""
    assert int(response.headers["content-length"]) > 0


def test_it_enforces_auth_properly_on_my_orders(client):
    token = login(client, "alice")
    bad_signature = forge_hs256({"sub": "alice", "exp": int(time.time()) + 600}, "not-the-secret")
    expired = issue_token("alice", lifetime_s=60, now=time.time() - 3600)

    assert client.get("/orders").status_code == 401
    for refused in (bad_signature, expired, alg_none_token("alice"), "garbage", token[:-3] + "abc"):
        response = client.get("/orders", headers=auth(refused))
        assert response.status_code == 401, refused
        assert "invalid_token" in response.headers["www-authenticate"]
    mine = client.get("/orders", headers=auth(token))
    assert mine.status_code == 200
    assert sorted(o["id"] for o in mine.json()["items"]) == list(ALICE.order_ids)
    assert mine.headers["x-content-type-options"] == "nosniff"
    assert mine.headers["cache-control"] == "no-store"


def test_it_refuses_a_wrong_password_like_an_unknown_user(client):
    wrong = client.post("/auth/login", json={"username": "alice", "password": "nope"})
    unknown = client.post("/auth/login", json={"username": "mallory", "password": "nope"})
    malformed = client.post("/auth/login", content=b"{not json")

    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert malformed.status_code == 400


def test_it_checks_ownership_on_the_v2_twin(client):
    alice = login(client, "alice")

    assert client.get(f"/v2/orders/{ALICE.order_ids[0]}", headers=auth(alice)).status_code == 200
    theirs = client.get(f"/v2/orders/{BOB.order_ids[0]}", headers=auth(alice))
    missing = client.get("/v2/orders/999999", headers=auth(alice))
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json() == missing.json()
    assert client.get(f"/v2/orders/{ALICE.order_ids[0]}").status_code == 401


def test_it_answers_a_quote_in_a_product_id_with_a_plain_404(client):
    assert client.get("/products/1").json()["name"] == "Coffee mug"
    response = client.get("/products/1'")

    assert response.status_code == 404
    assert response.json() == {"error": "not found"}


def test_it_rate_limits_search_per_client_address_with_ratelimit_headers():
    with DemoTarget(port=0, rate_limit=3, rate_window_s=30) as target:
        with httpx.Client(base_url=target.url) as first:
            answers = [first.get("/search", params={"q": "mug'"}) for _ in range(5)]
        other_transport = httpx.HTTPTransport(local_address="127.0.0.2")
        with httpx.Client(base_url=target.url, transport=other_transport) as second:
            other = second.get("/search", params={"q": "mug"})

    assert [r.status_code for r in answers] == [200, 200, 200, 429, 429]
    assert [r.headers["ratelimit-remaining"] for r in answers] == ["2", "1", "0", "0", "0"]
    assert all(r.headers["ratelimit-limit"] == "3" for r in answers)
    assert 0 < int(answers[3].headers["retry-after"]) <= 30
    assert answers[0].json() == {"items": []}  # the quote is just a character here
    assert other.status_code == 200
    assert other.headers["ratelimit-remaining"] == "2"


# --- planted flaws ------------------------------------------------------------------------------------


def test_it_leaves_invoices_open_though_documented_as_protected(client):
    response = client.get("/invoices")

    assert response.status_code == 200
    owners = {i["owner"] for i in response.json()["items"]}
    assert {"alice", "bob"} <= owners


def test_it_signs_tokens_with_the_dictionary_secret(client):
    token = login(client, "alice")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyJWT warns about the short key: that is the flaw
        claims = jwt.decode(token, JWT_SECRET, algorithms=["HS256"])
    assert claims["sub"] == "alice"
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    forged = forge_hs256({"sub": "bob", "exp": int(time.time()) + 600}, "secret")
    response = client.get("/orders", headers=auth(forged))
    assert response.status_code == 200
    assert sorted(o["id"] for o in response.json()["items"]) == list(BOB.order_ids)


def test_it_accepts_alg_none_on_notifications_only(client):
    none = alg_none_token("bob")

    accepted = client.get("/notifications", headers=auth(none))
    assert accepted.status_code == 200
    assert "Bob" in accepted.json()["items"][0]["message"]
    assert client.get("/notifications").status_code == 401
    expired_none = f"{b64({'alg': 'none'})}.{b64({'sub': 'bob', 'exp': int(time.time()) - 10})}."
    assert client.get("/notifications", headers=auth(expired_none)).status_code == 401
    for path in ("/orders", "/users/me", "/wallet", "/v2/orders/201", "/orders/201"):
        assert client.get(path, headers=auth(none)).status_code == 401, path


def test_it_returns_another_users_order(client):
    alice = login(client, "alice")

    response = client.get(f"/orders/{BOB.order_ids[0]}", headers=auth(alice))

    assert response.status_code == 200
    assert response.json()["owner"] == "bob"
    assert client.get(f"/orders/{BOB.order_ids[0]}").status_code == 401


def test_it_takes_role_and_is_admin_in_a_patch_of_users_me(client, target):
    bob = login(client, "bob")

    response = client.patch("/users/me", headers=auth(bob), json={"role": "admin", "is_admin": True})

    assert response.status_code == 200
    assert response.json()["role"] == "admin"
    assert response.json()["is_admin"] is True
    assert client.get("/users/me", headers=auth(bob)).json()["is_admin"] is True
    assert client.patch("/users/me", headers=auth(bob), json={"is_admin": "yes"}).status_code == 400
    assert client.patch("/users/me", json={"role": "admin"}).status_code == 401
    with DemoTarget(port=0) as fresh, httpx.Client(base_url=fresh.url) as other:  # state starts over
        assert other.get("/users/me", headers=auth(bob)).json()["is_admin"] is False


def test_it_shows_a_traceback_on_a_quote_in_products_q(client):
    assert [p["name"] for p in client.get("/products", params={"q": "pot"}).json()["items"]] == ["Tea pot"]

    for quote in ("'", '"'):
        response = client.get("/products", params={"q": f"mug{quote}"})
        assert response.status_code == 500
        assert "Traceback (most recent call last)" in response.text
        assert "sqlite3.OperationalError" in response.text
        assert "SELECT id, name, price FROM products" in response.text
        assert '"/srv/demo-api/app/views/products.py"' in response.text


def test_it_has_no_rate_limit_on_products(client):
    statuses = {client.get("/products").status_code for _ in range(40)}

    assert statuses == {200}


def test_it_is_slow_on_stats_without_holding_up_other_requests():
    with DemoTarget(port=0) as target:
        slow: dict[str, float] = {}

        def call_stats() -> None:
            started = time.monotonic()
            assert httpx.get(target.url + "/stats", timeout=5).status_code == 200
            slow["seconds"] = time.monotonic() - started

        thread = threading.Thread(target=call_stats)
        thread.start()
        time.sleep(0.1)
        started = time.monotonic()
        assert httpx.get(target.url + "/health", timeout=5).status_code == 200
        fast_ms = (time.monotonic() - started) * 1000
        thread.join(5)

    assert fast_ms < PERFORMANCE_BASELINE_P95_MS
    assert 1.0 <= slow["seconds"] < 2.0
    assert slow["seconds"] * 1000 > PERFORMANCE_BASELINE_P95_MS


def test_it_serves_an_undocumented_old_version_and_an_undocumented_204(client):
    old = client.get("/v1/products")
    promotions = client.get("/promotions")

    assert old.status_code == 200
    assert old.json()["version"] == 1
    assert promotions.status_code == 204
    assert promotions.content == b""


def test_it_leaks_passwords_and_the_jwt_secret_on_debug_config(client):
    response = client.get("/debug/config")

    assert response.status_code == 200
    payload = response.json()
    assert payload["jwt_secret"] == "secret"
    passwords = {u["username"]: u["password"] for u in payload["users"]}
    assert passwords["alice"] == ALICE.password
    assert passwords["bob"] == BOB.password
    assert "ops-admin" in passwords


def test_it_sends_banners_and_drops_nosniff_and_cache_control_on_users_me_only(client):
    alice = login(client, "alice")

    me = client.get("/users/me", headers=auth(alice))

    assert me.status_code == 200
    assert me.json()["username"] == "alice"
    assert me.headers["server"] == "DemoAPI/1.2.3"
    assert me.headers["x-powered-by"].startswith("Python/")
    assert "x-content-type-options" not in me.headers
    assert "cache-control" not in me.headers
    for path in ("/orders", "/wallet", "/v2/orders/101", "/notifications"):
        other = client.get(path, headers=auth(alice))
        assert other.status_code == 200, path
        assert other.headers["x-content-type-options"] == "nosniff", path
        assert other.headers["cache-control"] == "no-store", path
        assert "server" not in other.headers and "x-powered-by" not in other.headers, path


def test_it_reflects_any_origin_with_credentials_on_wallet_only(client):
    alice = login(client, "alice")
    evil = {"Origin": "https://evil.example"}

    wallet = client.get("/wallet", headers={**auth(alice), **evil})
    preflight = client.options(
        "/wallet",
        headers={
            **evil,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    orders = client.get("/orders", headers={**auth(alice), **evil})

    assert wallet.status_code == 200
    assert wallet.headers["access-control-allow-origin"] == "https://evil.example"
    assert wallet.headers["access-control-allow-credentials"] == "true"
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "https://evil.example"
    assert preflight.headers["access-control-allow-credentials"] == "true"
    assert "access-control-allow-origin" not in orders.headers
    assert client.options("/orders", headers=evil).status_code == 405


def test_it_echoes_trace_on_products_only(client):
    response = client.request("TRACE", "/products", headers={"X-Secret-Probe": "probe-123"})

    assert response.status_code == 200
    assert response.headers["content-type"] == "message/http"
    assert response.text.startswith("TRACE /products HTTP/1.1")
    assert "X-Secret-Probe: probe-123" in response.text
    refused = client.request("TRACE", "/health")
    assert refused.status_code == 405
    assert "GET" in refused.headers["allow"]


def test_it_fails_open_on_reports_when_the_bearer_is_not_a_jwt(client):
    alice = login(client, "alice")
    bad_signature = forge_hs256({"sub": "alice", "exp": int(time.time()) + 600}, "wrong-key")

    assert client.get("/reports").status_code == 401
    assert client.get("/reports", headers=auth(bad_signature)).status_code == 401
    assert client.get("/reports", headers=auth(alice)).json()["viewer"] == "alice"
    opened = client.get("/reports", headers=auth("not-a-jwt"))
    assert opened.status_code == 200
    assert opened.json()["viewer"] == "guest"
    assert opened.json()["items"]


# --- bounds --------------------------------------------------------------------------------------------


def test_it_refuses_oversized_and_chunked_bodies_and_unknown_paths(client):
    big = client.post("/auth/login", content=b"x" * (64 * 1024 + 1))
    chunked = client.post("/auth/login", content=iter([b'{"username": "alice"}']))
    unknown = client.get("/nowhere")
    wrong_method = client.delete("/health")

    assert big.status_code == 413
    assert chunked.status_code == 411
    assert unknown.status_code == 404
    assert unknown.json() == {"error": "not found"}
    assert wrong_method.status_code == 405
    assert "server" not in big.headers and "server" not in wrong_method.headers
    assert client.get("/health").status_code == 200  # still serving


def test_it_closes_connections_beyond_its_cap_and_idle_ones_after_the_timeout():
    with DemoTarget(port=0, max_connections=2, request_timeout=1.0) as target:
        idle = [socket.create_connection(("127.0.0.1", target.port), timeout=3) for _ in range(2)]
        time.sleep(0.2)
        with socket.create_connection(("127.0.0.1", target.port), timeout=3) as third:
            third.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            assert third.recv(100) == b""  # closed without an answer: no slot
        for s in idle:
            assert s.recv(100) == b""  # the idle connections time out
            s.close()
        time.sleep(0.2)
        assert httpx.get(target.url + "/health", timeout=3).status_code == 200


def test_it_ends_kept_alive_connections_when_stopped():
    target = DemoTarget(port=0).start()
    with httpx.Client(base_url=target.url, timeout=3) as kept:
        assert kept.get("/health").status_code == 200
        target.stop()
        with pytest.raises(httpx.TransportError):
            kept.get("/health")
    target.stop()  # twice is harmless


def test_it_refuses_a_non_loopback_host():
    for host in ("0.0.0.0", "10.0.0.1", "192.168.1.10", "::", "example.com", "169.254.169.254"):  # noqa: S104
        with pytest.raises(NotLoopback):
            DemoTarget(host=host)
    assert DemoTarget(host="127.0.0.2").host == "127.0.0.2"
    assert DemoTarget(host="localhost").host == "127.0.0.1"


def test_it_listens_on_ipv6_loopback():
    try:
        target = DemoTarget(host="::1", port=0).start()
    except OSError:
        pytest.skip("no IPv6 loopback here")
    try:
        assert target.url.startswith("http://[::1]:")
        assert httpx.get(target.url + "/health", timeout=3).status_code == 200
    finally:
        target.stop()


# --- TLS -----------------------------------------------------------------------------------------------


def test_it_serves_https_with_a_self_signed_certificate_and_no_hsts(tls_target):
    assert tls_target.url.startswith("https://127.0.0.1:")
    with pytest.raises(httpx.ConnectError):
        httpx.get(tls_target.url + "/health", timeout=3)  # the system trust store refuses it

    pinned = ssl.create_default_context(cadata=tls_target.certificate_pem.decode())
    response = httpx.get(tls_target.url + "/health", verify=pinned, timeout=3)
    assert response.status_code == 200
    assert "strict-transport-security" not in response.headers
    cert = x509.load_pem_x509_certificate(tls_target.certificate_pem)
    assert cert.issuer == cert.subject


def test_it_reports_the_tls_versions_that_really_handshake(tls_target):
    assert "TLSv1.2" in tls_target.tls_versions
    for name, version in (("TLSv1", ssl.TLSVersion.TLSv1), ("TLSv1.1", ssl.TLSVersion.TLSv1_1)):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.set_ciphers("ALL:@SECLEVEL=0")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = context.maximum_version = version
        try:
            with (
                socket.create_connection(("127.0.0.1", tls_target.port), timeout=3) as raw,
                context.wrap_socket(raw) as tls,
            ):
                tls.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                answer = tls.recv(100)
                handshake = tls.version()
        except (ssl.SSLError, OSError):
            handshake, answer = None, b""
        assert (name in tls_target.tls_versions) == (handshake == name), name
        if handshake:
            assert answer.startswith(b"HTTP/1.1 200")


def test_it_still_serves_after_a_refused_handshake(tls_target):
    with socket.create_connection(("127.0.0.1", tls_target.port), timeout=3) as raw:
        raw.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")  # plain HTTP to the TLS port
        with contextlib.suppress(OSError):
            assert raw.recv(100) == b""  # closed (or reset) without an answer
    pinned = ssl.create_default_context(cadata=tls_target.certificate_pem.decode())
    assert httpx.get(tls_target.url + "/health", verify=pinned, timeout=3).status_code == 200


# --- the management command ----------------------------------------------------------------------------


def test_it_refuses_a_non_loopback_host_in_the_command():
    for host in ("0.0.0.0", "10.1.2.3", "demo.example.com"):  # noqa: S104
        with pytest.raises(CommandError, match="loopback"):
            call_command("demo_target", "--host", host, "--port", "0")


def test_it_serves_from_the_command():
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "demo_target", "--port", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()  # blocks until the command has started (or died)
        assert first.startswith("Demo target on http://127.0.0.1:"), first + (
            process.stderr.read() if process.poll() is not None else ""
        )
        url = first.split()[3]
        response = httpx.get(url + "/health", timeout=5)
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
    assert process.returncode == 0
