"""What every check is, what it is given and what it returns (pure engine: no Django import).

A check is a class registered by its key::

    @register
    class HttpMethods(Check):
        key = "http_methods"
        title = "TRACE and undocumented methods are refused"
        sends = "TRACE and one undocumented method to each documented path"
        owasp = Owasp.API8
        severity = Severity.LOW
        intrusive = False
        request_budget = 40

        def run(self, ctx: Context) -> list[Problem]:
            for path in ctx.target.paths()[:10]:
                response = ctx.send("TRACE", path)
                if response.status not in (405, 501, 403, 404, None):
                    ctx.problem(detail="trace_allowed", operation=f"TRACE {path}", message=..., response=response)
            return ctx.problems

``run`` sends through ``ctx`` (never its own client), which counts what the run's health needs
(operations reached, responses that were authenticated, requests sent) and keeps the evidence
redacted. A check that cannot run says why with ``raise Skip("reason")``; any other exception is
turned into an ``error`` result by the runner, never a crash. The problems a check returns become
findings, fingerprinted by (API, check key, operation, detail): ``detail`` must be short and stable
from run to run (a reason code, not a message with a timestamp or a measured value in it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar
from urllib.parse import quote

from testing.engines.safe_http import Redactor, SafeClient, ScanResponse


class Severity(StrEnum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return SEVERITY_ORDER.index(self)


SEVERITY_ORDER = (Severity.INFO, Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL)


class Outcome(StrEnum):
    PASSED = "pass"
    FAILED = "fail"
    ERROR = "error"
    SKIPPED = "skipped"


class Owasp(StrEnum):
    """OWASP API Security Top 10, 2023 edition."""

    API1 = "API1:2023"
    API2 = "API2:2023"
    API3 = "API3:2023"
    API4 = "API4:2023"
    API5 = "API5:2023"
    API6 = "API6:2023"
    API7 = "API7:2023"
    API8 = "API8:2023"
    API9 = "API9:2023"
    API10 = "API10:2023"

    @property
    def label(self) -> str:
        return f"{self.value} {OWASP_TITLES[self]}"


OWASP_TITLES = {
    Owasp.API1: "Broken Object Level Authorization",
    Owasp.API2: "Broken Authentication",
    Owasp.API3: "Broken Object Property Level Authorization",
    Owasp.API4: "Unrestricted Resource Consumption",
    Owasp.API5: "Broken Function Level Authorization",
    Owasp.API6: "Unrestricted Access to Sensitive Business Flows",
    Owasp.API7: "Server Side Request Forgery",
    Owasp.API8: "Security Misconfiguration",
    Owasp.API9: "Improper Inventory Management",
    Owasp.API10: "Unsafe Consumption of APIs",
}

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_DETAIL = 120
MAX_MESSAGE = 1000
MAX_PROBLEMS = 50  # per check and run: a check that finds more reports the first 50 and says so
MAX_EVIDENCE = 3  # responses kept per problem
EVIDENCE_CHARS = 1500


# what a check is given -----------------------------------------------------------------------------


@dataclass(frozen=True)
class OperationSpec:
    """One documented operation, with its ``$ref``s already resolved (bounded by the spec parser).

    ``parameters``: OpenAPI parameter objects (name, in, required, schema, example).
    ``request_schema``: the JSON request body schema, when there is one.
    ``responses``: status ("200", "4XX", "default") → JSON schema of the body, or None when the
    response documents no JSON body.
    """

    method: str
    path: str
    operation_id: str = ""
    auth_required: bool = True
    parameters: tuple[Mapping[str, Any], ...] = ()
    request_schema: Mapping[str, Any] | None = None
    responses: Mapping[str, Mapping[str, Any] | None] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def safe(self) -> bool:
        return self.method in SAFE_METHODS

    def documents(self, status: int) -> bool:
        """Whether ``status`` is one of the documented response codes (ranges and default count)."""
        codes = set(self.responses)
        return str(status) in codes or f"{status // 100}XX" in codes or "default" in codes

    def path_parameters(self) -> list[Mapping[str, Any]]:
        return [p for p in self.parameters if p.get("in") == "path"]


@dataclass(frozen=True)
class Identity:
    """A way to call the API as someone, already resolved into headers (never stored as such).

    ``secrets`` lists every secret value inside ``headers`` so evidence is redacted;
    ``token`` is the bearer token when there is one (the JWT checks read it);
    ``object_ids`` are ids of objects this identity owns (for ``bola``), configured or captured.
    """

    name: str
    headers: Mapping[str, str] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()
    token: str = ""
    object_ids: tuple[str, ...] = ()
    # The identity's secrets by name ("password", "token"...), for owners' cases that use
    # ``{{ secrets.<identity>.<name> }}``; every value is also in ``secrets`` (redacted).
    named_secrets: Mapping[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Target:
    """Everything the inventory knows that a check may use, for one environment of one API."""

    base_url: str  # scheme://host[:port][/prefix], no trailing slash
    operations: tuple[OperationSpec, ...] = ()
    identities: tuple[Identity, ...] = ()
    auth_schemes: tuple[str, ...] = ()  # inventory's AuthScheme values ("jwt", "oauth2", "api_key" ...)
    production: bool = False
    intrusive_allowed: bool = False  # the plan's opt-in (and, on production, the owner's)
    latency_p95_ms: float | None = None  # the registered baseline
    latency_tolerance: float = 0.5  # a p95 up to baseline × (1 + tolerance) passes
    latency_history: tuple[float, ...] = ()  # p95 ms of earlier runs, oldest first
    expected_up: bool = True  # the availability windows say the API should be up now
    consumers: tuple[str, ...] = ()  # who depends on it (the blast radius of an outage)
    docs_public: bool = False  # the inventory says its API documentation is meant to be public
    cases: tuple[Any, ...] = ()  # the owners' functional cases (testing.engines.cases)
    cheap_get: str = ""  # a path the rate-limit burst may hit (default: the first safe operation)
    # Identities the plan holds that could not be used (name: reason, no secret). A run with any is
    # not trustworthy: checks that needed them saw only the outside of the API.
    identity_errors: tuple[str, ...] = ()

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + (path if path.startswith("/") else "/" + path)

    def operation(self, key: str) -> OperationSpec | None:
        return next((op for op in self.operations if op.key == key), None)

    def protected(self) -> list[OperationSpec]:
        return [op for op in self.operations if op.auth_required]

    def paths(self) -> list[str]:
        return sorted({op.path for op in self.operations})

    def identity(self, name: str) -> Identity | None:
        return next((i for i in self.identities if i.name == name), None)

    def secrets(self) -> tuple[str, ...]:
        return tuple(s for i in self.identities for s in i.secrets if s)


def example_value(schema: Mapping[str, Any] | None, name: str = "") -> str:
    """A plausible value for a parameter, from its example, enum or type (for filling path templates)."""
    schema = schema or {}
    for source in (schema.get("example"), *(schema.get("examples") or [])[:1]):
        if isinstance(source, str | int | float) and not isinstance(source, bool):
            return str(source)
    enum = schema.get("enum")
    if isinstance(enum, list) and enum and isinstance(enum[0], str | int | float):
        return str(enum[0])
    kind = schema.get("type")
    if kind in ("integer", "number"):
        return "1"
    if kind == "boolean":
        return "true"
    if schema.get("format") == "uuid":
        return "00000000-0000-4000-8000-000000000001"
    return "1" if name.lower().endswith("id") else "example"


def fill_path(op: OperationSpec, values: Mapping[str, str] | None = None) -> str:
    """The operation's path with its template parameters filled (given values first, then examples)."""
    values = values or {}
    path = op.path
    for param in op.path_parameters():
        name = str(param.get("name", ""))
        value = values.get(name) or example_value(param.get("schema") or param, name)
        path = path.replace("{" + name + "}", quote(str(value), safe=""))
    return path


# what a check returns --------------------------------------------------------------------------------


@dataclass
class Problem:
    """One thing wrong. ``detail`` (short, stable) and ``operation`` make the finding's fingerprint."""

    detail: str
    message: str
    operation: str = ""
    severity: Severity | None = None  # None: the check's default
    evidence: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class CheckReport:
    key: str
    outcome: Outcome
    severity: Severity
    problems: list[Problem] = field(default_factory=list)
    summary: str = ""
    skipped_reason: str = ""
    requests_sent: int = 0
    request_budget: int = 0
    operations_reached: frozenset[str] = frozenset()
    authenticated_requests: int = 0  # requests sent with an identity
    authenticated_responses: int = 0  # of those, answered as authenticated (not 401/403, no error)
    duration_ms: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)
    # It stopped at its request budget: what it did not reach was not tested again.
    budget_exhausted: bool = False


class Skip(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised by a check that cannot run here; the message is the reason shown to users."""


# what a check runs with ------------------------------------------------------------------------------


class Context:
    """A check's view of one run: the target, a budgeted client, and the bookkeeping of health."""

    def __init__(
        self,
        *,
        target: Target,
        client: SafeClient,
        check: Check,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.target = target
        self.client = client
        self.check = check
        self.clock = clock
        self.redactor: Redactor = client.redactor.with_secrets(*target.secrets())
        self.problems: list[Problem] = []
        self.metrics: dict[str, Any] = {}
        self.reached: set[str] = set()
        self.requests_sent = 0
        self.authenticated_requests = 0
        self.authenticated_responses = 0
        self.truncated = False
        self.notes: list[str] = []

    def send(
        self,
        method: str,
        path_or_url: str,
        *,
        identity: Identity | None = None,
        headers: Mapping[str, str] | None = None,
        operation: OperationSpec | None = None,
        **kwargs: Any,
    ) -> ScanResponse:
        """Send one request through the safe client. ``path_or_url`` is relative to the base URL
        unless it is absolute. Raises ``BudgetExceeded`` when this check's budget is spent (the
        runner turns that into a result with what was found so far)."""
        url = path_or_url if "://" in path_or_url else self.target.url(path_or_url)
        merged = dict(identity.headers) if identity else {}
        merged.update(headers or {})
        before = self.client.budget.remaining
        response = self.client.request(method, url, headers=merged, **kwargs)
        self.requests_sent += max(1, before - self.client.budget.remaining)
        if operation is not None and response.ok:
            self.reached.add(operation.key)
        if identity is not None and identity.headers:
            self.authenticated_requests += 1
            if response.ok and response.status not in (401, 403):
                self.authenticated_responses += 1
        return response

    def spend(self, host: str, port: int) -> None:
        """Count a probe that is not an HTTP request (a TLS handshake) against this check's budget and
        the per-host rate, as ``send`` does for requests. Raises ``BudgetExceeded``."""
        self.client.budget.take()
        self.requests_sent += 1
        self.client.rate.wait(f"{host}:{port}")

    def note(self, text: str) -> None:
        """Add a sentence to the result's summary (e.g. "no baseline registered"), passing or not."""
        if len(self.notes) < 5:
            self.notes.append(self.redactor.text(text)[:200])

    def evidence(self, response: ScanResponse) -> dict[str, Any]:
        return response.evidence(self.redactor, limit=EVIDENCE_CHARS)

    def problem(
        self,
        *,
        detail: str,
        message: str,
        operation: str = "",
        severity: Severity | None = None,
        responses: Iterable[ScanResponse] = (),
    ) -> None:
        if len(self.problems) >= MAX_PROBLEMS:
            self.truncated = True
            return
        self.problems.append(
            Problem(
                detail=detail[:MAX_DETAIL],
                message=self.redactor.text(message)[:MAX_MESSAGE],
                operation=operation[: MAX_DETAIL * 5],
                severity=severity,
                evidence=[self.evidence(r) for r in list(responses)[:MAX_EVIDENCE]],
            )
        )


class Check:
    """The base of every check; see the module docstring."""

    key: ClassVar[str]
    title: ClassVar[str]
    sends: ClassVar[str]  # what it sends, in a sentence (shown in the UI before opting in)
    owasp: ClassVar[Owasp]
    severity: ClassVar[Severity]
    intrusive: ClassVar[bool] = False
    request_budget: ClassVar[int]

    def run(self, ctx: Context) -> list[Problem]:
        raise NotImplementedError


REGISTRY: dict[str, type[Check]] = {}


def register(cls: type[Check]) -> type[Check]:
    for attr in ("key", "title", "sends", "owasp", "severity", "request_budget"):
        if not hasattr(cls, attr):
            raise TypeError(f"{cls.__name__} does not declare {attr}")
    if cls.key in REGISTRY and REGISTRY[cls.key] is not cls:
        raise ValueError(f"two checks are registered as {cls.key!r}")
    if not 0 < cls.request_budget <= 1000:
        raise ValueError(f"{cls.key}: request_budget must be between 1 and 1000")
    REGISTRY[cls.key] = cls
    return cls
