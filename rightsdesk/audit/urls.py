from django.urls import path

from rightsdesk.audit.apis import AuditEventListApi

urlpatterns: list = [
    path("audit/events/", AuditEventListApi.as_view(), name="audit-event-list"),
]
