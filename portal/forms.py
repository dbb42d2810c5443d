from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm

from portal import audit_vocabulary
from portal.models import ApiToken


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
    """The shape of a new token's request; its limits (name length, 1 to API_TOKEN_MAX_DAYS days)
    are ``ApiToken``'s and ``tokens.api_token_create``'s, shown here as the service raises them."""

    name = forms.CharField(
        max_length=ApiToken._meta.get_field("name").max_length,
        help_text="What the token is for, e.g. 'payments CI'.",
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )
    days = forms.IntegerField(
        widget=forms.NumberInput(attrs={"class": "form-control"}),
        initial=settings.API_TOKEN_DEFAULT_DAYS,
        label="Valid for (days)",
    )


class AuditFilterForm(forms.Form):
    """Filters of the audit log. Actions match by prefix, so a family ("api.") and one action
    ("api.submit") are both choices of one menu; the object type and the actor match exactly. A value
    the menus do not list (a link from elsewhere, an older action) still filters, and stays selected."""

    action = forms.CharField(required=False, max_length=100, widget=forms.Select)
    actor = forms.CharField(
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"placeholder": "user or system:…", "size": 14}),
    )
    object_type = forms.CharField(required=False, max_length=100, label="Object", widget=forms.Select)
    since = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    until = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["action"].widget.choices = self._keeping_current(
            "action", audit_vocabulary.action_choices()
        )
        self.fields["object_type"].widget.choices = self._keeping_current(
            "object_type", audit_vocabulary.object_type_choices()
        )
        for field in self.fields.values():
            css = (
                "form-select form-select-sm"
                if isinstance(field.widget, forms.Select)
                else "form-control form-control-sm"
            )
            field.widget.attrs.setdefault("class", css)

    def _keeping_current(self, name: str, choices: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
        """``choices`` plus the value asked for when they do not list it (if it could be valid)."""
        current = self.data.get(name) if self.is_bound else None
        listed = set()
        for value, label in choices:
            listed |= {v for v, _label in label} if isinstance(label, list) else {value}
        max_length = getattr(self.fields[name], "max_length", None) or 0
        if not isinstance(current, str) or not 0 < len(current) <= max_length:
            return choices
        if current not in listed and "\x00" not in current:
            return [*choices, (current, current)]
        return choices

    def apply(self, qs):  # noqa: ANN001, ANN201
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


class ReauthForm(forms.Form):
    """The current password and a current code (TOTP or recovery), which
    ``two_factor.reauthenticate`` checks before the second factor is replaced or renewed."""

    password = forms.CharField(
        label="Current password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "class": "form-control"}),
    )
    current_code = forms.CharField(
        label="Current code (from your present device, or a recovery code)",
        max_length=32,
        min_length=6,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "class": "form-control"}),
    )


class ReplaceDeviceForm(ReauthForm, OtpCodeForm):
    """Re-authentication, then the first code of the new device."""
