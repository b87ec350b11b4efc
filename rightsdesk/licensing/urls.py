from django.urls import path

from rightsdesk.licensing import apis

urlpatterns: list = [
    path("licences/", apis.LicenceListCreateApi.as_view(), name="licence-list"),
    path("licences/<uuid:public_id>/", apis.LicenceDetailApi.as_view(), name="licence-detail"),
    path(
        "licences/<uuid:public_id>/counter/",
        apis.LicenceCounterApi.as_view(),
        name="licence-counter",
    ),
    path(
        "licences/<uuid:public_id>/revise/", apis.LicenceReviseApi.as_view(), name="licence-revise"
    ),
    path(
        "licences/<uuid:public_id>/accept/", apis.LicenceAcceptApi.as_view(), name="licence-accept"
    ),
    path(
        "licences/<uuid:public_id>/decline/",
        apis.LicenceDeclineApi.as_view(),
        name="licence-decline",
    ),
    path(
        "licences/<uuid:public_id>/deal-memo/",
        apis.LicenceDealMemoApi.as_view(),
        name="licence-deal-memo",
    ),
    path(
        "external-commitments/",
        apis.ExternalCommitmentListCreateApi.as_view(),
        name="external-commitment-list",
    ),
    path(
        "external-commitments/<uuid:public_id>/",
        apis.ExternalCommitmentDetailApi.as_view(),
        name="external-commitment-detail",
    ),
    path(
        "external-commitments/<uuid:public_id>/end/",
        apis.ExternalCommitmentEndApi.as_view(),
        name="external-commitment-end",
    ),
]
