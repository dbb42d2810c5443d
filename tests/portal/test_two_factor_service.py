"""The second-factor service: each write in one transaction with its audit event, wrong codes counted."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.audit import Actor
from portal.models import AuditEvent, RecoveryCodeDevice
from portal.services import two_factor
from tests.factories import TEST_PASSWORD


def _next_code(device: TOTPDevice) -> str:
    """The code of the next time step: the current one is spent once used (no replay)."""
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=1):0{device.digits}d}"


def _code(device: TOTPDevice, offset: int = 0) -> str:
    value = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
    return f"{(value + offset) % 10**device.digits:0{device.digits}d}"


def test_it_creates_one_pending_device_and_reuses_it(ciso):
    first = two_factor.totp_device_pending(user=ciso)
    again = two_factor.totp_device_pending(user=ciso)

    assert first.pk == again.pk
    assert not first.confirmed
    assert TOTPDevice.objects.filter(user=ciso).count() == 1


def test_it_enrols_with_recovery_codes_and_one_audit_event(ciso):
    device = two_factor.totp_device_pending(user=ciso)

    codes = two_factor.totp_enrol(actor=Actor(user=ciso), device=device, code=_code(device))

    device.refresh_from_db()
    assert device.confirmed
    assert len(set(codes)) == two_factor.RECOVERY_CODE_COUNT
    assert RecoveryCodeDevice.objects.get(user=ciso).remaining == two_factor.RECOVERY_CODE_COUNT
    assert list(
        AuditEvent.objects.filter(action__startswith="user.2fa").values_list("action", flat=True)
    ) == ["user.2fa_enrol"]


def test_a_wrong_code_changes_nothing_but_is_counted(ciso):
    device = two_factor.totp_device_pending(user=ciso)

    with pytest.raises(ValidationError) as exc:
        two_factor.totp_enrol(actor=Actor(user=ciso), device=device, code=_code(device, offset=1))

    assert "code" in exc.value.error_dict
    device.refresh_from_db()
    assert not device.confirmed
    # The throttle's count is written outside the refused change, so it is not rolled back with it.
    assert device.throttling_failure_count == 1
    assert not RecoveryCodeDevice.objects.filter(user=ciso).exists()
    assert not AuditEvent.objects.filter(action__startswith="user.2fa").exists()


def test_a_new_device_replaces_the_old_one_and_says_so(ciso):
    old = two_factor.totp_device_pending(user=ciso)
    old_codes = two_factor.totp_enrol(actor=Actor(user=ciso), device=old, code=_code(old))
    new = two_factor.totp_device_pending(user=ciso)
    assert new.pk != old.pk

    # Replacing a working device needs the password and a current code, whoever calls the service.
    for password, current in (("wrong-password-123", _next_code(old)), (TEST_PASSWORD, None), (None, None)):
        with pytest.raises(ValidationError, match="password or the code"):
            two_factor.totp_enrol(
                actor=Actor(user=ciso), device=new, code=_code(new), password=password, current_code=current
            )
    assert list(TOTPDevice.objects.filter(user=ciso, confirmed=True).values_list("pk", flat=True)) == [old.pk]

    two_factor.totp_enrol(
        actor=Actor(user=ciso),
        device=new,
        code=_code(new),
        password=TEST_PASSWORD,
        current_code=_next_code(old),
    )

    assert list(TOTPDevice.objects.filter(user=ciso).values_list("pk", flat=True)) == [new.pk]
    assert AuditEvent.objects.filter(action="user.2fa_replace", object_id=str(ciso.pk)).count() == 1
    assert two_factor.two_factor_verify(actor=Actor(user=ciso), user=ciso, code=old_codes[0]) is None


def test_a_confirmed_device_cannot_be_enrolled_again(ciso):
    device = two_factor.totp_device_pending(user=ciso)
    two_factor.totp_enrol(actor=Actor(user=ciso), device=device, code=_code(device))

    with pytest.raises(ValidationError):
        two_factor.totp_enrol(actor=Actor(user=ciso), device=device, code=_code(device))
    assert AuditEvent.objects.filter(action__startswith="user.2fa_").count() == 1


def test_regenerated_codes_replace_the_old_ones_and_verify_records_the_method(ciso):
    device = two_factor.totp_device_pending(user=ciso)
    old = two_factor.totp_enrol(actor=Actor(user=ciso), device=device, code=_code(device))

    with pytest.raises(ValidationError, match="password or the code"):
        two_factor.recovery_codes_regenerate(
            actor=Actor(user=ciso), user=ciso, password="wrong-password-123", current_code=_code(device)
        )
    new = two_factor.recovery_codes_regenerate(
        actor=Actor(user=ciso), user=ciso, password=TEST_PASSWORD, current_code=_next_code(device)
    )

    assert not set(old) & set(new)
    proved = two_factor.two_factor_verify(actor=Actor(user=ciso), user=ciso, code=new[0])
    assert isinstance(proved, RecoveryCodeDevice)
    assert two_factor.two_factor_verify(actor=Actor(user=ciso), user=ciso, code=old[1]) is None
    assert AuditEvent.objects.filter(action="user.2fa_recovery_codes").count() == 1
    verify = AuditEvent.objects.get(action="user.2fa_verify")
    assert verify.after == {"method": "recovery_code"}
