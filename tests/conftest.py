"""Personas and the org chart every test can lean on.

The tree (the matrix tests rely on its shape):

    root (company)
    ├── division (division)           ← "parent" of dept
    │   └── dept (department)         ← "parent unit" of team
    │       ├── team   (team)         ← "own unit"
    │       └── sibling (team)        ← "sibling unit"
    └── other-division (division)
        └── other-team (team)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.access import PRIVILEGED_ROLES
from portal.models import OrgUnit, Role
from tests.factories import TEST_PASSWORD, TOTPDeviceFactory, UserFactory, grant, make_unit

if TYPE_CHECKING:
    from pytest_django.fixtures import Settings  # the `settings` fixture's type


@dataclass
class Org:
    root: OrgUnit
    division: OrgUnit
    dept: OrgUnit
    team: OrgUnit
    sibling: OrgUnit
    other_division: OrgUnit
    other_team: OrgUnit


# login(user) → a test Client; make_member(role, unit, username=None) → a user holding that role.
Login = Callable[[User], Client]
MakeMember = Callable[..., User]

FAST_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):  # noqa: ANN001, ANN201
    """Django empties test databases between transactional tests with TRUNCATE, which the audit
    tables refuse on PostgreSQL (portal migration 0006). Switch that trigger off in the test
    database only; tests/portal/test_audit_keyed.py switches it back on to prove it works."""
    from django.db import connection

    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ALTER TABLE portal_auditevent DISABLE TRIGGER portal_auditevent_no_truncate")
                cursor.execute(
                    "ALTER TABLE portal_auditchainhead DISABLE TRIGGER portal_auditchainhead_no_truncate"
                )


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Settings, request: pytest.FixtureRequest) -> None:
    """Argon2 costs ~100 ms a hash by design; tests create hundreds of users. Tests that are about
    hashing itself opt out with @pytest.mark.real_hashing."""
    if "real_hashing" not in request.keywords:
        settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Throttle counters live in the cache: one test's calls must not spend the next test's budget."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _tasks_run_inline(request):  # noqa: ANN001, ANN202
    """Tasks enqueued during a test (a notification sent after a commit) run in the test's process
    instead of landing in the developer's broker folder. Tests that start a real worker (``slow``)
    need the broker and keep it."""
    if "slow" in request.keywords:
        yield
        return
    from portal.celery import app

    previous, app.conf.task_always_eager = app.conf.task_always_eager, True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def org(db: None) -> Org:
    root = make_unit("root", None, OrgUnit.Kind.COMPANY)
    division = make_unit("division", root, OrgUnit.Kind.DIVISION)
    dept = make_unit("dept", division, OrgUnit.Kind.DEPARTMENT)
    team = make_unit("team", dept, OrgUnit.Kind.TEAM)
    sibling = make_unit("sibling", dept, OrgUnit.Kind.TEAM)
    other_division = make_unit("other-division", root, OrgUnit.Kind.DIVISION)
    other_team = make_unit("other-team", other_division, OrgUnit.Kind.TEAM)
    return Org(root, division, dept, team, sibling, other_division, other_team)


def verified_login(client: Client, user: User) -> Client:
    """Log in through the session and, for users who need it, mark the second factor as proved."""
    client.force_login(user)
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None and any(m.role in PRIVILEGED_ROLES for m in user.memberships.all()):
        device = TOTPDeviceFactory(user=user, name="test")
    if device is not None:
        session = client.session
        session["otp_device_id"] = device.persistent_id
        session.save()
    return client


@pytest.fixture
def make_member(db: None) -> MakeMember:
    """make_member(role, unit, username=None) → a user holding ``role`` on ``unit``."""

    def _make(role: str, unit: OrgUnit, username: str | None = None) -> User:
        user = UserFactory(username=username or f"{role}-{unit.slug}")
        grant(user, unit, role)
        return user

    return _make


@pytest.fixture
def login() -> Login:
    """login(user) → a test Client logged in as user, second factor proved where needed."""

    def _login(user: User) -> Client:
        return verified_login(Client(), user)

    return _login


# Fixed personas (healthchecks style): alice is a developer on team, bob a viewer on team,
# charlie a developer on the sibling team (an outsider to team's objects), ciso on the root.
@pytest.fixture
def alice(org: Org, make_member: MakeMember) -> User:
    return make_member(Role.DEVELOPER, org.team, "alice")


@pytest.fixture
def bob(org: Org, make_member: MakeMember) -> User:
    return make_member(Role.VIEWER, org.team, "bob")


@pytest.fixture
def charlie(org: Org, make_member: MakeMember) -> User:
    return make_member(Role.DEVELOPER, org.sibling, "charlie")


@pytest.fixture
def ciso(org: Org, make_member: MakeMember) -> User:
    return make_member(Role.CISO, org.root, "carla")


__all__ = ["TEST_PASSWORD"]
