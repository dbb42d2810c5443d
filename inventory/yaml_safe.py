"""YAML for untrusted uploads: safe constructors only, bounded aliases and depth, bounded size.

A "billion laughs" document is tiny on disk but expands without bound once anything walks it; we
refuse it while parsing, before anything is built. Pure (no Django).
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_ALIASES = 1000
MAX_DEPTH = 64
# Nodes the document would have with every alias expanded. A 10 MB spec has well under a million.
MAX_EXPANDED_NODES = 2_000_000


class YamlError(ValueError):
    pass


class _BoundedLoader(yaml.SafeLoader):
    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise YamlError(
                    f"Too many YAML aliases (line {mark.line + 1}); refused as a possible alias bomb."
                )
        depth = getattr(self, "_depth", 0)
        if depth > MAX_DEPTH:
            mark = self.peek_event().start_mark
            raise YamlError(f"YAML nested deeper than {MAX_DEPTH} levels (line {mark.line + 1}).")
        self._depth = depth + 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth = depth


def _check_expansion(node: yaml.Node) -> None:
    """Count nodes as if aliases were copied, memoized per node, so the check itself stays linear."""
    weights: dict[int, int] = {}

    def weight(n: yaml.Node) -> int:
        key = id(n)
        if key in weights:
            return weights[key]
        if isinstance(n, yaml.SequenceNode):
            total = 1 + sum(weight(child) for child in n.value)
        elif isinstance(n, yaml.MappingNode):
            total = 1 + sum(weight(k) + weight(v) for k, v in n.value)
        else:
            total = 1
        if total > MAX_EXPANDED_NODES:
            raise YamlError(
                "The YAML expands to too many nodes through aliases; refused as a possible alias bomb."
            )
        weights[key] = total
        return total

    weight(node)


def _decode(data: bytes, max_bytes: int) -> str:
    if len(data) > max_bytes:
        raise YamlError(f"File too large ({len(data):,} bytes; the limit is {max_bytes:,}).")
    if not data.strip():
        raise YamlError("The file is empty.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise YamlError(f"The file is not UTF-8 text (byte {exc.start}).") from exc


def _explain(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or "invalid YAML"
    if mark is not None:
        return f"Invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {problem}."
    return f"Invalid YAML: {problem}."


def load_safely(data: bytes, *, max_bytes: int) -> Any:
    """One YAML (or JSON) document."""
    text = _decode(data, max_bytes)
    loader = _BoundedLoader(text)
    try:
        node = loader.get_single_node()  # raises on a second document
        if node is None:
            raise YamlError("The file is empty.")
        _check_expansion(node)
        return loader.construct_document(node)
    except YamlError:
        raise
    except yaml.YAMLError as exc:
        if "expected a single document" in str(exc):
            raise YamlError("The file holds several YAML documents; upload one.") from exc
        raise YamlError(_explain(exc)) from exc
    except RecursionError as exc:
        raise YamlError("YAML nested too deeply.") from exc
    finally:
        loader.dispose()


def load_all_safely(data: bytes, *, max_bytes: int) -> list[Any]:
    """Every document of a multi-document stream (catalog files)."""
    text = _decode(data, max_bytes)
    loader = _BoundedLoader(text)
    docs = []
    try:
        while loader.check_node():
            node = loader.get_node()
            _check_expansion(node)
            docs.append(loader.construct_document(node))
    except YamlError:
        raise
    except yaml.YAMLError as exc:
        raise YamlError(_explain(exc)) from exc
    except RecursionError as exc:
        raise YamlError("YAML nested too deeply.") from exc
    finally:
        loader.dispose()
    return docs
