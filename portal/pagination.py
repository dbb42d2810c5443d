"""Capped pagination, read strictly (portal.api_query): a page or page size the schema does not
allow (null, 0, negative, not a number, above the cap, repeated) is a 400, not the default page.
A page past the last one, or a cursor that does not decode, is a 404, as in DRF."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.request import Request

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
