"""Factories for tests. Org units go through the service so their materialized paths are real."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from portal import services
from portal.audit import Actor
from portal.models import OrgUnit

TEST_PASSWORD = "correct-horse-battery-9"
SYSTEM = Actor.system("tests")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password(TEST_PASSWORD)


def make_unit(
    slug: str, parent: OrgUnit | None = None, kind: str = OrgUnit.Kind.TEAM, name: str = ""
) -> OrgUnit:
    return services.org_unit_create(
        actor=SYSTEM, name=name or slug.replace("-", " ").title(), slug=slug, parent=parent, kind=kind
    )


def grant(user, unit: OrgUnit, role: str):  # noqa: ANN001, ANN201
    return services.membership_grant(actor=SYSTEM, user=user, org_unit=unit, role=role)
