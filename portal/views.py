"""Portal pages: home per role, org chart, audit log, health and the generic error pages."""

from __future__ import annotations

import logging

from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from portal import extensions, selectors, web
from portal.access import Cap, capabilities_of, require, roles_of
from portal.forms import AuditFilterForm

log = logging.getLogger(__name__)

AUDIT_PAGE_SIZE = 50


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    roles = roles_of(request.user)
    caps = capabilities_of(request.user)
    ctx = {
        "roles": sorted(roles),
        "memberships": selectors.memberships_of(request.user),
        "capabilities": sorted(caps),
    }
    ctx["cards"] = extensions.cards_for(request.user)
    return render(request, "portal/home.html", ctx)


@require_GET
def org_chart(request: HttpRequest) -> HttpResponse:
    require(request.user, Cap.ORG_VIEW)
    counts = extensions.unit_counts_for(request.user)
    rows = selectors.org_chart(request.user, counts)
    columns = [c.count.label for c in counts]
    return render(request, "portal/org_chart.html", {"rows": rows, "columns": columns})


@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    require(request.user, Cap.AUDIT_VIEW)
    form = AuditFilterForm(request.GET or None)
    qs = selectors.audit_events_visible(request.user)
    if form.is_bound:
        # Apply the filters that are valid (cleaned_data holds only those); the page says the
        # others were ignored. Dropping every filter over one typo would show an auditor events
        # they did not ask for, and would jump a paged view back to the newest events.
        form.is_valid()
        qs = form.apply(qs)
    # Keyset pagination: "older than id N", so page 10,000 costs what page 1 costs.
    page = web.keyset_page(request, qs, size=AUDIT_PAGE_SIZE)
    ctx = {"form": form, "events": page.items, "next_query": page.next_query}
    return web.render_partial_or_page(
        request, page="portal/audit_log.html", partial="portal/_audit_rows.html", ctx=ctx
    )


@login_not_required  # monitoring probes carry no session; the body holds no configuration
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Reachability of the database and the broker, as JSON with no secrets in it."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception:
        log.exception("healthz: database unreachable")
        checks["database"] = "unreachable"
    try:
        from portal.celery import app

        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        checks["broker"] = "ok"
    except Exception:
        log.exception("healthz: broker unreachable")
        checks["broker"] = "unreachable"
    ok = all(v == "ok" for v in checks.values())
    body: dict[str, object] = {"status": "ok" if ok else "degraded", **checks}
    if checks["database"] == "ok":
        beat = selectors.worker_last_seen()
        body["worker_last_seen"] = beat.isoformat() if beat else None
    return JsonResponse(body, status=200 if ok else 503)


def _error(request: HttpRequest, status: int, title: str, message: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        from portal.api_errors import error_body

        codes = {
            400: "bad_request",
            403: "permission_denied",
            404: "not_found",
            413: "request_too_large",
            429: "throttled",
            500: "server_error",
        }
        return JsonResponse(error_body(request, codes[status], message), status=status)
    return render(
        request, "error.html", {"status": status, "title": title, "message": message}, status=status
    )


def request_too_large(request: HttpRequest) -> HttpResponse:
    return _error(request, 413, "Too large", "The request is larger than the portal accepts.")


def too_many_requests(request: HttpRequest, retry_after: int) -> HttpResponse:
    response = _error(request, 429, "Slow down", "Too many requests of this kind. Try again in a minute.")
    response["Retry-After"] = str(retry_after)
    return response


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 400, "Bad request", "The request could not be understood.")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 403, "Not allowed", "You are not allowed to do this.")


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 404, "Not found", "There is nothing here, or you cannot see it.")


def server_error(request: HttpRequest) -> HttpResponse:
    return _error(request, 500, "Server error", "Something went wrong on our side.")


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    log.warning("CSRF failure: %s", reason)
    return _error(
        request, 403, "Not allowed", "Your form expired or came from elsewhere. Reload and try again."
    )
