"""Regular expressions that come from uploads, run on RE2. Pure (no Django).

A pattern from user input never runs on Python's ``re``: its backtracking engine takes exponential
time on patterns such as ``^(a+)+$`` (a few hundred bytes stall a worker). RE2 matches in time linear
in the text, with bounded memory. What RE2 cannot compile (backreferences, lookaround, or a pattern
that needs more than ``MAX_MEM`` bytes) is not run at all: ``compile`` returns ``None`` and the caller
skips that check.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import re2

MAX_MEM = 8 * 1024 * 1024  # bytes of RE2 program per pattern; bigger patterns are skipped
_CACHED_LENGTH = 1_000  # only short patterns are cached, so the cache never holds much of a document

_OPTIONS = re2.Options()
_OPTIONS.max_mem = MAX_MEM
_OPTIONS.log_errors = False  # a pattern RE2 refuses is expected input, not an error to log


def _compile(pattern: str) -> Any:
    try:
        return re2.compile(pattern, _OPTIONS)
    except (re2.error, TypeError, ValueError):
        return None


_compile_cached = lru_cache(maxsize=512)(_compile)


def compile(pattern: str) -> Any:  # noqa: A001 - the module is used as ``user_regex.compile``
    """The RE2 program for ``pattern``, or ``None`` when RE2 cannot run it (the check is skipped)."""
    if not isinstance(pattern, str):
        return None
    if len(pattern) <= _CACHED_LENGTH:
        return _compile_cached(pattern)
    return _compile(pattern)


def search(pattern: str, text: str) -> bool | None:
    """Whether ``pattern`` matches somewhere in ``text`` (ECMA-262 ``pattern`` semantics: unanchored);
    ``None`` when the pattern cannot run on RE2."""
    program = compile(pattern)
    if program is None:
        return None
    return program.search(text) is not None


def is_valid_syntax(pattern: str) -> bool:
    """Whether ``pattern`` is a well-formed regular expression (the ``regex`` format).

    RE2 answers first. A pattern it refuses may still be valid (a lookahead); Python's parser then
    judges the syntax only: ``re.compile`` parses and compiles, it never matches anything, so its
    cost is linear in the pattern and no input can make it backtrack.
    """
    if not isinstance(pattern, str):
        return True  # the type is another keyword's business
    if compile(pattern) is not None:
        return True
    try:
        re.compile(pattern)
    except (re.error, RecursionError, OverflowError, ValueError):
        return False
    return True
