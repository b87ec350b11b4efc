from django.urls import path

from rightsdesk.audit.apis import AuditEventListApi, EvidencePackApi

urlpatterns: list = [
    path("audit/events/", AuditEventListApi.as_view(), name="audit-event-list"),
    path("evidence-packs/", EvidencePackApi.as_view(), name="evidence-pack"),
]
