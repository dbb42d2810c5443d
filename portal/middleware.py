"""Request ids, session timeouts and the second-factor gate for privileged roles."""

from __future__ import annotations

import functools
import ipaddress
import re
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django_htmx.http import HttpResponseClientRedirect

from portal.access import is_privileged
from portal.api_errors import error_body
from portal.request_context import current_request_id as _request_id

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class IdentifiedRequest(HttpRequest):
    """A request once RequestIdMiddleware has run: it carries the server's own id."""

    request_id: str
    upstream_request_id: str


def from_trusted_proxy(request: HttpRequest) -> bool:
    """True when the connection comes from one of ``TRUSTED_PROXIES`` (CIDRs): only then do the
    headers a proxy sets mean anything."""
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in settings.TRUSTED_PROXY_NETWORKS)


class RequestIdMiddleware:
    """Give every request the server's own id, echoed in the response and on every error page (so a
    user can quote it and we can find the log lines) and written into the audit chain.

    A client-sent X-Request-ID is never taken as that id: anyone could plant a value in the audit
    trail. From a trusted proxy, a well-formed one is kept beside it (``upstream_request_id``, in
    the log and the X-Upstream-Request-ID response header) to correlate with the proxy's logs.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: IdentifiedRequest) -> HttpResponse:
        request.request_id = uuid.uuid4().hex[:16]
        incoming = request.headers.get("X-Request-ID", "")
        upstream = incoming if _SAFE_ID.match(incoming) and from_trusted_proxy(request) else ""
        request.upstream_request_id = upstream
        token = _request_id.set(f"{request.request_id}<{upstream}" if upstream else request.request_id)
        try:
            response = self.get_response(request)
        finally:
            _request_id.reset(token)
        response["X-Request-ID"] = request.request_id
        if upstream:
            response["X-Upstream-Request-ID"] = upstream
        return response


class ApiOverHttpsOnlyMiddleware:
    """In production, refuse /api/ over plain HTTP with a 403 that says so, before authentication:
    a bearer token sent in clear text must not work (and is not redirected, which would replay it).
    ``request.is_secure()`` follows ``SECURE_PROXY_SSL_HEADER`` behind a TLS-terminating proxy."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.API_REQUIRE_HTTPS and _is_api(request) and not request.is_secure():
            body = error_body(request, "https_required", "The API is served over HTTPS only.")
            return JsonResponse(body, status=403)
        return self.get_response(request)


class RequestSizeLimitMiddleware:
    """Refuse a body larger than any upload may be before anything reads it (Django would otherwise
    spool it to disk while checking CSRF, even for an anonymous client). The proxy should enforce
    the same bound (nginx ``client_max_body_size``).

    It sits after the authentication middleware, so the 413 page is the normal layout with the
    user's navigation; nothing before it reads the body (CSRF checks and views run in process_view,
    after every middleware's __call__). The page still renders without ``request.user`` (as for an
    anonymous visitor), should the middleware ever be moved in front of authentication again."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.PORTAL_REQUEST_MAX_BYTES:
            from portal.views import request_too_large

            return request_too_large(request)
        return self.get_response(request)


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


IDLE_KEY = "_seen_at"
STARTED_KEY = "_started_at"


def session_start(request: HttpRequest) -> None:
    """Stamp a freshly logged-in session; the absolute timeout counts from here."""
    now = int(time.time())
    request.session[STARTED_KEY] = now
    request.session[IDLE_KEY] = now


def _login_again(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        response = JsonResponse(error_body(request, "not_authenticated", "Session expired."), status=401)
        response["WWW-Authenticate"] = 'Bearer realm="api"'
        return response
    login_url = redirect_to_login(request.get_full_path()).url
    if request.headers.get("HX-Request") == "true":
        # An htmx swap would follow a 302 and paste the login page into a fragment.
        return HttpResponseClientRedirect(login_url)
    return redirect(login_url)


class SessionTimeoutMiddleware:
    """Log out a session idle for SESSION_IDLE_SECONDS, or older than SESSION_COOKIE_AGE since login.

    The cookie's own expiry is refreshed whenever the session is saved, so the absolute limit is
    enforced here from the login time kept in the session, not by the cookie.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated and "_auth_user_id" in request.session:
            now = int(time.time())
            seen = request.session.get(IDLE_KEY, now)
            started = request.session.setdefault(STARTED_KEY, now)
            if now - seen > settings.SESSION_IDLE_SECONDS or now - started > settings.SESSION_COOKIE_AGE:
                logout(request)
                return _login_again(request)
            # Write at most once a minute: no session save on every request.
            if now - seen >= 60 or IDLE_KEY not in request.session:
                request.session[IDLE_KEY] = now
        return self.get_response(request)


# Pages a privileged user may reach before proving the second factor.
_SECOND_FACTOR_OPEN = ("two_factor_setup", "two_factor_verify", "logout", "healthz")


def second_factor_proved(user: Any) -> bool:
    """The session proved a device. django-otp's OTPMiddleware gives every ``request.user`` an
    ``is_verified()``; the type stubs of Django's user classes cannot know it."""
    return bool(user.is_verified())


@functools.cache
def _device_models() -> tuple[type[Any], ...]:
    from django_otp import device_classes

    return tuple(device_classes())


def has_confirmed_device(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Whether the user enrolled any second-factor device (TOTP, recovery codes…): one query, a
    UNION over every device model, where django-otp's ``devices_for_user`` runs one per model. Asked
    on every request of a user who has not proved a device, so never cached between requests: a
    device enrolled in another session counts at once."""
    if user.is_anonymous:
        return False
    first, *rest = (
        model.objects.devices_for_user(user, confirmed=True).values("pk") for model in _device_models()
    )
    return first.union(*rest).exists()


def needs_second_factor(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Privileged roles always need TOTP; anyone who enrolled a device must use it too."""
    return is_privileged(user) or has_confirmed_device(user)


class SecondFactorRequiredMiddleware:
    """CISO and security engineers (and anyone enrolled) reach nothing but enrolment/verification
    until they have proved the second factor in this session."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        self._open_paths: tuple[str, ...] | None = None

    def _open(self) -> tuple[str, ...]:
        if self._open_paths is None:
            static = settings.STATIC_URL if settings.STATIC_URL.startswith("/") else "/" + settings.STATIC_URL
            self._open_paths = (*(reverse(name) for name in _SECOND_FACTOR_OPEN), static)
        return self._open_paths

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            user.is_authenticated
            and "_auth_user_id" in request.session  # session logins only; tokens are checked at issue
            and not second_factor_proved(user)
            and not request.path.startswith(self._open())
            and needs_second_factor(user)
        ):
            if _is_api(request):
                return JsonResponse(
                    error_body(request, "second_factor_required", "Second factor required."), status=403
                )
            target = reverse("two_factor_verify" if has_confirmed_device(user) else "two_factor_setup")
            if request.method == "GET":
                # Come back here afterwards (the views only follow local URLs).
                target += "?" + urlencode({"next": request.get_full_path()})
            return redirect(target)
        return self.get_response(request)
