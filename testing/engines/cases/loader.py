"""YAML for owners' cases, with the line of every node kept (pure: no Django import).

``load(text)`` returns the documents of a YAML stream built from libyaml's events, like the
inventory's ``yaml_safe`` loader, but every mapping is a ``Marked`` dict and every sequence a
``MarkedList`` that remember the line of each of their entries, so validation can say *where* a
value is wrong. Bounded as an upload must be: size, depth, number of nodes, scalar length, aliases
(and what they would expand to: a "billion laughs" is refused while it is read, before anything is
built twice). Scalars resolve by YAML 1.2's core schema (``no`` and ``on`` stay text, timestamps stay
text); explicit tags other than ``!!str`` are refused, so nothing but plain data comes out.
"""

from __future__ import annotations

import math
from typing import Any

import yaml
from yaml._yaml import CParser

MAX_BYTES = 256 * 1024
MAX_DEPTH = 32
MAX_NODES = 50_000
MAX_SCALAR = 64 * 1024
MAX_ALIASES = 50
MAX_ALIAS_EXPANSION = 10_000
MAX_NUMBER_CHARS = 40

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_TRUE = frozenset({"true", "True", "TRUE"})
_FALSE = frozenset({"false", "False", "FALSE"})
_DIGITS = frozenset("0123456789")
_FLOAT_CHARS = frozenset("0123456789.eE+-")


class CaseError(ValueError):
    """A case document that cannot be used: a short message naming the line where possible."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.line = line
        self.reason = message
        super().__init__(f"line {line}: {message}" if line else message)


class Marked(dict[Any, Any]):
    """A YAML mapping that knows its own line and the line of each key."""

    line: int
    lines: dict[Any, int]


class MarkedList(list[Any]):
    """A YAML sequence that knows its own line and the line of each item."""

    line: int
    lines: list[int]


def short(value: Any, limit: int = 60) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _number(value: str) -> Any:
    """A plain scalar as YAML 1.2 core resolves it (int, float, inf, nan), or the text itself."""
    if len(value) > MAX_NUMBER_CHARS:
        return value
    sign, digits = (value[0], value[1:]) if value[:1] in ("-", "+") else ("", value)
    if digits and set(digits) <= _DIGITS:
        return int(value)
    if digits.lower() in (".inf",):
        return value  # not JSON: keep as text
    if digits and set(digits) <= _FLOAT_CHARS and any(c.isdigit() for c in digits) and sign != "+":
        try:
            number = float(value)
        except ValueError:
            return value
        return number if math.isfinite(number) else value
    return value


def _scalar(event: Any) -> Any:
    line = event.start_mark.line + 1
    if len(event.value) > MAX_SCALAR:
        raise CaseError(f"a value longer than {MAX_SCALAR} characters", line)
    tag = event.tag
    if tag == _STR:
        return event.value
    if tag not in (None, "!"):
        raise CaseError(f"unsupported YAML tag {short(tag, 40)}; only plain data is accepted", line)
    if not event.implicit[0] or tag == "!":  # quoted, literal or folded: text
        return event.value
    value = event.value
    if value in _NULLS:
        return None
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return _number(value)


class _Loader:
    def __init__(self, parser: Any) -> None:
        self.parser = parser
        self.nodes = 0
        self.aliases = 0
        self.expanded = 0

    def document(self) -> Any:
        """Build one document from its events (the DocumentStartEvent already consumed)."""
        anchors: dict[str, tuple[Any, int]] = {}
        stack: list[tuple[Any, str | None, int, list[Any]]] = []  # value, anchor, size, pending key
        root: Any = None
        while True:
            event = self.parser.get_event()
            kind = type(event)
            line = event.start_mark.line + 1
            if kind is yaml.DocumentEndEvent:
                return root
            if kind in (yaml.MappingStartEvent, yaml.SequenceStartEvent):
                if len(stack) >= MAX_DEPTH:
                    raise CaseError(f"nested deeper than {MAX_DEPTH} levels", line)
                is_map = kind is yaml.MappingStartEvent
                if event.tag not in (None, "!", _MAP if is_map else _SEQ):
                    raise CaseError(f"unsupported YAML tag {short(event.tag, 40)}", line)
                self.count(line)
                container: Any = Marked() if is_map else MarkedList()
                container.line = line
                container.lines = {} if is_map else []
                stack.append((container, event.anchor, 1, []))
                continue
            if kind in (yaml.MappingEndEvent, yaml.SequenceEndEvent):
                value, anchor, size, _ = stack.pop()
                line = value.line  # where it started, not where it ended
                if anchor is not None:
                    anchors[anchor] = (value, size)
            elif kind is yaml.ScalarEvent:
                self.count(line)
                value, size = _scalar(event), 1
                if event.anchor is not None:
                    anchors[event.anchor] = (value, 1)
            elif kind is yaml.AliasEvent:
                value, size = self.alias(event, anchors, line)
            else:  # pragma: no cover - libyaml sends nothing else inside a document
                raise CaseError(f"unexpected YAML event {kind.__name__}", line)
            if not stack:
                root = value
                continue
            parent, anchor, parent_size, pending = stack[-1]
            stack[-1] = (parent, anchor, parent_size + size, pending)
            if isinstance(parent, MarkedList):
                parent.append(value)
                parent.lines.append(line)
            elif not pending:
                if isinstance(value, Marked | MarkedList):
                    raise CaseError("a mapping key must be text, not a mapping or a list", line)
                if value == "<<" and kind is yaml.ScalarEvent and event.implicit[0]:
                    raise CaseError("merge keys (<<) are not supported; repeat the values", line)
                if value in parent:
                    raise CaseError(f"duplicate key {short(value)!r}", line)
                pending.append((value, line))
            else:
                key, key_line = pending.pop()
                parent[key] = value
                parent.lines[key] = key_line

    def count(self, line: int) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise CaseError(f"more than {MAX_NODES} values in the document", line)

    def alias(self, event: Any, anchors: dict[str, tuple[Any, int]], line: int) -> tuple[Any, int]:
        self.aliases += 1
        if self.aliases > MAX_ALIASES:
            raise CaseError(f"more than {MAX_ALIASES} YAML aliases; refused as a possible alias bomb", line)
        if event.anchor not in anchors:
            raise CaseError(f"alias *{short(event.anchor, 40)} is not defined before it is used", line)
        value, size = anchors[event.anchor]
        self.expanded += size
        if self.expanded > MAX_ALIAS_EXPANSION:
            raise CaseError("YAML aliases expand to too much data; refused as a possible alias bomb", line)
        return value, size


def load(text: str) -> list[Any]:
    """The documents of a YAML stream, with marks; ``CaseError`` for anything refused."""
    size = len(text.encode("utf-8", errors="surrogatepass"))
    if size > MAX_BYTES:
        raise CaseError(f"the document is {size:,} bytes; the limit is {MAX_BYTES:,}")
    try:
        parser = CParser(text)
    except UnicodeError:
        raise CaseError("the document is not valid Unicode text") from None
    try:
        loader = _Loader(parser)
        parser.get_event()  # StreamStartEvent
        docs: list[Any] = []
        while not isinstance(parser.peek_event(), yaml.StreamEndEvent):
            parser.get_event()  # DocumentStartEvent
            docs.append(loader.document())
        return docs
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "syntax error"
        if "maximum nesting depth" in problem:
            raise CaseError(
                f"nested deeper than {MAX_DEPTH} levels", mark.line + 1 if mark else None
            ) from None
        raise CaseError(f"malformed YAML: {short(problem, 120)}", mark.line + 1 if mark else None) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow; no mark, a position
        line = text.count("\n", 0, max(0, exc.position)) + 1
        code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "\0")
        raise CaseError(f"a control character (#x{code:04x}) is not allowed in YAML", line) from None
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "syntax error"
        raise CaseError(f"malformed YAML: {short(first, 120)}") from None
    except RecursionError:
        raise CaseError(f"nested deeper than {MAX_DEPTH} levels") from None
    finally:
        parser.dispose()
