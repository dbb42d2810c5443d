"""The shape of what people type. The rules (limits, ranges, overlaps) live on the models and in
the services; a form shows the errors they raise, and takes its lengths and choices from the models."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from django import forms
from django.forms.fields import BaseTemporalField
from django.utils.dateparse import parse_datetime

from inventory import selectors
from inventory.engines import discovery
from inventory.models import (
    Api,
    ApiDependency,
    ApiStatus,
    AuthScheme,
    AvailabilityWindow,
    Classification,
    Component,
    ConsumerService,
    DiscoveredEndpoint,
    Environment,
    Exposure,
    Lifecycle,
    Protocol,
    Server,
)
from inventory.selectors import SORTS
from inventory.services.discovered import DEFAULT_HOST_MAX_LENGTH
from inventory.services.review import API_WORKFLOW
from portal.field_limits import max_length_of
from portal.models import OrgUnit
from portal.validators import validate_upload_size


def _blank(choices: Any) -> list[tuple[str, str]]:
    return [("", "Any"), *choices]


# The inventory list's own bounds (no model holds them): ApiFilterForm applies them for the page, the
# CSV export and the REST list, whose ApiQuerySerializer says them again in the schema.
SEARCH_MAX_LENGTH = 100
COMPLETENESS_RANGE = (0, 100)  # the score is a percentage (selectors.completeness_of)


class ApiFilterForm(forms.Form):
    """Filters of the inventory list, shared by the HTML page, the CSV export and the REST list."""

    q = forms.CharField(required=False, max_length=SEARCH_MAX_LENGTH, label="Search")
    unit = forms.SlugField(required=False, label="Owner unit (and below)")
    lifecycle = forms.ChoiceField(required=False, choices=_blank(Lifecycle.choices))
    exposure = forms.ChoiceField(required=False, choices=_blank(Exposure.choices))
    data_classification = forms.ChoiceField(
        required=False, choices=_blank(Classification.choices), label="Classification"
    )
    status = forms.ChoiceField(required=False, choices=_blank(ApiStatus.choices))
    has_spec = forms.NullBooleanField(
        required=False,
        widget=forms.Select(choices=[("", "Any"), ("true", "Yes"), ("false", "No")]),
        label="Has spec",
    )
    min_completeness = forms.IntegerField(
        required=False,
        min_value=COMPLETENESS_RANGE[0],
        max_value=COMPLETENESS_RANGE[1],
        label="Completeness ≥",
    )
    max_completeness = forms.IntegerField(
        required=False,
        min_value=COMPLETENESS_RANGE[0],
        max_value=COMPLETENESS_RANGE[1],
        label="Completeness ≤",
    )
    stale = forms.BooleanField(required=False, label="Stale only")
    sort = forms.ChoiceField(required=False, choices=[(k, k) for k in SORTS])

    def __init__(self, *args: Any, user: Any = None, units_menu: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        if units_menu and user is not None:
            # The page offers the units the user can see as a menu; any slug still validates the same.
            self.fields["unit"].widget = forms.Select(choices=[("", "Any"), *selectors.units_menu(user)])

    def filters(self) -> dict[str, Any]:
        return {k: v for k, v in self.cleaned_data.items() if v not in ("", None)}


class ApiCreateForm(forms.Form):
    org_unit = forms.ModelChoiceField(queryset=OrgUnit.objects.none(), label="Owning team")
    name = forms.CharField(max_length=max_length_of(Api, "name"))
    slug = forms.SlugField(
        max_length=max_length_of(Api, "slug"),
        help_text="Lowercase identifier used by CI and URLs, e.g. payments-api",
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        units = self.fields["org_unit"]
        assert isinstance(units, forms.ModelChoiceField)
        units.queryset = selectors.units_to_register_for(user)
        only = list(units.queryset[:2])
        if len(only) == 1:
            # Nothing to choose: the one unit the user may register for, without an empty choice.
            units.initial, units.empty_label = only[0].pk, None
        # A suggestion as the name is typed (portal/static/portal/forms.js); the server still validates.
        self.fields["slug"].widget.attrs["data-slug-from"] = "name"


class BasicsForm(forms.Form):
    name = forms.CharField(max_length=max_length_of(Api, "name"))
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False)
    version = forms.CharField(max_length=max_length_of(Api, "version"), required=False)
    lifecycle = forms.ChoiceField(choices=Lifecycle.choices)


class ContactForm(forms.Form):
    technical_contact_name = forms.CharField(
        max_length=max_length_of(Api, "technical_contact_name"), required=False, label="Name"
    )
    technical_contact_email = forms.EmailField(required=False, label="Email")


class SecurityProfileForm(forms.Form):
    exposure = forms.ChoiceField(choices=Exposure.choices)
    data_classification = forms.ChoiceField(choices=Classification.choices, label="Data classification")
    handles_personal_data = forms.BooleanField(required=False, label="Handles personal data")
    auth_schemes = forms.MultipleChoiceField(
        choices=AuthScheme.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Authentication schemes",
    )
    protocols = forms.MultipleChoiceField(
        choices=Protocol.choices, required=False, widget=forms.CheckboxSelectMultiple
    )


class AvailabilityTargetForm(forms.Form):
    availability_target = forms.DecimalField(
        max_digits=6,
        decimal_places=3,
        required=False,
        label="Availability target (%)",
    )


# Sections of the registration form: each saves on its own, so a draft can be finished over days.
SECTIONS: dict[str, tuple[str, type[forms.Form]]] = {
    "basics": ("Basics", BasicsForm),
    "contact": ("Technical contact", ContactForm),
    "security": ("Security profile", SecurityProfileForm),
    "availability": ("Availability target", AvailabilityTargetForm),
}


class EnvironmentForm(forms.Form):
    name = forms.SlugField(
        max_length=max_length_of(Environment, "name"), help_text="e.g. staging, production"
    )
    base_urls = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), help_text="One URL per line", label="Base URLs"
    )
    is_production = forms.BooleanField(required=False, label="Production environment")

    def clean_base_urls(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["base_urls"].splitlines() if line.strip()]


class ServerForm(forms.Form):
    hostname = forms.CharField(max_length=max_length_of(Server, "hostname"))
    addresses = forms.CharField(required=False, help_text="IP addresses, comma separated")
    location = forms.CharField(max_length=max_length_of(Server, "location"), required=False)
    operating_system = forms.CharField(max_length=max_length_of(Server, "operating_system"), required=False)

    def clean_addresses(self) -> list[str]:
        return [a.strip() for a in self.cleaned_data["addresses"].split(",") if a.strip()]


class BaselineForm(forms.Form):
    p50_ms = forms.IntegerField(label="p50 (ms)")
    p95_ms = forms.IntegerField(label="p95 (ms)")
    p99_ms = forms.IntegerField(label="p99 (ms)")
    requests_per_second = forms.DecimalField(max_digits=12, decimal_places=2)
    error_rate_percent = forms.DecimalField(max_digits=6, decimal_places=3, label="Error rate (%)")


class WallClockDateTimeField(forms.DateTimeField):
    """A date and time as typed: without an offset it stays naive (Django's field would read it in
    the server's timezone), so the service applies its rule (``windows.window_add``: naive times are
    in the window's timezone), the same for every entry point. A typed offset is kept."""

    def to_python(self, value: Any) -> datetime | None:
        if value in self.empty_values:
            return None
        if isinstance(value, datetime):
            return value
        try:
            result = parse_datetime(str(value).strip())
        except ValueError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None
        if result is None:
            result = BaseTemporalField.to_python(self, value)  # the input_formats, naive
        return result


class WindowForm(forms.Form):
    """The shape of a downtime window; which fields a kind needs, and overlaps, are the service's rules."""

    kind = forms.ChoiceField(choices=AvailabilityWindow.Kind.choices)
    description = forms.CharField(max_length=max_length_of(AvailabilityWindow, "description"), required=False)
    environment = forms.CharField(
        required=False, max_length=max_length_of(Environment, "name"), help_text="Empty: every environment"
    )
    timezone = forms.CharField(
        max_length=max_length_of(AvailabilityWindow, "timezone"), initial="UTC", required=False
    )
    weekdays = forms.TypedMultipleChoiceField(
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=list(enumerate(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])),
    )
    start_time = forms.TimeField(required=False, widget=forms.TimeInput(attrs={"type": "time"}))
    end_time = forms.TimeField(required=False, widget=forms.TimeInput(attrs={"type": "time"}))
    starts_at = WallClockDateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="In the timezone above",
    )
    ends_at = WallClockDateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )


class DependencyForm(forms.Form):
    consumer_api = forms.SlugField(required=False, label="Consumer API (slug)")
    consumer_service = forms.CharField(
        required=False, max_length=max_length_of(ConsumerService, "name"), label="…or consumer service name"
    )
    note = forms.CharField(required=False, max_length=max_length_of(ApiDependency, "note"))


class UploadForm(forms.Form):
    file = forms.FileField(validators=[validate_upload_size])


class DeclareComponentForm(forms.Form):
    """A framework or language runtime that no lockfile lists (e.g. python 3.11, openjdk 21)."""

    kind = forms.ChoiceField(choices=Component.Kind.choices, initial=Component.Kind.RUNTIME)
    ecosystem = forms.CharField(
        max_length=max_length_of(Component, "ecosystem"),
        initial="generic",
        help_text="purl type: pypi, npm, maven, generic…",
    )
    name = forms.CharField(max_length=max_length_of(Component, "name"))
    version = forms.CharField(max_length=max_length_of(Component, "version"), required=False)


class TransitionForm(forms.Form):
    """One move of the review workflow; the moves are those of ``API_WORKFLOW``."""

    action = forms.ChoiceField(choices=API_WORKFLOW.choices())
    comment = forms.CharField(required=False, max_length=API_WORKFLOW.note_max_length)
    # The revision the page showed: a review act is refused if the record changed since.
    revision = forms.IntegerField(required=False, min_value=1)


class DismissForm(forms.Form):
    reason = forms.CharField(max_length=max_length_of(DiscoveredEndpoint, "dismissed_reason"))


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("validators", [validate_upload_size])  # checked for each file
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        if isinstance(data, list | tuple):
            return [super(MultipleFileField, self).clean(d, initial) for d in data]
        return [super().clean(data, initial)] if data else []


class CatalogUploadForm(forms.Form):
    file = forms.FileField(label="catalog-info.yaml", validators=[validate_upload_size])
    extra_files = MultipleFileField(
        required=False,
        label="Files it references",
        help_text="OpenAPI documents named by $text, matched by file name.",
    )
    owner = forms.ModelChoiceField(
        queryset=OrgUnit.objects.none(), required=False, label="Owner for entities without one"
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["owner"]).queryset = selectors.units_to_register_for(user)


class LogUploadForm(UploadForm):
    format = forms.ChoiceField(
        choices=[("", "Detect"), *[(f, discovery.FORMAT_LABELS[f]) for f in discovery.FORMATS]],
        required=False,
    )
    host = forms.CharField(
        max_length=DEFAULT_HOST_MAX_LENGTH, required=False, help_text="Host for lines that do not name one"
    )
