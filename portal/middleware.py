"""Request ids, session timeouts and the second-factor gate for privileged roles."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from portal.access import is_privileged
from portal.request_context import current_request_id as _request_id

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdMiddleware:
    """Give every request an id (the proxy's X-Request-ID when well-formed), echoed in the response
    and on every error page, so a user can quote it and we can find the log lines."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex[:16]
        token = _request_id.set(request.request_id)
        try:
            response = self.get_response(request)
        finally:
            _request_id.reset(token)
        response["X-Request-ID"] = request.request_id
        return response


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


class SessionTimeoutMiddleware:
    """Log out a session idle for SESSION_IDLE_SECONDS; SESSION_COOKIE_AGE bounds it absolutely."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated and "_auth_user_id" in request.session:
            now = int(time.time())
            seen = request.session.get("_seen_at", now)
            started = request.session.setdefault("_started_at", now)
            if now - seen > settings.SESSION_IDLE_SECONDS or now - started > settings.SESSION_COOKIE_AGE:
                logout(request)
                if _is_api(request):
                    return JsonResponse(
                        {
                            "error": {
                                "code": "not_authenticated",
                                "message": "Session expired.",
                                "request_id": request.request_id,
                            }
                        },
                        status=401,
                    )
                return redirect(f"{reverse('login')}?next={request.path}")
            # Write at most once a minute: no session save on every request.
            if now - seen >= 60 or "_seen_at" not in request.session:
                request.session["_seen_at"] = now
        return self.get_response(request)


# Pages a privileged user may reach before proving the second factor.
_SECOND_FACTOR_OPEN = ("two_factor_setup", "two_factor_verify", "logout", "healthz")


def needs_second_factor(user) -> bool:  # noqa: ANN001
    """Privileged roles always need TOTP; anyone who enrolled a device must use it too."""
    from django_otp import devices_for_user

    return is_privileged(user) or any(devices_for_user(user, confirmed=True))


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
            and not user.is_verified()
            and not request.path.startswith(self._open())
            and needs_second_factor(user)
        ):
            if _is_api(request):
                return JsonResponse(
                    {
                        "error": {
                            "code": "second_factor_required",
                            "message": "Second factor required.",
                            "request_id": request.request_id,
                        }
                    },
                    status=403,
                )
            from django_otp import devices_for_user

            target = (
                "two_factor_verify" if any(devices_for_user(user, confirmed=True)) else "two_factor_setup"
            )
            return redirect(reverse(target))
        return self.get_response(request)
