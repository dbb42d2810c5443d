"""Shadow, undocumented and zombie endpoints found in logs, end to end through the services."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command

from inventory.models import Api, ApiStatus, DiscoveredEndpoint, LogIngest, Operation
from inventory.services import discovered, review
from inventory.services.discovered import IngestResult
from portal.audit import Actor
from tests.conftest import Org
from tests.factories import SYSTEM, ApiFactory, SpecFactory

SPEC = b"""openapi: 3.0.3
info: {title: Pay, version: "1"}
paths:
  /payments/{id}:
    parameters: [{name: id, in: path, required: true, schema: {type: string}}]
    get: {responses: {"200": {description: ok}}}
  /legacy:
    get: {deprecated: true, responses: {"200": {description: ok}}}
"""


def nginx(
    host: str, method: str, path: str, status: int = 200, when: str = "28/Nov/2026:10:00:00 +0000"
) -> str:
    return f'10.1.2.3 - - [{when}] "{method} {path} HTTP/1.1" {status} 512 "-" "curl/8" "{host}"'


@pytest.fixture
def pay(org: Org, ciso: User) -> Api:
    actor = Actor(user=ciso)
    api = ApiFactory(
        org_unit=org.team,
        slug="pay",
        name="Pay",
        submittable=True,
        actor=actor,
        environments=[{"name": "production", "base_urls": ["https://pay.example.com/v1"]}],
    )
    SpecFactory(api=api, data=SPEC, actor=actor)
    return api


def ingest(user: User, lines: list[str], **kwargs: Any) -> IngestResult:
    data = ("\n".join(lines) + "\n").encode()
    return discovered.discovery_ingest(
        actor=Actor(user=user), chunks=[data[:50], data[50:]], filename="access.log", **kwargs
    )


def test_it_classifies_every_endpoint(pay, ciso):
    result = ingest(
        ciso,
        [
            nginx("pay.example.com", "GET", "/v1/payments/100"),
            nginx("pay.example.com", "GET", "/v1/payments/101?expand=1", when="28/Nov/2026:11:00:00 +0000"),
            nginx("pay.example.com", "GET", "/v1/legacy"),
            nginx("pay.example.com", "DELETE", "/v1/payments/7"),
            nginx("shadow.example.com", "POST", "/internal/export/3f2504e0-4f89-11d3-9a0c-0305e82c3301"),
            "this is not a log line",
        ],
    )
    assert result.findings == {"documented": 1, "shadow_api": 1, "undocumented": 1, "zombie": 1}
    found = {(d.finding, d.method, d.path_template) for d in DiscoveredEndpoint.objects.all()}
    assert found == {
        ("zombie", "GET", "/v1/legacy"),
        ("undocumented", "DELETE", "/v1/payments/{id}"),
        ("shadow_api", "POST", "/internal/export/{uuid}"),
    }
    op = Operation.objects.get(path="/payments/{id}")
    assert op.last_seen_at.hour == 11
    assert result.ingest.skipped == 1 and result.ingest.skipped_examples[0]["line"] == 6
    shadow = DiscoveredEndpoint.objects.get(finding="shadow_api")
    assert shadow.org_unit.parent is None and shadow.api is None  # the security team looks at it
    undocumented = DiscoveredEndpoint.objects.get(finding="undocumented")
    assert undocumented.org_unit == pay.org_unit  # the owning team sees its own


def test_reingesting_accumulates_hits(pay, ciso):
    lines = [nginx("shadow.example.com", "GET", "/a/1"), nginx("shadow.example.com", "GET", "/a/2")]
    ingest(ciso, lines)
    ingest(ciso, lines)
    item = DiscoveredEndpoint.objects.get()
    assert item.hits == 4 and item.status_codes == {"200": 4}
    assert LogIngest.objects.count() == 2


def test_json_lines_are_read(pay, ciso):
    lines = [
        json.dumps(
            {
                "host": "pay.example.com",
                "method": "GET",
                "path": "/v1/legacy",
                "status": 200,
                "time": "2026-11-28T10:00:00Z",
            }
        )
    ]
    assert ingest(ciso, lines).findings["zombie"] == 1


def test_a_retired_api_is_a_zombie(pay, ciso, alice):
    actor = Actor(user=ciso)
    review.api_submit(actor=actor, api=pay)
    review.api_approve(actor=SYSTEM, api=pay)  # four eyes: not by the one who registered it
    review.api_deprecate(actor=actor, api=pay)
    review.api_retire(actor=actor, api=pay)
    assert ingest(ciso, [nginx("pay.example.com", "GET", "/v1/payments/1")]).findings["zombie"] == 1


@pytest.mark.parametrize("lines", [[], ["", "   "], ["garbage", "more garbage"]])
def test_unreadable_logs_are_refused_and_nothing_is_written(pay, ciso, lines):
    with pytest.raises(ValidationError):
        ingest(ciso, lines)
    assert not LogIngest.objects.exists() and not DiscoveredEndpoint.objects.exists()


def test_an_upload_over_the_limit_is_refused(pay, ciso):
    with pytest.raises(ValidationError) as exc:
        ingest(ciso, [nginx("a.example.com", "GET", "/x")] * 100, max_bytes=1000)
    assert "too large" in str(exc.value)
    assert not DiscoveredEndpoint.objects.exists()


def test_only_the_security_team_ingests(pay, alice):
    with pytest.raises(PermissionDenied):
        ingest(alice, [nginx("a.example.com", "GET", "/x")])


def test_a_shadow_api_becomes_a_draft_for_its_team(pay, ciso, org, alice):
    ingest(ciso, [nginx("shadow.example.com", "GET", "/a/1"), nginx("shadow.example.com", "POST", "/b")])
    item = DiscoveredEndpoint.objects.filter(finding="shadow_api").first()
    api = discovered.discovered_register(
        actor=Actor(user=ciso), item=item, org_unit=org.team, slug="shadow", name="Shadow"
    )
    assert api.status == ApiStatus.DRAFT
    assert api.environments.get().base_urls == ["https://shadow.example.com"]
    assert set(DiscoveredEndpoint.objects.values_list("state", flat=True)) == {"registered"}
    # The owning team now sees the discovered endpoints of their new API.
    assert DiscoveredEndpoint.objects.visible_to(alice, "inventory.view").count() == 2


def test_dismiss_needs_a_reason_and_happens_once(pay, ciso):
    ingest(ciso, [nginx("shadow.example.com", "GET", "/a/1")])
    item = DiscoveredEndpoint.objects.get()
    with pytest.raises(ValidationError):
        discovered.discovered_dismiss(actor=Actor(user=ciso), item=item, reason=" ")
    discovered.discovered_dismiss(actor=Actor(user=ciso), item=item, reason="Load balancer health probe")
    with pytest.raises(ValidationError):
        discovered.discovered_dismiss(actor=Actor(user=ciso), item=item, reason="again")


def test_the_command_streams_a_file(pay, tmp_path, capsys):
    path = tmp_path / "access.log"
    path.write_text(
        "\n".join([nginx("pay.example.com", "GET", f"/v1/payments/{i}") for i in range(500)] + ["bad line"])
    )
    call_command("discover_from_logs", str(path))
    out = capsys.readouterr().out
    assert "501 lines" in out and "1 documented" in out and "skipped line 501" in out
    with pytest.raises(CommandError):
        call_command("discover_from_logs", str(tmp_path / "missing.log"))


def test_a_reviewer_of_one_division_cannot_ingest_company_logs(pay, org, make_member):
    from portal.models import Role

    divisional = make_member(Role.SECURITY_ENGINEER, org.division)
    with pytest.raises(PermissionDenied):
        ingest(divisional, [nginx("a.example.com", "GET", "/x")])
    assert not LogIngest.objects.exists()


def test_registering_a_shadow_api_moves_only_its_own_findings(pay, ciso, org):
    ingest(
        ciso,
        [nginx("shadow.example.com", "GET", "/a/1"), nginx("pay.example.com", "DELETE", "/v1/payments/1")],
    )
    # An undocumented finding of another API on a host of the same name must stay where it is.
    other = DiscoveredEndpoint.objects.get(finding="undocumented")
    DiscoveredEndpoint.objects.filter(pk=other.pk).update(host="shadow.example.com")
    item = DiscoveredEndpoint.objects.get(finding="shadow_api")
    discovered.discovered_register(
        actor=Actor(user=ciso), item=item, org_unit=org.sibling, slug="s", name="S"
    )
    other.refresh_from_db()
    assert other.state == "new" and other.org_unit == pay.org_unit
