"""The inventory's URLs in the authorization matrix (see tests/access_matrix.py).

Every object an entry names lives in the unit the matrix hands over: an API registered for that unit,
its environments, windows and consumers, or a discovered endpoint carrying that unit. Markers of
listings are slugs/hosts nothing else on a page contains (``mx-api-<unit>``, ``mx-disc-<unit>``).

The registry holds one entry per URL name, so each URL is exercised for one capability: where a REST
URL answers two (GET ``inventory.view``, writes ``inventory.submit``) the write is the one registered,
except for the list (its GET, which checks for leaks). Transitions are registered with ``submit`` on
a draft, the move that needs ``inventory.submit``.
"""

from __future__ import annotations

from typing import Any

from inventory.models import Api, ApiDependency, AvailabilityWindow, DiscoveredEndpoint, Environment
from portal.access import Cap
from portal.models import OrgUnit
from tests.access_matrix import Entry, World, register
from tests.data import data_file, upload
from tests.factories import (
    ApiDependencyFactory,
    ApiFactory,
    AvailabilityWindowFactory,
    ConsumerServiceFactory,
    DiscoveredEndpointFactory,
    EnvironmentFactory,
    SpecFactory,
)

SPEC_V1 = data_file("openapi/payments.yaml")
SPEC_V2 = data_file("openapi/payments-v2.yaml")
REQUIREMENTS = data_file("lockfiles/requirements.txt")
ACCESS_LOG = data_file("logs/access.log")


# --- Objects living in a unit ----------------------------------------------------------------------


def api_in(world: World, unit: OrgUnit) -> Api:
    """A draft API registered for ``unit``, complete enough to be submitted."""
    return ApiFactory(org_unit=unit, slug=f"mx-api-{unit.slug}", name="Matrix API", submittable=True)


def approved_api_in(world: World, unit: OrgUnit) -> Api:
    """An API in use (approved), which its owners can confirm."""
    return ApiFactory(
        org_unit=unit, slug=f"mx-api-{unit.slug}", name="Matrix API", submittable=True, approved=True
    )


def api_slug(world: World, unit: OrgUnit) -> str:
    return api_in(world, unit).slug


def api_with_specs(world: World, unit: OrgUnit) -> Api:
    """Two spec versions, so the diff page has something to compare."""
    api = api_in(world, unit)
    SpecFactory(api=api, data=SPEC_V1)
    SpecFactory(api=api, data=SPEC_V2)
    return api


def environment_in(world: World, unit: OrgUnit) -> Environment:
    return EnvironmentFactory(
        api=api_in(world, unit), name="staging", base_urls=["https://mx-staging.example.com"]
    )


def window_in(world: World, unit: OrgUnit) -> AvailabilityWindow:
    return AvailabilityWindowFactory(api=api_in(world, unit))


def dependency_in(world: World, unit: OrgUnit) -> ApiDependency:
    consumer = ConsumerServiceFactory(owner=unit, name="Matrix consumer")
    return ApiDependencyFactory(api=api_in(world, unit), consumer_service=consumer)


def discovered_in(world: World, unit: OrgUnit) -> DiscoveredEndpoint:
    """A new shadow-API finding whose reviewers are ``unit``'s."""
    return DiscoveredEndpointFactory(
        finding=DiscoveredEndpoint.Finding.SHADOW_API, host=f"mx-disc-{unit.slug}.example.com", org_unit=unit
    )


def discovered_host(world: World, unit: OrgUnit) -> str:
    return discovered_in(world, unit).host


# --- URL kwargs ----------------------------------------------------------------------------------------


def by_slug(api: Api) -> dict[str, Any]:
    return {"slug": api.slug}


def by_api_and_pk(obj: Any) -> dict[str, Any]:
    """A child object (environment, window, dependency) named under its API's slug."""
    return {"slug": obj.api.slug, "pk": obj.pk}


# --- Request bodies ------------------------------------------------------------------------------------


def _owner(world: World) -> OrgUnit:
    # The acting user's unit (refused cells never read it; the team keeps the body well-formed).
    return world.home or world.org.team


def new_api(world: World, obj: Any) -> dict[str, Any]:
    return {"org_unit": _owner(world).pk, "name": "Matrix created", "slug": "mx-created"}


def catalog(world: World, obj: Any) -> dict[str, Any]:
    text = (
        "apiVersion: backstage.io/v1alpha1\nkind: API\n"
        "metadata: {name: mx-catalog, title: Matrix Catalog}\n"
        f"spec: {{type: openapi, lifecycle: production, owner: 'group:default/{_owner(world).slug}'}}\n"
    )
    return {"file": upload("catalog-info.yaml", text.encode())}


def access_log(world: World, obj: Any) -> dict[str, Any]:
    return {"file": upload("access.log", ACCESS_LOG), "host": "mx-shadow.example.com"}


def dismissal(world: World, obj: Any) -> dict[str, Any]:
    return {"reason": "Matrix: a known test host"}


def basics(world: World, obj: Any) -> dict[str, Any]:
    return {"name": "Matrix renamed", "description": "", "version": "1", "lifecycle": "design"}


def submit(world: World, obj: Any) -> dict[str, Any]:
    return {"action": "submit"}


def spec_file(world: World, obj: Any) -> dict[str, Any]:
    return {"file": upload("openapi.yaml", SPEC_V1)}


def requirements_file(world: World, obj: Any) -> dict[str, Any]:
    return {"file": upload("requirements.txt", REQUIREMENTS)}


def environment(world: World, obj: Any) -> dict[str, Any]:
    return {"name": "production", "base_urls": "https://mx-prod.example.com"}


def server(world: World, env: Environment) -> dict[str, Any]:
    return {f"server-{env.pk}-hostname": "mx-host.example.com"}


def baseline(world: World, env: Environment) -> dict[str, Any]:
    p = f"baseline-{env.pk}-"
    return {
        f"{p}p50_ms": 10,
        f"{p}p95_ms": 20,
        f"{p}p99_ms": 30,
        f"{p}requests_per_second": "5",
        f"{p}error_rate_percent": "0.1",
    }


def window(world: World, obj: Any) -> dict[str, Any]:
    return {
        "kind": "recurring",
        "timezone": "UTC",
        "weekdays": ["5"],
        "start_time": "01:00",
        "end_time": "02:00",
    }


def consumer(world: World, obj: Any) -> dict[str, Any]:
    return {"consumer_service": "Matrix billing", "note": "matrix"}


def new_api_rest(world: World, obj: Any) -> dict[str, Any]:
    # Registered for the unit the actor holds a role on (or the team, for a caller with none).
    unit = world.home or world.org.team
    return {"org_unit": unit.slug, "slug": "mx-created", "name": "Created by the matrix"}


def runtime(world: World, obj: Any) -> dict[str, Any]:
    return {"kind": "runtime", "ecosystem": "generic", "name": "python", "version": "3.11"}


def by_api_and_environment(env: Environment) -> dict[str, Any]:
    return {"slug": env.api.slug, "environment": env.name}


def baseline_json(world: World, env: Environment) -> dict[str, Any]:
    return {"p50_ms": 10, "p95_ms": 20, "p99_ms": 30, "requests_per_second": 5, "error_rate_percent": 0.1}


def server_json(world: World, env: Environment) -> dict[str, Any]:
    return {"hostname": "mx-host.example.com", "addresses": ["192.0.2.10"], "location": "eu-west-1"}


def window_json(world: World, obj: Any) -> dict[str, Any]:
    return {
        "kind": "recurring",
        "timezone": "UTC",
        "weekdays": [5],
        "start_time": "01:00",
        "end_time": "02:00",
    }


def api_fields(world: World, obj: Any) -> dict[str, Any]:
    # PUT (create-or-update by slug) wants the whole record; PATCH takes the same body as partial.
    return {"name": "Matrix renamed", "description": "Updated by the matrix"}


register(
    # HTML pages
    Entry("inventory:list", Cap.INVENTORY_VIEW, listing=api_slug),
    Entry("inventory:export", Cap.INVENTORY_VIEW, listing=api_slug),
    Entry("inventory:create", Cap.INVENTORY_SUBMIT, methods=("GET", "POST"), data=new_api),
    Entry("inventory:catalog_upload", Cap.INVENTORY_SUBMIT, methods=("GET", "POST"), data=catalog),
    Entry("inventory:discovery", Cap.INVENTORY_VIEW, listing=discovered_host),
    Entry(
        "inventory:discovery_upload",
        Cap.INVENTORY_REVIEW,
        methods=("GET", "POST"),
        data=access_log,
        company_wide=True,
    ),
    Entry(
        "inventory:discovered_dismiss",
        Cap.INVENTORY_REVIEW,
        methods=("POST",),
        target=discovered_in,
        data=dismissal,
    ),
    Entry(
        "inventory:discovered_register",
        Cap.INVENTORY_SUBMIT,
        methods=("GET", "POST"),
        target=discovered_in,
        data=new_api,
    ),
    Entry("inventory:detail", Cap.INVENTORY_VIEW, target=api_in, url_kwargs=by_slug),
    Entry(
        "inventory:edit_section",
        Cap.INVENTORY_SUBMIT,
        methods=("GET", "POST"),
        target=api_in,
        url_kwargs=lambda api: {"slug": api.slug, "section": "basics"},
        data=basics,
    ),
    Entry(
        "inventory:transition",
        Cap.INVENTORY_SUBMIT,
        methods=("POST",),
        target=api_in,
        url_kwargs=by_slug,
        data=submit,
    ),
    Entry(
        "inventory:confirm",
        Cap.INVENTORY_SUBMIT,
        methods=("POST",),
        target=approved_api_in,
        url_kwargs=by_slug,
    ),
    Entry(
        "inventory:spec_upload",
        Cap.INVENTORY_SUBMIT,
        methods=("POST",),
        target=api_in,
        url_kwargs=by_slug,
        data=spec_file,
    ),
    Entry("inventory:spec_diff", Cap.INVENTORY_VIEW, target=api_with_specs, url_kwargs=by_slug),
    Entry(
        "inventory:spec_raw",
        Cap.INVENTORY_VIEW,
        target=api_with_specs,
        url_kwargs=lambda api: {"slug": api.slug, "number": 1},
    ),
    Entry(
        "inventory:components_upload",
        Cap.INVENTORY_SUBMIT,
        methods=("POST",),
        target=api_in,
        url_kwargs=by_slug,
        data=requirements_file,
    ),
    Entry(
        "inventory:component_declare",
        Cap.INVENTORY_SUBMIT,
        methods=("POST",),
        target=api_in,
        url_kwargs=by_slug,
        data=runtime,
    ),
    Entry(
        "inventory-api:api-baseline",
        Cap.INVENTORY_SUBMIT,
        methods=("PUT",),
        target=environment_in,
        url_kwargs=by_api_and_environment,
        data=baseline_json,
    ),
    Entry(
        "inventory-api:api-servers",
        Cap.INVENTORY_SUBMIT,
        methods=("POST",),
        target=environment_in,
        url_kwargs=by_api_and_environment,
        data=server_json,
    ),
    Entry(
        "inventory-api:api-windows",
        Cap.INVENTORY_VIEW,
        target=api_in,
        url_kwargs=by_slug,
        label="api-windows-get",
    ),
    Entry(
        "inventory-api:api-windows",
        Cap.INVENTORY_SUBMIT,
        methods=("POST",),
        target=api_in,
        url_kwargs=by_slug,
        data=window_json,
    ),
    Entry(
        "inventory-api:api-consumers",
        Cap.INVENTORY_VIEW,
        target=api_in,
        url_kwargs=by_slug,
        label="api-consumers-get",
    ),
    Entry(
        "inventory-api:api-consumers",
        Cap.INVENTORY_SUBMIT,
        methods=("POST",),
        target=api_in,
        url_kwargs=by_slug,
        data=consumer,
    ),
    Entry(
        "inventory-api:api-component-declare",
        Cap.INVENTORY_SUBMIT,
        methods=("POST",),
        target=api_in,
        url_kwargs=by_slug,
        data=runtime,
    ),
    Entry(
        "inventory:environment_save",
        Cap.INVENTORY_SUBMIT,
        methods=("POST",),
        target=api_in,
        url_kwargs=by_slug,
        data=environment,
    ),
    Entry(
        "inventory:environment_delete",
        Cap.INVENTORY_SUBMIT,
        methods=("POST",),
        target=environment_in,
        url_kwargs=by_api_and_pk,
    ),
    Entry(
        "inventory:server_attach",
        Cap.INVENTORY_SUBMIT,
        methods=("POST",),
        target=environment_in,
        url_kwargs=by_api_and_pk,
        data=server,
    ),
    Entry(
        "inventory:baseline_save",
        Cap.INVENTORY_SUBMIT,
        methods=("POST",),
        target=environment_in,
        url_kwargs=by_api_and_pk,
        data=baseline,
    ),
    Entry(
        "inventory:window_add",
        Cap.INVENTORY_SUBMIT,
        methods=("POST",),
        target=api_in,
        url_kwargs=by_slug,
        data=window,
    ),
    Entry(
        "inventory:window_delete",
        Cap.INVENTORY_SUBMIT,
        methods=("POST",),
        target=window_in,
        url_kwargs=by_api_and_pk,
    ),
    Entry(
        "inventory:dependency_add",
        Cap.INVENTORY_SUBMIT,
        methods=("POST",),
        target=api_in,
        url_kwargs=by_slug,
        data=consumer,
    ),
    Entry(
        "inventory:dependency_remove",
        Cap.INVENTORY_SUBMIT,
        methods=("POST",),
        target=dependency_in,
        url_kwargs=by_api_and_pk,
    ),
    # REST
    Entry("inventory-api:api-list", Cap.INVENTORY_VIEW, listing=api_slug),
    Entry(
        "inventory-api:api-list",
        Cap.INVENTORY_SUBMIT,
        methods=("POST",),
        data=new_api_rest,
        label="api-list-post",
    ),
    # Reads of the same URLs that the entries below write to: each method has its own capability.
    Entry(
        "inventory-api:api-detail",
        Cap.INVENTORY_VIEW,
        target=api_in,
        url_kwargs=by_slug,
        label="api-detail-get",
    ),
    Entry(
        "inventory-api:api-confirm",
        Cap.INVENTORY_SUBMIT,
        methods=("POST",),
        target=approved_api_in,
        url_kwargs=by_slug,
    ),
    Entry(
        "inventory-api:api-spec", Cap.INVENTORY_VIEW, target=api_in, url_kwargs=by_slug, label="api-spec-get"
    ),
    Entry(
        "inventory-api:api-components",
        Cap.INVENTORY_VIEW,
        target=api_in,
        url_kwargs=by_slug,
        label="api-components-get",
    ),
    Entry(
        "inventory-api:api-detail",
        Cap.INVENTORY_SUBMIT,
        methods=("PUT", "PATCH"),
        target=api_in,
        url_kwargs=by_slug,
        data=api_fields,
    ),
    Entry(
        "inventory-api:api-transition",
        Cap.INVENTORY_SUBMIT,
        methods=("POST",),
        target=api_in,
        url_kwargs=by_slug,
        data=submit,
    ),
    Entry(
        "inventory-api:api-spec",
        Cap.INVENTORY_SUBMIT,
        methods=("POST",),
        target=api_in,
        url_kwargs=by_slug,
        data=spec_file,
    ),
    Entry(
        "inventory-api:api-components",
        Cap.INVENTORY_SUBMIT,
        methods=("POST",),
        target=api_in,
        url_kwargs=by_slug,
        data=requirements_file,
    ),
    Entry(
        "inventory-api:api-blast-radius",
        Cap.INVENTORY_VIEW,
        target=dependency_in,
        url_kwargs=lambda d: {"slug": d.api.slug},
    ),
    Entry("inventory-api:discovered-list", Cap.INVENTORY_VIEW, listing=discovered_host),
    Entry(
        "inventory-api:discovered-dismiss",
        Cap.INVENTORY_REVIEW,
        methods=("POST",),
        target=discovered_in,
        data=dismissal,
    ),
    Entry(
        "inventory-api:discovery-logs",
        Cap.INVENTORY_REVIEW,
        methods=("POST",),
        data=access_log,
        company_wide=True,
    ),
)
