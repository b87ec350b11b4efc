"""Staff screens for the gate: its decisions (read-only evidence) and the obligation rule
pack (editable, through ``obligation_rule_save``, which audits each change).

Registered from ``consent/admin.py`` (Django only autodiscovers ``admin`` modules).
"""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.http import HttpRequest

from rightsdesk.accounts.selectors import user_is_staff
from rightsdesk.consent.models import GateDecision, ObligationRule
from rightsdesk.consent.obligations import (
    FLOOR_CODES,
    obligation_rule_save,
    obligation_rule_validate,
    obligation_rules_ensure_defaults,
)
from rightsdesk.core.errors import ValidationFailed


class _StaffOnly(admin.ModelAdmin):
    def has_module_permission(self, request: HttpRequest) -> bool:
        return user_is_staff(user=request.user) and super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return user_is_staff(user=request.user) and super().has_view_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(GateDecision)
class GateDecisionAdmin(_StaffOnly):
    list_display = ["created_at", "action", "outcome", "codes", "subject_reference"]
    list_filter = ["outcome", "action"]
    search_fields = ["subject_reference"]
    ordering = ["-created_at", "-pk"]
    readonly_fields = [
        "created_at",
        "action",
        "outcome",
        "reasons",
        "obligations",
        "query",
        "subject_reference",
    ]

    @admin.display(description="reasons")
    def codes(self, decision: GateDecision) -> str:
        return ", ".join(reason.get("code", "?") for reason in decision.reasons or [])

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class ObligationRuleForm(forms.ModelForm):
    class Meta:
        model = ObligationRule
        fields = ["code", "applies_to_territories", "applies_to_purposes", "params", "active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # An empty list or object is a valid rule ("everywhere", "any purpose", no params).
        for name in ("applies_to_territories", "applies_to_purposes", "params"):
            self.fields[name].required = False

    def clean(self):
        data = super().clean()
        data["applies_to_territories"] = data.get("applies_to_territories") or []
        data["applies_to_purposes"] = data.get("applies_to_purposes") or []
        data["params"] = data.get("params") or {}
        try:
            obligation_rule_validate(
                code=data.get("code") or "",
                territories=data.get("applies_to_territories"),
                purposes=data.get("applies_to_purposes"),
                params=data.get("params"),
            )
        except ValidationFailed as exc:
            raise ValidationError(
                {field: messages for field, messages in exc.extra.get("fields", {}).items()}
            )
        return data


@admin.register(ObligationRule)
class ObligationRuleAdmin(_StaffOnly):
    form = ObligationRuleForm
    list_display = ["code", "active", "statutory", "applies_to_territories", "applies_to_purposes"]
    ordering = ["code"]

    @admin.display(boolean=True, description="statutory floor (applies even if inactive)")
    def statutory(self, rule: ObligationRule) -> bool:
        return rule.code in FLOOR_CODES

    def has_add_permission(self, request: HttpRequest) -> bool:
        return user_is_staff(user=request.user) and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return user_is_staff(user=request.user) and super().has_change_permission(request, obj)

    def changelist_view(self, request: HttpRequest, extra_context=None):
        # The floor lives in code; its rows are made on first view so staff can edit them.
        obligation_rules_ensure_defaults()
        return super().changelist_view(request, extra_context)

    def save_model(self, request: HttpRequest, obj: ObligationRule, form, change: bool) -> None:
        obligation_rule_save(rule=obj, actor=request.user)
