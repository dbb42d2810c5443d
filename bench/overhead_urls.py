"""The portal's URLs plus the two bare views the overhead benchmark compares the list pages with."""

from django.urls import path

from bench import bare_views
from portal.urls import urlpatterns as portal_urlpatterns

urlpatterns = [
    path("bench/bare/html/", bare_views.bare_html),
    path("bench/bare/json/", bare_views.bare_json),
    *portal_urlpatterns,
]
