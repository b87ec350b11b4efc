from django.db import models
from django.db.models import QuerySet

from rightsdesk.audit.models import AuditEvent
from rightsdesk.audit.services import target_reference


def audit_events_for_target(*, target: models.Model) -> QuerySet[AuditEvent]:
    """The events about ``target``, oldest first."""
    target_type, target_id = target_reference(target)
    return audit_events_list(target_type=target_type, target_id=target_id)


def audit_events_list(
    *, target_type: str | None = None, target_id: str | None = None
) -> QuerySet[AuditEvent]:
    """Events, oldest first, optionally narrowed to one target type and id."""
    events = AuditEvent.objects.select_related("actor").order_by("sequence")
    if target_type:
        events = events.filter(target_type=target_type)
    if target_id:
        events = events.filter(target_id=target_id)
    return events
