"""Factories for tests. Org units go through the service so their materialized paths are real."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from portal.audit import Actor
from portal.models import OrgUnit
from portal.services.org_chart import membership_grant, org_unit_create

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
    return org_unit_create(
        actor=SYSTEM, name=name or slug.replace("-", " ").title(), slug=slug, parent=parent, kind=kind
    )


def grant(user, unit: OrgUnit, role: str):  # noqa: ANN001, ANN201
    return membership_grant(actor=SYSTEM, user=user, org_unit=unit, role=role)


# What submission for review requires (see inventory.selectors.COMPLETENESS_PIECES).
SUBMITTABLE = {
    "description": "Takes payments.",
    "technical_contact_email": "team@example.com",
    "auth_schemes": ["oauth2"],
    "protocols": ["rest_https"],
}


def register_api(
    unit: OrgUnit, slug: str, name: str = "", *, actor: Actor = SYSTEM, submittable: bool = True, **fields
):  # noqa: ANN201
    """An API draft registered through the service; by default with everything submission needs."""
    from inventory.services import registration

    environments = fields.pop("environments", None)
    if submittable:
        fields = {**SUBMITTABLE, **fields}
        environments = environments or [{"name": "production", "base_urls": [f"https://{slug}.example.com"]}]
    return registration.api_create(
        actor=actor,
        org_unit=unit,
        slug=slug,
        name=name or slug.replace("-", " ").title(),
        environments=environments,
        **fields,
    )
