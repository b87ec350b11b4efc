from django.urls import path

from rightsdesk.renders import apis, workflow_apis

urlpatterns: list = [
    path("render-requests/", apis.RenderRequestCreateApi.as_view(), name="render-request-list"),
    path(
        "render-requests/<uuid:public_id>/",
        apis.RenderRequestDetailApi.as_view(),
        name="render-request-detail",
    ),
    path(
        "render-requests/<uuid:public_id>/cancel/",
        apis.RenderRequestCancelApi.as_view(),
        name="render-request-cancel",
    ),
    path(
        "render-requests/<uuid:public_id>/approve/",
        workflow_apis.RenderRequestApproveBriefApi.as_view(),
        name="render-request-approve",
    ),
    path(
        "render-requests/<uuid:public_id>/reject/",
        workflow_apis.RenderRequestRejectBriefApi.as_view(),
        name="render-request-reject",
    ),
    path("assets/select/", workflow_apis.AssetSelectApi.as_view(), name="asset-select"),
    path("assets/approve/", workflow_apis.AssetApproveApi.as_view(), name="asset-approve"),
    path("assets/reject/", workflow_apis.AssetRejectApi.as_view(), name="asset-reject"),
    path("assets/<uuid:public_id>/", workflow_apis.AssetDetailApi.as_view(), name="asset-detail"),
    path(
        "assets/<uuid:public_id>/release/",
        workflow_apis.AssetReleaseApi.as_view(),
        name="asset-release",
    ),
    path(
        "assets/<uuid:public_id>/publication/",
        workflow_apis.AssetPublicationApi.as_view(),
        name="asset-publication",
    ),
    path(
        "assets/<uuid:public_id>/download/",
        workflow_apis.AssetDownloadApi.as_view(),
        name="asset-download",
    ),
    path(
        "assets/<uuid:public_id>/preview/",
        workflow_apis.AssetPreviewApi.as_view(),
        name="asset-preview",
    ),
    path(
        "talents/<uuid:public_id>/market/",
        workflow_apis.TwinInMarketApi.as_view(),
        name="talent-market",
    ),
]
