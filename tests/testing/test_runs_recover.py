"""Runs that nothing would finish (a lost message, a failed task) are sent again, and only those."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from testing.models import RunStatus
from testing.services.execution import RECOVER_QUEUED_AFTER, lease, runs_recover
from tests.testing.factories import TestPlanFactory, TestRunFactory

pytest_plugins = ["tests.testing.sent_tasks"]  # the sent_tasks fixture


@pytest.mark.django_db
def test_it_sends_again_only_the_stuck_runs(sent_tasks):
    now = timezone.now()
    plan = TestPlanFactory()
    lost = TestRunFactory(
        plan=plan, status=RunStatus.QUEUED, created_at=now - RECOVER_QUEUED_AFTER - timedelta(minutes=1)
    )
    waiting = TestRunFactory(plan=plan, status=RunStatus.QUEUED, created_at=now - timedelta(minutes=1))
    abandoned = TestRunFactory(
        plan=plan, status=RunStatus.RUNNING, claimed_at=now - lease() - timedelta(seconds=5)
    )
    working = TestRunFactory(plan=plan, status=RunStatus.RUNNING, claimed_at=now - timedelta(seconds=5))
    TestRunFactory(plan=plan, status=RunStatus.PASSED, created_at=now - timedelta(days=1))

    assert runs_recover(now=now) == 2

    # The queued run still within its time and the run whose worker holds a fresh claim are left alone.
    assert sorted(sent_tasks.run_ids()) == sorted([lost.pk, abandoned.pk])
    assert {waiting.pk, working.pk}.isdisjoint(sent_tasks.run_ids())
