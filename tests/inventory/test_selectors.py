"""The inventory's reads: each takes the user and answers for its own scope."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from inventory import selectors
from portal.models import Role
from tests.factories import (
    ApiDependencyFactory,
    ApiFactory,
    AvailabilityWindowFactory,
    ComponentFactory,
    EnvironmentFactory,
    LogIngestFactory,
    SbomImportFactory,
    SpecFactory,
)


@pytest.fixture
def auditor(org, make_member):
    return make_member(Role.AUDITOR, org.root, "audrey")


def test_api_history_needs_audit_view_itself(api, alice, charlie, auditor):
    # alice develops the API (inventory.view and submit on it) but does not read the audit trail.
    with pytest.raises(PermissionDenied):
        selectors.api_history(alice, api)
    # charlie cannot see the API at all: the same answer as for a missing one.
    with pytest.raises(Http404):
        selectors.api_history(charlie, api)
    assert selectors.api_history(auditor, api)


def test_api_history_holds_the_events_of_the_records_filed_under_the_api(org, api, auditor):
    env = EnvironmentFactory(api=api, name="production", base_urls=["https://pay.example.com"])
    AvailabilityWindowFactory(api=api)
    ApiDependencyFactory(api=api)
    ComponentFactory(api=api, name="runtime-x")
    SpecFactory(api=api)
    other = ApiFactory(org_unit=org.team, slug="other")
    EnvironmentFactory(api=other, name="staging", base_urls=["https://other.example.com"])
    ComponentFactory(api=other, name="elsewhere")

    actions = {e.action for e in selectors.api_history(auditor, api)}
    objects = {(e.object_type, e.object_id) for e in selectors.api_history(auditor, api)}

    assert {
        "api.create",
        "api.environment_save",
        "api.window_add",
        "api.dependency_add",
        "api.component_declare",
        "api.spec_upload",
    } <= actions
    assert ("inventory.environment", str(env.pk)) in objects
    assert not any(o == ("inventory.api", str(other.pk)) for o in objects)
    other_env = other.environments.get()
    assert ("inventory.environment", str(other_env.pk)) not in objects
    assert not any("elsewhere" in e.object_label for e in selectors.api_history(auditor, api))


def test_api_history_is_newest_first_and_capped(api, auditor):
    for n in range(3):
        ComponentFactory(api=api, name=f"lib-{n}")

    events = selectors.api_history(auditor, api, limit=2)

    assert len(events) == 2
    assert events[0].id > events[1].id
    assert "lib-2" in events[0].object_label


def test_unit_menus_follow_the_users_scope(org, alice, bob, charlie):
    assert [slug for slug, _label in selectors.units_menu(alice)] == ["team"]
    assert list(selectors.units_to_register_for(alice)) == [org.team]
    assert selectors.can_register(alice)
    assert not selectors.can_register(bob)  # a viewer registers nothing
    assert [slug for slug, _label in selectors.units_menu(charlie)] == ["sibling"]


def test_per_api_reads_refuse_a_hidden_api_and_a_foreign_child(org, api, env, alice, charlie):
    other = ApiFactory(org_unit=org.team, slug="other")
    other_env = EnvironmentFactory(api=other, name="staging", base_urls=["https://o.example.com"])
    window = AvailabilityWindowFactory(api=api, environment=env)
    detail = selectors.api_detail(alice, api.slug)

    assert selectors.environment_of(alice, detail, pk=env.pk) == env
    assert selectors.environment_of(alice, detail, name="production") == env
    with pytest.raises(Http404):
        selectors.environment_of(alice, detail, pk=other_env.pk)
    with pytest.raises(Http404):
        selectors.window_of(alice, selectors.api_detail(alice, "other"), window.pk)
    for read in (
        lambda: selectors.windows_of(charlie, detail),
        lambda: selectors.last_sbom_import(charlie, detail),
        lambda: selectors.environment_of(charlie, detail, pk=env.pk),
    ):
        with pytest.raises(Http404):
            read()


def test_windows_of_names_the_environment_and_the_weekdays(api, env, alice):
    AvailabilityWindowFactory(api=api, environment=env, weekdays=[0, 2], description="patching")
    AvailabilityWindowFactory(api=api, one_off=True)

    rows = {
        r.window.description or r.window.kind: r
        for r in selectors.windows_of(alice, selectors.api_detail(alice, api.slug))
    }

    assert rows["patching"].environment_name == "production"
    assert rows["patching"].weekday_names == "Mon, Wed"
    assert rows["one_off"].environment_name == ""


def test_last_sbom_import_is_the_newest(api, alice):
    assert selectors.last_sbom_import(alice, api) is None
    SbomImportFactory(api=api)
    newest = SbomImportFactory(api=api, filename="again.txt")

    assert selectors.last_sbom_import(alice, api) == newest


def test_a_log_ingest_is_for_company_wide_reviewers_only(org, ciso, alice):
    ingest = LogIngestFactory()

    assert selectors.log_ingest_for(ciso, ingest.pk) == ingest
    assert selectors.log_ingest_for(alice, ingest.pk) is None
    assert selectors.log_ingest_for(ciso, ingest.pk + 1000) is None


def test_a_spec_version_is_read_only_through_its_api(org, api, alice, charlie):
    SpecFactory(api=api)
    other = ApiFactory(org_unit=org.team, slug="other")
    SpecFactory(api=other)

    assert selectors.spec_version(alice, api, 1).api_id == api.pk
    assert "openapi" in selectors.spec_version(alice, api, 1, with_content=True).content
    assert "content" in selectors.spec_version(alice, api, 1).get_deferred_fields()
    with pytest.raises(Http404):
        selectors.spec_version(alice, api, 2)  # the other API's version 1 is not this one's 2
    with pytest.raises(Http404):
        selectors.spec_version(charlie, api, 1)
