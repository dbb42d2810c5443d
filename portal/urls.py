from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from portal import account, api, views
from portal.admin import portal_admin_site

# The docs page is a page, not an API answer: a logged-out visitor is sent to the login page
# (LoginRequiredMiddleware) instead of a bare 401. DRF marks its views login_not_required.
api_docs = SpectacularSwaggerSplitView.as_view(url_name="api-schema")
api_docs.login_required = True  # type: ignore[attr-defined]

api_v1 = [
    path("me/", api.MeView.as_view(), name="me"),
    path("org-units/", api.OrgUnitList.as_view(), name="org-unit-list"),
    path("org-units/<int:pk>/", api.OrgUnitDetail.as_view(), name="org-unit-detail"),
    path("memberships/", api.MembershipList.as_view(), name="membership-list"),
    path("audit-events/", api.AuditEventList.as_view(), name="audit-event-list"),
    path("tokens/", api.ApiTokenList.as_view(), name="token-list"),
    path("tokens/<int:pk>/revoke/", api.ApiTokenRevoke.as_view(), name="token-revoke"),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/login/", account.LoginView.as_view(), name="login"),
    path("accounts/logout/", account.logout, name="logout"),
    path("accounts/2fa/setup/", account.two_factor_setup, name="two_factor_setup"),
    path("accounts/2fa/verify/", account.two_factor_verify, name="two_factor_verify"),
    path("accounts/2fa/recovery-codes/", account.recovery_codes_regenerate, name="recovery_codes_regenerate"),
    path("accounts/tokens/", account.api_tokens, name="api_tokens"),
    path("accounts/tokens/<int:pk>/revoke/", account.api_token_revoke, name="api_token_revoke"),
    path("org/", views.org_chart, name="org_chart"),
    path("audit/", views.audit_log, name="audit_log"),
    path("admin/", portal_admin_site.urls),
    path("inventory/", include("inventory.urls")),
    path("api/v1/inventory/", include("inventory.api_urls")),
    path("testing/", include("testing.urls")),
    path("api/v1/testing/", include("testing.api_urls")),
    path("api/v1/", include((api_v1, "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", api_docs, name="api-docs"),
]

handler400 = "portal.views.bad_request"
handler403 = "portal.views.permission_denied"
handler404 = "portal.views.page_not_found"
handler500 = "portal.views.server_error"

admin.site.site_header = "API Security Portal"
