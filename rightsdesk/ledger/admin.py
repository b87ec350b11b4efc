"""Staff pages of the ledger: read-only. Money moves only through the services (a top-up
is ``manage.py ledger_top_up``), so nothing here adds, edits or deletes a row."""

import datetime

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest
from django.utils import timezone

from rightsdesk.accounts.selectors import user_is_staff
from rightsdesk.ledger.models import (
    Account,
    Entry,
    Line,
    Period,
    PeriodStatement,
    Remittance,
    Reservation,
)


class _ReadOnly:
    def has_module_permission(self, request: HttpRequest) -> bool:
        return user_is_staff(user=request.user)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return user_is_staff(user=request.user)

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class ReadOnlyAdmin(_ReadOnly, admin.ModelAdmin):
    actions = None


class LineInline(_ReadOnly, admin.TabularInline):
    model = Line
    fields = ["account", "role", "amount_minor", "currency"]
    readonly_fields = fields
    extra = 0


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = [
        "key",
        "kind",
        "currency",
        "debits_posted",
        "credits_posted",
        "debits_pending",
        "credits_pending",
        "balance_minor",
    ]
    list_filter = ["kind", "currency", "debits_must_not_exceed_credits"]
    list_select_related = ["balance"]
    search_fields = ["=owner", "key"]
    ordering = ["owner", "kind", "currency"]
    fields = [
        "key",
        "owner",
        "kind",
        "currency",
        "normal_balance",
        "debits_must_not_exceed_credits",
        "created_at",
        "debits_posted",
        "credits_posted",
        "debits_pending",
        "credits_pending",
        "balance_minor",
    ]
    readonly_fields = fields


@admin.register(Entry)
class EntryAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "kind", "reference", "effective_at", "period", "actor_label"]
    list_filter = ["kind", "period"]
    search_fields = ["=public_id", "=reference", "=idempotency_key"]
    ordering = ["-effective_at", "-pk"]
    inlines = [LineInline]
    readonly_fields = [
        "public_id",
        "idempotency_key",
        "kind",
        "reference",
        "description",
        "effective_at",
        "period",
        "reverses",
        "reservation",
        "actor_label",
        "created_at",
        "payload_json",
        "payload_sha256",
    ]
    fields = readonly_fields


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "reference", "status", "amount_minor", "currency", "expires_at"]
    list_filter = ["status", "kind", "currency"]
    search_fields = ["=public_id", "=reference", "=idempotency_key"]
    ordering = ["-created_at", "-pk"]


class OverdueFilter(admin.SimpleListFilter):
    title = "overdue"
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", "Overdue")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            today = timezone.now().astimezone(datetime.UTC).date()
            return queryset.filter(status=Remittance.Status.PENDING, due_on__lt=today)
        return queryset


@admin.register(Remittance)
class RemittanceAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "account", "payer", "amount_minor", "currency", "due_on", "status"]
    list_filter = [OverdueFilter, "status", "currency"]
    search_fields = ["=public_id", "=payer"]
    ordering = ["due_on", "pk"]


class PeriodStatementInline(_ReadOnly, admin.TabularInline):
    model = PeriodStatement
    fields = ["owner", "json_sha256", "csv_sha256"]
    readonly_fields = fields
    extra = 0


@admin.register(Period)
class PeriodAdmin(ReadOnlyAdmin):
    list_display = ["period", "closed_at", "closed_by"]
    ordering = ["-period"]
    inlines = [PeriodStatementInline]
