"""One API from registration to approval, through the pages only."""

from __future__ import annotations

import re

from inventory.models import Api, ApiStatus, Environment
from tests.data import data_file, upload
from tests.inventory.pages import url

SPEC_V1 = data_file("openapi/payments.yaml")
REQUIREMENTS = data_file("lockfiles/requirements.txt")


def test_it_registers_reviews_and_lists_an_api_end_to_end(org, alice, bob, ciso, login):
    dev = login(alice)
    response = dev.post(url("create"), {"org_unit": org.team.pk, "name": "Payments", "slug": "payments"})
    assert response.status_code == 302
    sections = {
        "basics": {"name": "Payments", "description": "Moves money", "version": "1.0", "lifecycle": "production"},
        "contact": {"technical_contact_name": "Alice", "technical_contact_email": "alice@example.com"},
        "security": {"exposure": "public", "data_classification": "confidential", "handles_personal_data": "on",
                     "auth_schemes": ["bearer"], "protocols": ["rest_https"]},
        "availability": {"availability_target": "99.9"},
    }  # fmt: skip
    for section, data in sections.items():
        assert dev.post(url("edit_section", "payments", section), data).status_code == 302, section
    assert (
        dev.post(
            url("environment_save", "payments"),
            {"name": "production", "base_urls": "https://pay.example.com"},
        ).status_code
        == 302
    )
    env = Environment.objects.get(api__slug="payments")
    assert (
        dev.post(url("server_attach", "payments", env.pk), {f"server-{env.pk}-hostname": "app1"}).status_code
        == 302
    )
    p = f"baseline-{env.pk}-"
    baseline = {p + "p50_ms": 20, p + "p95_ms": 80, p + "p99_ms": 200, p + "requests_per_second": "150",
                p + "error_rate_percent": "0.1"}  # fmt: skip
    assert dev.post(url("baseline_save", "payments", env.pk), baseline).status_code == 302
    assert (
        dev.post(url("spec_upload", "payments"), {"file": upload("openapi.yaml", SPEC_V1)}).status_code == 302
    )
    response = dev.post(
        url("components_upload", "payments"), {"file": upload("requirements.txt", REQUIREMENTS)}
    )
    assert response.status_code == 302
    api = Api.objects.get(slug="payments")
    assert api.completeness == 100, api.missing
    assert dev.post(url("transition", "payments"), {"action": "submit"}).status_code == 302

    security = login(ciso)
    page = security.get(url("detail", "payments")).content.decode()
    shown = re.search(r'name="revision" value="(\d+)"', page)
    assert shown, "the approve form carries the revision the page shows"
    approve = {"action": "approve", "comment": "Fine", "revision": shown.group(1)}
    assert security.post(url("transition", "payments"), approve).status_code == 302
    api.refresh_from_db()
    assert api.status == ApiStatus.APPROVED

    body = login(bob).get(url("list"), {"status": "approved"}).content.decode()
    assert "Payments" in body and "Approved" in body
    body = security.get(url("list")).content.decode()
    assert "Payments" in body
