"""REST routes of the inventory, mounted at /api/v1/inventory/ (namespace "inventory-api")."""

from django.urls import path

from inventory import api

app_name = "inventory-api"

urlpatterns = [
    path("apis/", api.ApiListCreate.as_view(), name="api-list"),
    path("apis/<slug:slug>/", api.ApiDetail.as_view(), name="api-detail"),
    path("apis/<slug:slug>/transitions/", api.ApiTransition.as_view(), name="api-transition"),
    path("apis/<slug:slug>/confirm/", api.ApiConfirm.as_view(), name="api-confirm"),
    path("apis/<slug:slug>/spec/", api.SpecUpload.as_view(), name="api-spec"),
    path("apis/<slug:slug>/components/", api.ComponentsUpload.as_view(), name="api-components"),
    path(
        "apis/<slug:slug>/components/declared/", api.ComponentDeclare.as_view(), name="api-component-declare"
    ),
    path(
        "apis/<slug:slug>/environments/<slug:environment>/baseline/",
        api.EnvironmentBaseline.as_view(),
        name="api-baseline",
    ),
    path(
        "apis/<slug:slug>/environments/<slug:environment>/servers/",
        api.EnvironmentServers.as_view(),
        name="api-servers",
    ),
    path("apis/<slug:slug>/windows/", api.Windows.as_view(), name="api-windows"),
    path("apis/<slug:slug>/consumers/", api.Consumers.as_view(), name="api-consumers"),
    path("apis/<slug:slug>/blast-radius/", api.BlastRadius.as_view(), name="api-blast-radius"),
    path("discovered/", api.DiscoveredList.as_view(), name="discovered-list"),
    path("discovered/<int:pk>/dismiss/", api.DiscoveredDismiss.as_view(), name="discovered-dismiss"),
    path("discovery/logs/", api.LogUpload.as_view(), name="discovery-logs"),
]
