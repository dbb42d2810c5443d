"""The portal's form renderer writes <select> in Python: the HTML must be Django's, byte for byte."""

from __future__ import annotations

import pytest
from django import forms
from django.conf import settings
from django.forms.renderers import DjangoTemplates
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from inventory.forms import ApiFilterForm
from portal.form_renderer import PortalFormRenderer, render_select
from portal.forms import AuditFilterForm

CHOICES = [
    ("", "Any"),
    ("a", "Plain"),
    ("<b>", 'Needs "escaping" & <more>'),
    ("safe", mark_safe("<em>already safe</em>")),
    ("lazy", gettext_lazy("Lazy label")),
    ("Group", [("g1", "In a group"), ("g2", "Also <grouped>")]),
    (7, "A number as the value"),
]


class Sample(forms.Form):
    one = forms.ChoiceField(choices=CHOICES, required=False)
    many = forms.MultipleChoiceField(choices=CHOICES, required=False)
    flag = forms.NullBooleanField(required=False)
    styled = forms.ChoiceField(
        choices=CHOICES,
        required=False,
        widget=forms.Select(
            attrs={"class": "form-select", "data-x": '"q"', "disabled": True, "hidden": False}
        ),
    )
    numbers = forms.TypedChoiceField(choices=[(1, 1), (2, 2)], coerce=int, required=False)  # labels not text
    radio = forms.ChoiceField(choices=CHOICES, required=False, widget=forms.RadioSelect)


DATA = [
    None,
    {"one": "<b>", "many": ["a", "g2", "7"], "flag": "true", "styled": "g1", "numbers": "2", "radio": "a"},
    {"one": "not-a-choice", "many": ["lazy"], "flag": "false", "styled": "", "numbers": "1"},
]


@pytest.mark.parametrize("data", DATA)
def test_it_writes_the_same_html_as_the_templates(data):
    ours = Sample(data, renderer=PortalFormRenderer()).as_div()
    django = Sample(data, renderer=DjangoTemplates()).as_div()
    assert ours == django
    assert ours.count("<option") > 20


def test_it_leaves_labels_that_are_not_text_to_the_templates():
    widget = forms.Select(choices=[(1, 1), (2, 2)])
    assert render_select(widget.get_context("n", "1", {})["widget"]) is None
    assert render_select(forms.Select(choices=CHOICES).get_context("n", "a", {})["widget"]) is not None


def test_the_portal_uses_it():
    assert settings.FORM_RENDERER == "portal.form_renderer.PortalFormRenderer"


@pytest.mark.parametrize(
    ("form_class", "data"),
    [
        (AuditFilterForm, {"action": "api.", "object_type": "inventory.api", "actor": "x"}),
        (AuditFilterForm, {"action": "an.action.no.menu.lists"}),
    ],
)
def test_the_filter_menus_render_as_before(form_class, data):
    assert (
        form_class(data, renderer=PortalFormRenderer()).as_div()
        == form_class(data, renderer=DjangoTemplates()).as_div()
    )


def test_the_inventory_filter_menus_render_as_before(org, ciso):
    data = {"unit": org.team.slug, "lifecycle": "production", "has_spec": "true"}
    ours = ApiFilterForm(data, user=ciso, units_menu=True, renderer=PortalFormRenderer()).as_div()
    django = ApiFilterForm(data, user=ciso, units_menu=True, renderer=DjangoTemplates()).as_div()
    assert ours == django
    assert f'<option value="{org.team.slug}" selected>' in ours
