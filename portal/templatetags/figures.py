"""Numbers on pages: ``{{ value|figure }}`` and ``{{ value|percent }}``, one format everywhere."""

from __future__ import annotations

from typing import Any

from django import template

from portal.web import figure as _figure

register = template.Library()


@register.filter
def figure(value: Any) -> str:
    return _figure(value)


@register.filter
def percent(value: Any) -> str:
    """``99.900`` → ``99.9 %``; empty for None."""
    text = _figure(value)
    return f"{text} %" if text else ""
