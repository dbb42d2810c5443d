"""Regular expressions that come from uploads, run on RE2. Pure (no Django).

A pattern from user input never runs on Python's ``re``: its backtracking engine takes exponential
time on patterns such as ``^(a+)+$`` (a few hundred bytes stall a worker). RE2 matches in time linear
in the text, with bounded memory. What RE2 cannot compile (backreferences, lookaround, or a pattern
that needs more than ``MAX_MEM`` bytes) is not run at all: ``compile`` returns ``None`` and the caller
skips that check.

Compiling costs time linear in the pattern, and a 10 MB upload can hold millions of characters of
patterns. Inside ``with budget():`` (one per document) compiling stops once ``BUDGET_CHARS``
characters of patterns have been compiled; the patterns beyond it are skipped like those RE2
refuses. The programs compiled inside a budget are kept for its duration only: nothing is cached
between documents.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import re2  # type: ignore[import-untyped]  # google-re2 ships no type information

MAX_MEM = 8 * 1024 * 1024  # bytes of RE2 program per pattern; bigger patterns are skipped
BUDGET_CHARS = 500_000  # characters of patterns compiled per document (about half a second)
SYNTAX_FALLBACK_CHARS = 300  # longest pattern RE2 refuses whose syntax Python's parser judges
SYNTAX_FALLBACK_COST = 20  # Python's parser is about 20 times slower per character than RE2

_OPTIONS = re2.Options()
_OPTIONS.max_mem = MAX_MEM
_OPTIONS.log_errors = False  # a pattern RE2 refuses is expected input, not an error to log

_REFUSED = object()  # RE2 cannot compile it
_OVER_BUDGET = object()  # not compiled: the document's budget is spent


@dataclass
class _Budget:
    left: int
    programs: dict[str, Any] = field(default_factory=dict)


_current: ContextVar[_Budget | None] = ContextVar("user_regex_budget", default=None)


@contextmanager
def budget(chars: int = BUDGET_CHARS) -> Iterator[None]:
    """Bound the compiling done for one document, and keep its compiled programs until the end."""
    token = _current.set(_Budget(left=chars))
    try:
        yield
    finally:
        _current.reset(token)


def _charge(cost: int) -> bool:
    current = _current.get()
    if current is None:
        return True
    if cost > current.left:
        current.left = 0
        return False
    current.left -= cost
    return True


def _program(pattern: str) -> Any:
    current = _current.get()
    if current is not None and pattern in current.programs:
        return current.programs[pattern]
    if not _charge(len(pattern)):
        return _OVER_BUDGET
    try:
        program: Any = re2.compile(pattern, _OPTIONS)
    except (re2.error, TypeError, ValueError):
        program = _REFUSED
    if current is not None:
        current.programs[pattern] = program
    return program


def compile(pattern: str) -> Any:  # noqa: A001 - the module is used as ``user_regex.compile``
    """The RE2 program for ``pattern``, or ``None`` when it is not run (RE2 cannot, or the budget is
    spent): the caller skips the check."""
    if not isinstance(pattern, str):
        return None
    program = _program(pattern)
    return None if program is _REFUSED or program is _OVER_BUDGET else program


def search(pattern: str, text: str) -> bool | None:
    """Whether ``pattern`` matches somewhere in ``text`` (ECMA-262 ``pattern`` semantics: unanchored);
    ``None`` when the pattern is not run."""
    program = compile(pattern)
    if program is None:
        return None
    return program.search(text) is not None


def is_valid_syntax(pattern: str) -> bool:
    """Whether ``pattern`` is a well-formed regular expression (the ``regex`` format); ``True`` when
    it cannot be told cheaply (the check is skipped, as for a pattern that is not run).

    RE2 answers first. A pattern it refuses may still be valid (a lookahead); Python's parser then
    judges the syntax of short ones only: ``re.compile`` parses and compiles, it never matches
    anything, so no input can make it backtrack, but it is slow per character.
    """
    if not isinstance(pattern, str):
        return True  # the type is another keyword's business
    program = _program(pattern)
    if program is not _REFUSED:
        return True  # compiled, or not looked at
    if len(pattern) > SYNTAX_FALLBACK_CHARS or not _charge(len(pattern) * SYNTAX_FALLBACK_COST):
        return True
    try:
        re.compile(pattern)
    except (re.error, RecursionError, OverflowError, ValueError):
        return False
    return True
