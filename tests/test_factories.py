"""The factories make what the application would: through the services, invariants intact."""

from __future__ import annotations

import pytest

from inventory.models import Api, ApiStatus, AvailabilityWindow, Component
from portal.audit import Actor, ChainProblem, verify_chain
from portal.models import AuditEvent, Role
from portal.services.tokens import api_token_authenticate
from tests import factories as f

pytestmark = pytest.mark.django_db


def chain_problems() -> list[ChainProblem]:
    return [item for item in verify_chain() if isinstance(item, ChainProblem)]


def test_every_project_model_has_a_factory():
    from django.apps import apps

    made = {
        cls._meta.model
        for cls in vars(f).values()
        if isinstance(cls, type) and issubclass(cls, f.factory.django.DjangoModelFactory) and cls._meta.model
    }
    # The chain head is written by audit.record alone: AuditEventFactory keeps it right.
    skipped = {"AuditChainHead"}
    for app in ("portal", "inventory"):
        for model in apps.get_app_config(app).get_models():
            assert model in made or model.__name__ in skipped, f"no factory for {model._meta.label}"


def test_org_units_get_their_materialized_path():
    parent = f.OrgUnitFactory(kind="division")
    child = f.OrgUnitFactory(parent=parent)
    assert child.path == f"{parent.path}{child.pk}/"
    assert child.depth == parent.depth + 1
    assert not chain_problems()


def test_a_membership_is_granted_through_the_service():
    membership = f.MembershipFactory(role=Role.DEVELOPER)
    assert AuditEvent.objects.filter(action="membership.grant", object_id=str(membership.pk)).exists()


def test_a_token_carries_its_secret_once():
    token = f.ApiTokenFactory()
    assert api_token_authenticate(token.secret) == token
    assert token.secret not in token.token_hash


def test_audit_events_keep_one_chain():
    unit = f.OrgUnitFactory()
    f.AuditEventFactory.create_batch(3, org_unit=unit)
    described = f.AuditEventFactory(obj=unit)
    assert (described.object_type, described.object_id) == ("portal.orgunit", str(unit.pk))
    assert not chain_problems()


def test_a_bare_api_is_a_draft_with_what_is_missing():
    api = f.ApiFactory()
    assert api.status == ApiStatus.DRAFT
    assert "a description" in api.missing


def test_a_submittable_api_can_be_approved():
    api = f.ApiFactory(submittable=True, approved=True)
    assert api.status == ApiStatus.APPROVED
    assert api.environments.get().base_urls == [f"https://{api.slug}.example.com"]


def test_an_api_built_as_a_person_is_checked(org, bob):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        f.ApiFactory(org_unit=org.team, actor=Actor(user=bob))
    assert not Api.objects.exists()


def test_a_spec_updates_the_api_summary():
    spec = f.SpecFactory()
    spec.api.refresh_from_db()
    assert spec.api.has_spec and spec.operation_count == 2


def test_an_operation_and_a_response_code_come_from_an_uploaded_document():
    operation = f.OperationFactory(
        method="DELETE", path="/orders/{order}", auth_required=False, deprecated=True
    )
    assert (operation.method, operation.auth_required, operation.deprecated) == ("DELETE", False, True)
    assert operation.spec.operation_count == 1
    response = f.ResponseCodeFactory(code="404", description="Gone")
    assert (response.code, response.description, response.operation.spec.is_current) == ("404", "Gone", True)


def test_components_update_the_api_summary():
    sbom = f.SbomImportFactory()
    f.ComponentFactory(api=sbom.api, kind=Component.Kind.RUNTIME, ecosystem="generic", name="python")
    sbom.api.refresh_from_db()
    assert sbom.component_count == 2
    assert sbom.api.component_count == 3


def test_environments_servers_and_baselines():
    baseline = f.PerformanceBaselineFactory()
    server = f.ServerFactory(org_unit=baseline.environment.api.org_unit, addresses=["10.0.0.1"])
    assert baseline.p95_ms == 80 and server.addresses == ["10.0.0.1"]


@pytest.mark.parametrize("one_off", [False, True])
def test_availability_windows(one_off):
    window = f.AvailabilityWindowFactory(one_off=one_off)
    kind = AvailabilityWindow.Kind.ONE_OFF if one_off else AvailabilityWindow.Kind.RECURRING
    assert window.kind == kind


def test_dependencies_on_a_service_or_an_api():
    on_service = f.ApiDependencyFactory()
    assert on_service.consumer_service.owner == on_service.api.org_unit
    on_api = f.ApiDependencyFactory(consumer_api=f.ApiFactory())
    assert on_api.consumer_service is None


def test_a_log_ingest_reads_the_shared_access_log(org):
    ingest = f.LogIngestFactory(default_host="shadow.example.com")
    assert (ingest.lines, ingest.parsed, ingest.skipped) == (1, 1, 0)


def test_plain_model_factories():
    assert f.DiscoveredEndpointFactory().finding == "shadow_api"
    assert f.HeartbeatFactory().name == "worker"
    device = f.RecoveryCodeDeviceFactory(codes=["abcde-12345"])
    assert device.verify_token("ABCDE12345")
    assert f.TOTPDeviceFactory().confirmed
