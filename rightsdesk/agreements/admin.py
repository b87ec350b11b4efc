"""Staff administration of agreements and the category taxonomy.

Agreements are read-only here: they are drafted, signed, amended and terminated by their
parties through the services (and so the audit chain). Staff may add categories and change
their names and screening words through the taxonomy's services; the default tree's
parents and global policies are kept by code (a global "never" cannot be weakened).
"""

from django import forms
from django.contrib import admin, messages
from django.db.models import Model
from django.http import HttpRequest

from rightsdesk.accounts.selectors import user_is_staff
from rightsdesk.agreements.models import (
    Agreement,
    AgreementVersion,
    Category,
    CategoryPolicy,
    Exclusivity,
    Signature,
)
from rightsdesk.agreements.taxonomy import (
    DEFAULT_SLUGS,
    category_create,
    category_ensure_defaults,
    category_set_keywords,
)
from rightsdesk.core.errors import ApplicationError


class _StaffReadOnlyAdmin(admin.ModelAdmin):
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

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class VersionInline(_ReadOnlyInline):
    model = AgreementVersion
    fields = (
        "number",
        "status",
        "effective_from",
        "effective_to",
        "content_sha256",
        "activated_at",
    )
    show_change_link = True


class CategoryPolicyInline(_ReadOnlyInline):
    model = CategoryPolicy
    fields = ("category", "policy")


class ExclusivityInline(_ReadOnlyInline):
    model = Exclusivity
    fields = ("category", "territories", "starts_at", "ends_at")


class SignatureInline(_ReadOnlyInline):
    model = Signature
    fields = (
        "party",
        "signer",
        "signer_role",
        "signed_sha256",
        "authentication_method",
        "ip_address",
        "user_agent",
        "signed_at",
    )


@admin.register(Agreement)
class AgreementAdmin(_StaffReadOnlyAdmin):
    list_display = ("public_id", "title", "talent", "brand", "agency", "status", "created_at")
    list_filter = ("status",)
    search_fields = ("public_id", "title", "brand__name", "talent__stage_name")
    list_select_related = ("talent", "brand", "agency")
    inlines = [VersionInline]

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        return [field.name for field in self.model._meta.fields]


@admin.register(AgreementVersion)
class AgreementVersionAdmin(_StaffReadOnlyAdmin):
    list_display = ("agreement", "number", "status", "effective_from", "effective_to")
    list_filter = ("status",)
    search_fields = ("public_id", "agreement__public_id", "content_sha256")
    list_select_related = ("agreement",)
    inlines = [CategoryPolicyInline, ExclusivityInline, SignatureInline]

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        return [field.name for field in self.model._meta.fields]


@admin.register(Signature)
class SignatureAdmin(_StaffReadOnlyAdmin):
    list_display = ("version", "party", "signer", "signer_role", "signed_at")
    list_filter = ("party", "signer_role")
    list_select_related = ("version", "signer")

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        return [field.name for field in self.model._meta.fields]


class CategoryForm(forms.ModelForm):
    keywords_text = forms.CharField(
        required=False,
        label="Keywords",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Comma-separated screening words; they are normalised (accents, case).",
    )

    class Meta:
        model = Category
        fields = ("slug", "name", "parent")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["keywords_text"].initial = ", ".join(self.instance.keywords or [])

    def keywords(self) -> list[str]:
        return [w for w in self.cleaned_data.get("keywords_text", "").split(",") if w.strip()]


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    form = CategoryForm
    list_display = ("slug", "name", "parent", "global_policy")
    list_filter = ("global_policy",)
    search_fields = ("slug", "name", "keywords")
    list_select_related = ("parent",)

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        if obj is None:
            return ["global_policy"]
        fixed = ["slug", "parent", "global_policy"]
        return [*fixed, "name"] if obj.slug in DEFAULT_SLUGS else fixed

    def get_fields(self, request, obj=None) -> list[str]:
        return ["slug", "name", "parent", "global_policy", "keywords_text"]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return user_is_staff(user=request.user) and super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return user_is_staff(user=request.user) and super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return user_is_staff(user=request.user) and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return user_is_staff(user=request.user) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest):
        category_ensure_defaults()
        return super().get_queryset(request)

    def save_model(self, request, obj, form, change) -> None:
        try:
            if change:
                saved = category_set_keywords(
                    category=Category.objects.get(pk=obj.pk),
                    name=form.cleaned_data.get("name", obj.name),
                    keywords=form.keywords(),
                    actor=request.user,
                )
            else:
                saved = category_create(
                    slug=form.cleaned_data["slug"],
                    name=form.cleaned_data["name"],
                    parent=form.cleaned_data.get("parent"),
                    keywords=form.keywords(),
                    actor=request.user,
                )
        except ApplicationError as error:
            self.message_user(request, f"{error.message} ({error.code})", messages.ERROR)
            return
        obj.__dict__.update({k: v for k, v in saved.__dict__.items() if k != "_state"})
        obj._state.adding = False
        obj._state.db = saved._state.db
