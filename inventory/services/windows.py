"""Planned downtime windows: weekly in a timezone, or one-off.

Every verb is one transaction with one audit record and checks access itself (``portal.access.authorize``).
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from inventory import selectors
from inventory.engines import availability
from inventory.models import (
    Api,
    AvailabilityWindow,
    Environment,
    Limits,
)
from portal import audit
from portal.access import Cap, authorize
from portal.audit import Actor


@transaction.atomic
def window_add(
    *,
    actor: Actor,
    api: Api,
    kind: str,
    environment: Environment | None = None,
    description: str = "",
    tz: str = "UTC",
    weekdays: list[int] | None = None,
    start_time: time | None = None,
    end_time: time | None = None,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
) -> AvailabilityWindow:
    """A weekly window (``weekdays``, ``start_time``–``end_time`` local to ``tz``) or a one-off one
    (``starts_at``–``ends_at``; naive values are read in ``tz``). Refused when it overlaps a window
    of the same scope (the same environment, or API-wide)."""
    authorize(actor, Cap.INVENTORY_SUBMIT, api)
    if AvailabilityWindow.objects.filter(api=api).count() >= Limits.WINDOWS:
        raise ValidationError({"window": f"An API has at most {Limits.WINDOWS} downtime windows."})
    if environment is not None and environment.api_id != api.pk:
        raise ValidationError({"environment": "That environment belongs to another API."})
    engine: availability.Window
    try:
        if kind == AvailabilityWindow.Kind.RECURRING:
            if start_time is None or end_time is None:
                raise availability.WindowError("Give a start and an end time.")
            engine = recurring = availability.make_recurring(weekdays or [], start_time, end_time, tz)
            window = AvailabilityWindow(
                api=api,
                environment=environment,
                kind=kind,
                description=description,
                timezone=tz,
                weekdays=list(recurring.weekdays),
                start_time=start_time,
                end_time=end_time,
            )
        elif kind == AvailabilityWindow.Kind.ONE_OFF:
            if starts_at is None or ends_at is None:
                raise availability.WindowError("Give a start and an end.")
            # The same rule whichever door the times came through (form, REST, catalog, command): a
            # time without an offset is wall-clock time in the window's timezone.
            availability.zone(tz)
            engine = one_off = availability.make_one_off(
                availability.wall_clock(starts_at, tz), availability.wall_clock(ends_at, tz)
            )
            window = AvailabilityWindow(
                api=api,
                environment=environment,
                kind=kind,
                description=description,
                timezone="UTC",
                starts_at=one_off.starts_at,
                ends_at=one_off.ends_at,
            )
        else:
            raise availability.WindowError("Kind must be 'recurring' or 'one_off'.")
        # Windows of the same scope (same environment, or API-wide) must not overlap.
        same_scope = AvailabilityWindow.objects.select_for_update().filter(api=api, environment=environment)
        clash = availability.first_overlap(
            engine, [selectors.window_as_engine(w) for w in same_scope], now=timezone.now()
        )
        if clash is not None:
            raise availability.WindowError(f"Overlaps the existing window {availability.describe(clash)}.")
    except availability.WindowError as exc:
        raise ValidationError({"window": str(exc)}) from exc
    window.full_clean()
    window.save()
    audit.record(
        actor=actor,
        action="api.window_add",
        obj=window,
        org_unit=api.org_unit,
        after={"kind": kind, "window": availability.describe(engine)},
    )
    return window


def window_add_from_input(*, actor: Actor, api: Api, data: dict[str, Any]) -> AvailabilityWindow:
    """``window_add`` from what a form or a REST body holds: the environment is named, not passed."""
    environment = None
    if data.get("environment"):
        environment = api.environments.filter(name=data["environment"]).first()
        if environment is None:
            raise ValidationError({"environment": "This API has no environment of that name."})
    return window_add(
        actor=actor,
        api=api,
        kind=data["kind"],
        environment=environment,
        description=data.get("description", ""),
        tz=data.get("timezone") or "UTC",
        weekdays=data.get("weekdays") or [],
        start_time=data.get("start_time"),
        end_time=data.get("end_time"),
        starts_at=data.get("starts_at"),
        ends_at=data.get("ends_at"),
    )


@transaction.atomic
def window_delete(*, actor: Actor, window: AvailabilityWindow) -> None:
    api = window.api
    authorize(actor, Cap.INVENTORY_SUBMIT, api)
    audit.record(
        actor=actor,
        action="api.window_delete",
        obj=window,
        org_unit=api.org_unit,
        before={"window": availability.describe(selectors.window_as_engine(window))},
    )
    window.delete()
