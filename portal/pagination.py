from django.conf import settings
from rest_framework.pagination import CursorPagination, PageNumberPagination


class CappedPageNumberPagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = settings.API_MAX_PAGE_SIZE


class CappedCursorPagination(CursorPagination):
    """Keyset pagination for large, append-heavy lists (audit events, results)."""

    page_size_query_param = "page_size"
    max_page_size = settings.API_MAX_PAGE_SIZE
    ordering = "-id"
