"""The authorization matrix's registry: every named URL of the site, what it needs, how to reach it.

``tests/portal/test_authorization_matrix.py`` walks the URL configuration and fails for a URL that
has no entry here (and for an entry whose URL is gone), then requests every entry as every role
(held on ``team``) against a target object in ``team`` (own), ``sibling`` and ``dept`` (parent), as a
user with no membership and anonymously. The expected answer of each cell is derived from
``ROLE_CAPABILITIES``, never written by hand.

Adding your app's URLs: create ``tests/<app>/matrix.py`` and call ``register(Entry(...))`` (and
``register_admin(Model, ...)`` for models you add to the portal admin). Every ``tests/*/matrix.py``
is imported by ``load_entries()``. An entry says:

- ``needs``: a capability (``Cap.X``), or ``PUBLIC`` (anyone), ``SIGNED_IN`` (any signed-in user,
  nothing scoped) or ``OWN_ACCOUNT`` (the caller's own things; someone else's object is a 404);
- ``methods``: GET for pages, POST for mutating endpoints (with ``data`` building a minimal valid body);
- ``target(world, unit)`` for URLs naming one object: build that object so it lives in ``unit``
  (``url_kwargs(obj)`` turns it into URL kwargs; ``{"pk": obj.pk}`` by default);
- ``listing(world, unit)`` for list URLs: seed one object living in ``unit`` and return a text that
  shows it on the page/JSON (a slug, a username). The matrix seeds one in every unit of the tree and
  asserts that exactly those inside the caller's scope appear, so a leak shows.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db.models import Model
from django.urls import URLPattern, URLResolver, get_resolver

from portal.access import ROLE_CAPABILITIES, Cap
from portal.models import OrgUnit, Role
from portal.permissions import OWN_ACCOUNT
from tests.conftest import Org
from tests.factories import UserFactory, grant, make_unit

PUBLIC = "public"
SIGNED_IN = "signed-in"
__all__ = ["OWN_ACCOUNT", "PUBLIC", "SIGNED_IN", "Entry", "World", "register", "register_admin"]

# Where the target object lives, seen from a user holding a role on ``team``.
OWN, SIBLING, PARENT, NO_MEMBERSHIP, ANONYMOUS = "own", "sibling", "parent", "no-membership", "anonymous"
ROLES: tuple[str, ...] = tuple(Role.values)
SCOPED = (OWN, SIBLING, PARENT)


# --- The world each cell runs in ----------------------------------------------------------------------

# Slugs nothing else on a page contains, so "this text is (not) in the response" is a sound check.
# Names deliberately do not contain the slugs (the admin shows a unit's parent by name).
TREE = (
    ("root", "mx-root", "Acme Corp", None, OrgUnit.Kind.COMPANY),
    ("division", "mx-division", "Payments", "root", OrgUnit.Kind.DIVISION),
    ("dept", "mx-dept", "Cards", "division", OrgUnit.Kind.DEPARTMENT),
    ("team", "mx-team", "Card Issuing", "dept", OrgUnit.Kind.TEAM),
    ("sibling", "mx-sibling", "Card Disputes", "dept", OrgUnit.Kind.TEAM),
    ("other_division", "mx-other-division", "Logistics", "root", OrgUnit.Kind.DIVISION),
    ("other_team", "mx-other-team", "Fleet", "other_division", OrgUnit.Kind.TEAM),
)


def build_org() -> Org:
    """The conftest tree's shape, with slugs distinctive enough to search responses for."""
    units: dict[str, OrgUnit] = {}
    for attr, slug, name, parent, kind in TREE:
        units[attr] = make_unit(slug, units[parent] if parent else None, kind, name=name)
    return Org(**units)


def make_user(username: str) -> Any:
    # No password: the matrix logs in with force_login, and hashing with argon2 per cell is slow.
    return UserFactory(username=username, password=None)


@dataclass
class World:
    """One cell's data: the tree, the acting user (None when anonymous) and the unit they hold a role on."""

    org: Org
    user: Any = None
    home: OrgUnit | None = None
    _members: dict[int, Any] = field(default_factory=dict)

    @property
    def units(self) -> list[OrgUnit]:
        o = self.org
        return [o.root, o.division, o.dept, o.team, o.sibling, o.other_division, o.other_team]

    def member_of(self, unit: OrgUnit) -> Any:
        """Someone (not the actor) holding a viewer role on ``unit``."""
        if unit.pk not in self._members:
            user = make_user(f"member-of-{unit.slug}")
            grant(user, unit, Role.VIEWER)
            self._members[unit.pk] = user
        return self._members[unit.pk]

    def owner_in(self, unit: OrgUnit) -> Any:
        """Owner of a personal object "living in" ``unit``: the actor for their own unit, else a member."""
        if self.user is not None and self.home is not None and unit.pk == self.home.pk:
            return self.user
        return self.member_of(unit)


def unit_for(org: Org, scope: str) -> OrgUnit:
    return {SIBLING: org.sibling, PARENT: org.dept}.get(scope, org.team)


# --- Entries --------------------------------------------------------------------------------------------


def pk_kwargs(obj: Any) -> dict[str, Any]:
    return {"pk": obj.pk}


@dataclass(frozen=True)
class Entry:
    name: str
    needs: str
    methods: tuple[str, ...] = ("GET",)
    target: Callable[[World, OrgUnit], Any] | None = None
    listing: Callable[[World, OrgUnit], str] | None = None
    url_kwargs: Callable[[Any], dict[str, Any]] | None = None
    data: Callable[[World, Any], dict[str, Any]] | None = None
    # A capability checked before anything else, whatever the object (the admin site's org.manage).
    gate: str | None = None
    # The capability must reach the whole company (portal.access.require_company_wide). Matrix roles
    # are held on ``team``, so such an entry is refused to every role; the allowed path is tested
    # with the security team on the root in the app's own tests.
    company_wide: bool = False
    label: str = ""

    def __post_init__(self) -> None:
        known = {PUBLIC, SIGNED_IN, OWN_ACCOUNT} | set().union(*ROLE_CAPABILITIES.values())
        for cap in (self.needs, self.gate):
            if cap is not None and cap not in known:
                raise ValueError(f"{self.name}: unknown capability {cap!r}")
        if self.target is not None and self.listing is not None:
            raise ValueError(f"{self.name}: an entry names one object or lists many, not both")
        if self.needs in (PUBLIC, SIGNED_IN) and (self.target or self.listing):
            raise ValueError(f"{self.name}: objects need a capability or OWN_ACCOUNT to be scoped by")

    @property
    def id(self) -> str:
        return self.label or self.name

    def kwargs_for(self, obj: Any) -> dict[str, Any]:
        if self.url_kwargs is not None:
            return self.url_kwargs(obj)
        return pk_kwargs(obj) if self.target is not None else {}


REGISTRY: dict[str, Entry] = {}


def register(*entries: Entry) -> None:
    for entry in entries:
        # Keyed by id: one URL may have several entries (say GET needs view, PUT needs submit),
        # each with its own ``label``.
        if entry.id in REGISTRY:
            raise ValueError(f"{entry.id} is registered twice; give the second entry a label")
        REGISTRY[entry.id] = entry


# --- The admin, by rule -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AdminModel:
    """How the matrix exercises one model of the portal admin: its changelist and some object pages."""

    changelist: str  # capability needed to see the changelist (and whose scope it lists)
    pages: dict[str, str]  # object page ("change", "history", "delete") → capability it needs
    target: Callable[[World, OrgUnit], Any]
    listing: Callable[[World, OrgUnit], str]


ADMIN_MODELS: dict[type[Model], AdminModel] = {}
# Site-wide admin URLs. All sit behind the site gate; the matrix requests the index and app lists.
ADMIN_SITE_URLS = frozenset(
    {
        "index",
        "login",
        "logout",
        "password_change",
        "password_change_done",
        "autocomplete",
        "jsi18n",
        "view_on_site",
        "app_list",
    }
)
ADMIN_MODEL_PAGES = ("changelist", "add", "change", "delete", "history")


def register_admin(
    model: type[Model],
    *,
    changelist: str,
    pages: dict[str, str],
    target: Callable[[World, OrgUnit], Any],
    listing: Callable[[World, OrgUnit], str],
) -> None:
    if model in ADMIN_MODELS:
        raise ValueError(f"{model.__name__} is registered twice")
    ADMIN_MODELS[model] = AdminModel(changelist, pages, target, listing)


def admin_site() -> Any:
    from portal.admin import portal_admin_site

    return portal_admin_site


def admin_url_names() -> set[str]:
    """Every admin URL name the rule accounts for: site URLs plus each registered model's pages."""
    names = {f"admin:{n}" for n in ADMIN_SITE_URLS}
    for model in admin_site()._registry:
        meta = model._meta
        names |= {f"admin:{meta.app_label}_{meta.model_name}_{page}" for page in ADMIN_MODEL_PAGES}
    return names


def admin_entries() -> list[Entry]:
    gate = Cap.ORG_MANAGE
    entries = [Entry("admin:index", gate, gate=gate)]
    for app_label in sorted({m._meta.app_label for m in admin_site()._registry}):
        entries.append(
            Entry(
                "admin:app_list",
                gate,
                gate=gate,
                url_kwargs=lambda _obj, app_label=app_label: {"app_label": app_label},
                label=f"admin:app_list[{app_label}]",
            )
        )
    for model, spec in sorted(ADMIN_MODELS.items(), key=lambda kv: kv[0]._meta.label):
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        entries.append(Entry(f"{prefix}_changelist", spec.changelist, gate=gate, listing=spec.listing))
        for page, needs in spec.pages.items():
            entries.append(
                Entry(
                    f"{prefix}_{page}",
                    needs,
                    gate=gate,
                    target=spec.target,
                    url_kwargs=lambda obj: {"object_id": obj.pk},
                )
            )
    return entries


# --- Collecting entries and URLs ----------------------------------------------------------------------------

TESTS_DIR = Path(__file__).resolve().parent


def load_entries() -> list[Entry]:
    """Import every ``tests/<app>/matrix.py`` (each registers its entries), then add the admin rule."""
    for path in sorted(TESTS_DIR.glob("*/matrix.py")):
        importlib.import_module(f"tests.{path.parent.name}.matrix")
    return [*REGISTRY.values(), *admin_entries()]


@dataclass(frozen=True)
class Route:
    name: str | None  # namespaced, e.g. "api:org-unit-list"; None for an unnamed pattern
    route: str


def walk_urls(
    resolver: URLResolver | None = None, namespace: tuple[str, ...] = (), prefix: str = ""
) -> Iterator[Route]:
    """Every URL pattern reachable from the root URLconf, with its namespaced name."""
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            ns = (*namespace, pattern.namespace) if pattern.namespace else namespace
            yield from walk_urls(pattern, ns, route)
        elif isinstance(pattern, URLPattern):
            name = ":".join((*namespace, pattern.name)) if pattern.name else None
            yield Route(name, route)


# The admin adds a few unnamed patterns of its own (a redirect to the change page, a catch-all).
ADMIN_UNNAMED = re.compile(r"^admin/")


# --- Expectations -----------------------------------------------------------------------------------------------

OK, FORBIDDEN, NOT_FOUND, LOGIN = "ok", "403", "404", "login"


def capabilities(role: str | None) -> frozenset[str]:
    return ROLE_CAPABILITIES[role] if role else frozenset()


def in_subtree(unit: OrgUnit, home: OrgUnit | None) -> bool:
    return home is not None and unit.path.startswith(home.path)


def expected(entry: Entry, role: str | None, scope: str, org: Org) -> str:
    """The answer ROLE_CAPABILITIES implies for one cell (the role, when any, is held on ``team``)."""
    if entry.needs == PUBLIC:
        return OK
    if scope == ANONYMOUS:
        return LOGIN
    caps = capabilities(role)
    home = org.team if role else None
    if entry.gate is not None and entry.gate not in caps:
        return FORBIDDEN
    unit = unit_for(org, scope)
    if entry.needs in (SIGNED_IN, OWN_ACCOUNT):
        if entry.target is not None:
            # Someone else's token, say: simply not found.
            return OK if home is not None and unit.pk == home.pk else NOT_FOUND
        return OK
    if entry.target is None:
        return OK if entry.needs in caps and not entry.company_wide else FORBIDDEN
    if not in_subtree(unit, home):
        return NOT_FOUND
    return OK if entry.needs in caps else FORBIDDEN


def listed(entry: Entry, role: str | None, unit: OrgUnit, org: Org) -> bool:
    """Whether the object seeded in ``unit`` must appear in ``entry``'s list for this role."""
    home = org.team if role else None
    if entry.needs == OWN_ACCOUNT:
        return home is not None and unit.pk == home.pk
    return entry.needs in capabilities(role) and in_subtree(unit, home)
