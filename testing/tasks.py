"""Testing's Celery tasks: thin, taking ids, each calling one service, safe to run twice.

``run_plan`` relies on the settings' ``CELERY_TASK_ACKS_LATE`` and ``CELERY_TASK_REJECT_ON_WORKER_LOST``:
a run whose worker dies is delivered again, and ``run_execute`` claims it again once the dead
worker's claim has lapsed (see ``testing.services.execution``).
"""

from __future__ import annotations

from celery import shared_task

from testing.models import RunStatus
from testing.services.schedule import plans_sweep


@shared_task(bind=True, name="testing.tasks.run_plan", max_retries=5, ignore_result=True)
def run_plan(self, run_id: int) -> str:  # noqa: ANN001
    """Execute one test run. A run held by another worker's claim (this delivery is a duplicate, or
    that worker is gone) is looked at again once the claim lapses: finished by then, or claimed."""
    from testing.services.execution import claim_lapses_in, run_execute

    run = run_execute(run_id=run_id)
    if run is None:
        return "missing"
    if run.status == RunStatus.RUNNING:
        raise self.retry(countdown=claim_lapses_in(run))
    return str(run.status)


# Beat sends it every minute (portal/celery.py, with an expiry: a sweep still waiting when the next
# is sent is dropped, since the next one does the same work).
@shared_task(name="testing.tasks.sweep_plans", ignore_result=True)
def sweep_plans() -> int:
    """Make the missing default plans, then start every due plan once (``testing.services.schedule``)."""
    return plans_sweep()


@shared_task(name="testing.tasks.recover_runs", ignore_result=True)
def recover_runs() -> int:
    """Every few minutes: send again the runs a lost message or a failed task left unfinished."""
    from testing.services.execution import runs_recover

    return runs_recover()


@shared_task(name="testing.tasks.expire_risk_acceptances", ignore_result=True)
def expire_risk_acceptances() -> int:
    """Daily: reopen accepted findings whose acceptance has expired."""
    from testing.services.findings import findings_expire_acceptances

    return findings_expire_acceptances()
