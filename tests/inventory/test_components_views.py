"""The packages an API is built with: lockfile and SBOM uploads, declared runtimes."""

from __future__ import annotations

from inventory.models import Component
from portal.audit import Actor
from tests.data import data_file, upload
from tests.factories import ApiFactory
from tests.inventory.pages import url

REQUIREMENTS = data_file("lockfiles/requirements.txt")


def test_it_uploads_a_lockfile(api, alice, login):
    client = login(alice)
    response = client.post(
        url("components_upload", api.slug), {"file": upload("requirements.txt", REQUIREMENTS)}
    )
    assert response.status_code == 302
    assert set(Component.objects.filter(api=api).values_list("name", flat=True)) == {"django", "requests"}
    body = client.get(url("detail", api.slug), {"tab": "packages"}).content.decode()
    assert "Added (2)" in body and "pkg:pypi/django@5.2.1" in body


def test_it_rejects_an_unreadable_lockfile(api, alice, login):
    response = login(alice).post(
        url("components_upload", api.slug), {"file": upload("bom.json", b"{not json")}
    )
    assert response.status_code == 400
    assert not Component.objects.exists()


def test_it_declares_a_runtime_on_the_packages_tab(alice, login, org):
    ApiFactory(org_unit=org.team, slug="rt", name="RT", actor=Actor(user=alice))
    client = login(alice)
    page = client.get("/inventory/apis/rt/?tab=packages")
    assert b"Declare a framework or runtime" in page.content
    r = client.post(
        "/inventory/apis/rt/components/declare/",
        {"kind": "runtime", "ecosystem": "generic", "name": "openjdk", "version": "21"},
    )
    assert r.status_code == 302
    assert b"openjdk" in client.get("/inventory/apis/rt/?tab=packages").content
    bad = client.post(
        "/inventory/apis/rt/components/declare/", {"kind": "spaceship", "ecosystem": "generic", "name": "x"}
    )
    assert bad.status_code == 400
