"""Every upload field of the inventory pages enforces the size limit."""

from __future__ import annotations

import pytest
from django.test import override_settings

from portal.audit import Actor
from tests.data import upload
from tests.factories import ApiFactory
from tests.inventory.pages import url


@override_settings(PORTAL_UPLOAD_MAX_BYTES=100)
@pytest.mark.parametrize("path", ["components_upload", "catalog-extra", "discovery"])
def test_every_upload_field_enforces_the_size_limit(path, alice, ciso, login, org):
    big = b"x" * 200
    if path == "components_upload":
        ApiFactory(org_unit=org.team, slug="sz", name="Sz", actor=Actor(user=alice))
        response = login(alice).post(
            url("components_upload", "sz"), {"file": upload("requirements.txt", big)}
        )
    elif path == "catalog-extra":
        response = login(alice).post(
            "/inventory/catalog/",
            {
                "file": upload("catalog-info.yaml", b"kind: API\n"),
                "extra_files": [upload("openapi.yaml", big)],
            },
        )
    else:
        response = login(ciso).post("/inventory/discovery/upload/", {"file": upload("access.log", big)})
    assert response.status_code == 400
    assert "File too large" in response.content.decode()
