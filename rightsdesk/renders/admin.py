"""Read-mostly admin: staff look at requests and assets; states change only through the
services (and so through the state table and the audit chain), never through a form."""

from django.contrib import admin

from rightsdesk.renders.models import Asset, RenderRequest


class AssetInline(admin.TabularInline):
    model = Asset
    extra = 0
    can_delete = False
    fields = ("index", "status", "reason", "image_sha256", "released_at", "expires_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(RenderRequest)
class RenderRequestAdmin(admin.ModelAdmin):
    list_display = ("public_id", "organization", "requester", "status", "progress", "created_at")
    list_filter = ("status",)
    search_fields = ("public_id", "requester__email", "organization__name", "idempotency_key")
    list_select_related = ("organization", "requester")
    date_hierarchy = "created_at"
    inlines = [AssetInline]

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Asset)
class AssetAdmin(admin.ModelAdmin):
    list_display = ("public_id", "render_request", "index", "status", "released_at")
    list_filter = ("status",)
    search_fields = ("public_id", "render_request__public_id")
    list_select_related = ("render_request",)

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
