from django.urls import path

from rightsdesk.talent import apis

urlpatterns: list = [
    path("talents/", apis.TalentListApi.as_view(), name="talent-list"),
    path("talents/<uuid:public_id>/", apis.TalentDetailApi.as_view(), name="talent-detail"),
    path(
        "talents/<uuid:public_id>/identity-verification/",
        apis.TalentIdentityVerifyApi.as_view(),
        name="talent-identity-verification",
    ),
    path(
        "representations/",
        apis.RepresentationListCreateApi.as_view(),
        name="representation-list",
    ),
    path(
        "representations/<uuid:public_id>/",
        apis.RepresentationDetailApi.as_view(),
        name="representation-detail",
    ),
    path(
        "representations/<uuid:public_id>/end/",
        apis.RepresentationEndApi.as_view(),
        name="representation-end",
    ),
]
