"""Capped pagination, read strictly (portal.api_query): a page or page size the schema does not
allow (null, 0, negative, not a number, above the cap, repeated) is a 400, not the default page.
A page past the last one, or a cursor that does not decode, is a 404, as in DRF.

``KeysetPagination`` pages a list by its own order, with no total (the inventory list);
``KeysetPaginationWithPageNumbers`` also answers the deprecated ``?page=N`` of the clients written
before it. ``CappedCursorPagination`` is DRF's cursor over ``-id`` (audit events)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.db.models import Q
from django.db.models.constants import LOOKUP_SEP
from django.utils import timezone
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import BasePagination, CursorPagination, PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from portal.api_query import positive_int, single_value


def _page_size_parameter(parameters: list[dict[str, Any]], name: str, maximum: int) -> None:
    for parameter in parameters:
        if parameter["name"] == name:
            parameter["schema"].update({"minimum": 1, "maximum": maximum})


class CappedPageNumberPagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = settings.API_MAX_PAGE_SIZE

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> Any:
        positive_int(request, self.page_query_param)  # a 400 before DRF reads it leniently
        return super().paginate_queryset(queryset, request, view)

    def get_page_size(self, request: Request) -> int:
        size = positive_int(request, self.page_size_query_param, maximum=self.max_page_size)
        return size if size is not None else self.page_size  # type: ignore[return-value]

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        _page_size_parameter(parameters, self.page_query_param, 1_000_000_000 - 1)
        _page_size_parameter(parameters, self.page_size_query_param, self.max_page_size)
        return parameters


class CappedCursorPagination(CursorPagination):
    """Keyset pagination for large, append-heavy lists (audit events, results)."""

    page_size_query_param = "page_size"
    max_page_size = settings.API_MAX_PAGE_SIZE
    ordering = "-id"

    def get_page_size(self, request: Request) -> int:
        size = positive_int(request, self.page_size_query_param, maximum=self.max_page_size)
        return size if size is not None else self.page_size  # type: ignore[return-value]

    def decode_cursor(self, request: Request) -> Any:
        single_value(request, self.cursor_query_param)
        # A cursor that does not decode stays DRF's 404: cursors are opaque, so any string is one
        # the schema allows, and "no such page" is the truth, as for a page number past the end.
        return super().decode_cursor(request)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        _page_size_parameter(parameters, self.page_size_query_param, self.max_page_size)
        return parameters


# --- Keyset pages without a total ---------------------------------------------------------------------


class InvalidCursor(NotFound):
    """A cursor that does not decode, or belongs to another order: "no such page" (README: a 404)."""

    default_detail = "Invalid cursor."


@dataclass(frozen=True)
class Position:
    """A row's place in the order: its sort value and id. ``backwards``: the rows before it."""

    value: Any
    pk: int
    backwards: bool = False


def _lookup_field(model: Any, lookup: str) -> models.Field:
    """The model field a lookup such as ``org_unit__path`` ends on."""
    field: Any = None
    for part in lookup.split(LOOKUP_SEP):
        field = model._meta.get_field(part)
        model = field.related_model
    return field


def _row_value(row: Any, lookup: str) -> Any:
    if isinstance(row, dict):  # a .values() row
        return row[lookup]
    for part in lookup.split(LOOKUP_SEP):
        row = getattr(row, part)
    return row


class KeysetPagination(BasePagination):
    """Pages of a queryset ordered by one column and then ``id`` (``order_by("-name", "id")``), read
    off the order itself: the next page is "the rows after the last one shown", so page 1,000 costs
    what page 1 costs, and no request counts every visible row (what made a 50,000-row list slow).

    The response is ``{"next", "previous", "results"}`` with opaque cursors in the links; there is
    no total. A cursor names the order it was made for: one from another ``sort`` is refused (404,
    as any cursor that does not decode). Cursors are not secret and need no signature: they only
    position a list that is scoped to the caller anyway. Unlike DRF's ``CursorPagination`` (one
    column and an offset), ties on a column with few values (``status``) cost nothing either.
    """

    cursor_query_param = "cursor"
    page_size = settings.REST_FRAMEWORK["PAGE_SIZE"]
    page_size_query_param = "page_size"
    max_page_size = settings.API_MAX_PAGE_SIZE
    max_cursor_length = 512  # a cursor we make is well under 200 characters

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any]:
        self.request = request
        size = self.get_page_size(request)
        self.column, self.descending = self._ordering(queryset)
        self.field = _lookup_field(queryset.model, self.column)
        raw = single_value(request, self.cursor_query_param)
        position = None if raw is None else self.decode_cursor(raw)
        rows = self._rows(queryset, position, size)
        if position is not None and position.backwards and not rows:
            # Nothing before the first row any more (those rows are gone): that is the first page.
            position, rows = None, self._rows(queryset, None, size)
        more = len(rows) > size
        rows = rows[:size]
        if position is not None and position.backwards:
            rows.reverse()
            self.has_next, self.has_previous = True, more
        else:
            self.has_next, self.has_previous = more, position is not None
        self.first = self._position_of(rows[0]) if rows else position
        self.last = self._position_of(rows[-1]) if rows else None
        return rows

    def _rows(self, queryset: Any, position: Position | None, size: int) -> list[Any]:
        if position is None:
            return list(queryset[: size + 1])
        forward = not position.backwards
        after = forward != self.descending  # the column grows in the direction we read
        column, value = self.column, position.value
        # "(column, id) beyond (value, pk)": the first condition bounds the index range, the second
        # steps over the ties. The id always grows in list order (the ordering ends with "id").
        beyond = Q(**{f"{column}__{'gte' if after else 'lte'}": value}) & (
            Q(**{f"{column}__{'gt' if after else 'lt'}": value})
            | Q(**{f"pk__{'gt' if forward else 'lt'}": position.pk})
        )
        queryset = queryset.filter(beyond)
        if not forward:
            queryset = queryset.reverse()
        return list(queryset[: size + 1])

    def _ordering(self, queryset: Any) -> tuple[str, bool]:
        ordering = tuple(queryset.query.order_by)
        if len(ordering) != 2 or ordering[1] not in ("id", "pk") or not isinstance(ordering[0], str):
            raise ImproperlyConfigured(f"KeysetPagination needs order_by(<column>, 'id'), not {ordering!r}")
        return ordering[0].lstrip("-"), ordering[0].startswith("-")

    def _order_name(self) -> str:
        return f"-{self.column}" if self.descending else self.column

    def _position_of(self, row: Any) -> Position:
        return Position(_row_value(row, self.column), row["id"] if isinstance(row, dict) else row.pk)

    def get_page_size(self, request: Request) -> int:
        size = positive_int(request, self.page_size_query_param, maximum=self.max_page_size)
        return size if size is not None else self.page_size

    # Cursors: urlsafe base64 of {"o": order, "v": value, "i": id, "b": 1 when backwards}.

    def encode_cursor(self, position: Position) -> str:
        value = position.value
        if isinstance(value, datetime):
            value = value.isoformat()
        payload: dict[str, Any] = {"o": self._order_name(), "v": value, "i": position.pk}
        if position.backwards:
            payload["b"] = 1
        text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    def decode_cursor(self, raw: str) -> Position:
        if len(raw) > self.max_cursor_length:
            raise InvalidCursor
        try:
            payload = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        except (ValueError, TypeError) as exc:  # binascii.Error and UnicodeDecodeError are ValueErrors
            raise InvalidCursor from exc
        if not isinstance(payload, dict) or payload.get("o") != self._order_name():
            raise InvalidCursor
        pk, value, backwards = payload.get("i"), payload.get("v"), payload.get("b", 0)
        if (
            type(pk) is not int
            or not 0 <= pk < 2**63
            or type(backwards) is not int
            or backwards not in (0, 1)
        ):
            raise InvalidCursor
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise InvalidCursor
        if isinstance(value, str) and "\x00" in value:  # PostgreSQL refuses NUL in a string literal
            raise InvalidCursor
        try:
            value = self.field.to_python(value)
        except (DjangoValidationError, TypeError, ValueError) as exc:
            raise InvalidCursor from exc
        if isinstance(self.field, models.DateTimeField) and (value is None or timezone.is_naive(value)):
            raise InvalidCursor
        if isinstance(self.field, models.IntegerField) and not -(2**63) <= value < 2**63:
            raise InvalidCursor
        return Position(value, pk, bool(backwards))

    def get_next_link(self) -> str | None:
        if not self.has_next or self.last is None:
            return None
        return self._link(self.last)

    def get_previous_link(self) -> str | None:
        if not self.has_previous or self.first is None:
            return None
        return self._link(Position(self.first.value, self.first.pk, backwards=True))

    def _link(self, position: Position) -> str:
        url = self.request.build_absolute_uri()
        return replace_query_param(url, self.cursor_query_param, self.encode_cursor(position))

    def get_paginated_response(self, data: Any) -> Response:
        return Response({"next": self.get_next_link(), "previous": self.get_previous_link(), "results": data})

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {
                "next": {**link, "description": "The next page, or null on the last one."},
                "previous": {**link, "description": "The page before, or null on the first one."},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Where the page starts: take it from a response's next or previous link.",
                "schema": {"type": "string", "maxLength": self.max_cursor_length},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": "Number of results to return per page.",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
        ]


# The day ``?page=`` gave way to cursors on the lists that have them (RFC 9745's Deprecation date).
PAGE_NUMBERS_DEPRECATED = datetime(2026, 12, 3, tzinfo=UTC)


class KeysetPaginationWithPageNumbers(KeysetPagination):
    """Keyset pages, and for clients written when the list was numbered, ``?page=N`` as before: the
    numbered page with its total ``count`` and ``?page=`` links, marked ``Deprecation: @<date>``
    (RFC 9745). It counts every visible row, as it always did; new clients follow the cursors."""

    page_query_param = "page"

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any]:
        self.numbered: CappedPageNumberPagination | None = None
        if self.page_query_param not in request.query_params:
            return super().paginate_queryset(queryset, request, view)
        if self.cursor_query_param in request.query_params:
            raise ValidationError({self.page_query_param: ["Give a page or a cursor, not both."]})
        self.numbered = CappedPageNumberPagination()
        return list(self.numbered.paginate_queryset(queryset, request, view) or [])

    def get_paginated_response(self, data: Any) -> Response:
        if self.numbered is None:
            return super().get_paginated_response(data)
        response = self.numbered.get_paginated_response(data)
        response["Deprecation"] = f"@{int(PAGE_NUMBERS_DEPRECATED.timestamp())}"
        return response

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        body = super().get_paginated_response_schema(schema)
        body["properties"] = {
            "count": {
                "type": "integer",
                "minimum": 0,
                "deprecated": True,
                "description": "Every matching row: only with the deprecated page parameter.",
            },
            **body["properties"],
        }
        return body

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        page = {
            "name": self.page_query_param,
            "required": False,
            "in": "query",
            "deprecated": True,
            "description": "A page number (with a total count). Deprecated: follow the cursor links.",
            "schema": {"type": "integer", "minimum": 1, "maximum": 1_000_000_000 - 1},
        }
        return [*super().get_schema_operation_parameters(view), page]
