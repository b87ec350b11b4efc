from django.urls import path

from rightsdesk.renders import apis

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
]
