from __future__ import annotations

from typing import TYPE_CHECKING

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from portal.models import AuditEvent


class LoginForm(AuthenticationForm):
    # One message whatever went wrong: unknown user, wrong password and inactive account look alike.
    error_messages = {
        "invalid_login": "Unknown username or wrong password.",
        "inactive": "Unknown username or wrong password.",
    }


class OtpCodeForm(forms.Form):
    # Long enough for a recovery code as displayed ("1a2b3-c4d5e-6f7a8-b9c0d", 23 characters) plus spaces.
    code = forms.CharField(
        max_length=32,
        min_length=6,
        strip=True,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autofocus": True, "class": "form-control"}
        ),
    )

    def clean_code(self) -> str:
        return self.cleaned_data["code"].replace(" ", "").replace("-", "")


class ApiTokenCreateForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        help_text="What the token is for, e.g. 'payments CI'.",
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )
    days = forms.IntegerField(
        widget=forms.NumberInput(attrs={"class": "form-control"}),
        min_value=1,
        max_value=settings.API_TOKEN_MAX_DAYS,
        initial=settings.API_TOKEN_DEFAULT_DAYS,
        label="Valid for (days)",
    )


class AuditFilterForm(forms.Form):
    action = forms.CharField(required=False, max_length=100)
    actor = forms.CharField(required=False, max_length=200)
    object_type = forms.CharField(required=False, max_length=100)
    since = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    until = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def apply(self, qs: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        data = self.cleaned_data
        if data.get("action"):
            qs = qs.filter(action__startswith=data["action"])
        if data.get("actor"):
            qs = qs.filter(actor_label=data["actor"])
        if data.get("object_type"):
            qs = qs.filter(object_type=data["object_type"])
        if data.get("since"):
            qs = qs.filter(at__gte=data["since"])
        if data.get("until"):
            qs = qs.filter(at__lt=data["until"])
        if data.get("before"):
            qs = qs.filter(id__lt=data["before"])
        return qs
