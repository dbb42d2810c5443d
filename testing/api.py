"""REST endpoints of testing: plans, runs and findings, read-only for now. Thin: the selectors scope
every read to the caller (404 outside their sight); the writes (run now, plan edit, triage) arrive
with their services."""

from __future__ import annotations

from typing import Any

from rest_framework import generics

from inventory.models import Api
from portal.access import Cap
from portal.api_query import validated_query
from portal.pagination import CappedCursorPagination
from testing import selectors
from testing.serializers import (
    FindingDetailSerializer,
    FindingQuerySerializer,
    FindingSerializer,
    PlanQuerySerializer,
    PlanSerializer,
    RunDetailSerializer,
    RunSerializer,
)


class NewestFirst(CappedCursorPagination):
    """Keyset pages, newest first: runs and findings are append-mostly and grow without bound."""

    ordering = "-id"


class PlanList(generics.ListAPIView):
    """The test plans the caller may see (one per API environment), optionally of one API."""

    required_capability = Cap.TESTING_VIEW
    serializer_class = PlanSerializer
    query_serializer = PlanQuerySerializer

    def get_queryset(self) -> Any:
        query = validated_query(self.request, PlanQuerySerializer)
        return selectors.plans_visible(self.request.user, api_slug=query.get("api"))


class PlanDetail(generics.RetrieveAPIView):
    required_capability = Cap.TESTING_VIEW
    serializer_class = PlanSerializer

    def get_queryset(self) -> Any:
        return selectors.plans_visible(self.request.user)


class ApiRuns(generics.ListAPIView):
    """The runs of one API, newest first."""

    required_capability = Cap.TESTING_VIEW
    serializer_class = RunSerializer
    pagination_class = NewestFirst
    # For HasCapability: the URL's slug names an Api (404 outside the caller's sight, 403 in it).
    scoped_model = Api
    lookup_field = "slug"
    lookup_url_kwarg = "slug"

    def get_queryset(self) -> Any:
        api = selectors.api_for_testing(self.request.user, self.kwargs["slug"])
        return selectors.runs_of(self.request.user, api)


class RunDetail(generics.RetrieveAPIView):
    """A run with its scan health and each check's result (problems and redacted evidence)."""

    required_capability = Cap.TESTING_VIEW
    serializer_class = RunDetailSerializer

    def get_object(self) -> Any:
        run = selectors.run_with_results(self.request.user, self.kwargs["pk"])
        self.check_object_permissions(self.request, run)
        return run

    def get_queryset(self) -> Any:
        return selectors.runs_visible(self.request.user)


class FindingList(generics.ListAPIView):
    """The findings the caller may see, newest first, with the findings page's filters."""

    required_capability = Cap.TESTING_VIEW
    serializer_class = FindingSerializer
    pagination_class = NewestFirst
    query_serializer = FindingQuerySerializer

    def get_queryset(self) -> Any:
        filters = validated_query(self.request, FindingQuerySerializer)
        return selectors.findings_list(self.request.user, filters)


class FindingDetail(generics.RetrieveAPIView):
    required_capability = Cap.TESTING_VIEW
    serializer_class = FindingDetailSerializer

    def get_queryset(self) -> Any:
        return selectors.findings_visible(self.request.user)
