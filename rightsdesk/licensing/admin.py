"""Read-only admin for licences, their usage rows and offers, and external commitments.

Staff look; they never propose, answer or edit here. A licence changes only through the
services (brand legal, the talent's side), so the audit chain and the offer history stay
the whole story. Only users with the staff role get in.
"""

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from rightsdesk.accounts.selectors import user_is_staff
from rightsdesk.licensing.models import ExternalCommitment, Licence, LicenceOffer, UsageRow


class _ReadOnlyStaffAdmin(admin.ModelAdmin):
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


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class UsageRowInline(_ReadOnlyInline):
    model = UsageRow
    fields = ("medium", "territories", "duration_days", "quantity", "quantity_used")
    readonly_fields = fields


class LicenceOfferInline(_ReadOnlyInline):
    model = LicenceOffer
    fields = ("sequence", "kind", "actor_role", "terms_sha256", "deal_memo_sha256", "created_at")
    readonly_fields = fields
    ordering = ("sequence",)


@admin.register(Licence)
class LicenceAdmin(_ReadOnlyStaffAdmin):
    list_display = (
        "public_id",
        "campaign",
        "brand",
        "talent",
        "status",
        "drafts_used",
        "draft_allowance",
        "ends_at",
    )
    list_filter = ("status",)
    search_fields = ("public_id", "campaign", "brand__name", "talent__stage_name")
    list_select_related = ("brand", "talent")
    date_hierarchy = "created_at"
    inlines = [UsageRowInline, LicenceOfferInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]


@admin.register(UsageRow)
class UsageRowAdmin(_ReadOnlyStaffAdmin):
    list_display = ("licence", "medium", "duration_days", "quantity", "quantity_used")
    list_filter = ("medium",)
    search_fields = ("licence__public_id",)

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]


@admin.register(LicenceOffer)
class LicenceOfferAdmin(_ReadOnlyStaffAdmin):
    list_display = ("licence", "sequence", "kind", "actor_role", "created_at")
    list_filter = ("kind",)
    search_fields = ("licence__public_id", "terms_sha256", "deal_memo_sha256")

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]


@admin.register(ExternalCommitment)
class ExternalCommitmentAdmin(_ReadOnlyStaffAdmin):
    list_display = ("public_id", "talent", "category", "starts_at", "ends_at")
    search_fields = ("public_id", "talent__stage_name")
    list_select_related = ("talent", "category")

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]
