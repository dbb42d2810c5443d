from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from portal.models import Heartbeat
from portal.notifications import DeliveryDeferred, notification_send, notifications_sweep

log = logging.getLogger(__name__)


@shared_task(name="portal.tasks.heartbeat", ignore_result=True)
def heartbeat() -> str:
    """Proves beat and a worker are both alive; /healthz shows when this last ran."""
    now = timezone.now()
    Heartbeat.objects.update_or_create(name="worker", defaults={"seen_at": now})
    return now.isoformat()


@shared_task(name="portal.tasks.echo")
def echo(value: str) -> str:
    """A round-trip probe for the worker wiring (used by the tests and by operators)."""
    return value


@shared_task(name="portal.tasks.verify_audit_chain")
def verify_audit_chain() -> dict:
    from portal.audit import ChainProblem, verify_chain

    checked = 0
    for item in verify_chain():
        if isinstance(item, ChainProblem):
            log.critical("Audit chain broken: %s", item)
            return {"ok": False, "checked": checked, "problem": str(item)}
        checked += 1
    return {"ok": True, "checked": checked}


@shared_task(name="portal.tasks.audit_anchor_export", ignore_result=True)
def audit_anchor_export() -> str:
    """Write the audit chain's head outside the database (a file and/or syslog), daily from beat, so
    a later `verify_audit_chain --anchor FILE` can prove nothing before it was removed or rewritten."""
    from portal.audit import anchor_line, export_anchor

    line = anchor_line()
    export_anchor(line)
    return line


@shared_task(bind=True, name="portal.tasks.send_notification", max_retries=None, ignore_result=True)
def send_notification(self, notification_id: int) -> str:  # noqa: ANN001
    """Deliver one notification (see ``portal.notifications``): claimed once, so safe to run twice.

    An infrastructure error reschedules it with a growing delay; the row counts the attempts, so a
    redelivered task does not reset them.
    """
    try:
        return notification_send(notification_id=notification_id)
    except DeliveryDeferred as exc:
        raise self.retry(countdown=exc.countdown, exc=exc) from None


@shared_task(name="portal.tasks.sweep_notifications", ignore_result=True)
def sweep_notifications() -> dict:
    """Re-enqueue notifications whose task was lost; give up on ones whose sender vanished mid-send."""
    return notifications_sweep()
