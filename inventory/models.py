"""What APIs the company runs, who owns them, what they are built with and what they should do."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from portal.models import OrgUnit, ScopedModel, slug_validator


class Lifecycle(models.TextChoices):
    DESIGN = "design", "Design"
    EXPERIMENTAL = "experimental", "Experimental"
    PRODUCTION = "production", "Production"
    DEPRECATED = "deprecated", "Deprecated"
    RETIRED = "retired", "Retired"


class Exposure(models.TextChoices):
    INTERNAL = "internal", "Internal"
    PARTNER = "partner", "Partner"
    PUBLIC = "public", "Public"


class Classification(models.TextChoices):
    PUBLIC = "public", "Public"
    INTERNAL = "internal", "Internal"
    CONFIDENTIAL = "confidential", "Confidential"
    RESTRICTED = "restricted", "Restricted"


class AuthScheme(models.TextChoices):
    NONE = "none", "None (anonymous)"
    API_KEY = "api_key", "API key"
    BASIC = "basic", "HTTP Basic"
    BEARER = "bearer", "Bearer token / JWT"
    OAUTH2 = "oauth2", "OAuth 2.0"
    OIDC = "openid_connect", "OpenID Connect"
    MTLS = "mtls", "Mutual TLS"


class Protocol(models.TextChoices):
    REST_HTTPS = "rest_https", "REST over HTTPS"
    HTTP = "http", "Plain HTTP"
    GRAPHQL = "graphql", "GraphQL"
    GRPC = "grpc", "gRPC"
    WEBSOCKET = "websocket", "WebSocket"


class ApiStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted for review"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    APPROVED = "approved", "Approved"
    # Approved, then changed in a way that matters for security: in use while it waits for review.
    REREVIEW = "rereview", "Changed, awaiting re-review"
    SUSPENDED = "suspended", "Suspended"
    DEPRECATED = "deprecated", "Deprecated"
    RETIRED = "retired", "Retired"


class Limits:
    """How much one API record may hold. Every list that comes from outside (forms, REST, catalog
    files, commands) is capped, so no input decides how much work a request does."""

    ENVIRONMENTS = 50
    BASE_URLS = 20
    WINDOWS = 200
    CONSUMERS = 1000
    DECLARED_COMPONENTS = 200
    SERVER_ADDRESSES = 64
    AUTH_SCHEMES = 10  # entries of Api.auth_schemes as given (repeats are merged after the count)
    PROTOCOLS = 10  # entries of Api.protocols, likewise


# Records in use: what the gateway serves and the staleness clock is about. A draft is still being written.
API_IN_USE = (ApiStatus.APPROVED, ApiStatus.REREVIEW, ApiStatus.DEPRECATED, ApiStatus.SUSPENDED)


class Api(ScopedModel):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=63, unique=True, validators=[slug_validator])
    description = models.TextField(blank=True, validators=[MaxLengthValidator(10_000)])
    org_unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="apis")
    technical_contact_name = models.CharField(max_length=200, blank=True)
    technical_contact_email = models.EmailField(blank=True)
    lifecycle = models.CharField(max_length=20, choices=Lifecycle.choices, default=Lifecycle.DESIGN)
    version = models.CharField(max_length=50, blank=True)
    exposure = models.CharField(max_length=20, choices=Exposure.choices, default=Exposure.INTERNAL)
    data_classification = models.CharField(
        max_length=20, choices=Classification.choices, default=Classification.INTERNAL
    )
    handles_personal_data = models.BooleanField(default=False)
    auth_schemes = models.JSONField(default=list, blank=True)
    protocols = models.JSONField(default=list, blank=True)
    availability_target = models.DecimalField(
        max_digits=6,
        decimal_places=3,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text="Expected availability in percent, e.g. 99.900",
    )
    status = models.CharField(max_length=20, choices=ApiStatus.choices, default=ApiStatus.DRAFT)
    # Counts changes to what a review looks at (the profile, environments and servers, spec,
    # components): a review act names the revision it reviewed, and a record changed since is refused.
    revision = models.PositiveIntegerField(default=1, editable=False)
    status_changed_at = models.DateTimeField(default=timezone.now)
    # Who sent it for review last, and when: the review's outcome is mailed to them.
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    review_comment = models.TextField(blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(
        default=timezone.now, help_text="Last time the owners confirmed the record."
    )
    stale_notified_at = models.DateTimeField(null=True, blank=True)
    # Denormalized so list pages filter and sort without recomputing anything.
    completeness = models.PositiveSmallIntegerField(default=0)
    missing = models.JSONField(default=list, blank=True)
    has_spec = models.BooleanField(default=False)
    component_count = models.PositiveIntegerField(default=0)
    # The latest testing outcome, written by ``testing`` at the end of each run (worst over the
    # API's plans) so lists show it without reading results.
    test_status = models.CharField(max_length=20, blank=True)
    tested_at = models.DateTimeField(null=True, blank=True)
    open_findings = models.PositiveIntegerField(default=0)
    worst_open_severity = models.CharField(max_length=10, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        indexes = [
            models.Index(fields=["org_unit", "name"], name="api_unit_name_idx"),
            # The list's default order (name, id): a page is read off the index instead of sorting
            # every visible row (10,000 for a CISO) on each request.
            models.Index(fields=["name", "id"], name="api_name_idx"),
            models.Index(fields=["status"], name="api_status_idx"),
            models.Index(fields=["lifecycle"], name="api_lifecycle_idx"),
            models.Index(fields=["completeness"], name="api_completeness_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=ApiStatus.values), name="api_status_valid"),
            models.CheckConstraint(
                condition=models.Q(lifecycle__in=Lifecycle.values), name="api_lifecycle_valid"
            ),
            models.CheckConstraint(condition=models.Q(completeness__lte=100), name="api_completeness_range"),
        ]

    def __str__(self) -> str:
        return self.name


class Environment(ScopedModel):
    api = models.ForeignKey(Api, on_delete=models.CASCADE, related_name="environments")
    name = models.CharField(max_length=50, validators=[slug_validator])
    is_production = models.BooleanField(default=False)
    base_urls = models.JSONField(default=list)
    servers: models.ManyToManyField[Server, Any] = models.ManyToManyField(
        "Server", blank=True, related_name="environments"
    )

    scope_path = "api__org_unit__path"

    class Meta:
        ordering = ["api", "name"]
        constraints = [models.UniqueConstraint(fields=["api", "name"], name="environment_unique_name")]

    def __str__(self) -> str:
        return f"{self.api} / {self.name}"


class Server(ScopedModel):
    """A host some APIs run on. Owned by a unit (usually a platform team); shared by many APIs.

    A host name is unique within its owning unit, not across the company: a team registers the hosts
    it knows of without learning which names other teams' hidden records already use.
    """

    hostname = models.CharField(max_length=253)
    environment = models.CharField(max_length=50, blank=True)
    addresses = models.JSONField(default=list, blank=True)
    location = models.CharField(max_length=100, blank=True, help_text="Region or data centre")
    operating_system = models.CharField(max_length=100, blank=True)
    org_unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="servers")

    class Meta:
        ordering = ["hostname"]
        constraints = [
            models.UniqueConstraint(fields=["org_unit", "hostname"], name="server_unit_hostname_unique"),
        ]
        indexes = [models.Index(fields=["hostname"], name="server_hostname_idx")]

    def __str__(self) -> str:
        return self.hostname


class Component(ScopedModel):
    """A package, framework or runtime an API is built with, identified by its purl."""

    class Kind(models.TextChoices):
        LIBRARY = "library", "Library"
        FRAMEWORK = "framework", "Framework"
        RUNTIME = "runtime", "Language runtime"
        OTHER = "other", "Other"

    api = models.ForeignKey(Api, on_delete=models.CASCADE, related_name="components")
    ecosystem = models.CharField(max_length=50)
    name = models.CharField(max_length=300)
    version = models.CharField(max_length=100, blank=True)
    purl = models.CharField(max_length=600)

    class Source(models.TextChoices):
        SBOM = "sbom", "SBOM or lockfile upload"
        DECLARED = "declared", "Declared in the registration form"

    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.LIBRARY)
    direct = models.BooleanField(null=True, help_text="Empty when the file does not say.")
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.SBOM)

    scope_path = "api__org_unit__path"

    class Meta:
        ordering = ["ecosystem", "name"]
        constraints = [models.UniqueConstraint(fields=["api", "purl"], name="component_unique_purl")]
        indexes = [models.Index(fields=["ecosystem", "name"], name="component_pkg_idx")]

    def __str__(self) -> str:
        return self.purl


class SbomImport(ScopedModel):
    """One upload of an SBOM or lockfile and what it changed."""

    api = models.ForeignKey(Api, on_delete=models.CASCADE, related_name="sbom_imports")
    format = models.CharField(max_length=30)
    filename = models.CharField(max_length=255, blank=True)
    sha256 = models.CharField(max_length=64)
    component_count = models.PositiveIntegerField()
    added = models.JSONField(default=list)
    removed = models.JSONField(default=list)
    upgraded = models.JSONField(default=list)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(default=timezone.now)

    scope_path = "api__org_unit__path"

    class Meta:
        ordering = ["-uploaded_at", "-id"]

    def __str__(self) -> str:
        return f"{self.format} for {self.api_id} at {self.uploaded_at:%Y-%m-%d}"


class ConsumerService(ScopedModel):
    """A service that relies on an API but is not itself a registered API (a batch job, a mobile app)."""

    name = models.CharField(max_length=200)
    owner = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="consumer_services")
    contact_email = models.EmailField(blank=True)

    scope_path = "owner__path"

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="consumer_service_unique")]

    def __str__(self) -> str:
        return self.name


class ApiDependency(ScopedModel):
    """``consumer_api`` or ``consumer_service`` relies on ``api``."""

    api = models.ForeignKey(Api, on_delete=models.CASCADE, related_name="consumers")
    consumer_api = models.ForeignKey(
        Api, null=True, blank=True, on_delete=models.CASCADE, related_name="dependencies"
    )
    consumer_service = models.ForeignKey(
        ConsumerService, null=True, blank=True, on_delete=models.CASCADE, related_name="dependencies"
    )
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    scope_path = "api__org_unit__path"

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(consumer_api__isnull=False, consumer_service__isnull=True)
                    | models.Q(consumer_api__isnull=True, consumer_service__isnull=False)
                ),
                name="dependency_one_consumer",
            ),
            models.CheckConstraint(
                condition=~models.Q(consumer_api=models.F("api")), name="dependency_not_self"
            ),
            models.UniqueConstraint(fields=["api", "consumer_api"], name="dependency_unique_api"),
            models.UniqueConstraint(fields=["api", "consumer_service"], name="dependency_unique_service"),
        ]

    def __str__(self) -> str:
        return f"{self.consumer_api or self.consumer_service} → {self.api}"


class Spec(ScopedModel):
    """One version of an API's OpenAPI document, stored whole with its SHA-256."""

    api = models.ForeignKey(Api, on_delete=models.CASCADE, related_name="specs")
    number = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    format = models.CharField(max_length=10)  # yaml | json
    content = models.TextField()
    openapi_version = models.CharField(max_length=20)
    title = models.CharField(max_length=300, blank=True)
    info_version = models.CharField(max_length=100, blank=True)
    filename = models.CharField(max_length=255, blank=True)
    operation_count = models.PositiveIntegerField(default=0)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(default=timezone.now)
    is_current = models.BooleanField(default=True)

    scope_path = "api__org_unit__path"

    class Meta:
        ordering = ["api", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["api", "number"], name="spec_unique_number"),
            models.UniqueConstraint(
                fields=["api"], condition=models.Q(is_current=True), name="spec_one_current_per_api"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.api} spec v{self.number}"


class Operation(models.Model):
    spec = models.ForeignKey(Spec, on_delete=models.CASCADE, related_name="operations")
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    operation_id = models.CharField(max_length=200, blank=True)
    summary = models.CharField(max_length=500, blank=True)
    auth_required = models.BooleanField(default=True)
    deprecated = models.BooleanField(default=False)
    parameters = models.JSONField(default=list, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["path", "method"]
        constraints = [models.UniqueConstraint(fields=["spec", "method", "path"], name="operation_unique")]

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


class ResponseCode(models.Model):
    operation = models.ForeignKey(Operation, on_delete=models.CASCADE, related_name="responses")
    code = models.CharField(max_length=10)  # "200", "4XX", "default"
    description = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["code"]
        constraints = [models.UniqueConstraint(fields=["operation", "code"], name="response_code_unique")]

    def __str__(self) -> str:
        return self.code


class PerformanceBaseline(models.Model):
    environment = models.OneToOneField(Environment, on_delete=models.CASCADE, related_name="baseline")
    # Milliseconds, at most an hour: a figure beyond that is a unit mistake, not a latency.
    p50_ms = models.PositiveIntegerField(validators=[MinValueValidator(0), MaxValueValidator(3_600_000)])
    p95_ms = models.PositiveIntegerField(validators=[MinValueValidator(0), MaxValueValidator(3_600_000)])
    p99_ms = models.PositiveIntegerField(validators=[MinValueValidator(0), MaxValueValidator(3_600_000)])
    requests_per_second = models.DecimalField(
        max_digits=12, decimal_places=2, validators=[MinValueValidator(0)]
    )
    error_rate_percent = models.DecimalField(
        max_digits=6, decimal_places=3, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(p50_ms__lte=models.F("p95_ms")) & models.Q(p95_ms__lte=models.F("p99_ms")),
                name="baseline_percentiles_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"p95 {self.p95_ms} ms"


class AvailabilityWindow(ScopedModel):
    """A planned downtime: weekly recurring (local time in its timezone) or one-off (absolute)."""

    class Kind(models.TextChoices):
        RECURRING = "recurring", "Weekly recurring"
        ONE_OFF = "one_off", "One-off"

    api = models.ForeignKey(Api, on_delete=models.CASCADE, related_name="windows")
    environment = models.ForeignKey(
        Environment,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="windows",
        help_text="Empty: applies to every environment.",
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    description = models.CharField(max_length=200, blank=True)
    timezone = models.CharField(max_length=64, default="UTC")
    weekdays = models.JSONField(default=list, blank=True, help_text="0=Monday … 6=Sunday")
    start_time = models.TimeField(null=True, blank=True)
    end_time = models.TimeField(null=True, blank=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)

    scope_path = "api__org_unit__path"

    class Meta:
        ordering = ["kind", "starts_at", "start_time"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(kind="recurring", start_time__isnull=False, end_time__isnull=False)
                    | models.Q(kind="one_off", starts_at__isnull=False, ends_at__isnull=False)
                ),
                name="window_fields_for_kind",
            ),
            models.CheckConstraint(
                condition=models.Q(ends_at__isnull=True) | models.Q(ends_at__gt=models.F("starts_at")),
                name="window_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return self.description or self.get_kind_display()


class LogIngest(models.Model):
    """One gateway/access log processed for discovery."""

    filename = models.CharField(max_length=255, blank=True)
    sha256 = models.CharField(max_length=64)
    format = models.CharField(max_length=20)
    lines = models.PositiveBigIntegerField(default=0)
    parsed = models.PositiveBigIntegerField(default=0)
    skipped = models.PositiveBigIntegerField(default=0)
    skipped_examples = models.JSONField(default=list, blank=True)
    endpoints = models.PositiveIntegerField(default=0)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.filename or 'log'} ({self.parsed} lines)"


class DiscoveredEndpoint(ScopedModel):
    # Shadow endpoints belong to no API; they carry the unit of whoever must look (the root by default).
    class Finding(models.TextChoices):
        SHADOW_API = "shadow_api", "Shadow API (unknown host)"
        UNDOCUMENTED = "undocumented", "Undocumented endpoint"
        ZOMBIE = "zombie", "Zombie (deprecated or retired, still called)"

    class State(models.TextChoices):
        NEW = "new", "New"
        REGISTERED = "registered", "Turned into a registration"
        DISMISSED = "dismissed", "Dismissed"

    finding = models.CharField(max_length=20, choices=Finding.choices)
    state = models.CharField(max_length=20, choices=State.choices, default=State.NEW)
    host = models.CharField(max_length=253)
    method = models.CharField(max_length=10)
    path_template = models.CharField(max_length=500)
    api = models.ForeignKey(Api, null=True, blank=True, on_delete=models.SET_NULL, related_name="discoveries")
    org_unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="discoveries")
    hits = models.PositiveBigIntegerField(default=0)
    status_codes = models.JSONField(default=dict, blank=True)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    dismissed_reason = models.CharField(max_length=500, blank=True)
    registered_api = models.ForeignKey(
        Api, null=True, blank=True, on_delete=models.SET_NULL, related_name="created_from_discoveries"
    )

    class Meta:
        ordering = ["-last_seen"]
        constraints = [
            models.UniqueConstraint(fields=["host", "method", "path_template"], name="discovered_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.host}{self.path_template}"
