"""What a new user saw in the browser, each fixed: the registration form, the tab bar, the history
in words, status badges, completeness links, the window form and figures written one way."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from inventory.models import Api, ApiStatus, Spec
from inventory.services import environments, registration, review, specs
from portal.models import Role
from tests.data import data_file
from tests.factories import SYSTEM, ApiFactory
from tests.inventory.pages import url


@pytest.fixture
def auditor(org, make_member):
    return make_member(Role.AUDITOR, org.root, "audrey")


def test_it_preselects_the_only_unit_the_user_may_register_for(org, alice, make_member, login):
    body = login(alice).get(url("create")).content.decode()
    assert f'<option value="{org.team.pk}" selected>' in body
    assert '<option value="" selected>' not in body  # no empty choice left to pick by mistake
    # Someone who may register for several units chooses one.
    body = login(make_member("developer", org.dept, "dana")).get(url("create")).content.decode()
    assert '<option value="" selected>' in body
    assert f'<option value="{org.team.pk}">' in body and f'<option value="{org.sibling.pk}">' in body


def test_it_suggests_the_slug_from_the_name(org, alice, login):
    body = login(alice).get(url("create")).content.decode()
    slug_input = re.search(r'<input[^>]*name="slug"[^>]*>', body)
    assert slug_input is not None and 'data-slug-from="name"' in slug_input.group()
    assert re.search(r'<script src="[^"]*portal/forms\.js" defer>', body)
    # Only a suggestion: the server still refuses what is not a slug.
    response = login(alice).post(
        url("create"), {"org_unit": org.team.pk, "name": "Pay", "slug": "Not a slug!"}
    )
    assert response.status_code == 400 and not Api.objects.exists()


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
def test_it_highlights_the_tab_it_shows(api, env, auditor, login, tab):
    client = login(auditor)  # sees every tab, the history too
    assert highlighted_tabs(client.get(url("detail", api.slug), {"tab": tab}).content.decode()) == [tab]
    # An htmx click swaps the tab's content and, out of band, the tab bar with the new tab highlighted.
    swap = client.get(url("detail", api.slug), {"tab": tab}, HTTP_HX_REQUEST="true").content.decode()
    assert re.search(r'<ul class="nav nav-tabs[^"]*" id="api-tabs" hx-swap-oob="true">', swap)
    assert highlighted_tabs(swap) == [tab]


def test_it_highlights_overview_for_an_unknown_tab(api, auditor, login):
    assert highlighted_tabs(
        login(auditor).get(url("detail", api.slug), {"tab": "nope"}).content.decode()
    ) == ["overview"]


def test_it_shows_the_history_in_words(api, auditor, login):
    environments.environment_save(actor=SYSTEM, api=api, name="staging", base_urls=["https://s.example.com"])
    registration.api_update(actor=SYSTEM, api=api, description="Takes payments", lifecycle="production")
    specs.spec_upload(actor=SYSTEM, api=api, data=data_file("openapi/payments.yaml"), filename="openapi.yaml")
    body = login(auditor).get(url("detail", api.slug), {"tab": "history"}).content.decode()
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


def test_it_shows_a_status_change_in_the_history(ready, auditor, login):
    review.api_submit(actor=SYSTEM, api=ready)
    text = visible_text(login(auditor).get(url("detail", ready.slug), {"tab": "history"}).content.decode())
    assert "Submitted for review Status: Draft → Submitted for review" in text


def visible_text(html: str) -> str:
    """The page's words as a reader meets them: tags dropped, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_it_says_production_once_for_an_environment_named_production(api, alice, login):
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


def test_every_status_badge_is_readable(org, alice, login):
    api = ApiFactory(org_unit=org.team, slug="badge")
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
def test_each_missing_piece_links_to_where_it_is_filled_in(api, alice, login, page):
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


def test_a_viewer_gets_links_only_to_the_tabs(api, bob, login):
    links = missing_links(login(bob).get(url("detail", api.slug)).content.decode())
    assert links["a description"] == ""  # an edit page bob may not open
    assert links["an OpenAPI document"] == f"{url('detail', api.slug)}?tab=spec"


def fieldset(html: str, show_if: str) -> str:
    match = re.search(rf'<fieldset[^>]*data-show-if="{show_if}"[^>]*>(.*?)</fieldset>', html, re.S)
    assert match is not None, show_if
    assert " hidden" not in match.group() and "disabled" not in match.group()  # all usable without JS
    return match.group(1)


def test_it_groups_the_window_fields_by_kind(api, alice, login):
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


def test_it_writes_figures_one_way(org, alice, login):
    api = ApiFactory(org_unit=org.team, slug="figures", availability_target=Decimal("99.900"))
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
