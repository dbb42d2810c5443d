"""The inventory pages, through their URLs: who may reach them, what they show, what they refuse.

alice is a developer on team, bob a viewer on team, charlie a developer on the sibling team,
carla (ciso) the CISO on the root. Every mutating view gets: anonymous redirected, wrong role 403,
another unit's API 404.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from inventory.models import (
    Api,
    ApiDependency,
    ApiStatus,
    AvailabilityWindow,
    Component,
    DiscoveredEndpoint,
    Environment,
    PerformanceBaseline,
    Spec,
)
from inventory.services import consumers, environments, registration, review, specs
from portal.audit import Actor
from tests.factories import UserFactory, register_api

SYSTEM = Actor.system("tests")

SPEC_V1 = b"""openapi: 3.0.3
info: {title: Payments, version: "1.0"}
paths:
  /payments/{id}:
    get:
      summary: Get a payment
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      security: [{bearer: []}]
      responses:
        "200": {description: The payment}
        "404": {description: No such payment}
components:
  securitySchemes:
    bearer: {type: http, scheme: bearer}
"""

SPEC_V2 = SPEC_V1.replace(b'        "404": {description: No such payment}\n', b"").replace(
    b"components:",
    b"""  /refunds:
    post:
      summary: Refund a payment
      responses:
        "201": {description: Created}
components:""",
)

SWAGGER_2 = b"""swagger: "2.0"
info: {title: Old, version: "1"}
paths: {}
"""

REQUIREMENTS = b"django==5.2.1\nrequests==2.32.3\n"


def url(name: str, *args: object) -> str:
    return reverse(f"inventory:{name}", args=args)


def make_api(unit, slug: str = "payments", **fields) -> Api:  # noqa: ANN001
    return registration.api_create(
        actor=SYSTEM, org_unit=unit, slug=slug, name=fields.pop("name", slug.title()), **fields
    )


def upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


@pytest.fixture
def api(org) -> Api:  # noqa: ANN001
    return make_api(org.team)


@pytest.fixture
def ready(org) -> Api:  # noqa: ANN001
    """A draft with everything submission requires."""
    return register_api(org.team, "ready")


@pytest.fixture
def env(api) -> Environment:  # noqa: ANN001
    return environments.environment_save(
        actor=SYSTEM, api=api, name="production", base_urls=["https://pay.example.com"]
    )


@pytest.fixture
def nobody(org):  # noqa: ANN001, ANN201
    """Logged in, but no role anywhere."""
    return UserFactory(username="nobody")


# --- Access: every view, every persona -------------------------------------------------------------------

GET_VIEWS = [
    ("list", ()),
    ("export", ()),
    ("create", ()),
    ("catalog_upload", ()),
    ("discovery", ()),
    ("discovery_upload", ()),
]
API_GET_VIEWS = [("detail", ()), ("edit_section", ("basics",)), ("spec_diff", ())]
API_POST_VIEWS = [
    ("edit_section", ("basics",)),
    ("transition", ()),
    ("spec_upload", ()),
    ("components_upload", ()),
    ("environment_save", ()),
    ("window_add", ()),
    ("dependency_add", ()),
]


@pytest.mark.parametrize(("name", "args"), GET_VIEWS)
def test_it_redirects_anonymous_to_login(org, name, args):  # noqa: ANN001
    response = Client().get(url(name, *args))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(("name", "args"), API_GET_VIEWS + API_POST_VIEWS)
def test_it_redirects_anonymous_from_api_pages(api, name, args):  # noqa: ANN001
    client = Client()
    response = (
        client.post(url(name, api.slug, *args))
        if (name, args) in API_POST_VIEWS
        else client.get(url(name, api.slug, *args))
    )
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(("name", "args"), [("list", ()), ("export", ()), ("create", ()), ("discovery", ())])
def test_it_forbids_users_without_a_role(nobody, login, name, args):  # noqa: ANN001
    assert login(nobody).get(url(name, *args)).status_code == 403


@pytest.mark.parametrize(("name", "args"), [("create", ()), ("catalog_upload", ()), ("discovery_upload", ())])
def test_it_forbids_viewers_from_registration_pages(bob, login, name, args):  # noqa: ANN001
    assert login(bob).get(url(name, *args)).status_code == 403


@pytest.mark.parametrize(("name", "args"), API_POST_VIEWS)
def test_it_forbids_viewers_from_changing_an_api(api, bob, login, name, args):  # noqa: ANN001
    data = {"action": "submit"} if name == "transition" else {}
    response = login(bob).post(url(name, api.slug, *args), data)
    assert response.status_code == 403


@pytest.mark.parametrize(("name", "args"), API_GET_VIEWS + API_POST_VIEWS)
def test_it_hides_another_units_api(api, charlie, login, name, args):  # noqa: ANN001
    client = login(charlie)
    response = (
        client.post(url(name, api.slug, *args))
        if (name, args) in API_POST_VIEWS
        else client.get(url(name, api.slug, *args))
    )
    assert response.status_code == 404


def test_it_hides_another_units_child_objects(api, env, charlie, login):  # noqa: ANN001
    client = login(charlie)
    for path in (
        url("environment_delete", api.slug, env.pk),
        url("server_attach", api.slug, env.pk),
        url("baseline_save", api.slug, env.pk),
        url("window_delete", api.slug, 1),
        url("dependency_remove", api.slug, 1),
    ):
        assert client.post(path).status_code == 404, path
    assert client.get(url("spec_raw", api.slug, 1)).status_code == 404
    assert Environment.objects.filter(pk=env.pk).exists()


def test_it_rejects_get_on_post_only_views(api, alice, login):  # noqa: ANN001
    assert login(alice).get(url("transition", api.slug)).status_code == 405


# --- List ------------------------------------------------------------------------------------------------


def test_it_lists_only_apis_in_scope(org, alice, login):  # noqa: ANN001
    make_api(org.team, "mine")
    make_api(org.other_team, "theirs")
    body = login(alice).get(url("list")).content.decode()
    assert "mine" in body
    assert "theirs" not in body


def test_it_filters_and_searches(org, ciso, login):  # noqa: ANN001
    make_api(org.team, "alpha-payments", exposure="public")
    make_api(org.sibling, "beta-orders")
    make_api(org.other_team, "gamma-ledger", exposure="public")
    client = login(ciso)
    body = client.get(url("list"), {"unit": "dept"}).content.decode()
    assert "alpha-payments" in body and "beta-orders" in body and "gamma-ledger" not in body
    body = client.get(url("list"), {"exposure": "public"}).content.decode()
    assert "alpha-payments" in body and "gamma-ledger" in body and "beta-orders" not in body
    body = client.get(url("list"), {"q": "orders"}).content.decode()
    assert "beta-orders" in body and "alpha-payments" not in body
    body = client.get(url("list"), {"status": "approved"}).content.decode()
    assert "No APIs match" in body
    body = client.get(url("list"), {"has_spec": "true"}).content.decode()
    assert "No APIs match" in body


def test_it_ignores_invalid_filters_and_says_so(api, alice, login):  # noqa: ANN001
    response = login(alice).get(url("list"), {"min_completeness": "lots", "sort": "hack"})
    assert response.status_code == 200
    assert "were not valid" in response.content.decode()
    assert api.slug in response.content.decode()


def test_it_sorts_by_completeness(org, alice, login):  # noqa: ANN001
    make_api(org.team, "bare")
    make_api(org.team, "described", description="Does things", technical_contact_email="a@example.com")
    body = login(alice).get(url("list"), {"sort": "-completeness"}).content.decode()
    assert body.index("described") < body.index("bare")


def test_it_flags_stale_apis(org, alice, login):  # noqa: ANN001
    old = make_api(org.team, "old-api")
    Api.objects.filter(pk=old.pk).update(
        status=ApiStatus.APPROVED, confirmed_at=timezone.now() - timedelta(days=400)
    )
    # A draft is still being written: it is never stale, however old.
    draft = make_api(org.team, "old-draft")
    Api.objects.filter(pk=draft.pk).update(confirmed_at=timezone.now() - timedelta(days=400))
    make_api(org.team, "fresh-api")
    client = login(alice)
    body = client.get(url("list")).content.decode()
    assert body.count(">stale</span>") == 1
    body = client.get(url("list"), {"stale": "on"}).content.decode()
    assert "old-api" in body and "fresh-api" not in body and "old-draft" not in body


def test_it_pages_the_list(org, alice, login):  # noqa: ANN001
    for i in range(55):
        make_api(org.team, f"api-{i:02d}")
    client = login(alice)
    first = client.get(url("list")).content.decode()
    assert "api-49" in first and "api-50" not in first and "page=2" in first
    second = client.get(url("list"), {"page": 2}).content.decode()
    assert "api-50" in second and "api-54" in second and "api-49" not in second


def test_it_keeps_the_list_query_count_constant(org, alice, login):  # noqa: ANN001
    client = login(alice)

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url("list")).status_code == 200
        return len(ctx.captured_queries)

    for i in range(5):
        make_api(org.team, f"small-{i}")
    count_queries()  # the first request of a session does its own bookkeeping
    small = count_queries()
    for i in range(45):
        make_api(org.team, f"large-{i}")
    assert count_queries() == small


# --- CSV export ------------------------------------------------------------------------------------------


def test_it_exports_csv_safe_from_formulas(org, alice, login):  # noqa: ANN001
    make_api(org.team, "evil", name="=cmd()", description="x", technical_contact_name="+1")
    make_api(org.other_team, "hidden")
    response = login(alice).get(url("export"))
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][0] == "slug"
    by_slug = {r[0]: r for r in rows[1:]}
    assert set(by_slug) == {"evil"}
    assert by_slug["evil"][1] == "'=cmd()"


def test_it_exports_with_the_list_filters(org, alice, login):  # noqa: ANN001
    make_api(org.team, "keep", exposure="public")
    make_api(org.team, "drop")
    response = login(alice).get(url("export"), {"exposure": "public"})
    body = b"".join(response.streaming_content).decode()
    assert "keep" in body and "drop" not in body


# --- Create ----------------------------------------------------------------------------------------------


def test_it_offers_only_units_where_the_user_may_register(org, alice, login):  # noqa: ANN001
    body = login(alice).get(url("create")).content.decode()
    assert f'value="{org.team.pk}"' in body
    assert f'value="{org.sibling.pk}"' not in body


def test_it_preselects_the_only_unit_the_user_may_register_for(org, alice, make_member, login):  # noqa: ANN001
    body = login(alice).get(url("create")).content.decode()
    assert f'<option value="{org.team.pk}" selected>' in body
    assert '<option value="" selected>' not in body  # no empty choice left to pick by mistake
    # Someone who may register for several units chooses one.
    body = login(make_member("developer", org.dept, "dana")).get(url("create")).content.decode()
    assert '<option value="" selected>' in body
    assert f'<option value="{org.team.pk}">' in body and f'<option value="{org.sibling.pk}">' in body


def test_it_suggests_the_slug_from_the_name(org, alice, login):  # noqa: ANN001
    body = login(alice).get(url("create")).content.decode()
    slug_input = re.search(r'<input[^>]*name="slug"[^>]*>', body)
    assert slug_input is not None and 'data-slug-from="name"' in slug_input.group()
    assert re.search(r'<script src="[^"]*portal/forms\.js" defer>', body)
    # Only a suggestion: the server still refuses what is not a slug.
    response = login(alice).post(
        url("create"), {"org_unit": org.team.pk, "name": "Pay", "slug": "Not a slug!"}
    )
    assert response.status_code == 400 and not Api.objects.exists()


def test_it_creates_a_draft(org, alice, login):  # noqa: ANN001
    response = login(alice).post(
        url("create"), {"org_unit": org.team.pk, "name": "Payments", "slug": "payments"}
    )
    api = Api.objects.get(slug="payments")
    assert response.status_code == 302
    assert response["Location"] == url("detail", "payments")
    assert api.status == ApiStatus.DRAFT and api.org_unit == org.team


def test_it_refuses_another_units_team_on_create(org, alice, login):  # noqa: ANN001
    response = login(alice).post(url("create"), {"org_unit": org.sibling.pk, "name": "X", "slug": "x"})
    assert response.status_code == 400
    assert not Api.objects.exists()


def test_it_reports_a_duplicate_slug(org, api, alice, login):  # noqa: ANN001
    response = login(alice).post(url("create"), {"org_unit": org.team.pk, "name": "Again", "slug": api.slug})
    assert response.status_code == 400
    assert "already registered" in response.content.decode()


# --- Detail ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tab", ["overview", "spec", "packages", "servers", "consumers", "metrics", "history"]
)
def test_it_renders_every_tab(api, env, alice, login, tab):  # noqa: ANN001
    client = login(alice)
    full = client.get(url("detail", api.slug), {"tab": tab})
    assert full.status_code == 200
    assert "<html" in full.content.decode()
    partial = client.get(url("detail", api.slug), {"tab": tab}, HTTP_HX_REQUEST="true")
    assert partial.status_code == 200
    assert "<html" not in partial.content.decode()
    assert "HX-Request" in partial["Vary"]


TAB_KEYS = ["overview", "spec", "packages", "servers", "consumers", "metrics", "history"]


def highlighted_tabs(html: str) -> list[str]:
    """The tabs of the API page's tab bar shown as current: active and aria-current="page"."""
    bar = re.search(r'<ul class="nav nav-tabs[^"]*" id="api-tabs"[^>]*>(.*?)</ul>', html, re.S)
    assert bar is not None
    links = re.findall(r"<a ([^>]*)>", bar.group(1))
    assert len(links) == len(TAB_KEYS)
    current = []
    for attrs in links:
        active = re.search(r'class="nav-link active"', attrs) is not None
        assert active == ('aria-current="page"' in attrs), attrs  # both or neither
        if active:
            current.append(re.search(r'href="\?tab=([a-z]+)"', attrs).group(1))
    return current


@pytest.mark.parametrize("tab", TAB_KEYS)
def test_it_highlights_the_tab_it_shows(api, env, alice, login, tab):  # noqa: ANN001
    client = login(alice)
    assert highlighted_tabs(client.get(url("detail", api.slug), {"tab": tab}).content.decode()) == [tab]
    # An htmx click swaps the tab's content and, out of band, the tab bar with the new tab highlighted.
    swap = client.get(url("detail", api.slug), {"tab": tab}, HTTP_HX_REQUEST="true").content.decode()
    assert re.search(r'<ul class="nav nav-tabs[^"]*" id="api-tabs" hx-swap-oob="true">', swap)
    assert highlighted_tabs(swap) == [tab]


def test_it_highlights_overview_for_an_unknown_tab(api, alice, login):  # noqa: ANN001
    assert highlighted_tabs(login(alice).get(url("detail", api.slug), {"tab": "nope"}).content.decode()) == [
        "overview"
    ]


def test_it_shows_a_viewer_no_buttons(api, bob, login):  # noqa: ANN001
    body = login(bob).get(url("detail", api.slug)).content.decode()
    assert api.name in body
    assert "Submit for review" not in body
    assert url("edit_section", api.slug, "basics") not in body


def test_it_shows_only_allowed_transitions(ready, alice, ciso, login):  # noqa: ANN001
    body = login(alice).get(url("detail", ready.slug)).content.decode()
    assert "Submit for review" in body and ">Approve<" not in body
    review.api_submit(actor=SYSTEM, api=ready)
    body = login(alice).get(url("detail", ready.slug)).content.decode()
    assert "Submit for review" not in body and ">Approve<" not in body
    body = login(ciso).get(url("detail", ready.slug)).content.decode()
    assert ">Approve<" in body and "Request changes" in body


def test_it_shows_the_history_in_words(api, alice, login):  # noqa: ANN001
    environments.environment_save(actor=SYSTEM, api=api, name="staging", base_urls=["https://s.example.com"])
    registration.api_update(actor=SYSTEM, api=api, description="Takes payments", lifecycle="production")
    specs.spec_upload(actor=SYSTEM, api=api, data=SPEC_V1, filename="openapi.yaml")
    body = login(alice).get(url("detail", api.slug), {"tab": "history"}).content.decode()
    text = visible_text(body)
    for action in ("Registered", "Environment saved", "Details edited", "OpenAPI document uploaded"):
        assert action in text, action
    assert "api.create" not in text and "api.environment_save" not in text
    # Each changed field, before → after; a child object says what it is.
    assert "Description: — → Takes payments" in text
    assert "Lifecycle: Design → Production" in text
    assert "Environment: Payments / staging" in text and "Base URLs: https://s.example.com" in text
    # No full digests, a short prefix at most.
    digest = Spec.objects.get(api=api).sha256
    assert digest not in body and f"SHA-256: {digest[:12]}…" in text
    # A compact date that does not wrap.
    assert re.search(
        r'<td class="text-nowrap"><time datetime="[^"]+" title="[^"]+">\d{4}-\d\d-\d\d \d\d:\d\d</time>', body
    )


def test_it_shows_a_status_change_in_the_history(ready, alice, login):  # noqa: ANN001
    review.api_submit(actor=SYSTEM, api=ready)
    text = visible_text(login(alice).get(url("detail", ready.slug), {"tab": "history"}).content.decode())
    assert "Submitted for review Status: Draft → Submitted for review" in text


def visible_text(html: str) -> str:
    """The page's words as a reader meets them: tags dropped, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_it_says_production_once_for_an_environment_named_production(api, alice, login):  # noqa: ANN001
    for name in ("production", "live"):
        environments.environment_save(
            actor=SYSTEM, api=api, name=name, base_urls=[f"https://{name}.example.com"], is_production=True
        )
    client = login(alice)
    for tab in ("overview", "servers"):
        text = visible_text(client.get(url("detail", api.slug), {"tab": tab}).content.decode())
        assert "production production" not in text, tab
        assert "live production" in text, tab  # a production environment by another name says so


def _luminance(colour: str) -> float:
    digits = colour.lstrip("#")
    digits = "".join(d * 2 for d in digits) if len(digits) == 3 else digits
    channels = [int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """The WCAG contrast ratio of two #rrggbb colours."""
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def css_rules() -> dict[str, dict[str, str]]:
    from django.conf import settings

    css = (settings.BASE_DIR / "portal/static/portal/portal.css").read_text()
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    return {
        selector.strip(): dict(
            (name.strip(), value.strip())
            for name, value in (d.split(":", 1) for d in body.split(";") if ":" in d)
        )
        for selector, body in re.findall(r"([^{}]+)\{([^}]*)\}", css)
    }


def test_every_status_badge_is_readable(org, alice, login):  # noqa: ANN001
    api = make_api(org.team, "badge")
    client = login(alice)
    rules = css_rules()
    text_colour = rules[".status-badge"]["color"]
    for status in ApiStatus.values:
        Api.objects.filter(pk=api.pk).update(status=status)
        body = client.get(url("detail", api.slug)).content.decode()
        assert f'class="badge status-badge status-{status}"' in body, status
        background = rules[f".status-{status}"]["background-color"]
        assert contrast(text_colour, background) >= 4.5, status  # WCAG AA for the label
        assert contrast(background, "#ffffff") >= 3, status  # the badge stands out from the page


# --- Sections --------------------------------------------------------------------------------------------


def test_every_completeness_piece_names_a_real_section_or_tab():
    from inventory.forms import SECTIONS
    from inventory.selectors import COMPLETENESS_PIECES
    from inventory.views import TABS

    for piece in COMPLETENESS_PIECES:
        assert piece.section in SECTIONS or piece.tab in TABS, piece


WHERE_FILLED_IN = {
    "a description": ("edit_section", "basics"),
    "a technical contact": ("edit_section", "contact"),
    "an environment with a base URL": ("tab", "servers"),
    "the authentication schemes": ("edit_section", "security"),
    "the protocols": ("edit_section", "security"),
    "the packages it is built with (SBOM or lockfile)": ("tab", "packages"),
    "an OpenAPI document": ("tab", "spec"),
    "the servers it runs on": ("tab", "servers"),
    "typical performance metrics": ("tab", "metrics"),
    "an availability target": ("edit_section", "availability"),
}


def missing_items(html: str) -> dict[str, tuple[str, bool]]:
    """label → (href or "" when not a link, marked required) for each item of the "Still missing" box."""
    box = html[html.index('id="missing"') :]
    box = box[: box.index("</ul>")]
    out = {}
    for item in re.findall(r"<li>(.*?)</li>", box, re.S):
        piece = re.search(r'class="missing-piece"(?: href="([^"]+)")?>([^<]+)<', item)
        assert piece is not None, item
        out[piece.group(2)] = ((piece.group(1) or "").replace("&amp;", "&"), "(required)" in item)
    return out


def missing_links(html: str) -> dict[str, str]:
    return {label: href for label, (href, _required) in missing_items(html).items()}


def required_marked(html: str) -> set[str]:
    return {label for label, (_href, required) in missing_items(html).items() if required}


@pytest.mark.parametrize("page", ["detail", "edit_section"])
def test_each_missing_piece_links_to_where_it_is_filled_in(api, alice, login, page):  # noqa: ANN001
    path = url("detail", api.slug) if page == "detail" else url("edit_section", api.slug, "basics")
    body = login(alice).get(path).content.decode()
    expected = {
        label: url("edit_section", api.slug, where)
        if kind == "edit_section"
        else f"{url('detail', api.slug)}?tab={where}"
        for label, (kind, where) in WHERE_FILLED_IN.items()
    }
    assert missing_links(body) == expected
    assert required_marked(body) == {
        "a description", "a technical contact", "an environment with a base URL", "the authentication schemes",
        "the protocols",
    }  # fmt: skip


def test_a_viewer_gets_links_only_to_the_tabs(api, bob, login):  # noqa: ANN001
    links = missing_links(login(bob).get(url("detail", api.slug)).content.decode())
    assert links["a description"] == ""  # an edit page bob may not open
    assert links["an OpenAPI document"] == f"{url('detail', api.slug)}?tab=spec"


def test_it_404s_an_unknown_section(api, alice, login):  # noqa: ANN001
    assert login(alice).get(url("edit_section", api.slug, "nope")).status_code == 404


def test_it_prefills_a_section_and_shows_what_is_missing(org, alice, login):  # noqa: ANN001
    api = make_api(org.team, "prefilled", description="Moves money")
    body = login(alice).get(url("edit_section", api.slug, "basics")).content.decode()
    assert "Moves money" in body
    assert "Still missing" in body and "a technical contact" in body and "an OpenAPI document" in body
    assert ">a description</a>" not in body and ">a technical contact</a>" in body


def test_it_saves_one_section_and_updates_missing(api, alice, login):  # noqa: ANN001
    client = login(alice)
    response = client.post(
        url("edit_section", api.slug, "contact"),
        {"technical_contact_name": "Ann", "technical_contact_email": "ann@example.com"},
    )
    assert response.status_code == 302
    api.refresh_from_db()
    assert api.technical_contact_email == "ann@example.com"
    assert "a technical contact" not in api.missing
    body = client.get(response["Location"]).content.decode()
    assert "Contact" in body or "contact" in body
    assert ">a technical contact</a>" not in body and ">a description</a>" in body


def test_it_shows_section_errors(api, alice, login):  # noqa: ANN001
    response = login(alice).post(
        url("edit_section", api.slug, "contact"), {"technical_contact_email": "nope"}
    )
    assert response.status_code == 400
    assert "valid email" in response.content.decode()


def test_it_shows_service_errors_on_the_field(api, alice, login):  # noqa: ANN001
    data = {"exposure": "public", "data_classification": "internal", "auth_schemes": ["none", "bearer"]}
    response = login(alice).post(url("edit_section", api.slug, "security"), data)
    assert response.status_code == 400
    assert "cannot be combined" in response.content.decode()
    api.refresh_from_db()
    assert api.auth_schemes == []


# --- Transitions -----------------------------------------------------------------------------------------


def test_submit_says_what_is_missing_and_is_refused(api, alice, login):  # noqa: ANN001
    client = login(alice)
    body = client.get(url("detail", api.slug)).content.decode()
    assert 'type="submit" disabled' in body and "before submitting" in body
    response = client.post(url("transition", api.slug), {"action": "submit"})
    assert response.status_code == 400
    assert "a technical contact" in response.content.decode()
    api.refresh_from_db()
    assert api.status == ApiStatus.DRAFT


def test_confirm_is_offered_only_on_a_record_in_use(ready, alice, ciso, login):  # noqa: ANN001
    client = login(alice)
    assert "Confirm still accurate" not in client.get(url("detail", ready.slug)).content.decode()
    assert client.post(url("confirm", ready.slug)).status_code == 400
    review.api_submit(actor=SYSTEM, api=ready)
    review.api_approve(actor=Actor(user=ciso), api=ready)
    assert "Confirm still accurate" in client.get(url("detail", ready.slug)).content.decode()
    assert client.post(url("confirm", ready.slug)).status_code == 302


def test_each_move_shows_its_own_input(ready, ciso, login):  # noqa: ANN001
    review.api_submit(actor=SYSTEM, api=ready)
    body = login(ciso).get(url("detail", ready.slug)).content.decode()
    approve = body[body.index('value="approve"') : body.index(">Approve<")]
    request_changes = body[body.index('value="request_changes"') : body.index(">Request changes<")]
    assert "Comment" in approve and "required" not in approve
    assert "What must change" in request_changes and "required" in request_changes
    assert "Reason" not in body  # suspend is not possible from submitted


def test_it_refuses_approval_by_the_owner(ready, alice, login):  # noqa: ANN001
    review.api_submit(actor=SYSTEM, api=ready)
    response = login(alice).post(url("transition", ready.slug), {"action": "approve"})
    assert response.status_code == 403
    ready.refresh_from_db()
    assert ready.status == ApiStatus.SUBMITTED


def test_it_reports_an_illegal_transition(ready, alice, login):  # noqa: ANN001
    response = login(alice).post(url("transition", ready.slug), {"action": "retire"})
    assert response.status_code == 400
    assert "Cannot retire from draft." in response.content.decode()


def test_it_needs_a_comment_to_request_changes(ready, ciso, login):  # noqa: ANN001
    review.api_submit(actor=SYSTEM, api=ready)
    client = login(ciso)
    response = client.post(url("transition", ready.slug), {"action": "request_changes", "comment": ""})
    assert response.status_code == 400
    assert "Say what must change" in response.content.decode()
    response = client.post(
        url("transition", ready.slug), {"action": "request_changes", "comment": "Add a spec"}
    )
    assert response.status_code == 302
    ready.refresh_from_db()
    assert ready.status == ApiStatus.CHANGES_REQUESTED
    assert "Add a spec" in client.get(url("detail", ready.slug)).content.decode()


def test_it_rejects_an_unknown_action(api, alice, login):  # noqa: ANN001
    assert login(alice).post(url("transition", api.slug), {"action": "explode"}).status_code == 400


# --- Spec ------------------------------------------------------------------------------------------------


def test_it_uploads_a_spec_and_shows_its_docs(api, alice, login):  # noqa: ANN001
    client = login(alice)
    response = client.post(url("spec_upload", api.slug), {"file": upload("openapi.yaml", SPEC_V1)})
    assert response.status_code == 302
    assert Spec.objects.filter(api=api, is_current=True).count() == 1
    body = client.get(url("detail", api.slug), {"tab": "spec"}).content.decode()
    assert "/payments/{id}" in body and "Get a payment" in body
    assert "404" in body and "No such payment" in body
    assert "auth required" in body and "last seen: never" in body


def test_it_rejects_a_bad_spec_with_a_short_error(api, alice, login):  # noqa: ANN001
    response = login(alice).post(url("spec_upload", api.slug), {"file": upload("swagger.yaml", SWAGGER_2)})
    assert response.status_code == 400
    assert "Swagger 2.0 is not supported" in response.content.decode()
    assert not Spec.objects.exists()


@override_settings(PORTAL_UPLOAD_MAX_BYTES=100)
def test_it_rejects_an_oversized_upload(api, alice, login):  # noqa: ANN001
    response = login(alice).post(url("spec_upload", api.slug), {"file": upload("openapi.yaml", SPEC_V1)})
    assert response.status_code == 400
    assert "File too large" in response.content.decode()
    assert not Spec.objects.exists()


def test_it_diffs_two_spec_versions(api, alice, login):  # noqa: ANN001
    specs.spec_upload(actor=SYSTEM, api=api, data=SPEC_V1)
    specs.spec_upload(actor=SYSTEM, api=api, data=SPEC_V2)
    response = login(alice).get(url("spec_diff", api.slug), {"from": 1, "to": 2})
    body = response.content.decode()
    assert response.status_code == 200
    assert "/refunds" in body.split('id="diff-added"')[1].split("</ul>")[0]
    assert "/payments/{id}" in body.split('id="diff-changed"')[1]


def test_it_404s_a_diff_against_a_missing_version(api, alice, login):  # noqa: ANN001
    specs.spec_upload(actor=SYSTEM, api=api, data=SPEC_V1)
    specs.spec_upload(actor=SYSTEM, api=api, data=SPEC_V2)
    assert login(alice).get(url("spec_diff", api.slug), {"from": 9, "to": 2}).status_code == 404


def test_it_downloads_a_raw_spec(api, bob, login):  # noqa: ANN001
    specs.spec_upload(actor=SYSTEM, api=api, data=SPEC_V1)
    response = login(bob).get(url("spec_raw", api.slug, 1))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response["Content-Disposition"] == 'attachment; filename="payments-v1.yaml"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response.content == SPEC_V1


# --- Components ------------------------------------------------------------------------------------------


def test_it_uploads_a_lockfile(api, alice, login):  # noqa: ANN001
    client = login(alice)
    response = client.post(
        url("components_upload", api.slug), {"file": upload("requirements.txt", REQUIREMENTS)}
    )
    assert response.status_code == 302
    assert set(Component.objects.filter(api=api).values_list("name", flat=True)) == {"django", "requests"}
    body = client.get(url("detail", api.slug), {"tab": "packages"}).content.decode()
    assert "Added (2)" in body and "pkg:pypi/django@5.2.1" in body


def test_it_rejects_an_unreadable_lockfile(api, alice, login):  # noqa: ANN001
    response = login(alice).post(
        url("components_upload", api.slug), {"file": upload("bom.json", b"{not json")}
    )
    assert response.status_code == 400
    assert not Component.objects.exists()


# --- Environments, servers, baselines, windows -----------------------------------------------------------


def test_it_saves_and_deletes_an_environment(api, alice, login):  # noqa: ANN001
    client = login(alice)
    response = client.post(
        url("environment_save", api.slug), {"name": "staging", "base_urls": "https://s.example.com/v1\n"}
    )
    assert response.status_code == 302
    env = Environment.objects.get(api=api, name="staging")
    assert env.base_urls == ["https://s.example.com/v1"]
    assert client.post(url("environment_delete", api.slug, env.pk)).status_code == 302
    assert not Environment.objects.filter(pk=env.pk).exists()


def test_it_shows_environment_errors(api, alice, login):  # noqa: ANN001
    response = login(alice).post(
        url("environment_save", api.slug), {"name": "staging", "base_urls": "ftp://x"}
    )
    assert response.status_code == 400
    assert "is not an absolute URL" in response.content.decode()
    assert not Environment.objects.exists()


def test_it_attaches_a_server(api, env, alice, login):  # noqa: ANN001
    data = {f"server-{env.pk}-hostname": "App1.Example.com", f"server-{env.pk}-addresses": "10.0.0.1, ::1"}
    response = login(alice).post(url("server_attach", api.slug, env.pk), data)
    assert response.status_code == 302
    server = env.servers.get()
    assert server.hostname == "app1.example.com" and server.addresses == ["10.0.0.1", "::1"]


def test_it_shows_server_errors(api, env, alice, login):  # noqa: ANN001
    data = {f"server-{env.pk}-hostname": "app1", f"server-{env.pk}-addresses": "not-an-ip"}
    response = login(alice).post(url("server_attach", api.slug, env.pk), data)
    assert response.status_code == 400
    assert "is not an IP address" in response.content.decode()
    assert not env.servers.exists()


def test_it_saves_a_baseline(api, env, alice, login):  # noqa: ANN001
    p = f"baseline-{env.pk}-"
    data = {p + "p50_ms": 20, p + "p95_ms": 80, p + "p99_ms": 200, p + "requests_per_second": "150.5",
            p + "error_rate_percent": "0.2"}  # fmt: skip
    assert login(alice).post(url("baseline_save", api.slug, env.pk), data).status_code == 302
    assert PerformanceBaseline.objects.get(environment=env).p95_ms == 80


def test_it_refuses_unordered_percentiles(api, env, alice, login):  # noqa: ANN001
    p = f"baseline-{env.pk}-"
    data = {p + "p50_ms": 300, p + "p95_ms": 80, p + "p99_ms": 200, p + "requests_per_second": "1",
            p + "error_rate_percent": "0"}  # fmt: skip
    response = login(alice).post(url("baseline_save", api.slug, env.pk), data)
    assert response.status_code == 400
    assert "p50 ≤ p95 ≤ p99" in response.content.decode()


def test_it_adds_a_recurring_window(api, alice, login):  # noqa: ANN001
    data = {"kind": "recurring", "timezone": "Europe/Berlin", "weekdays": ["6"], "start_time": "02:00",
            "end_time": "04:00", "description": "Sunday maintenance"}  # fmt: skip
    client = login(alice)
    assert client.post(url("window_add", api.slug), data).status_code == 302
    window = AvailabilityWindow.objects.get(api=api)
    assert window.weekdays == [6] and window.timezone == "Europe/Berlin"
    assert (
        "Sun, 02:00–04:00 Europe/Berlin"
        in client.get(url("detail", api.slug), {"tab": "metrics"}).content.decode()
    )
    assert client.post(url("window_delete", api.slug, window.pk)).status_code == 302
    assert not AvailabilityWindow.objects.exists()


def test_it_reads_one_off_times_in_the_given_timezone(api, alice, login):  # noqa: ANN001
    data = {"kind": "one_off", "timezone": "Europe/Berlin", "starts_at": "2030-01-06T02:00",
            "ends_at": "2030-01-06T03:30"}  # fmt: skip
    assert login(alice).post(url("window_add", api.slug), data).status_code == 302
    window = AvailabilityWindow.objects.get(api=api)
    assert window.starts_at == datetime(2030, 1, 6, 1, 0, tzinfo=UTC)
    assert window.ends_at == datetime(2030, 1, 6, 2, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "recurring", "timezone": "Mars/Olympus", "weekdays": ["0"], "start_time": "01:00",
          "end_time": "02:00"}, "Unknown timezone"),
        ({"kind": "one_off", "timezone": "Mars/Olympus", "starts_at": "2030-01-06T02:00",
          "ends_at": "2030-01-06T03:00"}, "Unknown timezone"),
        ({"kind": "one_off", "timezone": "UTC", "starts_at": "2030-01-06T04:00", "ends_at": "2030-01-06T03:00"},
         "ends before it starts"),
        ({"kind": "recurring", "timezone": "UTC", "weekdays": ["0"], "start_time": "04:00", "end_time": "03:00"},
         "ends before it starts"),
        ({"kind": "recurring", "timezone": "UTC", "weekdays": ["0"], "start_time": "01:00", "end_time": "02:00",
          "environment": "nowhere"}, "no environment of that name"),
    ],
)  # fmt: skip
def test_it_shows_window_errors_in_the_form(api, alice, login, data, message):  # noqa: ANN001
    response = login(alice).post(url("window_add", api.slug), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not AvailabilityWindow.objects.exists()


def fieldset(html: str, show_if: str) -> str:
    match = re.search(rf'<fieldset[^>]*data-show-if="{show_if}"[^>]*>(.*?)</fieldset>', html, re.S)
    assert match is not None, show_if
    assert " hidden" not in match.group() and "disabled" not in match.group()  # all usable without JS
    return match.group(1)


def test_it_groups_the_window_fields_by_kind(api, alice, login):  # noqa: ANN001
    body = login(alice).get(url("detail", api.slug), {"tab": "metrics"}).content.decode()
    form = body[body.index('id="window-form"') : body.index("</form>", body.index('id="window-form"'))]
    assert '<select name="kind"' in form
    recurring, one_off = fieldset(form, "kind=recurring"), fieldset(form, "kind=one_off")
    assert all(f'name="{n}"' in recurring for n in ("weekdays", "start_time", "end_time"))
    assert all(f'name="{n}"' in one_off for n in ("starts_at", "ends_at"))
    assert 'name="starts_at"' not in recurring and 'name="weekdays"' not in one_off
    # Shared by both kinds, outside the fieldsets.
    shared = re.sub(r"<fieldset.*?</fieldset>", "", form, flags=re.S)
    assert all(f'name="{n}"' in shared for n in ("kind", "description", "environment", "timezone"))


def test_it_writes_figures_one_way(org, alice, login):  # noqa: ANN001
    api = make_api(org.team, "figures", availability_target=Decimal("99.900"))
    env = environments.environment_save(
        actor=SYSTEM, api=api, name="prod", base_urls=["https://f.example.com"]
    )
    environments.baseline_save(
        actor=SYSTEM, environment=env, p50_ms=10, p95_ms=20, p99_ms=30,
        requests_per_second=Decimal("12.50"), error_rate_percent=Decimal("0.500"),
    )  # fmt: skip
    client = login(alice)
    overview = visible_text(client.get(url("detail", api.slug)).content.decode())
    metrics = client.get(url("detail", api.slug), {"tab": "metrics"}).content.decode()
    section = client.get(url("edit_section", api.slug, "availability")).content.decode()
    assert "Availability target 99.9 %" in overview
    assert "Target: 99.9 %" in visible_text(metrics)
    assert "12.5 req/s · 0.5 % errors" in visible_text(metrics)
    assert 'value="99.9"' in section and 'value="0.5"' in metrics and 'value="12.5"' in metrics
    for page in (overview, metrics, section):
        assert "99.900" not in page and "0.500" not in page and "12.50 " not in page


def test_it_refuses_overlapping_windows(api, alice, login):  # noqa: ANN001
    data = {
        "kind": "recurring",
        "timezone": "UTC",
        "weekdays": ["0"],
        "start_time": "01:00",
        "end_time": "03:00",
    }
    client = login(alice)
    assert client.post(url("window_add", api.slug), data).status_code == 302
    response = client.post(url("window_add", api.slug), {**data, "start_time": "02:00", "end_time": "04:00"})
    assert response.status_code == 400
    assert "Overlaps" in response.content.decode()


# --- Consumers and blast radius --------------------------------------------------------------------------


def test_it_adds_and_removes_consumers(org, api, alice, login):  # noqa: ANN001
    other = make_api(org.team, "orders")
    client = login(alice)
    assert client.post(url("dependency_add", api.slug), {"consumer_api": "orders"}).status_code == 302
    assert (
        client.post(url("dependency_add", api.slug), {"consumer_service": "Nightly batch"}).status_code == 302
    )
    deps = ApiDependency.objects.filter(api=api)
    assert {str(d.consumer_api or d.consumer_service) for d in deps} == {"Orders", "Nightly batch"}
    assert deps.get(consumer_service__isnull=False).consumer_service.owner == org.team
    dep = deps.get(consumer_api=other)
    assert client.post(url("dependency_remove", api.slug, dep.pk)).status_code == 302
    assert not ApiDependency.objects.filter(pk=dep.pk).exists()


def test_it_does_not_link_an_api_the_user_cannot_see(org, api, alice, login):  # noqa: ANN001
    make_api(org.other_team, "secret")
    response = login(alice).post(url("dependency_add", api.slug), {"consumer_api": "secret"})
    assert response.status_code == 400
    assert "No API with this slug" in response.content.decode()
    assert not ApiDependency.objects.exists()


def test_it_hides_out_of_scope_apis_in_the_blast_radius(org, api, alice, login):  # noqa: ANN001
    visible = make_api(org.team, "orders")
    hidden = make_api(org.other_team, "ledger-secret")
    consumers.dependency_add(actor=SYSTEM, api=api, consumer_api=visible)
    consumers.dependency_add(actor=SYSTEM, api=visible, consumer_api=hidden)
    consumers.dependency_add(actor=SYSTEM, api=hidden, consumer_api=api)  # a cycle back
    body = login(alice).get(url("detail", api.slug), {"tab": "consumers"}).content.decode()
    assert "Orders" in body
    assert "ledger-secret" not in body and "Ledger-Secret" not in body
    assert "And 1 API outside your scope" in body


# --- Catalog ---------------------------------------------------------------------------------------------

CATALOG = b"""apiVersion: backstage.io/v1alpha1
kind: API
metadata: {name: catalog-payments, title: Catalog Payments}
spec:
  type: openapi
  lifecycle: production
  owner: group:default/team
  definition:
    $text: ./specs/openapi.yaml
"""


def test_it_imports_a_catalog_file_with_a_referenced_spec(org, alice, login):  # noqa: ANN001
    client = login(alice)
    data = {"file": upload("catalog-info.yaml", CATALOG), "extra_files": [upload("openapi.yaml", SPEC_V1)]}
    response = client.post(url("catalog_upload"), data)
    assert response.status_code == 302
    api = Api.objects.get(slug="catalog-payments")
    assert api.org_unit == org.team and api.has_spec
    body = client.get(url("catalog_upload")).content.decode()
    assert "Created: catalog-payments" in body


def test_it_lists_catalog_problems_and_imports_nothing(org, alice, login):  # noqa: ANN001
    data = {
        "file": upload("catalog-info.yaml", CATALOG.replace(b"group:default/team", b"group:default/nobody"))
    }
    response = login(alice).post(url("catalog_upload"), data)
    assert response.status_code == 400
    assert "owner &#x27;nobody&#x27; is not a unit" in response.content.decode()
    assert not Api.objects.exists()


def test_it_refuses_a_catalog_for_another_team(org, charlie, login):  # noqa: ANN001
    response = login(charlie).post(url("catalog_upload"), {"file": upload("catalog-info.yaml", CATALOG)})
    assert response.status_code == 400
    assert "may not register" in response.content.decode()
    assert not Api.objects.exists()


# --- Discovery -------------------------------------------------------------------------------------------


def finding(unit, host: str = "shadow.example.com", **fields) -> DiscoveredEndpoint:  # noqa: ANN001
    now = timezone.now()
    defaults = {"finding": DiscoveredEndpoint.Finding.SHADOW_API, "method": "GET", "path_template": "/things/{id}",
                "hits": 3, "first_seen": now, "last_seen": now}  # fmt: skip
    return DiscoveredEndpoint.objects.create(host=host, org_unit=unit, **{**defaults, **fields})


def test_it_lists_discoveries_in_scope(org, api, bob, ciso, login):  # noqa: ANN001
    finding(org.root, "shadow.example.com")
    finding(org.team, "pay.example.com", finding=DiscoveredEndpoint.Finding.UNDOCUMENTED, api=api)
    body = login(bob).get(url("discovery")).content.decode()
    assert "pay.example.com" in body and "shadow.example.com" not in body
    body = login(ciso).get(url("discovery"), {"finding": "shadow_api"}).content.decode()
    assert "shadow.example.com" in body and "pay.example.com" not in body


def test_it_ingests_an_uploaded_log(org, api, env, ciso, login):  # noqa: ANN001
    log = (
        b'10.0.0.1 - - [10/Oct/2024:13:55:36 +0000] "GET /v1/users/42 HTTP/1.1" 200 512 "-" "curl/8"\n'
        b"this is not a log line\n"
    )
    client = login(ciso)
    response = client.post(
        url("discovery_upload"), {"file": upload("access.log", log), "host": "shadow.example.com"}
    )
    assert response.status_code == 302
    body = client.get(response["Location"]).content.decode()
    assert "2 lines, 1 read, 1 skipped" in body
    assert "line 2" in body
    assert "shadow.example.com/v1/users/{id}" in body


def test_it_reports_an_unreadable_log(org, ciso, login):  # noqa: ANN001
    response = login(ciso).post(url("discovery_upload"), {"file": upload("access.log", b"\n\n")})
    assert response.status_code == 400
    assert "empty" in response.content.decode()


def test_it_dismisses_with_a_reason(org, ciso, alice, login):  # noqa: ANN001
    item = finding(org.root)
    # Out of alice's sight: a 404, like every object outside the user's subtree (see the matrix).
    assert login(alice).post(url("discovered_dismiss", item.pk), {"reason": "x"}).status_code == 404
    own = finding(org.team, "own.example.com")
    assert login(alice).post(url("discovered_dismiss", own.pk), {"reason": "x"}).status_code == 403
    client = login(ciso)
    assert client.post(url("discovered_dismiss", item.pk), {"reason": ""}).status_code == 400
    assert client.post(url("discovered_dismiss", item.pk), {"reason": "Test host"}).status_code == 302
    item.refresh_from_db()
    assert item.state == DiscoveredEndpoint.State.DISMISSED and item.dismissed_reason == "Test host"


def test_it_hides_out_of_scope_discoveries(org, alice, login):  # noqa: ANN001
    item = finding(org.root)
    assert login(alice).get(url("discovered_register", item.pk)).status_code == 404


def test_it_registers_a_shadow_api_as_a_draft(org, ciso, login):  # noqa: ANN001
    item = finding(org.root)
    client = login(ciso)
    assert "shadow-example-com" in client.get(url("discovered_register", item.pk)).content.decode()
    response = client.post(
        url("discovered_register", item.pk), {"org_unit": org.team.pk, "name": "Shadow", "slug": "shadow"}
    )
    assert response.status_code == 302
    api = Api.objects.get(slug="shadow")
    assert api.org_unit == org.team and api.status == ApiStatus.DRAFT
    item.refresh_from_db()
    assert item.state == DiscoveredEndpoint.State.REGISTERED and item.registered_api == api


# --- End to end ------------------------------------------------------------------------------------------


def test_it_registers_reviews_and_lists_an_api_end_to_end(org, alice, bob, ciso, login):  # noqa: ANN001
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
    assert (
        security.post(url("transition", "payments"), {"action": "approve", "comment": "Fine"}).status_code
        == 302
    )
    api.refresh_from_db()
    assert api.status == ApiStatus.APPROVED

    body = login(bob).get(url("list"), {"status": "approved"}).content.decode()
    assert "Payments" in body and "Approved" in body
    body = security.get(url("list")).content.decode()
    assert "Payments" in body


def test_it_requires_a_csrf_token(org, api, alice):  # noqa: ANN001
    from tests.conftest import verified_login

    client = verified_login(Client(enforce_csrf_checks=True), alice)
    response = client.post(url("transition", api.slug), {"action": "submit"})
    assert response.status_code == 403
    api.refresh_from_db()
    assert api.status == ApiStatus.DRAFT


def test_it_declares_a_runtime_on_the_packages_tab(alice, login, org):
    from inventory.services import registration
    from portal.audit import Actor

    registration.api_create(actor=Actor(user=alice), org_unit=org.team, slug="rt", name="RT")
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


def test_only_company_wide_reviewers_read_an_ingest_summary(org, ciso, make_member, login):
    from inventory.models import LogIngest
    from portal.models import Role

    ingest = LogIngest.objects.create(
        filename="secret-gateway.log", sha256="0" * 64, format="nginx", lines=1, parsed=1
    )
    assert b"secret-gateway.log" in login(ciso).get(f"/inventory/discovery/?ingest={ingest.pk}").content
    divisional = make_member(Role.SECURITY_ENGINEER, org.division)
    page = login(divisional).get(f"/inventory/discovery/?ingest={ingest.pk}")
    assert page.status_code == 200 and b"secret-gateway.log" not in page.content
    assert login(divisional).get("/inventory/discovery/upload/").status_code == 403


def test_the_owner_filter_offers_only_visible_units(alice, login, org):
    html = login(alice).get("/inventory/").content.decode()
    assert 'value="team"' in html
    assert 'value="sibling"' not in html and 'value="root"' not in html


@override_settings(PORTAL_UPLOAD_MAX_BYTES=100)
@pytest.mark.parametrize("path", ["components_upload", "catalog-extra", "discovery"])
def test_every_upload_field_enforces_the_size_limit(path, alice, ciso, login, org):
    from inventory.services import registration
    from portal.audit import Actor

    big = b"x" * 200
    if path == "components_upload":
        registration.api_create(actor=Actor(user=alice), org_unit=org.team, slug="sz", name="Sz")
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
