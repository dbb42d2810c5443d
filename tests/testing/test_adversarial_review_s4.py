"""The attacker review of the scanner (session 4): each reproduction, now refused."""

from __future__ import annotations

import json

import pytest

from testing.engines import identities as engine
from testing.engines.cases import CaseError, parse_cases
from testing.engines.checks.spec_conformance import make_validator, schema_errors
from testing.engines.safe_http import SafeClient
from testing.engines.safe_http.redaction import Redactor
from tests.testing.servers import RawServer, echo, redirect
from tests.timing import timed_error


def test_a_custom_api_key_header_is_not_carried_across_a_redirect():
    with RawServer(echo) as harvest, RawServer(redirect(harvest.url("/steal"))) as target:
        client = SafeClient(allowed_networks=["127.0.0.0/8"])
        key = engine.resolve(
            engine.ApiKeyHeader("svc", "X-Orders-Key", "prod-key-123456"),
            client=client,
            base_url=target.url(),
        )
        response = client.get(
            target.url("/open-redirect"), headers={**key.headers, "Accept": "application/json"}
        )
        client.close()
    assert response.status == 200 and harvest.requests, "the redirect was followed"
    sent = harvest.requests[0].headers
    assert "x-orders-key" not in sent and sent.get("accept") == "application/json"


def test_a_secret_cut_by_the_excerpt_window_does_not_show():
    secret = "opaqueSecretValue_" + "Z" * 82
    redactor = Redactor().with_secrets(secret)
    limit = 2000
    copies = (limit * 4 + 4096) // (len(secret) + 1)
    body = ((secret + " ") * copies).encode() + secret.encode() + b" tail" * 10
    assert "opaqueSecretValue_" not in redactor.excerpt(body, "text/plain", limit=limit)


def test_escaped_and_encoded_echoes_of_a_secret_are_redacted():
    redactor = Redactor().with_secrets("abc/def+ghi=jkl")
    assert "def" not in redactor.text('{"echo": "abc\\/def+ghi=jkl"}')
    assert "def" not in redactor.text("you sent abc%2Fdef%2Bghi%3Djkl")


def test_a_schema_message_quoting_an_echoed_token_is_redacted_whole():
    token = "sk_live_" + "Q7w" * 60
    errors = schema_errors(make_validator({"properties": {"owner": {"type": "integer"}}}), {"owner": token})
    message = Redactor().with_secrets(token).text("; ".join(errors))
    assert "sk_live_" not in message and "Q7wQ7w" not in message


@pytest.mark.parametrize("keyword", ["$ref", "$dynamicRef"])
def test_a_case_schema_with_references_is_refused_fast(keyword):
    n = 30
    defs = {
        f"a{i}": {"anyOf": [{keyword: f"#/$defs/a{i + 1}"}, {keyword: f"#/$defs/a{i + 1}"}]} for i in range(n)
    }
    defs[f"a{n}"] = {"type": "string"}
    schema = {"$defs": defs, keyword: "#/$defs/a0"}
    text = (
        "- name: bomb\n  steps:\n    - request: {method: GET, path: /items}\n      expect:\n        schema: "
        + json.dumps(schema)
        + "\n"
    )
    error = timed_error(CaseError, lambda: parse_cases(text), bound=1.0)
    assert "$ref" in str(error) and error.line == 5
