from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from rightsdesk.accounts.selectors import user_is_staff
from rightsdesk.core.models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """Read-only: staff check what was sent to whom, and whether the e-mail went out."""

    list_display = ("user", "kind", "subject", "created_at", "read_at", "emailed_at")
    list_filter = ("kind",)
    search_fields = ("user__email", "subject", "target_reference", "dedupe_key")
    list_select_related = ("user",)

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        return [field.name for field in self.model._meta.fields]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return user_is_staff(user=request.user) and super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return user_is_staff(user=request.user) and super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False
