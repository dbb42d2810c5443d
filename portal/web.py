"""What every app's HTML views share: form styling, turning a service's ValidationError into form
errors, the shape of a form POST, offset and keyset page arithmetic, and htmx partial responses.

A view parses input, calls one service and renders; these helpers keep that to a few lines.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, TypeVar

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers

if TYPE_CHECKING:
    from django.contrib.auth.models import User  # settings.AUTH_USER_MODEL

F = TypeVar("F", bound=forms.Form)


class AuthenticatedRequest(HttpRequest):
    """For type checkers only (never instantiated): the request of a page that needs a login.
    LoginRequiredMiddleware lets no anonymous user reach a view not marked @login_not_required."""

    user: User


def figure(value: Any) -> str:
    """A number the way people write it, the same on every page and in every form: no trailing
    zeros and no exponent (99.900 → "99.9", 100.000 → "100", 0.500 → "0.5"); "" for None."""
    if value is None or value == "":
        return ""
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if not number.is_finite():
        return str(value)
    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "") else text


def style(form: F) -> F:
    """Bootstrap classes on the widgets (no template tag library needed)."""
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.CheckboxSelectMultiple | forms.CheckboxInput | forms.RadioSelect):
            css = "form-check-input"
        elif isinstance(widget, forms.Select):
            css = "form-select"
        else:
            css = "form-control"
        widget.attrs.setdefault("class", css)
    return form


def add_service_errors(form: forms.Form, exc: ValidationError) -> None:
    """Put a service's ValidationError on the form: on the field it names, else at the top."""
    if hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            texts = [m for e in errors for m in e.messages]
            form.add_error(name if name in form.fields else None, texts)
    else:
        form.add_error(None, exc.messages)


def submit_form(
    request: HttpRequest,
    form: forms.Form,
    *,
    action: Callable[[dict[str, Any]], str],
    success_url: str,
    on_error: Callable[[forms.Form], HttpResponse],
) -> HttpResponse:
    """The shape of every form POST: validate, run ``action`` (which calls one service and returns
    the success message), redirect; on any ValidationError, ``on_error`` shows the form again with
    the errors on it (it should answer 400)."""
    if form.is_valid():
        try:
            message = action(form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            if message:
                messages.success(request, message)
            return redirect(success_url)
    return on_error(form)


def render_form_page(
    request: HttpRequest, template: str, ctx: dict[str, Any], form: forms.Form
) -> HttpResponse:
    """A page holding ``form``: 400 when it was posted (and so is showing errors), 200 otherwise."""
    return render(request, template, ctx, status=400 if form.is_bound else 200)


def is_partial(request: HttpRequest) -> bool:
    """An htmx swap wants only the fragment; a history restore (back button after a swap) needs the
    whole page."""
    htmx = getattr(request, "htmx", None)  # set by django-htmx's middleware
    if not htmx:
        return False
    return not htmx.history_restore_request


def render_partial_or_page(
    request: HttpRequest, *, page: str, partial: str, ctx: dict[str, Any], status: int = 200
) -> HttpResponse:
    """The same URL answers with a whole page or, to htmx, with a fragment: caches keep them apart."""
    response = render(request, partial if is_partial(request) else page, ctx, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


def query_with(params: QueryDict, **extra: Any) -> str:
    """``params`` (a QueryDict) with some keys replaced, as a query string."""
    params = params.copy()
    for key, value in extra.items():
        params[key] = value
    return params.urlencode()


T = TypeVar("T")


@dataclass
class Page:
    """One page of an offset-paged list, with the query strings of its neighbours."""

    items: list[Any]
    number: int
    prev_query: str | None
    next_query: str | None


def offset_page(request: HttpRequest, rows: Any, *, size: int = 50, max_page: int = 200) -> Page:
    """Page ``rows`` (a queryset or sequence) by ``?page=N``. Offset paging is capped at ``max_page``:
    deep pages cost a scan, so beyond it people narrow the filters or export."""
    try:
        number = min(max(int(request.GET.get("page", "1")), 1), max_page)
    except ValueError:
        number = 1
    start = (number - 1) * size
    items = list(rows[start : start + size + 1])
    params = request.GET.copy()
    params.pop("page", None)
    has_next = len(items) > size and number < max_page
    return Page(
        items=items[:size],
        number=number,
        prev_query=query_with(params, page=number - 1) if number > 1 else None,
        next_query=query_with(params, page=number + 1) if has_next else None,
    )


def keyset_page(request: HttpRequest, rows: Sequence[T] | Any, *, size: int = 50, key: str = "pk") -> Page:
    """Page ``rows`` (already filtered to "older than ?before=") by keyset: the next page starts
    after the last row's ``key``, so page 10,000 costs what page 1 costs."""
    items = list(rows[: size + 1])
    has_more = len(items) > size
    items = items[:size]
    next_query = None
    if has_more:
        params = request.GET.copy()
        params["before"] = getattr(items[-1], key)
        next_query = params.urlencode()
    return Page(items=items, number=0, prev_query=None, next_query=next_query)
