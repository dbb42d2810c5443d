"""Backstage catalog import: the command and the all-or-nothing rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from inventory.engines.catalog import parse_catalog, safe_relative
from inventory.models import Api, ApiDependency, ApiStatus, ConsumerService, Spec
from portal.models import AuditEvent
from tests.data import data_file
from tests.factories import ApiFactory, register_api

OPENAPI = data_file("openapi/payments.yaml")

CATALOG = """apiVersion: backstage.io/v1alpha1
kind: API
metadata: {name: payments, title: Payments API, description: Moves money}
spec:
  type: openapi
  lifecycle: production
  owner: group:default/team
  definition:
    $text: ./openapi.yaml
---
apiVersion: backstage.io/v1alpha1
kind: API
metadata: {name: ledger}
spec:
  type: openapi
  lifecycle: experimental
  owner: team
  definition: |
    openapi: 3.0.3
    info: {title: Ledger, version: "1"}
    paths: {}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: checkout-web}
spec:
  owner: sibling
  consumesApis: [payments]
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: ledger-service}
spec:
  owner: team
  providesApis: [ledger]
  consumesApis: [api:default/payments]
---
apiVersion: backstage.io/v1alpha1
kind: System
metadata: {name: money}
"""


@pytest.fixture
def catalog_dir(tmp_path: Path) -> Path:
    (tmp_path / "catalog-info.yaml").write_text(CATALOG)
    (tmp_path / "openapi.yaml").write_bytes(OPENAPI)
    return tmp_path


def test_it_imports_apis_specs_and_consumers(org, catalog_dir, capsys):
    call_command("import_catalog", str(catalog_dir / "catalog-info.yaml"))
    out = capsys.readouterr().out
    assert "2 created" in out and "kind System is not imported" in out
    payments = Api.objects.get(slug="payments")
    assert payments.org_unit == org.team and payments.lifecycle == "production"
    assert payments.status == ApiStatus.DRAFT
    assert Spec.objects.get(api=payments).operation_count == 2
    assert ConsumerService.objects.get().name == "checkout-web"
    ledger = Api.objects.get(slug="ledger")
    assert ApiDependency.objects.filter(api=payments, consumer_api=ledger).exists()
    # Idempotent: importing again creates nothing new.
    call_command("import_catalog", str(catalog_dir / "catalog-info.yaml"))
    assert Api.objects.count() == 2 and ApiDependency.objects.count() == 2 and Spec.objects.count() == 2


def test_approve_is_audited_as_the_operator(org, catalog_dir):
    # A record the team already completed in the portal; the catalog adds its name and spec.
    register_api(org.team, "payments")
    call_command("import_catalog", str(catalog_dir / "catalog-info.yaml"), "--approve")
    assert Api.objects.get(slug="payments").status == ApiStatus.APPROVED
    approvals = AuditEvent.objects.filter(action="api.approve")
    assert approvals.count() == 1
    assert approvals.get().actor_label.startswith("system:operator:")


def test_approve_leaves_incomplete_records_as_drafts_and_says_why(org, catalog_dir, capsys):
    register_api(org.team, "payments")
    call_command("import_catalog", str(catalog_dir / "catalog-info.yaml"), "--approve")
    statuses = dict(Api.objects.values_list("slug", "status"))
    assert statuses == {"payments": ApiStatus.APPROVED, "ledger": ApiStatus.DRAFT}
    out = capsys.readouterr().out
    assert "ledger: not approved" in out and "a technical contact" in out


@pytest.mark.parametrize(
    ("waiting", "said"),
    [
        (ApiStatus.SUBMITTED, "waiting for review"),
        (ApiStatus.REREVIEW, "waiting for review"),
        (ApiStatus.CHANGES_REQUESTED, "changes were requested"),
    ],
)
def test_approve_leaves_records_waiting_for_review_to_the_reviewers(org, catalog_dir, capsys, waiting, said):
    """A record waiting for a person's review (a developer's material change, say) is not approved
    by an operator's routine import: that would skip the four-eyes review the change is waiting for."""
    api = register_api(org.team, "payments")
    Api.objects.filter(pk=api.pk).update(status=waiting)
    call_command("import_catalog", str(catalog_dir / "catalog-info.yaml"), "--approve")
    assert Api.objects.get(slug="payments").status == waiting
    assert not AuditEvent.objects.filter(action="api.approve").exists()
    assert f"payments: {said}; not approved by the import." in capsys.readouterr().out


def test_an_import_that_changes_an_approved_record_materially_leaves_it_for_review(org, catalog_dir, ciso):
    from inventory.services import review
    from portal.audit import Actor

    api = register_api(org.team, "payments")
    review.api_submit(actor=Actor.system("test"), api=api)
    review.api_approve(actor=Actor.system("test"), api=api)
    # The catalog brings the first spec of an approved API: a material change, back to review.
    call_command("import_catalog", str(catalog_dir / "catalog-info.yaml"), "--approve")
    assert Api.objects.get(slug="payments").status == ApiStatus.REREVIEW
    assert AuditEvent.objects.filter(action="api.approve").count() == 1  # only the first, above


def test_unknown_owner_rejects_the_whole_file(org, catalog_dir):
    (catalog_dir / "catalog-info.yaml").write_text(
        CATALOG.replace("owner: team\n  providesApis", "owner: nobody\n  providesApis")
    )
    with pytest.raises(CommandError):
        call_command("import_catalog", str(catalog_dir / "catalog-info.yaml"))
    assert not Api.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="api.").exists()


def test_missing_owner_uses_the_owner_option(org, tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("kind: API\nmetadata: {name: orphan}\nspec: {type: openapi, lifecycle: production}\n")
    with pytest.raises(CommandError):
        call_command("import_catalog", str(path))
    call_command("import_catalog", str(path), "--owner", "sibling")
    assert Api.objects.get(slug="orphan").org_unit == org.sibling


def test_a_bad_definition_rejects_the_file(org, tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        "kind: API\nmetadata: {name: bad}\nspec: {type: openapi, owner: team, definition: 'swagger: \"2.0\"'}\n"
    )
    with pytest.raises(CommandError):
        call_command("import_catalog", str(path))
    assert not Api.objects.exists()


def test_text_outside_the_catalog_folder_is_not_read(org, tmp_path, capsys):
    (tmp_path / "secret.yaml").write_bytes(OPENAPI)
    inner = tmp_path / "inner"
    inner.mkdir()
    path = inner / "c.yaml"
    path.write_text(
        "kind: API\nmetadata: {name: sneaky}\nspec: {type: openapi, owner: team, definition: {$text: ../secret.yaml}}\n"
    )
    call_command("import_catalog", str(path))
    assert "not fetched" in capsys.readouterr().out
    assert not Spec.objects.exists()


@pytest.mark.parametrize(
    "path", ["../x", "/etc/passwd", "https://evil.example/a.yaml", "a/../../b", "c:\\x", ""]
)
def test_safe_relative_refuses_escapes(path):
    assert safe_relative(path) is None


def test_unknown_kinds_are_reported_not_guessed():
    result = parse_catalog(
        b"kind: Widget\nmetadata: {name: w}\n---\nkind: API\nspec: {}\n", resolve_text=lambda p: None
    )
    assert result.apis == [] and len(result.problems) == 2


def test_malformed_yaml_is_one_clear_error(org, tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("kind: API\nmetadata: {name: [\n")
    with pytest.raises(CommandError):
        call_command("import_catalog", str(path))


def test_too_many_documents_are_refused_before_anything_is_imported(org, tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        "\n---\n".join(f"kind: API\nmetadata: {{name: a{i}}}\nspec: {{owner: team}}" for i in range(501))
    )
    with pytest.raises(CommandError):
        call_command("import_catalog", str(path))
    assert not Api.objects.exists()


def test_a_text_file_reused_many_times_counts_each_time():
    from inventory.engines.catalog import CatalogError

    doc = "kind: API\nmetadata: {{name: a{i}}}\nspec: {{type: openapi, owner: team, definition: {{$text: ./s.yaml}}}}"
    data = "\n---\n".join(doc.format(i=i) for i in range(20)).encode()
    with pytest.raises(CatalogError, match="add up to"):
        parse_catalog(data, resolve_text=lambda p: b"x" * 1000, max_bytes=10_000)


def test_a_developer_cannot_link_another_teams_hidden_api(org, alice, charlie):
    from inventory.services import catalog_import
    from inventory.services.catalog_import import CatalogRejected
    from portal.audit import Actor

    ApiFactory(org_unit=org.sibling, slug="victim", name="Victim", actor=Actor(user=charlie))
    ApiFactory(org_unit=org.team, slug="mine", name="Mine", actor=Actor(user=alice))
    data = b"kind: Component\nmetadata: {name: sneaky}\nspec: {owner: team, providesApis: [victim], consumesApis: [mine]}\n"
    with pytest.raises(CatalogRejected) as exc:
        catalog_import.catalog_import(actor=Actor(user=alice), data=data, resolve_text=lambda p: None)
    assert "unknown APIs victim" in " ".join(exc.value.problems)
    assert not ApiDependency.objects.exists()
