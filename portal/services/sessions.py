"""Authentication events: sign-in, sign-out and password changes, each one audit record.

Django's own views do the work (``login()`` cycles the session key, the password form hashes and
saves); these verbs are what the portal adds to them, so no view writes the audit trail itself.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from portal import audit
from portal.audit import Actor


@transaction.atomic
def session_signed_in(*, actor: Actor, user: Any) -> None:
    audit.record(actor=actor, action="user.login", obj=user)


@transaction.atomic
def session_signed_out(*, actor: Actor, user: Any) -> None:
    audit.record(actor=actor, action="user.logout", obj=user)


@transaction.atomic
def password_changed(*, actor: Actor, user: Any) -> None:
    audit.record(actor=actor, action="user.password_change", obj=user)
