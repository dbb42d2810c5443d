"""The denormalized columns the list pages filter and sort on, refreshed by every write that changes
them, and the record's revision (what a review act is bound to), moved on by the same writes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db.models import F

from inventory import selectors
from inventory.models import Api

# While set, refreshes are collected (by API) and run once when the outermost block ends.
_deferred: ContextVar[dict[int, Api] | None] = ContextVar("summary_deferred", default=None)


@contextmanager
def refreshed_once() -> Iterator[None]:
    """Within this block, every ``refresh_summary`` of an API is deferred to its end and run once:
    a request that saves fifty environments recomputes the summary once, not fifty times."""
    if _deferred.get() is not None:  # nested: the outer block refreshes
        yield
        return
    pending: dict[int, Api] = {}
    token = _deferred.set(pending)
    try:
        yield
    finally:
        _deferred.reset(token)
    for api in pending.values():
        refresh_summary(api)


def refresh_summary(api: Api) -> None:
    """Recompute the denormalized columns the list pages filter and sort on.

    Computed from the stored row, not from ``api``: callers may hold an instance older than the
    latest change in this transaction.
    """
    pending = _deferred.get()
    if pending is not None:
        pending.setdefault(api.pk, api)
        return
    fresh = Api.objects.get(pk=api.pk)
    score, missing = selectors.completeness_of(fresh)
    has_spec = fresh.specs.filter(is_current=True).exists()
    component_count = fresh.components.count()
    # Every write that changes what a review looks at ends here: the record's revision moves on.
    Api.objects.filter(pk=api.pk).update(
        completeness=score,
        missing=missing,
        has_spec=has_spec,
        component_count=component_count,
        revision=F("revision") + 1,
    )
    api.completeness, api.missing, api.has_spec, api.component_count = (
        score,
        missing,
        has_spec,
        component_count,
    )
    api.revision = fresh.revision + 1
