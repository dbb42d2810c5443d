"""SBOMs written by the official CycloneDX library (what real tools emit) parse as expected."""

from __future__ import annotations

import pytest
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.output.json import JsonV1Dot4, JsonV1Dot5, JsonV1Dot6
from packageurl import PackageURL

from inventory.engines.sbom import parse_sbom


def make_bom() -> Bom:
    bom = Bom()
    app = Component(name="payments", version="1.0", type=ComponentType.APPLICATION, bom_ref="app")
    bom.metadata.component = app
    django = Component(
        name="django", version="5.2.1", purl=PackageURL("pypi", None, "django", "5.2.1"), bom_ref="dj"
    )
    sqlparse = Component(
        name="sqlparse", version="0.5.0", purl=PackageURL("pypi", None, "sqlparse", "0.5.0"), bom_ref="sq"
    )
    scoped = Component(
        name="core",
        group="@angular",
        version="17.0.1",
        purl=PackageURL("npm", "@angular", "core", "17.0.1"),
        bom_ref="ng",
    )
    unknown = Component(name="gizmo", version="2", purl=PackageURL("weird", None, "gizmo", "2"), bom_ref="gz")
    for c in (django, sqlparse, scoped, unknown):
        bom.components.add(c)
    bom.register_dependency(app, [django, scoped, unknown])
    bom.register_dependency(django, [sqlparse])
    return bom


@pytest.mark.parametrize("writer", [JsonV1Dot4, JsonV1Dot5, JsonV1Dot6])
def test_it_reads_the_official_librarys_output(writer):
    parsed = parse_sbom(writer(make_bom()).output_as_string().encode(), filename="bom.json")
    got = {c.name: (c.ecosystem, c.version, c.direct, c.kind) for c in parsed.components}
    assert got["django"] == ("pypi", "5.2.1", True, "framework")
    assert got["sqlparse"] == ("pypi", "0.5.0", False, "library")
    assert got["@angular/core"][:3] == ("npm", "17.0.1", True)
    assert got["gizmo"][0] == "generic"  # an unknown ecosystem is kept, not dropped
    assert "payments" not in got  # the application itself is not its own component
