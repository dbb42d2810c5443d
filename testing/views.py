"""Testing pages: an API's plans and runs, one run, the diff of two runs, the findings list and a
finding; and their writes: run now, plan edit, identities, functional cases, triage.

Thin on purpose: the selectors take the user and answer only for what they may see (404 otherwise);
a write picks its object (404 outside the user's sight, 403 without the capability), parses the form,
calls one service and redirects, or shows the page again with the service's errors (400).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from inventory.models import Api
from portal import web
from portal.access import Cap, in_scope, require
from portal.audit import Actor
from portal.ratelimit import limit_posts
from testing import forms, selectors
from testing.models import FindingStatus, RunStatus, RunTrigger, TestPlan
from testing.services import cases, findings, identities, plans, runs

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
    return _api_page(request, api)


def _api_page(
    request: HttpRequest, api: Api, *, status: int = 200, bound: dict[str, Any] | None = None
) -> HttpResponse:
    """The API's testing page; ``bound`` holds a form posted with errors (shown again, 400)."""
    runs_page = selectors.runs_of(
        request.user, api, before=_before(request), columns=selectors.RUN_LIST_COLUMNS
    )
    page = web.keyset_page(request, runs_page, size=RUNS_PAGE_SIZE)
    ctx: dict[str, Any] = {"api": api, "runs": page.items, "next_query": page.next_query}
    if web.is_partial(request) and status == 200:
        return web.render_partial_or_page(
            request, page="testing/api_testing.html", partial="testing/_run_rows.html", ctx=ctx
        )
    bound = bound or {}
    path = api.org_unit.path
    can_run = in_scope(request.user, Cap.TESTING_RUN, path)
    plan_rows = [
        {"view": view, "run_form": _run_form(bound, view.plan) if can_run else None}
        for view in selectors.plans_of(request.user, api)
    ]
    trend = selectors.pass_rate_by_day(request.user, api)
    ctx |= {
        "plans": plan_rows,
        "trend": trend,
        "trend_runs": sum(d.runs for d in trend),
        "chart": selectors.trend_chart_data(trend),
        "trend_days": selectors.TREND_DAYS,
        "can_run": can_run,
        "can_manage": in_scope(request.user, Cap.TESTING_MANAGE, path),
        "cases": selectors.cases_of(request.user, api),
        "cases_form": bound.get("cases_form") or web.style(forms.CasesForm()),
    }
    return web.render_partial_or_page(
        request, page="testing/api_testing.html", partial="testing/_run_rows.html", ctx=ctx, status=status
    )


def _run_form(bound: dict[str, Any], plan: TestPlan) -> forms.RunNowForm:
    form = bound.get(f"run_form_{plan.pk}") or forms.RunNowForm(plan=plan, prefix=f"run-{plan.pk}")
    return web.style(form)


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
    return _finding_page(request, selectors.finding_detail(request.user, pk))


def _finding_page(
    request: HttpRequest,
    finding: Any,
    *,
    status: int = 200,
    triage_errors: list[str] | None = None,
    posted: str = "",
) -> HttpResponse:
    ctx = {
        "finding": finding,
        "check": selectors.check_info(finding.check_key),
        "owasp_label": selectors.owasp_label(finding.owasp),
        "evidence": selectors.evidence_of(finding.evidence),
        "check_runs": selectors.finding_check_history(request.user, finding),
        "events": selectors.finding_events(request.user, finding),
        # The moves the workflow table offers this user on this finding now, each with its inputs.
        "moves": findings.FINDING_WORKFLOW.allowed(request.user, finding),
        "triage_errors": triage_errors or [],
        "posted_action": posted,
        "posted": request.POST if status != 200 else {},
        "today": timezone.localdate(),
    }
    return render(request, "testing/finding_detail.html", ctx, status=status)


# --- Writes ---------------------------------------------------------------------------------------------------


def _plan(request: HttpRequest, pk: int, capability: str) -> TestPlan:
    """The plan if the user can see it (404 otherwise), then 403 unless they hold ``capability``."""
    plan = selectors.plan_detail(request.user, pk)
    require(request.user, capability, plan)
    return plan


def _api_url(api: Api, anchor: str = "") -> str:
    url = reverse("testing:api", args=[api.slug])
    return f"{url}#{anchor}" if anchor else url


@require_POST
@limit_posts("expensive")  # a run sends hundreds of requests to the API
def run_now(request: HttpRequest, pk: int) -> HttpResponse:
    plan = _plan(request, pk, Cap.TESTING_RUN)
    form = web.style(forms.RunNowForm(request.POST, plan=plan, prefix=f"run-{plan.pk}"))
    if form.is_valid():
        run, _created = runs.run_create(
            actor=Actor.from_request(request),
            plan=plan,
            trigger=RunTrigger.MANUAL,
            base_url=form.cleaned_data["base_url"] or None,
            checks=form.cleaned_data["checks"] or None,
        )
        if run.status == RunStatus.SKIPPED:
            messages.warning(request, f"Run #{run.pk} skipped: {run.reason}.")
        else:
            messages.success(request, f"Run #{run.pk} queued on {run.base_url}.")
        return redirect("testing:run_detail", pk=run.pk)
    return _api_page(request, plan.api, status=400, bound={f"run_form_{plan.pk}": form})


def _plan_page(
    request: HttpRequest,
    plan: TestPlan,
    *,
    form: forms.PlanForm | None = None,
    identity_form: forms.IdentityForm | None = None,
) -> HttpResponse:
    """The plan's edit page: its settings and identities. 400 when showing a posted form's errors."""
    plan_form = form or forms.PlanForm(initial=forms.PlanForm.initial_of(plan), plan=plan)
    ctx = {
        "plan": plan,
        "api": plan.api,
        "form": web.style(plan_form),
        "identities": selectors.plan_identities(request.user, plan),
        "identity_form": web.style(identity_form or forms.IdentityForm()),
        "identity_kinds": forms.IDENTITY_FIELDS,
    }
    posted = (form is not None and form.is_bound) or (identity_form is not None and identity_form.is_bound)
    return render(request, "testing/plan_edit.html", ctx, status=400 if posted else 200)


@require_http_methods(["GET", "POST"])
def plan_edit(request: HttpRequest, pk: int) -> HttpResponse:
    plan = _plan(request, pk, Cap.TESTING_MANAGE)
    if request.method != "POST":
        return _plan_page(request, plan)
    form = forms.PlanForm(request.POST, plan=plan)
    if form.is_valid():
        try:
            plans.plan_save(
                actor=Actor.from_request(request),
                api=plan.api,
                environment=plan.environment,
                **form.service_kwargs(),
            )
        except ValidationError as exc:
            web.add_service_errors(form, exc)
        else:
            messages.success(request, f"Plan of {plan.environment.name} saved.")
            return redirect(_api_url(plan.api, f"plan-{plan.pk}"))
    return _plan_page(request, plan, form=form)


@require_POST
def identity_set(request: HttpRequest, pk: int) -> HttpResponse:
    plan = _plan(request, pk, Cap.TESTING_MANAGE)
    form = forms.IdentityForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            identity = identities.identity_set(
                actor=Actor.from_request(request),
                plan=plan,
                name=data["name"],
                kind=data["kind"],
                secret=data["secret"],
                object_ids=data["object_id_list"],
            )
        except ValidationError as exc:
            web.add_service_errors(form, exc)
        else:
            messages.success(request, f"Identity {identity.name} saved ({identity.hint}).")
            return redirect("testing:plan_edit", pk=plan.pk)
    return _plan_page(request, plan, identity_form=form)


@require_POST
def identity_delete(request: HttpRequest, pk: int, name: str) -> HttpResponse:
    plan = _plan(request, pk, Cap.TESTING_MANAGE)
    identity = selectors.identity_of(request.user, plan, name)
    identities.identity_delete(actor=Actor.from_request(request), identity=identity)
    messages.success(request, f"Identity {identity.name} deleted.")
    return redirect("testing:plan_edit", pk=plan.pk)


def _api_for_cases(request: HttpRequest, slug: str) -> Api:
    api = selectors.api_for_testing(request.user, slug)
    require(request.user, Cap.TESTING_RUN, api)
    return api


def _case_page(request: HttpRequest, api: Api, form: forms.CasesForm, *, status: int = 200) -> HttpResponse:
    return render(request, "testing/case_edit.html", {"api": api, "form": web.style(form)}, status=status)


@require_POST
@limit_posts("expensive")  # an upload, parsed and validated case by case
def cases_save(request: HttpRequest, slug: str) -> HttpResponse:
    api = _api_for_cases(request, slug)
    form = forms.CasesForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            case = cases.cases_save(
                actor=Actor.from_request(request),
                api=api,
                name=form.cleaned_data["name"],
                source=form.cleaned_data["text"],
            )
        except ValidationError as exc:
            web.add_service_errors(form, exc)
        else:
            messages.success(
                request,
                f"Cases “{case.name}” saved: {case.case_count} case{'s' if case.case_count != 1 else ''}.",
            )
            return redirect(_api_url(api, "cases"))
    return _case_page(request, api, form, status=400)


@require_GET
def case_edit(request: HttpRequest, slug: str, name: str) -> HttpResponse:
    api = _api_for_cases(request, slug)
    case = selectors.case_of(request.user, api, name)
    return _case_page(request, api, forms.CasesForm(initial={"name": case.name, "source": case.source}))


@require_POST
def case_delete(request: HttpRequest, slug: str, name: str) -> HttpResponse:
    api = _api_for_cases(request, slug)
    case = selectors.case_of(request.user, api, name)
    cases.cases_delete(actor=Actor.from_request(request), case=case)
    messages.success(request, f"Cases “{case.name}” deleted.")
    return redirect(_api_url(api, "cases"))


@require_POST
def finding_transition(request: HttpRequest, pk: int) -> HttpResponse:
    finding = selectors.finding_detail(request.user, pk)
    form = forms.TriageForm(request.POST)
    if not form.is_valid():
        return _finding_page(request, finding, status=400, triage_errors=_messages_of(form))
    data = form.cleaned_data
    try:
        moved = findings.finding_transition(
            actor=Actor.from_request(request),
            finding=finding,
            action=data["action"],
            note=data["note"],
            accepted_until=data["accepted_until"],
        )
    except ValidationError as exc:
        return _finding_page(request, finding, status=400, triage_errors=exc.messages, posted=data["action"])
    label = findings.FINDING_WORKFLOW.move(data["action"]).label
    messages.success(request, f"{label}: done. The finding is now {moved.get_status_display().lower()}.")
    return redirect("testing:finding_detail", pk=moved.pk)


def _messages_of(form: Any) -> list[str]:
    return [
        f"{form.fields[name].label or name}: {m}" if name != "__all__" else m
        for name, errors in form.errors.items()
        for m in errors
    ]
