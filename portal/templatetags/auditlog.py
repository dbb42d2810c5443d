"""Audit events in words on pages (see ``portal.audit_vocabulary``)."""

from __future__ import annotations

from typing import Any

from django import template

from portal import audit_vocabulary

register = template.Library()


@register.filter
def action_label(code: str) -> str:
    """``api.submit`` → ``Submitted for review``."""
    return audit_vocabulary.action_label(code)


@register.filter
def object_type_label(code: str) -> str:
    """``inventory.api`` → ``API``."""
    return audit_vocabulary.object_type_label(code)


@register.filter
def audit_changes(event: Any) -> list[audit_vocabulary.Change]:
    """The event's fields as "before → after" lines."""
    return audit_vocabulary.changes(event.before, event.after)
