"""The sweep's sending: each queued run reaches the broker as the ``run_plan`` message Celery itself
would send for it, one message per run, though only the first of a batch is built by Celery.

The end-to-end proof that a worker consumes them (a real worker and beat, several due plans, every
run executed) is the slow test at the end; tests/testing/test_celery_wiring.py does the same for one.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from celery import signals
from django.utils import timezone

from inventory.models import Api, ApiStatus
from testing.models import FINISHED_RUN_STATUSES, RunStatus, TestRun
from testing.services.runs import RUN_TASK
from testing.services.schedule import _direct_route, runs_send
from tests.testing.factories import TestPlanFactory
from tests.testing.servers import RawServer, respond
from tests.testing.test_celery_wiring import _wait_for, registered_tasks, start_worker_and_beat  # noqa: F401
from tests.testing.wiring_check import WiringCheck

pytest_plugins = ["tests.testing.sent_tasks"]  # the sent_tasks fixture

# What differs from one run's message to the next: the task id (three places), the argument and its
# repr; and the transport's own delivery tag.
PER_MESSAGE_HEADERS = {"id", "root_id", "argsrepr"}
PER_MESSAGE_PROPERTIES = {"correlation_id", "delivery_tag"}


def celerys_own(app: Any, run_id: int) -> Any:
    """The message Celery's send_task makes for a run, routed as the sweep routes it."""
    app.send_task(RUN_TASK, args=[run_id], **_direct_route(app))
    return app


def without(mapping: dict[str, Any], keys: set[str]) -> dict[str, Any]:
    return {key: value for key, value in mapping.items() if key not in keys}


def test_it_sends_each_run_as_the_message_celery_sends_but_for_its_own_id(sent_tasks):
    runs_send([7, 8, 9])
    sent = sent_tasks.messages()
    celerys_own(sent_tasks.app, 8)
    (reference,) = sent_tasks.messages()

    assert [message.body[0] for message in sent] == [[7], [8], [9]]
    ids = [message.headers["id"] for message in sent]
    assert len(set(ids)) == 3
    for message, run_id, task_id in zip(sent, [7, 8, 9], ids, strict=True):
        assert message.headers["task"] == RUN_TASK
        assert message.headers["root_id"] == task_id == message.properties["correlation_id"]
        assert message.headers["argsrepr"] == repr([run_id])
        assert message.body[1:] == reference.body[1:]
        assert without(message.headers, PER_MESSAGE_HEADERS) == without(
            reference.headers, PER_MESSAGE_HEADERS
        )
        assert without(message.properties, PER_MESSAGE_PROPERTIES) == without(
            reference.properties, PER_MESSAGE_PROPERTIES
        )
        assert message.delivery_info == reference.delivery_info
        assert message.content_type == reference.content_type == "application/json"


def test_only_the_first_run_of_a_batch_goes_through_celerys_send_task(sent_tasks, monkeypatch):
    calls = []
    send_task = sent_tasks.app.send_task

    def counted(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append(kwargs["args"])
        return send_task(*args, **kwargs)

    monkeypatch.setattr(sent_tasks.app, "send_task", counted)
    runs_send(list(range(1, 1201)))
    assert calls == [[1]]  # the rest were that message again, so the fast path held
    assert sent_tasks.run_ids() == list(range(1, 1201))


def test_inside_a_task_every_run_has_the_task_as_parent_and_its_root(sent_tasks):
    @sent_tasks.app.task(name="tests.sweep_like")
    def sweep_like() -> None:
        runs_send([1, 2, 3])

    result = sweep_like.apply()
    sent = sent_tasks.messages()
    assert [message.body[0] for message in sent] == [[1], [2], [3]]
    assert {message.headers["parent_id"] for message in sent} == {result.id}
    assert {message.headers["root_id"] for message in sent} == {result.id}
    assert len({message.headers["id"] for message in sent}) == 3


def test_with_someone_listening_to_publishes_every_run_goes_through_send_task(sent_tasks):
    heard = []

    def listener(sender: str, headers: dict[str, Any], **kwargs: Any) -> None:
        heard.append((sender, headers["argsrepr"]))

    signals.before_task_publish.connect(listener)
    try:
        runs_send([4, 5, 6])
    finally:
        signals.before_task_publish.disconnect(listener)
    assert heard == [(RUN_TASK, "[4]"), (RUN_TASK, "[5]"), (RUN_TASK, "[6]")]
    assert sent_tasks.run_ids() == [4, 5, 6]


def test_with_sent_events_on_every_run_goes_through_send_task(sent_tasks, monkeypatch):
    sent_tasks.app.conf.task_send_sent_event = True
    calls = []
    send_task = sent_tasks.app.send_task
    monkeypatch.setattr(sent_tasks.app, "send_task", lambda *a, **kw: calls.append(1) or send_task(*a, **kw))
    runs_send([1, 2])
    assert len(calls) == 2 and sent_tasks.run_ids() == [1, 2]


def test_sending_nothing_sends_nothing(sent_tasks):
    runs_send([])
    assert sent_tasks.messages() == []


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_runs_every_run_a_sweep_sent(start_worker_and_beat):  # noqa: F811
    """Beat's sweep in the worker sends three runs (Celery's message, then two made from it) to the
    configured broker; the worker takes each and runs its check."""
    assert RUN_TASK in registered_tasks()
    with RawServer(
        lambda conn, request: respond(conn, 200, b"{}", [("Content-Type", "application/json")])
    ) as server:
        plans = [
            TestPlanFactory(
                environment__base_urls=[server.url("/")],
                checks=[WiringCheck.key],
                next_run_at=timezone.now() - timedelta(minutes=5),
            )
            for _ in range(3)
        ]
        Api.objects.filter(pk__in=[plan.api_id for plan in plans]).update(status=ApiStatus.APPROVED)
        logs = start_worker_and_beat()
        finished = _wait_for(
            lambda: (
                runs
                if len(runs := list(TestRun.objects.filter(plan__in=plans, status__in=FINISHED_RUN_STATUSES)))
                == 3
                else None
            ),
            90,
            logs,
        )
        assert sorted(run.plan_id for run in finished) == sorted(plan.pk for plan in plans)
        assert all(run.status == RunStatus.PASSED for run in finished), [run.reason for run in finished]
