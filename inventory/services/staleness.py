"""Stale records: the owners of an API not re-confirmed in ``INVENTORY_STALE_DAYS`` are told once.

"Once per staleness": each API is claimed with a conditional UPDATE (``stale_notified_at`` IS NULL →
now, and still stale), so two workers or a redelivered task never notify twice; confirming the
record (``registration.api_confirm``) clears the mark and starts the clock again. The claim, the
notification and its audit event commit together, so a crash between them loses nothing.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from inventory.models import Api
from inventory.selectors import stale_q
from portal import audit
from portal.access import holders_over
from portal.audit import Actor
from portal.models import Role
from portal.notifications import notification_create, portal_link

STALE = "inventory.api.stale"
# The owners told about a stale record: developers on its unit or on a unit above it.
OWNER_ROLES = (Role.DEVELOPER,)


def _recipients(api: Api, owners: list[Any], members: list[Any]) -> list[str]:
    """The owners, plus the typed technical contact only when it is the address of a portal user
    placed over the API's unit. The contact is free text any submitter types: mailing it as is
    would let anyone make the portal send its mail to any address outside the company."""
    out = [user.email for user in owners]
    contact = api.technical_contact_email.strip().casefold()
    if contact and any(user.email.strip().casefold() == contact for user in members):
        out.append(api.technical_contact_email)
    return out


def stale_apis_notify(*, limit: int = 1000) -> int:
    """Tell the owners of each stale API not yet told; returns how many APIs were claimed.

    The owners of all candidates are found in one query; an API with nobody to tell is still claimed
    and its notification recorded as skipped, so it shows in the record instead of vanishing.
    """
    actor = Actor.system("inventory.staleness")
    candidates = list(
        Api.objects.filter(stale_q(), stale_notified_at__isnull=True)
        .select_related("org_unit")
        .order_by("id")[:limit]
    )
    if not candidates:
        return 0
    units = {api.org_unit for api in candidates}
    owners = holders_over(units, OWNER_ROLES)
    members = holders_over(units, Role.values)
    claimed = 0
    for api in candidates:
        with transaction.atomic():
            now = timezone.now()
            # Re-checks staleness too: a record confirmed since it was read is not stale any more.
            if not Api.objects.filter(stale_q(), pk=api.pk, stale_notified_at__isnull=True).update(
                stale_notified_at=now
            ):
                continue
            recipients = _recipients(api, owners[api.org_unit_id], members[api.org_unit_id])
            notification = notification_create(
                kind=STALE,
                subject=f"[API Security Portal] Please confirm the registration of {api.name}",
                body=(
                    f"The registration of {api.name} ({api.slug}) has not been confirmed for "
                    f"{settings.INVENTORY_STALE_DAYS} days. Check that it is still accurate and confirm "
                    f"it in the portal: {portal_link(reverse('inventory:detail', args=[api.slug]))}\n"
                ),
                recipients=recipients,
                # The confirmation it asks for names the staleness: one notification per staleness.
                dedupe_key=f"{STALE}:{api.pk}:{api.confirmed_at.isoformat()}",
            )
            audit.record(
                actor=actor,
                action="api.stale_notify",
                obj=api,
                org_unit=api.org_unit,
                after={
                    "notification": notification.pk,
                    "state": notification.state,
                    "recipients": len(notification.recipients),
                },
            )
            claimed += 1
    return claimed
