from __future__ import annotations

from celery import shared_task

from inventory.services.staleness import stale_apis_notify


@shared_task(name="inventory.tasks.notify_stale_apis")
def notify_stale_apis() -> int:
    """Tell the owners of each stale API, once per staleness (see ``inventory.services.staleness``)."""
    return stale_apis_notify()
