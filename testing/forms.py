"""The shape of what people type into testing's pages: for now the findings list's filters (the
writes, plan edit and triage, come with their services)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.validators import RegexValidator

from portal.field_limits import max_length_of
from portal.models import OrgUnit
from testing import selectors
from testing.models import Finding, FindingStatus, Severity

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
