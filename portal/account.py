"""Account pages: login, second factor (TOTP enrolment, verification, recovery codes) and API tokens."""

from __future__ import annotations

import base64
import io
import secrets
from typing import TYPE_CHECKING, Any

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import devices_for_user, match_token
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal import audit, login_guard, selectors
from portal.audit import Actor
from portal.forms import ApiTokenCreateForm, LoginForm, OtpCodeForm, ReauthForm, ReplaceDeviceForm
from portal.middleware import second_factor_proved, session_start
from portal.models import RecoveryCodeDevice
from portal.ratelimit import limit_posts
from portal.services import tokens as token_services
from portal.web import AuthenticatedRequest

if TYPE_CHECKING:
    from django.contrib.auth.models import User  # settings.AUTH_USER_MODEL

RECOVERY_CODE_COUNT = 10


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
        audit.record(actor=Actor.from_request(self.request), action="user.login", obj=form.get_user())
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
            audit.record(actor=Actor.from_request(request), action="user.logout", obj=request.user)
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


def _grouped(raw: str) -> str:
    return "-".join(raw[i : i + 5] for i in range(0, len(raw), 5))


def _new_recovery_codes(user: User) -> list[str]:
    """Ten fresh codes (80 bits each), replacing any earlier ones; only their hashes are kept."""
    device = RecoveryCodeDevice.objects.filter(user=user).first() or RecoveryCodeDevice(
        user=user, name="recovery"
    )
    device.salt = secrets.token_hex(16)
    codes = [_grouped(secrets.token_hex(10)) for _ in range(RECOVERY_CODE_COUNT)]
    device.code_hashes = [device.hash_code(c) for c in codes]
    device.confirmed = True
    device.save()
    return codes


@never_cache
@require_http_methods(["GET", "POST"])
@limit_posts("expensive")  # a password check (argon2) when replacing a device: not a free oracle
def two_factor_setup(request: AuthenticatedRequest) -> HttpResponse:
    """Enrol a TOTP device: show key and QR, confirm with a first code, then show recovery codes once."""
    user = request.user
    if any(devices_for_user(user, confirmed=True)) and not second_factor_proved(user):
        return redirect("two_factor_verify")
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
    # Replacing a device that works asks for the password and a current code first: a session left
    # open must not be enough to move someone's second factor to an attacker's phone.
    replacing = any(devices_for_user(user, confirmed=True))
    form = (
        ReplaceDeviceForm(request.POST or None, user=user) if replacing else OtpCodeForm(request.POST or None)
    )
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["code"]):
            with transaction.atomic():
                TOTPDevice.objects.filter(user=user, confirmed=True).exclude(pk=device.pk).delete()
                device.confirmed = True
                device.save(update_fields=["confirmed"])
                codes = _new_recovery_codes(user)
                audit.record(
                    actor=Actor.from_request(request),
                    action="user.2fa_replace" if replacing else "user.2fa_enrol",
                    obj=user,
                )
            otp_login(request, device)
            return render(
                request, "account/recovery_codes.html", {"codes": codes, "next": _safe_next(request)}
            )
        form.add_error("code", "That code is not valid. Check your device's clock and try again.")
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
    if not any(devices_for_user(user, confirmed=True)):
        return redirect("two_factor_setup")
    form = OtpCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = match_token(user, form.cleaned_data["code"])
        if device is not None:
            otp_login(request, device)
            audit.record(
                actor=Actor.from_request(request),
                action="user.2fa_verify",
                obj=user,
                after={"method": "recovery_code" if isinstance(device, RecoveryCodeDevice) else "totp"},
            )
            return redirect(_safe_next(request))
        form.add_error("code", "That code is not valid.")
    return render(request, "account/two_factor_verify.html", {"form": form, "next": _safe_next(request)})


@never_cache
@require_http_methods(["GET", "POST"])
@limit_posts("expensive")  # each try checks the password (argon2): throttled per user
def recovery_codes_regenerate(request: AuthenticatedRequest) -> HttpResponse:
    if not second_factor_proved(request.user):
        return redirect("two_factor_verify")
    form = ReauthForm(request.POST or None, user=request.user)
    if request.method != "POST" or not form.is_valid():
        return render(request, "account/recovery_codes_confirm.html", {"form": form})
    with transaction.atomic():
        codes = _new_recovery_codes(request.user)
        audit.record(actor=Actor.from_request(request), action="user.2fa_recovery_codes", obj=request.user)
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
        issued = token_services.api_token_create(
            actor=Actor.from_request(request),
            user=request.user,
            name=form.cleaned_data["name"],
            days=form.cleaned_data["days"],
            second_factor=second_factor_proved(request.user),
        )
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
