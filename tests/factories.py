"""Factories for every model of the project, and for the user and TOTP device the personas lean on.

Most of our models keep invariants through their services: an org unit's materialized path, an API's
summary columns (completeness, missing, has_spec, component_count), a spec's operations and response
codes, the audit hash chain (and its ``AuditChainHead``, which only ``audit.record`` writes, so it has
no factory of its own). Their factories call the service in ``_create`` instead of inserting rows, so
a test holds exactly what the application would have made. Each takes an ``actor`` (by default the
``tests`` system actor, which passes every permission check); give ``actor=Actor(user=alice)`` to
build as a person and have the service check that person's rights.

Service-backed factories have no unsaved form: use ``create`` (the default call), not ``build``.
A few models have no service to go through (``DiscoveredEndpoint``, which only a log ingest creates,
the heartbeat, the two-factor devices); their factories are plain model factories.

Shorthands kept for the many tests that read better with them: ``make_unit`` (an org unit),
``grant`` (a membership) and ``register_api`` (a draft with everything submission requires).
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import UTC, datetime, time
from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from inventory.models import (
    Api,
    ApiDependency,
    AvailabilityWindow,
    Component,
    ConsumerService,
    DiscoveredEndpoint,
    Environment,
    LogIngest,
    Operation,
    PerformanceBaseline,
    ResponseCode,
    SbomImport,
    Server,
    Spec,
)
from inventory.services import (
    components,
    consumers,
    discovered,
    environments,
    registration,
    review,
    specs,
    windows,
)
from portal import audit
from portal.audit import Actor
from portal.models import (
    ApiToken,
    AuditEvent,
    Heartbeat,
    Membership,
    Notification,
    OrgUnit,
    RecoveryCodeDevice,
    Role,
)
from portal.services.org_chart import membership_grant, org_unit_create
from portal.services.tokens import api_token_create
from tests.data import data_file

TEST_PASSWORD = "correct-horse-battery-9"
SYSTEM = Actor.system("tests")


class ServiceFactory(factory.django.DjangoModelFactory):
    """Objects made by a service function (``_create``), never by a bare INSERT."""

    class Meta:
        abstract = True
        skip_postgeneration_save = True

    actor = SYSTEM

    @classmethod
    def _build(cls, model_class: type, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{cls.__name__} creates through a service; call it, do not build it")


# --- Portal ---------------------------------------------------------------------------------------------


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password(TEST_PASSWORD)


class OrgUnitFactory(ServiceFactory):
    class Meta:
        model = OrgUnit

    slug = factory.Sequence(lambda n: f"unit-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())
    kind = OrgUnit.Kind.TEAM
    parent = None

    @classmethod
    def _create(cls, model_class: type, *, actor: Actor, **fields: Any) -> OrgUnit:
        return org_unit_create(actor=actor, **fields)


class MembershipFactory(ServiceFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    org_unit = factory.SubFactory(OrgUnitFactory)
    role = Role.VIEWER

    @classmethod
    def _create(cls, model_class: type, *, actor: Actor, **fields: Any) -> Membership:
        return membership_grant(actor=actor, **fields)


class ApiTokenFactory(ServiceFactory):
    """A personal token. The instance also carries its one-time ``secret`` (never stored) as an attribute."""

    class Meta:
        model = ApiToken

    user = factory.SubFactory(UserFactory)
    name = "ci"
    days = None  # the service's default lifetime
    second_factor = False  # whether the issuing session had proved TOTP

    @classmethod
    def _create(cls, model_class: type, *, actor: Actor, **fields: Any) -> ApiToken:
        issued = api_token_create(actor=actor, **fields)
        issued.token.secret = issued.secret
        return issued.token


class AuditEventFactory(ServiceFactory):
    """An event appended to the hash chain. Give ``obj`` to describe a model instance, as services do."""

    class Meta:
        model = AuditEvent

    action = "test.event"
    obj = None
    object_type = factory.Maybe("obj", yes_declaration="", no_declaration="test")
    object_id = factory.Maybe("obj", yes_declaration="", no_declaration=factory.Sequence(str))
    org_unit = None
    before = None
    after = None

    @classmethod
    def _create(cls, model_class: type, *, actor: Actor, **fields: Any) -> AuditEvent:
        return audit.record(actor=actor, **fields)


class HeartbeatFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Heartbeat

    name = "worker"
    seen_at = factory.LazyFunction(timezone.now)


class TOTPDeviceFactory(factory.django.DjangoModelFactory):
    """A confirmed authenticator app (django-otp's model; its key is random)."""

    class Meta:
        model = TOTPDevice

    user = factory.SubFactory(UserFactory)
    name = "authenticator"
    confirmed = True


class RecoveryCodeDeviceFactory(factory.django.DjangoModelFactory):
    """Recovery codes as enrolment leaves them: only salted hashes stored. ``codes`` are the clear codes."""

    class Meta:
        model = RecoveryCodeDevice

    class Params:
        codes = ("aaaaa-bbbbb-ccccc-ddddd",)

    user = factory.SubFactory(UserFactory)
    name = "recovery"
    confirmed = True
    salt = factory.LazyFunction(lambda: secrets.token_hex(16))
    code_hashes = factory.LazyAttribute(
        lambda o: [RecoveryCodeDevice(salt=o.salt).hash_code(c) for c in o.codes]
    )


# --- Inventory ------------------------------------------------------------------------------------------

# What submission for review requires (see inventory.selectors.COMPLETENESS_PIECES).
SUBMITTABLE = {
    "description": "Takes payments.",
    "technical_contact_email": "team@example.com",
    "auth_schemes": ["oauth2"],
    "protocols": ["rest_https"],
}


class ApiFactory(ServiceFactory):
    """A draft registered through the service.

    ``submittable=True`` adds everything submission requires (a description, a contact, auth schemes,
    protocols, a production environment); ``approved=True`` then submits and approves it.
    """

    class Meta:
        model = Api

    class Params:
        submittable = factory.Trait(
            description=SUBMITTABLE["description"],
            technical_contact_email=SUBMITTABLE["technical_contact_email"],
            auth_schemes=factory.LazyFunction(lambda: list(SUBMITTABLE["auth_schemes"])),
            protocols=factory.LazyFunction(lambda: list(SUBMITTABLE["protocols"])),
            environments=factory.LazyAttribute(
                lambda o: [{"name": "production", "base_urls": [f"https://{o.slug}.example.com"]}]
            ),
        )

    org_unit = factory.SubFactory(OrgUnitFactory)
    slug = factory.Sequence(lambda n: f"api-{n}")
    # The slug, title-cased with its hyphens ("ledger-secret" → "Ledger-Secret"): tests that look for a
    # leaked name search for both spellings.
    name = factory.LazyAttribute(lambda o: o.slug.title())

    @classmethod
    def _create(cls, model_class: type, *, actor: Actor, **fields: Any) -> Api:
        return registration.api_create(actor=actor, **fields)

    @factory.post_generation
    def approved(api: Api, create: bool, extracted: bool | None, **kwargs: Any) -> None:
        if create and extracted:
            review.api_submit(actor=SYSTEM, api=api)
            review.api_approve(actor=SYSTEM, api=api)
            api.refresh_from_db()


class EnvironmentFactory(ServiceFactory):
    class Meta:
        model = Environment

    api = factory.SubFactory(ApiFactory)
    name = "production"
    base_urls = factory.LazyAttribute(lambda o: [f"https://{o.name}.{o.api.slug}.example.com"])
    is_production = False

    @classmethod
    def _create(cls, model_class: type, *, actor: Actor, **fields: Any) -> Environment:
        return environments.environment_save(actor=actor, **fields)


class ServerFactory(ServiceFactory):
    class Meta:
        model = Server

    org_unit = factory.SubFactory(OrgUnitFactory)
    hostname = factory.Sequence(lambda n: f"host-{n}.example.com")
    environment = ""
    addresses = factory.LazyFunction(list)
    location = ""
    operating_system = ""

    @classmethod
    def _create(cls, model_class: type, *, actor: Actor, **fields: Any) -> Server:
        return environments.server_save(actor=actor, **fields)


class PerformanceBaselineFactory(ServiceFactory):
    class Meta:
        model = PerformanceBaseline

    environment = factory.SubFactory(EnvironmentFactory)
    p50_ms = 20
    p95_ms = 80
    p99_ms = 200
    requests_per_second = "150"
    error_rate_percent = "0.1"

    @classmethod
    def _create(cls, model_class: type, *, actor: Actor, **fields: Any) -> PerformanceBaseline:
        return environments.baseline_save(actor=actor, **fields)


class AvailabilityWindowFactory(ServiceFactory):
    """By default a recurring window, Sundays 01:00–02:00 UTC; ``one_off=True`` for a dated one."""

    class Meta:
        model = AvailabilityWindow

    class Params:
        one_off = factory.Trait(
            kind=AvailabilityWindow.Kind.ONE_OFF,
            starts_at=datetime(2030, 1, 6, 1, 0, tzinfo=UTC),
            ends_at=datetime(2030, 1, 6, 2, 0, tzinfo=UTC),
        )

    api = factory.SubFactory(ApiFactory)
    environment = None
    kind = AvailabilityWindow.Kind.RECURRING
    description = ""
    timezone = "UTC"
    weekdays = factory.LazyFunction(lambda: [6])
    start_time = time(1, 0)
    end_time = time(2, 0)
    starts_at = None
    ends_at = None

    @classmethod
    def _create(cls, model_class: type, *, actor: Actor, timezone: str, **fields: Any) -> AvailabilityWindow:
        return windows.window_add(actor=actor, tz=timezone, **fields)


class ComponentFactory(ServiceFactory):
    """A component declared by hand (source "declared"); uploaded ones come with ``SbomImportFactory``."""

    class Meta:
        model = Component

    api = factory.SubFactory(ApiFactory)
    ecosystem = "pypi"
    name = factory.Sequence(lambda n: f"package-{n}")
    version = "1.0"
    kind = Component.Kind.LIBRARY

    @classmethod
    def _create(cls, model_class: type, *, actor: Actor, **fields: Any) -> Component:
        return components.component_declare(actor=actor, **fields)


class SbomImportFactory(ServiceFactory):
    """An uploaded SBOM or lockfile (``data``), replacing the API's uploaded components."""

    class Meta:
        model = SbomImport

    api = factory.SubFactory(ApiFactory)
    data = factory.LazyFunction(lambda: data_file("lockfiles/requirements.txt"))
    filename = "requirements.txt"
    format = None  # detected from the file

    @classmethod
    def _create(cls, model_class: type, *, actor: Actor, **fields: Any) -> SbomImport:
        return components.components_replace(actor=actor, **fields).sbom_import


class ConsumerServiceFactory(ServiceFactory):
    class Meta:
        model = ConsumerService

    owner = factory.SubFactory(OrgUnitFactory)
    name = factory.Sequence(lambda n: f"Consumer {n}")
    contact_email = ""

    @classmethod
    def _create(cls, model_class: type, *, actor: Actor, **fields: Any) -> ConsumerService:
        return consumers.consumer_service_save(actor=actor, **fields)


class ApiDependencyFactory(ServiceFactory):
    """``api`` is relied on by ``consumer_api`` or, by default, by a consumer service of the API's unit."""

    class Meta:
        model = ApiDependency

    api = factory.SubFactory(ApiFactory)
    consumer_api = None
    consumer_service = factory.Maybe(
        "consumer_api",
        yes_declaration=None,
        no_declaration=factory.SubFactory(
            ConsumerServiceFactory, owner=factory.SelfAttribute("..api.org_unit")
        ),
    )
    note = ""

    @classmethod
    def _create(cls, model_class: type, *, actor: Actor, **fields: Any) -> ApiDependency:
        return consumers.dependency_add(actor=actor, **fields)


class SpecFactory(ServiceFactory):
    """An uploaded OpenAPI document (``data``), stored as the API's next version."""

    class Meta:
        model = Spec

    api = factory.SubFactory(ApiFactory)
    data = factory.LazyFunction(lambda: data_file("openapi/payments.yaml"))
    filename = "openapi.yaml"

    @classmethod
    def _create(cls, model_class: type, *, actor: Actor, **fields: Any) -> Spec:
        return specs.spec_upload(actor=actor, **fields).spec


def one_operation_document(
    *,
    method: str,
    path: str,
    responses: dict[str, str],
    summary: str = "",
    operation_id: str = "",
    auth_required: bool = True,
    deprecated: bool = False,
) -> bytes:
    """An OpenAPI 3.0 document (JSON) declaring exactly one operation."""
    operation: dict[str, Any] = {
        "responses": {code: {"description": text} for code, text in responses.items()},
        "deprecated": deprecated,
    }
    if summary:
        operation["summary"] = summary
    if operation_id:
        operation["operationId"] = operation_id
    if not auth_required:
        operation["security"] = []
    names = re.findall(r"{([^}]+)}", path)
    if names:
        operation["parameters"] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}} for name in names
        ]
    document = {
        "openapi": "3.0.3",
        "info": {"title": "One operation", "version": "1"},
        "security": [{"bearer": []}],
        "paths": {path: {method.lower(): operation}},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }
    return json.dumps(document).encode()


class OperationFactory(ServiceFactory):
    """One operation, made by uploading a document that declares only it (so the spec's counts agree).

    The upload becomes the API's current spec version.
    """

    class Meta:
        model = Operation

    api = factory.SubFactory(ApiFactory)
    method = "GET"
    path = factory.Sequence(lambda n: f"/things-{n}/{{id}}")
    summary = ""
    operation_id = ""
    auth_required = True
    deprecated = False
    responses = factory.LazyFunction(lambda: {"200": "OK"})

    @classmethod
    def _create(
        cls, model_class: type, *, actor: Actor, api: Api, method: str, path: str, **details: Any
    ) -> Operation:
        document = one_operation_document(method=method, path=path, **details)
        spec = specs.spec_upload(actor=actor, api=api, data=document, filename="openapi.json").spec
        return spec.operations.get(method=method.upper(), path=path)


class ResponseCodeFactory(ServiceFactory):
    """One response code, on an operation (``method`` ``path`` of ``api``) made by ``OperationFactory``."""

    class Meta:
        model = ResponseCode

    api = factory.SubFactory(ApiFactory)
    method = "GET"
    path = factory.Sequence(lambda n: f"/answers-{n}")
    code = "200"
    description = "OK"

    @classmethod
    def _create(
        cls, model_class: type, *, actor: Actor, code: str, description: str, **where: Any
    ) -> ResponseCode:
        operation = OperationFactory(actor=actor, responses={code: description}, **where)
        return operation.responses.get(code=code)


class LogIngestFactory(ServiceFactory):
    """An access log (``log``) read by the discovery service; needs the org chart (shadow APIs go to its root)."""

    class Meta:
        model = LogIngest

    log = factory.LazyFunction(lambda: data_file("logs/access.log"))
    filename = "access.log"
    format = None  # detected from the lines
    default_host = ""

    @classmethod
    def _create(
        cls, model_class: type, *, actor: Actor, log: bytes, format: str | None, **fields: Any
    ) -> LogIngest:
        return discovered.discovery_ingest(actor=actor, chunks=[log], fmt=format, **fields).ingest


class NotificationFactory(factory.django.DjangoModelFactory):
    """A notification recorded through the service (sent once the test's transaction would commit)."""

    class Meta:
        model = Notification

    kind = "test"
    subject = "Something happened"
    body = "Details."
    recipients = factory.LazyFunction(lambda: ["someone@example.com"])
    dedupe_key = factory.Sequence(lambda n: f"test:{n}")

    @classmethod
    def _create(cls, model_class: type, **fields: Any) -> Notification:
        from portal.notifications import notification_create

        return notification_create(**fields)


class DiscoveredEndpointFactory(factory.django.DjangoModelFactory):
    """A finding placed straight into a unit: a log ingest decides where findings go, tests need them in one.

    Nothing is derived from a finding, so a plain row is what an ingest would leave.
    """

    class Meta:
        model = DiscoveredEndpoint

    finding = DiscoveredEndpoint.Finding.SHADOW_API
    host = factory.Sequence(lambda n: f"found-{n}.example.com")
    method = "GET"
    path_template = "/things/{id}"
    org_unit = factory.SubFactory(OrgUnitFactory)
    hits = 3
    first_seen = factory.LazyFunction(timezone.now)
    last_seen = factory.SelfAttribute("first_seen")


# --- Shorthands -------------------------------------------------------------------------------------------


def make_unit(
    slug: str, parent: OrgUnit | None = None, kind: str = OrgUnit.Kind.TEAM, name: str = ""
) -> OrgUnit:
    return OrgUnitFactory(slug=slug, parent=parent, kind=kind, name=name or slug.replace("-", " ").title())


def grant(user: AbstractBaseUser, unit: OrgUnit, role: str) -> Membership:
    return MembershipFactory(user=user, org_unit=unit, role=role)


def register_api(
    unit: OrgUnit,
    slug: str,
    name: str = "",
    *,
    actor: Actor = SYSTEM,
    submittable: bool = True,
    **fields: Any,
) -> Api:
    """An API draft registered through the service; by default with everything submission needs."""
    return ApiFactory(
        org_unit=unit,
        slug=slug,
        name=name or slug.replace("-", " ").title(),
        actor=actor,
        submittable=submittable,
        **fields,
    )
