from django.urls import path

from rightsdesk.talent import apis, capture_apis, likeness_apis

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
    path("base-model/", likeness_apis.BaseModelApi.as_view(), name="base-model"),
    path("likenesses/", likeness_apis.LikenessListCreateApi.as_view(), name="likeness-list"),
    path(
        "likenesses/<uuid:public_id>/",
        likeness_apis.LikenessDetailApi.as_view(),
        name="likeness-detail",
    ),
    path(
        "likenesses/<uuid:public_id>/samples/<int:index>/",
        likeness_apis.LikenessSampleApi.as_view(),
        name="likeness-sample",
    ),
    path(
        "likenesses/<uuid:public_id>/sign-off/",
        likeness_apis.LikenessSignOffApi.as_view(),
        name="likeness-sign-off",
    ),
    path(
        "likenesses/<uuid:public_id>/reject/",
        likeness_apis.LikenessRejectApi.as_view(),
        name="likeness-reject",
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
