from django.urls import path

from rightsdesk.consent import apis, gate_apis

urlpatterns: list = [
    path(
        "render-requests/dry-run/",
        gate_apis.RenderRequestDryRunApi.as_view(),
        name="render-request-dry-run",
    ),
    path(
        "consent-notices/current/",
        apis.ConsentNoticeCurrentApi.as_view(),
        name="consent-notice-current",
    ),
    path(
        "creation-consents/",
        apis.CreationConsentListCreateApi.as_view(),
        name="creation-consent-list",
    ),
    path(
        "creation-consents/<uuid:public_id>/",
        apis.CreationConsentDetailApi.as_view(),
        name="creation-consent-detail",
    ),
    path("withdrawals/", apis.WithdrawalListCreateApi.as_view(), name="withdrawal-list"),
    path(
        "withdrawals/<uuid:public_id>/",
        apis.WithdrawalDetailApi.as_view(),
        name="withdrawal-detail",
    ),
]
