"""How testing's pages colour a severity, a run's status and a check's outcome (Bootstrap badges
whose text contrast Bootstrap already guarantees)."""

from __future__ import annotations

from django import template

register = template.Library()

SEVERITY_CLASSES = {
    "critical": "text-bg-danger",
    "high": "text-bg-danger",
    "medium": "text-bg-warning",
    "low": "text-bg-info",
    "info": "text-bg-light",
}
STATUS_CLASSES = {
    "passed": "text-bg-success",
    "pass": "text-bg-success",
    "failed": "text-bg-danger",
    "fail": "text-bg-danger",
    "error": "text-bg-warning",
    "skipped": "text-bg-secondary",
    "queued": "text-bg-light",
    "running": "text-bg-primary",
    "open": "text-bg-danger",
    "resolved": "text-bg-success",
    "accepted": "text-bg-warning",
    "false_positive": "text-bg-secondary",
}


@register.filter
def severity_class(value: object) -> str:
    return SEVERITY_CLASSES.get(str(value), "text-bg-light")


@register.filter
def status_class(value: object) -> str:
    return STATUS_CLASSES.get(str(value), "text-bg-light")
