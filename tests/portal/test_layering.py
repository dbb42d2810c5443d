"""The layering rules the next app copies, checked on the source so a regression fails the suite.

- ``portal`` imports no app (apps register with it: home cards, capabilities);
- pure engines import no Django;
- every routed module (views, DRF views, account pages, the admin) neither opens a transaction nor
  writes through the ORM, and reads only through selectors: it calls a service or a selector;
- nothing imports another module's ``_private`` name, and nothing star-imports.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

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


@pytest.mark.parametrize(
    "folder", sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("*/engines") if p.is_dir())
)
def test_engines_import_no_django(folder):
    bad = [
        f"{_rel(p)}: {module}"
        for p in _modules(folder)
        for module, _names in _imports(p)
        if module.split(".")[0] in ("django", "rest_framework", "portal", *APPS)
        and not module.startswith(folder.replace("/", "."))
    ]
    assert not bad


def _routed_modules() -> list[Path]:
    """Every module of this project that a URL reaches: the views, DRF views and account pages that
    ``urls.py``/``api_urls.py`` of every app route to, and the ModelAdmins of every admin site they
    mount. Read from the resolver itself, so a new routed module is checked without editing this."""
    from django.contrib.admin.sites import all_sites
    from django.urls import URLPattern, URLResolver, get_resolver

    modules: set[str] = set()
    namespaces: set[str] = set()

    def walk(patterns: list[Any]) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if pattern.namespace:
                    namespaces.add(pattern.namespace)
                walk(pattern.url_patterns)
            elif isinstance(pattern, URLPattern):
                view = pattern.callback
                view = getattr(view, "view_class", None) or getattr(view, "cls", None) or view
                modules.add(view.__module__)

    walk(get_resolver().url_patterns)
    for site in all_sites:
        if site.name in namespaces:  # an admin site is routed when its namespace is mounted
            modules.add(type(site).__module__)
            modules |= {type(model_admin).__module__ for model_admin in site._registry.values()}
    paths = {ROOT / (name.replace(".", "/") + ".py") for name in modules}
    return sorted(p for p in paths if p.exists())


# Calls that write through the ORM (or open a transaction) when a view makes them.
WRITES = {
    "save",
    "delete",
    "create",
    "update",
    "bulk_create",
    "bulk_update",
    "get_or_create",
    "update_or_create",
    "atomic",
}

# Each entry: (module, the call as written). Only what is clearly not a model write, each with why.
WRITES_ALLOWED = {
    # Writes the QR code's SVG into an in-memory buffer: a PIL/qrcode image, not a model.
    ("portal/account.py", "img.save"),
}


def test_routing_reaches_the_modules_this_file_checks():
    """The discovery above must see the pages, the DRF views, the account pages and the admin,
    or the checks below would pass by looking at nothing."""
    routed = {_rel(p) for p in _routed_modules()}
    assert {
        "inventory/views.py",
        "inventory/api.py",
        "portal/views.py",
        "portal/api.py",
        "portal/account.py",
        "portal/admin.py",
    } <= routed


def _calls(path: Path) -> list[tuple[int, str, str]]:
    """(line, called attribute, the call's function as written) of every method call of ``path``."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            out.append((node.lineno, node.func.attr, ast.unparse(node.func)))
    return out


def _write_calls(path: Path) -> list[str]:
    rel = _rel(path)
    return [
        f"{rel}:{line} {func}"
        for line, attr, func in _calls(path)
        if (attr in WRITES or func == "audit.record") and (rel, func) not in WRITES_ALLOWED
    ]


def test_routed_modules_open_no_transaction_and_write_nothing_themselves():
    """A view, DRF view, account page or ModelAdmin parses, calls one service and renders: the
    service holds the write, its transaction and its audit event (``audit.record`` included)."""
    bad = [hit for path in _routed_modules() for hit in _write_calls(path)]
    assert not bad


def test_the_write_check_catches_a_write(tmp_path):
    # The check must find each kind of write, whoever the receiver is (a manager, a model, a queryset).
    sample = tmp_path / "views.py"
    sample.write_text(
        "def v(request, api):\n"
        "    api.save()\n"
        "    Api.objects.filter(pk=1).update(name='x')\n"
        "    with transaction.atomic():\n"
        "        api.windows.create(kind='one_off')\n"
        "    Tag.objects.get_or_create(name='x')\n"
    )
    found = {func for _line, attr, func in _calls(sample) if attr in WRITES}
    assert found == {
        "api.save",
        "Api.objects.filter(pk=1).update",
        "transaction.atomic",
        "api.windows.create",
        "Tag.objects.get_or_create",
    }


# Reads through a model manager in a routed module. Each entry: (module, why). Keep it short.
OBJECTS_ALLOWED: dict[str, str] = {}


def _manager_reads(path: Path) -> list[str]:
    return [
        f"{_rel(path)}:{node.lineno} {ast.unparse(node)}"
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Attribute) and node.attr == "objects"
    ]


def test_routed_modules_read_through_selectors():
    """Views read through selectors that take the user and return rows already scoped: no
    ``Model.objects`` in a view, so no view can forget the scope."""
    bad = [
        hit for path in _routed_modules() if _rel(path) not in OBJECTS_ALLOWED for hit in _manager_reads(path)
    ]
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
