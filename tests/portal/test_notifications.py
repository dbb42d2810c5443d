"""The notification service: recorded with the change, sent after the commit, claimed once, retried
only for infrastructure errors. Tasks are called directly (or run inline after a captured commit)."""

from __future__ import annotations

import smtplib
import socket
from datetime import timedelta

import pytest
from django.core import mail
from django.core.mail.backends import locmem
from django.db import transaction
from django.utils import timezone

from portal import notifications
from portal.models import Notification
from portal.notifications import DeliveryDeferred, notification_create, notification_withdraw
from portal.tasks import send_notification, sweep_notifications

pytestmark = pytest.mark.django_db

State = Notification.State


def make(key: str = "test.hello:1", **overrides) -> Notification:  # noqa: ANN003
    fields = {
        "kind": "test.hello",
        "subject": "Hello",
        "body": "Hi there.",
        "recipients": ["ana@example.com", "bo@example.com"],
        "dedupe_key": key,
        **overrides,
    }
    return notification_create(**fields)


class FlakyBackend(locmem.EmailBackend):
    """The mail server, failing the next ``failures`` deliveries the way a real one drops out."""

    failures = 0
    error: Exception = smtplib.SMTPServerDisconnected("Connection unexpectedly closed")

    def send_messages(self, messages):  # noqa: ANN001, ANN201
        if FlakyBackend.failures > 0:
            FlakyBackend.failures -= 1
            raise FlakyBackend.error
        return super().send_messages(messages)


@pytest.fixture
def flaky(settings):  # noqa: ANN001, ANN201
    settings.EMAIL_BACKEND = f"{__name__}.FlakyBackend"
    yield FlakyBackend
    FlakyBackend.failures = 0
    FlakyBackend.error = smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


def closed_port() -> int:
    """A local port nobody listens on: connecting to it is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- Sending once -----------------------------------------------------------------------------------


def test_it_sends_only_after_the_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notification = make()
        assert mail.outbox == []
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert (message.subject, message.body, message.to) == (
        "Hello",
        "Hi there.",
        ["ana@example.com", "bo@example.com"],
    )
    notification.refresh_from_db()
    assert notification.state == State.SENT
    assert notification.attempts == 1
    assert notification.finished_at is not None


def test_running_the_task_twice_sends_once():
    notification = make()
    assert send_notification(notification.pk) == "sent"
    assert send_notification(notification.pk) == "not pending"
    assert len(mail.outbox) == 1
    notification.refresh_from_db()
    assert notification.attempts == 1


def test_only_one_of_two_racing_claims_wins():
    notification = make()
    assert notifications.claim(notification.pk) is True  # worker A
    assert notifications.claim(notification.pk) is False  # worker B, same moment
    assert send_notification(notification.pk) == "not pending"  # a redelivery while A sends
    assert mail.outbox == []
    notification.refresh_from_db()
    assert notification.state == State.SENDING
    assert notification.attempts == 1


def test_a_task_for_a_missing_notification_does_nothing():
    assert send_notification(987654) == "not pending"
    assert mail.outbox == []


def test_nothing_is_sent_when_the_transaction_rolls_back(django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        make()
        raise RuntimeError("the change failed")
    assert callbacks == []
    assert not Notification.objects.exists()
    assert mail.outbox == []


def test_the_same_event_is_recorded_and_sent_once(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        first = make()
        again = make(subject="Hello again")
    assert again.pk == first.pk
    assert Notification.objects.count() == 1
    assert len(callbacks) == 1
    assert [m.subject for m in mail.outbox] == ["Hello"]


# --- Recipients and sizes -------------------------------------------------------------------------


def test_bad_addresses_are_dropped_and_duplicates_merged():
    notification = make(
        recipients=[
            "ana@example.com",
            "ANA@example.com",
            "not an address",
            "bo@example.com\nBcc: eve@evil.example",
            "",
            None,
            " bo@example.com ",
            "x" * 250 + "@example.com",
        ]
    )
    assert notification.recipients == ["ana@example.com", "bo@example.com"]
    send_notification(notification.pk)
    assert mail.outbox[0].to == ["ana@example.com", "bo@example.com"]


def test_a_notification_with_nobody_to_tell_is_recorded_as_skipped(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        notification = make(recipients=["nobody", ""])
    assert callbacks == []
    notification.refresh_from_db()
    assert notification.state == State.SKIPPED
    assert notification.recipients == []
    assert notification.last_error == "Nobody to notify."
    assert send_notification(notification.pk) == "not pending"
    assert mail.outbox == []


def test_recipients_subject_and_body_are_bounded():
    notification = make(
        recipients=[f"user{i}@example.com" for i in range(80)],
        subject="Line one\r\nBcc: eve@evil.example " + "s" * 400,
        body="b" * (notifications.MAX_BODY_CHARS * 3),
    )
    notification.refresh_from_db()
    assert notification.recipients == [f"user{i}@example.com" for i in range(notifications.MAX_RECIPIENTS)]
    assert "\n" not in notification.subject and "\r" not in notification.subject
    assert len(notification.subject) == 200
    assert len(notification.body) == notifications.MAX_BODY_CHARS


# --- Failures -------------------------------------------------------------------------------------


def test_an_unreachable_mail_server_is_retried_and_recorded(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", closed_port(), 5
    notification = make()
    before = timezone.now()

    # Called directly, the task hands the retry back as an exception; a worker would reschedule it.
    with pytest.raises(DeliveryDeferred) as excinfo:
        send_notification(notification.pk)

    assert excinfo.value.countdown == 60
    notification.refresh_from_db()
    assert notification.state == State.PENDING
    assert notification.attempts == 1
    assert "ConnectionRefusedError" in notification.last_error
    assert notification.next_attempt_at >= before + timedelta(seconds=60)

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"  # the server is back
    assert send_notification(notification.pk) == "sent"
    notification.refresh_from_db()
    assert (notification.state, notification.attempts) == (State.SENT, 2)
    assert len(mail.outbox) == 1


def test_the_worker_retries_a_dropped_connection_until_it_goes_through(flaky):
    flaky.failures = 2
    notification = make()
    # apply() runs the task as a worker would, retries included (inline, without the delay).
    send_notification.apply(args=[notification.pk])
    notification.refresh_from_db()
    assert (notification.state, notification.attempts) == (State.SENT, 3)
    assert len(mail.outbox) == 1


def test_it_gives_up_after_the_last_attempt(flaky):
    flaky.failures = 100
    notification = make()
    send_notification.apply(args=[notification.pk])
    notification.refresh_from_db()
    assert notification.state == State.FAILED
    assert notification.attempts == notifications.MAX_ATTEMPTS
    assert notification.last_error.startswith(f"Gave up after {notifications.MAX_ATTEMPTS} attempts.")
    assert mail.outbox == []


def test_a_permanent_refusal_is_not_retried(flaky):
    flaky.failures = 1
    flaky.error = smtplib.SMTPRecipientsRefused({"ana@example.com": (550, b"No such user")})
    notification = make()
    assert send_notification(notification.pk) == "failed"
    notification.refresh_from_db()
    assert (notification.state, notification.attempts) == (State.FAILED, 1)
    assert "refused every recipient" in notification.last_error


def test_a_bug_fails_the_notification_and_the_task_without_retrying(flaky):
    flaky.failures = 1
    flaky.error = ValueError("x" * 2000)
    notification = make()
    with pytest.raises(ValueError):
        send_notification(notification.pk)
    notification.refresh_from_db()
    assert notification.state == State.FAILED
    assert notification.last_error.startswith("ValueError: xxx")
    assert len(notification.last_error) == notifications.MAX_ERROR_CHARS


def test_backoff_grows_and_is_capped():
    assert [notifications.backoff_seconds(n) for n in (1, 2, 3, 4)] == [60, 120, 240, 480]
    assert notifications.backoff_seconds(30) == 3600


# --- Withdrawal and the sweep ---------------------------------------------------------------------


def test_a_withdrawn_notification_is_not_sent():
    notification = make()
    assert notification_withdraw(dedupe_key=notification.dedupe_key, reason="Done already.") is True
    assert send_notification(notification.pk) == "not pending"
    assert mail.outbox == []
    notification.refresh_from_db()
    assert (notification.state, notification.last_error) == (State.SKIPPED, "Done already.")
    assert notification_withdraw(dedupe_key=notification.dedupe_key, reason="Again.") is False


def test_the_sweep_resends_lost_tasks_and_gives_up_on_vanished_senders(django_capture_on_commit_callbacks):
    long_ago = timezone.now() - timedelta(hours=1)
    lost = make("test:lost", subject="Lost")
    Notification.objects.filter(pk=lost.pk).update(next_attempt_at=long_ago)
    vanished = make("test:vanished", subject="Vanished")
    assert notifications.claim(vanished.pk)
    Notification.objects.filter(pk=vanished.pk).update(claimed_at=long_ago)
    fresh = make("test:fresh", subject="Fresh")  # its own task is on its way

    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_notifications() == {"requeued": 1, "abandoned": 1}

    assert [m.subject for m in mail.outbox] == ["Lost"]
    states = dict(Notification.objects.values_list("dedupe_key", "state"))
    assert states == {"test:lost": State.SENT, "test:vanished": State.FAILED, "test:fresh": State.PENDING}
    fresh.refresh_from_db()
    assert fresh.attempts == 0
