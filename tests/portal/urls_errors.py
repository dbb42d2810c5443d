"""The portal's URLs plus views that fail, to see the error pages (used via pytest.mark.urls)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal import urls as portal_urls
from portal.permissions import OWN_ACCOUNT
from tests.portal.error_shape import SECRET_DETAIL


@login_not_required  # the error page must reach anonymous visitors too
def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError(SECRET_DETAIL)


class ApiBoom(APIView):
    required_capability = OWN_ACCOUNT

    def get(self, request: Request) -> Response:
        raise RuntimeError(SECRET_DETAIL)


urlpatterns = [
    path("boom/", boom),
    path("api/boom/", ApiBoom.as_view()),
    path("api/plain-boom/", boom),
    *portal_urls.urlpatterns,
]

handler400 = portal_urls.handler400
handler403 = portal_urls.handler403
handler404 = portal_urls.handler404
handler500 = portal_urls.handler500
