"""REST fields shared by the apps' serializers (shape only: the rules stay in the services)."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from rest_framework import serializers


class WallClockDateTimeField(serializers.DateTimeField):
    """A date and time as sent: without an offset it stays naive (DRF's field would read it in the
    server's timezone), so the service applies its own rule to it, the same for every entry point
    (e.g. ``inventory.services.windows.window_add``: wall-clock time in the window's timezone). An
    offset, when given, names the instant and is kept."""

    def enforce_timezone(self, value: datetime) -> datetime:
        if timezone.is_naive(value):
            return value
        return super().enforce_timezone(value)
