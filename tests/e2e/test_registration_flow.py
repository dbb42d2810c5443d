"""The issue's "done when", in a real browser: a developer registers an API end to end in the browser
and from CI with a token, the security team approves it, and a CISO sees it in the list.

One long story on purpose (each step builds on the previous one); every step waits at most 10 s.
Screenshots of the key pages land in /tmp/e2e-*.png for a human to look at.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from typing import Any

import pytest
from django_otp.oath import totp

from inventory.models import Api, ApiStatus
from portal.models import OrgUnit, Role
from tests.data import data_file
from tests.e2e.conftest import STEP_TIMEOUT_MS
from tests.factories import TEST_PASSWORD, TOTPDeviceFactory, UserFactory, grant, make_unit

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

OPENAPI_YAML = data_file("openapi/payments.yaml")
REQUIREMENTS_TXT = data_file("lockfiles/requirements.txt")


def expect(target: Any) -> Any:
    from playwright.sync_api import expect as pw_expect

    pw_expect.set_options(timeout=STEP_TIMEOUT_MS)
    return pw_expect(target)


def shot(page: Any, name: str) -> None:
    # caret="initial": the default hides the caret by touching inputs' style, which htmx would then
    # try to copy while settling a swap (a CSP violation the page itself never causes).
    page.screenshot(path=f"/tmp/e2e-{name}.png", full_page=True, caret="initial")


def log_in(page: Any, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def nav_link(page: Any, name: str) -> Any:
    return page.locator("nav.navbar").get_by_role("link", name=name, exact=True)


def flash(page: Any) -> Any:
    return page.locator("main > .alert").first


def completeness(page: Any) -> int:
    return int(page.locator("meter.completeness-meter").first.get_attribute("value"))


def missing(page: Any) -> list[str]:
    return [text.strip() for text in page.locator("#missing li .missing-piece").all_inner_texts()]


def call_api(method: str, url: str, token: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """What a CI job does: one JSON request with the personal token, no cookies, no CSRF."""
    request = urllib.request.Request(  # noqa: S310 (the live server's own http:// URL)
        url,
        data=json.dumps(body).encode(),
        method=method,
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=STEP_TIMEOUT_MS / 1000) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def list_row(page: Any, slug: str) -> Any:
    return page.locator("table tbody tr").filter(has=page.locator("code", has_text=re.compile(f"^{slug}$")))


def test_register_approve_and_list(live_server: Any, new_page: Any) -> None:
    base = live_server.url
    root = make_unit("acme", None, OrgUnit.Kind.COMPANY, name="Acme Group")
    team = make_unit("payments-team", root, OrgUnit.Kind.TEAM, name="Payments Team")
    developer = UserFactory(username="dev")
    grant(developer, team, Role.DEVELOPER)
    ciso = UserFactory(username="ciso")
    grant(ciso, root, Role.CISO)
    device = TOTPDeviceFactory(user=ciso, name="phone")
    viewer = UserFactory(username="viewer")
    grant(viewer, root, Role.VIEWER)

    # --- The developer registers the API in the browser -------------------------------------------
    dev = new_page()
    log_in(dev, base, developer.username)
    shot(dev, "01-developer-home")
    nav_link(dev, "APIs").click()
    expect(dev.get_by_role("heading", name="APIs")).to_be_visible()
    dev.get_by_role("link", name="Register an API").click()
    expect(dev.get_by_role("heading", name="Register an API")).to_be_visible()
    # The developer may register for one team only: it is chosen already.
    expect(dev.get_by_label("Owning team").locator("option:checked")).to_have_text("Payments Team")
    dev.get_by_label("Name").press_sequentially("Payments API")
    expect(dev.get_by_label("Slug")).to_have_value("payments-api")  # suggested while typing
    dev.get_by_label("Slug").fill("payments-api")
    shot(dev, "02-register")
    dev.get_by_role("button", name="Create draft").click()

    expect(dev.get_by_role("heading", name="Payments API", exact=True)).to_be_visible()
    expect(flash(dev)).to_contain_text("Draft “Payments API” created")
    expect(dev.locator(".badge", has_text="Draft")).to_be_visible()
    scores = [completeness(dev)]
    gaps = [missing(dev)]
    assert scores == [0] and len(gaps[0]) == 10, (scores, gaps)

    def completeness_went_up() -> None:
        scores.append(completeness(dev))
        assert scores[-1] > scores[-2], f"completeness did not increase: {scores}"

    def save_section(expected_message: str) -> None:
        dev.get_by_role("button", name="Save", exact=True).click()
        expect(flash(dev)).to_have_text(expected_message)
        completeness_went_up()
        gaps.append(missing(dev))
        assert len(gaps[-1]) < len(gaps[-2]), f"'still missing' did not shrink: {gaps}"

    dev.get_by_role("link", name="Basics", exact=True).click()
    expect(dev.get_by_role("heading", name="Basics")).to_be_visible()
    dev.get_by_label("Description").fill("Takes and refunds card payments for the web shop.")
    dev.get_by_label("Version").fill("1.0.0")
    dev.get_by_label("Lifecycle").select_option(label="Production")
    save_section("Basics saved.")
    assert "a description" not in gaps[-1]
    shot(dev, "03-section-basics")

    dev.get_by_role("link", name="Next section").click()
    expect(dev.get_by_role("heading", name="Technical contact")).to_be_visible()
    dev.get_by_label("Name").fill("Dana Developer")
    dev.get_by_label("Email").fill("dana@example.com")
    save_section("Technical contact saved.")

    dev.get_by_role("link", name="Next section").click()
    expect(dev.get_by_role("heading", name="Security profile")).to_be_visible()
    dev.get_by_label("Exposure").select_option(label="Public")
    dev.get_by_label("Data classification").select_option(label="Confidential")
    dev.get_by_label("Handles personal data").check()
    dev.get_by_label("Bearer token / JWT").check()
    dev.get_by_label("OAuth 2.0").check()
    dev.get_by_label("REST over HTTPS").check()
    save_section("Security profile saved.")
    assert "the authentication schemes" not in gaps[-1] and "the protocols" not in gaps[-1]
    expect(dev.get_by_label("Bearer token / JWT")).to_be_checked()
    shot(dev, "04-section-security")

    dev.get_by_role("link", name="Next section").click()
    expect(dev.get_by_role("heading", name="Availability target")).to_be_visible()
    dev.get_by_label("Availability target (%)").fill("99.9")
    save_section("Availability target saved.")
    expect(dev.get_by_role("link", name="Next section")).to_have_count(0)

    # Environments, the OpenAPI document and the packages live on the API page's tabs.
    dev.get_by_role("link", name="Environments & servers").click()
    expect(dev.locator("#environment-form")).to_be_visible()
    env_form = dev.locator("#environment-form")
    env_form.get_by_label("Name").fill("production")
    env_form.get_by_label(re.compile(r"^Base URLs?$", re.I)).fill("https://payments.example.com/v1")
    env_form.get_by_label(re.compile(r"production", re.I)).check()
    env_form.get_by_role("button", name="Save environment").click()
    expect(flash(dev)).to_have_text("Environment “production” saved.")
    expect(dev.locator(".card-header", has_text="production")).to_contain_text(
        "https://payments.example.com/v1"
    )
    completeness_went_up()
    shot(dev, "05-environments")

    # The tabs are swapped in by htmx (no full page load); the upload forms are in the swapped part.
    dev.get_by_role("link", name="Spec & operations").click()
    spec_form = dev.locator("#spec-upload")
    expect(spec_form).to_be_visible()
    expect(dev).to_have_url(re.compile(r"\?tab=spec$"))
    current_tab = dev.locator("#api-tabs [aria-current=page]")
    expect(current_tab).to_have_text("Spec & operations")  # the highlight follows the swap
    expect(dev.locator("#api-tabs .active")).to_have_count(1)
    spec_form.locator("input[type=file]").set_input_files(
        {"name": "openapi.yaml", "mimeType": "application/yaml", "buffer": OPENAPI_YAML}
    )
    spec_form.get_by_role("button", name="Upload").click()
    expect(flash(dev)).to_have_text("Spec version 1 stored: 2 operations.")
    expect(dev.get_by_role("heading", name="Operations (2)")).to_be_visible()
    expect(dev.locator(".card-header code", has_text="/payments/{id}")).to_be_visible()
    completeness_went_up()
    shot(dev, "06-spec")

    dev.get_by_role("link", name="Packages", exact=True).click()
    packages_form = dev.locator("#components-upload")
    expect(packages_form).to_be_visible()
    packages_form.locator("input[type=file]").set_input_files(
        {"name": "requirements.txt", "mimeType": "text/plain", "buffer": REQUIREMENTS_TXT}
    )
    packages_form.get_by_role("button", name="Upload").click()
    expect(flash(dev)).to_contain_text("2 components from requirements.txt")
    expect(dev.locator("table tbody tr", has_text="requests")).to_contain_text("2.32.3")
    completeness_went_up()
    shot(dev, "07-packages")

    # The downtime window form shows the fields of the chosen kind only (in a tab swapped in by htmx).
    dev.get_by_role("link", name="Metrics & windows").click()
    expect(current_tab).to_have_text("Metrics & windows")
    window_form = dev.locator("#window-form")
    expect(window_form.get_by_label("Start time")).to_be_visible()
    expect(window_form.get_by_label("Starts at")).to_be_hidden()
    window_form.get_by_label("Kind").select_option(label="One-off")
    expect(window_form.get_by_label("Starts at")).to_be_visible()
    expect(window_form.get_by_label("Start time")).to_be_hidden()
    shot(dev, "07b-window-form")

    dev.get_by_role("link", name="Overview").click()
    expect(dev.locator("#missing")).to_be_visible()
    assert scores == [0, 10, 20, 40, 50, 60, 70, 80], scores
    gaps.append(missing(dev))
    assert gaps[-1] == ["the servers it runs on", "typical performance metrics"], gaps
    facts = dev.locator("#tab-content dl")
    expect(facts).to_contain_text("Bearer token / JWT, OAuth 2.0")
    expect(facts).to_contain_text("REST over HTTPS")
    expect(facts).to_contain_text("99.9 %")
    expect(facts).to_contain_text("Dana Developer <dana@example.com>")

    # --- The same developer's CI job, with a personal token created in the UI --------------------
    nav_link(dev, "API tokens").click()
    dev.get_by_label("Name").fill("payments CI")
    dev.get_by_role("button", name="Create token").click()
    token = dev.locator("#new-token").inner_text().strip()
    assert len(token) >= 20, token
    expect(dev.locator("table tbody tr", has_text="payments CI")).to_contain_text("active")
    # The secret is shown once; screenshots must not keep it.
    dev.locator("#new-token").evaluate("node => { node.textContent = '(hidden in the screenshot)'; }")
    shot(dev, "08-api-tokens")

    api_url = f"{base}/api/v1/inventory/apis/payments-api/"
    update = {"name": "Payments API", "version": "1.1.0", "org_unit": team.slug}
    status, body = call_api("PUT", api_url, token, update)
    assert status == 200, (status, body)
    assert body["version"] == "1.1.0" and body["status"] == ApiStatus.DRAFT and body["completeness"] == 80
    updated_at = body["updated_at"]
    status, body = call_api("PUT", api_url, token, update)  # a pipeline re-run changes nothing
    assert status == 200, (status, body)
    assert body["updated_at"] == updated_at and body["version"] == "1.1.0"
    # A CI job can register a new API the same way.
    orders_url = f"{base}/api/v1/inventory/apis/orders-api/"
    status, body = call_api("PUT", orders_url, token, {"name": "Orders API", "org_unit": team.slug})
    assert status == 201 and body["status"] == ApiStatus.DRAFT, (status, body)
    status, body = call_api("PUT", api_url, "not-a-token", update)
    assert status == 401, (status, body)

    dev.goto(f"{base}/inventory/apis/payments-api/")
    expect(dev.locator("main")).to_contain_text("version 1.1.0")
    shot(dev, "09-before-submit")
    dev.get_by_role("button", name="Submit for review").click()
    expect(flash(dev)).to_have_text("Submit for review: done. Status is now submitted for review.")
    expect(dev.locator("h1 ~ .badge", has_text="Submitted for review")).to_be_visible()
    expect(dev.get_by_role("button", name="Approve")).to_have_count(0)  # owners do not review

    # --- The CISO proves the second factor and approves ------------------------------------------
    sec = new_page()
    log_in(sec, base, ciso.username)
    expect(sec).to_have_url(re.compile(r"/accounts/2fa/verify/"))
    expect(sec.get_by_role("heading", name="Second factor")).to_be_visible()
    expect(nav_link(sec, "APIs")).to_have_count(0)  # nothing to offer but "Log out" before the code
    shot(sec, "10-ciso-2fa")
    device.refresh_from_db()
    code = totp(device.bin_key, device.step, device.t0, device.digits, device.drift)
    sec.get_by_label("Code").fill(f"{code:0{device.digits}d}")
    sec.get_by_role("button", name="Verify").click()
    expect(nav_link(sec, "APIs")).to_be_visible()
    nav_link(sec, "APIs").click()
    expect(list_row(sec, "payments-api")).to_contain_text("Submitted for review")
    list_row(sec, "payments-api").get_by_role("link", name="Payments API").click()
    expect(sec.get_by_role("heading", name="Payments API", exact=True)).to_be_visible()
    sec.get_by_label("Comment").fill("Reviewed: bearer auth on every operation, spec and SBOM present.")
    shot(sec, "11-ciso-review")
    sec.get_by_role("button", name="Approve").click()
    expect(flash(sec)).to_have_text("Approve: done. Status is now approved.")
    expect(sec.locator(".alert", has_text="Review comment")).to_contain_text("bearer auth on every operation")
    nav_link(sec, "APIs").click()
    expect(list_row(sec, "payments-api")).to_contain_text("Approved")
    expect(list_row(sec, "orders-api")).to_contain_text("Draft")
    shot(sec, "12-ciso-list")

    # --- Anyone in the company with the viewer role sees it approved ------------------------------
    view = new_page()
    log_in(view, base, viewer.username)
    nav_link(view, "APIs").click()
    view.get_by_label("Status").select_option(label="Approved")
    view.get_by_role("button", name="Filter").click()
    expect(view).to_have_url(re.compile(r"status=approved"))
    expect(view.locator("table tbody tr")).to_have_count(1)
    row = list_row(view, "payments-api")
    expect(row).to_contain_text("Approved")
    expect(row).to_contain_text("Payments Team")
    expect(row).to_contain_text("80 %")
    expect(view.get_by_role("link", name="Register an API")).to_have_count(0)
    shot(view, "13-viewer-list")

    api = Api.objects.get(slug="payments-api")
    assert api.status == ApiStatus.APPROVED and api.reviewed_by == ciso and api.version == "1.1.0"
    assert not new_page.problems.items, new_page.problems.items
