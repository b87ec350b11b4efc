"""Staff screens for consent notices, creation consents and withdrawals: read-only history.

Nothing here is added, edited or deleted from the admin: a consent is given and a
withdrawal filed by the principal (or, for uses, an agent) through the services, and both
are evidence. Only users with the staff role get in.
"""

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from rightsdesk.accounts.selectors import user_is_staff
from rightsdesk.consent import gate_admin  # noqa: F401  (registers the gate's screens)
from rightsdesk.consent.models import ConsentNotice, CreationConsent, Withdrawal, WithdrawalApplied


class ReadOnlyHistoryAdmin(admin.ModelAdmin):
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


@admin.register(ConsentNotice)
class ConsentNoticeAdmin(ReadOnlyHistoryAdmin):
    list_display = ["kind", "version", "language", "sha256", "created_at"]
    list_filter = ["kind", "language"]
    ordering = ["kind", "-version", "language"]


@admin.register(CreationConsent)
class CreationConsentAdmin(ReadOnlyHistoryAdmin):
    list_display = [
        "public_id",
        "talent",
        "kind",
        "base_model",
        "given_role",
        "method",
        "answered_at",
    ]
    list_filter = ["kind", "given_role", "method"]
    list_select_related = ["talent"]
    search_fields = ["=public_id", "=talent__public_id", "base_model", "scope_reference"]
    ordering = ["-answered_at", "-pk"]
    fields = [
        "public_id",
        "talent",
        "kind",
        "notice",
        "notice_sha256",
        "scope_reference",
        "base_model",
        "given_by",
        "given_role",
        "served_at",
        "answered_at",
        "method",
        "ip_address",
        "user_agent",
    ]


@admin.register(Withdrawal)
class WithdrawalAdmin(ReadOnlyHistoryAdmin):
    list_display = [
        "public_id",
        "talent",
        "kind",
        "target",
        "requested_at",
        "effective_at",
        "run_off_until",
        "applied",
    ]
    list_filter = ["kind"]
    list_select_related = [
        "talent",
        "licence",
        "agreement",
        "creation_consent",
        "withdrawalapplied",
    ]
    search_fields = ["=public_id", "=talent__public_id"]
    ordering = ["-requested_at", "-pk"]
    fields = [
        "public_id",
        "kind",
        "talent",
        "licence",
        "agreement",
        "creation_consent",
        "reason",
        "requested_by",
        "requested_at",
        "effective_at",
        "run_off_until",
    ]

    @admin.display(description="target")
    def target(self, withdrawal: Withdrawal) -> str:
        if withdrawal.licence_id:
            return f"licence {withdrawal.licence.public_id}"
        if withdrawal.agreement_id:
            return f"agreement {withdrawal.agreement.public_id}"
        consent = withdrawal.creation_consent
        return f"{consent.kind} consent {consent.public_id}"

    @admin.display(boolean=True, description="applied")
    def applied(self, withdrawal: Withdrawal) -> bool:
        return getattr(withdrawal, "withdrawalapplied", None) is not None


@admin.register(WithdrawalApplied)
class WithdrawalAppliedAdmin(ReadOnlyHistoryAdmin):
    list_display = ["withdrawal", "applied_at"]
    ordering = ["-applied_at", "-pk"]
