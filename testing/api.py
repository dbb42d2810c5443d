"""REST endpoints of testing: plans, runs and findings, and their writes (run now, plan edit,
identities, functional cases, triage). Thin: the selectors scope every read to the caller (404
outside their sight), a write checks the capability on its object (403), validates the body's shape
(400) and calls one service; a well-formed move the finding's state refuses is a 409."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from inventory.api import ExpensiveThrottle
from inventory.models import Api
from portal.access import Cap, require
from portal.api_query import validated_query
from portal.audit import Actor
from portal.pagination import CappedCursorPagination
from testing import selectors
from testing.models import Finding, RunTrigger, TestPlan
from testing.serializers import (
    CaseSerializer,
    CaseWriteSerializer,
    FindingDetailSerializer,
    FindingQuerySerializer,
    FindingSerializer,
    FindingTransitionSerializer,
    IdentitySerializer,
    IdentityWriteSerializer,
    PlanQuerySerializer,
    PlanSerializer,
    PlanWriteSerializer,
    RunAcceptedSerializer,
    RunDetailSerializer,
    RunRequestSerializer,
    RunSerializer,
)
from testing.services import cases, findings, identities, plans, runs


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


def _validated(serializer_class: type, data: Any, **context: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data, context=context)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _plan_for(request: Request, pk: int, capability: str) -> TestPlan:
    """The plan (404 outside the caller's sight), then 403 unless they hold ``capability`` on it:
    checked before the body is read, so a refused request is refused whatever it sends."""
    plan = selectors.plan_detail(request.user, pk)
    require(request.user, capability, plan)
    return plan


def _plan_body(request: Request, pk: int) -> dict[str, Any]:
    return dict(PlanSerializer(selectors.plans_visible(request.user).get(pk=pk)).data)


class PlanDetail(generics.RetrieveAPIView):
    """GET a plan; PUT replaces its settings (checks, schedule, intrusive opt-ins, latency tolerance,
    enabled)."""

    # "*": other methods reach DRF's 405 instead of being refused as if they named a capability.
    required_capability = {"GET": Cap.TESTING_VIEW, "PUT": Cap.TESTING_MANAGE, "*": Cap.TESTING_VIEW}
    serializer_class = PlanSerializer

    def get_queryset(self) -> Any:
        return selectors.plans_visible(self.request.user)

    @extend_schema(request=PlanWriteSerializer, responses=PlanSerializer)
    def put(self, request: Request, pk: int) -> Response:
        plan = _plan_for(request, pk, Cap.TESTING_MANAGE)
        data = _validated(PlanWriteSerializer, request.data)
        plans.plan_save(actor=Actor.from_request(request), api=plan.api, environment=plan.environment, **data)
        return Response(_plan_body(request, pk))


class PlanRuns(APIView):
    """Run the plan now: on its environment, or on ``base_url``; all its checks, or some. Answers
    202 with the run's URL; the run goes to a worker (or is skipped inside declared downtime)."""

    required_capability = Cap.TESTING_RUN
    scoped_model = TestPlan  # named by the ``pk`` URL kwarg: 404 outside the caller's sight
    throttle_classes = [UserRateThrottle, ExpensiveThrottle]
    throttle_scope = "expensive"

    @extend_schema(request=RunRequestSerializer, responses={202: RunAcceptedSerializer})
    def post(self, request: Request, pk: int) -> Response:
        plan = _plan_for(request, pk, Cap.TESTING_RUN)
        data = _validated(RunRequestSerializer, request.data, plan=plan)
        run, _created = runs.run_create(
            actor=Actor.from_request(request),
            plan=plan,
            trigger=RunTrigger.API,
            base_url=data["base_url"] or None,
            checks=data.get("checks") or None,
        )
        url = request.build_absolute_uri(reverse("testing-api:run-detail", args=[run.pk]))
        body = {"id": run.pk, "status": run.status, "reason": run.reason, "url": url}
        return Response(
            RunAcceptedSerializer(body).data, status=status.HTTP_202_ACCEPTED, headers={"Location": url}
        )


class PlanIdentityDetail(APIView):
    """PUT creates or replaces the plan's identity ``name`` (its secret is encrypted and never
    answered back); DELETE removes it."""

    required_capability = Cap.TESTING_MANAGE
    scoped_model = TestPlan

    @extend_schema(request=IdentityWriteSerializer, responses=IdentitySerializer)
    def put(self, request: Request, pk: int, name: str) -> Response:
        plan = _plan_for(request, pk, Cap.TESTING_MANAGE)
        data = _validated(IdentityWriteSerializer, request.data)
        identity = identities.identity_set(
            actor=Actor.from_request(request),
            plan=plan,
            name=name,
            kind=data["kind"],
            secret=data["secret"],
            object_ids=data["object_ids"],
        )
        return Response(IdentitySerializer(identity).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, pk: int, name: str) -> Response:
        plan = _plan_for(request, pk, Cap.TESTING_MANAGE)
        identity = selectors.identity_of(request.user, plan, name)
        identities.identity_delete(actor=Actor.from_request(request), identity=identity)
        return Response(status=status.HTTP_204_NO_CONTENT)


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


class ApiCaseDetail(APIView):
    """An API's functional cases document ``name``: PUT creates or replaces it (``{"source": "<YAML>"}``,
    refused with the line number when the YAML is not valid cases), DELETE removes it."""

    required_capability = Cap.TESTING_RUN
    # For HasCapability: the URL's slug names an Api (404 outside the caller's sight, 403 in it).
    scoped_model = Api
    lookup_field = "slug"
    lookup_url_kwarg = "slug"
    # Parsing and validating up to 256 KB of YAML case by case is an expensive write.
    throttle_classes = [UserRateThrottle, ExpensiveThrottle]
    throttle_scope = "expensive"

    def _api(self, request: Request, slug: str) -> Api:
        api = selectors.api_for_testing(request.user, slug)
        require(request.user, Cap.TESTING_RUN, api)
        return api

    @extend_schema(request=CaseWriteSerializer, responses=CaseSerializer)
    def put(self, request: Request, slug: str, name: str) -> Response:
        api = self._api(request, slug)
        data = _validated(CaseWriteSerializer, request.data)
        case = cases.cases_save(actor=Actor.from_request(request), api=api, name=name, source=data["source"])
        return Response(CaseSerializer(case).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, slug: str, name: str) -> Response:
        api = self._api(request, slug)
        case = selectors.case_of(request.user, api, name)
        cases.cases_delete(actor=Actor.from_request(request), case=case)
        return Response(status=status.HTTP_204_NO_CONTENT)


class FindingTransition(APIView):
    """A triage move: accept_risk (note and accepted_until), mark_false_positive (note), reopen.
    A move the finding's status does not allow is a 409; missing input a 400."""

    # Viewing is enough to reach the endpoint; the workflow checks the capability each move needs.
    required_capability = Cap.TESTING_VIEW
    scoped_model = Finding  # named by the ``pk`` URL kwarg: 404 outside the caller's sight

    @extend_schema(request=FindingTransitionSerializer, responses=FindingDetailSerializer)
    def post(self, request: Request, pk: int) -> Response:
        finding = selectors.finding_detail(request.user, pk)
        data = _validated(FindingTransitionSerializer, request.data)
        findings.finding_transition(
            actor=Actor.from_request(request),
            finding=finding,
            action=data["action"],
            note=data["note"],
            accepted_until=data["accepted_until"],
        )
        return Response(FindingDetailSerializer(selectors.finding_detail(request.user, pk)).data)
