"""Owners' YAML cases: what parses, and the line and reason of what does not."""

from __future__ import annotations

import time

import pytest

from testing.engines.cases import CaseError, parse_cases
from testing.engines.cases.jsonpath import MAX_MATCHES, PathError, compile_path
from testing.engines.cases.templates import TemplateError, only_placeholder, render

GOOD = """\
cases:
  - name: login and read my profile
    steps:
      - name: login
        request:
          method: post
          path: /login
          json: {user: alice, password: "{{ secrets.alice.password }}", remember: no}
        capture:
          token: $.access_token
          user_id: "$['user']['id']"
          location: {header: Location}
        expect:
          status: 200
      - request:
          method: GET
          path: /users/{{ user_id }}
          headers: {Authorization: "Bearer {{ token }}", X-Count: 3}
          query: {expand: "true", page: 2}
        expect:
          status: [200, 203]
          headers:
            Content-Type: {contains: json}
            Cache-Control: no-store
          schema: {type: object, required: [id], properties: {id: {type: integer}}}
          jsonpath: {"$.name": alice, "$.roles[*]": [admin, dev], "$.tags[0]": null}
          max_latency_ms: 500
"""


def test_it_parses_a_full_case_with_its_lines():
    (case,) = parse_cases(GOOD)
    assert case.name == "login and read my profile" and case.line == 2
    login, profile = case.steps
    assert (login.index, login.name, login.line) == (1, "login", 4)
    assert login.request.method == "POST" and login.request.has_json
    # YAML 1.2 scalars: "no" stays text; placeholders are kept as written.
    assert login.request.json == {
        "user": "alice",
        "password": "{{ secrets.alice.password }}",
        "remember": "no",
    }
    assert [(c.name, c.source) for c in login.captures] == [
        ("token", "$.access_token"),
        ("user_id", "$['user']['id']"),
        ("location", "header Location"),
    ]
    assert profile.name == "step 2" and profile.operation == "GET /users/{{ user_id }}"
    assert profile.request.headers == (("Authorization", "Bearer {{ token }}"), ("X-Count", "3"))
    assert profile.request.query == (("expand", "true"), ("page", "2"))
    expect = profile.expect
    assert expect.status == (200, 203) and expect.max_latency_ms == 500
    assert [(h.name, h.value, h.contains) for h in expect.headers] == [
        ("Content-Type", "json", True),
        ("Cache-Control", "no-store", False),
    ]
    assert expect.validator.is_valid({"id": 1}) and not expect.validator.is_valid({"id": "1"})
    assert [(str(v.path), v.value) for v in expect.values] == [
        ("$.name", "alice"),
        ("$.roles[*]", ["admin", "dev"]),
        ("$.tags[0]", None),
    ]


def test_it_accepts_one_case_a_list_or_several_documents():
    one = "name: a\nsteps: [{request: {method: GET, path: /}}]\n"
    listed = "- name: a\n  steps: [{request: {method: GET, path: /}}]\n- name: b\n  steps: [{request: {method: GET, path: /b}}]\n"
    several = one + "---\n" + one.replace("name: a", "name: c")
    assert [c.name for c in parse_cases(one)] == ["a"]
    assert [c.name for c in parse_cases(listed)] == ["a", "b"]
    assert [c.name for c in parse_cases(several)] == ["a", "c"]


def _step(request: str = "{method: GET, path: /}", extra: str = "") -> str:
    return f"name: c\nsteps:\n  - request: {request}\n{extra}"


BAD = [
    # (document, line, words in the message)
    (
        "name: c\nsteps:\n  - request: {method: GET, path: /}\n    expext: {status: 200}\n",
        4,
        "unknown key 'expext'",
    ),
    (_step("{method: TRACE, path: /}"), 3, "method 'TRACE' is not one of"),
    (_step("{method: GET, path: 'https://evil.example/'}"), 3, "relative to the API's base URL"),
    (_step("{method: GET, path: '//evil.example/x'}"), 3, "relative"),
    (_step("{method: GET, path: '/a?next=http://x'}"), 3, "relative"),
    (_step(extra="    expect:\n      status: 600\n"), 5, "600"),
    (_step(extra="    expect:\n      status:\n        - 200\n        - true\n"), 7, "not an HTTP status"),
    (_step(extra="    capture:\n      x: $..id\n"), 5, "recursive descent"),
    (_step(extra="    capture:\n      x: '$[?(@.price < 10)]'\n"), 5, "only [index], [*] and ['name']"),
    (_step(extra="    capture:\n      x: $.a[0:2]\n"), 5, "only [index]"),
    (_step(extra="    expect:\n      jsonpath: {'$.a.length()': 1}\n"), 5, "unexpected '('"),
    (_step("{method: GET, path: '/users/{{ id }}'}"), 3, "before any earlier step captures it"),
    (_step("{method: GET, path: /, headers: {X-A: '{{ 1 + 1 }}'}}"), 3, "is not a placeholder"),
    (_step("{method: GET, path: /, headers: {Host: evil.example}}"), 3, "set by the scanner"),
    (_step("{method: GET, path: /, headers: {'Bad Name': x}}"), 3, "not a valid header name"),
    (_step("{method: POST, path: /, json: {a: 1}, text: b}"), 3, "not both"),
    (_step("{method: POST, path: /, json: {1: one}}"), 3, "keys must be text"),
    (_step(extra="    expect:\n      schema: {type: nope}\n"), 5, "not a valid JSON Schema"),
    (_step(extra="    expect:\n      schema: {pattern: '(?=a)b'}\n"), 5, "not a valid JSON Schema"),
    (_step(extra="    expect:\n      schema: {pattern: '(a)\\1'}\n"), 5, "not a valid JSON Schema"),
    (
        _step(extra="    expect:\n      schema: {$ref: 'http://169.254.169.254/schema'}\n"),
        5,
        "may not use $ref",
    ),
    (_step(extra="    expect:\n      headers: {X-A: {matches: '.*'}}\n"), 5, "unknown key 'matches'"),
    (_step(extra="    expect:\n      max_latency_ms: 0\n"), 5, "max_latency_ms"),
    (_step(extra="    capture:\n      secrets: $.a\n"), 5, "cannot be a variable name"),
    (
        "name: c\nsteps:\n  - request: {method: GET, path: /}\n    request: {method: GET, path: /}\n",
        4,
        "duplicate key",
    ),
    ("name: c\nsteps:\n  - request: {method: GET, path: /\n", 4, "malformed YAML"),
    ("name: c\nsteps:\n  - request: !!python/object:os.system {method: GET}\n", 3, "unsupported YAML tag"),
    ("name: c\nsteps: []\n", 2, "has no steps"),
    ("name: c\nsteps:\n  - request: {method: GET, path: /\x91}\n", 3, "control character (#x0091)"),
    ("name: c\n", 1, "needs 'steps'"),
    (
        "- name: c\n  steps: [{request: {method: GET, path: /}}]\n- name: c\n  steps: [{request: {method: GET, path: /}}]\n",
        3,
        "two cases are named",
    ),
]


@pytest.mark.parametrize(("document", "line", "words"), BAD)
def test_it_names_the_line_and_the_reason_of_each_mistake(document, line, words):
    with pytest.raises(CaseError) as caught:
        parse_cases(document)
    assert caught.value.line == line, str(caught.value)
    assert words in caught.value.reason
    assert str(caught.value).startswith(f"line {line}: ")


def test_it_allows_a_variable_only_after_the_step_that_captures_it():
    text = (
        "name: c\nsteps:\n"
        "  - request: {method: GET, path: '/a/{{ id }}'}\n    capture: {id: $.id}\n"  # used in its own step
    )
    with pytest.raises(CaseError) as caught:
        parse_cases(text)
    assert caught.value.line == 3
    later = "name: c\nsteps:\n  - request: {method: GET, path: /a}\n    capture: {id: $.id}\n  - request: {method: GET, path: '/a/{{ id }}'}\n"
    assert parse_cases(later)[0].steps[1].request.path == "/a/{{ id }}"


def test_it_bounds_cases_steps_and_strings():
    steps = "".join("  - request: {method: GET, path: /}\n" for _ in range(31))
    with pytest.raises(CaseError) as caught:
        parse_cases("name: c\nsteps:\n" + steps)
    assert caught.value.line == 33 and "more than 30 steps" in caught.value.reason
    cases = "".join(f"- name: c{i}\n  steps: [{{request: {{method: GET, path: /}}}}]\n" for i in range(51))
    with pytest.raises(CaseError) as caught:
        parse_cases(cases)
    assert caught.value.line == 101 and "more than 50 cases" in caught.value.reason
    with pytest.raises(CaseError) as caught:
        parse_cases(f"name: {'n' * 101}\nsteps: [{{request: {{method: GET, path: /}}}}]\n")
    assert caught.value.line == 1 and "longer than 100" in caught.value.reason


HOSTILE = {
    "billion laughs": (
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
        + "".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(8)
        ),
        "alias bomb",
    ),
    "deep nesting": ("name: " + "[" * 5000 + "]" * 5000 + "\n", "nested deeper than 32"),
    "deep mappings": ("".join("  " * i + f"k{i}:\n" for i in range(200)), "nested deeper than 32"),
    "huge": ("name: c\nsteps: []\n#" + "x" * 300_000 + "\n", "the limit is 262,144"),
    "many nodes": ("name: [" + ",".join(["1"] * 60_000) + "]\n", "more than 50000 values"),
    "huge scalar": ("name: '" + "x" * 70_000 + "'\n", "longer than 65536"),
}


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_it_refuses_hostile_documents_fast(kind):
    document, words = HOSTILE[kind]
    started = time.monotonic()
    with pytest.raises(CaseError) as caught:
        parse_cases(document)
    assert time.monotonic() - started < 1.0
    assert words in str(caught.value)


def test_it_runs_schema_patterns_on_a_linear_engine():
    # ^(a+)+$ backtracks exponentially on a backtracking engine against "aaaa…!".
    text = _step(extra="    expect:\n      schema: {type: string, pattern: '^(a+)+$'}\n")
    validator = parse_cases(text)[0].steps[0].expect.validator
    hostile = "a" * 100_000 + "!"
    started = time.monotonic()
    assert not validator.is_valid(hostile)
    assert validator.is_valid("aaaa")
    assert time.monotonic() - started < 0.5
    props = _step(extra="    expect:\n      schema: {patternProperties: {'^(a|aa)+$': {type: integer}}}\n")
    validator = parse_cases(props)[0].steps[0].expect.validator
    started = time.monotonic()
    assert validator.is_valid({hostile: "not checked: the name does not match"})
    assert time.monotonic() - started < 0.5


def test_jsonpath_subset_finds_and_bounds():
    doc = {"a": {"b-c": [1, {"d": 2}, 3]}, "list": [{"id": i} for i in range(5000)], "it's": 1}
    assert compile_path("$").find(doc) == [doc]
    assert compile_path("$.a['b-c'][1].d").find(doc) == [2]
    assert compile_path('$["it\'s"]').find(doc) == [1]
    assert compile_path("$.a.b-c[-1]").find(doc) == [3]
    assert compile_path("$.a.b-c[7]").find(doc) == []
    assert compile_path("$.list[*].id").find(doc)[:3] == [0, 1, 2]
    assert len(compile_path("$.list[*].id").find(doc)) == MAX_MATCHES
    assert compile_path("$.a[*]").find(doc) == [[1, {"d": 2}, 3]]
    assert compile_path("$.missing.x").find(doc) == []
    assert compile_path("$.a").singular and not compile_path("$.a[*]").singular
    for bad in (
        "a.b",
        "$..a",
        "$.a[?(@.x)]",
        "$.a[0:1]",
        "$.a[1,2]",
        "$.a.*",
        "$[",
        "$['a",
        "$['a\\'b']",
        "$.a()",
        "$" + ".a" * 17,
    ):
        with pytest.raises(PathError):
            compile_path(bad)


def test_placeholders_are_plain_text_replacement():
    values = {"id": "42", "secrets.a.token": "t0k"}
    assert (
        render("/u/{{id}}/{{ id }}?t={{  secrets.a.token }}", values.__getitem__, limit=100)
        == "/u/42/42?t=t0k"
    )
    assert only_placeholder("{{ id }}") == "id" and only_placeholder("x{{ id }}") is None
    with pytest.raises(TemplateError):
        render("{{ id }}" * 10, lambda _: "x" * 20, limit=100)
    with pytest.raises(TemplateError):
        render("{{ id ", values.__getitem__, limit=100)
    with pytest.raises(TemplateError):
        render("{{ __import__('os') }}", values.__getitem__, limit=100)
