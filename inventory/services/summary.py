"""The denormalized columns the list pages filter and sort on, refreshed by every write that changes them."""

from __future__ import annotations

from inventory import selectors
from inventory.models import Api


def refresh_summary(api: Api) -> None:
    """Recompute the denormalized columns the list pages filter and sort on.

    Computed from the stored row, not from ``api``: callers may hold an instance older than the
    latest change in this transaction.
    """
    fresh = Api.objects.get(pk=api.pk)
    score, missing = selectors.completeness_of(fresh)
    has_spec = fresh.specs.filter(is_current=True).exists()
    component_count = fresh.components.count()
    Api.objects.filter(pk=api.pk).update(
        completeness=score, missing=missing, has_spec=has_spec, component_count=component_count
    )
    api.completeness, api.missing, api.has_spec, api.component_count = (
        score,
        missing,
        has_spec,
        component_count,
    )
