"""The testing app's Celery tasks: thin, by id or by name, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from testing.services.schedule import plans_sweep


# Beat sends it every minute (portal/celery.py, with an expiry: a sweep still waiting when the next
# is sent is dropped, since the next one does the same work).
@shared_task(name="testing.tasks.sweep_plans", ignore_result=True)
def sweep_plans() -> int:
    """Make the missing default plans, then start every due plan once (``testing.services.schedule``)."""
    return plans_sweep()
