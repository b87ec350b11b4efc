from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from rightsdesk.core import views as core_views

api_v1 = [
    path("", include("rightsdesk.accounts.urls")),
    path("", include("rightsdesk.talent.urls")),
    path("", include("rightsdesk.audit.urls")),
    path("", include("rightsdesk.renders.urls")),
    path("", include("rightsdesk.agreements.urls")),
    path("", include("rightsdesk.licensing.urls")),
    path("", include("rightsdesk.consent.urls")),
    path("", include("rightsdesk.core.urls")),
    path("", include("rightsdesk.provenance.urls")),
    path("", include("rightsdesk.ledger.urls")),
]

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="registration/login.html"),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("verify/", include("rightsdesk.provenance.page_urls")),
    path("", include("rightsdesk.web.urls")),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]

handler403 = "rightsdesk.core.views.error_403"
handler404 = "rightsdesk.core.views.error_404"
handler500 = "rightsdesk.core.views.error_500"
