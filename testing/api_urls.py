"""REST routes of testing, mounted at /api/v1/testing/ (namespace "testing-api")."""

from django.urls import path

from testing import api

app_name = "testing-api"

urlpatterns = [
    path("plans/", api.PlanList.as_view(), name="plan-list"),
    path("plans/<int:pk>/", api.PlanDetail.as_view(), name="plan-detail"),
    path("plans/<int:pk>/runs/", api.PlanRuns.as_view(), name="plan-runs"),
    path("plans/<int:pk>/identities/<slug:name>/", api.PlanIdentityDetail.as_view(), name="plan-identity"),
    path("apis/<slug:slug>/runs/", api.ApiRuns.as_view(), name="api-runs"),
    path("apis/<slug:slug>/cases/<str:name>/", api.ApiCaseDetail.as_view(), name="api-case"),
    path("runs/<int:pk>/", api.RunDetail.as_view(), name="run-detail"),
    path("findings/", api.FindingList.as_view(), name="finding-list"),
    path("findings/<int:pk>/", api.FindingDetail.as_view(), name="finding-detail"),
    path("findings/<int:pk>/transitions/", api.FindingTransition.as_view(), name="finding-transitions"),
]
