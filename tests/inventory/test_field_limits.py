"""Limits live on the models and in the services, so every entry point (form, REST, catalog import,
command) meets the same ones: each is checked here through the service, with no form in front."""

from __future__ import annotations

import ipaddress
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from inventory.models import Api, ApiDependency, Component, DiscoveredEndpoint, PerformanceBaseline, Server
from inventory.services import components, consumers, discovered, environments, registration, review
from portal.audit import Actor
from portal.models import ApiToken, AuditEvent
from portal.services import tokens
from tests.factories import ConsumerServiceFactory, DiscoveredEndpointFactory, EnvironmentFactory
from tests.inventory.pages import url


def _refused(field: str, call) -> ValidationError:  # noqa: ANN001
    before = AuditEvent.objects.count()
    with pytest.raises(ValidationError) as exc:
        call()
    assert field in exc.value.message_dict, exc.value
    assert AuditEvent.objects.count() == before  # nothing half-written
    return exc.value


def test_a_description_over_10000_characters_is_refused(api, alice):
    _refused(
        "description",
        lambda: registration.api_update(actor=Actor(user=alice), api=api, description="x" * 10_001),
    )
    registration.api_update(actor=Actor(user=alice), api=api, description="x" * 10_000)
    assert len(Api.objects.get(pk=api.pk).description) == 10_000


def test_a_latency_over_an_hour_is_refused(env, alice):
    def save(p99: int) -> PerformanceBaseline:
        return environments.baseline_save(
            actor=Actor(user=alice),
            environment=env,
            p50_ms=10,
            p95_ms=20,
            p99_ms=p99,
            requests_per_second=Decimal("1"),
            error_rate_percent=Decimal("0.1"),
        )

    _refused("p99_ms", lambda: save(3_600_001))
    assert not PerformanceBaseline.objects.exists()
    assert save(3_600_000).p99_ms == 3_600_000


@pytest.mark.parametrize(
    ("fields", "at_fault"),
    [
        ({"ecosystem": "not a slug!"}, "ecosystem"),
        ({"ecosystem": "e" * 51}, "ecosystem"),
        ({"name": "n" * 301}, "name"),
        ({"version": "1" * 101}, "version"),
    ],
)
def test_a_declared_component_meets_the_models_limits(api, alice, fields, at_fault):
    values = {
        "ecosystem": "pypi",
        "name": "django",
        "version": "5.2",
        "kind": Component.Kind.FRAMEWORK,
        **fields,
    }
    _refused(at_fault, lambda: components.component_declare(actor=Actor(user=alice), api=api, **values))
    assert not Component.objects.exists()


def test_a_consumer_note_over_300_characters_is_refused(api, alice):
    service = ConsumerServiceFactory(owner=api.org_unit)
    _refused(
        "note",
        lambda: consumers.dependency_add(
            actor=Actor(user=alice), api=api, consumer_service=service, note="n" * 301
        ),
    )
    assert not ApiDependency.objects.exists()


def test_a_dismissal_reason_over_500_characters_is_refused_not_cut(org, ciso):
    item = DiscoveredEndpointFactory(org_unit=org.root)
    _refused(
        "reason", lambda: discovered.discovered_dismiss(actor=Actor(user=ciso), item=item, reason="r" * 501)
    )
    item.refresh_from_db()
    assert item.state == DiscoveredEndpoint.State.NEW

    discovered.discovered_dismiss(actor=Actor(user=ciso), item=item, reason="r" * 500)
    item.refresh_from_db()
    assert len(item.dismissed_reason) == 500


def test_a_default_host_longer_than_dns_allows_is_refused(org, ciso):
    _refused(
        "host",
        lambda: discovered.discovery_ingest(
            actor=Actor(user=ciso), chunks=[b"x\n"], filename="a.log", default_host="h" * 254
        ),
    )


def test_a_base_url_over_500_characters_is_refused(api, alice):
    def save(length: int) -> object:
        url = "https://a.example/" + "p" * (length - len("https://a.example/"))
        return environments.environment_save(actor=Actor(user=alice), api=api, name="prod", base_urls=[url])

    _refused("base_urls", lambda: save(501))
    assert not api.environments.exists()
    save(500)
    assert len(api.environments.get().base_urls[0]) == 500


def test_a_server_address_longer_than_an_ip_address_is_refused(api, alice):
    # A scoped IPv6 address parses, zone and all, however long its zone: the length is the rule.
    def save(address: str) -> object:
        return environments.server_save(
            actor=Actor(user=alice), org_unit=api.org_unit, hostname="pay-1.example", addresses=[address]
        )

    _refused("addresses", lambda: save("fe80::1%" + "z" * 38))  # 46 characters
    assert not Server.objects.exists()
    longest = "0000:0000:0000:0000:0000:ffff:192.168.100.200"  # 45, the longest IPv6 text without a zone
    save(longest)
    assert Server.objects.get().addresses == [str(ipaddress.ip_address(longest))]


@pytest.mark.parametrize("field", ["auth_schemes", "protocols"])
def test_more_profile_entries_than_the_limit_are_refused(api, alice, field):
    value = {"auth_schemes": "oauth2", "protocols": "rest_https"}[field]
    _refused(
        field, lambda: registration.api_update(actor=Actor(user=alice), api=api, **{field: [value] * 11})
    )
    assert getattr(Api.objects.get(pk=api.pk), field) == []
    registration.api_update(actor=Actor(user=alice), api=api, **{field: [value] * 10})
    assert getattr(Api.objects.get(pk=api.pk), field) == [value]  # repeats merged


def test_a_token_name_over_100_characters_is_refused_not_cut(alice):
    _refused(
        "name", lambda: tokens.api_token_create(actor=Actor(user=alice), user=alice, name="t" * 101, days=5)
    )
    assert not ApiToken.objects.exists()


def test_a_review_note_over_5000_characters_is_refused(org, ready, make_member):
    from portal.models import Role

    reviewer = make_member(Role.SECURITY_ENGINEER, org.root, "rita")
    review.api_submit(actor=Actor.system("tests"), api=ready)
    _refused(
        "note",
        lambda: review.api_request_changes(actor=Actor(user=reviewer), api=ready, comment="c" * 5001),
    )
    ready.refresh_from_db()
    assert ready.status == "submitted"


# --- The forms show what the models and services say -----------------------------------------------


def test_the_baseline_form_shows_the_models_range(api, env, alice, login):
    data = {
        f"baseline-{env.pk}-{k}": v
        for k, v in {
            "p50_ms": 1,
            "p95_ms": 2,
            "p99_ms": 3_600_001,
            "requests_per_second": "1",
            "error_rate_percent": "0",
        }.items()
    }
    response = login(alice).post(url("baseline_save", api.slug, env.pk), data)

    assert response.status_code == 400
    assert "less than or equal to 3600000" in response.content.decode()
    assert not PerformanceBaseline.objects.exists()


def test_the_token_page_shows_the_services_day_limit(alice, login):
    response = login(alice).post("/accounts/tokens/", {"name": "ci", "days": "0"})

    assert response.status_code == 200
    assert "Choose between 1 and" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_the_environment_name_limit_is_the_models(api, alice):
    from inventory.forms import EnvironmentForm
    from inventory.models import Environment

    assert EnvironmentForm.base_fields["name"].max_length == Environment._meta.get_field("name").max_length
    EnvironmentFactory(api=api, name="e" * 50, base_urls=["https://a.example"])
