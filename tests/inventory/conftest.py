"""The APIs the inventory's view tests act on (personas and the org chart come from tests/conftest.py)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AbstractBaseUser

from inventory.models import Api, Environment
from tests.conftest import Org
from tests.factories import ApiFactory, EnvironmentFactory, UserFactory


@pytest.fixture
def api(org: Org) -> Api:
    """A bare draft of team's: a name and nothing else."""
    return ApiFactory(org_unit=org.team, slug="payments", name="Payments")


@pytest.fixture
def ready(org: Org) -> Api:
    """A draft of team's with everything submission requires."""
    return ApiFactory(org_unit=org.team, slug="ready", submittable=True)


@pytest.fixture
def env(api: Api) -> Environment:
    return EnvironmentFactory(api=api, name="production", base_urls=["https://pay.example.com"])


@pytest.fixture
def nobody(org: Org) -> AbstractBaseUser:
    """Logged in, but no role anywhere."""
    return UserFactory(username="nobody")
