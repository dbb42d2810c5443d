"""What the code under test sent to workers, read back from a broker in memory.

``sent_tasks`` makes a Celery app on kombu's in-memory transport the current and default one for the
test (every thread sees it), so ``send_task`` goes through Celery's real publishing path; ``drain()``
reads the messages back as (task name, args), ``messages()`` whole. Nothing reaches the developer's
or CI's broker.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from queue import Empty
from typing import Any

import celery._state
import pytest
from celery import Celery, current_app


@dataclass
class SentMessage:
    headers: dict[str, Any]
    properties: dict[str, Any]
    delivery_info: dict[str, Any]
    content_type: str
    body: Any  # decoded: (args, kwargs, embed) for Celery's protocol 2


@dataclass
class SentTasks:
    app: Celery

    def drain(self) -> list[tuple[str, list[Any]]]:
        sent = []
        for message in self.messages():
            args, _kwargs, _embed = message.body
            sent.append((message.headers["task"], list(args)))
        return sent

    def messages(self) -> list[SentMessage]:
        """Every message on the queue, whole, in the order sent (and taken off the queue)."""
        sent = []
        with self.app.connection_for_read() as conn:
            queue = conn.SimpleQueue(self.app.conf.task_default_queue, no_ack=True)
            try:
                while True:
                    message = queue.get(block=False)
                    sent.append(
                        SentMessage(
                            headers=dict(message.headers),
                            properties=dict(message.properties),
                            delivery_info=dict(message.delivery_info),
                            content_type=message.content_type,
                            body=message.decode(),
                        )
                    )
            except Empty:
                pass
            finally:
                queue.close()
        return sent

    def run_ids(self, task: str = "testing.tasks.run_plan") -> list[int]:
        return [args[0] for name, args in self.drain() if name == task]


@pytest.fixture
def sent_tasks(monkeypatch: pytest.MonkeyPatch) -> Iterator[SentTasks]:
    # Celery prefers these variables to any app's own broker setting (CI sets the first).
    for name in ("CELERY_BROKER_URL", "CELERY_BROKER_READ_URL", "CELERY_BROKER_WRITE_URL"):
        monkeypatch.delenv(name, raising=False)
    previous_current = current_app._get_current_object()
    previous_default = celery._state.default_app
    app = Celery("sent-tasks", broker="memory://", set_as_current=False)
    app.conf.task_default_queue = f"sent-{uuid.uuid4().hex[:12]}"
    app.conf.task_serializer = "json"
    app.set_current()
    app.set_default()
    try:
        assert app.connection_for_write().transport_cls == "memory"
        yield SentTasks(app)
    finally:
        previous_current.set_current()
        celery._state.set_default_app(previous_default)
        app.close()
