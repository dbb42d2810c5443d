"""Re-encrypt every stored identity with the newest key of TESTING_IDENTITY_KEYS.

Put the new key first in TESTING_IDENTITY_KEYS (keep the old ones after it), restart, run this,
then remove the old keys. Exits 1 if some identity could not be opened with any configured key.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from portal.audit import Actor
from testing.services.identities import identities_rotate_keys


class Command(BaseCommand):
    help = "Re-encrypt every test plan identity with the newest TESTING_IDENTITY_KEYS key."

    def handle(self, *args: Any, **options: Any) -> None:
        rotated, unreadable = identities_rotate_keys(actor=Actor.system("rotate_identity_keys"))
        self.stdout.write(
            f"Re-encrypted {rotated} identit{'y' if rotated == 1 else 'ies'} with the newest key."
        )
        if unreadable:
            raise CommandError(
                f"{unreadable} identit{'y' if unreadable == 1 else 'ies'} could not be decrypted with any "
                "configured key and were left as they are: keep the old key until they are set again.",
                returncode=1,
            )
