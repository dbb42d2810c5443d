"""Inventory pages: the list, the per-API page with its tabs, the registration forms, catalog and discovery.

Thin on purpose: every rule (state, scope, validation) lives in the services; a view picks the object
the user may see, calls one service and turns a ValidationError back into form errors (status 400).
"""

from __future__ import annotations

import csv
import posixpath
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django import forms as django_forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from inventory import forms, selectors
from inventory.engines import catalog
from inventory.models import Api, AuthScheme, DiscoveredEndpoint, Protocol
from inventory.services import (
    catalog_import,
    components,
    consumers,
    discovered,
    environments,
    registration,
    review,
    specs,
    windows,
)
from portal import web
from portal.access import Cap, holds_company_wide, in_scope, require, require_company_wide
from portal.audit import Actor
from portal.ratelimit import limit_posts

if TYPE_CHECKING:
    from inventory.selectors import ApiDetail

PAGE_SIZE = 50
MAX_PAGE = 200  # offset paging is capped; narrow the filters or use the CSV export beyond 10,000 rows
COMPONENTS_SHOWN = 1000
OPERATIONS_SHOWN = 50  # operations per page of the spec tab
DIFF_SHOWN = 100  # operations per page of a spec diff
SPEC_MAX_PAGE = 1000  # deeper than any spec under the upload limit; a search narrows it sooner
HISTORY_SHOWN = 100

TABS = {
    "overview": "Overview",
    "spec": "Spec & operations",
    "packages": "Packages",
    "servers": "Environments & servers",
    "consumers": "Consumers & blast radius",
    "metrics": "Metrics & windows",
    "history": "History",
}

# --- Helpers ---------------------------------------------------------------------------------------------


def _api(request: HttpRequest, slug: str, capability: str = Cap.INVENTORY_VIEW) -> ApiDetail:
    """The API if the user can see it (404 otherwise), then 403 unless they hold ``capability`` on it."""
    api = selectors.api_detail(request.user, slug)
    if capability != Cap.INVENTORY_VIEW:
        require(request.user, capability, api)
    return api


def _submit(
    request: HttpRequest,
    api: ApiDetail,
    form: django_forms.Form,
    *,
    tab: str,
    form_key: str,
    action: Callable[[dict[str, Any]], str],
) -> HttpResponse:
    """A form POST on one tab of the API page: on errors, the tab again with the form bound (400)."""
    return web.submit_form(
        request,
        form,
        action=action,
        success_url=_detail_url(api, tab),
        on_error=lambda bound: _detail(request, api, tab, status=400, bound={form_key: bound}),
    )


def _detail_url(api: Api, tab: str = "overview") -> str:
    url = reverse("inventory:detail", args=[api.slug])
    return url if tab == "overview" else f"{url}?tab={tab}"


def _csv_safe(value: Any) -> Any:
    """Spreadsheets run cells that start with these as formulas; a leading quote makes them text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


# --- List and export -------------------------------------------------------------------------------------


def _filtered(
    request: HttpRequest, *, units_menu: bool = False, columns: tuple[str, ...] = ()
) -> tuple[forms.ApiFilterForm, Any]:
    form = web.style(forms.ApiFilterForm(request.GET or None, user=request.user, units_menu=units_menu))
    filters: dict[str, Any] = {}
    if form.is_bound:
        # Invalid filters are ignored (and the page says so); the valid ones still apply.
        form.is_valid()
        filters = form.filters()
    return form, selectors.api_list(request.user, filters, columns=columns)


@require_GET
def api_list(request: HttpRequest) -> HttpResponse:
    require(request.user, Cap.INVENTORY_VIEW)
    form, qs = _filtered(request, units_menu=True, columns=selectors.LIST_COLUMNS)
    page = web.offset_page(request, qs, size=PAGE_SIZE, max_page=MAX_PAGE)
    cutoff = selectors.stale_cutoff()
    for api in page.items:
        api.is_stale = selectors.is_stale(api, cutoff)
    params = request.GET.copy()
    params.pop("page", None)
    sort_params = params.copy()
    sort_params.pop("sort", None)
    current_sort = request.GET.get("sort") or "name"
    ctx = {
        "form": form,
        "apis": page.items,
        "page": page.number,
        "prev_query": page.prev_query,
        "next_query": page.next_query,
        "sort_base": sort_params.urlencode(),
        "current_sort": current_sort,
        "export_query": params.urlencode(),
        "can_create": selectors.can_register(request.user),
    }
    return render(request, "inventory/api_list.html", ctx)


class _Echo:
    def write(self, value: str) -> str:
        return value


CSV_COLUMNS = [
    "slug", "name", "owner", "status", "lifecycle", "version", "exposure", "data_classification",
    "handles_personal_data", "auth_schemes", "protocols", "availability_target", "completeness", "missing",
    "has_spec", "components", "technical_contact_email", "confirmed_at", "stale",
]  # fmt: skip


@require_GET
def api_export_csv(request: HttpRequest) -> StreamingHttpResponse:
    require(request.user, Cap.INVENTORY_VIEW)
    _form, qs = _filtered(request)
    cutoff = selectors.stale_cutoff()

    def rows() -> Iterator[str]:
        writer = csv.writer(_Echo())
        yield writer.writerow(CSV_COLUMNS)
        for api in qs.iterator(chunk_size=2000):
            row = [
                api.slug,
                api.name,
                api.org_unit.slug,
                api.status,
                api.lifecycle,
                api.version,
                api.exposure,
                api.data_classification,
                api.handles_personal_data,
                " ".join(api.auth_schemes or []),
                " ".join(api.protocols or []),
                api.availability_target,
                api.completeness,
                "; ".join(api.missing or []),
                api.has_spec,
                api.component_count,
                api.technical_contact_email,
                api.confirmed_at.isoformat(),
                selectors.is_stale(api, cutoff),
            ]
            yield writer.writerow([_csv_safe(v) for v in row])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="api-inventory.csv"'
    return response


# --- Registration ----------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def api_create(request: HttpRequest) -> HttpResponse:
    require(request.user, Cap.INVENTORY_SUBMIT)
    form = web.style(forms.ApiCreateForm(request.POST or None, user=request.user))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            api = registration.api_create(
                actor=Actor.from_request(request),
                org_unit=data["org_unit"],
                slug=data["slug"],
                name=data["name"],
            )
        except ValidationError as exc:
            web.add_service_errors(form, exc)
        else:
            messages.success(
                request, f"Draft “{api.name}” created. Fill in the sections below, then submit it."
            )
            return redirect(_detail_url(api))
    return web.render_form_page(request, "inventory/api_create.html", {"form": form}, form)


def _initial(obj: Any, form_class: type[django_forms.Form]) -> dict[str, Any]:
    """The form's fields as stored on ``obj``; decimals as the pages show them (99.9, not 99.900)."""
    values = {name: getattr(obj, name) for name in form_class.base_fields}
    return {name: web.figure(v) if isinstance(v, Decimal) else v for name, v in values.items()}


@require_http_methods(["GET", "POST"])
def api_edit_section(request: HttpRequest, slug: str, section: str) -> HttpResponse:
    if section not in forms.SECTIONS:
        raise Http404
    api = _api(request, slug, Cap.INVENTORY_SUBMIT)
    title, form_class = forms.SECTIONS[section]
    if request.method == "POST":
        form = web.style(form_class(request.POST))
        if form.is_valid():
            try:
                registration.api_update(actor=Actor.from_request(request), api=api, **form.cleaned_data)
            except ValidationError as exc:
                web.add_service_errors(form, exc)
            else:
                messages.success(request, f"{title} saved.")
                return redirect("inventory:edit_section", slug=api.slug, section=section)
    else:
        form = web.style(form_class(initial=_initial(api, form_class)))
    keys = list(forms.SECTIONS)
    following = keys[keys.index(section) + 1] if keys.index(section) + 1 < len(keys) else None
    ctx = {
        "api": api,
        "form": form,
        "section": section,
        "title": title,
        "sections": [(key, label) for key, (label, _cls) in forms.SECTIONS.items()],
        "next_section": following,
        "missing": selectors.missing_pieces(api),
        "can_edit": True,  # the page itself needs inventory.submit on the API
    }
    return web.render_form_page(request, "inventory/api_edit_section.html", ctx, form)


@require_POST
def api_transition(request: HttpRequest, slug: str) -> HttpResponse:
    api = _api(request, slug)
    form = forms.TransitionForm(request.POST)
    if not form.is_valid():
        return _detail(request, api, "overview", status=400, transition_errors=["Unknown action."])
    data = form.cleaned_data
    try:
        moved = review.api_transition(
            actor=Actor.from_request(request),
            api=api,
            action=data["action"],
            note=data["comment"],
            seen_revision=data["revision"],
        )
    except ValidationError as exc:
        return _detail(request, api, "overview", status=400, transition_errors=exc.messages)
    label = review.API_WORKFLOW.move(data["action"]).label
    messages.success(request, f"{label}: done. Status is now {moved.get_status_display().lower()}.")
    return redirect(_detail_url(moved))


@require_POST
def api_confirm(request: HttpRequest, slug: str) -> HttpResponse:
    api = _api(request, slug, Cap.INVENTORY_SUBMIT)
    try:
        registration.api_confirm(actor=Actor.from_request(request), api=api)
    except ValidationError as exc:
        return _detail(request, api, "overview", status=400, transition_errors=exc.messages)
    messages.success(request, "Confirmed: the record is still accurate.")
    return redirect(_detail_url(api))


# --- The API page ----------------------------------------------------------------------------------------


def _workflow_box(request: HttpRequest, api: Api) -> list[dict[str, Any]]:
    """The moves the user may make now, each with its own input, and why one is not yet possible."""
    actor = Actor.from_request(request)
    box = [
        {"move": move, "blocked": review.API_WORKFLOW.blocked(move, api, actor)}
        for move in review.API_WORKFLOW.allowed(request.user, api)
    ]
    return box


def _tab_context(request: HttpRequest, api: ApiDetail, tab: str, bound: dict[str, Any]) -> dict[str, Any]:
    """What one tab needs, loaded only for that tab."""
    user = request.user
    ctx: dict[str, Any] = {}
    envs = list(api.environments.all())
    if tab == "spec":
        spec = api.current_specs[0] if api.current_specs else None
        search = selectors.spec_search_text(request.GET.get("q"))
        ctx["spec"] = spec
        ctx["q"] = search
        if spec is not None:
            operations = selectors.spec_operations_page(spec, search=search)
            ctx["operations_page"] = web.offset_page(
                request, operations, size=OPERATIONS_SHOWN, max_page=SPEC_MAX_PAGE
            )
        ctx["versions"] = selectors.spec_versions(api)
        ctx["upload_form"] = bound.get("upload_form") or web.style(forms.UploadForm())
    elif tab == "packages":
        ctx["components"] = list(selectors.api_components(api)[:COMPONENTS_SHOWN])
        ctx["components_capped"] = api.component_count > COMPONENTS_SHOWN
        ctx["last_import"] = selectors.last_sbom_import(user, api)
        ctx["upload_form"] = bound.get("upload_form") or web.style(forms.UploadForm())
        ctx["declare_form"] = bound.get("declare_form") or web.style(forms.DeclareComponentForm())
    elif tab == "servers":
        ctx["environment_form"] = bound.get("environment_form") or web.style(forms.EnvironmentForm())
        for env in envs:
            form = bound.get(f"server_form_{env.pk}") or forms.ServerForm(prefix=f"server-{env.pk}")
            env.server_form = web.style(form)
    elif tab == "consumers":
        ctx["relations"] = selectors.relations_for(user, api)
        ctx["dependency_form"] = bound.get("dependency_form") or web.style(forms.DependencyForm())
    elif tab == "metrics":
        for env in envs:
            baseline = getattr(env, "baseline", None)
            initial = {} if baseline is None else _initial(baseline, forms.BaselineForm)
            form = bound.get(f"baseline_form_{env.pk}") or forms.BaselineForm(
                prefix=f"baseline-{env.pk}", initial=initial
            )
            env.baseline_form = web.style(form)
        ctx["windows"] = selectors.windows_of(user, api)
        ctx["window_form"] = bound.get("window_form") or web.style(forms.WindowForm())
    elif tab == "history":
        ctx["events"] = selectors.api_history(user, api, limit=HISTORY_SHOWN)
    ctx["environments"] = envs
    return ctx


def _detail(
    request: HttpRequest,
    api: ApiDetail,
    tab: str,
    status: int = 200,
    transition_errors: list[str] | None = None,
    bound: dict[str, Any] | None = None,
) -> HttpResponse:
    path = api.org_unit.path
    # The history shows who changed what, with the values: audit-trail reading, not inventory viewing.
    tabs = (
        TABS
        if in_scope(request.user, Cap.AUDIT_VIEW, path)
        else {k: v for k, v in TABS.items() if k != "history"}
    )
    if tab not in tabs:
        tab = "overview"
    ctx = {
        "api": api,
        "tab": tab,
        "tabs": tabs,
        "can_edit": in_scope(request.user, Cap.INVENTORY_SUBMIT, path) and registration.is_editable(api),
        "workflow": _workflow_box(request, api),
        "can_confirm": registration.can_confirm(api) and in_scope(request.user, Cap.INVENTORY_SUBMIT, path),
        "transition_errors": transition_errors or [],
        "is_stale": selectors.is_stale(api),
        "missing": selectors.missing_pieces(api),
        "sections": [(key, label) for key, (label, _cls) in forms.SECTIONS.items()],
        "tab_template": f"inventory/tabs/_{tab}.html",
        # What people read ("Bearer token / JWT"), not the stored codes ("bearer").
        "auth_scheme_labels": [dict(AuthScheme.choices).get(s, s) for s in api.auth_schemes or []],
        "protocol_labels": [dict(Protocol.choices).get(p, p) for p in api.protocols or []],
        **_tab_context(request, api, tab, bound or {}),
    }
    return web.render_partial_or_page(
        request, page="inventory/api_detail.html", partial="inventory/_tab_swap.html", ctx=ctx, status=status
    )


@require_GET
def api_detail(request: HttpRequest, slug: str) -> HttpResponse:
    # No capability check before the lookup: an API the user cannot see is a 404, also for a user
    # without any role (a blanket 403 first would answer differently from every other API page).
    api = _api(request, slug)
    return _detail(request, api, request.GET.get("tab", "overview"))


# --- Spec ------------------------------------------------------------------------------------------------


@require_POST
@limit_posts("expensive")
def spec_upload(request: HttpRequest, slug: str) -> HttpResponse:
    api = _api(request, slug, Cap.INVENTORY_SUBMIT)

    def action(data: dict[str, Any]) -> str:
        upload = data["file"]
        result = specs.spec_upload(
            actor=Actor.from_request(request), api=api, data=upload.read(), filename=upload.name
        )
        spec = result.spec
        if not result.created:
            messages.info(request, f"Identical to the current version {spec.number}; nothing changed.")
            return ""
        return f"Spec version {spec.number} stored: {spec.operation_count} operations."

    form = web.style(forms.UploadForm(request.POST, request.FILES))
    return _submit(request, api, form, tab="spec", form_key="upload_form", action=action)


@require_GET
def spec_diff(request: HttpRequest, slug: str) -> HttpResponse:
    api = _api(request, slug)
    numbers = [v["number"] for v in selectors.spec_versions(api)]
    if len(numbers) < 2:
        messages.info(request, "There is only one version of the spec; nothing to compare.")
        return redirect(_detail_url(api, "spec"))
    try:
        new_number = int(request.GET.get("to") or numbers[0])
        old_number = int(request.GET.get("from") or next(n for n in numbers if n < new_number))
    except (ValueError, OverflowError, StopIteration):
        raise Http404 from None
    old = selectors.spec_version(request.user, api, old_number)
    new = selectors.spec_version(request.user, api, new_number)
    search = selectors.spec_search_text(request.GET.get("q"))
    diff = selectors.spec_diff(old, new, search=search)
    page = web.offset_page(request, diff.entries, size=DIFF_SHOWN, max_page=SPEC_MAX_PAGE)
    ctx = {
        "api": api,
        "old": old,
        "new": new,
        "diff": diff,
        "page": page,
        "shown": {
            kind: [e for e in page.items if e.kind == kind] for kind in ("added", "removed", "changed")
        },
        "numbers": numbers,
        "q": search,
    }
    return web.render_partial_or_page(
        request, page="inventory/spec_diff.html", partial="inventory/_spec_diff_entries.html", ctx=ctx
    )


@require_GET
def spec_raw(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    api = _api(request, slug)
    spec = selectors.spec_version(request.user, api, number, with_content=True)
    extension = "json" if spec.format == "json" else "yaml"
    response = HttpResponse(spec.content, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{api.slug}-v{spec.number}.{extension}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- Components ------------------------------------------------------------------------------------------


@require_POST
@limit_posts("expensive")
def components_upload(request: HttpRequest, slug: str) -> HttpResponse:
    api = _api(request, slug, Cap.INVENTORY_SUBMIT)

    def action(data: dict[str, Any]) -> str:
        upload = data["file"]
        result = components.components_replace(
            actor=Actor.from_request(request), api=api, data=upload.read(), filename=upload.name
        )
        for warning in result.warnings[:10]:
            messages.warning(request, warning)
        if len(result.warnings) > 10:
            messages.warning(request, f"…and {len(result.warnings) - 10} more warnings.")
        record = result.sbom_import
        return (
            f"{record.component_count} components from {record.format}: {len(record.added)} added, "
            f"{len(record.removed)} removed, {len(record.upgraded)} upgraded."
        )

    form = web.style(forms.UploadForm(request.POST, request.FILES))
    return _submit(request, api, form, tab="packages", form_key="upload_form", action=action)


@require_POST
def component_declare(request: HttpRequest, slug: str) -> HttpResponse:
    api = _api(request, slug, Cap.INVENTORY_SUBMIT)

    def action(data: dict[str, Any]) -> str:
        component = components.component_declare(actor=Actor.from_request(request), api=api, **data)
        return f"{component.get_kind_display()} {component.name} {component.version} recorded."

    form = web.style(forms.DeclareComponentForm(request.POST))
    return _submit(request, api, form, tab="packages", form_key="declare_form", action=action)


# --- Environments, servers, metrics, windows -------------------------------------------------------------


@require_POST
def environment_save(request: HttpRequest, slug: str) -> HttpResponse:
    api = _api(request, slug, Cap.INVENTORY_SUBMIT)

    def action(data: dict[str, Any]) -> str:
        environments.environment_save(
            actor=Actor.from_request(request),
            api=api,
            name=data["name"],
            base_urls=data["base_urls"],
            is_production=data["is_production"],
        )
        return f"Environment “{data['name']}” saved."

    form = web.style(forms.EnvironmentForm(request.POST))
    return _submit(request, api, form, tab="servers", form_key="environment_form", action=action)


@require_POST
def environment_delete(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    api = _api(request, slug, Cap.INVENTORY_SUBMIT)
    environment = selectors.environment_of(request.user, api, pk=pk)
    environments.environment_delete(actor=Actor.from_request(request), environment=environment)
    messages.success(request, f"Environment “{environment.name}” deleted.")
    return redirect(_detail_url(api, "servers"))


@require_POST
def server_attach(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    api = _api(request, slug, Cap.INVENTORY_SUBMIT)
    environment = selectors.environment_of(request.user, api, pk=pk)
    form = web.style(forms.ServerForm(request.POST, prefix=f"server-{pk}"))
    if form.is_valid():
        try:
            server = environments.environment_attach_server(
                actor=Actor.from_request(request), environment=environment, **form.cleaned_data
            )
        except ValidationError as exc:
            web.add_service_errors(form, exc)
        except (PermissionDenied, Http404):
            form.add_error("hostname", "That host is registered by a team you cannot act for.")
        else:
            messages.success(request, f"Server {server.hostname} attached to {environment.name}.")
            return redirect(_detail_url(api, "servers"))
    return _detail(request, api, "servers", status=400, bound={f"server_form_{pk}": form})


@require_POST
def baseline_save(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    api = _api(request, slug, Cap.INVENTORY_SUBMIT)
    environment = selectors.environment_of(request.user, api, pk=pk)

    def action(data: dict[str, Any]) -> str:
        environments.baseline_save(actor=Actor.from_request(request), environment=environment, **data)
        return f"Performance baseline of {environment.name} saved."

    form = web.style(forms.BaselineForm(request.POST, prefix=f"baseline-{pk}"))
    return _submit(request, api, form, tab="metrics", form_key=f"baseline_form_{pk}", action=action)


@require_POST
@limit_posts("expensive")  # the overlap check expands every window over a year
def window_add(request: HttpRequest, slug: str) -> HttpResponse:
    api = _api(request, slug, Cap.INVENTORY_SUBMIT)

    def action(data: dict[str, Any]) -> str:
        windows.window_add_from_input(actor=Actor.from_request(request), api=api, data=data)
        return "Downtime window added."

    form = web.style(forms.WindowForm(request.POST))
    return _submit(request, api, form, tab="metrics", form_key="window_form", action=action)


@require_POST
def window_delete(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    api = _api(request, slug, Cap.INVENTORY_SUBMIT)
    window = selectors.window_of(request.user, api, pk)
    windows.window_delete(actor=Actor.from_request(request), window=window)
    messages.success(request, "Downtime window deleted.")
    return redirect(_detail_url(api, "metrics"))


# --- Consumers -------------------------------------------------------------------------------------------


@require_POST
def dependency_add(request: HttpRequest, slug: str) -> HttpResponse:
    api = _api(request, slug, Cap.INVENTORY_SUBMIT)

    def action(data: dict[str, Any]) -> str:
        consumers.consumer_add(
            actor=Actor.from_request(request),
            api=api,
            consumer_api_slug=data["consumer_api"],
            consumer_service_name=data["consumer_service"],
            note=data["note"],
        )
        return "Consumer recorded."

    form = web.style(forms.DependencyForm(request.POST))
    return _submit(request, api, form, tab="consumers", form_key="dependency_form", action=action)


@require_POST
def dependency_remove(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    api = _api(request, slug, Cap.INVENTORY_SUBMIT)
    dependency = selectors.consumer_of(request.user, api, pk)
    consumers.dependency_remove(actor=Actor.from_request(request), dependency=dependency)
    messages.success(request, "Consumer removed.")
    return redirect(_detail_url(api, "consumers"))


# --- Catalog ---------------------------------------------------------------------------------------------

CATALOG_RESULT_KEY = "inventory_catalog_result"


@require_http_methods(["GET", "POST"])
@limit_posts("expensive")
def catalog_upload(request: HttpRequest) -> HttpResponse:
    require(request.user, Cap.INVENTORY_SUBMIT)
    form = web.style(forms.CatalogUploadForm(request.POST or None, request.FILES or None, user=request.user))
    problems: list[str] = []
    if request.method == "POST" and form.is_valid():
        uploads = [form.cleaned_data["file"], *form.cleaned_data["extra_files"]]
        if sum(u.size for u in uploads) > settings.PORTAL_UPLOAD_MAX_BYTES:
            form.add_error(None, "The files together are over the upload limit.")
        if form.is_valid():
            extra = {u.name: u.read() for u in form.cleaned_data["extra_files"]}

            def resolve_text(relative: str) -> bytes | None:
                # The browser sends bare file names: match the referenced path, then its last part.
                if catalog.safe_relative(relative) is None:
                    return None
                return extra.get(relative, extra.get(posixpath.basename(relative)))

            try:
                result = catalog_import.catalog_import(
                    actor=Actor.from_request(request),
                    data=form.cleaned_data["file"].read(),
                    resolve_text=resolve_text,
                    default_owner=form.cleaned_data["owner"],
                )
            except catalog_import.CatalogRejected as exc:
                problems = exc.problems
            except ValidationError as exc:
                web.add_service_errors(form, exc)
            else:
                request.session[CATALOG_RESULT_KEY] = {
                    "created": result.created,
                    "updated": result.updated,
                    "links": result.links,
                    "problems": result.problems[:100],
                }
                messages.success(request, "Catalog imported.")
                return redirect("inventory:catalog_upload")
    shown = request.session.pop(CATALOG_RESULT_KEY, None) if request.method == "GET" else None
    ctx = {"form": form, "problems": problems, "result": shown}
    return web.render_form_page(request, "inventory/catalog_upload.html", ctx, form)


# --- Discovery -------------------------------------------------------------------------------------------


def _discovery_page(request: HttpRequest, status: int = 200, errors: list[str] | None = None) -> HttpResponse:
    finding = request.GET.get("finding", "")
    # The page opens on what still needs a look; the REST list has no default.
    state = request.GET.get("state", DiscoveredEndpoint.State.NEW)
    qs = selectors.discovered_list(request.user, finding=finding, state=state)
    page = web.offset_page(request, qs, size=PAGE_SIZE, max_page=MAX_PAGE)
    # Ingesting logs (and reading what one held) is company-wide work: see discovered.discovery_ingest.
    can_review = holds_company_wide(request.user, Cap.INVENTORY_REVIEW)
    ingest = None
    if can_review and request.GET.get("ingest", "").isdigit():
        ingest = selectors.log_ingest_for(request.user, int(request.GET["ingest"]))
    ctx = {
        "items": page.items,
        "findings": DiscoveredEndpoint.Finding.choices,
        "states": DiscoveredEndpoint.State.choices,
        "finding": finding,
        "state": state,
        "prev_query": page.prev_query,
        "next_query": page.next_query,
        "can_review": can_review,
        "can_register": selectors.can_register(request.user),
        "ingest": ingest,
        "errors": errors or [],
    }
    return render(request, "inventory/discovery_list.html", ctx, status=status)


@require_GET
def discovery_list(request: HttpRequest) -> HttpResponse:
    require(request.user, Cap.INVENTORY_VIEW)
    return _discovery_page(request)


@require_http_methods(["GET", "POST"])
@limit_posts("expensive")
def discovery_upload(request: HttpRequest) -> HttpResponse:
    require_company_wide(request.user, Cap.INVENTORY_REVIEW)
    form = web.style(forms.LogUploadForm(request.POST or None, request.FILES or None))
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            result = discovered.discovery_ingest(
                actor=Actor.from_request(request),
                chunks=upload.chunks(),
                filename=upload.name,
                fmt=form.cleaned_data["format"] or None,
                default_host=form.cleaned_data["host"],
            )
        except ValidationError as exc:
            web.add_service_errors(form, exc)
        else:
            found = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in result.findings.items())
            messages.success(
                request, f"Log read: {result.ingest.parsed} of {result.ingest.lines} lines; {found}."
            )
            return redirect(f"{reverse('inventory:discovery')}?ingest={result.ingest.pk}")
    return web.render_form_page(request, "inventory/discovery_upload.html", {"form": form}, form)


@require_POST
def discovered_dismiss(request: HttpRequest, pk: int) -> HttpResponse:
    # Outside the user's sight: 404 (even without the capability anywhere); visible: 403 unless allowed.
    item = get_object_or_404(selectors.discovered_visible(request.user), pk=pk)
    require(request.user, Cap.INVENTORY_REVIEW, item)
    form = forms.DismissForm(request.POST)
    if not form.is_valid():
        return _discovery_page(request, status=400, errors=[f"{item}: say why it is dismissed."])
    try:
        discovered.discovered_dismiss(
            actor=Actor.from_request(request), item=item, reason=form.cleaned_data["reason"]
        )
    except ValidationError as exc:
        return _discovery_page(request, status=400, errors=[f"{item}: {m}" for m in exc.messages])
    messages.success(request, f"Dismissed {item}.")
    return redirect("inventory:discovery")


@require_http_methods(["GET", "POST"])
def discovered_register(request: HttpRequest, pk: int) -> HttpResponse:
    # The finding first (404 outside the user's sight), then the right to register for some unit (403).
    item = get_object_or_404(selectors.discovered_visible(request.user), pk=pk)
    require(request.user, Cap.INVENTORY_SUBMIT)
    guess = item.host.split(":")[0].replace(".", "-")[:63].strip("-")
    form = web.style(
        forms.ApiCreateForm(
            request.POST or None, user=request.user, initial={"name": item.host, "slug": guess}
        )
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            api = discovered.discovered_register(
                actor=Actor.from_request(request),
                item=item,
                org_unit=data["org_unit"],
                slug=data["slug"],
                name=data["name"],
            )
        except ValidationError as exc:
            web.add_service_errors(form, exc)
        else:
            messages.success(request, f"Draft “{api.name}” registered for {data['org_unit'].name}.")
            return redirect(_detail_url(api))
    ctx = {"form": form, "item": item}
    return web.render_form_page(request, "inventory/discovered_register.html", ctx, form)
