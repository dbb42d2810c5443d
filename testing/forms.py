"""The shape of what people type into testing's pages: the findings list's filters, run now, a
plan's settings, an identity, a functional cases document and a triage move. Shape only: every rule
(which checks, cron and timezone, secrets, YAML, workflow moves) is the services' to check."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

from portal import web
from portal.field_limits import max_length_of
from portal.models import OrgUnit
from testing import selectors
from testing.engines import schedule
from testing.models import (
    Finding,
    FindingStatus,
    IdentityKind,
    PlanIdentity,
    ScheduleKind,
    Severity,
    TestPlan,
    TestRun,
)
from testing.services.cases import MAX_SOURCE_CHARS
from testing.services.cases import NAME_MAX as CASE_NAME_MAX
from testing.services.findings import FINDING_WORKFLOW
from testing.services.plans import MAX_RATE, MIN_RATE

# The findings list's own bounds (no model holds them); FindingQuerySerializer says them again.
AGE_DAYS_RANGE = (1, 3650)
CHECK_KEY_PATTERN = r"^[a-z0-9_]+$"  # what check keys look like (testing.engines.checks.base)
check_key_validator = RegexValidator(CHECK_KEY_PATTERN, "Not a check key.")


def _blank(choices: Any) -> list[tuple[str, str]]:
    return [("", "Any"), *choices]


class FindingFilterForm(forms.Form):
    """Filters of the findings list, shared by the page and (through FindingQuerySerializer's names)
    the REST list."""

    severity = forms.ChoiceField(required=False, choices=_blank(Severity.choices))
    check = forms.CharField(
        required=False, max_length=max_length_of(Finding, "check_key"), validators=[check_key_validator]
    )
    owasp = forms.ChoiceField(required=False, choices=_blank(selectors.OWASP_CHOICES), label="OWASP")
    unit = forms.SlugField(
        required=False, max_length=max_length_of(OrgUnit, "slug"), label="Owner unit (and below)"
    )
    older_than_days = forms.IntegerField(
        required=False,
        min_value=AGE_DAYS_RANGE[0],
        max_value=AGE_DAYS_RANGE[1],
        label="Opened more than (days) ago",
    )
    status = forms.ChoiceField(required=False, choices=_blank(FindingStatus.choices))
    before = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1, widget=forms.HiddenInput)

    def __init__(self, *args: Any, user: Any = None, menus: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if menus and user is not None:
            self.fields["unit"].widget = forms.Select(choices=[("", "Any"), *selectors.units_menu(user)])
            checks = sorted((key, info.title) for key, info in selectors.check_catalog().items())
            self.fields["check"].widget = forms.Select(
                choices=self._keeping_current("check", [("", "Any"), *checks])
            )

    def _keeping_current(self, name: str, choices: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """A check no longer registered still filters (old findings keep its key) and stays selected."""
        current = self.data.get(name) if self.is_bound else None
        if (
            isinstance(current, str)
            and current
            and current not in {c for c, _ in choices}
            and len(current) <= 50
        ):
            return [*choices, (current, current)]
        return choices

    def filters(self) -> dict[str, Any]:
        return {k: v for k, v in self.cleaned_data.items() if v not in ("", None)}


# --- Writes: run now, plan edit, identities, functional cases, triage ---------------------------------------

BASE_URL_MAX = max_length_of(TestRun, "base_url")


def validate_base_url(value: str) -> None:
    """A deployment to test instead of the environment's own: an absolute http(s) URL with no
    credentials, query or fragment (the scanner's safe client still decides what it may reach)."""
    parts = urlsplit("")
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:  # e.g. an unclosed IPv6 bracket
        host = None
    if not host or parts.scheme not in ("http", "https"):
        raise ValidationError("An absolute http(s) URL, e.g. https://orders-pr-42.internal.")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValidationError("No credentials, query or fragment: identities come from the plan.")
    if any(c.isspace() or ord(c) < 32 for c in value):
        raise ValidationError("No spaces or control characters.")


def checks_of_plan(plan: TestPlan, checks: list[str]) -> list[str]:
    """``checks`` when each is one of the plan's (a run tests what its plan allows, or less)."""
    planned = set(plan.checks if isinstance(plan.checks, list) else [])
    outside = [c for c in checks if c not in planned]
    if outside:
        shown = ", ".join(c[:50] for c in outside[:5])
        raise ValidationError({"checks": f"Not checks of this plan: {shown}."})
    return list(dict.fromkeys(checks))


def _choice_field(form: forms.Form, name: str) -> forms.ChoiceField:
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)  # MultipleChoiceField is one
    return field


class RunNowForm(forms.Form):
    """Run a plan now: on its environment's first base URL, or on another deployment; all of its
    checks, or some of them."""

    base_url = forms.CharField(
        required=False,
        max_length=BASE_URL_MAX,
        validators=[validate_base_url],
        label="Base URL (optional)",
        help_text="Leave empty to test the environment's own base URL.",
    )
    checks = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every check of the plan.",
    )

    def __init__(self, *args: Any, plan: TestPlan, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        catalog = selectors.check_catalog()
        keys = plan.checks if isinstance(plan.checks, list) else []
        _choice_field(self, "checks").choices = [
            (k, selectors.check_info(str(k), catalog).title) for k in keys
        ]

    def clean_base_url(self) -> str:
        return str(self.cleaned_data["base_url"]).strip().rstrip("/")


class PlanForm(forms.Form):
    """A plan's settings. ``plan_save`` checks them (cron and timezone included); this form only
    gives them their shape. ``production_opt_in`` is asked only on a production environment."""

    checks = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    enabled = forms.BooleanField(required=False, label="Enabled (runs on its schedule)")
    schedule_kind = forms.ChoiceField(choices=ScheduleKind.choices, label="Schedule")
    interval_minutes = forms.IntegerField(
        required=False,
        min_value=schedule.MIN_INTERVAL_MINUTES,
        max_value=schedule.MAX_INTERVAL_MINUTES,
        label="Every N minutes",
    )
    cron = forms.CharField(
        required=False,
        max_length=max_length_of(TestPlan, "cron"),
        label="Cron expression",
        help_text="Five fields: minute hour day-of-month month weekday, e.g. 0 3 * * 1-5.",
    )
    timezone = forms.CharField(
        max_length=max_length_of(TestPlan, "timezone"),
        help_text="An IANA name, e.g. Europe/Berlin; the cron expression is read in it.",
    )
    intrusive_allowed = forms.BooleanField(
        required=False, label="Allow intrusive checks (they write data or send bursts)"
    )
    production_opt_in = forms.BooleanField(
        required=False,
        label="Production opt-in: the owners accept intrusive checks on this production environment",
    )
    latency_tolerance = forms.DecimalField(
        max_digits=4,
        decimal_places=2,
        min_value=Decimal(0),
        max_value=Decimal(10),
        help_text="0.5: a p95 up to 50 % above the baseline passes.",
    )
    requests_per_second = forms.IntegerField(
        required=False,
        min_value=MIN_RATE,
        max_value=MAX_RATE,
        label="Requests per second",
        help_text="To one host. Empty: the deployment's default (SCANNER_PER_HOST_RATE).",
    )

    def __init__(self, *args: Any, plan: TestPlan, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.catalog = selectors.check_catalog()
        _choice_field(self, "checks").choices = [(key, info.title) for key, info in self.catalog.items()]
        if not plan.environment.is_production:
            del self.fields["production_opt_in"]

    @classmethod
    def initial_of(cls, plan: TestPlan) -> dict[str, Any]:
        return {
            "checks": list(plan.checks if isinstance(plan.checks, list) else []),
            "enabled": plan.enabled,
            "schedule_kind": plan.schedule_kind,
            "interval_minutes": plan.interval_minutes,
            "cron": plan.cron,
            "timezone": plan.timezone,
            "intrusive_allowed": plan.intrusive_allowed,
            "production_opt_in": plan.production_opt_in,
            "latency_tolerance": web.figure(plan.latency_tolerance),
            "requests_per_second": plan.requests_per_second,
        }

    def check_rows(self) -> list[tuple[selectors.CheckInfo, bool]]:
        """Each registered check (title, OWASP category, intrusive flag, what it sends) and whether
        it is ticked, as posted or as stored."""
        if self.is_bound:
            chosen = set(self.data.getlist("checks")) if hasattr(self.data, "getlist") else set()
        else:
            chosen = set(self.initial.get("checks", []))
        return [(info, key in chosen) for key, info in self.catalog.items()]

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "checks": data["checks"],
            "schedule_kind": data["schedule_kind"],
            "interval_minutes": data["interval_minutes"] or 0,
            "cron": data["cron"],
            "timezone": data["timezone"],
            "intrusive_allowed": data["intrusive_allowed"],
            "production_opt_in": data.get("production_opt_in", False),
            "latency_tolerance": data["latency_tolerance"],
            "requests_per_second": data["requests_per_second"],
            "enabled": data["enabled"],
        }


class WriteOnlyTextarea(forms.Textarea):
    """A textarea that never shows a value back (a login body may carry secrets)."""

    def format_value(self, value: Any) -> None:
        return None


def _secret_input() -> forms.PasswordInput:
    # render_value=False: neither a stored nor a just-posted secret is ever put back into the page.
    return forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})


# Which form fields make up each kind's secret, and the engine's name for each.
IDENTITY_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    IdentityKind.BEARER: (("token", "token"),),
    IdentityKind.BASIC: (("username", "username"), ("password", "password")),
    IdentityKind.API_KEY: (("header", "header"), ("value", "value")),
    IdentityKind.OAUTH2: (
        ("token_url", "token_url"),
        ("client_id", "client_id"),
        ("client_secret", "client_secret"),
        ("scope", "scope"),
        ("auth", "auth"),
    ),
    IdentityKind.LOGIN: (
        ("path", "path"),
        ("login_method", "method"),
        ("login_body", "json"),
        ("token_path", "token_path"),
        ("token_header", "header"),
        ("login_secrets", "secrets"),
    ),
}
_OPTIONAL_IDENTITY_FIELDS = frozenset({"scope", "token_header", "login_secrets"})
_JSON_IDENTITY_FIELDS = frozenset({"login_body", "login_secrets"})
IDENTITY_JSON_MAX = 64 * 1024


class IdentityForm(forms.Form):
    """Add an identity or replace one of the same name. Secret fields are write-only: the page never
    shows a stored secret, nor its length, nor one just posted."""

    name = forms.CharField(
        max_length=max_length_of(PlanIdentity, "name"),
        validators=[RegexValidator(r"^[A-Za-z0-9_-]+$", "Letters, digits, _ or - only.")],
        help_text="A or B for the two callers of the BOLA check, or a label.",
    )
    kind = forms.ChoiceField(choices=IdentityKind.choices)
    object_ids = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=60 * 210,
        label="Object ids this identity owns (one a line)",
    )
    token = forms.CharField(required=False, widget=_secret_input(), max_length=8192, strip=False)
    username = forms.CharField(required=False, max_length=200)
    password = forms.CharField(required=False, widget=_secret_input(), max_length=8192, strip=False)
    header = forms.CharField(required=False, max_length=128, label="Header name", help_text="e.g. X-Api-Key")
    value = forms.CharField(
        required=False, widget=_secret_input(), max_length=8192, strip=False, label="Header value"
    )
    token_url = forms.CharField(required=False, max_length=2048, label="Token URL")
    client_id = forms.CharField(required=False, max_length=200, label="Client id")
    client_secret = forms.CharField(
        required=False, widget=_secret_input(), max_length=8192, strip=False, label="Client secret"
    )
    scope = forms.CharField(required=False, max_length=1000)
    auth = forms.ChoiceField(
        required=False,
        choices=[("basic", "client_secret_basic"), ("body", "client_secret_post")],
        label="Client authentication",
    )
    path = forms.CharField(required=False, max_length=2048, label="Login path", help_text="e.g. /login")
    login_method = forms.ChoiceField(
        required=False, choices=[("POST", "POST"), ("PUT", "PUT"), ("GET", "GET")], label="Method"
    )
    login_body = forms.CharField(
        required=False,
        widget=WriteOnlyTextarea(attrs={"rows": 3}),
        max_length=IDENTITY_JSON_MAX,
        strip=False,
        label="Login body (JSON)",
        help_text='e.g. {"user": "scanner", "password": "{{ secrets.password }}"}',
    )
    token_path = forms.CharField(
        required=False, max_length=200, label="Token path (JSONPath)", help_text="e.g. $.access_token"
    )
    token_header = forms.CharField(
        required=False, max_length=500, label="Header to send", help_text="Authorization: Bearer {{ token }}"
    )
    login_secrets = forms.CharField(
        required=False,
        widget=WriteOnlyTextarea(attrs={"rows": 2}),
        max_length=IDENTITY_JSON_MAX,
        strip=False,
        label="Login secrets (JSON object)",
        help_text='e.g. {"password": "…"}',
    )

    SECRET_FIELDS = ("token", "password", "value", "client_secret", "login_body", "login_secrets")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("kind")
        if kind not in IDENTITY_FIELDS:
            return data
        secret: dict[str, Any] = {}
        for field_name, engine_name in IDENTITY_FIELDS[kind]:
            value = data.get(field_name)
            if value in ("", None) and field_name in _OPTIONAL_IDENTITY_FIELDS:
                continue
            if value in ("", None):
                self.add_error(field_name, "Required for this kind of identity.")
                continue
            if field_name in _JSON_IDENTITY_FIELDS:
                try:
                    value = json.loads(str(value))
                except ValueError:
                    self.add_error(field_name, "Not valid JSON.")
                    continue
            secret[engine_name] = value
        data["secret"] = secret
        data["object_id_list"] = [
            line.strip() for line in data.get("object_ids", "").splitlines() if line.strip()
        ]
        return data


class CasesForm(forms.Form):
    """A functional cases document: uploaded as a file or typed into the textarea."""

    # A name is part of the document's URLs (edit, delete, REST), which cannot hold a slash.
    name = forms.CharField(
        max_length=CASE_NAME_MAX,
        validators=[RegexValidator(r"^[^/\\]+$", "A name without slashes.")],
        help_text="Saving under an existing name replaces it.",
    )
    file = forms.FileField(required=False, label="YAML file")
    source = forms.CharField(
        required=False,
        strip=False,
        max_length=MAX_SOURCE_CHARS,
        widget=forms.Textarea(attrs={"rows": 16, "class": "font-monospace", "spellcheck": "false"}),
        label="…or the YAML itself",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload = data.get("file")
        text = data.get("source") or ""
        if upload and text.strip():
            raise ValidationError("Upload a file or paste the YAML, not both.")
        if upload:
            raw = upload.read(MAX_SOURCE_CHARS * 4 + 1)
            if len(raw) > MAX_SOURCE_CHARS * 4:
                self.add_error("file", f"At most {MAX_SOURCE_CHARS // 1024} KB of YAML.")
                return data
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                self.add_error("file", "The file is not UTF-8 text.")
                return data
            if "\x00" in text:
                self.add_error("file", "The file is not text.")
                return data
        data["text"] = text
        return data


class TriageForm(forms.Form):
    """One triage move on a finding; which moves exist, and what each needs, is FINDING_WORKFLOW's."""

    action = forms.ChoiceField(
        choices=[(m.action, m.label) for m in FINDING_WORKFLOW.moves if not m.system_only]
    )
    note = forms.CharField(required=False, max_length=FINDING_WORKFLOW.note_max_length, widget=forms.Textarea)
    accepted_until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
