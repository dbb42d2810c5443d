"""``run_case(case, send, secrets=...)``: send a case's steps in order and judge each response.

``send`` is ``Context.send`` (or anything with its signature): ``send(method, path, headers=,
params=, json=, content=[, identity=])`` returning a ``ScanResponse``, so the check context keeps
the budget and the health bookkeeping. ``BudgetExceeded`` from ``send`` is not caught: the check
stops there, as every check does.

Redirects are not followed: a step sees the 3xx and its ``Location``.

A step that fails reports each expectation it missed as expected-vs-got; the steps after it are
skipped (they usually need what it should have captured). Everything a result carries is redacted:
the secrets passed in, values captured under a secret-sounding name (``token``, ``api_key``), and
whatever the shared ``Redactor`` recognises (bearer tokens, JWTs, ``"password": …``). Responses are
hostile: captured values, rendered strings and request bodies are bounded, and a captured value put
into a path is percent-encoded, so it can neither leave the path nor turn it into another URL.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from testing.engines.cases import templates
from testing.engines.cases.model import Case, Request, Step
from testing.engines.checks.base import Identity
from testing.engines.safe_http import Redactor, ScanError, ScanResponse

MAX_CAPTURE_CHARS = 4096  # one captured value, as text
MAX_RENDERED = 64 * 1024  # one string once its placeholders are filled in
MAX_REQUEST_CHARS = 1024 * 1024  # every string of one request, filled in
MAX_GOT = 200  # characters of a value shown in "got"
MAX_MESSAGE = 1000
EVIDENCE_CHARS = 1500

Send = Callable[..., ScanResponse]


class StepOutcome(StrEnum):
    PASSED = "pass"
    FAILED = "fail"  # an expectation was not met
    ERROR = "error"  # the request could not be made or answered (unknown secret, connection refused)
    SKIPPED = "skipped"  # an earlier step of the case did not pass


@dataclass(frozen=True)
class Mismatch:
    what: str  # "status", "header Content-Type", "schema", "$.name", "latency", "capture token"
    expected: str
    got: str

    def __str__(self) -> str:
        return f"{self.what}: expected {self.expected}, got {self.got}"


@dataclass(frozen=True)
class StepResult:
    index: int
    name: str
    operation: str  # the request as written, placeholders unfilled (stable)
    outcome: StepOutcome
    mismatches: tuple[Mismatch, ...] = ()
    message: str = ""  # redacted, bounded
    status: int | None = None
    elapsed_ms: float | None = None
    evidence: tuple[dict[str, Any], ...] = field(default=(), compare=False)  # redacted, failing steps only

    @property
    def failed(self) -> bool:
        return self.outcome in (StepOutcome.FAILED, StepOutcome.ERROR)


@dataclass(frozen=True)
class CaseResult:
    name: str
    steps: tuple[StepResult, ...]

    @property
    def passed(self) -> bool:
        return all(s.outcome == StepOutcome.PASSED for s in self.steps)

    @property
    def failures(self) -> list[StepResult]:
        return [s for s in self.steps if s.failed]


class StepError(Exception):
    """The step cannot be sent as written (an unknown variable or secret, a value too large)."""


@dataclass
class _Variable:
    text: str
    value: Any


class _Run:
    def __init__(
        self,
        secrets: Mapping[str, str],
        identities: Mapping[str, Identity],
        redactor: Redactor,
    ) -> None:
        self.secrets = dict(secrets)
        self.identities = identities
        self.redactor = redactor.with_secrets(*self.secrets.values())
        self.variables: dict[str, _Variable] = {}
        self.rendered = 0  # characters rendered for the current request

    # filling in ------------------------------------------------------------------------------------

    def lookup(self, name: str) -> str:
        if name.startswith(templates.SECRETS):
            key = name[len(templates.SECRETS) :]
            if key not in self.secrets:
                raise StepError(f"unknown secret {{{{ secrets.{key} }}}}")
            return self.secrets[key]
        if name not in self.variables:
            raise StepError(f"unknown variable {{{{ {name} }}}}")
        return self.variables[name].text

    def fill(self, text: str, *, in_path: bool = False) -> str:
        lookup = (lambda name: quote(self.lookup(name), safe="")) if in_path else self.lookup
        try:
            value = templates.render(text, lookup, limit=MAX_RENDERED)
        except templates.TemplateError as exc:
            raise StepError(str(exc)) from None
        self.rendered += len(value)
        if self.rendered > MAX_REQUEST_CHARS:
            raise StepError(f"the request is larger than {MAX_REQUEST_CHARS} characters once filled in")
        return value

    def fill_json(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self.fill_json(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.fill_json(v) for v in value]
        if isinstance(value, str):
            whole = templates.only_placeholder(value)
            if whole is not None and whole in self.variables:
                # "{{ id }}" alone keeps the captured value's JSON type (a number stays a number).
                self.rendered += len(self.variables[whole].text)
                return self.variables[whole].value
            return self.fill(value)
        return value

    def prepare(self, request: Request) -> tuple[str, dict[str, Any]]:
        self.rendered = 0
        path = self.fill(request.path, in_path=True)
        kwargs: dict[str, Any] = {}
        headers = {}
        for name, template in request.headers:
            value = self.fill(template)
            if any(c in value for c in "\r\n\x00"):
                raise StepError(f"header {name} would contain a line break once filled in")
            headers[name] = value
        kwargs["headers"] = headers
        # A case sees a redirect as it is (expect 302 and a Location, capture it, follow it in the
        # next step); following it here would also carry the step's own secret headers along.
        kwargs["follow_redirects"] = False
        if request.query:
            kwargs["params"] = {name: self.fill(value) for name, value in request.query}
        if request.has_json:
            kwargs["json"] = self.fill_json(request.json)
        elif request.text is not None:
            kwargs["content"] = self.fill(request.text).encode("utf-8")
        if request.identity:
            identity = self.identities.get(request.identity)
            if identity is None:
                raise StepError(f"unknown identity {request.identity!r}")
            kwargs["identity"] = identity
        return path, kwargs

    # judging ---------------------------------------------------------------------------------------

    def plain(self, text: str) -> str:
        text = self.redactor.text(text)
        return text if len(text) <= MAX_GOT else text[: MAX_GOT - 1] + "…"

    def got(self, value: Any) -> str:
        if value is _MISSING:
            return "nothing"
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        text = self.redactor.text(text)
        if isinstance(value, str):
            text = json.dumps(text, ensure_ascii=False)
        return text if len(text) <= MAX_GOT else text[: MAX_GOT - 1] + "…"

    def judge(self, step: Step, response: ScanResponse) -> list[Mismatch]:
        expect = step.expect
        out: list[Mismatch] = []
        status = response.status or 0
        if expect.status and status not in expect.status:
            wanted = " or ".join(str(s) for s in expect.status)
            out.append(Mismatch("status", wanted, str(status)))
        elif not expect.status and not 200 <= status < 300:
            out.append(Mismatch("status", "a 2xx status", str(status)))
        for header in expect.headers:
            sent = response.headers.get(header.name)
            what = f"header {header.name}"
            if sent is None:
                out.append(Mismatch(what, self.got(header.value), "no such header"))
            elif header.contains and header.value not in sent:
                out.append(Mismatch(what, f"a value containing {self.got(header.value)}", self.got(sent)))
            elif not header.contains and sent != header.value:
                out.append(Mismatch(what, self.got(header.value), self.got(sent)))
        if expect.max_latency_ms is not None and response.elapsed * 1000 > expect.max_latency_ms:
            out.append(
                Mismatch(
                    "latency", f"at most {expect.max_latency_ms} ms", f"{response.elapsed * 1000:.0f} ms"
                )
            )
        needs_body = expect.needs_json or any(c.path is not None for c in step.captures)
        document: Any = _MISSING
        if needs_body:
            try:
                document = response.json()
            except ScanError:
                kind = response.content_type.split(";", 1)[0] or "no Content-Type"
                out.append(Mismatch("body", "JSON", f"{kind}, {len(response.body)} bytes that are not JSON"))
                return out
        if expect.validator is not None:
            error = next(iter(expect.validator.iter_errors(document)), None)
            if error is not None:
                where = "$" + "".join(
                    f"[{p!r}]" if isinstance(p, str) else f"[{p}]" for p in error.instance_path
                )
                message = str(getattr(error, "message", error)).splitlines()[0]
                out.append(
                    Mismatch("schema", "a body valid against the schema", self.plain(f"{where}: {message}"))
                )
        for expected in expect.values:
            found = expected.path.find(document)
            actual: Any = (found[0] if found else _MISSING) if expected.path.singular else found
            if actual is _MISSING or not same_json(actual, expected.value):
                out.append(Mismatch(str(expected.path), self.got(expected.value), self.got(actual)))
        if not out:
            out += self.capture(step, response, document)
        return out

    def capture(self, step: Step, response: ScanResponse, document: Any) -> list[Mismatch]:
        out = []
        for capture in step.captures:
            what = f"capture {capture.name}"
            if capture.path is not None:
                found = capture.path.find(document)
                value: Any = (found[0] if found else _MISSING) if capture.path.singular else found
            else:
                value = response.headers.get(capture.header, _MISSING)
            if value is _MISSING:
                out.append(Mismatch(what, f"a value at {capture.source}", "nothing"))
                continue
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            if len(text) > MAX_CAPTURE_CHARS:
                out.append(
                    Mismatch(what, f"at most {MAX_CAPTURE_CHARS} characters", f"{len(text)} characters")
                )
                continue
            if self.redactor.is_secret_name(capture.name):
                self.redactor = self.redactor.with_secrets(text)
            self.variables[capture.name] = _Variable(text, value)
        return out

    def result(
        self,
        step: Step,
        outcome: StepOutcome,
        mismatches: list[Mismatch],
        response: ScanResponse | None = None,
        reason: str = "",
    ) -> StepResult:
        detail = reason or "; ".join(str(m) for m in mismatches)
        message = f"step {step.index} ({step.name}): {detail}" if detail else ""
        return StepResult(
            index=step.index,
            name=step.name,
            operation=step.operation,
            outcome=outcome,
            mismatches=tuple(mismatches),
            message=self.redactor.text(message)[:MAX_MESSAGE],
            status=None if response is None else response.status,
            elapsed_ms=None if response is None else round(response.elapsed * 1000, 1),
            evidence=()
            if response is None or outcome == StepOutcome.PASSED
            else (response.evidence(self.redactor, limit=EVIDENCE_CHARS),),
        )


_MISSING: Any = type("_Missing", (), {"__repr__": lambda self: "<missing>"})()


def same_json(a: Any, b: Any) -> bool:
    """JSON equality: ``true`` is not ``1``, ``1`` is ``1.0``; dicts compare by keys and values."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def run_case(
    case: Case,
    send: Send,
    *,
    secrets: Mapping[str, str],
    identities: Mapping[str, Identity] | None = None,
    redactor: Redactor | None = None,
) -> CaseResult:
    """Run ``case``'s steps in order; see the module docstring."""
    run = _Run(secrets, identities or {}, redactor or Redactor())
    results: list[StepResult] = []
    failed_at: int | None = None
    for step in case.steps:
        if failed_at is not None:
            results.append(
                StepResult(
                    index=step.index,
                    name=step.name,
                    operation=step.operation,
                    outcome=StepOutcome.SKIPPED,
                    message=f"skipped: step {failed_at} did not pass",
                )
            )
            continue
        try:
            path, kwargs = run.prepare(step.request)
        except StepError as exc:
            results.append(run.result(step, StepOutcome.ERROR, [], reason=str(exc)))
            failed_at = step.index
            continue
        response = send(step.request.method, path, **kwargs)
        if response.error is not None and response.status is None:
            error = response.error
            mismatch = Mismatch(
                "response", "an HTTP response", f"{error.kind.value}: {run.plain(error.message)}"
            )
            results.append(run.result(step, StepOutcome.ERROR, [mismatch], response))
            failed_at = step.index
            continue
        mismatches = run.judge(step, response)
        if response.error is not None:
            mismatches.insert(0, Mismatch("response", "a complete response", response.error.kind.value))
        outcome = StepOutcome.FAILED if mismatches else StepOutcome.PASSED
        results.append(run.result(step, outcome, mismatches, response))
        if mismatches:
            failed_at = step.index
    return CaseResult(name=case.name, steps=tuple(results))
