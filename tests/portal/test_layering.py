"""The layering rules the next app copies, checked on the source so a regression fails the suite.

- ``portal`` imports no app (apps register with it: home cards, capabilities);
- pure engines import no Django;
- views and DRF views neither open transactions nor write through the ORM: they call a service;
- nothing imports another module's ``_private`` name, and nothing star-imports.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ("inventory", "testing", "incidents")


def _modules(folder: str) -> list[Path]:
    return sorted(p for p in (ROOT / folder).rglob("*.py") if "migrations" not in p.parts)


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, imported names) for every import statement of ``path``."""
    out: list[tuple[str, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.append((node.module, [alias.name for alias in node.names]))
    return out


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_portal_imports_no_app():
    bad = [
        f"{_rel(p)}: {module}"
        for p in _modules("portal")
        for module, _names in _imports(p)
        if module.split(".")[0] in APPS
    ]
    assert not bad


@pytest.mark.parametrize("folder", ["inventory/engines", "portal/engines"])
def test_engines_import_no_django(folder):
    bad = [
        f"{_rel(p)}: {module}"
        for p in _modules(folder)
        for module, _names in _imports(p)
        if module.split(".")[0] in ("django", "rest_framework", "portal", *APPS)
        and not module.startswith(folder.replace("/", "."))
    ]
    assert not bad


WRITES = {
    "save",
    "delete",
    "update",
    "create",
    "bulk_create",
    "bulk_update",
    "get_or_create",
    "update_or_create",
}


@pytest.mark.parametrize("name", ["views.py", "api.py"])
def test_views_open_no_transaction_and_write_nothing_themselves(name):
    bad = []
    for path in [*ROOT.glob(f"*/{name}")]:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr == "atomic":
                bad.append(f"{_rel(path)}:{node.lineno} transaction.atomic")
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in WRITES
                and "objects" in ast.unparse(node.func.value)
            ):
                bad.append(f"{_rel(path)}:{node.lineno} {ast.unparse(node.func)}")
    assert not bad


def test_no_private_imports_across_modules_and_no_star_imports():
    bad = []
    for folder in ("portal", *APPS):
        if not (ROOT / folder).exists():
            continue
        for path in _modules(folder):
            for module, names in _imports(path):
                if "*" in names:
                    bad.append(f"{_rel(path)}: from {module} import *")
                own = module.split(".")[0] in ("portal", *APPS)
                bad += [f"{_rel(path)}: {module}.{n}" for n in names if own and n.startswith("_")]
    assert not bad
