"""The latest testing outcome, written onto the API so lists never aggregate runs or findings.

``api_summary_refresh(api_id=…)`` is one UPDATE with subqueries: the worst last status over the
API's plans, when it was last tested, how many findings are open and the worst open severity. Called
at the end of every run and after every triage move, inside their transactions.
"""

from __future__ import annotations

from django.db.models import Case, Count, IntegerField, Max, OuterRef, Subquery, Value, When
from django.db.models.functions import Coalesce

from inventory.models import Api
from testing.models import SEVERITY_RANK, Finding, FindingStatus, RunStatus, TestPlan

# Worst first when sorted descending: a failed check says more than a run that could not tell.
STATUS_RANK: dict[str, int] = {
    RunStatus.PASSED: 0,
    RunStatus.SKIPPED: 1,
    RunStatus.ERROR: 2,
    RunStatus.FAILED: 3,
}


def ranked(field: str, ranks: dict[str, int]) -> Case:
    return Case(
        *(When(**{field: value}, then=Value(rank)) for value, rank in ranks.items()),
        default=Value(-1),
        output_field=IntegerField(),
    )


def api_summary_refresh(*, api_id: int) -> None:
    plans = TestPlan.objects.filter(api_id=OuterRef("pk")).exclude(last_status="").order_by()
    open_findings = Finding.objects.filter(api_id=OuterRef("pk"), status=FindingStatus.OPEN).order_by()
    Api.objects.filter(pk=api_id).update(
        test_status=Coalesce(
            Subquery(
                plans.annotate(rank=ranked("last_status", STATUS_RANK))
                .order_by("-rank")
                .values("last_status")[:1]
            ),
            Value(""),
        ),
        tested_at=Subquery(plans.values("api_id").annotate(at=Max("last_run_at")).values("at")[:1]),
        open_findings=Coalesce(
            Subquery(open_findings.values("api_id").annotate(n=Count("pk")).values("n")[:1]),
            Value(0),
        ),
        worst_open_severity=Coalesce(
            Subquery(
                open_findings.annotate(rank=ranked("severity", SEVERITY_RANK))
                .order_by("-rank")
                .values("severity")[:1]
            ),
            Value(""),
        ),
    )
