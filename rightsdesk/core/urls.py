from django.urls import path

from rightsdesk.core import apis

urlpatterns: list = [
    path("notifications/", apis.NotificationListApi.as_view(), name="notification-list"),
    path(
        "notifications/<uuid:public_id>/read/",
        apis.NotificationReadApi.as_view(),
        name="notification-read",
    ),
]
