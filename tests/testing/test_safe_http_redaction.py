"""Secrets never reach stored evidence; excerpts are bounded text."""

from __future__ import annotations

import json

from testing.engines.safe_http import Limits, Redactor, SafeClient
from testing.engines.safe_http.redaction import REDACTED
from tests.testing.servers import RawServer, respond

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVz"


def test_secret_headers_are_redacted_and_the_auth_scheme_is_kept():
    headers = Redactor().headers(
        [
            ("Authorization", "Bearer abc.def.ghi"),
            ("Cookie", "sessionid=123"),
            ("Set-Cookie", "sessionid=456; HttpOnly"),
            ("X-API-Key", "k-123456"),
            ("Content-Type", "application/json"),
        ]
    )
    assert headers == [
        ("Authorization", f"Bearer {REDACTED}"),
        ("Cookie", REDACTED),
        ("Set-Cookie", REDACTED),
        ("X-API-Key", REDACTED),
        ("Content-Type", "application/json"),
    ]


def test_the_list_of_secret_headers_is_configurable():
    redactor = Redactor().with_headers("X-Tenant-Secret")
    assert redactor.headers({"X-Tenant-Secret": "abc123", "X-Other": "fine"}) == [
        ("X-Tenant-Secret", REDACTED),
        ("X-Other", "fine"),
    ]


def test_query_string_tokens_and_user_info_are_redacted_from_urls():
    url = Redactor().url("https://bob:hunter2@api.test/v1/items?access_token=abc123&page=2&api_key=zzz&sig=1")
    assert "abc123" not in url and "zzz" not in url and "hunter2" not in url
    assert "page=2" in url and "access_token=" in url


def test_json_fields_are_redacted_at_any_depth():
    data = {
        "user": {"name": "alice", "password": "p4ss", "apiKey": "k", "profile": {"client_secret": "s"}},
        "items": [{"refresh_token": "r", "id": 7}],
        "tokenType": "bearer",
    }
    redacted = Redactor().json(data)
    assert redacted["user"] == {
        "name": "alice",
        "password": REDACTED,
        "apiKey": REDACTED,
        "profile": {"client_secret": REDACTED},
    }
    assert redacted["items"] == [{"refresh_token": REDACTED, "id": 7}]
    assert redacted["tokenType"] == "bearer"


def test_free_text_loses_jwts_bearer_tokens_pairs_and_known_secrets():
    text = (
        f'token {JWT} then Authorization: Bearer abcdef123456 and "password": "p4ss" '
        "and login?user=bob&password=hunter2 and the identity's own value Zq9-known-secret"
    )
    out = Redactor().with_secrets("Zq9-known-secret").text(text)
    for secret in (JWT, "abcdef123456", "p4ss", "hunter2", "Zq9-known-secret"):
        assert secret not in out
    assert "user=bob" in out


def test_excerpts_are_bounded_and_say_when_they_are_cut():
    out = Redactor().excerpt(b"a" * 10_000, "text/plain", limit=100)
    assert out.startswith("a" * 100)
    assert "truncated, 10000 bytes" in out
    assert len(out) < 140


def test_binary_bodies_are_summarised_not_rendered():
    assert (
        Redactor().excerpt(b"\x89PNG\r\n\x1a\n\x00\x00", "image/png") == "[binary body, 10 bytes, image/png]"
    )
    assert Redactor().excerpt(b"text\x00with nul", "text/plain").startswith("[binary body")


def test_a_truncated_json_body_is_still_redacted():
    body = json.dumps({"password": "p4ss-word", "filler": "x" * 5000}).encode()
    out = Redactor().excerpt(body, "application/json", limit=50)
    assert "p4ss-word" not in out


def test_response_evidence_is_redacted_end_to_end():
    token = "live-token-9f8e7d"

    def leaky(conn, request):
        body = json.dumps(
            {"echo_auth": request.headers.get("authorization"), "password": "db-pass", "ok": True}
        ).encode()
        respond(
            conn,
            200,
            body,
            [("Content-Type", "application/json"), ("Set-Cookie", "sessionid=abc123; HttpOnly")],
        )

    with (
        RawServer(leaky) as server,
        SafeClient(allowed_networks=["127.0.0.0/8"], limits=Limits(per_host_rate=0)) as client,
    ):
        response = client.post(
            server.url("/me?api_key=querysecret"),
            headers={"Authorization": f"Bearer {token}", "Cookie": "sessionid=cookiesecret"},
            json={"username": "alice", "password": "sent-pass"},
        )
        evidence = response.evidence(client.redactor.with_secrets(token))
    stored = json.dumps(evidence)
    for secret in (token, "db-pass", "abc123", "querysecret", "cookiesecret", "sent-pass"):
        assert secret not in stored
    assert evidence["request"]["method"] == "POST"
    assert '"username": "alice"' in evidence["request"]["body_excerpt"]
    assert ("authorization", "Bearer [REDACTED]") in [tuple(h) for h in evidence["request"]["headers"]]
    assert evidence["status"] == 200 and evidence["peer"] == "127.0.0.1"
    assert '"ok": true' in evidence["body_excerpt"]
