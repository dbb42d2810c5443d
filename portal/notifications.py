"""Notifications, built once: recorded with the change they report, sent after it commits, claimed once.

    notification_create(
        kind="inventory.api.submitted",
        subject="Payments API is waiting for review",
        body="…",
        recipients=["ana@example.com", "bo@example.com"],
        dedupe_key=f"inventory.api.submitted:{api.pk}:{submitted_at}",
    )

Call it inside the transaction of the change it reports: the row commits or rolls back with that
change, and the send task is enqueued only once the transaction has committed, so a rolled-back
change tells nobody. The task takes the id alone and calls ``notification_send``, which claims the
row with a conditional UPDATE (pending → sending) and goes on only if that changed one row: a
redelivered task, or two workers, never send one notification twice. Infrastructure errors (the
mail server down or refusing for now, a timeout) put it back to pending with a growing delay, up to
``MAX_ATTEMPTS``; anything else fails it at once. Either way a short error is kept on the row.
Recipients are validated and de-duplicated here; a notification with nobody left to tell is kept as
skipped, not dropped.

A channel is how a notification travels. Email is the only one today; a signed webhook would be one
more ``Transport`` (recipients: endpoint ids; ``deliver``: sign the body and POST it through the
safe HTTP client, raising ``Transient`` on a refused connection or a 5xx) and one more choice of
``Notification.Channel``. Nothing else changes.

``notifications_sweep`` (beat) re-enqueues pending notifications whose task never ran (the broker was
down at commit time) and gives up on the ones a worker died while sending: those may have gone out,
and sending again could send twice.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Iterable
from datetime import timedelta
from functools import partial
from typing import Protocol

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from portal.models import Notification

log = logging.getLogger(__name__)

State = Notification.State
Channel = Notification.Channel

MAX_RECIPIENTS = 50
MAX_BODY_CHARS = 20_000
MAX_ERROR_CHARS = 500
MAX_ATTEMPTS = 5
# A pending notification this far past due has lost its task; the sweep enqueues it again.
SWEEP_GRACE = timedelta(minutes=5)


class Transient(Exception):
    """The channel could not deliver now, for a reason that may pass: try again later."""


class Permanent(Exception):
    """The channel refused the notification for good: trying again would not help."""


class DeliveryDeferred(Exception):
    """Delivery failed for now and is due again in ``countdown`` seconds (the task schedules it)."""

    def __init__(self, countdown: int, reason: str) -> None:
        super().__init__(reason)
        self.countdown = countdown


class Transport(Protocol):
    """What a channel does: say who may receive, and deliver one claimed notification."""

    def clean_recipients(self, values: Iterable[object]) -> list[str]: ...

    def deliver(self, notification: Notification) -> None: ...


class EmailTransport:
    def clean_recipients(self, values: Iterable[object]) -> list[str]:
        """Valid addresses only, each once (compared without case), in the order given."""
        kept: dict[str, str] = {}
        dropped = 0
        for value in values:
            address = value.strip() if isinstance(value, str) else ""
            if not address:
                continue
            try:
                if len(address) > 254:
                    raise ValidationError("too long")
                validate_email(address)
            except ValidationError:
                dropped += 1
                continue
            kept.setdefault(address.lower(), address)
            if len(kept) > MAX_RECIPIENTS:
                break
        if dropped:
            log.warning("Dropped %d invalid email address(es) from a notification", dropped)
        return list(kept.values())

    def deliver(self, notification: Notification) -> None:
        message = EmailMessage(
            subject=notification.subject, body=notification.body, to=notification.recipients
        )
        try:
            message.send()
        except smtplib.SMTPRecipientsRefused as exc:
            raise Permanent(f"The mail server refused every recipient: {exc.recipients}") from exc
        except smtplib.SMTPResponseException as exc:
            reason = f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"
            if exc.smtp_code >= 500:
                raise Permanent(reason) from exc
            raise Transient(reason) from exc
        except OSError as exc:
            # Every other SMTPException is an OSError, as are refused connections and timeouts.
            raise Transient(f"{type(exc).__name__}: {exc}") from exc


TRANSPORTS: dict[str, Transport] = {Channel.EMAIL: EmailTransport()}


def portal_link(path: str) -> str:
    """An address of a portal page to put in a message (just the path when no base URL is set)."""
    return f"{settings.PORTAL_BASE_URL.rstrip('/')}{path}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _one_line(text: str) -> str:
    # A line break in a mail header is an injection; collapse all whitespace in the subject.
    return " ".join(text.split())


@transaction.atomic
def notification_create(
    *,
    kind: str,
    subject: str,
    body: str,
    recipients: Iterable[object],
    dedupe_key: str,
    channel: str = Channel.EMAIL,
) -> Notification:
    """Record one notification and send it once the caller's transaction commits.

    ``dedupe_key`` names the event being reported: given again, the first notification is returned
    and nothing more is sent. With nobody valid to tell, the notification is recorded as skipped.
    """
    if channel not in TRANSPORTS:
        raise ValueError(f"Unknown channel {channel!r}")
    if not dedupe_key or len(dedupe_key) > 200:
        raise ValueError("A dedupe key of 1 to 200 characters is required")
    existing = Notification.objects.filter(dedupe_key=dedupe_key).first()
    if existing is not None:
        return existing
    cleaned = TRANSPORTS[channel].clean_recipients(recipients)
    if len(cleaned) > MAX_RECIPIENTS:
        log.warning("Notification %s: only the first %d recipients are kept", dedupe_key, MAX_RECIPIENTS)
        cleaned = cleaned[:MAX_RECIPIENTS]
    notification = Notification(
        channel=channel,
        kind=kind[:100],
        subject=_clip(_one_line(subject), 200),
        body=_clip(body, MAX_BODY_CHARS),
        recipients=cleaned,
        dedupe_key=dedupe_key,
    )
    if not cleaned:
        notification.state = State.SKIPPED
        notification.finished_at = notification.created_at
        notification.last_error = "Nobody to notify."
    try:
        with transaction.atomic():
            notification.save(force_insert=True)
    except IntegrityError:
        # A concurrent caller recorded the same event first; theirs is the one that is sent.
        return Notification.objects.get(dedupe_key=dedupe_key)
    if notification.state == State.PENDING:
        _enqueue_after_commit(notification.pk)
    return notification


def notification_withdraw(*, dedupe_key: str, reason: str) -> bool:
    """Cancel a notification that has not gone out yet (what it asked for is done meanwhile).
    True if it was still pending; one being sent right now is not stopped."""
    withdrawn = Notification.objects.filter(dedupe_key=dedupe_key, state=State.PENDING).update(
        state=State.SKIPPED, finished_at=timezone.now(), last_error=_clip(reason, MAX_ERROR_CHARS)
    )
    return bool(withdrawn)


def _enqueue_after_commit(notification_id: int) -> None:
    # robust: by then the change has committed; a broker that is down must not turn it into an
    # error for the user. The row stays pending and the sweep enqueues it again.
    transaction.on_commit(partial(_enqueue, notification_id), robust=True)


def _enqueue(notification_id: int) -> None:
    from portal.tasks import send_notification

    send_notification.delay(notification_id)


def claim(notification_id: int) -> bool:
    """Take a pending notification for sending; True for exactly one caller (a conditional UPDATE)."""
    claimed = Notification.objects.filter(pk=notification_id, state=State.PENDING).update(
        state=State.SENDING, claimed_at=timezone.now(), attempts=F("attempts") + 1
    )
    return claimed == 1


def notification_send(*, notification_id: int) -> str:
    """Deliver one notification if it is still pending: what the send task calls; safe to run twice.

    Returns what happened ("sent", "failed", or "not pending" when another run has it, it is done,
    or it does not exist). Raises ``DeliveryDeferred`` after an infrastructure error when another
    attempt is left; the row is pending again by then.
    """
    if not claim(notification_id):
        return "not pending"
    notification = Notification.objects.get(pk=notification_id)
    try:
        TRANSPORTS[notification.channel].deliver(notification)
    except Transient as exc:
        if notification.attempts >= MAX_ATTEMPTS:
            _finish(notification, State.FAILED, f"Gave up after {notification.attempts} attempts. {exc}")
            return "failed"
        countdown = backoff_seconds(notification.attempts)
        _finish(notification, State.PENDING, str(exc), due_in=countdown)
        raise DeliveryDeferred(countdown, str(exc)) from exc
    except Permanent as exc:
        _finish(notification, State.FAILED, str(exc))
        return "failed"
    except Exception as exc:
        # A bug, not an outage: record it and let the task fail visibly; retrying would not help.
        _finish(notification, State.FAILED, f"{type(exc).__name__}: {exc}")
        raise
    _finish(notification, State.SENT)
    return "sent"


def backoff_seconds(attempts: int) -> int:
    """1, 2, 4, 8 minutes… after the first, second, third failure; at most an hour."""
    return int(min(60 * 2 ** max(attempts - 1, 0), 3600))


def _finish(notification: Notification, state: str, error: str = "", *, due_in: int = 0) -> None:
    now = timezone.now()
    fields: dict[str, object] = {"state": state, "last_error": _clip(error, MAX_ERROR_CHARS)}
    if state == State.PENDING:
        fields["next_attempt_at"] = now + timedelta(seconds=due_in)
        log.warning("Notification %s not delivered, retrying in %ss: %s", notification.pk, due_in, error)
    else:
        fields["finished_at"] = now
        if state == State.FAILED:
            log.error("Notification %s failed: %s", notification.pk, error)
    Notification.objects.filter(pk=notification.pk, state=State.SENDING).update(**fields)


def notifications_sweep(*, limit: int = 500) -> dict[str, int]:
    """Re-enqueue pending notifications long past due (their task was lost) and give up on the ones
    whose sender vanished mid-send (they may have gone out: sending again could send twice)."""
    now = timezone.now()
    overdue = list(
        Notification.objects.filter(state=State.PENDING, next_attempt_at__lte=now - SWEEP_GRACE)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    if overdue:
        # Due again from now, so the next sweep leaves them to these tasks for a while.
        Notification.objects.filter(pk__in=overdue, state=State.PENDING).update(next_attempt_at=now)
        for notification_id in overdue:
            _enqueue_after_commit(notification_id)
    lease = timedelta(seconds=2 * settings.CELERY_TASK_TIME_LIMIT)
    abandoned = Notification.objects.filter(state=State.SENDING, claimed_at__lt=now - lease).update(
        state=State.FAILED,
        finished_at=now,
        last_error="The sender stopped while sending; not sent again, since it may have gone out.",
    )
    return {"requeued": len(overdue), "abandoned": abandoned}
