"""plan_save and plan_default_for: checks, schedules and opt-ins validated by field, audited once."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from portal.audit import Actor
from portal.models import AuditEvent, Role
from testing.models import TestPlan
from testing.services.plans import default_checks, plan_default_for, plan_save
from tests.factories import ApiFactory, EnvironmentFactory
from tests.testing.checks_for_tests import registered_checks  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("registered_checks")


@pytest.fixture
def engineer(org, make_member):
    return make_member(Role.SECURITY_ENGINEER, org.root, "erin")


@pytest.fixture
def env(org):
    return EnvironmentFactory(api=ApiFactory(org_unit=org.team), name="staging")


def _save(actor, env, **overrides):
    values = dict(
        actor=actor,
        api=env.api,
        environment=env,
        checks=["t_quiet", "t_items"],
        schedule_kind="interval",
        interval_minutes=60,
        cron="",
        timezone="UTC",
        intrusive_allowed=False,
        production_opt_in=False,
        latency_tolerance=Decimal("0.5"),
        enabled=True,
    )
    values.update(overrides)
    return plan_save(**values)


def test_it_creates_then_changes_a_plan_and_audits_each_change(engineer, env):
    before = timezone.now()
    plan = _save(Actor(user=engineer), env)
    assert plan.checks == ["t_items", "t_quiet"]  # the registry's order
    assert before + timedelta(minutes=59) < plan.next_run_at <= timezone.now() + timedelta(minutes=60)

    plan = _save(
        Actor(user=engineer), env, schedule_kind="cron", cron="0  3 * * 1-5", timezone="Europe/Berlin"
    )
    assert plan.cron == "0 3 * * 1-5"
    local = plan.next_run_at.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Berlin"))
    assert (local.hour, local.minute) == (3, 0) and local.weekday() < 5

    _save(Actor(user=engineer), env, schedule_kind="cron", cron="0 3 * * 1-5", timezone="Europe/Berlin")
    events = AuditEvent.objects.filter(action="testing.plan_save").order_by("pk")
    assert events.count() == 2  # saving the same plan again records nothing
    assert events[1].before["schedule_kind"] == "interval" and events[1].after["cron"] == "0 3 * * 1-5"
    assert TestPlan.objects.count() == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"checks": ["t_quiet", "nope"]}, "checks"),
        ({"checks": []}, "checks"),
        ({"checks": "t_quiet"}, "checks"),
        ({"checks": ["t_writes"]}, "checks"),  # intrusive without opt-in
        ({"schedule_kind": "cron", "cron": "* * * * *"}, "cron"),  # every minute
        ({"schedule_kind": "cron", "cron": "0 0 31 2 *"}, "cron"),  # never
        ({"schedule_kind": "cron", "cron": "0 3 * * *", "timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": "../../etc/passwd"}, "timezone"),
        ({"schedule_kind": "weekly"}, "schedule_kind"),
        ({"interval_minutes": 1}, "interval_minutes"),
        ({"interval_minutes": "soon"}, "interval_minutes"),
        ({"latency_tolerance": "NaN"}, "latency_tolerance"),
        ({"latency_tolerance": 11}, "latency_tolerance"),
    ],
)
def test_it_refuses_bad_input_by_field(engineer, env, overrides, field):
    with pytest.raises(ValidationError) as caught:
        _save(Actor(user=engineer), env, **overrides)
    assert field in caught.value.message_dict
    assert (
        not TestPlan.objects.exists() and not AuditEvent.objects.filter(action="testing.plan_save").exists()
    )


def test_intrusive_checks_need_opt_in_and_on_production_the_owners_too(engineer, env, org):
    plan = _save(Actor(user=engineer), env, checks=["t_writes"], intrusive_allowed=True)
    assert plan.intrusive_allowed and plan.checks == ["t_writes"]

    prod = EnvironmentFactory(api=env.api, name="production", is_production=True)
    with pytest.raises(ValidationError) as caught:
        _save(Actor(user=engineer), prod, checks=["t_writes"], intrusive_allowed=True)
    assert "production" in caught.value.message_dict["production_opt_in"][0]
    plan = _save(
        Actor(user=engineer), prod, checks=["t_writes"], intrusive_allowed=True, production_opt_in=True
    )
    assert plan.production_opt_in


def test_only_testing_managers_save_plans_and_only_for_the_apis_environment(alice, engineer, env, org):
    with pytest.raises(PermissionDenied):
        _save(Actor(user=alice), env)
    other = EnvironmentFactory(api=ApiFactory(org_unit=org.team), name="qa")
    with pytest.raises(ValidationError) as caught:
        _save(Actor(user=engineer), other, api=env.api)
    assert "environment" in caught.value.message_dict


def test_the_default_plan_is_made_once_with_every_non_intrusive_check(engineer, env):
    plan = plan_default_for(actor=Actor(user=engineer), environment=env)
    again = plan_default_for(actor=Actor(user=engineer), environment=env)
    assert again.pk == plan.pk and TestPlan.objects.count() == 1
    assert "t_writes" not in plan.checks and {"t_quiet", "t_items"} <= set(plan.checks)
    assert plan.checks == default_checks()
    assert plan.next_run_at is not None and plan.interval_minutes == 24 * 60
    assert AuditEvent.objects.filter(action="testing.plan_create").count() == 1
