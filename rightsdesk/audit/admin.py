from django.contrib import admin
from django.http import HttpRequest

from rightsdesk.audit.models import EVENT_FIELDS, AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the chain is appended to by services and never edited by hand."""

    list_display = ["sequence", "created_at", "actor_label", "action", "target_type", "target_id"]
    list_filter = ["action", "target_type"]
    search_fields = ["target_id", "actor_label", "action"]
    ordering = ["-sequence"]
    readonly_fields = list(EVENT_FIELDS)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False
