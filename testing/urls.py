"""Testing pages, mounted at /testing/ (namespace "testing"). An API's testing page sits beside its
inventory page: /inventory/apis/<slug>/ and /testing/apis/<slug>/."""

from django.urls import path

from testing import views

app_name = "testing"

urlpatterns = [
    path("apis/<slug:slug>/", views.api_testing, name="api"),
    path("apis/<slug:slug>/cases/", views.cases_save, name="cases_save"),
    path("apis/<slug:slug>/cases/<str:name>/", views.case_edit, name="case_edit"),
    path("apis/<slug:slug>/cases/<str:name>/delete/", views.case_delete, name="case_delete"),
    path("plans/<int:pk>/run/", views.run_now, name="run_now"),
    path("plans/<int:pk>/edit/", views.plan_edit, name="plan_edit"),
    path("plans/<int:pk>/identities/", views.identity_set, name="identity_set"),
    path("plans/<int:pk>/identities/<slug:name>/delete/", views.identity_delete, name="identity_delete"),
    path("runs/<int:pk>/", views.run_detail, name="run_detail"),
    path("runs/<int:pk>/diff/<int:other_pk>/", views.run_diff, name="run_diff"),
    path("findings/", views.finding_list, name="findings"),
    path("findings/<int:pk>/", views.finding_detail, name="finding_detail"),
    path("findings/<int:pk>/transition/", views.finding_transition, name="finding_transition"),
]
