"""What a parsed case is: frozen values, validated once by ``parse.parse_cases``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from testing.engines.cases.jsonpath import JsonPath

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


@dataclass(frozen=True)
class Request:
    """One request. ``path`` is relative to the target's base URL; ``json`` is the body when
    ``has_json`` (so a JSON ``null`` body can be sent), ``text`` a text body; never both.
    ``identity`` names one of the target's identities whose headers are added."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    query: tuple[tuple[str, str], ...] = ()
    json: Any = None
    has_json: bool = False
    text: str | None = None
    identity: str = ""


@dataclass(frozen=True)
class Capture:
    """A variable taken from a response: the value at a JSONPath of the body, or a header."""

    name: str
    path: JsonPath | None = None
    header: str = ""

    @property
    def source(self) -> str:
        return str(self.path) if self.path is not None else f"header {self.header}"


@dataclass(frozen=True)
class HeaderExpectation:
    name: str
    value: str
    contains: bool = False  # False: the whole value must be equal


@dataclass(frozen=True)
class ValueExpectation:
    """The value(s) at ``path`` equal ``value`` (a list of values for a path with ``[*]``)."""

    path: JsonPath
    value: Any


@dataclass(frozen=True)
class Expect:
    status: tuple[int, ...] = ()  # empty: any 2xx
    headers: tuple[HeaderExpectation, ...] = ()
    schema: Mapping[str, Any] | bool | None = None
    values: tuple[ValueExpectation, ...] = ()
    max_latency_ms: int | None = None
    # The compiled schema (jsonschema_rs, linear regular expressions); not part of equality.
    validator: Any = field(default=None, compare=False, repr=False)

    @property
    def needs_json(self) -> bool:
        return self.schema is not None or bool(self.values)


@dataclass(frozen=True)
class Step:
    index: int  # 1-based, as shown to owners
    name: str
    line: int
    request: Request
    captures: tuple[Capture, ...] = ()
    expect: Expect = Expect()

    @property
    def operation(self) -> str:
        """The request as written (placeholders unfilled): stable from run to run."""
        return f"{self.request.method} {self.request.path}"


@dataclass(frozen=True)
class Case:
    name: str
    line: int
    steps: tuple[Step, ...]
