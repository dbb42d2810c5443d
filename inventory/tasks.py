from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone

from inventory.models import Api
from inventory.selectors import stale_q
from portal.models import Membership, Role

log = logging.getLogger(__name__)


@shared_task(name="inventory.tasks.notify_stale_apis")
def notify_stale_apis() -> int:
    """Email the owners of each API not re-confirmed in INVENTORY_STALE_DAYS, once per staleness.

    The claim is a conditional UPDATE (stale_notified_at IS NULL → now), so two workers, or a
    redelivered task, never send the same email twice.
    """
    candidates = (
        Api.objects.filter(stale_q(), stale_notified_at__isnull=True)
        .select_related("org_unit")
        .order_by("id")[:1000]
    )
    sent = 0
    for api in candidates:
        claimed = Api.objects.filter(pk=api.pk, stale_notified_at__isnull=True).update(
            stale_notified_at=timezone.now()
        )
        if not claimed:
            continue
        recipients = set(
            Membership.objects.filter(org_unit=api.org_unit, role=Role.DEVELOPER, user__is_active=True)
            .exclude(user__email="")
            .values_list("user__email", flat=True)
        )
        if api.technical_contact_email:
            recipients.add(api.technical_contact_email)
        if not recipients:
            log.warning("Stale API %s has nobody to notify", api.slug)
            continue
        send_mail(
            subject=f"[API Security Portal] Please confirm the registration of {api.name}",
            message=(
                f"The registration of {api.name} ({api.slug}) has not been confirmed for "
                f"{settings.INVENTORY_STALE_DAYS} days. Check that it is still accurate and confirm it in the portal."
            ),
            from_email=None,
            recipient_list=sorted(recipients),
        )
        sent += 1
    return sent
