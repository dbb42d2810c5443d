"""Identity kinds: validation, JSON round trip, and resolution against a real local token endpoint."""

from __future__ import annotations

import base64
import json
import socket
from urllib.parse import parse_qs

import pytest

from testing.engines.checks.base import Identity
from testing.engines.identities import (
    ApiKeyHeader,
    BasicAuth,
    BearerToken,
    IdentityError,
    LoginStep,
    OAuth2ClientCredentials,
    from_json,
    resolve,
    to_json,
)
from testing.engines.safe_http import Limits, SafeClient
from tests.testing.servers import RawServer, Request, respond

CLIENT_SECRET = "cs-9d8e7f6a5b4c"
PASSWORD = "pa55-w0rd-long"
ACCESS = "at-0a1b2c3d4e5f"


def _json(conn: socket.socket, status: int, payload: object) -> None:
    respond(conn, status, json.dumps(payload).encode(), [("Content-Type", "application/json")])


def identity_provider(conn: socket.socket, request: Request) -> None:
    if request.path == "/oauth/token" and request.method == "POST":
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        basic = request.headers.get("authorization", "")
        good_basic = basic == "Basic " + base64.b64encode(f"scanner:{CLIENT_SECRET}".encode()).decode()
        good_body = form.get("client_id") == "scanner" and form.get("client_secret") == CLIENT_SECRET
        if form.get("grant_type") == "client_credentials" and (good_basic or good_body):
            _json(conn, 200, {"access_token": ACCESS, "token_type": "Bearer", "scope": form.get("scope", "")})
        else:
            _json(conn, 401, {"error": "invalid_client", "echo": request.body.decode()})
    elif request.path == "/api/login" and request.method == "POST":
        body = json.loads(request.body)
        if body == {"credentials": {"user": "alice", "password": PASSWORD}}:
            _json(conn, 200, {"data": {"session": ACCESS}})
        else:
            _json(conn, 403, {"error": "no"})
    elif request.path == "/api/html-login":
        respond(conn, 200, b"<html>welcome</html>", [("Content-Type", "text/html")])
    else:
        respond(conn, 404, b"")


@pytest.fixture
def idp():
    with RawServer(identity_provider) as server:
        yield server


@pytest.fixture
def client():
    with SafeClient(
        allowed_networks=["127.0.0.0/8"],
        limits=Limits(connect_timeout=2, read_timeout=2, total_timeout=3, per_host_rate=0, max_requests=10),
    ) as scanner_client:
        yield scanner_client


def _oauth(server: RawServer, **kw) -> OAuth2ClientCredentials:
    values = {
        "name": "ci",
        "token_url": server.url("/oauth/token"),
        "client_id": "scanner",
        "client_secret": CLIENT_SECRET,
        "scope": "read write",
    }
    return OAuth2ClientCredentials(**(values | kw))


def _login(**kw) -> LoginStep:
    values = {
        "name": "alice",
        "path": "/api/login",
        "json": {"credentials": {"user": "alice", "password": "{{ secrets.password }}"}},
        "token_path": "$.data.session",
        "header": "X-Session: v1 {{ token }}",
        "secrets": {"password": PASSWORD},
    }
    return LoginStep(**(values | kw))


def test_it_resolves_static_kinds_into_headers_and_secrets(client):
    bearer = resolve(BearerToken("a", "tkn-123456"), client=client, base_url="http://127.0.0.1:1")
    assert bearer.headers == {"Authorization": "Bearer tkn-123456"} and bearer.token == "tkn-123456"
    assert bearer.secrets == ("tkn-123456",) and bearer.named_secrets == {"token": "tkn-123456"}
    basic = resolve(BasicAuth("b", "bob", PASSWORD, object_ids=("7",)), client=client, base_url="")
    encoded = base64.b64encode(f"bob:{PASSWORD}".encode()).decode()
    assert basic.headers == {"Authorization": f"Basic {encoded}"} and basic.object_ids == ("7",)
    assert set(basic.secrets) == {PASSWORD, encoded} and basic.named_secrets["password"] == PASSWORD
    key = resolve(ApiKeyHeader("k", "X-Api-Key", "key-abcdef"), client=client, base_url="")
    assert key.headers == {"X-Api-Key": "key-abcdef"} and key.secrets == ("key-abcdef",)
    assert client.budget.used == 0  # nothing was sent


def test_it_obtains_an_oauth2_token_with_client_credentials(idp, client):
    identity = resolve(_oauth(idp), client=client, base_url="")
    assert isinstance(identity, Identity)
    assert identity.headers == {"Authorization": f"Bearer {ACCESS}"} and identity.token == ACCESS
    assert CLIENT_SECRET in identity.secrets and ACCESS in identity.secrets
    form = parse_qs(idp.requests[0].body.decode())
    assert form == {"grant_type": ["client_credentials"], "scope": ["read write"]}
    # client_secret_post: the credentials travel in the form instead.
    identity = resolve(_oauth(idp, auth="body", scope=""), client=client, base_url="")
    assert identity.token == ACCESS and "authorization" not in idp.requests[1].headers
    assert identity.named_secrets["client_secret"] == CLIENT_SECRET


def test_it_reports_a_refused_token_request_without_the_secret(idp, client):
    with pytest.raises(IdentityError) as caught:
        resolve(_oauth(idp, client_secret="wrong-secret-123"), client=client, base_url="")
    assert str(caught.value) == "the token request was answered with status 401"
    assert caught.value.__context__ is None  # nothing chained that could carry the request


def test_it_refuses_a_token_url_on_the_metadata_address(client):
    spec = OAuth2ClientCredentials("ci", "http://169.254.169.254/latest/token", "scanner", CLIENT_SECRET)
    with pytest.raises(IdentityError) as caught:
        resolve(spec, client=client, base_url="")
    assert str(caught.value) == "the token request failed: refused_address"
    assert CLIENT_SECRET not in str(caught.value)


def test_it_logs_in_with_a_login_step(idp, client):
    identity = resolve(_login(), client=client, base_url=idp.url("").rstrip("/"))
    assert identity.headers == {"X-Session": f"v1 {ACCESS}"} and identity.token == ACCESS
    assert set(identity.secrets) == {PASSWORD, ACCESS}
    assert identity.named_secrets == {"password": PASSWORD, "token": ACCESS}
    assert json.loads(idp.requests[0].body) == {"credentials": {"user": "alice", "password": PASSWORD}}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            lambda: _login(secrets={"password": "not-it-at-all"}),
            "the login request was answered with status 403",
        ),
        (lambda: _login(path="/api/html-login"), "the login request: the answer is not JSON"),
        (lambda: _login(token_path="$.data.other"), "the login request: no token at $.data.other"),
        (lambda: _login(path="/missing"), "the login request was answered with status 404"),
    ],
)
def test_it_reports_a_failed_login_briefly(idp, client, spec, message):
    with pytest.raises(IdentityError) as caught:
        resolve(spec(), client=client, base_url=idp.url("").rstrip("/"))
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: BearerToken("has space", "t"), "identity name"),
        (lambda: BearerToken("a", ""), "the token is required"),
        (lambda: BearerToken("a", "line\nbreak"), "line break"),
        (lambda: BasicAuth("a", "bo:b", "p"), "cannot contain ':'"),
        (lambda: ApiKeyHeader("a", "Bad Header", "v"), "not a valid HTTP header name"),
        (lambda: ApiKeyHeader("a", "Host", "v"), "cannot carry an API key"),
        (lambda: OAuth2ClientCredentials("a", "ftp://idp/token", "c", "s"), "http(s) URL"),
        (lambda: OAuth2ClientCredentials("a", "https://u:p@idp/token", "c", "s"), "cannot hold credentials"),
        (lambda: OAuth2ClientCredentials("a", "https://idp/token", "c", "s", auth="jwt"), "auth is"),
        (lambda: _login(path="https://evil.example/login"), "relative to the API's base URL"),
        (lambda: _login(method="DELETE"), "the method is one of"),
        (lambda: _login(token_path="$.data[*]"), "one value"),
        (lambda: _login(token_path="$..token"), "recursive descent"),
        (lambda: _login(header="Authorization: Bearer fixed"), "{{ token }} once"),
        (lambda: _login(header="Bad Name: {{ token }}"), "header name"),
        (lambda: _login(json={"p": "{{ secrets.other }}"}), "not one of its secrets"),
        (lambda: _login(json={"p": "{{ user }}"}), "not one of its secrets"),
        (lambda: _login(json={"p": {1, 2}}), "must be JSON data"),
    ],
)
def test_it_validates_each_kind(make, words):
    with pytest.raises(IdentityError) as caught:
        make()
    assert words in str(caught.value)


def test_it_round_trips_every_kind_through_json(idp):
    specs = [
        BearerToken("a", "tkn-123456", object_ids=("1", "2")),
        BasicAuth("b", "bob", PASSWORD),
        ApiKeyHeader("c", "X-Api-Key", "key-abcdef"),
        _oauth(idp),
        _login(),
    ]
    for spec in specs:
        text = to_json(spec)
        assert json.loads(text)["kind"] == spec.kind
        assert from_json(text) == spec
        assert from_json(text.encode()) == spec
    # Secrets stay out of repr (logs), though the JSON holds them (it is encrypted at rest).
    assert (
        PASSWORD not in repr(specs[1])
        and CLIENT_SECRET not in repr(specs[3])
        and PASSWORD not in repr(specs[4])
    )
    assert PASSWORD in to_json(specs[1])


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("not json", "not valid JSON"),
        ("[1]", "a JSON object"),
        ('{"kind": "kerberos"}', "unknown identity kind"),
        ('{"kind": "bearer", "name": "a", "token": "t", "extra": 1}', "unknown field(s) extra"),
        ('{"kind": "basic", "name": "a"}', "missing field(s) password, username"),
        ('{"kind": "bearer", "name": "a", "token": 5}', "must be text"),
        ('{"kind": "bearer", "name": "a", "token": "t", "object_ids": "1"}', "object_ids must be a list"),
        ("[" * 100_000, "not valid JSON"),
    ],
)
def test_it_refuses_bad_json(text, words):
    with pytest.raises(IdentityError) as caught:
        from_json(text)
    assert words in str(caught.value)
