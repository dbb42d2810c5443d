"""YAML for untrusted uploads: safe constructors only, bounded aliases, depth and size. Pure (no Django).

A "billion laughs" document is tiny on disk but expands without bound once anything walks it; the
loader counts what aliases would expand to while building, and refuses before anything is built.
Timestamps are not resolved implicitly, so what comes out is plain JSON-like data. One loader
serves every upload that may be YAML (OpenAPI documents, catalog files).

Speed: libyaml's C parser (``yaml._yaml.CParser``) produces the events, and this module builds the
data straight from them, without the node tree PyYAML's composer makes. A 10 MB document loads
about five times faster than with the pure-Python ``SafeLoader``, with the same rules: plain
scalars resolve as ``SafeLoader`` resolves them (minus timestamps), explicitly tagged scalars go
through ``SafeConstructor`` (``!!binary`` gives bytes, which the callers refuse; an unknown tag is an
error), merge keys (``<<``) work, and aliases share the anchored object as PyYAML does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml
from yaml._yaml import CParser

MAX_DEPTH = 64  # nesting levels of mappings/sequences
MAX_ALIASES = 100  # YAML alias nodes (*name) in one stream
MAX_ALIAS_EXPANSION = 100_000  # extra nodes the aliases add once expanded
# Values (scalars, mappings, sequences, aliases) in one stream. A 10 MB OpenAPI document with 4,000
# operations holds about 500,000; ten megabytes of "[1,1,1,…" would hold five million, and PyYAML's
# libyaml binding spends about two microseconds on each (the Event and Mark objects it makes).
MAX_NODES = 750_000

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"


class YamlError(ValueError):
    """A short message for the uploader, naming the line where possible."""


def _short(value: Any, limit: int) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Resolver(yaml.resolver.Resolver):
    """SafeLoader's implicit resolution of plain scalars, except timestamps (``2024-01-01`` stays text)."""

    yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.resolver.Resolver.yaml_implicit_resolvers.items()
    }


_IMPLICIT = _Resolver.yaml_implicit_resolvers


def _plain_tag(value: str) -> str:
    """The tag a plain scalar resolves to (``Resolver.resolve`` for scalars, without its node)."""
    for tag, regexp in _IMPLICIT.get(value[:1] if value else "", ()):
        if regexp.match(value):
            return str(tag)
    for tag, regexp in _IMPLICIT.get(None, ()):  # the "any first character" resolvers
        if regexp.match(value):
            return str(tag)
    return _STR


_SLOW = object()  # the fast conversion does not handle this spelling; SafeConstructor does
# A plain number longer than this stays text: no API document means a 100-digit number, and
# SafeConstructor's conversions are quadratic in length (YAML 1.1 base 60: ``1:0:0:…``) or refuse
# past 4,300 digits (Python's int limit, a ValueError).
MAX_NUMBER_CHARS = 100
_NUMBERS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
_DECIMAL_INT = frozenset("0123456789")
_BOOLS = {"yes": True, "true": True, "on": True, "no": False, "false": False, "off": False}


def _fast_int(value: str) -> Any:
    digits = value[1:] if value[:1] in ("-", "+") else value
    if digits and set(digits) <= _DECIMAL_INT and (digits == "0" or digits[0] != "0"):
        return int(value)
    return _SLOW  # 0x, 0o, 0b, 1_000, sexagesimal, YAML 1.1 octal (012)


def _fast_float(value: str) -> Any:
    if "_" in value or ":" in value or value.lower().lstrip("+-") in (".inf", ".nan"):
        return _SLOW
    try:
        return float(value)
    except ValueError:
        return _SLOW


_FAST: dict[str, Callable[[str], Any]] = {
    "tag:yaml.org,2002:int": _fast_int,
    "tag:yaml.org,2002:float": _fast_float,
    "tag:yaml.org,2002:bool": lambda value: _BOOLS.get(value.lower(), _SLOW),
    "tag:yaml.org,2002:null": lambda value: None,
}


class _Collection:
    """A mapping or sequence being built: its value, the anchor it will be known by, its node count."""

    __slots__ = ("anchor", "key", "line", "merges", "size", "value")

    def __init__(self, value: Any, anchor: str | None, line: int) -> None:
        self.value = value
        self.anchor = anchor
        self.line = line
        self.size = 1
        self.key: Any = _NO_KEY  # a mapping waiting for the value of this key
        self.merges: list[Any] = []


_NO_KEY = object()


class _Builder:
    """Builds one document's data from parser events, enforcing the alias, depth and key rules."""

    def __init__(self, parser: Any) -> None:
        self.parser = parser
        self.constructor = yaml.constructor.SafeConstructor()
        self.alias_count = 0
        self.alias_extra = 0
        self.nodes = 0

    def document(self) -> Any:
        """The next document's data (after its DocumentStartEvent, through its DocumentEndEvent)."""
        anchors: dict[str, tuple[Any, int]] = {}  # finished anchored values and their node counts
        open_anchors: set[str] = set()
        stack: list[_Collection] = []
        root: Any = None
        get_event = self.parser.get_event
        while True:
            event = get_event()
            kind = type(event)
            if kind is not yaml.MappingEndEvent and kind is not yaml.SequenceEndEvent:
                self.nodes += 1
                if self.nodes > MAX_NODES:
                    raise YamlError(
                        f"The YAML document holds too many values (more than {MAX_NODES:,}, line "
                        f"{event.start_mark.line + 1}); a 10 MB OpenAPI document holds about 500,000."
                    )
            if kind is yaml.ScalarEvent:
                value, size = self.scalar(event), 1
                if event.anchor is not None:
                    anchors[event.anchor] = (value, 1)
            elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                line = event.start_mark.line + 1
                if len(stack) >= MAX_DEPTH:
                    raise YamlError(f"Document nested deeper than {MAX_DEPTH} levels (line {line}).")
                is_map = kind is yaml.MappingStartEvent
                if event.tag not in (None, "!", _MAP if is_map else _SEQ):
                    raise YamlError(
                        f"Unsupported YAML tag (line {line}): {_short(event.tag, 80)}; "
                        "only plain YAML data is accepted."
                    )
                stack.append(_Collection({} if is_map else [], event.anchor, line))
                if event.anchor is not None:
                    open_anchors.add(event.anchor)
                continue
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                done = stack.pop()
                if done.merges:
                    self.merge(done)
                value, size = done.value, done.size
                if done.anchor is not None:
                    open_anchors.discard(done.anchor)
                    anchors[done.anchor] = (value, size)
            elif kind is yaml.AliasEvent:
                value, size = self.alias(event, anchors, open_anchors)
            elif kind is yaml.DocumentEndEvent:
                return root
            else:  # pragma: no cover - libyaml sends nothing else inside a document
                raise YamlError(f"Malformed YAML: unexpected {kind.__name__}.")
            parent = stack[-1] if stack else None
            if value is _MERGE_KEY and (
                parent is None or isinstance(parent.value, list) or parent.key is not _NO_KEY
            ):
                raise YamlError(
                    f"Malformed YAML at line {event.start_mark.line + 1}: '<<' (merge) is only allowed as a key."
                )
            if parent is None:
                root = value
                continue
            parent.size += size
            if isinstance(parent.value, list):
                parent.value.append(value)
            elif parent.key is _NO_KEY:
                parent.key = self.key(value, event, kind)
            else:
                self.put(parent, parent.key, value, event)
                parent.key = _NO_KEY

    def scalar(self, event: Any) -> Any:
        tag = event.tag
        if tag is None or tag == "!":
            if not event.implicit[0]:  # quoted, literal or folded: text
                return event.value
            value = event.value
            long = len(value) > MAX_NUMBER_CHARS
            if not long and value.isdigit() and value.isascii() and (value[0] != "0" or value == "0"):
                return int(value)  # the commonest non-text scalar, without the resolver's regexes
            tag = _plain_tag(value)
            if tag == _STR or (tag in _NUMBERS and (long or ":" in value)):
                return value  # text; base 60 (``1:30``) is YAML 1.1 only and stays text, as in 1.2
            if tag == _MERGE:  # only meaningful as a mapping key; see key()
                return _MERGE_KEY
            fast = _FAST.get(tag)
            if fast is not None:
                converted = fast(value)
                if converted is not _SLOW:
                    return converted
        elif tag == _STR:
            return event.value
        node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
        return self.constructor.construct_object(node, deep=True)

    def alias(
        self, event: Any, anchors: dict[str, tuple[Any, int]], open_anchors: set[str]
    ) -> tuple[Any, int]:
        line = event.start_mark.line + 1
        self.alias_count += 1
        if self.alias_count > MAX_ALIASES:
            raise YamlError(
                f"Too many YAML aliases (more than {MAX_ALIASES}, line {line}); refused as a possible alias bomb."
            )
        anchor = event.anchor
        if anchor in open_anchors:
            raise YamlError(
                f"YAML alias *{_short(anchor, 40)} at line {line} refers to a node containing it."
            )
        if anchor not in anchors:
            raise YamlError(
                f"Malformed YAML at line {line}, column {event.start_mark.column + 1}: "
                f"found undefined alias {_short(anchor, 40)!r}."
            )
        value, size = anchors[anchor]
        self.alias_extra += size
        if self.alias_extra > MAX_ALIAS_EXPANSION:
            raise YamlError(
                f"YAML aliases expand to too much data (line {line}); refused as a possible alias bomb."
            )
        return value, size

    def key(self, value: Any, event: Any, kind: type) -> Any:
        if value is _MERGE_KEY:
            return value
        if isinstance(value, int | float) and not isinstance(value, bool) and not -(2**31) < value < 2**31:
            # Python hashes big numbers predictably (n mod 2⁶¹−1): thousands of colliding keys would
            # make each insert probe every earlier key. As text, they hash like any string.
            return str(value)
        try:
            hash(value)
        except TypeError:
            line = event.start_mark.line + 1
            raise YamlError(
                f"Unsupported mapping key at line {line} (keys must be text); only plain YAML data is accepted."
            ) from None
        return value

    def put(self, parent: _Collection, key: Any, value: Any, event: Any) -> None:
        if key is _MERGE_KEY:
            parent.merges.append((value, event.start_mark.line + 1))
            return
        if key in parent.value:
            line = event.start_mark.line + 1
            raise YamlError(f"Duplicate key {_short(key, 80)!r} (line {line}).")
        parent.value[key] = value

    def merge(self, done: _Collection) -> None:
        """``<<: *base`` (or a list of them): keys the mapping does not set itself come from the
        merged mappings, the first listed winning, as in SafeLoader."""
        merged: dict[Any, Any] = {}
        for value, line in done.merges:
            sources = value if isinstance(value, list) else [value]
            for source in sources:
                if not isinstance(source, dict):
                    raise YamlError(f"Malformed YAML at line {line}: a merge key (<<) needs a mapping.")
                for key, item in source.items():
                    merged.setdefault(key, item)
        for key, item in merged.items():
            done.value.setdefault(key, item)


_MERGE_KEY = object()


def _yaml_message(exc: yaml.YAMLError) -> str:
    if (
        isinstance(exc, yaml.constructor.ConstructorError)
        and exc.problem
        and "constructor for the tag" in exc.problem
    ):
        mark = exc.problem_mark
        where = f" (line {mark.line + 1})" if mark else ""
        return f"Unsupported YAML tag{where}: {_short(exc.problem, 150)}; only plain YAML data is accepted."
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "syntax error"
        if mark is not None:
            return (
                f"Malformed YAML at line {mark.line + 1}, column {mark.column + 1}: {_short(problem, 150)}."
            )
        return f"Malformed YAML: {_short(problem, 150)}."
    return f"Malformed YAML: {_short(exc, 150)}."


def _documents(text: str, *, single: bool) -> list[Any]:
    parser = CParser(text)
    try:
        builder = _Builder(parser)
        parser.get_event()  # StreamStartEvent
        docs: list[Any] = []
        while not isinstance(parser.peek_event(), yaml.StreamEndEvent):
            if single and docs:
                raise YamlError("The file contains several YAML documents; upload exactly one.")
            parser.get_event()  # DocumentStartEvent
            docs.append(builder.document())
        return docs
    except yaml.YAMLError as exc:
        if "maximum nesting depth" in str(getattr(exc, "problem", "")):  # libyaml's own bound (1,000)
            raise YamlError(f"Document nested deeper than {MAX_DEPTH} levels.") from None
        raise YamlError(_yaml_message(exc)) from None
    except RecursionError:
        raise YamlError(f"Document nested deeper than {MAX_DEPTH} levels.") from None
    finally:
        parser.dispose()


def load_text(text: str) -> Any:
    """Exactly one YAML (or JSON) document (``None`` for an empty stream)."""
    docs = _documents(text, single=True)
    return docs[0] if docs else None


def decode(data: bytes, *, max_bytes: int) -> str:
    if len(data) > max_bytes:
        raise YamlError(f"File too large ({len(data):,} bytes; the limit is {max_bytes:,}).")
    if not data.strip():
        raise YamlError("The file is empty.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise YamlError(f"The file is not UTF-8 text (byte {exc.start}).") from exc


def load_safely(data: bytes, *, max_bytes: int) -> Any:
    return load_text(decode(data, max_bytes=max_bytes))


def load_all_safely(data: bytes, *, max_bytes: int) -> list[Any]:
    """Every document of a multi-document stream (catalog files). Anchors do not cross documents;
    the alias bounds hold for the whole stream."""
    return _documents(decode(data, max_bytes=max_bytes), single=False)
