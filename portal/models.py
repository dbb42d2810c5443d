"""The org chart, who holds which role where, personal API tokens and the audit trail."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django_otp.models import Device, ThrottlingMixin

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


class Role(models.TextChoices):
    CISO = "ciso", "CISO"
    SECURITY_ENGINEER = "security_engineer", "Security engineer"
    INCIDENT_RESPONDER = "incident_responder", "Incident responder"
    DEVELOPER = "developer", "Developer (API owner)"
    AUDITOR = "auditor", "Auditor"
    VIEWER = "viewer", "Viewer"


class ScopedQuerySet(models.QuerySet):
    """A queryset that can be narrowed to what a user may see under one capability.

    The field holding the owning unit's materialized path is the model's ``scope_path`` (declared
    once, on the model: see ``ScopedModel``), so scoping is a handful of indexed prefix comparisons,
    never a per-row subquery.
    """

    def visible_to(self, user: AbstractBaseUser | AnonymousUser, capability: str) -> ScopedQuerySet:
        from portal.access import scope_q

        return self.filter(scope_q(user, capability, self.model.scope_path))


class ScopedModel(models.Model):
    """A model owned by an org unit. ``scope_path`` is the lookup (through joins when needed) to the
    owning unit's materialized path, declared once: the queryset filters on it and the instance
    follows it, so the two cannot drift apart."""

    scope_path: ClassVar[str] = "org_unit__path"

    objects = ScopedQuerySet.as_manager()

    class Meta:
        abstract = True

    @property
    def scope_path_value(self) -> str:
        value: Any = self
        for part in self.scope_path.split("__"):
            value = getattr(value, part)
        return str(value)


class OrgUnitQuerySet(ScopedQuerySet):
    def subtree_of(self, unit: OrgUnit) -> OrgUnitQuerySet:
        return self.filter(path__startswith=unit.path)


slug_validator = RegexValidator(r"^[a-z0-9][a-z0-9-]{0,62}$", "Use lowercase letters, digits and hyphens.")


class OrgUnit(ScopedModel):
    """One node of the company's org chart (company, division, department, team, office…).

    ``path`` is the chain of ids from the root, e.g. ``/1/4/9/``: "this unit and all below" is one
    indexed prefix query. It is maintained by ``portal.services.org_unit_*`` only.
    """

    class Kind(models.TextChoices):
        COMPANY = "company", "Company"
        DIVISION = "division", "Division"
        DEPARTMENT = "department", "Department"
        TEAM = "team", "Team"
        OFFICE = "office", "Office"
        UNIT = "unit", "Unit"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=63, unique=True, validators=[slug_validator])
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.UNIT)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    path = models.CharField(max_length=1024, editable=False, db_index=False)
    depth = models.PositiveSmallIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    scope_path = "path"

    objects = OrgUnitQuerySet.as_manager()  # type: ignore[misc]  # django-stubs#1713: re-declaring objects

    class Meta:
        ordering = ["path"]
        indexes = [
            # varchar_pattern_ops lets PostgreSQL use the index for LIKE 'prefix%' in any collation.
            models.Index(fields=["path"], name="orgunit_path_idx", opclasses=["varchar_pattern_ops"]),
        ]
        constraints = [
            models.UniqueConstraint(fields=["path"], name="orgunit_path_unique"),
            models.CheckConstraint(condition=~models.Q(parent=models.F("id")), name="orgunit_not_own_parent"),
        ]

    def __str__(self) -> str:
        return self.name

    def ancestor_ids(self) -> list[int]:
        return [int(p) for p in self.path.strip("/").split("/") if p]


class Membership(ScopedModel):
    """A user holds a role on a unit; the role applies to the unit's whole subtree."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    org_unit = models.ForeignKey(OrgUnit, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=32, choices=Role.choices)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["org_unit__path", "role"]
        constraints = [
            models.UniqueConstraint(fields=["user", "org_unit", "role"], name="membership_unique"),
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="membership_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} @ {self.org_unit}"


class ApiTokenQuerySet(models.QuerySet):
    def active(self) -> ApiTokenQuerySet:
        return self.filter(revoked_at__isnull=True, expires_at__gt=timezone.now())


class ApiToken(models.Model):
    """A personal token for CI. Only its SHA-256 is stored; the secret is shown once at creation.

    The token acts with its owner's capabilities as they are at the time of each request, so
    removing a membership narrows every token of that user at once.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # Created in a session that had proved the second factor. A token without it stops working the
    # moment its owner holds a privileged role: a role granted later must not skip TOTP through it.
    issued_with_second_factor = models.BooleanField(default=False)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(expires_at__gt=models.F("created_at")), name="token_expires_later"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()


class AuditEventQuerySet(ScopedQuerySet):
    def visible_to(self, user: AbstractBaseUser | AnonymousUser, capability: str) -> ScopedQuerySet:
        """Events in the user's subtrees; events tied to no unit (logins, tokens, accounts) concern
        the whole company, so only holders of ``capability`` on a root unit see those."""
        from portal.access import scope_q, scopes_for

        prefixes = scopes_for(user, capability)
        q = scope_q(user, capability, self.model.scope_path)
        if "/" not in prefixes and any(p.count("/") == 2 for p in prefixes):  # a root's path is "/<id>/"
            q |= models.Q(org_path="")
        return self.filter(q)

    def update(self, **kwargs: Any) -> NoReturn:
        raise ValidationError("Audit events are append-only.")

    def delete(self) -> NoReturn:
        raise ValidationError("Audit events are append-only.")


class AuditEvent(ScopedModel):
    """One recorded change. Append-only and hash-chained (see ``portal.audit``).

    Nothing here is a foreign key: deleting a user or a unit must never need to touch audit rows,
    so the actor and unit are kept as ids plus a readable label, and the unit's path as it was.
    """

    at = models.DateTimeField(default=timezone.now, editable=False)
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_label = models.CharField(max_length=200)
    action = models.CharField(max_length=100)
    object_type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=64, blank=True)
    object_label = models.CharField(max_length=300, blank=True)
    org_unit_id = models.BigIntegerField(null=True, blank=True)
    org_path = models.CharField(max_length=1024, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)
    # How ``hash`` was made: "hmac-sha256:<key id>" (keyed, the key lives outside the database) or
    # "sha256" (events written before the chain was keyed).
    scheme = models.CharField(max_length=40, default="sha256")

    scope_path = "org_path"

    objects = AuditEventQuerySet.as_manager()  # type: ignore[misc]  # django-stubs#1713: re-declaring objects

    class Meta:
        # Django's base manager (used by save() and related lookups) must refuse writes too.
        base_manager_name = "objects"
        ordering = ["-id"]
        constraints = [
            # Two events claiming the same predecessor would be a fork; the database refuses it.
            models.UniqueConstraint(fields=["prev_hash"], name="audit_prev_hash_unique"),
        ]
        indexes = [
            models.Index(fields=["at"], name="audit_at_idx"),
            models.Index(fields=["org_path"], name="audit_path_idx", opclasses=["varchar_pattern_ops"]),
            models.Index(fields=["actor_id", "-id"], name="audit_actor_idx"),
            # What the audit log filters on, each with the page's order (newest first) behind it, so
            # a filtered page is a range scan that stops after 51 rows. The action filter matches
            # by prefix ("api." is a family): a plain btree cannot serve LIKE 'api.%' under a
            # non-C collation, the pattern opclass can (and still serves "="). PostgreSQL only;
            # other databases ignore opclasses.
            models.Index(
                fields=["action", "-id"],
                name="audit_action_prefix_idx",
                opclasses=["varchar_pattern_ops", "int8_ops"],
            ),
            models.Index(fields=["actor_label", "-id"], name="audit_actor_label_idx"),
            models.Index(fields=["object_type", "-id"], name="audit_object_type_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.action} {self.object_type}:{self.object_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValidationError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise ValidationError("Audit events are append-only.")


class AuditChainHead(models.Model):
    """The single row that serializes appends: writers lock it, so the chain never forks."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_event_id = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64)
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="audit_head_singleton")]

    def __str__(self) -> str:
        return f"audit chain head: {self.count} events, last #{self.last_event_id}"


class Heartbeat(models.Model):
    """Last time a background component proved it is alive (shown on /healthz)."""

    name = models.CharField(max_length=50, primary_key=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} @ {self.seen_at:%Y-%m-%d %H:%M:%S}"


_THROTTLE_FIELDS = ["throttling_failure_timestamp", "throttling_failure_count"]


class RecoveryCodeDevice(ThrottlingMixin, Device):
    """One-time recovery codes for a lost authenticator, stored only as salted SHA-256 hashes.

    (django-otp's own static device keeps them in clear text; ASVS asks for a one-way hash.)
    A used code is removed with a conditional update, so two simultaneous logins cannot both spend it.
    """

    salt = models.CharField(max_length=64)
    code_hashes = models.JSONField(default=list)

    class Meta(Device.Meta):
        verbose_name = "recovery codes"

    @staticmethod
    def normalize(code: str) -> str:
        return "".join(ch for ch in code.lower() if ch.isalnum())

    def hash_code(self, code: str) -> str:
        return hashlib.sha256(f"{self.salt}:{self.normalize(code)}".encode()).hexdigest()

    def get_throttle_factor(self) -> int:
        return 1

    @property
    def remaining(self) -> int:
        return len(self.code_hashes)

    def verify_token(self, token: str) -> bool:
        allowed, _ = self.verify_is_allowed()
        if not allowed:
            return False
        digest = self.hash_code(str(token))
        if digest in self.code_hashes:
            remaining = [h for h in self.code_hashes if h != digest]
            spent = RecoveryCodeDevice.objects.filter(pk=self.pk, code_hashes=self.code_hashes).update(
                code_hashes=remaining
            )
            if spent:
                self.code_hashes = remaining
                self.throttle_reset(commit=False)
                self.save(update_fields=_THROTTLE_FIELDS)
                return True
        # Only the throttle fields: a full save would write a stale code list back.
        self.throttle_increment(commit=False)
        self.save(update_fields=_THROTTLE_FIELDS)
        return False


class NotificationChannel(models.TextChoices):
    """How a notification travels (``portal.notifications.TRANSPORTS`` holds one transport each)."""

    EMAIL = "email", "Email"


class NotificationState(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    # Nobody to tell, or withdrawn before it went out: kept, so the record shows it.
    SKIPPED = "skipped", "Skipped"


class Notification(models.Model):
    """One message to people, recorded before it is sent (see ``portal.notifications``).

    The row is written in the transaction of the change it reports and sent after that commits.
    A sender claims it with a conditional UPDATE (pending → sending), so a redelivered task or a
    second worker never sends it twice. ``dedupe_key`` names the event it reports: the same event
    never makes two notifications.
    """

    Channel = NotificationChannel
    State = NotificationState

    channel = models.CharField(
        max_length=20, choices=NotificationChannel.choices, default=NotificationChannel.EMAIL
    )
    kind = models.CharField(max_length=100)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    recipients = models.JSONField(default=list, blank=True)
    dedupe_key = models.CharField(max_length=200, unique=True)
    state = models.CharField(
        max_length=20, choices=NotificationState.choices, default=NotificationState.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # When a pending notification is next due: the sweep re-enqueues the ones overdue.
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(state__in=NotificationState.values), name="notification_state_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(channel__in=NotificationChannel.values), name="notification_channel_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="notification_due_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} ({self.state})"
