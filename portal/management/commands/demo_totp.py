from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice


class Command(BaseCommand):
    help = "Print the current TOTP codes of the demo users' demo devices (development only)."

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("demo_totp is refused when PORTAL_ENV=production.")
        for device in (
            TOTPDevice.objects.filter(name="demo").select_related("user").order_by("user__username")
        ):
            code = totp(
                device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=device.drift
            )
            self.stdout.write(f"{device.user.get_username():<12} {code:0{device.digits}d}")
