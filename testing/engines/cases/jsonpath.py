"""A small, safe JSONPath subset (pure: no Django import, no regex, no eval).

Accepted: ``$`` then any of ``.name``, ``['name']`` / ``["name"]``, ``[index]`` (negative counts
from the end) and ``[*]`` (every item of a list or value of an object). Nothing else: no filters,
no recursive descent, no slices, no scripts. ``compile_path`` raises ``PathError`` (with the column)
for anything outside the subset; ``JsonPath.find`` returns at most ``MAX_MATCHES`` values and does
bounded work whatever the document is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_PATH_CHARS = 256
MAX_SEGMENTS = 16
MAX_MATCHES = 1000

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
WILDCARD = object()


class PathError(ValueError):
    """Not a JSONPath of the supported subset."""


@dataclass(frozen=True)
class JsonPath:
    text: str
    segments: tuple[str | int | object, ...]  # a name, an index, or WILDCARD

    @property
    def singular(self) -> bool:
        """At most one value (no ``[*]``): ``find`` gives the value itself, not a list."""
        return WILDCARD not in self.segments

    def find(self, document: Any) -> list[Any]:
        """The values at this path, in document order, at most ``MAX_MATCHES``."""
        current = [document]
        for segment in self.segments:
            found: list[Any] = []
            for value in current:
                if segment is WILDCARD:
                    items = (
                        value.values()
                        if isinstance(value, dict)
                        else value
                        if isinstance(value, list)
                        else ()
                    )
                    for item in items:
                        found.append(item)
                        if len(found) >= MAX_MATCHES:
                            break
                elif isinstance(segment, str):
                    if isinstance(value, dict) and segment in value:
                        found.append(value[segment])
                elif (
                    isinstance(segment, int)
                    and isinstance(value, list)
                    and -len(value) <= segment < len(value)
                ):
                    found.append(value[segment])
                if len(found) >= MAX_MATCHES:
                    break
            current = found
            if not current:
                break
        return current

    def __str__(self) -> str:
        return self.text


def compile_path(text: str) -> JsonPath:
    """Parse ``text``; ``PathError`` names what is wrong and the column (1-based)."""
    if not isinstance(text, str):
        raise PathError("a JSONPath must be text")
    if len(text) > MAX_PATH_CHARS:
        raise PathError(f"a JSONPath longer than {MAX_PATH_CHARS} characters")
    if not text.startswith("$"):
        raise PathError("a JSONPath starts with $")
    segments: list[str | int | object] = []
    i, n = 1, len(text)
    while i < n:
        if len(segments) >= MAX_SEGMENTS:
            raise PathError(f"a JSONPath with more than {MAX_SEGMENTS} segments")
        char = text[i]
        if char == ".":
            j = i + 1
            while j < n and text[j] in _NAME_CHARS:
                j += 1
            if j == i + 1:
                if text[i + 1 : i + 2] == ".":
                    raise PathError(f"recursive descent (..) is not supported (column {i + 1})")
                raise PathError(f"expected a name after '.' (column {i + 2})")
            segments.append(text[i + 1 : j])
            i = j
        elif char == "[":
            quote = text[i + 1 : i + 2]
            if quote in ("'", '"'):
                end = text.find(quote, i + 2)
                if end < 0 or text[end + 1 : end + 2] != "]":
                    raise PathError(f"unterminated quoted name (column {i + 1})")
                name = text[i + 2 : end]
                if "\\" in name:
                    raise PathError(f"escapes inside a quoted name are not supported (column {i + 1})")
                segments.append(name)
                i = end + 2
                continue
            close = text.find("]", i)
            if close < 0:
                raise PathError(f"'[' without ']' (column {i + 1})")
            inner = text[i + 1 : close]
            digits = inner[1:] if inner.startswith("-") else inner
            if inner == "*":
                segments.append(WILDCARD)
            elif digits and digits.isascii() and digits.isdigit() and len(digits) <= 9:
                segments.append(int(inner))
            else:
                raise PathError(
                    f"only [index], [*] and ['name'] are supported, not [{inner[:20]}] (column {i + 1})"
                )
            i = close + 1
        else:
            raise PathError(f"unexpected {char!r} (column {i + 1}); use .name, ['name'], [index] or [*]")
    return JsonPath(text, tuple(segments))
