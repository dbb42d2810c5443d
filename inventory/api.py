"""REST endpoints of the inventory: what CI pipelines call. Thin: every rule lives in the services."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError as DrfValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from inventory import selectors
from inventory.forms import ApiFilterForm
from inventory.models import Api, DiscoveredEndpoint
from inventory.serializers import (
    ApiCreateSerializer,
    ApiListSerializer,
    ApiQuerySerializer,
    ApiSerializer,
    ApiWriteSerializer,
    BaselineSerializer,
    BlastRadiusSerializer,
    ComponentSerializer,
    ConsumerRowSerializer,
    ConsumerSerializer,
    DeclareComponentSerializer,
    DiscoveredQuerySerializer,
    DiscoveredSerializer,
    DismissSerializer,
    LogIngestSerializer,
    LogUploadSerializer,
    OperationSerializer,
    SbomImportResultSerializer,
    SbomImportSerializer,
    ServerSerializer,
    SpecCurrentSerializer,
    SpecSerializer,
    SpecUploadSerializer,
    TransitionSerializer,
    UploadSerializer,
    WindowSerializer,
    api_list_rows,
)
from inventory.services import (
    components,
    consumers,
    discovered,
    environments,
    registration,
    review,
    specs,
    windows,
)
from portal.access import Cap
from portal.api_query import validated_query
from portal.audit import Actor
from portal.models import OrgUnit
from portal.pagination import KeysetPaginationWithPageNumbers
from portal.ratelimit import ScopedRateThrottle, UserRateThrottle


def _api_for(request: Request, slug: str) -> Api:
    return selectors.api_detail(request.user, slug)


class NamesApiBySlug:
    """For HasCapability: the URL's ``slug`` names an Api, so a caller lacking the capability
    everywhere gets a 404 for an API outside their sight (403 only for one they can see)."""

    scoped_model = Api
    lookup_field = "slug"
    lookup_url_kwarg = "slug"


class ExpensiveThrottle(ScopedRateThrottle):
    """Uploads and runs: a tighter per-user rate than ordinary requests. Reads are never expensive
    (they share the view with the upload, e.g. GET and POST of components)."""

    scope_attr = "throttle_scope"

    def allow_request(self, request: Request, view: Any) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return super().allow_request(request, view)


# The list's filters. A request naming none of them (a CI job listing everything) has nothing to
# validate, and skips building the query serializer and the form (~1 ms).
_LIST_FILTERS = tuple(ApiQuerySerializer().fields)


class ApiListCreate(generics.ListAPIView):
    """GET: the inventory, a page at a time in the order asked for (``sort``), by cursor and without
    a total (``?page=N`` still answers, deprecated); POST: register an API."""

    required_capability = {"GET": Cap.INVENTORY_VIEW, "POST": Cap.INVENTORY_SUBMIT}
    serializer_class = ApiListSerializer  # documents the rows; api_list_rows builds them
    query_serializer = ApiQuerySerializer
    pagination_class = KeysetPaginationWithPageNumbers

    def get_queryset(self) -> Any:
        return selectors.api_list_rows(self.request.user, self._filters())

    def _filters(self) -> dict[str, Any]:
        if not any(name in self.request.query_params for name in _LIST_FILTERS):
            return {}
        form = ApiFilterForm(validated_query(self.request, ApiQuerySerializer), user=self.request.user)
        if not form.is_valid():
            raise DrfValidationError(form.errors)  # type: ignore[arg-type]  # DRF reads ErrorDict, codes too
        return form.filters()

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        rows = self.paginate_queryset(self.get_queryset()) or []
        return self.get_paginated_response(api_list_rows(rows))

    @extend_schema(request=ApiCreateSerializer, responses={201: ApiSerializer})
    def post(self, request: Request) -> Response:
        data = _validated(ApiCreateSerializer, request.data)
        unit = _unit(request, data.pop("org_unit"))
        slug = data.pop("slug")
        api = registration.api_create(actor=Actor.from_request(request), org_unit=unit, slug=slug, **data)
        return Response(ApiSerializer(_api_for(request, api.slug)).data, status=status.HTTP_201_CREATED)


def _validated(serializer_class: type, data: Any, **kwargs: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _unit(request: Request, slug: str | None) -> OrgUnit:
    if not slug:
        raise DrfValidationError({"org_unit": ["This field is required."]})
    unit = selectors.unit_visible(request.user, slug)
    if unit is None:  # missing or outside the caller's sight: the same answer
        raise DrfValidationError({"org_unit": ["Unknown unit."]})
    return unit


class ApiDetail(NamesApiBySlug, APIView):
    """GET the record; PUT creates or updates it by slug (idempotent, what CI calls); PATCH updates."""

    required_capability = {
        "GET": Cap.INVENTORY_VIEW,
        "PUT": Cap.INVENTORY_SUBMIT,
        "PATCH": Cap.INVENTORY_SUBMIT,
    }

    @extend_schema(responses=ApiSerializer)
    def get(self, request: Request, slug: str) -> Response:
        return Response(ApiSerializer(_api_for(request, slug)).data)

    @extend_schema(request=ApiWriteSerializer, responses={200: ApiSerializer, 201: ApiSerializer})
    def put(self, request: Request, slug: str) -> Response:
        data = _validated(ApiWriteSerializer, request.data)
        unit_slug = data.pop("org_unit", None)
        api, created = registration.api_upsert(
            actor=Actor.from_request(request),
            org_unit=_unit(request, unit_slug) if unit_slug else None,
            slug=slug,
            **data,
        )
        body = ApiSerializer(_api_for(request, api.slug)).data
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(request=ApiWriteSerializer, responses=ApiSerializer)
    def patch(self, request: Request, slug: str) -> Response:
        api = _api_for(request, slug)
        data = _validated(ApiWriteSerializer, request.data, partial=True)
        data.pop("org_unit", None)
        registration.api_update(actor=Actor.from_request(request), api=api, **data)
        return Response(ApiSerializer(_api_for(request, slug)).data)


class ApiTransition(NamesApiBySlug, APIView):
    # Viewing is enough to reach the endpoint; the service checks the capability each move needs.
    required_capability = Cap.INVENTORY_VIEW

    @extend_schema(request=TransitionSerializer, responses=ApiSerializer)
    def post(self, request: Request, slug: str) -> Response:
        api = _api_for(request, slug)
        data = _validated(TransitionSerializer, request.data)
        review.api_transition(
            actor=Actor.from_request(request),
            api=api,
            action=data["action"],
            note=data["comment"],
            seen_revision=data["revision"],
        )
        return Response(ApiSerializer(_api_for(request, slug)).data)


class ApiConfirm(NamesApiBySlug, APIView):
    """The owners confirm the record is still accurate (resets the staleness clock)."""

    required_capability = Cap.INVENTORY_SUBMIT

    @extend_schema(request=None, responses=ApiSerializer)
    def post(self, request: Request, slug: str) -> Response:
        api = _api_for(request, slug)
        registration.api_confirm(actor=Actor.from_request(request), api=api)
        return Response(ApiSerializer(_api_for(request, slug)).data)


class UploadView(APIView):
    parser_classes = [MultiPartParser]
    throttle_classes = [UserRateThrottle, ExpensiveThrottle]
    throttle_scope = "expensive"


class SpecUpload(NamesApiBySlug, UploadView):
    required_capability = {"GET": Cap.INVENTORY_VIEW, "POST": Cap.INVENTORY_SUBMIT}

    @extend_schema(responses=SpecCurrentSerializer)
    def get(self, request: Request, slug: str) -> Response:
        api = _api_for(request, slug)
        spec = selectors.spec_current(api)
        if spec is None:
            return Response({"spec": None, "operations": []})
        ops = selectors.spec_operations_with_codes(spec)
        return Response(
            {"spec": SpecSerializer(spec).data, "operations": OperationSerializer(ops, many=True).data}
        )

    @extend_schema(
        request={"multipart/form-data": SpecUploadSerializer},
        responses={201: SpecSerializer, 200: SpecSerializer},
    )
    def post(self, request: Request, slug: str) -> Response:
        api = _api_for(request, slug)
        data = _validated(SpecUploadSerializer, request.data)
        upload = data["file"]
        result = specs.spec_upload(
            actor=Actor.from_request(request), api=api, data=upload.read(), filename=upload.name
        )
        return Response(
            SpecSerializer(result.spec).data,
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


class ComponentsUpload(NamesApiBySlug, UploadView):
    required_capability = {"GET": Cap.INVENTORY_VIEW, "POST": Cap.INVENTORY_SUBMIT}

    @extend_schema(responses=ComponentSerializer(many=True))
    def get(self, request: Request, slug: str) -> Response:
        api = _api_for(request, slug)
        return Response(ComponentSerializer(selectors.api_components(api)[:5000], many=True).data)

    @extend_schema(
        request={"multipart/form-data": UploadSerializer}, responses={201: SbomImportResultSerializer}
    )
    def post(self, request: Request, slug: str) -> Response:
        api = _api_for(request, slug)
        data = _validated(UploadSerializer, request.data)
        upload = data["file"]
        result = components.components_replace(
            actor=Actor.from_request(request),
            api=api,
            data=upload.read(),
            filename=upload.name,
            format=data.get("format"),
        )
        body = SbomImportSerializer(result.sbom_import).data
        body["warnings"] = result.warnings[:100]
        return Response(body, status=status.HTTP_201_CREATED)


class ComponentDeclare(NamesApiBySlug, APIView):
    """Declare a framework or language runtime (kept across SBOM uploads)."""

    required_capability = Cap.INVENTORY_SUBMIT

    @extend_schema(request=DeclareComponentSerializer, responses={201: ComponentSerializer})
    def post(self, request: Request, slug: str) -> Response:
        api = _api_for(request, slug)
        data = _validated(DeclareComponentSerializer, request.data)
        component = components.component_declare(actor=Actor.from_request(request), api=api, **data)
        return Response(ComponentSerializer(component).data, status=status.HTTP_201_CREATED)


def _environment_for(request: Request, api: Api, name: str) -> Any:
    return selectors.environment_of(request.user, api, name=name)


class EnvironmentBaseline(NamesApiBySlug, APIView):
    """Typical performance of one environment (p50/p95/p99 latency, requests per second, error rate)."""

    required_capability = Cap.INVENTORY_SUBMIT

    @extend_schema(request=BaselineSerializer, responses=BaselineSerializer)
    def put(self, request: Request, slug: str, environment: str) -> Response:
        api = _api_for(request, slug)
        env = _environment_for(request, api, environment)
        data = _validated(BaselineSerializer, request.data)
        environments.baseline_save(actor=Actor.from_request(request), environment=env, **data)
        return Response(BaselineSerializer(data).data)


class EnvironmentServers(NamesApiBySlug, APIView):
    """Record a server the environment runs on (created or updated by hostname) and attach it."""

    required_capability = Cap.INVENTORY_SUBMIT

    @extend_schema(request=ServerSerializer, responses={201: ServerSerializer})
    def post(self, request: Request, slug: str, environment: str) -> Response:
        api = _api_for(request, slug)
        env = _environment_for(request, api, environment)
        data = _validated(ServerSerializer, request.data)
        server = environments.environment_attach_server(
            actor=Actor.from_request(request), environment=env, **data
        )
        return Response(ServerSerializer(server).data, status=status.HTTP_201_CREATED)


class Windows(NamesApiBySlug, APIView):
    """Planned downtime windows: weekly in a timezone, or one-off."""

    required_capability = {"GET": Cap.INVENTORY_VIEW, "POST": Cap.INVENTORY_SUBMIT}
    # Adding one checks it for overlaps against every window over a year: an expensive write.
    throttle_classes = [UserRateThrottle, ExpensiveThrottle]
    throttle_scope = "expensive"

    @extend_schema(responses=WindowSerializer(many=True))
    def get(self, request: Request, slug: str) -> Response:
        api = _api_for(request, slug)
        windows = api.windows.select_related("environment").order_by("id")
        return Response([_window_body(w) for w in windows])

    @extend_schema(request=WindowSerializer, responses={201: WindowSerializer})
    def post(self, request: Request, slug: str) -> Response:
        api = _api_for(request, slug)
        data = _validated(WindowSerializer, request.data)
        window = windows.window_add_from_input(actor=Actor.from_request(request), api=api, data=data)
        return Response(_window_body(window), status=status.HTTP_201_CREATED)


def _window_body(window: Any) -> dict[str, Any]:
    return WindowSerializer(
        {
            **{
                f: getattr(window, f)
                for f in (
                    "id",
                    "kind",
                    "description",
                    "timezone",
                    "weekdays",
                    "start_time",
                    "end_time",
                    "starts_at",
                    "ends_at",
                )
            },
            "environment": window.environment.name if window.environment_id else "",
        }
    ).data


class Consumers(NamesApiBySlug, APIView):
    """Who relies on this API: registered APIs or named services (owned by the API's unit)."""

    required_capability = {"GET": Cap.INVENTORY_VIEW, "POST": Cap.INVENTORY_SUBMIT}

    @extend_schema(responses=ConsumerRowSerializer(many=True))
    def get(self, request: Request, slug: str) -> Response:
        api = _api_for(request, slug)
        rows = selectors.relations_for(request.user, api, with_blast=False).consumers
        return Response(
            [
                {"consumer_api": None, "consumer_service": "", "note": "outside your scope"}
                if row.hidden
                else {
                    "consumer_api": row.consumer_api.slug if row.consumer_api else "",
                    "consumer_service": row.consumer_service_name,
                    "note": row.note,
                }
                for row in rows
            ]
        )

    @extend_schema(request=ConsumerSerializer, responses={201: ConsumerSerializer})
    def post(self, request: Request, slug: str) -> Response:
        api = _api_for(request, slug)
        data = _validated(ConsumerSerializer, request.data)
        consumers.consumer_add(
            actor=Actor.from_request(request),
            api=api,
            consumer_api_slug=data["consumer_api"],
            consumer_service_name=data["consumer_service"],
            note=data["note"],
        )
        return Response(data, status=status.HTTP_201_CREATED)


class BlastRadius(NamesApiBySlug, APIView):
    required_capability = Cap.INVENTORY_VIEW

    @extend_schema(responses=BlastRadiusSerializer)
    def get(self, request: Request, slug: str) -> Response:
        api = _api_for(request, slug)
        relations = selectors.relations_for(request.user, api)
        # APIs outside the caller's scope are counted, never named (not even as the "via" of another).
        shown = [{"kind": r.kind, "name": r.name, "depth": r.depth, "via": r.via} for r in relations.blast]
        return Response({"api": api.slug, "affected": shown, "hidden_outside_scope": relations.blast_hidden})


class DiscoveredList(generics.ListAPIView):
    required_capability = Cap.INVENTORY_VIEW
    serializer_class = DiscoveredSerializer
    query_serializer = DiscoveredQuerySerializer

    def get_queryset(self) -> Any:
        query = validated_query(self.request, DiscoveredQuerySerializer)
        return selectors.discovered_list(
            self.request.user, finding=query.get("finding"), state=query.get("state")
        )


class DiscoveredDismiss(APIView):
    required_capability = Cap.INVENTORY_REVIEW
    scoped_model = DiscoveredEndpoint  # named by the ``pk`` URL kwarg: 404 outside the caller's sight

    @extend_schema(request=DismissSerializer, responses=DiscoveredSerializer)
    def post(self, request: Request, pk: int) -> Response:
        item = get_object_or_404(selectors.discovered_visible(request.user), pk=pk)
        data = _validated(DismissSerializer, request.data)
        item = discovered.discovered_dismiss(
            actor=Actor.from_request(request), item=item, reason=data["reason"]
        )
        return Response(DiscoveredSerializer(item).data)


class LogUpload(UploadView):
    required_capability = Cap.INVENTORY_REVIEW

    @extend_schema(request={"multipart/form-data": LogUploadSerializer}, responses={201: LogIngestSerializer})
    def post(self, request: Request) -> Response:

        data = _validated(LogUploadSerializer, request.data)
        upload = data["file"]
        result = discovered.discovery_ingest(
            actor=Actor.from_request(request),
            chunks=upload.chunks(),
            filename=upload.name,
            fmt=data.get("format"),
            default_host=data.get("host", ""),
        )
        ingest = result.ingest
        return Response(
            {
                "lines": ingest.lines,
                "parsed": ingest.parsed,
                "skipped": ingest.skipped,
                "skipped_examples": ingest.skipped_examples,
                "endpoints": ingest.endpoints,
                "findings": result.findings,
            },
            status=status.HTTP_201_CREATED,
        )
