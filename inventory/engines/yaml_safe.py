"""YAML for untrusted uploads: safe constructors only, bounded aliases, depth and size. Pure (no Django).

A "billion laughs" document is tiny on disk but expands without bound once anything walks it; the
loader counts what aliases would expand to while composing, and refuses before anything is built.
Timestamps are not resolved implicitly, so what comes out is plain JSON-like data. One loader
serves every upload that may be YAML (OpenAPI documents, catalog files).
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_DEPTH = 64  # nesting levels of mappings/sequences
MAX_ALIASES = 100  # YAML alias nodes (*name) in one stream
MAX_ALIAS_EXPANSION = 100_000  # extra nodes the aliases add once expanded


class YamlError(ValueError):
    """A short message for the uploader, naming the line where possible."""


def _short(value: Any, limit: int) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _BoundedSafeLoader(yaml.SafeLoader):
    """SafeLoader that refuses alias bombs, recursive aliases and deep nesting while composing.

    Timestamps are not resolved implicitly (``version: 2024-01-01`` stays a string) so the document
    is plain JSON data.
    """

    yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._alias_count = 0
        self._alias_extra = 0
        self._sizes: list[int] = []  # running node count of each collection being composed
        self._anchor_sizes: dict[str, int] = {}  # expanded node count of each finished anchored node

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[no-untyped-call]  # unannotated in types-PyYAML
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent):
            self._alias_count += 1
            if self._alias_count > MAX_ALIASES:
                raise YamlError(
                    f"Too many YAML aliases (more than {MAX_ALIASES}, line {line}); refused as a possible alias bomb."
                )
            anchor = event.anchor
            if anchor in self.anchors and anchor not in self._anchor_sizes:
                raise YamlError(
                    f"YAML alias *{_short(anchor, 40)} at line {line} refers to a node containing it."
                )
            node = super().compose_node(parent, index)  # raises for an undefined alias
            assert anchor is not None  # an alias that resolved names its anchor
            size = self._anchor_sizes[anchor]
            self._alias_extra += size
            if self._alias_extra > MAX_ALIAS_EXPANSION:
                raise YamlError(
                    f"YAML aliases expand to too much data (line {line}); refused as a possible alias bomb."
                )
            if self._sizes:
                self._sizes[-1] += size
            return node
        if len(self._sizes) >= MAX_DEPTH:
            raise YamlError(f"Document nested deeper than {MAX_DEPTH} levels (line {line}).")
        anchor = event.anchor
        self._sizes.append(0)
        node = super().compose_node(parent, index)
        size = 1 + self._sizes.pop()
        if anchor is not None:
            self._anchor_sizes[anchor] = size
        if self._sizes:
            self._sizes[-1] += size
        return node

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, _ in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                    if key_node.value in seen:
                        line = key_node.start_mark.line + 1
                        raise YamlError(f"Duplicate key {_short(key_node.value, 80)!r} (line {line}).")
                    seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)


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


def load_text(text: str) -> Any:
    """Exactly one YAML (or JSON) document."""
    loader = None
    try:
        loader = _BoundedSafeLoader(text)  # the reader already refuses control characters here
        return loader.get_single_data()
    except yaml.composer.ComposerError as exc:
        if exc.context == "expected a single document in the stream":
            raise YamlError("The file contains several YAML documents; upload exactly one.") from None
        raise YamlError(_yaml_message(exc)) from None
    except yaml.YAMLError as exc:
        raise YamlError(_yaml_message(exc)) from None
    except RecursionError:
        raise YamlError(f"Document nested deeper than {MAX_DEPTH} levels.") from None
    finally:
        if loader is not None:
            loader.dispose()


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
    """Every document of a multi-document stream (catalog files)."""
    loader = _BoundedSafeLoader(decode(data, max_bytes=max_bytes))
    try:
        docs = []
        while loader.check_data():  # type: ignore[no-untyped-call]  # unannotated in types-PyYAML
            docs.append(loader.get_data())
            loader._anchor_sizes.clear()  # anchors do not cross documents
        return docs
    except yaml.YAMLError as exc:
        raise YamlError(_yaml_message(exc)) from None
    except RecursionError:
        raise YamlError(f"Document nested deeper than {MAX_DEPTH} levels.") from None
    finally:
        loader.dispose()
