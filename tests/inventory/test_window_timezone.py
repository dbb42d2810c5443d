"""One rule for the times of a one-off window, whichever door they come through: a time without an
offset is wall-clock time in the window's timezone; a time with one names its instant."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework import serializers

from inventory.models import AvailabilityWindow
from inventory.services import windows
from portal.api_fields import WallClockDateTimeField
from portal.audit import Actor
from tests.inventory.test_api import token_client

NAIVE = {
    "kind": "one_off",
    "timezone": "Europe/Berlin",
    "starts_at": "2030-01-06T02:00",
    "ends_at": "2030-01-06T03:30",
}
# 02:00 and 03:30 in Berlin in January (CET, UTC+1).
EXPECTED = (datetime(2030, 1, 6, 1, 0, tzinfo=UTC), datetime(2030, 1, 6, 2, 30, tzinfo=UTC))


def _stored(api) -> tuple[datetime, datetime]:
    window = AvailabilityWindow.objects.get(api=api)
    return window.starts_at, window.ends_at


def test_the_html_form_reads_naive_times_in_the_windows_timezone(api, alice, login):
    response = login(alice).post(reverse("inventory:window_add", args=[api.slug]), NAIVE)

    assert response.status_code == 302
    assert _stored(api) == EXPECTED


def test_rest_reads_the_same_naive_times_the_same_way(api, alice):
    response = token_client(alice).post(f"/api/v1/inventory/apis/{api.slug}/windows/", NAIVE, format="json")

    assert response.status_code == 201, response.json()
    assert _stored(api) == EXPECTED


def test_the_service_applies_the_rule_to_what_either_door_passes(api, alice):
    # What the form's field and WallClockDateTimeField both hand over: the naive values as typed.
    data = {**NAIVE, "starts_at": datetime(2030, 1, 6, 2, 0), "ends_at": datetime(2030, 1, 6, 3, 30)}

    windows.window_add_from_input(actor=Actor(user=alice), api=api, data=data)

    assert _stored(api) == EXPECTED


def test_a_time_with_an_offset_keeps_its_instant_whatever_the_timezone(api, alice):
    windows.window_add(
        actor=Actor(user=alice),
        api=api,
        kind="one_off",
        tz="America/New_York",
        starts_at=datetime(2030, 1, 6, 1, 0, tzinfo=UTC),
        ends_at=datetime(2030, 1, 6, 2, 30, tzinfo=UTC),
    )

    assert _stored(api) == EXPECTED


def test_an_unknown_timezone_is_refused_for_a_one_off_window_too(api, alice):
    with pytest.raises(ValidationError, match="Unknown timezone"):
        windows.window_add(
            actor=Actor(user=alice),
            api=api,
            kind="one_off",
            tz="Mars/Olympus",
            starts_at=datetime(2030, 1, 6, 1, 0, tzinfo=UTC),
            ends_at=datetime(2030, 1, 6, 2, 30, tzinfo=UTC),
        )
    assert not AvailabilityWindow.objects.exists()


def test_the_rest_field_keeps_naive_times_naive_and_offsets_as_instants():
    class Body(serializers.Serializer):
        at = WallClockDateTimeField()

    naive = Body(data={"at": "2030-01-06T02:00"})
    aware = Body(data={"at": "2030-01-06T02:00+01:00"})
    assert naive.is_valid() and aware.is_valid()

    assert naive.validated_data["at"] == datetime(2030, 1, 6, 2, 0)
    assert naive.validated_data["at"].tzinfo is None
    assert aware.validated_data["at"] == datetime(2030, 1, 6, 1, 0, tzinfo=UTC)
