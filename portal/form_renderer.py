"""The form renderer of the portal: Django's, with ``<select>`` written in Python.

Django renders a select through three templates: the select, then for every option an include of
``select_option.html``, which includes ``attrs.html``. A filter form with a menu of 120 units or
audit actions spends more time in those includes than the page spends on its rows. This renderer
writes the same HTML (byte for byte, checked by ``tests/portal/test_form_renderer.py``) with one
string join; any select it does not recognise (another option template, a label that is not text)
goes through the templates as before.
"""

from __future__ import annotations

from typing import Any

from django.forms.renderers import DjangoTemplates
from django.utils.functional import Promise
from django.utils.html import conditional_escape

SELECT = "django/forms/widgets/select.html"
OPTION = "django/forms/widgets/select_option.html"


def _text(value: Any) -> str:
    # The templates' ``|stringformat:'s'``: a plain str (a SafeString loses its mark, so it is escaped).
    return format(value, "") if isinstance(value, str) else str(value)


def _attrs(attrs: dict[str, Any]) -> str:
    # attrs.html: False drops the attribute, True writes its bare name, anything else name="str(value)".
    out = []
    for name, value in attrs.items():
        if value is False:
            continue
        if value is True:
            out.append(f" {conditional_escape(name)}")
        else:
            out.append(f' {conditional_escape(name)}="{conditional_escape(_text(value))}"')
    return "".join(out)


def _plain(options: list[dict[str, Any]]) -> bool:
    return all(
        option["template_name"] == OPTION and isinstance(option["label"], str | Promise) for option in options
    )


def render_select(widget: dict[str, Any]) -> str | None:
    """The HTML of Django's select.html for ``widget`` (a widget's context), or None to let the
    templates do it."""
    groups = widget["optgroups"]
    if not all(_plain(options) for _name, options, _index in groups):
        return None
    parts = [f'<select name="{conditional_escape(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group_name, options, _index in groups:
        if group_name:
            parts.append(f'\n  <optgroup label="{conditional_escape(group_name)}">')
        for option in options:
            value = conditional_escape(_text(option["value"]))
            label = conditional_escape(option["label"])
            parts.append(f'\n  <option value="{value}"{_attrs(option["attrs"])}>{label}</option>\n')
        if group_name:
            parts.append("\n  </optgroup>")
    parts.append("\n</select>")
    return "".join(parts)


class PortalFormRenderer(DjangoTemplates):
    def render(self, template_name: str, context: dict[str, Any], request: Any = None) -> str:
        if template_name == SELECT:
            html = render_select(context["widget"])
            if html is not None:
                return html
        return super().render(template_name, context, request)
