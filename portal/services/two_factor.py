"""The second factor: TOTP enrolment and replacement, verification, and recovery codes.

Each verb is keyword-only and writes in one transaction with its audit event. A code is checked
*before* that transaction opens: django-otp records every try (its throttle), and a wrong code must
stay counted instead of being rolled back with the refused change.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django_otp import devices_for_user, match_token
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal import audit
from portal.audit import Actor
from portal.models import RecoveryCodeDevice

if TYPE_CHECKING:
    from django.contrib.auth.models import User  # settings.AUTH_USER_MODEL
    from django_otp.models import Device

RECOVERY_CODE_COUNT = 10
WRONG_CODE = "That code is not valid. Check your device's clock and try again."


def has_confirmed_device(user: User) -> bool:
    return any(devices_for_user(user, confirmed=True))  # type: ignore[no-untyped-call]  # django-otp is untyped


@transaction.atomic
def totp_device_pending(*, user: User) -> TOTPDevice:
    """The unconfirmed device being enrolled (created on first need). It proves nothing until a
    code from it is confirmed, so creating it is not an audited act."""
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
    return device


def _grouped(raw: str) -> str:
    return "-".join(raw[i : i + 5] for i in range(0, len(raw), 5))


def _replace_recovery_codes(user: User) -> list[str]:
    """Ten fresh codes (80 bits each), replacing any earlier ones; only their hashes are kept."""
    device = RecoveryCodeDevice.objects.select_for_update().filter(user=user).first() or RecoveryCodeDevice(
        user=user, name="recovery"
    )
    device.salt = secrets.token_hex(16)
    codes = [_grouped(secrets.token_hex(10)) for _ in range(RECOVERY_CODE_COUNT)]
    device.code_hashes = [device.hash_code(c) for c in codes]
    device.confirmed = True
    device.save()
    return codes


REAUTH_FAILED = "The password or the code is not right."


def reauthenticate(*, user: User, password: str | None, current_code: str | None) -> None:
    """Proof that the person at the keyboard still holds the account: the current password and a
    current code (TOTP or recovery). Asked before the second factor itself is replaced or renewed:
    a session left open must not be enough to move someone's second factor to an attacker's phone.

    The code is only tried (and a recovery code only spent) once the password is right; the answer
    is the same either way. Raises ``ValidationError``.
    """
    code = (current_code or "").replace(" ", "").replace("-", "")
    if not password or not code or not user.check_password(password) or match_token(user, code) is None:  # type: ignore[no-untyped-call]
        raise ValidationError(REAUTH_FAILED)


def totp_enrol(
    *,
    actor: Actor,
    device: TOTPDevice,
    code: str,
    password: str | None = None,
    current_code: str | None = None,
) -> list[str]:
    """Confirm ``device`` with its first ``code``; it replaces any earlier device of its user, which
    needs the user's ``password`` and a ``current_code`` of that device (``reauthenticate``).

    Returns the new recovery codes, to show once. A wrong code raises ``ValidationError`` on "code".
    """
    if device.confirmed:
        raise ValidationError({"code": "This device is already enrolled."})
    user = device.user
    if TOTPDevice.objects.filter(user=user, confirmed=True).exclude(pk=device.pk).exists():
        reauthenticate(user=user, password=password, current_code=current_code)
    if not device.verify_token(code):  # type: ignore[no-untyped-call]
        raise ValidationError({"code": WRONG_CODE})
    with transaction.atomic():
        earlier = TOTPDevice.objects.filter(user=user, confirmed=True).exclude(pk=device.pk)
        replacing = earlier.exists()
        earlier.delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = _replace_recovery_codes(user)
        audit.record(actor=actor, action="user.2fa_replace" if replacing else "user.2fa_enrol", obj=user)
    return codes


def two_factor_verify(*, actor: Actor, user: User, code: str) -> Device | None:
    """The device ``code`` proves (a TOTP device, or a recovery code, which is spent), audited with
    the method used; None when it proves nothing (the try is still counted by the throttle)."""
    device: Device | None = match_token(user, code)  # type: ignore[no-untyped-call]
    if device is None:
        return None
    audit.record(
        actor=actor,
        action="user.2fa_verify",
        obj=user,
        after={"method": "recovery_code" if isinstance(device, RecoveryCodeDevice) else "totp"},
    )
    return device


def recovery_codes_regenerate(*, actor: Actor, user: User, password: str, current_code: str) -> list[str]:
    """New recovery codes for ``user`` after re-authentication; the old ones stop working. Returns
    them, to show once."""
    reauthenticate(user=user, password=password, current_code=current_code)
    with transaction.atomic():
        return _recovery_codes_renewed(actor=actor, user=user)


def _recovery_codes_renewed(*, actor: Actor, user: User) -> list[str]:
    codes = _replace_recovery_codes(user)
    audit.record(actor=actor, action="user.2fa_recovery_codes", obj=user)
    return codes
