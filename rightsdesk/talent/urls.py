from django.urls import path

from rightsdesk.talent import apis, capture_apis

urlpatterns: list = [
    path("talents/", apis.TalentListApi.as_view(), name="talent-list"),
    path("talents/<uuid:public_id>/", apis.TalentDetailApi.as_view(), name="talent-detail"),
    path(
        "talents/<uuid:public_id>/identity-verification/",
        apis.TalentIdentityVerifyApi.as_view(),
        name="talent-identity-verification",
    ),
    path(
        "talents/<uuid:public_id>/erasure/",
        capture_apis.TalentErasureApi.as_view(),
        name="talent-erasure",
    ),
    path(
        "capture-sessions/",
        capture_apis.CaptureSessionListCreateApi.as_view(),
        name="capture-session-list",
    ),
    path(
        "capture-sessions/<uuid:public_id>/",
        capture_apis.CaptureSessionDetailApi.as_view(),
        name="capture-session-detail",
    ),
    path(
        "capture-sessions/<uuid:public_id>/waive-notice/",
        capture_apis.CaptureSessionWaiveNoticeApi.as_view(),
        name="capture-session-waive-notice",
    ),
    path(
        "capture-sessions/<uuid:public_id>/close/",
        capture_apis.CaptureSessionCloseApi.as_view(),
        name="capture-session-close",
    ),
    path(
        "capture-sessions/<uuid:public_id>/images/",
        capture_apis.CaptureImageListUploadApi.as_view(),
        name="capture-session-images",
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
