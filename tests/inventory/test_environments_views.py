"""Environments, their servers and baselines, and availability windows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from inventory.models import AvailabilityWindow, Environment, PerformanceBaseline
from tests.inventory.pages import url


def test_it_saves_and_deletes_an_environment(api, alice, login):
    client = login(alice)
    response = client.post(
        url("environment_save", api.slug), {"name": "staging", "base_urls": "https://s.example.com/v1\n"}
    )
    assert response.status_code == 302
    env = Environment.objects.get(api=api, name="staging")
    assert env.base_urls == ["https://s.example.com/v1"]
    assert client.post(url("environment_delete", api.slug, env.pk)).status_code == 302
    assert not Environment.objects.filter(pk=env.pk).exists()


def test_it_shows_environment_errors(api, alice, login):
    response = login(alice).post(
        url("environment_save", api.slug), {"name": "staging", "base_urls": "ftp://x"}
    )
    assert response.status_code == 400
    assert "is not an absolute URL" in response.content.decode()
    assert not Environment.objects.exists()


def test_it_attaches_a_server(api, env, alice, login):
    data = {f"server-{env.pk}-hostname": "App1.Example.com", f"server-{env.pk}-addresses": "10.0.0.1, ::1"}
    response = login(alice).post(url("server_attach", api.slug, env.pk), data)
    assert response.status_code == 302
    server = env.servers.get()
    assert server.hostname == "app1.example.com" and server.addresses == ["10.0.0.1", "::1"]


def test_it_shows_server_errors(api, env, alice, login):
    data = {f"server-{env.pk}-hostname": "app1", f"server-{env.pk}-addresses": "not-an-ip"}
    response = login(alice).post(url("server_attach", api.slug, env.pk), data)
    assert response.status_code == 400
    assert "is not an IP address" in response.content.decode()
    assert not env.servers.exists()


def test_it_saves_a_baseline(api, env, alice, login):
    p = f"baseline-{env.pk}-"
    data = {p + "p50_ms": 20, p + "p95_ms": 80, p + "p99_ms": 200, p + "requests_per_second": "150.5",
            p + "error_rate_percent": "0.2"}  # fmt: skip
    assert login(alice).post(url("baseline_save", api.slug, env.pk), data).status_code == 302
    assert PerformanceBaseline.objects.get(environment=env).p95_ms == 80


def test_it_refuses_unordered_percentiles(api, env, alice, login):
    p = f"baseline-{env.pk}-"
    data = {p + "p50_ms": 300, p + "p95_ms": 80, p + "p99_ms": 200, p + "requests_per_second": "1",
            p + "error_rate_percent": "0"}  # fmt: skip
    response = login(alice).post(url("baseline_save", api.slug, env.pk), data)
    assert response.status_code == 400
    assert "p50 ≤ p95 ≤ p99" in response.content.decode()


def test_it_adds_a_recurring_window(api, alice, login):
    data = {"kind": "recurring", "timezone": "Europe/Berlin", "weekdays": ["6"], "start_time": "02:00",
            "end_time": "04:00", "description": "Sunday maintenance"}  # fmt: skip
    client = login(alice)
    assert client.post(url("window_add", api.slug), data).status_code == 302
    window = AvailabilityWindow.objects.get(api=api)
    assert window.weekdays == [6] and window.timezone == "Europe/Berlin"
    assert (
        "Sun, 02:00–04:00 Europe/Berlin"
        in client.get(url("detail", api.slug), {"tab": "metrics"}).content.decode()
    )
    assert client.post(url("window_delete", api.slug, window.pk)).status_code == 302
    assert not AvailabilityWindow.objects.exists()


def test_it_reads_one_off_times_in_the_given_timezone(api, alice, login):
    data = {"kind": "one_off", "timezone": "Europe/Berlin", "starts_at": "2030-01-06T02:00",
            "ends_at": "2030-01-06T03:30"}  # fmt: skip
    assert login(alice).post(url("window_add", api.slug), data).status_code == 302
    window = AvailabilityWindow.objects.get(api=api)
    assert window.starts_at == datetime(2030, 1, 6, 1, 0, tzinfo=UTC)
    assert window.ends_at == datetime(2030, 1, 6, 2, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "recurring", "timezone": "Mars/Olympus", "weekdays": ["0"], "start_time": "01:00",
          "end_time": "02:00"}, "Unknown timezone"),
        ({"kind": "one_off", "timezone": "Mars/Olympus", "starts_at": "2030-01-06T02:00",
          "ends_at": "2030-01-06T03:00"}, "Unknown timezone"),
        ({"kind": "one_off", "timezone": "UTC", "starts_at": "2030-01-06T04:00", "ends_at": "2030-01-06T03:00"},
         "ends before it starts"),
        ({"kind": "recurring", "timezone": "UTC", "weekdays": ["0"], "start_time": "04:00", "end_time": "03:00"},
         "ends before it starts"),
        ({"kind": "recurring", "timezone": "UTC", "weekdays": ["0"], "start_time": "01:00", "end_time": "02:00",
          "environment": "nowhere"}, "no environment of that name"),
        # Which fields a kind needs is the service's rule; the form shows what the service says.
        ({"kind": "one_off", "timezone": "UTC", "starts_at": "2030-01-06T04:00"}, "Give a start and an end."),
        ({"kind": "recurring", "timezone": "UTC", "weekdays": ["0"], "start_time": "01:00"},
         "Give a start and an end time."),
        ({"kind": "recurring", "timezone": "UTC", "start_time": "01:00", "end_time": "02:00"},
         "Choose at least one weekday."),
    ],
)  # fmt: skip
def test_it_shows_window_errors_in_the_form(api, alice, login, data, message):
    response = login(alice).post(url("window_add", api.slug), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not AvailabilityWindow.objects.exists()


def test_it_refuses_overlapping_windows(api, alice, login):
    data = {
        "kind": "recurring",
        "timezone": "UTC",
        "weekdays": ["0"],
        "start_time": "01:00",
        "end_time": "03:00",
    }
    client = login(alice)
    assert client.post(url("window_add", api.slug), data).status_code == 302
    response = client.post(url("window_add", api.slug), {**data, "start_time": "02:00", "end_time": "04:00"})
    assert response.status_code == 400
    assert "Overlaps" in response.content.decode()


# --- Servers of other teams: attached as they are when visible, never touched or revealed otherwise ---


def _attach(client, api, env, hostname: str):  # noqa: ANN001, ANN202
    data = {f"server-{env.pk}-hostname": hostname, f"server-{env.pk}-addresses": "10.9.9.9"}
    return client.post(url("server_attach", api.slug, env.pk), data)


def test_a_host_another_team_registered_out_of_sight_answers_like_a_new_one(org, api, env, alice, login):
    from inventory.models import Server
    from tests.factories import ServerFactory

    theirs = ServerFactory(org_unit=org.other_team, hostname="db.example.com", addresses=["10.0.0.1"])
    client = login(alice)
    taken, fresh = _attach(client, api, env, "db.example.com"), _attach(client, api, env, "new.example.com")
    assert (
        (taken.status_code, taken["Location"])
        == (fresh.status_code, fresh["Location"])
        == (302, taken["Location"])
    )
    # The other team's record is untouched; the API's team has its own record of the name.
    theirs.refresh_from_db()
    assert theirs.addresses == ["10.0.0.1"]
    ours = Server.objects.get(hostname="db.example.com", org_unit=org.team)
    assert ours.addresses == ["10.9.9.9"] and ours in env.servers.all() and theirs not in env.servers.all()


def test_a_visible_platform_host_is_attached_as_it_is(org, api, env, alice, make_member, login):
    from portal.models import Role
    from tests.factories import ServerFactory, grant

    grant(alice, org.dept, Role.VIEWER)  # alice can see the department's hosts, not edit them
    platform = ServerFactory(org_unit=org.dept, hostname="k8s-1.example.com", addresses=["10.0.0.2"])
    assert _attach(login(alice), api, env, "k8s-1.example.com").status_code == 302
    platform.refresh_from_db()
    assert platform.addresses == ["10.0.0.2"]  # not edited by a team that does not own it
    assert list(env.servers.all()) == [platform]


def test_ci_attaching_a_host_another_team_registered_answers_like_a_new_one(org, alice):
    from rest_framework.test import APIClient

    from portal.services.tokens import api_token_create
    from tests.factories import SYSTEM, ServerFactory, register_api

    register_api(org.team, "pay")
    ServerFactory(org_unit=org.other_team, hostname="db.example.com")
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {api_token_create(actor=SYSTEM, user=alice, name='ci').secret}"
    )
    base = "/api/v1/inventory/apis/pay/environments/production/servers/"
    taken = client.post(base, {"hostname": "db.example.com"}, format="json")
    fresh = client.post(base, {"hostname": "fresh.example.com"}, format="json")
    assert taken.status_code == fresh.status_code == 201
