"""Testing pages, mounted at /testing/ (namespace "testing"). An API's testing page sits beside its
inventory page: /inventory/apis/<slug>/ and /testing/apis/<slug>/."""

from django.urls import path

from testing import views

app_name = "testing"

urlpatterns = [
    path("apis/<slug:slug>/", views.api_testing, name="api"),
    path("runs/<int:pk>/", views.run_detail, name="run_detail"),
    path("runs/<int:pk>/diff/<int:other_pk>/", views.run_diff, name="run_diff"),
    path("findings/", views.finding_list, name="findings"),
    path("findings/<int:pk>/", views.finding_detail, name="finding_detail"),
]
