"""Account pages: login, second factor (TOTP enrolment, verification, recovery codes) and API tokens."""

from __future__ import annotations

import base64
import io
from typing import Any

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login

from portal import login_guard, selectors, web
from portal.audit import Actor
from portal.forms import ApiTokenCreateForm, LoginForm, OtpCodeForm, ReauthForm, ReplaceDeviceForm
from portal.middleware import second_factor_proved, session_start
from portal.ratelimit import limit_posts
from portal.services import sessions, two_factor
from portal.services import tokens as token_services
from portal.web import AuthenticatedRequest


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        username = str(request.POST.get("username", ""))[:150]
        wait = login_guard.wait_seconds(username)
        if wait:
            # Refused before the password is checked, so waiting is the only way on.
            response = render(request, "registration/slowed_down.html", {"wait": wait}, status=429)
            response["Retry-After"] = str(wait)
            return response
        return super().post(request, *args, **kwargs)

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        # django.contrib.auth.login() cycles the session key: no fixation.
        response = super().form_valid(form)
        session_start(self.request)
        login_guard.record_success(form.cleaned_data.get("username", ""))
        sessions.session_signed_in(actor=Actor.from_request(self.request), user=form.get_user())
        return response

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        # An address axes has already locked adds nothing to the account's count: otherwise one
        # locked address could keep any account slowed down for ever.
        if not getattr(self.request, "axes_locked_out", False):
            login_guard.record_failure(str(self.request.POST.get("username", ""))[:150])
        return super().form_invalid(form)


class LogoutView(auth_views.LogoutView):
    # POST only (Django's LogoutView refuses GET), and reachable before the second factor is proved.

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated:
            sessions.session_signed_out(actor=Actor.from_request(request), user=request.user)
        return super().post(request, *args, **kwargs)


logout = LogoutView.as_view()


def _safe_next(request: HttpRequest) -> str:
    nxt = request.POST.get("next") or request.GET.get("next") or ""
    if nxt and url_has_allowed_host_and_scheme(nxt, {request.get_host()}, require_https=request.is_secure()):
        return nxt
    return resolve_url(settings.LOGIN_REDIRECT_URL)  # a URL, not a view name: it is also used in an href


def _qr_data_uri(url: str) -> str:
    # Rendered here, never by a third-party service: the secret must not leave the portal.
    img = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buf = io.BytesIO()
    img.save(buf)
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode()


@never_cache
@require_http_methods(["GET", "POST"])
@limit_posts("expensive")  # a password check (argon2) when replacing a device: not a free oracle
def two_factor_setup(request: AuthenticatedRequest) -> HttpResponse:
    """Enrol a TOTP device: show key and QR, confirm with a first code, then show recovery codes once."""
    user = request.user
    replacing = two_factor.has_confirmed_device(user)
    if replacing and not second_factor_proved(user):
        return redirect("two_factor_verify")
    device = two_factor.totp_device_pending(user=user)
    # Replacing a device that works asks for the password and a current code first: a session left
    # open must not be enough to move someone's second factor to an attacker's phone.
    form = ReplaceDeviceForm(request.POST or None) if replacing else OtpCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = two_factor.totp_enrol(
                actor=Actor.from_request(request),
                device=device,
                code=form.cleaned_data["code"],
                password=form.cleaned_data.get("password"),
                current_code=form.cleaned_data.get("current_code"),
            )
        except ValidationError as exc:
            web.add_service_errors(form, exc)
        else:
            otp_login(request, device)
            return render(
                request, "account/recovery_codes.html", {"codes": codes, "next": _safe_next(request)}
            )
    secret_b32 = base64.b32encode(device.bin_key).decode()
    return render(
        request,
        "account/two_factor_setup.html",
        {"form": form, "secret": secret_b32, "qr": _qr_data_uri(device.config_url), "replacing": replacing},
    )


@never_cache
@require_http_methods(["GET", "POST"])
def two_factor_verify(request: AuthenticatedRequest) -> HttpResponse:
    user = request.user
    if second_factor_proved(user):
        return redirect(_safe_next(request))
    if not two_factor.has_confirmed_device(user):
        return redirect("two_factor_setup")
    form = OtpCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = two_factor.two_factor_verify(
            actor=Actor.from_request(request), user=user, code=form.cleaned_data["code"]
        )
        if device is not None:
            otp_login(request, device)
            return redirect(_safe_next(request))
        form.add_error("code", "That code is not valid.")
    return render(request, "account/two_factor_verify.html", {"form": form, "next": _safe_next(request)})


@never_cache
@require_http_methods(["GET", "POST"])
@limit_posts("expensive")  # each try checks the password (argon2): throttled per user
def recovery_codes_regenerate(request: AuthenticatedRequest) -> HttpResponse:
    if not second_factor_proved(request.user):
        return redirect("two_factor_verify")
    form = ReauthForm(request.POST or None)
    codes: list[str] | None = None
    if request.method == "POST" and form.is_valid():
        try:
            codes = two_factor.recovery_codes_regenerate(
                actor=Actor.from_request(request),
                user=request.user,
                password=form.cleaned_data["password"],
                current_code=form.cleaned_data["current_code"],
            )
        except ValidationError as exc:
            web.add_service_errors(form, exc)
    if codes is None:
        return render(request, "account/recovery_codes_confirm.html", {"form": form})
    return render(
        request,
        "account/recovery_codes.html",
        {"codes": codes, "next": resolve_url(settings.LOGIN_REDIRECT_URL)},
    )


@never_cache
@require_http_methods(["GET", "POST"])
@limit_posts("expensive")
def api_tokens(request: AuthenticatedRequest) -> HttpResponse:
    form = ApiTokenCreateForm(request.POST or None)
    issued = None
    if request.method == "POST" and form.is_valid():
        try:
            issued = token_services.api_token_create(
                actor=Actor.from_request(request),
                user=request.user,
                name=form.cleaned_data["name"],
                days=form.cleaned_data["days"],
                second_factor=second_factor_proved(request.user),
            )
        except ValidationError as exc:
            web.add_service_errors(form, exc)
        else:
            form = ApiTokenCreateForm()
    tokens = selectors.api_tokens_of(request.user)
    return render(request, "account/api_tokens.html", {"form": form, "tokens": tokens, "issued": issued})


@require_POST
def api_token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    # Tokens are personal: someone else's token is simply not found.
    token = get_object_or_404(selectors.api_tokens_of(request.user), pk=pk)
    token_services.api_token_revoke(actor=Actor.from_request(request), token=token)
    messages.success(request, f"Token “{token.name}” revoked.")
    return redirect("api_tokens")
