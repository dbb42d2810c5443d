"""Match request paths against documented path templates, segment by segment. Pure: no Django, no regex.

Why not a regular expression: a template with adjacent parameters (``/{a}{b}{c}…x``) would compile
to ``[^/]+[^/]+[^/]+…x``, which Python's backtracking engine needs polynomial time to reject; and
templates are stored, so the slow match would be triggered later by anyone sending a request through
the gateway. Here nothing backtracks:

* paths are split on ``/``; a template matches only a path with the same number of segments;
* a segment without parameters is compared literally;
* a segment mixing literal text and parameters is matched by one left-to-right scan: the first
  literal must be a prefix, the last one a suffix, and each literal in between is found at its
  leftmost possible place (``str.find``), which is optimal because a parameter takes anything;
* a run of adjacent parameters with no literal between them is one wildcard that needs at least
  one character per parameter (exactly what ``[^/]+[^/]+`` accepted).

The cost of one match is linear in the length of the path plus the template.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["PathPattern", "SegmentPattern", "TemplateIndex", "split_parameters"]


def split_parameters(segment: str) -> tuple[list[str], list[int]] | None:
    """Literal pieces and parameter runs of one template segment, or None when it has no parameter.

    ``"{a}{b}.json"`` → ``(["", ".json"], [2])``: ``len(pieces) == len(runs) + 1``; a run counts the
    adjacent parameters it replaces. A parameter is ``{`` … ``}`` with no ``{`` inside (and no ``/``,
    which a segment never holds); any other brace is literal text.
    """
    pieces: list[str] = []
    runs: list[int] = []
    literal_start = 0  # start of the literal text not yet added to pieces
    pos = 0
    close = -1  # position of the next "}" at or after pos (-1: look it up)
    n = len(segment)
    while pos < n:
        opening = segment.find("{", pos)
        if opening == -1:
            break
        if close < opening + 1:  # only look again once we have passed the last "}" found
            close = segment.find("}", opening + 1)
            if close == -1:
                break  # no "}" after here: the rest is literal
        following = segment.find("{", opening + 1, close)
        if following != -1:  # "{x{y}": the first brace is literal; retry from the inner one
            pos = following
            continue
        literal = segment[literal_start:opening]
        if runs and not literal and literal_start == opening:
            runs[-1] += 1  # adjacent to the previous parameter: same wildcard
        else:
            pieces.append(literal)
            runs.append(1)
        pos = literal_start = close + 1
    if not runs:
        return None
    pieces.append(segment[literal_start:])
    return pieces, runs


@dataclass(frozen=True, slots=True)
class SegmentPattern:
    """One template segment with parameters: ``pieces[0] W pieces[1] W … pieces[-1]``, where the
    i-th wildcard W takes at least ``min_lengths[i]`` characters."""

    pieces: tuple[str, ...]
    min_lengths: tuple[int, ...]

    def matches(self, segment: str) -> bool:
        pieces, mins = self.pieces, self.min_lengths
        first, last = pieces[0], pieces[-1]
        if not segment.startswith(first):
            return False
        end = len(segment) - len(last)  # where the final literal must start
        if end < 0 or not segment.endswith(last):
            return False
        pos = len(first)
        for i in range(1, len(pieces) - 1):
            found = segment.find(pieces[i], pos + mins[i - 1], end)
            if found == -1 or found + len(pieces[i]) > end:
                return False
            pos = found + len(pieces[i])
        return end - pos >= mins[-1]


@dataclass(frozen=True, slots=True)
class PathPattern:
    """A template as a tuple of segments: a ``str`` is compared literally, a :class:`SegmentPattern`
    is scanned. Paths are ``/``-separated with no empty segment (``"/"`` has none)."""

    segments: tuple[str | SegmentPattern, ...]

    @classmethod
    def compile(
        cls,
        segments: list[str],
        *,
        literal_segment: Callable[[str], str],
        literal_piece: Callable[[str], str],
    ) -> PathPattern:
        """Build from template segments (already split on ``/``, empty ones removed).
        ``literal_segment`` canonicalises a segment without parameters and ``literal_piece`` the
        text around parameters, the way observed paths are canonicalised."""
        out: list[str | SegmentPattern] = []
        for segment in segments:
            split = split_parameters(segment)
            if split is None:
                out.append(literal_segment(segment))
            else:
                pieces, runs = split
                out.append(SegmentPattern(tuple(literal_piece(p) if p else "" for p in pieces), tuple(runs)))
        return cls(tuple(out))

    @property
    def has_parameters(self) -> bool:
        return any(isinstance(segment, SegmentPattern) for segment in self.segments)

    def _segment_matches(self, pattern: str | SegmentPattern, segment: str) -> bool:
        if isinstance(pattern, str):
            return pattern == segment
        return bool(segment) and pattern.matches(segment)

    def fullmatch(self, path: str) -> bool:
        """Does the whole path match? ``path`` starts with ``/``."""
        parts = path.split("/")
        if parts[0] != "":
            return False
        if path == "/":
            parts = [""]
        if len(parts) - 1 != len(self.segments):
            return False
        return all(self._segment_matches(p, s) for p, s in zip(self.segments, parts[1:], strict=True))

    def remainder(self, path: str) -> str | None:
        """The rest of ``path`` after this pattern matched its leading whole segments (``"/"`` when
        nothing is left), or None when the path does not start with it."""
        count = len(self.segments)
        parts = path.split("/", count + 1)
        if parts[0] != "" or len(parts) - 1 < count:
            return None
        if not all(
            self._segment_matches(p, s) for p, s in zip(self.segments, parts[1 : count + 1], strict=True)
        ):
            return None
        if len(parts) == count + 2:
            return "/" + parts[count + 1]
        return "/"


class _TrieNode:
    __slots__ = ("first", "literals", "parameters")

    def __init__(self) -> None:
        self.literals: dict[str, _TrieNode] = {}
        self.parameters: dict[SegmentPattern, _TrieNode] = {}
        self.first: tuple[int, object] | None = None  # (order, value) of the first template ending here


# An uploaded spec decides the templates and anyone sending traffic decides the paths, so both ends
# of a match are bounded: at most this many different parameter segments branch from one place of
# the trie (a real API has a handful: ``{id}``, ``{id}.json``…), and one path tries at most this
# many parameter segments in all (the walk may branch at every depth).
MAX_PARAMETER_BRANCHES = 64
MAX_TRIES_PER_PATH = 512


class TemplateIndex:
    """Templates indexed segment by segment, so that matching a path does not try every template.

    Literal segments are looked up in a dict; parameter segments are tried only where the templates
    that reach them branch. :meth:`first` returns the value of the first template added (lowest
    ``order``) that matches the path, exactly as trying the templates one by one in order would,
    within the bounds above: a template past ``MAX_PARAMETER_BRANCHES`` is not indexed, and a path
    that needs more than ``MAX_TRIES_PER_PATH`` tries gets the best match found until then (or none,
    and discovery reports it as undocumented: a finding to look at, never a stalled worker).
    """

    def __init__(self) -> None:
        self._root = _TrieNode()

    def add(self, pattern: PathPattern, order: int, value: object) -> bool:
        """Index ``pattern``; False when it would branch too widely (see ``MAX_PARAMETER_BRANCHES``)."""
        node = self._root
        for segment in pattern.segments:
            children: dict[Any, _TrieNode] = node.literals if isinstance(segment, str) else node.parameters
            child = children.get(segment)
            if child is None:
                if not isinstance(segment, str) and len(children) >= MAX_PARAMETER_BRANCHES:
                    return False
                child = children[segment] = _TrieNode()
            node = child
        if node.first is None or order < node.first[0]:
            node.first = (order, value)
        return True

    def first(self, path: str) -> tuple[int, object] | None:
        """(order, value) of the first template matching ``path`` (which starts with ``/``), or None."""
        parts = [] if path == "/" else path.split("/")[1:]
        best: tuple[int, object] | None = None
        stack = [(self._root, 0)]
        tries = 0
        while stack:
            node, depth = stack.pop()
            if depth == len(parts):
                if node.first is not None and (best is None or node.first[0] < best[0]):
                    best = node.first
                continue
            segment = parts[depth]
            literal = node.literals.get(segment)
            if literal is not None:
                stack.append((literal, depth + 1))
            if segment:
                for pattern, child in node.parameters.items():
                    tries += 1
                    if tries > MAX_TRIES_PER_PATH:
                        return best
                    if pattern.matches(segment):
                        stack.append((child, depth + 1))
        return best
