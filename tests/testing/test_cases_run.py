"""Running owners' cases against a real local API: captures, expectations, skips and redaction."""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from testing.engines.cases import StepOutcome, parse_cases, run_case
from testing.engines.safe_http import BudgetExceeded, Limits, SafeClient
from tests.testing.servers import RawServer, Request, respond

PASSWORD = "correct-horse-battery"
TOKEN = "tok-5f0c1d2e3a4b"


def _json(conn: socket.socket, status: int, payload: object, headers: tuple = ()) -> None:
    body = json.dumps(payload).encode()
    respond(conn, status, body, [("Content-Type", "application/json; charset=utf-8"), *headers])


def api(conn: socket.socket, request: Request) -> None:
    """A small API: a login that hands out a token, and resources that require it."""
    url = urlsplit(request.path)
    path, query = url.path, parse_qs(url.query)
    authorized = request.headers.get("authorization") == f"Bearer {TOKEN}"
    if path == "/login" and request.method == "POST":
        body = json.loads(request.body or b"{}")
        if body == {"user": "alice", "password": PASSWORD}:
            _json(conn, 200, {"access_token": TOKEN, "user": {"id": 7}}, [("Location", "/users/7")])
        else:
            _json(conn, 401, {"error": "bad credentials"})
    elif path == "/users/7" and authorized:
        _json(
            conn, 200, {"id": 7, "name": "alice", "roles": ["admin", "dev"]}, [("Cache-Control", "no-store")]
        )
    elif path.startswith("/users/"):
        _json(conn, 401 if not authorized else 404, {"error": "no", "path": path})
    elif path == "/orders" and request.method == "POST" and authorized:
        order = json.loads(request.body)
        _json(conn, 201, {"received": order, "types": {k: type(v).__name__ for k, v in order.items()}})
    elif path == "/echo":
        _json(
            conn,
            200,
            {"path": request.path, "query": query, "headers": request.headers, "body": request.body.decode()},
        )
    elif path == "/slow":
        time.sleep(0.15)
        _json(conn, 200, {"ok": True})
    elif path == "/moved":
        respond(conn, 302, b"", [("Location", "/users/7")])
    elif path == "/html":
        respond(conn, 200, b"<html>hi</html>", [("Content-Type", "text/html")])
    elif path == "/big":
        _json(conn, 200, {"blob": "x" * 10_000})
    else:
        respond(conn, 404, b"nope")


class Sender:
    """What ``Context.send`` does, for a test without a check: path + base URL through the client."""

    def __init__(self, server: RawServer, budget: int = 50) -> None:
        self.base = server.url("").rstrip("/")
        self.client = SafeClient(
            allowed_networks=["127.0.0.0/8"],
            limits=Limits(
                connect_timeout=2, read_timeout=2, total_timeout=3, per_host_rate=0, max_requests=budget
            ),
        )
        self.calls: list[tuple[str, str, dict]] = []

    def __call__(self, method: str, path: str, *, identity=None, **kwargs):
        self.calls.append((method, path, kwargs))
        headers = dict(identity.headers) if identity else {}
        headers.update(kwargs.pop("headers", None) or {})
        return self.client.request(method, self.base + path, headers=headers, **kwargs)


@pytest.fixture
def server():
    with RawServer(api) as running:
        yield running


SECRETS = {"alice.password": PASSWORD}

LOGIN_FLOW = """
name: login then use the token
steps:
  - name: login
    request:
      method: POST
      path: /login
      json: {user: alice, password: "{{ secrets.alice.password }}"}
    capture:
      token: $.access_token
      user_id: $.user.id
      where: {header: Location}
    expect:
      status: 200
      headers: {Content-Type: {contains: json}}
  - name: profile
    request:
      method: GET
      path: /users/{{ user_id }}
      headers: {Authorization: "Bearer {{ token }}"}
    expect:
      status: [200]
      headers: {Cache-Control: no-store}
      schema: {type: object, required: [id, name], properties: {id: {type: integer}}}
      jsonpath: {"$.name": alice, "$.roles[*]": [admin, dev], "$.id": 7}
      max_latency_ms: 2000
  - name: order
    request:
      method: POST
      path: /orders
      headers: {Authorization: "Bearer {{ token }}"}
      json: {user: "{{ user_id }}", note: "for {{ user_id }} at {{ where }}"}
    expect:
      status: 201
      jsonpath: {"$.types.user": int, "$.received.note": "for 7 at /users/7"}
"""


def test_it_runs_a_login_flow_and_uses_the_captured_token_later(server):
    (case,) = parse_cases(LOGIN_FLOW)
    send = Sender(server)
    result = run_case(case, send, secrets=SECRETS)
    assert result.passed, [s.message for s in result.steps]
    assert [s.outcome for s in result.steps] == [StepOutcome.PASSED] * 3
    # The token captured in step 1 went out in steps 2 and 3; a placeholder alone kept its type.
    assert server.requests[1].headers["authorization"] == f"Bearer {TOKEN}"
    assert server.requests[1].path == "/users/7"
    assert json.loads(server.requests[2].body) == {"user": 7, "note": "for 7 at /users/7"}
    assert result.steps[1].evidence == ()  # passing steps keep no evidence


def _one(request: str, expect: str = "", capture: str = "") -> str:
    text = f"name: c\nsteps:\n  - name: only\n    request: {request}\n"
    if capture:
        text += f"    capture: {capture}\n"
    if expect:
        text += f"    expect: {expect}\n"
    return text


FAILURES = [
    # (request, expect, capture, mismatch text)
    ("{method: GET, path: /users/7}", "{status: 200}", "", "status: expected 200, got 401"),
    ("{method: GET, path: /users/7}", "{status: [200, 204]}", "", "status: expected 200 or 204, got 401"),
    ("{method: GET, path: /nowhere}", "", "", "status: expected a 2xx status, got 404"),
    (
        "{method: GET, path: /echo}",
        "{headers: {Content-Type: text/plain}}",
        "",
        'header Content-Type: expected "text/plain", got "application/json; charset=utf-8"',
    ),
    (
        "{method: GET, path: /echo}",
        "{headers: {Content-Type: {contains: xml}}}",
        "",
        'header Content-Type: expected a value containing "xml", got "application/json; charset=utf-8"',
    ),
    (
        "{method: GET, path: /echo}",
        "{headers: {X-Frame-Options: DENY}}",
        "",
        'header X-Frame-Options: expected "DENY", got no such header',
    ),
    (
        "{method: GET, path: /echo}",
        "{schema: {type: object, required: [id]}}",
        "",
        'schema: expected a body valid against the schema, got $: "id" is a required property',
    ),
    (
        "{method: GET, path: '/echo?a=1'}",
        "{schema: {properties: {query: {properties: {a: {items: {type: integer}}}}}}}",
        "",
        "schema: expected a body valid against the schema, got $['query']['a'][0]: \"1\" is not of type \"integer\"",
    ),
    (
        "{method: GET, path: /echo}",
        "{jsonpath: {'$.path': /other}}",
        "",
        'jsonpath $.path: expected "/other", got "/echo"',
    ),
    ("{method: GET, path: /echo}", "{jsonpath: {'$.missing': 1}}", "", "$.missing: expected 1, got nothing"),
    (
        "{method: GET, path: '/echo?a=1'}",
        "{jsonpath: {'$.query.a[0]': 1}}",
        "",
        '$.query.a[0]: expected 1, got "1"',
    ),
    ("{method: GET, path: /slow}", "{max_latency_ms: 50}", "", "latency: expected at most 50 ms, got 1"),
    (
        "{method: GET, path: /html}",
        "{jsonpath: {'$.a': 1}}",
        "",
        "body: expected JSON, got text/html, 15 bytes that are not JSON",
    ),
    (
        "{method: GET, path: /echo}",
        "",
        "{id: $.nothing}",
        "capture id: expected a value at $.nothing, got nothing",
    ),
    (
        "{method: GET, path: /echo}",
        "",
        "{tag: {header: ETag}}",
        "capture tag: expected a value at header ETag, got nothing",
    ),
    (
        "{method: GET, path: /big}",
        "",
        "{blob: $.blob}",
        "capture blob: expected at most 4096 characters, got 10000 characters",
    ),
]


@pytest.mark.parametrize(("request_", "expect", "capture", "words"), FAILURES)
def test_it_reports_each_expectation_it_missed_as_expected_and_got(server, request_, expect, capture, words):
    words = words.replace("jsonpath ", "")
    (case,) = parse_cases(_one(request_, expect, capture))
    result = run_case(case, Sender(server), secrets={})
    (step,) = result.steps
    assert step.outcome == StepOutcome.FAILED
    assert words in step.message, step.message
    assert step.message.startswith("step 1 (only): ")
    assert step.evidence and step.evidence[0]["status"] == step.status


def test_it_skips_the_steps_after_a_failing_one(server):
    text = LOGIN_FLOW.replace('"{{ secrets.alice.password }}"', "wrong-password")
    (case,) = parse_cases(text)
    send = Sender(server)
    result = run_case(case, send, secrets=SECRETS)
    assert [s.outcome for s in result.steps] == [StepOutcome.FAILED, StepOutcome.SKIPPED, StepOutcome.SKIPPED]
    assert result.steps[1].message == "skipped: step 1 did not pass"
    assert len(send.calls) == 1 and not result.passed
    assert [s.index for s in result.failures] == [1]


def test_it_reports_a_connection_failure_as_a_step_error():
    with RawServer(api) as gone:
        send = Sender(gone)
    (case,) = parse_cases(_one("{method: GET, path: /echo}"))
    (step,) = run_case(case, send, secrets={}).steps
    assert step.outcome == StepOutcome.ERROR and step.failed
    assert "response: expected an HTTP response, got connect_failed" in step.message


def test_it_keeps_secrets_out_of_messages_and_evidence(server):
    # The echo endpoint sends back whatever it got, secrets included; then the step fails.
    text = _one(
        "{method: POST, path: '/echo?key={{ secrets.alice.password }}', "
        "headers: {X-Secret: '{{ secrets.alice.password }}'}, "
        "json: {password: '{{ secrets.alice.password }}', again: 'pw {{ secrets.alice.password }}'}}",
        "{status: 201, jsonpath: {'$.headers.x-secret': nope, '$.body': nope}}",
    )
    (case,) = parse_cases(text)
    result = run_case(case, Sender(server), secrets=SECRETS)
    (step,) = result.steps
    assert step.outcome == StepOutcome.FAILED
    assert server.requests[0].headers["x-secret"] == PASSWORD  # it was sent...
    assert PASSWORD not in repr(result)  # ...and is nowhere in what the run keeps
    assert "[REDACTED]" in step.message


def test_it_redacts_a_captured_token_from_later_evidence(server):
    text = LOGIN_FLOW.replace('jsonpath: {"$.name": alice,', 'jsonpath: {"$.name": bob,')
    (case,) = parse_cases(text)
    result = run_case(case, Sender(server), secrets=SECRETS)
    assert [s.outcome for s in result.steps][:2] == [StepOutcome.PASSED, StepOutcome.FAILED]
    assert '$.name: expected "bob", got "alice"' in result.steps[1].message
    assert TOKEN not in json.dumps([s.evidence for s in result.steps]) and TOKEN not in repr(result)


def test_it_refuses_unknown_secrets_and_identities_without_sending(server):
    send = Sender(server)
    (case,) = parse_cases(_one("{method: GET, path: /echo, headers: {X-A: '{{ secrets.nobody.token }}'}}"))
    (step,) = run_case(case, send, secrets=SECRETS).steps
    assert step.outcome == StepOutcome.ERROR and "unknown secret {{ secrets.nobody.token }}" in step.message
    (case,) = parse_cases(_one("{method: GET, path: /echo, identity: mallory}"))
    (step,) = run_case(case, send, secrets=SECRETS).steps
    assert step.outcome == StepOutcome.ERROR and "unknown identity 'mallory'" in step.message
    assert send.calls == []


HOSTILE_CAPTURE = """
name: hostile values
steps:
  - request: {method: GET, path: /echo, query: {v: "{{ secrets.v }}"}}
    capture: {v: "$.query.v[0]"}
  - request: {method: GET, path: "/users/{{ v }}", query: {q: "{{ v }}"}}
    expect: {status: 401}
"""


def test_it_keeps_a_hostile_captured_value_inside_the_path(server):
    (case,) = parse_cases(HOSTILE_CAPTURE)
    value = "../../admin?next=http://169.254.169.254/#x"
    result = run_case(case, Sender(server), secrets={"v": value})
    assert result.passed, [s.message for s in result.steps]
    sent = server.requests[1].path
    assert urlsplit(sent).path.startswith("/users/..%2F..%2Fadmin%3Fnext%3Dhttp%3A%2F%2F169.254")
    assert unquote(urlsplit(sent).path) == "/users/" + value
    assert parse_qs(urlsplit(sent).query) == {"q": [value]}


def test_it_refuses_a_captured_value_that_would_split_a_header(server):
    text = """
name: header injection
steps:
  - request: {method: GET, path: /echo, query: {v: "a\\r\\nX-Injected: 1"}}
    capture: {v: "$.query.v[0]"}
  - request: {method: GET, path: /echo, headers: {X-Value: "{{ v }}"}}
"""
    (case,) = parse_cases(text)
    send = Sender(server)
    result = run_case(case, send, secrets={})
    assert result.steps[1].outcome == StepOutcome.ERROR
    assert "would contain a line break" in result.steps[1].message
    assert len(send.calls) == 1


def test_it_lets_the_budget_stop_the_case(server):
    (case,) = parse_cases(LOGIN_FLOW)
    with pytest.raises(BudgetExceeded):
        run_case(case, Sender(server, budget=1), secrets=SECRETS)


def test_it_shows_a_redirect_as_it_is(server):
    text = """
name: redirect
steps:
  - request: {method: GET, path: /moved, headers: {X-Key: "{{ secrets.alice.password }}"}}
    capture: {next: {header: Location}}
    expect: {status: 302}
  - request: {method: GET, path: /echo, query: {from: "{{ next }}"}}
    expect: {jsonpath: {"$.query.from[0]": /users/7}}
"""
    (case,) = parse_cases(text)
    result = run_case(case, Sender(server), secrets=SECRETS)
    assert result.passed, [s.message for s in result.steps]
    # Not followed by the client (which would have carried the secret header along).
    assert [r.path for r in server.requests] == ["/moved", "/echo?from=%2Fusers%2F7"]
