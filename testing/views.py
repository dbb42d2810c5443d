"""Testing pages: an API's plans and runs, one run, the diff of two runs, the findings list and a finding.

Thin on purpose: the selectors take the user and answer only for what they may see (404 otherwise);
a view parses the query, calls them and renders. Read-only for now: "Run now", plan editing and
triage arrive with their services.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from portal import web
from portal.access import Cap, require
from testing import forms, selectors
from testing.models import FindingStatus

RUNS_PAGE_SIZE = 25
FINDINGS_PAGE_SIZE = 50


def _before(request: HttpRequest) -> int | None:
    """The keyset cursor ``?before=<id>``; anything that is not a positive id is the first page."""
    raw = request.GET.get("before", "")
    value = int(raw) if raw.isascii() and raw.isdigit() and 0 < len(raw) <= 18 else 0
    return value or None


@require_GET
def api_testing(request: HttpRequest, slug: str) -> HttpResponse:
    api = selectors.api_for_testing(request.user, slug)
    runs = selectors.runs_of(request.user, api, before=_before(request), columns=selectors.RUN_LIST_COLUMNS)
    page = web.keyset_page(request, runs, size=RUNS_PAGE_SIZE)
    ctx = {"api": api, "runs": page.items, "next_query": page.next_query}
    if web.is_partial(request):
        return web.render_partial_or_page(
            request, page="testing/api_testing.html", partial="testing/_run_rows.html", ctx=ctx
        )
    trend = selectors.pass_rate_by_day(request.user, api)
    ctx |= {
        "plans": selectors.plans_of(request.user, api),
        "trend": trend,
        "trend_runs": sum(d.runs for d in trend),
        "chart": selectors.trend_chart_data(trend),
        "trend_days": selectors.TREND_DAYS,
    }
    return web.render_partial_or_page(
        request, page="testing/api_testing.html", partial="testing/_run_rows.html", ctx=ctx
    )


@require_GET
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = selectors.run_detail(request.user, pk)
    ctx = {
        "run": run,
        "health": selectors.health_of(run),
        "results": selectors.results_of(request.user, run),
        "previous": selectors.previous_run(request.user, run),
    }
    return render(request, "testing/run_detail.html", ctx)


@require_GET
def run_diff(request: HttpRequest, pk: int, other_pk: int) -> HttpResponse:
    before, after = selectors.run_pair(request.user, pk, other_pk)
    diff = selectors.run_diff(request.user, before, after)
    sections = [
        ("New", "new", diff.new),
        ("Fixed", "fixed", diff.fixed),
        ("Still failing", "still_failing", diff.still_failing),
        ("Not checked again (the check did not complete)", "not_rechecked", diff.not_rechecked),
    ]
    return render(request, "testing/run_diff.html", {"diff": diff, "sections": sections})


@require_GET
def finding_list(request: HttpRequest) -> HttpResponse:
    require(request.user, Cap.TESTING_VIEW)
    # The page opens on what still needs a look; the REST list has no default.
    data = request.GET.copy()
    data.setdefault("status", FindingStatus.OPEN)
    form = web.style(forms.FindingFilterForm(data, user=request.user, menus=True))
    # Invalid filters are ignored (and the page says so); the valid ones still apply.
    form.is_valid()
    page = web.keyset_page(
        request, selectors.findings_list(request.user, form.filters()), size=FINDINGS_PAGE_SIZE
    )
    ctx = {"form": form, "findings": page.items, "next_query": page.next_query}
    return web.render_partial_or_page(
        request, page="testing/finding_list.html", partial="testing/_finding_rows.html", ctx=ctx
    )


@require_GET
def finding_detail(request: HttpRequest, pk: int) -> HttpResponse:
    finding = selectors.finding_detail(request.user, pk)
    ctx = {
        "finding": finding,
        "check": selectors.check_info(finding.check_key),
        "owasp_label": selectors.owasp_label(finding.owasp),
        "evidence": selectors.evidence_of(finding.evidence),
        "check_runs": selectors.finding_check_history(request.user, finding),
        "events": selectors.finding_events(request.user, finding),
    }
    return render(request, "testing/finding_detail.html", ctx)
