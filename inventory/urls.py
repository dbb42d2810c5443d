from django.urls import path

from inventory import views

app_name = "inventory"

urlpatterns = [
    path("", views.api_list, name="list"),
    path("export.csv", views.api_export_csv, name="export"),
    path("new/", views.api_create, name="create"),
    path("catalog/", views.catalog_upload, name="catalog_upload"),
    path("discovery/", views.discovery_list, name="discovery"),
    path("discovery/upload/", views.discovery_upload, name="discovery_upload"),
    path("discovery/<int:pk>/dismiss/", views.discovered_dismiss, name="discovered_dismiss"),
    path("discovery/<int:pk>/register/", views.discovered_register, name="discovered_register"),
    path("apis/<slug:slug>/", views.api_detail, name="detail"),
    path("apis/<slug:slug>/edit/<str:section>/", views.api_edit_section, name="edit_section"),
    path("apis/<slug:slug>/transition/", views.api_transition, name="transition"),
    path("apis/<slug:slug>/confirm/", views.api_confirm, name="confirm"),
    path("apis/<slug:slug>/spec/upload/", views.spec_upload, name="spec_upload"),
    path("apis/<slug:slug>/spec/diff/", views.spec_diff, name="spec_diff"),
    path("apis/<slug:slug>/spec/<int:number>/raw/", views.spec_raw, name="spec_raw"),
    path("apis/<slug:slug>/components/upload/", views.components_upload, name="components_upload"),
    path("apis/<slug:slug>/components/declare/", views.component_declare, name="component_declare"),
    path("apis/<slug:slug>/environments/", views.environment_save, name="environment_save"),
    path(
        "apis/<slug:slug>/environments/<int:pk>/delete/", views.environment_delete, name="environment_delete"
    ),
    path("apis/<slug:slug>/environments/<int:pk>/servers/", views.server_attach, name="server_attach"),
    path("apis/<slug:slug>/environments/<int:pk>/baseline/", views.baseline_save, name="baseline_save"),
    path("apis/<slug:slug>/windows/", views.window_add, name="window_add"),
    path("apis/<slug:slug>/windows/<int:pk>/delete/", views.window_delete, name="window_delete"),
    path("apis/<slug:slug>/consumers/", views.dependency_add, name="dependency_add"),
    path("apis/<slug:slug>/consumers/<int:pk>/delete/", views.dependency_remove, name="dependency_remove"),
]
