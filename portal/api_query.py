"""Query parameters of the REST API, read strictly: what the schema does not allow is a 400.

DRF and Django forms are lenient with query strings: a repeated parameter counts once (the last
value), ``page_size=null`` falls back to the default, ``stale=banana`` is true. A client generated
from the schema never sends those, so a request that does is a mistake, and it gets the one error
shape (portal.api_errors) instead of an answer to some other question.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

ONE_VALUE = "Give this parameter once."


def single_value(request: Request, name: str) -> str | None:
    """The parameter's one value, None when absent; a 400 when it is repeated."""
    values = request.query_params.getlist(name)
    if not values:
        return None
    if len(values) > 1:
        raise ValidationError({name: [ONE_VALUE]})
    return str(values[0])


def positive_int(request: Request, name: str, *, maximum: int | None = None) -> int | None:
    """A whole number ≥ 1 (and ≤ maximum), None when absent; anything else, empty included, a 400."""
    raw = single_value(request, name)
    if raw is None:
        return None
    # ASCII digits only ("²" and "١" are digits to str.isdigit), and short enough to be a page.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9) or int(raw) < 1:
        raise ValidationError({name: ["A whole number of at least 1 is required."]})
    value = int(raw)
    if maximum is not None and value > maximum:
        raise ValidationError({name: [f"At most {maximum}."]})
    return value


def validated_query(request: Request, serializer_class: type[serializers.Serializer]) -> dict[str, Any]:
    """The query parameters a view documents (its ``query_serializer``), validated: each at most once,
    of its type, from its choices. Parameters the serializer does not name are left alone (paging)."""
    data: dict[str, Any] = {}
    for name, field in serializer_class().fields.items():
        if isinstance(field, serializers.ListField):
            values = request.query_params.getlist(name)
            if values:
                data[name] = values
            continue
        value = single_value(request, name)
        if value is not None:
            data[name] = value
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
