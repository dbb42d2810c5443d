"""The checks a test plan runs (pure engine: no Django import).

``base`` says what a check is; ``runner`` runs a set of them against one target. Every other module
in this package holds checks and registers them on import; ``all_checks()`` imports them all, so a
new check is one new module here and nothing else.
"""

from __future__ import annotations

import importlib
import pkgutil

from testing.engines.checks.base import REGISTRY, Check

_INFRASTRUCTURE = {"base", "runner"}


def all_checks() -> dict[str, type[Check]]:
    """Every registered check by key, in the order their modules define them (imported once)."""
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
        if module not in _INFRASTRUCTURE and not module.startswith("_"):
            importlib.import_module(f"{__name__}.{module}")
    return dict(REGISTRY)
