"""The one clock and rule of the timed tests of hostile input (``tests/*/test_adversarial_*.py``).

Bounds are CPU seconds of this process (``time.process_time``), not wall time: a loaded CI machine
slows the clock, not the work an input costs. They are generous: the point is that nothing is
quadratic or worse, where a backtracking pattern or an O(n²) loop took minutes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest

BOUND = 3.0  # CPU seconds
T = TypeVar("T")


def timed(action: Callable[[], T], bound: float = BOUND) -> T:
    """``action()``, asserting it took less than ``bound`` CPU seconds."""
    started = time.process_time()
    result = action()
    elapsed = time.process_time() - started
    assert elapsed < bound, f"took {elapsed:.2f}s of CPU (bound {bound}s)"
    return result


def timed_error(error: type[Exception], action: Callable[[], object], bound: float = BOUND) -> Exception:
    """The ``error`` that ``action()`` raises, asserting it took less than ``bound`` CPU seconds."""
    started = time.process_time()
    with pytest.raises(error) as caught:
        action()
    elapsed = time.process_time() - started
    assert elapsed < bound, f"took {elapsed:.2f}s of CPU (bound {bound}s)"
    return caught.value
