"""REST endpoints of the portal app. Thin: scoping and rules live in access, selectors and services."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal import selectors
from portal.access import Cap, capabilities_of
from portal.audit import Actor
from portal.pagination import CappedCursorPagination
from portal.permissions import OWN_ACCOUNT
from portal.serializers import (
    ApiTokenSerializer,
    AuditEventSerializer,
    MembershipSerializer,
    MeSerializer,
    OrgUnitSerializer,
)
from portal.services.tokens import api_token_revoke


class MeView(APIView):
    required_capability = OWN_ACCOUNT

    @extend_schema(responses=MeSerializer)
    def get(self, request: Request) -> Response:
        roles = [
            {"role": m.role, "org_unit": m.org_unit.slug} for m in selectors.memberships_of(request.user)
        ]
        return Response(
            {
                "username": request.user.get_username(),
                "roles": roles,
                "capabilities": sorted(capabilities_of(request.user)),
            }
        )


class OrgUnitList(generics.ListAPIView):
    required_capability = Cap.ORG_VIEW
    serializer_class = OrgUnitSerializer

    def get_queryset(self) -> Any:
        return selectors.units_visible(self.request.user)


class OrgUnitDetail(generics.RetrieveAPIView):
    required_capability = Cap.ORG_VIEW
    serializer_class = OrgUnitSerializer

    def get_queryset(self) -> Any:
        return selectors.units_visible(self.request.user)


class MembershipList(generics.ListAPIView):
    required_capability = Cap.ORG_VIEW
    serializer_class = MembershipSerializer

    def get_queryset(self) -> Any:
        return selectors.memberships_visible(self.request.user).order_by("id")


class AuditEventList(generics.ListAPIView):
    required_capability = Cap.AUDIT_VIEW
    serializer_class = AuditEventSerializer
    pagination_class = CappedCursorPagination

    def get_queryset(self) -> Any:
        return selectors.audit_events_visible(self.request.user)


class ApiTokenList(generics.ListAPIView):
    """The caller's own tokens. Creation is in the UI only, so a leaked token cannot mint more."""

    required_capability = OWN_ACCOUNT
    serializer_class = ApiTokenSerializer

    def get_queryset(self) -> Any:
        return selectors.api_tokens_of(self.request.user)


class ApiTokenRevoke(APIView):
    required_capability = OWN_ACCOUNT

    @extend_schema(request=None, responses=ApiTokenSerializer)
    def post(self, request: Request, pk: int) -> Response:
        token = get_object_or_404(selectors.api_tokens_of(request.user), pk=pk)
        token = api_token_revoke(actor=Actor.from_request(request), token=token)
        return Response(ApiTokenSerializer(token).data)
